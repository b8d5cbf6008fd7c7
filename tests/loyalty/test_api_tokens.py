"""Scoped loyalty API tokens: scopes, partner binding, accrual caps, the token named in the
journal, rotation; through the real Flask app over a temp database (time is fixed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector.api_tokens import SCOPES, bearer, match, parse_tokens
from connector.config import Settings
from connector.errors import ConfigError
from connector.store import Store
from connector.web import create_app
from tests.loyalty.conftest import ANN, BOB, PROGRAM_YAML, TOKEN, book_orders, make_settings

SHOP = "shop-secret-8c1d"
HOTEL = "hotel-secret-4e77"
HOTEL_NEW = "hotel-secret-rotated-91aa"
READER = "reader-secret-0b2c"
DESK = "desk-secret-6f0e"
TOKENS = (
    f"shop:read+redeem={SHOP},hotel:accrue:hotel_co={HOTEL},hotel:accrue:hotel_co={HOTEL_NEW},"
    f"reader:read={READER},desk:read+adjust={DESK}"
)
CAPS = "    api_caps: {accrual_points_per_request: 5000, accrual_points_per_day: 8000}\n"
# 23:30 in Berlin (the program's zone): the program's day ends half an hour later.
NOW = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)
MEMBER = f"/v1/loyalty/members/{ANN}"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    s = make_settings(tmp_path, tokens=TOKENS)
    (tmp_path / "models" / "loyalty.yaml").write_text(PROGRAM_YAML + CAPS, encoding="utf-8")
    book_orders(s, [("801A", f"Contact:{ANN}", 400.0, 20)], now=NOW)
    return s


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(settings: Settings, clock: Clock) -> FlaskClient:
    app = create_app(settings)
    app.config["L2L_CLOCK"] = clock
    return app.test_client()


def call(
    client: FlaskClient, secret: str, path: str, body: Any = None, key: str | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {secret}"}
    if body is None:
        return client.get(path, headers=headers)
    headers["Idempotency-Key"] = key or "k-" + "".join(c for c in f"{path}{body}" if c.isalnum())
    return client.post(path, json=body, headers=headers)


def journal(settings: Settings) -> Any:
    store = Store(settings.store_location)
    try:
        return store.loyalty.journal("club")
    finally:
        store.close()


def refused(response: Any, code: str) -> None:
    assert response.status_code == 403, response.get_json()
    body = response.get_json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code


def test_partner_token_cannot_accrue_for_another_partner(client: FlaskClient) -> None:
    response = call(client, HOTEL, f"{MEMBER}/accruals", {"points": 100, "partner": "air_co"})
    refused(response, "wrong_partner")
    ok = call(client, HOTEL, f"{MEMBER}/accruals", {"points": 100, "partner": "hotel_co"})
    assert ok.status_code == 201, ok.get_json()


def test_partner_token_cannot_redeem(client: FlaskClient) -> None:
    response = call(client, HOTEL, f"{MEMBER}/redemptions", {"points": 10})
    refused(response, "insufficient_scope")
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    refused(call(client, HOTEL, "/v1/loyalty/vouchers/ABC/use", {}), "insufficient_scope")


def test_read_token_cannot_redeem(client: FlaskClient, settings: Settings) -> None:
    assert call(client, READER, MEMBER).status_code == 200
    before = len(journal(settings))
    refused(call(client, READER, f"{MEMBER}/redemptions", {"points": 10}), "insufficient_scope")
    refused(
        call(client, READER, f"{MEMBER}/accruals", {"points": 1, "partner": "p"}),
        "insufficient_scope",
    )
    refused(
        call(client, READER, f"{MEMBER}/adjustments", {"points": 1, "reason": "x"}),
        "insufficient_scope",
    )
    assert len(journal(settings)) == before  # a refusal writes nothing
    assert call(client, SHOP, f"{MEMBER}/redemptions", {"points": 10}).status_code == 201


def test_accrual_over_the_per_request_cap_is_refused(
    client: FlaskClient, settings: Settings
) -> None:
    response = call(client, HOTEL, f"{MEMBER}/accruals", {"points": 5001, "partner": "hotel_co"})
    refused(response, "accrual_cap")
    assert "5,000" in response.get_json()["message"]
    assert journal(settings)["partner"].isna().all()


def test_accruals_past_the_daily_cap_are_refused_until_the_programs_day_turns(
    client: FlaskClient, clock: Clock
) -> None:
    body = {"points": 5000, "partner": "hotel_co"}
    assert call(client, HOTEL, f"{MEMBER}/accruals", body, key="a").status_code == 201
    # Another member, the rotated secret: the same token, the same day's cap.
    bob = f"/v1/loyalty/members/{BOB}"
    second = call(client, HOTEL_NEW, f"{bob}/accruals", {"points": 3001, "partner": "hotel_co"})
    refused(second, "accrual_cap")
    assert (
        call(
            client, HOTEL_NEW, f"{bob}/accruals", {"points": 3000, "partner": "hotel_co"}, key="b"
        ).status_code
        == 201
    )
    # The same request again is its first outcome, not a new accrual over the cap.
    assert call(client, HOTEL, f"{MEMBER}/accruals", body, key="a").status_code == 200
    refused(
        call(client, HOTEL, f"{MEMBER}/accruals", {"points": 1, "partner": "hotel_co"}),
        "accrual_cap",
    )
    clock.now = NOW + timedelta(minutes=31)  # past midnight in Berlin: a new day
    assert call(client, HOTEL, f"{MEMBER}/accruals", body, key="c").status_code == 201


def test_journal_rows_name_their_token_never_its_secret(
    client: FlaskClient, settings: Settings
) -> None:
    accrued = call(client, HOTEL_NEW, f"{MEMBER}/accruals", {"points": 40, "partner": "hotel_co"})
    assert accrued.status_code == 201
    adjusted = call(client, DESK, f"{MEMBER}/adjustments", {"points": -15, "reason": "goodwill"})
    assert adjusted.status_code == 201, adjusted.get_json()
    rows = journal(settings)
    by_api = rows[rows["token"].notna()]
    assert sorted(zip(by_api["kind"], by_api["currency"], by_api["token"], strict=True)) == [
        ("accrual", "points", "hotel"),
        ("accrual", "qualifying", "hotel"),
        ("adjustment", "points", "desk"),
    ]
    assert rows[rows["source_type"] == "order"]["token"].isna().all()
    text = rows.astype(str).to_string()
    assert all(secret not in text for secret in (SHOP, HOTEL, HOTEL_NEW, READER, DESK))


def test_two_valid_tokens_at_once(client: FlaskClient) -> None:
    """A rotation: the old and the new secret of one token both work, under one name."""
    for n, secret in enumerate((HOTEL, HOTEL_NEW)):
        response = call(
            client, secret, f"{MEMBER}/accruals", {"points": 10, "partner": "hotel_co"}, key=f"r{n}"
        )
        assert response.status_code == 201, response.get_json()
    assert call(client, "hotel-secret-wrong", MEMBER).status_code == 401


def test_an_unscoped_token_of_the_old_setting_keeps_every_scope(tmp_path: Path) -> None:
    [token] = parse_tokens(TOKEN)
    assert (token.name, token.scopes, token.partner) == ("token1", frozenset(SCOPES), None)
    settings = make_settings(tmp_path, tokens=TOKEN)
    app = create_app(settings)
    client = app.test_client()
    for path, body in (
        (f"{MEMBER}/accruals", {"points": 10, "partner": "any_co"}),
        (f"{MEMBER}/adjustments", {"points": 5, "reason": "x"}),
    ):
        assert call(client, TOKEN, path, body).status_code == 201
    assert set(journal(settings)["token"].dropna()) == {"token1"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a:reed=s3cret-a", "unknown scope 'reed'"),
        ("a:redeem:hotel_co=s3cret-a", "a partner token may hold read and accrue only"),
        ("a:read=", "the secret after '=' is empty"),
        ("a b:read=s3cret-a", "the name must be"),
        ("a:read=s3cret-a,a:read+redeem=s3cret-b", "listed twice with different scopes"),
        ("a:read=s3cret-a,b:read=s3cret-a", "has the secret of another entry"),
    ],
)
def test_a_bad_token_setting_is_a_config_error_that_hides_secrets(
    tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_settings(tmp_path, tokens=text)
    assert problem in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_match_finds_the_token_of_a_secret() -> None:
    tokens = parse_tokens(TOKENS)
    found = match(tokens, HOTEL_NEW.encode())
    assert found is not None
    assert (found.name, found.partner) == ("hotel", "hotel_co")
    assert match(tokens, b"nope") is None


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ("", "send Authorization: Bearer <token>"),
        (f"Basic {READER}", "send Authorization: Bearer <token>"),
        ("Bearer   ", "send Authorization: Bearer <token>"),
        ("Bearer not-a-token", "the bearer token is not valid"),
    ],
)
def test_bearer_says_why_a_header_presents_no_token(header: str, why: str) -> None:
    # The one header check of the loyalty API and the orders' risk API.
    assert bearer(parse_tokens(TOKENS), header) == (None, why)


def test_bearer_takes_the_scheme_in_any_case() -> None:
    found, why = bearer(parse_tokens(TOKENS), f"bearer {READER}")
    assert found is not None
    assert (found.name, why) == ("reader", "")


def test_a_bad_cap_is_reported_at_its_line(tmp_path: Path) -> None:
    from connector.errors import MappingError
    from connector.loyalty.wiring import load_config

    settings = make_settings(tmp_path, tokens=TOKEN)
    text = PROGRAM_YAML + "    api_caps: {accrual_points_per_day: 0}\n"
    (tmp_path / "models" / "loyalty.yaml").write_text(text, encoding="utf-8")
    line = text.count("\n")
    with pytest.raises(MappingError, match=rf"loyalty.yaml:{line}: .*accrual_points_per_day"):
        load_config(settings)

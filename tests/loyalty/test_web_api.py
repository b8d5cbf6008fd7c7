"""The loyalty web API through the real Flask app: a fresh app and temp database per test."""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.config import Settings, describe_settings, load_settings
from connector.logs import RedactSecrets
from connector.store import Store
from connector.store.postgres import WRITE_LOCK_KEY, advisory
from connector.web import create_app
from tests.loyalty.conftest import ANN, BOB, OTHER_TOKEN, TOKEN, make_settings

AUTH = {"Authorization": f"Bearer {TOKEN}"}
MEMBER = f"/v1/loyalty/members/{ANN}"


@pytest.fixture
def client(settings: Settings) -> FlaskClient:
    return create_app(settings).test_client()


def post(client: FlaskClient, path: str, body: Any, key: str | None = "k1", **kw: Any) -> Any:
    headers = dict(AUTH)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(path, json=body, headers=headers, **kw)


def journal(settings: Settings) -> Any:
    store = Store(settings.store_location)
    try:
        return store.loyalty.journal("club")
    finally:
        store.close()


def balance(settings: Settings, member: str = f"Contact:{ANN}") -> int:
    j = journal(settings)
    mine = j[(j["member"] == member) & (j["currency"] == "points")]
    return int(mine["points"].sum())


# ---------------------------------------------------------------------------- reading


@pytest.mark.parametrize("ident", [ANN, f"Contact:{ANN}", "ann@example.com", " ANN@example.COM "])
def test_member_by_contact_id_key_or_email(client: FlaskClient, ident: str) -> None:
    response = client.get(f"/v1/loyalty/members/{ident}", headers=AUTH)
    assert response.status_code == 200
    body = response.get_json()
    assert body["member"] == f"Contact:{ANN}"
    assert (
        body["points_balance"]
        == 1200
        == sum(e["points"] for e in body["journal"] if e["currency"] == "points")
    )
    assert body["tier"] == "Silver"
    assert body["points_to_next_tier"] == 5000 - 1200
    assert sum(lot["remaining"] for lot in body["lots"]) == 1200
    assert {e["rule_id"] for e in body["journal"]} == {"base", "big_order"}


def test_unknown_member_is_404_json(client: FlaskClient) -> None:
    for ident in ("nobody@example.com", "003000000000009AAA", "not-an-id", BOB):
        response = client.get(f"/v1/loyalty/members/{ident}", headers=AUTH)
        assert response.status_code == 404, ident
        assert response.get_json()["code"] == "not_found"


def test_unknown_program_is_404(client: FlaskClient) -> None:
    response = client.get(f"{MEMBER}?program=nope", headers=AUTH)
    assert response.status_code == 404
    assert "club" in response.get_json()["message"]


def test_unknown_path_under_the_api_is_json_404(client: FlaskClient) -> None:
    response = client.get("/v1/loyalty/whatever/else", headers=AUTH)
    assert response.status_code == 404
    assert set(response.get_json()) == {"code", "message"}
    wrong_method = client.delete(f"{MEMBER}/redemptions", headers=AUTH)
    assert wrong_method.status_code == 405
    assert set(wrong_method.get_json()) == {"code", "message"}


# ---------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer tökén"},
        {"Authorization": f"Bearer {TOKEN},{OTHER_TOKEN}"},
    ],
)
def test_without_a_valid_token_is_401(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.get(MEMBER, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert TOKEN not in response.get_data(as_text=True)
    # nor does a refused request write anything
    response = client.post(f"{MEMBER}/redemptions", json={"points": 10}, headers=headers)
    assert response.status_code == 401


def test_every_configured_token_is_accepted(client: FlaskClient) -> None:
    for token in (TOKEN, OTHER_TOKEN):
        response = client.get(MEMBER, headers={"Authorization": f"bearer {token}"})
        assert response.status_code == 200


def test_without_configured_tokens_the_api_is_off(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    client = create_app(make_settings(tmp_path, tokens=" , ")).test_client()
    for headers in ({}, {"Authorization": "Bearer anything"}):
        response = client.get(MEMBER, headers=headers)
        assert response.status_code == 503
        error = response.get_json()
        assert error["code"] == "loyalty_api_disabled"
        assert "L2L_LOYALTY_API_TOKENS" in error["message"]
    assert client.get("/healthz").status_code == 200  # the rest of the app still serves


def test_the_token_is_a_secret_that_never_prints(
    settings: Settings, client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.loyalty_api_tokens)
    shown = {v: value for v, value, _, _ in describe_settings(settings)}
    assert shown["L2L_LOYALTY_API_TOKENS"] == "**********"
    masked = RedactSecrets.from_settings(settings).redact(f"got {TOKEN} and {OTHER_TOKEN}")
    assert TOKEN not in masked
    assert OTHER_TOKEN not in masked
    with caplog.at_level(logging.DEBUG):
        client.get(MEMBER, headers=AUTH)
        client.get(MEMBER, headers={"Authorization": f"Bearer {TOKEN}zz"})
        post(client, f"{MEMBER}/redemptions", {"points": 10})
    assert TOKEN not in caplog.text


def test_an_invalid_program_file_is_503_not_500(settings: Settings, client: FlaskClient) -> None:
    (settings.models_dir / "loyalty.yaml").write_text("programs:\n  - id: Bad Id\n")
    response = client.get(MEMBER, headers=AUTH)
    assert response.status_code == 503
    assert response.get_json()["code"] == "loyalty_config_invalid"


# ---------------------------------------------------------------------------- redemptions


def test_redemption_spends_once_per_idempotency_key(
    settings: Settings, client: FlaskClient
) -> None:
    first = post(client, f"{MEMBER}/redemptions", {"points": 250}, key="order-77")
    assert first.status_code == 201
    assert first.get_json() == {
        "redemption": "order-77",
        "points": 250,
        "repeated": False,
        "balance": 950,
        "voucher": None,
    }
    again = post(client, f"{MEMBER}/redemptions", {"points": 250}, key="order-77")
    assert again.status_code == 200
    assert again.get_json()["repeated"] is True
    assert again.get_json()["balance"] == 950
    j = journal(settings)
    assert len(j[j["kind"] == "redemption"]) == 1
    assert balance(settings) == 950
    # the member view agrees with the journal
    view = client.get(MEMBER, headers=AUTH).get_json()
    assert view["points_balance"] == 950 == view["spendable_points"]


def test_the_same_key_for_a_different_request_is_422(
    settings: Settings, client: FlaskClient
) -> None:
    assert post(client, f"{MEMBER}/redemptions", {"points": 100}, key="k").status_code == 201
    response = post(client, f"{MEMBER}/redemptions", {"points": 101}, key="k")
    assert response.status_code == 422
    assert response.get_json()["code"] == "idempotency_key_reused"
    response = post(client, f"{MEMBER}/redemptions", {"voucher": "five_off"}, key="k")
    assert response.status_code == 422
    assert balance(settings) == 1100


def test_voucher_redemption_issues_one_unguessable_code(
    settings: Settings, client: FlaskClient
) -> None:
    first = post(client, f"{MEMBER}/redemptions", {"voucher": "five_off"}, key="v1")
    assert first.status_code == 201
    body = first.get_json()
    assert body["points"] == 300
    assert body["balance"] == 900
    code = body["voucher"]["code"]
    assert re.fullmatch(r"L2L(-[2-9A-HJKMNP-Z]{4}){4}", code)
    assert body["voucher"]["voucher_id"] == "five_off"
    assert body["voucher"]["uses_left"] == 1
    again = post(client, f"{MEMBER}/redemptions", {"voucher": "five_off"}, key="v1")
    assert again.status_code == 200
    assert again.get_json()["voucher"]["code"] == code
    other = post(client, f"{MEMBER}/redemptions", {"voucher": "five_off"}, key="v2")
    assert other.get_json()["voucher"]["code"] != code
    assert balance(settings) == 600
    vouchers = client.get(MEMBER, headers=AUTH).get_json()["vouchers"]
    assert len(vouchers) == 2


def test_insufficient_points_is_409_and_writes_nothing(
    settings: Settings, client: FlaskClient
) -> None:
    before = len(journal(settings))
    response = post(client, f"{MEMBER}/redemptions", {"points": 1201})
    assert response.status_code == 409
    error = response.get_json()
    assert error["code"] == "insufficient_points"
    assert "1200" in error["message"]
    assert len(journal(settings)) == before
    # the whole balance can be spent
    assert post(client, f"{MEMBER}/redemptions", {"points": 1200}, key="all").status_code == 201
    assert balance(settings) == 0


def test_cancel_gives_the_points_back_once_and_voids_the_voucher(
    settings: Settings, client: FlaskClient
) -> None:
    code = post(client, f"{MEMBER}/redemptions", {"voucher": "five_off"}, key="v1").get_json()
    path = f"{MEMBER}/redemptions/v1/cancel"
    first = client.post(path, headers=AUTH)
    assert first.status_code == 200
    assert first.get_json() == {"redemption": "v1", "cancelled": True, "balance": 1200}
    assert client.post(path, headers=AUTH).get_json()["balance"] == 1200
    assert balance(settings) == 1200
    vouchers = client.get(MEMBER, headers=AUTH).get_json()["vouchers"]
    assert [(v["code"], v["uses_left"]) for v in vouchers] == [(code["voucher"]["code"], 0)]
    missing = client.post(f"{MEMBER}/redemptions/never/cancel", headers=AUTH)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"points": "10"}, "k"),
        ({"points": 0}, "k"),
        ({"points": -5}, "k"),
        ({"points": 1.5}, "k"),
        ({"points": 10.0}, "k"),
        ({"points": True}, "k"),
        ({"points": None}, "k"),
        ({"points": 10**30}, "k"),
        ({"points": 10, "voucher": "five_off"}, "k"),
        ({}, "k"),
        ({"points": 10, "extra": 1}, "k"),
        ([10], "k"),
        ("10", "k"),
        ({"voucher": "nope"}, "k"),
        ({"voucher": "promo_only"}, "k"),
        ({"voucher": ""}, "k"),
        ({"voucher": 5}, "k"),
        ({"points": 10}, None),
        ({"points": 10}, "has space"),
        ({"points": 10}, "x" * 201),
    ],
)
def test_bad_redemption_input_is_a_4xx_json_error(
    settings: Settings, client: FlaskClient, body: Any, key: str | None
) -> None:
    before = len(journal(settings))
    response = post(client, f"{MEMBER}/redemptions", body, key=key)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert set(response.get_json()) == {"code", "message"}
    assert len(journal(settings)) == before


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"\xff\xfe",
        b"null",
        b'{"points": NaN}',
        b'{"points": 1e400}',
        b"[" * 5000,
        b'{"a":' * 3000 + b"1" + b"}" * 3000,
    ],
)
def test_unparsable_bodies_are_400(settings: Settings, client: FlaskClient, raw: bytes) -> None:
    response = client.post(
        f"{MEMBER}/redemptions",
        data=raw,
        headers={**AUTH, "Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.is_json
    assert balance(settings) == 1200


def test_a_huge_body_is_refused(client: FlaskClient) -> None:
    response = post(client, f"{MEMBER}/redemptions", {"points": 1, "pad": "x" * 70_000})
    assert response.status_code == 413
    assert response.is_json


# ---------------------------------------------------------------------------- partner accruals


def test_partner_accrual_books_once_and_counts_for_tiers(
    settings: Settings, client: FlaskClient
) -> None:
    body = {"points": 4000, "partner": "hotel_co", "brand": "north", "reason": "3 nights"}
    first = post(client, f"/v1/loyalty/members/{ANN}/accruals", body, key="stay-1")
    assert first.status_code == 201
    assert first.get_json() == {
        "member": f"Contact:{ANN}",
        "points": 4000,
        "partner": "hotel_co",
        "repeated": False,
    }
    again = post(client, f"/v1/loyalty/members/{ANN}/accruals", body, key="stay-1")
    assert again.status_code == 200
    assert again.get_json()["repeated"] is True
    view = client.get(MEMBER, headers=AUTH).get_json()
    assert view["points_balance"] == 5200
    assert view["tier"] == "Gold"
    partner_rows = [e for e in view["journal"] if e["partner"] == "hotel_co"]
    assert {(e["currency"], e["points"], e["brand"]) for e in partner_rows} == {
        ("points", 4000, "north"),
        ("qualifying", 4000, "north"),
    }
    assert [e["reason"] for e in partner_rows if e["currency"] == "points"] == ["3 nights"]


def test_partner_key_reused_for_another_member_is_422(
    settings: Settings, client: FlaskClient
) -> None:
    body = {"points": 50, "partner": "hotel_co"}
    assert post(client, f"/v1/loyalty/members/{ANN}/accruals", body, key="s").status_code == 201
    response = post(client, f"/v1/loyalty/members/{BOB}/accruals", body, key="s")
    assert response.status_code == 422
    assert balance(settings, f"Contact:{BOB}") == 0


@pytest.mark.parametrize(
    "body",
    [
        {"points": 10, "partner": "p", "brand": "west"},
        {"points": 10, "partner": "p", "brand": ""},
        {"points": 10},
        {"points": 10, "partner": " "},
        {"points": 10, "partner": ["p"]},
        {"points": -10, "partner": "p"},
        {"points": 10, "partner": "p", "member": "x"},
        {"points": 10, "partner": "p", "reason": 7},
    ],
)
def test_bad_accrual_input_is_a_4xx_json_error(
    settings: Settings, client: FlaskClient, body: dict[str, Any]
) -> None:
    before = len(journal(settings))
    response = post(client, f"{MEMBER}/accruals", body)
    assert 400 <= response.status_code < 500
    assert response.is_json
    assert len(journal(settings)) == before


def test_unknown_brand_names_the_programs_brands(client: FlaskClient) -> None:
    response = post(client, f"{MEMBER}/accruals", {"points": 1, "partner": "p", "brand": "west"})
    assert response.status_code == 400
    error = response.get_json()
    assert error["code"] == "unknown_brand"
    assert "north, south" in error["message"]


def test_settings_read_tokens_from_the_environment(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("L2L_LOYALTY_API_TOKENS", "env-token-123")
    assert load_settings().loyalty_api_tokens.get_secret_value() == "env-token-123"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "points": json_values,
            "voucher": json_values,
            "partner": json_values,
            "brand": json_values,
            "reason": json_values,
        },
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=bodies,
    key=st.text(max_size=12),
    path=st.sampled_from(["redemptions", "accruals", "redemptions/k/cancel"]),
    member=st.sampled_from([ANN, "ann@example.com", "x", "003000000000009AAA"]),
)
def test_no_request_body_makes_a_500(
    settings: Settings, body: Any, key: str, path: str, member: str
) -> None:
    client = create_app(settings).test_client()
    headers = dict(AUTH)
    if key.isascii() and key.isprintable():
        headers["Idempotency-Key"] = key
    response = client.post(f"/v1/loyalty/members/{member}/{path}", json=body, headers=headers)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json
    assert balance(settings) >= 0


def test_a_database_held_by_another_writer_is_503_with_retry_after(
    settings: Settings, client: FlaskClient
) -> None:
    # A sync booking a big batch holds the store's write lock (SQLite's, or on PostgreSQL the
    # schema's advisory write lock); the store waits its busy timeout (10 s), then the API
    # answers 503 and books nothing.
    other = Store(settings.store_location)
    other.db.conn.execute(
        "BEGIN" if isinstance(settings.store_location, str) else "BEGIN IMMEDIATE"
    )
    if isinstance(settings.store_location, str):
        other.db.conn.execute(advisory("pg_advisory_xact_lock"), [WRITE_LOCK_KEY])
    try:
        response = post(client, f"{MEMBER}/redemptions", {"points": 10}, key="busy-1")
    finally:
        other.db.conn.execute("ROLLBACK")
        other.close()
    assert response.status_code == 503
    assert response.get_json()["code"] == "busy"
    assert response.headers["Retry-After"] == "5"
    assert balance(settings) == 1200
    assert post(client, f"{MEMBER}/redemptions", {"points": 10}, key="busy-1").status_code == 201


def test_a_huge_chunked_body_is_refused_without_reading_it_all(
    settings: Settings, client: FlaskClient
) -> None:
    # No Content-Length: the server (gunicorn) says the stream ends by itself, as with chunked
    # transfer encoding; 1.6 MB of it.
    body = io.BytesIO(b'{"points": 1, "pad": "' + b"x" * 1_600_000 + b'"}')
    response = client.post(
        f"{MEMBER}/redemptions",
        input_stream=body,
        headers={**AUTH, "Idempotency-Key": "big", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert response.is_json
    assert body.tell() <= 64 * 1024 + 1  # read no further than the limit
    assert balance(settings) == 1200

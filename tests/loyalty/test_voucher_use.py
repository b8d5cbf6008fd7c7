"""``POST /v1/loyalty/vouchers/<code>/use``: one use per request, idempotent by key, atomic."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from connector.config import Settings
from connector.loyalty.operations import LoyaltyError
from connector.loyalty.service import LoyaltyService
from connector.loyalty.wiring import load_config
from connector.store import Store
from connector.store.backend import transaction
from connector.web import create_app
from tests.loyalty.conftest import ANN
from tests.loyalty.test_web_api import AUTH, MEMBER, post


@pytest.fixture
def client(settings: Settings) -> FlaskClient:
    return create_app(settings).test_client()


def _code(client: FlaskClient) -> str:
    got = post(client, f"{MEMBER}/redemptions", {"voucher": "five_off"}, key="buy-1")
    assert got.status_code == 201
    code: str = got.get_json()["voucher"]["code"]
    return code


def _use(client: FlaskClient, code: str, key: str | None) -> TestResponse:
    headers = dict(AUTH)
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(f"/v1/loyalty/vouchers/{code}/use", headers=headers)


def test_a_code_is_used_once_and_a_repeated_key_answers_the_first_outcome(
    client: FlaskClient,
) -> None:
    code = _code(client)
    first = _use(client, code, "use-1")
    assert first.status_code == 200
    body = first.get_json()
    assert (body["code"], body["voucher"], body["uses_left"]) == (code, "five_off", 0)
    assert body["member"] == f"Contact:{ANN}"
    again = _use(client, code, "use-1")
    assert again.status_code == 200
    assert again.get_json()["repeated"] is True
    refused = _use(client, code, "use-2")
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "voucher_used_up"
    # the refusal is the first outcome of use-2, even if the code had uses again
    assert _use(client, code, "use-2").status_code == 409
    view = client.get(MEMBER, headers=AUTH).get_json()
    assert [v["uses_left"] for v in view["vouchers"]] == [0]


def test_unknown_code_missing_key_bad_token_and_reused_key(
    client: FlaskClient, settings: Settings
) -> None:
    assert _use(client, "L2L-NOPE", "u").status_code == 404
    code = _code(client)
    assert _use(client, code, None).status_code == 400
    no_auth = client.post(f"/v1/loyalty/vouchers/{code}/use", headers={"Idempotency-Key": "u"})
    assert no_auth.status_code == 401
    assert _use(client, code, "u").status_code == 200
    assert _use(client, "L2L-OTHER", "u").status_code == 422


def test_an_expired_code_is_409_and_keeps_its_use(client: FlaskClient, settings: Settings) -> None:
    code = _code(client)
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    store = Store(settings.store_location)
    try:
        with transaction(store.db.conn):  # committed on either backend
            store.db.conn.execute(
                "UPDATE loyalty_vouchers SET expires_at = ? WHERE code = ?", [past, code]
            )
    finally:
        store.close()
    refused = _use(client, code, "late")
    assert refused.status_code == 409
    assert refused.get_json()["code"] == "voucher_expired"
    view = client.get(MEMBER, headers=AUTH).get_json()
    assert [v["uses_left"] for v in view["vouchers"]] == [1]


def test_concurrent_uses_never_take_more_than_the_code_has(
    settings: Settings, tmp_path: Path
) -> None:
    config = load_config(settings)
    now = datetime.now(UTC)
    store = Store(settings.store_location)
    try:
        store.db.table("loyalty_vouchers").insert(
            {
                "code": "L2L-MULTI",
                "program": "club",
                "member": f"Contact:{ANN}",
                "voucher_id": "five_off",
                "kind": "fixed",
                "value": 5.0,
                "issued_at": now.isoformat(),
                "expires_at": (now + timedelta(days=1)).isoformat(),
                "uses_left": 3,
            }
        )
    finally:
        store.close()
    outcomes: list[str] = []
    lock = threading.Lock()

    def use(i: int) -> None:
        own = Store(settings.store_location)  # one connection per thread, like gunicorn workers
        try:
            LoyaltyService(own, config).use_voucher("L2L-MULTI", f"k{i}")
            result = "used"
        except LoyaltyError as exc:
            result = exc.code
        finally:
            own.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=use, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["used"] * 3 + ["voucher_used_up"] * 5

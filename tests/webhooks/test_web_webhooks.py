"""Webhooks and the events API through the real app under gunicorn.

Each platform's documented example deliveries (tests/fixtures/webhooks, shapes described in its
README) become events; bad or missing signatures get 401 and store nothing; retries count once;
malformed, oversized and wrongly typed bodies get 4xx; WooCommerce's ping gets 200.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connector.store import Store
from connector.sync.realtime import normalise_pending
from tests.webhooks.helpers import (
    BC_TOKEN,
    MAX_BYTES,
    SHOP,
    SHOPIFY_SECRETS,
    WOO_SECRET,
    WRITE_KEY,
    Server,
    bc_headers,
    encode,
    fixture,
    shopify_headers,
    woo_headers,
)


def _delivery(store: Store, source: str, key: str) -> dict[str, Any] | None:
    cursor = store.db.conn.execute(
        "SELECT id, topic, shop, headers, status, duplicates, error FROM deliveries "
        "WHERE source = ? AND key = ?",
        (source, key),
    )
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


def _events(store: Store, source: str, delivery_id: str) -> list[dict[str, Any]]:
    cursor = store.db.conn.execute(
        "SELECT name, email, occurred_at, properties FROM events "
        "WHERE source = ? AND delivery_id = ?",
        (source, delivery_id),
    )
    return [dict(zip([d[0] for d in cursor.description], r, strict=True)) for r in cursor]


def _counts(store: Store) -> tuple[int, int]:
    deliveries = store.db.conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
    events = store.db.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return deliveries, events


def _order(store: Store, platform: str, order_id: str) -> dict[str, Any] | None:
    cursor = store.db.conn.execute(
        "SELECT * FROM shop_orders WHERE platform = ? AND order_id = ?", (platform, order_id)
    )
    row = cursor.fetchone()
    return None if row is None else dict(zip([d[0] for d in cursor.description], row, strict=True))


def _fresh_order(**changes: Any) -> dict[str, Any]:
    order = fixture("shopify_orders_create.json")
    order["id"] = int(uuid.uuid4().int % 10**13)
    order.update(changes)
    return order


# ---------------------------------------------------------------------- Shopify


def test_shopify_order_becomes_an_event_and_an_order(server: Server, store: Store) -> None:
    order = _fresh_order()
    body = encode(order)
    headers = shopify_headers(body, "orders/create")
    response = server.post("/webhooks/shopify", body, headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "stored"}
    stored = _delivery(store, "shopify", headers["X-Shopify-Event-Id"])
    assert stored is not None
    assert stored["status"] == "stored"  # the web process only stores
    normalise_pending(store)
    [event] = _events(store, "shopify", headers["X-Shopify-Event-Id"])
    assert event["name"] == "Order Completed"
    assert event["email"] == "ada.shopper@example.com"
    assert json.loads(event["properties"])["order_name"] == "#1042"
    row = _order(store, "shopify", f"{SHOP}/{order['id']}")
    assert row is not None
    assert row["total"] == pytest.approx(129.60)
    assert row["reference"] == "#1042"
    assert row["placed_at"] == "2026-11-20T14:15:01.000+00:00"  # processed_at, in UTC
    assert row["cancelled"] == 0


@pytest.mark.parametrize(
    ("name", "topic", "event_name"),
    [
        ("shopify_checkouts_create.json", "checkouts/create", "Checkout Started"),
        ("shopify_carts_update.json", "carts/update", "Cart Updated"),
        ("shopify_refunds_create.json", "refunds/create", "Order Refunded"),
    ],
)
def test_shopify_documented_topics_become_events(
    server: Server, store: Store, name: str, topic: str, event_name: str
) -> None:
    body = encode(fixture(name))
    headers = shopify_headers(body, topic)
    assert server.post("/webhooks/shopify", body, headers).status_code == 200
    normalise_pending(store)
    [event] = _events(store, "shopify", headers["X-Shopify-Event-Id"])
    assert event["name"] == event_name


def test_shopify_data_request_and_unknown_topic_are_recorded_not_refused(
    server: Server, store: Store
) -> None:
    for topic, payload in (
        ("customers/data_request", fixture("shopify_customers_data_request.json")),
        ("products/update", {"id": 1, "title": "Tent"}),
    ):
        body = encode(payload)
        headers = shopify_headers(body, topic)
        assert server.post("/webhooks/shopify", body, headers).status_code == 200
        normalise_pending(store)
        stored = _delivery(store, "shopify", headers["X-Shopify-Event-Id"])
        assert stored is not None
        assert (stored["topic"], stored["status"]) == (topic, "normalised")
        assert _events(store, "shopify", headers["X-Shopify-Event-Id"]) == []


def test_same_delivery_three_times_is_one_event(server: Server, store: Store) -> None:
    body = encode(_fresh_order())
    headers = shopify_headers(body, "orders/create")
    answers = [server.post("/webhooks/shopify", body, headers).json()["status"] for _ in range(3)]
    assert answers == ["stored", "duplicate", "duplicate"]
    normalise_pending(store)
    assert len(_events(store, "shopify", headers["X-Shopify-Event-Id"])) == 1
    stored = _delivery(store, "shopify", headers["X-Shopify-Event-Id"])
    assert stored is not None
    assert stored["duplicates"] == 2


def test_webhook_id_is_the_fallback_key(server: Server, store: Store) -> None:
    body = encode(_fresh_order())
    headers = shopify_headers(body, "orders/paid")
    del headers["X-Shopify-Event-Id"]
    assert server.post("/webhooks/shopify", body, headers).status_code == 200
    assert _delivery(store, "shopify", headers["X-Shopify-Webhook-Id"]) is not None


def test_a_rotated_secret_still_verifies(server: Server, store: Store) -> None:
    body = encode(_fresh_order())
    headers = shopify_headers(body, "orders/create", secret=SHOPIFY_SECRETS[0])
    assert server.post("/webhooks/shopify", body, headers).status_code == 200


@pytest.mark.parametrize("how", ["wrong secret", "missing", "tampered body", "not base64"])
def test_bad_shopify_signature_is_401_and_stores_nothing(
    server: Server, store: Store, how: str
) -> None:
    body = encode(_fresh_order())
    headers = shopify_headers(body, "orders/create", secret="not-the-secret")
    if how == "missing":
        del headers["X-Shopify-Hmac-Sha256"]
    elif how == "tampered body":
        headers = shopify_headers(body, "orders/create")
        body = body.replace(b"129.60", b"1.00")
    elif how == "not base64":
        headers["X-Shopify-Hmac-Sha256"] = "\u00e9\u00e9=="
    before = _counts(store)
    response = server.post("/webhooks/shopify", body, headers)
    assert response.status_code == 401
    assert response.json()["code"] == "bad_signature"
    assert _counts(store) == before
    assert _delivery(store, "shopify", headers["X-Shopify-Event-Id"]) is None


def test_stale_shopify_delivery_is_refused(server: Server, store: Store) -> None:
    body = encode(_fresh_order())
    old = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    headers = shopify_headers(body, "orders/create", triggered_at=old)
    response = server.post("/webhooks/shopify", body, headers)
    assert response.status_code == 400
    assert "tolerance" in response.json()["message"]
    assert _delivery(store, "shopify", headers["X-Shopify-Event-Id"]) is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"\xff\xfe\x00", 400),
        (b"[1, 2, 3]", 422),
        (encode({**fixture("shopify_orders_create.json"), "total_price": [1]}), 422),
        (encode({**fixture("shopify_orders_create.json"), "created_at": "yesterday"}), 422),
        (encode({**fixture("shopify_orders_create.json"), "id": None}), 422),
        (encode({**fixture("shopify_orders_create.json"), "refunds": {"id": 1}}), 422),
        (encode({**fixture("shopify_orders_create.json"), "customer": "ada"}), 422),
    ],
)
def test_malformed_or_wrongly_typed_signed_bodies_get_4xx(
    server: Server, store: Store, body: bytes, status: int
) -> None:
    headers = shopify_headers(body, "orders/create")
    response = server.post("/webhooks/shopify", body, headers)
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert _delivery(store, "shopify", headers["X-Shopify-Event-Id"]) is None


def test_oversized_body_is_413(server: Server, store: Store) -> None:
    order = _fresh_order(note="x" * MAX_BYTES)
    body = encode(order)
    headers = shopify_headers(body, "orders/create")
    response = server.post("/webhooks/shopify", body, headers)
    assert response.status_code == 413
    assert response.json()["code"] == "request_entity_too_large"
    assert _delivery(store, "shopify", headers["X-Shopify-Event-Id"]) is None


def test_gzip_that_inflates_over_the_limit_is_413(server: Server) -> None:
    bomb = gzip.compress(b'{"batch": [' + b" " * (MAX_BYTES * 20) + b"]}")
    assert len(bomb) < MAX_BYTES
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
        "Authorization": "Basic " + _basic(WRITE_KEY),
    }
    response = server.post("/v1/batch", bomb, headers)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"


def test_missing_topic_or_id_is_400(server: Server) -> None:
    body = encode(_fresh_order())
    for missing in ("X-Shopify-Topic", "X-Shopify-Event-Id"):
        headers = shopify_headers(body, "orders/create")
        del headers[missing]
        if missing == "X-Shopify-Event-Id":
            del headers["X-Shopify-Webhook-Id"]
        assert server.post("/webhooks/shopify", body, headers).status_code == 400


def test_secrets_never_reach_the_stored_headers(server: Server, store: Store) -> None:
    body = encode(_fresh_order())
    headers = shopify_headers(body, "orders/create")
    headers["Authorization"] = f"Bearer {SHOPIFY_SECRETS[1]}"
    headers["X-Forwarded-Note"] = f"copy of {SHOPIFY_SECRETS[0]}"
    assert server.post("/webhooks/shopify", body, headers).status_code == 200
    stored = _delivery(store, "shopify", headers["X-Shopify-Event-Id"])
    assert stored is not None
    kept = json.loads(stored["headers"])
    text = stored["headers"]
    assert kept["X-Shopify-Topic"] == "orders/create"
    for secret in (*SHOPIFY_SECRETS, headers["X-Shopify-Hmac-Sha256"]):
        assert secret not in text
    assert not any(k.lower() in ("authorization", "x-shopify-hmac-sha256") for k in kept)


def test_customers_redact_deletes_the_persons_events_and_orders(
    server: Server, store: Store
) -> None:
    email = f"redact-{uuid.uuid4().hex[:8]}@example.com"
    order = _fresh_order(email=email, contact_email=email, customer={"id": 1, "email": email})
    body = encode(order)
    order_headers = shopify_headers(body, "orders/create")
    assert server.post("/webhooks/shopify", body, order_headers).status_code == 200
    normalise_pending(store)
    assert _events(store, "shopify", order_headers["X-Shopify-Event-Id"])
    request = fixture("shopify_customers_redact.json")
    request["customer"]["email"] = email.upper()
    request["orders_to_redact"] = [order["id"]]
    redact = encode(request)
    headers = shopify_headers(redact, "customers/redact")
    assert server.post("/webhooks/shopify", redact, headers).status_code == 200
    normalise_pending(store)
    assert _events(store, "shopify", order_headers["X-Shopify-Event-Id"]) == []
    assert _order(store, "shopify", f"{SHOP}/{order['id']}") is None
    assert _delivery(store, "shopify", order_headers["X-Shopify-Event-Id"]) is None
    record = store.db.conn.execute(
        "SELECT body FROM deliveries WHERE source = 'shopify' AND key = ?",
        (headers["X-Shopify-Event-Id"],),
    ).fetchone()
    assert email not in bytes(record[0]).decode().lower()


# ---------------------------------------------------------------------- WooCommerce


def test_woocommerce_ping_gets_200_and_stores_nothing(server: Server, store: Store) -> None:
    before = _counts(store)
    response = server.post(
        "/webhooks/woocommerce",
        b"webhook_id=7",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert response.json() == {"status": "ping"}
    assert _counts(store) == before


def test_woocommerce_order_becomes_an_event_and_an_order(server: Server, store: Store) -> None:
    order = fixture("woocommerce_order_created.json")
    order["id"] = int(uuid.uuid4().int % 10**9)
    body = encode(order)
    headers = woo_headers(body, "order.created", delivery_id=uuid.uuid4().hex)
    assert server.post("/webhooks/woocommerce", body, headers).status_code == 200
    normalise_pending(store)
    row = _order(store, "woocommerce", f"https://tea.example.org//{order['id']}")
    assert row is not None
    assert (row["email"], row["total"], row["currency"]) == ("bo.buyer@example.org", 54.9, "EUR")
    assert row["placed_at"] == "2026-11-21T09:02:03.000+00:00"
    key = store.db.conn.execute(
        "SELECT key FROM deliveries WHERE source = 'woocommerce' AND key LIKE ?",
        (f"%|{headers['X-WC-Webhook-Delivery-ID']}|%",),
    ).fetchone()[0]
    [event] = _events(store, "woocommerce", key)
    assert (event["name"], event["email"]) == ("Order Completed", "bo.buyer@example.org")


def test_woocommerce_delivery_ids_repeat_across_stores(server: Server, store: Store) -> None:
    shared_id = uuid.uuid4().hex[:8]
    answers = []
    for source in ("https://one.example.org/", "https://two.example.org/"):
        order = {**fixture("woocommerce_order_created.json"), "id": 900}
        body = encode(order)
        headers = woo_headers(body, "order.updated", delivery_id=shared_id, source=source)
        answers.append(server.post("/webhooks/woocommerce", body, headers).json()["status"])
    assert answers == ["stored", "stored"]


def test_woocommerce_bad_signature_is_401(server: Server, store: Store) -> None:
    body = encode(fixture("woocommerce_order_created.json"))
    before = _counts(store)
    for headers in (
        woo_headers(body, "order.created", secret="wrong"),
        {k: v for k, v in woo_headers(body, "order.created").items() if "Signature" not in k},
    ):
        assert server.post("/webhooks/woocommerce", body, headers).status_code == 401
    assert _counts(store) == before


# ---------------------------------------------------------------------- BigCommerce


def _bc_body(**changes: Any) -> bytes:
    payload = fixture("bigcommerce_order_created.json")
    payload.update({"created_at": int(time.time()), "hash": uuid.uuid4().hex, **changes})
    return encode(payload)


def test_bigcommerce_order_reference_is_stored(server: Server, store: Store) -> None:
    body = _bc_body()
    assert server.post("/webhooks/bigcommerce", body, bc_headers()).status_code == 200
    normalise_pending(store)
    row = _order(store, "bigcommerce", "stores/abc123x/250")
    assert row is not None
    assert row["total"] is None  # a light payload: counts once its details are known
    digest = json.loads(body)["hash"]
    [event] = _events(store, "bigcommerce", f"stores/abc123x|store/order/created|{digest}")
    assert event["name"] == "Order Completed"
    assert json.loads(event["properties"])["id"] == "250"


def test_bigcommerce_hash_dedupes(server: Server) -> None:
    body = _bc_body()
    statuses = [
        server.post("/webhooks/bigcommerce", body, bc_headers()).json()["status"] for _ in range(3)
    ]
    assert statuses == ["stored", "duplicate", "duplicate"]


def test_bigcommerce_wrong_token_or_stale_is_refused(server: Server, store: Store) -> None:
    before = _counts(store)
    assert server.post("/webhooks/bigcommerce", _bc_body(), bc_headers("nope")).status_code == 401
    assert server.post("/webhooks/bigcommerce", _bc_body(), {}).status_code == 401
    stale = _bc_body(created_at=int(time.time()) - 10 * 86_400)
    assert server.post("/webhooks/bigcommerce", stale, bc_headers()).status_code == 400
    assert _counts(store) == before
    assert BC_TOKEN not in json.dumps(_stats(store))


# ---------------------------------------------------------------------- events API


def _basic(key: str) -> str:
    import base64

    return base64.b64encode(f"{key}:".encode()).decode()


def test_segment_client_batches_are_accepted(server: Server, store: Store) -> None:
    from segment.analytics import Client

    errors: list[Any] = []
    # The default (queued) mode: messages go out together in one gzipped /v1/batch call.
    client = Client(
        WRITE_KEY,
        host=server.url,
        gzip=True,
        upload_interval=0.05,
        on_error=lambda e, batch: errors.append(e),
    )
    user = f"user-{uuid.uuid4().hex[:8]}"
    client.identify(user, {"email": f"{user}@Example.com"})
    client.track(user, "Product Viewed", {"sku": "TRAIL-42"})
    client.page(user, "Shop", "Trail shoes")
    client.flush()
    client.shutdown()
    assert errors == []
    normalise_pending(store)
    rows = store.db.conn.execute(
        "SELECT type, name, anonymous_id FROM events WHERE source = 'api' AND anonymous_id = ?",
        (user,),
    ).fetchall()
    assert sorted((r[0], r[1]) for r in rows) == [
        ("identify", "identify"),
        ("page", "page"),
        ("track", "Product Viewed"),
    ]
    email = store.db.conn.execute(
        "SELECT email FROM events WHERE source = 'api' AND anonymous_id = ? AND type = 'identify'",
        (user,),
    ).fetchone()[0]
    assert email == f"{user}@example.com"


def test_segment_client_with_a_wrong_key_is_refused(server: Server) -> None:
    from segment.analytics import Client

    errors: list[Any] = []
    client = Client(
        "not-a-key",
        host=server.url,
        max_retries=0,
        upload_interval=0.05,
        on_error=lambda e, batch: errors.append(e),
    )
    client.track("u1", "Product Viewed")
    client.flush()
    client.shutdown()
    assert errors
    assert getattr(errors[0], "status", None) == 401


def test_events_api_single_endpoints_and_partial_batches(server: Server, store: Store) -> None:
    auth = {"Authorization": "Basic " + _basic(WRITE_KEY), "Content-Type": "application/json"}
    now = datetime.now(UTC).isoformat()
    good = {"messageId": uuid.uuid4().hex, "userId": "u9", "event": "Signed Up", "timestamp": now}
    response = server.post("/v1/track", encode(good), auth)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    batch = {"batch": [{**good, "type": "track", "messageId": uuid.uuid4().hex}, {"type": "track"}]}
    answer = server.post("/v1/batch", encode(batch), auth).json()
    assert (answer["accepted"], answer["rejected"]) == (1, 1)
    assert "messageId" in answer["problems"][0]
    for wrong in ({"batch": "x"}, {"batch": []}, [good]):
        assert server.post("/v1/batch", encode(wrong), auth).status_code in (400, 422)
    no_key = {"Content-Type": "application/json"}
    assert server.post("/v1/track", encode(good), no_key).status_code == 401


def _stats(store: Store) -> dict[str, Any]:
    return store.events.stats()


def test_stats_count_deliveries_duplicates_and_rejections(server: Server, store: Store) -> None:
    body = encode(_fresh_order())
    headers = shopify_headers(body, "orders/create")
    before = _stats(store)["sources"].get("shopify", {})
    server.post("/webhooks/shopify", body, headers)
    server.post("/webhooks/shopify", body, headers)
    server.post("/webhooks/shopify", body, {**headers, "X-Shopify-Hmac-Sha256": "AAAA"})
    after = _stats(store)["sources"]["shopify"]
    assert after["deliveries"] == before.get("deliveries", 0) + 1
    assert after["duplicates"] == before.get("duplicates", 0) + 1
    assert (
        after["rejections"]["bad_signature"]
        == before.get("rejections", {}).get("bad_signature", 0) + 1
    )
    assert WOO_SECRET not in json.dumps(after)

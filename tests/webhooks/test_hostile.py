"""Hostile deliveries through the real app under gunicorn: bodies nested past the JSON bound,
numbers past 64 bits, misdated and undated Shopify deliveries, and replays under fresh headers.
Each is refused or counted as a duplicate, never a 500, never stored twice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connector.bounds import MAX_JSON_DEPTH
from connector.store import Store
from connector.sync.realtime import normalise_pending
from tests.webhooks.helpers import (
    WRITE_KEY,
    Server,
    encode,
    fixture,
    shopify_headers,
    woo_headers,
)


def _counts(store: Store) -> tuple[int, int]:
    deliveries = store.db.conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
    events = store.db.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return deliveries, events


def _fresh_order(**changes: Any) -> dict[str, Any]:
    order = fixture("shopify_orders_create.json")
    order["id"] = int(uuid.uuid4().int % 10**13)
    order.update(changes)
    return order


def _deep(depth: int) -> bytes:
    return b'{"id": 1, "x": ' + b"[" * depth + b"]" * depth + b"}"


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 20_000])
def test_deeply_nested_shopify_body_is_400(server: Server, store: Store, depth: int) -> None:
    body = _deep(depth)
    before = _counts(store)
    response = server.post("/webhooks/shopify", body, shopify_headers(body, "orders/create"))
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "malformed"
    assert "nested deeper than 64 levels" in response.json()["message"]
    assert _counts(store) == before


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 20_000])
def test_deeply_nested_batch_is_400(server: Server, store: Store, depth: int) -> None:
    body = b'{"batch": [' + b"[" * depth + b"]" * depth + b"]}"
    before = _counts(store)
    response = server.http.post(
        server.url + "/v1/batch",
        data=body,
        auth=(WRITE_KEY, ""),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400, response.text
    assert "nested deeper" in response.json()["message"]
    assert _counts(store) == before


@pytest.mark.parametrize(
    "total", ['"1e400"', '"nan"', '"10000000000001"', "18446744073709551616", "1e999"]
)
def test_shopify_amount_past_its_bound_is_refused(server: Server, store: Store, total: str) -> None:
    body = encode(_fresh_order()).replace(
        b'"total_price": "129.60"', f'"total_price": {total}'.encode()
    )
    assert total.encode() in body
    before = _counts(store)
    response = server.post("/webhooks/shopify", body, shopify_headers(body, "orders/create"))
    assert response.status_code in (400, 422), response.text
    assert _counts(store) == before


def test_shopify_delivery_dated_2099_is_refused(server: Server, store: Store) -> None:
    body = encode(_fresh_order())
    before = _counts(store)
    headers = shopify_headers(body, "orders/create", triggered_at="2099-01-01T00:00:00Z")
    response = server.post("/webhooks/shopify", body, headers)
    assert response.status_code == 400
    assert "in the future" in response.json()["message"]
    assert _counts(store) == before


def test_shopify_delivery_a_minute_ahead_is_accepted(server: Server, store: Store) -> None:
    body = encode(_fresh_order())
    ahead = (datetime.now(UTC) + timedelta(seconds=60)).isoformat()
    response = server.post(
        "/webhooks/shopify", body, shopify_headers(body, "orders/create", triggered_at=ahead)
    )
    assert response.status_code == 200, response.text


def test_shopify_delivery_without_triggered_at_is_refused(server: Server, store: Store) -> None:
    body = encode(_fresh_order())
    headers = shopify_headers(body, "orders/create")
    del headers["X-Shopify-Triggered-At"]
    before = _counts(store)
    response = server.post("/webhooks/shopify", body, headers)
    assert response.status_code == 400
    assert "X-Shopify-Triggered-At header is missing" in response.json()["message"]
    assert _counts(store) == before


def test_resent_shopify_body_with_new_event_id_is_duplicate(server: Server, store: Store) -> None:
    body = encode(_fresh_order())
    answers = []
    for _ in range(3):  # each resend under a new event id, webhook id and trigger time
        response = server.post("/webhooks/shopify", body, shopify_headers(body, "orders/create"))
        answers.append(response.json()["status"])
    assert answers == ["stored", "duplicate", "duplicate"]
    normalise_pending(store)
    count = store.db.conn.execute(
        "SELECT COUNT(*) FROM deliveries WHERE source = 'shopify' AND body = ?", (body,)
    ).fetchone()[0]
    assert count == 1


def test_same_shopify_body_under_another_topic_is_stored(server: Server, store: Store) -> None:
    body = encode(_fresh_order())
    first = server.post("/webhooks/shopify", body, shopify_headers(body, "orders/create"))
    second = server.post("/webhooks/shopify", body, shopify_headers(body, "orders/updated"))
    assert [first.json()["status"], second.json()["status"]] == ["stored", "stored"]


def test_resent_woo_body_with_new_delivery_id_is_duplicate(server: Server, store: Store) -> None:
    order = fixture("woocommerce_order_created.json")
    order["id"] = int(uuid.uuid4().int % 10**9)
    body = encode(order)
    answers = [
        server.post(
            "/webhooks/woocommerce",
            body,
            woo_headers(body, "order.created", delivery_id=uuid.uuid4().hex),
        ).json()["status"]
        for _ in range(2)
    ]
    assert answers == ["stored", "duplicate"]

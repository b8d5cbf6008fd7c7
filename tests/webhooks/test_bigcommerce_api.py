"""A light BigCommerce webhook, then the worker reads the order in full from the store's API
(a stand-in server on loopback speaking the Orders V2 shape) and the order counts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask, abort, request
from werkzeug.serving import make_server

from connector.config import Settings, load_settings
from connector.store import Store
from connector.sync.order_merge import orders_frame
from connector.sync.realtime import fetch_bigcommerce_orders, normalise_pending
from connector.sync.resolve import ORDER_COLUMNS
from connector.webhooks import bigcommerce
from connector.webhooks.bigcommerce_api import order_details
from tests.backends import database_settings, store_location
from tests.webhooks.helpers import BC_TOKEN, bc_headers, encode, fixture

API_TOKEN = "bc_api_token_9"


SERVED = {"refunded_amount": "11.5000"}


@pytest.fixture
def store_api() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for the store API: the fixture order for store abc123x, token checked."""
    app = Flask("bigcommerce-stand-in")
    seen: list[str] = []
    SERVED["refunded_amount"] = "11.5000"

    @app.get("/stores/<store_hash>/v2/orders/<int:order_id>")
    def order(store_hash: str, order_id: int) -> dict[str, object]:
        seen.append(request.path)
        if request.headers.get("X-Auth-Token") != API_TOKEN:
            abort(401)
        if store_hash != "abc123x" or order_id != 250:
            abort(404)
        body: dict[str, object] = {**fixture("bigcommerce_v2_order.json"), **SERVED}
        return body

    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    thread.join(timeout=60)
    server.server_close()


def _settings(tmp_path: Path, api: str, token: str = API_TOKEN) -> Settings:
    return load_settings(
        **database_settings(tmp_path),
        bigcommerce_webhook_token=BC_TOKEN,
        bigcommerce_api_tokens=f"other:zzz,abc123x:{token}",
        bigcommerce_api_url=api,
    )


def _light_delivery(store: Store, scope: str = "store/order/created") -> None:
    payload = {
        **fixture("bigcommerce_order_created.json"),
        "created_at": int(time.time()),
        "scope": scope,
    }
    body = encode(payload)
    delivery = bigcommerce.receive(bc_headers(), body, [BC_TOKEN], datetime.now(UTC), 3600)
    store.events.store_delivery(delivery)
    assert normalise_pending(store) == (1, 0)


def test_order_details_of_the_documented_shape() -> None:
    details = order_details(fixture("bigcommerce_v2_order.json"))
    assert details == {
        "email": "cy.client@example.net",
        "total": 71.5,
        "currency": "USD",
        "placed_at": "2026-11-27T10:12:40.000+00:00",
        "cancelled": 0,
        "refunded": 11.5,
    }


def test_the_worker_reads_the_order_and_it_counts(
    tmp_path: Path, store_api: tuple[str, list[str]]
) -> None:
    url, seen = store_api
    settings = _settings(tmp_path, url)
    store = Store(settings.store_location)
    store.records.upsert("Contact", [{"Id": "003X", "Email": "cy.client@example.net"}])
    _light_delivery(store)
    assert len(orders_frame(store, list(ORDER_COLUMNS))) == 0  # a reference does not count yet
    assert fetch_bigcommerce_orders(store, settings) == (1, 0)
    assert seen == ["/stores/abc123x/v2/orders/250"]
    orders = orders_frame(store, list(ORDER_COLUMNS))
    assert orders[["BillToContactId", "TotalAmount"]].values.tolist() == [["003X", 60.0]]
    dirty = store.db.conn.execute("SELECT email FROM dirty_people").fetchall()
    assert dirty == [("cy.client@example.net",)]
    assert fetch_bigcommerce_orders(store, settings) == (0, 0)  # nothing left to read


def test_a_refused_read_waits_for_the_next_pass(
    tmp_path: Path, store_api: tuple[str, list[str]]
) -> None:
    url, _ = store_api
    store = Store(store_location(tmp_path))
    _light_delivery(store)
    assert fetch_bigcommerce_orders(store, _settings(tmp_path, url, token="wrong")) == (0, 1)
    row = store.db.conn.execute("SELECT total FROM shop_orders").fetchone()
    assert row == (None,)
    assert fetch_bigcommerce_orders(store, _settings(tmp_path, url)) == (1, 0)
    row = store.db.conn.execute("SELECT total, email FROM shop_orders").fetchone()
    assert row == (71.5, "cy.client@example.net")


def test_a_later_refund_is_read_again(tmp_path: Path, store_api: tuple[str, list[str]]) -> None:
    url, seen = store_api
    settings = _settings(tmp_path, url)
    store = Store(settings.store_location)
    store.records.upsert("Contact", [{"Id": "003X", "Email": "cy.client@example.net"}])
    _light_delivery(store)
    assert fetch_bigcommerce_orders(store, settings) == (1, 0)
    SERVED["refunded_amount"] = "31.5000"
    _light_delivery(store, "store/order/refund/created")  # names the order, carries no amount
    orders = orders_frame(store, list(ORDER_COLUMNS))
    assert orders["TotalAmount"].tolist() == [60.0]  # still counts meanwhile
    assert fetch_bigcommerce_orders(store, settings) == (1, 0)
    assert orders_frame(store, list(ORDER_COLUMNS))["TotalAmount"].tolist() == [40.0]
    assert len(seen) == 2

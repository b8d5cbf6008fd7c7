"""Hypothesis over bodies and headers, sent to the real app under gunicorn: never a 500.

Unsigned noise must be refused (401/4xx); signed JSON built from the real field names of each
platform reaches the normalisers, which must answer 200 or a 4xx, never fail.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webhooks.helpers import (
    BC_TOKEN,
    WRITE_KEY,
    Server,
    bc_headers,
    shopify_headers,
    woo_headers,
)

PATHS = (
    "/webhooks/shopify",
    "/webhooks/woocommerce",
    "/webhooks/bigcommerce",
    "/v1/batch",
    "/v1/track",
    "/v1/identify",
    "/v1/page",
)
HEADER_NAMES = (
    "Content-Type",
    "Content-Encoding",
    "Authorization",
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Topic",
    "X-Shopify-Event-Id",
    "X-Shopify-Triggered-At",
    "X-WC-Webhook-Signature",
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-Delivery-ID",
    "X-L2L-Webhook-Token",
)
# Field names the normalisers read, so generated objects reach their type checks.
KEYS = (
    "id", "name", "email", "contact_email", "created_at", "updated_at", "processed_at",
    "total_price", "currency", "cancelled_at", "customer", "refunds", "transactions", "amount",
    "kind", "status", "order_id", "line_items", "token", "number", "total", "billing",
    "date_created_gmt", "date_modified_gmt", "scope", "producer", "hash", "data",
    "type", "messageId", "timestamp", "event", "userId", "anonymousId", "properties", "traits",
    "batch", "context", "orders_to_redact", "shop_domain",
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["2026-11-20T09:15:02-05:00", "12.50", "refund", "success", "a@b.co", ""]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    ),
    max_leaves=20,
)
# Printable ASCII without leading or trailing blanks: the client refuses to send others.
HEADER_VALUES = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60
).map(str.strip)

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    path=st.sampled_from(PATHS),
    body=st.binary(max_size=300),
    headers=st.dictionaries(st.sampled_from(HEADER_NAMES), HEADER_VALUES, max_size=6),
)
def test_noise_never_gets_a_500(
    server: Server, path: str, body: bytes, headers: dict[str, str]
) -> None:
    response = server.post(path, body, headers)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()) == {"code", "message"}


@FUZZ
@given(
    payload=JSON,
    topic=st.sampled_from(
        ["orders/create", "orders/updated", "refunds/create", "carts/update", "checkouts/create",
         "customers/delete", "customers/redact", "shop/redact", "unknown/topic"]
    ),
)  # fmt: skip
def test_signed_shopify_json_never_gets_a_500(server: Server, payload: Any, topic: str) -> None:
    body = json.dumps(payload).encode()
    response = server.post("/webhooks/shopify", body, shopify_headers(body, topic))
    assert response.status_code in (200, 400, 422), response.text


@FUZZ
@given(payload=JSON, topic=st.sampled_from(["order.created", "order.deleted", "customer.updated"]))
def test_signed_woocommerce_json_never_gets_a_500(server: Server, payload: Any, topic: str) -> None:
    body = json.dumps(payload).encode()
    response = server.post("/webhooks/woocommerce", body, woo_headers(body, topic))
    assert response.status_code in (200, 400, 422), response.text


@FUZZ
@given(payload=JSON)
def test_authenticated_bigcommerce_and_events_json_never_get_a_500(
    server: Server, payload: Any
) -> None:
    body = json.dumps(payload).encode()
    assert BC_TOKEN
    response = server.post("/webhooks/bigcommerce", body, bc_headers())
    assert response.status_code in (200, 400, 422), response.text
    import base64

    auth = {"Authorization": "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()}
    for path in ("/v1/batch", "/v1/track"):
        response = server.post(path, body, auth)
        assert response.status_code in (200, 400, 422), response.text


def test_every_accepted_fuzz_delivery_normalises(server: Server) -> None:
    """What the web process accepted, the worker can normalise (the same pure functions)."""
    from connector.store import Store
    from connector.sync.realtime import normalise_pending

    store = Store(server.database)
    try:
        _, failed = normalise_pending(store)
        assert failed == 0
    finally:
        store.close()

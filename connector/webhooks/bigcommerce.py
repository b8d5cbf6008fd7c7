"""BigCommerce webhooks: ``POST /webhooks/bigcommerce``.

What BigCommerce documents (Webhooks guide and events reference,
https://developer.bigcommerce.com/docs/integrations/webhooks; the ``webhook_callback_base``
schema of its OpenAPI files):

- Payloads are light: ``scope`` (``store/order/created``...), ``store_id``, ``producer``
  (``stores/<store_hash>``), ``created_at`` (Unix seconds), ``hash`` (SHA-1 of the payload data)
  and ``data`` (``type`` and ``id`` of the resource; ``status`` on status updates). The full
  order is read from the store's API afterwards.
- Deliveries are not signed with a shared secret; a webhook is created with custom ``headers``
  that BigCommerce sends with every delivery. lead2loyalty expects one of the tokens of
  ``L2L_BIGCOMMERCE_WEBHOOK_TOKEN`` in ``X-L2L-Webhook-Token`` (compared in constant time).
- Retries resend the same payload, so (producer, scope, hash) is the delivery's key.

An order arrives as a reference (store, order id, status) without shopper or amount: it is
stored so nothing is lost, and counts once the worker has read it in full from the store's API
(``connector.webhooks.bigcommerce_api``, for stores with a token in
``L2L_BIGCOMMERCE_API_TOKENS``).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connector.errors import SignatureError, Unprocessable
from connector.webhooks.base import (
    Delivery,
    Normalised,
    as_id,
    event_row,
    header,
    iso,
    json_object,
    obj,
    out_of_window,
    stored_headers,
)

SOURCE = "bigcommerce"
TOKEN_HEADER = "X-L2L-Webhook-Token"  # noqa: S105 - a header name, not a secret
#: The setting holding the shared tokens deliveries carry.
SECRET_SETTING = "bigcommerce_webhook_token"  # noqa: S105 - a setting's name, not a secret
#: What ``/openapi.json`` says of ``POST /webhooks/bigcommerce`` and its headers.
SUMMARY = "BigCommerce webhook deliveries (light payloads: scope, data.id, hash)"
HEADERS = ((TOKEN_HEADER, "The shared token configured on the webhook (required)."),)
# BigCommerce order status ids that mean the order does not count: 5 Cancelled, 6 Declined.
NOT_PURCHASED_STATUS = {5, 6}
EVENT_NAMES = {
    "store/order/created": "Order Completed",
    "store/order/updated": "Order Updated",
    "store/order/statusUpdated": "Order Updated",
    "store/order/archived": "Order Cancelled",
    "store/order/refund/created": "Order Refunded",
    "store/cart/created": "Cart Created",
    "store/cart/updated": "Cart Updated",
    "store/cart/abandoned": "Cart Abandoned",
    "store/cart/converted": "Cart Converted",
    "store/customer/created": "Customer Created",
    "store/customer/updated": "Customer Updated",
    "store/customer/deleted": "Customer Deleted",
}


def receive(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    now: datetime,
    max_age_seconds: int,
) -> Delivery:
    """Check the shared token and the light payload; the :class:`Delivery` to store."""
    tokens = [s for s in secrets if s]
    if not tokens:
        raise SignatureError("no BigCommerce webhook token is configured on this server")
    given = header(headers, TOKEN_HEADER).encode("utf-8", "replace")
    if not given:
        raise SignatureError(f"the {TOKEN_HEADER} header is missing")
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(token.encode("utf-8"), given)
    if not matched:
        raise SignatureError(f"the {TOKEN_HEADER} header does not match a configured token")
    payload = json_object(body)
    scope, producer, digest = (_text(payload, name) for name in ("scope", "producer", "hash"))
    out_of_window(_created(payload), now, max_age_seconds, "BigCommerce")
    delivery = Delivery(
        source=SOURCE,
        key=f"{producer[:100]}|{scope[:100]}|{digest[:100]}",
        topic=scope[:100],
        shop=producer[:255],
        headers=stored_headers(headers, tokens),
        body=body,
    )
    normalise(delivery)
    return delivery


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise Unprocessable(f"{name} must be a non-empty string")
    return value


def _created(payload: dict[str, Any]) -> datetime:
    stamp = payload.get("created_at")
    if isinstance(stamp, bool) or not isinstance(stamp, int) or not 0 <= stamp < 2**33:
        raise Unprocessable("created_at must be a Unix time in seconds")
    return datetime.fromtimestamp(stamp, UTC)


def normalise(delivery: Delivery) -> Normalised:
    """The event and order reference a stored BigCommerce delivery stands for."""
    payload = json_object(delivery.body)
    data = obj(payload.get("data"), "data")
    out = Normalised()
    name = EVENT_NAMES.get(delivery.topic)
    if name is None:
        return out
    when = _created(payload)
    record_id = as_id(data.get("id"), "data.id")
    props: dict[str, Any] = {
        "platform": SOURCE,
        "shop": delivery.shop,
        "topic": delivery.topic,
        "id": record_id,
    }
    if delivery.topic.startswith("store/order/"):
        status = obj(data.get("status"), "data.status")
        new_status = status.get("new_status_id")
        cancelled = delivery.topic == "store/order/archived" or new_status in NOT_PURCHASED_STATUS
        out.orders.append(
            {
                "platform": SOURCE,
                "order_id": f"{delivery.shop}/{record_id}",
                "reference": record_id,
                "platform_order_id": record_id,
                "shop": delivery.shop,
                "email": None,
                "placed_at": iso(when) if delivery.topic == "store/order/created" else None,
                "updated_at": iso(when),
                "total": None,
                "currency": None,
                "cancelled": 1 if cancelled else 0,
                # Anything after the creation may change the amount (a refund carries none):
                # the worker reads the order again.
                "stale": 0 if delivery.topic == "store/order/created" else 1,
            }
        )
    out.events.append(
        event_row(
            source=SOURCE,
            delivery_id=delivery.key,
            name=name,
            occurred_at=when,
            email=None,
            properties=props,
        )
    )
    return out

"""WooCommerce webhooks: ``POST /webhooks/woocommerce``.

What WooCommerce documents (REST API docs, "Webhooks",
https://developer.woocommerce.com/docs/apis/rest-api/v3/webhooks/; the ``WC_Webhook`` class):

- A webhook has an optional secret; with it, ``X-WC-Webhook-Signature`` is the base64 HMAC-SHA256
  of the body. ``X-WC-Webhook-Topic`` (``order.created``...), ``X-WC-Webhook-Resource``,
  ``X-WC-Webhook-Event``, ``X-WC-Webhook-Source`` (the store's URL), ``X-WC-Webhook-ID`` and
  ``X-WC-Webhook-Delivery-ID`` come with every delivery.
- Core topics: ``coupon.*``, ``customer.*``, ``order.*``, ``product.*`` (created, updated,
  deleted, restored).
- Saving an active webhook sends a test ping: a form-encoded body ``webhook_id=<id>``, without a
  signature (woocommerce/woocommerce issue #15642: "a test ping WC uses to confirm the endpoint
  can be reached"). It gets 200 so the webhook can be saved; nothing is stored.
- The delivery id is a per-store counter, not unique across stores, so a delivery's key is
  source + delivery id + a hash of the body.
- Orders (REST API v3 order resource): ``id``, ``number``, ``status``, ``currency``,
  ``date_created_gmt``, ``date_modified_gmt``, ``total``, ``billing.email``, ``refunds``
  (``id``, ``total`` as a negative decimal string).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from connector.errors import PayloadError, Unprocessable
from connector.webhooks.base import (
    Delivery,
    Normalised,
    as_id,
    body_hash,
    check_hmac,
    email_of,
    event_row,
    header,
    iso,
    json_object,
    moment,
    money,
    obj,
    stored_headers,
)

SOURCE = "woocommerce"
#: The setting holding the shared secrets deliveries are signed with.
SECRET_SETTING = "woocommerce_webhook_secrets"  # noqa: S105 - a setting's name, not a secret
#: What ``/openapi.json`` says of ``POST /webhooks/woocommerce`` and its headers.
SUMMARY = "WooCommerce webhook deliveries (and the unsigned ping, answered 200)"
HEADERS = (
    ("X-WC-Webhook-Signature", "Base64 HMAC-SHA256 of the body (required)."),
    ("X-WC-Webhook-Topic", "order.created, customer.updated... (required)"),
    ("X-WC-Webhook-Source", "The store's URL."),
    ("X-WC-Webhook-Delivery-ID", "Delivery id (required)."),
)
_PING = re.compile(rb"^webhook_id=\d{1,20}$")
# Order statuses that are not a purchase (WooCommerce's order status list).
NOT_PURCHASED = {"cancelled", "failed", "trash", "pending", "checkout-draft"}
EVENT_NAMES = {
    "order.created": "Order Completed",
    "order.updated": "Order Updated",
    "order.deleted": "Order Deleted",
    "order.restored": "Order Updated",
    "customer.created": "Customer Created",
    "customer.updated": "Customer Updated",
    "customer.deleted": "Customer Deleted",
    "coupon.created": "Coupon Created",
    "coupon.updated": "Coupon Updated",
    "coupon.deleted": "Coupon Deleted",
}


def is_ping(headers: Mapping[str, str], body: bytes) -> bool:
    """WooCommerce's unsigned test ping, sent when a webhook is saved."""
    return not header(headers, "X-WC-Webhook-Signature") and bool(_PING.match(body.strip()))


def receive(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    now: datetime,
    max_age_seconds: int,
) -> Delivery:
    """Verify and check one WooCommerce request; the :class:`Delivery` to store, or an error.

    WooCommerce sends no delivery timestamp header, so there is no age check here.
    """
    del now, max_age_seconds
    check_hmac(header(headers, "X-WC-Webhook-Signature"), body, secrets, "WooCommerce")
    topic = header(headers, "X-WC-Webhook-Topic")
    if not topic:
        raise PayloadError("the X-WC-Webhook-Topic header is missing")
    store = header(headers, "X-WC-Webhook-Source")
    delivery_id = header(headers, "X-WC-Webhook-Delivery-ID")
    if not delivery_id:
        raise PayloadError("the X-WC-Webhook-Delivery-ID header is missing")
    delivery = Delivery(
        source=SOURCE,
        key=f"{store[:150]}|{delivery_id[:40]}|{body_hash(body)}",
        topic=topic[:100],
        shop=store[:255],
        headers=stored_headers(headers, secrets),
        body=body,
    )
    normalise(delivery)
    return delivery


def normalise(delivery: Delivery) -> Normalised:
    """The events, orders and refunds a stored WooCommerce delivery stands for."""
    payload = json_object(delivery.body)
    topic, store = delivery.topic, delivery.shop
    out = Normalised()
    name = EVENT_NAMES.get(topic)
    if name is None:
        return out  # another topic (product.*, action.*): the stored delivery is the record
    resource = topic.split(".", 1)[0]
    record_id = as_id(payload.get("id"), "id")
    if resource == "order" and topic != "order.deleted":
        order = _order(payload, store, record_id)
        out.orders.append(order)
        out.refunds.extend(_refunds(payload.get("refunds"), order["order_id"], payload))
        when = moment(order["updated_at"], "date_modified_gmt")
        email = order["email"]
        props: dict[str, Any] = {
            "order_id": record_id,
            "total": order["total"],
            "currency": order["currency"],
            "status": payload.get("status"),
        }
    else:
        billing = obj(payload.get("billing"), "billing")
        email = email_of(payload.get("email"), billing.get("email"))
        stamp = payload.get("date_modified_gmt") or payload.get("date_created_gmt")
        when = moment(stamp or "1970-01-01T00:00:00", "date_modified_gmt", naive_is_utc=True)
        props = {"id": record_id}
        if resource == "order":  # order.deleted: the order no longer counts
            out.orders.append(
                {
                    "platform": SOURCE,
                    "order_id": f"{store}/{record_id}",
                    "reference": record_id,
                    "platform_order_id": record_id,
                    "shop": store,
                    "email": None,
                    "placed_at": None,
                    "updated_at": iso(when),
                    "total": None,
                    "currency": None,
                    "cancelled": 1,
                }
            )
    out.events.append(
        event_row(
            source=SOURCE,
            delivery_id=delivery.key,
            name=name,
            occurred_at=when,
            email=email,
            properties={"platform": SOURCE, "shop": store, "topic": topic, **props},
        )
    )
    return out


def _order(payload: dict[str, Any], store: str, record_id: str) -> dict[str, Any]:
    billing = obj(payload.get("billing"), "billing")
    created = moment(payload.get("date_created_gmt"), "date_created_gmt", naive_is_utc=True)
    modified = payload.get("date_modified_gmt")
    updated = moment(modified, "date_modified_gmt", naive_is_utc=True) if modified else created
    status = payload.get("status")
    if not isinstance(status, str):
        raise Unprocessable("status must be a WooCommerce order status")
    number = payload.get("number")
    currency = payload.get("currency")
    return {
        "platform": SOURCE,
        "order_id": f"{store}/{record_id}",
        "reference": str(number)[:100] if isinstance(number, str | int) else record_id,
        "platform_order_id": record_id,
        "shop": store,
        "email": email_of(billing.get("email")),
        "placed_at": iso(created),
        "updated_at": iso(updated),
        "total": money(payload.get("total"), "total"),
        "currency": str(currency)[:3] if isinstance(currency, str) else None,
        "cancelled": 1 if status in NOT_PURCHASED else 0,
    }


def _refunds(refunds: Any, order_id: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    if refunds is None:
        return []
    if not isinstance(refunds, list):
        raise Unprocessable("refunds must be a list")
    stamp = payload.get("date_modified_gmt") or payload.get("date_created_gmt")
    rows = []
    for refund in refunds:
        refund = obj(refund, "refund")
        rows.append(
            {
                "platform": SOURCE,
                "refund_id": f"{order_id}/{as_id(refund.get('id'), 'refund id')}",
                "order_id": order_id,
                # WooCommerce lists refunds with a negative total ("-10.00").
                "amount": abs(money(refund.get("total"), "refund total")),
                "refunded_at": iso(moment(stamp, "date_modified_gmt", naive_is_utc=True)),
            }
        )
    return rows

"""Shopify webhooks: ``POST /webhooks/shopify``.

What Shopify documents, and what this module does with it:

- Every delivery is signed: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw body
  keyed with the app's client secret, checked before parsing and compared in constant time; an
  invalid signature gets 401, as the mandatory compliance webhooks require ("Webhooks delivery
  structure", https://shopify.dev/docs/apps/build/webhooks/delivery-structure; "Privacy law
  compliance", https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance).
- Duplicates: the same ``X-Shopify-Event-Id`` on two deliveries is one event ("Ignore duplicate
  webhooks", https://shopify.dev/docs/apps/build/webhooks/ignore-duplicates);
  ``X-Shopify-Webhook-Id`` is the fallback where no event id is sent.
- Retries: up to 8 times over 4 hours with the original payload, so ``X-Shopify-Triggered-At``
  tells a stale delivery ("Updates to webhook retry mechanism", Shopify developer changelog,
  2024-09-10). Deliveries triggered longer ago than ``L2L_WEBHOOK_MAX_AGE_SECONDS`` are refused,
  and so are deliveries dated more than five minutes ahead. The delivery-structure page lists
  ``X-Shopify-Triggered-At`` among the headers every delivery includes, so a delivery without
  it is refused (400), not waved through the age check.
- Replays: a body resent under a new ``X-Shopify-Event-Id`` is still a duplicate: the store
  also keys deliveries by their content (topic, shop, body hash; ``Delivery.content_key``).
- Payloads are the REST resource of the topic (orders carry ``id``, ``name``, ``email``,
  ``created_at``, ``updated_at``, ``total_price``, ``currency``, ``cancelled_at``, ``customer``
  and ``refunds``; refunds carry ``order_id`` and ``transactions``), per the webhook reference
  for the current API version (https://shopify.dev/docs/api/webhooks/latest).
- Mandatory privacy topics ``customers/data_request``, ``customers/redact`` and ``shop/redact``
  carry ``shop_domain``, ``customer`` (``id``, ``email``) and ``orders_to_redact``/
  ``orders_requested``; redact deletes that person's (or shop's) stored events and orders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from connector.errors import PayloadError, Unprocessable
from connector.webhooks.base import (
    Delivery,
    Normalised,
    as_id,
    check_hmac,
    email_of,
    event_row,
    header,
    iso,
    json_object,
    moment,
    money,
    obj,
    out_of_window,
    stored_headers,
)

SOURCE = "shopify"
#: The setting holding the shared secrets deliveries are signed with.
SECRET_SETTING = "shopify_webhook_secrets"  # noqa: S105 - a setting's name, not a secret
#: What ``/openapi.json`` says of ``POST /webhooks/shopify`` and its headers.
SUMMARY = "Shopify webhook deliveries"
HEADERS = (
    ("X-Shopify-Hmac-Sha256", "Base64 HMAC-SHA256 of the body (required)."),
    ("X-Shopify-Topic", "orders/create, refunds/create, customers/redact... (required)"),
    ("X-Shopify-Event-Id", "Duplicate detection (else X-Shopify-Webhook-Id)."),
    ("X-Shopify-Webhook-Id", "Fallback duplicate detection."),
    ("X-Shopify-Shop-Domain", "The shop."),
    ("X-Shopify-Triggered-At", "Trigger time; older than the tolerance is refused."),
    ("X-Shopify-API-Version", "Payload version."),
)
ORDER_TOPICS = {
    "orders/create": "Order Completed",
    "orders/paid": "Order Paid",
    "orders/updated": "Order Updated",
    "orders/cancelled": "Order Cancelled",
    "orders/fulfilled": "Order Fulfilled",
}
OTHER_TOPICS = {
    "refunds/create": "Order Refunded",
    "checkouts/create": "Checkout Started",
    "checkouts/update": "Checkout Updated",
    "carts/create": "Cart Created",
    "carts/update": "Cart Updated",
    "customers/create": "Customer Created",
    "customers/update": "Customer Updated",
    "customers/delete": "Customer Deleted",
}
PRIVACY_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
TOPICS = (*ORDER_TOPICS, *OTHER_TOPICS, *PRIVACY_TOPICS)


def receive(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    now: datetime,
    max_age_seconds: int,
) -> Delivery:
    """Verify and check one Shopify request; the :class:`Delivery` to store, or an error."""
    check_hmac(header(headers, "X-Shopify-Hmac-Sha256"), body, secrets, "Shopify")
    topic = header(headers, "X-Shopify-Topic")
    if not topic:
        raise PayloadError("the X-Shopify-Topic header is missing")
    key = header(headers, "X-Shopify-Event-Id") or header(headers, "X-Shopify-Webhook-Id")
    if not key:
        raise PayloadError("the X-Shopify-Event-Id and X-Shopify-Webhook-Id headers are missing")
    triggered = header(headers, "X-Shopify-Triggered-At")
    if not triggered:  # Shopify sends it with every delivery: its absence is not Shopify
        raise PayloadError("the X-Shopify-Triggered-At header is missing")
    try:
        sent = moment(triggered, "X-Shopify-Triggered-At")
    except Unprocessable as exc:
        raise PayloadError(str(exc)) from None
    out_of_window(sent, now, max_age_seconds, "Shopify")
    delivery = Delivery(
        source=SOURCE,
        key=key[:200],
        topic=topic[:100],
        shop=header(headers, "X-Shopify-Shop-Domain")[:255],
        headers=stored_headers(headers, secrets),
        body=body,
    )
    normalise(delivery)  # refuse a wrongly typed body now, while the sender can still hear it
    return delivery


def normalise(delivery: Delivery) -> Normalised:
    """The events, orders, refunds and privacy requests a stored Shopify delivery stands for."""
    payload = json_object(delivery.body)
    topic, shop, key = delivery.topic, delivery.shop, delivery.key
    out = Normalised()
    if topic in ORDER_TOPICS:
        order = _order(payload, shop)
        out.orders.append(order)
        out.refunds.extend(_refunds(payload.get("refunds"), order["order_id"], shop))
        out.events.append(
            event_row(
                source=SOURCE,
                delivery_id=key,
                name=ORDER_TOPICS[topic],
                occurred_at=moment(order["updated_at"], "updated_at"),
                email=order["email"],
                properties={
                    "platform": SOURCE,
                    "shop": shop,
                    "order_id": order["order_id"],
                    "order_name": order["reference"],
                    "total": order["total"],
                    "currency": order["currency"],
                    "cancelled": bool(order["cancelled"]),
                },
            )
        )
    elif topic == "refunds/create":
        order_id = as_id(payload.get("order_id"), "order_id")
        refunds = _refunds([payload], order_id, shop)
        at = moment(payload.get("created_at"), "created_at")
        out.refunds.extend(refunds)
        out.events.append(
            event_row(
                source=SOURCE,
                delivery_id=key,
                name=OTHER_TOPICS[topic],
                occurred_at=at,
                email=None,  # a refund names its order, not its shopper: linked by order id
                properties={
                    "platform": SOURCE,
                    "shop": shop,
                    "order_id": order_id,
                    "amount": sum(r["amount"] for r in refunds),
                },
            )
        )
    elif topic in OTHER_TOPICS:
        fallback = header(delivery.headers, "X-Shopify-Triggered-At")
        out.events.append(_other_event(topic, payload, shop, key, fallback))
    elif topic == "customers/redact":
        customer = obj(payload.get("customer"), "customer")
        email = email_of(customer.get("email"))
        if email:
            out.redact_emails.append(email)
        orders = payload.get("orders_to_redact") or []
        if not isinstance(orders, list):
            raise Unprocessable("orders_to_redact must be a list of order ids")
        out.redact_order_ids.extend(f"{shop}/{as_id(o, 'orders_to_redact[]')}" for o in orders)
    elif topic == "shop/redact":
        domain = payload.get("shop_domain") or shop
        if not isinstance(domain, str) or not domain:
            raise Unprocessable("shop_domain must be the shop's myshopify.com domain")
        out.redact_shop = domain
    # customers/data_request and unknown topics: the stored delivery is the record; nothing
    # else to derive (data requests are answered by the admin from `events stats` and the log).
    return out


def _order(payload: dict[str, Any], shop: str) -> dict[str, Any]:
    order_id = as_id(payload.get("id"), "id")
    created = moment(payload.get("created_at"), "created_at")
    updated = moment(payload["updated_at"], "updated_at") if payload.get("updated_at") else created
    customer = obj(payload.get("customer"), "customer")
    name = payload.get("name")
    currency = payload.get("currency")
    return {
        "platform": SOURCE,
        "order_id": f"{shop}/{order_id}",
        "reference": str(name)[:100] if isinstance(name, str | int) else order_id,
        "platform_order_id": order_id,
        "shop": shop,
        "email": email_of(
            payload.get("email"), payload.get("contact_email"), customer.get("email")
        ),
        "placed_at": iso(
            moment(payload["processed_at"], "processed_at")
            if payload.get("processed_at")
            else created
        ),
        "updated_at": iso(updated),
        "total": money(payload.get("total_price"), "total_price"),
        "currency": str(currency)[:3] if isinstance(currency, str) else None,
        "cancelled": 1 if payload.get("cancelled_at") else 0,
    }


def _refunds(refunds: Any, order_id: str, shop: str) -> list[dict[str, Any]]:
    """Refunds as rows: successful refund transactions summed, one row per refund id."""
    if refunds is None:
        return []
    if not isinstance(refunds, list):
        raise Unprocessable("refunds must be a list")
    rows = []
    for refund in refunds:
        refund = obj(refund, "refund")
        transactions = refund.get("transactions") or []
        if not isinstance(transactions, list):
            raise Unprocessable("refund transactions must be a list")
        amount = 0.0
        for t in transactions:
            t = obj(t, "transaction")
            if t.get("kind", "refund") == "refund" and t.get("status", "success") == "success":
                amount += money(t.get("amount"), "transaction amount")
        rows.append(
            {
                "platform": SOURCE,
                "refund_id": f"{shop}/{as_id(refund.get('id'), 'refund id')}",
                "order_id": order_id if "/" in order_id else f"{shop}/{order_id}",
                "amount": round(amount, 2),
                "refunded_at": iso(moment(refund.get("created_at"), "refund created_at")),
            }
        )
    return rows


def _other_event(
    topic: str, payload: dict[str, Any], shop: str, key: str, triggered_at: str
) -> dict[str, Any]:
    customer = obj(payload.get("customer"), "customer")
    # customers/delete carries only an id: the trigger time stands in for the event's time.
    when = payload.get("updated_at") or payload.get("created_at") or triggered_at
    properties: dict[str, Any] = {"platform": SOURCE, "shop": shop, "topic": topic}
    if payload.get("id") is not None:
        properties["id"] = as_id(payload.get("id"), "id")
    if payload.get("total_price") is not None:
        properties["total"] = money(payload.get("total_price"), "total_price")
    lines = payload.get("line_items")
    if lines is not None:
        if not isinstance(lines, list):
            raise Unprocessable("line_items must be a list")
        properties["items"] = len(lines)
    email = email_of(payload.get("email"), customer.get("email"))
    return event_row(
        source=SOURCE,
        delivery_id=key,
        name=OTHER_TOPICS[topic],
        occurred_at=moment(when or "1970-01-01T00:00:00Z", "updated_at"),
        email=email,
        properties=properties,
        anonymous_id=str(payload.get("token"))[:200] if payload.get("token") else None,
    )

"""``POST /webhooks/<platform>``: verify, store durably, acknowledge. Nothing else happens here:
the worker normalises stored deliveries and talks to Salesforce (``lead2loyalty worker``)."""

from __future__ import annotations

import json

from flask import Blueprint
from flask.typing import ResponseReturnValue

from connector.config import secret_list
from connector.errors import WebhookError
from connector.web import intake
from connector.web.errors import status_of
from connector.webhooks import PLATFORMS, woocommerce

bp = Blueprint("webhooks", __name__)

STORED, DUPLICATE, PING = (
    json.dumps({"status": s}).encode() for s in ("stored", "duplicate", "ping")
)

SECRET_SETTING = {
    "shopify": "shopify_webhook_secrets",
    "woocommerce": "woocommerce_webhook_secrets",
    "bigcommerce": "bigcommerce_webhook_token",
}


def _receive(platform: str) -> ResponseReturnValue:
    settings = intake.settings()
    from connector.store.deliveries import count_rejection, store_delivery

    store = intake.store()
    try:
        headers = intake.headers()
        body = intake.body(headers)
        if platform == "woocommerce" and woocommerce.is_ping(headers, body):
            count_rejection(store, platform, "ping")  # counted, so stats show the hook was saved
            return intake.answer(PING)
        delivery = PLATFORMS[platform].receive(
            headers,
            body,
            secret_list(getattr(settings, SECRET_SETTING[platform])),
            intake.now(),
            settings.webhook_max_age_seconds,
        )
    except WebhookError as exc:
        count_rejection(store, platform, status_of(exc)[1])
        raise
    new = store_delivery(store, delivery)
    return intake.answer(STORED if new else DUPLICATE)


@bp.post("/webhooks/shopify")
def shopify() -> ResponseReturnValue:
    """Shopify deliveries (HMAC-signed)."""
    return _receive("shopify")


@bp.post("/webhooks/woocommerce")
def woocommerce_hook() -> ResponseReturnValue:
    """WooCommerce deliveries (HMAC-signed) and its unsigned ping."""
    return _receive("woocommerce")


@bp.post("/webhooks/bigcommerce")
def bigcommerce() -> ResponseReturnValue:
    """BigCommerce deliveries (shared token header)."""
    return _receive("bigcommerce")

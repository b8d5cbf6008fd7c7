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


def _receive(platform: str) -> ResponseReturnValue:
    settings = intake.settings()

    store = intake.store()
    try:
        headers = intake.headers()
        body = intake.body(headers)
        if platform == "woocommerce" and woocommerce.is_ping(headers, body):
            store.events.count_rejection(
                platform, "ping"
            )  # counted, so stats show the hook was saved
            return intake.answer(PING)
        delivery = PLATFORMS[platform].receive(
            headers,
            body,
            secret_list(getattr(settings, PLATFORMS[platform].SECRET_SETTING)),
            intake.now(),
            settings.webhook_max_age_seconds,
        )
    except WebhookError as exc:
        store.events.count_rejection(platform, status_of(exc)[1])
        raise
    new = store.events.store_delivery(delivery)
    if new:
        intake.enqueue(delivery.source, delivery.key)
    return intake.answer(STORED if new else DUPLICATE)


def _receive_on(platform: str) -> ResponseReturnValue:
    """Deliveries of one platform (its module's ``receive`` verifies them)."""
    return _receive(platform)


# One route per platform, each its own path (an unknown platform stays a plain 404, and
# /openapi.json documents the same paths), all made from the one list of platforms.
for _name in PLATFORMS:
    bp.add_url_rule(
        f"/webhooks/{_name}",
        endpoint=_name,
        view_func=_receive_on,
        methods=["POST"],
        defaults={"platform": _name},
    )

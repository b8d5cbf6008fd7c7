"""``POST /v1/batch|track|identify|page``: the Segment/RudderStack-compatible events API.

Like the webhooks: authenticate (write key), check, store the request durably, acknowledge.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from connector.config import secret_list
from connector.errors import WebhookError
from connector.web import intake
from connector.web.errors import status_of
from connector.webhooks import segment

bp = Blueprint("events_api", __name__)


def _receive(kind: str) -> ResponseReturnValue:

    store = intake.store()
    try:
        headers = intake.headers()
        delivery, normalised = segment.receive(
            kind,
            headers,
            intake.body(headers),
            secret_list(intake.settings().events_write_keys),
        )
    except WebhookError as exc:
        store.events.count_rejection(segment.SOURCE, status_of(exc)[1])
        raise
    new = store.events.store_delivery(delivery)
    if new:
        intake.enqueue(delivery.source, delivery.key)
    if new and normalised.rejected:
        store.events.count_rejection(segment.SOURCE, "invalid_message", len(normalised.rejected))
    return jsonify(
        {
            "success": True,
            "status": "stored" if new else "duplicate",
            "accepted": len(normalised.events),
            "rejected": len(normalised.rejected),
            "problems": normalised.rejected[:20],
        }
    ), 200


@bp.post("/v1/batch")
def batch() -> ResponseReturnValue:
    """A batch of track/identify/page messages."""
    return _receive("batch")


@bp.post("/v1/track")
def track() -> ResponseReturnValue:
    """One track message."""
    return _receive("track")


@bp.post("/v1/identify")
def identify() -> ResponseReturnValue:
    """One identify message."""
    return _receive("identify")


@bp.post("/v1/page")
def page() -> ResponseReturnValue:
    """One page message."""
    return _receive("page")

"""The generic event format (Segment/RudderStack messages), normalised to one stored row.

A message is ``{"type": "track"|"identify", "messageId", "timestamp", "event", "userId",
"anonymousId", "properties", "traits", "context": {"traits": {"email"}}}``. The row keeps what
identity and the models need (type, name, time, email, anonymous id, user id) and the
properties as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TYPES = ("track", "identify", "page")


@dataclass(frozen=True)
class EventProblem(Exception):
    """A message that cannot be stored, and why (said so the sender can fix it)."""

    reason: str

    def __str__(self) -> str:
        return self.reason


def _timestamp(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise EventProblem("timestamp is missing: send an ISO 8601 time, e.g. 2026-01-02T03:04:05Z")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EventProblem(f"timestamp {value[:40]!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise EventProblem(f"timestamp {value[:40]!r} has no time zone: add Z or +hh:mm")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _email(message: dict[str, Any]) -> str | None:
    traits = message.get("traits") or {}
    context = (message.get("context") or {}).get("traits") or {}
    props = message.get("properties") or {}
    for source in (traits, context, props):
        value = source.get("email") if isinstance(source, dict) else None
        if isinstance(value, str) and "@" in value:
            return value.strip().lower()
    return None


def normalise_message(message: Any, source: str) -> dict[str, Any]:
    """One message as an ``events`` row; raises :class:`EventProblem` when it cannot be stored."""
    if not isinstance(message, dict):
        raise EventProblem("a message must be a JSON object")
    kind = message.get("type")
    if kind not in TYPES:
        raise EventProblem(f"type must be one of {', '.join(TYPES)}, got {kind!r}")
    delivery = message.get("messageId")
    if not isinstance(delivery, str) or not delivery:
        raise EventProblem("messageId is missing: it makes a re-sent message idempotent")
    name = message.get("event") if kind == "track" else kind
    if kind == "track" and (not isinstance(name, str) or not name):
        raise EventProblem("a track message needs an event name")
    if not (message.get("userId") or message.get("anonymousId") or _email(message)):
        raise EventProblem("a message needs userId, anonymousId or an email in traits")
    props = message.get("properties") or {}
    if not isinstance(props, dict):
        raise EventProblem("properties must be a JSON object")
    return {
        "source": source,
        "delivery_id": delivery[:200],
        "type": kind,
        "name": str(name)[:200],
        "occurred_at": _timestamp(message.get("timestamp") or message.get("sentAt")),
        "email": _email(message),
        "contact_id": None,
        "lead_id": None,
        "anonymous_id": (
            str(message["anonymousId"])[:200]
            if message.get("anonymousId")
            else (str(message["userId"])[:200] if message.get("userId") else None)
        ),
        "properties": json.dumps(props, sort_keys=True, default=str),
    }

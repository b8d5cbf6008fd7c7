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


#: Property names under which the intake keeps the sender's clock beside the message's own
#: properties (a leading underscore: Segment's specs name no property so). The send-time model
#: reads them (connector.predictions.timezones.event_zones).
ZONE_PROPERTY = "_timezone"
OFFSET_PROPERTY = "_utc_offset"


def _moment(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise EventProblem("timestamp is missing: send an ISO 8601 time, e.g. 2026-01-02T03:04:05Z")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise EventProblem(f"timestamp {value[:40]!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise EventProblem(f"timestamp {value[:40]!r} has no time zone: add Z or +hh:mm")
    return moment


def _sender_clock(message: dict[str, Any], moment: datetime) -> dict[str, Any]:
    """The sender's clock, kept because the stored time is UTC: ``context.timezone`` (Segment's
    common fields: a tzdata name, e.g. America/New_York, "which might be stripped from the
    timestamp"; https://segment.com/docs/connections/spec/common/#context) and the timestamp's
    own offset in minutes. An offset of zero says nothing (Segment's libraries send every
    timestamp in UTC, so +00:00 is mostly a server's clock), so it is not kept."""
    out: dict[str, Any] = {}
    zone = (message.get("context") or {}).get("timezone")
    if isinstance(zone, str) and 0 < len(zone) <= 64:
        out[ZONE_PROPERTY] = zone.strip()
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    if minutes:
        out[OFFSET_PROPERTY] = minutes
    return out


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
    moment = _moment(message.get("timestamp") or message.get("sentAt"))
    context = message.get("context")
    clock = _sender_clock(message if isinstance(context, dict) else {}, moment)
    return {
        "source": source,
        "delivery_id": delivery[:200],
        "type": kind,
        "name": str(name)[:200],
        "occurred_at": moment.astimezone(UTC).isoformat(timespec="milliseconds"),
        "email": _email(message),
        "contact_id": None,
        "lead_id": None,
        "anonymous_id": (
            str(message["anonymousId"])[:200]
            if message.get("anonymousId")
            else (str(message["userId"])[:200] if message.get("userId") else None)
        ),
        "properties": json.dumps({**props, **clock}, sort_keys=True, default=str),
    }

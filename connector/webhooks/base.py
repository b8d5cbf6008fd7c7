"""What every platform module shares: the delivery and its normalised form, and small parsers.

A platform module is a set of pure functions over ``(headers, raw body)``:

- ``receive(headers, body, secrets, now, max_age)`` verifies the signature (raising
  :class:`~connector.errors.SignatureError`, answered 401), checks the body (raising
  :class:`~connector.errors.PayloadError`, answered 4xx) and returns a :class:`Delivery`: what the
  web process stores before it acknowledges.
- ``normalise(delivery)`` turns a stored delivery into a :class:`Normalised`: event rows, order
  rows, refunds and privacy requests. The worker runs it after the acknowledgement, and
  ``lead2loyalty events replay`` runs it again; it is deterministic, so replaying is idempotent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connector.bounds import MAX_AMOUNT, OutOfBounds, load_json
from connector.errors import PayloadError, SignatureError, TooLarge, Unprocessable

# Headers never stored: signatures, credentials, and anything a proxy may add that carries them.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-shopify-hmac-sha256",
        "x-wc-webhook-signature",
        "x-l2l-webhook-token",
    }
)

# How far a platform's clock may run ahead of ours. NTP keeps servers within a second; five
# minutes is the tolerance Stripe's and Slack's signed requests use for the same check.
CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class Delivery:
    """One verified request, as stored before the 2xx: the raw body and the headers minus secrets.

    ``key`` is unique per ``source``: a second delivery with the same key is a duplicate
    (a platform's retry) and is acknowledged without being stored again. ``content_key`` is
    unique per ``source`` too, so a body resent with fresh headers (a new event or delivery id)
    is a duplicate as well, whatever its headers say.
    """

    source: str
    key: str
    topic: str
    shop: str
    headers: dict[str, str]
    body: bytes

    @property
    def content_key(self) -> str:
        """What the delivery says, independent of its headers: topic, shop and a hash of the
        body. A platform's retry resends the body byte for byte (it is signed as sent), so a
        replay matches even under a new event id. Not the resource id and its ``updated_at``:
        those have whole-second resolution, and two real changes in one second would collide,
        losing the second; distinct bodies are never merged."""
        return f"{self.topic}|{self.shop}|{body_hash(self.body)}"


@dataclass
class Normalised:
    """What a delivery means for the store: all rows are plain dictionaries."""

    events: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    redact_emails: list[str] = field(default_factory=list)
    redact_order_ids: list[str] = field(default_factory=list)
    redact_shop: str | None = None
    rejected: list[str] = field(default_factory=list)

    @property
    def emails(self) -> set[str]:
        """Every shopper this delivery concerns (their fields are recomputed)."""
        found = {e["email"] for e in self.events if e.get("email")}
        found |= {o["email"] for o in self.orders if o.get("email")}
        return found | set(self.redact_emails)


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value, matched case-insensitively (HTTP header names are), or ``""``."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value.strip()
    return ""


def stored_headers(headers: Mapping[str, str], secrets: Iterable[str] = ()) -> dict[str, str]:
    """The headers worth keeping with a delivery: signatures, credentials and any header whose
    value contains a configured secret are left out."""
    masks = [s for s in secrets if len(s) >= 4]
    kept: dict[str, str] = {}
    for key, value in headers.items():
        if key.lower() in SECRET_HEADERS or any(m in value for m in masks):
            continue
        kept[key] = value[:500]
    return kept


def hmac_base64(secret: str, body: bytes) -> str:
    """Base64 of HMAC-SHA256(body) keyed with ``secret``: Shopify's and WooCommerce's signature."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def check_hmac(signature: str, body: bytes, secrets: Iterable[str], platform: str) -> None:
    """Accept the body when ``signature`` matches any configured secret (compared in constant
    time); else raise :class:`SignatureError`. Several secrets allow rotation and several shops."""
    keys = [s for s in secrets if s]
    if not keys:
        raise SignatureError(f"no {platform} webhook secret is configured on this server")
    if not signature:
        raise SignatureError(f"the {platform} signature header is missing")
    given = signature.encode("ascii", "replace")
    # Every secret is tried, so the time taken does not tell which one (if any) came close.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(hmac_base64(key, body).encode("ascii"), given)
    if not matched:
        raise SignatureError(f"the {platform} signature does not match the body")


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or :class:`PayloadError` (400) saying what is wrong."""
    try:
        value = load_json(body)
    except OutOfBounds as exc:
        raise PayloadError(f"the body is refused: {exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise PayloadError("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise Unprocessable("the body must be a JSON object")
    return value


def body_hash(body: bytes) -> str:
    """SHA-256 of the raw body, hex: part of a dedupe key where an id alone is not unique."""
    return hashlib.sha256(body).hexdigest()


def as_id(value: Any, what: str) -> str:
    """A platform id (number or non-empty string) as text, or :class:`Unprocessable`."""
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value).strip() == "":
        raise Unprocessable(f"{what} must be a number or a non-empty string")
    return str(value).strip()[:100]


def money(value: Any, what: str) -> float:
    """A money amount (platforms send decimal strings such as ``"59.99"``) as a float."""
    if isinstance(value, bool) or value is None:
        raise Unprocessable(f"{what} must be a decimal amount")
    try:
        amount = float(value)
    except (TypeError, ValueError):
        raise Unprocessable(f"{what} must be a decimal amount, got {str(value)[:40]!r}") from None
    if not math.isfinite(amount) or abs(amount) > MAX_AMOUNT:
        raise Unprocessable(f"{what} must be a finite amount of at most {MAX_AMOUNT:,}")
    return round(amount, 2)


def moment(value: Any, what: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 time (with offset, or UTC when ``naive_is_utc``) as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise Unprocessable(f"{what} must be an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unprocessable(f"{what} {value[:40]!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            raise Unprocessable(f"{what} {value[:40]!r} has no time zone")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    """The stored form of a time: UTC, milliseconds, as the event log keeps ``occurred_at``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def email_of(*candidates: Any) -> str | None:
    """The first candidate that looks like an email, trimmed and lower-cased."""
    for value in candidates:
        if isinstance(value, str) and "@" in value:
            return value.strip().lower()[:254]
    return None


def obj(value: Any, what: str) -> dict[str, Any]:
    """``value`` when it is a JSON object (or missing: ``{}``), else :class:`Unprocessable`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unprocessable(f"{what} must be a JSON object")
    return value


def out_of_window(sent: datetime, now: datetime, max_age_seconds: int, platform: str) -> None:
    """Refuse a delivery whose platform timestamp is older than the tolerance (a replay), or
    later than now by more than ``CLOCK_SKEW_SECONDS`` (a forged or misdated one: a delivery
    dated in 2099 would otherwise pass every age check until then)."""
    age = (now - sent).total_seconds()
    if age < -CLOCK_SKEW_SECONDS:
        raise PayloadError(
            f"the {platform} delivery is dated {int(-age)} s in the future, over the "
            f"{CLOCK_SKEW_SECONDS} s allowed for clock skew; check the sender's clock"
        )
    if age > max_age_seconds:
        raise PayloadError(
            f"the {platform} delivery is {int(age)} s old, over the {max_age_seconds} s tolerance "
            "(L2L_WEBHOOK_MAX_AGE_SECONDS)"
        )


def event_row(
    *,
    source: str,
    delivery_id: str,
    name: str,
    occurred_at: datetime,
    email: str | None,
    properties: dict[str, Any],
    anonymous_id: str | None = None,
) -> dict[str, Any]:
    """One row of the event log, shaped like ``connector.events.generic.normalise_message``'s."""
    return {
        "source": source,
        "delivery_id": delivery_id[:200],
        "type": "track",
        "name": name,
        "occurred_at": iso(occurred_at),
        "email": email,
        "contact_id": None,
        "lead_id": None,
        "anonymous_id": anonymous_id,
        "properties": json.dumps(properties, sort_keys=True, default=str),
    }


def decoded_body(headers: Mapping[str, str], body: bytes, max_bytes: int) -> bytes:
    """The body, gunzipped when ``Content-Encoding: gzip``, never more than ``max_bytes``
    (a small gzip body can inflate to gigabytes: it is inflated in bounded steps)."""
    if len(body) > max_bytes:
        raise TooLarge(f"the body is over {max_bytes} bytes (L2L_WEBHOOK_MAX_BYTES)")
    encoding = header(headers, "Content-Encoding").lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise PayloadError(f"Content-Encoding {encoding[:20]!r} is not supported; send gzip")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
        if len(out) > max_bytes or inflater.unconsumed_tail:
            raise TooLarge(f"the body inflates to over {max_bytes} bytes (L2L_WEBHOOK_MAX_BYTES)")
        out += inflater.flush()
    except zlib.error:
        raise PayloadError("the body is not valid gzip") from None
    if not inflater.eof:
        raise PayloadError("the gzip body is truncated")
    if len(out) > max_bytes:
        raise TooLarge(f"the body inflates to over {max_bytes} bytes (L2L_WEBHOOK_MAX_BYTES)")
    return out

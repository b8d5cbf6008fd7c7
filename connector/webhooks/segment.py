"""The generic events API: ``POST /v1/batch``, ``/v1/track``, ``/v1/identify``, ``/v1/page``.

It speaks Segment's HTTP Tracking API (Segment docs, "HTTP API Source",
https://www.twilio.com/docs/segment/connections/sources/catalog/libraries/server/http-api),
which RudderStack's HTTP API also follows, so their server libraries work with only their host
changed:

- The write key is the HTTP Basic username with an empty password; the official Python client
  (segment-analytics-python) also puts ``writeKey`` in the body, which is accepted too.
- ``/v1/batch`` takes ``{"batch": [messages], "sentAt", "context"}``; the single-message
  endpoints take one message, its type given by the path. Bodies may be gzip-encoded.
- Limits: 500 KB a batch and 32 KB a message; a message over 32 KB is rejected on its own. A
  body that is not JSON, or not shaped as above, is a 400 (as Segment answers); a message that
  cannot be stored (no messageId, no identity, no timestamp) is counted as rejected and said in
  the answer, while the rest of the batch is stored.
- Messages are deduplicated on ``messageId`` (Segment deduplicates the same way).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any

from connector.errors import PayloadError, SignatureError
from connector.webhooks.base import (
    Delivery,
    Normalised,
    body_hash,
    header,
    json_object,
    stored_headers,
)

SOURCE = "api"
KINDS = ("batch", "track", "identify", "page")
MAX_MESSAGE_BYTES = 32_000


def _basic_username(headers: Mapping[str, str]) -> str | None:
    value = header(headers, "Authorization")
    if not value.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0]


def _known(key: str | None, write_keys: Sequence[str]) -> bool:
    if not key:
        return False
    matched = False
    for candidate in write_keys:
        matched |= hmac.compare_digest(candidate.encode("utf-8"), key.encode("utf-8", "replace"))
    return matched


def receive(
    kind: str, headers: Mapping[str, str], body: bytes, write_keys: Sequence[str]
) -> tuple[Delivery, Normalised]:
    """Authenticate and check one events API request (``body`` already gunzipped).

    Returns the delivery to store and its normalised form (for the answer's counts).
    """
    keys = [k for k in write_keys if k]
    if not keys:
        raise SignatureError("no events API write key is configured on this server")
    by_header = _basic_username(headers)
    payload = json_object(body)
    by_body = payload.get("writeKey") if isinstance(payload.get("writeKey"), str) else None
    if not (_known(by_header, keys) or (by_header is None and _known(by_body, keys))):
        raise SignatureError(
            "the write key is missing or unknown: send it as the HTTP Basic username"
        )
    if kind not in KINDS:
        raise PayloadError(f"unknown endpoint /v1/{kind[:20]}")
    stored = dict(payload)
    stored.pop("writeKey", None)  # a credential: never stored
    raw = json.dumps(stored, sort_keys=True, separators=(",", ":")).encode("utf-8")
    delivery = Delivery(
        source=SOURCE,
        key=body_hash(raw),
        topic=kind,
        shop="",
        headers=stored_headers(headers, keys),
        body=raw,
    )
    normalised = normalise(delivery)
    if not normalised.events:
        problems = "; ".join(normalised.rejected[:3]) or "the batch is empty"
        raise PayloadError(f"no message could be stored: {problems}")
    return delivery, normalised


def _messages(kind: str, payload: dict[str, Any]) -> list[Any]:
    if kind != "batch":
        return [{**payload, "type": kind}]
    batch = payload.get("batch")
    if not isinstance(batch, list):
        raise PayloadError('a batch body must be {"batch": [messages]}')
    context = payload.get("context")
    if isinstance(context, dict):  # batch-level context applies to messages without their own
        batch = [
            {"context": context, **m} if isinstance(m, dict) and "context" not in m else m
            for m in batch
        ]
    return batch


def normalise(delivery: Delivery) -> Normalised:
    """Each message of a stored events API delivery as an event row (or a rejection)."""
    # Imported here: the events package loads the store (and pandas), which the web process
    # need not load before its first request.
    from connector.events.generic import EventProblem, normalise_message

    payload = json_object(delivery.body)
    out = Normalised()
    for index, message in enumerate(_messages(delivery.topic, payload)):
        where = f"message {index}" if delivery.topic == "batch" else "the message"
        if len(json.dumps(message, default=str)) > MAX_MESSAGE_BYTES:
            out.rejected.append(f"{where}: over {MAX_MESSAGE_BYTES} bytes")
            continue
        try:
            out.events.append(normalise_message(message, SOURCE))
        except EventProblem as exc:
            out.rejected.append(f"{where}: {exc}")
    return out

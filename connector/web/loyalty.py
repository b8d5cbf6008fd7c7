"""The loyalty API a storefront calls: a member's standing, redemptions, partner accruals.

Endpoints (all JSON, under ``/v1/loyalty``; ``<id>`` is a Contact Id, a member key such as
``Contact:003...`` or a Contact's email):

- ``GET  /members/<id>``: balance, tier, spendable points, lots, vouchers and the journal;
- ``POST /members/<id>/redemptions``: ``{"points": N}`` or ``{"voucher": "<voucher id>"}``;
- ``POST /members/<id>/redemptions/<key>/cancel``: the points come back with their expiry;
- ``POST /members/<id>/accruals``: ``{"points", "partner", "brand"?, "reason"?}`` (partners);
- ``POST /members/<id>/adjustments``: ``{"points": +/-N, "reason"}`` (a support desk);
- ``POST /vouchers/<code>/use``: consume one use of a voucher code (no body).

Rules:

1. Every request carries ``Authorization: Bearer <token>`` with one of the tokens in
   ``L2L_LOYALTY_API_TOKENS`` (compared in constant time, connector/api_tokens.py);
   without it the answer is 401 with ``WWW-Authenticate: Bearer`` (RFC 6750, section 3). With
   no token configured the API is off: 503 for every request. A token is never logged nor
   echoed; the journal names it by its name.
1a. Each endpoint needs a scope of the token: ``read`` (GET member), ``redeem`` (redemptions,
   cancellations, voucher uses), ``accrue`` (accruals), ``adjust`` (adjustments). A token
   without it gets 403 ``insufficient_scope`` (RFC 6750, section 3.1); a partner token
   accruing for another partner 403 ``wrong_partner``; an accrual over the program's
   ``api_caps`` (per request, per token and day) 403 ``accrual_cap``.
2. A POST that books points needs an ``Idempotency-Key`` header (400 without it). The same key
   again does nothing more and answers with the first outcome (200, ``"repeated": true``); the
   same key with a different request is refused (422), as the IETF draft "The Idempotency-Key
   HTTP Header Field" (draft-ietf-httpapi-idempotency-key-header) describes.
3. Errors are ``{"error": {"code", "message"}}`` with the status of what went wrong: 400 bad
   input, 404 unknown member/redemption/voucher, 409 not enough points or an ambiguous email,
   422 a reused key, 503 the API off or the database held by another writer past the store's
   busy timeout (``Retry-After``; nothing was written). Bad input never produces a 500.
4. Each request opens the database itself: a redemption reads, decides and appends inside one
   write-locked transaction, so concurrent requests (any number of gunicorn workers) for the
   same member never overdraw.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from connector.api_tokens import ApiToken, bearer, parse_tokens
from connector.bounds import OutOfBounds, load_json
from connector.config import Settings
from connector.errors import Busy, MappingError
from connector.loyalty.operations import LoyaltyError
from connector.loyalty.wiring import open_service

log = logging.getLogger(__name__)

bp = Blueprint("loyalty", __name__, url_prefix="/v1/loyalty")

# Visible ASCII, no spaces: the key becomes part of the journal's idempotency key.
_KEY = re.compile(r"^[!-~]{1,200}$")
_MAX_BODY = 64 * 1024
_MAX_POINTS = 10**12  # far above any real request; keeps SQLite's 64-bit integers safe


def _error(status: int, code: str, message: str) -> Response:
    # The app's one error shape (connector/web/errors.py): {"code", "message"}.
    response = jsonify({"code": code, "message": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="lead2loyalty loyalty"'
    return response


def _settings() -> Settings:
    settings: Settings = current_app.config["L2L_SETTINGS"]
    return settings


def _now() -> datetime:
    # Tests fix the clock through the app's config (time is the one thing they mock).
    clock: Callable[[], datetime] | None = current_app.config.get("L2L_CLOCK")
    return clock() if clock is not None else datetime.now(UTC)


def _token() -> ApiToken:
    token: ApiToken = g.loyalty_token
    return token


def _require(scope: str) -> ApiToken:
    """The request's token, when it holds ``scope`` (else 403, RFC 6750 section 3.1)."""
    token = _token()
    if not token.allows(scope):
        raise LoyaltyError(
            f"token {token.name} lacks the {scope} scope this request needs",
            code="insufficient_scope",
            status=403,
        )
    return token


@bp.before_request
def _authenticate() -> ResponseReturnValue | None:
    # Validated when the settings were loaded, so this parse cannot fail.
    tokens = parse_tokens(_settings().loyalty_api_tokens.get_secret_value())
    if not tokens:
        return _error(
            503,
            "loyalty_api_disabled",
            "the loyalty API is off: set L2L_LOYALTY_API_TOKENS to one or more bearer tokens",
        )
    matched, why = bearer(tokens, request.headers.get("Authorization", ""))
    if matched is None:
        return _error(401, "unauthorized", why)
    g.loyalty_token = matched
    if (request.content_length or 0) > _MAX_BODY:
        return _error(413, "too_large", f"the body may be at most {_MAX_BODY} bytes")
    return None


@bp.errorhandler(LoyaltyError)
def _loyalty_error(exc: LoyaltyError) -> ResponseReturnValue:
    response = _error(exc.status, exc.code, str(exc))
    if exc.code == "insufficient_scope":
        response.headers["WWW-Authenticate"] = 'Bearer error="insufficient_scope"'
    return response


@bp.errorhandler(MappingError)
def _config_error(exc: MappingError) -> ResponseReturnValue:
    log.error("models/loyalty.yaml is invalid: %s", exc)
    return _error(
        503,
        "loyalty_config_invalid",
        "the loyalty programs cannot be loaded; run `lead2loyalty validate --offline`",
    )


@bp.errorhandler(Busy)
def _busy(exc: Busy) -> ResponseReturnValue:
    # Another writer (a sync booking a large batch) held the database longer than the store's
    # busy timeout: nothing was written, the client may retry.
    log.warning("loyalty API: database busy, answered 503")
    response = _error(503, "busy", "the loyalty books are busy; retry in a few seconds")
    response.headers["Retry-After"] = "5"
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    code = (exc.name or "error").lower().replace(" ", "_")
    return _error(exc.code or 500, code, exc.description or "")


def _body() -> dict[str, Any]:
    # Read at most one byte past the limit: a chunked body has no Content-Length to check.
    raw = request.stream.read(_MAX_BODY + 1)
    if len(raw) > _MAX_BODY:
        raise LoyaltyError(
            f"the body may be at most {_MAX_BODY} bytes", code="too_large", status=413
        )
    try:
        body = load_json(raw)
    except OutOfBounds as exc:  # nested too deep, a number past 64 bits, NaN
        raise LoyaltyError(f"the body is refused: {exc}", code="invalid_body") from None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise LoyaltyError("the body must be a JSON object", code="invalid_body")
    return body


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise LoyaltyError(
            "send an Idempotency-Key header (a unique id per request, e.g. a UUID)",
            code="idempotency_key_missing",
        )
    if not _KEY.match(key):
        raise LoyaltyError(
            "the Idempotency-Key must be 1-200 visible ASCII characters without spaces",
            code="invalid_idempotency_key",
        )
    return key


def _points(body: dict[str, Any], name: str = "points") -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_POINTS:
        raise LoyaltyError(f"{name} must be a positive whole number", code="invalid_points")
    return value


def _text(body: dict[str, Any], name: str, *, required: bool, limit: int = 200) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise LoyaltyError(f"{name} must be a text of 1-{limit} characters", code=f"invalid_{name}")
    return value.strip()


def _program() -> str | None:
    return request.args.get("program") or None


@bp.get("/members/<member_id>")
def member(member_id: str) -> ResponseReturnValue:
    """The member's standing and journal."""
    _require("read")
    with open_service(_settings(), _now) as service:
        return jsonify(service.member(service.member_key(member_id), _program()))


@bp.post("/members/<member_id>/redemptions")
def redeem(member_id: str) -> ResponseReturnValue:
    """Spend points, or a voucher's cost in points (the voucher and its code come back)."""
    _require("redeem")
    key = _idempotency_key()
    body = _body()
    unknown = set(body) - {"points", "voucher"}
    if unknown or ("points" in body) == ("voucher" in body):
        raise LoyaltyError('send exactly one of {"points": N} or {"voucher": "<voucher id>"}')
    points = _points(body) if "points" in body else None
    voucher = _text(body, "voucher", required=True, limit=40) if "voucher" in body else None
    with open_service(_settings(), _now) as service:
        out = service.redeem(
            service.member_key(member_id),
            key,
            points=points,
            voucher_id=voucher,
            program_id=_program(),
        )
    return jsonify(out), 200 if out["repeated"] else 201


@bp.post("/members/<member_id>/redemptions/<key>/cancel")
def cancel(member_id: str, key: str) -> ResponseReturnValue:
    """Cancel a redemption; its points come back with their original expiry."""
    _require("redeem")
    with open_service(_settings(), _now) as service:
        return jsonify(service.cancel(service.member_key(member_id), key, _program()))


@bp.post("/members/<member_id>/accruals")
def accrue(member_id: str) -> ResponseReturnValue:
    """Points a partner issues; the partner's settlement report counts them."""
    token = _require("accrue")
    key = _idempotency_key()
    body = _body()
    unknown = set(body) - {"points", "partner", "brand", "reason"}
    if unknown:
        raise LoyaltyError(f"unknown fields: {', '.join(sorted(unknown))}")
    points = _points(body)
    partner = _text(body, "partner", required=True, limit=80)
    brand = _text(body, "brand", required=False, limit=80)
    reason = _text(body, "reason", required=False, limit=500) or ""
    assert partner is not None
    if token.partner is not None and partner != token.partner:
        raise LoyaltyError(
            f"token {token.name} accrues for partner {token.partner} only",
            code="wrong_partner",
            status=403,
        )
    with open_service(_settings(), _now) as service:
        out = service.partner_accrual(
            service.member_key(member_id),
            points,
            partner,
            key,
            brand=brand,
            reason=reason,
            program_id=_program(),
            token=token.name,
        )
    return jsonify(out), 200 if out["repeated"] else 201


@bp.post("/members/<member_id>/adjustments")
def adjustment(member_id: str) -> ResponseReturnValue:
    """Add (or, negative, take) points with a reason, as a support desk does."""
    token = _require("adjust")
    key = _idempotency_key()
    body = _body()
    unknown = set(body) - {"points", "reason"}
    if unknown:
        raise LoyaltyError(f"unknown fields: {', '.join(sorted(unknown))}")
    value = body.get("points")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < abs(value) <= _MAX_POINTS:
        raise LoyaltyError("points must be a non-zero whole number", code="invalid_points")
    reason = _text(body, "reason", required=True, limit=500)
    assert reason is not None
    with open_service(_settings(), _now) as service:
        out = service.adjust(
            service.member_key(member_id), value, reason, key, _program(), token=token.name
        )
    return jsonify(out), 200 if out["repeated"] else 201


@bp.post("/vouchers/<code>/use")
def use_voucher(code: str) -> ResponseReturnValue:
    """Consume one use of a voucher code: 409 when used up or expired, 404 unknown."""
    _require("redeem")
    key = _idempotency_key()
    if len(code) > 80:
        raise LoyaltyError("no voucher with that code", code="not_found", status=404)
    with open_service(_settings(), _now) as service:
        out = service.use_voucher(code, key)
    return jsonify(out), 200

"""JSON errors for every surface: ``{"code": ..., "message": ...}`` and the right status.

The code/message shape is what Segment's HTTP API answers (and what its client reads), so one
shape serves webhooks and the events API. A message never embeds a secret or the request body.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from connector.errors import PayloadError, SignatureError, TooLarge, Unprocessable, WebhookError

log = logging.getLogger(__name__)


def status_of(exc: WebhookError) -> tuple[int, str]:
    """(HTTP status, code) of a refused delivery: the code is also the rejection's reason."""
    if isinstance(exc, SignatureError):
        return 401, "bad_signature"
    if isinstance(exc, TooLarge):
        return 413, "too_large"
    if isinstance(exc, Unprocessable):
        return 422, "wrong_types"
    if isinstance(exc, PayloadError):
        return 400, "malformed"
    return 400, "refused"


def error(status: int, code: str, message: str) -> ResponseReturnValue:
    """A JSON error response."""
    return jsonify({"code": code, "message": message}), status


def register(app: Flask) -> None:
    """Install the JSON error handlers on ``app``."""

    @app.errorhandler(WebhookError)
    def webhook_error(exc: WebhookError) -> ResponseReturnValue:
        status, code = status_of(exc)
        return error(status, code, str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        code = (exc.name or "error").lower().replace(" ", "_")
        return error(exc.code or 500, code, exc.description or exc.name or "error")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        # A bug, not bad input: logged with its traceback (secrets masked by the log filter).
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error(500, "internal_error", "the server failed; the delivery was not stored")

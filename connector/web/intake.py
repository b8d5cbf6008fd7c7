"""What the webhook and events blueprints share: the process's store and the body reader."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import Response, current_app, request

from connector.config import Settings
from connector.webhooks.base import decoded_body

if TYPE_CHECKING:
    from connector.store import Store


def settings() -> Settings:
    """The app's settings."""
    value: Settings = current_app.config["L2L_SETTINGS"]
    return value


def store() -> Store:
    """This worker process's store (opened on first use after the fork: a SQLite connection
    must not cross a fork)."""
    cached = current_app.extensions.get("l2l_store")
    if cached is None or cached[0] != os.getpid():
        # Imported here: the store brings pandas, which a worker need not load to boot and
        # answer /healthz (gunicorn boots each worker after the fork).
        from connector.store import open_shared

        opened = open_shared(settings().store_location)
        # WAL + NORMAL: a committed delivery survives any crash of this process (the platform
        # got its 2xx and will not resend it). L2L_WEBHOOK_FSYNC adds an fsync per delivery, so
        # it survives power loss too, at the cost bench/webhooks.py measures.
        opened.fsync_every_commit(settings().webhook_fsync)
        cached = (os.getpid(), opened)
        current_app.extensions["l2l_store"] = cached
        _redacting_log()
    return cached[1]  # type: ignore[no-any-return]


def _redacting_log() -> None:
    """Route the connector's log records through a handler that masks every configured secret
    (the CLI does the same in ``_setup_logging``; gunicorn configures only its own loggers)."""
    from connector.logs import RedactSecrets

    logger = logging.getLogger("connector")
    if not any(isinstance(f, RedactSecrets) for h in logger.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactSecrets.from_settings(settings()))
        logger.addHandler(handler)  # root has no handler under gunicorn: nothing else prints


def enqueue(source: str, key: str) -> None:
    """On PostgreSQL, defer the stored delivery's job (``connector.store.queue``). The
    delivery is already committed: if the defer fails it stays ``stored`` and the workers'
    sweep defers it, so the 2xx still stands and nothing acknowledged is lost."""
    url = settings().database_url.get_secret_value()
    if not url:
        return  # SQLite: the worker polls the deliveries table
    from connector.store import queue

    try:
        queue.defer_delivery(queue.shared_app(url), source, key)
    except Exception as exc:  # any failure here is the sweep's to repair
        logging.getLogger(__name__).warning(
            "delivery stored, its job not deferred (the sweep will): %s", type(exc).__name__
        )


def headers() -> dict[str, str]:
    """The request's headers as a plain dictionary."""
    return {key: value for key, value in request.headers.items()}


def body(headers: dict[str, str]) -> bytes:
    """The request body, gunzipped and size-checked (413 over ``L2L_WEBHOOK_MAX_BYTES``)."""
    raw = request.get_data(cache=False)
    return decoded_body(headers, raw, settings().webhook_max_bytes)


def answer(payload: bytes, status: int = 200) -> Response:
    """A JSON response from bytes serialised once (the acknowledgements are constants)."""
    return Response(payload, status=status, mimetype="application/json")


def now() -> datetime:
    """The current time (aware, UTC)."""
    return datetime.now(UTC)

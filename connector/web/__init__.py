"""The web process: a Flask app factory with one blueprint per surface.

Run under gunicorn (see the Procfile): ``gunicorn 'connector.web:create_app()'``, or
``lead2loyalty web``. The web process verifies, stores and acknowledges; it never calls
Salesforce (the ``worker`` process does).
"""

from __future__ import annotations

import gc

from flask import Flask

from connector.config import Settings, load_settings
from connector.web import admin, errors, events_api, health, openapi, orders_api, webhooks
from connector.web.loyalty import bp as loyalty_bp


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app for ``settings`` (loaded from the environment when omitted)."""
    app = Flask("lead2loyalty")
    app.config["L2L_SETTINGS"] = settings or load_settings()
    # Werkzeug refuses a longer body with 413 before it is read.
    app.config["MAX_CONTENT_LENGTH"] = app.config["L2L_SETTINGS"].webhook_max_bytes
    app.register_blueprint(health.bp)
    app.register_blueprint(loyalty_bp)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(events_api.bp)
    app.register_blueprint(orders_api.bp)
    app.register_blueprint(openapi.bp)
    admin.register(app)
    errors.register(app)
    collect_less()
    return app


#: The cyclic garbage collector's first-generation threshold in a web process (CPython's
#: default is 700 allocations; the older generations' 10 and 10 become 50 and 100).
GC_THRESHOLD = (20_000, 50, 100)


def collect_less() -> None:
    """Run the cyclic garbage collector less often in this process (never more often than
    CPython's default). An admin page or a preview builds many short-lived pandas objects, and a
    full collection walks every object the process holds: on the medium seed (bench/admin.py,
    load average 0.9) one in 20 requests of a 9 ms page waited 270 ms for one, and the loyalty
    and intent previews' p95 were 340 and 406 ms (CPU 219 and 206 ms); at these thresholds
    every page's p95 was 74 ms at most, the previews' 256 and 234 ms (CPU 176 and 146 ms).
    Nothing here holds reference cycles the collector must free promptly: reference counting
    frees the rest at once."""
    current = gc.get_threshold()
    gc.set_threshold(*(max(a, b) for a, b in zip(current, GC_THRESHOLD, strict=True)))

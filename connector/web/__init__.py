"""The web process: a Flask app factory with one blueprint per surface.

Run under gunicorn (see the Procfile): ``gunicorn 'connector.web:create_app()'``, or
``lead2loyalty web``. The web process verifies, stores and acknowledges; it never calls
Salesforce (the ``worker`` process does).
"""

from __future__ import annotations

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
    return app

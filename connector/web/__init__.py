"""The web process: a Flask app factory with one blueprint per surface.

Run under gunicorn (see the Procfile): ``gunicorn 'connector.web:create_app()'``.
"""

from __future__ import annotations

from flask import Flask

from connector.config import Settings, load_settings
from connector.web import health
from connector.web.loyalty import bp as loyalty_bp


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app for ``settings`` (loaded from the environment when omitted)."""
    app = Flask("lead2loyalty")
    app.config["L2L_SETTINGS"] = settings or load_settings()
    app.register_blueprint(health.bp)
    app.register_blueprint(loyalty_bp)
    return app

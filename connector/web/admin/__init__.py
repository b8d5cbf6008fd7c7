"""The admin page: ``/admin`` (and ``/`` sends there), server-rendered HTML that works
without JavaScript.

Rules every page keeps:

1. No admin account configured (``L2L_ADMIN_USERS`` and ``L2L_ADMIN_SALESFORCE_USERS`` empty)
   -> every page answers 503 and says
   how to make one; nothing else is served.
2. Signed out -> a redirect to the sign-in form (back to the page asked for after it).
3. Every POST carries the form's CSRF token (Flask-WTF's signed, time-limited token, checked
   before any view runs); a POST without it is refused with 400 and does nothing.
4. The session cookie is ``Secure`` (``L2L_ADMIN_COOKIE_SECURE``), ``HttpOnly`` and
   ``SameSite=Lax``; pages are ``no-store`` and may not be framed.
5. No setting that is a secret is ever rendered, masked or not.

Accounts come from settings (``L2L_ADMIN_USERS``), or are the org's own Salesforce users listed
in ``L2L_ADMIN_SALESFORCE_USERS`` (the OAuth web server flow with PKCE: :mod:`.auth`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import Flask, redirect, url_for

from connector.config import Settings
from connector.web.admin import auth, events, kpi, loyalty, mappings, runs, scores
from connector.web.admin.blueprint import bp

__all__ = [
    "auth",
    "bp",
    "events",
    "kpi",
    "loyalty",
    "mappings",
    "register",
    "runs",
    "scores",
    "session_key",
]


def register(app: Flask) -> None:
    """Install the admin blueprint, its session settings and ``/`` -> ``/admin``."""
    settings: Settings = app.config["L2L_SETTINGS"]
    app.secret_key = session_key(settings)
    app.config.update(
        SESSION_COOKIE_NAME="l2l_admin",
        SESSION_COOKIE_SECURE=settings.admin_cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=8 * 3600,
    )
    app.register_blueprint(bp)
    app.add_url_rule("/", "root", lambda: redirect(url_for("admin.home")))


def session_key(settings: Settings) -> str:
    """The key that signs sessions and CSRF tokens: ``L2L_ADMIN_SESSION_KEY``, else one
    derived from ``L2L_ADMIN_USERS`` (the same in every worker; changing a password signs
    everyone out), else a random one (no admin: nothing to sign)."""
    explicit = settings.admin_session_key.get_secret_value()
    if explicit:
        return explicit
    users = settings.admin_users.get_secret_value()
    if not users and settings.admin_salesforce_users:
        # Salesforce sign-in only: the connected app's secret, which every worker has.
        users = (
            settings.admin_salesforce_users + settings.salesforce_client_secret.get_secret_value()
        )
    if users:
        return hmac.new(b"lead2loyalty admin session", users.encode(), hashlib.sha256).hexdigest()
    return secrets.token_hex(32)

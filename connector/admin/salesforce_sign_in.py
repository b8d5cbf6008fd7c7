"""An admin's sign-in with the org's Salesforce login, from the connector's settings.

The web page (``connector.web.admin.auth``) never talks to Salesforce itself: the web layer
imports neither ``salesforce`` nor ``sync`` (tests/test_boundaries.py), as the admin page's other
actions that reach Salesforce (the preview, sync now) go through ``connector.admin``. This module
turns the settings into the web server flow's parameters (``connector.salesforce.web_login``:
the login URL, the connected app's client id and secret, the CA bundle), so the page hands over
only what the browser brought back.
"""

from __future__ import annotations

from connector.config import Settings
from connector.salesforce.web_login import SalesforceUser, Started, WebLoginError, authorize_url
from connector.salesforce.web_login import finish as _finish

__all__ = ["SalesforceUser", "Started", "WebLoginError", "finish", "start"]


def start(settings: Settings, redirect_uri: str) -> Started:
    """The org's authorize URL for this connector's connected app, with a fresh state, nonce
    and PKCE verifier (kept in the admin's session until the callback)."""
    return authorize_url(settings.salesforce_login_url, settings.salesforce_client_id, redirect_uri)


def finish(
    settings: Settings, *, redirect_uri: str, code: str, verifier: str, nonce: str
) -> SalesforceUser:
    """The user the org signed in, from the code the browser brought back; raises
    :class:`WebLoginError` (no secret in its message) when the org refuses it."""
    return _finish(
        login_url=settings.salesforce_login_url,
        client_id=settings.salesforce_client_id,
        client_secret=settings.salesforce_client_secret.get_secret_value(),
        redirect_uri=redirect_uri,
        code=code,
        verifier=verifier,
        nonce=nonce,
        ca_bundle=settings.salesforce_ca_bundle,
    )

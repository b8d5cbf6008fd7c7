"""The OAuth 2.0 web server flow (authorization code, with PKCE), as Salesforce serves it.

A browser is sent to ``GET /services/oauth2/authorize``; the user logs in on the page it gets;
the org sends the browser back to the app's callback with a code; the app trades the code for
an access token at ``POST /services/oauth2/token`` (``grant_type=authorization_code``, in
:func:`token_for_code`) and asks ``/services/oauth2/userinfo`` who signed in.

The rules, each with the page it follows:

1. ``response_type`` must be ``code``, ``client_id`` the connected app's consumer key and
   ``redirect_uri`` one of the connected app's Callback URLs, exactly (Salesforce Help, "OAuth
   2.0 Web Server Flow for Web App Integration": "redirect_uri: The URL of the connected app's
   callback"; REST API Developer Guide, "Understanding the Web Server OAuth Authentication
   Flow": "redirect_uri: The Callback URL from the connected app definition"). A bad client or
   callback is shown on the page, never redirected to (RFC 6749 section 4.1.2.1: the
   authorization server must not redirect to an unverified URI).
2. ``state`` comes back on the callback exactly as sent; ``nonce`` (with the ``openid`` scope)
   comes back inside the ID token (OpenID Connect Core 1.0, 3.1.2.1 and 3.1.3.6).
3. The code is single use and lives 15 minutes (Salesforce Help, web server flow: "the
   authorization code ... expires after 15 minutes"; RFC 6749 4.1.2: "The client MUST NOT use
   the authorization code more than once"). The token request must name the same client (with
   its secret) and the same ``redirect_uri`` (RFC 6749 4.1.3).
4. PKCE (Salesforce Help, "Proof Key for Code Exchange (PKCE) Extension"; REST API Developer
   Guide, web server flow, ``code_challenge``): the challenge is the base64url SHA-256 of the
   verifier (RFC 7636 4.2, ``S256``). A challenge given at authorize and no verifier at the
   token request fails with ``invalid_grant``; a verifier that does not match fails with
   ``invalid_request``.
5. Who may log in here: the API user (``OrgConfig.password``) and the org administrator
   (``OrgConfig.admin_password``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Blueprint, Response, request

from localorg.access import ADMIN_USERNAME
from localorg.http import current_org
from localorg.org import LocalOrg

bp = Blueprint("web_login", __name__)

#: Rule 3: seconds a code lives.
CODE_SECONDS = 15 * 60
_LOCK = threading.Lock()
_KEYS: dict[int, Any] = {}


@dataclass(frozen=True)
class Code:
    """What an authorization code was issued for."""

    client_id: str
    redirect_uri: str
    user_id: str
    challenge: str
    nonce: str
    scope: str
    issued: float


_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


def _page(body: str, status: int = 200) -> Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Log in to localorg</title></head><body><main>" + body + "</main></body></html>"
    )
    return Response(html, status=status, mimetype="text/html")


def _client_problem(org: LocalOrg, values: Any) -> str | None:
    """Rule 1's checks that are shown on the page, not redirected."""
    if values.get("client_id", "") != org.config.client_id:
        return "error=invalid_client_id: client identifier invalid"
    if values.get("redirect_uri", "") not in org.config.callback_urls:
        return "error=redirect_uri_mismatch: redirect_uri must match configuration"
    return None


def _back(values: Any, **params: str) -> Response:
    query = {**params, **({"state": values["state"]} if values.get("state") else {})}
    answer = Response(status=302)
    answer.headers["Location"] = f"{values['redirect_uri']}?{urlencode(query)}"
    return answer


@bp.route("/services/oauth2/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    """The login page (GET) and its answer (POST): rules 1, 2, 5."""
    org = current_org()
    values = request.values
    problem = _client_problem(org, values)
    if problem:
        return _page(f"<h1>Remote access authorization error</h1><p>{escape(problem)}</p>", 400)
    if values.get("response_type") != "code":
        return _back(values, error="unsupported_response_type", error_description="code only")
    if values.get("code_challenge") and values.get("code_challenge_method", "S256") != "S256":
        return _back(values, error="invalid_request", error_description="S256 only")
    error = ""
    if request.method == "POST":
        user_id = _check_login(org, values.get("username", ""), values.get("password", ""))
        if user_id is not None:
            code = secrets.token_urlsafe(32)
            with _LOCK:
                org.auth_codes[code] = Code(
                    client_id=values["client_id"],
                    redirect_uri=values["redirect_uri"],
                    user_id=user_id,
                    challenge=values.get("code_challenge", ""),
                    nonce=values.get("nonce", ""),
                    scope=values.get("scope", ""),
                    issued=time.monotonic(),
                )
            return _back(values, code=code)
        error = '<p role="alert">Please check your username and password.</p>'
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(values.get(name, ""))}">'
        for name in _PARAMS
        if values.get(name)
    )
    return _page(
        "<h1>Log in to localorg</h1>"
        + error
        + '<form method="post" action="/services/oauth2/authorize">'
        + hidden
        + '<p><label for="username">Username</label> '
        '<input id="username" name="username" autocomplete="username" required></p>'
        '<p><label for="password">Password</label> '
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required></p>'
        '<p><button type="submit">Log In</button></p></form>'
    )


def _check_login(org: LocalOrg, username: str, password: str) -> str | None:
    """Rule 5: the user id behind a good username and password, else None."""
    known = {org.config.username: org.config.password, ADMIN_USERNAME: org.config.admin_password}
    expected = known.get(username)
    if expected is None or not hmac.compare_digest(password.encode(), expected.encode()):
        return None
    rows = org.store.execute(
        'SELECT "Id" FROM "User" WHERE "Username" = ? AND "IsActive" = 1', [username]
    )
    return str(rows[0][0]) if rows else None


def _challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_for_code(org: LocalOrg, form: Any) -> tuple[dict[str, Any] | None, str, str]:
    """Rules 3 and 4 for ``grant_type=authorization_code``: (the code's grant: user id,
    scope, nonce) or (None, OAuth error, description)."""
    if form.get("client_id") != org.config.client_id:
        return None, "invalid_client_id", "client identifier invalid"
    secret = form.get("client_secret", "")
    if not hmac.compare_digest(secret.encode(), org.config.client_secret.encode()):
        return None, "invalid_client", "invalid client credentials"
    with _LOCK:
        code = org.auth_codes.pop(form.get("code", ""), None)  # single use, rule 3
    if code is None or time.monotonic() - code.issued > CODE_SECONDS:
        return None, "invalid_grant", "invalid authorization code"
    if code.client_id != form.get("client_id") or code.redirect_uri != form.get("redirect_uri"):
        return None, "invalid_grant", "redirect_uri mismatch"
    if code.challenge:
        verifier = form.get("code_verifier", "")
        if not verifier:
            return None, "invalid_grant", "code_verifier required"
        if not hmac.compare_digest(_challenge_of(verifier), code.challenge):
            return None, "invalid_request", "invalid code verifier"
    return {"user_id": code.user_id, "scope": code.scope, "nonce": code.nonce}, "", ""


def id_token(org: LocalOrg, user_id: str, nonce: str) -> str:
    """An OpenID Connect ID token for ``user_id`` (RS256, this org's own key): ``iss`` the
    org's URL, ``aud`` the consumer key, ``sub`` the user's identity URL, ``nonce`` as
    sent to authorize."""
    with _LOCK:
        key = _KEYS.get(id(org))
        if key is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _KEYS[id(org)] = key
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": org.instance_url,
        "sub": f"{org.instance_url}/id/00D5g000000LOCALEAS/{user_id}",
        "aud": org.config.client_id,
        "iat": now,
        "exp": now + 300,
    }
    if nonce:
        claims["nonce"] = nonce
    return jwt.encode(claims, key, algorithm="RS256")

"""Signing a person in with their Salesforce login: the OAuth 2.0 web server flow with PKCE.

The admin page (``connector/web/admin/auth.py``) sends the browser to :func:`authorize_url`
and, when Salesforce sends it back with a code, calls :func:`finish`. Here, not in the page,
because only ``connector/salesforce/`` speaks HTTP to Salesforce.

Rules:

1. Each sign-in gets a fresh ``state`` (checked by the page on the callback, against CSRF), a
   fresh ``nonce`` (checked here, inside the ID token: a replayed token of another sign-in is
   refused) and a fresh PKCE verifier whose S256 challenge goes to authorize (RFC 7636; Salesforce
   Help, "Proof Key for Code Exchange (PKCE) Extension").
2. The code is traded at ``{login_url}/services/oauth2/token`` with the consumer key and secret,
   the same ``redirect_uri`` and the verifier (Salesforce Help, "OAuth 2.0 Web Server Flow for
   Web App Integration").
3. The ID token came straight from the token endpoint over TLS, so its issuer is checked by TLS
   (OpenID Connect Core 1.0, 3.1.3.7, item 6); its ``aud`` must be our consumer key, its
   ``nonce`` ours, and it must not be expired.
4. Who signed in is what ``/services/oauth2/userinfo`` says for the access token
   (``preferred_username``, ``user_id``; Salesforce Help, "UserInfo Endpoint"). The tokens are
   then dropped: nothing is kept, logged or shown.
5. Every failure is a :class:`WebLoginError` whose message names what to check, never a token,
   a code, the secret or the answer's body.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import jwt
import requests

from connector.errors import Lead2LoyaltyError

TIMEOUT = (10.0, 30.0)


class WebLoginError(Lead2LoyaltyError):
    """A Salesforce sign-in that did not complete (rule 5)."""


@dataclass(frozen=True)
class Started:
    """One sign-in's secrets, kept by the page until the callback, and where to send the
    browser."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class SalesforceUser:
    """Who signed in."""

    username: str
    user_id: str
    name: str


def challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636 4.2): base64url of its SHA-256,
    without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def authorize_url(login_url: str, client_id: str, redirect_uri: str) -> Started:
    """Rule 1: a fresh state, nonce and verifier, and the authorize URL that carries them."""
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)  # 64 characters of [A-Za-z0-9_-]: RFC 7636 4.1
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    return Started(
        f"{login_url.rstrip('/')}/services/oauth2/authorize?{query}", state, nonce, verifier
    )


def finish(
    *,
    login_url: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    code: str,
    verifier: str,
    nonce: str,
    ca_bundle: Path | None = None,
) -> SalesforceUser:
    """Rules 2-4: trade ``code`` for tokens, check the ID token, ask who it is."""
    verify: bool | str = str(ca_bundle) if ca_bundle else True
    base = login_url.rstrip("/")
    http = requests.Session()
    http.trust_env = False
    try:
        answer = http.post(
            f"{base}/services/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            timeout=TIMEOUT,
            verify=verify,
        )
    except requests.RequestException as exc:
        raise WebLoginError(
            f"Salesforce did not answer the sign-in ({type(exc).__name__}); check "
            "L2L_SALESFORCE_LOGIN_URL and try again"
        ) from None
    if answer.status_code != 200:
        error = _error_code(answer)
        raise WebLoginError(
            f"Salesforce refused the sign-in ({error}); sign in again, and check that "
            "L2L_SALESFORCE_CLIENT_ID's connected app has this site's callback URL"
        )
    tokens = answer.json()
    _check_id_token(tokens.get("id_token"), client_id, nonce)
    try:
        info = http.get(
            f"{base}/services/oauth2/userinfo",
            headers={"Authorization": f"Bearer {tokens.get('access_token', '')}"},
            timeout=TIMEOUT,
            verify=verify,
        )
    except requests.RequestException as exc:
        raise WebLoginError(
            f"Salesforce did not say who signed in ({type(exc).__name__}); try again"
        ) from None
    if info.status_code != 200:
        raise WebLoginError(f"Salesforce did not say who signed in ({_error_code(info)})")
    body = info.json()
    username = str(body.get("preferred_username") or "")
    if not username:
        raise WebLoginError("Salesforce's answer named no username; sign in again")
    return SalesforceUser(username, str(body.get("user_id") or ""), str(body.get("name") or ""))


def _check_id_token(token: object, client_id: str, nonce: str) -> None:
    """Rule 3."""
    if not isinstance(token, str) or not token:
        raise WebLoginError(
            "Salesforce sent no ID token; the connected app must allow the openid scope"
        )
    try:
        claims = jwt.decode(
            token,
            options={"verify_signature": False, "require": ["aud", "exp", "iss", "sub"]},
            audience=client_id,
            algorithms=["RS256"],
        )
    except jwt.PyJWTError as exc:
        raise WebLoginError(f"the ID token was refused ({type(exc).__name__})") from None
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise WebLoginError("the ID token belongs to another sign-in (nonce); sign in again")


def _error_code(answer: requests.Response) -> str:
    """The OAuth error code of an answer (only the code: rule 5), else its HTTP status."""
    try:
        body = answer.json()
    except ValueError:
        body = {}
    code = body.get("error") if isinstance(body, dict) else None
    return (
        str(code) if isinstance(code, str) and code.isidentifier() else f"HTTP {answer.status_code}"
    )

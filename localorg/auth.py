"""The OAuth 2.0 token endpoint: client credentials, JWT bearer, refresh token, password, and the
web server flow's authorization code (its rules in :mod:`localorg.web_login`).

Errors use OAuth's shape (``{"error", "error_description"}`` with HTTP 400), as Salesforce's
token endpoint does, not the REST API's error list.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import jwt
from cryptography import x509
from flask import Blueprint, Response, jsonify, request

from localorg.http import current_org
from localorg.web_login import id_token, token_for_code

bp = Blueprint("oauth", __name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


@bp.post("/services/oauth2/token")
def token() -> Response:
    """Exchange credentials for an access token."""
    org = current_org()
    form = request.form
    grant = form.get("grant_type", "")
    cfg = org.config
    if grant == "client_credentials":
        if form.get("client_id") == cfg.admin_client_id:
            # The admin's connected app runs as the org's administrator (localorg only).
            if not _same(form.get("client_secret", ""), cfg.admin_client_secret):
                return _oauth_error("invalid_client", "invalid client credentials")
            return _grant(refresh=False, user_id=org.admin_user_id)
        if form.get("client_id") != cfg.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if not _same(form.get("client_secret", ""), cfg.client_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        return _grant(refresh=False)
    if grant == "password":
        if form.get("client_id") != cfg.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if not _same(form.get("client_secret", ""), cfg.client_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        if form.get("username") != cfg.username or not _same(
            form.get("password", ""), cfg.password
        ):
            return _oauth_error("invalid_grant", "authentication failure")
        return _grant(refresh=True)
    if grant == "refresh_token":
        if form.get("client_id") != cfg.client_id:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if "client_secret" in form and not _same(form["client_secret"], cfg.client_secret):
            return _oauth_error("invalid_client", "invalid client credentials")
        if not org.refresh_token_valid(form.get("refresh_token", "")):
            return _oauth_error("invalid_grant", "expired access/refresh token")
        return _grant(refresh=False)
    if grant == "authorization_code":
        granted, error, description = token_for_code(org, form)
        if granted is None:
            return _oauth_error(error, description)
        answer = _grant(refresh=False, user_id=granted["user_id"])
        if "openid" in granted["scope"].split():
            body = answer.get_json()
            body["id_token"] = id_token(org, granted["user_id"], granted["nonce"])
            body["scope"] = granted["scope"]
            answer = jsonify(body)
        return answer
    if grant == JWT_GRANT:
        problem = _check_assertion(form.get("assertion", ""))
        if problem:
            return _oauth_error("invalid_grant", problem)
        return _grant(refresh=False)
    return _oauth_error("unsupported_grant_type", "grant type not supported")


def _check_assertion(assertion: str) -> str | None:
    org = current_org()
    cert_pem = org.config.jwt_certificate_pem
    if not cert_pem:
        return "no certificate is registered for this connected app"
    public_key: Any = x509.load_pem_x509_certificate(cert_pem).public_key()
    try:
        claims = jwt.decode(
            assertion,
            public_key,
            algorithms=["RS256"],
            # Salesforce checks aud against its authorization server, never the host the
            # request reached: https://login.salesforce.com (production),
            # https://test.salesforce.com (sandbox) or an Experience Cloud site URL ("OAuth
            # 2.0 JWT Bearer Flow for Server-to-Server Integration", Salesforce Help). A My
            # Domain aud, here this server's own URL, is "audience is invalid"
            # (simple-salesforce issue #672).
            audience=org.config.jwt_audiences(),
            options={"require": ["iss", "sub", "aud", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        return "expired authorization code"
    except jwt.InvalidAudienceError:
        return "audience is invalid"
    except jwt.PyJWTError:
        return "invalid assertion"
    if claims["iss"] != org.config.client_id:
        return "invalid client identifier"
    if claims["sub"] != org.config.username:
        return "user hasn't approved this consumer"
    return None


def _grant(*, refresh: bool, user_id: str | None = None) -> Response:
    org = current_org()
    user_id = user_id or org.store.integration_user_id
    token = org.issue_session(user_id)
    issued = str(int(time.time() * 1000))
    signature = hmac.new(
        org.config.client_secret.encode(), f"{org.instance_url}{issued}".encode(), hashlib.sha256
    ).digest()
    body: dict[str, Any] = {
        "access_token": token,
        "instance_url": org.instance_url,
        "id": f"{org.instance_url}/id/00D5g000000LOCALEAS/{user_id}",
        "token_type": "Bearer",
        "issued_at": issued,
        "signature": base64.b64encode(signature).decode(),
        "scope": "api refresh_token" if refresh else "api",
    }
    if refresh:
        body["refresh_token"] = org.issue_refresh_token()
    return jsonify(body)


@bp.get("/services/oauth2/userinfo")
def userinfo() -> Response:
    """The signed-in user (OpenID Connect UserInfo, as Salesforce's endpoint answers it).

    Salesforce Help, "UserInfo Endpoint": a GET with the access token as bearer returns the
    user's ``user_id``, ``organization_id`` and ``preferred_username`` (among others).
    """
    org = current_org()
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").removeprefix("OAuth ").strip()
    user_id = org.session_user(token) if token else None
    if user_id is None:
        return _oauth_error("invalid_token", "Bad_OAuth_Token", 401)
    rows = org.store.execute(
        'SELECT "Username", "Email", "Name" FROM "User" WHERE "Id" = ?', [user_id]
    )
    username, email, name = rows[0] if rows else ("", "", "")
    return jsonify(
        {
            "sub": f"{org.instance_url}/id/00D5g000000LOCALEAS/{user_id}",
            "user_id": user_id,
            "organization_id": "00D5g000000LOCALEAS",
            "preferred_username": username,
            "email": email,
            "name": name,
        }
    )


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())

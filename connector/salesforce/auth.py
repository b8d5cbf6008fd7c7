"""OAuth 2.0 against the configured login URL: client credentials, JWT bearer, refresh token.

simple-salesforce builds its login URLs as ``https://<domain>.salesforce.com``; we exchange the
credentials ourselves against ``settings.salesforce_login_url`` (a My Domain URL in production,
localorg here) and hand the resulting token to simple-salesforce.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import jwt
import requests

from connector.config import Settings
from connector.errors import ConfigError
from connector.salesforce.errors import RetryableError

log = logging.getLogger(__name__)

Flow = Literal["client_credentials", "jwt", "refresh_token"]
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME_SECONDS = 180
TOKEN_TIMEOUT = (10.0, 60.0)

# What to check for each OAuth error code, per flow; the code is all we repeat from the answer.
_HINTS: dict[str, str] = {
    "invalid_client_id": "check L2L_SALESFORCE_CLIENT_ID (the connected app's consumer key)",
    "invalid_client": "check L2L_SALESFORCE_CLIENT_SECRET (the connected app's consumer secret)",
    "unsupported_grant_type": "enable this OAuth flow on the connected app",
    "invalid_request": "check L2L_SALESFORCE_LOGIN_URL and L2L_SALESFORCE_AUTH",
}
_GRANT_HINTS: dict[Flow, str] = {
    "client_credentials": "check that the connected app enables the client credentials flow "
    "and names a Run As user",
    "jwt": "check L2L_SALESFORCE_USERNAME, that the connected app holds the certificate of "
    "L2L_SALESFORCE_PRIVATE_KEY_FILE and pre-authorizes the user, and that "
    "L2L_SALESFORCE_JWT_AUDIENCE is https://login.salesforce.com (production) or "
    "https://test.salesforce.com (sandbox)",
    "refresh_token": "the refresh token is expired or revoked: authorize again and set a new "
    "L2L_SALESFORCE_REFRESH_TOKEN",
}


# The shared login hosts. Client credentials are not served there, only on the org's own My
# Domain: Salesforce answers "request not supported on this domain" (pozil/pub-sub-api-node-client
# issue #58; restforce PR #814's README uses the instance's own URL). Any other host (a My
# Domain, localorg's https://127.0.0.1:port) is taken to be the org's own.
SHARED_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})


def is_my_domain(login_url: str) -> bool:
    """True when ``login_url`` is an org's own domain, not the shared login/test hosts."""
    host = (urlsplit(login_url).hostname or "").lower()
    return bool(host) and host not in SHARED_LOGIN_HOSTS


@dataclass(frozen=True)
class Token:
    """An access token and the instance it opens."""

    access_token: str
    instance_url: str
    # The identity URL (``id``) of the token response: its last segment is the user's id.
    identity_url: str = ""
    # The signed-in user, from the identity URL the token response carries as ``id``
    # (``https://login.salesforce.com/id/<orgID>/<userID>``, Salesforce Help "Identity URLs").
    # None when the response had none: the sync then reads its own echoes back.
    user_id: str | None = None

    def __repr__(self) -> str:
        return (
            f"Token(access_token='**********', instance_url={self.instance_url!r}, "
            f"user_id={self.user_id!r})"
        )


def make_session(settings: Settings) -> requests.Session:
    """A requests session that trusts ``salesforce_ca_bundle`` and ignores proxy/CA env vars.

    ``trust_env = False`` matters: with it on, ``REQUESTS_CA_BUNDLE`` silently overrides
    ``verify``.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = str(settings.salesforce_ca_bundle) if settings.salesforce_ca_bundle else True
    return session


def choose_flow(settings: Settings) -> Flow:
    """The OAuth flow ``salesforce_auth`` asks for; ``auto`` picks by the credentials set."""
    if settings.salesforce_auth != "auto":
        return settings.salesforce_auth
    if settings.salesforce_private_key_file is not None:
        return "jwt"
    if settings.salesforce_refresh_token.get_secret_value():
        return "refresh_token"
    return "client_credentials"


class Authenticator:
    """Gets access tokens for one connected app; called again whenever a session expires."""

    def __init__(
        self,
        settings: Settings,
        session: requests.Session,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.session = session
        self.flow: Flow = choose_flow(settings)
        self._clock = clock
        self._check_settings()

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint under the login URL."""
        return self.settings.salesforce_login_url.rstrip("/") + "/services/oauth2/token"

    def _check_settings(self) -> None:
        s = self.settings
        missing = []
        if not s.salesforce_client_id:
            missing.append("L2L_SALESFORCE_CLIENT_ID")
        if self.flow == "client_credentials" and not s.salesforce_client_secret.get_secret_value():
            missing.append("L2L_SALESFORCE_CLIENT_SECRET")
        if self.flow == "jwt":
            if not s.salesforce_username:
                missing.append("L2L_SALESFORCE_USERNAME")
            key = s.salesforce_private_key_file
            if key is None:
                missing.append("L2L_SALESFORCE_PRIVATE_KEY_FILE")
            elif not Path(key).is_file():
                missing.append(f"L2L_SALESFORCE_PRIVATE_KEY_FILE ({key} is not a readable file)")
        if self.flow == "refresh_token" and not s.salesforce_refresh_token.get_secret_value():
            missing.append("L2L_SALESFORCE_REFRESH_TOKEN")
        if self.flow == "client_credentials" and not is_my_domain(s.salesforce_login_url):
            raise ConfigError(
                f"the client credentials flow is served only on your org's My Domain, not on "
                f"{s.salesforce_login_url}: set L2L_SALESFORCE_LOGIN_URL to it (Setup > My "
                "Domain, e.g. https://yourcompany.my.salesforce.com), or sign in with the JWT "
                "bearer flow (L2L_SALESFORCE_PRIVATE_KEY_FILE and L2L_SALESFORCE_USERNAME)"
            )
        if missing:
            raise ConfigError(
                f"Salesforce {self.flow} sign-in needs: " + ", ".join(missing) + "; set them "
                "in the environment or .env"
            )

    def _form(self) -> dict[str, str]:
        s = self.settings
        if self.flow == "jwt":
            assert s.salesforce_private_key_file is not None
            claims = {
                "iss": s.salesforce_client_id,
                "sub": s.salesforce_username,
                # aud names the authorization server, not the host the request goes to:
                # https://login.salesforce.com, https://test.salesforce.com or an Experience
                # Cloud site URL ("OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration",
                # Salesforce Help), while the token request may go to My Domain; a My Domain
                # aud is refused as invalid (simple-salesforce issue #672, PR #711; restforce
                # PR #886). Newer External Client Apps may accept the My Domain URL (n8n PR
                # #29016), hence a setting rather than a constant.
                "aud": s.salesforce_jwt_audience.rstrip("/"),
                "exp": int(self._clock()) + JWT_LIFETIME_SECONDS,
            }
            key = Path(s.salesforce_private_key_file).read_bytes()
            try:
                assertion = jwt.encode(claims, key, algorithm="RS256")
            except (ValueError, TypeError, jwt.PyJWTError):
                raise ConfigError(
                    "L2L_SALESFORCE_PRIVATE_KEY_FILE is not a usable RSA private key (PEM); "
                    "point it at the key whose certificate the connected app holds"
                ) from None
            return {"grant_type": JWT_GRANT, "assertion": assertion}
        form = {"client_id": s.salesforce_client_id}
        secret = s.salesforce_client_secret.get_secret_value()
        if self.flow == "refresh_token":
            form["grant_type"] = "refresh_token"
            form["refresh_token"] = s.salesforce_refresh_token.get_secret_value()
            if secret:
                form["client_secret"] = secret
        else:
            form["grant_type"] = "client_credentials"
            form["client_secret"] = secret
        return form

    def token(self) -> Token:
        """A fresh access token; :class:`ConfigError` says which setting to check on refusal."""
        url = self.token_url
        try:
            response = self.session.post(url, data=self._form(), timeout=TOKEN_TIMEOUT)
        except requests.exceptions.SSLError:
            raise ConfigError(
                f"TLS verification of {self.settings.salesforce_login_url} failed: check "
                "L2L_SALESFORCE_LOGIN_URL and L2L_SALESFORCE_CA_BUNDLE"
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetryableError(
                f"cannot reach {self.settings.salesforce_login_url} to sign in "
                f"({type(exc).__name__}); check L2L_SALESFORCE_LOGIN_URL and the network",
                error_code=type(exc).__name__,
            ) from None
        if response.status_code >= 500:
            raise RetryableError(
                f"the Salesforce token endpoint answered HTTP {response.status_code}; "
                "try again later",
                error_code=f"HTTP_{response.status_code}",
                status=response.status_code,
            )
        body = _json_object(response)
        if response.status_code != 200 or "access_token" not in body:
            code = str(body.get("error") or f"HTTP_{response.status_code}")
            hint = (
                _GRANT_HINTS[self.flow] if code == "invalid_grant" else _HINTS.get(code)
            ) or "check L2L_SALESFORCE_LOGIN_URL and the connected app"
            log.warning("Salesforce %s sign-in refused: %s", self.flow, code)
            raise ConfigError(f"Salesforce refused the {self.flow} sign-in ({code}): {hint}")
        log.debug("signed in to Salesforce with the %s flow", self.flow)
        instance = str(body.get("instance_url") or self.settings.salesforce_login_url)
        return Token(
            str(body["access_token"]),
            instance.rstrip("/"),
            identity_url=str(body.get("id") or ""),
            user_id=_user_id(body.get("id")),
        )


def _user_id(identity_url: Any) -> str | None:
    """The user id at the end of an identity URL (``.../id/<orgID>/<userID>``), if it is one."""
    if not isinstance(identity_url, str):
        return None
    parts = identity_url.rstrip("/").split("/")
    if len(parts) < 3 or parts[-3] != "id" or not re.fullmatch(r"005[A-Za-z0-9]{12,15}", parts[-1]):
        return None
    return parts[-1]


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

"""The token endpoint's refusals, grant by grant, in OAuth's error shape.

Salesforce's token endpoint answers a refused request with HTTP 400 and
``{"error", "error_description"}`` (Salesforce Help, "OAuth 2.0 Authorization Errors" —
https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_flow_errors.htm — which lists
unsupported_grant_type, invalid_client_id, invalid_client, invalid_grant...; JWT bearer errors
follow RFC 7523). An API call without a valid session is a REST error instead: 401
INVALID_SESSION_ID.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from localorg.org import LocalOrg
from tests.localorg.errorshape import error_of


def _token(http: requests.Session, org: LocalOrg, **form: str) -> requests.Response:
    return http.post(f"{org.instance_url}/services/oauth2/token", data=form)


def _refused(response: requests.Response, error: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "error_description"}
    assert body["error"] == error
    assert body["error_description"]
    assert "access_token" not in body
    return dict(body)


# ``authorization_code`` is served since the web server flow (test_web_server_flow.py); the
# user-agent flow's ``token`` is asked of the authorize page, never granted here
@pytest.mark.parametrize("grant", ["", "token", "CLIENT_CREDENTIALS"])
def test_an_unknown_grant_type_is_unsupported(
    http: requests.Session, org: LocalOrg, grant: str
) -> None:
    response = _token(
        http,
        org,
        grant_type=grant,
        client_id=org.config.client_id,
        client_secret=org.config.client_secret,
    )
    _refused(response, "unsupported_grant_type")


@pytest.mark.parametrize("grant", ["client_credentials", "password", "refresh_token"])
def test_an_unknown_client_id_is_refused_first(
    http: requests.Session, org: LocalOrg, grant: str
) -> None:
    response = _token(
        http,
        org,
        grant_type=grant,
        client_id="3MVG9-someone-else",
        client_secret=org.config.client_secret,
        username=org.config.username,
        password=org.config.password,
        refresh_token="anything",
    )
    body = _refused(response, "invalid_client_id")
    assert body["error_description"] == "client identifier invalid"


def test_the_password_grant_checks_secret_then_user(http: requests.Session, org: LocalOrg) -> None:
    base = {
        "grant_type": "password",
        "client_id": org.config.client_id,
        "username": org.config.username,
    }
    _refused(
        _token(http, org, **base, client_secret="wrong", password=org.config.password),
        "invalid_client",
    )
    _refused(
        _token(http, org, **base, client_secret=org.config.client_secret, password="wrong"),
        "invalid_grant",
    )
    other_user = {**base, "username": "someone@else.test"}
    _refused(
        _token(
            http,
            org,
            **other_user,
            client_secret=org.config.client_secret,
            password=org.config.password,
        ),
        "invalid_grant",
    )


def test_a_refresh_token_must_be_one_the_org_issued(http: requests.Session, org: LocalOrg) -> None:
    form = {"grant_type": "refresh_token", "client_id": org.config.client_id}
    body = _refused(_token(http, org, **form, refresh_token="5Aep-made-up"), "invalid_grant")
    assert body["error_description"] == "expired access/refresh token"
    issued = org.issue_refresh_token()
    _refused(
        _token(http, org, **form, refresh_token=issued, client_secret="wrong"), "invalid_client"
    )
    assert _token(http, org, **form, refresh_token=issued).status_code == 200


def test_a_jwt_needs_a_registered_certificate_and_a_real_token(
    http: requests.Session, org: LocalOrg
) -> None:
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    for assertion in ("a.b.c", ""):
        body = _refused(_token(http, org, grant_type=grant, assertion=assertion), "invalid_grant")
        assert body["error_description"] == "invalid assertion"
    org.config.jwt_certificate_pem = None  # this test's own copy of the connected app
    body = _refused(_token(http, org, grant_type=grant, assertion="a.b.c"), "invalid_grant")
    assert "no certificate is registered" in body["error_description"]


@pytest.mark.parametrize(
    "header",
    ["", "Bearer ", "Bearer not-a-session", "Basic dXNlcjpwYXNz"],
)
def test_an_api_call_without_a_valid_session(
    http: requests.Session, org: LocalOrg, header: str
) -> None:
    headers = {"Authorization": header} if header else {}
    response = http.get(f"{org.instance_url}/services/data/v59.0/limits", headers=headers)
    error_of(response, 401, "INVALID_SESSION_ID")
    assert org.api_calls == 0  # a refused call is not counted against the daily limit

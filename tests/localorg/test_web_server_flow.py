"""localorg's OAuth 2.0 web server flow (authorization code with PKCE) is as strict as
Salesforce's: the rules and their sources are in ``localorg/web_login.py`` (Salesforce Help,
"OAuth 2.0 Web Server Flow for Web App Integration" and "Proof Key for Code Exchange (PKCE)
Extension"; REST API Developer Guide, "Understanding the Web Server OAuth Authentication Flow";
RFC 6749 4.1; RFC 7636). Driven here over HTTPS with the connector's own client
(``connector.salesforce.web_login``), so both halves are checked against each other."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from connector.salesforce.web_login import WebLoginError, authorize_url, challenge, finish
from localorg import web_login
from localorg.access import ADMIN_USERNAME
from localorg.org import LocalOrg
from localorg.server import Running

CALLBACK = "https://admin.example.test/admin/sign-in/salesforce/callback"


@pytest.fixture
def app_org(org: LocalOrg) -> LocalOrg:
    """The org, its connected app with the callback URL of an admin site."""
    org.config.callback_urls = (CALLBACK,)
    return org


def _code(http: requests.Session, org: LocalOrg, url: str, username: str, password: str) -> str:
    """Log in at the authorize page ``url`` leads to; the code in the redirect."""
    page = http.get(url, allow_redirects=False)
    assert page.status_code == 200, page.text
    assert 'name="password"' in page.text
    query = parse_qs(urlsplit(url).query)
    form = {k: v[0] for k, v in query.items()} | {"username": username, "password": password}
    answer = http.post(
        f"{org.instance_url}/services/oauth2/authorize", data=form, allow_redirects=False
    )
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    got = parse_qs(back.query)
    assert got["state"] == query["state"]  # the state comes back as sent
    return got["code"][0]


def _trade(http: requests.Session, org: LocalOrg, **form: str) -> requests.Response:
    base = {
        "grant_type": "authorization_code",
        "client_id": org.config.client_id,
        "client_secret": org.config.client_secret,
        "redirect_uri": CALLBACK,
    }
    return http.post(f"{org.instance_url}/services/oauth2/token", data=base | form)


def test_the_whole_flow_names_the_user_and_the_code_is_single_use(
    app_org: LocalOrg, http: requests.Session, localorg_server: Running
) -> None:
    org = app_org
    started = authorize_url(org.instance_url, org.config.client_id, CALLBACK)
    code = _code(http, org, started.url, ADMIN_USERNAME, org.config.admin_password)
    user = finish(
        login_url=org.instance_url,
        client_id=org.config.client_id,
        client_secret=org.config.client_secret,
        redirect_uri=CALLBACK,
        code=code,
        verifier=started.verifier,
        nonce=started.nonce,
        ca_bundle=localorg_server.tls.cert,
    )
    assert user.username == ADMIN_USERNAME
    assert user.user_id == org.admin_user_id
    # the same code again: refused (RFC 6749 4.1.2)
    again = _trade(http, org, code=code, code_verifier=started.verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


def test_the_id_token_carries_the_nonce_for_the_consumer_key(
    app_org: LocalOrg, http: requests.Session
) -> None:
    org = app_org
    started = authorize_url(org.instance_url, org.config.client_id, CALLBACK)
    code = _code(http, org, started.url, org.config.username, org.config.password)
    tokens = _trade(http, org, code=code, code_verifier=started.verifier).json()
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert claims["nonce"] == started.nonce
    assert claims["aud"] == org.config.client_id
    assert claims["sub"].endswith(f"/{org.store.integration_user_id}")


def test_pkce_a_missing_verifier_and_a_wrong_one_are_refused(
    app_org: LocalOrg, http: requests.Session
) -> None:
    org = app_org
    started = authorize_url(org.instance_url, org.config.client_id, CALLBACK)
    code = _code(http, org, started.url, org.config.username, org.config.password)
    missing = _trade(http, org, code=code)
    assert missing.json()["error"] == "invalid_grant"
    code = _code(http, org, started.url, org.config.username, org.config.password)
    wrong = _trade(http, org, code=code, code_verifier="x" * 64)
    assert wrong.json()["error"] == "invalid_request"
    assert challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636, Appendix B
    )


def test_the_callback_must_be_the_connected_apps_and_the_same_at_the_token(
    app_org: LocalOrg, http: requests.Session
) -> None:
    org = app_org
    other = authorize_url(org.instance_url, org.config.client_id, "https://evil.test/cb")
    page = http.get(other.url, allow_redirects=False)
    assert page.status_code == 400  # shown, never redirected to (RFC 6749 4.1.2.1)
    assert "redirect_uri_mismatch" in page.text
    assert "Location" not in page.headers
    unknown = authorize_url(org.instance_url, "3MVG9someone-else", CALLBACK)
    assert http.get(unknown.url, allow_redirects=False).status_code == 400
    started = authorize_url(org.instance_url, org.config.client_id, CALLBACK)
    code = _code(http, org, started.url, org.config.username, org.config.password)
    moved = _trade(
        http, org, code=code, code_verifier=started.verifier, redirect_uri=CALLBACK + "x"
    )
    assert moved.json()["error"] == "invalid_grant"


def test_a_code_lives_fifteen_minutes(
    app_org: LocalOrg, http: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = app_org
    started = authorize_url(org.instance_url, org.config.client_id, CALLBACK)
    code = _code(http, org, started.url, org.config.username, org.config.password)
    issued = web_login.time.monotonic()
    # time moves on 15 minutes and a second (only the clock is mocked)
    monkeypatch.setattr(web_login.time, "monotonic", lambda: issued + 15 * 60 + 1)
    late = _trade(http, org, code=code, code_verifier=started.verifier)
    assert late.json()["error"] == "invalid_grant"


def test_a_wrong_password_gets_the_page_again_and_no_code(
    app_org: LocalOrg, http: requests.Session
) -> None:
    org = app_org
    started = authorize_url(org.instance_url, org.config.client_id, CALLBACK)
    form = {k: v[0] for k, v in parse_qs(urlsplit(started.url).query).items()}
    answer = http.post(
        f"{org.instance_url}/services/oauth2/authorize",
        data=form | {"username": ADMIN_USERNAME, "password": "not it"},
        allow_redirects=False,
    )
    assert answer.status_code == 200
    assert "check your username and password" in answer.text
    assert not org.auth_codes


def test_the_connectors_errors_never_carry_the_code_or_the_secret(
    app_org: LocalOrg, localorg_server: Running
) -> None:
    org = app_org
    with pytest.raises(WebLoginError) as caught:
        finish(
            login_url=org.instance_url,
            client_id=org.config.client_id,
            client_secret=org.config.client_secret,
            redirect_uri=CALLBACK,
            code="a-code-nobody-issued",
            verifier="v" * 64,
            nonce="n",
            ca_bundle=localorg_server.tls.cert,
        )
    said = str(caught.value)
    assert "invalid_grant" in said
    assert "a-code-nobody-issued" not in said
    assert org.config.client_secret not in said

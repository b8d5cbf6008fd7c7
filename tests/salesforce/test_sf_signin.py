"""Sign-in as real orgs expect it: the JWT audience and the My Domain rule for client credentials.

Sources (each behaviour below follows one):
- Salesforce Help, "OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration": ``aud`` is the
  authorization server, https://login.salesforce.com, https://test.salesforce.com, or an
  Experience Cloud site URL.
- simple-salesforce issue #672 and PR #711, restforce PR #886: the token request goes to My Domain
  while ``aud`` stays login/test; a My Domain ``aud`` is refused ("invalid audience", or
  "user hasn't approved this consumer").
- pozil/pub-sub-api-node-client issue #58: client credentials on login/test.salesforce.com answer
  ``invalid_grant`` "request not supported on this domain"; the org's own domain works.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
import requests

from connector.config import Settings, load_settings
from connector.errors import ConfigError
from connector.salesforce import SalesforceClient
from connector.salesforce.auth import is_my_domain
from localorg.org import LocalOrg
from localorg.server import Running
from tests.backends import database_settings

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _assertion(org: LocalOrg, server: Running, aud: str) -> str:
    claims = {
        "iss": org.config.client_id,
        "sub": org.config.username,
        "aud": aud,
        "exp": int(time.time()) + 180,
    }
    return jwt.encode(claims, server.jwt.key.read_bytes(), algorithm="RS256")


@pytest.mark.parametrize(
    ("sandbox", "aud", "accepted"),
    [
        (False, "https://login.salesforce.com", True),
        (False, "https://login.salesforce.com/", True),
        (False, "https://test.salesforce.com", False),
        (True, "https://test.salesforce.com", True),
        (True, "https://login.salesforce.com", False),
        (False, "MY_DOMAIN", False),  # the URL the request reached is not an audience
        (False, "https://shop.example.com/customers", True),  # the org's Experience Cloud site
    ],
)
def test_localorg_checks_aud_against_the_real_audiences(
    http: requests.Session,
    org: LocalOrg,
    localorg_server: Running,
    sandbox: bool,
    aud: str,
    accepted: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Through monkeypatch: the next test's org starts from a copy of this one's config.
    org.config.jwt_certificate_pem = localorg_server.jwt.cert.read_bytes()
    monkeypatch.setattr(org.config, "sandbox", sandbox)
    monkeypatch.setattr(org.config, "site_urls", ("https://shop.example.com/customers",))
    aud = org.instance_url if aud == "MY_DOMAIN" else aud
    response = http.post(
        org.instance_url + "/services/oauth2/token",
        data={"grant_type": JWT_GRANT, "assertion": _assertion(org, localorg_server, aud)},
    )
    if accepted:
        assert response.status_code == 200, response.text
        assert response.json()["access_token"]
    else:
        assert response.status_code == 400
        assert response.json() == {
            "error": "invalid_grant",
            "error_description": "audience is invalid",
        }


def test_the_connector_sends_the_audience_setting_to_the_my_domain_token_endpoint(
    make_settings: Callable[..., Settings], org: LocalOrg, localorg_server: Running
) -> None:
    org.config.jwt_certificate_pem = localorg_server.jwt.cert.read_bytes()
    settings = make_settings(
        salesforce_client_secret="", salesforce_private_key_file=localorg_server.jwt.key
    )
    assert settings.salesforce_jwt_audience == "https://login.salesforce.com"  # the default
    assert settings.salesforce_login_url == org.instance_url  # the request goes here
    client = SalesforceClient.from_settings(settings)
    assert client.describe("Contact")["name"] == "Contact"


def test_a_sandbox_signs_in_with_the_test_audience(
    make_settings: Callable[..., Settings],
    org: LocalOrg,
    localorg_server: Running,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    org.config.jwt_certificate_pem = localorg_server.jwt.cert.read_bytes()
    monkeypatch.setattr(org.config, "sandbox", True)
    key = localorg_server.jwt.key
    production = make_settings(salesforce_private_key_file=key)
    with pytest.raises(ConfigError, match="L2L_SALESFORCE_JWT_AUDIENCE") as info:
        SalesforceClient.from_settings(production)
    assert "https://test.salesforce.com" in str(info.value)  # says what a sandbox wants
    sandbox = make_settings(
        salesforce_private_key_file=key, salesforce_jwt_audience="https://test.salesforce.com"
    )
    assert SalesforceClient.from_settings(sandbox).limits()["DailyApiRequests"]["Max"] > 0


def test_the_login_url_as_audience_is_refused_as_salesforce_does(
    make_settings: Callable[..., Settings], org: LocalOrg, localorg_server: Running
) -> None:
    """What the connector did before the setting existed: aud = the (My Domain) login URL."""
    org.config.jwt_certificate_pem = localorg_server.jwt.cert.read_bytes()
    settings = make_settings(
        salesforce_private_key_file=localorg_server.jwt.key,
        salesforce_jwt_audience=org.instance_url,
    )
    with pytest.raises(ConfigError, match=r"invalid_grant"):
        SalesforceClient.from_settings(settings)


@pytest.mark.parametrize(
    "login_url", ["https://login.salesforce.com", "https://test.salesforce.com/"]
)
def test_client_credentials_on_the_shared_login_hosts_are_refused_before_any_call(
    login_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(
        salesforce_login_url=login_url,
        salesforce_client_id="3MVG9x",
        salesforce_client_secret="not-printed-anywhere",
        **database_settings(tmp_path),
    )
    client_made = []
    with pytest.raises(ConfigError) as info:
        client_made.append(SalesforceClient(settings))  # the constructor refuses: no request
    message = str(info.value)
    assert not client_made
    assert "My Domain" in message
    assert "L2L_SALESFORCE_LOGIN_URL" in message
    assert "not-printed-anywhere" not in message


def test_client_credentials_on_a_my_domain_sign_in(
    make_settings: Callable[..., Settings], org: LocalOrg
) -> None:
    settings = make_settings(salesforce_auth="client_credentials")
    assert is_my_domain(settings.salesforce_login_url)  # https://127.0.0.1:port counts as one
    assert SalesforceClient.from_settings(settings).calls["auth"] == 1


@pytest.mark.parametrize(
    ("url", "mine"),
    [
        ("https://acme.my.salesforce.com", True),
        ("https://acme--uat.sandbox.my.salesforce.com", True),
        ("https://127.0.0.1:8443", True),
        ("https://login.salesforce.com", False),
        ("https://LOGIN.salesforce.com/", False),
        ("https://test.salesforce.com", False),
    ],
)
def test_what_counts_as_a_my_domain(url: str, mine: bool) -> None:
    assert is_my_domain(url) is mine


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("salesforce_login_url", "acme.my.salesforce.com", "not an https:// URL"),
        ("salesforce_login_url", "http://acme.my.salesforce.com", "not an https:// URL"),
        ("salesforce_jwt_audience", "login.salesforce.com", "not an https:// URL"),
        ("salesforce_ca_bundle", "/no/such/ca.pem", "not a file"),
    ],
)
def test_sign_in_settings_are_checked_when_loaded(
    name: str, value: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_settings(**{name: value})
    message = str(info.value)
    assert f"L2L_{name.upper()}" in message
    assert says in message
    assert "\n" not in message  # one problem, one line

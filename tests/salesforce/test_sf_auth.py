"""OAuth flows against localorg's token endpoint, over real HTTPS."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from connector.config import Settings
from connector.errors import ConfigError
from connector.salesforce import SalesforceClient
from connector.salesforce.auth import choose_flow
from localorg.org import LocalOrg
from localorg.server import Running


def test_client_credentials_opens_the_api(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    assert choose_flow(settings) == "client_credentials"
    client = SalesforceClient.from_settings(settings)
    assert client.limits()["DailyApiRequests"]["Max"] > 0
    assert client.calls["auth"] == 1
    assert client.calls["limits"] == 1
    assert client.calls_total == 2
    assert client.session.trust_env is False


def test_jwt_bearer_with_the_registered_key(
    make_settings: Callable[..., Settings], org: LocalOrg, localorg_server: Running
) -> None:
    org.config.jwt_certificate_pem = localorg_server.jwt.cert.read_bytes()
    settings = make_settings(
        salesforce_client_secret="", salesforce_private_key_file=localorg_server.jwt.key
    )
    assert choose_flow(settings) == "jwt"
    client = SalesforceClient.from_settings(settings)
    assert client.describe("Contact")["name"] == "Contact"


def test_jwt_for_an_unknown_user_names_the_settings_to_check(
    make_settings: Callable[..., Settings], org: LocalOrg, localorg_server: Running
) -> None:
    org.config.jwt_certificate_pem = localorg_server.jwt.cert.read_bytes()
    settings = make_settings(
        salesforce_private_key_file=localorg_server.jwt.key, salesforce_username="who@else.test"
    )
    with pytest.raises(ConfigError, match=r"invalid_grant.*L2L_SALESFORCE_USERNAME"):
        SalesforceClient.from_settings(settings)


def test_refresh_token_flow(
    make_settings: Callable[..., Settings], org: LocalOrg, http: requests.Session
) -> None:
    cfg = org.config
    granted = http.post(
        org.instance_url + "/services/oauth2/token",
        data={
            "grant_type": "password",
            "client_id": cfg.client_id,
            "client_secret": cfg.client_secret,
            "username": cfg.username,
            "password": cfg.password,
        },
    ).json()
    settings = make_settings(salesforce_refresh_token=granted["refresh_token"])
    assert choose_flow(settings) == "refresh_token"
    client = SalesforceClient.from_settings(settings)
    assert client.query("SELECT Id FROM Contact") == []
    revoked = make_settings(salesforce_refresh_token="5Aepforged")
    with pytest.raises(ConfigError, match="L2L_SALESFORCE_REFRESH_TOKEN") as info:
        SalesforceClient.from_settings(revoked)
    assert "5Aepforged" not in str(info.value)


def test_bad_secret_is_a_config_error_without_the_secret(
    make_settings: Callable[..., Settings],
) -> None:
    secret = "s3cret-that-must-not-leak"
    with pytest.raises(ConfigError) as info:
        SalesforceClient.from_settings(make_settings(salesforce_client_secret=secret))
    message = str(info.value)
    assert "invalid_client" in message
    assert "L2L_SALESFORCE_CLIENT_SECRET" in message
    assert secret not in message


def test_missing_settings_are_listed_at_once(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(salesforce_client_id="", salesforce_auth="jwt", salesforce_username="")
    with pytest.raises(ConfigError) as info:
        SalesforceClient(settings)
    for name in (
        "L2L_SALESFORCE_CLIENT_ID",
        "L2L_SALESFORCE_USERNAME",
        "L2L_SALESFORCE_PRIVATE_KEY_FILE",
    ):
        assert name in str(info.value)


def test_untrusted_certificate_is_a_config_error(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(salesforce_ca_bundle=None)
    with pytest.raises(ConfigError, match="L2L_SALESFORCE_CA_BUNDLE"):
        SalesforceClient.from_settings(settings)

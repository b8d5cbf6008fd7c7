"""Shared fixtures: a real localorg over real HTTPS, fresh data per test."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from localorg.org import LocalOrg
from localorg.server import Running, start

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def localorg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One localorg server for the whole session; tests get fresh data through `org`."""
    certs = tmp_path_factory.mktemp("certs")
    running = start(LocalOrg(None), certs)
    yield running
    running.stop()


@pytest.fixture
def org(localorg_server: Running) -> Iterator[LocalOrg]:
    """The served org with empty data, no faults, a fresh limit counter."""
    running = localorg_server
    # Each test gets its own copy of the connected app: tests change limits and certificates.
    fresh = LocalOrg(None, config=dataclasses.replace(running.org.config, daily_limit=1_000_000))
    fresh.instance_url = running.org.instance_url
    running.server.app.config["LOCALORG"] = fresh  # type: ignore[attr-defined]
    running.org = fresh
    yield fresh
    fresh.faults.configure("")


@pytest.fixture
def http(localorg_server: Running) -> requests.Session:
    """A requests session that trusts localorg's certificate and ignores the environment."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(localorg_server.tls.cert)
    return session


def get_token(http: requests.Session, org: LocalOrg) -> dict[str, Any]:
    """A client-credentials token from the org."""
    response = http.post(
        org.instance_url + "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": org.config.client_id,
            "client_secret": org.config.client_secret,
        },
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def sf(org: LocalOrg, http: requests.Session) -> Salesforce:
    """Unmodified simple-salesforce, logged in to the fresh org over HTTPS."""
    token = get_token(http, org)
    return Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=http
    )

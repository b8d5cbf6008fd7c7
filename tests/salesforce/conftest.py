"""Fixtures for the Salesforce client: settings for the served org, a client with fake sleep."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from connector.config import Settings
from connector.salesforce import SalesforceClient
from localorg.org import LocalOrg
from localorg.server import Running


class Sleeps(list[float]):
    """A fake ``sleep`` that records every delay instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def make_settings(org: LocalOrg, localorg_server: Running) -> Callable[..., Settings]:
    """Settings for the served org (client credentials), with overrides; no .env read."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "salesforce_login_url": org.instance_url,
            "salesforce_client_id": org.config.client_id,
            "salesforce_client_secret": org.config.client_secret,
            "salesforce_username": org.config.username,
            "salesforce_ca_bundle": localorg_server.tls.cert,
            "max_retries": 3,
            "retry_base_seconds": 0.1,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return build


@pytest.fixture
def sleeps() -> Sleeps:
    """Delays the client slept, in order."""
    return Sleeps()


@pytest.fixture
def client(make_settings: Callable[..., Settings], sleeps: Sleeps) -> SalesforceClient:
    """A signed-in client whose backoff sleeps are recorded and whose jitter is fixed at 0.5."""
    return SalesforceClient.from_settings(make_settings(), sleep=sleeps, random=lambda: 0.5)

"""Shared fixtures: a real localorg over real HTTPS, fresh data per test."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import find
from hypothesis import strategies as st
from simple_salesforce import Salesforce

from connector.store import Store
from localorg.org import LocalOrg
from localorg.server import Running, client_credentials_token, start
from tests.backends import BACKENDS, ON_POSTGRES, drop_test_schemas, postgres_schema, store_location
from tests.support import REPO, rfm_mappings, salesforce_env, serve_fresh, sync_env

__all__ = ["REPO", "admin_salesforce", "get_token"]


def pytest_configure(config: pytest.Config) -> None:
    if ON_POSTGRES:
        # The web app keeps its process's store open for the life of the app, as a gunicorn
        # worker does (connector/web/intake.py); a test's app is dropped, not shut down, and
        # its connection closed by the collector. sqlite3 says nothing then; psycopg warns.
        config.addinivalue_line(
            "filterwarnings", "ignore:.*was deleted while still open:ResourceWarning"
        )
        # The same outside the tests: pytest applied the ini filters to the session before
        # this hook, so an app the collector drops at the session's end (a browser test's)
        # would still warn, and at "error" fail the session with every test passed.
        warnings.filterwarnings(
            "ignore", message=".*was deleted while still open", category=ResourceWarning
        )


@pytest.fixture(scope="session", autouse=True)
def _unicode_table() -> None:
    """hypothesis builds its table of Unicode characters on the first draw of text (about 1.3
    CPU s, kept in .hypothesis/ after): built here, before the session's tests, so a fresh
    clone's first property test is not failed by the too_slow health check for a cost that is
    not its own."""
    find(st.text(min_size=1), bool)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``slow`` (the longest, 25 s and more on two cores) run first.

    ``pytest -n auto`` hands tests to its workers in collection order, refilling a worker as it
    finishes: a long test collected last keeps one core busy after the other ran out of work.
    Started first, the long tests share the cores and the short ones fill the gaps (longest
    processing time first). The sort is stable: within each group the order is pytest's."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def _test_schemas() -> Iterator[None]:
    """Drop the PostgreSQL schemas a test's stores lived in (``L2L_TEST_BACKEND``)."""
    yield
    drop_test_schemas()


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
    config = dataclasses.replace(running.org.config, daily_limit=1_000_000, api_user="admin")
    fresh = serve_fresh(running, config)
    yield fresh
    fresh.faults.configure("")


@pytest.fixture
def http(localorg_server: Running) -> requests.Session:
    """A requests session that trusts localorg's certificate and ignores the environment."""
    return localorg_server.session()


def get_token(http: requests.Session, org: LocalOrg) -> dict[str, Any]:
    """A client-credentials token from the org."""
    return client_credentials_token(
        http, org.instance_url, org.config.client_id, org.config.client_secret
    )


@pytest.fixture
def sf(localorg_server: Running, org: LocalOrg, http: requests.Session) -> Salesforce:
    """Unmodified simple-salesforce, logged in to the fresh org over HTTPS."""
    return localorg_server.salesforce(http)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """L2L_* variables for the CLI: a clean working folder (no stray .env), no Salesforce login,
    a fresh database and the tests' RFM mappings under `tmp_path`; returns the database path
    (a PostgreSQL URL under ``L2L_TEST_BACKEND=postgresql``, tests/backends.py)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in (
        "L2L_SALESFORCE_LOGIN_URL",
        "L2L_SALESFORCE_CLIENT_ID",
        "L2L_SALESFORCE_CLIENT_SECRET",
        "L2L_SALESFORCE_AUTH",
        "L2L_SALESFORCE_CA_BUNDLE",
        "L2L_SALESFORCE_REFRESH_TOKEN",
        "DATABASE_URL",  # a PostgreSQL store of the machine's own: the tests choose theirs
    ):
        monkeypatch.delenv(name, raising=False)
    database = store_location(tmp_path)
    for name, value in sync_env(database, rfm_mappings(tmp_path / "mappings")).items():
        monkeypatch.setenv(name, value)
    return database


@pytest.fixture
def org_env(
    env: Path, org: LocalOrg, localorg_server: Running, monkeypatch: pytest.MonkeyPatch
) -> LocalOrg:
    """``env`` logged in to the fresh localorg with client credentials; returns the org."""
    for name, value in salesforce_env(org, localorg_server).items():
        monkeypatch.setenv(name, value)
    return org


@pytest.fixture
def minimal_org(localorg_server: Running) -> Iterator[LocalOrg]:
    """Like `org`, but the API user has a minimal profile on the Salesforce license: API
    Enabled and nothing else, as `localorg serve --user minimal` starts it (`--user
    integration` is the Salesforce Integration license's user:
    tests/sync/test_integration_user.py)."""
    running = localorg_server
    config = dataclasses.replace(running.org.config, daily_limit=1_000_000, api_user="minimal")
    fresh = serve_fresh(running, config)
    yield fresh
    fresh.faults.configure("")


@pytest.fixture
def serve(localorg_server: Running, org: LocalOrg) -> Iterator[Callable[..., LocalOrg]]:
    """Serve a fresh org with other settings (``OrgConfig`` fields, e.g. ``features=``)."""

    def make(**changes: Any) -> LocalOrg:
        return serve_fresh(localorg_server, dataclasses.replace(org.config, **changes))

    yield make
    # The next test's org copies the served org's config: hand back the plain one.
    localorg_server.server.app.config["LOCALORG"] = org  # type: ignore[attr-defined]
    localorg_server.org = org


def admin_salesforce(running: Running, org: LocalOrg) -> Salesforce:
    """simple-salesforce signed in as the org's administrator (its own connected app)."""
    session = running.session()
    token = client_credentials_token(
        session, org.instance_url, org.config.admin_client_id, org.config.admin_client_secret
    )
    return Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session
    )


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """Where a test's store lives, once per backend: a SQLite file under ``tmp_path``, or a
    ``postgresql://`` URL of a fresh schema (skipped with the reason when no server answers;
    ``tests/backends.py``)."""
    if request.param == "sqlite":
        yield tmp_path / "l2l.sqlite"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def store(database: Path | str) -> Iterator[Store]:
    """A fresh, migrated store on each backend (``database``)."""
    opened = Store(database)
    yield opened
    opened.close()

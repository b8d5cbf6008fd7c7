"""Fixtures of the webhook tests: one gunicorn app for the module's requests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from connector.store import Store
from tests.backends import ON_POSTGRES, postgres_schema
from tests.webhooks.helpers import Server, gunicorn


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real app under gunicorn (2 workers) with the test secrets and its own database.

    Tests share it, so each uses fresh ids and asserts on its own rows.
    """
    work = tmp_path_factory.mktemp("webhooks-server")
    with ExitStack() as stack:  # its own schema for the session under L2L_TEST_BACKEND=postgresql
        database = stack.enter_context(postgres_schema()) if ON_POSTGRES else work / "l2l.sqlite"
        running = stack.enter_context(gunicorn(database, work))
        yield running


@pytest.fixture
def store(server: Server) -> Iterator[Store]:
    """The server's database, opened by the test (WAL: reads while the server writes)."""
    opened = Store(server.database)
    yield opened
    opened.close()

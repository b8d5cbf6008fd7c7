"""The store's two backends for tests: a SQLite file, or a fresh PostgreSQL schema.

``L2L_TEST_POSTGRES_URL`` names the server (default ``postgresql://127.0.0.1:5432/test``, this
project's machines: trust auth, database ``test``). Each test gets its own schema
(``CREATE SCHEMA t_<random>``, reached through the URL's ``search_path``), dropped after it,
so tests never see each other's rows. A server that cannot be reached skips the PostgreSQL
half with the reason, unless ``L2L_REQUIRE_POSTGRES=1`` (CI), which fails it instead.

Every other test's store is chosen by ``L2L_TEST_BACKEND``: ``sqlite`` (the default, ``make
test``) or ``postgresql`` (``make test-postgres``): :func:`store_location` gives the SQLite
file or a fresh schema's URL, :func:`database_settings` the settings naming it, and the tests
about SQLite itself (its file, WAL, the online backup) are marked :data:`sqlite_only`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

BACKENDS = ("sqlite", "postgresql")
DEFAULT_URL = "postgresql://127.0.0.1:5432/test"

#: The backend of every test's store that does not choose its own (``L2L_TEST_BACKEND``).
TEST_BACKEND = os.environ.get("L2L_TEST_BACKEND", "sqlite")
if TEST_BACKEND not in BACKENDS:
    raise SystemExit(f"L2L_TEST_BACKEND={TEST_BACKEND!r}: say one of {', '.join(BACKENDS)}")
ON_POSTGRES = TEST_BACKEND == "postgresql"


def sqlite_only(reason: str) -> pytest.MarkDecorator:
    """Skip under ``L2L_TEST_BACKEND=postgresql``: the test is about SQLite itself."""
    return pytest.mark.skipif(ON_POSTGRES, reason=f"about SQLite itself: {reason}")


# The schemas made by store_location during the current test, by place (dropped after it by
# drop_test_schemas, an autouse fixture of tests/conftest.py).
_made: dict[Path, str] = {}
_open: list[Any] = []


def store_location(folder: Path, name: str = "l2l.sqlite") -> Path | str:
    """Where a test keeps its store: ``folder / name``, or under
    ``L2L_TEST_BACKEND=postgresql`` the URL of a fresh schema (the same one for the same place
    within a test, so a store opened twice is one database)."""
    path = folder / name
    if not ON_POSTGRES:
        return path
    if path not in _made:
        manager = postgres_schema()
        _made[path] = manager.__enter__()
        _open.append(manager)
    return _made[path]


def database_settings(folder: Path, name: str = "l2l.sqlite") -> dict[str, Any]:
    """``load_settings`` keywords naming the test's store (:func:`store_location`)."""
    location = store_location(folder, name)
    if isinstance(location, str):
        return {"DATABASE_URL": location}
    return {"database": location}


def drop_test_schemas() -> None:
    """Drop the schemas :func:`store_location` made for the test that ended."""
    while _open:
        _open.pop().__exit__(None, None, None)
    _made.clear()


def server_url() -> str:
    """The PostgreSQL server the tests use."""
    return os.environ.get("L2L_TEST_POSTGRES_URL", DEFAULT_URL)


def database_env(database: Path | str) -> dict[str, str]:
    """The variable that names the store: ``DATABASE_URL`` for a PostgreSQL URL, else
    ``L2L_DATABASE``."""
    if str(database).startswith("postgresql://"):
        return {"DATABASE_URL": str(database)}
    return {"L2L_DATABASE": str(database)}


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A ``DATABASE_URL`` whose tables live in a fresh schema of their own (dropped after)."""
    base = server_url()
    try:
        admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        reason = f"PostgreSQL at {base} is unreachable ({str(exc).strip().splitlines()[-1]})"
        if os.environ.get("L2L_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; L2L_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            separator = "&" if "?" in base else "?"
            options = quote(f"-csearch_path={schema}")
            yield f"{base}{separator}options={options}&application_name={schema}"
        finally:
            # Connections a test left open would block the drop: end them first (by the
            # application name they were given above).
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                [schema],
            )
            admin.execute(f"DROP SCHEMA {schema} CASCADE")

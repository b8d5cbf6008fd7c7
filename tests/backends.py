"""The store's two backends for tests: a SQLite file, or a fresh PostgreSQL schema.

``L2L_TEST_POSTGRES_URL`` names the server (default ``postgresql://127.0.0.1:5432/test``, this
project's machines: trust auth, database ``test``). Each test gets its own schema
(``CREATE SCHEMA t_<random>``, reached through the URL's ``search_path``), dropped after it,
so tests never see each other's rows. A server that cannot be reached skips the PostgreSQL
half with the reason, unless ``L2L_REQUIRE_POSTGRES=1`` (CI), which fails it instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

BACKENDS = ("sqlite", "postgresql")
DEFAULT_URL = "postgresql://127.0.0.1:5432/test"


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

"""What the store raises when SQLite refuses: the connector's errors, never sqlite3's.

- A database another process holds past the busy timeout is :class:`Busy` (nothing written; a
  caller may retry), whatever write met it: one statement, a transaction, a batch.
- A file that is not a database is a :class:`ConfigError` naming it at open; one that turns
  unusable later is a :class:`StoreError`. Through the CLI both are one line, exit code 1.
- Anything else (a missing table, bad SQL) is a bug and stays sqlite3's error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.errors import Busy, ConfigError, Lead2LoyaltyError, StoreError
from connector.store import Store
from tests.backends import sqlite_only

pytestmark = sqlite_only(
    "what the store raises when SQLite refuses (PostgreSQL's: tests/test_store_postgres.py)"
)


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Store, sqlite3.Connection]]:
    """A store whose database another connection holds the write lock of (a sync booking a
    big batch); this store waits no time for it, so the test need not wait out 10 s."""
    path = tmp_path / "l2l.sqlite"
    store = Store(path)
    store.db.conn.execute("PRAGMA busy_timeout=0")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    yield store, other
    other.execute("ROLLBACK")
    other.close()
    store.close()


def test_a_held_database_is_busy_for_every_kind_of_write(
    held: tuple[Store, sqlite3.Connection],
) -> None:
    store, _ = held
    writes = [
        lambda: store.records.set_state("k", "v"),  # one autocommit statement
        lambda: store.outbox.enqueue(1, [("Contact", "003A", "A__c", 1)]),  # a transaction
        lambda: store.events.append([{"source": "s", "delivery_id": "d", "name": "n"}]),
        lambda: store.loyalty.record_use("key", "CODE", 201, "{}", "2026-01-01"),
    ]
    for write in writes:
        with pytest.raises(Busy, match=r"is busy: .*retry in a few seconds") as caught:
            write()
        assert isinstance(caught.value, Lead2LoyaltyError)
        assert not isinstance(caught.value, sqlite3.Error)
    assert store.records.state("k") is None  # nothing was written


def test_a_released_database_takes_the_same_write(
    held: tuple[Store, sqlite3.Connection],
) -> None:
    store, other = held
    with pytest.raises(Busy):
        store.records.set_state("k", "v")
    other.execute("ROLLBACK")
    store.records.set_state("k", "v")
    assert store.records.state("k") == "v"
    other.execute("BEGIN IMMEDIATE")  # held again, for the fixture to release


def test_a_file_that_is_not_a_database_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"these are notes, not a database\n" * 200)
    with pytest.raises(
        ConfigError, match=r"cannot open the database .*notes\.sqlite.*L2L_DATABASE"
    ):
        Store(path)


def test_the_cli_says_one_line_for_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"these are notes, not a database\n" * 200)
    result = CliRunner().invoke(main, ["status"], env={"L2L_DATABASE": str(path)})
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: cannot open the database")
    assert "L2L_DATABASE" in lines[0]


def test_a_database_made_read_only_is_a_store_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "l2l.sqlite")
    store.db.conn.execute("PRAGMA query_only=1")  # as a read-only file refuses writes
    with pytest.raises(StoreError, match=r"cannot be used .*check L2L_DATABASE"):
        store.records.set_state("k", "v")


def test_a_bug_stays_sqlites_own_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "l2l.sqlite")
    store.db.execute("DROP TABLE outbox")
    with pytest.raises(sqlite3.OperationalError, match="no such table: outbox"):
        store.outbox.counts()
    with pytest.raises(sqlite3.OperationalError, match="no such table: outbox"):
        store.outbox.pending()

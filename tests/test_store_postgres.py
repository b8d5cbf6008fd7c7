"""The PostgreSQL backend's own contract (``connector/store/postgres.py``); the behaviour both
backends share is tested once on each (the ``database``/``store`` fixtures, tests/conftest.py).

- A lock not granted within the lock timeout is :class:`Busy` (nothing written; retry), for an
  autocommit statement and for a transaction (the write lock every transaction takes).
- A server that cannot be reached is a :class:`ConfigError` at open, one that goes away later
  a :class:`StoreError`; neither says the URL's password. A bug stays psycopg's own error.
- ``DATABASE_URL`` with ``L2L_DATABASE`` is a one-line configuration error.
- Values come back as SQLite gives them: 64-bit integers, doubles, booleans as 0/1, a sum of
  integers as an integer.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.errors import Busy, ConfigError, Lead2LoyaltyError, StoreError
from connector.store import Store
from connector.store.postgres import WRITE_LOCK_KEY, advisory, translate
from tests.backends import postgres_schema


@pytest.fixture
def url() -> Iterator[str]:
    """A fresh schema's URL (skipped with the reason when no PostgreSQL answers)."""
    with postgres_schema() as made:
        yield made


@pytest.fixture
def pg(url: str) -> Iterator[Store]:
    """A migrated store on PostgreSQL that waits 0.2 s for a lock (the test need not wait 10 s)."""
    store = Store(url)
    store.db.conn.execute("SET lock_timeout = 200")
    yield store
    store.close()


def test_a_locked_table_is_busy_and_nothing_is_written(url: str, pg: Store) -> None:
    with psycopg.connect(url) as other:  # a transaction of its own, open until the block ends
        other.execute("LOCK TABLE sync_state, outbox IN ACCESS EXCLUSIVE MODE")
        for write in (
            lambda: pg.records.set_state("k", "v"),  # one autocommit statement
            lambda: pg.outbox.enqueue(1, [("Contact", "003A", "A__c", 1)]),  # a transaction
        ):
            with pytest.raises(Busy, match=r"is busy: .*retry in a few seconds") as caught:
                write()
            assert isinstance(caught.value, Lead2LoyaltyError)
        other.rollback()
    assert pg.records.state("k") is None  # nothing was written
    pg.records.set_state("k", "v")  # released: the same write goes through
    assert pg.records.state("k") == "v"


def test_a_transaction_waits_for_the_write_lock_then_is_busy(url: str, pg: Store) -> None:
    with psycopg.connect(url) as other:
        other.execute(translate(advisory("pg_advisory_xact_lock")), [WRITE_LOCK_KEY])  # a writer's
        with pytest.raises(Busy):
            pg.outbox.enqueue(1, [("Contact", "003A", "A__c", 1)])
        other.rollback()
    assert pg.outbox.enqueue(1, [("Contact", "003A", "A__c", 1)]) == 1


def test_an_unreachable_server_is_a_config_error_without_its_password() -> None:
    with pytest.raises(ConfigError, match=r"cannot open the database .*DATABASE_URL") as caught:
        Store("postgresql://l2l:s3cret-pw@127.0.0.1:1/test")  # nothing listens on port 1
    assert "s3cret-pw" not in str(caught.value)
    assert "l2l:***@127.0.0.1:1" in str(caught.value)


def test_a_connection_lost_later_is_a_store_error(url: str, pg: Store) -> None:
    pid = pg.db.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(StoreError, match="cannot be used"):
        pg.records.state("k")


def test_a_bug_stays_psycopgs_own_error(pg: Store) -> None:
    pg.db.execute("DROP TABLE outbox")
    with pytest.raises(psycopg.errors.UndefinedTable):
        pg.outbox.counts()


def test_values_come_back_as_sqlite_gives_them(pg: Store) -> None:
    big = 2**62 + 1  # beyond a double's 53 bits: an INTEGER column keeps all 64
    pg.db.execute("CREATE TABLE t (i INTEGER, r REAL, b BOOLEAN, s TEXT)")
    pg.db.conn.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)", [(big, 0.1, True, 7), (1, 0.2, False, "x")]
    )
    rows = pg.db.execute("SELECT i, r, b, s FROM t ORDER BY i").fetchall()
    assert rows == [(1, 0.2, 0, "x"), (big, 0.1, 1, "7")]  # a number into TEXT: its text
    total = pg.db.execute("SELECT SUM(i), SUM(r) FROM t").fetchone()
    assert total == (big + 1, pytest.approx(0.3))
    assert type(total[0]) is int


def test_the_sqlite_spellings_become_postgresqls() -> None:
    assert translate("SELECT a FROM t WHERE b = ? AND c LIKE '50%?'") == (
        "SELECT a FROM t WHERE b = %s AND c LIKE '50%%?'"  # a ? inside quotes stays text
    )
    assert translate("INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING a") == (
        "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING RETURNING a"
    )
    assert translate('CREATE TABLE "REAL x" (id INTEGER PRIMARY KEY, v REAL, b BLOB)') == (
        'CREATE TABLE "REAL x" (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, '
        "v DOUBLE PRECISION, b BYTEA)"
    )
    assert translate('x IS NOT "t"."c" AND y IS NOT NULL') == (
        'x IS DISTINCT FROM "t"."c" AND y IS NOT NULL'
    )


def test_the_cli_refuses_two_databases_in_one_line(tmp_path: object) -> None:
    result = CliRunner().invoke(
        main,
        ["status"],
        env={"DATABASE_URL": "postgresql://l2l:pw@127.0.0.1/x", "L2L_DATABASE": "l2l.sqlite"},
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "DATABASE_URL" in lines[0]
    assert "L2L_DATABASE" in lines[0]
    assert ":pw@" not in result.output


def test_the_cli_says_one_line_for_an_unreachable_server() -> None:
    result = CliRunner().invoke(
        main, ["status"], env={"DATABASE_URL": "postgresql://l2l:s3cret-pw@127.0.0.1:1/x"}
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: cannot open the database postgresql://l2l:***@")
    assert "s3cret-pw" not in result.output


@pytest.mark.parametrize(("required", "outcome"), [("", "skipped"), ("1", "failed")])
def test_no_server_skips_the_postgresql_half_unless_ci_requires_it(
    monkeypatch: pytest.MonkeyPatch, required: str, outcome: str
) -> None:
    monkeypatch.setenv("L2L_TEST_POSTGRES_URL", "postgresql://127.0.0.1:1/test")
    monkeypatch.setenv("L2L_REQUIRE_POSTGRES", required)
    expected = pytest.skip.Exception if outcome == "skipped" else pytest.fail.Exception
    unreachable = r"PostgreSQL at postgresql://127\.0\.0\.1:1/test is unreachable"
    with pytest.raises(expected, match=unreachable), postgres_schema():
        pass  # pragma: no cover - never reached


def test_an_empty_l2l_database_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """The image sets L2L_DATABASE and compose.yaml can only empty it, not remove it."""
    from connector.config import load_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://l2l:pw@127.0.0.1/x")
    monkeypatch.setenv("L2L_DATABASE", "")
    assert load_settings().store_location == "postgresql://l2l:pw@127.0.0.1/x"
    monkeypatch.setenv("L2L_DATABASE", "l2l.sqlite")
    with pytest.raises(ConfigError, match="both set"):
        load_settings()


def test_a_column_or_table_the_store_adds_is_seen_at_once(pg: Store) -> None:
    """What information_schema said of a table is kept per connection (a real-time pass asked
    it about 40 times, issue 20) and forgotten at the store's own DDL: a column ``declare`` or
    an upsert adds, a table it creates, a table a rolled-back transaction created."""
    records = pg.records
    assert records.frame("Contact", ["Id"]).empty  # no table yet: asked again next time
    records.upsert("Contact", [{"Id": "003A", "Email": "ada@example.com"}])
    assert records.frame("Contact", ["Id", "Email"])["Email"].tolist() == ["ada@example.com"]
    records.declare("Contact", {"Phone": "phone"})  # ALTER TABLE ... ADD COLUMN
    records.upsert("Contact", [{"Id": "003A", "Phone": "+1 555 0100"}])
    assert records.frame("Contact", ["Phone"])["Phone"].tolist() == ["+1 555 0100"]
    records.upsert("Contact", [{"Id": "003A", "Title": "CEO"}])  # add_column, then the row
    assert records.frame("Contact", ["Title"])["Title"].tolist() == ["CEO"]
    pg.db.conn.execute("BEGIN")
    pg.db.conn.execute('CREATE TABLE "Gone" ("Id" TEXT PRIMARY KEY)')
    assert pg.db.table("Gone").exists()
    pg.db.conn.execute("ROLLBACK")
    assert not pg.db.table("Gone").exists()


def test_a_run_sees_the_columns_another_process_added(url: str, pg: Store) -> None:
    """The schema cache is per connection; another process's new column (a sync's pull
    declares it while a worker waits between passes) is seen at the worker's next run, which
    starts with one look at the whole schema (``Store.notice_schema``), not ~40 catalog
    queries. Before, the worker read the column as missing (None) until it restarted."""
    worker = pg  # the worker's connection, warm
    worker.records.upsert("Contact", [{"Id": "003A", "Email": "ada@example.com"}])
    assert worker.records.frame("Contact", ["Id", "Phone"])["Phone"].tolist() == [None]
    sync = Store(url)  # another process
    try:
        sync.records.declare("Contact", {"Phone": "phone"})
        sync.records.upsert("Contact", [{"Id": "003A", "Phone": "+1 555 0100"}])
    finally:
        sync.close()
    # between runs the worker's cache still says no such column: it does not ask each read
    assert worker.records.frame("Contact", ["Id", "Phone"])["Phone"].tolist() == [None]
    worker.notice_schema()  # a run's first step
    assert worker.records.frame("Contact", ["Phone"])["Phone"].tolist() == ["+1 555 0100"]
    seen: list[str] = []
    worker.db.conn.set_trace_callback(seen.append)
    worker.notice_schema()  # nothing changed: the cache stays
    assert worker.records.frame("Contact", ["Phone"])["Phone"].tolist() == ["+1 555 0100"]
    assert len(seen) == 2  # the look and the read
    assert [s for s in seen if "information_schema" in s] == []


def test_information_schema_is_asked_once_per_connection(pg: Store) -> None:
    records = pg.records
    records.upsert("Contact", [{"Id": "003A", "Email": "ada@example.com"}])
    seen: list[str] = []
    for n in range(3):
        if n == 1:  # after the warm-up
            pg.db.conn.set_trace_callback(seen.append)
        records.frame("Contact", ["Id", "Email"], any_of={"Id": ["003A"]})
        records.with_emails("Contact", ["Id"], ["ada@example.com"])
        assert pg.db.table("sf_Contact").pks == ["Id"]  # the records table
    assert seen
    assert [s for s in seen if "information_schema" in s] == []

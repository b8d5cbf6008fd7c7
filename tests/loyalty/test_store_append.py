"""``store.loyalty.append``: a big batch outside a transaction is committed in chunks (the write
lock is released between them); inside a member transaction it stays one transaction; a batch
cut short after some chunks is completed by booking it again (keys are unique). The journal the
store keeps has the domain's columns and comes back typed as the domain's ledger types it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from connector.loyalty.ledger import JOURNAL_COLUMNS, as_journal, empty_journal, entry
from connector.store import Store
from connector.store import loyalty as stored
from connector.store.loyalty import _text, _texts
from tests.backends import ON_POSTGRES, sqlite_only, store_location

NOW = datetime(2024, 6, 1, 12, 30, tzinfo=UTC)
#: How a write transaction opens on the test backend (PostgreSQL: then the write lock).
BEGIN = "BEGIN" if ON_POSTGRES else "BEGIN IMMEDIATE"


def _entries(n: int) -> pd.DataFrame:
    return as_journal(
        [
            entry(
                key=f"club:adjustment:k{i}",
                program="club",
                member="Contact:a",
                kind="adjustment",
                currency="points",
                points=10 + i,
                at=NOW + timedelta(minutes=i),
                lot=f"club:adjustment:k{i}",
                expires_at=NOW + timedelta(days=365, microseconds=i),
                source_type="admin",
                reason="test",
            )
            for i in range(n)
        ]
    )


def _begun(seen: list[str]) -> int:
    """How many transactions the traced statements began (on PostgreSQL, ``BEGIN`` and the
    write lock go as one statement, ``BEGIN; SELECT pg_advisory_xact_lock(...)``)."""
    return sum(1 for statement in seen if statement.split(";", 1)[0].strip() == BEGIN)


def _statements(store: Store) -> list[str]:
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    return seen


def test_outside_a_transaction_every_chunk_is_committed_on_its_own(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))
    try:
        books = store.loyalty
        seen = _statements(store)
        assert books.append(_entries(5), chunk=2) == 5
        assert _begun(seen) == 3  # 2 + 2 + 1 entries
        assert seen.count("COMMIT") == 3
        stored = books.journal("club")
        assert list(stored["points"]) == [10, 11, 12, 13, 14]
        assert list(stored["expires_at"]) == list(_entries(5)["expires_at"])
    finally:
        store.close()


def test_inside_a_member_transaction_the_batch_is_one_transaction(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))
    try:
        books = store.loyalty
        seen = _statements(store)
        with books.member_transaction():
            assert books.append(_entries(5), chunk=2) == 5
        assert _begun(seen) == 1
        assert seen.count("COMMIT") == 1
    finally:
        store.close()


def test_a_batch_cut_short_between_chunks_is_completed_by_booking_it_again(
    database: Path | str,
) -> None:
    store = Store(database)
    try:
        books = store.loyalty
        batch = _entries(5)
        assert books.append(batch.iloc[:2], chunk=2) == 2  # the chunks committed before a crash
        assert books.append(batch, chunk=2) == 3
        assert books.append(batch, chunk=2) == 0
        assert list(books.journal("club")["key"]) == list(batch["key"])
    finally:
        store.close()


def test_time_columns_are_stored_as_the_same_text_as_value_by_value() -> None:
    column = pd.Series(
        pd.to_datetime(
            [
                "2024-06-01T00:00:00Z",
                "2024-06-01T01:02:03.123Z",
                "2024-06-01T01:02:03.123456789Z",
                None,
                "1999-12-31T23:59:59.000001+02:00",
            ],
            utc=True,
            format="ISO8601",
        )
    )
    for values in (column, column.dt.tz_convert("Europe/Berlin"), column.astype(object)):
        assert _texts(values) == [_text(v) for v in values]
    assert _texts(column)[0] == "2024-06-01T00:00:00+00:00"
    assert _texts(column)[3] is None


def test_the_stored_journal_has_the_domains_columns(store: Store) -> None:
    # The store's columns are its own (frozen in migration v4); the domain maps onto them. A
    # column the domain adds must come with a migration, or append would silently drop it.
    assert stored.JOURNAL_COLUMNS == JOURNAL_COLUMNS
    table = [c.name for c in store.db.table("loyalty_journal").columns]
    assert table == ["seq", *JOURNAL_COLUMNS]


def test_the_journal_comes_back_as_the_domain_types_it(store: Store) -> None:
    pd.testing.assert_frame_equal(store.loyalty.journal("club"), empty_journal())
    batch = _entries(3)
    batch.loc[1, "expires_at"] = pd.NaT  # a missing time stays missing
    store.loyalty.append(batch)
    back = store.loyalty.journal("club")
    pd.testing.assert_frame_equal(back, as_journal(batch))
    pd.testing.assert_frame_equal(stored.empty_journal(), empty_journal())


def _plan(store: Store, sql: str, params: list[object]) -> str:
    rows = store.db.conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    return " | ".join(str(r[-1]) for r in rows)


def _indexes(store: Store) -> set[str]:
    """The journal's indexes the migrations made (not those behind its primary key)."""
    if store.url is not None:  # PostgreSQL
        sql = (
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = 'loyalty_journal' AND indexname != 'loyalty_journal_pkey'"
        )
    else:
        sql = (
            "SELECT name FROM sqlite_master WHERE type = 'index' AND "
            "tbl_name = 'loyalty_journal' AND sql IS NOT NULL"
        )
    return {r[0] for r in store.db.conn.execute(sql)}


def test_the_journal_keeps_only_the_indexes_its_reads_use(store: Store) -> None:
    # the idempotency key, a member's journal, the loyalty API token's daily cap
    assert _indexes(store) == {
        "idx_loyalty_journal_key",
        "idx_loyalty_journal_program_member",
        "loyalty_journal_token",
    }


@sqlite_only("SQLite's query plans (EXPLAIN QUERY PLAN, INDEXED BY)")
def test_the_journals_reads_use_its_indexes(tmp_path: Path) -> None:
    store = Store(tmp_path / "l2l.sqlite")
    try:
        books = store.loyalty
        since = _text(NOW)
        # The token cap's read finds the token's entries through the partial index (only the
        # API's entries carry a token, so a sync's bulk append never touches it).
        cap = _plan(
            store,
            "SELECT COALESCE(SUM(points), 0) FROM loyalty_journal WHERE program = ? AND "
            "token = ? AND kind = 'accrual' AND currency = 'points' AND at >= ?",
            ["club", "t1", since],
        )
        assert "loyalty_journal_token" in cap
        member = _plan(
            store,
            "SELECT seq FROM loyalty_journal WHERE program = ? AND member IN (?, ?)",
            ["club", "a", "b"],
        )
        assert "idx_loyalty_journal_program_member" in member
        tokened = _entries(3).assign(token=["t1", None, "t1"], kind="accrual")
        books.append(tokened)
        assert books.token_accrued("club", "t1", NOW) == 10 + 12
        in_index = store.db.conn.execute(
            "SELECT COUNT(*) FROM loyalty_journal INDEXED BY loyalty_journal_token "
            "WHERE program = 'club' AND token IS NOT NULL"
        ).fetchone()[0]
        assert in_index == 2
    finally:
        store.close()


def _index_sql(store: Store) -> list[tuple[str, str]]:
    return store.db.conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
        "tbl_name = 'loyalty_journal' ORDER BY name"
    ).fetchall()


def _sums(store: Store) -> list[list[tuple[object, ...]]]:
    return [
        store.db.conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
        for table in ("loyalty_sums", "loyalty_member_sums", "loyalty_days")
    ]


@sqlite_only("a first load into an empty SQLite journal, its indexes built after the rows")
def test_a_first_load_books_what_the_chunked_append_books(tmp_path: Path) -> None:
    # A batch into an empty journal builds its indexes after the rows, in one transaction;
    # the journal, its seq order, the skipped duplicate key, the indexes and the admin totals
    # are those of the chunked append.
    batch = _entries(6)
    batch = pd.concat([batch, batch.iloc[[2]].assign(points=999)], ignore_index=True)
    chunked, loaded = Store(tmp_path / "a.sqlite"), Store(tmp_path / "b.sqlite")
    try:
        indexes = _index_sql(loaded)
        assert chunked.loyalty.append(batch, chunk=2, first_load=10**9) == 6
        seen = _statements(loaded)
        assert loaded.loyalty.append(batch, chunk=2, first_load=3) == 6
        assert seen.count("BEGIN IMMEDIATE") == 1  # one transaction, not one per chunk
        assert any(s.startswith("DROP INDEX") for s in seen)
        assert _index_sql(loaded) == indexes  # every index back, as it was
        journal = loaded.loyalty.journal("club")
        pd.testing.assert_frame_equal(journal, chunked.loyalty.journal("club"))
        assert 999 not in set(loaded.loyalty.journal("club")["points"])
        seqs = "SELECT seq, key FROM loyalty_journal ORDER BY seq"
        assert loaded.db.conn.execute(seqs).fetchall() == chunked.db.conn.execute(seqs).fetchall()
        assert _sums(loaded) == _sums(chunked)
        # the unique key holds again: booking the batch once more adds nothing
        assert loaded.loyalty.append(batch, chunk=2, first_load=3) == 0
    finally:
        chunked.close()
        loaded.close()


def test_a_journal_with_entries_is_appended_in_chunks(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))
    try:
        batch = _entries(5)
        assert store.loyalty.append(batch.iloc[:1], first_load=10**9) == 1
        seen = _statements(store)
        assert store.loyalty.append(batch, chunk=2, first_load=3) == 4
        assert not any(s.startswith("DROP INDEX") for s in seen)
        assert _begun(seen) == 3
    finally:
        store.close()

"""Big batch writes on PostgreSQL go through ``COPY`` and one set statement
(``connector/store/postgres.py``: :func:`copy_plan` for inserts, :func:`keyed_plan` for
updates and deletes) and must land exactly as the row-by-row statement lands them on SQLite:
the same rows, the same values and types, the same count of changed rows, in the same order;
a batch the set statement cannot take (two rows for one ``DO UPDATE`` key, or for one
``UPDATE`` key) keeps the row-by-row path. Each test runs the same batches on a SQLite file
and a fresh PostgreSQL schema and compares what each holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from connector.store import Store
from connector.store.postgres import COPY_MIN_ROWS, KEYED_MIN_ROWS, copy_plan, keyed_plan, translate
from tests.backends import postgres_schema

N = COPY_MIN_ROWS + 100  # over the threshold: the COPY path

TABLE = (
    "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, n INTEGER, r REAL, "
    "b BLOB, s TEXT, flag BOOLEAN, state TEXT, UNIQUE (k))"
)
LOG = "CREATE TABLE log (seq INTEGER PRIMARY KEY, what TEXT, n INTEGER)"


@pytest.fixture
def both(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """A SQLite store and a PostgreSQL one, each with the tables above."""
    with postgres_schema() as url:
        lite, pg = Store(tmp_path / "l2l.sqlite"), Store(url)
        for store in (lite, pg):
            store.db.execute(TABLE)
            store.db.execute(LOG)
        yield lite, pg
        lite.close()
        pg.close()


def _row(i: int) -> tuple[Any, ...]:
    # text COPY must escape these: tab, newline, backslash, a \N that is not NULL, quotes
    text = None if i % 7 == 0 else f"v{i}\t'\"\\N\\\n{'x' * (i % 5)}"
    blob = None if i % 11 == 0 else bytes([i % 256, 0, 92, 10, 9]) + b"\\x00"
    return (i, f"k{i}", 2**62 + i, i / 3, blob, text, i % 2 == 0)


def _both(both: tuple[Store, Store], sql: str, rows: list[tuple[Any, ...]]) -> list[int]:
    """Run one executemany on each store; the rows each changed."""
    changed = []
    for store in both:
        before = store.db.conn.total_changes
        store.db.conn.executemany(sql, rows)
        changed.append(store.db.conn.total_changes - before)
    return changed


def _held(store: Store, table: str = "t") -> list[tuple[Any, ...]]:
    order = "seq" if table == "log" else "id"
    return [tuple(r) for r in store.db.execute(f"SELECT * FROM {table} ORDER BY {order}")]


INSERT = "INSERT INTO t (id, k, n, r, b, s, flag, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'new')"
UPSERT = (
    INSERT + " ON CONFLICT (k) DO UPDATE SET n = excluded.n + 1, s = excluded.s, "
    "state = 'updated' WHERE excluded.n IS NOT t.n"
)


def test_a_big_batch_lands_as_sqlite_lands_it(both: tuple[Store, Store]) -> None:
    rows = [_row(i) for i in range(N)]
    assert copy_plan(translate(INSERT), rows) is not None  # this is the COPY path
    assert _both(both, INSERT, rows) == [N, N]
    lite, pg = both
    assert _held(pg) == _held(lite)
    assert _held(pg)[N - 1][2] == 2**62 + N - 1  # 64-bit, not a double's 53


def test_an_upsert_batch_updates_as_row_by_row_does(both: tuple[Store, Store]) -> None:
    _both(both, INSERT, [_row(i) for i in range(N)])
    # half unchanged (the WHERE keeps them), half changed, and new rows past the end
    again = [(*_row(i)[:2], _row(i)[2] + (i % 2), *_row(i)[3:]) for i in range(N // 2, N + N)]
    assert copy_plan(translate(UPSERT), again) is not None
    changed = _both(both, UPSERT, again)
    assert changed[0] == changed[1] == len(range(N // 2, N)) // 2 + N
    lite, pg = both
    assert _held(pg) == _held(lite)


def test_a_batch_with_one_key_twice_keeps_the_row_by_row_path(both: tuple[Store, Store]) -> None:
    rows = [_row(i) for i in range(N)] + [(N, "k3", 7, 0.5, None, "again", True)]
    assert copy_plan(translate(UPSERT), rows) is None  # one statement would refuse it
    assert _both(both, UPSERT, rows) == [N + 1, N + 1]
    lite, pg = both
    assert _held(pg) == _held(lite)
    ignore = "INSERT INTO t (id, k, n) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
    twice = [(10_000 + i, f"z{i % 300}", i) for i in range(N)]  # DO NOTHING: the first stays
    assert copy_plan(translate(ignore), twice) is not None
    assert _both(both, ignore, twice) == [300, 300]
    assert _held(pg) == _held(lite)


def test_rows_take_their_positions_in_batch_order(both: tuple[Store, Store]) -> None:
    rows = [(f"w{(i * 7919) % N}", i) for i in range(N)]
    _both(both, "INSERT INTO log (what, n) VALUES (?, ?)", rows)
    lite, pg = both
    assert _held(pg, "log") == _held(lite, "log")
    assert [r[2] for r in _held(pg, "log")] == list(range(N))


def test_inside_a_transaction_a_failed_batch_leaves_it_usable_to_roll_back(
    both: tuple[Store, Store],
) -> None:
    from connector.store.backend import transaction

    _, pg = both
    rows = [_row(i) for i in range(N)]

    def batches() -> None:
        with transaction(pg.db.conn):
            pg.db.conn.executemany("INSERT INTO log (what, n) VALUES (?, ?)", [("a", 1)] * N)
            pg.db.conn.executemany(INSERT, [*rows, rows[0]])  # the id twice: refused

    with pytest.raises(psycopg.errors.UniqueViolation):
        batches()
    assert _held(pg, "log") == []
    assert _held(pg) == []
    pg.db.conn.executemany(INSERT, rows)  # the connection goes on
    assert len(_held(pg)) == N


def test_statements_the_plan_cannot_take_are_left_alone() -> None:
    rows = [(1, 2)] * N
    assert copy_plan("INSERT INTO t (a, b) VALUES (%s, %s) RETURNING a", rows) is None
    assert copy_plan("INSERT INTO t (a, b) VALUES (%s, lower(%s))", rows) is None
    assert copy_plan("UPDATE t SET a = %s WHERE b = %s", rows) is None
    plan = copy_plan("INSERT INTO t (a, b, c) VALUES (%s, 'x, y', %s)", rows)
    assert plan is not None
    assert plan.insert == (
        "INSERT INTO t (a, b, c) SELECT _l2l_stage.a, 'x, y', _l2l_stage.c FROM _l2l_stage"
    )


KEYED = max(N, KEYED_MIN_ROWS)  # over both thresholds: the set statement
BUMP = "UPDATE t SET n = n + 1, s = ?, state = 'bumped' WHERE state = 'new' AND k = ?"


def test_an_update_batch_updates_as_row_by_row_does(both: tuple[Store, Store]) -> None:
    _both(both, INSERT, [_row(i) for i in range(KEYED)])
    # every other key, some past the end (no row), text that COPY must escape, a NULL
    rows = [(_row(i)[5], f"k{i}") for i in range(0, KEYED + 40, 2)]
    assert keyed_plan(translate(BUMP), rows) is not None  # this is the set path
    assert _both(both, BUMP, rows) == [KEYED // 2, KEYED // 2]
    # again: the bumped rows no longer match their WHERE, the others do
    again = [(f"again{i}", f"k{i}") for i in range(KEYED)]
    assert _both(both, BUMP, again) == [KEYED // 2, KEYED // 2]
    lite, pg = both
    assert _held(pg) == _held(lite)
    swap = "UPDATE t SET n = ?, r = ?, flag = ? WHERE id = ?"  # numbers and checkboxes, typed
    rows = [(2**62 - i, i / 7, i % 3 == 0, i) for i in range(KEYED)]
    assert keyed_plan(translate(swap), rows) is not None
    assert _both(both, swap, rows) == [KEYED, KEYED]
    assert _held(pg) == _held(lite)


def test_a_delete_batch_deletes_as_row_by_row_does(both: tuple[Store, Store]) -> None:
    _both(both, INSERT, [_row(i) for i in range(KEYED)])
    # a key twice and a range term: a row goes once, whichever parameter row matches it
    doomed = "DELETE FROM t WHERE k = ? AND n <= ?"
    rows = [(f"k{i % (KEYED // 2)}", 2**62 + i) for i in range(KEYED)]
    assert keyed_plan(translate(doomed), rows) is not None
    changed = _both(both, doomed, rows)
    assert changed[0] == changed[1] == KEYED // 2
    lite, pg = both
    assert _held(pg) == _held(lite)


def test_an_update_batch_with_one_key_twice_keeps_the_row_by_row_path(
    both: tuple[Store, Store],
) -> None:
    _both(both, INSERT, [_row(i) for i in range(KEYED)])
    count = "UPDATE t SET n = n + 1 WHERE k = ?"
    rows = [(f"k{i % 10}",) for i in range(KEYED)]  # each of ten keys many times
    assert keyed_plan(translate(count), rows) is None  # one statement would add one
    assert _both(both, count, rows) == [KEYED, KEYED]
    lite, pg = both
    assert _held(pg) == _held(lite)
    assert _held(pg)[3][2] == 2**62 + 3 + len(range(3, KEYED, 10))


def test_statements_the_keyed_plan_cannot_take_are_left_alone() -> None:
    rows = [(i, i) for i in range(KEYED)]
    assert keyed_plan("UPDATE t SET a = %s WHERE b = %s OR c = 1", rows) is None
    assert keyed_plan("UPDATE t SET a = %s WHERE b = %s RETURNING a", rows) is None
    assert keyed_plan("UPDATE t SET a = %s WHERE b IN (SELECT b FROM u WHERE c = %s)", rows) is None
    assert keyed_plan("UPDATE t SET a = lower(%s) WHERE b = %s", rows) is None
    assert keyed_plan("UPDATE t SET b = %s WHERE b = %s", rows) is None  # a key it assigns
    assert keyed_plan("UPDATE t SET a = %s WHERE b > %s", rows) is None  # no key
    assert keyed_plan("DELETE FROM t WHERE a = %s", rows) is None  # two values for one mark
    same = [(0, 1), (0, "1"), (0, 2.0), (0, "2")]  # two keys to the server, four to Python
    assert keyed_plan("UPDATE t SET a = %s WHERE b = %s", same) is None
    assert keyed_plan("UPDATE t SET a = %s WHERE b = %s", same[1:3]) is not None
    assert keyed_plan("UPDATE t SET a = %s WHERE b = %s", [(0, {"x": 1})] * KEYED) is None
    plan = keyed_plan("UPDATE t SET a = %s, c = 'x = %%s, WHERE' WHERE b = %s", rows)
    assert plan is not None
    assert plan.prepare == "UPDATE t SET a = $1, c = 'x = %s, WHERE' WHERE b = $2"
    assert plan.statement == (
        "UPDATE t SET a = _l2l_stage._p1, c = 'x = %s, WHERE' FROM _l2l_stage "
        "WHERE b = _l2l_stage._p2"
    )

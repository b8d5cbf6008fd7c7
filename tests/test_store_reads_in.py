"""Reads of "rows whose column is one of these values" in chunks under the bound-parameter
limits (``connector/store/backend.py``: ``rows_in``, ``frame_in``): the same rows a single
statement gives, for lists longer than a chunk, with duplicates, with parameters before the
list and clauses after it; no statement for none. And the events of many people's emails,
read a chunk of emails at a time: a run of 40,000 people's emails passed PostgreSQL's 65,535
parameters in one statement (each binds its list twice). On both backends."""

from __future__ import annotations

from typing import Any

import pandas as pd

from connector.store import Store
from connector.store.backend import IN_CHUNK, frame_in, rows_in


def _table(store: Store) -> None:
    conn = store.db.conn
    conn.execute("CREATE TABLE picks (kind TEXT, name TEXT, n INTEGER)")
    rows: list[Any] = [("a" if n % 3 else "b", f"p{n:02d}", n) for n in range(40)]
    conn.executemany("INSERT INTO picks (kind, name, n) VALUES (?, ?, ?)", rows)


def test_rows_in_reads_what_one_statement_reads(store: Store) -> None:
    _table(store)
    conn = store.db.conn
    names = [f"p{n:02d}" for n in (3, 1, 4, 1, 5, 9, 2, 6, 35, 38, 99)]  # duplicates, a miss
    once = conn.execute(
        f"SELECT name, n FROM picks WHERE kind = ? AND name IN ({', '.join('?' * len(names))}) "
        "ORDER BY n",
        ["a", *names],
    ).fetchall()
    chunked = rows_in(
        conn,
        "SELECT name, n FROM picks WHERE kind = ? AND name",
        names,
        before=["a"],
        tail=" ORDER BY n",
        chunk=3,
    )
    assert sorted(chunked) == sorted(once)
    assert len(once) == 6  # 1, 4, 5, 2, 35, 38 are kind "a"; 3, 9, 6 are "b"; 99 is none
    assert rows_in(conn, "SELECT name FROM picks WHERE name", []) == []


def test_frame_in_reads_one_frame_with_the_columns_of_none(store: Store) -> None:
    _table(store)
    conn = store.db.conn
    names = [f"p{n:02d}" for n in range(0, 40, 2)]
    frame = frame_in(conn, "SELECT name, n FROM picks WHERE name", names, chunk=7)
    assert sorted(frame["name"]) == names
    assert frame["n"].dtype == "int64"
    assert list(frame.index) == list(range(len(names)))
    none = frame_in(conn, "SELECT name, n FROM picks WHERE kind = ? AND name", [], before=["a"])
    assert none.empty
    assert list(none.columns) == ["name", "n"]


def _event(n: int, email: str | None, anonymous: str | None, kind: str = "track") -> dict:
    return {
        "source": "test",
        "delivery_id": f"d{n}",
        "type": kind,
        "name": "Product Viewed" if kind == "track" else None,
        "occurred_at": f"2026-11-{1 + n % 28:02d}T10:00:00.000+00:00",
        "email": email,
        "contact_id": None,
        "lead_id": None,
        "anonymous_id": anonymous,
        "properties": "{}",
    }


def test_the_events_of_more_emails_than_a_statement_binds(store: Store) -> None:
    # more than PostgreSQL binds in one statement twice (2 x 33,000 > 65,535), several chunks
    emails = [f"p{n}@example.com" for n in range(33_000)]
    assert len(emails) > 6 * IN_CHUNK
    first, last = emails[0], emails[-1]  # in the first chunk and in the last
    store.events.append(
        [
            _event(1, first, "anon-1"),  # the first chunk finds it by email...
            _event(2, last, "anon-1", kind="identify"),  # ...the last by its anonymous id
            _event(3, last, None),
            _event(4, None, "anon-1"),  # anonymous, tied to both by anon-1
            _event(5, "someone@example.com", None),
        ]
    )
    read = store.events.frame(["Product Viewed"], emails=emails)
    assert sorted(read["delivery_id"]) == ["d1", "d2", "d3", "d4"]
    alone = pd.concat(
        [
            store.events.frame(["Product Viewed"], emails=[first]),
            store.events.frame(["Product Viewed"], emails=[last]),
        ]
    )
    assert set(read["delivery_id"]) == set(alone["delivery_id"])

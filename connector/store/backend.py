"""Which backend holds the store: SQLite (a file path) or PostgreSQL (a ``postgresql://`` URL).

The repositories are written once against what ``sqlite_utils.Database`` and
``sqlite3.Connection`` offer; :mod:`connector.store.postgres` offers the same over psycopg (its
docstring says why a dialect layer and not SQLAlchemy). The few things that differ by backend
beyond the SQL spelling are here: opening, a write transaction, reading a DataFrame, fsync.
Type checkers see the SQLite types: the PostgreSQL classes stand in for them at run time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pandas as pd
import psycopg.errors
import sqlite_utils

from connector.store import postgres, sqlite


def open_database(location: Path | str) -> sqlite_utils.Database:
    """The database at ``location``: a ``postgresql://`` URL, else a SQLite file path."""
    if postgres.is_url(location):
        return cast(sqlite_utils.Database, postgres.open_database(str(location)))
    return sqlite.open_database(Path(location))


def is_postgres(db: Any) -> bool:
    """True when ``db`` (a database or its connection) is PostgreSQL."""
    return getattr(db, "dialect", None) == "postgresql"


#: What a read of a table or column this database may not have raises: sqlite3 says
#: ``OperationalError`` ("no such table"), psycopg names the missing thing.
MISSING: tuple[type[Exception], ...] = (
    sqlite3.OperationalError,
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedColumn,
)


def whole_part(db: Any, number: str) -> str:
    """SQL for the SQL expression ``number`` as an integer, its fraction dropped (toward zero):
    SQLite's ``CAST(... AS INTEGER)`` drops it, PostgreSQL's rounds to the nearest (3.9 -> 4)."""
    if is_postgres(db):
        return f"CAST(TRUNC({number}) AS INTEGER)"
    return f"CAST({number} AS INTEGER)"


def clamped(db: Any, number: str, low: str | None, high: str) -> str:
    """SQL for the SQL expression ``number`` kept within ``low`` (none: no floor) and ``high``:
    SQLite's scalar ``MAX(a, b)``/``MIN(a, b)`` are PostgreSQL's ``GREATEST``/``LEAST``."""
    most, least = ("GREATEST", "LEAST") if is_postgres(db) else ("MAX", "MIN")
    floored = number if low is None else f"{most}({number}, {low})"
    return f"{least}({floored}, {high})"


@contextmanager
def transaction(conn: Any) -> Iterator[None]:
    """One write transaction: everything inside lands, or nothing does. Writers queue one at a
    time on both backends (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: the write lock, see
    :mod:`connector.store.postgres`)."""
    if not is_postgres(conn):
        with sqlite.transaction(conn):
            yield
        return
    try:
        # one round trip for both (no parameters: the simple query protocol takes the two
        # statements at once); each round trip of a short transaction is a wait that, under
        # load, the next writer spends queued on the lock
        conn.execute(postgres.BEGIN_WRITE)
        yield
    except BaseException:
        if conn.in_transaction:  # the BEGIN went through even when the lock was refused
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def read_frame(sql: str, conn: Any, params: Sequence[Any] | None = None) -> pd.DataFrame:
    """The rows of a query as a DataFrame (pandas reads sqlite3 itself; a PostgreSQL result is
    built the way pandas builds one, records with floats coerced)."""
    if not is_postgres(conn):
        return pd.read_sql_query(sql, conn, params=params)
    cursor = conn.execute(sql, list(params or []))
    names = [d.name for d in cursor.description or []]
    return pd.DataFrame.from_records(cursor.fetchall(), columns=names, coerce_float=True)


#: Values bound in one ``IN (...)`` list; longer lists are read a chunk at a time. SQLite
#: allows 32,766 bound parameters in a statement by default since 3.32 (https://www.sqlite.org/
#: limits.html, "Maximum Number Of Host Parameters In A Single SQL Statement"; Debian's build
#: allows 250,000), PostgreSQL's protocol 65,535 ("number of parameters must be between 0 and
#: 65535"): 5,000 leaves room for a statement that binds its list twice, with a few more.
IN_CHUNK = 5000


def marks(count: int) -> str:
    """``?, ?, ...``: ``count`` placeholders for an ``IN (...)`` list."""
    return ", ".join("?" * count)


def chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[list[Any]]:
    """The distinct ``values`` in lists of at most ``size``, in order (none for no values): a
    value twice, in two chunks, would read its rows twice where one ``IN`` list reads them
    once."""
    distinct = list(dict.fromkeys(values))
    for start in range(0, len(distinct), max(size, 1)):
        yield distinct[start : start + size]


def rows_in(
    conn: Any,
    head: str,
    values: Sequence[Any],
    *,
    before: Sequence[Any] = (),
    tail: str = "",
    chunk: int = IN_CHUNK,
) -> list[Any]:
    """The rows of ``{head} IN (...){tail}`` for every one of ``values``, a chunk of them per
    statement (``before``: the parameters ``head`` binds). No values: no statement, no rows
    (PostgreSQL refuses an empty ``IN ()``)."""
    rows: list[Any] = []
    for part in chunks(values, chunk):
        sql = f"{head} IN ({marks(len(part))}){tail}"
        rows += conn.execute(sql, [*before, *part]).fetchall()
    return rows


def frames_in(
    conn: Any,
    head: str,
    values: Sequence[Any],
    *,
    before: Sequence[Any] = (),
    tail: str = "",
    chunk: int = IN_CHUNK,
) -> list[pd.DataFrame]:
    """:func:`rows_in` as a frame per chunk, each read as :func:`read_frame` reads; none for no
    values. For a caller that joins them with frames of its own in one concat: pandas types a
    column from the frames of one concat, and joining the chunks first can type it otherwise
    (an int chunk, a float chunk and an all-NULL one give Python ints flat, floats nested)."""
    return [
        read_frame(f"{head} IN ({marks(len(part))}){tail}", conn, [*before, *part])
        for part in chunks(values, chunk)
    ]


def frame_in(
    conn: Any,
    head: str,
    values: Sequence[Any],
    *,
    before: Sequence[Any] = (),
    tail: str = "",
    chunk: int = IN_CHUNK,
) -> pd.DataFrame:
    """:func:`frames_in` as one frame; no values: the columns of an empty read."""
    parts = frames_in(conn, head, values, before=before, tail=tail, chunk=chunk)
    if not parts:  # IN (NULL) matches nothing, and is valid on both backends
        return read_frame(f"{head} IN (NULL){tail}", conn, list(before))
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def set_fsync(db: sqlite_utils.Database, every_commit: bool) -> None:
    """SQLite: ``synchronous=FULL`` or ``NORMAL``. PostgreSQL syncs every commit already
    (``synchronous_commit = on``, its default), which this leaves as it is."""
    if not is_postgres(db):
        sqlite.set_fsync(db, every_commit)

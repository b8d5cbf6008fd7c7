"""SQLite itself: opening the file, its PRAGMAs, transactions, and its errors as the connector's.

The SQLite-only parts of the store live here, in ``schema.py`` (the migrations: triggers, a
partial index) and in the few statements that say so in a comment (``json_extract``, the retype
of a column, a ``WITHOUT ROWID`` temporary table). A second backend (PostgreSQL behind
``DATABASE_URL``, issue 20) replaces this module and those places; the repositories' other
SQL is the common subset both speak (``INSERT ... ON CONFLICT ... DO UPDATE``, ``RETURNING``).

Errors. sqlite3 raises ``OperationalError`` for a busy database and for a bug alike; callers
above the store must not tell them apart by message. Every statement goes through
:class:`_Connection` (and its cursors), which turns

- SQLITE_BUSY / SQLITE_LOCKED (another process held the write lock past the busy timeout)
  into :class:`~connector.errors.Busy`: nothing was written, the caller may retry;
- a database the process cannot use (full disk, read-only file, I/O error, not a database,
  corrupt) into :class:`~connector.errors.StoreError`, one line naming the file;

and leaves every other error (a missing table, bad SQL: a bug) as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import sqlite_utils

from connector.errors import Busy, ConfigError, StoreError

#: How long a statement waits for another process's write lock before it raises Busy.
BUSY_TIMEOUT_MS = 10_000

_HINT = "set L2L_DATABASE to a file path in a folder this user can write"

# Primary result codes (https://www.sqlite.org/rescode.html); Python 3.11 exposes the extended
# code as ``sqlite_errorcode``, whose low byte is the primary one.
_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_UNUSABLE = {3, 8, 10, 11, 13, 14, 26}  # PERM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB


def _raise(exc: sqlite3.Error, path: str) -> NoReturn:
    """Raise the connector's error for a sqlite3 error, or the error itself (a bug)."""
    translated = _translated(exc, path)
    if translated is exc:
        raise exc
    raise translated from exc


def _translated(exc: sqlite3.Error, path: str) -> Exception:
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in _BUSY:
        return Busy(
            f"the database {path} is busy: another process held its write lock for over "
            f"{BUSY_TIMEOUT_MS // 1000} s; nothing was written, retry in a few seconds"
        )
    if primary in _UNUSABLE or type(exc) is sqlite3.DatabaseError:
        return StoreError(f"the database {path} cannot be used ({exc}); check L2L_DATABASE")
    return exc


class _Cursor(sqlite3.Cursor):
    """A cursor whose statements raise the connector's errors (pandas reads through these)."""

    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            _raise(exc, str(getattr(self.connection, "label", "?")))

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> _Cursor:
        try:
            return super().executemany(sql, seq_of_parameters)
        except sqlite3.Error as exc:
            _raise(exc, str(getattr(self.connection, "label", "?")))


class _Connection(sqlite3.Connection):
    """A connection whose statements raise the connector's errors (see the module docstring)."""

    label = "?"  # the database's path, for messages

    def cursor(self, factory: Any = _Cursor) -> Any:
        """A cursor that translates errors like the connection does."""
        return super().cursor(factory)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        """``sqlite3.Connection.execute`` with the connector's errors."""
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            _raise(exc, self.label)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        """``sqlite3.Connection.executemany`` with the connector's errors."""
        try:
            return super().executemany(sql, parameters)
        except sqlite3.Error as exc:
            _raise(exc, self.label)


#: The page cache of a connection, in KiB (``PRAGMA cache_size`` takes a negative number as
#: KiB): memory spent where bulk writes meet indexes.
CACHE_KIB = 65_536


def open_database(path: Path) -> sqlite_utils.Database:
    """The database at ``path`` (``:memory:`` for a private one), in WAL mode with
    ``synchronous=NORMAL`` and the busy timeout; a path that cannot hold one is a
    :class:`ConfigError` naming it, not an OS traceback."""
    if str(path) == ":memory:":
        conn = sqlite3.connect(
            ":memory:", isolation_level=None, check_same_thread=False, factory=_Connection
        )
    else:
        conn = _connect(path)
    conn.label = str(path)
    db = sqlite_utils.Database(conn)
    try:
        if str(path) != ":memory:":
            db.enable_wal()
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # A 64 MiB page cache (SQLite's default is 2 MiB): a big batch inserts into indexes in
        # key order, not row order, and with a small cache each insert pages a B-tree in and
        # out. Appending the medium seed's 678,110 journal entries took 19.2 s of CPU with
        # the default, 11.6 s with this (bench/bookkeeping.py).
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    except StoreError as exc:  # not a database at all: a setting to fix, said as one
        conn.close()
        raise ConfigError(f"cannot open the database {path} ({exc.__cause__}); {_HINT}") from None
    return db


def _connect(path: Path) -> _Connection:
    hint = _HINT
    if path.is_dir():
        raise ConfigError(f"database {path} is a directory; {hint}")
    folder = next((p for p in path.parents if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise ConfigError(f"cannot create the database {path}: {folder} is a file; {hint}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            str(path), isolation_level=None, check_same_thread=False, factory=_Connection
        )
        conn.execute("PRAGMA schema_version").fetchone()  # opening is lazy: touch the file
    except (OSError, sqlite3.Error, StoreError) as exc:
        cause = exc.__cause__ if isinstance(exc, StoreError) else exc
        reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(cause)
        raise ConfigError(f"cannot open the database {path} ({reason}); {hint}") from None
    assert isinstance(conn, _Connection)
    return conn


def set_fsync(db: sqlite_utils.Database, every_commit: bool) -> None:
    """``synchronous=FULL`` (an fsync per commit: a commit survives power loss) or ``NORMAL``
    (a commit survives any crash of the process; WAL syncs at checkpoints)."""
    db.conn.execute(f"PRAGMA synchronous={'FULL' if every_commit else 'NORMAL'}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One transaction holding the write lock from its start (``BEGIN IMMEDIATE``): everything
    inside lands, or nothing does."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def json_property(column: str, name: str) -> str:
    """SQL reading the text property ``name`` of the JSON object in ``column`` (SQLite's
    ``json_extract``), an empty text as NULL. ``name`` must be a plain identifier."""
    return f"NULLIF(json_extract({column}, '$.\"{identifier(name)}\"'), '')"


def identifier(name: str) -> str:
    """``name`` if it is safe inside a quoted SQL identifier or JSON path, else ValueError."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"{name!r} is not a plain property name (letters, digits, _)")
    return name


def now() -> str:
    """The current time as the store writes it: ISO 8601, UTC, milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def backup(conn: sqlite3.Connection, target: Path) -> None:
    """Copy the database into the new file ``target`` with SQLite's online backup API
    (https://www.sqlite.org/backup.html): every page in one step, inside one read transaction,
    so the copy is one consistent moment even while other processes write (WAL lets them go on
    meanwhile). An existing ``target`` is refused, never overwritten."""
    if target.exists():
        raise ConfigError(f"{target} exists: back up into a new file")
    target.parent.mkdir(parents=True, exist_ok=True)
    copy = sqlite3.connect(str(target))
    try:
        conn.backup(copy)
    except sqlite3.Error as exc:
        copy.close()
        target.unlink(missing_ok=True)
        _raise(exc, str(target))
    copy.close()


def restore(conn: sqlite3.Connection, source: Path) -> int:
    """Replace the database's content with the backup ``source`` (the online backup API in the
    other direction: one write transaction, so another process sees the old database or the
    restored one, never a mix); returns the backup's schema version. A file that is not a
    lead2loyalty database is a :class:`ConfigError` and changes nothing."""
    if not source.is_file():
        raise ConfigError(f"{source} is not a file: give the path of a backup")
    copy = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        try:
            version = copy.execute("SELECT MAX(version) FROM _migrations").fetchone()[0]
        except sqlite3.Error:
            version = None
        if version is None:
            raise ConfigError(f"{source} is not a lead2loyalty backup (no schema version in it)")
        try:
            copy.backup(conn)
        except sqlite3.Error as exc:
            _raise(exc, str(source))
    finally:
        copy.close()
    return int(version)

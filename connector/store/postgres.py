"""PostgreSQL behind ``DATABASE_URL``: the store's second backend, beside ``sqlite.py``.

Why a dialect layer over the store's own migrations, not SQLAlchemy Core + Alembic: the store
already has one migration list (``schema.py``) and about two hundred statements written in the
subset SQLite and PostgreSQL share (``INSERT ... ON CONFLICT ... DO UPDATE/NOTHING``,
``RETURNING``, ``excluded.``). Rewriting them as Core expressions would touch every line of
every repository and give two histories (the SQLite one already released, an Alembic one) to
keep in step. Here each statement stays written once; this module opens the database, takes
what the repositories use of sqlite3 and sqlite-utils (``execute``/``executemany``,
``total_changes``, ``in_transaction``; ``table(...).create/insert/upsert/get/...``) and
answers it in PostgreSQL, and :func:`translate` rewrites the few SQLite spellings:

- ``?`` placeholders -> ``%s`` (a literal ``%`` -> ``%%``), outside quoted text only;
- type names: ``INTEGER`` -> ``BIGINT`` (SQLite's integers are 64-bit), ``REAL``/``FLOAT`` ->
  ``DOUBLE PRECISION`` (PostgreSQL's ``REAL`` is 32-bit), ``BLOB`` -> ``BYTEA``, ``BOOLEAN``
  -> ``SMALLINT`` (the store keeps checkboxes as 0/1, ``columns.py``); ``INTEGER PRIMARY KEY``
  (SQLite's row id) -> an identity column;
- ``INSERT OR IGNORE`` -> ``INSERT ... ON CONFLICT DO NOTHING``; ``a IS NOT b`` (SQLite's
  null-safe inequality) -> ``IS DISTINCT FROM``;
  ``json_extract(c, '$."p"')`` -> ``c::jsonb ->> 'p'``;
  ``instr`` -> ``strpos``; ``WITHOUT ROWID`` dropped, ``BEGIN IMMEDIATE`` -> ``BEGIN``; a table
  created without a primary key gets the ``rowid`` identity column SQLite would give it.

Typing. SQLite stores what it is given; PostgreSQL refuses an integer for a text column. Python
numbers and booleans are therefore sent as *untyped* literals (oid 0, "unknown"), which the
server types from the column or expression they meet, as SQLite's affinity does; dicts and
lists as JSON text (what ``records.py`` encodes them to for SQLite). A ``numeric`` result (a
``SUM`` of integers) comes back as ``int`` when whole, else ``float``, as SQLite's would.

Transactions: ``BEGIN`` then a transaction-level advisory lock, the same one for every
transaction of the store (the advisory locks are the schema's, :func:`advisory`), so writers
queue one at a time as under SQLite's ``BEGIN IMMEDIATE`` and every read-then-write the
repositories do (a voucher's uses, a journal's balance) keeps its meaning under READ
COMMITTED. Waits are bounded by ``lock_timeout`` (as SQLite's busy timeout).

Bulk writes: a batch of rows for an ``INSERT ... VALUES`` is copied (``COPY``) into a
temporary table typed as the target, then inserted by one ``INSERT ... SELECT`` with the
statement's own ``ON CONFLICT`` (:func:`copy_plan` says when that is the same as row by row).
A table this connection grew by half is analysed at once (:meth:`PgConnection._count`):
autovacuum would only do it within a minute, and meanwhile a plan made for an empty table
(a sequential scan, the wrong index) runs a first sync's joins over the outbox and the
written values; SQLite plans from its indexes, not from statistics. A batch of an ``UPDATE`` or
``DELETE`` whose ``WHERE`` picks rows by placeholders is staged the same way, its parameters
typed as the server types them (a ``PREPARE``), then run as one ``UPDATE ... FROM`` or
``DELETE ... USING`` the staging table (:func:`keyed_plan` says when that is the same as row
by row): row by row, each row was parsed and planned again (no prepared statements, below).

Errors, as ``sqlite.py`` says them: a lock not granted in time, a serialization failure or a
deadlock -> :class:`~connector.errors.Busy` (nothing was written; retry); a database that
cannot be reached or used (connection refused or lost, disk full) ->
:class:`~connector.errors.StoreError`, one line naming the database without its password;
every other error (bad SQL: a bug) stays as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg.errors
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.pq import TransactionStatus
from sqlite_utils.db import NotFoundError

from connector.errors import Busy, ConfigError, StoreError

#: How long a statement waits for a lock before it raises Busy (as SQLite's busy timeout).
LOCK_TIMEOUT_MS = 10_000

#: The transaction-level advisory lock every write transaction takes (an arbitrary constant;
#: the run lock, ``runs.py``, uses another).
WRITE_LOCK_KEY = 0x4C324C57  # "L2LW"


def advisory(function: str) -> str:
    """SQL calling the advisory-lock ``function`` (``pg_advisory_xact_lock``,
    ``pg_try_advisory_lock``...) for the key ``?`` in this store's schema: the two-key form,
    the key and the schema's hash, so stores in two schemas of one database (the tests' fresh
    schemas, a staging store beside production) never wait for each other's locks."""
    return f"SELECT {function}(?, hashtext(current_schema()))"


#: A write transaction's start: ``BEGIN`` and the write lock in one statement string (one
#: round trip; the key is a constant, so no parameter keeps it to the simple query protocol).
BEGIN_WRITE = "BEGIN; " + advisory("pg_advisory_xact_lock").replace("?", str(WRITE_LOCK_KEY))


_SCHEMES = ("postgresql://", "postgres://")


def is_url(location: object) -> bool:
    """True when ``location`` names a PostgreSQL database (a ``postgresql://`` URL)."""
    return isinstance(location, str) and location.startswith(_SCHEMES)


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


# ---------------------------------------------------------------------------------- typing
class _Untyped(Dumper):
    """A number sent as an untyped literal: the server types it from where it lands."""

    oid = 0

    def dump(self, obj: Any) -> Buffer:
        return repr(obj).encode() if isinstance(obj, float) else str(int(obj)).encode()


class _BoolUntyped(Dumper):
    oid = 0

    def dump(self, obj: Any) -> Buffer:
        return b"1" if obj else b"0"


class _JsonText(Dumper):
    oid = 0

    def dump(self, obj: Any) -> Buffer:
        return json.dumps(obj, default=str).encode()


class _Number(Loader):
    """``numeric`` -> int when whole, else float (SQLite has no decimal type)."""

    def load(self, data: Buffer) -> Any:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


# ------------------------------------------------------------------------------ translation
_TYPES = {
    "INTEGER": "BIGINT",
    "REAL": "DOUBLE PRECISION",
    "FLOAT": "DOUBLE PRECISION",
    "DOUBLE": "DOUBLE PRECISION",
    "BLOB": "BYTEA",
    "BOOLEAN": "SMALLINT",
}
_WORD = re.compile(r"\b(INTEGER|REAL|FLOAT|DOUBLE|BLOB|BOOLEAN)\b(?! PRECISION)", re.IGNORECASE)
_ROWID_PK = re.compile(r"\bINTEGER PRIMARY KEY\b", re.IGNORECASE)
_IS_NOT = re.compile(r"\bIS NOT (?!NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", re.IGNORECASE)
_JSON = re.compile(r"json_extract\(([^,()]+), '\$\.\"(\w+)\"'\)")
_INSTR = re.compile(r"\binstr\(", re.IGNORECASE)
_OR_IGNORE = re.compile(r"^\s*INSERT OR IGNORE INTO", re.IGNORECASE)
_RETURNING = re.compile(r"\sRETURNING\s", re.IGNORECASE)


def translate(sql: str) -> str:
    """The PostgreSQL spelling of one statement of the store's SQL (see the module docstring)."""
    sql = _JSON.sub(lambda m: f"({m.group(1)}::jsonb ->> '{m.group(2)}')", sql)
    ignore = bool(_OR_IGNORE.match(sql))
    if ignore:
        sql = _OR_IGNORE.sub("INSERT INTO", sql, count=1)
    sql = sql.replace(" WITHOUT ROWID", "")
    if sql.strip().upper() == "BEGIN IMMEDIATE":
        sql = "BEGIN"
    out: list[str] = []
    for i, part in enumerate(re.split(r"""('(?:[^']|'')*'|"(?:[^"]|"")*")""", sql)):
        if i % 2:  # quoted text or identifier: only % needs escaping
            out.append(part.replace("%", "%%"))
            continue
        part = part.replace("%", "%%").replace("?", "%s")
        part = _ROWID_PK.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", part)
        part = _WORD.sub(lambda m: _TYPES[m.group(1).upper()], part)
        part = _IS_NOT.sub("IS DISTINCT FROM ", part)
        part = _INSTR.sub("strpos(", part)
        out.append(part)
    sql = "".join(out)
    if ignore:
        returning = _RETURNING.search(sql)
        at = returning.start() if returning else len(sql)
        sql = f"{sql[:at]} ON CONFLICT DO NOTHING{sql[at:]}"
    return sql


# ------------------------------------------------------------------------------ bulk writes
#: A batch of at least this many rows goes through COPY (below it, the pipelined executemany
#: is as fast: the staging table costs three round trips and a catalog entry).
COPY_MIN_ROWS = 500

#: A table this connection wrote this many rows into (and half its size since) is analysed.
ANALYZE_MIN_ROWS = 1_000

_STAGE = "_l2l_stage"
_INSERT_VALUES = re.compile(
    r"^\s*INSERT\s+INTO\s+(?P<table>\"(?:[^\"]|\"\")+\"|\w+)\s*\((?P<columns>[^()]*)\)\s*"
    r"VALUES\s*\((?P<values>[^()]*)\)(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_ITEM = re.compile(r"(?:'(?:[^']|'')*'|[^,'])+")  # one VALUES item: quoted text may hold commas
_CONFLICT = re.compile(r"^\s*ON CONFLICT\s*\((?P<keys>[^()]*)\)\s*DO UPDATE\b", re.IGNORECASE)
_TARGET = re.compile(
    r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(\"(?:[^\"]|\"\")+\"|\w+)", re.IGNORECASE
)


@dataclass(frozen=True)
class CopyPlan:
    """One batch insert as three statements: create the staging table, ``COPY`` into it,
    insert from it."""

    stage: str
    copy: str
    insert: str


def _names(text: str) -> list[str]:
    return [c.strip() for c in text.split(",")]


def copy_plan(query: str, rows: Sequence[Any]) -> CopyPlan | None:
    """How to run ``query`` (PostgreSQL spelling) for every row of ``rows`` as ``COPY`` into a
    temporary table and one ``INSERT ... SELECT``, or None when that would not do what the
    row-by-row statement does.

    It does for ``INSERT INTO t (columns) VALUES (items)`` whose items are placeholders or
    constants, with any ``ON CONFLICT`` clause and no ``RETURNING``; the staging table has the
    target's column types (``CREATE TABLE ... AS SELECT ... WITH NO DATA``), so COPY types the
    values as the statement would. Rows are inserted in their order (a temporary table is read
    from its first block). One case differs: ``ON CONFLICT (keys) DO UPDATE`` with two rows of
    the same keys, which one set statement refuses ("cannot affect row a second time") and row
    by row updates twice: such a batch is left to the row-by-row statement.
    """
    match = _INSERT_VALUES.match(query)
    if match is None or _RETURNING.search(match.group("rest")):
        return None
    columns = _names(match.group("columns"))
    items = [i.strip() for i in _ITEM.findall(match.group("values"))]
    if len(items) != len(columns) or any("%s" in i and i != "%s" for i in items):
        return None
    staged = [c for c, i in zip(columns, items, strict=True) if i == "%s"]
    if not staged or any(len(r) != len(staged) for r in rows):
        return None
    conflict = _CONFLICT.match(match.group("rest"))
    if conflict is not None:
        keys = _names(conflict.group("keys"))
        if any(k not in staged for k in keys):
            return None
        at = [staged.index(k) for k in keys]
        try:
            if len({tuple(r[i] for i in at) for r in rows}) != len(rows):
                return None
        except TypeError:  # a key value that is a dict or list: leave it to the row-by-row
            return None
    table, names = match.group("table"), ", ".join(staged)
    picked = ", ".join(
        f"{_STAGE}.{c}" if i == "%s" else i for c, i in zip(columns, items, strict=True)
    )
    return CopyPlan(
        stage=f"DROP TABLE IF EXISTS {_STAGE}; "
        f"CREATE TEMP TABLE {_STAGE} AS SELECT {names} FROM {table} WITH NO DATA",
        copy=f"COPY {_STAGE} ({names}) FROM STDIN",
        insert=f"INSERT INTO {table} ({match.group('columns')}) SELECT {picked} FROM {_STAGE}"
        f"{match.group('rest')}",
    )


#: A batch of at least this many rows of an ``UPDATE``/``DELETE`` goes through COPY and one
#: set statement. bench/pg_batches.py, the outbox's batches (median of 5, load 12-13): at 100
#: rows the set path took 0.07 s wall against 0.04 s row by row (its five round trips), at 250
#: 0.05 s against 0.08 s (update) and 0.06 s (delete); at 10,000 rows an update 0.67 s against
#: 2.93 s (server CPU 0.18 s against 0.89 s), a delete 0.14 s against 1.68 s.
KEYED_MIN_ROWS = 250

_KEYED = re.compile(
    r"^\s*(?:UPDATE\s+(?P<updated>\"(?:[^\"]|\"\")+\"|\w+)\s+SET\s+(?P<set>.+?)"
    r"|DELETE\s+FROM\s+(?P<deleted>\"(?:[^\"]|\"\")+\"|\w+))"
    r"\s+WHERE\s+(?P<where>.+)$",
    re.IGNORECASE | re.DOTALL,
)
_QUOTED = re.compile(r"""'(?:[^']|'')*'""")
_MARK = re.compile(r"%%|%s")
_REFUSED = re.compile(r"[();]|\b(?:OR|SELECT|RETURNING|FROM|USING|BETWEEN)\b", re.IGNORECASE)
_KEY_TERM = re.compile(r"^(\"(?:[^\"]|\"\")+\"|\w+)\s*=\s*%s$")
_ASSIGNED = re.compile(r"(?:^|,)\s*(\"(?:[^\"]|\"\")+\"|\w+)\s*=")


@dataclass(frozen=True)
class KeyedPlan:
    """One batch ``UPDATE``/``DELETE`` as a staging table of its parameters (``_p1``...) and
    one set statement over it: ``prepare`` (the statement with ``$n`` placeholders, for the
    server to type them), then ``statement`` reading ``_l2l_stage``."""

    prepare: str
    statement: str
    width: int


def _unquoted_name(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.lower()


def _key_text(value: Any) -> Any:
    if isinstance(value, dict | list):
        raise TypeError("not a key")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value if value is None else str(int(value) if isinstance(value, bool) else value)


def keyed_plan(query: str, rows: Sequence[Any]) -> KeyedPlan | None:
    """How to run ``query`` (PostgreSQL spelling) for every row of ``rows`` as one statement
    over a staging table of the rows, or None when that would not do what the row-by-row
    statements do.

    It does for ``UPDATE t SET ... WHERE ...`` and ``DELETE FROM t WHERE ...`` whose clauses
    hold placeholders, literals, columns and operators only (no parentheses, ``OR``,
    sub-queries or ``RETURNING``):

    1. A ``DELETE`` deletes the rows some parameter row matches, whichever comes first: the
       same rows, counted once each, as row by row.
    2. An ``UPDATE`` differs when one row is matched by two parameter rows (row by row
       updates it twice, ``attempts = attempts + 1`` adds two; a set statement once) or
       when one parameter row's update makes a row match another's ``WHERE``. So its
       ``WHERE`` must be terms joined by ``AND``, some of them ``column = ?`` (the keys);
       no key column is assigned by ``SET``; and no two parameter rows have the same keys:
       then each row matches one parameter row at most, before and after every update.
    """
    # the structure without literal text (blanked in place: positions stay those of query)
    bare = _QUOTED.sub(lambda m: "'" + "x" * (len(m.group()) - 2) + "'", query)
    match = _KEYED.match(bare)
    if match is None or _REFUSED.search(match.group("where")):
        return None
    updated = match.group("updated") is not None
    if updated and _REFUSED.search(match.group("set")):
        return None
    marks = [m.start() for m in _MARK.finditer(bare) if m.group() == "%s"]
    width = len(marks)
    if width == 0 or any(len(r) != width for r in rows):
        return None
    if updated:
        keys: list[int] = []
        names: list[str] = []
        at = match.start("where")
        for term in re.split(r"(\s+AND\s+)", match.group("where"), flags=re.IGNORECASE):
            key = _KEY_TERM.match(term.strip())
            if key is not None:
                keys.append(marks.index(at + term.rindex("%s")))
                names.append(_unquoted_name(key.group(1)))
            at += len(term)
        assigned = {_unquoted_name(a) for a in _ASSIGNED.findall(match.group("set"))}
        if not keys or assigned & set(names):
            return None
        try:
            # compared as the server may see them: 1, 1.0 and '1' are one key to a column
            if len({tuple(_key_text(r[i]) for i in keys) for r in rows}) != len(rows):
                return None
        except TypeError:  # a dict or list among the keys: leave it to the row-by-row
            return None

    def marked(text: str, first: int, spell: str) -> str:
        numbers = iter(range(first, width + 1))
        return _MARK.sub(lambda m: "%" if m.group() == "%%" else spell % next(numbers), text)

    where = match.start("where")
    head = query[:where].rstrip()
    head = head[: -len("WHERE")].rstrip()  # the WHERE keyword itself
    before = len([m for m in marks if m < where])
    joined = "FROM" if updated else "USING"
    prepare = marked(query, 1, "$%d")
    statement = (
        f"{marked(head, 1, _STAGE + '._p%d')} {joined} {_STAGE} "
        f"WHERE {marked(query[where:], before + 1, _STAGE + '._p%d')}"
    )
    return KeyedPlan(prepare=prepare, statement=statement, width=width)


# ------------------------------------------------------------------------------ connection
def _raise(exc: psycopg.Error, label: str) -> NoReturn:
    if isinstance(
        exc,
        psycopg.errors.LockNotAvailable
        | psycopg.errors.SerializationFailure
        | psycopg.errors.DeadlockDetected,
    ):
        raise Busy(
            f"the database {label} is busy: another process held a lock for over "
            f"{LOCK_TIMEOUT_MS // 1000} s; nothing was written, retry in a few seconds"
        ) from exc
    if isinstance(exc, psycopg.OperationalError | psycopg.errors.DiskFull):
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(
            f"the database {label} cannot be used ({reason}); check DATABASE_URL"
        ) from exc
    raise exc


_DML = ("INSERT", "UPDATE", "DELETE")
#: Statements after which what ``information_schema`` said of the store's tables (exists,
#: columns, primary key) may be out of date: a table created, altered or dropped, and a
#: ``ROLLBACK`` (it undoes any of those in its transaction). Not an index, nor a temporary
#: table (``pg_temp``, not the store's schema), which the outbox creates every run.
_SCHEMA_CHANGE = re.compile(
    r"(?:^|;)\s*(?:(?:CREATE|ALTER|DROP)\s+TABLE|ROLLBACK)\b", re.IGNORECASE
)


#: One look at every column of every table in the store's schema (table, column, type), as a
#: fingerprint: what tells a process that another one changed a table since it last asked
#: (``records.declare`` adding a column the pull met, a table created). One catalog query,
#: where the answers it guards took about 40 (``bench/pass_cost.py``).
_SCHEMA_PRINT = (
    "SELECT md5(COALESCE(string_agg(c.relname || '.' || a.attname || ':' || a.atttypid::text, "
    "',' ORDER BY c.relname, a.attnum), '')) FROM pg_attribute a "
    "JOIN pg_class c ON c.oid = a.attrelid "
    "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') "
    "AND a.attnum > 0 AND NOT a.attisdropped"
)


class PgCursor:
    """A finished statement's results, read as sqlite3's cursor reads them."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor
        self.rowcount = cursor.rowcount
        self.description = cursor.description
        self.lastrowid: int | None = None

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self.description is not None else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self.description is not None else []

    def fetchmany(self, size: int = 1) -> list[Any]:
        return self._cursor.fetchmany(size) if self.description is not None else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """The part of ``sqlite3.Connection`` the store uses, over one psycopg connection in
    autocommit mode (a transaction is an explicit ``BEGIN``, as with ``isolation_level=None``)."""

    dialect = "postgresql"

    def __init__(self, raw: psycopg.Connection[Any], label: str) -> None:
        self.raw = raw
        self.label = label
        self._changes = 0
        self._grown: dict[str, int] = {}  # rows written per table since its last ANALYZE
        self._analyzed: dict[str, int] = {}  # rows written per table up to its last ANALYZE
        self._trace: Callable[[str], object] | None = None
        # What information_schema said of a table (exists, columns, primary key), kept until
        # this connection issues DDL (PgTable): a real-time pass asked it about 40 times, the
        # same answers each pass, each a catalog query of a few ms of server CPU.
        self.schema_cache: dict[tuple[str, str], Any] = {}
        self._schema_print: str | None = None  # what _SCHEMA_PRINT said when last asked

    def notice_schema(self) -> bool:
        """Forget what ``information_schema`` said (:attr:`schema_cache`) when any table of the
        store's schema changed since the last call, by this process or another (a sync's
        pull adds a column a worker's next pass must read); True when it did. Called at the
        start of each run: one catalog query."""
        if self._trace is not None:
            self._trace(_SCHEMA_PRINT)
        try:
            row = self.raw.execute(_SCHEMA_PRINT).fetchone()
        except psycopg.Error as exc:
            _raise(exc, self.label)
        seen = str(row[0]) if row is not None else None
        if seen == self._schema_print:
            return False
        self.schema_cache.clear()
        self._schema_print = seen
        return True

    def set_trace_callback(self, trace: Callable[[str], object] | None) -> None:
        """Call ``trace`` with each statement as it is sent (PostgreSQL spelling), as
        sqlite3's hook of the same name does; None stops it."""
        self._trace = trace

    @property
    def total_changes(self) -> int:
        """Rows inserted, updated or deleted through this connection (sqlite3's counter)."""
        return self._changes

    @property
    def in_transaction(self) -> bool:
        """True inside an open transaction."""
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Any = (), /) -> PgCursor:
        """Run one statement (SQLite spelling) and return its results."""
        query = translate(sql)
        if self._trace is not None:
            self._trace(query)
        if self.schema_cache and _SCHEMA_CHANGE.search(query):
            self.schema_cache.clear()  # before it runs: failed or not, asked again next
        try:
            cursor = self.raw.execute(query, _params(parameters))  # type: ignore[call-overload]
        except psycopg.Error as exc:
            _raise(exc, self.label)
        if query.lstrip()[:6].upper() in _DML and cursor.rowcount > 0:
            self._count(query, cursor.rowcount)
        return PgCursor(cursor)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> PgCursor:
        """Run one statement for each parameter row: a big batch of an ``INSERT ... VALUES``
        goes through ``COPY`` and one set statement (:func:`copy_plan`), any other through
        psycopg's pipelined ``executemany``."""
        query = translate(sql)
        rows = [_params(p) for p in parameters]
        cursor = self.raw.cursor()
        if not rows:
            return PgCursor(cursor)
        if self._trace is not None:
            self._trace(query)
        plan = copy_plan(query, rows) if len(rows) >= COPY_MIN_ROWS else None
        keyed = keyed_plan(query, rows) if plan is None and len(rows) >= KEYED_MIN_ROWS else None
        try:
            if plan is not None:
                self._copy(cursor, plan, rows)
            elif keyed is not None:
                self._keyed(cursor, keyed, rows)
            else:
                cursor.executemany(query, rows)  # type: ignore[call-overload]
        except psycopg.Error as exc:
            _raise(exc, self.label)
        if cursor.rowcount > 0:
            self._count(query, cursor.rowcount)
        return PgCursor(cursor)

    def _copy(self, cursor: psycopg.Cursor[Any], plan: CopyPlan, rows: list[Any]) -> None:
        """Stage ``rows`` with ``COPY`` in a temporary table typed as the target's columns,
        then run the plan's one ``INSERT ... SELECT`` (inside one transaction)."""
        with self.raw.transaction():
            cursor.execute(plan.stage)
            with cursor.copy(plan.copy) as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(plan.insert)

    def _keyed(self, cursor: psycopg.Cursor[Any], plan: KeyedPlan, rows: list[Any]) -> None:
        """Type the plan's parameters as the server does (``PREPARE``), stage ``rows`` with
        ``COPY`` in a temporary table of those types, then run the plan's one statement
        (inside one transaction)."""
        with self.raw.transaction():
            cursor.execute(f"PREPARE _l2l_keyed AS {plan.prepare}")
            try:
                types = cursor.execute(
                    "SELECT parameter_types::text[] FROM pg_prepared_statements "
                    "WHERE name = '_l2l_keyed'"
                ).fetchone()[0]  # type: ignore[index]
            finally:
                cursor.execute("DEALLOCATE _l2l_keyed")
            columns = ", ".join(
                f"_p{n} {'text' if t == 'unknown' else t}" for n, t in enumerate(types, 1)
            )
            cursor.execute(f"DROP TABLE IF EXISTS {_STAGE}; CREATE TEMP TABLE {_STAGE} ({columns})")
            names = ", ".join(f"_p{n}" for n in range(1, plan.width + 1))
            with cursor.copy(f"COPY {_STAGE} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            # statistics for the join: a temporary table is never analysed by autovacuum, and
            # unanalysed it was joined by a scan of the whole target (outbox.py's batch_records)
            cursor.execute(f"ANALYZE {_STAGE}")
            cursor.execute(plan.statement)

    def _count(self, query: str, rows: int) -> None:
        """Count changed rows, and refresh the planner's statistics of a table this
        connection grew by half (:data:`ANALYZE_MIN_ROWS` at least) since it last did."""
        self._changes += rows
        target = _TARGET.match(query)
        if target is None:
            return
        table = target.group(1)
        grown = self._grown.get(table, 0) + rows
        self._grown[table] = grown
        if grown < max(ANALYZE_MIN_ROWS, self._analyzed.get(table, 0) // 2):
            return
        self._analyzed[table] = self._analyzed.get(table, 0) + grown
        self._grown[table] = 0
        try:  # a savepoint: a refused ANALYZE (a lock, a dropped table) must not end the work
            with self.raw.transaction():
                self.raw.execute(f"ANALYZE {table}")
        except psycopg.Error:
            pass

    def close(self) -> None:
        """Close the connection."""
        self.raw.close()


def _params(parameters: Any) -> Any:
    if parameters is None:
        return ()
    return parameters if isinstance(parameters, dict) else list(parameters)


def connect(url: str) -> PgConnection:
    """Connect to the database at ``url``; one that cannot be reached is a :class:`ConfigError`
    naming it (without its password)."""
    label = redacted(url)
    try:
        # No server-side prepared statements (psycopg prepares a query run 5 times): a column
        # re-typed by ``records.declare`` would fail a cached plan ("cached plan must not
        # change result type", found by the round-trip property test), and transaction-mode
        # poolers (PgBouncer, a platform's pooled URL) do not keep them across transactions.
        raw = psycopg.connect(url, autocommit=True, connect_timeout=10, prepare_threshold=None)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot open the database {label} ({reason}); check DATABASE_URL"
        ) from None
    for kind in (int, float):
        raw.adapters.register_dumper(kind, _Untyped)
    raw.adapters.register_dumper(bool, _BoolUntyped)
    raw.adapters.register_dumper(dict, _JsonText)
    raw.adapters.register_dumper(list, _JsonText)
    raw.adapters.register_loader("numeric", _Number)
    raw.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
    return PgConnection(raw, label)


# --------------------------------------------------------------------- the sqlite-utils part
_PY_TYPES = {str: "TEXT", int: "BIGINT", float: "DOUBLE PRECISION", bytes: "BYTEA"}
#: How a PostgreSQL column type reads back, in the store's (SQLite) names: ``columns.py``
#: compares declared types, and BOOLEAN is the only SMALLINT the store declares.
_DECLARED = {
    "text": "TEXT",
    "bigint": "INTEGER",
    "integer": "INTEGER",
    "smallint": "BOOLEAN",
    "double precision": "REAL",
    "real": "REAL",
    "bytea": "BLOB",
}
_PY_OF = {"TEXT": str, "INTEGER": int, "REAL": float, "BLOB": bytes, "BOOLEAN": int}


@dataclass(frozen=True)
class Column:
    """A column as sqlite-utils describes one: its name and declared type."""

    name: str
    type: str


class PgTable:
    """The part of ``sqlite_utils.db.Table`` the store uses."""

    def __init__(self, db: PgDatabase, name: str) -> None:
        self.db = db
        self.name = name
        self.last_pk: Any = None

    @property
    def _quoted(self) -> str:
        return f'"{self.name}"'

    def _schema(self, what: str, read: Callable[[], Any]) -> Any:
        """``read()``'s answer about this table, kept by the connection until it issues DDL
        (:attr:`PgConnection.schema_cache`) or, at the start of a run, finds that another
        process did (:meth:`PgConnection.notice_schema`)."""
        cache = self.db.conn.schema_cache
        key = (what, self.name)
        if key in cache:
            return cache[key]
        answer = read()
        if answer or ("exists", self.name) in cache:  # no columns: no table yet, ask again
            cache[key] = answer
        return answer

    def exists(self) -> bool:
        # a table found is kept; one not found is asked again (another process, the first
        # sync, may create it while a worker waits for it)
        if ("exists", self.name) in self.db.conn.schema_cache:
            return True
        row = self.db.conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_name = ?",
            [self.name],
        ).fetchone()
        if row is not None:
            self.db.conn.schema_cache[("exists", self.name)] = True
        return row is not None

    def _columns(self) -> list[Column]:
        rows = self.db.conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE "
            "table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            [self.name],
        ).fetchall()
        return [Column(n, _DECLARED.get(t, t.upper())) for n, t in rows]

    @property
    def columns(self) -> list[Column]:
        return list(self._schema("columns", self._columns))

    @property
    def columns_dict(self) -> dict[str, type]:
        return {c.name: _PY_OF.get(c.type, str) for c in self.columns}

    def _pks(self) -> list[str]:
        rows = self.db.conn.execute(
            "SELECT k.column_name FROM information_schema.table_constraints t "
            "JOIN information_schema.key_column_usage k ON k.constraint_name = t.constraint_name "
            "AND k.table_schema = t.table_schema AND k.table_name = t.table_name "
            "WHERE t.constraint_type = 'PRIMARY KEY' AND t.table_schema = current_schema() "
            "AND t.table_name = ? ORDER BY k.ordinal_position",
            [self.name],
        ).fetchall()
        return [r[0] for r in rows]

    @property
    def pks(self) -> list[str]:
        return list(self._schema("pks", self._pks))

    @property
    def count(self) -> int:
        return int(self.db.conn.execute(f"SELECT COUNT(*) FROM {self._quoted}").fetchone()[0])

    @property
    def rows(self) -> Iterator[dict[str, Any]]:
        return self.db.query(f"SELECT * FROM {self._quoted}")

    def create(
        self,
        columns: dict[str, Any],
        pk: str | Sequence[str] | None = None,
        if_not_exists: bool = False,
    ) -> PgTable:
        keys = [pk] if isinstance(pk, str) else list(pk or [])
        parts = []
        for name, kind in columns.items():
            sql_type = _PY_TYPES.get(kind, "TEXT")
            if keys == [name] and kind is int:
                parts.append(f'"{name}" BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY')
                continue
            not_null = " NOT NULL" if name in keys else ""
            parts.append(f'"{name}" {sql_type}{not_null}')
        if not (len(keys) == 1 and columns.get(keys[0]) is int):
            # SQLite gives every table but an INTEGER PRIMARY KEY one a rowid in insertion
            # order, which the store orders and reads positions by (the event log's position,
            # a lookup put back in table order)
            parts.append('"rowid" BIGINT GENERATED ALWAYS AS IDENTITY')
        if keys and not (len(keys) == 1 and columns.get(keys[0]) is int):
            parts.append("PRIMARY KEY (" + ", ".join(f'"{k}"' for k in keys) + ")")
        exists = "IF NOT EXISTS " if if_not_exists else ""
        self.db.conn.execute(f"CREATE TABLE {exists}{self._quoted} ({', '.join(parts)})")
        return self

    def create_index(
        self, columns: Sequence[str], unique: bool = False, if_not_exists: bool = False
    ) -> PgTable:
        name = f"idx_{self.name}_{'_'.join(columns)}"
        self.db.conn.execute(
            f"CREATE {'UNIQUE ' if unique else ''}INDEX {'IF NOT EXISTS ' if if_not_exists else ''}"
            f'"{name}" ON {self._quoted} ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)})'
        )
        return self

    def add_column(self, name: str, kind: Any) -> PgTable:
        sql_type = _PY_TYPES.get(kind, kind if isinstance(kind, str) else "TEXT")
        self.db.conn.execute(f'ALTER TABLE {self._quoted} ADD COLUMN "{name}" {sql_type}')
        return self

    def _insert_sql(self, names: Sequence[str], conflict: str) -> str:
        quoted = ", ".join(f'"{c}"' for c in names)
        marks = ", ".join("?" * len(names))
        return f"INSERT INTO {self._quoted} ({quoted}) VALUES ({marks}){conflict}"

    def insert(self, row: dict[str, Any]) -> PgTable:
        keys = self.pks
        returning = " RETURNING " + ", ".join(f'"{k}"' for k in keys) if keys else ""
        cursor = self.db.conn.execute(self._insert_sql(list(row), returning), list(row.values()))
        got = cursor.fetchone() if keys else None
        self.last_pk = None if got is None else (got[0] if len(got) == 1 else tuple(got))
        return self

    def insert_all(
        self, rows: Iterable[dict[str, Any]], ignore: bool = False, batch_size: int = 100
    ) -> PgTable:
        listed = list(rows)
        if not listed:
            return self
        names = list(dict.fromkeys(c for r in listed for c in r))
        conflict = " ON CONFLICT DO NOTHING" if ignore else ""
        self.db.conn.executemany(
            self._insert_sql(names, conflict), [[r.get(c) for c in names] for r in listed]
        )
        return self

    def upsert(self, row: dict[str, Any], pk: str | Sequence[str]) -> PgTable:
        keys = [pk] if isinstance(pk, str) else list(pk)
        others = [c for c in row if c not in keys]
        target = ", ".join(f'"{k}"' for k in keys)
        action = (
            "DO UPDATE SET " + ", ".join(f'"{c}" = excluded."{c}"' for c in others)
            if others
            else "DO NOTHING"
        )
        self.db.conn.execute(
            self._insert_sql(list(row), f" ON CONFLICT ({target}) {action}"), list(row.values())
        )
        return self

    def _where(self, pk_values: Any) -> tuple[str, list[Any]]:
        keys = self.pks
        values = list(pk_values) if isinstance(pk_values, list | tuple) else [pk_values]
        return " AND ".join(f'"{k}" = ?' for k in keys), values

    def get(self, pk_values: Any) -> dict[str, Any]:
        where, values = self._where(pk_values)
        rows = list(self.db.query(f"SELECT * FROM {self._quoted} WHERE {where}", values))
        if not rows:
            raise NotFoundError
        return rows[0]

    def update(self, pk_values: Any, updates: dict[str, Any]) -> PgTable:
        where, values = self._where(pk_values)
        sets = ", ".join(f'"{c}" = ?' for c in updates)
        self.db.conn.execute(
            f"UPDATE {self._quoted} SET {sets} WHERE {where}", [*updates.values(), *values]
        )
        return self


class PgDatabase:
    """The part of ``sqlite_utils.Database`` the store uses, over a :class:`PgConnection`."""

    dialect = "postgresql"

    def __init__(self, conn: PgConnection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Any = None) -> PgCursor:
        return self.conn.execute(sql, parameters or ())

    def query(self, sql: str, params: Any = None) -> Iterator[dict[str, Any]]:
        cursor = self.conn.execute(sql, params or ())
        names = [d.name for d in cursor.description or []]
        for row in cursor.fetchall():
            yield dict(zip(names, row, strict=True))

    def table(self, name: str) -> PgTable:
        return PgTable(self, name)

    def __getitem__(self, name: str) -> PgTable:
        return PgTable(self, name)


def open_database(url: str) -> PgDatabase:
    """The PostgreSQL database at ``url`` (see the module docstring)."""
    return PgDatabase(connect(url))

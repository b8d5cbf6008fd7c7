"""Pulled Salesforce records, watermarks and sync state: :class:`RecordsRepository`.

Tables: ``sf_<Object>`` (one row per Id, deletes kept as ``IsDeleted``; columns typed from
describe, ``columns.py``), ``watermarks`` (per object, the SystemModstamp up to which the org has
been read) and ``sync_state`` (small named facts a run leaves for the next, the inputs
generation among them).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import pandas as pd
import sqlite_utils
from sqlite_utils.utils import types_for_column_types

from connector.store.backend import frames_in, is_postgres, read_frame, rows_in, transaction
from connector.store.columns import BOOLEAN, column_type, converted, same_type
from connector.store.schema import GENERATION, bump_generation
from connector.store.sqlite import identifier, now

# Columns every save sets by itself: a row whose other columns are unchanged is an echo of a
# save that changed nothing we read (our own write-back of fields we do not pull, say).
BOOKKEEPING = frozenset({"SystemModstamp", "LastModifiedDate", "LastModifiedById"})


def _table(object_name: str) -> str:
    """The table holding pulled records of ``object_name``."""
    return f"sf_{object_name}"


class RecordsRepository:
    """Pulled records, watermarks and sync state (``store.records``)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def upsert(self, object_name: str, records: Sequence[dict[str, Any]]) -> int:
        """Store pulled records by Id (new columns appear as the org's fields do); returns how
        many rows are new or changed.

        A field a record lacks is left as stored. Columns the pull declared from describe
        (:meth:`declare`) keep their types; a column nobody declared is typed by
        sqlite-utils from the values. The rows go through one ``INSERT ... ON CONFLICT`` per
        page, which is several times faster than a generic upsert per row.
        A stored row is rewritten only when a column other than the save's bookkeeping
        (``BOOKKEEPING``) differs, so an echo changes nothing and counts for nothing; any
        change bumps the inputs generation (:meth:`input_generation`) in the same transaction.
        """
        if not records:
            return 0
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for r in records:  # a SOQL or Bulk page has one shape; grouping keeps the rule exact
            by_shape.setdefault(tuple(r), []).append(r)
        table = self.db.table(_table(object_name))
        conn = self.db.conn
        with transaction(self.db.conn):
            before = conn.total_changes
            for shape, rows in by_shape.items():
                columns = [c for c in shape if c != "attributes"]
                self._ensure_columns(table, columns, rows)
                names = ", ".join(f'"{c}"' for c in columns)
                updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c != "Id")
                compared = [c for c in columns if c != "Id" and c not in BOOKKEEPING]
                quoted = f'"{table.name}"'  # qualified: PostgreSQL finds a bare column ambiguous
                differs = " OR ".join(f'excluded."{c}" IS NOT {quoted}."{c}"' for c in compared)
                conflict = f"DO UPDATE SET {updates} WHERE {differs}" if differs else "DO NOTHING"
                sql = (
                    f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
                    f' ON CONFLICT ("Id") {conflict}'
                )
                # Pulled values are scalars (text, numbers, booleans, which sqlite3 binds as
                # they are), so the rows go in as itemgetter tuples; a nested value (a related
                # record) makes sqlite3 refuse the page and it goes again, encoded. Storing the
                # medium seed's 302,314 Orders: 2.1-2.4 s of CPU, against 2.7-4.3 s when the
                # tuples were built value by value.
                pick = itemgetter(*columns)
                try:
                    conn.executemany(
                        sql,
                        [pick(r) for r in rows] if len(columns) > 1 else [(pick(r),) for r in rows],
                    )
                except sqlite3.ProgrammingError:
                    conn.executemany(sql, [tuple(_scalar(r[c]) for c in columns) for r in rows])
            changed = conn.total_changes - before
            if changed:
                bump_generation(self.db)
        return changed

    @staticmethod
    def _ensure_columns(
        table: sqlite_utils.db.Table, columns: Sequence[str], rows: Sequence[dict[str, Any]]
    ) -> None:
        """Create the table, or add the columns it lacks, typed from the values in ``rows``."""
        have = set(table.columns_dict) if table.exists() else set()
        missing = [c for c in columns if c not in have]
        if not missing:
            return
        # suggest_column_types' rule over the types each column holds once stored (nested
        # values become JSON text, booleans integers), gathered a column at a time instead
        # of record by record through _scalar (the first page of a table holds 50,000 rows).
        stored_as = {dict: str, list: str, bool: int}
        types = types_for_column_types(
            {
                c: {stored_as.get(t, t) for t in set(map(type, map(itemgetter(c), rows)))}
                for c in missing
            }
        )
        if not have:
            table.create({c: types[c] for c in columns}, pk="Id")
            return
        for c in missing:
            table.add_column(c, types[c])

    def declare(self, object_name: str, field_types: Mapping[str, str]) -> list[str]:
        """Type the records table of ``object_name`` from describe before rows arrive.

        ``field_types`` is ``{field: describe type}``. The table is created, or extended, with
        columns typed by :func:`~connector.store.columns.column_type`, so a boolean is stored as
        0/1 and a number as a number however the first page looks. A stored column of another
        type is re-typed in place, its values converted (the upgrade of a database written
        before columns were typed: the first pull after it re-types, nothing is re-pulled).
        Returns the re-typed columns.
        """
        table = self.db.table(_table(object_name))
        wanted = {identifier(f): column_type(t) for f, t in field_types.items() if f != "Id"}
        conn = self.db.conn
        with transaction(self.db.conn):
            if not table.exists():
                columns = "".join(f', "{f}" {t}' for f, t in wanted.items())
                conn.execute(f'CREATE TABLE "{table.name}" ("Id" TEXT PRIMARY KEY{columns})')
                return []
            have = {c.name: c.type for c in table.columns}
            for f, t in wanted.items():
                if f not in have:
                    conn.execute(f'ALTER TABLE "{table.name}" ADD COLUMN "{f}" {t}')
            retyped = [f for f, t in wanted.items() if f in have and not same_type(have[f], t)]
            for f in retyped:
                # SQLite cannot change a column's type: fill a typed twin, then swap it in.
                twin = f"_l2l_retype_{f}"
                conn.execute(f'ALTER TABLE "{table.name}" ADD COLUMN "{twin}" {wanted[f]}')
                value = converted(f'"{f}"', wanted[f])
                conn.execute(f'UPDATE "{table.name}" SET "{twin}" = {value}')
                conn.execute(f'ALTER TABLE "{table.name}" DROP COLUMN "{f}"')
                conn.execute(f'ALTER TABLE "{table.name}" RENAME COLUMN "{twin}" TO "{f}"')
        return retyped

    def frame(
        self,
        object_name: str,
        columns: Sequence[str] | None = None,
        *,
        include_deleted: bool = False,
        any_of: Mapping[str, Sequence[str]] | None = None,
    ) -> pd.DataFrame:
        """Pulled records of an object as a DataFrame (empty with ``columns`` when none).

        Columns typed from describe come back typed: booleans as ``bool`` (see
        :meth:`declare`), numbers as numbers, dates as ISO 8601 text. ``any_of`` ({column:
        values}) keeps only the records one of whose columns holds one of its values (a
        real-time pass reads its few people's orders, not the org's).
        """
        table = _table(object_name)
        if not self.db.table(table).exists():
            return pd.DataFrame(columns=list(columns or ["Id"]))
        declared = {c.name: c.type.upper() for c in self.db.table(table).columns}
        existing = set(declared)
        wanted = [c for c in (columns or sorted(existing)) if c in existing]
        select = ", ".join(f'"{c}"' for c in wanted)
        clauses = []
        if not include_deleted and "IsDeleted" in existing:
            clauses.append('COALESCE("IsDeleted", 0) = 0')
        if any_of is None:
            where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
            frame = read_frame(f'SELECT {select} FROM "{table}"{where}', self.db.conn)
        else:
            frame = self._any_of(table, select, clauses, any_of, existing, wanted)
        for c in wanted:
            if declared[c] == BOOLEAN:  # NULL: stored before the column existed; false
                frame[c] = frame[c].eq(1)
        for c in columns or []:
            if c not in frame.columns:
                frame[c] = None
        return frame

    def _any_of(
        self,
        table: str,
        select: str,
        clauses: list[str],
        any_of: Mapping[str, Sequence[str]],
        existing: set[str],
        wanted: list[str],
    ) -> pd.DataFrame:
        """The rows one of whose ``any_of`` columns holds one of its values: one indexed
        lookup per column and chunk of values (under SQLite's bound-parameter limit), united
        and put back in table order, as a read of the whole table would have them (SQLite; in
        Id order on PostgreSQL)."""
        # SQLite's rowid is the table order; a PostgreSQL table of records has no such order
        # (a full read comes back in whatever order the server picks), so there the Id orders
        position = '"Id"' if is_postgres(self.db) else "rowid"
        parts = []
        for column, values in any_of.items():
            if column not in existing or not values:
                continue
            where = " AND ".join([*clauses, f'"{column}"'])
            # every column's chunks joined in the one concat below (frames_in says why)
            parts += frames_in(
                self.db.conn,
                f'SELECT {position} AS "_l2l_rowid", {select} FROM "{table}" WHERE {where}',
                list(values),
            )
        if not parts:
            return pd.DataFrame(columns=wanted)
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        frame = frame.drop_duplicates("_l2l_rowid").sort_values("_l2l_rowid", kind="stable")
        return frame.drop(columns="_l2l_rowid").reset_index(drop=True)

    def index(
        self,
        object_name: str,
        columns: Iterable[str],
        *,
        emails: bool = False,
        email_column: str = "Email",
    ) -> None:
        """Index the columns a run of some people looks records up by (an Order's Contacts and
        Account, a Contact's Account...), and with ``emails`` the trimmed lower-case
        ``email_column`` (:meth:`with_emails`), so its reads follow its people, not the org."""
        table = _table(object_name)
        if not self.db.table(table).exists():
            return
        have = set(self.db.table(table).columns_dict)
        for column in columns:
            if column in have:
                self.db.execute(
                    f'CREATE INDEX IF NOT EXISTS "{table}__{column}" ON "{table}" ("{column}")'
                )
        if emails and email_column in have:
            self.db.execute(
                f'CREATE INDEX IF NOT EXISTS "{table}__email" ON "{table}" '
                f'(lower(trim("{email_column}")))'
            )

    def with_emails(
        self,
        object_name: str,
        columns: Sequence[str],
        emails: Iterable[str],
        *,
        email_column: str = "Email",
    ) -> pd.DataFrame:
        """Live records of an object whose ``email_column``, trimmed and lower-case, is one of
        ``emails`` (given trimmed and lower-case): the people some events or marks name, the
        messages they sent."""
        wanted = sorted(set(emails))
        table = _table(object_name)
        if not wanted or not self.db.table(table).exists():
            return pd.DataFrame(columns=list(columns))
        existing = set(self.db.table(table).columns_dict)
        if email_column not in existing:
            return pd.DataFrame(columns=list(columns))
        live = ' AND COALESCE("IsDeleted", 0) = 0' if "IsDeleted" in existing else ""
        head = f'SELECT "Id" FROM "{table}" WHERE lower(trim("{email_column}"))'
        ids = [str(r[0]) for r in rows_in(self.db.conn, head, wanted, tail=live)]
        # then read as frame() reads (typed columns, table order)
        return self.frame(object_name, columns, any_of={"Id": ids})

    def with_text(self, object_name: str, columns: Sequence[str], column: str) -> pd.DataFrame:
        """Live records of an object whose ``column`` holds some text (the messages an admin
        corrected), read by that column's index (:meth:`index`) as frame() reads them."""
        table = _table(object_name)
        if not self.db.table(table).exists():
            return pd.DataFrame(columns=list(columns))
        existing = set(self.db.table(table).columns_dict)
        if column not in existing:
            return pd.DataFrame(columns=list(columns))
        live = ' AND COALESCE("IsDeleted", 0) = 0' if "IsDeleted" in existing else ""
        # "> ''" (not IS NOT NULL): a range both backends serve from the column's index
        ids = [
            str(r[0])
            for r in self.db.conn.execute(
                f'SELECT "Id" FROM "{table}" WHERE "{column}" > \'\'{live}'
            ).fetchall()
        ]
        return self.frame(object_name, columns, any_of={"Id": ids})

    def count(self, object_name: str) -> int:
        """How many records of an object are stored (deleted ones included)."""
        table = _table(object_name)
        return self.db.table(table).count if self.db.table(table).exists() else 0

    def ids(self, object_name: str) -> set[str]:
        """Ids of every stored record of an object, deleted ones included."""
        table = _table(object_name)
        if not self.db.table(table).exists():
            return set()
        return {str(r[0]) for r in self.db.execute(f'SELECT "Id" FROM "{table}"').fetchall()}

    def forget(self, object_name: str, ids: Iterable[str]) -> int:
        """Drop stored records of an object (the org no longer has them); returns how many."""
        table = _table(object_name)
        doomed = [(record_id,) for record_id in ids]
        if not doomed or not self.db.table(table).exists():
            return 0
        with transaction(self.db.conn):
            self.db.conn.executemany(f'DELETE FROM "{table}" WHERE "Id" = ?', doomed)
            bump_generation(self.db)  # fewer records: the compute step must run again
        return len(doomed)

    def live_ids(self, object_name: str) -> set[str]:
        """Ids of stored, not deleted records."""
        return set(self.frame(object_name, ["Id"])["Id"].astype(str))

    def contact_ids_by_email(self, email: str) -> list[str]:
        """Ids of live stored Contacts with this email (trimmed, case-insensitive)."""
        table = _table("Contact")
        if not self.db.table(table).exists():
            return []
        rows = self.db.conn.execute(
            f'SELECT "Id" FROM "{table}" WHERE lower(trim("Email")) = ? '
            'AND COALESCE("IsDeleted", 0) = 0 ORDER BY "Id"',
            [email.strip().lower()],
        )
        return [r[0] for r in rows]

    # ------------------------------------------------------------------ watermarks
    def watermark(self, object_name: str) -> datetime | None:
        """Where the last stored pull window of ``object_name`` ended."""
        try:
            row = self.db.table("watermarks").get(object_name)
        except sqlite_utils.db.NotFoundError:
            return None
        return datetime.fromisoformat(str(row["modstamp"]))

    def set_watermark(self, object_name: str, moment: datetime) -> None:
        """Advance the watermark (only after the window's records are stored)."""
        self.db.table("watermarks").upsert(
            {
                "object": object_name,
                "modstamp": moment.astimezone(UTC).isoformat(),
                "updated_at": now(),
            },
            pk="object",
        )

    def watermarks(self) -> dict[str, str]:
        """Object -> the stored watermark text, by object name."""
        rows = self.db.execute("SELECT object, modstamp FROM watermarks ORDER BY object")
        return {str(r[0]): str(r[1]) for r in rows.fetchall()}

    def reset_watermarks(self) -> None:
        """Forget every watermark: the next pull reads everything (``sync --full``)."""
        self.db.execute("DELETE FROM watermarks")

    # ------------------------------------------------------------------ sync state
    def state(self, key: str) -> str | None:
        """A named fact a run left (``sync_state``), or None."""
        row = self.db.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str | None) -> None:
        """Set (or, with None, forget) a named fact for the next run."""
        if value is None:
            self.db.execute("DELETE FROM sync_state WHERE key = ?", [key])
            return
        self.db.execute(
            "INSERT INTO sync_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )

    def input_generation(self) -> int:
        """A counter that moves whenever the compute step's inputs change (a pulled record
        new or changed, an event appended); equal counters mean equal inputs."""
        return int(self.state(GENERATION) or 0)

    def bump_generation(self) -> None:
        """Say the compute step's inputs changed (a loyalty redemption, an adjustment)."""
        bump_generation(self.db)


def _scalar(value: Any) -> Any:
    kind = type(value)
    if kind is str or value is None or kind is float or kind is int:  # most values, fast
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    if isinstance(value, bool):
        return int(value)
    return value

"""The loyalty journal, vouchers, notified tiers and mirror state: :class:`LoyaltyRepository`.

The journal is append-only; its ``key`` column is the idempotency key, enforced by a unique
index, so a re-pulled order, a ``sync --full`` or a duplicate request never books twice even
when two processes race. Member operations (redemptions, cancellations, adjustments) run in
:meth:`LoyaltyRepository.member_transaction`: ``BEGIN IMMEDIATE`` takes SQLite's write lock before
the member's journal is read, so two redemptions for one member are decided one after the
other and can never both spend the same points.

The journal's columns are the store's own (:data:`JOURNAL_COLUMNS`, as migrations v4 and v13
made them):
the loyalty domain's entry frame maps onto them, and the journal comes back typed (points as
integers, times as aware UTC datetimes), the frame the domain's ledger reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlite_utils

from connector.store.backend import is_postgres, rows_in, transaction
from connector.store.schema import bump_generation

#: The journal's columns (migration v4 froze them; ``token`` came with v13; a new one takes a new
#: migration).
JOURNAL_COLUMNS = (
    "key",
    "program",
    "member",
    "kind",
    "currency",
    "points",
    "at",
    "lot",
    "expires_at",
    "available_at",
    "source_type",
    "source_id",
    "rule_id",
    "rule",
    "partner",
    "brand",
    "reason",
    "token",  # the loyalty API token (its name, never its secret) that booked the entry
)
_TIMES = ("at", "expires_at", "available_at")
#: The program filter of the reads by position (entries after a ``seq``, the last ``seq``): an
#: expression, not the column, so SQLite walks the primary key from the position instead of
#: the (program, member) index over every entry of the program. ``members_after`` so read
#: all 667,729 entries of the medium seed's journal to return the few a run booked, twice
#: per incremental sync.
_PROGRAM = "program || '' = ?"


def empty_journal() -> pd.DataFrame:
    """A journal with no entries: the columns, points as int64, times as aware UTC."""
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in JOURNAL_COLUMNS})
    frame["points"] = frame["points"].astype(np.int64)
    for c in _TIMES:
        frame[c] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame


def _journal(rows: Sequence[Sequence[Any]]) -> pd.DataFrame:
    """Stored journal rows (in :data:`JOURNAL_COLUMNS` order) as a typed frame."""
    if not rows:
        return empty_journal()
    frame = pd.DataFrame(rows, columns=list(JOURNAL_COLUMNS))
    frame["points"] = frame["points"].astype(np.int64)
    for c in _TIMES:
        frame[c] = pd.to_datetime(frame[c], utc=True, format="ISO8601")
    return frame


def _text(moment: Any) -> str | None:
    if moment is None or (not isinstance(moment, str) and pd.isna(moment)):
        return None
    if isinstance(moment, str):
        return moment
    stamp = pd.Timestamp(moment)
    aware = stamp.tz_convert(UTC) if stamp.tzinfo else stamp.tz_localize(UTC)
    return str(aware.isoformat())


def _texts(column: pd.Series) -> list[str | None]:
    """A time column as ISO text, the same text :func:`_text` gives each value.

    A tz-aware datetime column (what the loyalty domain's journal frames hold) is
    converted whole: per-value ``Timestamp.isoformat`` was most of the append's time on a big
    batch. Other columns (object, naive) go value by value.
    """
    if not isinstance(column.dtype, pd.DatetimeTZDtype):
        return [_text(v) for v in column]
    utc = column.dt.tz_convert(UTC).dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    # Formatted once per distinct instant (expiry moments repeat a lot; orders share moments).
    codes, uniques = pd.factorize(utc)
    distinct = np.asarray(uniques, dtype="datetime64[ns]")
    ns = distinct.view(np.int64)
    whole_seconds = np.datetime_as_string(distinct, unit="s")
    micro = np.datetime_as_string(distinct, unit="us")
    # isoformat() leaves out a zero fraction; a fraction finer than microseconds (rare) goes
    # value by value, so the text is exactly what _text would store.
    shown = np.where(ns % 1_000_000_000 == 0, whole_seconds, micro).astype(object) + "+00:00"
    for i in np.flatnonzero(ns % 1_000 != 0):
        shown[i] = _text(pd.Timestamp(distinct[i]).tz_localize(UTC))
    lookup = np.empty(len(shown) + 1, dtype=object)  # the last slot stays None: code -1, NaT
    lookup[:-1] = shown
    text = lookup[codes]
    result: list[str | None] = text.tolist()
    return result


def _stored_rows(entries: pd.DataFrame) -> pd.DataFrame:
    """Journal entries as the rows the table stores: its columns in order, times as ISO
    text, points as integers, missing values as None."""
    frame = entries.reindex(columns=list(JOURNAL_COLUMNS)).reset_index(drop=True)
    for c in _TIMES:
        frame[c] = _texts(frame[c])
    frame["points"] = frame["points"].astype(np.int64)
    return frame.astype(object).where(frame.notna(), None)


#: Entries per write transaction when :meth:`LoyaltyRepository.append` runs outside one: the write
#: lock is released between chunks, so an API redemption waits for one chunk, not the batch.
APPEND_CHUNK = 50_000
#: Entries from which a batch into an empty journal is a first load (:meth:`LoyaltyRepository.
#: append`): its indexes are built once after the rows, not kept up row by row.
FIRST_LOAD = 100_000


class LoyaltyRepository:
    """The journal, vouchers, notified tiers and mirror state (``store.loyalty``)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ journal
    def append(
        self, entries: pd.DataFrame, *, chunk: int = APPEND_CHUNK, first_load: int = FIRST_LOAD
    ) -> int:
        """Append journal entries; an entry whose key is already there is skipped.

        Returns how many were new. Inside the caller's transaction (a member operation) the
        batch is one transaction; outside one, every ``chunk`` entries are a transaction of
        their own (``BEGIN IMMEDIATE`` ... ``COMMIT``), so a big sync batch never holds the
        write lock for minutes. A crash between chunks is safe: the committed chunks stay, and
        booking the batch again skips their keys (the unique index) and adds the rest.

        A batch of ``first_load`` entries or more into an empty SQLite journal (a first sync's)
        is a first load (:meth:`_first_load`): one transaction that builds the indexes after
        the rows.
        """
        if entries.empty:
            return 0
        if (
            len(entries) >= first_load
            and not self.db.conn.in_transaction
            and not is_postgres(self.db)
            and self._empty()
        ):
            added = self._first_load(entries, chunk)
            if added is not None:
                return added
        names = ", ".join(f'"{c}"' for c in JOURNAL_COLUMNS)
        marks = ", ".join("?" for _ in JOURNAL_COLUMNS)
        sql = (
            f'INSERT INTO loyalty_journal ({names}) VALUES ({marks}) ON CONFLICT("key") DO NOTHING'
        )
        conn = self.db.conn
        before = conn.total_changes
        step = max(chunk, 1)
        if conn.in_transaction:
            for start in range(0, len(entries), step):
                part = _stored_rows(entries.iloc[start : start + step])
                conn.executemany(sql, part.itertuples(index=False, name=None))
            return conn.total_changes - before
        added = 0
        for start in range(0, len(entries), step):
            # each chunk converted to stored rows only when its turn comes (see _first_load)
            part = _stored_rows(entries.iloc[start : start + step])
            with transaction(self.db.conn):
                counted = conn.total_changes
                conn.executemany(sql, part.itertuples(index=False, name=None))
                added += conn.total_changes - counted
        return added

    def _empty(self) -> bool:
        return self.db.conn.execute("SELECT 1 FROM loyalty_journal LIMIT 1").fetchone() is None

    def _first_load(self, entries: pd.DataFrame, chunk: int = APPEND_CHUNK) -> int | None:
        """Book a big batch into an empty journal: its secondary indexes dropped, the rows
        inserted in booking order, the indexes created again (a sort each), in one
        transaction; ``None`` when the journal is no longer empty once the write lock is held
        (someone booked meanwhile: the caller appends as usual).

        An index built by sorting the finished table costs less than one kept up entry by entry:
        inserting the medium seed's first-sync batch (678,110 entries) took 10.1 s of CPU in
        chunks of 50,000 with the indexes in place, 5.8 s so (the inserts alone, on a machine at
        load 13); the whole append, with the admin totals then kept here and the time texts,
        19.5 s -> 18.2 s (bench/bookkeeping.py, load 17). The keys come out as the chunked
        append leaves them: the first entry of a key is kept, a later one with the same key
        skipped, as ``ON CONFLICT DO NOTHING`` skips it. The unique key index exists again
        before the commit, so no one ever sees the journal without it; the write lock is held
        for the whole load (a few seconds), but an empty journal has no member with points to
        redeem meanwhile.
        """
        frame = entries.drop_duplicates("key", keep="first")
        names = ", ".join(f'"{c}"' for c in JOURNAL_COLUMNS)
        marks = ", ".join("?" for _ in JOURNAL_COLUMNS)
        conn = self.db.conn
        with transaction(conn):
            if not self._empty():
                return None
            indexes = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND "
                "tbl_name = 'loyalty_journal' AND sql IS NOT NULL ORDER BY name"
            ).fetchall()
            for name, _ in indexes:
                conn.execute(f'DROP INDEX "{name}"')
            before = conn.total_changes
            step = max(chunk, 1)
            for start in range(0, len(frame), step):
                # converted a chunk at a time: the whole batch as stored rows (a Python object
                # per cell) was the first sync's peak
                conn.executemany(
                    f"INSERT INTO loyalty_journal ({names}) VALUES ({marks})",
                    _stored_rows(frame.iloc[start : start + step]).itertuples(
                        index=False, name=None
                    ),
                )
            added = conn.total_changes - before
            for _, sql in indexes:
                conn.execute(sql)
        return added

    def journal(self, program: str, member: str | None = None) -> pd.DataFrame:
        """The program's journal (or one member's), in booking order."""
        names = ", ".join(f'"{c}"' for c in JOURNAL_COLUMNS)
        sql = f"SELECT {names} FROM loyalty_journal WHERE program = ?"
        params: list[Any] = [program]
        if member is not None:
            sql += " AND member = ?"
            params.append(member)
        return _journal(self.db.conn.execute(sql + " ORDER BY seq", params).fetchall())

    def entries_after(self, program: str, seq: int) -> tuple[pd.DataFrame, int]:
        """The program's entries booked after ``seq`` (in booking order), and the last ``seq``
        among them (``seq`` itself when there are none)."""
        names = ", ".join(f'"{c}"' for c in JOURNAL_COLUMNS)
        rows = self.db.conn.execute(
            f"SELECT seq, {names} FROM loyalty_journal WHERE seq > ? AND {_PROGRAM} ORDER BY seq",
            [seq, program],
        ).fetchall()
        if not rows:
            return empty_journal(), seq
        return _journal([r[1:] for r in rows]), int(rows[-1][0])

    def entries_by_key(self, program: str, keys: Sequence[str]) -> pd.DataFrame:
        """The program's entries with these idempotency keys, in booking order."""
        return self._entries_in(program, "key", keys)

    def entries_of(self, program: str, members: Sequence[str]) -> pd.DataFrame:
        """The journal of these members of the program, in booking order."""
        return self._entries_in(program, "member", members)

    def currencies(self, program: str) -> list[str]:
        """The currencies the program's journal holds, sorted."""
        rows = self.db.conn.execute(
            "SELECT DISTINCT currency FROM loyalty_journal WHERE program = ?", [program]
        )
        return sorted(str(r[0]) for r in rows)

    def _entries_in(self, program: str, column: str, values: Sequence[str]) -> pd.DataFrame:
        names = ", ".join(f'"{c}"' for c in JOURNAL_COLUMNS)
        head = f'SELECT seq, {names} FROM loyalty_journal WHERE program = ? AND "{column}"'
        rows = rows_in(self.db.conn, head, list(values), before=[program])
        rows.sort(key=lambda r: r[0])
        return _journal([r[1:] for r in rows])

    def mirror_retry(self, program: str) -> dict[str, str]:
        """Key -> reason of the entries the mirror could not save yet."""
        rows = self.db.conn.execute(
            "SELECT key, error FROM loyalty_mirror_retry WHERE program = ? ORDER BY key",
            [program],
        )
        return {str(r[0]): str(r[1] or "") for r in rows}

    def mirror_done(
        self, program: str, sent: Iterable[str], failed: dict[str, str], state: tuple[str, str]
    ) -> None:
        """Record a mirror pass in one transaction: the ``sent`` keys leave the retry list, the
        ``failed`` ones (key -> reason) join it, and ``state`` (key, value: the last journal
        ``seq`` looked at) is saved."""
        with transaction(self.db.conn):
            conn = self.db.conn
            conn.executemany(
                "DELETE FROM loyalty_mirror_retry WHERE program = ? AND key = ?",
                [(program, key) for key in sent],
            )
            conn.executemany(
                "INSERT INTO loyalty_mirror_retry (program, key, error) VALUES (?, ?, ?) "
                "ON CONFLICT (program, key) DO UPDATE SET error = excluded.error",
                [(program, key, reason) for key, reason in failed.items()],
            )
            conn.execute(
                "INSERT INTO sync_state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(state),
            )

    def members_after(self, program: str, seq: int) -> tuple[list[tuple[str, str]], int]:
        """(key, member) of the program's entries booked after ``seq`` (by a sync, the loyalty
        API, the expiry job), and the last ``seq`` among them (``seq`` itself when none).
        Served by the primary key: the new entries only."""
        rows = self.db.conn.execute(
            f"SELECT seq, key, member FROM loyalty_journal WHERE seq > ? AND {_PROGRAM}",
            [seq, program],
        ).fetchall()
        pairs = [(str(r[1]), str(r[2])) for r in rows]
        return pairs, max((int(r[0]) for r in rows), default=seq)

    def position(self, program: str) -> int:
        """The last ``seq`` of the program's journal (0 when it holds none)."""
        row = self.db.conn.execute(
            f"SELECT seq FROM loyalty_journal WHERE {_PROGRAM} ORDER BY seq DESC LIMIT 1",
            [program],
        ).fetchone()
        return int(row[0]) if row is not None else 0

    def count_after(self, program: str, seq: int) -> int:
        """How many of the program's entries were booked after ``seq``."""
        row = self.db.conn.execute(
            f"SELECT COUNT(*) FROM loyalty_journal WHERE seq > ? AND {_PROGRAM}", [seq, program]
        ).fetchone()
        return int(row[0])

    def members(self, program: str) -> list[str]:
        """Every member with at least one entry in the program."""
        rows = self.db.conn.execute(
            "SELECT DISTINCT member FROM loyalty_journal WHERE program = ? ORDER BY member",
            [program],
        )
        return [r[0] for r in rows]

    def totals(self, program: str) -> dict[str, dict[str, int]]:
        """Points per kind and currency (``{currency: {kind: sum}}``), for reports."""
        out: dict[str, dict[str, int]] = {}
        for currency, kind, total in self.db.conn.execute(
            "SELECT currency, kind, SUM(points) FROM loyalty_journal WHERE program = ? "
            "GROUP BY currency, kind",
            [program],
        ):
            out.setdefault(currency, {})[kind] = int(total)
        return out

    def token_accrued(self, program: str, token: str, since: datetime) -> int:
        """Points the loyalty API token ``token`` (its name) accrued in ``program`` since
        ``since``: what its daily cap counts."""
        row = self.db.conn.execute(
            "SELECT COALESCE(SUM(points), 0) FROM loyalty_journal WHERE program = ? AND "
            "token = ? AND kind = 'accrual' AND currency = 'points' AND at >= ?",
            [program, token, _text(since)],
        ).fetchone()
        return int(row[0])

    @contextmanager
    def member_transaction(self) -> Iterator[None]:
        """Read-decide-append as one transaction holding SQLite's write lock; a member's
        standing may have changed, so the next sync computes (the inputs generation moves)."""
        with transaction(self.db.conn):
            yield
            bump_generation(self.db)

    # ------------------------------------------------------------------ tiers
    def notified_tiers(self, program: str, members: Sequence[str] | None = None) -> dict[str, str]:
        """member -> the tier last recorded (and told to Salesforce) for the program; of
        ``members`` only when given (looked up by the primary key)."""
        if members is None:
            rows = self.db.conn.execute(
                "SELECT member, tier FROM loyalty_tiers WHERE program = ?", [program]
            ).fetchall()
            return dict(rows)
        head = "SELECT member, tier FROM loyalty_tiers WHERE program = ? AND member"
        return dict(rows_in(self.db.conn, head, list(members), before=[program]))

    def record_tiers(self, program: str, tiers: dict[str, str], run_id: int | None) -> None:
        """Remember each member's tier (after its change was told, or silently at first)."""
        now = datetime.now(UTC).isoformat()
        self.db.conn.executemany(
            "INSERT INTO loyalty_tiers (program, member, tier, since, notified_run) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(program, member) DO UPDATE SET "
            "tier = excluded.tier, since = excluded.since, notified_run = excluded.notified_run",
            [(program, m, t, now, run_id) for m, t in tiers.items()],
        )

    # ------------------------------------------------------------------ vouchers
    def add_voucher(self, row: dict[str, Any]) -> None:
        """Store an issued voucher (its code is the primary key: unique)."""
        self.db.table("loyalty_vouchers").insert(row)

    def vouchers(self, program: str, member: str) -> list[dict[str, Any]]:
        """The member's vouchers, newest first."""
        return list(
            self.db.query(
                "SELECT * FROM loyalty_vouchers WHERE program = ? AND member = ? "
                "ORDER BY issued_at DESC",
                [program, member],
            )
        )

    def voucher_for(self, redemption_key: str) -> dict[str, Any] | None:
        """The voucher a redemption issued, if any."""
        rows = list(
            self.db.query(
                "SELECT * FROM loyalty_vouchers WHERE redemption_key = ?", [redemption_key]
            )
        )
        return rows[0] if rows else None

    def voucher(self, code: str) -> dict[str, Any] | None:
        """The voucher with this code, if any."""
        rows = list(self.db.query("SELECT * FROM loyalty_vouchers WHERE code = ?", [code]))
        return rows[0] if rows else None

    def voucher_use(self, key: str) -> dict[str, Any] | None:
        """The recorded use (or refusal) made under this idempotency key, if any."""
        rows = list(self.db.query("SELECT * FROM loyalty_voucher_uses WHERE key = ?", [key]))
        return rows[0] if rows else None

    def take_use(self, code: str) -> bool:
        """Take one use of ``code`` if one is left: a conditional UPDATE, so two requests can
        never both take the last use, even outside a transaction."""
        cursor = self.db.conn.execute(
            "UPDATE loyalty_vouchers SET uses_left = uses_left - 1 "
            "WHERE code = ? AND uses_left > 0",
            [code],
        )
        return cursor.rowcount == 1

    def record_use(self, key: str, code: str, status: int, outcome: str, at: str) -> None:
        """Remember what a use request under ``key`` answered."""
        self.db.conn.execute(
            "INSERT INTO loyalty_voucher_uses (key, code, status, outcome, at) "
            "VALUES (?, ?, ?, ?, ?)",
            [key, code, status, outcome, at],
        )

    def issued_for(self, source_keys: list[str]) -> set[str]:
        """Which of these promotion/order keys already gave a voucher."""
        head = "SELECT source_key FROM loyalty_vouchers WHERE source_key"
        return {r[0] for r in rows_in(self.db.conn, head, source_keys)}

    def add_vouchers(self, rows: list[dict[str, Any]]) -> int:
        """Store issued vouchers; one whose ``source_key`` is already stored is skipped."""
        before = self.db.conn.total_changes
        self.db.table("loyalty_vouchers").insert_all(rows, ignore=True)
        return int(self.db.conn.total_changes - before)

    def void_voucher(self, redemption_key: str) -> None:
        """A cancelled redemption's voucher can no longer be used."""
        self.db.conn.execute(
            "UPDATE loyalty_vouchers SET uses_left = 0 WHERE redemption_key = ?", [redemption_key]
        )

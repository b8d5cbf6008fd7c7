"""The outbox and what the diff compares against: :class:`OutboxRepository`.

Tables:

- ``written_values``: the last value successfully written per (object, record, field): the
  baseline every diff compares against, so a re-run with no new data writes nothing.
- ``outbox``: changed values waiting to be written; survives crashes and carries retryable
  failures to the next run. Status ``pending`` (to send), ``in_flight`` (sent by ``sent_run``,
  answer not recorded yet: a run that dies leaves these, and the next reads the org before
  sending them again), ``carried`` (retryable failure, sent next run), ``failed`` (refused;
  waits for a new value or ``sync --retry-failed``).
- ``value_log``: every value a run wrote (old, new, status ``written``, ``verified`` when found
  already in the org after a crash, ``carried`` or ``failed``, error).

Values are stored as text (:func:`dumps`, read back by :func:`loads_many`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, NamedTuple

import sqlite_utils

from connector.store.backend import is_postgres, rows_in, transaction
from connector.store.sqlite import now


class PendingWrite(NamedTuple):
    """One value waiting in the outbox (a named tuple: a big write-back holds a million)."""

    object: str
    record_id: str
    field: str
    value: Any
    attempts: int
    status: str
    text: str  # the value as the outbox stores it (``dumps``), so results need no re-encoding

    @property
    def key(self) -> tuple[str, str, str]:
        """(object, record id, field): the outbox's and the baseline's primary key."""
        return (self.object, self.record_id, self.field)


def dumps(value: Any) -> str:
    """A field value as stored text (JSON keeps None, numbers and text apart).

    Numbers and None, most of what a write-back holds, skip the JSON encoder: its output for
    them is ``repr`` (finite floats, ints) and ``null``, which the property test holds to.
    """
    kind = type(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return "null"
    if kind is str:  # what json.dumps gives a str (ensure_ascii), without its encoder setup
        return encode_basestring_ascii(value)
    return json.dumps(value, sort_keys=True, default=str)


def loads_many(texts: Sequence[str]) -> list[Any]:
    """Stored values back from their texts (:func:`dumps` reversed), as ``json.loads`` of each.

    One JSON array through the C decoder instead of a decoder call per value: reading 300,000
    values back took 2.3 s, 1.3 s of it in per-value ``json.loads``; the array parse takes a
    tenth of that (``bench/outbox.py``). Every stored text is one JSON value, so joined with
    commas they are an array; should one not be, each is decoded alone.
    """
    if not texts:
        return []
    try:
        values: list[Any] = json.loads("[" + ",".join(texts) + "]")
    except ValueError:
        return [json.loads(t) for t in texts]
    if len(values) != len(texts):  # a text holding two values: never from dumps
        return [json.loads(t) for t in texts]
    return values


# A value written again replaces the baseline of its (object, record, field).
_NEW_BASELINE = (
    "ON CONFLICT (object, record_id, field) DO UPDATE SET value = excluded.value, "
    "run_id = excluded.run_id, written_at = excluded.written_at"
)


#: Outbox rows read per ``fetchmany`` when a whole write-back is read back.
_READ_CHUNK = 50_000


class OutboxRepository:
    """The outbox, the written-value baseline and the value log (``store.outbox``)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def written_values(self) -> dict[tuple[str, str, str], str]:
        """The last successfully written value per (object, record, field), as stored text."""
        return {
            (r[0], r[1], r[2]): r[3]
            for r in self.db.execute(
                "SELECT object, record_id, field, value FROM written_values"
            ).fetchall()
        }

    def values(self) -> dict[tuple[str, str, str], tuple[str, str]]:
        """Outbox rows: (object, record, field) -> (value text, status)."""
        return {
            (r[0], r[1], r[2]): (r[3], r[4])
            for r in self.db.execute(
                "SELECT object, record_id, field, value, status FROM outbox"
            ).fetchall()
        }

    def enqueue(self, run_id: int, changes: Iterable[tuple[str, str, str, Any]]) -> int:
        """Put changed values in the outbox (replacing older pending values for the same field).

        The rows are encoded as they are inserted, not listed first: on SQLite a first sync's
        2.0M values (medium seed) were held a second time, as text, beside the changes.
        """
        count = 0

        def rows() -> Iterator[tuple[str, str, str, str, int]]:
            nonlocal count
            for o, r, f, v in changes:
                count += 1
                yield (o, r, f, dumps(v), run_id)

        with transaction(self.db.conn):
            self.db.conn.executemany(
                "INSERT INTO outbox (object, record_id, field, value, run_id, attempts, status, "
                "error) VALUES (?, ?, ?, ?, ?, 0, 'pending', NULL) "
                "ON CONFLICT (object, record_id, field) DO UPDATE SET value = excluded.value, "
                "run_id = excluded.run_id, attempts = 0, status = 'pending', error = NULL",
                rows(),
            )
        return count

    def drop(self, keys: Iterable[tuple[str, str, str]]) -> None:
        """Remove outbox rows that no longer apply (the record was deleted, the value reverted)."""
        with transaction(self.db.conn):
            self.db.conn.executemany(
                "DELETE FROM outbox WHERE object = ? AND record_id = ? AND field = ?", list(keys)
            )

    def requeue_failed(self) -> int:
        """Send refused values again (after the admin fixed the cause, e.g. a validation rule)."""
        cursor = self.db.execute("UPDATE outbox SET status = 'pending' WHERE status = 'failed'")
        return int(cursor.rowcount)

    def mark_in_flight(self, run_id: int, records: Iterable[tuple[str, str]]) -> None:
        """Mark the values waiting for ``records`` ((object, record id): every ``pending`` or
        ``carried`` row, which is what a push batch sends) as sent by ``run_id``, before the
        call that sends them.

        Until :meth:`record_results` records the answer they stay ``in_flight``: a run killed
        in between leaves them so, and the next run reads the org before sending them again.
        By record, not by field (one primary-key prefix per record, not one lookup per value),
        and set-based: the records are staged once and one UPDATE marks their rows.
        """
        with transaction(self.db.conn):
            self._stage_records(records)
            self.db.conn.execute(
                "UPDATE outbox SET status = 'in_flight', sent_run = ? WHERE status IN "
                "('pending', 'carried') AND (object, record_id) IN "
                "(SELECT object, record_id FROM batch_records)",
                [run_id],
            )

    def _stage_records(self, records: Iterable[tuple[str, str]]) -> None:
        """(object, record id) pairs into the connection's temporary ``batch_records``, for
        one set statement over their outbox rows (inside the caller's transaction)."""
        conn = self.db.conn
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS batch_records (object TEXT, record_id TEXT, "
            "PRIMARY KEY (object, record_id)) WITHOUT ROWID"
        )
        conn.execute("DELETE FROM batch_records")
        conn.executemany(
            "INSERT INTO batch_records VALUES (?, ?) ON CONFLICT (object, record_id) DO NOTHING",
            records,
        )
        if is_postgres(conn):
            # Autovacuum never analyses a temporary table: without statistics PostgreSQL took
            # a push batch's 200 records for ~900 rows and hash-joined them against a scan of
            # the whole outbox (65 ms a batch at 75,000 values, growing with the outbox);
            # analysed, it looks each record up in the outbox's key (1 ms).
            conn.execute("ANALYZE batch_records")

    def release_in_flight(self, keys: Iterable[tuple[str, str, str]]) -> None:
        """Put in-flight rows back to ``pending``: known not sent (the quota guard refused)."""
        with transaction(self.db.conn):
            self.db.conn.executemany(
                "UPDATE outbox SET status = 'pending' WHERE status = 'in_flight' "
                "AND object = ? AND record_id = ? AND field = ?",
                list(keys),
            )

    def in_flight(self) -> list[PendingWrite]:
        """Outbox rows sent by a run that never recorded their answer (it crashed)."""
        rows = self.db.execute(
            "SELECT object, record_id, field, value, attempts, status FROM outbox "
            "WHERE status = 'in_flight' ORDER BY object, record_id, field"
        ).fetchall()
        return [PendingWrite(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[3]) for r in rows]

    def record_verified(
        self,
        run_id: int,
        held: Sequence[PendingWrite],
        resend: Sequence[PendingWrite],
    ) -> None:
        """Settle in-flight rows after reading the org: values it ``held`` become the baseline
        (logged ``verified``: written by the crashed run, not sent again); the rest go back to
        ``pending`` and are sent as usual."""
        at = now()
        with transaction(self.db.conn):
            conn = self.db.conn
            conn.executemany(
                "INSERT INTO value_log (run_id, object, record_id, field, old, new, status, "
                "error, at) SELECT ?, ?, ?, ?, (SELECT value FROM written_values WHERE object = ?"
                " AND record_id = ? AND field = ?), ?, 'verified', NULL, ?",
                [(run_id, *w.key, *w.key, w.text, at) for w in held],
            )
            conn.executemany(
                "INSERT INTO written_values (object, record_id, field, value, run_id, written_at) "
                f"VALUES (?, ?, ?, ?, ?, ?) {_NEW_BASELINE}",
                [(*w.key, w.text, run_id, at) for w in held],
            )
            conn.executemany(
                "DELETE FROM outbox WHERE object = ? AND record_id = ? AND field = ?",
                [w.key for w in held],
            )
            conn.executemany(
                "UPDATE outbox SET status = 'pending' WHERE object = ? AND record_id = ? "
                "AND field = ?",
                [w.key for w in resend],
            )

    def outstanding(
        self, limit: int = 20, *, records: Collection[tuple[str, str]] | None = None
    ) -> list[dict[str, Any]]:
        """Values still waiting in the outbox, grouped by object, field, status and reason (the
        error code Salesforce gave), largest groups first; only those of ``records`` ((object,
        record id) pairs) when given."""
        where, params = _of_records(records)
        rows = self.db.execute(
            "SELECT object, field, status, CASE WHEN instr(COALESCE(error, ''), ':') > 0 "
            "THEN substr(error, 1, instr(error, ':') - 1) ELSE error END AS reason, COUNT(*) "
            f"FROM outbox {'WHERE ' + where if where else ''} "
            "GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC, 1, 2 LIMIT ?",
            [*params, limit],
        ).fetchall()
        return [
            {"object": r[0], "field": r[1], "status": r[2], "reason": r[3], "values": r[4]}
            for r in rows
        ]

    def pending(self, records: Collection[tuple[str, str]] | None = None) -> list[PendingWrite]:
        """Everything the outbox still has to write (failed rows wait for a new value); only
        what it has for ``records`` ((object, record id) pairs) when given.

        Read a chunk at a time, and with one string object per distinct object, record id,
        field and status (SQLite hands out a new one per row): a first sync's 1,154,988 values
        held 487 MB at a 602 MB peak read whole, 217 MB at a 245 MB peak so (tracemalloc, one
        process), for 0.8 s more CPU (3.4 s -> 4.2 s).
        """
        where, params = _of_records(records)
        cursor = self.db.execute(
            "SELECT object, record_id, field, value, attempts, status FROM outbox "
            f"WHERE status IN ('pending', 'carried') {'AND ' + where if where else ''} "
            "ORDER BY object, record_id, field",
            params,
        )
        same: dict[str, str] = {}
        share = same.setdefault
        out: list[PendingWrite] = []
        while rows := cursor.fetchmany(_READ_CHUNK):
            values = loads_many([r[3] for r in rows])
            out += [
                PendingWrite(share(r[0], r[0]), share(r[1], r[1]), share(r[2], r[2]), v, r[4],
                             share(r[5], r[5]), r[3])
                for r, v in zip(rows, values, strict=True)
            ]  # fmt: skip
        return out

    def record_results(
        self,
        run_id: int,
        written: Sequence[PendingWrite],
        carried: Sequence[tuple[PendingWrite, str]],
        failed: Sequence[tuple[PendingWrite, str]],
    ) -> None:
        """Apply one push batch's outcome atomically: baseline, outbox and value log together.

        Touches only the batch's rows. A record is written whole (its body carries every value
        :meth:`mark_in_flight` marked for it), so the written values are settled by record:
        the records go into a temporary table, and the log (with each old value from the
        baseline), the new baseline and the outbox cleanup are three set statements over
        their rows still ``in_flight`` for ``run_id``; the run lock keeps anyone else from
        queueing a value meanwhile. Staging 64,166 records instead of their 1,154,988 values
        took the step from 5.6 s of CPU to 4.5 s (bench/outbox.py's shape, one process).
        """
        at = now()
        log_sql = (
            "INSERT INTO value_log (run_id, object, record_id, field, old, new, status, error, at)"
            " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)"
        )
        sent = (
            "FROM batch_records b JOIN outbox o ON o.object = b.object AND o.record_id = "
            "b.record_id AND o.status = 'in_flight' AND o.sent_run = ?"
        )
        with transaction(self.db.conn):
            conn = self.db.conn
            self._stage_records(dict.fromkeys((w.object, w.record_id) for w in written))
            conn.execute(
                "INSERT INTO value_log (run_id, object, record_id, field, old, new, status, "
                f"error, at) SELECT ?, o.object, o.record_id, o.field, w.value, o.value, "
                f"'written', NULL, ? {sent} LEFT JOIN written_values w ON w.object = o.object "
                "AND w.record_id = o.record_id AND w.field = o.field",
                (run_id, at, run_id),
            )
            conn.execute(
                # WHERE true: SQLite's parser needs it to read ON CONFLICT after a SELECT.
                "INSERT INTO written_values (object, record_id, field, value, run_id, written_at) "
                f"SELECT o.object, o.record_id, o.field, o.value, ?, ? {sent} WHERE true "
                f"{_NEW_BASELINE}",
                (run_id, at, run_id),
            )
            conn.execute(
                "DELETE FROM outbox WHERE status = 'in_flight' AND sent_run = ? AND "
                "(object, record_id) IN (SELECT object, record_id FROM batch_records)",
                (run_id,),
            )
            for status, rows in (("carried", carried), ("failed", failed)):
                conn.executemany(
                    "UPDATE outbox SET status = ?, attempts = attempts + 1, error = ? "
                    "WHERE object = ? AND record_id = ? AND field = ?",
                    [(status, err, *w.key) for w, err in rows],
                )
                conn.executemany(
                    log_sql, [(run_id, *w.key, w.text, status, err, at) for w, err in rows]
                )

    def prune_value_log(self, older_than: datetime) -> int:
        """Drop the value log of runs started before ``older_than``; returns the rows dropped.

        The log grows by one row per written field (a day's prediction refresh writes about
        two per buyer), so it is kept for a window, not forever. Runs themselves stay: they
        are small and `lead2loyalty runs` shows them.
        """
        with transaction(self.db.conn):
            cursor = self.db.conn.execute(
                "DELETE FROM value_log WHERE run_id IN (SELECT id FROM runs WHERE started_at < ?)",
                [older_than.astimezone(UTC).isoformat(timespec="milliseconds")],
            )
        return int(cursor.rowcount)

    def value_log(self, run_id: int | None = None) -> list[dict[str, Any]]:
        """Logged values (of one run, or all)."""
        where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
        cursor = self.db.execute(
            f"SELECT run_id, object, record_id, field, old, new, status, error FROM value_log "
            f"{where} ORDER BY rowid",
            params,
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def value_log_page(
        self,
        run_id: int,
        *,
        obj: str = "",
        field: str = "",
        record_id: str = "",
        objects: Sequence[str] = (),
        limit: int = 200,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], bool]:
        """One page of a run's value log (old -> new per record and field), narrowed by
        object, field and record id when given; returns (the page's rows, whether more follow).

        Timed on a medium seed's full run (1.16 million rows): a page by the run_id index
        under 1 ms, page 50 of one field 76 ms. There is no total: counting the run's rows
        took 116 ms, 566 ms for one field. A record is looked up through the (object,
        record_id) index, among ``objects`` (the person objects) when no object is given:
        through the run_id index it took 860 ms.
        """
        where = ["run_id = ?"]
        params: list[Any] = [run_id]
        if record_id:
            among = [obj] if obj else list(objects)
            where = ["+run_id = ?", f"object IN ({', '.join('?' * len(among))})", "record_id = ?"]
            params = [run_id, *among, record_id]
        elif obj:
            where.append("object = ?")
            params.append(obj)
        if field:
            where.append("field = ?")
            params.append(field)
        cursor = self.db.execute(
            f"SELECT object, record_id, field, old, new, status, error FROM value_log "
            f"WHERE {' AND '.join(where)} ORDER BY rowid LIMIT ? OFFSET ?",
            [*params, limit + 1, offset],
        )
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return rows[:limit], len(rows) > limit

    def written_sample(self, obj: str, field: str, limit: int = 5) -> list[tuple[str, str]]:
        """Up to ``limit`` (record id, value written) of ``obj``.``field``, by record id: the
        sample records a mapping preview shows (the same ones each time)."""
        rows = self.db.execute(
            "SELECT record_id, value FROM written_values WHERE object = ? AND field = ? "
            "ORDER BY record_id LIMIT ?",
            [obj, field, limit],
        ).fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]

    def counts(self) -> dict[str, int]:
        """Outbox rows per status."""
        return {
            r[0]: r[1]
            for r in self.db.execute(
                "SELECT status, COUNT(*) FROM outbox GROUP BY status"
            ).fetchall()
        }

    def baseline_for(
        self, records: Sequence[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str, str], str], dict[tuple[str, str, str], tuple[str, str]]]:
        """The written-value baseline and the outbox rows of just these (object, record id) pairs:
        a real-time pass over a few people need not read the whole baseline."""
        conn = self.db.conn
        written: dict[tuple[str, str, str], str] = {}
        outbox: dict[tuple[str, str, str], tuple[str, str]] = {}
        by_object: dict[str, list[str]] = {}
        for obj, record_id in records:
            by_object.setdefault(obj, []).append(record_id)
        # One object and a list of ids per statement, which the primary key (object,
        # record_id, field) serves; a row-value IN over (VALUES ...) scanned all 1.155M
        # written values of the medium seed (0.75 s for a real-time pass of 10 people).
        # SQLite, without statistics, preferred the admin page's covering index by field
        # (object first): every statement scanned all the object's written values (a run of
        # 5,600 people and their 60,000 Orders on the medium seed spent 90 s there, loaded).
        pk = "" if is_postgres(self.db) else " INDEXED BY sqlite_autoindex_written_values_1"
        for obj, ids in by_object.items():
            head = f"SELECT record_id, field, value FROM written_values{pk} WHERE object = ? AND"
            for r, f, v in rows_in(conn, f"{head} record_id", ids, before=[obj]):
                written[(obj, r, f)] = v
            head = "SELECT record_id, field, value, status FROM outbox WHERE object = ? AND"
            for r, f, v, st in rows_in(conn, f"{head} record_id", ids, before=[obj]):
                outbox[(obj, r, f)] = (v, st)
        return written, outbox


def _of_records(records: Collection[tuple[str, str]] | None) -> tuple[str, list[str]]:
    """A condition on the outbox's rows of ``records`` (none when None), and its parameters:
    by record id (a Salesforce id names one record of one object), checked against the object
    too. An empty collection matches nothing."""
    if records is None:
        return "", []
    pairs = sorted(records)
    if not pairs:
        return "1 = 0", []
    marks = ", ".join("?" * len(pairs))
    objects = sorted({o for o, _ in pairs})
    return (
        f"record_id IN ({marks}) AND object IN ({', '.join('?' * len(objects))})",
        [r for _, r in pairs] + objects,
    )

"""The admin page's state and reads: failed sign-ins, for its lockout
(:class:`AdminRepository`), and the KPI funnel across tables (:func:`funnel`).

Table (migration ``_v14_admin_sign_in``): ``admin_sign_in_failures`` (account, client address,
when). Kept in the database, not in a web worker's memory, so every gunicorn worker counts the
same failures: a guesser whose requests are spread over the workers is locked out all the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pandas as pd
import sqlite_utils

from connector.store.backend import (
    MISSING,
    clamped,
    frame_in,
    read_frame,
    transaction,
    whole_part,
)
from connector.store.schema import SUMS_POSITION, add_journal_sums

#: Journal entries added to the totals per write transaction of a catch-up: the write lock is
#: let go between chunks, so a redemption waits for one chunk, never the whole catch-up.
CATCH_UP_CHUNK = 50_000

#: The ``sync_state`` key of the last ``doctor`` checklist (``connector.doctor.save_report``),
#: read by the admin page's mappings for each field's deploy state. Here, not in
#: ``connector.doctor``, so a web worker reads it without loading the Salesforce client.
DOCTOR_REPORT = "doctor_report"


#: The ``sync_state`` key prefix (then the program) of the points-expiring table's position:
#: ``"<last seq it includes> <time zone its months are in>"`` (migration ``_v20``).
EXPIRING_POSITION = "admin_expiring_seq:"

#: Members per ``IN (...)`` of a read or delete of the points-expiring catch-up.
MEMBERS_PER_QUERY = 500


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


class AdminRepository:
    """Failed admin sign-ins per (account, address) (``store.admin``)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def record_failure(self, account: str, address: str, at: datetime) -> None:
        """Count one failed sign-in of ``account`` from ``address``."""
        with transaction(self.db.conn):
            self.db.conn.execute(
                "INSERT INTO admin_sign_in_failures (account, address, at) VALUES (?, ?, ?)",
                (account, address, _stamp(at)),
            )

    def failures_since(self, account: str, address: str, since: datetime) -> int:
        """Failed sign-ins of ``account`` from ``address`` at or after ``since``."""
        row = self.db.conn.execute(
            "SELECT COUNT(*) FROM admin_sign_in_failures WHERE account = ? AND address = ? "
            "AND at >= ?",
            (account, address, _stamp(since)),
        ).fetchone()
        return int(row[0])

    def funnel(
        self,
        *,
        program: str | None,
        intent_field: str | None,
        orders_field: str | None,
        revenue_field: str | None,
        hot_from: float,
    ) -> Funnel:
        """:func:`funnel` of this database (the totals caught up first)."""
        self.catch_up()
        return funnel(
            self.db,
            program=program,
            intent_field=intent_field,
            orders_field=orders_field,
            revenue_field=revenue_field,
            hot_from=hot_from,
        )

    def written_counts(self, obj: str, field: str, limit: int = 13) -> list[tuple[str, int]]:
        """The values last written to ``obj``.``field`` (stored text) with how many records
        hold each, commonest first; at most ``limit`` of them."""
        rows = self.db.conn.execute(
            "SELECT value, COUNT(*) FROM written_values WHERE object = ? AND field = ? "
            "GROUP BY value ORDER BY 2 DESC, 1 LIMIT ?",
            [obj, field, limit],
        ).fetchall()
        return [(str(r[0]), int(r[1])) for r in rows]

    def written_histogram(self, obj: str, field: str, bins: int) -> tuple[float, float, list[int]]:
        """The numbers last written to ``obj``.``field`` (cleared fields left out) counted in
        ``bins`` equal ranges from the lowest to the highest: (lowest, range width, counts);
        the highest value falls in the last range. Counted by the database over the covering index
        (reading 50,000 numbers into Python took 30-110 ms a field on the medium seed)."""
        low, high = self.db.conn.execute(
            "SELECT MIN(CAST(value AS REAL)), MAX(CAST(value AS REAL)) FROM written_values "
            "WHERE object = ? AND field = ? AND value != 'null'",
            [obj, field],
        ).fetchone()
        if low is None:
            return 0.0, 1.0, [0] * bins
        width = (float(high) - float(low)) / bins or 1.0
        counts = [0] * bins
        bar = whole_part(self.db, "(CAST(value AS REAL) - ?) / ?")
        for at, n in self.db.conn.execute(
            f"SELECT {clamped(self.db, bar, None, '?')}, COUNT(*) FROM written_values "
            "WHERE object = ? AND field = ? AND value != 'null' GROUP BY 1",
            [float(low), width, bins - 1, obj, field],
        ):
            counts[int(at)] += int(n)
        return float(low), width, counts

    def top_written(
        self, obj: str, field: str, beside: str | None, limit: int = 10
    ) -> list[tuple[str, str, str | None]]:
        """The ``limit`` records of ``obj`` with the highest number last written to ``field``:
        (record id, that value, the value last written to ``beside`` on the same record)."""
        rows = self.db.conn.execute(
            "SELECT w.record_id, w.value, b.value FROM written_values w LEFT JOIN "
            "written_values b ON b.object = w.object AND b.record_id = w.record_id "
            "AND b.field = ? WHERE w.object = ? AND w.field = ? AND w.value != 'null' "
            "ORDER BY CAST(w.value AS REAL) DESC, w.record_id LIMIT ?",
            [beside or "", obj, field, limit],
        ).fetchall()
        return [(str(r[0]), str(r[1]), None if r[2] is None else str(r[2])) for r in rows]

    def change_marks(self) -> tuple[int, int, int]:
        """Marks that move whenever what the scores and KPI pages read may have changed: the
        newest value-log row (every written value logs one), the newest journal entry, and
        the inputs generation (pulled records, events). Three O(1) reads (the last row of a
        b-tree, one ``sync_state`` row), for a page to keep its figures until one moves."""
        conn = self.db.conn
        logged = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM value_log").fetchone()[0]
        booked = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM loyalty_journal").fetchone()[0]
        row = conn.execute(
            "SELECT value FROM sync_state WHERE key = 'inputs_generation'"
        ).fetchone()
        return int(logged), int(booked), int(row[0]) if row else 0

    def sums_position(self) -> tuple[int, int]:
        """(the last journal ``seq`` the totals include, the newest ``seq``)."""
        conn = self.db.conn
        row = conn.execute("SELECT value FROM sync_state WHERE key = ?", [SUMS_POSITION]).fetchone()
        newest = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM loyalty_journal").fetchone()[0]
        return (int(row[0]) if row else 0), int(newest)

    def catch_up(self, *, chunk: int = CATCH_UP_CHUNK) -> int:
        """Add the journal entries booked since the totals' position to the totals (rules of
        ``_v16_admin_summaries``/``_v18``): every read of the totals calls it first, so the
        journal's append pays nothing for them. Each chunk of ``seq`` is one transaction that
        re-reads the position under the write lock (two readers catching up at once add each
        entry once) and moves it with the sums. Returns how many ``seq`` it moved past; two
        O(1) reads when nothing is new."""
        done, newest = self.sums_position()
        moved = 0
        while done < newest:
            conn = self.db.conn
            with transaction(conn):
                row = conn.execute(
                    "SELECT value FROM sync_state WHERE key = ?", [SUMS_POSITION]
                ).fetchone()
                start = int(row[0]) if row else 0
                upto = min(start + max(chunk, 1), newest)
                if upto > start:
                    add_journal_sums(conn, start, upto)
                    conn.execute(
                        "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value",
                        [SUMS_POSITION, str(upto)],
                    )
                    moved += upto - start
            done = max(upto, start)
        return moved

    def loyalty_report(self, program: str) -> dict[str, Any]:
        """A program's report from the totals of the journal (migration
        ``_v16_admin_summaries``): the shape of ``LoyaltyService.report``, except members per
        tier, which is the tier each member was last told (``loyalty_tiers``, what Salesforce
        shows), not one recomputed now. A few hundred rows read, whatever the journal's size
        (after :meth:`catch_up`)."""
        self.catch_up()
        sums = self.db.conn.execute(
            "SELECT currency, kind, rule_id, partner, points FROM loyalty_sums WHERE program = ?",
            [program],
        ).fetchall()
        kinds: dict[str, int] = {}
        rules: dict[str, int] = {}
        partners: dict[str, int] = {}
        cashback = 0
        for currency, kind, rule_id, partner, points in sums:
            if currency == "cashback":
                cashback += int(points)
            if currency != "points":
                continue
            kinds[kind] = kinds.get(kind, 0) + int(points)
            # the service groups by rule_id, a missing one left out (pandas drops NaN keys)
            if kind == "accrual" and rule_id:
                rules[rule_id] = rules.get(rule_id, 0) + int(points)
            if partner:
                partners[partner] = partners.get(partner, 0) + int(points)

        def total(names: tuple[str, ...], sign: int = 1) -> int:
            return sign * sum(kinds.get(k, 0) for k in names)

        members = self.db.conn.execute(
            "SELECT COUNT(*) FROM loyalty_member_sums WHERE program = ?", [program]
        ).fetchone()[0]
        tiers = self.db.conn.execute(
            "SELECT tier, COUNT(*) FROM loyalty_tiers WHERE program = ? AND tier IS NOT NULL "
            "GROUP BY tier ORDER BY 2 DESC, 1",
            [program],
        ).fetchall()
        top = sorted(rules.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        return {
            "program": program,
            "members": int(members),
            "tiers": {str(t): int(n) for t, n in tiers},
            "points": {
                "issued": total(("accrual",)),
                "redeemed": total(("redemption", "redemption_cancel"), -1),
                "expired": total(("expiry",), -1),
                "reversed": total(("reversal",), -1),
                "adjusted": total(("adjustment", "transfer", "settlement", "deferral")),
                "outstanding": sum(kinds.values()),
            },
            "top_rules": [{"rule": r, "points": n} for r, n in top],
            "partners": dict(sorted(partners.items())),
            "cashback_outstanding": round(cashback / 100, 2),
        }

    def points_lot_entries(
        self, program: str, members: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """The entries of the program's points currency that make and consume lots, with the
        columns the ledger's ``lot_state`` reads (a DataFrame; times as aware UTC): the
        program's lots, what each still holds, and when it expires, without the journal's
        other columns and currencies. Only those of ``members``, when given (read over the
        ``(program, member)`` index, :data:`MEMBERS_PER_QUERY` at a time)."""
        select = (
            'SELECT member, "key", kind, currency, points, "lot", "at", expires_at, '
            "available_at FROM loyalty_journal WHERE program = ? AND currency = 'points'"
        )
        if members is None:
            frame = read_frame(select + " ORDER BY seq", self.db.conn, [program])
        else:
            frame = frame_in(
                self.db.conn,
                f"{select} AND member",
                list(members),
                before=[program],
                tail=" ORDER BY seq",
                chunk=MEMBERS_PER_QUERY,
            )
        frame["points"] = frame["points"].astype("int64")
        for column in ("at", "expires_at", "available_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        return frame

    def _expiring_mark(self, program: str) -> str | None:
        row = self.db.conn.execute(
            "SELECT value FROM sync_state WHERE key = ?", [EXPIRING_POSITION + program]
        ).fetchone()
        return str(row[0]) if row else None

    def expiring_position(self, program: str) -> tuple[int, str | None]:
        """(the last journal ``seq`` the program's points-expiring rows include, the time zone
        their months are in; None before the first catch-up)."""
        mark = self._expiring_mark(program)
        if mark is None:
            return 0, None
        seq, _, zone = mark.partition(" ")
        return int(seq), zone or None

    def catch_up_expiring(
        self,
        program: str,
        zone: str,
        held_by_month: Callable[[pd.DataFrame], pd.DataFrame],
    ) -> int:
        """Bring the program's points-expiring rows (``loyalty_expiring``: member, month of
        expiry in ``zone``, points its lots still hold) up to the newest journal entry.

        Only the members with a points entry booked since the stored position are recomputed:
        ``held_by_month`` (the loyalty layer's lot arithmetic, which the store does not import)
        gets their whole points entries and returns ``member``, ``month``, ``points``; their
        old rows are replaced. What a member's lots hold depends only on that member's entries,
        so the others' rows stay true. A new zone, or none stored, rebuilds the program. The
        computing happens outside the write lock; the write re-reads the position under it and
        writes nothing when another reader moved it meanwhile (its rows are as new). An entry
        booked while computing has a ``seq`` above the newest read here, so the next catch-up
        recomputes its member. Returns how many members were recomputed."""
        before = self._expiring_mark(program)
        done, kept_zone = self.expiring_position(program)
        if kept_zone != zone:
            done = 0
        conn = self.db.conn
        newest = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM loyalty_journal").fetchone()[0]
        newest = int(newest)
        if done >= newest and kept_zone == zone:
            return 0
        full = done == 0
        if full:
            members: list[str] | None = None
            entries = self.points_lot_entries(program)
        else:
            members = [
                str(r[0])
                for r in conn.execute(
                    # the program as an expression: SQLite then walks the primary key from
                    # the position, not every entry of the program through its index (110 ms
                    # -> 0.2 ms on the medium seed's journal, each first view after a booking)
                    "SELECT DISTINCT member FROM loyalty_journal WHERE program || '' = ? "
                    "AND currency = 'points' AND seq > ? AND seq <= ?",
                    [program, done, newest],
                )
            ]
            entries = self.points_lot_entries(program, members) if members else None
        held = held_by_month(entries) if entries is not None and len(entries) else None
        rows = (
            []
            if held is None
            else [
                (program, str(m), str(month), int(p))
                for m, month, p in zip(held["member"], held["month"], held["points"], strict=True)
                if int(p) != 0
            ]
        )
        with transaction(conn):
            if self._expiring_mark(program) != before:
                return 0  # another reader caught up meanwhile
            if members is None:
                conn.execute("DELETE FROM loyalty_expiring WHERE program = ?", [program])
            else:
                for start in range(0, len(members), MEMBERS_PER_QUERY):
                    chunk = members[start : start + MEMBERS_PER_QUERY]
                    conn.execute(
                        "DELETE FROM loyalty_expiring WHERE program = ? AND member IN "
                        f"({', '.join('?' * len(chunk))})",
                        [program, *chunk],
                    )
            if rows:
                conn.executemany(
                    "INSERT INTO loyalty_expiring (program, member, month, points) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
            conn.execute(
                "INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) "
                "DO UPDATE SET value = excluded.value",
                [EXPIRING_POSITION + program, f"{newest} {zone}"],
            )
        return len({r[1] for r in rows}) if members is None else len(members)

    def expiring_by_month(self, program: str, first: str, last: str) -> dict[str, tuple[int, int]]:
        """From the points-expiring rows (after :meth:`catch_up_expiring`): month -> (points,
        distinct members) for the months ``first`` to ``last`` (``YYYY-MM``), a month before
        ``first`` counted in ``first`` (due already: taken at the next expiry run) and one after
        ``last`` as ``"later"``."""
        rows = self.db.conn.execute(
            "SELECT CASE WHEN month < ? THEN ? WHEN month > ? THEN 'later' ELSE month END, "
            "SUM(points), COUNT(DISTINCT member) FROM loyalty_expiring WHERE program = ? "
            "GROUP BY 1",
            [first, first, last, program],
        ).fetchall()
        return {str(m): (int(p), int(n)) for m, p, n in rows}

    def liability_by_day(self, program: str) -> list[tuple[str, int]]:
        """(day, points outstanding at that day's end) for each day points moved, oldest
        first: the running sum of the per-day totals (caught up first)."""
        self.catch_up()
        rows = self.db.conn.execute(
            "SELECT day, SUM(points) OVER (ORDER BY day) FROM loyalty_days "
            "WHERE program = ? AND currency = 'points' ORDER BY day",
            [program],
        ).fetchall()
        return [(str(d), int(n)) for d, n in rows]

    def conversion_by_band(self, intent_field: str) -> list[dict[str, Any]]:
        """Leads per band of the intent score last written to ``intent_field`` (0-1, 1-2, 2-3,
        3-4 and 4-5, the bands of ``evaluate intent``; the last includes 5), with how many of
        them are converted today (``IsConverted`` of the pulled Lead) and that rate. Unlike
        ``evaluate intent`` (scores as of a past day, conversions within a horizon) this is
        today's score beside today's state: a quick look, not a backtest."""
        banded = clamped(self.db, whole_part(self.db, "CAST(w.value AS REAL)"), "0", "4")
        try:
            rows = self.db.conn.execute(
                f"SELECT {banded}, COUNT(*), "
                'SUM(COALESCE(l."IsConverted", 0)) FROM written_values w JOIN "sf_Lead" l '
                "ON l.\"Id\" = w.record_id WHERE w.object = 'Lead' AND w.field = ? "
                "AND w.value != 'null' GROUP BY 1",
                [intent_field],
            ).fetchall()
        except MISSING:  # no Lead pulled in this org
            rows = []
        found = {int(b): (int(n), int(c or 0)) for b, n, c in rows}
        out = []
        for band in range(5):
            n, converted = found.get(band, (0, 0))
            out.append(
                {
                    "band": f"{band}-{band + 1}",
                    "rows": n,
                    "converted": converted,
                    "rate": round(converted / n, 4) if n else None,
                }
            )
        return out

    def fitted_models(self) -> list[dict[str, Any]]:
        """Every stored model fit: name, when, and what the fit measured (decoded)."""
        rows = self.db.conn.execute(
            "SELECT name, fitted_at, record FROM model_params ORDER BY name"
        ).fetchall()
        return [{"name": r[0], "fitted_at": r[1], "record": json.loads(r[2] or "{}")} for r in rows]

    def clear_failures(self, account: str, address: str, before: datetime) -> None:
        """Forget the failures of ``account`` from ``address`` (a good sign-in), and every
        failure older than ``before`` (outside any lockout window: the table stays small)."""
        with transaction(self.db.conn):
            self.db.conn.execute(
                "DELETE FROM admin_sign_in_failures WHERE (account = ? AND address = ?) OR at < ?",
                (account, address, _stamp(before)),
            )


class Funnel(NamedTuple):
    """The lead-to-loyalty funnel's counts, and revenue split by loyalty membership."""

    leads: int
    converted: int
    hot_leads: int
    buyers: int
    repeat_buyers: int
    members: int
    revenue_members: float
    revenue_others: float


def funnel(
    db: sqlite_utils.Database,
    *,
    program: str | None,
    intent_field: str | None,
    orders_field: str | None,
    revenue_field: str | None,
    hot_from: float,
) -> Funnel:
    """The funnel from the pulled Leads, the values last written (intent, order count,
    revenue: what Salesforce shows) and the loyalty journal. A figure whose source is absent
    (no Lead pulled, a value not mapped, no program) is 0. Members come from the per-member
    totals (``loyalty_member_sums``, caught up by the caller), not the journal itself."""
    conn = db.conn

    def one(sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
        try:
            row = conn.execute(sql, list(params)).fetchone()
        except MISSING:  # a table or column this org never had
            return (0, 0)
        return tuple(v or 0 for v in row)

    leads, converted = one(
        'SELECT COUNT(*), SUM("IsConverted") FROM "sf_Lead" WHERE COALESCE("IsDeleted", 0) = 0'
    )
    hot = one(
        "SELECT COUNT(*) FROM written_values WHERE object = 'Lead' AND field = ? "
        "AND CAST(value AS REAL) >= ?",
        [intent_field or "", hot_from],
    )[0]
    buyers, repeat = one(
        "SELECT SUM(CASE WHEN CAST(value AS REAL) >= 1 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN CAST(value AS REAL) >= 2 THEN 1 ELSE 0 END) "
        "FROM written_values WHERE field = ? AND object IN ('Contact', 'Lead')",
        [orders_field or ""],
    )
    members = one("SELECT COUNT(*) FROM loyalty_member_sums WHERE program = ?", [program or ""])[0]
    revenue_members, revenue_all = one(
        "SELECT SUM(CASE WHEN ('Contact:' || record_id) IN (SELECT member FROM "
        "loyalty_member_sums WHERE program = ?) THEN CAST(value AS REAL) END), "
        "SUM(CAST(value AS REAL)) "
        "FROM written_values WHERE field = ? AND object = 'Contact'",
        [program or "", revenue_field or ""],
    )
    return Funnel(
        leads=int(leads),
        converted=int(converted),
        hot_leads=int(hot),
        buyers=int(buyers),
        repeat_buyers=int(repeat),
        members=int(members),
        revenue_members=round(float(revenue_members), 2),
        revenue_others=round(float(revenue_all) - float(revenue_members), 2),
    )

"""The event log and the intake around it: :class:`EventsRepository`.

Tables:

- ``events``: the append-only behavioural event log, idempotent on (source, delivery_id).
- ``deliveries``: every verified request, committed before its 2xx: raw body, headers minus
  secrets, a per-source unique ``key`` (so a retry is a duplicate, counted, not stored twice),
  and ``status`` ``stored`` -> ``normalised`` (or ``failed`` with the error). A crash between
  storing and normalising leaves ``stored`` rows that the worker (or ``events replay``) picks up.
- ``shop_orders`` and ``shop_refunds``: orders from webhooks keyed by platform + order id, and
  their refunds keyed by refund id, so replays and retries change nothing. The store returns
  them as they are (:meth:`EventsRepository.shop_orders`); the sync merges them with the pulled
  Orders (``connector.sync.order_merge``).
- ``dirty_people``: shoppers (by email) whose fields the worker must recompute.
- ``webhook_rejections``: refused requests counted per source and reason (nothing of the
  request itself is kept).

What the store is handed is described by two Protocols (:class:`IncomingDelivery`,
:class:`Normalisation`) rather than the webhook package's classes, which satisfy them: the store
imports nothing above it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
import sqlite_utils

from connector.store.backend import chunks, frame_in, marks, read_frame, rows_in, transaction
from connector.store.schema import bump_generation
from connector.store.sqlite import json_property, now


class IncomingDelivery(Protocol):
    """A verified request as the store keeps it (``connector.webhooks.base.Delivery`` is one)."""

    @property
    def source(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def content_key(self) -> str: ...
    @property
    def topic(self) -> str: ...
    @property
    def shop(self) -> str: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def body(self) -> bytes: ...


class Normalisation(Protocol):
    """What one delivery means, as plain rows (``connector.webhooks.base.Normalised`` is one):
    event rows, shop order rows, refund rows, privacy requests, and the shoppers concerned."""

    @property
    def events(self) -> list[dict[str, Any]]: ...
    @property
    def orders(self) -> list[dict[str, Any]]: ...
    @property
    def refunds(self) -> list[dict[str, Any]]: ...
    @property
    def redact_emails(self) -> list[str]: ...
    @property
    def redact_order_ids(self) -> list[str]: ...
    @property
    def redact_shop(self) -> str | None: ...
    @property
    def emails(self) -> set[str]: ...


@dataclass(frozen=True)
class StoredDelivery:
    """A stored delivery as read back for normalising: its row id and what was stored."""

    id: int
    source: str
    key: str
    topic: str
    shop: str
    headers: dict[str, str]
    body: bytes


_ORDER_COLUMNS = (
    "platform",
    "order_id",
    "reference",
    "platform_order_id",
    "shop",
    "email",
    "placed_at",
    "updated_at",
    "total",
    "currency",
    "cancelled",
    "stale",
)
# A later delivery (by the platform's own update time) wins; a light payload (no email, no
# amount) never blanks what a full one told.
_UPSERT_ORDER = (
    f"INSERT INTO shop_orders ({', '.join(_ORDER_COLUMNS)}) VALUES "
    f"({', '.join('?' * len(_ORDER_COLUMNS))}) ON CONFLICT (platform, order_id) DO UPDATE SET "
    "reference = COALESCE(excluded.reference, shop_orders.reference), "
    "email = COALESCE(excluded.email, shop_orders.email), "
    "placed_at = COALESCE(shop_orders.placed_at, excluded.placed_at), "
    "total = COALESCE(excluded.total, shop_orders.total), "
    "currency = COALESCE(excluded.currency, shop_orders.currency), "
    "cancelled = excluded.cancelled, updated_at = excluded.updated_at, "
    "stale = CASE WHEN excluded.stale > shop_orders.stale THEN excluded.stale "
    "ELSE shop_orders.stale END "
    "WHERE excluded.updated_at >= COALESCE(shop_orders.updated_at, '')"
)


class EventsRepository:
    """Events, deliveries, shop orders and refunds, dirty marks (``store.events``)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def frame(
        self,
        names: Sequence[str] | None = None,
        properties: Sequence[str] = (),
        *,
        emails: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """The event log (optionally only events called ``names``, plus identifies).

        Each of ``properties`` becomes a column of its own, read from the stored JSON by
        SQLite's ``json_extract`` (an empty text is missing), so callers never parse JSON text.
        ``emails`` keeps only those people's events (by email, as the intake stores it: trimmed
        and lower-case; and the events sharing an anonymous id with one of theirs).
        """
        columns = (
            "source, delivery_id, name, occurred_at, email, anonymous_id, properties"
            + "".join(f', {json_property("properties", p)} AS "{p}"' for p in properties)
        )
        if emails is not None:
            emails = list(emails)
            if not emails:  # no one's events (an empty IN () is an error on PostgreSQL)
                return read_frame(f"SELECT {columns} FROM events WHERE 0 = 1", self.db.conn)
            named = ""
            if names is not None:
                named = f" AND ({_name_in(names)} OR type = 'identify')"
            # Two indexed lookups, by email and by anonymous id, united: with an OR across the
            # two columns SQLite scanned the whole log (the medium seed's real-time pass of 10
            # people cost several times that of 1). A chunk of emails a statement: each binds
            # its list twice, and a run of 40,000 people's emails passed PostgreSQL's limit.
            parts = []
            for part in chunks(emails):
                listed = marks(len(part))
                anonymous = (
                    f"SELECT DISTINCT anonymous_id FROM events WHERE email IN ({listed}) "
                    "AND anonymous_id IS NOT NULL"
                )
                parts.append(
                    read_frame(
                        f"SELECT {columns} FROM events WHERE email IN ({listed}){named} UNION "
                        f"SELECT {columns} FROM events WHERE anonymous_id IN ({anonymous}){named}",
                        self.db.conn,
                        params=[*part, *(names or []), *part, *(names or [])],
                    )
                )
            if len(parts) == 1:
                return parts[0]
            # an event two chunks both found (by one's email, by another's anonymous id) once,
            # as the one UNION would have it
            return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)
        if names is None:
            return read_frame(f"SELECT {columns} FROM events", self.db.conn)
        return read_frame(
            f"SELECT {columns} FROM events WHERE {_name_in(names)} OR type = 'identify'",
            self.db.conn,
            params=list(names),
        )

    def position(self) -> tuple[int, int]:
        """Where the event log stands: (the last rowid, how many events it holds). A later
        position with fewer events than were appended since says some were deleted (a
        privacy redaction)."""
        row = self.db.conn.execute("SELECT COALESCE(MAX(rowid), 0), COUNT(*) FROM events")
        last, count = row.fetchone()
        return int(last), int(count)

    def emails_after(self, rowid: int) -> tuple[set[str], int]:
        """The emails of the events appended after ``rowid`` (``position()[0]`` of an earlier
        read), with those an earlier event tied to their anonymous ids, trimmed and
        lower-case; and how many events came. Two indexed lookups, each a range or an
        ``IN`` list, never an ``OR`` across columns (which SQLite answers with a scan)."""
        rows = self.db.conn.execute(
            "SELECT email, anonymous_id FROM events WHERE rowid > ?", [rowid]
        ).fetchall()
        emails = {str(r[0]).strip().lower() for r in rows if r[0]}
        anonymous = sorted({str(r[1]) for r in rows if r[1]})
        tied = rows_in(
            self.db.conn,
            "SELECT DISTINCT email FROM events WHERE anonymous_id",
            anonymous,
            tail=" AND email IS NOT NULL",
        )
        emails |= {str(r[0]).strip().lower() for r in tied if str(r[0]).strip()}
        return emails, len(rows)

    def append(self, events: Iterable[dict[str, Any]]) -> int:
        """Append events; a (source, delivery_id) already stored is ignored. Returns new rows."""
        rows = [{**e, "received_at": e.get("received_at") or now()} for e in events]
        if not rows:
            return 0
        # The inputs generation moves before (a crash after the insert still leaves it moved)
        # and after (a compute that read it between the two sees the rows or recomputes).
        bump_generation(self.db)
        before = self.db.table("events").count
        self.db.table("events").insert_all(rows, ignore=True, batch_size=2000)
        bump_generation(self.db)
        return self.db.table("events").count - before

    def store_delivery(self, delivery: IncomingDelivery) -> bool:
        """Commit a verified delivery; True when new, False for a duplicate (counted on the row):
        the same key (a platform's retry), or the same content under other headers (a replay;
        ``content_key``: topic, shop, body hash).

        A new delivery is one statement in autocommit mode, so it is on disk (WAL) before the
        caller answers 2xx.
        """
        # Insert unless either key is stored, else count the duplicate on the row that holds
        # the key: the same two statements on both backends (PostgreSQL takes one conflict
        # target per INSERT, so not a ``DO UPDATE`` per target). No transaction around the
        # two: a lost count is the only race, and each round trip costs
        # (bench/store_backends.py).
        row = self.db.conn.execute(
            "INSERT INTO deliveries (source, key, content_key, topic, shop, received_at, "
            "headers, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING "
            "RETURNING id",
            (
                delivery.source,
                delivery.key,
                delivery.content_key,
                delivery.topic,
                delivery.shop,
                now(),
                json.dumps(delivery.headers, sort_keys=True),
                delivery.body,
            ),
        ).fetchone()
        if row is not None:
            return True
        self.db.conn.execute(
            "UPDATE deliveries SET duplicates = duplicates + 1 WHERE source = ? AND "
            "(key = ? OR content_key = ?)",
            (delivery.source, delivery.key, delivery.content_key),
        )
        return False

    def has_shop_orders(self) -> bool:
        """True when any shop order is stored."""
        return self.db.conn.execute("SELECT 1 FROM shop_orders LIMIT 1").fetchone() is not None

    def count_rejection(self, source: str, reason: str, count: int = 1) -> None:
        """Count refused requests (or messages) by source and reason (a short fixed label)."""
        self.db.conn.execute(
            "INSERT INTO webhook_rejections (source, reason, count, last_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (source, reason) DO UPDATE SET "
            "count = webhook_rejections.count + excluded.count, last_at = excluded.last_at",
            (source[:40], reason[:80], count, now()),
        )

    def pending_deliveries(self, limit: int = 500) -> list[StoredDelivery]:
        """Stored deliveries not yet normalised, oldest first."""
        rows = self.db.conn.execute(
            "SELECT id, source, key, topic, shop, headers, body FROM deliveries "
            "WHERE status = 'stored' ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [
            StoredDelivery(
                id=r[0],
                source=r[1],
                key=r[2],
                topic=r[3] or "",
                shop=r[4] or "",
                headers=json.loads(r[5] or "{}"),
                body=bytes(r[6] or b""),
            )
            for r in rows
        ]

    def stored_delivery(self, source: str, key: str) -> StoredDelivery | None:
        """The delivery (source, key) if it is still waiting to be normalised, else None."""
        r = self.db.conn.execute(
            "SELECT id, source, key, topic, shop, headers, body FROM deliveries "
            "WHERE source = ? AND key = ? AND status = 'stored'",
            (source, key),
        ).fetchone()
        if r is None:
            return None
        return StoredDelivery(
            id=r[0],
            source=r[1],
            key=r[2],
            topic=r[3] or "",
            shop=r[4] or "",
            headers=json.loads(r[5] or "{}"),
            body=bytes(r[6] or b""),
        )

    def apply_normalised(self, delivery_id: int, result: Normalisation) -> None:
        """Write what one delivery means, in one transaction, and mark it normalised.

        Idempotent: events are keyed by (source, delivery id), orders by platform + order id,
        refunds by refund id; applying the same delivery twice changes nothing.
        """
        conn = self.db.conn
        at = now()
        with transaction(self.db.conn):
            if result.events:
                rows = [{**e, "received_at": e.get("received_at") or at} for e in result.events]
                columns = list(rows[0])
                conn.executemany(
                    f"INSERT INTO events ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))}) "
                    "ON CONFLICT (source, delivery_id) DO NOTHING",
                    [tuple(r.get(c) for c in columns) for r in rows],
                )
            conn.executemany(
                _UPSERT_ORDER,
                [tuple({"stale": 0, **o}.get(c) for c in _ORDER_COLUMNS) for o in result.orders],
            )
            conn.executemany(
                "INSERT INTO shop_refunds (platform, refund_id, order_id, amount, refunded_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, refund_id) DO NOTHING",
                [
                    (r["platform"], r["refund_id"], r["order_id"], r["amount"], r["refunded_at"])
                    for r in result.refunds
                ],
            )
            dirty = set(result.emails)
            for refund in result.refunds:  # a refund names its order; its shopper is the order's
                row = conn.execute(
                    "SELECT email FROM shop_orders WHERE platform = ? AND order_id = ?",
                    (refund["platform"], refund["order_id"]),
                ).fetchone()
                if row and row[0]:
                    dirty.add(row[0])
            self._redact(conn, result)
            conn.executemany(
                "INSERT INTO dirty_people (email, marked_at) VALUES (?, ?) "
                "ON CONFLICT (email) DO UPDATE SET marked_at = excluded.marked_at",
                [(e, at) for e in sorted(dirty)],
            )
            primary = next(iter(sorted(result.emails)), None)
            conn.execute(
                "UPDATE deliveries SET status = 'normalised', error = NULL, email = ? WHERE id = ?",
                (primary, delivery_id),
            )
            if result.redact_emails or result.redact_shop or result.redact_order_ids:
                # The request itself names the person: keep that it came, not whom it was about.
                conn.execute(
                    "UPDATE deliveries SET body = ?, email = NULL WHERE id = ?",
                    (b'{"redacted": true}', delivery_id),
                )

    @staticmethod
    def _redact(conn: sqlite3.Connection, result: Normalisation) -> None:
        """Delete a person's (or a shop's) stored events, orders, refunds and deliveries."""
        for email in result.redact_emails:
            conn.execute(
                "DELETE FROM shop_refunds WHERE (platform, order_id) IN "
                "(SELECT platform, order_id FROM shop_orders WHERE email = ?)",
                (email,),
            )
            conn.execute("DELETE FROM shop_orders WHERE email = ?", (email,))
            conn.execute("DELETE FROM events WHERE email = ?", (email,))
            conn.execute("DELETE FROM deliveries WHERE email = ?", (email,))
        for order_id in result.redact_order_ids:
            conn.execute("DELETE FROM shop_refunds WHERE order_id = ?", (order_id,))
            conn.execute("DELETE FROM shop_orders WHERE order_id = ?", (order_id,))
        if result.redact_shop:
            shop = result.redact_shop
            conn.execute(
                "DELETE FROM events WHERE (source, delivery_id) IN "
                "(SELECT source, key FROM deliveries WHERE shop = ?)",
                (shop,),
            )
            conn.execute(
                "DELETE FROM shop_refunds WHERE (platform, order_id) IN "
                "(SELECT platform, order_id FROM shop_orders WHERE shop = ?)",
                (shop,),
            )
            conn.execute("DELETE FROM shop_orders WHERE shop = ?", (shop,))
            conn.execute("DELETE FROM deliveries WHERE shop = ? AND email IS NOT NULL", (shop,))

    def orders_awaiting_details(self, platform: str, limit: int = 50) -> list[dict[str, str]]:
        """Shop orders to read from the platform, oldest first: known only by reference (a light
        webhook), or changed since they were read (a refund, a status change)."""
        cursor = self.db.conn.execute(
            "SELECT order_id, shop, platform_order_id FROM shop_orders WHERE platform = ? "
            "AND (total IS NULL AND cancelled = 0 OR stale = 1) ORDER BY updated_at LIMIT ?",
            (platform, limit),
        )
        return [{"order_id": r[0], "shop": r[1], "platform_order_id": r[2]} for r in cursor]

    def complete_order(self, platform: str, order_id: str, details: dict[str, Any]) -> None:
        """Fill in an order's details (read from the platform) and mark its shopper dirty; the
        refunded amount so far is one refund row, replaced as it grows."""
        at = now()
        with transaction(self.db.conn):
            conn = self.db.conn
            conn.execute(
                "UPDATE shop_orders SET email = COALESCE(?, email), total = ?, currency = ?, "
                "placed_at = COALESCE(placed_at, ?), cancelled = ?, stale = 0 "
                "WHERE platform = ? AND order_id = ?",
                (
                    details["email"],
                    details["total"],
                    details["currency"],
                    details["placed_at"],
                    details["cancelled"],
                    platform,
                    order_id,
                ),
            )
            conn.execute(
                "INSERT INTO shop_refunds (platform, refund_id, order_id, amount, refunded_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, refund_id) DO UPDATE SET "
                "order_id = excluded.order_id, amount = excluded.amount, "
                "refunded_at = excluded.refunded_at",
                (platform, f"{order_id}/refunded", order_id, details["refunded"], at),
            )
            if details["email"]:
                conn.execute(
                    "INSERT INTO dirty_people (email, marked_at) VALUES (?, ?) "
                    "ON CONFLICT (email) DO UPDATE SET marked_at = excluded.marked_at",
                    (details["email"], at),
                )

    def shoppers(self, emails: Sequence[str]) -> dict[str, str]:
        """Email -> shop of each of ``emails`` with an order that counts (not cancelled)."""
        head = "SELECT email, MIN(shop) FROM shop_orders WHERE cancelled = 0 AND email"
        rows = rows_in(self.db.conn, head, list(emails), tail=" GROUP BY email")
        return {email: shop or "" for email, shop in rows}

    def mark_failed(self, delivery_id: int, error: str) -> None:
        """Record why a stored delivery could not be normalised (kept for ``events replay``)."""
        self.db.conn.execute(
            "UPDATE deliveries SET status = 'failed', error = ? WHERE id = ?",
            (error[:500], delivery_id),
        )

    def requeue_deliveries(self, *, failed_only: bool = False) -> int:
        """Mark deliveries to be normalised again (all, or only the failed ones)."""
        where = "status = 'failed'" if failed_only else "status != 'stored'"
        cursor = self.db.conn.execute(f"UPDATE deliveries SET status = 'stored' WHERE {where}")
        return int(cursor.rowcount)

    def latest_deliveries(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest stored deliveries, newest first: source, delivery key, topic, shop,
        when, status, error, duplicates and the headers as received (JSON decoded; the caller
        withholds the secret ones). The body is not read."""
        rows = self.db.conn.execute(
            "SELECT id, source, key, topic, shop, received_at, status, error, duplicates, "
            "headers FROM deliveries ORDER BY id DESC LIMIT ?",
            [limit],
        ).fetchall()
        names = ("id", "source", "key", "topic", "shop", "received_at", "status", "error")
        return [
            {
                **dict(zip(names, r[:8], strict=True)),
                "duplicates": int(r[8] or 0),
                "headers": json.loads(r[9] or "{}"),
            }
            for r in rows
        ]

    def stats(self) -> dict[str, Any]:
        """Deliveries, duplicates, events and rejections per source (and rejections per reason)."""
        conn = self.db.conn
        sources: dict[str, dict[str, Any]] = {}

        def entry(source: str) -> dict[str, Any]:
            return sources.setdefault(
                source,
                {
                    "deliveries": 0,
                    "pending": 0,
                    "failed": 0,
                    "duplicates": 0,
                    "events": 0,
                    "rejected": 0,
                    "rejections": {},
                },
            )

        for source, total, pending, failed, dupes in conn.execute(
            # SUM(CASE ...): a comparison is no number on PostgreSQL; its SUM of a BIGINT is
            # a NUMERIC (a Decimal), hence the int()s
            "SELECT source, COUNT(*), SUM(CASE WHEN status = 'stored' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), "
            "SUM(duplicates) FROM deliveries GROUP BY source"
        ).fetchall():
            e = entry(source)
            e.update(
                deliveries=int(total),
                pending=int(pending or 0),
                failed=int(failed or 0),
                duplicates=int(dupes or 0),
            )
        for source, count in conn.execute(
            "SELECT source, COUNT(*) FROM events GROUP BY source"
        ).fetchall():
            entry(source)["events"] = count
        for source, reason, count in conn.execute(
            "SELECT source, reason, count FROM webhook_rejections ORDER BY source, reason"
        ).fetchall():
            e = entry(source)
            e["rejected"] += count
            e["rejections"][reason] = count
        orders = conn.execute(
            "SELECT COUNT(*), SUM(cancelled), SUM(CASE WHEN total IS NULL THEN 1 ELSE 0 END) "
            "FROM shop_orders"
        ).fetchone()
        dirty = conn.execute("SELECT COUNT(*) FROM dirty_people").fetchone()[0]
        return {
            "sources": sources,
            "shop_orders": {
                "orders": int(orders[0]),
                "cancelled": int(orders[1] or 0),
                "awaiting_details": int(orders[2] or 0),
            },
            "dirty_people": dirty,
        }

    def dirty_people(self) -> list[tuple[str, str]]:
        """(email, marked at) of every shopper whose fields wait for a recompute."""
        return [
            (r[0], r[1])
            for r in self.db.conn.execute("SELECT email, marked_at FROM dirty_people").fetchall()
        ]

    def clear_dirty(self, marks: Iterable[tuple[str, str]]) -> None:
        """Unmark shoppers, each only if not marked again since (a newer mark stays)."""
        with transaction(self.db.conn):
            self.db.conn.executemany(
                "DELETE FROM dirty_people WHERE email = ? AND marked_at <= ?", list(marks)
            )

    def shop_orders(self, *, emails: Iterable[str] | None = None) -> pd.DataFrame:
        """Shop orders that count (details known, not cancelled) with their net amount
        (total minus refunds): ``platform, order_id, reference, platform_order_id, email,
        placed_at, currency, amount``. ``emails`` (trimmed and lower-case, as the intake
        stores them) keeps only those shoppers' orders, read by the email index: a real-time
        pass for a few people read every shop order of the webhooks before."""
        select = (
            "SELECT o.platform, o.order_id, o.reference, o.platform_order_id, o.email, "
            "o.placed_at, "
            "o.currency, "
            "o.total - COALESCE((SELECT SUM(r.amount) FROM shop_refunds r WHERE "
            "r.platform = o.platform AND r.order_id = o.order_id), 0) AS amount "
            "FROM shop_orders o WHERE o.cancelled = 0 AND o.total IS NOT NULL "
            "AND o.placed_at IS NOT NULL"
        )
        if emails is None:
            return read_frame(select, self.db.conn)
        return frame_in(self.db.conn, f"{select} AND o.email", sorted(set(emails)))

    def shop_order_keys(self) -> pd.DataFrame:
        """Every stored shop order's id as the compute step reads it (``shop_id``,
        ``<platform>:<id>``) with the platform's order id and name (``platform_order_id``,
        ``reference``): what a Salesforce Order's reference field holds for the same order."""
        return read_frame(
            "SELECT platform || ':' || order_id AS shop_id, platform_order_id, reference "
            "FROM shop_orders",
            self.db.conn,
        )

    def shop_refunds(self) -> pd.DataFrame:
        """What reduced each shop order, for loyalty: every refund of an order whose details are
        known, and every cancelled order as one whole reduction. Columns ``refund_id,
        original_order_id, amount, at, total, cancelled``: ids shaped like the orders the compute
        step reads (``<platform>:<id>``), ``amount`` and ``total`` (the order's gross) in the
        order's own currency, ``at`` the refund's (or the cancellation's last update) ISO time."""
        return read_frame(
            "SELECT r.platform || ':' || r.refund_id AS refund_id, "
            "o.platform || ':' || o.order_id AS original_order_id, r.amount AS amount, "
            "COALESCE(r.refunded_at, o.updated_at, o.placed_at) AS at, o.total AS total, "
            "0 AS cancelled FROM shop_refunds r JOIN shop_orders o "
            "ON o.platform = r.platform AND o.order_id = r.order_id "
            "WHERE o.total IS NOT NULL AND o.placed_at IS NOT NULL "
            "UNION ALL "
            "SELECT o.platform || ':' || o.order_id || '/cancelled', "
            "o.platform || ':' || o.order_id, o.total, COALESCE(o.updated_at, o.placed_at), "
            "o.total, 1 FROM shop_orders o WHERE o.cancelled = 1 AND o.total IS NOT NULL "
            "AND o.placed_at IS NOT NULL",
            self.db.conn,
        )


def _name_in(names: Sequence[str]) -> str:
    """``name IN (?, ...)`` for ``names``; false for none (PostgreSQL refuses ``IN ()``)."""
    return f"name IN ({', '.join('?' * len(names))})" if names else "0 = 1"

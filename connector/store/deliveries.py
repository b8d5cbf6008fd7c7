"""Webhook deliveries, shop orders and the real-time dirty set: tables and queries.

Tables (created by :func:`migration`, one of the store's migrations):

- ``deliveries``: every verified request, committed before its 2xx: raw body, headers minus
  secrets, a per-source unique ``key`` (so a retry is a duplicate, counted, not stored twice),
  and ``status`` ``stored`` -> ``normalised`` (or ``failed`` with the error). A crash between
  storing and normalising leaves ``stored`` rows that the worker (or ``events replay``) picks up.
- ``shop_orders`` and ``shop_refunds``: orders from webhooks keyed by platform + order id, and
  their refunds keyed by refund id, so replays and retries change nothing.
- ``dirty_people``: shoppers (by email) whose fields the worker must recompute.
- ``webhook_rejections``: refused requests counted per source and reason (nothing of the
  request itself is kept).
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlite_utils

if TYPE_CHECKING:
    from connector.store.db import Store
    from connector.webhooks.base import Delivery, Normalised


def migration(db: sqlite_utils.Database) -> None:
    """Create the webhook tables (a migration: runs once per database)."""
    db.execute(
        "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, source TEXT NOT NULL, "
        "key TEXT NOT NULL, topic TEXT, shop TEXT, received_at TEXT, headers TEXT, body BLOB, "
        "status TEXT NOT NULL DEFAULT 'stored', error TEXT, email TEXT, "
        "duplicates INTEGER NOT NULL DEFAULT 0, UNIQUE (source, key))"
    )
    # The worker's scan for work: only the few rows not yet normalised are in this index.
    db.execute("CREATE INDEX deliveries_pending ON deliveries (id) WHERE status = 'stored'")
    db.execute("CREATE INDEX deliveries_email ON deliveries (email)")
    db.execute("CREATE INDEX deliveries_shop ON deliveries (shop)")
    db.execute(
        "CREATE TABLE shop_orders (platform TEXT NOT NULL, order_id TEXT NOT NULL, "
        "reference TEXT, platform_order_id TEXT, shop TEXT, email TEXT, placed_at TEXT, "
        "updated_at TEXT, total REAL, currency TEXT, cancelled INTEGER NOT NULL DEFAULT 0, "
        "stale INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (platform, order_id))"
    )
    db.execute("CREATE INDEX shop_orders_email ON shop_orders (email)")
    db.execute(
        "CREATE TABLE shop_refunds (platform TEXT NOT NULL, refund_id TEXT NOT NULL, "
        "order_id TEXT NOT NULL, amount REAL NOT NULL, refunded_at TEXT, "
        "PRIMARY KEY (platform, refund_id))"
    )
    db.execute("CREATE INDEX shop_refunds_order ON shop_refunds (platform, order_id)")
    db.execute("CREATE TABLE dirty_people (email TEXT PRIMARY KEY, marked_at TEXT NOT NULL)")
    db.execute(
        "CREATE TABLE webhook_rejections (source TEXT NOT NULL, reason TEXT NOT NULL, "
        "count INTEGER NOT NULL DEFAULT 0, last_at TEXT, PRIMARY KEY (source, reason))"
    )


def open_shared(database: Path) -> Store:
    """Open the store with other processes kept out meanwhile: two processes creating a fresh
    database at once (the WAL switch, the migrations) can refuse each other with "database is
    locked" before the busy timeout applies (seen with gunicorn's two workers starting)."""
    from connector.store.db import Store

    database.parent.mkdir(parents=True, exist_ok=True)
    with database.with_name(database.name + ".open.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            return Store(database)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class StoredDelivery:
    """A delivery as read back for normalising."""

    id: int
    delivery: Delivery


def store_delivery(store: Store, delivery: Delivery) -> bool:
    """Commit a verified delivery; True when new, False for a duplicate (counted on the row).

    One statement in autocommit mode, so it is on disk (WAL) before the caller answers 2xx.
    """
    cursor = store.db.conn.execute(
        "INSERT INTO deliveries (source, key, topic, shop, received_at, headers, body) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, key) DO UPDATE SET "
        "duplicates = duplicates + 1 RETURNING duplicates",
        (
            delivery.source,
            delivery.key,
            delivery.topic,
            delivery.shop,
            _now(),
            json.dumps(delivery.headers, sort_keys=True),
            delivery.body,
        ),
    )
    row = cursor.fetchone()
    return bool(row is None or row[0] == 0)


def count_rejection(store: Store, source: str, reason: str, count: int = 1) -> None:
    """Count refused requests (or messages) by source and reason (a short fixed label)."""
    store.db.conn.execute(
        "INSERT INTO webhook_rejections (source, reason, count, last_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (source, reason) DO UPDATE SET count = count + excluded.count, "
        "last_at = excluded.last_at",
        (source[:40], reason[:80], count, _now()),
    )


def pending_deliveries(store: Store, limit: int = 500) -> list[StoredDelivery]:
    """Stored deliveries not yet normalised, oldest first."""
    from connector.webhooks.base import Delivery

    rows = store.db.conn.execute(
        "SELECT id, source, key, topic, shop, headers, body FROM deliveries "
        "WHERE status = 'stored' ORDER BY id LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        StoredDelivery(
            r[0],
            Delivery(
                source=r[1],
                key=r[2],
                topic=r[3] or "",
                shop=r[4] or "",
                headers=json.loads(r[5] or "{}"),
                body=bytes(r[6] or b""),
            ),
        )
        for r in rows
    ]


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
    "reference = COALESCE(excluded.reference, reference), "
    "email = COALESCE(excluded.email, email), "
    "placed_at = COALESCE(placed_at, excluded.placed_at), "
    "total = COALESCE(excluded.total, total), "
    "currency = COALESCE(excluded.currency, currency), "
    "cancelled = excluded.cancelled, updated_at = excluded.updated_at, "
    "stale = MAX(stale, excluded.stale) "
    "WHERE excluded.updated_at >= COALESCE(shop_orders.updated_at, '')"
)


def apply_normalised(store: Store, delivery_id: int, result: Normalised) -> None:
    """Write what one delivery means, in one transaction, and mark it normalised.

    Idempotent: events are keyed by (source, delivery id), orders by platform + order id,
    refunds by refund id; applying the same delivery twice changes nothing.
    """
    conn = store.db.conn
    now = _now()
    with store.transaction():
        if result.events:
            rows = [{**e, "received_at": e.get("received_at") or now} for e in result.events]
            columns = list(rows[0])
            conn.executemany(
                f"INSERT OR IGNORE INTO events ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [tuple(r.get(c) for c in columns) for r in rows],
            )
        conn.executemany(
            _UPSERT_ORDER,
            [tuple({"stale": 0, **o}.get(c) for c in _ORDER_COLUMNS) for o in result.orders],
        )
        conn.executemany(
            "INSERT OR IGNORE INTO shop_refunds (platform, refund_id, order_id, amount, "
            "refunded_at) VALUES (?, ?, ?, ?, ?)",
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
        _redact(conn, result)
        conn.executemany(
            "INSERT INTO dirty_people (email, marked_at) VALUES (?, ?) "
            "ON CONFLICT (email) DO UPDATE SET marked_at = excluded.marked_at",
            [(e, now) for e in sorted(dirty)],
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


def _redact(conn: sqlite3.Connection, result: Normalised) -> None:
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


def orders_awaiting_details(store: Store, platform: str, limit: int = 50) -> list[dict[str, str]]:
    """Shop orders to read from the platform, oldest first: known only by reference (a light
    webhook), or changed since they were read (a refund, a status change)."""
    cursor = store.db.conn.execute(
        "SELECT order_id, shop, platform_order_id FROM shop_orders WHERE platform = ? "
        "AND (total IS NULL AND cancelled = 0 OR stale = 1) ORDER BY updated_at LIMIT ?",
        (platform, limit),
    )
    return [{"order_id": r[0], "shop": r[1], "platform_order_id": r[2]} for r in cursor]


def complete_order(store: Store, platform: str, order_id: str, details: dict[str, Any]) -> None:
    """Fill in an order's details (read from the platform) and mark its shopper dirty; the
    refunded amount so far is one refund row, replaced as it grows."""
    now = _now()
    with store.transaction():
        conn = store.db.conn
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
            "INSERT OR REPLACE INTO shop_refunds (platform, refund_id, order_id, amount, "
            "refunded_at) VALUES (?, ?, ?, ?, ?)",
            (platform, f"{order_id}/refunded", order_id, details["refunded"], now),
        )
        if details["email"]:
            conn.execute(
                "INSERT INTO dirty_people (email, marked_at) VALUES (?, ?) "
                "ON CONFLICT (email) DO UPDATE SET marked_at = excluded.marked_at",
                (details["email"], now),
            )


def shoppers(store: Store, emails: Sequence[str]) -> dict[str, str]:
    """Email -> shop of each of ``emails`` with an order that counts (not cancelled)."""
    found: dict[str, str] = {}
    for start in range(0, len(emails), 400):
        chunk = list(emails[start : start + 400])
        marks = ", ".join("?" * len(chunk))
        for email, shop in store.db.conn.execute(
            f"SELECT email, MIN(shop) FROM shop_orders WHERE cancelled = 0 "
            f"AND email IN ({marks}) GROUP BY email",
            chunk,
        ).fetchall():
            found[email] = shop or ""
    return found


def mark_failed(store: Store, delivery_id: int, error: str) -> None:
    """Record why a stored delivery could not be normalised (kept for ``events replay``)."""
    store.db.conn.execute(
        "UPDATE deliveries SET status = 'failed', error = ? WHERE id = ?",
        (error[:500], delivery_id),
    )


def requeue(store: Store, *, failed_only: bool = False) -> int:
    """Mark deliveries to be normalised again (all, or only the failed ones)."""
    where = "status = 'failed'" if failed_only else "status != 'stored'"
    cursor = store.db.conn.execute(f"UPDATE deliveries SET status = 'stored' WHERE {where}")
    return int(cursor.rowcount)


def stats(store: Store) -> dict[str, Any]:
    """Deliveries, duplicates, events and rejections per source (and rejections per reason)."""
    conn = store.db.conn
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
        "SELECT source, COUNT(*), SUM(status = 'stored'), SUM(status = 'failed'), "
        "SUM(duplicates) FROM deliveries GROUP BY source"
    ).fetchall():
        e = entry(source)
        e.update(deliveries=total, pending=pending or 0, failed=failed or 0, duplicates=dupes or 0)
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
        "SELECT COUNT(*), SUM(cancelled), SUM(total IS NULL) FROM shop_orders"
    ).fetchone()
    dirty = conn.execute("SELECT COUNT(*) FROM dirty_people").fetchone()[0]
    return {
        "sources": sources,
        "shop_orders": {
            "orders": orders[0],
            "cancelled": orders[1] or 0,
            "awaiting_details": orders[2] or 0,
        },
        "dirty_people": dirty,
    }


def dirty_people(store: Store) -> list[tuple[str, str]]:
    """(email, marked at) of every shopper whose fields wait for a recompute."""
    return [
        (r[0], r[1])
        for r in store.db.conn.execute("SELECT email, marked_at FROM dirty_people").fetchall()
    ]


def clear_dirty(store: Store, marks: Iterable[tuple[str, str]]) -> None:
    """Unmark shoppers, each only if not marked again since (a newer mark stays)."""
    with store.transaction():
        store.db.conn.executemany(
            "DELETE FROM dirty_people WHERE email = ? AND marked_at <= ?", list(marks)
        )


def shop_orders_frame(store: Store) -> pd.DataFrame:
    """Shop orders that count (details known, not cancelled) with their net amount
    (total minus refunds): ``platform, order_id, reference, platform_order_id, email,
    placed_at, currency, amount``."""
    return pd.read_sql_query(
        "SELECT o.platform, o.order_id, o.reference, o.platform_order_id, o.email, o.placed_at, "
        "o.currency, "
        "o.total - COALESCE((SELECT SUM(r.amount) FROM shop_refunds r WHERE "
        "r.platform = o.platform AND r.order_id = o.order_id), 0) AS amount "
        "FROM shop_orders o WHERE o.cancelled = 0 AND o.total IS NOT NULL "
        "AND o.placed_at IS NOT NULL",
        store.db.conn,
    )


def shop_order_keys(store: Store) -> pd.DataFrame:
    """Every stored shop order's id as the compute step reads it (``shop_id``,
    ``<platform>:<id>``) with the platform's order id and name (``platform_order_id``,
    ``reference``): what a Salesforce Order's reference field holds for the same order."""
    return pd.read_sql_query(
        "SELECT platform || ':' || order_id AS shop_id, platform_order_id, reference "
        "FROM shop_orders",
        store.db.conn,
    )


def shop_refunds_frame(store: Store) -> pd.DataFrame:
    """What reduced each shop order, for loyalty: every refund of an order whose details are
    known, and every cancelled order as one whole reduction. Columns ``refund_id,
    original_order_id, amount, at, total, cancelled``: ids shaped like the orders the compute
    step reads (``<platform>:<id>``), ``amount`` and ``total`` (the order's gross) in the
    order's own currency, ``at`` the refund's (or the cancellation's last update) ISO time."""
    return pd.read_sql_query(
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
        store.db.conn,
    )


def baseline_for(
    store: Store, records: Sequence[tuple[str, str]]
) -> tuple[dict[tuple[str, str, str], str], dict[tuple[str, str, str], tuple[str, str]]]:
    """The written-value baseline and the outbox rows of just these (object, record id) pairs:
    a real-time pass over a few people need not read the whole baseline."""
    conn = store.db.conn
    written: dict[tuple[str, str, str], str] = {}
    outbox: dict[tuple[str, str, str], tuple[str, str]] = {}
    for start in range(0, len(records), 400):
        chunk = list(records[start : start + 400])
        marks = ", ".join("(?, ?)" for _ in chunk)
        params = [v for pair in chunk for v in pair]
        for o, r, f, v in conn.execute(
            f"SELECT object, record_id, field, value FROM written_values "
            f"WHERE (object, record_id) IN (VALUES {marks})",
            params,
        ).fetchall():
            written[(o, r, f)] = v
        for o, r, f, v, s in conn.execute(
            f"SELECT object, record_id, field, value, status FROM outbox "
            f"WHERE (object, record_id) IN (VALUES {marks})",
            params,
        ).fetchall():
            outbox[(o, r, f)] = (v, s)
    return written, outbox

"""The content-key migration on a database released before it: stored deliveries get their key,
a replay stored twice back then keeps none (so the unique index holds), and a new replay of an
old body is a duplicate."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from connector.store import Store
from connector.store.schema import MIGRATIONS, _v12_delivery_content_key
from connector.webhooks.base import Delivery
from tests.backends import sqlite_only

BODY = b'{"id": 1, "updated_at": "2026-11-20T14:15:01Z"}'


def _released_before_content_keys(path: Path) -> None:
    db = sqlite_utils.Database(path)
    db.table("_migrations").create({"version": int, "applied_at": str}, pk="version")
    upto = MIGRATIONS.index(_v12_delivery_content_key)
    for version, migration in enumerate(MIGRATIONS[:upto], start=1):
        migration(db)
        db.table("_migrations").insert({"version": version, "applied_at": "2026-12-01"})
    for key in ("event-1", "event-2"):  # one body stored twice under two event ids
        db.execute(
            "INSERT INTO deliveries (source, key, topic, shop, body) VALUES (?, ?, ?, ?, ?)",
            ("shopify", key, "orders/create", "s", BODY),
        )
    db.conn.commit()
    db.close()


@sqlite_only("upgrading a SQLite file written before deliveries had content keys")
def test_old_deliveries_get_content_keys_and_replays_of_them_are_duplicates(
    tmp_path: Path,
) -> None:
    path = tmp_path / "l2l.sqlite"
    _released_before_content_keys(path)
    store = Store(path)
    try:
        keys = store.db.conn.execute(
            "SELECT key, content_key FROM deliveries ORDER BY id"
        ).fetchall()
        expected = Delivery("shopify", "event-1", "orders/create", "s", {}, BODY).content_key
        assert keys == [("event-1", expected), ("event-2", None)]
        replay = Delivery("shopify", "event-3", "orders/create", "s", {}, BODY)
        assert store.events.store_delivery(replay) is False
        other = Delivery("shopify", "event-4", "orders/updated", "s", {}, BODY)
        assert store.events.store_delivery(other) is True
    finally:
        store.close()

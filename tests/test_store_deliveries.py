"""A delivery is stored once on each backend: the same key again (a platform's retry), or the
same content under fresh headers (a replay), is counted on the stored row, not stored again.
(SQLite takes both conflict targets in one statement; PostgreSQL one per INSERT.)"""

from __future__ import annotations

from connector.store import Store
from connector.webhooks.base import Delivery


def test_a_retry_and_a_replay_are_counted_not_stored(store: Store) -> None:
    body = b'{"id": 1, "email": "ada@example.com"}'
    first = Delivery("shopify", "k1", "orders/create", "shop", {}, body)
    assert store.events.store_delivery(first) is True
    assert store.events.store_delivery(first) is False  # the same key: a retry
    replay = Delivery("shopify", "k2", "orders/create", "shop", {"X-Replay": "1"}, body)
    assert store.events.store_delivery(replay) is False  # the same content: a replay
    other = Delivery("shopify", "k3", "orders/create", "shop", {}, body + b" ")
    assert store.events.store_delivery(other) is True
    rows = store.db.execute("SELECT key, duplicates FROM deliveries ORDER BY id").fetchall()
    assert [tuple(r) for r in rows] == [("k1", 2), ("k3", 0)]

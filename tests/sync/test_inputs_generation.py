"""What other processes write moves the compute step's inputs generation, so a sync after a
webhook order, a lead-model refit or a loyalty redemption computes instead of skipping."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.loyalty.config import LoyaltyConfig
from connector.loyalty.service import LoyaltyService
from connector.store import Store

PROGRAM = LoyaltyConfig.model_validate(
    {
        "programs": [
            {
                "id": "p",
                "name": "P",
                "type": "points",
                "earning": [{"id": "base", "kind": "spend", "points_per_unit": 1}],
            }
        ]
    }
)


def test_side_writes_move_the_generation(store: Store) -> None:  # on each backend
    seen = [store.records.input_generation()]

    def moved() -> bool:
        seen.append(store.records.input_generation())
        return seen[-1] > seen[-2]

    conn = store.db.conn
    conn.execute("INSERT INTO shop_orders (platform, order_id) VALUES ('shopify', 's/1')")
    assert moved()
    conn.execute("UPDATE shop_orders SET total = 5 WHERE order_id = 's/1'")
    assert moved()
    conn.execute("DELETE FROM shop_orders")
    assert moved()
    service = LoyaltyService(store, PROGRAM, lambda: datetime(2026, 1, 1, tzinfo=UTC))
    service.adjust("Contact:003000000000001AAA", 50, "goodwill", "k1")
    assert moved()
    assert not moved()  # reading changes nothing


def test_a_refit_outside_a_sync_moves_the_generation(store: Store) -> None:
    from connector.sync.intent import ScoringSetup, retrain_now

    before = store.records.input_generation()
    retrain_now(store, ScoringSetup(), datetime(2026, 1, 1, tzinfo=UTC))
    assert store.records.input_generation() > before

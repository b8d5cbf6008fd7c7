"""A member whose qualifying points in the tier windows are negative (an order earned before
the windows, refunded inside them) is at the lowest tier, never the top one.

Found by bench/loyalty.py's loop check: ``tiers.levels`` mapped points below the first
``min_points`` to index -1, which named the last (top) tier; it now clips the index at 0.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from connector.loyalty.book import book
from connector.loyalty.config import Program
from connector.loyalty.ledger import empty_journal
from connector.loyalty.standing import standing

PROGRAM = Program.model_validate(
    {
        "id": "p",
        "name": "P",
        "type": "tiered",
        "earning": [{"id": "base", "kind": "spend", "points_per_unit": 1}],
        "tiers": {
            "levels": [{"name": "Bronze", "min_points": 0}, {"name": "Gold", "min_points": 1000}]
        },
        "expiry": {"mode": "never"},
    }
)


def test_negative_qualifying_windows_are_the_lowest_tier() -> None:
    now = datetime(2024, 6, 1, tzinfo=UTC)
    orders = pd.DataFrame(
        {
            "order_id": ["o1", "r1"],
            "member": ["Contact:a", "Contact:a"],
            # earned before both windows (rolling 12 months to now, and to 2024-01-01),
            # half refunded inside both
            "at": pd.to_datetime(["2022-12-20T10:00:00Z", "2023-07-01T10:00:00Z"], utc=True),
            "amount": [100.0, -50.0],
            "original_order_id": [None, "o1"],
        }
    )
    journal = book(PROGRAM, orders, empty_journal(), now)
    row = standing(journal, PROGRAM, now).iloc[0]
    assert row["loyalty.points_balance"] == 50
    assert row["loyalty.tier"] == "Bronze"

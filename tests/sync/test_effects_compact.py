"""A big batch of planned journal entries is held compact until the Effects step books it
(``connector.sync.effects.compact_journal``): the same entries, booked the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from connector.store import Store
from connector.sync.effects import COMPACT_FROM, REPEATED_COLUMNS, compact_journal
from tests.backends import store_location


def _planned(n: int) -> pd.DataFrame:
    at = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(np.arange(n) * 61, unit="s")
    return pd.DataFrame(
        {
            "key": [f"club:accrual:801{i:015d}" for i in range(n)],
            "program": "club",
            "member": [f"Contact:003{i % 997:015d}" for i in range(n)],
            "kind": np.where(np.arange(n) % 10 == 0, "reversal", "accrual"),
            "currency": "points",
            "points": np.arange(n) % 500 - 20,
            "at": at,
            "lot": [f"club:accrual:801{i:015d}" for i in range(n)],
            "expires_at": at + pd.Timedelta(days=365),
            "available_at": at,
            "source_type": "Order",
            "source_id": [f"801{i:015d}" for i in range(n)],
            "rule_id": np.where(np.arange(n) % 3 == 0, "base", None),
            "rule": np.where(np.arange(n) % 3 == 0, "Base", None),
            "partner": None,
        }
    )


def test_a_big_batch_is_held_compact_and_books_the_same_journal(tmp_path: Path) -> None:
    planned = _planned(COMPACT_FROM)
    compact = compact_journal(planned)
    held = [c for c in REPEATED_COLUMNS if c in planned.columns]
    assert all(isinstance(compact[c].dtype, pd.CategoricalDtype) for c in held)
    assert compact.memory_usage(deep=True).sum() < planned.memory_usage(deep=True).sum() / 1.5
    # the same values, and missing where they were missing (what the store writes as NULL)
    for column in planned.columns:
        before, after = planned[column].astype(object), compact[column].astype(object)
        assert after.isna().equals(before.isna()), column
        assert after[after.notna()].equals(before[before.notna()]), column
    plain = Store(store_location(tmp_path, "a.sqlite"))
    small = Store(store_location(tmp_path, "b.sqlite"))
    try:
        assert plain.loyalty.append(planned) == small.loyalty.append(compact) == COMPACT_FROM
        rows = "SELECT * FROM loyalty_journal ORDER BY seq"
        assert plain.db.conn.execute(rows).fetchall() == small.db.conn.execute(rows).fetchall()
    finally:
        plain.close()
        small.close()


def test_a_small_batch_is_left_as_it_is() -> None:
    planned = _planned(10)
    assert compact_journal(planned) is planned

"""The batch shortcuts of the booking give what the general paths give.

``book`` builds the expiry due as a frame (no dict per entry) and ``lot_state`` sorts only the
runs of lots earned at one instant again: each must be the same as the per-entry path
(``as_journal(expiry_entries(...))``) and as pandas' stable sort on member, at, lot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from connector.loyalty.book import book
from connector.loyalty.config import Program
from connector.loyalty.ledger import (
    as_journal,
    empty_journal,
    entry,
    expiry_entries,
    expiry_frame,
    lot_state,
    text_equals,
)

NOW = datetime(2024, 6, 1, tzinfo=UTC)

PROGRAM = Program.model_validate(
    {
        "id": "club",
        "name": "Club",
        "type": "tiered",
        "timezone": "Europe/Berlin",
        "earning": [
            {"id": "base", "kind": "spend", "points_per_unit": 1},
            {"id": "big", "kind": "threshold", "min_amount": 100, "points": 50},
        ],
        "tiers": {"levels": [{"name": "Bronze", "min_points": 0}]},
        "expiry": {"mode": "lot", "months": 12},
    }
)


def _orders() -> pd.DataFrame:
    # Three members, orders from 20 months ago to last week, one refunded in part, one member
    # with two orders at the same instant (lots tied on member and moment).
    rows = [
        ("o1", "Contact:003B", NOW - timedelta(days=600), 150.0, None),
        ("o2", "Contact:003A", NOW - timedelta(days=500), 80.0, None),
        ("o3", "Contact:003A", NOW - timedelta(days=400), 120.0, None),
        ("o4", "Contact:003C", NOW - timedelta(days=390), 300.0, None),
        ("r4", "Contact:003C", NOW - timedelta(days=380), -100.0, "o4"),
        ("o6", "Contact:003A", NOW - timedelta(days=7), 40.0, None),
        ("o5", "Contact:003A", NOW - timedelta(days=7), 210.0, None),
    ]
    frame = pd.DataFrame(rows, columns=["order_id", "member", "at", "amount", "original_order_id"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def _journal_without_expiry() -> pd.DataFrame:
    journal = book(PROGRAM, _orders(), empty_journal(), NOW)
    return journal[journal["kind"] != "expiry"].reset_index(drop=True)


@pytest.mark.parametrize(
    ("mode", "cutoff"),
    [("lot", None), ("inactivity", pd.Timestamp("2023-09-01", tz="UTC")), ("never", None)],
)
def test_the_expiry_frame_is_the_expiry_entries_as_a_journal(
    mode: str, cutoff: pd.Timestamp | None
) -> None:
    journal = _journal_without_expiry()
    entries = expiry_entries(journal, NOW, "club", mode=mode, inactivity_cutoff=cutoff)
    frame = expiry_frame(journal, NOW, "club", mode=mode, inactivity_cutoff=cutoff)
    if mode != "never":
        assert len(entries) > 0  # the example has expiry due in both modes
    assert_frame_equal(frame, as_journal(entries), check_exact=True)
    # nothing due: both empty, typed as an empty journal
    assert_frame_equal(
        expiry_frame(journal.iloc[:0], NOW, "club", mode=mode, inactivity_cutoff=cutoff),
        as_journal(expiry_entries(journal.iloc[:0], NOW, "club", mode=mode)),
    )


def test_lots_tied_at_one_instant_are_ordered_by_their_key_and_stay_stable() -> None:
    at = datetime(2024, 1, 1, 12, tzinfo=UTC)
    lots = [  # journal order deliberately not the sorted order
        ("club:accrual:o9:z:points", "Contact:B", at, 5),
        ("club:accrual:o9:a:points", "Contact:B", at, 7),
        ("club:accrual:o1:base:points", "Contact:A", at + timedelta(hours=1), 3),
        ("club:accrual:o8:m:points", "Contact:B", at, 11),
        ("club:accrual:o2:base:points", "Contact:A", at, 2),
        ("club:accrual:o3:base:points", "Contact:B", at - timedelta(days=1), 13),
    ]
    journal = as_journal(
        [
            entry(
                key=key,
                program="club",
                member=member,
                kind="accrual",
                currency="points",
                points=points,
                at=when,
                lot=key,
                source_type="order",
            )
            for key, member, when, points in lots
        ]
        + [
            entry(
                key="club:redeem:1",
                program="club",
                member="Contact:B",
                kind="redemption",
                currency="points",
                points=-15,
                at=at + timedelta(days=1),
                source_type="api",
            )
        ]
    )
    state = lot_state(journal)
    expected = (
        journal[journal["kind"] == "accrual"]
        .rename(columns={"key": "lot_key"})
        .sort_values(["member", "at", "lot_key"], kind="stable")
    )
    assert state.lots["lot"].tolist() == expected["lot_key"].tolist()
    assert state.lots["member"].tolist() == ["Contact:A"] * 2 + ["Contact:B"] * 4
    # B's lots in earn order 13, 11 (o8 < o9), 7 (a < z), 5; 15 consumed first-in first-out
    assert state.lots["remaining"].tolist() == [2, 3, 0, 9, 7, 5]


@pytest.mark.parametrize(
    "dtype", ["str", object, "string[python]", "category"], ids=["str", "object", "NA", "cat"]
)
def test_text_equals_is_pandas_equality_with_missing_values_unequal(dtype: object) -> None:
    column = pd.Series(["points", None, "qualifying", "points"], dtype=dtype)
    assert text_equals(column, "points").tolist() == [True, False, False, True]
    assert text_equals(column, "points").dtype == bool
    expected = (column == "points").fillna(False).astype(bool).tolist()
    assert text_equals(column, "points").tolist() == expected

"""The settle_from_future policy: a refund of points already spent never drives the balance
below zero; the shortfall becomes debt that later earning settles first."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from connector.loyalty.book import book
from connector.loyalty.config import Program
from connector.loyalty.ledger import as_journal, concat
from connector.loyalty.operations import redeem

PROGRAM = Program.model_validate(
    {"id": "p", "name": "P", "type": "points", "refund_policy": "settle_from_future",
     "earning": [{"id": "base", "kind": "spend", "points_per_unit": 1}],
     "expiry": {"mode": "never"}}
)  # fmt: skip
ADA = "Contact:003A"


def _orders(*rows: tuple[str, str, float, str | None]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["order_id", "at", "amount", "original_order_id"])
    return frame.assign(member=ADA, at=pd.to_datetime(frame["at"], utc=True))


def _sum(journal: pd.DataFrame, currency: str) -> int:
    return int(journal[journal["currency"] == currency]["points"].sum())


def test_spent_points_refunded_become_debt_settled_by_later_earning() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    journal = book(PROGRAM, _orders(("o1", "2026-01-01", 100.0, None)), as_journal([]), now)
    journal = concat(journal, as_journal(redeem(journal, PROGRAM, ADA, 100, "r1", now)))
    refunded = _orders(("o1", "2026-01-01", 100.0, None), ("x1", "2026-02-01", -100.0, "o1"))
    journal = concat(journal, book(PROGRAM, refunded, journal, now))
    assert _sum(journal, "points") == 0  # never below zero under this policy
    assert _sum(journal, "debt") == 100
    later = _orders(
        ("o1", "2026-01-01", 100.0, None),
        ("x1", "2026-02-01", -100.0, "o1"),
        ("o2", "2026-02-15", 60.0, None),
    )
    journal = concat(journal, book(PROGRAM, later, journal, now))
    assert _sum(journal, "points") == 0  # the 60 earned settle 60 of the debt
    assert _sum(journal, "debt") == 40
    settled = journal[journal["kind"] == "settlement"]
    assert sorted(settled["currency"]) == ["debt", "points"]
    assert (settled["points"] == -60).all()

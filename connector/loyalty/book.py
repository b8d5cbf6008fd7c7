"""Booking: what a batch of orders, refunds and events adds to a program's journal.

One pure function the sync (and the property tests) call with what is stored: accruals first,
then reversals of refunds against the journal with those accruals, then the refund policy,
then the expiry due at ``now``. Running it again on the same input adds nothing.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from connector.loyalty.config import Program
from connector.loyalty.earning import accruals, reversals
from connector.loyalty.ledger import as_journal, concat
from connector.loyalty.operations import due_expiries, refund_policy


def book(
    program: Program,
    orders: pd.DataFrame,
    journal: pd.DataFrame,
    now: datetime,
    *,
    lines: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    tiers: pd.Series | None = None,
    segments: pd.Series | None = None,
) -> pd.DataFrame:
    """New journal entries for ``orders`` (purchases and refunds), ``lines`` and ``events``.

    ``orders``: order_id, member, at, amount, original_order_id: a row with an
    ``original_order_id`` is a refund of that order and its ``amount`` is negative (Salesforce
    reduction orders) or positive; its absolute value is the refunded amount. Only orders
    dated at or before ``now`` are booked.
    """
    orders = orders[orders["at"] <= pd.Timestamp(now)]
    is_refund = orders["original_order_id"].notna()
    purchases = orders[~is_refund]
    new = accruals(program, purchases, lines, events, journal, tiers, segments)
    with_new = concat(journal, as_journal(new))
    refunds = orders[is_refund]
    if len(refunds):
        refund_rows = pd.DataFrame(
            {
                "refund_id": refunds["order_id"],
                "original_order_id": refunds["original_order_id"],
                "at": refunds["at"],
                "amount": refunds["amount"].abs(),
            }
        )
        back = reversals(program, refund_rows, purchases[["order_id", "amount"]], with_new)
        if len(back):
            new = pd.concat([new, back], ignore_index=True)
    new = as_journal(new)
    new = concat(new, as_journal(refund_policy(program, new, journal)))
    return concat(new, as_journal(due_expiries(concat(journal, new), program, now)))

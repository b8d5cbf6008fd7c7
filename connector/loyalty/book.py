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
from connector.loyalty.operations import due_expiry_frame, refund_policy


def book(
    program: Program,
    orders: pd.DataFrame,
    journal: pd.DataFrame,
    now: datetime,
    *,
    lines: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    tiers: pd.Series | None = None,
    reductions: pd.DataFrame | None = None,
    segments: pd.Series | None = None,
) -> pd.DataFrame:
    """New journal entries for ``orders`` (purchases and refunds), ``lines`` and ``events``.

    ``orders``: order_id, member, at, amount, original_order_id: a row with an
    ``original_order_id`` is a refund of that order and its ``amount`` is negative (Salesforce
    reduction orders) or positive; its absolute value is the refunded amount. Only orders
    dated at or before ``now`` are booked.

    ``reductions`` (shop refunds and cancellations, :func:`connector.loyalty.shop.
    shop_reductions`): refund_id, original_order_id, at, amount, original_amount, the share
    refunded counted against ``original_amount`` (the order's gross, in its own currency).
    """
    orders = orders[orders["at"] <= pd.Timestamp(now)]
    is_refund = orders["original_order_id"].notna()
    purchases = orders[~is_refund]
    new = accruals(program, purchases, lines, events, journal, tiers, segments)
    with_new = concat(journal, as_journal(new))
    refunds = orders[is_refund]
    refund_rows = pd.DataFrame(
        {
            "refund_id": refunds["order_id"],
            "original_order_id": refunds["original_order_id"],
            "at": refunds["at"],
            "amount": refunds["amount"].abs(),
        }
    )
    originals = purchases[["order_id", "amount"]]
    if reductions is not None and len(reductions):
        shop = reductions[reductions["at"] <= pd.Timestamp(now)]
        refund_rows = pd.concat([refund_rows, shop[list(refund_rows.columns)]], ignore_index=True)
        # A shop order's share is counted in its own currency, against its gross total.
        own = shop.drop_duplicates("original_order_id")[["original_order_id", "original_amount"]]
        own = own.set_axis(["order_id", "amount"], axis=1)
        originals = pd.concat(
            [originals[~originals["order_id"].isin(own["order_id"])], own], ignore_index=True
        )
    if len(refund_rows):
        back = reversals(program, refund_rows, originals, with_new)
        if len(back):
            new = pd.concat([new, back], ignore_index=True)
    new = as_journal(new)
    new = concat(new, as_journal(refund_policy(program, new, journal)))
    return concat(new, due_expiry_frame(concat(journal, new), program, now))

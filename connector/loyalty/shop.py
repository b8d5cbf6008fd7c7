"""Shop refunds as loyalty refunds: webhook orders at their gross amount, their refunds and
cancellations as reductions, so :func:`connector.loyalty.earning.reversals` applies unchanged.

The compute step reads a shop order at its NET amount (total minus refunds; RFM and the
predictions want that), and drops a cancelled one. The journal books an order once, from the
amount it has when first seen, so a refund after booking would never reach the points. Here,
pure over frames:

- a shop order with refunds earns from its gross: its net corporate amount scaled back by
  ``total / net`` (exactly ``total`` when no conversion applied; ``total`` as is when the net
  is 0, since such an order is fully reversed in the same booking anyway);
- each stored refund is a reduction of its order (``refund_id`` ``<platform>:<refund id>``),
  a cancellation one whole reduction (``<order>/cancelled``), dated when it happened;
- the refunded share is counted in the order's own currency (refund amount / gross total), so
  a currency conversion never skews it.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

#: Columns of the reductions :func:`shop_reductions` returns (``book(reductions=...)``).
REDUCTION_FIELDS = ("refund_id", "original_order_id", "at", "amount", "original_amount")


def _empty_reductions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "refund_id": pd.Series(dtype=object),
            "original_order_id": pd.Series(dtype=object),
            "at": pd.Series(dtype="datetime64[ns, UTC]"),
            "amount": pd.Series(dtype=float),
            "original_amount": pd.Series(dtype=float),
        }
    )


def shop_reductions(
    members: pd.DataFrame, refunds: pd.DataFrame, now: datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``members`` (from ``member_orders``) with refunded shop orders at their gross amount,
    and the shop refunds and cancellations due by ``now`` as reductions
    (:data:`REDUCTION_FIELDS`).

    ``refunds``: refund_id, original_order_id, amount, at (ISO text), total, cancelled, as
    :meth:`connector.store.events.EventsRepository.shop_refunds` reads them.
    """
    if not len(refunds):
        return members, _empty_reductions()
    at = pd.to_datetime(refunds["at"], utc=True, errors="coerce", format="ISO8601")
    amount = pd.to_numeric(refunds["amount"], errors="coerce").abs()
    total = pd.to_numeric(refunds["total"], errors="coerce")
    cancelled = refunds["cancelled"].astype(bool)
    # Gross-up: only refunds (a cancelled order is not in ``members`` at all).
    refunded = amount[~cancelled].groupby(refunds["original_order_id"][~cancelled]).sum()
    gross = total[~cancelled].groupby(refunds["original_order_id"][~cancelled]).first()
    members = members.copy()
    hit = members["original_order_id"].isna() & members["order_id"].isin(refunded.index)
    if hit.any():
        ids = members.loc[hit, "order_id"]
        own_total = ids.map(gross).to_numpy(dtype=float)
        own_net = own_total - ids.map(refunded).to_numpy(dtype=float)
        seen = members.loc[hit, "amount"].to_numpy(dtype=float)
        same = np.isclose(seen, own_net, atol=0.005)  # no conversion: the exact gross
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = np.round(own_total * seen / own_net, 2)
        members.loc[hit, "amount"] = np.where(same | (own_net <= 0), own_total, scaled)
    ids = refunds["refund_id"].astype(str)
    # A platform read for details (BigCommerce) stores its refunded amount so far as one row,
    # ``<order>/refunded``, replaced as it grows: each amount it reaches is a reduction of its
    # own (a reversal's key names its refund), and as the latest row holds the running total,
    # the proportion reverses only what the journal has not reversed yet.
    running = ids.str.endswith("/refunded")
    ids = ids.where(~running, ids + "@" + amount.map("{:.2f}".format))
    out = pd.DataFrame(
        {
            "refund_id": ids,
            "original_order_id": refunds["original_order_id"].astype(str),
            "at": at,
            "amount": amount,
            "original_amount": total,
        }
    ).dropna(subset=["at", "amount", "original_amount"])
    out = out[(out["at"] <= pd.Timestamp(now)) & (out["amount"] > 0)]
    return members, out.reset_index(drop=True)[list(REDUCTION_FIELDS)]

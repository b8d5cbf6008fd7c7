"""Progressive discounts from cumulative spend, vectorised over members.

The rules (``discounts: {basis: spend}`` in ``models/loyalty.yaml``):

1. A purchase adds its amount on its date; a refund takes its amount away on *its* date, as
   the journal dates the reversal of the points it earned (so a member's tier and discount
   move on the same days). The amounts are those the journal books: Salesforce Orders in the
   corporate currency, reduction orders (``IsReductionOrder``, negative amounts) and shop
   refunds and cancellations (:func:`connector.loyalty.shop.shop_reductions`) naming the
   order they reduce.
2. The refunds of one order never take away more than the order added: their running total,
   in date order, is capped at its amount. A refund of an order that is not a purchase of the
   member (not counted, or not enrolled) takes nothing away, as it reverses no points.
3. Net spend counts within the program's window, evaluated at ``now`` in its time zone:
   ``lifetime`` (everything up to now), ``calendar_year`` (from 1 January 00:00 local),
   ``rolling_12_months`` (after the same local moment twelve months ago, like tiers).
   A window whose refunds outweigh its purchases holds 0, never less.
4. The level is the highest whose ``min_spend`` the net spend reaches (``>=``); below the
   first level the discount is 0. Spend to the next discount is the next level's
   ``min_spend`` minus the net spend; at the top level there is none.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from connector.loyalty.config import Discounts, Program

#: Columns of :func:`spend_entries`: one signed amount per purchase or refund.
SPEND_FIELDS = ("member", "at", "amount")


def spend_entries(
    orders: pd.DataFrame, now: datetime, reductions: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Each purchase (+amount) and refund (-amount) due by ``now`` as :data:`SPEND_FIELDS`
    (rules 1-2).

    ``orders`` and ``reductions`` are exactly what :func:`connector.loyalty.book.book` takes:
    orders with ``original_order_id`` set are reduction orders (amount negative or positive,
    its absolute value refunded); ``reductions`` count their ``amount`` against the order's
    ``original_amount`` (its gross in its own currency), so the share refunded is applied to
    the order's amount here.
    """
    cutoff = pd.Timestamp(now)
    orders = orders[orders["at"] <= cutoff]
    is_refund = orders["original_order_id"].notna()
    purchases = orders[~is_refund].drop_duplicates("order_id")
    # One lookup of each refund's order (a position among the purchases, -1: not one), not a
    # map per column: on 1M orders the maps and isin over string ids took most of the time.
    bought = pd.Index(purchases["order_id"])
    gross = purchases["amount"].to_numpy(dtype=float)
    refunds = orders[is_refund]
    parts = [
        pd.DataFrame(
            {
                "refund_id": refunds["order_id"].astype(str),
                "position": bought.get_indexer(refunds["original_order_id"]),
                "at": refunds["at"],
                "amount": refunds["amount"].astype(float).abs(),
            }
        )
    ]
    if reductions is not None and len(reductions):
        shop = reductions[reductions["at"] <= cutoff]
        position = bought.get_indexer(shop["original_order_id"])
        # the refunded share of the order's own-currency gross, applied to its counted amount
        share = (shop["amount"].astype(float) / shop["original_amount"].astype(float)).to_numpy()
        parts.append(
            pd.DataFrame(
                {
                    "refund_id": shop["refund_id"].astype(str),
                    "position": position,
                    "at": shop["at"],
                    "amount": np.where(position >= 0, share * gross[position], np.nan),
                }
            )
        )
    back = pd.concat(parts, ignore_index=True)
    back = back[back["position"].to_numpy() >= 0].dropna(subset=["amount"])
    back = back.sort_values(["at", "refund_id"], kind="stable")
    position = back["position"].to_numpy()
    running = back.groupby("position")["amount"].cumsum().to_numpy(dtype=float)
    capped = np.minimum(running, np.maximum(gross[position], 0.0))
    before = pd.Series(capped, index=back.index).groupby(position).shift(1)
    taken = np.maximum(capped - before.fillna(0.0).to_numpy(dtype=float), 0.0)
    members = purchases["member"].to_numpy()
    out = pd.concat(
        [
            pd.DataFrame({"member": members, "at": purchases["at"].array, "amount": gross}),
            pd.DataFrame({"member": members[position], "at": back["at"].array, "amount": -taken})[
                taken != 0
            ],
        ],
        ignore_index=True,
    )
    out["at"] = pd.to_datetime(out["at"], utc=True)
    return out[list(SPEND_FIELDS)]


def window_start(now: datetime, program: Program) -> pd.Timestamp | None:
    """The first moment that counts (rule 3): ``None`` for ``lifetime``. A rolling window
    starts just after the moment twelve local months ago (that moment is the previous window's)."""
    discounts = program.spend_discounts
    assert discounts is not None
    local = pd.Timestamp(now).tz_convert(program.zone)
    if discounts.spend_window == "calendar_year":
        return pd.Timestamp(year=local.year, month=1, day=1, tz=program.zone).tz_convert("UTC")
    if discounts.spend_window == "rolling_12_months":
        return (local - pd.DateOffset(months=12)).tz_convert("UTC") + pd.Timedelta(microseconds=1)
    return None


def net_spend(
    entries: pd.DataFrame, members: pd.Index, now: datetime, program: Program
) -> pd.Series:
    """Per member of ``members``: net spend within the program's window at ``now`` (rule 3)."""
    at = entries["at"]
    mask = at <= pd.Timestamp(now)
    start = window_start(now, program)
    if start is not None:
        mask &= at >= start
    position = members.get_indexer(entries["member"])
    hit = mask.to_numpy(dtype=bool) & (position >= 0)
    amounts = entries["amount"].to_numpy(dtype=float)
    sums = np.bincount(position[hit], weights=amounts[hit], minlength=len(members))
    return pd.Series(np.maximum(np.round(sums, 2), 0.0), index=members)


def discount_levels(spend: np.ndarray, discounts: Discounts) -> tuple[np.ndarray, np.ndarray]:
    """Per net spend: the discount percent and the spend to the next level (NaN at the top
    level) (rule 4)."""
    mins = np.array([lv.min_spend for lv in discounts.levels], dtype=float)
    percents = np.array([0.0] + [lv.percent for lv in discounts.levels])
    # index 0 is "below the first level" (a first level above 0 leaves some members there)
    level = np.searchsorted(mins, spend, side="right")
    nxt = np.append(mins, np.nan)[level]
    return percents[level], np.round(nxt - spend, 2)


def spend_discounts(
    entries: pd.DataFrame, members: pd.Index, now: datetime, program: Program
) -> pd.DataFrame:
    """Per member: ``net_spend``, ``discount_percent`` and ``spend_to_next`` (NaN at the top)
    for a program whose discounts come from spend."""
    discounts = program.spend_discounts
    assert discounts is not None
    spend = net_spend(entries, members, now, program)
    percent, to_next = discount_levels(spend.to_numpy(), discounts)
    return pd.DataFrame(
        {"net_spend": spend.to_numpy(), "discount_percent": percent, "spend_to_next": to_next},
        index=members,
    )

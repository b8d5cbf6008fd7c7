"""Progressive discounts from net spend: every member's level from their orders and refunds.

Synthetic orders (a fixed random seed): purchases over three years, about 5% reduction orders
that return part of an earlier purchase of the same member. Then:

1. the vectorised path: ``connector.loyalty.spend.spend_entries`` (purchases and capped
   refunds) and ``spend_discounts`` (net spend in a rolling twelve-month window in
   Europe/Berlin, the level, the spend to the next) over every order;
2. the baseline: a plain Python loop over the orders of a random sample of members (default
   about 20,000 orders, read from the frame as dicts) doing the same work, extrapolated to
   orders/s; checked to agree with the vectorised result for those members, so both do the
   same work.

Prints orders/s of each, and their ratio, measured in the same run.

    .venv/bin/python bench/spend_discounts.py                   # 1,000,000 orders
    .venv/bin/python bench/spend_discounts.py --orders 200000
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from connector.loyalty.config import Program
from connector.loyalty.spend import spend_discounts, spend_entries, window_start

PROGRAM = Program.model_validate(
    {
        "id": "vip",
        "name": "VIP",
        "type": "progressive_discount",
        "timezone": "Europe/Berlin",
        "discounts": {
            "basis": "spend",
            "window": "rolling_12_months",
            "levels": [
                {"min_spend": 0, "percent": 0},
                {"min_spend": 500, "percent": 5},
                {"min_spend": 1500, "percent": 10},
                {"min_spend": 5000, "percent": 15},
            ],
        },
    }
)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def synthetic_orders(n: int, seed: int = 7) -> pd.DataFrame:
    """``n`` orders of ``n / 5`` members as ``book()`` takes them, 5% of them refunds."""
    rng = np.random.default_rng(seed)
    members = max(n // 5, 1)
    member = rng.integers(0, members, n)
    at = pd.Timestamp(NOW) - pd.to_timedelta(rng.integers(0, 3 * 365 * 86_400, n), unit="s")
    amount = np.round(rng.gamma(2.0, 60.0, n), 2)
    ids = np.array([f"801{i:012d}" for i in range(n)], dtype=object)
    frame = pd.DataFrame(
        {
            "order_id": ids,
            "member": np.array([f"Contact:003{m:012d}" for m in member], dtype=object),
            "at": at,
            "amount": amount,
            "original_order_id": None,
        }
    ).sort_values("at", kind="stable")
    # A refund returns up to the whole of an earlier purchase of the same member.
    refunds = frame.sample(frac=0.05, random_state=seed)
    later = refunds["at"] + pd.to_timedelta(rng.integers(3_600, 40 * 86_400, len(refunds)), "s")
    back = pd.DataFrame(
        {
            "order_id": "R" + refunds["order_id"],
            "member": refunds["member"],
            "at": later,
            "amount": -np.round(refunds["amount"] * rng.uniform(0.2, 1.3, len(refunds)), 2),
            "original_order_id": refunds["order_id"],
        }
    )
    return pd.concat([frame, back], ignore_index=True)


def baseline(rows: list[dict[str, Any]], members: set[str]) -> dict[str, tuple[float, float]]:
    """The same rules as a plain loop over ``rows`` (the orders of ``members``, as dicts):
    member -> (percent, spend to the next level, NaN at the top)."""
    start = window_start(NOW, PROGRAM)
    assert start is not None
    assert PROGRAM.spend_discounts is not None
    levels = PROGRAM.spend_discounts.levels
    purchases = {}
    for r in rows:
        if r["original_order_id"] is None and r["at"] <= NOW:
            purchases[r["order_id"]] = r
    refunds = sorted(
        (r for r in rows if r["original_order_id"] is not None and r["at"] <= NOW),
        key=lambda r: (r["at"], r["order_id"]),
    )
    spend: dict[str, float] = defaultdict(float)
    for p in purchases.values():
        if p["at"] >= start:
            spend[p["member"]] += p["amount"]
    returned: dict[str, float] = defaultdict(float)
    for r in refunds:
        original = purchases.get(r["original_order_id"])
        if original is None:
            continue
        left = max(original["amount"] - returned[original["order_id"]], 0.0)
        take = min(abs(r["amount"]), left)
        returned[original["order_id"]] += take
        if r["at"] >= start:
            spend[original["member"]] -= take
    out = {}
    for member in members:
        net = max(round(spend.get(member, 0.0), 2), 0.0)
        percent, nxt = 0.0, float("nan")
        for level in levels:
            if level.min_spend <= net:
                percent = level.percent
            else:
                nxt = round(level.min_spend - net, 2)
                break
        out[member] = (percent, nxt)
    return out


def main() -> None:
    """Run both paths and print their throughput and ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--sample-orders", type=int, default=20_000)
    args = parser.parse_args()
    orders = synthetic_orders(args.orders)
    n = len(orders)

    t0 = time.perf_counter()
    entries = spend_entries(orders, NOW)
    members = pd.Index(sorted(entries["member"].unique()))
    result = spend_discounts(entries, members, NOW, PROGRAM)
    vectorised = time.perf_counter() - t0

    rng = np.random.default_rng(1)
    share = min(args.sample_orders / n, 1.0)
    sample = set(rng.choice(members.to_numpy(), max(int(len(members) * share), 1), replace=False))
    theirs = orders[orders["member"].isin(sample)]
    sampled_orders = len(theirs)
    t0 = time.perf_counter()
    # both paths start from a frame of orders: the loop reads it as dicts first
    slow = baseline(theirs.to_dict("records"), sample)
    looped = time.perf_counter() - t0

    for member, (percent, nxt) in slow.items():
        got = result.loc[member]
        assert got["discount_percent"] == percent, (member, got, percent)
        assert (np.isnan(nxt) and np.isnan(got["spend_to_next"])) or abs(
            got["spend_to_next"] - nxt
        ) < 0.015, (member, got, nxt)
    fast_rate = n / vectorised
    slow_rate = sampled_orders / looped
    print(f"orders: {n:,}  members: {len(members):,}  (baseline sample: {sampled_orders:,})")
    print(f"vectorised: {vectorised:.2f} s  {fast_rate:,.0f} orders/s")
    print(f"python loop baseline: {slow_rate:,.0f} orders/s (agrees on {len(slow):,} members)")
    print(f"ratio: {fast_rate / slow_rate:.1f}x")
    print("levels:", result["discount_percent"].value_counts().sort_index().to_dict())


if __name__ == "__main__":
    main()

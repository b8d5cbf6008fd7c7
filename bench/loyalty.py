"""Journal a seeded store's orders and compute every member's balance and tier.

Generates a localorg seed straight from the generator (no server), resolves each order to a
member (Contact, else the person Account's Contact, else the business Account: pooled), then:

1. the vectorised path, on **every** order of the seed: ``connector.loyalty.book.book``
   (accruals, refund reversals, expiry due now) and ``connector.loyalty.standing.standing``
   (balance, tier, expiring points...), then ``LoyaltyRepository.append`` into a temp SQLite file
   (50,000 entries per transaction, as the sync appends);
2. the baseline: a plain per-order Python loop doing the same accrual + reversal + expiry +
   balance + tier work with dicts, by default also on **every** order (``--subset N`` times it
   on the orders of a random sample of members covering about N orders instead, and
   extrapolates). A small sample flatters the loop at scale: its dicts stay small and
   cache-friendly (on the medium seed a 20,000-order sample ran ~1.2x faster per order than
   the whole seed), so the default measures both sides on the same orders. The loop is
   checked to agree with the vectorised result for every member it books (balance and tier)
   and to make as many journal entries, so both do the same work.

What each side's time covers: the vectorised rate is ``book`` + ``standing`` CPU seconds from
the orders frame (appending to SQLite is shown apart); the loop's rate is the loop's CPU
seconds from a list of order tuples (turning the frame into Python tuples is not counted).
Prints orders/s of each, and their ratio, measured in the same run (CPU seconds of this
process: the machine may be shared).

    .venv/bin/python bench/loyalty.py --size large      # 3,000,000 orders (~6 minutes)
    .venv/bin/python bench/loyalty.py --size medium     # 300,000 orders
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from connector.loyalty.book import book
from connector.loyalty.config import Program
from connector.loyalty.ledger import empty_journal
from connector.loyalty.standing import standing
from connector.store import Store
from localorg.ids import IdFactory
from localorg.seed import SIZES, generate

NOW = datetime(2024, 6, 1, tzinfo=UTC)
OWNER = "005000000000001AAA"

PROGRAM = Program.model_validate(
    {
        "id": "bench",
        "name": "Bench",
        "type": "tiered",
        "timezone": "Europe/Berlin",
        "earning": [
            {"id": "base", "kind": "spend", "points_per_unit": 1},
            {"id": "big_order", "kind": "threshold", "min_amount": 200, "points": 50},
        ],
        "tiers": {
            "basis": "rolling_12_months",
            "levels": [
                {"name": "Bronze", "min_points": 0},
                {"name": "Silver", "min_points": 500},
                {"name": "Gold", "min_points": 2000},
            ],
        },
        "expiry": {"mode": "lot", "months": 12},
    }
)


def seed_orders(size: str, seed: int, out_dir: Path) -> pd.DataFrame:
    """The seed's orders as order_id, member, at, amount, original_order_id."""
    person_of: dict[str, str] = {}
    ids: list[str] = []
    contact: list[str | None] = []
    account: list[str | None] = []
    when: list[str] = []
    amount: list[float] = []
    original: list[str | None] = []
    for obj, rows in generate(size, out_dir, IdFactory(), owner_id=OWNER, now=NOW, rng_seed=seed):
        if obj == "Account":
            person_of.update((r["Id"], r["PersonContactId"]) for r in rows if r["PersonContactId"])
        elif obj == "Order":
            for r in rows:
                ids.append(r["Id"])
                contact.append(
                    r["BillToContactId"] or r["ShipToContactId"] or r["CustomerAuthorizedById"]
                )
                account.append(r["AccountId"])
                when.append(r["ActivatedDate"] or r["EffectiveDate"])
                amount.append(float(r["TotalAmount"] or 0.0))
                original.append(r["OriginalOrderId"])
    member = [
        f"Contact:{c}" if c else (f"Contact:{person_of[a]}" if a in person_of else f"Account:{a}")
        for c, a in zip(contact, account, strict=True)
    ]
    return pd.DataFrame(
        {
            "order_id": ids,
            "member": member,
            "at": pd.to_datetime(pd.Series(when), utc=True, format="ISO8601"),
            "amount": np.asarray(amount),
            "original_order_id": pd.Series(original, dtype=object),
        }
    )


# --------------------------------------------------------------------------- the baseline


def _floor(x: float) -> int:
    # the library's one rounding rule (floor, with its 1e-9 tolerance), per value
    return int(math.copysign(math.floor(abs(x) + 1e-9), x))


def _expires(at: datetime, zone: ZoneInfo, months: int) -> datetime:
    day = at.astimezone(zone).date()
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31,
            30, 31, 31, 30, 31, 30, 31][month - 1]  # fmt: skip
    local = datetime(year, month, min(day.day, last), tzinfo=zone) + timedelta(days=1)
    return datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)


def _years_back(moment: datetime, zone: ZoneInfo, years: int) -> datetime:
    local = moment.astimezone(zone)
    return local.replace(year=local.year - years).astimezone(UTC)


def loop_books(
    rows: list[tuple[str, str, datetime, float, str | None]], program: Program, now: datetime
) -> tuple[dict[str, tuple[int, str]], list[tuple[Any, ...]]]:
    """Per member (balance, tier), and the journal entries, by a per-order Python loop over
    the same rules: what ``book`` + ``standing`` do, one order at a time with dicts."""
    assert program.tiers is not None
    pid, zone = program.id, program.zone
    spend = next(r for r in program.earning if r.kind == "spend")
    threshold = next(r for r in program.earning if r.kind == "threshold")
    rule_json = {r.id: r.model_dump_json() for r in program.earning}
    bonus = threshold.points or 0
    levels = program.tiers.levels
    # lots: order id -> [member, expires_at, [(rule, earned)], {rule: reversed}]
    lots: dict[str, list[Any]] = {}
    order_amount: dict[str, float] = {}
    refunded: dict[str, float] = defaultdict(float)
    qualifying: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    balance: dict[str, int] = defaultdict(int)
    journal: list[tuple[Any, ...]] = []

    def add(*entry: Any) -> None:
        # key, member, kind, currency, points, at, lot, expires_at, source_id, rule_id, rule
        journal.append(entry)

    rows = sorted(rows, key=lambda r: (r[2], r[0]))
    for order_id, member, at, amount, original in rows:
        if at > now:
            continue
        if original is None:
            earned = [
                (spend.id, _floor(amount * (spend.points_per_unit or 0))),
                (threshold.id, bonus if amount >= (threshold.min_amount or 0) else 0),
            ]
            earned = [(rule, pts) for rule, pts in earned if pts]
            expires = _expires(at, zone, program.expiry.months)
            lots[order_id] = [member, expires, earned, {}]
            order_amount[order_id] = amount
            for rule, pts in earned:
                key = f"{pid}:accrual:{order_id}:{rule}:"
                balance[member] += pts
                qualifying[member].append((at, pts))
                spec = rule_json[rule]
                add(key + "points", member, "accrual", "points", pts, at, key + "points",
                    expires, order_id, rule, spec)  # fmt: skip
                add(key + "qualifying", member, "accrual", "qualifying", pts, at, None, None,
                    order_id, rule, spec)  # fmt: skip
        else:
            lot = lots.get(original)
            if lot is None:
                continue
            refunded[original] += abs(amount)
            share = min(1.0, refunded[original] / order_amount[original])
            owner, expires, earned, done = lot
            if expires <= at:
                continue  # expired points are gone already
            for rule, pts in earned:
                delta = max(_floor(pts * share) - done.get(rule, 0), 0)
                if delta:
                    done[rule] = done.get(rule, 0) + delta
                    balance[owner] -= delta
                    qualifying[owner].append((at, -delta))
                    key = f"{pid}:reversal:{order_id}:{rule}:"
                    reverses = f"{pid}:accrual:{original}:{rule}:"
                    for cur in ("points", "qualifying"):
                        add(key + cur, owner, "reversal", cur, -delta, at, reverses + cur, None,
                            order_id, rule, None)  # fmt: skip
    expired: dict[str, list[Any]] = {}
    for order_id, (owner, expires, earned, done) in lots.items():
        if expires <= now:
            left = max(sum(p for _, p in earned) - sum(done.values()), 0)
            last = f"{pid}:accrual:{order_id}:{earned[-1][0]}:points"
            was = expired.get(owner, [0, None])
            expired[owner] = [was[0] + left, last]
    for owner, (points, last) in expired.items():
        balance[owner] -= points
        if points:
            add(f"{pid}:expiry:{last}", owner, "expiry", "points", -points, now, None, None,
                None, None, None)  # fmt: skip
    a = datetime(now.astimezone(zone).year, program.tiers.assessment_month, 1, tzinfo=zone)
    a = a.replace(day=program.tiers.assessment_day)
    if a > now:
        a = a.replace(year=a.year - 1)
    a = a.astimezone(UTC)

    def window(entries: list[tuple[datetime, int]], end: datetime) -> int:
        start = _years_back(end, zone, 1)
        return sum(p for at, p in entries if start < at <= end)

    def level(points: int) -> int:
        # below the first threshold (a window holding only a refund) is the lowest tier
        return max((i for i, t in enumerate(levels) if points >= t.min_points), default=0)

    out: dict[str, tuple[int, str]] = {}
    for member, bal in balance.items():
        q = qualifying[member]
        tier = max(level(window(q, now)), level(window(q, a)))
        out[member] = (bal, levels[tier].name)
    return out, journal


# --------------------------------------------------------------------------- the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="large")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--subset",
        type=int,
        default=0,
        help="Time the loop on the orders of random members covering about this many orders "
        "(extrapolated); 0, the default: on every order, as the vectorised path.",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        orders = seed_orders(args.size, args.seed, Path(tmp) / "org")
        refunds = int(orders["original_order_id"].notna().sum())
        print(
            f"seed {args.size}: {len(orders):,} orders ({refunds:,} refunds), "
            f"{orders['member'].nunique():,} members, generated in "
            f"{time.perf_counter() - start:.0f} s"
        )

        # wall seconds and CPU seconds of this process (the machine may be shared)
        timings: dict[str, tuple[float, float]] = {}

        def clock() -> tuple[float, float]:
            return time.perf_counter(), time.process_time()

        def since(t: tuple[float, float]) -> tuple[float, float]:
            now = clock()
            return now[0] - t[0], now[1] - t[1]

        t = clock()
        journal = book(PROGRAM, orders, empty_journal(), NOW)
        timings["book (accruals, reversals, expiry)"] = since(t)
        t = clock()
        values = standing(journal, PROGRAM, NOW)
        timings["standing (balances, tiers, expiring)"] = since(t)
        compute = [sum(v[i] for v in timings.values()) for i in (0, 1)]
        store = Store(Path(tmp) / "bench.sqlite")
        books = store.loyalty
        t = clock()
        # outside a transaction: LoyaltyRepository.append commits every APPEND_CHUNK entries, as
        # the sync's booking does (the write lock is released between chunks)
        added = books.append(journal)
        timings["LoyaltyRepository.append (SQLite)"] = since(t)
        store.close()
        total = [sum(v[i] for v in timings.values()) for i in (0, 1)]
        print(f"journal {len(journal):,} entries ({added:,} stored), {len(values):,} members")
        print(f"  {'':<40} {'wall s':>8} {'cpu s':>8}")
        for name, (wall, cpu) in timings.items():
            print(f"  {name:<40} {wall:8.2f} {cpu:8.2f}")
        vec_rate = len(orders) / compute[1]
        print(
            f"vectorised: {vec_rate:,.0f} orders/s computing (cpu; wall "
            f"{len(orders) / compute[0]:,.0f}), {len(orders) / total[1]:,.0f} orders/s with "
            f"storing (cpu; wall {len(orders) / total[0]:,.0f})"
        )

        # the baseline: on every order, or on every order of a random sample of members
        rng = np.random.default_rng(args.seed)
        if args.subset > 0:
            members = rng.permutation(np.asarray(orders["member"].unique(), dtype=object))
            per_member = orders.groupby("member").size().reindex(members)
            cut = int(np.searchsorted(per_member.cumsum().to_numpy(), args.subset)) + 1
            take = set(members[:cut])
            sample = orders[orders["member"].isin(take)]
            same_rows = int(journal["member"].isin(take).sum())
        else:
            sample, same_rows = orders, len(journal)
        del journal  # the loop's own dicts take gigabytes on the large seed
        rows = list(
            zip(
                sample["order_id"],
                sample["member"],
                list(sample["at"].dt.to_pydatetime()),
                sample["amount"].tolist(),
                [o if isinstance(o, str) else None for o in sample["original_order_id"]],
                strict=True,
            )
        )
        t = clock()
        looped, loop_journal = loop_books(rows, PROGRAM, NOW)
        loop_wall, loop_cpu = since(t)
        del rows
        loop_rate = len(sample) / loop_cpu
        names = list(looped)
        mine = values.reindex(names)
        agree = int(
            (
                (mine["loyalty.points_balance"].to_numpy() == [looped[m][0] for m in names])
                & (mine["loyalty.tier"].to_numpy(dtype=object) == [looped[m][1] for m in names])
            ).sum()
        )
        covered = (
            f"all {len(sample):,} orders ({len(looped):,} members)"
            if args.subset <= 0
            else f"{len(sample):,} orders of {len(looped):,} random members, extrapolated"
        )
        print(
            f"per-order Python loop on {covered}: {loop_cpu:.2f} cpu s ({loop_wall:.2f} wall) "
            f"= {loop_rate:,.0f} orders/s (cpu); agrees with the vectorised balances and tiers "
            f"for {agree:,} of {len(looped):,} members; journal entries {len(loop_journal):,} "
            f"(vectorised, same members: {same_rows:,})"
        )
        print(
            f"vectorised on all {len(orders):,} orders: {vec_rate:,.0f} orders/s (cpu); "
            f"loop: {loop_rate:,.0f} orders/s (cpu)"
        )
        print(f"ratio vectorised / loop (computing, cpu): {vec_rate / loop_rate:.2f}x")


if __name__ == "__main__":
    main()

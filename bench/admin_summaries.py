"""Benchmark: what the admin page's kept totals cost the sync's write path, in the same run.

Migration ``_v16_admin_summaries`` adds totals of the loyalty journal (per kind, per member
and per day, added to by ``LoyaltyRepository.append`` in each chunk's transaction) and an
index ``written_values (object, field, value)`` (read by the scores and KPI pages). Both are
paid when the sync writes: the journal append of a first sync, and the push's bookkeeping
(``record_results``) that makes each written value the new baseline. Each is timed on a fresh
store with them and on a fresh store without them (the totals' update switched off, the index
dropped: the cost before), in the same run; the ratio is what they add.

    .venv/bin/python bench/admin_summaries.py --entries 300000 --values 300000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from connector.store import Store, loyalty
from connector.store.outbox import PendingWrite
from connector.store.schema import add_journal_sums


def journal(entries: int, members: int) -> pd.DataFrame:
    """``entries`` accruals (and every 7th a redemption) spread over ``members`` and 2 years."""
    rng = np.random.default_rng(7)
    at = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 730 * 86_400, entries), unit="s"
    )
    kind = np.where(np.arange(entries) % 7 == 0, "redemption", "accrual")
    return pd.DataFrame(
        {
            "key": [f"order-{i}" for i in range(entries)],
            "program": "club",
            "member": [f"Contact:003{m:012d}" for m in rng.integers(0, members, entries)],
            "kind": kind,
            "currency": "points",
            "points": np.where(kind == "accrual", rng.integers(1, 500, entries), -50),
            "at": at,
            "rule_id": np.where(kind == "accrual", "base", None),
            "partner": None,
        }
    )


def timed_append(path: Path, frame: pd.DataFrame, *, kept: bool) -> float:
    store = Store(path)
    try:
        if not kept:  # the append as it was before: no totals kept
            loyalty.add_journal_sums = lambda conn, after_seq: None
        t0 = time.perf_counter()
        store.loyalty.append(frame)
        return time.perf_counter() - t0
    finally:
        loyalty.add_journal_sums = add_journal_sums
        store.close()


def timed_push(path: Path, writes: list[PendingWrite], *, kept: bool, batch: int) -> float:
    store = Store(path)
    try:
        if not kept:
            store.db.conn.execute("DROP INDEX written_values_by_field")
        t0 = time.perf_counter()
        for start in range(0, len(writes), batch):
            store.outbox.record_results(1, writes[start : start + batch], [], [])
        return time.perf_counter() - t0
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=300_000, help="journal entries")
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--values", type=int, default=300_000, help="written field values")
    parser.add_argument("--batch", type=int, default=10_000, help="values per push batch")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-admin-sums-"))
    frame = journal(args.entries, args.members)
    fields = 18
    writes = [
        PendingWrite("Contact", f"003{i:012d}", f"L2L_F{j}__c", v, 0, "pending", str(v))
        for i in range(max(args.values // fields, 1))
        for j in range(fields)
        for v in [round(i * 0.37 + j, 2)]
    ]
    without = timed_append(work / "j0.sqlite", frame, kept=False)
    kept = timed_append(work / "j1.sqlite", frame, kept=True)
    print(
        f"journal append of {len(frame):,} entries: {without:.2f}s before, {kept:.2f}s with the "
        f"totals kept (x{kept / without:.2f})"
    )
    without = timed_push(work / "p0.sqlite", writes, kept=False, batch=args.batch)
    kept = timed_push(work / "p1.sqlite", writes, kept=True, batch=args.batch)
    print(
        f"push bookkeeping of {len(writes):,} values: {without:.2f}s before, {kept:.2f}s with "
        f"the written_values (object, field, value) index (x{kept / without:.2f})"
    )


if __name__ == "__main__":
    main()

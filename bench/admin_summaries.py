"""Benchmark: what the admin page's totals cost the sync's write path, in the same run.

Migration ``_v16_admin_summaries`` adds totals of the loyalty journal (per kind, per member
and per day) and an index ``written_values (object, field, value)`` (read by the scores and
KPI pages). The totals are caught up when a page reads them (``AdminRepository.catch_up``);
before, ``LoyaltyRepository.append`` added each chunk's entries to them in the chunk's own
transaction. Timed on fresh stores, in the same run: the append as it is now (nothing kept),
the append with the totals kept in each chunk's transaction as before (that loop, here), and
the first page read's catch-up of the whole journal then a read with nothing new. The index is
paid by the push's bookkeeping (``record_results``): timed with it and with it dropped.

    .venv/bin/python bench/admin_summaries.py --entries 300000 --values 300000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from connector.store import Store
from connector.store.backend import transaction
from connector.store.loyalty import APPEND_CHUNK
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


def _kept_in_append(store: Store, frame: pd.DataFrame) -> None:
    """The append as it was with the totals kept in it: each chunk's transaction adds its new
    entries to the totals (the loop of ``LoyaltyRepository.append`` before, over its SQL)."""
    conn = store.db.conn
    for start in range(0, len(frame), APPEND_CHUNK):
        part = frame.iloc[start : start + APPEND_CHUNK]
        with transaction(conn):
            last = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM loyalty_journal").fetchone()[0]
            store.loyalty.append(part)  # inside the transaction: one executemany
            add_journal_sums(conn, int(last))


def timed_append(path: Path, frame: pd.DataFrame, *, kept: bool) -> tuple[float, float]:
    """(wall, CPU) seconds of appending ``frame`` to a fresh store."""
    store = Store(path)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        if kept:
            _kept_in_append(store, frame)
        else:
            store.loyalty.append(frame)
        return time.perf_counter() - t0, time.process_time() - c0
    finally:
        store.close()


def timed_catch_up(path: Path) -> tuple[float, float, float]:
    """(wall s, CPU s) of the first read's catch-up over the journal appended at ``path``, and
    the wall ms of a catch-up with nothing new."""
    store = Store(path)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        store.admin.catch_up()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        t1 = time.perf_counter()
        store.admin.catch_up()
        return wall, cpu, (time.perf_counter() - t1) * 1000
    finally:
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
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-admin-sums-"))
    frame = journal(args.entries, args.members)
    fields = 18
    writes = [
        PendingWrite("Contact", f"003{i:012d}", f"L2L_F{j}__c", v, 0, "pending", str(v))
        for i in range(max(args.values // fields, 1))
        for j in range(fields)
        for v in [round(i * 0.37 + j, 2)]
    ]
    kept, kept_cpu = timed_append(work / "j1.sqlite", frame, kept=True)
    now, now_cpu = timed_append(work / "j0.sqlite", frame, kept=False)
    print(
        f"journal append of {len(frame):,} entries: {now:.2f}s wall ({now_cpu:.2f}s CPU) now, "
        f"{kept:.2f}s wall ({kept_cpu:.2f}s CPU) with the totals kept in it as before "
        f"(now / before x{now / kept:.2f} wall, x{now_cpu / kept_cpu:.2f} CPU)"
    )
    wall, cpu, idle = timed_catch_up(work / "j0.sqlite")
    print(
        f"the first read's catch-up of those entries: {wall:.2f}s wall ({cpu:.2f}s CPU); "
        f"a read with nothing new: {idle:.2f} ms"
    )
    without = timed_push(work / "p0.sqlite", writes, kept=False, batch=args.batch)
    kept = timed_push(work / "p1.sqlite", writes, kept=True, batch=args.batch)
    print(
        f"push bookkeeping of {len(writes):,} values: {without:.2f}s before, {kept:.2f}s with "
        f"the written_values (object, field, value) index (x{kept / without:.2f})"
    )


if __name__ == "__main__":
    main()

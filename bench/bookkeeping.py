"""Benchmark: appending a first sync's loyalty journal, against the journal as it was indexed
before issue 19, in the same run.

A first sync of the medium seed books about 678,000 journal entries in one batch
(``store.loyalty.append``: 50,000 per transaction). The store now keeps a 64 MiB page cache
and only the indexes the journal's reads use (migration v14); the baseline is the same append
into a store given back the old shape: SQLite's default 2 MiB page cache and the
(program, member, kind) index migration v4 made. Times are CPU seconds of this process (the
machine may be shared); the entries are synthetic, shaped like the medium seed's (65,000
members, one accrual per order, times over two years).

An empty journal takes a big batch as a first load (``LoyaltyRepository._first_load``: the
indexes built after the rows); the chunked append is printed beside it.

    .venv/bin/python bench/bookkeeping.py --entries 678110
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


def journal(n: int, members: int) -> pd.DataFrame:
    """``n`` synthetic accruals of ``members`` members, in random order, one per order."""
    rng = np.random.default_rng(19)
    people = np.array([f"003{i:015d}" for i in rng.permutation(members)])
    at = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 86_400 * 700, n), unit="s"
    )
    orders = [f"801{i:015d}" for i in rng.permutation(n)]
    return pd.DataFrame(
        {
            "key": [f"bench:accrual:{o}" for o in orders],
            "program": "bench",
            "member": people[rng.integers(0, members, n)],
            "kind": "accrual",
            "currency": "points",
            "points": rng.integers(1, 500, n),
            "at": at,
            "lot": [f"bench:accrual:{o}" for o in orders],
            "expires_at": at + pd.Timedelta(days=365),
            "available_at": at,
            "source_type": "Order",
            "source_id": orders,
            "rule_id": "base",
            "rule": "Base",
        }
    )


def append_seconds(
    entries: pd.DataFrame, *, before_issue_19: bool, first_load: int = 10**12
) -> float:
    """CPU seconds of one ``store.loyalty.append`` of ``entries`` into a fresh store."""
    store = Store(Path(tempfile.mkdtemp(prefix="l2l-bench-journal-")) / "l2l.sqlite")
    try:
        if before_issue_19:
            store.db.conn.execute("PRAGMA cache_size=-2000")  # SQLite's default
            store.db.conn.execute(
                "CREATE INDEX idx_loyalty_journal_program_kind ON loyalty_journal (program, kind)"
            )
        started = time.process_time()
        added = store.loyalty.append(entries, first_load=first_load)
        seconds = time.process_time() - started
        assert added == len(entries)
        return seconds
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=678_110, help="journal entries")
    parser.add_argument("--members", type=int, default=65_000, help="members")
    args = parser.parse_args()
    entries = journal(args.entries, args.members)
    before = append_seconds(entries, before_issue_19=True)
    now = append_seconds(entries, before_issue_19=False)
    loaded = append_seconds(entries, before_issue_19=False, first_load=1)
    print(f"appending {len(entries):,} journal entries of {args.members:,} members (CPU seconds)")
    print(f"before issue 19 (2 MiB page cache, the (program, kind) index): {before:6.2f}s")
    print(f"in chunks (64 MiB page cache, the indexes the reads use):      {now:6.2f}s")
    print(f"as a first load (indexes built after the rows, one commit):    {loaded:6.2f}s")
    print(f"ratio chunks / before: {now / before:.2f}; first load / chunks: {loaded / now:.2f}")
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

"""What keeping each Order's risk costs (issue 24, ``store.scoring`` ``order_risk``), beside
what storing the same Orders costs the sync anyway, measured in the same run.

A full run keeps the scores of the Orders it scored for the first time (one ``INSERT ... ON
CONFLICT DO NOTHING`` per row, once per Order in its life) and reads every kept score before it
computes; a real-time pass reads the kept scores of its people's Orders by id. The baseline is
the records repository storing and reading the same Orders (Id, amount, date): what every
sync's pull and Resolve already pay per Order.

    .venv/bin/python bench/order_risk_keep.py [--orders 304627] [--database URL]

Wall and CPU seconds (``time.process_time``) per step and their ratio to the baseline's.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector.store import Store


def _timed(step: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = step()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=304_627)  # the medium seed's Orders
    parser.add_argument("--database", default=None, help="a postgresql:// URL (default SQLite)")
    args = parser.parse_args()
    rng = random.Random(24)
    ids = [f"8015g{i:013d}" for i in range(args.orders)]
    records = [
        {"Id": i, "TotalAmount": round(rng.uniform(5, 900), 2), "EffectiveDate": "2026-03-01"}
        for i in ids
    ]
    kept = [
        (i, rng.randrange(100), "amount 8.2x this customer's usual" if n % 50 == 0 else "", False)
        for n, i in enumerate(ids)
    ]
    some = rng.sample(ids, 50)  # a real-time pass of ~10 people: their 50 Orders
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.database or Path(tmp) / "bench.sqlite")
        try:
            steps = [
                ("baseline: store the Orders", lambda: store.records.upsert("Order", records)),
                ("baseline: read the Orders", lambda: store.records.frame("Order", ["Id"])),
                (
                    "keep every Order's risk (first run)",
                    lambda: store.scoring.keep_order_risk(kept, 1, "2026-03-01T12:00:00+00:00"),
                ),
                (
                    "keep again (all kept: nothing new)",
                    lambda: store.scoring.keep_order_risk(kept, 2, "2026-03-01T13:00:00+00:00"),
                ),
                ("read every kept risk (full run)", lambda: store.scoring.order_risk(None)),
                ("read 50 Orders' kept risk (a pass)", lambda: store.scoring.order_risk(some)),
            ]
            timed = [(name, *_timed(step)) for name, step in steps]
        finally:
            store.close()
    base_wall = timed[0][2] + timed[1][2]
    base_cpu = timed[0][3] + timed[1][3]
    print(f"{args.orders:,} Orders, load average {os.getloadavg()[0]:.1f}")
    for name, out, wall, cpu in timed:
        size = out if isinstance(out, int) else len(out)
        print(
            f"  {name:38s} {wall:7.2f} s wall {cpu:7.2f} s CPU  "
            f"x{wall / base_wall:5.2f} / x{cpu / base_cpu:5.2f} of the baseline's  ({size:,})"
        )


if __name__ == "__main__":
    main()

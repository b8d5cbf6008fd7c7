"""Benchmark: the API calls a first sync spends under faults, against a clean run of the same org.

Two orgs seeded alike, served by ``lead2loyalty localorg serve`` in their own processes: one
clean, one refusing 5% of records with UNABLE_TO_LOCK_ROW, failing 1% of calls with
SERVER_UNAVAILABLE and expiring sessions after 30 s. Both get a first sync; the ratio of calls
is what the faults cost (target: at most 1.10), and the values written must be the same.

A third org loses the answer to a write after applying it (``fail_nth=composite:2:after``,
then the same for Bulk API's close, ``jobs:3:after``): the first sync leaves those records in
flight, the second reads them back (the read-back calls are printed) and sends only what the
org lacks. The org's own save log (``_save_log`` in its data folder) counts records saved
twice: the target is 0.

    .venv/bin/python bench/retries.py --size small
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from served import deployed, served, served_settings

from connector.sync import SyncOptions

FAULTS = "UNABLE_TO_LOCK_ROW=0.05,SERVER_UNAVAILABLE=0.01,session_ttl=30s,seed=9"


def first_sync(info: dict[str, Any], work: Path) -> tuple[dict[str, Any], dict[Any, str], float]:
    """Deploy the fields and run a first sync; (report, values written, seconds)."""
    engine = deployed(served_settings(info, work))
    started = time.perf_counter()
    report = engine.run(SyncOptions()).as_json()
    return report, engine.store.outbox.written_values(), time.perf_counter() - started


def saved_twice(data: Path) -> int:
    """Records the served org saved more than once (its save log counts every save)."""
    conn = sqlite3.connect(f"file:{data / 'org.sqlite'}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM _save_log WHERE saves > 1").fetchone()[0])
    finally:
        conn.close()


def lost_answers(size: str, faults: str, work: Path, **extra: Any) -> None:
    """Two syncs against an org that loses one write answer; print what each spent."""
    (work / "org").mkdir(parents=True)
    with served(size, "--faults", faults, "--data", str(work / "org")) as info:
        engine = deployed(served_settings(info, work, **extra))
        first = engine.run(SyncOptions()).as_json()
        second = engine.run(SyncOptions()).as_json()
    w1, w2 = first["writes"], second["writes"]
    print(
        f"lost answer ({faults}): first sync {first['status']}, {w1['succeeded']:,} records "
        f"written, {w1['carried_over']:,} left in flight; second sync {second['status']}, "
        f"{w2['read_back_calls']} read-back calls found {w2['verified']:,} records already "
        f"saved and sent {w2['succeeded']:,}; records saved twice: {saved_twice(work / 'org')} "
        "(target 0)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=["small", "medium"])
    parser.add_argument("--faults", default=FAULTS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-retries-"))
    runs = {}
    for name, faults in (("clean", ""), ("faults", args.faults)):
        (work / name).mkdir()
        with served(args.size, "--faults", faults) as info:
            runs[name] = first_sync(info, work / name)
    (clean, clean_values, clean_s), (faulty, faulty_values, faulty_s) = (
        runs["clean"],
        runs["faults"],
    )
    calls, faulty_calls = clean["api_calls"]["total"], faulty["api_calls"]["total"]
    print(
        f"first sync of the {args.size} seed, clean: {clean['status']}, {calls} API calls "
        f"{clean['api_calls']}, {clean_s:.1f}s"
    )
    print(
        f"first sync under {args.faults}: {faulty['status']}, {faulty_calls} API calls "
        f"{faulty['api_calls']}, {faulty_s:.1f}s; carried to the next run: "
        f"{faulty['writes']['carried_over']}"
    )
    print(f"calls ratio faults/clean: {faulty_calls / calls:.3f} (target <= 1.10)")
    same = faulty_values == clean_values
    print(
        f"values written: {len(clean_values):,} clean, {len(faulty_values):,} under faults; "
        f"identical: {same}"
    )
    lost_answers(args.size, "fail_nth=composite:2:after", work / "lost")
    lost_answers(args.size, "fail_nth=jobs:3:after", work / "lost_bulk", push_bulk_threshold=1)


if __name__ == "__main__":
    main()

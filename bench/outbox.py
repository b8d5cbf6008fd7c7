"""Benchmark: the outbox path of a big write-back, against a raw SQLite floor in the same run.

A first sync of the medium seed writes ~900,000 field values (50,000 Contacts x 18 fields).
Each value is queued (``store.outbox.enqueue``), read back for the push (``pending``), marked
in flight before it is sent (``mark_in_flight``) and, once Salesforce took it, logged with its
old value, made the new baseline and removed from the outbox (``record_results``). The floor is one
plain ``executemany`` insert of the same rows into a table with the same primary key: the least
any of these steps can cost.

    .venv/bin/python bench/outbox.py --values 900000
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from connector.store import Store, loads_many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=900_000, help="field values to write")
    parser.add_argument("--fields", type=int, default=18, help="fields per record")
    args = parser.parse_args()
    records = max(args.values // args.fields, 1)
    changes = [
        ("Contact", f"003{i:012d}", f"L2L_F{j}__c", round(i * 0.37 + j, 2))
        for i in range(records)
        for j in range(args.fields)
    ]
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-outbox-"))

    floor_db = sqlite3.connect(work / "floor.sqlite", isolation_level=None)
    floor_db.execute("PRAGMA journal_mode=WAL")
    floor_db.execute(
        "CREATE TABLE t (object TEXT, record_id TEXT, field TEXT, value TEXT, "
        "PRIMARY KEY (object, record_id, field))"
    )
    started = time.perf_counter()
    floor_db.execute("BEGIN")
    floor_db.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)", [(*c[:3], str(c[3])) for c in changes]
    )
    floor_db.execute("COMMIT")
    floor = time.perf_counter() - started

    store = Store(work / "l2l.sqlite")
    run_id = store.runs.start("incremental")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    store.outbox.enqueue(run_id, changes)
    timings["enqueue"] = time.perf_counter() - started
    started = time.perf_counter()
    pending = store.outbox.pending()
    timings["pending_writes"] = time.perf_counter() - started
    started = time.perf_counter()
    # Before each batch is sent, its records' values are marked in flight (crash safety).
    store.outbox.mark_in_flight(run_id, sorted({(w.object, w.record_id) for w in pending}))
    timings["mark_in_flight"] = time.perf_counter() - started
    started = time.perf_counter()
    store.outbox.record_results(run_id, pending, [], [])
    timings["record_results"] = time.perf_counter() - started
    assert store.outbox.counts() == {}, "every value should have left the outbox"

    print(f"{len(changes):,} field values ({records:,} records x {args.fields} fields)")
    print(f"floor: raw sqlite3 executemany into one keyed table   {floor:6.2f}s")
    for step, seconds in timings.items():
        print(f"{step:<52} {seconds:6.2f}s  ratio {seconds / floor:5.1f}x floor")
    total = sum(timings.values())
    print(f"{'all steps':<52} {total:6.2f}s  ratio {total / floor:5.1f}x floor")

    # Inside pending_writes: decoding the stored texts, against a json.loads per value.
    texts = [w.text for w in pending]
    started = time.perf_counter()
    each = [json.loads(t) for t in texts]
    per_value = time.perf_counter() - started
    started = time.perf_counter()
    together = loads_many(texts)
    one_array = time.perf_counter() - started
    assert together == each
    print(
        f"decoding the {len(texts):,} texts: json.loads per value {per_value:.2f}s, "
        f"loads_many (one array) {one_array:.2f}s, ratio {one_array / per_value:.2f}"
    )


if __name__ == "__main__":
    main()

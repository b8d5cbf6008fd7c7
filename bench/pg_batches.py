"""Benchmark: a batch ``UPDATE``/``DELETE`` on PostgreSQL row by row (psycopg's pipelined
``executemany``) against one set statement over a ``COPY``-staged table
(``connector/store/postgres.py``: :func:`keyed_plan`), in one run.

The table is the outbox's shape (a three-column key, a status, attempts, an error); each size
N is a fresh table of 2N rows, then the outbox's own batches: N rows marked carried (``SET
status = ?, attempts = attempts + 1, error = ? WHERE object = ? AND record_id = ? AND field =
?``), then N rows deleted by key. Prints wall seconds, this process's CPU seconds and the
server backend's CPU seconds (``/proc`` of its pid: the server runs on this machine), each
the median of ``--repeats``, and the ratio row by row / set.

Then ``--push`` values (``--fields`` per record) go through the outbox as a first sync's push
does, on a fresh PostgreSQL store: queued, then per batch of 200 records marked in flight and
settled (``mark_in_flight``, ``record_results``, each staging the records in the temporary
``batch_records``): once with the staged records analysed (the store's way), once with that
``ANALYZE`` left out (what it did before), interleaved, the median of ``--repeats``.

    .venv/bin/python bench/pg_batches.py --sizes 100,1000,10000 --push 90000
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from connector.store import Store, postgres

TABLE = (
    "CREATE TABLE ob (object TEXT NOT NULL, record_id TEXT NOT NULL, field TEXT NOT NULL, "
    "value TEXT, status TEXT, attempts INTEGER, error TEXT, "
    "PRIMARY KEY (object, record_id, field))"
)
CARRY = (
    "UPDATE ob SET status = ?, attempts = attempts + 1, error = ? "
    "WHERE object = ? AND record_id = ? AND field = ?"
)
DROP = "DELETE FROM ob WHERE object = ? AND record_id = ? AND field = ?"


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(url: str, n: int, keyed_min: int) -> dict[str, tuple[float, float, float]]:
    """Both batches of size ``n`` on a fresh table; wall, client CPU, server CPU of each."""
    postgres.KEYED_MIN_ROWS = keyed_min
    conn = postgres.connect(url)
    backend = conn.raw.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    conn.execute("DROP TABLE IF EXISTS ob")
    conn.execute(TABLE)
    conn.executemany(
        "INSERT INTO ob VALUES (?, ?, ?, ?, 'in_flight', 0, NULL)",
        [("Contact", f"003{i:015d}", f"F{j}__c", f"v{i}") for i in range(n) for j in (1, 2)],
    )
    conn.execute("ANALYZE ob")
    out = {}
    batches: dict[str, tuple[str, list[Any]]] = {
        "update": (
            CARRY,
            [("carried", f"e{i}", "Contact", f"003{i:015d}", "F1__c") for i in range(n)],
        ),
        "delete": (DROP, [("Contact", f"003{i:015d}", "F2__c") for i in range(n)]),
    }
    for name, (sql, rows) in batches.items():
        w0, c0, s0 = time.perf_counter(), time.process_time(), cpu_of(backend)
        before = conn.total_changes
        conn.executemany(sql, rows)
        assert conn.total_changes - before == n, (name, conn.total_changes - before)
        out[name] = (time.perf_counter() - w0, time.process_time() - c0, cpu_of(backend) - s0)
    conn.close()
    return out


def push(url: str, values: int, fields: int, analyse: bool) -> tuple[float, float, float]:
    """Queue ``values`` into a fresh store's outbox, then mark and settle them 200 records a
    batch; wall, client CPU and server CPU of the batches. Without ``analyse`` the staged
    records' ``ANALYZE`` is skipped (the statement is not sent)."""
    with psycopg.connect(url.split("?", 1)[0], autocommit=True) as admin:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin.execute(f"CREATE SCHEMA {schema}")
    store_url = f"{url.split('?', 1)[0]}?options={quote(f'-csearch_path={schema}')}"
    store = Store(store_url)
    try:
        conn = store.db.conn
        if not analyse:
            execute = conn.execute

            def skipping(sql: str, parameters: Any = (), /) -> Any:
                return None if sql == "ANALYZE batch_records" else execute(sql, parameters)

            conn.execute = skipping  # type: ignore[method-assign]
        records = max(values // fields, 1)
        changes = [
            ("Contact", f"003{i:012d}", f"L2L_F{j}__c", round(i * 0.37 + j, 2))
            for i in range(records)
            for j in range(fields)
        ]
        run_id = store.runs.start("incremental")
        store.outbox.enqueue(run_id, changes)
        pending = store.outbox.pending()
        by_record: dict[tuple[str, str], list[Any]] = {}
        for w in pending:
            by_record.setdefault((w.object, w.record_id), []).append(w)
        keys = sorted(by_record)
        backend = conn.raw.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[attr-defined]
        w0, c0, s0 = time.perf_counter(), time.process_time(), cpu_of(backend)
        for start in range(0, len(keys), 200):
            chunk = keys[start : start + 200]
            store.outbox.mark_in_flight(run_id, chunk)
            store.outbox.record_results(run_id, [w for k in chunk for w in by_record[k]], [], [])
        out = (time.perf_counter() - w0, time.process_time() - c0, cpu_of(backend) - s0)
        assert store.outbox.counts() == {}, "every value should have left the outbox"
        return out
    finally:
        store.close()
        with psycopg.connect(url.split("?", 1)[0], autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://127.0.0.1:5432/test", help="server")
    parser.add_argument("--sizes", default="100,1000,10000", help="batch sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=5, help="runs per size and path")
    parser.add_argument("--push", type=int, default=0, help="outbox values to push (0: none)")
    parser.add_argument("--fields", type=int, default=18, help="fields per record (--push)")
    args = parser.parse_args()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.pg, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{args.pg}?options={quote(f'-csearch_path={schema}')}"
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            runs: dict[str, list[dict[str, tuple[float, float, float]]]] = {"row": [], "set": []}
            for _ in range(args.repeats):  # interleaved: load drifts alike for both paths
                runs["row"].append(one(url, n, keyed_min=10**12))
                runs["set"].append(one(url, n, keyed_min=1))
            for batch in ("update", "delete"):
                med = {
                    path: [statistics.median(r[batch][k] for r in got) for k in range(3)]
                    for path, got in runs.items()
                }
                row, fast = med["row"], med["set"]
                print(
                    f"{batch} {n:>6} rows: row by row {row[0]:.3f} s wall, {row[1]:.3f} s CPU, "
                    f"server {row[2]:.3f} s CPU; set {fast[0]:.3f} s wall, {fast[1]:.3f} s CPU, "
                    f"server {fast[2]:.3f} s CPU; row/set wall {row[0] / fast[0]:.1f}x, "
                    f"server CPU {row[2] / max(fast[2], 0.01):.1f}x "
                    f"(load average {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
    finally:
        with psycopg.connect(args.pg, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
    if args.push:
        got: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
        for _ in range(args.repeats):
            for analyse in (False, True):
                got[analyse].append(push(args.pg, args.push, args.fields, analyse))
        med = {
            a: [statistics.median(r[k] for r in runs) for k in range(3)] for a, runs in got.items()
        }
        before, after = med[False], med[True]
        print(
            f"push of {args.push:,} outbox values, 200 records a batch: staged records not "
            f"analysed {before[0]:.2f} s wall, {before[1]:.2f} s CPU, server {before[2]:.2f} s "
            f"CPU; analysed {after[0]:.2f} s wall, {after[1]:.2f} s CPU, server {after[2]:.2f} s "
            f"CPU; before/after wall {before[0] / after[0]:.1f}x, server CPU "
            f"{before[2] / max(after[2], 0.01):.1f}x (load average {os.getloadavg()[0]:.1f})",
            flush=True,
        )


if __name__ == "__main__":
    main()

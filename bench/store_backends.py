"""Benchmark: the same store work on SQLite and on PostgreSQL, in one run (ratio PG / SQLite).

Four steps a sync and the web intake lean on, each through the store's own API: storing pulled
Contacts (``records.upsert``, pages of 2,000), queueing field values (``outbox.enqueue``),
reading them back (``outbox.pending``), and storing webhook deliveries one autocommit statement
each (``events.store_delivery``, as the web process commits before its 2xx). PostgreSQL is the
local server (``L2L_TEST_POSTGRES_URL``, default ``postgresql://127.0.0.1:5432/test``) in a
fresh schema, dropped after; SQLite a file in a temporary folder.

    .venv/bin/python bench/store_backends.py --records 20000 --values 100000 --deliveries 2000

Measured 2026-12-07 with those (the defaults) on the 2 shared cores, PostgreSQL 15 local,
before big batches went through COPY:

======================  ========  =============  ============  ===========  =========
step                    SQLite s  SQLite FULL s  PostgreSQL s  PG / SQLite  PG / FULL
======================  ========  =============  ============  ===========  =========
records.upsert          0.29      0.29           1.37          4.71         4.69
outbox.enqueue          2.04      1.14           8.30          4.07         7.26
outbox.pending          2.15      1.01           2.00          0.93         1.98
events.store_delivery   0.97      10.52          13.01         13.44        1.24
======================  ========  =============  ============  ===========  =========

and after, with the row-by-row path measured in the same run ("PG rows"; load average 18.6,
so every number is stretched, the ratios within one run less so):

======================  ========  ======  =======  ============  ===========  =========
step                    SQLite s  FULL s  PG rows  PostgreSQL s  PG / SQLite  COPY gain
======================  ========  ======  =======  ============  ===========  =========
records.upsert          0.51      0.94    4.90     1.61          3.13         3.04x
outbox.enqueue          3.91      4.32    22.36    8.92          2.28         2.51x
outbox.pending          5.71      6.39    2.52     4.67          0.82         (reads)
events.store_delivery   1.26      3.25    28.79    47.76         37.86        (one row)
======================  ========  ======  =======  ============  ===========  =========

A delivery costs what a synced commit costs (PostgreSQL syncs every commit, as SQLite FULL
does; the last row swings with the load). A batch of 500 rows or more goes through ``COPY``
into a temporary table and one ``INSERT ... SELECT`` (``connector/store/postgres.py``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from connector.store import Store
from connector.store import postgres as pg_backend
from connector.webhooks.base import Delivery


def _steps(args: argparse.Namespace) -> list[tuple[str, Callable[[Store], Any]]]:
    contacts = [
        {"Id": f"003{i:012d}", "Email": f"p{i}@example.com", "LastName": f"P{i}", "N": i * 0.5}
        for i in range(args.records)
    ]
    values = [
        ("Contact", f"003{i // 18:012d}", f"L2L_F{i % 18}__c", round(i * 0.37, 2))
        for i in range(args.values)
    ]

    def upsert(store: Store) -> None:
        for start in range(0, len(contacts), 2000):
            store.records.upsert("Contact", contacts[start : start + 2000])

    def deliveries(store: Store) -> None:
        for n in range(args.deliveries):
            body = f'{{"id": {n}, "email": "p{n}@example.com"}}'.encode()
            store.events.store_delivery(
                Delivery("shopify", f"d{n}", "orders/create", "shop", {}, body)
            )

    return [
        ("records.upsert", upsert),
        ("outbox.enqueue", lambda s: s.outbox.enqueue(s.runs.start("bench"), values)),
        ("outbox.pending", lambda s: s.outbox.pending()),
        ("events.store_delivery", deliveries),
    ]


def _measure(
    location: Path | str, args: argparse.Namespace, *, fsync: bool = False
) -> dict[str, float]:
    store = Store(location)
    if fsync:
        store.fsync_every_commit(True)
    timings = {}
    try:
        for name, step in _steps(args):
            started = time.perf_counter()
            step(store)
            timings[name] = time.perf_counter() - started
    finally:
        store.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="Contacts to store")
    parser.add_argument("--values", type=int, default=100_000, help="field values to queue")
    parser.add_argument("--deliveries", type=int, default=2_000, help="deliveries to store")
    args = parser.parse_args()
    server = os.environ.get("L2L_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-backends-"))
    sqlite = _measure(work / "l2l.sqlite", args)
    synced = _measure(work / "fsync.sqlite", args, fsync=True)
    with psycopg.connect(server, autocommit=True) as admin:
        for name in (schema, f"{schema}_rows"):
            admin.execute(f"CREATE SCHEMA {name}")
        try:
            postgres = _measure(f"{server}?options={quote(f'-csearch_path={schema}')}", args)
            # the same without COPY: every batch row by row (psycopg's pipelined executemany)
            copy_min, pg_backend.COPY_MIN_ROWS = pg_backend.COPY_MIN_ROWS, 10**12
            try:
                rows = _measure(f"{server}?options={quote(f'-csearch_path={schema}_rows')}", args)
            finally:
                pg_backend.COPY_MIN_ROWS = copy_min
        finally:
            for name in (schema, f"{schema}_rows"):
                admin.execute(f"DROP SCHEMA {name} CASCADE")
    # SQLite's default (synchronous=NORMAL) does not sync a commit to disk; PostgreSQL does, as
    # SQLite does with FULL (the web intake's L2L_WEBHOOK_FSYNC): both columns, for a fair ratio.
    print(
        f"{'step':<24}{'SQLite s':>10}{'SQLite FULL s':>15}{'PG row by row s':>17}"
        f"{'PostgreSQL s':>14}{'PG / SQLite':>13}{'PG / FULL':>11}{'COPY gain':>11}"
    )
    for name, seconds in sqlite.items():
        pg = postgres[name]
        print(
            f"{name:<24}{seconds:>10.2f}{synced[name]:>15.2f}{rows[name]:>17.2f}{pg:>14.2f}"
            f"{pg / seconds:>13.2f}{pg / synced[name]:>11.2f}{rows[name] / pg:>10.2f}x"
        )
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

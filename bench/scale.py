"""Benchmark: the job queue with 1, 2 and 4 worker processes on PostgreSQL, and a first sync on
SQLite vs PostgreSQL, in one run.

1. First sync, small seed (``lead2loyalty localorg serve --seed small``, its own process, one
   fresh org per backend so both syncs write every field): SQLite file vs a fresh PostgreSQL
   schema on 127.0.0.1:5432 (``--pg``); prints wall seconds, the connector's CPU seconds and,
   for PostgreSQL, the server's (its backends' ``/proc`` CPU, :class:`ServerCpu`: SQLite does
   its work inside the connector's process), the load average, and the ratios PG / SQLite.
2. Scale-out on the PostgreSQL store just synced: ``lead2loyalty web`` (gunicorn, 2 workers)
   and W = 1, 2, 4 ``lead2loyalty worker`` processes, started once per W. A warm-up batch of
   ``--warm`` deliveries first (not counted: a worker builds its engine and signs in on its
   first pass), then ``--repeats`` timed batches of ``--orders`` signed Shopify
   ``orders/create`` deliveries (a different Contact each, never reused) from 4 client
   threads, each batch polled until every Contact's ``L2L_Order_Count__c`` moved. Per batch:
   throughput (deliveries landed per second, first send to last landing), p50/p95
   delivery-to-field latency, the workers' CPU, the recompute passes, and how often a backend
   waited on a lock (:class:`LockWaits`); per W the median throughput with its range and the
   ratio of medians to one worker; then the checks: deliveries lost (count never moved),
   counts moved twice, deliveries normalised by two jobs or by none.

Targets on 2 cores (issue 20): 2 workers >= 1.6x one, 4 no slower than 2; PG first sync
within 1.5x of SQLite.

    cd bench && ../.venv/bin/python scale.py --skip-sqlite --orders 150 --repeats 3
    cd bench && ../.venv/bin/python scale.py --first-sync-only medium
    cd bench && ../.venv/bin/python scale.py --first-sync-only --size medium \
        --data /path/to/medium-org     # served from a seeded folder (localorg seed --data)

Measured 2026-12-07 20:45-20:48, ``--skip-sqlite --orders 200 --repeats 3 --warm 20``, a
quieter machine (load average 1.9 rising to 6.1): 1 worker 34.38/s [33.58-37.17], 2 workers
28.83/s (0.84x), 4 workers 43.23/s (1.26x); the workers' CPU per delivery 0.01 / 0.02 /
0.01-0.02 s; 2-3 / 3-4 / 2 recompute passes a batch; nothing lost or moved twice. Two
workers start a recompute early beside the normalising one (more passes), and the batch's
last recompute waits for the running one (1.9-2.8 s).

Measured 2026-12-07 20:19-20:45, ``--first-sync-only --size medium --data
/work/seeds/medium-org`` (load average 8.6-8.7): SQLite 515.4 s wall, connector CPU 163.5 s;
PostgreSQL 708.0 s wall, connector CPU 126.0 s + server CPU 146.4 s; PG / SQLite 1.37x wall
(target 1.5x), 1.67x CPU.

Measured 2026-12-07 20:00-20:18, ``--skip-sqlite --orders 200 --repeats 3 --warm 20``, the
machine shared with other agents (load average 10.6-14.4 throughout), the tree before
(parallel passes) and after (one recompute at a time, each taking every dirty person; the
normalise job asks whether a recompute waits instead of having its defer refused), run one
after the other: before, 1 worker 9.77/s [8.79-10.04], 2 workers 1.16x, 4 workers 1.19x, the
workers' CPU 3.0-3.4 / 4.5-5.7 / 6.7-8.2 s a batch (5-8 passes with 4 workers), a backend
waiting on the write lock in 0-1% / 2-10% / 18-25% of samples; after, 1 worker 11.12/s
[10.98-13.62], 2 workers 13.85/s (1.24x), 4 workers 17.10/s (1.54x), the workers' CPU
2.4-3.1 / 2.5-3.8 / 2.9-3.4 s a batch (2-4 passes), lock waits 0% / 0-18% / 9-21%; nothing
lost or moved twice in either. At this load a batch is bound by the cores (the bench's own
sender took 2.6-5.6 s to post 200), not by the workers; the 1.6x target is not shown here.

Measured 2026-12-07 17:00 (load average 20-25 on the 2 cores throughout), ``--skip-sqlite
--orders 100 --repeats 3 --warm 10``, the workers polling every second: 1 worker 5.93/s
[5.85-6.50], 2 workers 6.58/s [6.52-8.12] (1.11x), 4 workers 6.76/s [5.91-8.22] (1.14x);
nothing lost or moved twice. The workers used 2.6-6.7 CPU s per batch of 12-17 s wall: at
this load a batch of 100 is bound by latency (3 s of sending, then a recompute pass of 1.5-5
s wall after the last normalise), not by the workers' capacity; a backend waited on the
store's write lock in 0-26% of samples (more with more workers). The earlier runs below had
one batch per round, no warm-up (each new worker built its engine and signed in inside the
timed window) and a recompute deferred again waiting up to 5 s for the worker's poll.

Measured 2026-12-07 on the shared 2-core machine (8 agents; load average 15-21 throughout),
``cd bench && python scale.py --orders 120``, per-people locks (several recomputes at once):

    first sync (small seed): SQLite 41.0 s, PostgreSQL 153.8 s, PG / SQLite 3.75x
    run A: 1 worker 7.78/s p95 14.9 s; 2 workers 7.68/s (0.99x) p95 14.8 s; 4 workers 5.85/s (0.75x)
    run B: 1 worker 2.07/s p95 57.3 s; 2 workers 5.59/s (2.70x) p95 20.5 s; 4 workers 5.00/s (2.42x)
    counts moved twice: 0 in every round; workers' CPU 2.4-8.1 s per round of 13-58 s wall

The ratios swing with the other agents' load (run B's one worker queued its recompute 22.6 s
behind 120 normalise jobs). A pass costs about the same for 1 or 120 people (0.8-1.3 CPU s,
5-11 s wall at this load: the compute phase waits for a core), so one worker batching every
dirty person into one pass is already efficient; more workers run more, smaller passes side
by side, which pays off when one worker's queue backs up and costs CPU when it does not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import requests
from deliveries import (
    contacts,
    cpu_seconds,
    deliver,
    org_client,
    percentile,
    process_env,
    start,
    stop,
    wait_serving,
)
from pydantic import SecretStr
from served import deployed, served, served_settings

SECRET = "bench_scale_secret"


@contextmanager
def pg_schema(base: str) -> Iterator[str]:
    """A URL whose tables live in a fresh schema (dropped afterwards)."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}?options={quote(f'-csearch_path={schema}')}&application_name={schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                [schema],
            )
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


class ServerCpu:
    """CPU seconds the PostgreSQL server spent for one store: the backends whose
    ``application_name`` is the bench schema's (:func:`pg_schema` sets it), read from
    ``/proc`` of their pids (the server runs on this machine) every half second, so a
    connection opened and closed during the sync is counted up to its last sample."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = url.rsplit("application_name=", 1)[1]
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _sample(self, admin: psycopg.Connection[Any]) -> None:
        pids = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [self.name]
        ).fetchall()
        for (pid,) in pids:
            try:
                cpu = cpu_seconds(pid)
            except OSError:  # gone since
                continue
            self.start.setdefault(pid, cpu if not self.thread.is_alive() else 0.0)
            self.last[pid] = cpu

    def _watch(self) -> None:
        with psycopg.connect(self.url.split("?", 1)[0], autocommit=True) as admin:
            while not self.done.wait(0.5):
                self._sample(admin)
            self._sample(admin)

    def __enter__(self) -> ServerCpu:
        with psycopg.connect(self.url.split("?", 1)[0], autocommit=True) as admin:
            self._sample(admin)  # the backends open before the sync: from where they are
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.last[p] - self.start.get(p, 0.0) for p in self.last)


def first_sync(
    info: dict[str, Any], work: Path, database: Path | str
) -> tuple[float, float, float | None, Any]:
    """Wall and CPU seconds (this process: the connector; the org runs in its own) of one
    first sync into ``database``, the PostgreSQL server's CPU seconds for it (None on
    SQLite), and its engine."""
    work.mkdir(parents=True, exist_ok=True)
    settings = served_settings(info, work)
    if isinstance(database, str):  # PostgreSQL: the URL in place of the file
        settings = settings.model_copy(update={"database_url": SecretStr(database)})
    engine = deployed(settings)
    server = ServerCpu(database) if isinstance(database, str) else None
    with server or contextlib.nullcontext():
        t0, c0 = time.perf_counter(), time.process_time()
        report = engine.run()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert report.status == "succeeded", report.status
    return elapsed, cpu, server.seconds if server else None, engine


def first_syncs(
    size: str, pg: str, work: Path, *, sqlite: bool = True, data: Path | None = None
) -> None:
    """A first sync on SQLite (unless not ``sqlite``), then on PostgreSQL, each against a
    fresh org of ``size`` (a copy of the seeded folder ``data``, when given); prints each as
    it ends, then the ratios."""
    sqlite_s = sqlite_cpu = float("nan")
    if sqlite:
        with served(size, data=data) as info:
            load = os.getloadavg()[0]
            sqlite_s, sqlite_cpu, _, engine = first_sync(
                info, work / size / "sqlite", work / size / "sqlite" / "l2l.sqlite"
            )
            load = max(load, os.getloadavg()[0])
            engine.store.close()
        print(
            f"first sync ({size} seed), SQLite: {sqlite_s:.1f} s wall, connector CPU "
            f"{sqlite_cpu:.1f} s (load average {load:.1f})",
            flush=True,
        )
    with served(size, data=data) as info, pg_schema(pg) as url:
        load = os.getloadavg()[0]
        pg_s, pg_cpu, server_cpu, engine = first_sync(info, work / size / "pg", url)
        load = max(load, os.getloadavg()[0])
        engine.store.close()
    server = server_cpu or 0.0
    print(
        f"first sync ({size} seed), PostgreSQL: {pg_s:.1f} s wall, connector CPU "
        f"{pg_cpu:.1f} s + server CPU {server:.1f} s (load average {load:.1f})",
        flush=True,
    )
    if sqlite:
        print(
            f"PG / SQLite: wall {pg_s / sqlite_s:.2f}x (target <= 1.5x), CPU (connector + "
            f"server against the connector alone) {(pg_cpu + server) / sqlite_cpu:.2f}x",
            flush=True,
        )


class LockWaits:
    """How often a backend of the bench's store waited on a lock (``pg_stat_activity``
    sampled every 0.2 s while a batch runs): the share of samples with a waiter, and the
    statements seen waiting, so a lock the workers queue on shows in the figures."""

    def __init__(self, url: str) -> None:
        self.url = url.split("?", 1)[0]
        self.name = url.rsplit("application_name=", 1)[1]
        self.samples = 0
        self.waiting = 0
        self.by_query: dict[str, int] = {}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as admin:
            while not self.done.wait(0.2):
                rows = admin.execute(
                    "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 60) "
                    "FROM pg_stat_activity WHERE application_name = %s "
                    "AND wait_event_type = 'Lock'",
                    [self.name],
                ).fetchall()
                self.samples += 1
                self.waiting += bool(rows)
                for (query,) in rows:
                    self.by_query[query] = self.by_query.get(query, 0) + 1

    def __enter__(self) -> LockWaits:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def share(self) -> float:
        return self.waiting / self.samples if self.samples else 0.0

    def top(self) -> str:
        ranked = sorted(self.by_query.items(), key=lambda kv: -kv[1])[:2]
        return "; ".join(f"{n}x {q!r}" for q, n in ranked) or "none"


def _ids(url: str) -> tuple[int, int]:
    """The newest run id and job id (the batch's come after them)."""
    with psycopg.connect(url) as conn:
        last_run = conn.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0]
        has_jobs = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()[0]
        last_job = (
            conn.execute("SELECT COALESCE(MAX(id), 0) FROM procrastinate_jobs").fetchone()[0]
            if has_jobs
            else 0
        )
    return last_run, last_job


def batch(
    port: int,
    pool: list[Any],
    people: list[dict[str, Any]],
    first_n: int,
    url: str,
    sf: Any,
    timeout: float,
) -> dict[str, Any]:
    """One batch of deliveries for ``people`` through the running web and workers; its
    figures."""
    last_run, last_job = _ids(url)
    cpu_before = sum(cpu_seconds(p.pid) for p in pool)
    load_before = os.getloadavg()[0]
    with LockWaits(url) as waits:
        landing = deliver(
            f"http://127.0.0.1:{port}", sf, people, 8 * 10**12 + first_n, SECRET, timeout=timeout
        )
    worker_cpu = sum(cpu_seconds(p.pid) for p in pool) - cpu_before
    load = max(load_before, os.getloadavg()[0])
    latencies = landing.latencies()
    with psycopg.connect(url) as conn:
        jobs = conn.execute(
            "SELECT args->>'key', COUNT(*) FROM procrastinate_jobs "
            "WHERE task_name = 'l2l.normalise_delivery' AND id > %s GROUP BY 1",
            [last_job],
        ).fetchall()
        passes = [
            r[0]
            for r in conn.execute(
                "SELECT stats FROM runs WHERE mode = 'realtime' AND id > %s ORDER BY id",
                [last_run],
            ).fetchall()
        ]
        # queue wait and run time of each recompute job (procrastinate's event log)
        job_times = conn.execute(
            "SELECT EXTRACT(EPOCH FROM MIN(e.at) FILTER (WHERE e.type = 'started') "
            "- MIN(e.at) FILTER (WHERE e.type = 'deferred')), "
            "EXTRACT(EPOCH FROM MAX(e.at) FILTER (WHERE e.type IN ('succeeded', 'failed')) "
            "- MIN(e.at) FILTER (WHERE e.type = 'started')) "
            "FROM procrastinate_events e JOIN procrastinate_jobs j ON j.id = e.job_id "
            "WHERE j.task_name = 'l2l.recompute_people' AND j.id > %s GROUP BY j.id",
            [last_job],
        ).fetchall()
    stats = [json.loads(p) if isinstance(p, str) else p for p in passes]
    calls = [sum(v for k, v in (st.get("api_calls") or {}).items() if k != "total") for st in stats]

    def median(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0

    return {
        "landed": len(landing.landed),
        "lost": len(people) - len(landing.landed),
        "throughput": len(landing.landed) / landing.elapsed() if landing.landed else 0.0,
        "elapsed": landing.elapsed(),
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": percentile(latencies, 0.95),
        "moved_twice": landing.moved_twice,
        "jobs": len(jobs),
        "jobs_per_delivery_max": max((c for _, c in jobs), default=0),
        "worker_cpu": worker_cpu,
        "load": load,
        "passes": len(stats),
        "pass_wall": median([st.get("duration_s", 0) for st in stats]),
        "pass_cpu": median([st.get("cpu_s", 0) for st in stats]),
        "pass_calls": median(calls),
        "pass_people": median([(st.get("writes") or {}).get("queued", 0) for st in stats]),
        "sent_in": max(landing.sent.values()) - landing.started if landing.sent else 0.0,
        "phases": {
            phase: median([(st.get("phases_s") or {}).get(phase, 0.0) for st in stats])
            for phase in ("compute", "push", "effects", "mirror")
        },
        "job_wait": median([w[0] for w in job_times if w[0] is not None]),
        "job_run": median([w[1] for w in job_times if w[1] is not None]),
        "lock_share": waits.share(),
        "lock_top": waits.top(),
    }


def scale_round(
    workers: int,
    warm: list[dict[str, Any]],
    batches: list[list[dict[str, Any]]],
    first_n: int,
    env: dict[str, str],
    work: Path,
    url: str,
    sf: Any,
    timeout: float,
) -> list[dict[str, Any]]:
    """W workers and one web process, started once: a warm-up batch for ``warm`` (not
    counted: each worker builds its engine and signs in on its first pass), then each of
    ``batches`` in turn; the figures of each."""
    port = 18_000 + workers
    web = start(["web", "--host", "127.0.0.1", "--port", str(port)], env, work)
    pool = [start(["worker"], env, work) for _ in range(workers)]
    http = requests.Session()
    http.trust_env = False
    out = []
    try:
        wait_serving(http, f"http://127.0.0.1:{port}")
        time.sleep(3)  # the workers import and apply the queue schema before the clock starts
        if warm:
            batch(port, pool, warm, first_n, url, sf, timeout)
        first_n += len(warm)
        for people in batches:
            out.append({"workers": workers, **batch(port, pool, people, first_n, url, sf, timeout)})
            first_n += len(people)
    finally:
        http.close()
        for proc in (web, *pool):
            stop(proc)
    return out


def spread(values: list[float]) -> str:
    """Median and range of ``values``."""
    return f"{statistics.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=150, help="deliveries per batch")
    parser.add_argument("--repeats", type=int, default=3, help="timed batches per worker count")
    parser.add_argument("--warm", type=int, default=20, help="warm-up deliveries per round")
    parser.add_argument("--size", default="small", choices=["small", "medium"])
    parser.add_argument("--pg", default="postgresql://127.0.0.1:5432/test", help="server")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on a batch after")
    parser.add_argument("--rounds", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--skip-sqlite", action="store_true", help="no SQLite first sync")
    parser.add_argument(
        "--data", type=Path, help="a seeded org folder of --size (localorg seed --data)"
    )
    parser.add_argument(
        "--first-sync-only",
        nargs="*",
        choices=["small", "medium"],
        metavar="SIZE",
        help="only the first syncs, SQLite vs PostgreSQL, for each SIZE (default: --size)",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-scale-"))
    if args.first_sync_only is not None:
        for size in args.first_sync_only or [args.size]:
            data = args.data if size == args.size else None
            first_syncs(size, args.pg, work, sqlite=not args.skip_sqlite, data=data)
        return
    if not args.skip_sqlite:
        first_syncs(args.size, args.pg, work, data=args.data)
    with served(args.size, data=args.data) as info, pg_schema(args.pg) as url:
        _, _, _, engine = first_sync(info, work / "pg", url)
        sf = org_client(engine.client.session, info)
        rounds = [int(w) for w in args.rounds.split(",")]
        per_round = args.warm + args.orders * args.repeats
        people = contacts(sf, per_round * len(rounds))
        if len(people) < per_round * len(rounds):
            raise SystemExit(
                f"the {args.size} seed has {len(people)} Contacts with an order count, "
                f"{per_round * len(rounds)} needed: fewer --orders, --repeats or --warm"
            )
        env = process_env(info, SECRET, DATABASE_URL=url)
        results: dict[int, list[dict[str, Any]]] = {}
        for n, workers in enumerate(rounds):
            mine = people[n * per_round : (n + 1) * per_round]
            warm, rest = mine[: args.warm], mine[args.warm :]
            batches = [rest[k * args.orders : (k + 1) * args.orders] for k in range(args.repeats)]
            results[workers] = scale_round(
                workers, warm, batches, n * per_round, env, work, url, sf, args.timeout
            )
        report(results, args.orders)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(
            f"this process: {usage.ru_utime + usage.ru_stime:.1f} CPU s; load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
        )
        engine.store.close()


def report(results: dict[int, list[dict[str, Any]]], orders: int) -> None:
    """Each batch's figures, then per worker count the median throughput, its range, and the
    ratios of the medians to one worker's; then the checks and the targets."""
    print(f"webhook deliveries to field on PostgreSQL, {orders} per batch:")
    for workers, got in results.items():
        for k, r in enumerate(got, 1):
            print(
                f"  {workers} worker(s), batch {k}: {r['landed']}/{orders} landed in "
                f"{r['elapsed']:.1f} s, {r['throughput']:.2f}/s, p50 {r['p50']:.2f} s, "
                f"p95 {r['p95']:.2f} s; workers' CPU {r['worker_cpu']:.1f} s (load average "
                f"{r['load']:.1f}); {r['passes']} recompute passes, per pass (median) "
                f"{r['pass_wall']:.2f} s wall, {r['pass_cpu']:.2f} s CPU, "
                f"{r['pass_calls']:.0f} Salesforce calls, {r['pass_people']:.0f} records "
                f"written; recompute job waited {r['job_wait']:.2f} s, ran {r['job_run']:.2f} s"
            )
            phases = ", ".join(f"{k} {v:.2f} s" for k, v in r["phases"].items() if v)
            print(
                f"    sent in {r['sent_in']:.1f} s; a pass's phases (median wall): "
                f"{phases or 'none recorded'}; a backend waited on a lock in "
                f"{r['lock_share']:.0%} of samples ({r['lock_top']})"
            )
    medians = {w: statistics.median(r["throughput"] for r in got) for w, got in results.items()}
    one = medians.get(1) or float("nan")
    print("summary (median [min-max] of the batches):")
    for workers, got in results.items():
        print(
            f"  {workers} worker(s): {spread([r['throughput'] for r in got])} deliveries/s, "
            f"{medians[workers] / one:.2f}x one worker; p95 {spread([r['p95'] for r in got])} s; "
            f"workers' CPU per delivery {spread([r['worker_cpu'] / orders for r in got])} s; "
            f"load average {spread([r['load'] for r in got])}"
        )
    lost = sum(r["lost"] for got in results.values() for r in got)
    twice = sum(r["moved_twice"] for got in results.values() for r in got)
    jobs_twice = sum(1 for got in results.values() for r in got if r["jobs_per_delivery_max"] > 1)
    missing_jobs = sum(orders - r["jobs"] for got in results.values() for r in got)
    print(
        f"checks: deliveries lost (count never moved) {lost}; counts moved twice {twice}; "
        f"deliveries with no normalise job {missing_jobs}; batches where a delivery had two "
        f"normalise jobs {jobs_twice} (the sweep defers one for a delivery still stored while "
        "its first job runs; the second finds it normalised and does nothing: a count moved "
        "twice would show it did)"
    )
    print("targets: 2 workers >= 1.6x one; 4 workers >= 2 workers; nothing lost or done twice")


if __name__ == "__main__":
    main()

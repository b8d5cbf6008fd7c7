"""Benchmark: delivery-to-field latency of the real-time path, end to end.

A seeded local org (``lead2loyalty localorg serve --seed small``, its own process) is synced
once with the repository's mappings (RFM and predictions fields). Then ``lead2loyalty web`` and
``lead2loyalty worker`` run as in production (Procfile), and ``--orders`` signed Shopify
``orders/create`` deliveries are sent one after the other, each for a different existing
Contact; for each, the clock runs from the POST until a query of that Contact in the org shows
its new ``L2L_Order_Count__c``. Prints p50/p95/max and the worker interval used (the wait for
the next pass is part of the latency: about half an interval on average).

    .venv/bin/python bench/webhooks_e2e.py --orders 100
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from deliveries import (
    contacts,
    deliver,
    org_client,
    percentile,
    process_env,
    start,
    stop,
    wait_serving,
)
from served import deployed, served_settings
from simple_salesforce.api import Salesforce

SECRET = "bench_e2e_secret"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100, help="deliveries to time")
    parser.add_argument("--interval", type=float, default=2.0, help="worker pass interval (s)")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up on one after (s)")
    parser.add_argument("--size", default="small", choices=["small", "medium"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-e2e-"))
    org = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "localorg", "serve", "--seed", args.size],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        assert org.stdout is not None
        info = json.loads(org.stdout.readline())
        env = process_env(
            info,
            SECRET,
            L2L_DATABASE=str(work / "l2l.sqlite"),
            L2L_REALTIME_INTERVAL_SECONDS=str(args.interval),
        )
        engine = deployed(served_settings(info, work))
        t0 = time.perf_counter()
        first = engine.run()
        print(f"first sync ({args.size} seed): {first.status} in {time.perf_counter() - t0:.1f}s")
        sf = org_client(engine.client.session, info)
        people = contacts(sf, args.orders)
        port = _port()
        procs.append(start(["web", "--host", "127.0.0.1", "--port", str(port)], env, work))
        procs.append(start(["worker"], env, work))
        http = requests.Session()
        http.trust_env = False
        url = f"http://127.0.0.1:{port}"
        wait_serving(http, url, tries=300)
        # one after the other: each delivery's own latency, no queue behind it
        landing = deliver(
            url, sf, people, 9 * 10**12, SECRET, one_by_one=True, timeout=args.timeout
        )
        latencies = landing.latencies()
        missed = len(people) - len(latencies)
        if latencies:
            print(
                f"delivery-to-field latency over {len(latencies)} orders (worker interval "
                f"{args.interval:g} s): p50 {statistics.median(latencies):.2f} s, p95 "
                f"{percentile(latencies, 0.95):.2f} s, max {latencies[-1]:.2f} s; {missed} not "
                f"seen within {args.timeout:g} s"
            )
        # a pass still running (the worker is up) has no duration yet
        runs = [
            r
            for r in engine.store.runs.latest(500)
            if r["mode"] == "realtime" and "duration_s" in (r["stats"] or {})
        ]
        if runs:
            durations = sorted(r["stats"]["duration_s"] for r in runs)
            print(
                f"real-time passes: {len(runs)}, pass duration p50 "
                f"{statistics.median(durations):.2f} s, max {durations[-1]:.2f} s"
            )
        for proc in procs:  # the worker stops: the passes below are timed alone
            stop(proc)
        _pass_cost(engine, sf, args.size)
    finally:
        for proc in (*procs, org):
            if proc.poll() is None:
                stop(proc)  # type: ignore[arg-type]


def _pass_cost(engine: Any, sf: Salesforce, size: str) -> None:
    """One real-time pass's cost for 1, 10 and 100 people of this org (the same engine, in
    this process; the median of three passes each): it should follow the people, not the org."""
    ids = [
        r["Id"] for r in sf.query("SELECT Id FROM Contact WHERE Email != null LIMIT 100")["records"]
    ]
    full = engine.store.runs.latest(50)
    last_full = next((r for r in full if r["mode"] in ("incremental", "full")), None)
    compute_full = last_full["stats"]["phases_s"].get("compute") if last_full else None
    cells = []
    for n in (1, 10, 100):
        people = [("Contact", i) for i in ids[:n]]
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            engine.run(people=people)
            times.append(time.perf_counter() - t0)
        cells.append(f"{n} people {statistics.median(times):.2f} s")
    whole = f" (the first sync's compute step: {compute_full:.1f} s)" if compute_full else ""
    print(f"one real-time pass on the {size} seed: " + ", ".join(cells) + whole)


if __name__ == "__main__":
    main()

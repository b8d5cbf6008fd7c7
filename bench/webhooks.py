"""Benchmark: webhook intake under gunicorn against a bare Flask endpoint, in the same run.

Both apps run under the same gunicorn settings (``--workers 2``, sync workers, loopback). This
process is the client: ``--threads`` threads send ``--count`` signed Shopify ``orders/create``
deliveries (each with its own event id, prepared before the clock starts) within ``--seconds``
at most. The lead2loyalty app verifies each HMAC, checks the payload and commits the raw body to
SQLite (WAL, ``synchronous=NORMAL``: survives a crash of the process) before its 200; "l2l
fsync" is the same with ``L2L_WEBHOOK_FSYNC=true`` (an fsync per delivery: survives power loss
too). The bare app reads the body and answers 200.
Each server gets 40 untimed deliveries first (a worker's first delivery imports the store).
Rounds alternate (bare, app, bare, app...) so load from elsewhere on this shared machine falls
on both; the best round of each is reported, with the ratio app / bare.

    .venv/bin/python bench/webhooks.py --count 2000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from flask import Flask, request

REPO = Path(__file__).resolve().parent.parent
SECRET = "bench_secret_7c1"


def bare_app() -> Flask:
    """The floor: read the body, answer 200 with a small JSON object."""
    app = Flask("bare")

    @app.post("/webhooks/shopify")
    def receive() -> Any:
        request.get_data()
        return {"status": "stored"}

    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(app: str, work: Path, **extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("L2L_")},
        "PYTHONPATH": str(REPO),
        "L2L_DATABASE": str(work / "l2l.sqlite"),
        "L2L_SHOPIFY_WEBHOOK_SECRETS": SECRET,
        **extra,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", app],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "gunicorn.log").open("ab"),
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/healthz", timeout=2)
            return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{app} did not start")


def _deliveries(count: int) -> list[tuple[bytes, dict[str, str]]]:
    sys.path.insert(0, str(REPO))
    from connector.webhooks.base import hmac_base64

    order = json.loads(
        (REPO / "tests/fixtures/webhooks/shopify_orders_create.json").read_text(encoding="utf-8")
    )
    out = []
    now = datetime.now(UTC).isoformat()
    for n in range(count):
        body = json.dumps({**order, "id": 10**12 + n}).encode()
        out.append(
            (
                body,
                {
                    "Content-Type": "application/json",
                    "X-Shopify-Hmac-Sha256": hmac_base64(SECRET, body),
                    "X-Shopify-Topic": "orders/create",
                    "X-Shopify-Shop-Domain": "bench.myshopify.com",
                    "X-Shopify-Event-Id": str(uuid.uuid4()),
                    "X-Shopify-Triggered-At": now,
                },
            )
        )
    return out


def _drive(
    url: str, work: list[tuple[bytes, dict[str, str]]], threads: int, seconds: float
) -> dict[str, float]:
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    cursor = [0]
    stop_at = time.monotonic() + seconds

    def client() -> None:
        http = requests.Session()
        http.trust_env = False
        while time.monotonic() < stop_at:
            with lock:
                if cursor[0] >= len(work):
                    break
                body, headers = work[cursor[0]]
                cursor[0] += 1
            began = time.perf_counter()
            response = http.post(url + "/webhooks/shopify", data=body, headers=headers, timeout=30)
            spent = time.perf_counter() - began
            with lock:
                latencies.append(spent)
                if response.status_code != 200:
                    failures[0] += 1
                    print(f"  ! {response.status_code} {response.text[:200]}", file=sys.stderr)
        http.close()

    began = time.perf_counter()
    pool = [threading.Thread(target=client) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "sent": len(latencies),
        "failed": failures[0],
        "per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="deliveries per round")
    parser.add_argument("--seconds", type=float, default=30.0, help="time cap per round")
    parser.add_argument("--threads", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per app (alternating)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-webhooks-"))
    apps = {
        "bare": ("bench.webhooks:bare_app()", {}),
        "lead2loyalty": ("connector.web:create_app()", {}),
        "l2l fsync": ("connector.web:create_app()", {"L2L_WEBHOOK_FSYNC": "true"}),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in apps}
    for _ in range(args.rounds):
        for name, (app, extra) in apps.items():
            proc, url = _serve(app, work, **extra)
            try:
                # Warm-up, not timed: each gunicorn worker's first delivery imports the store
                # (pandas), so the timed part measures the sustained rate.
                _drive(url, _deliveries(40), args.threads, args.seconds)
                deliveries = _deliveries(args.count)  # fresh ids: every one is stored
                results[name].append(_drive(url, deliveries, args.threads, args.seconds))
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
    best = {name: max(rounds, key=lambda r: r["per_s"]) for name, rounds in results.items()}
    for name, r in best.items():
        print(
            f"{name:<13} {r['per_s']:8.1f} deliveries/s  p50 {r['p50_ms']:6.1f} ms  "
            f"p99 {r['p99_ms']:6.1f} ms  ({int(r['sent'])} sent, {int(r['failed'])} failed)"
        )
    for name in ("lead2loyalty", "l2l fsync"):
        ratio = best[name]["per_s"] / best["bare"]["per_s"]
        print(f"throughput ratio {name} / bare: {ratio:.2f} (target >= 0.50)")
    import sqlite3

    stored = sqlite3.connect(work / "l2l.sqlite").execute("SELECT COUNT(*) FROM deliveries")
    print(f"deliveries committed: {stored.fetchone()[0]}")


if __name__ == "__main__":
    main()

"""Probe: the hostile tester's round of issue 18, repeated. Prints counts, not timings.

1. Bad inputs: settings (environment and ``.env``), command-line numbers, YAML numbers and
   ``import`` lines past their bounds, each run through the real CLI in this process
   (click's runner); a traceback is any exception that is not click's own clean exit.
2. Fuzzed bodies: ``--fuzz`` requests to the real app under gunicorn (2 workers), signed and
   unsigned, on every intake path: random bytes, random JSON, nesting far past the bound,
   numbers past 64 bits, NaN; every 5xx is counted.
3. Replays: ``--orders`` signed Shopify orders and WooCommerce orders, each resent under fresh
   event / delivery ids; deliveries stored beyond one per body are duplicates stored. Plus
   Shopify deliveries dated 2099 and without ``X-Shopify-Triggered-At``: accepted ones counted.

    .venv/bin/python bench/hostile.py --fuzz 2000 --orders 50

Measured 2026-12-07 with those arguments, against main before issue 18's intake work (the 8
``web --port`` cases left out there: main execs gunicorn with any port) and after it:

=====================================  =================  ==================
count                                  before             after
=====================================  =================  ==================
bad inputs tried / tracebacks          98 / 6             106 / 0
fuzzed requests / 5xx                  2,000 / 103        2,000 / 0
bodies resent under fresh headers      200 stored again   0 stored again
misdated Shopify deliveries accepted   100 of 100         0 of 100
=====================================  =================  ==================
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
SHOPIFY_SECRET = "hostile_shopify_secret"
WOO_SECRET = "hostile_woo_secret"
WRITE_KEY = "hostile_write_key"
HUGE = ["9223372036854775808", "-9223372036854775809", "1" * 40, "nan", "inf", "1e400", "-1"]


def _sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _shopify(body: bytes, topic: str = "orders/create", **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": _sign(SHOPIFY_SECRET, body),
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "hostile.myshopify.com",
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
        **extra,
    }


def _woo(body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Signature": _sign(WOO_SECRET, body),
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Source": "https://hostile.example.org/",
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
    }


def _order(n: int) -> dict[str, Any]:
    return {
        "id": 10_000 + n,
        "name": f"#{n}",
        "email": f"buyer{n}@example.org",
        "created_at": "2026-11-20T14:15:01Z",
        "updated_at": "2026-11-20T14:15:01Z",
        "total_price": "12.50",
        "currency": "USD",
    }


def _woo_order(n: int) -> dict[str, Any]:
    return {
        "id": 20_000 + n,
        "number": str(n),
        "status": "processing",
        "currency": "USD",
        "date_created_gmt": "2026-11-21T09:02:03",
        "total": "8.00",
        "billing": {"email": f"woo{n}@example.org"},
    }


# ---------------------------------------------------------------------- 1. bad inputs
def bad_inputs(work: Path) -> tuple[int, int, list[str]]:
    """(tried, tracebacks, the first few traceback lines)."""
    from connector.cli import main

    runner = CliRunner()
    cases: list[tuple[list[str], dict[str, str], Callable[[], None] | None]] = []
    numeric = [
        "QUOTA_SHARE", "PULL_LOOKBACK_SECONDS", "PULL_LAG_SECONDS", "PULL_BULK_THRESHOLD",
        "MAX_RETRIES", "RETRY_BASE_SECONDS", "SYNC_INTERVAL_MINUTES", "WEBHOOK_MAX_BYTES",
        "WEBHOOK_MAX_AGE_SECONDS", "REALTIME_INTERVAL_SECONDS", "RECONCILE_INTERVAL_HOURS",
    ]  # fmt: skip
    for name in numeric:
        for value in HUGE:
            cases.append((["config"], {f"L2L_{name}": value}, None))
    for value in [*HUGE, "99999999999999999999999999"]:
        cases.append(
            (["loyalty", "adjust", "a@example.org", "--points", value, "--reason", "x"], {}, None)
        )
        cases.append((["runs", "--limit", value], {}, None))
        cases.append((["web", "--port", value], {}, None))
    env_file = work / ".env"

    def bad_env() -> None:
        env_file.write_bytes(b"L2L_DATABASE=caf\xe9.sqlite\n")

    cases.append((["config"], {}, bad_env))
    models = work / "models"
    for value in (".inf", ".nan", "1" * 30):

        def bad_yaml(value: str = value) -> None:
            env_file.unlink(missing_ok=True)
            models.mkdir(exist_ok=True)
            (models / "predictions.yaml").write_text(f"churn_days: {value}\n", encoding="utf-8")

        cases.append((["validate", "--offline"], {"L2L_MODELS_DIR": str(models)}, bad_yaml))
    lines = work / "events.jsonl"

    def bad_lines() -> None:
        env_file.unlink(missing_ok=True)
        lines.write_bytes(
            b"[" * 100_000 + b"\n" + b'{"n": 1e400}\n' + b'{"n": NaN}\n' + b"\xff\xfe\n"
            + b'{"n": 18446744073709551616}\n'
        )  # fmt: skip

    cases.append((["import", str(lines)], {"L2L_DATABASE": str(work / "import.sqlite")}, bad_lines))
    tracebacks: list[str] = []
    here = Path.cwd()
    os.chdir(work)
    try:
        for args, env, prepare in cases:
            if prepare:
                prepare()
            result = runner.invoke(main, args, env=env)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                tracebacks.append(f"{' '.join(args)} {env}: {result.exception!r}"[:200])
    finally:
        os.chdir(here)
    return len(cases), len(tracebacks), tracebacks[:5]


# ---------------------------------------------------------------------- 2. the server
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(work: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The real app under gunicorn, ready (polled with a generous deadline)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("L2L_")}
    env.update(
        PYTHONPATH=str(REPO),
        L2L_DATABASE=str(work / "l2l.sqlite"),
        L2L_SHOPIFY_WEBHOOK_SECRETS=SHOPIFY_SECRET,
        L2L_WOOCOMMERCE_WEBHOOK_SECRETS=WOO_SECRET,
        L2L_EVENTS_WRITE_KEYS=WRITE_KEY,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "connector.web:create_app()"],
        cwd=work, env=env, stdout=subprocess.DEVNULL,
        stderr=(work / "gunicorn.log").open("ab"), start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(url + "/healthz", timeout=10)
            return proc, url
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("gunicorn did not answer within 120 s")


def fuzz(http: requests.Session, url: str, count: int, rng: random.Random) -> tuple[int, int]:
    """(requests sent, 5xx answers)."""
    paths = ["/webhooks/shopify", "/webhooks/woocommerce", "/webhooks/bigcommerce", "/v1/batch"]

    def body() -> bytes:
        kind = rng.randrange(6)
        if kind == 0:
            return rng.randbytes(rng.randrange(0, 300))
        if kind == 1:
            depth = rng.choice([65, 500, 5_000, 50_000])
            return b'{"id": 1, "x": ' + b"[" * depth + b"]" * depth + b"}"
        if kind == 2:
            number = rng.choice(["1e400", "NaN", "-Infinity", "18446744073709551616", "1" * 400])
            return f'{{"id": {number}, "total_price": {number}, "batch": [{number}]}}'.encode()
        if kind == 3:
            return json.dumps({**_order(rng.randrange(10**6)), "total_price": rng.choice(
                ["1e400", "nan", "-1e20", "", None, [], {}, "12.5"])}).encode()  # fmt: skip
        if kind == 4:
            return json.dumps({"batch": [{"type": "track", "event": "x", "messageId": "m",
                "userId": "u", "timestamp": "2026-01-01T00:00:00Z",
                "properties": {"n": rng.choice([2**70, -(2**70), 1.5])}}]}).replace(
                "1180591620717411303424", "1" * 30).encode()  # fmt: skip
        return json.dumps(_order(rng.randrange(10**6))).encode()

    errors = 0
    for _ in range(count):
        path = rng.choice(paths)
        data = body()
        headers = {"Content-Type": "application/json"}
        if rng.random() < 0.7:
            headers = (
                _shopify(data) if path.endswith("shopify")
                else _woo(data) if path.endswith("woocommerce")
                else headers
            )  # fmt: skip
        response = http.post(
            url + path, data=data, headers=headers, timeout=120,
            auth=(WRITE_KEY, "") if path.startswith("/v1") else None,
        )  # fmt: skip
        errors += response.status_code >= 500
    return count, errors


def replays(http: requests.Session, url: str, orders: int, resends: int) -> dict[str, int]:
    """Orders sent once, then resent under fresh headers; and misdated Shopify deliveries."""
    sent = 0
    for n in range(orders):
        for path, body, headers in (
            ("/webhooks/shopify", json.dumps(_order(n)).encode(), _shopify),
            ("/webhooks/woocommerce", json.dumps(_woo_order(n)).encode(), _woo),
        ):
            for _ in range(1 + resends):
                http.post(
                    url + path, data=body, headers=headers(body), timeout=120
                ).raise_for_status()
                sent += 1
    misdated = 0
    for n in range(orders):
        body = json.dumps(_order(10**5 + n)).encode()
        future = _shopify(body, **{"X-Shopify-Triggered-At": "2099-01-01T00:00:00Z"})
        missing = _shopify(body)
        del missing["X-Shopify-Triggered-At"]
        for headers in (future, missing):
            misdated += http.post(url + "/webhooks/shopify", data=body, headers=headers,
                                  timeout=120).status_code < 300  # fmt: skip
    return {"sent": sent, "bodies": 2 * orders, "misdated_sent": 2 * orders,
            "misdated_accepted": misdated}  # fmt: skip


def main() -> None:
    """Run the probe and print its counts as one JSON object (and a summary)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=2000, help="fuzzed requests")
    parser.add_argument("--orders", type=int, default=50, help="orders per platform to replay")
    parser.add_argument("--resends", type=int, default=2, help="resends of each order")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="l2l-hostile-") as tmp:
        work = Path(tmp)
        tried, tracebacks, examples = bad_inputs(work)
        proc, url = serve(work)
        http = requests.Session()
        http.trust_env = False
        try:
            sent, errors = fuzz(http, url, args.fuzz, random.Random(args.seed))
            before = _stored(work)
            replay = replays(http, url, args.orders, args.resends)
            stored = _stored(work) - before
        finally:
            http.close()
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=60)
    out = {
        "bad_inputs": {"tried": tried, "tracebacks": tracebacks, "examples": examples},
        "fuzz": {"requests": sent, "5xx": errors},
        "replays": {
            **replay,
            "stored": stored,
            "duplicates_stored": stored - replay["bodies"] - replay["misdated_accepted"],
        },
    }
    print(json.dumps(out, indent=2))


def _stored(work: Path) -> int:
    conn = sqlite3.connect(work / "l2l.sqlite")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])
    finally:
        conn.close()


if __name__ == "__main__":
    main()

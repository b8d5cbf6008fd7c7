"""Helpers for the webhook tests: signed requests per platform, a gunicorn server, fixtures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from tests.backends import database_env

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "webhooks"

SHOPIFY_SECRETS = ("shpss_old_rotated_secret", "shpss_current_secret_123")
WOO_SECRET = "woo_secret_abc_987"
BC_TOKEN = "bc-token-5f2e91"
WRITE_KEY = "wk_live_test_4411"
MAX_BYTES = 64_000
SHOP = "trail-goods.myshopify.com"


def fixture(name: str) -> dict[str, Any]:
    """A fixture delivery body as a dictionary."""
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return loaded


def encode(payload: Any) -> bytes:
    """A JSON body as platforms send it."""
    return json.dumps(payload).encode("utf-8")


def sign(secret: str, body: bytes) -> str:
    """Base64 HMAC-SHA256, computed independently of the code under test."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(
    body: bytes,
    topic: str,
    *,
    secret: str = SHOPIFY_SECRETS[1],
    event_id: str | None = None,
    triggered_at: str | None = None,
) -> dict[str, str]:
    """Headers of a Shopify delivery, as its delivery-structure page lists them."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": sign(secret, body),
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": triggered_at or datetime.now(UTC).isoformat(),
    }


def woo_headers(
    body: bytes,
    topic: str,
    *,
    delivery_id: str = "36e520eb",
    source: str = "https://tea.example.org/",
    secret: str = WOO_SECRET,
) -> dict[str, str]:
    """Headers of a WooCommerce delivery."""
    resource, event = topic.split(".")
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Signature": sign(secret, body),
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-ID": "3",
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }


def bc_headers(token: str = BC_TOKEN) -> dict[str, str]:
    """Headers of a BigCommerce delivery with the configured custom header."""
    return {"Content-Type": "application/json", "X-L2L-Webhook-Token": token}


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(database: Path | str, **extra: str) -> dict[str, str]:
    """The environment of a test server: its database (a SQLite path or a PostgreSQL URL), the
    secrets above, small body limit."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("L2L_") and "PROXY" not in k.upper() and k != "DATABASE_URL"
    }
    env.update(
        {
            "PYTHONPATH": str(REPO),
            **database_env(database),
            "L2L_SHOPIFY_WEBHOOK_SECRETS": ",".join(SHOPIFY_SECRETS),
            "L2L_WOOCOMMERCE_WEBHOOK_SECRETS": WOO_SECRET,
            "L2L_BIGCOMMERCE_WEBHOOK_TOKEN": BC_TOKEN,
            "L2L_EVENTS_WRITE_KEYS": f"another_key_1,{WRITE_KEY}",
            "L2L_WEBHOOK_MAX_BYTES": str(MAX_BYTES),
            **extra,
        }
    )
    return env


@dataclass
class Server:
    """A running gunicorn serving the app."""

    url: str
    proc: subprocess.Popen[str]
    database: Path
    http: requests.Session
    stderr: str = ""  # what the server wrote on stderr, once it has stopped

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> requests.Response:
        """POST raw bytes."""
        return self.http.post(self.url + path, data=body, headers=headers, timeout=60)


@contextmanager
def gunicorn(
    database: Path | str,
    cwd: Path,
    *,
    workers: int = 2,
    app: str = "connector.web:create_app()",
    ready_within: float = 30.0,
    **env: str,
) -> Iterator[Server]:
    """Serve ``app`` under gunicorn on loopback until the block ends (SIGTERM, then wait);
    after it, the server's ``stderr`` holds what it wrote there."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            app,
        ],
        cwd=cwd,
        env=server_env(database, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    http = requests.Session()
    http.trust_env = False
    url = f"http://127.0.0.1:{port}"
    server = Server(url, proc, database, http)
    try:
        wait_until_serving(http, url, proc, ready_within)
        yield server
    finally:
        http.close()
        server.stderr = stop(proc)


def wait_until_serving(
    http: requests.Session, url: str, proc: subprocess.Popen[str], within: float = 30.0
) -> None:
    """Poll /healthz until it answers (``within`` seconds at most: the machine may be busy)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            http.get(url + "/healthz", timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.05)
    raise AssertionError(f"server did not answer within {within:.0f} s")


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM a process group and wait for it; returns what it wrote on stderr."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    err = ""
    if proc.stderr is not None:
        err = proc.stderr.read()
        proc.stderr.close()
    return err

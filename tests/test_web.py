"""The web process: the app factory's health probe, in a test client and under real gunicorn."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from connector.config import load_settings
from connector.web import create_app
from tests.backends import database_env, database_settings, store_location

REPO = Path(__file__).resolve().parent.parent


def test_healthz_answers_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    app = create_app(load_settings(**database_settings(tmp_path)))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "ok"}


def test_unknown_path_is_404(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app(load_settings(**database_settings(tmp_path)))
    assert app.test_client().get("/nope").status_code == 404


def test_create_app_without_settings_reads_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("L2L_DATABASE", str(tmp_path / "from-env.sqlite"))
    app = create_app()
    assert app.config["L2L_SETTINGS"].database == tmp_path / "from-env.sqlite"
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_gunicorn_serves_healthz_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        **database_env(store_location(tmp_path)),
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "connector.web:create_app()",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    http = requests.Session()
    http.trust_env = False
    try:
        response = None
        # A generous deadline: on a loaded machine booting two workers takes many seconds.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = http.get(f"http://127.0.0.1:{port}/healthz", timeout=30)
                break
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.1)
        assert proc.poll() is None, "gunicorn exited before serving"
        assert response is not None, "gunicorn did not answer within 120 s"
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert "gunicorn" in response.headers.get("Server", "")
    finally:
        http.close()
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0, err
    assert "Shutting down" in err
    assert "Traceback" not in err


# A web worker only acknowledges: it must not pay for (or expose) the Salesforce client.
_WORKER = """
import base64, json, logging, sys
from connector.web import create_app
app = create_app()
web = app.test_client()
key = base64.b64encode(b"write-key-1:").decode()
message = {"type": "track", "event": "Page Viewed", "userId": "u1", "messageId": "m1",
           "timestamp": "2026-03-01T12:00:00Z", "context": {"traits": {"email": "a@example.com"}}}
stored = web.post("/v1/track", json=message, headers={"Authorization": "Basic " + key})
refused = web.post("/webhooks/shopify", data=b"{}", headers={"X-Shopify-Topic": "orders/create"})
handlers = logging.getLogger("connector").handlers
print(json.dumps({
    "stored": [stored.status_code, stored.get_json()["status"]],
    "refused": refused.status_code,
    "redacting": [type(f).__name__ for h in handlers for f in h.filters],
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("simple_salesforce",
        "requests") or m.startswith("connector.salesforce")),
}))
"""


def test_a_web_worker_never_loads_the_salesforce_client(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        **database_env(store_location(tmp_path)),
        "L2L_EVENTS_WRITE_KEYS": "write-key-1",
        "L2L_SHOPIFY_WEBHOOK_SECRETS": "shopify-secret-1",
    }
    done = subprocess.run(
        [sys.executable, "-c", _WORKER],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # The worker opened its store, stored a delivery, refused an unsigned one, and installed
    # the log filter that masks secrets: the whole request path ran.
    assert seen["stored"] == [200, "stored"]
    assert seen["refused"] == 401
    assert "RedactSecrets" in seen["redacting"]
    assert [m for m in seen["modules"] if m.split(".")[0] == "simple_salesforce"] == []
    assert [m for m in seen["modules"] if m.startswith("connector.salesforce")] == []
    assert [m for m in seen["modules"] if m.split(".")[0] == "requests"] == []


def test_a_web_process_collects_cycles_less_often(tmp_path: Path) -> None:
    # connector/web/__init__.py, collect_less: measured on the admin page's p95 (bench/admin.py)
    import gc

    from connector.web import GC_THRESHOLD, collect_less

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        create_app(load_settings(database=tmp_path / "l2l.sqlite"))
        assert gc.get_threshold() == GC_THRESHOLD
        gc.set_threshold(50_000, 5, 500)  # never more often than it already was
        collect_less()
        assert gc.get_threshold() == (50_000, 50, 500)
    finally:
        gc.set_threshold(*before)

"""The web process: the app factory's health probe, in a test client and under real gunicorn."""

from __future__ import annotations

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

REPO = Path(__file__).resolve().parent.parent


def test_healthz_answers_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    app = create_app(load_settings(database=tmp_path / "l2l.sqlite"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"status": "ok"}


def test_unknown_path_is_404(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app(load_settings(database=tmp_path / "l2l.sqlite"))
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
        "L2L_DATABASE": str(tmp_path / "l2l.sqlite"),
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
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                response = http.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert proc.poll() is None, "gunicorn exited before serving"
        assert response is not None, "gunicorn did not answer within 15 s"
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert "gunicorn" in response.headers.get("Server", "")
    finally:
        http.close()
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0, err
    assert "Shutting down" in err
    assert "Traceback" not in err

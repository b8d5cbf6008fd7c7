"""``/readyz`` for uptime monitors, ``/healthz`` for liveness: runs recorded through the store as
the engine records them, the backlog through the store's delivery path; only time is moved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from connector.config import Settings, load_settings
from connector.doctor import DoctorReport, _check_readiness
from connector.store import Store
from connector.web import create_app, intake
from connector.webhooks.base import Delivery
from tests.backends import database_settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)  # no stray .env
    return load_settings(**database_settings(tmp_path), sync_interval_minutes=15)


@pytest.fixture
def client(settings: Settings) -> FlaskClient:
    return create_app(settings).test_client()


def _run(settings: Settings, status: str, mode: str = "incremental") -> None:
    store = Store(settings.store_location)
    try:
        run_id = store.runs.start(mode)
        if status != "running":
            store.runs.finish(run_id, status, {"errors": ["x"] if status == "failed" else []})
    finally:
        store.close()


def _later(monkeypatch: pytest.MonkeyPatch, minutes: float) -> None:
    moved = datetime.now(UTC) + timedelta(minutes=minutes)
    monkeypatch.setattr(intake, "now", lambda: moved)


def _ready(client: FlaskClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/readyz")
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def test_readyz_is_503_when_last_run_failed(settings: Settings, client: FlaskClient) -> None:
    _run(settings, "succeeded")
    _run(settings, "failed")
    status, body = _ready(client)
    assert status == 503
    assert body["problems"] == ["last_run_failed"]
    assert body["last_run"]["status"] == "failed"
    assert client.get("/healthz").status_code == 200  # liveness: the process still serves


@pytest.mark.parametrize("status", ["succeeded", "partial", "quota_stopped"])
def test_readyz_is_200_after_a_run_that_did_not_fail(
    settings: Settings, client: FlaskClient, status: str
) -> None:
    _run(settings, "failed")
    _run(settings, status)
    code, body = _ready(client)
    assert code == 200, body
    assert body["status"] == "ready"
    assert body["database"] == "ok"
    assert body["last_run"]["status"] == status
    assert body["last_run"]["late_after_seconds"] == 30 * 60


def test_readyz_reports_the_backlog(settings: Settings, client: FlaskClient) -> None:
    _run(settings, "succeeded")
    store = Store(settings.store_location)
    try:
        for n in range(3):
            body = f'{{"id": {n}}}'.encode()  # three bodies: the same one thrice is one
            store.events.store_delivery(
                Delivery("shopify", f"k{n}", "orders/create", "s", {}, body)
            )
    finally:
        store.close()
    _, body = _ready(client)
    assert body["backlog"] == {"deliveries_pending": 3, "dirty_people": 0}


def test_readyz_is_503_when_the_schedule_is_late(
    settings: Settings, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(settings, "succeeded")
    _later(monkeypatch, 29)
    assert _ready(client)[0] == 200  # one missed period is allowed
    _later(monkeypatch, 31)
    status, body = _ready(client)
    assert status == 503
    assert body["problems"] == ["schedule_late"]
    assert body["last_run"]["started_seconds_ago"] >= 31 * 60


def test_a_hung_run_makes_the_schedule_late(
    settings: Settings, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(settings, "succeeded")
    _run(settings, "running")
    assert _ready(client)[0] == 200
    _later(monkeypatch, 45)
    assert _ready(client)[1]["problems"] == ["schedule_late"]


def test_realtime_passes_and_dry_runs_are_not_the_schedule(
    settings: Settings, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(settings, "succeeded")
    _later(monkeypatch, 60)
    _run(settings, "succeeded", mode="realtime")
    _run(settings, "succeeded", mode="dry-run")
    assert _ready(client)[1]["problems"] == ["schedule_late"]
    _run(settings, "failed", mode="realtime")
    assert "last_run_failed" not in _ready(client)[1]["problems"]


def test_readyz_is_503_before_any_sync(client: FlaskClient) -> None:
    status, body = _ready(client)
    assert status == 503
    assert body["problems"] == ["no_sync_yet"]
    assert body["last_run"]["status"] is None


def test_readyz_is_503_when_the_database_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "not-a-file.sqlite"
    folder.mkdir()
    app = create_app(load_settings(database=folder))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["problems"] == ["database"]
    assert str(tmp_path) not in response.get_data(as_text=True)
    assert app.test_client().get("/healthz").status_code == 200


def test_healthz_stays_ok_while_every_run_fails(settings: Settings, client: FlaskClient) -> None:
    for _ in range(3):
        _run(settings, "failed")
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 503


def test_doctor_says_how_to_wire_readyz_and_warns_when_not_ready(settings: Settings) -> None:
    report = DoctorReport()
    _check_readiness(settings, report)
    [first] = report.checks
    assert (first.name, first.status) == ("readiness", "ok")  # before the first sync
    assert "/readyz" in first.detail
    _run(settings, "failed")
    report = DoctorReport()
    _check_readiness(settings, report)
    [check] = report.checks
    assert check.status == "warn"
    assert "last_run_failed" in check.detail
    assert "uptime monitor" in check.fix
    assert "GET https://<web host>/readyz" in check.fix

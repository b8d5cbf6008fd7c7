"""The clock's syncs as queue jobs on PostgreSQL (issue 20 point 2): the clock defers a ``sync``
job instead of running it in its own process; a worker runs it; missed ticks collapse into the
one waiting; a tick while another sync runs is skipped, as on SQLite; a worker killed mid-sync
leaves the job to another, which finishes it with nothing written twice. Real workers, real
localorg; PostgreSQL only (skipped with the reason without a server). The SQLite default keeps
the single-host path (tests/test_clock.py)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from connector.config import Settings
from connector.scheduler import sync_job
from connector.store import queue
from connector.sync import SyncEngine
from localorg.org import LocalOrg
from tests.support import field_values, seed
from tests.webhooks.test_queue import _start, _stop, queued
from tests.webhooks.test_realtime import COUNT, REVENUE

__all__ = ["queued"]  # the fixture, imported for its name


@pytest.fixture(autouse=True)
def _close_queue_apps() -> Iterator[None]:
    """The defers in this process open a procrastinate app: closed before the schema goes."""
    yield
    queue.close_shared()


def _sync_jobs(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT id, status FROM procrastinate_jobs WHERE task_name = 'l2l.sync' ORDER BY id"
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def _runs(url: str) -> list[tuple[int, str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, mode, status FROM runs ORDER BY id").fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _writing(url: str, after: int) -> bool:
    """A run after ``after`` is running and has values in the value log."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT COUNT(*) FROM value_log v JOIN runs r ON r.id = v.run_id "
            "WHERE r.id > %s AND r.status = 'running'",
            [after],
        ).fetchone()
    return bool(row and row[0])


def _wait(check: Any, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    return check()


def _clock_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in [n for n in os.environ if n.startswith("L2L_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_the_clock_defers_its_sync_and_a_worker_runs_it(
    org: LocalOrg,
    queued: tuple[Settings, SyncEngine, list[str], dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, _, _, env = queued
    url = settings.store_location
    assert isinstance(url, str)
    fresh = seed(org, 3, [("2026-11-02", 40.0)])
    _clock_env(monkeypatch, env)
    before = _runs(url)
    assert sync_job() == "deferred"  # the clock runs nothing itself
    assert sync_job() == "waiting"  # a missed tick collapses into the job waiting
    assert [s for _, s in _sync_jobs(url)] == ["todo"]
    assert _runs(url) == before
    log = tmp_path / "worker.log"
    worker = _start(["worker"], env, tmp_path, log)
    try:
        done = _wait(lambda: [s for _, s in _sync_jobs(url)] == ["succeeded"])
    finally:
        err = _stop(worker, log)
    assert done, err
    assert "Traceback" not in err, err
    new = [r for r in _runs(url) if r not in before]
    assert [(mode, status) for _, mode, status in new] == [("incremental", "succeeded")]
    assert field_values(org, fresh, [COUNT, REVENUE]) == {c: (1, 40.0) for c in fresh}


def test_a_tick_during_a_sync_is_skipped_but_not_during_a_real_time_pass(
    queued: tuple[Settings, SyncEngine, list[str], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, engine, contacts, env = queued
    url = settings.store_location
    assert isinstance(url, str)
    _clock_env(monkeypatch, env)
    queue.ensure_schema(url)  # the queue's tables, as the first worker or web process makes
    with engine.store.runs.lock():  # a manual `lead2loyalty sync` (or a worker's) running
        assert sync_job() == "skipped"  # as on SQLite: that sync does what this tick would
    assert _sync_jobs(url) == []
    with engine.store.runs.people_lock([f"Contact:{contacts[0]}"]):  # a worker's pass
        assert sync_job() == "deferred"  # the worker's sync waits such a pass out
    assert [s for _, s in _sync_jobs(url)] == ["todo"]


def test_a_worker_killed_mid_sync_leaves_the_job_to_another_and_writes_nothing_twice(
    org: LocalOrg,
    queued: tuple[Settings, SyncEngine, list[str], dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, engine, _, env = queued
    url = settings.store_location
    assert isinstance(url, str)
    fresh = seed(org, 400, [("2026-11-02", 40.0), ("2026-11-09", 12.5)])
    _clock_env(monkeypatch, env)
    before = _runs(url)
    assert sync_job() == "deferred"
    a_log, b_log = tmp_path / "a.log", tmp_path / "b.log"
    worker_a = _start(["worker"], env, tmp_path, a_log)
    worker_b = None
    try:
        # kill A once its sync is writing (values of its run in the value log, the run still
        # running): some values sent, the rest not
        writing = _wait(lambda: _writing(url, before[-1][0]), 180)
        os.killpg(worker_a.pid, signal.SIGKILL)
        assert writing, _stop(worker_a, a_log)
        worker_a.wait(timeout=10)
        assert [s for _, s in _sync_jobs(url)] == ["doing"]  # A died with it: stalled
        worker_b = _start(["worker"], env, tmp_path, b_log)
        done = _wait(lambda: [s for _, s in _sync_jobs(url)] == ["succeeded"], 240)
    finally:
        err = _stop(worker_b, b_log) if worker_b is not None else ""
    assert done, err
    assert "Traceback" not in err, err
    assert "was left by a stopped worker: retried" in err
    new = {run_id: (mode, status) for run_id, mode, status in _runs(url) if run_id > before[-1][0]}
    # A's run is found dead by B's, which settles what A had in flight and does the rest
    assert sorted(new.values()) == [("incremental", "crashed"), ("incremental", "succeeded")]
    assert field_values(org, fresh, [COUNT, REVENUE]) == {c: (2, 52.5) for c in fresh}
    written: dict[tuple[str, str], int] = {}
    for row in engine.store.outbox.value_log():
        if row["record_id"] in set(fresh) and row["status"] == "written":
            key = (row["record_id"], row["field"])
            written[key] = written.get(key, 0) + 1
    assert written, "nothing was written"
    assert max(written.values()) == 1  # each value sent once: A's or B's, never both

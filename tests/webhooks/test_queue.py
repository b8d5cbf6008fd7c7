"""The job queue on PostgreSQL (``connector.store.queue``, ``connector.sync.jobs``): several web
and worker processes at once, real gunicorn, real workers, the real localorg.

- compose.yaml validates against the Compose Specification's schema, and its processes (2 web,
  2 workers, the clock) started by hand: N deliveries (each sent twice, to both web processes) land
  exactly once on the fields, each delivery normalised by exactly one job;
- a worker killed with SIGKILL while a job is ``doing`` leaves that job to another worker, and
  nothing is lost or counted twice.

PostgreSQL only (the queue lives there): skipped with the reason without a server.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import jsonschema
import psycopg
import pytest
import requests
import yaml
from procrastinate import App
from procrastinate.jobs import Status

from connector.config import Settings
from connector.store import Store, queue
from connector.sync import SyncEngine
from connector.webhooks import shopify
from localorg.org import LocalOrg
from localorg.server import Running
from tests.backends import postgres_schema
from tests.support import REPO, deployed_engine, field_values, salesforce_env, seed, sync_env
from tests.webhooks.helpers import (
    SHOPIFY_SECRETS,
    encode,
    free_port,
    server_env,
    shopify_headers,
    stop,
    wait_until_serving,
)
from tests.webhooks.test_realtime import COUNT, REVENUE, _order_for, _settings

CONTACTS = 4
COMPOSE = REPO / "compose.yaml"
FIXTURES = REPO / "tests" / "fixtures"
CLI = [sys.executable, "-m", "connector.cli"]


@pytest.fixture
def queued(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> Iterator[tuple[Settings, SyncEngine, list[str], dict[str, str]]]:
    """A PostgreSQL store synced with ``CONTACTS`` Contacts (one order of 100.00 each), and the
    environment of its processes."""
    with ExitStack() as stack:
        url = stack.enter_context(postgres_schema())
        settings = _settings(org, localorg_server, tmp_path, url)
        engine = deployed_engine(settings)
        contacts = seed(org, CONTACTS, [("2026-10-01", 100.0)])
        assert engine.run().status == "succeeded"
        env = server_env(
            url,
            **salesforce_env(org, localorg_server),
            **sync_env(url, settings.mappings_dir),
            L2L_QUEUE_STALLED_SECONDS="2",
        )
        yield settings, engine, contacts, env
        engine.store.close()


def _start(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[str]:
    return _start_argv([*CLI, *args], env, cwd, log)


def _start_argv(
    argv: list[str], env: dict[str, str], cwd: Path, log: Path
) -> subprocess.Popen[str]:
    # stderr to a file: a worker logs a line per job, and a full pipe would block it
    with log.open("w") as handle:  # the child keeps its own descriptor
        return subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=handle,
            text=True,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[str], log: Path) -> str:
    stop(proc)
    return log.read_text()


def _orders(contacts: list[str], per_contact: int) -> list[tuple[int, bytes]]:
    """(contact index, signed body) of ``per_contact`` orders for each contact."""
    out = []
    for n in range(per_contact):
        for i in range(len(contacts)):
            number = 90_000 + n * 100 + i
            total = f"{10 + n + i}.50"
            out.append((i, encode(_order_for(f"c{i}@example.com", number, f"#{number}", total))))
    return out


def _expected(orders: list[tuple[int, bytes]], contacts: list[str]) -> dict[str, tuple[Any, ...]]:
    want = {c: [1, 100.0] for c in contacts}
    for i, body in orders:
        want[contacts[i]][0] += 1
        want[contacts[i]][1] += float(json.loads(body)["total_price"])
    return {c: (count, round(revenue, 2)) for c, (count, revenue) in want.items()}


def _wait_for(org: LocalOrg, contacts: list[str], want: dict[str, tuple[Any, ...]]) -> dict:
    deadline = time.monotonic() + 90
    got: dict[str, tuple[Any, ...]] = {}
    while time.monotonic() < deadline:
        got = {
            c: (v[0], round(v[1], 2))
            for c, v in field_values(org, contacts, [COUNT, REVENUE]).items()
        }
        if got == want:
            break
        time.sleep(0.2)
    return got


def _post(http: requests.Session, url: str, body: bytes) -> int:
    response = http.post(
        url + "/webhooks/shopify",
        data=body,
        headers=shopify_headers(body, "orders/create"),
        timeout=60,
    )
    return response.status_code


def _jobs(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT task_name, status, COALESCE(args->>'key', '') FROM procrastinate_jobs"
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    doc = yaml.safe_load(COMPOSE.read_text())
    schema = json.loads((FIXTURES / "compose" / "compose-spec.json").read_text())
    # draft 7, as its $schema says (spelt without the "#" jsonschema looks the draft up by)
    jsonschema.Draft7Validator(schema).validate(doc)  # what `docker compose config` checks first
    services = doc["services"]
    assert {n: s.get("deploy", {}).get("replicas", 1) for n, s in services.items()} == {
        "postgres": 1,
        "web": 2,
        "worker": 2,
        "clock": 1,
    }
    for name in ("web", "worker", "clock"):
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgresql://")
        assert "postgres" in services[name]["depends_on"]


def _compose_processes(url: str, env: dict[str, str]) -> list[tuple[str, list[str], dict]]:
    """compose.yaml's processes as started by hand: each service's command, once per replica,
    with its environment; the database is the test's (the file's host is a container name),
    and each web replica gets a port of its own (the file maps them to 8000-8001)."""
    out = []
    for name, service in yaml.safe_load(COMPOSE.read_text())["services"].items():
        if "command" not in service:
            continue  # postgres: the machine's own server stands in for it
        for _ in range(service.get("deploy", {}).get("replicas", 1)):
            argv = list(service["command"])
            assert argv[0] == "lead2loyalty"
            if "--port" in argv:
                argv[argv.index("--port") + 1] = str(free_port())
            environment = {**env, **service.get("environment", {}), "DATABASE_URL": url}
            out.append((name, [*CLI, *argv[1:]], environment))
    return out


@pytest.mark.slow
def test_compose_processes_land_each_delivery_once(
    org: LocalOrg, queued: tuple[Settings, SyncEngine, list[str], dict[str, str]], tmp_path: Path
) -> None:
    """compose.yaml's web x2, worker x2 and clock, started by hand against the local
    PostgreSQL: each delivery (sent twice, once to each web process) lands once."""
    settings, engine, contacts, env = queued
    url = settings.store_location
    assert isinstance(url, str)
    procs: list[tuple[subprocess.Popen[str], Path]] = []
    ports: list[int] = []
    http = requests.Session()
    http.trust_env = False
    try:
        for n, (name, argv, environment) in enumerate(_compose_processes(url, env)):
            log = tmp_path / f"{name}{n}.log"
            proc = _start_argv(argv, environment, tmp_path, log)
            procs.append((proc, log))
            if name == "web":
                ports.append(int(argv[argv.index("--port") + 1]))
                wait_until_serving(http, f"http://127.0.0.1:{ports[-1]}", proc)
        assert len(ports) == 2
        orders = _orders(contacts, 3)
        for n, (_, body) in enumerate(orders):
            first, second = ports[n % 2], ports[(n + 1) % 2]
            assert _post(http, f"http://127.0.0.1:{first}", body) == 200
            # the platform's retry reaches the other web process: a duplicate, no second job
            assert _post(http, f"http://127.0.0.1:{second}", body) == 200
        want = _expected(orders, contacts)
        assert _wait_for(org, contacts, want) == want
    finally:
        http.close()
        errors = [_stop(proc, log) for proc, log in procs]
    for (proc, log), err in zip(procs, errors, strict=True):
        assert "Traceback" not in err, err
        # the clock (APScheduler's blocking scheduler) ends on SIGTERM's default action
        ok = (0, -signal.SIGTERM) if log.name.startswith("clock") else (0,)
        assert proc.returncode in ok, err
    jobs = [
        (status, key) for task, status, key in _jobs(url) if task.endswith("normalise_delivery")
    ]
    # Every delivery had a job and none failed. A second job for a delivery happens (the sweep
    # defers one the web's defer also reached while the first was `doing`); it finds the
    # delivery normalised and does nothing, which the fields above show: nothing counted twice.
    assert len({key for _, key in jobs}) == len(orders)
    assert {status for status, _ in jobs} == {"succeeded"}
    assert engine.store.events.pending_deliveries() == []
    written = [
        r
        for r in engine.store.outbox.value_log()
        if r["field"] == COUNT and r["status"] == "written"
    ]
    for contact in contacts:  # each value written once, rising: never a count twice
        values = [int(r["new"]) for r in written if r["record_id"] == contact]
        assert values == sorted(set(values)), values
        assert values[-1] == want[contact][0]
    # Runs never overlapped: recomputes one at a time (their job lock), whichever worker took
    # each, and a sync (the clock's tick) alone; each started after the one before it ended.
    runs = sorted((r["started_at"], r["finished_at"]) for r in engine.store.runs.latest(1000))
    for (_, before_end), (start, _) in pairwise(runs):
        assert before_end is not None
        assert start >= before_end, runs


@pytest.mark.slow
def test_a_worker_killed_mid_job_leaves_it_to_another(
    org: LocalOrg, queued: tuple[Settings, SyncEngine, list[str], dict[str, str]], tmp_path: Path
) -> None:
    settings, _, contacts, env = queued
    url = settings.store_location
    assert isinstance(url, str)
    port = free_port()
    http = requests.Session()
    http.trust_env = False
    web_log, a_log, b_log = (tmp_path / f"{n}.log" for n in ("web", "a", "b"))
    web = _start(
        ["web", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env,
        tmp_path,
        web_log,
    )
    worker_a = _start(["worker"], env, tmp_path, a_log)
    worker_b = None
    try:
        wait_until_serving(http, f"http://127.0.0.1:{port}", web)
        orders = _orders(contacts, 2)
        for _, body in orders:
            assert _post(http, f"http://127.0.0.1:{port}", body) == 200
        # Kill worker A the moment it holds a recompute job in `doing` (it calls Salesforce for
        # hundreds of milliseconds; a poll every few milliseconds catches one). Not any job: a
        # normalise job takes a few milliseconds and could end between the poll and the kill.
        deadline = time.monotonic() + 60
        held: list[int] = []
        with psycopg.connect(url, autocommit=True) as conn:
            while time.monotonic() < deadline and not held:
                if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() == (None,):
                    time.sleep(0.05)  # worker A has not made the queue's tables yet
                    continue
                doing = (
                    "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND task_name = %s"
                )
                held = [r[0] for r in conn.execute(doing, [queue.RECOMPUTE]).fetchall()]
                if held:
                    os.killpg(worker_a.pid, signal.SIGKILL)
                else:
                    time.sleep(0.002)
        worker_a.wait(timeout=10)
        assert held, "worker A never held a job"
        with psycopg.connect(url) as conn:
            left = conn.execute(
                "SELECT status FROM procrastinate_jobs WHERE id = ANY(%s)", [held]
            ).fetchall()
        assert {r[0] for r in left} == {"doing"}  # A died with them: stalled
        worker_b = _start(["worker"], env, tmp_path, b_log)
        want = _expected(orders, contacts)
        assert _wait_for(org, contacts, want) == want
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with psycopg.connect(url) as conn:
                ends = conn.execute(
                    "SELECT id, status FROM procrastinate_jobs WHERE id = ANY(%s)", [held]
                ).fetchall()
            if all(status != "doing" for _, status in ends):
                break
            time.sleep(0.2)
    finally:
        http.close()
        _stop(web, web_log)
        err = _stop(worker_b, b_log) if worker_b is not None else ""
    assert "Traceback" not in err, err
    # B took each of A's jobs over: retried and done, or (a recompute with a twin already
    # waiting under the same queueing lock) ended so that the twin does the work.
    for job_id, status in ends:
        assert status in ("succeeded", "failed"), (job_id, status)
        said = "retried" if status == "succeeded" else "its twin does it"
        assert f"job {job_id} (" in err, err
        assert said in err, err


def test_a_delivery_stored_without_its_job_is_swept_in(
    org: LocalOrg, queued: tuple[Settings, SyncEngine, list[str], dict[str, str]], tmp_path: Path
) -> None:
    """The web stored and acknowledged a delivery, then its defer failed (no job): a worker's
    sweep defers it, and it lands once."""
    _, engine, contacts, env = queued
    orders = _orders(contacts[:1], 1)
    [(_, body)] = orders
    delivery = shopify.receive(
        shopify_headers(body, "orders/create"), body, SHOPIFY_SECRETS, datetime.now(UTC), 3600
    )
    assert engine.store.events.store_delivery(delivery)  # stored, and no job deferred
    log = tmp_path / "worker.log"
    worker = _start(["worker"], env, tmp_path, log)
    try:
        want = _expected(orders, contacts[:1])
        assert _wait_for(org, contacts[:1], want) == want
    finally:
        err = _stop(worker, log)
    assert "Traceback" not in err, err
    assert engine.store.events.pending_deliveries() == []


def _as_worker(url: str, act: Callable[[App], Awaitable[Any]]) -> Any:
    """What ``act`` returns, run against a freshly opened app as a worker process would."""

    async def go() -> Any:
        app = queue.make_app(url)
        async with app.open_async():
            return await act(app)

    return asyncio.run(go())


def test_recomputes_run_one_at_a_time() -> None:
    """A recompute deferred while another is ``doing`` waits for it (their job lock), whichever
    worker asks: one pass takes every dirty person at once instead of several passes, each
    paying a pass's fixed cost, running side by side (bench/scale.py). Normalise jobs are not
    held up by it."""
    with postgres_schema() as url:
        queue.ensure_schema(url)
        one, two = (_as_worker(url, lambda a: a.job_manager.register_worker()) for _ in "12")

        def take(worker: int) -> Any:
            return _as_worker(url, lambda a: a.job_manager.fetch_job(None, worker))

        app = queue.make_app(url)
        store = Store(url)
        with app.open():
            assert not queue.recompute_waiting(store.db)
            assert queue.defer_recompute(app)
            assert queue.recompute_waiting(store.db)
            first = take(one)
            assert not queue.recompute_waiting(store.db)  # `doing` is no longer waiting
            assert queue.defer_recompute(app)  # the first is `doing`: this one may wait
            assert not queue.defer_recompute(app)  # one waiting covers every later mark
            assert queue.recompute_waiting(store.db)
            queue.defer_delivery(app, "shopify", "k1")
            passed = take(two)  # the normalise job, not the second recompute
            nothing = take(two)
            _as_worker(url, lambda a: a.job_manager.finish_job(first, Status.SUCCEEDED, False))
            second = take(two)
        store.close()
    assert first.task_name == queue.RECOMPUTE
    assert passed.task_name == queue.NORMALISE
    assert nothing is None
    assert second.task_name == queue.RECOMPUTE


def test_normalise_jobs_are_taken_before_a_waiting_recompute() -> None:
    """A recompute deferred before a burst of deliveries waits until every due delivery is
    normalised (their priority): one pass then covers the whole burst's marks."""
    with postgres_schema() as url:
        queue.ensure_schema(url)
        worker = _as_worker(url, lambda a: a.job_manager.register_worker())

        def take() -> Any:
            return _as_worker(url, lambda a: a.job_manager.fetch_job(None, worker))

        def done(job: Any) -> None:
            _as_worker(url, lambda a: a.job_manager.finish_job(job, Status.SUCCEEDED, False))

        app = queue.make_app(url)
        with app.open():
            assert queue.defer_recompute(app)  # deferred first
            for key in ("k1", "k2"):
                assert queue.defer_delivery(app, "shopify", key)
            order = []
            while (job := take()) is not None:
                order.append((job.task_name, job.task_kwargs.get("key")))
                done(job)
    assert order == [(queue.NORMALISE, "k1"), (queue.NORMALISE, "k2"), (queue.RECOMPUTE, None)]


def test_a_recompute_waiting_too_long_is_taken_next() -> None:
    """Under a stream that never lets the normalise jobs run out, a recompute due for
    RECOMPUTE_MAX_WAIT_SECONDS gets their priority and, being older, is taken before the
    deliveries queued after it; one due for less, or scheduled for later, keeps waiting."""
    with postgres_schema() as url:
        queue.ensure_schema(url)
        worker = _as_worker(url, lambda a: a.job_manager.register_worker())

        def take() -> Any:
            return _as_worker(url, lambda a: a.job_manager.fetch_job(None, worker))

        app = queue.make_app(url)
        store = Store(url)
        with app.open():
            assert queue.defer_recompute(app)
            assert queue.defer_delivery(app, "shopify", "k1")
            assert not queue.promote_overdue_recompute(store.db)  # due just now
            # the recompute was deferred 11 s ago (procrastinate's own record of it)
            store.db.conn.execute(
                "UPDATE procrastinate_events SET at = at - INTERVAL '11 seconds' "
                "WHERE type = 'deferred' AND job_id IN "
                "(SELECT id FROM procrastinate_jobs WHERE task_name = ?)",
                [queue.RECOMPUTE],
            )
            assert not queue.promote_overdue_recompute(store.db, waited=12.0)
            assert queue.promote_overdue_recompute(store.db)
            assert not queue.promote_overdue_recompute(store.db)  # once
            first = take()
            second = take()
        store.close()
    assert first.task_name == queue.RECOMPUTE
    assert second.task_name == queue.NORMALISE


def test_a_recompute_scheduled_for_later_is_not_promoted_early() -> None:
    """A recompute deferred again for later (people another run held) is due only then."""
    with postgres_schema() as url:
        queue.ensure_schema(url)
        app = queue.make_app(url)
        store = Store(url)
        with app.open():
            assert queue.defer_recompute(app, schedule_in=60)
            store.db.conn.execute(
                "UPDATE procrastinate_events SET at = at - INTERVAL '30 seconds' "
                "WHERE type = 'deferred'"
            )
            assert not queue.promote_overdue_recompute(store.db)
        store.close()

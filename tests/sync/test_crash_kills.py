"""20 syncs killed at random moments, then re-run: nothing stays running, nothing is saved twice.

Each round adds orders to a random fifth of the people (so every sync has changes to write),
starts the real CLI in a child process and sends it SIGKILL at a moment drawn from a seeded
random source. Start-up time depends on the machine's load, so the moment is measured from
events of the run itself: half the rounds kill at a random time after the run has opened its
record (pull, compute or push), half just after the org received the run's first write (between
sending a batch and recording its answer, the window the in-flight marks exist for). The org's
save log (localorg counts every save of every record) is the judge.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.store import Store
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import (
    RFM_PLAIN_FIELDS,
    deployed_engine,
    load_rows,
    localorg_settings,
    rfm_mappings,
    salesforce_env,
    seed,
    sync_env,
)

FIELDS = RFM_PLAIN_FIELDS
ROUNDS = 20
PEOPLE = 300  # two collection batches
RUN_KILL_WINDOW_S = 1.5  # after the run record appears
PUSH_KILL_WINDOW_S = 0.06  # after the org counted the run's first collection call


def _last_run(database: Path | str) -> int:
    if isinstance(database, str):  # PostgreSQL (L2L_TEST_BACKEND): the run's own store
        store = Store(database)
        try:
            return int(store.db.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0])
        finally:
            store.close()
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM runs").fetchone()[0])
    finally:
        conn.close()


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str]) -> bool:
    """Poll until ``condition`` or the process ends (or 60 s pass); True if it held."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.005)
    return False


def _sync(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "sync", "--json"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_twenty_syncs_killed_at_random_leave_honest_records_and_one_save_per_change(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    mappings = rfm_mappings(tmp_path / "mappings", FIELDS, objects=("Contact",))
    settings = localorg_settings(org, localorg_server, tmp_path, mappings_dir=mappings)
    deployed_engine(settings).store.close()
    ids = seed(org, PEOPLE, [("2026-01-10", 10.0)])
    account = org.store.execute('SELECT "Id" FROM "Account"')[0][0]
    env = {**salesforce_env(org, localorg_server), **sync_env(settings.store_location, mappings)}
    org.faults.configure("latency=15ms")  # a push of two batches takes a moment to kill in
    rng = random.Random(20261128)
    changed: Counter[str] = Counter()  # rounds that changed each person
    killed = 0
    for round_no in range(ROUNDS):
        chosen = rng.sample(ids, PEOPLE // 5)
        changed.update(chosen)
        day = f"2026-02-{1 + round_no:02d}"
        rows = [
            {
                "AccountId": account,
                "BillToContactId": cid,
                "Status": "Activated",
                "EffectiveDate": day,
                "TotalAmount": 5.0 + round_no,
            }
            for cid in chosen
        ]
        load_rows(org, "Order", rows)
        runs_before = _last_run(settings.store_location)
        writes_before = org.calls_by_kind.get("composite", 0)
        at_push = rng.random() < 0.5
        delay = rng.uniform(0, PUSH_KILL_WINDOW_S if at_push else RUN_KILL_WINDOW_S)
        proc = _sync(env)
        if at_push:
            started = _wait_for(
                lambda n=writes_before: org.calls_by_kind.get("composite", 0) > n, proc
            )
        else:
            started = _wait_for(lambda n=runs_before: _last_run(settings.store_location) > n, proc)
        if started:
            time.sleep(delay)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.communicate(timeout=60)
        # A server finishes a request whether or not its client is still there; the next run
        # starts once the org has applied what the killed one sent (as a real org would have).
        assert org.wait_idle(30)
    org.faults.configure("")
    final = _sync(env)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    report = json.loads(out)
    assert report["status"] == "succeeded"
    assert killed >= ROUNDS // 2, killed  # the window really lands inside runs

    store = Store(settings.store_location)
    runs = store.runs.latest(100)
    statuses = Counter(r["status"] for r in runs)
    assert "running" not in statuses
    assert set(statuses) <= {"crashed", "succeeded"}, statuses
    assert statuses["crashed"] >= killed // 2, statuses  # a kill before start_run leaves none
    assert all(r["pid"] and r["host"] for r in runs)

    # The org holds exactly what its orders say.
    orders = org.store.execute(
        'SELECT "BillToContactId", COUNT(*), SUM("TotalAmount") FROM "Order" '
        'WHERE "IsDeleted" = 0 GROUP BY 1'
    )
    truth = {cid: (n, round(total, 2)) for cid, n, total in orders}
    cols = ", ".join(f'"{f}"' for f in FIELDS[:2])
    held = {r[0]: (r[1], r[2]) for r in org.store.execute(f'SELECT "Id", {cols} FROM "Contact"')}
    assert held == truth

    # What the connector recorded as written is what the org holds, field by field.
    baseline = store.outbox.written_values()
    for cid in ids:
        assert json.loads(baseline[("Contact", cid, FIELDS[0])]) == truth[cid][0]
        assert json.loads(baseline[("Contact", cid, FIELDS[1])]) == truth[cid][1]
    assert store.outbox.counts() == {}

    # One save per change: each value version the connector settled, written by a run that
    # recorded the answer or found in the org after a kill ("verified", never sent again), is
    # one save in the org; no record was saved more often than it changed (its first value
    # plus one per round that touched it).
    versions = Counter(
        r[0]
        for r in store.db.execute(
            "SELECT DISTINCT record_id, new FROM value_log WHERE field = ? "
            "AND status IN ('written', 'verified')",
            [FIELDS[1]],
        ).fetchall()
    )
    saves = org.store.saves("Contact")
    assert saves == dict(versions)
    # The runs' own counts add up to the org's saves: records each run wrote and recorded,
    # plus records a later run found already saved by a killed one.
    recorded = sum(
        r["stats"].get("writes", {}).get("succeeded", 0)
        + r["stats"].get("writes", {}).get("verified", 0)
        for r in runs
    )
    assert recorded == sum(saves.values())
    over = {cid: n for cid, n in saves.items() if n > 1 + changed[cid]}
    assert over == {}
    # The kills did land between a batch's send and its recorded answer, and the records
    # Salesforce had already saved were found there instead of being sent again.
    verified = store.db.execute(
        "SELECT COUNT(DISTINCT record_id) FROM value_log WHERE status = 'verified'"
    ).fetchone()[0]
    print(f"killed {killed}, runs {dict(statuses)}, records verified after a kill {verified}")
    assert verified > 0

"""Moments' Flow calls a run could not make are jobs on the queue (PostgreSQL, issue 20 point
2): the Effects step defers the calls about a person whose request failed in passing, a worker
invokes them holding those people, each interview once, and a job for calls already
remembered calls nothing; a refused call or a missing Flow waits for the next run. Real
worker, real localorg; PostgreSQL only. On SQLite the next run tries them again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from connector.config import Settings
from connector.salesforce import SalesforceClient
from connector.store import queue
from connector.sync import SyncEngine
from connector.sync.effects import (
    Effects,
    MomentCall,
    apply,
    call_from_json,
    call_json,
    person_of,
    retry_on_queue,
)
from localorg.flows import FlowEngine
from localorg.org import LocalOrg
from tests.support import load_rows
from tests.webhooks.test_queue import _start, _stop, queued

__all__ = ["queued"]  # the fixture, imported for its name


@pytest.fixture(autouse=True)
def _close_queue_apps() -> Iterator[None]:
    """The defers in this process open a procrastinate app: closed before the schema goes."""
    yield
    queue.close_shared()


FLOW = "L2L_Tier_Changed"
FLOWS = {
    "autolaunched": [
        {
            "name": FLOW,
            "inputs": ["recordId", "tier"],
            "actions": [{"create_task": {"WhoId": "{recordId}"}}],
        }
    ]
}


def _calls(ids: list[str], tier: str) -> list[MomentCall]:
    return [
        MomentCall(
            moment="tier change (club)",
            flow=FLOW,
            inputs={"recordId": rid, "tier": tier},
            kind="tier",
            scope=("club", ""),
            key=f"Contact:{rid}",
            value=tier,
        )
        for rid in ids
    ]


def _fire_jobs(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() == (None,):
            return []  # nothing deferred yet: the queue's tables are made by the first defer
        rows = conn.execute(
            "SELECT status FROM procrastinate_jobs WHERE task_name = 'l2l.fire_flows' ORDER BY id"
        ).fetchall()
    return [r[0] for r in rows]


def _wait_for(url: str, want: list[str], seconds: float = 90) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and _fire_jobs(url) != want:
        time.sleep(0.1)
    return _fire_jobs(url)


def test_flow_calls_whose_request_failed_in_passing_are_retried_by_the_queue_once_each(
    org: LocalOrg,
    queued: tuple[Settings, SyncEngine, list[str], dict[str, str]],
    tmp_path: Path,
) -> None:
    settings, engine, _, env = queued
    url = settings.store_location
    assert isinstance(url, str)
    org.store.flows = FlowEngine({"autolaunched": []})  # the Flow is not deployed yet
    ids = load_rows(org, "Contact", [{"LastName": f"M{i}"} for i in range(3)])
    client = SalesforceClient.from_settings(settings)
    out = apply(Effects(calls=_calls(ids, "Silver")), client, engine.store, None)
    assert out.failed["tier change (club)"] == 3  # the run is partial and names it
    assert [c.key for c in out.unfired] == [f"Contact:{rid}" for rid in ids]
    # NOT_FOUND is no passing failure: no job would change it (the next run tries again)
    assert out.transient == []
    assert _fire_jobs(url) == []
    assert org.store.count("FlowInterview") == 0
    # A run whose Flow request failed in passing (no answer before sending, a lock) defers
    # its calls; the Flow can run by the time a worker takes the job.
    org.store.flows = FlowEngine(FLOWS)
    assert retry_on_queue(engine.store, _calls(ids, "Silver"))
    assert _fire_jobs(url) == ["todo"]
    log = tmp_path / "worker.log"
    worker = _start(["worker"], env, tmp_path, log)
    try:
        done = _wait_for(url, ["succeeded"])
        # a second job with the same calls (another run's) finds them remembered
        assert retry_on_queue(engine.store, _calls(ids, "Silver"))
        again = _wait_for(url, ["succeeded", "succeeded"])
    finally:
        err = _stop(worker, log)
    assert done == ["succeeded"], err
    assert again == ["succeeded", "succeeded"], err
    assert "Traceback" not in err, err
    assert org.store.count("FlowInterview") == 3  # each interview once
    assert engine.store.loyalty.notified_tiers("club") == {f"Contact:{r}": "Silver" for r in ids}


def test_only_calls_about_a_person_are_held_and_queued() -> None:
    [tier] = _calls(["003000000000001"], "Gold")
    assert person_of(tier) == "Contact:003000000000001"
    lead = MomentCall("m", "F", {}, "intent", ("m", "Lead"), "00Q000000000001", 0.9)
    assert person_of(lead) == "Lead:00Q000000000001"
    order = MomentCall("risk", "F", {}, "intent", ("risk", "Order"), "801000000000001", 99)
    assert person_of(order) is None  # a run holds the Order's person, not the Order


def test_calls_are_kept_as_json_for_the_queue() -> None:
    import numpy as np

    call = MomentCall(
        moment="m", flow="F", inputs={"score": np.int64(7)}, kind="intent",
        scope=("m", "Lead"), key="00Q1", value=np.float64(0.8),
    )  # fmt: skip
    data = call_json(call)
    assert data == {
        "moment": "m",
        "flow": "F",
        "inputs": {"score": 7},
        "kind": "intent",
        "scope": ["m", "Lead"],
        "key": "00Q1",
        "value": 0.8,
    }
    assert call_from_json(data) == MomentCall(
        moment="m", flow="F", inputs={"score": 7}, kind="intent", scope=("m", "Lead"),
        key="00Q1", value=0.8,
    )  # fmt: skip

"""Retries pooled into full calls: the planner alone, then a write-back under faults."""

from __future__ import annotations

import math
from pathlib import Path

from connector.sync.retry_pool import BatchPlanner, Item
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import (
    RFM_PLAIN_FIELDS,
    deployed_engine,
    field_values,
    localorg_settings,
    rfm_mappings,
    seed,
)


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _drain(planner: BatchPlanner[int], clock: Clock, refuse: set[str]) -> list[list[str]]:
    """Send every call the planner plans; records in ``refuse`` are refused once each."""
    calls: list[list[str]] = []
    while planner:
        wait, batch = planner.next_batch()
        clock.now += wait
        calls.append([it.record_id for it in batch])
        for it in batch:
            if it.record_id in refuse and it.attempt == 0:
                planner.retry(it, 0.15)  # due by the call after next
        clock.now += 0.1  # the call itself
    return calls


def test_refused_records_ride_in_the_next_full_calls_not_calls_of_their_own() -> None:
    clock = Clock()
    ids = [f"r{i:04d}" for i in range(1000)]
    refuse = set(ids[::20])  # 5%: ten of each call of 200
    planner = BatchPlanner((Item(i, 0) for i in ids), 200, clock=clock)
    calls = _drain(planner, clock, refuse)
    sent = [r for call in calls for r in call]
    assert sorted(sent) == sorted(ids + list(refuse))  # every record, each refusal once more
    # Full calls until the fresh records run out; the sixth takes every refusal left plus the
    # last 30 fresh ones, one of which is refused in turn and goes alone (one call per round).
    assert [len(c) for c in calls] == [200, 200, 200, 200, 200, 49, 1]
    assert set(calls[0]) & refuse <= set(calls[2])  # the first call's refusals rode in the third


def test_a_retry_waits_for_its_backoff_and_the_tail_waits_to_fill_a_call() -> None:
    clock = Clock()
    planner = BatchPlanner((Item(f"r{i}", 0) for i in range(300)), 200, clock=clock)
    wait, first = planner.next_batch()
    assert wait == 0.0
    assert len(first) == 200
    for it in first[:150]:
        planner.retry(it, 5.0 + 0.01 * int(it.record_id[1:]))
    clock.now = 1.0
    # A hundred fresh records cannot fill the call: wait until a hundred retries are due too.
    wait, second = planner.next_batch()
    assert wait == 5.0 + 0.01 * 99 - 1.0
    assert len(second) == 200
    assert sorted(it.attempt for it in second) == [0] * 100 + [1] * 100
    clock.now += wait + 0.1
    wait, third = planner.next_batch()  # the other fifty, each once its own backoff passed
    assert wait == 5.0 + 0.01 * 149 - clock.now
    assert [it.attempt for it in third] == [1] * 50
    assert not planner


def test_values_are_all_correct_under_locks_5xx_and_session_expiry(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    mappings = rfm_mappings(tmp_path / "mappings", RFM_PLAIN_FIELDS, objects=("Contact",))
    settings = localorg_settings(org, localorg_server, tmp_path, mappings_dir=mappings)
    engine = deployed_engine(settings)
    ids = seed(org, 1200, [("2026-01-10", 10.0), ("2026-02-11", 20.0)])
    org.faults.configure("UNABLE_TO_LOCK_ROW=0.05,SERVER_UNAVAILABLE=0.01,session_ttl=1s,seed=3")
    report = engine.run()
    org.faults.configure("")
    assert report.status == "succeeded", report.errors
    values = field_values(org, ids, RFM_PLAIN_FIELDS)
    assert set(values.values()) == {(2, 30.0, "2026-02-11", 15.0)}
    written = [(r["record_id"], r["field"]) for r in engine.store.outbox.value_log(report.run_id)]
    assert sorted(written) == sorted((i, f) for i in ids for f in RFM_PLAIN_FIELDS)
    # 1,200 records and ~5% refused: six full calls carry the fresh records and the early
    # refusals, the rest ride in one or two more; one call per batch's refusals would be 12.
    assert report.api_calls["collection_update"] <= math.ceil(1200 * 1.1 / 200) + 1

"""Writes in flight when a run died: verified against the org before anything is sent again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import connector.salesforce.client as client_module
from connector.store import Store
from connector.sync import SyncEngine
from connector.sync.inflight import holds
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

FIELDS = RFM_PLAIN_FIELDS


@pytest.mark.parametrize(
    ("wanted", "current", "same"),
    [
        (3, 3.0, True),  # a number(18, 0) comes back as a float
        (60.0, 60, True),
        (60.01, 60.0, False),
        (0.1 + 0.2, 0.3, True),
        ("2026-03-12", "2026-03-12", True),
        ("2026-03-12T10:00:00Z", "2026-03-12T10:00:00.000+0000", True),
        ("2026-03-12T10:00:00Z", "2026-03-12T10:00:01.000+0000", False),
        ("2026-03-12", "2026-03-13", False),
        (None, None, True),
        (None, "", True),  # Salesforce stores an empty text as null
        ("", None, True),
        (None, 0, False),
        (0, None, False),
        (True, True, True),
        (True, "true", True),
        (False, True, False),
        ("Champions", "Champions", True),
        ("Champions", "champions", False),
        (5, "five", False),
    ],
)
def test_holds_compares_in_salesforce_spellings(wanted: Any, current: Any, same: bool) -> None:
    assert holds(wanted, current) is same


@pytest.fixture
def engine(org: LocalOrg, localorg_server: Running, tmp_path: Path) -> SyncEngine:
    mappings = rfm_mappings(tmp_path / "mappings", FIELDS, objects=("Contact",))
    return deployed_engine(localorg_settings(org, localorg_server, tmp_path, mappings_dir=mappings))


def test_a_batch_killed_after_salesforce_applied_half_of_it_is_not_saved_twice(
    engine: SyncEngine, org: LocalOrg, sf: Any
) -> None:
    ids = seed(org, 6, [("2026-01-10", 10.0), ("2026-02-11", 20.0)])
    # A first run whose every row is refused as locked leaves the exact values in the outbox.
    org.faults.configure("UNABLE_TO_LOCK_ROW=1")
    assert engine.run().status == "partial"
    org.faults.configure("")
    queued = {(r[1], r[2]): r[3] for r in engine.store.db.execute("SELECT * FROM outbox")}
    assert len(queued) == 6 * len(FIELDS)
    # The next run marked the batch in flight and sent it; Salesforce applied the first three
    # records; then the process was killed before it recorded any answer.
    crashed = engine.store.runs.start("incremental")
    engine.store.outbox.mark_in_flight(crashed, [("Contact", rid) for rid in ids])
    applied, missing = ids[:3], ids[3:]
    for rid in applied:
        sf.Contact.update(rid, {f: json.loads(queued[(rid, f)]) for f in FIELDS})
    assert org.store.saves("Contact") == dict.fromkeys(applied, 1)

    report = engine.run()

    assert report.status == "succeeded", report.errors
    assert report.writes.verified == 3
    assert report.writes.succeeded == 3
    assert org.store.saves("Contact") == dict.fromkeys(ids, 1)  # one save per record
    assert all(v == (2, 30.0, "2026-02-11", 15.0) for v in field_values(org, ids, FIELDS).values())
    logged = engine.store.outbox.value_log(report.run_id)
    assert {r["record_id"] for r in logged if r["status"] == "verified"} == set(applied)
    assert {r["record_id"] for r in logged if r["status"] == "written"} == set(missing)
    assert engine.store.outbox.counts() == {}
    assert next(r for r in engine.store.runs.latest() if r["id"] == crashed)["status"] == "crashed"
    # Verified values are the baseline: the run after writes nothing.
    again = engine.run()
    assert (again.writes.fields_changed, again.writes.succeeded) == (0, 0)


def test_a_field_changed_in_the_org_since_is_sent_again(
    engine: SyncEngine, org: LocalOrg, sf: Any
) -> None:
    """Verification compares values, not records: a field that does not hold ours is resent."""
    ids = seed(org, 2, [("2026-01-10", 10.0)])
    org.faults.configure("UNABLE_TO_LOCK_ROW=1")
    engine.run()
    org.faults.configure("")
    crashed = engine.store.runs.start("incremental")
    engine.store.outbox.mark_in_flight(crashed, [("Contact", rid) for rid in ids])
    sf.Contact.update(ids[0], {"L2L_Order_Count__c": 1, "L2L_Revenue__c": 99.0})
    report = engine.run()
    assert report.status == "succeeded"
    assert report.writes.verified == 1  # one field of ids[0] held
    assert field_values(org, ids, FIELDS)[ids[0]] == (1, 10.0, "2026-01-10", 10.0)
    logged = {
        (r["record_id"], r["field"]): r["status"]
        for r in engine.store.outbox.value_log(report.run_id)
    }
    assert logged[(ids[0], "L2L_Order_Count__c")] == "verified"
    assert logged[(ids[0], "L2L_Revenue__c")] == "written"


def test_a_run_with_nothing_in_flight_spends_no_verification_call(
    engine: SyncEngine, org: LocalOrg
) -> None:
    seed(org, 2, [("2026-01-10", 10.0)])
    engine.run()
    queries = org.calls_by_kind.get("query", 0)
    report = engine.run()
    assert report.writes.verified == 0
    # Pulls go to queryAll; verification would be a plain query, and none was made.
    assert org.calls_by_kind.get("query", 0) == queries


def test_a_write_whose_answer_never_came_is_read_back_not_sent_again(
    engine: SyncEngine, org: LocalOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read timeout on a collection update: Salesforce saved the records, the client never
    heard. Retrying the PATCH would save them (and run their Flows) twice."""
    ids = seed(org, 3, [("2026-01-10", 10.0)])
    monkeypatch.setattr(client_module, "REQUEST_TIMEOUT", (10.0, 0.3))
    org.faults.configure("answer_delay=1s")  # applied at once, answered after the timeout
    first = engine.run()
    org.faults.configure("")
    assert org.wait_idle()
    assert first.status == "partial"
    assert any("sent without an answer (ReadTimeout)" in e for e in first.errors)
    assert org.calls_by_kind.get("composite") == 1  # not retried blindly
    assert engine.store.outbox.counts() == {"in_flight": 3 * len(FIELDS)}
    assert org.store.saves("Contact") == dict.fromkeys(ids, 1)
    second = engine.run()
    assert second.status == "succeeded", second.errors
    assert (second.writes.verified, second.writes.succeeded) == (3, 0)
    assert org.store.saves("Contact") == dict.fromkeys(ids, 1)
    assert engine.store.outbox.counts() == {}


def test_marking_a_record_in_flight_leaves_its_refused_values_alone() -> None:
    """A push batch sends a record's pending and carried values, never its refused ones."""
    store = Store(":memory:")
    store.outbox.enqueue(1, [("Contact", "003A", "A__c", 1), ("Contact", "003A", "B__c", 2)])
    refused = next(w for w in store.outbox.pending() if w.field == "B__c")
    store.outbox.record_results(1, [], [], [(refused, "FIELD_CUSTOM_VALIDATION_EXCEPTION: no")])
    store.outbox.enqueue(2, [("Contact", "003B", "A__c", 3)])
    store.outbox.mark_in_flight(2, [("Contact", "003A")])
    rows = store.db.execute("SELECT record_id, field, status, sent_run FROM outbox ORDER BY 1, 2")
    assert rows.fetchall() == [
        ("003A", "A__c", "in_flight", 2),
        ("003A", "B__c", "failed", None),
        ("003B", "A__c", "pending", None),
    ]
    assert [w.key for w in store.outbox.in_flight()] == [("Contact", "003A", "A__c")]

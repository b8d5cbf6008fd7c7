"""The sync engine end to end: the real client over HTTPS against localorg, a real SQLite store."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from connector.config import Settings
from connector.store import Store
from connector.sync import SyncEngine, SyncOptions
from localorg.flows import FlowEngine
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import (
    RFM_PLAIN_FIELDS,
    deployed_engine,
    field_values,
    load_rows,
    localorg_settings,
    past,
    rfm_mappings,
    salesforce_env,
    seed,
    sync_env,
)

# The sync mechanics tests count writes field by field, so they map only the four plain RFM
# values on Contact (tests/sync/test_predictions_sync.py runs the repository's full set).
FIELDS = RFM_PLAIN_FIELDS


def _settings(org: LocalOrg, server: Running, tmp_path: Path, **extra: Any) -> Settings:
    mappings = rfm_mappings(tmp_path / "mappings", FIELDS, objects=("Contact",))
    return localorg_settings(org, server, tmp_path, mappings_dir=mappings, **extra)


def _seed(org: LocalOrg, contacts: int, orders_each: int = 2) -> list[str]:
    """Contacts with orders on the 10th of January, 11th of February, ..., of 10, 20, ...;
    returns the contact ids."""
    orders = [(f"2026-0{1 + k}-1{k}", 10.0 * (k + 1)) for k in range(orders_each)]
    return seed(org, contacts, orders)


@pytest.fixture
def engine(org: LocalOrg, localorg_server: Running, tmp_path: Path) -> SyncEngine:
    """A sync engine against the fresh org with the four plain RFM fields deployed on Contact."""
    return deployed_engine(_settings(org, localorg_server, tmp_path))


def test_first_sync_writes_every_mapped_field_and_second_writes_nothing(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, database: Path | str
) -> None:
    # On each backend (``database``: a SQLite file, a PostgreSQL schema).
    engine = deployed_engine(_settings(org, localorg_server, tmp_path, database=database))
    org.store.flows = FlowEngine(
        {
            "record_triggered": [
                {
                    "name": "Count_Changed",
                    "object": "Contact",
                    "when_changed": "L2L_Order_Count__c",
                    "actions": [],
                }
            ]
        }
    )
    ids = _seed(org, 5, orders_each=3)
    first = engine.run()
    assert first.status == "succeeded"
    assert first.writes["succeeded"] == 5
    values = field_values(org, ids, FIELDS)
    for contact_id in ids:
        assert values[contact_id] == (3, 60.0, "2026-03-12", 20.0)
    flows_after_first = org.store.count("FlowInterview")
    assert flows_after_first == 5
    calls_before = dict(org.calls_by_kind)
    second = engine.run()
    assert second.status == "succeeded"
    assert second.writes["fields_changed"] == 0
    assert second.writes["succeeded"] == 0
    assert org.calls_by_kind.get("composite", 0) == calls_before.get("composite", 0)
    assert org.store.count("FlowInterview") == flows_after_first
    engine.store.close()


def test_changing_one_order_changes_exactly_that_person(
    engine: SyncEngine, org: LocalOrg, sf: Any
) -> None:
    ids = _seed(org, 4)
    engine.run()
    before = field_values(org, ids, FIELDS)
    account = org.store.execute('SELECT "Id" FROM "Account"')[0][0]
    order = sf.Order.create(
        {
            "AccountId": account,
            "BillToContactId": ids[2],
            "Status": "Draft",
            "EffectiveDate": "2026-06-01",
        }
    )["id"]
    # Draft orders do not count (status category Draft, L2L_ORDER_STATUS_CATEGORIES): the
    # order is created as a draft and then activated, as in Salesforce.
    sf.Order.update(order, {"Status": "Activated"})
    time.sleep(1.1)  # the pull window ends on the last whole second
    report = engine.run()
    after = field_values(org, ids, FIELDS)
    changed = [cid for cid in ids if before[cid] != after[cid]]
    assert changed == [ids[2]]
    assert after[ids[2]][0] == 3
    assert report.writes["succeeded"] == 1
    logged = {row["record_id"] for row in engine.store.outbox.value_log(report.run_id)}
    assert logged == {ids[2]}


def test_deleted_contact_stops_being_written(engine: SyncEngine, org: LocalOrg) -> None:
    ids = _seed(org, 3)
    engine.run()
    # An admin deletes the contact. (A delete by the integration user itself, within a second
    # of our own write of that contact, looks exactly like an echo of it and is read by the
    # echo sweep instead: tests/sync/test_echo.py.)
    admin = org.store.add_user("admin@localorg.test", "Admin")
    org.store.delete("Contact", ids[0], user_id=admin)
    time.sleep(1.1)  # the pull window ends on the last whole second
    account = org.store.execute('SELECT "Id" FROM "Account"')[0][0]
    for cid in ids[:2]:
        org.store.load_rows(
            "Order",
            [
                {
                    "Id": org.store.ids.new("Order"),
                    "IsDeleted": 0,
                    "SystemModstamp": past(),
                    "AccountId": account,
                    "BillToContactId": cid,
                    "Status": "Activated",
                    "EffectiveDate": "2026-07-01",
                    "TotalAmount": 5.0,
                }
            ],
        )
    report = engine.run()
    assert report.objects["Contact"]["deleted"] == 1
    logged = {row["record_id"] for row in engine.store.outbox.value_log(report.run_id)}
    assert logged == {ids[1]}
    assert report.writes["failed"] == 0


def test_n_changed_records_cost_ceil_n_over_200_collection_calls(
    engine: SyncEngine, org: LocalOrg
) -> None:
    _seed(org, 450, orders_each=1)
    before = org.calls_by_kind.get("composite", 0)
    report = engine.run()
    assert report.writes["succeeded"] == 450
    assert org.calls_by_kind.get("composite", 0) - before == math.ceil(450 / 200)
    assert report.api_calls["collection_update"] == 3


def test_lock_and_unavailable_faults_end_correct_without_duplicate_writes(
    engine: SyncEngine, org: LocalOrg
) -> None:
    ids = _seed(org, 300, orders_each=2)
    org.faults.configure("UNABLE_TO_LOCK_ROW=0.2,SERVER_UNAVAILABLE=0.15,seed=11")
    statuses = []
    for _ in range(6):
        statuses.append(engine.run().status)
        if statuses[-1] == "succeeded" and not engine.store.outbox.counts():
            break
    org.faults.configure("")
    assert statuses[-1] == "succeeded", statuses
    values = field_values(org, ids, FIELDS)
    assert all(v[:4] == (2, 30.0, "2026-02-11", 15.0) for v in values.values())
    written = [
        (r["record_id"], r["field"])
        for r in engine.store.outbox.value_log()
        if r["status"] == "written"
    ]
    assert len(written) == len(set(written)) == 300 * len(FIELDS)


def test_quota_guard_stops_cleanly_and_the_next_run_resumes(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    engine = deployed_engine(_settings(org, localorg_server, tmp_path, quota_share=0.5))
    ids = _seed(org, 1000, orders_each=1)
    engine.run(SyncOptions(dry_run=True))  # describes cached; a pull now costs one query each
    # Half of 22 calls: nine pull queries (five objects, Product2 for the recommendations'
    # catalogue, EmailMessage, Task and Case for models/texts.yaml) and two collection writes,
    # then the guard stops.
    org.reset_limits(daily_limit=22)
    stopped = engine.run()
    assert stopped.status == "quota_stopped"
    assert stopped.writes["succeeded"] == 400
    assert engine.store.outbox.counts().get("pending", 0) > 0
    org.reset_limits(daily_limit=1_000_000)
    resumed = engine.run()
    assert resumed.status == "succeeded"
    assert stopped.writes["succeeded"] + resumed.writes["succeeded"] == 1000
    assert all(v[0] == 1 for v in field_values(org, ids, FIELDS).values())


def test_dry_run_calls_no_write_endpoint(engine: SyncEngine, org: LocalOrg) -> None:
    ids = _seed(org, 250, orders_each=1)
    report = engine.run(SyncOptions(dry_run=True))
    assert report.status == "succeeded"
    assert report.planned["Contact"] == {
        "records": 250,
        "fields": 250 * len(FIELDS),
        "api_calls": 2,
        "bulk": 0,
    }
    assert "composite" not in org.calls_by_kind
    assert "jobs" not in org.calls_by_kind
    assert all(v == (None,) * len(FIELDS) for v in field_values(org, ids, FIELDS).values())
    assert engine.store.outbox.counts() == {}


def _run_cli(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """The CLI in a child process with the L2L_* variables of `env` over this environment."""
    return subprocess.Popen(
        [sys.executable, "-m", "connector.cli", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_run_killed_mid_push_converges_on_rerun(
    engine: SyncEngine, org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    ids = _seed(org, 1200, orders_each=1)
    settings = _settings(org, localorg_server, tmp_path / "killed")
    env = {
        **salesforce_env(org, localorg_server),
        **sync_env(settings.store_location, settings.mappings_dir),
    }
    org.faults.configure("latency=30ms")
    proc = _run_cli(["sync", "--json"], env)
    deadline = time.monotonic() + 60
    while org.calls_by_kind.get("composite", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    org.faults.configure("")
    partial = field_values(org, ids, FIELDS)
    assert 0 < sum(1 for v in partial.values() if v[0] == 1) < 1200  # really killed mid-push
    rerun = _run_cli(["sync", "--json"], env)
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert all(
        v[:4] == (1, 10.0, "2026-01-10", 10.0) for v in field_values(org, ids, FIELDS).values()
    )
    # The same org state as an uninterrupted run: a fresh database syncing now writes nothing new.
    store = Store(settings.store_location)
    assert store.outbox.counts() == {}


def test_big_first_pull_goes_through_bulk_query(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    engine = deployed_engine(_settings(org, localorg_server, tmp_path, pull_bulk_threshold=100))
    ids = _seed(org, 150, orders_each=1)
    report = engine.run()
    assert report.status == "succeeded"
    assert report.objects["Contact"]["pulled"] == 150
    assert report.objects["Order"]["pulled"] == 150
    assert report.api_calls.get("bulk_job", 0) > 0
    assert all(v[0] == 1 for v in field_values(org, ids, FIELDS).values())


def test_big_write_back_goes_through_bulk_upsert_with_row_failures_carried(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    engine = deployed_engine(_settings(org, localorg_server, tmp_path, push_bulk_threshold=100))
    ids = _seed(org, 150, orders_each=2)
    org.faults.configure("UNABLE_TO_LOCK_ROW=0.2,seed=5")
    first = engine.run()
    org.faults.configure("")
    assert first.api_calls.get("bulk_job", 0) > 0
    assert first.api_calls.get("collection_update", 0) == 0
    assert first.writes["succeeded"] + first.writes["carried_over"] == 150
    # Row locks are retried within the run; whatever still failed is carried, then lands.
    second = engine.run()
    assert second.status == "succeeded"
    assert first.writes["succeeded"] + second.writes["succeeded"] == 150
    assert all(v == (2, 30.0, "2026-02-11", 15.0) for v in field_values(org, ids, FIELDS).values())


def test_tiny_org_falls_back_to_heuristics_and_says_why(engine: SyncEngine, org: LocalOrg) -> None:
    _seed(org, 5)
    report = engine.run()
    method = report.models["predictions"]["method"]
    assert method.startswith("heuristic")
    assert "500" in method  # names the gate it failed: fewer buyers than the minimum
    stored = engine.store.runs.latest(1)[0]["stats"]["models"]["predictions"]["method"]
    assert stored == method


def test_refused_rows_report_their_code_wait_for_a_new_value_and_can_be_retried(
    engine: SyncEngine, org: LocalOrg
) -> None:
    ids = _seed(org, 3)
    # A validation rule in the org refuses every write.
    org.faults.configure("FIELD_CUSTOM_VALIDATION_EXCEPTION=1")
    refused = engine.run()
    assert refused.status == "partial"
    assert refused.writes["failed"] == 3
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in refused.errors[0]
    org.faults.configure("")
    waiting = engine.run()  # same values: not sent again, not forgotten
    assert waiting.writes["fields_changed"] == 0
    # Refused values still wait in the outbox: the run is not a success (it used to say so).
    assert waiting.status == "partial"
    assert engine.store.outbox.counts() == {"failed": 3 * len(FIELDS)}
    assert all(v == (None,) * len(FIELDS) for v in field_values(org, ids, FIELDS).values())
    retried = engine.run(SyncOptions(retry_failed=True))
    assert retried.status == "succeeded"
    assert retried.writes["succeeded"] == 3
    assert all(v == (2, 30.0, "2026-02-11", 15.0) for v in field_values(org, ids, FIELDS).values())


def test_values_the_mappings_cannot_write_make_the_run_partial_and_are_named(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """A value too big for its field skips that one field, not the record, and the run says so."""
    mappings = tmp_path / "narrow"
    mappings.mkdir()
    (mappings / "contact.yaml").write_text(
        "object: Contact\nperson: contact\nfields:\n"
        "  - {value: rfm.order_count, field: L2L_Order_Count__c, type: number, precision: 18,"
        " scale: 0, label: Order Count}\n"
        "  - {value: rfm.revenue, field: L2L_Small_Revenue__c, type: number, precision: 3,"
        " scale: 0, label: Small Revenue}\n",
        encoding="utf-8",
    )
    engine = deployed_engine(
        localorg_settings(org, localorg_server, tmp_path, mappings_dir=mappings)
    )
    small = seed(org, 2, [("2026-01-10", 50.0)])
    big = seed(org, 3, [("2026-01-10", 5000.0)])
    first = engine.run()
    assert first.status == "partial"
    assert first.writes["unmappable"] == 3
    assert first.writes["succeeded"] == 5
    assert any("L2L_Small_Revenue__c" in e and "add a clamp" in e for e in first.errors)
    fields = ("L2L_Order_Count__c", "L2L_Small_Revenue__c")
    values = field_values(org, small + big, fields)
    assert [values[i] for i in small] == [(1, 50)] * 2
    assert [values[i] for i in big] == [(1, None)] * 3
    again = engine.run()
    assert (again.status, again.writes["unmappable"], again.writes["planned"]) == ("partial", 3, 0)


@pytest.mark.parametrize("bulk", [False, True], ids=["collections", "bulk"])
def test_a_person_whose_orders_are_all_deleted_gets_fields_cleared(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, sf: Any, bulk: bool
) -> None:
    """Values written for a person the compute step no longer produces are cleared, not left
    behind; people never written are not touched (no null writes for the never-buyers)."""
    threshold = 1 if bulk else 10_000  # two cleared records go through Bulk above 1
    engine = deployed_engine(
        _settings(org, localorg_server, tmp_path, push_bulk_threshold=threshold)
    )
    buyers = _seed(org, 4, orders_each=2)
    never = load_rows(org, "Contact", [{"LastName": "Browser", "Email": "b@example.com"}])
    engine.run()
    for buyer in buyers[:2]:
        for (order_id,) in org.store.execute(
            'SELECT "Id" FROM "Order" WHERE "BillToContactId" = ?', (buyer,)
        ):
            sf.Order.delete(order_id)
    time.sleep(1.1)  # the pull window ends on the last whole second
    report = engine.run()
    assert report.status == "succeeded"
    assert report.objects["Order"]["deleted"] == 4
    assert (report.api_calls.get("bulk_job", 0) > 0) is bulk  # a clear travels as #N/A there
    assert {row["record_id"] for row in engine.store.outbox.value_log(report.run_id)} == set(
        buyers[:2]
    )
    values = field_values(org, buyers + never, FIELDS)
    assert values[buyers[0]] == values[buyers[1]] == (None, None, None, None)
    assert values[buyers[2]] == values[buyers[3]] == (2, 30.0, "2026-02-11", 15.0)
    assert values[never[0]] == (None, None, None, None)
    assert engine.run().writes["fields_changed"] == 0


def test_a_pull_stopped_between_pages_leaves_its_watermark_and_the_next_run_repulls(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """The watermark moves only once a whole window is stored: a run stopped after Order's first
    page (2,000 of 2,500 records stored) keeps no Order watermark, so nothing is skipped later."""
    engine = deployed_engine(_settings(org, localorg_server, tmp_path, quota_share=0.5))
    ids = _seed(org, 2500, orders_each=1)
    # Half of 26 calls: Account (describe, count, page), Contact (describe, count, two pages),
    # Lead (describe, count, page), Order (describe, count, first page); the guard then stops
    # before Order's second page. (The deploy no longer describes Contact: it asks the Tooling
    # API which fields exist, as describe hides fields the user cannot see.)
    org.reset_limits(daily_limit=26)
    stopped = engine.run()
    assert stopped.api_calls["total"] == 13
    assert stopped.status == "quota_stopped"
    assert len(engine.store.records.live_ids("Order")) == 2000  # the first page, stored
    assert engine.store.records.watermark("Order") is None
    assert engine.store.records.watermark("Contact") is not None
    org.reset_limits(daily_limit=1_000_000)
    resumed = engine.run()
    assert resumed.status == "succeeded"
    assert resumed.objects["Order"]["pulled"] == 2500
    assert all(v[0] == 1 for v in field_values(org, ids, FIELDS).values())


def test_a_run_prunes_the_value_log_of_runs_older_than_the_window(
    engine: SyncEngine, org: LocalOrg
) -> None:
    _seed(org, 2)
    first = engine.run()
    assert len(engine.store.outbox.value_log(first.run_id)) == 2 * len(FIELDS)
    # Age the first run beyond the 90-day window, as if it ran last spring.
    engine.store.db.execute("UPDATE runs SET started_at = '2026-01-02T00:00:00.000+00:00'")
    _seed(org, 1)
    second = engine.run()
    assert engine.store.outbox.value_log(first.run_id) == []
    assert len(engine.store.outbox.value_log(second.run_id)) == len(FIELDS)  # the new Contact only
    assert [r["id"] for r in engine.store.runs.latest()] == [
        second.run_id,
        first.run_id,
    ]  # runs stay

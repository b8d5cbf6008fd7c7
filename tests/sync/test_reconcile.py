"""Purged and hard-deleted records stop counting: the reconciliation step end to end.

A real org lists deleted rows in queryAll only while they sit in the Recycle Bin (REST API
Developer Guide, "sObject Get Deleted": no more than 15 days), and a Bulk API hardDelete skips
the bin altogether, so an incremental pull never learns of them. The reconciliation compares
ids and forgets the rest; revenue and CLV on the Contact follow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from connector.predictions import PredictionsConfig
from connector.sync import SyncOptions
from connector.sync.reconcile import due, purged_ids
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import deployed_engine, field_values, localorg_settings, seed

FIELDS = ("L2L_Revenue__c", "L2L_Historic_CLV__c")


def _orders_of(org: LocalOrg) -> dict[str, list[tuple[str, float]]]:
    rows = org.store.execute(
        'SELECT "BillToContactId", "Id", "TotalAmount" FROM "Order" ORDER BY "TotalAmount"'
    )
    out: dict[str, list[tuple[str, float]]] = {}
    for contact, order, amount in rows:
        out.setdefault(contact, []).append((order, amount))
    return out


def test_purged_and_hard_deleted_orders_leave_revenue_and_clv(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    a, b, c = seed(org, 3, [("2026-01-10", 10.0), ("2026-02-11", 20.0), ("2026-03-12", 30.0)])
    engine = deployed_engine(localorg_settings(org, localorg_server, tmp_path))
    margin = (engine.predictions or PredictionsConfig()).margin
    first = engine.run()
    assert first.status == "succeeded", first.errors
    assert first.reconciled == {}  # a first sync pulled everything: the interval starts now
    assert field_values(org, [a, b, c], FIELDS)[a] == (60.0, round(margin * 60.0))

    orders = _orders_of(org)
    sf = localorg_server.salesforce()
    # a: two orders hard-deleted (Bulk API 2.0 hardDelete: never in the Recycle Bin)
    hard = [order for order, _ in orders[a][:2]]
    [job] = sf.bulk2.Order.hard_delete(records=[{"Id": i} for i in hard], wait=0.05)
    assert job["numberRecordsFailed"] == 0
    # b: one order deleted, then the Recycle Bin purged while the connector was away
    org.store.delete("Order", orders[b][0][0])
    org.purge_recycle_bin(datetime.now(UTC) + timedelta(days=16))
    assert sf.query_all("SELECT Id FROM Order", include_deleted=True)["totalSize"] == 6

    blind = engine.run()  # incremental, reconciled less than a day ago: the pull sees nothing
    assert blind.reconciled == {}
    assert blind.objects["Order"]["deleted"] == 0
    assert field_values(org, [a], FIELDS)[a] == (60.0, round(margin * 60.0))

    full = engine.run(SyncOptions(full=True))
    assert full.status == "succeeded", full.errors
    assert full.reconciled["Order"]["forgotten"] == 3
    assert full.reconciled["Order"]["held"] == 9
    assert full.as_json()["reconciled"]["Order"]["api_calls"] == 1
    values = field_values(org, [a, b, c], FIELDS)
    assert values[a] == (30.0, round(margin * 30.0))
    assert values[b] == (50.0, round(margin * 50.0))
    assert values[c] == (60.0, round(margin * 60.0))
    assert engine.store.records.ids("Order") == {
        o for os in _orders_of(org).values() for o, _ in os
    }


def test_a_person_left_with_no_orders_gets_cleared(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    [a] = seed(org, 1, [("2026-01-10", 10.0)])
    settings = localorg_settings(org, localorg_server, tmp_path, reconcile_interval_hours=0)
    engine = deployed_engine(settings)
    assert engine.run().status == "succeeded"
    assert field_values(org, [a], FIELDS)[a][0] == 10.0
    sf = localorg_server.salesforce()
    [order] = [o for o, _ in _orders_of(org)[a]]
    sf.bulk2.Order.hard_delete(records=[{"Id": order}], wait=0.05)
    report = engine.run()  # an interval of 0 reconciles on every (incremental) run
    assert report.reconciled["Order"]["forgotten"] == 1
    assert field_values(org, [a], FIELDS)[a] == (None, None)


def test_due_and_purged_ids_rules() -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert not due(None, now, 24, full=False)
    assert due(None, now, 0, full=False)
    assert not due(now - timedelta(hours=23), now, 24, full=False)
    assert due(now - timedelta(hours=24), now, 24, full=False)
    assert due(now, now, 24, full=True)
    assert due(now, now, 0, full=False)
    assert purged_ids(["a", "b", "c"], {"b", "z"}) == {"a", "c"}


def test_sync_full_says_what_it_forgot(org_env: LocalOrg) -> None:
    from click.testing import CliRunner

    from connector.cli import main

    assert CliRunner().invoke(main, ["fields", "deploy"]).exit_code == 0
    seed(org_env, 1, [("2026-01-10", 10.0), ("2026-02-10", 20.0)])
    assert CliRunner().invoke(main, ["sync"]).exit_code == 0
    [order, _] = [o for os in _orders_of(org_env).values() for o, _ in os]
    org_env.store.delete("Order", order)
    org_env.purge_recycle_bin(datetime.now(UTC) + timedelta(days=16))
    result = CliRunner().invoke(main, ["sync", "--full"])
    assert result.exit_code == 0, result.output
    assert "  reconciled Order             2 held, 1 gone from the org and forgotten (1 calls)" in (
        result.stdout.splitlines()
    )

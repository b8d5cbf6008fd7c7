"""The clock: the scheduler's job registration, and one real sync through ``run_clock``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from connector.config import load_settings
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.salesforce import SalesforceClient
from connector.scheduler import build_scheduler, run_clock
from connector.store import Store
from connector.sync.fields import deploy
from localorg.org import LocalOrg
from localorg.server import Running
from localorg.store import format_datetime


def test_build_scheduler_registers_the_sync_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    settings = load_settings(sync_interval_minutes=7, database=tmp_path / "l2l.sqlite")
    scheduler = build_scheduler(settings)
    jobs = scheduler.get_jobs()
    assert [job.id for job in jobs] == ["sync"]
    job = scheduler.get_job("sync")
    assert job is not None
    # Referenced by text (a stable "module:function"), so a job store could persist it.
    assert job.func_ref == "connector.scheduler:sync_job"
    assert job.coalesce is True
    assert job.max_instances == 1
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(minutes=7)
    assert not scheduler.running


def test_build_scheduler_follows_the_configured_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(sync_interval_minutes=60, database=tmp_path / "l2l.sqlite")
    job = build_scheduler(settings).get_job("sync")
    assert job is not None
    assert job.trigger.interval == timedelta(hours=1)


# The five RFM fields per person object: a mappings folder of the tests' own, so the expected
# fields do not move when mappings/ in the repository grows.
RFM_YAML = """\
object: {obj}
person: {person}
fields:
  - value: rfm.order_count
    field: L2L_Order_Count__c
    type: number
    precision: 18
    scale: 0
    label: Order Count
  - value: rfm.revenue
    field: L2L_Revenue__c
    type: currency
    precision: 18
    scale: 2
    label: Revenue
  - value: rfm.last_order_date
    field: L2L_Last_Order_Date__c
    type: date
    label: Last Order Date
  - value: rfm.avg_order_value
    field: L2L_Avg_Order_Value__c
    type: currency
    precision: 18
    scale: 2
    label: Average Order Value
  - value: rfm.days_since_last_order
    field: L2L_Days_Since_Last_Order__c
    type: number
    precision: 18
    scale: 0
    label: Days Since Last Order
"""


def _rfm_mappings(directory: Path) -> Path:
    directory.mkdir()
    for obj in ("Contact", "Lead"):
        text = RFM_YAML.format(obj=obj, person=obj.lower())
        (directory / f"{obj.lower()}.yaml").write_text(text, encoding="utf-8")
    return directory


def _env(
    monkeypatch: pytest.MonkeyPatch, org: LocalOrg, server: Running, database: Path
) -> dict[str, str]:
    env = {
        "L2L_SALESFORCE_LOGIN_URL": org.instance_url,
        "L2L_SALESFORCE_CLIENT_ID": org.config.client_id,
        "L2L_SALESFORCE_CLIENT_SECRET": org.config.client_secret,
        "L2L_SALESFORCE_AUTH": "client_credentials",
        "L2L_SALESFORCE_CA_BUNDLE": str(server.tls.cert),
        "L2L_DATABASE": str(database),
        "L2L_PULL_LAG_SECONDS": "0",
        "L2L_RETRY_BASE_SECONDS": "0",
        "L2L_MAPPINGS_DIR": str(_rfm_mappings(database.parent / "mappings")),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _rows(org: LocalOrg, object_name: str, rows: list[dict[str, Any]]) -> list[str]:
    # Pull windows end on whole seconds before the run starts: stamp rows safely before.
    stamp = format_datetime(datetime.now(UTC) - timedelta(seconds=2))
    ids = org.store.ids.batch(object_name, len(rows))
    org.store.load_rows(
        object_name,
        [
            {
                "Id": i,
                "IsDeleted": 0,
                "CreatedDate": stamp,
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
                **r,
            }
            for i, r in zip(ids, rows, strict=True)
        ],
    )
    return ids


def test_run_clock_once_runs_one_real_sync(
    org: LocalOrg,
    localorg_server: Running,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "clock.sqlite"
    _env(monkeypatch, org, localorg_server, database)
    settings = load_settings()
    assert settings.database == database  # the environment really reached the settings
    deploy(
        SalesforceClient.from_settings(settings),
        load_mappings(settings.mappings_dir, set(KNOWN_VALUES)),
    )
    account = _rows(org, "Account", [{"Name": "Acme"}])[0]
    contacts = _rows(
        org,
        "Contact",
        [
            {"LastName": f"C{i}", "Email": f"c{i}@example.com", "AccountId": account}
            for i in range(3)
        ],
    )
    _rows(
        org,
        "Order",
        [
            {
                "AccountId": account,
                "BillToContactId": cid,
                "Status": "Activated",
                "EffectiveDate": "2026-02-01",
                "TotalAmount": 25.0,
            }
            for cid in contacts
        ],
    )

    run_clock(settings, once=True)

    runs = Store(database).runs()
    assert len(runs) == 1
    assert runs[0]["status"] == "succeeded"
    assert runs[0]["mode"] == "incremental"
    assert runs[0]["stats"]["writes"]["succeeded"] == 3
    rows = org.store.execute('SELECT "Id", "L2L_Order_Count__c", "L2L_Revenue__c" FROM "Contact"')
    assert {r[0]: (r[1], r[2]) for r in rows} == {cid: (1, 25.0) for cid in contacts}

"""The clock: the scheduler's job registration, and one real sync through ``run_clock``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connector.admin.deploy import deploy
from connector.config import load_settings
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.salesforce import SalesforceClient
from connector.scheduler import build_scheduler, run_clock, sync_job
from connector.store import Store
from localorg.org import LocalOrg
from tests.backends import database_settings
from tests.support import seed


def test_build_scheduler_registers_the_sync_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    settings = load_settings(sync_interval_minutes=7, **database_settings(tmp_path))
    scheduler = build_scheduler(settings)
    jobs = scheduler.get_jobs()
    assert [job.id for job in jobs] == ["sync", "loyalty_expiry", "retrain_lead_conversion"]
    job = scheduler.get_job("sync")
    assert job is not None
    # Referenced by text (a stable "module:function"), so a job store could persist it.
    assert job.func_ref == "connector.scheduler:sync_job"
    assert job.coalesce is True
    assert job.max_instances == 1
    assert isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(minutes=7)
    assert not scheduler.running


def test_the_clock_refits_the_lead_model_as_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    (models / "lead_conversion.yaml").write_text("retrain_every_days: 3\n", encoding="utf-8")
    settings = load_settings(**database_settings(tmp_path), models_dir=models)
    job = build_scheduler(settings).get_job("retrain_lead_conversion")
    assert job is not None
    assert job.func_ref == "connector.sync.intent:retrain_job"
    assert job.coalesce is True
    assert job.max_instances == 1
    assert job.trigger.interval == timedelta(days=3)
    (models / "lead_conversion.yaml").write_text("enabled: false\n", encoding="utf-8")
    assert build_scheduler(settings).get_job("retrain_lead_conversion") is None


def test_build_scheduler_registers_the_daily_loyalty_expiry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(**database_settings(tmp_path))
    job = build_scheduler(settings).get_job("loyalty_expiry")
    assert job is not None
    assert job.func_ref == "connector.scheduler:expiry_job"
    assert job.coalesce is True
    assert job.max_instances == 1
    assert isinstance(job.trigger, CronTrigger)
    # once a day, at 00:15 UTC
    first = job.trigger.get_next_fire_time(None, datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    second = job.trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert first == datetime(2026, 3, 2, 0, 15, tzinfo=UTC)
    assert second == datetime(2026, 3, 3, 0, 15, tzinfo=UTC)


def test_build_scheduler_follows_the_configured_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(sync_interval_minutes=60, **database_settings(tmp_path))
    job = build_scheduler(settings).get_job("sync")
    assert job is not None
    assert job.trigger.interval == timedelta(hours=1)


def test_run_clock_once_runs_one_real_sync(org_env: LocalOrg, env: Path) -> None:
    settings = load_settings()
    assert settings.store_location == env  # the environment really reached the settings
    deploy(
        SalesforceClient.from_settings(settings),
        load_mappings(settings.mappings_dir, set(KNOWN_VALUES)),
    )
    contacts = seed(org_env, 3, [("2026-02-01", 25.0)])

    run_clock(settings, once=True)

    runs = Store(env).runs.latest()
    assert len(runs) == 1
    assert runs[0]["status"] == "succeeded"
    assert runs[0]["mode"] == "incremental"
    assert runs[0]["stats"]["writes"]["succeeded"] == 3
    rows = org_env.store.execute(
        'SELECT "Id", "L2L_Order_Count__c", "L2L_Revenue__c" FROM "Contact"'
    )
    assert {r[0]: (r[1], r[2]) for r in rows} == {cid: (1, 25.0) for cid in contacts}


@pytest.mark.slow
def test_a_clock_tick_during_a_manual_sync_is_skipped_not_doubled(
    org_env: LocalOrg, env: Path
) -> None:
    seed(org_env, 2, [("2026-02-01", 25.0)])
    with Store(env).runs.lock():  # a manual `lead2loyalty sync` in progress
        assert sync_job() == "skipped"
    assert Store(env).runs.latest() == []
    assert org_env.store.count("FlowInterview") == 0

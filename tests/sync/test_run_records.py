"""Honest run records: every run ends in a status that says what happened, and exits by it.

Real localorg over HTTPS, a real store (SQLite, or PostgreSQL with
L2L_TEST_BACKEND=postgresql), the real CLI (click's runner on the entry point);
the alert webhook is a small HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from connector.cli import main
from connector.scheduler import sync_job
from connector.store import Store
from connector.sync import RunStatus, SyncEngine, WriteCounts, build_engine, exit_code
from localorg.org import LocalOrg
from localorg.server import Running
from tests.backends import ON_POSTGRES
from tests.support import RFM_PLAIN_FIELDS, deployed_engine, localorg_settings, rfm_mappings, seed
from tests.sync.conftest import Hook

FIELDS = RFM_PLAIN_FIELDS


def _engine(
    org: LocalOrg, server: Running, tmp_path: Path, *, deployed: bool = True, **extra: Any
) -> SyncEngine:
    """An engine on the four plain RFM fields of Contact, deployed unless told otherwise (an
    engine that cannot sign in cannot deploy either)."""
    mappings = rfm_mappings(tmp_path / "mappings", FIELDS, objects=("Contact",))
    settings = localorg_settings(org, server, tmp_path, mappings_dir=mappings, **extra)
    return deployed_engine(settings) if deployed else build_engine(settings)


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


# ---------------------------------------------------------------------- status and exit codes
def test_each_status_has_one_exit_code() -> None:
    assert {s.value: exit_code(s) for s in RunStatus} == {
        "running": 1,
        "succeeded": 0,
        "partial": 2,
        "quota_stopped": 2,
        "failed": 1,
        "crashed": 1,
    }
    assert exit_code("skipped") == 1  # a run that did not start is not a success


def test_the_writes_object_keeps_the_documented_keys() -> None:
    writes = WriteCounts(queued=3, succeeded=2, failed=1, fields_changed=7)
    out = writes.as_json()
    documented = {"planned", "succeeded", "failed", "carried_over", "fields_changed", "unmappable"}
    assert documented <= set(out)
    assert out["planned"] == 3  # a real run: what it set out to write
    assert WriteCounts(planned=5).as_json(dry_run=True)["planned"] == 5
    assert writes["succeeded"] == 2
    with pytest.raises(KeyError):
        writes["nonsense"]


# ---------------------------------------------------------------------- failures on record
def test_a_refused_sign_in_is_a_failed_run_with_its_reason(
    org_env: LocalOrg, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "wrong-secret-that-must-not-print"
    monkeypatch.setenv("L2L_SALESFORCE_CLIENT_SECRET", secret)
    result = _cli("sync", "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "failed"
    assert "invalid_client" in report["errors"][0]
    assert "L2L_SALESFORCE_CLIENT_SECRET" in report["errors"][0]
    runs = Store(env).runs.latest()
    assert [(r["id"], r["status"]) for r in runs] == [(report["run_id"], "failed")]
    assert runs[0]["stats"]["errors"][0] == report["errors"][0]
    assert secret not in result.output + result.stderr + json.dumps(runs)


def test_an_unexpected_error_ends_the_run_failed_with_one_line(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    engine = _engine(org, localorg_server, tmp_path)
    seed(org, 2, [("2026-01-10", 10.0)])
    engine.store.db.execute("DROP TABLE outbox")  # the database lost a table under us
    report = engine.run()
    assert report.status == "failed"
    assert report.errors[0] == (  # the driver's first line, not its SQL excerpt below it
        'unexpected UndefinedTable: relation "outbox" does not exist'
        if ON_POSTGRES
        else "unexpected OperationalError: no such table: outbox"
    )
    assert engine.store.runs.latest(1)[0]["status"] == "failed"


def test_a_run_left_running_by_a_dead_process_becomes_crashed(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    engine = _engine(org, localorg_server, tmp_path)
    dead = engine.store.runs.start("incremental")  # what a killed process leaves behind
    engine.store.db.execute("UPDATE runs SET pid = 999999, host = 'box' WHERE id = ?", [dead])
    report = engine.run()
    assert report.status == "succeeded"
    assert report.recovered == [{"id": dead, "pid": 999999, "host": "box"}]
    assert report.as_json()["recovered_runs"] == report.recovered
    old = next(r for r in engine.store.runs.latest() if r["id"] == dead)
    assert old["status"] == "crashed"
    assert old["finished_at"]
    assert "process 999999 on box" in old["stats"]["errors"][-1]
    assert old["stats"]["writes"] == {
        "succeeded": 0,
        "carried_over": 0,
        "failed": 0,
        "verified": 0,
    }  # it recorded nothing before it died
    latest = engine.store.runs.latest(1)[0]
    assert latest["pid"] > 0
    assert latest["host"]


def test_runs_shows_a_dead_run_as_crashed_without_waiting_for_the_next_sync(env: Path) -> None:
    store = Store(env)
    dead = store.runs.start("incremental")
    with store.runs.lock():  # while a live run holds the database, running means running
        assert json.loads(_cli("runs", "--json").stdout)[0]["status"] == "running"
    listed = json.loads(_cli("runs", "--json").stdout)
    assert [(r["id"], r["status"]) for r in listed] == [(dead, "crashed")]
    text = _cli("runs")
    assert "crashed" in text.stdout
    assert "ended without finishing this run" in text.stdout


def test_refused_values_keep_every_run_partial_and_say_why(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    engine = _engine(org, localorg_server, tmp_path)
    seed(org, 3, [("2026-01-10", 10.0)])
    org.faults.configure("FIELD_CUSTOM_VALIDATION_EXCEPTION=1")
    first = engine.run()
    org.faults.configure("")
    second = engine.run()  # nothing new to send, but the refused values still wait
    for report in (first, second):
        assert report.status == "partial"
        assert report.outstanding == [
            {
                "object": "Contact",
                "field": field,
                "status": "failed",
                "reason": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                "values": 3,
            }
            for field in sorted(FIELDS)
        ]
        assert any("refused by Salesforce" in e for e in report.errors)
    assert second.writes.succeeded == second.writes.failed == 0


# ---------------------------------------------------------------------- clock --once
def test_clock_once_exits_like_sync(
    org_env: LocalOrg, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _cli("fields", "deploy").exit_code == 0
    seed(org_env, 2, [("2026-01-10", 10.0)])
    ok = _cli("clock", "--once")
    assert ok.exit_code == 0, ok.output
    seed(org_env, 1, [("2026-01-11", 10.0)])
    org_env.faults.configure("FIELD_CUSTOM_VALIDATION_EXCEPTION=1")
    partial = _cli("clock", "--once")
    org_env.faults.configure("")
    assert partial.exit_code == 2, partial.output
    monkeypatch.setenv("L2L_SALESFORCE_CLIENT_SECRET", "wrong")
    failed = _cli("clock", "--once")
    assert failed.exit_code == 1, failed.output
    assert [r["status"] for r in Store(env).runs.latest()] == ["failed", "partial", "succeeded"]


def test_the_scheduled_job_with_broken_mappings_logs_one_line_and_keeps_ticking(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "no-mappings"
    empty.mkdir()
    monkeypatch.setenv("L2L_MAPPINGS_DIR", str(empty))
    assert sync_job() == "failed"  # no exception into the scheduler
    [record] = [r for r in caplog.records if r.name == "connector.scheduler"]
    assert record.getMessage().startswith("sync not started: ")
    assert "no mapping files" in record.getMessage()
    result = _cli("clock", "--once")  # the same, by hand: the CLI's one line, exit 1
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "no mapping files" in result.stderr


# ---------------------------------------------------------------------- alerts
def test_a_failed_run_posts_one_slack_style_alert_without_secrets(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, hook: tuple[str, type[Hook]]
) -> None:
    url, handler = hook
    secret = "bad-secret-for-the-alert-test"
    failing = _engine(
        org,
        localorg_server,
        tmp_path,
        deployed=False,
        alert_webhook_url=url,
        salesforce_client_secret=secret,
    )
    report = failing.run()
    assert report.status == "failed"
    assert len(handler.received) == 1
    sent = handler.received[0]
    assert sent["type"] == "application/json"
    assert list(sent["body"]) == ["text"]
    text = sent["body"]["text"]
    assert f"run {report.run_id}" in text
    assert "failed" in text
    assert "invalid_client" in text
    assert secret not in text
    assert "tok3n-in-url" not in text


def test_partial_alerts_only_the_second_time_in_a_row(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, hook: tuple[str, type[Hook]]
) -> None:
    url, handler = hook
    engine = _engine(org, localorg_server, tmp_path, alert_webhook_url=url)
    seed(org, 2, [("2026-01-10", 10.0)])
    org.faults.configure("FIELD_CUSTOM_VALIDATION_EXCEPTION=1")
    first = engine.run()
    assert first.status == "partial"
    assert handler.received == []  # once is routine
    second = engine.run()
    assert second.status == "partial"
    assert len(handler.received) == 1
    assert "partial (twice in a row)" in handler.received[0]["body"]["text"]
    org.faults.configure("")


@pytest.mark.parametrize("answer", [500, None], ids=["refused", "nobody-listening"])
def test_a_failing_alert_is_logged_and_never_changes_the_run(
    org: LocalOrg,
    localorg_server: Running,
    tmp_path: Path,
    hook: tuple[str, type[Hook]],
    answer: int | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, handler = hook
    handler.answer = answer or 200
    if answer is None:
        url = "http://127.0.0.1:9/hooks/x"  # the discard port: nothing listens
    engine = _engine(
        org,
        localorg_server,
        tmp_path,
        deployed=False,
        alert_webhook_url=url,
        salesforce_client_secret="no",
    )
    report = engine.run()
    assert report.status == "failed"
    assert engine.store.runs.latest(1)[0]["status"] == "failed"
    assert any("alert not delivered" in r.message or "refused" in r.message for r in caplog.records)

"""Intent and lead conversion through the whole pipeline against localorg: fields written on
Leads and Contacts, nothing rewritten without news, decay by the clock, a moment's Flow fired
once per crossing, and the lead model's gate in the run record."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import SecretStr

from connector.config import Settings
from connector.store import Store
from connector.sync import SyncEngine
from localorg.flows import FlowEngine
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import REPO, deployed_engine, load_rows, localorg_settings
from tests.sync.conftest import Hook

INTENT_FIELDS = (
    {
        "value": "intent.score",
        "field": "L2L_Intent_Score__c",
        "type": "number",
        "precision": 2,
        "scale": 1,
        "label": "Intent Score",
    },
    {
        "value": "intent.reasons",
        "field": "L2L_Intent_Reasons__c",
        "type": "text",
        "length": 255,
        "label": "Intent Reasons",
    },
)
CONVERSION_FIELDS = (
    {
        "value": "conversion.score",
        "field": "L2L_Conversion_Score__c",
        "type": "number",
        "precision": 2,
        "scale": 0,
        "label": "Conversion Score",
    },
    {
        "value": "conversion.factors",
        "field": "L2L_Conversion_Factors__c",
        "type": "text",
        "length": 255,
        "label": "Conversion Factors",
    },
)
FLOW = "L2L_Intent_Hot"


def _mappings(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for obj, fields in (("Contact", INTENT_FIELDS), ("Lead", INTENT_FIELDS + CONVERSION_FIELDS)):
        text = yaml.safe_dump(
            {"object": obj, "person": obj.lower(), "fields": list(fields)}, sort_keys=False
        )
        (directory / f"{obj.lower()}.yaml").write_text(text, encoding="utf-8")
    return directory


def _models(directory: Path, *, conversion: bool = False) -> Path:
    """The repository's intent.yaml with its moment switched on (and lead_conversion.yaml)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = (REPO / "models" / "intent.yaml").read_text(encoding="utf-8")
    (directory / "intent.yaml").write_text(
        text.replace("enabled: false", "enabled: true"), encoding="utf-8"
    )
    if conversion:
        shutil.copy(REPO / "models" / "lead_conversion.yaml", directory / "lead_conversion.yaml")
    return directory


def _settings(org: LocalOrg, server: Running, tmp_path: Path, **kw: bool) -> Settings:
    return localorg_settings(
        org,
        server,
        tmp_path,
        mappings_dir=_mappings(tmp_path / "mappings"),
        models_dir=_models(tmp_path / "models", **kw),
    )


def _event(name: str, email: str, when: datetime, n: int, **props: Any) -> dict[str, Any]:
    return {
        "source": "test",
        "delivery_id": f"{email}-{name}-{when.isoformat()}-{n}",
        "type": "track",
        "name": name,
        "occurred_at": when.astimezone(UTC).isoformat(timespec="milliseconds"),
        "email": email,
        "contact_id": None,
        "lead_id": None,
        "anonymous_id": None,
        "properties": json.dumps(props),
    }


def _hot(email: str, now: datetime) -> list[dict[str, Any]]:
    """A shopper who browsed, added to cart, started checkout and asked for a quote today."""
    names = ["Product Viewed"] * 6 + ["Product Added"] * 4 + ["Checkout Started"] * 3
    names += ["Form Submitted", "Quote Requested", "Email Clicked", "Email Clicked"]
    names += ["Page Viewed"] * 8
    return [
        _event(name, email, now - timedelta(minutes=5 + 7 * i), i) for i, name in enumerate(names)
    ]


@pytest.fixture
def people(org: LocalOrg) -> dict[str, str]:
    account = load_rows(org, "Account", [{"Name": "Acme"}])[0]
    contact = load_rows(
        org, "Contact", [{"LastName": "Warm", "Email": "warm@example.com", "AccountId": account}]
    )[0]
    hot, quiet = load_rows(
        org,
        "Lead",
        [
            {"LastName": "Hot", "Company": "Hot Co", "Email": "hot@example.com"},
            {"LastName": "Quiet", "Company": "Quiet Co", "Email": "quiet@example.com"},
        ],
    )
    return {"contact": contact, "hot": hot, "quiet": quiet}


def _engine_at(engine: SyncEngine, clock: Callable[[], datetime]) -> SyncEngine:
    """The same engine whose compute step believes it is ``clock()`` (time is mocked)."""
    return SyncEngine(
        engine.settings,
        engine.client,
        engine.store,
        engine.mapper,
        clock=clock,
        min_change=engine.min_change,
        scoring=engine.scoring,
    )


def _values(org: LocalOrg, obj: str, record_id: str) -> tuple[Any, Any]:
    rows = org.store.execute(
        f'SELECT "L2L_Intent_Score__c", "L2L_Intent_Reasons__c" FROM "{obj}" WHERE "Id" = ?',
        [record_id],
    )
    return rows[0][0], rows[0][1]


def test_intent_lands_on_leads_and_contacts_decays_and_fires_its_flow_once(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, people: dict[str, str]
) -> None:
    # The Flow as `fields export` wrote it: localorg serves its declared inputs, so an input
    # the moment sends and the Flow does not declare fails the run here as in an org.
    org.store.flows = FlowEngine.from_file(None, REPO / "salesforce")
    # The hot Lead belongs to a rep (the admin user here), not to the integration user.
    org.store.update("Lead", people["hot"], {"OwnerId": org.admin_user_id}, run_flows=False)
    engine = deployed_engine(_settings(org, localorg_server, tmp_path))
    now = datetime.now(UTC)
    store = Store(engine.settings.store_location)
    events = _hot("hot@example.com", now)
    events += [
        _event("Email Opened", "warm@example.com", now - timedelta(days=2), 1),
        _event("Email Clicked", "warm@example.com", now - timedelta(days=2), 2),
        _event("Order Refunded", "warm@example.com", now - timedelta(days=20), 3),
        # a security scanner opening at delivery: ignored
        _event("Email Delivered", "quiet@example.com", now - timedelta(days=1), 4, email_id="m1"),
        _event(
            "Email Opened",
            "quiet@example.com",
            now - timedelta(days=1) + timedelta(seconds=2),
            5,
            email_id="m1",
        ),
        _event("Page Viewed", "quiet@example.com", now - timedelta(days=10), 6),
    ]
    store.events.append(events)

    first = engine.run()
    assert first.status == "succeeded", first.errors
    hot_score, hot_reasons = _values(org, "Lead", people["hot"])
    assert hot_score >= 4.0
    assert hot_reasons.startswith("Checkouts started x3 (last 1d) +")
    warm_score, warm_reasons = _values(org, "Contact", people["contact"])
    assert 0 < warm_score < 2
    assert "Email clicks x1 (last 3d) +" in warm_reasons
    quiet_score, quiet_reasons = _values(org, "Lead", people["quiet"])
    # the visit ten days ago (one half-life) only: the open two seconds after delivery was a machine
    assert quiet_score == pytest.approx(0.1)
    assert quiet_reasons == "Site visits x1 (last 14d) +0.1"
    assert first.models["moments"]["turned_hot"]["fired"] == 1
    runs = org.store.execute('SELECT "FlowName", "RecordId", "Outcome" FROM "FlowInterview"')
    assert runs == [(FLOW, people["hot"], "Finished")]
    # The exported Flow made a Task for the Lead's owner, about the Lead, with the reasons.
    (task,) = org.store.execute('SELECT "Subject", "WhoId", "OwnerId", "Description" FROM "Task"')
    assert task[0] == f"Hot now: intent {hot_score:g} of 5, call or email today"
    assert (task[1], task[2]) == (people["hot"], org.admin_user_id)
    assert hot_reasons in task[3]

    # No new events, no visible decay: nothing is written and the Flow does not fire again.
    second = engine.run()
    assert second.writes["fields_changed"] == 0
    assert second.compute == "skipped"  # nothing it reads changed, the day has not turned
    assert org.store.count("FlowInterview") == 1
    # Computed anyway (an engine that never skips), the same holds: no crossing, no Flow.
    recomputed = _engine_at(engine, lambda: now).run()
    assert recomputed.writes["fields_changed"] == 0
    assert recomputed.models["moments"]["turned_hot"]["fired"] == 0
    assert org.store.count("FlowInterview") == 1

    # Three weeks later without activity the clock's sync lowers every score; the hot Lead
    # cooled below rearm_below, so a new burst fires the Flow again.
    later = now + timedelta(days=21)
    cooled = _engine_at(engine, lambda: later).run()
    assert cooled.writes["fields_changed"] > 0
    assert cooled.models["moments"]["turned_hot"]["rearmed"] == 1
    assert _values(org, "Lead", people["hot"])[0] < 3.0
    assert _values(org, "Contact", people["contact"])[0] < warm_score
    store.events.append(_hot("hot@example.com", later))
    again = _engine_at(engine, lambda: later + timedelta(minutes=1)).run()
    assert again.models["moments"]["turned_hot"]["fired"] == 1
    assert org.store.count("FlowInterview") == 2


def test_the_conversion_gate_holds_and_the_run_says_why(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, people: dict[str, str]
) -> None:
    engine = deployed_engine(_settings(org, localorg_server, tmp_path, conversion=True))
    report = engine.run()
    assert report.status == "succeeded", report.errors
    record = report.models["lead_conversion"]
    assert record["method"].startswith("not written: not enough data in the last 200 days")
    assert record["gate"]["leads_created"] == 2
    rows = org.store.execute('SELECT "L2L_Conversion_Score__c" FROM "Lead"')
    assert all(r[0] is None for r in rows)


def test_lead_frame_reads_behaviour_as_of_each_leads_decision() -> None:
    from connector.sync.intent import CAMPAIGN, fit_columns, lead_frame, load_scoring

    setup = load_scoring(localorg_settings_offline())
    assert setup.intent is not None
    assert setup.conversion is not None
    now = datetime(2026, 6, 1, tzinfo=UTC)
    leads = [
        {
            "Id": "00QA",
            "Email": "a@example.com",
            "IsConverted": 0,
            "ConvertedDate": None,
            "CreatedDate": "2026-01-01T00:00:00.000+00:00",
            "LeadSource": "Web",
        },
        {
            "Id": "00QB",
            "Email": "B@example.com ",
            "IsConverted": 1,
            "ConvertedDate": "2026-03-01",
            "CreatedDate": "2026-01-01T00:00:00.000+00:00",
            "LeadSource": "Partner Referral",
        },
    ]
    rows = [
        _event("Form Submitted", "a@example.com", now - timedelta(days=30), 1, form="pricing"),
        _event("Form Submitted", "a@example.com", now - timedelta(days=2), 2, form="demo"),
        _event("Page Viewed", "b@example.com", datetime(2026, 2, 27, tzinfo=UTC), 3),
        # after B converted: not part of what B did before converting
        _event("Form Submitted", "b@example.com", datetime(2026, 4, 1, tzinfo=UTC), 4, form="x"),
    ]
    import pandas as pd

    frame, numeric, labels = lead_frame(
        pd.DataFrame(leads), pd.DataFrame(rows), now, setup.intent, setup.conversion
    )
    assert frame.loc["00QA", CAMPAIGN] == "pricing"  # the first form, not the latest
    assert frame.loc["00QB", CAMPAIGN] == "(blank)"
    assert frame.loc["00QB", "visits"] == pytest.approx(np.log1p(0.5 ** (2 / 10)))
    assert frame.loc["00QB", "forms"] == 0.0
    assert frame["label"].tolist() == [0, 1]
    assert {"visits", "forms"} <= set(numeric)
    assert labels["forms"] == "Forms submitted"
    assert CAMPAIGN in fit_columns(frame, setup.conversion)


def localorg_settings_offline() -> Settings:
    """Settings that read the repository's models/ (no org needed)."""
    from connector.config import load_settings

    return load_settings(models_dir=REPO / "models")


def test_a_missing_flow_makes_the_run_partial_alerts_and_is_tried_again_next_run(
    org: LocalOrg,
    localorg_server: Running,
    tmp_path: Path,
    people: dict[str, str],
    hook: tuple[str, type[Hook]],
) -> None:
    # The org has no L2L_Intent_Hot: Salesforce answers the Actions API with 404 NOT_FOUND.
    url, handler = hook
    settings = _settings(org, localorg_server, tmp_path).model_copy(
        update={"alert_webhook_url": SecretStr(url)}
    )
    engine = deployed_engine(settings)
    now = datetime.now(UTC)
    Store(engine.settings.store_location).events.append(_hot("hot@example.com", now))

    first = engine.run()
    assert first.status == "partial"
    assert first.writes.failed == 0  # the fields landed; the Flow is what waits
    [line] = [e for e in first.errors if FLOW in e]
    assert "NOT_FOUND" in line
    assert "tried again next run" in line
    assert first.models["moments"]["turned_hot"]["fired"] == 0
    assert first.as_json()["effects"] == {"failed": 1}
    # said at once (an admin's fix), naming the Flow; not only after a second partial run
    assert len(handler.received) == 1
    assert FLOW in handler.received[0]["body"]["text"]

    # The next run tries the call again (once), although nothing it reads changed.
    second = engine.run()
    assert second.compute == "ran"
    assert second.status == "partial"
    assert second.writes["fields_changed"] == 0

    # Once the Flow is deployed (the exported one), the third run fires it, once, and succeeds.
    org.store.flows = FlowEngine.from_file(None, REPO / "salesforce")
    third = engine.run()
    assert third.status == "succeeded", third.errors
    assert third.models["moments"]["turned_hot"]["fired"] == 1
    assert org.store.count("FlowInterview") == 1
    fourth = engine.run()
    assert fourth.status == "succeeded"
    assert org.store.count("FlowInterview") == 1

"""The intent and lead conversion commands end to end: click's runner, settings from L2L_*
variables, a real SQLite store filled as a sync leaves it (records and events)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner, Result

from connector.cli import main
from connector.store import Store
from tests.support import REPO

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _track(n: int, name: str, email: str, when: datetime) -> dict[str, Any]:
    return {
        "source": "test",
        "delivery_id": f"m{n}",
        "type": "track",
        "name": name,
        "occurred_at": _stamp(when),
        "email": email,
        "contact_id": None,
        "lead_id": None,
        "anonymous_id": None,
        "properties": "{}",
    }


@pytest.fixture
def history(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store with 80 Leads and 80 Contacts: the engaged half converts or orders within 30
    days after AS_OF, the rest does not; returns the models folder (a copy of the repo's)."""
    models = tmp_path / "models"
    shutil.copytree(REPO / "models", models)
    monkeypatch.setenv("L2L_MODELS_DIR", str(models))
    rng = np.random.default_rng(5)
    store = Store(env)
    leads, contacts, orders, events = [], [], [], []
    n = 0
    for i in range(80):
        engaged = i % 2 == 0
        email = f"lead{i}@example.com"
        later = AS_OF + timedelta(days=float(rng.uniform(1, 25)))
        leads.append(
            {
                "Id": f"00Q{i:015d}",
                "Email": email,
                "CreatedDate": _stamp(AS_OF - timedelta(days=90)),
                "IsConverted": 1 if engaged else 0,
                "ConvertedDate": later.date().isoformat() if engaged else None,
                "ConvertedContactId": None,
                "LeadSource": "Web" if i % 3 else "Phone Inquiry",
            }
        )
        for k in range(int(rng.integers(4, 9)) if engaged else int(rng.integers(0, 2))):
            name = ["Page Viewed", "Form Submitted", "Email Clicked"][k % 3]
            n += 1
            events.append(_track(n, name, email, AS_OF - timedelta(days=float(rng.uniform(0, 6)))))
    for i in range(80):
        engaged = i % 2 == 0
        cid = f"003{i:015d}"
        email = f"contact{i}@example.com"
        contacts.append(
            {"Id": cid, "Email": email, "AccountId": None, "CreatedDate": "2025-01-01T00:00:00Z"}
        )
        if engaged:
            orders.append(
                {
                    "Id": f"801{i:015d}",
                    "BillToContactId": cid,
                    "EffectiveDate": (AS_OF + timedelta(days=10)).date().isoformat(),
                    "TotalAmount": 50.0,
                }
            )
            for k in range(5):
                n += 1
                name = ["Product Viewed", "Product Added", "Checkout Started"][k % 3]
                when = AS_OF - timedelta(days=float(rng.uniform(0, 4)))
                events.append(_track(n, name, email, when))
        else:
            n += 1
            events.append(_track(n, "Email Opened", email, AS_OF - timedelta(days=60)))
    store.records.upsert("Lead", leads)
    store.records.upsert("Contact", contacts)
    store.records.upsert("Order", orders)
    store.events.append(events)
    return models


def test_evaluate_intent_scores_history_against_summit(history: Path, tmp_path: Path) -> None:
    chart = tmp_path / "intent.png"
    out = _json(
        _cli(
            "evaluate",
            "intent",
            "--as-of",
            "2026-06-01",
            "--horizon-days",
            "30",
            "--json",
            "--png",
            str(chart),
        )
    )
    assert out["as_of"].startswith("2026-06-01")
    for obj in ("Lead", "Contact"):
        part = out[obj]
        assert part["rows"] == 80
        assert part["converted"] == 40
        assert part["intent"]["auc"] > 0.9
        assert part["intent"]["monotonic"]
        assert [b["band"] for b in part["intent"]["bands"]] == ["0-1", "1-2", "2-3", "3-4", "4-5"]
        assert sum(b["rows"] for b in part["intent"]["bands"]) == 80
        assert part["summit"]["auc"] is not None
    assert chart.stat().st_size > 1000
    text = _cli("evaluate", "intent", "--as-of", "2026-06-01")
    assert text.exit_code == 0, text.output
    assert "intent  AUC" in text.output
    assert "summit  AUC" in text.output


def test_fit_intent_writes_suggested_weights_beside_the_models(history: Path) -> None:
    out = _json(_cli("fit", "intent", "--as-of", "2026-06-01", "--json"))
    assert out["people"] == 160
    assert out["converted"] == 80
    suggested = history / "intent.suggested.yaml"
    assert out["written"] == str(suggested)
    by_name = {s["name"]: s for s in out["signals"]}
    assert by_name["forms"]["lift"] > 1.5
    assert by_name["forms"]["suggested_weight"] > 0
    # each suggestion keeps the sign of the configured weight (returns count against)
    assert all(s["suggested_weight"] * s["current_weight"] >= 0 for s in out["signals"])
    assert isinstance(out["warnings"], list)
    text = suggested.read_text(encoding="utf-8")
    assert "# was " in text
    data = yaml.safe_load(text)  # still valid YAML with the same signals
    assert [s["name"] for s in data["signals"]] == list(by_name)
    assert (history / "intent.yaml").read_text(encoding="utf-8") != text  # never overwritten


def test_evaluate_lead_conversion_on_a_csv(env: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = ["Created,Source,Visits,Won"]
    for i in range(300):
        source = ["Web", "Partner", "List"][i % 3]
        visits = int(rng.poisson(3 if source == "Partner" else 1))
        won = rng.random() < (0.6 if source == "Partner" else 0.1) + 0.05 * visits
        rows.append(f"2026-01-{1 + i % 28:02d},{source},{visits},{'yes' if won else 'no'}")
    path = tmp_path / "leads.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = _json(
        _cli(
            "evaluate",
            "lead-conversion",
            "--leads",
            str(path),
            "--label",
            "Won",
            "--time-column",
            "Created",
            "--json",
        )
    )
    assert {"auc", "rows", "positives", "top_factors", "lift_top_decile", "bands"} <= set(out)
    assert out["rows"] == 300
    assert out["auc"] > 0.6
    assert out["top_factors"][0]["feature"].startswith(("Source=", "Visits"))
    folds = _json(
        _cli("evaluate", "lead-conversion", "--leads", str(path), "--label", "Won", "--json")
    )
    assert folds["method"].startswith("stratified 5-fold")


def test_bad_input_is_one_clean_line(env: Path, tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("a,Stage\n1,won\n2,lost\n3,won\n4,lost\n", encoding="utf-8")
    result = _cli("evaluate", "lead-conversion", "--leads", str(path), "--label", "Stage")
    assert result.exit_code == 1
    assert result.output.startswith("Error: label values (lost, won)")
    assert "--positive" in result.output
    assert "Traceback" not in result.output
    empty = _cli("evaluate", "intent")
    assert empty.exit_code == 1
    assert "run a sync first" in empty.output
    missing = _cli(
        "evaluate", "lead-conversion", "--leads", str(tmp_path / "nope.csv"), "--label", "x"
    )
    assert missing.exit_code == 1
    assert "cannot read it as CSV" in missing.output


def test_validate_reports_a_bad_intent_yaml_as_file_line(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "intent.yaml").write_text(
        "signals:\n  - name: carts\n    label: Cart adds\n    events: [Product Added]\n"
        "    weight: 0.5\n    max_points: 0\n    half_life_days: 3\n",
        encoding="utf-8",
    )
    (models / "lead_conversion.yaml").write_text("gate:\n  min_leads: many\n", encoding="utf-8")
    monkeypatch.setenv("L2L_MODELS_DIR", str(models))
    result = _cli("validate", "--offline")
    assert result.exit_code == 1
    assert f"{models / 'intent.yaml'}:6: signals[0].max_points" in result.output
    assert f"{models / 'lead_conversion.yaml'}:2: gate.min_leads" in result.output


@pytest.mark.slow
def test_evaluate_lead_conversion_on_the_synced_leads_reports_both_learners(
    history: Path,
) -> None:
    out = _json(_cli("evaluate", "lead-conversion", "--json"))
    assert set(out["candidates"]) == {"logistic", "gradient_boosting"}
    assert out["model"] in out["candidates"]
    assert out["refused"] == {}  # behaviour counted before each decision: nothing to refuse
    assert {"intent_score", "lead_source_only"} <= set(out["baselines"])
    text = _cli("evaluate", "lead-conversion")
    assert text.exit_code == 0, text.output
    assert "gradient boosting: cross-validated AUC" in text.output
    assert "Traceback" not in text.output


def test_fit_lead_conversion_names_the_learner_the_sync_and_doctor_use(
    history: Path, env: Path
) -> None:
    from connector.config import load_settings
    from connector.doctor import DoctorReport, _check_conversion_model
    from connector.scoring.selection import ConversionScorer
    from connector.sync.intent import MODEL_NAME

    settings = load_settings()
    report = DoctorReport()
    _check_conversion_model(settings, report)
    assert report.checks == []  # nothing fitted yet, nothing to say
    yaml = history / "lead_conversion.yaml"
    text = yaml.read_text(encoding="utf-8")
    text = text.replace("min_leads: 1000", "min_leads: 50").replace(
        "min_converted: 120", "min_converted: 20"
    )
    yaml.write_text(text.replace("window_days: 200", "window_days: 3650"), encoding="utf-8")
    out = _json(_cli("fit", "lead-conversion", "--json"))
    assert out["learner"] in {"logistic", "gradient_boosting"}
    assert set(out["candidates"]) == {"logistic", "gradient_boosting"}
    stored = Store(env).scoring.load_model(MODEL_NAME)
    assert stored is not None
    assert ConversionScorer.from_json(stored.params).learner == out["learner"]
    _check_conversion_model(settings, report)
    [line] = report.checks
    assert line.status == "ok"
    assert line.detail.startswith(out["learner"].replace("_", " ") + " writes the score")
    text = _cli("fit", "lead-conversion")
    assert "learner in use:" in text.output

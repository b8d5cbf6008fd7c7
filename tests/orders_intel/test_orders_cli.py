"""`evaluate risk | fulfilment | recommendations` on CSV exports of the small seed's Orders,
and their one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result

from connector.cli import main
from connector.orders_intel.evaluate import order_person


@pytest.fixture
def files(planted, tmp_path: Path) -> dict[str, Path]:
    orders = planted.frames["Order"]
    out = {"orders": tmp_path / "orders.csv", "lines": tmp_path / "lines.csv"}
    orders.to_csv(out["orders"], index=False)
    buys = orders[orders["IsReductionOrder"] == 0].assign(person=order_person(orders))
    lines = planted.frames["OrderItem"].merge(buys, left_on="OrderId", right_on="Id")
    pd.DataFrame(
        {"person": lines["person"], "item": lines["Product2Id"], "day": lines["EffectiveDate"]}
    ).to_csv(out["lines"], index=False)
    return out


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["evaluate", *args])


def test_evaluate_risk_on_an_order_export(planted, files) -> None:
    frauds = planted.truth / "frauds.csv"
    result = run("risk", "--orders", str(files["orders"]), "--frauds", str(frauds), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["flagged_share"] <= 0.011
    assert out["precision"] >= 0.6
    assert out["recall"] >= 0.6
    text = run("risk", "--orders", str(files["orders"]), "--frauds", str(frauds))
    assert "precision" in text.output


def test_evaluate_fulfilment_and_recommendations(planted, files) -> None:
    changes = planted.truth / "fulfilment.csv"
    result = run("fulfilment", "--orders", str(files["orders"]), "--changes", str(changes))
    assert result.exit_code == 0, result.output
    assert "caught within 3 orders" in result.output
    result = run(
        "recommendations", "--lines", str(files["lines"]), "--cutoff", "2025-09-01", "--json"
    )
    assert result.exit_code == 0, result.output
    by_k = {row["k"]: row for row in json.loads(result.output)["by_k"]}
    assert set(by_k) == {5, 10}
    assert by_k[5]["ratio"] >= 1.5


def test_bad_input_is_one_clear_line(files, tmp_path: Path) -> None:
    missing = run("risk", "--orders", str(tmp_path / "none.csv"), "--label", "Fraud__c")
    assert missing.exit_code != 0
    assert "cannot read it as CSV" in missing.output
    assert "Traceback" not in missing.output
    no_truth = run("risk", "--orders", str(files["orders"]))
    assert no_truth.exit_code != 0
    assert "--frauds FILE.csv or --label COLUMN" in no_truth.output
    wrong = tmp_path / "changes.csv"
    wrong.write_text("who,when\n1,2\n", encoding="utf-8")
    bad = run("fulfilment", "--orders", str(files["orders"]), "--changes", str(wrong))
    assert bad.exit_code != 0
    assert "no column account_id" in bad.output

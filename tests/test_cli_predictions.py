"""`evaluate predictions` on an analyst's own order file: the CDNOW sample, as the paper."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connector.cli import main

CDNOW = Path(__file__).resolve().parent / "fixtures" / "cdnow" / "CDNOW_sample.txt"


def evaluate(orders: Path, calibration_end: str, holdout_end: str, *extra: str) -> Result:
    """`lead2loyalty evaluate predictions --orders ... --calibration-end ... --holdout-end ...`"""
    args = ["evaluate", "predictions", "--orders", str(orders)]
    args += ["--calibration-end", calibration_end, "--holdout-end", holdout_end, *extra]
    return CliRunner().invoke(main, args)


@pytest.fixture
def orders_csv(tmp_path: Path) -> Path:
    """The CDNOW sample as the CSV an analyst would bring: customer_id, ordered_at, amount."""
    out = tmp_path / "orders.csv"
    with CDNOW.open(encoding="utf-8") as src, out.open("w", newline="", encoding="utf-8") as dst:
        writer = csv.writer(dst)
        writer.writerow(["customer_id", "ordered_at", "amount"])
        for line in src:
            _, customer, day, _, amount = line.split()
            writer.writerow([customer, f"{day[:4]}-{day[4:6]}-{day[6:]}", amount])
    return out


def test_evaluate_predictions_json_on_cdnow(orders_csv: Path, tmp_path: Path) -> None:
    plot = tmp_path / "fit.png"
    result = evaluate(
        orders_csv, "1997-09-30", "1998-06-30", "--time-unit", "week", "--json", "--plot", str(plot)
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["customers"] == 2357
    bg = out["models"]["bg_nbd"]
    assert bg["params"]["r"] == pytest.approx(0.243, abs=1e-3)
    assert bg["log_likelihood"] == pytest.approx(-9582.4, abs=0.1)
    assert set(bg["holdout"]) >= {
        "mae",
        "correlation",
        "cumulative_error",
        "auc_buy_again",
        "brier_buy_again",
    }
    assert bg["holdout"]["correlation"] >= 0.62
    assert {"mbg_nbd", "pareto_nbd"} <= set(out["models"])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_predictions_human_output(orders_csv: Path) -> None:
    result = evaluate(orders_csv, "1997-09-30", "1998-06-30")
    assert result.exit_code == 0, result.output
    assert "2,357 customers" in result.output
    assert "pareto_nbd" in result.output


def test_bad_order_file_is_one_clean_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("customer,when\n1,2020-01-01\n", encoding="utf-8")
    result = evaluate(bad, "2020-02-01", "2020-03-01")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "customer_id" in result.output


def test_calibration_must_precede_holdout(orders_csv: Path) -> None:
    result = evaluate(orders_csv, "1998-09-30", "1998-06-30")
    assert result.exit_code == 1
    assert "--calibration-end must be before --holdout-end" in result.output

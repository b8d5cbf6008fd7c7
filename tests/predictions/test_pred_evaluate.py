"""Reading an orders CSV: clean errors that say what is wrong and where."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from connector.predictions.evaluate import evaluate_orders, read_orders_csv


def test_read_orders_csv_ok(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,ordered_at,amount\n"
        "c1,2024-01-01T10:00:00Z,12.5\n"
        "c1,2024-01-05T10:00:00+02:00,3\n"
        "c2,2024-01-02,7\n"
    )
    orders = read_orders_csv(path)
    assert list(orders.columns) == ["customer_id", "ordered_at", "amount"]
    assert str(orders["ordered_at"].dt.tz) == "UTC"
    assert orders["ordered_at"].iloc[1] == pd.Timestamp("2024-01-05T08:00Z")
    assert orders["amount"].tolist() == [12.5, 3.0, 7.0]


def test_read_orders_csv_names_missing_columns(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("customer,ordered_at,total\nc1,2024-01-01,1\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['customer_id', 'amount'\]"):
        read_orders_csv(path)


def test_read_orders_csv_reports_bad_lines(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(
        "customer_id,ordered_at,amount\n"
        "c1,2024-01-01,1\n"
        "c2,not a date,2\n"
        "c3,2024-01-03,abc\n"
        "c4,2024-01-04,4\n"
    )
    with pytest.raises(ValueError, match=r"2 bad row\(s\).*line\(s\) 3, 4$"):
        read_orders_csv(path)


def test_evaluate_report_is_json_ready(cdnow_orders):
    report = evaluate_orders(
        cdnow_orders,
        pd.Timestamp("1997-09-30", tz="UTC"),
        pd.Timestamp("1998-06-30", tz="UTC"),
        models=("mbg_nbd",),
    )
    text = json.dumps(report, allow_nan=False)
    again = json.loads(text)
    holdout = again["models"]["mbg_nbd"]["holdout"]
    assert set(holdout) >= {"mae", "correlation", "cumulative_error", "auc_buy_again",
                            "brier_buy_again", "calibration"}  # fmt: skip
    with pytest.raises(ValueError, match="unknown model"):
        evaluate_orders(cdnow_orders, "1997-09-30T00:00Z", "1998-06-30T00:00Z", models=("x",))

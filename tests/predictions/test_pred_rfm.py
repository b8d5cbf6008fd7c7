"""RFM summary on a tiny hand-computed example."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from connector.predictions import calibration_and_holdout_summary, summary_from_orders


def _orders(rows):
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "ordered_at": pd.to_datetime([r[1] for r in rows], utc=True),
            "amount": [r[2] for r in rows],
        }
    )


ORDERS = _orders(
    [
        # A: first day 2024-01-01 (two orders, merged), repeats on 01-15 and 01-29 (two, merged)
        ("A", "2024-01-01T09:00Z", 10.0),
        ("A", "2024-01-01T18:30Z", 5.0),
        ("A", "2024-01-15T12:00Z", 20.0),
        ("A", "2024-01-29T08:00Z", 30.0),
        ("A", "2024-01-29T23:59Z", 10.0),
        # B: a single order
        ("B", "2024-01-22T10:00Z", 40.0),
        # C: orders after the observation end are ignored
        ("C", "2024-02-20T10:00Z", 99.0),
        ("A", "2024-02-10T10:00Z", 7.0),
    ]
)
END = pd.Timestamp("2024-02-05T12:00Z")


def test_summary_by_hand_in_days():
    s = summary_from_orders(ORDERS, END, time_unit="day")
    assert list(s.index) == ["A", "B"]
    a, b = s.loc["A"], s.loc["B"]
    assert a["frequency"] == 2  # 01-15 and 01-29; same-day orders merged
    assert a["recency"] == 28.0  # 01-29 minus 01-01
    assert a["T"] == 35.0  # 02-05 minus 01-01
    assert a["monetary_value"] == pytest.approx((20.0 + 40.0) / 2)  # first day excluded
    assert a["n_orders"] == 5
    assert a["revenue"] == pytest.approx(75.0)
    assert a["avg_order_value"] == pytest.approx(15.0)
    assert a["avg_days_between_orders"] == pytest.approx(14.0)
    assert a["first_order_date"] == pd.Timestamp("2024-01-01", tz="UTC")
    assert a["last_order_date"] == pd.Timestamp("2024-01-29", tz="UTC")
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0, 14.0, 0)
    assert np.isnan(b["avg_days_between_orders"])


def test_summary_in_weeks():
    s = summary_from_orders(ORDERS, END, time_unit="week")
    assert s.loc["A", "recency"] == pytest.approx(4.0)
    assert s.loc["A", "T"] == pytest.approx(5.0)


def test_calibration_holdout_split():
    s = calibration_and_holdout_summary(ORDERS, END, pd.Timestamp("2024-03-04T00:00Z"), "day")
    assert list(s.index) == ["A", "B"]  # C's first order is in the holdout: excluded
    assert s.loc["A", "holdout_frequency"] == 1
    assert s.loc["A", "holdout_revenue"] == pytest.approx(7.0)
    assert s.loc["B", "holdout_frequency"] == 0
    assert s.loc["A", "holdout_duration"] == 28.0


def test_naive_times_and_missing_columns_rejected():
    naive = ORDERS.assign(ordered_at=ORDERS["ordered_at"].dt.tz_localize(None))
    with pytest.raises(ValueError, match="tz-aware"):
        summary_from_orders(naive, END)
    with pytest.raises(ValueError, match=r"\['amount'\]"):
        summary_from_orders(ORDERS.drop(columns="amount"), END)
    with pytest.raises(ValueError, match="time_unit"):
        summary_from_orders(ORDERS, END, time_unit="month")  # type: ignore[arg-type]

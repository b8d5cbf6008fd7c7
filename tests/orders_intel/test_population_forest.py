"""A real-time pass scores orders against the last full run's stored population: the forest
fitted on it is kept between passes (seeded, so the same forest), and a new population fits a
new one. Pure: no store, no org."""

from __future__ import annotations

import numpy as np
import pandas as pd

from connector.orders_intel import risk
from connector.sync import orders_intel


def _population(seed: int, rows: int = 300) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "Id": [f"801{i:012d}" for i in range(rows)],
            "person": [f"003{i % 40:012d}" for i in range(rows)],
            "when": pd.date_range("2026-01-01", periods=rows, freq="h").astype(str),
            "TotalAmount": rng.gamma(2.0, 40.0, rows).round(2),
            "IsReductionOrder": False,
        }
    )
    features = risk.order_features(frame)
    return {"features": features.to_numpy().round(6).tolist(), "columns": list(features.columns)}


def _orders(amounts: list[float]) -> pd.DataFrame:
    n = len(amounts)
    return pd.DataFrame(
        {
            "Id": [f"801999{i:09d}" for i in range(n)],
            "person": ["003000000000001"] * n,
            "when": pd.date_range("2026-03-01", periods=n, freq="D").astype(str),
            "TotalAmount": amounts,
            "IsReductionOrder": False,
        }
    )


def test_passes_against_one_population_fit_its_forest_once_with_the_same_scores() -> None:
    cfg = risk.RiskConfig()
    population = _population(1)
    orders = _orders([35.0, 80.0, 5000.0])
    first = orders_intel._score_against(orders, population, cfg)
    kept = orders_intel._population_forest(np.asarray(population["features"], float), cfg)
    second = orders_intel._score_against(orders, population, cfg)
    again = orders_intel._population_forest(np.asarray(population["features"], float), cfg)
    assert again[0] is kept[0]  # the same fitted forest, not a second fit
    pd.testing.assert_frame_equal(first, second)
    assert second["score"].iloc[2] > second["score"].iloc[0]  # the outlier stands out
    # what an unkept, fresh fit says: the kept forest changes no score
    orders_intel._FORESTS.clear()
    pd.testing.assert_frame_equal(orders_intel._score_against(orders, population, cfg), first)


def test_a_new_population_fits_a_new_forest() -> None:
    cfg = risk.RiskConfig()
    one, other = _population(1), _population(2)
    a = orders_intel._population_forest(np.asarray(one["features"], float), cfg)
    b = orders_intel._population_forest(np.asarray(other["features"], float), cfg)
    assert b[0] is not a[0]
    assert not np.array_equal(a[1], b[1])
    assert len(orders_intel._FORESTS) == 1  # the old one is let go

"""Order risk: the IsolationForest finds the small seed's planted frauds, scores do not look
ahead, reasons say what stands out, and labels turn the model supervised."""

from __future__ import annotations

import numpy as np
import pandas as pd

from connector.orders_intel.evaluate import risk_figures, risk_input
from connector.orders_intel.risk import RiskConfig, order_features, score_orders


def test_planted_frauds_are_found_at_the_flagged_share(planted) -> None:
    orders = planted.frames["Order"]
    result = score_orders(risk_input(orders), RiskConfig())
    frauds = planted.csv("frauds.csv")["order_id"]
    flagged = result.scores.index[result.scores["flagged"]]
    figures = risk_figures(flagged, frauds, len(result.scores))
    assert result.method == "isolation_forest"
    assert figures["flagged_share"] <= 0.011
    # the planted patterns (6-12x the usual amount shipped abroad, bursts) stand apart
    assert figures["recall"] >= 0.6, figures
    assert figures["precision"] >= 0.6, figures
    takeover = planted.csv("frauds.csv").query("pattern == 'takeover'")["order_id"]
    reasons = result.scores.loc[takeover, "reasons"]
    assert reasons.str.contains("shipping country differs").mean() > 0.8
    assert reasons.str.contains("this customer's usual").mean() > 0.8


def _orders(amounts: list[float], hours: list[float]) -> pd.DataFrame:
    start = pd.Timestamp("2025-01-01", tz="UTC")
    return pd.DataFrame(
        {
            "Id": [f"o{i}" for i in range(len(amounts))],
            "person": "c1",
            "when": [start + pd.Timedelta(hours=h) for h in hours],
            "TotalAmount": amounts,
        }
    )


def test_features_use_only_earlier_orders() -> None:
    base = _orders([50, 50, 500], [0, 100, 200])
    later = pd.concat([base, _orders([5000], [300]).assign(Id="o9")])
    a, b = order_features(base), order_features(later)
    # a later order changes nothing of what is known of the customer before it (the shop's
    # median is a population figure, refitted with every order)
    own = ["amount_vs_person", "velocity", "refund_share", "new_domain"]
    pd.testing.assert_frame_equal(a[own], b.loc[a.index, own])
    assert b.loc["o2", "amount_vs_person"] == np.log(500) - np.log(50)
    assert b.loc["o0", "amount_vs_person"] == 0.0


def test_velocity_counts_the_24_hours_before() -> None:
    features = order_features(_orders([10, 10, 10, 10], [0, 1, 2, 30]))
    assert features["velocity"].tolist() == [0, 1, 2, 0]


def test_labels_turn_the_model_supervised() -> None:
    rng = np.random.default_rng(5)
    n = 400
    orders = pd.DataFrame(
        {
            "Id": [f"o{i}" for i in range(n)],
            "person": [f"c{i % 100}" for i in range(n)],
            "when": pd.Timestamp("2025-01-01", tz="UTC")
            + pd.to_timedelta(np.arange(n) * 7, unit="h"),
            "TotalAmount": rng.lognormal(4, 0.3, n),
            "BillingCountry": "US",
            "ShippingCountry": np.where(np.arange(n) % 10 == 0, "DE", "US"),
        }
    )
    # the admin's label: a foreign shipment is a chargeback here, whatever the amount
    orders["label"] = (orders["ShippingCountry"] == "DE").astype(int)
    result = score_orders(orders, RiskConfig(threshold=90))
    assert result.method == "supervised"
    flagged = result.scores["flagged"]
    assert set(flagged[flagged].index) <= set(orders.loc[orders["label"] == 1, "Id"])
    unsupervised = score_orders(orders.drop(columns="label"), RiskConfig(threshold=90))
    assert unsupervised.method == "isolation_forest"


def test_too_few_orders_score_nothing() -> None:
    orders = _orders([10.0] * 50, [24.0 * i for i in range(50)])
    result = score_orders(orders, RiskConfig())
    assert result.scores.empty
    assert result.method == "none: 50 orders, fewer than 200"

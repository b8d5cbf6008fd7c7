"""The learned buy-again layer: better ranked and calibrated than BTYD on the CDNOW holdout,
trained only on what was known before the calibration end, persisted as JSON."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from connector.predictions import BetaGeoFitter, calibration_and_holdout_summary
from connector.predictions.evaluate import evaluate_orders
from connector.predictions.learned import BuyAgainModel

CAL_END = pd.Timestamp("1997-09-30", tz="UTC")
HOLDOUT_END = pd.Timestamp("1998-06-30", tz="UTC")


@pytest.fixture(scope="module")
def cdnow_report(cdnow_orders):
    return evaluate_orders(cdnow_orders, CAL_END, HOLDOUT_END, models=("bg_nbd",))


def test_learned_layer_ranks_and_calibrates_the_cdnow_holdout(cdnow_report):
    bg = cdnow_report["models"]["bg_nbd"]
    learned = bg["learned"]
    assert learned["method"] == "learned"
    # the BTYD figures beside it are the model's own, unchanged by the layer
    assert bg["holdout"]["auc_buy_again"] == pytest.approx(0.757, abs=0.001)
    assert learned["auc_buy_again"] >= 0.78
    assert learned["brier_buy_again"] < bg["holdout"]["brier_buy_again"]
    table = learned["calibration"]
    assert sum(row["n"] for row in table) == 2357
    gaps = [abs(row["mean_predicted"] - row["share_bought"]) for row in table]
    # issue 22 asks for every decile within 0.03. Measured (scikit-learn 1.9.1, numpy 2.4.6):
    # worst gap 0.0291 (the first decile), AUC 0.7819. Isotonic calibration on the same
    # out-of-fold scores (0.157: it predicts 0 for the lowest deciles once steps are chained),
    # beta calibration (0.035), Platt fitted on the later window from a model of the earlier
    # one (0.054) and denser back-shifted cuts (0.042-0.118) were all worse, so Platt stays.
    assert max(gaps) <= 0.03
    # trained on back-shifted windows that end by the calibration end, never after it
    assert all(pd.Timestamp(c) < CAL_END for c in learned["training_cuts"])


def test_orders_after_the_cut_do_not_change_what_the_layer_learns(cdnow_orders):
    before = BuyAgainModel().fit(cdnow_orders, CAL_END)
    # a flood of planted orders after the calibration end (the holdout's answer)
    late = cdnow_orders[cdnow_orders["ordered_at"] > CAL_END]
    planted = pd.concat([cdnow_orders, late, late], ignore_index=True)
    after = BuyAgainModel().fit(planted, CAL_END)
    np.testing.assert_allclose(after.coef_, before.coef_)
    assert after.platt_ == pytest.approx(before.platt_)


def test_layer_round_trips_through_json(cdnow_orders):
    layer = BuyAgainModel().fit(cdnow_orders, CAL_END)
    again = BuyAgainModel.from_json(layer.to_json())
    summary = calibration_and_holdout_summary(cdnow_orders, CAL_END, HOLDOUT_END)
    model = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    ours = layer.apply(model, summary, (30.0, 90.0, 273.0))
    theirs = again.apply(model, summary, (30.0, 90.0, 273.0))
    for horizon in ours:
        np.testing.assert_allclose(theirs[horizon], ours[horizon])
    # longer horizons are at least as likely to hold an order
    assert np.all(ours[30.0] <= ours[90.0])
    assert np.all(ours[90.0] <= ours[273.0])


def test_short_history_falls_back_to_btyd_with_the_reason(cdnow_orders):
    early = pd.Timestamp("1997-03-15", tz="UTC")
    layer = BuyAgainModel().fit(cdnow_orders, early)
    assert not layer.fitted
    assert "using BTYD alone" in (layer.fallback_reason_ or "")
    assert BuyAgainModel.from_json(layer.to_json()).fallback_reason_ == layer.fallback_reason_

"""Per-person outputs, gating, segments, channel and send-hour choice, configuration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from connector.predictions import (
    PredictionsConfig,
    best_channel,
    best_send_hour,
    gate,
    org_summary,
    predict_people,
    segment,
    summary_from_orders,
)
from connector.predictions.outputs import SEGMENT_NAMES, Population

NOW = pd.Timestamp("1997-09-30T12:00Z")
REPO = Path(__file__).resolve().parents[2]
COLUMNS = {
    "historic_clv", "predicted_clv", "p_buy_30d", "p_buy_90d", "churn_risk",
    "expected_next_order_date", "next_order_probability", "avg_days_between_orders",
    "avg_order_value", "order_count", "revenue", "last_order_date", "days_since_last_order",
    "segment", "segment_name", "method",
}  # fmt: skip


@pytest.fixture(scope="module")
def people(cdnow_orders):
    # the transaction model alone, churn over a fixed 90 days (the learned defaults are below)
    config = PredictionsConfig(
        max_days_since_last_order=None, buy_again="btyd", churn_horizon_days=90
    )
    return predict_people(cdnow_orders, NOW, config)


@pytest.fixture(scope="module")
def learned_people(cdnow_orders):
    return predict_people(cdnow_orders, NOW, PredictionsConfig(max_days_since_last_order=None))


def test_default_predictions_use_the_learned_layer_and_a_learned_churn_horizon(learned_people):
    people = learned_people
    assert (people["method"] == "learned").all()
    for col in ("p_buy_30d", "p_buy_90d", "churn_risk", "next_order_probability"):
        assert people[col].between(0, 1).all(), col
    assert (people["p_buy_90d"] >= people["p_buy_30d"]).all()
    # the 90th percentile of CDNOW's gaps between repeat purchase days, not a fixed 90
    horizon = float(people["churn_horizon_days"].iloc[0])
    assert 90.0 < horizon <= 730.0
    assert people.loc[1, "p_buy_90d"] > people.loc[3, "p_buy_90d"]


def test_churn_is_not_a_function_of_the_90_day_probability(learned_people):
    people = learned_people
    churn = people["churn_risk"].to_numpy()
    p90 = people["p_buy_90d"].to_numpy()
    # it differs from 1 - P(buy in 90 days) for most people...
    assert np.mean(np.abs(churn - (1.0 - p90)) > 0.01) > 0.5
    # ...and is not any function of it either: people with nearly the same 90-day
    # probability (the same 0.01 bin) carry churn risks far apart
    bins = pd.Series(churn).groupby(np.floor(p90 * 100)).agg(lambda v: v.max() - v.min())
    assert bins.max() > 0.05


@pytest.mark.parametrize("fixture", ["learned_people", "people"])
def test_a_frozen_population_gives_a_few_people_their_whole_population_values(
    request, cdnow_orders, fixture
):
    """Issue 22 item 4: a run of some people predicts them against the population learnt by the
    day's whole run (its models, learned layer, churn horizon and segment edges, through the
    JSON the engine stores), so each gets exactly the values the whole run gave them."""
    whole = request.getfixturevalue(fixture)
    config = (
        PredictionsConfig(max_days_since_last_order=None)
        if fixture == "learned_people"
        else PredictionsConfig(
            max_days_since_last_order=None, buy_again="btyd", churn_horizon_days=90
        )
    )
    frozen = Population.from_json(whole.attrs["population"].to_json())
    assert frozen == whole.attrs["population"]
    few = [1, 3, 7, 50, 333, 1000, 2357]
    part = predict_people(
        cdnow_orders[cdnow_orders["customer_id"].isin(few)], NOW, config, population=frozen
    )
    # seven people alone would fail the gate (heuristic): the frozen population decides
    assert (
        not predict_people(cdnow_orders[cdnow_orders["customer_id"].isin(few)], NOW, config)[
            "method"
        ]
        .eq(whole.loc[few, "method"])
        .any()
    )
    pd.testing.assert_frame_equal(part, whole.loc[few], check_exact=True)
    assert part.attrs["population"] == frozen


def test_predict_people_btyd_on_cdnow(people):
    assert set(people.columns) >= COLUMNS
    assert len(people) == 2357
    assert (people["method"] == "btyd").all()
    for col in ("p_buy_30d", "p_buy_90d", "churn_risk", "next_order_probability"):
        assert people[col].between(0, 1).all(), col
    assert (people["p_buy_90d"] >= people["p_buy_30d"]).all()
    np.testing.assert_allclose(people["churn_risk"], 1 - people["p_buy_90d"])  # 90-day default
    assert (people["predicted_clv"] >= 0).all()
    assert (people["expected_next_order_date"] >= NOW.floor("D")).all()
    assert people.loc[1, "order_count"] == 3
    assert people.loc[1, "days_since_last_order"] == 59  # whole days: as of the day's start
    # a recent frequent buyer outranks a lapsed one-time buyer
    assert people.loc[1, "p_buy_90d"] > people.loc[3, "p_buy_90d"]
    assert people.loc[1, "predicted_clv"] > people.loc[3, "predicted_clv"]


def test_org_summary(people):
    org = org_summary(people, NOW)
    assert org["customers"] == 2357
    assert org["avg_order_value"] == pytest.approx(people["revenue"].sum() / 4960, rel=0.2)
    assert org["avg_predicted_clv"] == pytest.approx(people["predicted_clv"].mean())
    assert 0 < org["repeat_rate"] < 1
    assert org["purchase_frequency_per_year"] > 0


def test_gate_falls_back_and_says_why(cdnow_orders):
    tiny = cdnow_orders[cdnow_orders["customer_id"] <= 40]
    config = PredictionsConfig()
    result = gate(summary_from_orders(tiny, NOW), config, NOW)
    assert not result.ok
    assert any("buyers < 500" in reason for reason in result.reasons)
    out = predict_people(tiny, NOW, config)
    assert out["method"].str.startswith("heuristic: ").all()
    assert "buyers < 500" in out["method"].iloc[0]
    for col in ("p_buy_30d", "p_buy_90d", "churn_risk"):
        assert out[col].between(0, 1).all()
    assert out["predicted_clv"].ge(0).all()


def test_gate_passes_on_cdnow_and_checks_recency(cdnow_orders):
    summary = summary_from_orders(cdnow_orders, NOW)
    assert gate(summary, PredictionsConfig(), NOW).ok
    late = gate(summary, PredictionsConfig(), NOW + pd.Timedelta(days=400))
    assert not late.ok
    assert "last order" in late.method


def test_segments_cover_sixteen_labelled_cells():
    rng = np.random.default_rng(3)
    seg = segment(rng.uniform(size=4000), rng.uniform(size=4000))
    assert seg["segment"].nunique() == 16
    assert seg["segment_name"].notna().all()
    assert len(set(SEGMENT_NAMES.values())) == 16
    assert set(seg["segment"]) == {f"P{p}-C{c}" for p in range(1, 5) for c in range(1, 5)}
    high = segment([0.1, 0.2, 0.3, 0.9], [0.9, 0.8, 0.7, 0.05])
    assert high.loc[3, "segment"] == "P4-C1"
    assert high.loc[3, "segment_name"] == "Champions"


def test_best_channel_shrinks_toward_org_rate():
    rows = []
    # org: email converts 10%, sms 30%
    for i in range(200):
        rows.append(("org", "email", i % 10 == 0))
        rows.append(("org", "sms", i % 10 < 3))
    rows += [("lucky", "email", True)]  # one email, converted
    rows += [("emailer", "email", j < 12) for j in range(20)]  # 60% on email over 20 sends
    rows += [("emailer", "sms", False) for _ in range(5)]
    events = pd.DataFrame(rows, columns=["person_id", "channel", "converted"])
    out = best_channel(events, prior_strength=20.0)
    # one lucky email conversion does not beat the org's better sms channel
    assert out.loc["lucky", "best_channel"] == "sms"
    assert out.loc["lucky", "best_channel_sends"] == 0
    assert out.loc["emailer", "best_channel"] == "email"
    org_email = (20 + 1 + 12) / (200 + 1 + 20)  # the org rate counts everyone's sends
    assert out.loc["emailer", "best_channel_rate"] == pytest.approx((12 + 20 * org_email) / 40)


def test_best_send_hour_with_fallback():
    base = pd.Timestamp("2024-01-01T00:00Z")  # a Monday
    rows = [("org", base + pd.Timedelta(hours=10)) for _ in range(50)]  # Monday 10:00
    rows += [("nightowl", base + pd.Timedelta(days=2, hours=22)) for _ in range(8)]  # Wed 22:00
    rows += [("thin", base + pd.Timedelta(days=4, hours=7)) for _ in range(2)]
    events = pd.DataFrame(rows, columns=["person_id", "occurred_at"])
    out = best_send_hour(events, prior_strength=5.0, min_events=5)
    assert out.loc["nightowl", "best_hour_of_week"] == 2 * 24 + 22
    assert (out.loc["nightowl", "best_weekday"], out.loc["nightowl", "best_hour"]) == (2, 22)
    assert out.loc["nightowl", "method"] == "personal"
    assert out.loc["thin", "best_hour_of_week"] == 10
    assert out.loc["thin", "method"] == "org_fallback"


def test_example_yaml_validates():
    data = yaml.safe_load((REPO / "models" / "predictions.yaml").read_text())
    config = PredictionsConfig.model_validate(data)
    assert config.model == "bg_nbd"
    assert config.horizon_months == 12


def test_config_rejects_bad_values_all_at_once():
    with pytest.raises(ValidationError) as info:
        PredictionsConfig.model_validate({"model": "lifetimes", "margin": 2, "typo": 1})
    assert info.value.error_count() == 3
    assert all(f.description for f in PredictionsConfig.model_fields.values())


def test_predictions_do_not_depend_on_time_unit(cdnow_orders, people):
    # the transaction model's probabilities (the learned layer's log features are in the unit)
    config = PredictionsConfig(
        time_unit="day", max_days_since_last_order=None, buy_again="btyd", churn_horizon_days=90
    )
    daily = predict_people(cdnow_orders, NOW, config)
    for col in ("p_buy_30d", "p_buy_90d", "churn_risk", "predicted_clv"):
        np.testing.assert_allclose(daily[col], people[col], rtol=2e-3, atol=1e-4, err_msg=col)


@pytest.mark.parametrize("customers", [2357, 40], ids=["btyd", "heuristic"])
def test_predictions_hold_still_within_a_day(cdnow_orders, customers):
    """Reruns within a day must not rewrite fields: no output may move with the clock time."""
    orders = cdnow_orders[cdnow_orders["customer_id"] <= customers]
    config = PredictionsConfig(max_days_since_last_order=None)
    morning = predict_people(orders, pd.Timestamp("1997-09-30T00:00:01Z"), config)
    evening = predict_people(orders, pd.Timestamp("1997-09-30T23:59:59Z"), config)
    pd.testing.assert_frame_equal(morning, evening)
    tomorrow = predict_people(orders, pd.Timestamp("1997-10-01T00:00:01Z"), config)
    assert (tomorrow["p_buy_90d"] != evening["p_buy_90d"]).any()  # the day does move them


def test_an_order_placed_today_counts(cdnow_orders):
    """Predictions are as of the day's start, but today's orders are not left out."""
    orders = cdnow_orders[cdnow_orders["customer_id"] <= 40]
    newcomer = pd.DataFrame(
        {"customer_id": [99_999], "ordered_at": [pd.Timestamp("1997-09-30T08:00Z")], "amount": [25]}
    )
    now = pd.Timestamp("1997-09-30T09:30Z")
    out = predict_people(pd.concat([orders, newcomer], ignore_index=True), now, PredictionsConfig())
    assert out.loc[99_999, "order_count"] == 1
    assert out.loc[99_999, "days_since_last_order"] == 0
    assert out["p_buy_90d"].notna().all()

"""Score the prediction models against a synthetic store whose truth is known.

``localorg.seed`` writes a store whose customers follow BG/NBD and Gamma-Gamma with known
parameters, prefer one channel and one hour of the week, and keep buying (or not) in a holdout
window after ``now``. The helpers here turn its rows and events into the models' inputs and
compare what the models say with that truth: parameter recovery, holdout AUC / Brier /
calibration, and best-channel / best-send-hour accuracy against chance and fallback baselines.

Pure: rows, lines and DataFrames in, DataFrames and dicts out. The caller generates the store,
opens the files and prints; nothing here imports localorg.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

from connector.events.names import CLICK_CHANNEL
from connector.events.names import ENGAGEMENT_EVENTS as ENGAGEMENT_NAMES
from connector.predictions.btyd import BetaGeoFitter
from connector.predictions.config import PredictionsConfig
from connector.predictions.gamma_gamma import GammaGammaFitter
from connector.predictions.outputs import (
    attribute_clicks,
    best_channel,
    best_send_hour,
    predict_people,
)
from connector.predictions.rfm import summary_from_orders

FloatArray = npt.NDArray[np.float64]

#: Click events of marketing sends and the channel each one belongs to (the event catalog's).
CLICK_EVENTS: dict[str, str] = CLICK_CHANNEL
#: Events that say when a person reads marketing (the input of the best send hour).
ENGAGEMENT_EVENTS = frozenset(ENGAGEMENT_NAMES)
#: Lead-nurture sends: they happen before someone is a customer, so they are not customer
#: marketing and would credit email with the first order that follows a lead's conversion.
NURTURE_CAMPAIGNS = frozenset({"cmp-nurture"})
HOURS_PER_WEEK = 168

Batch = tuple[str, list[dict[str, Any]]]


def orders_from_batches(batches: Iterable[Batch]) -> pd.DataFrame:
    """Orders table (customer_id, ordered_at, amount, is_reduction) from seed/Salesforce rows.

    The customer is BillToContactId, else ShipToContactId, else CustomerAuthorizedById, else the
    PersonContactId of the order's Account. ``ordered_at`` is ActivatedDate (EffectiveDate when
    missing). Rows of other objects are ignored, so a whole ``generate`` stream can be passed.
    """
    person_of: dict[str, str] = {}
    customer: list[str | None] = []
    account: list[str | None] = []
    when: list[str | None] = []
    amount: list[float] = []
    reduction: list[bool] = []
    for obj, rows in batches:
        if obj == "Account":
            person_of.update(
                (str(r["Id"]), str(r["PersonContactId"])) for r in rows if r.get("PersonContactId")
            )
        elif obj == "Order":
            for r in rows:
                named = (
                    r.get("BillToContactId")
                    or r.get("ShipToContactId")
                    or r.get("CustomerAuthorizedById")
                )
                customer.append(None if named is None else str(named))
                account.append(None if r.get("AccountId") is None else str(r["AccountId"]))
                stamp = r.get("ActivatedDate") or r.get("EffectiveDate")
                when.append(None if stamp is None else str(stamp))
                amount.append(float(r.get("TotalAmount") or 0.0))
                reduction.append(bool(int(r.get("IsReductionOrder") or 0)))
    # resolution after the loop: Account rows may come after the Orders naming them
    resolved = [
        c if c is not None else (person_of.get(a) if a is not None else None)
        for c, a in zip(customer, account, strict=True)
    ]
    out = pd.DataFrame(
        {
            "customer_id": pd.Series(resolved, dtype=object),
            "ordered_at": pd.to_datetime(pd.Series(when, dtype=object), utc=True, format="ISO8601"),
            "amount": np.asarray(amount, dtype=np.float64),
            "is_reduction": np.asarray(reduction, dtype=bool),
        }
    )
    return out[out["customer_id"].notna() & out["ordered_at"].notna()].reset_index(drop=True)


def engagement_events(
    lines: Iterable[str], skip_campaigns: frozenset[str] = NURTURE_CAMPAIGNS
) -> pd.DataFrame:
    """Marketing engagement events (email, event, channel, occurred_at) from Segment JSON lines.

    Only track events named in :data:`ENGAGEMENT_EVENTS` that carry ``context.traits.email``
    are kept (emails trimmed and lower-cased); campaigns in ``skip_campaigns`` are dropped.
    A cheap substring test skips every other line before it is parsed, so a 400 MB file streams
    in seconds.
    """
    needles = tuple(f'"event":"{name}"' for name in ENGAGEMENT_EVENTS)
    emails: list[str] = []
    names: list[str] = []
    channels: list[str] = []
    stamps: list[str] = []
    for line in lines:
        if not any(n in line for n in needles):
            continue
        msg = json.loads(line)
        if msg.get("type") != "track" or msg.get("event") not in ENGAGEMENT_EVENTS:
            continue
        email = ((msg.get("context") or {}).get("traits") or {}).get("email")
        props = msg.get("properties") or {}
        if not email or props.get("campaign_id") in skip_campaigns:
            continue
        emails.append(str(email).strip().lower())
        names.append(str(msg["event"]))
        channels.append(str(props.get("channel", "")))
        stamps.append(str(msg["timestamp"]))
    return pd.DataFrame(
        {
            "email": pd.Series(emails, dtype=object),
            "event": pd.Series(names, dtype=object),
            "channel": pd.Series(channels, dtype=object),
            "occurred_at": pd.to_datetime(
                pd.Series(stamps, dtype=object), utc=True, format="ISO8601"
            ),
        }
    )


def circular_distance(a: npt.ArrayLike, b: npt.ArrayLike, period: int = HOURS_PER_WEEK) -> Any:
    """Distance between hours of the week on the circle (167 and 0 are 1 hour apart)."""
    d = np.abs(np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64)) % period
    return np.minimum(d, period - d)


def relative_errors(fitted: Mapping[str, float], truth: Mapping[str, float]) -> dict[str, float]:
    """(fitted - truth) / truth for every parameter in ``truth``."""
    return {k: (float(fitted[k]) - float(v)) / float(v) for k, v in truth.items()}


def decile_calibration(prob: npt.ArrayLike, outcome: npt.ArrayLike) -> pd.DataFrame:
    """Mean predicted probability vs observed share, by decile of the prediction."""
    frame = pd.DataFrame(
        {"p": np.asarray(prob, dtype=np.float64), "y": np.asarray(outcome, dtype=np.float64)}
    )
    frame["decile"] = pd.qcut(frame["p"].rank(method="first"), 10, labels=False) + 1
    return frame.groupby("decile").agg(
        n=("y", "size"), mean_predicted=("p", "mean"), observed=("y", "mean")
    )


def _corr(a: FloatArray, b: FloatArray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def score_transactions(
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Fit BG/NBD and Gamma-Gamma in days and score them against the seed's truth.

    ``customers`` is truth/customers.csv, ``params`` truth/params.json. Returns fitted and true
    parameters with relative errors, the same fit on the truth's continuous-time (x, t_x, T)
    (separates the model from the day rounding of real order data), and holdout metrics of the
    shipped :func:`predict_people` probability of an order within ``holdout_days``.
    """
    now = pd.Timestamp(str(params["now"]).replace(".000+0000", "+00:00")).tz_convert("UTC")
    holdout = float(params["holdout_days"])
    purchases = orders.loc[~orders["is_reduction"], ["customer_id", "ordered_at", "amount"]]
    summary = summary_from_orders(purchases, now, "day")
    bg = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    repeat = summary["frequency"] > 0
    gg = GammaGammaFitter().fit(
        summary.loc[repeat, "frequency"], summary.loc[repeat, "monetary_value"]
    )
    exact = BetaGeoFitter().fit(
        customers["frequency"], customers["recency_days"], customers["T_days"]
    )
    true_bg = {k: float(v) for k, v in params["bgnbd"].items()}
    true_gg = {k: float(v) for k, v in params["gamma_gamma"].items()}

    cfg = PredictionsConfig(time_unit="day", next_order_window_days=round(holdout))
    people = predict_people(purchases, now, cfg)
    truth = customers.set_index("contact_id").reindex(summary.index)
    x = summary["frequency"].to_numpy(np.float64)
    t_x = summary["recency"].to_numpy(np.float64)
    age = summary["T"].to_numpy(np.float64)
    prob = people["next_order_probability"].reindex(summary.index).to_numpy(np.float64)
    expected = bg.conditional_expected_number_of_purchases_up_to_time(holdout, x, t_x, age)
    actual = truth["n_orders_holdout"].to_numpy(np.float64)
    true_expected = truth["expected_holdout"].to_numpy(np.float64)
    bought = (actual > 0).astype(np.float64)
    # the same metrics with the true parameters: the best a fitted population model can do
    oracle = BetaGeoFitter.from_params(**true_bg)
    oracle_prob = oracle.probability_of_purchase_within(holdout, x, t_x, age)
    return {
        "customers": len(summary),
        "orders": len(purchases),
        "same_day_merged_share": float(np.mean(x != truth["frequency"].to_numpy(np.float64))),
        "bgnbd": {
            "truth": true_bg,
            "fitted": bg.params_,
            "rel_error": relative_errors(bg.params_, true_bg),
            "fitted_on_exact_rft": exact.params_,
            "rel_error_exact_rft": relative_errors(exact.params_, true_bg),
        },
        "gamma_gamma": {
            "truth": true_gg,
            "fitted": gg.params_,
            "rel_error": relative_errors(gg.params_, true_gg),
            "repeat_buyers": int(repeat.sum()),
            "true_mean_spend": true_gg["p"] * true_gg["gamma"] / (true_gg["q"] - 1.0),
            "fitted_mean_spend": gg.params_["p"] * gg.params_["gamma"] / (gg.params_["q"] - 1.0),
        },
        "holdout": {
            "days": holdout,
            "method": str(people["method"].iloc[0]),
            "base_rate": float(bought.mean()),
            "auc": float(roc_auc_score(bought, prob)),
            "brier": float(brier_score_loss(bought, prob)),
            "brier_base_rate": float(np.mean((bought - bought.mean()) ** 2)),
            "auc_true_params": float(roc_auc_score(bought, oracle_prob)),
            "brier_true_params": float(brier_score_loss(bought, oracle_prob)),
            "mean_predicted": float(prob.mean()),
            "calibration": decile_calibration(prob, bought),
            "corr_expected_vs_true_expected": _corr(expected, true_expected),
            "mae_expected_vs_true_expected": float(np.mean(np.abs(expected - true_expected))),
            "corr_expected_vs_actual": _corr(expected, actual),
            "mae_expected_vs_actual": float(np.mean(np.abs(expected - actual))),
            "total_expected": float(expected.sum()),
            "total_true_expected": float(true_expected.sum()),
            "total_actual": float(actual.sum()),
        },
    }


def score_channels_and_hours(
    events: pd.DataFrame,
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    config: PredictionsConfig | None = None,
    min_clicks: int = 5,
    hour_tolerance: int = 2,
) -> dict[str, Any]:
    """Best channel and best send hour against each customer's true preferences.

    ``events`` comes from :func:`engagement_events`; people are matched on their canonical
    email. Clicks are attributed as the sync attributes them (:func:`attribute_clicks`).
    Channel accuracy is over people with at least ``min_clicks`` attributed clicks, against
    always guessing the most common true channel; hour accuracy is the share within
    ``hour_tolerance`` hours (on the
    weekly circle) of the true hour, against giving everyone the org's best hour.
    """
    cfg = config or PredictionsConfig()
    by_email = customers.assign(email=customers["email"].str.strip().str.lower()).set_index(
        "email"
    )["contact_id"]
    ev = events.assign(person_id=events["email"].map(by_email)).dropna(subset=["person_id"])
    truth = customers.set_index("contact_id")
    purchases = orders.loc[~orders["is_reduction"]]

    clicks = ev[ev["event"].isin(list(CLICK_EVENTS))].reset_index(drop=True)
    clicks = attribute_clicks(clicks, purchases, cfg.attribution_days)  # as the sync does
    ranked = best_channel(clicks, prior_strength=cfg.channel_prior_strength)
    n_clicks = clicks.groupby("person_id").size()
    judged = n_clicks.index[n_clicks >= min_clicks]
    want = truth.loc[judged, "preferred_channel"]
    got = ranked.loc[judged, "best_channel"]
    chance = float(want.value_counts(normalize=True).iloc[0]) if len(want) else float("nan")
    org_rates = clicks.groupby("channel")["converted"].mean()

    hours = best_send_hour(
        ev[["person_id", "occurred_at"]],
        prior_strength=cfg.send_hour_prior_strength,
        min_events=cfg.send_hour_min_events,
    )
    true_hour = truth.loc[hours.index, "preferred_hour_of_week"].to_numpy(np.int64)
    near = circular_distance(hours["best_hour_of_week"], true_hour) <= hour_tolerance
    personal = (hours["method"] == "personal").to_numpy()
    how = ev["occurred_at"].dt.day_of_week * 24 + ev["occurred_at"].dt.hour
    org_best = int(np.argmax(np.bincount(how.to_numpy(np.int64), minlength=HOURS_PER_WEEK)))
    fallback_near = circular_distance(org_best, true_hour) <= hour_tolerance
    return {
        "clicks": len(clicks),
        "click_conversion_rate": {str(k): float(v) for k, v in org_rates.items()},
        "channel_people": len(judged),
        "channel_accuracy": float(np.mean(got.to_numpy() == want.to_numpy()))
        if len(want)
        else float("nan"),
        "channel_chance": chance,
        "channel_chance_label": str(want.value_counts().index[0]) if len(want) else "",
        "hour_people": len(hours),
        "hour_personal": int(personal.sum()),
        "hour_accuracy": float(np.mean(near)),
        "hour_accuracy_personal": float(np.mean(near[personal])) if personal.any() else math.nan,
        "hour_fallback_accuracy": float(np.mean(fallback_near)),
        "hour_exact": float(np.mean(circular_distance(hours["best_hour_of_week"], true_hour) == 0)),
        "hour_chance": (2 * hour_tolerance + 1) / HOURS_PER_WEEK,
    }

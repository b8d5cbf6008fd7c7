"""Per-person prediction outputs that land in Salesforce fields.

``predict_people`` turns an orders table into one row per customer: value (historic and
predicted CLV), purchase probabilities, churn risk, next order date, order stats and a segment.
``best_channel`` and ``best_send_hour`` rank engagement channels and hours with empirical-Bayes
shrinkage toward the org, and ``org_summary`` gives the org-level averages. Everything is
vectorised over people; no I/O.

Churn risk is defined as ``P(no order within the churn horizon H)``, where H is learned from the
store: the 90th percentile of its gaps between consecutive purchase days (clipped to 30..730 days;
``churn_horizon_days`` fixes it instead). "Churned" then means "has gone longer without ordering
than 9 in 10 of this store's repeat gaps", so a fashion shop and a mattress shop each get a horizon
that fits their rhythm. It is not ``1 - P(alive)``: BG/NBD's P(alive) is 1 for every one-time
buyer, which would call a customer who bought once two years ago "safe". Nor is it a rescaled
P(buy in 90 days): two people with the same 90-day probability differ in churn when one buys
rarely but is surely still a customer and the other buys often but may have left.

Purchase probabilities come from the learned, calibrated layer (:mod:`.learned`) over the
transaction model when ``buy_again`` is "learned" and the store's history supports it; the
``method`` column says which was used and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from connector.predictions.btyd import MODELS, TransactionModel
from connector.predictions.config import PredictionsConfig
from connector.predictions.gamma_gamma import GammaGammaFitter, discounted_value
from connector.predictions.gating import gate, heuristic_predictions
from connector.predictions.learned import BuyAgainModel
from connector.predictions.rfm import UNIT_DAYS, summary_from_orders
from connector.predictions.timezones import UTC_ZONE, local_hour_of_week

FloatArray = npt.NDArray[np.float64]

#: Readable names of the 4x4 purchase-band x churn-band grid, keyed (P band, C band); band 4 is
#: the highest purchase probability / the highest churn risk.
SEGMENT_NAMES: dict[tuple[int, int], str] = {
    (4, 1): "Champions",
    (4, 2): "Loyal",
    (4, 3): "Active, cooling",
    (4, 4): "Buying, at risk",
    (3, 1): "Steady",
    (3, 2): "Regular",
    (3, 3): "Needs attention",
    (3, 4): "Slipping",
    (2, 1): "Promising",
    (2, 2): "Occasional",
    (2, 3): "Drifting",
    (2, 4): "At risk",
    (1, 1): "Dormant but safe",
    (1, 2): "Low intent",
    (1, 3): "Hibernating",
    (1, 4): "Lost",
}


def quantile_cuts(values: npt.ArrayLike) -> list[float]:
    """The 25/50/75% quantiles of ``values``: the population's band edges."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return []
    return [float(c) for c in np.quantile(v, [0.25, 0.5, 0.75])]


def quantile_bands(
    values: npt.ArrayLike, cuts: Sequence[float] | None = None
) -> npt.NDArray[np.int64]:
    """Bands 1..4 at the 25/50/75% quantiles of ``values`` (ties fall in the lower band), or at
    ``cuts``, the edges of a population measured before (:func:`quantile_cuts`)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.asarray(quantile_cuts(v) if cuts is None else cuts, dtype=np.float64)
    return np.asarray(np.searchsorted(edges, v, side="left") + 1, dtype=np.int64)


def segment_cuts(
    p_buy: npt.ArrayLike, churn_risk: npt.ArrayLike
) -> tuple[list[float], list[float], list[list[float]]]:
    """The edges :func:`segment` cuts at, measured on a population: the purchase quartiles, the
    org-wide churn quartiles and the churn quartiles within each purchase band P1..P4 (a band of
    fewer than 4 people cannot be cut in quarters: it takes the org-wide churn edges)."""
    p = np.asarray(p_buy, dtype=np.float64)
    churn = np.asarray(churn_risk, dtype=np.float64)
    p_edges, churn_edges = quantile_cuts(p), quantile_cuts(churn)
    pb = quantile_bands(p, p_edges)
    within = [
        quantile_cuts(churn[pb == band]) if np.sum(pb == band) >= 4 else list(churn_edges)
        for band in range(1, 5)
    ]
    return p_edges, churn_edges, within


def segment(
    p_buy: npt.ArrayLike,
    churn_risk: npt.ArrayLike,
    cuts: tuple[Sequence[float], Sequence[float]] | None = None,
    band_cuts: Sequence[Sequence[float]] | None = None,
) -> pd.DataFrame:
    """4x4 segment on purchase probability x churn risk: code "P<b>-C<b>" and a readable name,
    banded at the quantiles of the people given (:func:`segment_cuts`), or at a frozen
    population's edges: ``cuts`` (p, org-wide churn) and ``band_cuts`` (churn within each
    purchase band; without them every band takes the org-wide churn edges).

    The rule: the purchase band P1..P4 is the quartile of ``p_buy`` over the whole org; the
    churn band C1..C4 is the quartile of ``churn_risk`` *among the people of the same purchase
    band*. The two axes come from the same purchase process and are strongly correlated, so
    org-wide cuts on both left most people in four cells (1,906 of 2,000 on the demo); cut
    within the purchase band, every cell holds about a sixteenth of the people whenever there
    are 16 or more (a purchase band of fewer than 4 takes the org-wide churn quartiles).
    "Champions" (P4-C1) are thus the top quarter of buyers who are the least
    likely of them to churn.
    """
    p = np.asarray(p_buy, dtype=np.float64)
    churn = np.asarray(churn_risk, dtype=np.float64)
    if cuts is None:
        p_edges, _, within = segment_cuts(p, churn)
    else:
        p_edges = list(cuts[0])
        within = [list(b) for b in band_cuts] if band_cuts else [list(cuts[1])] * 4
    pb = quantile_bands(p, p_edges)
    cb = np.ones(pb.shape, dtype=np.int64)
    for band in range(1, 5):
        members = pb == band
        # edges, not ranks: a frozen population bands a few people exactly as it banded all
        cb[members] = quantile_bands(churn[members], within[band - 1])
    # index into the 16 labels instead of building a million strings
    labels = np.array([f"P{p}-C{c}" for p in range(1, 5) for c in range(1, 5)], dtype=object)
    names_table = np.array(
        [SEGMENT_NAMES[(p, c)] for p in range(1, 5) for c in range(1, 5)], dtype=object
    )
    cell = (pb - 1) * 4 + (cb - 1)
    codes, names = labels[cell], names_table[cell]
    return pd.DataFrame({"segment": codes, "segment_name": names})


@dataclass(frozen=True)
class Population:
    """What :func:`predict_people` learnt of the whole population, so a later call for a few
    people predicts them against it instead of refitting (a real-time pass): the method, the
    transaction, spend and buy-again models' parameters (JSON), the churn horizon and the
    segment bands' edges. A field missing from JSON stored by an older version reads as None
    and stands for that version's rule (BTYD alone, 90 days, org-wide churn edges)."""

    method: str
    transaction: str | None = None  # TransactionModel.to_json()
    spend: str | None = None  # GammaGammaFitter.to_json(); None: the observed order value
    cuts: tuple[list[float], list[float]] | None = None  # p_buy_30d, churn_risk (org-wide)
    band_cuts: list[list[float]] | None = None  # churn_risk within purchase bands P1..P4
    buy_again: str | None = None  # BuyAgainModel.to_json(), fitted or fallen back; None: none
    churn_horizon_days: float | None = None  # the horizon churn_risk was predicted over
    channel_rates: dict[str, float] | None = None  # best_channel's org rates
    hours: list[float] | None = None  # best_send_hour's org distribution (168 counts)

    def to_json(self) -> str:
        """The persisted form."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Population:
        """Rebuild from :meth:`to_json` output."""
        data = json.loads(text)
        cuts = data.get("cuts")
        return cls(
            method=data["method"],
            transaction=data.get("transaction"),
            spend=data.get("spend"),
            cuts=(list(cuts[0]), list(cuts[1])) if cuts else None,
            band_cuts=data.get("band_cuts"),
            buy_again=data.get("buy_again"),
            churn_horizon_days=data.get("churn_horizon_days"),
            channel_rates=data.get("channel_rates"),
            hours=data.get("hours"),
        )


def _fit_transaction_model(summary: pd.DataFrame, config: PredictionsConfig) -> TransactionModel:
    model = MODELS[config.model](penalizer_coef=config.penalizer_coef)
    return model.fit(summary["frequency"], summary["recency"], summary["T"])


def _spend_model(summary: pd.DataFrame, config: PredictionsConfig) -> GammaGammaFitter | None:
    x = summary["frequency"].to_numpy(dtype=np.float64)
    m = summary["monetary_value"].to_numpy(dtype=np.float64)
    try:
        return GammaGammaFitter(penalizer_coef=config.penalizer_coef).fit(x, m)
    except (ValueError, RuntimeError):
        # too few repeaters, or q <= 1 (infinite mean): the observed order value stands in
        return None


def _spend_per_order(summary: pd.DataFrame, gg: GammaGammaFitter | None) -> FloatArray:
    if gg is None:
        return np.asarray(summary["avg_order_value"].to_numpy(dtype=np.float64), dtype=np.float64)
    x = summary["frequency"].to_numpy(dtype=np.float64)
    m = summary["monetary_value"].to_numpy(dtype=np.float64)
    return gg.conditional_expected_average_profit(x, m)


def churn_horizon_days(orders: pd.DataFrame, config: PredictionsConfig) -> float:
    """The churn horizon in days: ``config.churn_horizon_days`` when set, else the 90th
    percentile of the store's gaps between consecutive purchase days (same-day orders merged),
    clipped to 30..730; 365 when nobody has ordered twice."""
    if config.churn_horizon_days is not None:
        return float(config.churn_horizon_days)
    days = pd.to_datetime(orders["ordered_at"], utc=True).dt.floor("D")
    daily = pd.DataFrame({"c": orders["customer_id"].to_numpy(), "d": days.to_numpy()})
    daily = daily.drop_duplicates().sort_values(["c", "d"])
    gaps = daily.groupby("c")["d"].diff().dropna() / pd.Timedelta(days=1)
    if gaps.empty:
        return 365.0
    return float(np.clip(np.quantile(gaps.to_numpy(dtype=np.float64), 0.9), 30.0, 730.0))


def _btyd_predictions(
    summary: pd.DataFrame,
    config: PredictionsConfig,
    now: pd.Timestamp,
    orders: pd.DataFrame,
    population: Population | None = None,
) -> tuple[pd.DataFrame, Population]:
    unit = UNIT_DAYS[config.time_unit]
    if population is not None and population.transaction is not None:
        model = MODELS[config.model].from_json(population.transaction)
        gg = GammaGammaFitter.from_json(population.spend) if population.spend else None
    else:
        model = _fit_transaction_model(summary, config)
        gg = _spend_model(summary, config)
    fitted = Population("btyd", model.to_json(), gg.to_json() if gg is not None else None)
    x = summary["frequency"].to_numpy(dtype=np.float64)
    t_x = summary["recency"].to_numpy(dtype=np.float64)
    age = summary["T"].to_numpy(dtype=np.float64)
    spend = config.margin * _spend_per_order(summary, gg)
    clv = discounted_value(
        model, spend, x, t_x, age, config.horizon_months, config.monthly_discount_rate, unit
    )
    window = config.next_order_window_days / unit
    wait = model.median_time_to_next_purchase(window, x, t_x, age) * unit
    # a frozen population decides everything it holds: the horizon, and its layer or none
    frozen = population if population is not None and population.transaction is not None else None
    if frozen is None:
        churn_days = churn_horizon_days(orders, config)
    elif frozen.churn_horizon_days is not None:
        churn_days = frozen.churn_horizon_days
    else:
        # stored before the horizon was learned: that day predicted over the fixed 90 days
        churn_days = float(config.churn_horizon_days or 90)
    horizons = (30.0, 90.0, churn_days, float(config.next_order_window_days))
    method = "btyd"
    prob = {h: model.probability_of_purchase_within(h / unit, x, t_x, age) for h in horizons}
    layer: BuyAgainModel | None = None
    if frozen is not None:
        if frozen.buy_again is not None:
            layer = BuyAgainModel.from_json(frozen.buy_again)
    elif config.buy_again == "learned":
        layer = BuyAgainModel(
            model=config.model, time_unit=config.time_unit, penalizer_coef=config.penalizer_coef
        ).fit(orders, now)
    if layer is not None:
        if layer.fitted:
            prob = layer.apply(model, summary, horizons)
            method = "learned"
        else:
            method = f"btyd ({layer.fallback_reason_})"
    fitted = replace(
        fitted,
        method=method,
        buy_again=layer.to_json() if layer is not None else None,
        churn_horizon_days=churn_days,
    )
    out = pd.DataFrame(
        {
            "predicted_clv": clv,
            "p_buy_30d": prob[30.0],
            "p_buy_90d": prob[90.0],
            "churn_risk": 1.0 - prob[churn_days],
            "churn_horizon_days": churn_days,
            "expected_next_order_date": now + pd.to_timedelta(wait, unit="D"),
            "next_order_probability": prob[float(config.next_order_window_days)],
        },
        index=summary.index,
    )
    return out, fitted


def predict_people(
    orders: pd.DataFrame,
    now: datetime | pd.Timestamp,
    config: PredictionsConfig | None = None,
    population: Population | None = None,
) -> pd.DataFrame:
    """Per-customer predictions from an orders table, indexed by customer_id.

    Columns: historic_clv, predicted_clv, p_buy_30d, p_buy_90d, churn_risk, churn_horizon_days
    (NaN under the heuristic, whose churn is 1 - its activity), expected_next_order_date,
    next_order_probability, avg_days_between_orders, avg_order_value, order_count, revenue,
    first_order_date, last_order_date, days_since_last_order, segment, segment_name, method.
    ``method`` is "learned" (the calibrated layer over the transaction model), "btyd" (the model
    alone, by configuration), "btyd (<why the layer fell back>)", or "heuristic: <reason>" when
    :func:`gate` finds too little history.

    With ``population`` (what an earlier call on the whole population learnt, from
    ``out.attrs["population"]``) nothing is fitted: the orders are a few people's, predicted
    against the frozen parameters and segment edges, so their values are those a whole-population
    run with the same parameters gives them.

    Everything is computed as of the start of ``now``'s UTC day, the day the models' ``T`` ends
    on: the outputs change at most once a day, so a rerun within the day writes nothing unless an
    order arrived.
    """
    cfg = config or PredictionsConfig()
    stamp = pd.Timestamp(now)
    if stamp.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    # today's orders count; the models' T ends on the day's start (see summary_from_orders)
    summary = summary_from_orders(orders, stamp, cfg.time_unit)
    stamp = stamp.tz_convert("UTC").floor("D")
    if population is not None:
        ok, method = not population.method.startswith("heuristic"), population.method
    else:
        result = gate(summary, cfg, stamp)
        ok, method = result.ok, result.method
    fitted = Population(method)
    if ok:
        try:
            pred, fitted = _btyd_predictions(summary, cfg, stamp, orders, population)
            method = fitted.method
        except (RuntimeError, ValueError) as exc:
            pred = heuristic_predictions(summary, cfg, stamp)
            method = f"heuristic: model fit failed ({exc})"
            fitted = Population(method)
    else:
        pred = heuristic_predictions(summary, cfg, stamp)
    p_buy, churn = pred["p_buy_30d"].to_numpy(), pred["churn_risk"].to_numpy()
    if population is not None and population.cuts is not None:
        cuts, band_cuts = population.cuts, population.band_cuts
    else:
        p_edges, churn_edges, band_cuts = segment_cuts(p_buy, churn)
        cuts = (p_edges, churn_edges)
    segs = segment(p_buy, churn, cuts, band_cuts)
    out = pd.DataFrame(
        {
            "historic_clv": cfg.margin * summary["revenue"],
            "predicted_clv": pred["predicted_clv"],
            "p_buy_30d": pred["p_buy_30d"],
            "p_buy_90d": pred["p_buy_90d"],
            "churn_risk": pred["churn_risk"],
            "churn_horizon_days": pred.get("churn_horizon_days", np.nan),
            "expected_next_order_date": pred["expected_next_order_date"],
            "next_order_probability": pred["next_order_probability"],
            "avg_days_between_orders": summary["avg_days_between_orders"],
            "avg_order_value": summary["avg_order_value"],
            "order_count": summary["n_orders"],
            "revenue": summary["revenue"],
            "first_order_date": summary["first_order_date"],
            "last_order_date": summary["last_order_date"],
            "days_since_last_order": (stamp - summary["last_order_date"]) / pd.Timedelta(days=1),
            "segment": segs["segment"].to_numpy(),
            "segment_name": segs["segment_name"].to_numpy(),
            "method": method,
        },
        index=summary.index,
    )
    out.attrs["population"] = replace(fitted, cuts=cuts, band_cuts=band_cuts)
    return out


def org_summary(
    people: pd.DataFrame, now: datetime | pd.Timestamp | None = None
) -> dict[str, float]:
    """Org averages from :func:`predict_people` output: customers, average historic and predicted
    CLV, average order value, orders per customer, orders per customer per year of tenure
    (purchase frequency), repeat rate, and the churn horizon in days when the models set one."""
    n = len(people)
    if n == 0:
        return {"customers": 0.0}
    orders = float(people["order_count"].sum())
    revenue = float(people["revenue"].sum())
    out = {
        "customers": float(n),
        "avg_historic_clv": float(people["historic_clv"].mean()),
        "avg_predicted_clv": float(people["predicted_clv"].mean()),
        "avg_order_value": revenue / orders if orders else 0.0,
        "orders_per_customer": orders / n,
        "repeat_rate": float((people["order_count"] > 1).mean()),
        "avg_p_buy_90d": float(people["p_buy_90d"].mean()),
        "avg_churn_risk": float(people["churn_risk"].mean()),
    }
    if "churn_horizon_days" in people and people["churn_horizon_days"].notna().any():
        out["churn_horizon_days"] = float(people["churn_horizon_days"].max())
    if now is not None:
        # orders per customer-year of tenure, so young and old stores compare fairly
        tenure = (pd.Timestamp(now) - people["first_order_date"]) / pd.Timedelta(days=365.25)
        years = float(np.maximum(tenure.to_numpy(dtype=np.float64), 1.0 / 365.25).sum())
        out["purchase_frequency_per_year"] = orders / years
    return out


def attribute_clicks(
    clicks: pd.DataFrame, orders: pd.DataFrame, window_days: float = 7.0
) -> pd.DataFrame:
    """Which marketing clicks converted: the input of :func:`best_channel`.

    ``clicks`` has person_id, channel and occurred_at (aware); ``orders`` (purchases only) has
    customer_id and ordered_at. A click converted when its person ordered within
    ``window_days`` after it. Measured against the seed's known preferences (medium, 27,294
    people with 5+ clicks), this beats the alternatives tried: 0.601 accuracy against 0.575 for
    last-touch (only the latest click before an order converts) and 0.588 when clicks before a
    person's first order are left out; windows of 1 and 3 days give 0.488 and 0.531. Returns
    person_id, channel and converted, one row per click.
    """
    if clicks.empty:
        return pd.DataFrame(columns=["person_id", "channel", "converted"])
    left = pd.DataFrame(
        {
            "row": np.arange(len(clicks)),
            "person_id": clicks["person_id"].astype(str).to_numpy(),
            "t": pd.to_datetime(clicks["occurred_at"], utc=True).to_numpy(),
        }
    ).sort_values("t", kind="stable")
    right = pd.DataFrame(
        {
            "person_id": orders["customer_id"].astype(str).to_numpy(),
            "t": pd.to_datetime(orders["ordered_at"], utc=True).to_numpy(),
            "ordered": True,
        }
    ).sort_values("t", kind="stable")
    # the first order at or after each click, if it comes within the window
    joined = pd.merge_asof(
        left,
        right.astype({"t": left["t"].dtype}),
        on="t",
        by="person_id",
        direction="forward",
        tolerance=pd.Timedelta(days=window_days),
    )
    converted = np.zeros(len(clicks), dtype=bool)
    converted[joined["row"].to_numpy()] = joined["ordered"].eq(True).to_numpy()
    return pd.DataFrame(
        {
            "person_id": clicks["person_id"].to_numpy(),
            "channel": clicks["channel"].to_numpy(),
            "converted": converted,
        }
    )


def best_channel(
    events: pd.DataFrame,
    prior_strength: float = 20.0,
    org_rates: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Best channel per person by shrunk conversion rate.

    ``events`` has person_id, channel and converted (bool), one row per send/touch. Each
    person-channel rate is the Beta posterior mean with prior Beta(k * org_rate, k * (1 -
    org_rate)), k = ``prior_strength``: (conversions + k*org_rate) / (sends + k), so a single
    lucky conversion does not beat a channel that works for the whole org. Returns best_channel,
    best_channel_rate, best_channel_sends, indexed by person_id.
    """
    needed = ("person_id", "channel", "converted")
    missing = [c for c in needed if c not in events.columns]
    if missing:
        raise ValueError(f"events lack column(s) {missing}; expected {list(needed)}")
    ev = pd.DataFrame(
        {
            "person_id": events["person_id"].to_numpy(),
            "channel": events["channel"].astype(str).to_numpy(),
            "converted": events["converted"].astype(bool).to_numpy(),
        }
    )
    org_rate = ev.groupby("channel")["converted"].mean()
    if org_rates is not None:
        org_rate = pd.Series(dict(org_rates), dtype=np.float64).reindex(
            org_rate.index.union(pd.Index(list(org_rates)))
        )
        org_rate = org_rate.fillna(0.0)
    per = ev.groupby(["person_id", "channel"])["converted"].agg(["sum", "size"]).reset_index()
    prior = per["channel"].map(org_rate).to_numpy(dtype=np.float64)
    per["rate"] = (per["sum"].to_numpy() + prior_strength * prior) / (
        per["size"].to_numpy() + prior_strength
    )
    # a person may never have been sent the org's best channel; it still competes at its prior
    best_org = str(org_rate.idxmax())
    people = per["person_id"].drop_duplicates()
    have_best = set(per.loc[per["channel"] == best_org, "person_id"])
    extra = people[~people.isin(have_best)]
    cand = pd.concat(
        [
            per[["person_id", "channel", "rate", "size"]],
            pd.DataFrame(
                {
                    "person_id": extra.to_numpy(),
                    "channel": best_org,
                    "rate": float(org_rate[best_org]),
                    "size": 0,
                }
            ),
        ],
        ignore_index=True,
    )
    cand = cand.sort_values(["person_id", "rate", "size"], ascending=[True, False, False])
    top = cand.drop_duplicates("person_id").set_index("person_id")
    out = pd.DataFrame(
        {
            "best_channel": top["channel"],
            "best_channel_rate": top["rate"].astype("float64"),
            "best_channel_sends": top["size"].astype("int64"),
        }
    )
    out.attrs["org_rates"] = {str(k): float(v) for k, v in org_rate.items()}
    return out


def best_send_hour(
    events: pd.DataFrame,
    prior_strength: float = 5.0,
    min_events: int = 5,
    org_hours: Sequence[float] | None = None,
    zones: pd.Series | None = None,
) -> pd.DataFrame:
    """Best hour of the week (0 = Monday 00:00) to reach each person, on their own clock.

    ``events`` has person_id and occurred_at (tz-aware), one row per engagement (open, click,
    visit). ``zones`` maps person_id to an IANA zone (:func:`~.timezones.person_zones`);
    without it, or for a person it does not name, hours are UTC. People keep habits by their
    local clock (lunch, evenings), so each event counts at its local hour of the week, and the
    org profile is the people's local profiles pooled. A person's score for hour h is n_h + k *
    q_h, with q that org profile and k = ``prior_strength`` (a Dirichlet prior); the argmax is
    the best hour. People with fewer than ``min_events`` events get the org's best hour (on
    their clock). Returns best_hour_of_week, best_weekday (0 = Monday), best_hour, zone,
    n_events and method ("personal" / "org_fallback"), indexed by person_id. ``org_hours`` (168
    counts, on people's local clocks) freezes the org's profile measured before;
    ``attrs["org_hours"]`` holds the one used.
    """
    missing = [c for c in ("person_id", "occurred_at") if c not in events.columns]
    if missing:
        raise ValueError(f"events lack column(s) {missing}; expected person_id, occurred_at")
    when = events["occurred_at"]
    if not isinstance(when.dtype, pd.DatetimeTZDtype):
        raise ValueError("events.occurred_at must be tz-aware datetimes (UTC)")
    when = when.dt.tz_convert("UTC")
    zone_of = (
        events["person_id"].map(zones).fillna(UTC_ZONE)
        if zones is not None
        else pd.Series(UTC_ZONE, index=events.index, dtype=object)
    )
    how = local_hour_of_week(when, zone_of).to_numpy(dtype=np.int64)
    ev = pd.DataFrame({"person_id": events["person_id"].to_numpy(), "how": how})
    org = np.bincount(how, minlength=168).astype(np.float64)
    if org_hours is not None:
        org = np.asarray(org_hours, dtype=np.float64)
    q = org / max(org.sum(), 1.0)
    org_best = int(np.argmax(org))
    counts = ev.groupby(["person_id", "how"]).size().rename("n").reset_index()
    counts["score"] = counts["n"].to_numpy() + prior_strength * q[counts["how"].to_numpy()]
    totals = counts.groupby("person_id")["n"].sum()
    # an unobserved hour scores k*q_h <= k*q[org_best], so the org's best hour is the only
    # unobserved candidate worth adding
    people = totals.index.to_numpy()
    fallback = pd.DataFrame(
        {"person_id": people, "how": org_best, "n": 0, "score": prior_strength * q[org_best]}
    )
    cand = pd.concat([counts, fallback], ignore_index=True)
    cand = cand.sort_values(["person_id", "score", "n"], ascending=[True, False, False])
    top = cand.drop_duplicates("person_id").set_index("person_id")["how"]
    n_events = totals.reindex(top.index).to_numpy()
    thin = n_events < min_events
    best = np.where(thin, org_best, top.to_numpy()).astype(np.int64)
    out = pd.DataFrame(
        {
            "best_hour_of_week": best,
            "best_weekday": best // 24,
            "best_hour": best % 24,
            "zone": (
                pd.Series(top.index).map(zones).fillna(UTC_ZONE).to_numpy()
                if zones is not None
                else UTC_ZONE
            ),
            "n_events": n_events.astype(np.int64),
            "method": np.where(thin, "org_fallback", "personal"),
        },
        index=top.index,
    )
    out.attrs["org_hours"] = [float(v) for v in org]
    return out


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def send_time_label(hour_of_week: int, zone: str) -> str:
    """A best send time as a rep reads it, naming the zone: "Tue 14:00 Europe/London"."""
    return f"{DAYS[hour_of_week // 24]} {hour_of_week % 24:02d}:00 {zone}"

"""Order risk: a score 0-100 per Order and the reasons behind it.

Input: one row per Order (purchases and reduction Orders), columns

- ``Id``, ``person`` (whose order: a Contact or Account Id; missing = a stranger),
- ``when`` (aware or naive UTC datetime: CreatedDate, else EffectiveDate), ``TotalAmount``,
- optional: ``IsReductionOrder``, ``BillingCountry``, ``ShippingCountry``, ``email`` (the
  order's billing email), ``discount`` (share of the list price given away, 0..1), ``label``
  (1 fraud / chargeback, 0 good, missing unknown: what the admin mapped).

Features of each purchase, from what was known *before* it (a score never looks ahead):

==================  =====================================================================
amount_vs_person    log(amount) minus the mean log amount of the person's purchases before
                    the last 24 hours (0 when none)
amount_vs_shop      log(amount) minus the shop's median log amount
first_high          with no purchase before the last 24 hours, amount_vs_shop when positive
                    (a new customer's big basket); else 0
velocity            the person's purchases in the 24 hours before this one
country_mismatch    1 when BillingCountry and ShippingCountry are both set and differ
refund_share        the person's earlier reduction Orders per earlier purchase
discount            the order's discount share (0 when not mapped)
new_domain          1 when the email's domain differs from every earlier order's of the person
==================  =====================================================================

The detector is scikit-learn's :class:`~sklearn.ensemble.IsolationForest` (Liu, Ting & Zhou
2008): unsupervised, no labels needed, linear in the number of orders, and isolating a point
takes fewer random splits the further it lies from the bulk in *any* feature, which is what a
new fraud pattern looks like. We take it over a PyOD detector because scikit-learn is already a
dependency and the forest persists as plain parameters of a refit (``random_state``). Once at
least :attr:`RiskConfig.min_labels` labelled frauds and as many good orders exist, a
:class:`~sklearn.ensemble.HistGradientBoostingClassifier` learns from the labels (with the
forest's anomaly score as one more feature) and takes over.

The score is the order's place among the fitted orders' anomaly scores: 99 means riskier than
99% of them, so :attr:`RiskConfig.threshold` is also the share of orders flagged (threshold 99
flags about 1%). Reasons name the features furthest from the shop's usual (robust z above 2).
With fewer than :attr:`RiskConfig.min_orders` purchases nothing is scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

FEATURES = (
    "amount_vs_person",
    "amount_vs_shop",
    "first_high",
    "velocity",
    "country_mismatch",
    "refund_share",
    "discount",
    "new_domain",
)
DAY_SECONDS = 86_400.0


@dataclass(frozen=True)
class RiskConfig:
    """Settings of the risk model (``models/orders.yaml``, ``risk:``)."""

    threshold: int = 99  # a score at or above it is a risky order (the moment's crossing)
    # Below this many purchases there is no "usual" to stand out from: no scores (a data gate,
    # like the predictions' min_buyers); it also spares a tiny org the forest's fixed cost
    # (about 1.8 s for 200 trees on 100 orders here).
    min_orders: int = 200
    n_estimators: int = 200
    random_state: int = 24
    min_labels: int = 20  # labelled frauds (and good orders) before the model turns supervised
    max_reasons: int = 3


@dataclass(frozen=True)
class RiskResult:
    """Scores and reasons per scored purchase (index: the order's ``Id``) and how they came."""

    scores: pd.DataFrame  # columns: score (int 0-100), reasons (text), flagged (bool)
    method: str  # "isolation_forest" or "supervised"
    features: pd.DataFrame  # the features of each scored order (index Id)


def order_features(orders: pd.DataFrame) -> pd.DataFrame:
    """The features of the module docstring for each purchase (not the reduction Orders),
    indexed by Id. Vectorised: one sort, cumulative sums and a search per person."""
    ids = orders["Id"].astype(str).to_numpy(dtype=object)
    person = orders["person"].to_numpy(dtype=object).copy()
    # a stranger's orders are each their own person: nothing is known before them
    missing = pd.isna(person)
    person[missing] = "?" + ids[missing]
    frame = pd.DataFrame(
        {
            "Id": ids,
            "person": person,
            "t": _seconds(orders["when"]),
            "amount": pd.to_numeric(orders["TotalAmount"], errors="coerce").to_numpy(),
            "refund": _column(orders, "IsReductionOrder", False).eq(True).to_numpy(),
        }
    )
    frame["code"] = pd.factorize(frame["person"])[0]
    frame["seq"] = np.arange(len(frame))
    frame = frame.sort_values(["code", "t", "seq"], kind="stable").reset_index(drop=True)

    buy = ~frame["refund"].to_numpy()
    log_amount = np.log(np.clip(frame["amount"].fillna(0.0).to_numpy(), 1.0, None))
    code = frame["code"].to_numpy()
    # earlier purchases of the person: cumulative counts within the person, excluding self
    start = np.r_[0, np.flatnonzero(np.diff(code)) + 1]
    group_start = np.repeat(start, np.diff(np.r_[start, len(frame)]))
    cum_buys = np.cumsum(buy)
    cum_ref = np.cumsum(~buy)

    def before(c: np.ndarray) -> np.ndarray:  # the running total before the person's first
        prior: np.ndarray = c - np.where(group_start > 0, c[group_start - 1], 0)
        return prior

    prev_buys = before(cum_buys) - buy
    prev_ref = before(cum_ref) - (~buy)

    shop_median = float(np.median(log_amount[buy])) if buy.any() else 0.0
    vs_shop = log_amount - shop_median

    # velocity: purchases of the same person in [t - 24h, t); persons sorted apart by offset
    t0 = float(np.nanmin(frame["t"]))
    span = float(np.nanmax(frame["t"]) - t0) + 10 * DAY_SECONDS
    key = code * span + (frame["t"].to_numpy() - t0)
    buy_keys = key[buy]
    left = np.searchsorted(buy_keys, key - DAY_SECONDS, side="left")
    right = np.searchsorted(buy_keys, key, side="left")
    velocity = (right - left).astype(float)
    # the person's usual: purchases before those 24 hours, so a burst's later orders are
    # measured against the customer, not against the burst's own first orders
    first = np.searchsorted(buy_keys, code * span - 1.0, side="left")
    sums = np.r_[0.0, np.cumsum(log_amount[buy])]
    usual_n = left - first
    usual = (sums[left] - sums[first]) / np.maximum(usual_n, 1)
    vs_person = np.where(usual_n > 0, log_amount - usual, 0.0)
    first_high = np.where(usual_n == 0, np.clip(vs_shop, 0.0, None), 0.0)

    out = pd.DataFrame(
        {
            "amount_vs_person": vs_person,
            "amount_vs_shop": vs_shop,
            "first_high": first_high,
            "velocity": velocity,
            "country_mismatch": 0.0,
            "refund_share": prev_ref / np.maximum(prev_buys, 1),
            "discount": 0.0,
            "new_domain": 0.0,
        },
        index=pd.Index(frame["Id"], name="Id"),
    )
    original = orders.assign(Id=orders["Id"].astype(str)).set_index("Id")
    order = frame["Id"]
    if {"BillingCountry", "ShippingCountry"} <= set(orders.columns):
        bill = original["BillingCountry"].reindex(order).astype("string").str.strip().str.lower()
        ship = original["ShippingCountry"].reindex(order).astype("string").str.strip().str.lower()
        out["country_mismatch"] = (
            (bill.notna() & ship.notna() & (bill != ship)).astype(float).to_numpy()
        )
    if "discount" in orders:
        share = pd.to_numeric(original["discount"].reindex(order), errors="coerce")
        out["discount"] = share.fillna(0.0).clip(0.0, 1.0).to_numpy()
    if "email" in orders:
        domain = (
            original["email"].reindex(order).astype("string").str.lower().str.split("@").str[-1]
        )
        out["new_domain"] = _new_domain(frame["code"], domain).to_numpy()
    return out[buy]


def score_orders(orders: pd.DataFrame, config: RiskConfig) -> RiskResult:
    """Fit the detector on ``orders`` and score every purchase among them (the rules of the
    module docstring). Deterministic for a given ``random_state``."""
    features = order_features(orders)
    if len(features) < config.min_orders:
        empty = pd.DataFrame(columns=["score", "reasons", "flagged"], index=features.index[:0])
        return RiskResult(
            empty, f"none: {len(features)} orders, fewer than {config.min_orders}", features
        )
    # imported here: every CLI start imports the sync, and sklearn.ensemble is its heaviest part
    from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest

    x = features.to_numpy(dtype=float)
    forest = IsolationForest(
        n_estimators=config.n_estimators, random_state=config.random_state
    ).fit(x)
    anomaly = -forest.score_samples(x)  # higher: more anomalous
    method = "isolation_forest"
    raw = anomaly
    labels = _labels(orders, features.index)
    if labels is not None and min((labels == 1).sum(), (labels == 0).sum()) >= config.min_labels:
        known = labels.notna().to_numpy()
        xs = np.column_stack([x, anomaly])
        clf = HistGradientBoostingClassifier(random_state=config.random_state)
        clf.fit(xs[known], labels[known].astype(int).to_numpy())
        raw = clf.predict_proba(xs)[:, 1]
        method = "supervised"
    score = _percentile_scores(raw)
    reasons = explain(features, config.max_reasons)
    scores = pd.DataFrame(
        {"score": score, "reasons": reasons.to_numpy(), "flagged": score >= config.threshold},
        index=features.index,
    )
    return RiskResult(scores, method, features)


def explain(features: pd.DataFrame, most: int = 3) -> pd.Series:
    """Per order, the features furthest above the shop's usual (robust z > 2), in words."""
    median = features.median()
    mad = (features - median).abs().median() * 1.4826
    # binary and mostly-zero features have MAD 0: their spread is their standard deviation
    scale = mad.where(mad > 0, features.std().where(features.std() > 0, 1.0))
    z = ((features - median) / scale).to_numpy()
    values = features.to_numpy()
    # one sort of the whole matrix, then words only for the orders with a reason: the loop
    # per order (an argsort each) took 3.5 s of the medium seed's 13 s risk step
    top = np.argsort(-z, axis=1)[:, :most]
    top_z = np.take_along_axis(z, top, axis=1)
    words = np.full(len(features), "", dtype=object)
    for i in np.flatnonzero(top_z[:, 0] > 2.0):
        words[i] = "; ".join(
            _reason(FEATURES[k], float(values[i, k]))
            for k, zk in zip(top[i], top_z[i], strict=True)
            if zk > 2.0
        )
    return pd.Series(words, index=features.index)


def _reason(feature: str, value: float) -> str:
    if feature == "amount_vs_person":
        return f"amount {np.exp(value):.1f}x this customer's usual"
    if feature == "amount_vs_shop":
        return f"amount {np.exp(value):.1f}x the shop's median order"
    if feature == "first_high":
        return f"first order at {np.exp(value):.1f}x the shop's median"
    if feature == "velocity":
        return f"{int(value)} other orders in the 24 h before"
    if feature == "country_mismatch":
        return "shipping country differs from billing country"
    if feature == "refund_share":
        return f"{value:.0%} of earlier orders refunded"
    if feature == "discount":
        return f"discount of {value:.0%}"
    return "email domain new for this customer"


def _percentile_scores(raw: np.ndarray) -> np.ndarray:
    """0-100: the share of scored orders with a lower raw score, times 100, floored."""
    ranks = pd.Series(raw).rank(method="max").to_numpy()
    out: np.ndarray = np.floor(100.0 * (ranks - 1) / max(len(raw), 1)).astype(int).clip(0, 100)
    return out


def _labels(orders: pd.DataFrame, ids: pd.Index) -> pd.Series | None:
    if "label" not in orders:
        return None
    labels = pd.to_numeric(
        orders.assign(Id=orders["Id"].astype(str)).set_index("Id")["label"], errors="coerce"
    )
    return labels.reindex(ids)


def _new_domain(code: pd.Series, domain: pd.Series) -> pd.Series:
    """1 when an order's domain was not seen on the person's earlier orders (0 for a first)."""
    frame = pd.DataFrame({"code": code.to_numpy(), "domain": domain.to_numpy()})
    first_order = ~frame["code"].duplicated()
    seen = frame.duplicated(subset=["code", "domain"])
    new = ~seen & ~first_order & frame["domain"].notna()
    return new.astype(float)


def _column(frame: pd.DataFrame, name: str, default: Any) -> pd.Series:
    if name in frame:
        return frame[name].reset_index(drop=True)
    return pd.Series(default, index=range(len(frame)))


def _seconds(when: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(when, errors="coerce", utc=True)
    # as a duration, not astype(int64): pandas 3 may hold microseconds, not nanoseconds
    epoch = pd.Timestamp(0, tz="UTC")
    out: np.ndarray = ((stamps - epoch) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)
    return out


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().str.lower()

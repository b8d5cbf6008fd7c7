"""The figures the order models are judged by, against planted or labelled truth.

- **Risk**: precision and recall of the flagged orders (score >= threshold) against the known
  frauds, and the share of orders flagged.
- **Fulfilment**: of the people whose fulfilment degraded from a known day, the share flagged
  within ``within`` orders of the change (the first flagged order at or after it, counted from
  0), the mean number of orders it took; of the others, the share ever flagged (false flags).
- **Recommendations**: hit rate at k (a person's top k holds at least one item they bought after
  the split) and NDCG at k (binary relevance, ideal = all held-out items first), for the model
  and the popularity baseline on the same people.

Also the adapters from Salesforce Order rows (as pulled, or a CSV export with the same column
names) to the models' input frames. Pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

#: Who an Order belongs to, first found: the Contacts it names, else its Account.
PERSON_COLUMNS = ("BillToContactId", "ShipToContactId", "CustomerAuthorizedById", "AccountId")


def order_person(orders: pd.DataFrame, columns: Iterable[str] = PERSON_COLUMNS) -> pd.Series:
    """The first non-empty of ``columns`` per Order (missing when none)."""
    person = pd.Series(None, index=orders.index, dtype=object)
    for column in columns:
        if column in orders:
            value = orders[column].astype(object).where(orders[column].notna())
            person = person.where(person.notna(), value)
    return person


def risk_input(orders: pd.DataFrame, person: pd.Series | None = None) -> pd.DataFrame:
    """The risk model's input (:mod:`connector.orders_intel.risk`) from Order rows."""
    when = orders["CreatedDate"] if "CreatedDate" in orders else orders["EffectiveDate"]
    out = pd.DataFrame(
        {
            "Id": orders["Id"].astype(str),
            "person": order_person(orders) if person is None else person,
            "when": when,
            "TotalAmount": orders["TotalAmount"],
        },
        index=orders.index,
    )
    for column in ("IsReductionOrder", "BillingCountry", "ShippingCountry"):
        if column in orders:
            out[column] = orders[column]
    if "BillingEmailAddress" in orders:
        out["email"] = orders["BillingEmailAddress"]
    if "IsReductionOrder" in out:
        out["IsReductionOrder"] = out["IsReductionOrder"].isin([True, 1, "1", "true", "True"])
    return out


def fulfilment_input(
    orders: pd.DataFrame,
    person: pd.Series,
    *,
    ordered: str = "EffectiveDate",
    delivered: str = "EndDate",
    status: str = "Status",
) -> pd.DataFrame:
    """The fulfilment model's input (:mod:`connector.orders_intel.fulfilment`) from Order rows,
    judged per ``person`` (an Account or Contact Id per Order)."""
    out = pd.DataFrame(
        {
            "Id": orders["Id"].astype(str),
            "person": person,
            "ordered": orders[ordered],
            "delivered": orders.get(delivered),
            "status": orders.get(status),
        },
        index=orders.index,
    )
    if "IsReductionOrder" in orders:
        out["IsReductionOrder"] = orders["IsReductionOrder"].isin([True, 1, "1", "true", "True"])
    if "OriginalOrderId" in orders:
        out["OriginalOrderId"] = orders["OriginalOrderId"]
    return out


def order_discounts(items: pd.DataFrame) -> pd.Series:
    """Per Order (index: OrderId), the share of its list value given away: 1 - sum(Quantity x
    UnitPrice) / sum(Quantity x ListPrice) over its lines that have a positive ListPrice
    (OrderItem: ListPrice comes from the PricebookEntry, UnitPrice is what was charged; Object
    Reference, OrderItem). Orders with no such line are absent; the share is kept in 0..1."""
    if not len(items) or not {"OrderId", "UnitPrice", "ListPrice"} <= set(items.columns):
        return pd.Series(dtype=float, index=pd.Index([], name="OrderId"))
    quantity = pd.to_numeric(items.get("Quantity", 1), errors="coerce")
    unit = pd.to_numeric(items["UnitPrice"], errors="coerce") * quantity
    listed = pd.to_numeric(items["ListPrice"], errors="coerce") * quantity
    keep = (listed > 0) & unit.notna()
    frame = pd.DataFrame({"order": items["OrderId"].astype(str), "unit": unit, "listed": listed})
    sums = frame[keep.to_numpy()].groupby("order")[["unit", "listed"]].sum()
    share = (1.0 - sums["unit"] / sums["listed"]).clip(0.0, 1.0)
    share.index.name = "OrderId"
    return share


def risk_figures(flagged: Iterable[str], frauds: Iterable[str], scored: int) -> dict[str, Any]:
    """Precision, recall and flagged share of the flagged order Ids against the frauds."""
    got, truth = set(flagged), set(frauds)
    hits = len(got & truth)
    return {
        "orders": scored,
        "frauds": len(truth),
        "flagged": len(got),
        "flagged_share": round(len(got) / scored, 4) if scored else 0.0,
        "precision": round(hits / len(got), 3) if got else 0.0,
        "recall": round(hits / len(truth), 3) if truth else 0.0,
    }


def fulfilment_figures(
    history: pd.DataFrame, changes: Mapping[str, Any], within: int = 3
) -> dict[str, Any]:
    """Detection of the degrading people (``changes``: person -> day of the change) and false
    flags among the others, from the fulfilment model's per-order ``history``."""
    hist = history.assign(ordered=pd.to_datetime(history["ordered"], utc=True))
    change = pd.to_datetime(pd.Series(changes, dtype=object), utc=True)
    hist["change"] = hist["person"].map(change)
    degrading = hist[hist["change"].notna()]
    after = degrading[degrading["ordered"] >= degrading["change"]].copy()
    after["k"] = after.groupby("person").cumcount()
    first = after[after["flagged"]].groupby("person")["k"].min()
    people = pd.Index(sorted(set(degrading["person"])))
    lag = first.reindex(people)
    others = hist[hist["change"].isna()].groupby("person")["flagged"].any()
    caught = int((lag < within).sum())
    return {
        "degrading": len(people),
        "caught_within": within,
        "caught": caught,
        "detection_rate": round(caught / len(people), 3) if len(people) else 0.0,
        "mean_orders_to_detect": round(float(lag.mean()), 2) if lag.notna().any() else None,
        "others": len(others),
        "false_flag_rate": round(float(others.mean()), 4) if len(others) else 0.0,
    }


def ranking_figures(
    ranked: Mapping[str, list[str]], held_out: Mapping[str, set[str]], k: int
) -> dict[str, float]:
    """Hit rate and NDCG at ``k`` over the people of ``held_out`` (one with no list scores 0)."""
    hits, gains = [], []
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for person, relevant in held_out.items():
        top = ranked.get(person, [])[:k]
        rel = np.array([item in relevant for item in top], dtype=float)
        hits.append(float(rel.any()))
        ideal = discounts[: min(len(relevant), k)].sum()
        gains.append(float((rel * discounts[: rel.size]).sum() / ideal) if ideal else 0.0)
    n = len(hits)
    return {
        "people": float(n),
        f"hit_rate@{k}": round(float(np.mean(hits)), 4) if n else 0.0,
        f"ndcg@{k}": round(float(np.mean(gains)), 4) if n else 0.0,
    }


def recommendation_split(
    purchases: pd.DataFrame,
    cutoff: Any,
    k: int,
    config: Any = None,
    *,
    inactive: Iterable[str] = (),
) -> dict[str, Any]:
    """Fit on the ``purchases`` (person, item, day) before ``cutoff``; judge the top ``k`` of
    the model and of popularity on the people who bought before it and bought an item new to
    them after it. ``ratio`` is the model's hit rate over popularity's."""
    from connector.orders_intel.recommend import (
        RecommendConfig,
        fit,
        interactions,
        popularity,
        recommend,
    )

    cfg = config or RecommendConfig()
    cfg = RecommendConfig(**{**cfg.__dict__, "top_n": k})
    day = pd.to_datetime(purchases["day"], utc=True)
    cut = pd.Timestamp(cutoff)
    cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut
    before, after = purchases[day < cut], purchases[day >= cut]
    train = interactions(before, None, cfg)
    owned = train.groupby("person")["item"].agg(set)
    held: dict[str, set[str]] = {}
    for person, items in after.groupby(after["person"].astype(str))["item"]:
        new = set(items.astype(str)) - owned.get(person, set())
        if person in owned.index and new:
            held[person] = new
    model = fit(train, cfg)
    ranked = recommend(model, train, cfg, inactive=list(inactive), people=held.keys())
    lists = ranked.groupby("person")["item"].agg(list).to_dict()
    base = popularity(model, train[train["person"].isin(held.keys())], k, inactive=list(inactive))
    mine, theirs = ranking_figures(lists, held, k), ranking_figures(base, held, k)
    key = f"hit_rate@{k}"
    return {
        "k": k,
        "people": len(held),
        "model": mine,
        "popularity": theirs,
        "ratio": round(mine[key] / theirs[key], 3) if theirs[key] else None,
    }

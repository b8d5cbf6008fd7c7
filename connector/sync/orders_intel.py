"""The compute step's glue for what orders tell (issue 24): risk per Order, fulfilment per
Account and Contact, recommendations per Contact and Lead, and their moments.

The models are pure (:mod:`connector.orders_intel`); this module reads what they need of the
store first (:func:`load_inputs`), builds their frames from the resolved run, and plans the
moments' Flow calls as effects, each once per crossing (:mod:`connector.scoring.moments`):

- ``risky_order``: an Order's risk score rises to the threshold (``risk.flow``);
- ``fulfilment_flagged``: an Account or Contact gets flagged (``fulfilment.flow``).

A run of some people (the real-time pass) scores their orders against the population the last
full run saw: the forest is refitted on the stored sample of that run's order features (a
fixed ``random_state``, so the same forest) and a new order's score is its place among that
run's scores (:data:`RISK_MODEL`), so a webhook order is scored before it is fulfilled.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from connector.mapping.loader import load_yaml_model
from connector.orders_intel import fulfilment, recommend, risk
from connector.orders_intel.evaluate import order_discounts
from connector.orders_intel.settings import OrdersSettings
from connector.scoring.moments import crossings
from connector.store import Store
from connector.sync.compute import empty_frame, model_frame
from connector.sync.effects import Effects, MomentCall
from connector.sync.resolve import Resolved, email_index, resolve_events

#: Order fields read beside the resolved orders (standard fields; absent ones are skipped).
ORDER_FIELDS = (
    "CreatedDate",
    "BillingCountry",
    "ShippingCountry",
    "BillingEmailAddress",
    "EndDate",
    "Status",
)
#: Browse and cart events a Lead's (or Contact's) recommendations read.
PRODUCT_EVENTS = ("Product Viewed", "Product Added")
RISK_MOMENT = "risky_order"
FULFILMENT_MOMENT = "fulfilment_flagged"
#: Where a full run keeps its risk population (scoring models table), for real-time passes.
RISK_MODEL = "order_risk"
SAMPLE = 4_000  # orders kept for the real-time refit: ~4,000 x 8 numbers of JSON


@dataclass
class OrdersInputs:
    """What the models read of the store besides the resolved run."""

    orders: pd.DataFrame  # Id + ORDER_FIELDS (+ the label field)
    items: pd.DataFrame  # OrderId, Product2Id, Quantity, UnitPrice, ListPrice
    products: pd.DataFrame  # Id, Name, ProductCode, IsActive
    events: pd.DataFrame  # product events, resolved: name, object, record_id, product_id
    fired: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    population: dict[str, Any] | None = None


def load_settings(path: Any) -> OrdersSettings | None:
    """``models/orders.yaml`` validated, or ``None`` without the file (nothing runs)."""
    return load_yaml_model(path, OrdersSettings) if path.exists() else None


def load_inputs(store: Store, settings: OrdersSettings, resolved: Resolved) -> OrdersInputs:
    """Read, once, what :func:`orders_values` needs of the store: for a run of some people,
    their orders' fields and lines only (indexed lookups), and no product events (only the
    recommendations read them, and a run of some people keeps the last ones)."""
    extra = list(ORDER_FIELDS)
    if settings.risk.label_field:
        extra.append(settings.risk.label_field)
    f = settings.fulfilment
    extra += [f.delivered_field, f.ordered_field, f.status_field]
    order_columns = ["Id", *dict.fromkeys(extra)]
    item_columns = ["OrderId", "Product2Id", "Quantity", "UnitPrice", "ListPrice"]
    product_columns = ["Id", "Name", "ProductCode", "IsActive"]
    if resolved.people is not None:
        # A run of some people (a real-time pass) scores their orders only, and recommends
        # nothing: read their orders and lines, not the org's (a pass's cost follows its
        # people; the whole tables were most of a small pass's reads, bench/scale.py).
        theirs = resolved.orders
        ids = sorted(set(theirs["Id"].dropna().astype(str))) if len(theirs) else []
        orders = store.records.frame("Order", order_columns, any_of={"Id": ids})
        items = store.records.frame("OrderItem", item_columns, any_of={"OrderId": ids})
        products = pd.DataFrame(columns=product_columns)
        events = pd.DataFrame(columns=["name", "object", "record_id", "product_id"])
    else:
        orders = store.records.frame("Order", order_columns)
        items = store.records.frame("OrderItem", item_columns)
        products = store.records.frame("Product2", product_columns)
        raw = store.events.frame(list(PRODUCT_EVENTS), ("product_id",))
        events = raw
        if len(raw):
            events = resolve_events(raw, email_index(resolved.contacts, resolved.leads))
    fired = {
        (RISK_MOMENT, "Order"): store.scoring.fired(RISK_MOMENT, "Order"),
        (FULFILMENT_MOMENT, "Account"): store.scoring.fired(FULFILMENT_MOMENT, "Account"),
        (FULFILMENT_MOMENT, "Contact"): store.scoring.fired(FULFILMENT_MOMENT, "Contact"),
    }
    stored = store.scoring.load_model(RISK_MODEL)
    population = json.loads(stored.params) if stored is not None else None
    return OrdersInputs(orders, items, products, events, fired, population)


def orders_values(
    resolved: Resolved, settings: OrdersSettings, inputs: OrdersInputs
) -> tuple[list[pd.DataFrame], dict[str, Any], Effects]:
    """The three models' values frames (indexed (object, record_id)), their run record, and
    the effects planned (moments, the risk population)."""
    frames: list[pd.DataFrame] = []
    record: dict[str, Any] = {}
    effects = Effects()
    orders = _orders(resolved, inputs)
    if settings.risk.enabled and len(orders):
        values, entry, planned = _risk(orders, settings, inputs, resolved)
        frames.append(values)
        record["risk"] = entry
        effects.extend(planned)
    if settings.fulfilment.enabled and len(orders):
        values, entry, planned = _fulfilment(orders, settings, inputs, resolved)
        frames.append(values)
        record["fulfilment"] = entry
        effects.extend(planned)
    # recommendations learn from everyone's baskets: a run of some people keeps the last ones
    if settings.recommendations.enabled and resolved.people is None and len(inputs.items):
        values, entry = _recommendations(orders, settings, inputs)
        frames.append(values)
        record["recommendations"] = entry
    return frames, record, effects


def _orders(resolved: Resolved, inputs: OrdersInputs) -> pd.DataFrame:
    """The resolved orders (Salesforce Orders only: they are the records written) with the
    extra fields and their Account."""
    orders = resolved.orders
    if not len(orders) or not len(inputs.orders):
        return orders.iloc[0:0]
    extra = inputs.orders.drop_duplicates("Id").set_index("Id")
    keep = orders[orders["Id"].astype(str).isin(extra.index)]
    joined = keep.join(extra[[c for c in extra.columns if c not in keep.columns]], on="Id")
    return joined.reset_index(drop=True)


def _risk(
    orders: pd.DataFrame, settings: OrdersSettings, inputs: OrdersInputs, resolved: Resolved
) -> tuple[pd.DataFrame, dict[str, Any], Effects]:
    cfg = settings.risk.model()
    when = orders["CreatedDate"] if "CreatedDate" in orders else orders["EffectiveDate"]
    person = orders["contact_id"].where(orders["contact_id"].notna(), orders["AccountId"])
    frame = pd.DataFrame(
        {
            "Id": orders["Id"].astype(str),
            "person": person,
            "when": when,
            "TotalAmount": orders["TotalAmount"],
            "IsReductionOrder": orders.get("IsReductionOrder", False),
        }
    )
    for column in ("BillingCountry", "ShippingCountry"):
        if column in orders:
            frame[column] = orders[column]
    # the new-email-domain and discount features from standard fields: Order's
    # BillingEmailAddress, OrderItem's UnitPrice against ListPrice (evaluate.order_discounts)
    if "BillingEmailAddress" in orders:
        frame["email"] = orders["BillingEmailAddress"]
    discounts = order_discounts(inputs.items)
    if len(discounts):
        frame["discount"] = frame["Id"].map(discounts).fillna(0.0)
    label = settings.risk.label_field
    if label and label in orders:
        value = orders[label]
        frame["label"] = np.where(
            value.isna(), np.nan, value.isin(settings.risk.fraud_values).astype(float)
        )
    effects = Effects()
    if resolved.people is not None and inputs.population is not None:
        scores = _score_against(frame, inputs.population, cfg)
        method = "population of the last full run"
    else:
        result = risk.score_orders(frame, cfg)
        scores, method = result.scores, result.method
        if scores.empty:  # too few orders: nothing to say, nothing kept
            return empty_frame("risk"), {"method": method, "orders": 0}, effects
        effects.models[RISK_MODEL] = (
            json.dumps(_population(result)),
            {"method": result.method, "orders": len(result.scores)},
        )
    values = pd.DataFrame(
        {
            "risk.score": scores["score"].astype(int),
            "risk.reasons": scores["reasons"].astype(str),
        }
    )
    values.index = pd.MultiIndex.from_arrays(
        [["Order"] * len(values), values.index.astype(str)], names=["object", "record_id"]
    )
    planned, moment = _moment(
        RISK_MOMENT,
        settings.risk.flow,
        {"Order": scores["score"].astype(float).to_dict()},
        inputs.fired,
        cfg.threshold,
        lambda rid: {
            "riskScore": int(scores.loc[rid, "score"]),
            "riskReasons": scores.loc[rid, "reasons"],
        },
        resolved,
    )
    effects.extend(planned)
    entry = {
        "method": method,
        "orders": len(scores),
        "flagged": int(scores["flagged"].sum()),
        **moment,
    }
    return model_frame("risk", values), entry, effects


def _population(result: risk.RiskResult) -> dict[str, Any]:
    """What a real-time pass scores against: a sample of the features, and the run's raw
    anomaly scores' percentiles (101 points)."""
    features = result.features
    sample = (
        features.sample(min(SAMPLE, len(features)), random_state=0) if len(features) else features
    )
    return {"features": sample.to_numpy().round(6).tolist(), "columns": list(features.columns)}


def _score_against(
    frame: pd.DataFrame, population: dict[str, Any], cfg: risk.RiskConfig
) -> pd.DataFrame:
    """Scores of ``frame``'s orders among the stored population (real-time pass)."""
    base = np.asarray(population["features"], dtype=float)
    features = risk.order_features(frame)
    if features.empty or not len(base):
        return pd.DataFrame(columns=["score", "reasons", "flagged"])
    forest, reference = _population_forest(base, cfg)
    mine = -forest.score_samples(features.to_numpy(dtype=float))
    score = np.floor(100.0 * np.searchsorted(reference, mine, side="left") / len(reference))
    score = score.clip(0, 99).astype(int)
    together = pd.concat([pd.DataFrame(base, columns=features.columns), features])
    reasons = risk.explain(together, cfg.max_reasons).iloc[len(base) :]
    return pd.DataFrame(
        {"score": score, "reasons": reasons.to_numpy(), "flagged": score >= cfg.threshold},
        index=features.index,
    )


#: The forest fitted on a stored population, and its sorted raw scores, by the population's
#: bytes and the forest's settings: every real-time pass scores against the same population
#: until the next full run, and the fit (seeded: the same forest each time) was most of a
#: pass's CPU (bench/scale.py). One entry: a new population replaces the old one.
_FORESTS: dict[tuple[str, int, int | None], tuple[Any, np.ndarray]] = {}


def _population_forest(base: np.ndarray, cfg: risk.RiskConfig) -> tuple[Any, np.ndarray]:
    """An IsolationForest fitted on ``base`` and the sorted raw anomaly scores of ``base``;
    fitted once per population when the forest is seeded (``random_state``)."""
    from sklearn.ensemble import IsolationForest  # as in risk.score_orders: not at CLI start

    key = (
        hashlib.sha256(np.ascontiguousarray(base).tobytes()).hexdigest() + str(base.shape),
        cfg.n_estimators,
        cfg.random_state,
    )
    if cfg.random_state is not None and key in _FORESTS:
        return _FORESTS[key]
    forest = IsolationForest(n_estimators=cfg.n_estimators, random_state=cfg.random_state)
    forest.fit(base)
    reference = np.sort(-forest.score_samples(base))
    if cfg.random_state is not None:
        _FORESTS.clear()
        _FORESTS[key] = (forest, reference)
    return forest, reference


def _fulfilment(
    orders: pd.DataFrame, settings: OrdersSettings, inputs: OrdersInputs, resolved: Resolved
) -> tuple[pd.DataFrame, dict[str, Any], Effects]:
    cfg = settings.fulfilment.model()
    parts: list[pd.DataFrame] = []
    flags: dict[str, dict[str, float]] = {}
    reasons: dict[tuple[str, str], str] = {}
    entry: dict[str, Any] = {}
    for obj, person in (("Account", orders["AccountId"]), ("Contact", orders["contact_id"])):
        frame = pd.DataFrame(
            {
                "Id": orders["Id"].astype(str),
                "person": person,
                "ordered": orders.get(cfg.ordered_field),
                "delivered": orders.get(cfg.delivered_field),
                "status": orders.get(cfg.status_field),
                "IsReductionOrder": orders.get("IsReductionOrder", False),
                "OriginalOrderId": orders.get("OriginalOrderId"),
            }
        )
        result = fulfilment.trends(frame, cfg).people
        part = pd.DataFrame(
            {
                "fulfilment.flag": result["flagged"].astype(bool),
                "fulfilment.reasons": result["reasons"].astype(str),
            }
        )
        part.index = pd.MultiIndex.from_arrays(
            [[obj] * len(part), part.index.astype(str)], names=["object", "record_id"]
        )
        parts.append(part)
        flags[obj] = result["flagged"].astype(float).to_dict()
        reasons.update({(obj, str(k)): str(v) for k, v in result["reasons"].items()})
        entry[obj] = {"people": len(result), "flagged": int(result["flagged"].sum())}
    effects, moment = _moment(
        FULFILMENT_MOMENT,
        settings.fulfilment.flow,
        flags,
        inputs.fired,
        1.0,
        None,
        resolved,
        reasons=reasons,
    )
    entry.update(moment)
    values = pd.concat(parts) if parts else pd.DataFrame()
    return model_frame("fulfilment", values), entry, effects


def _recommendations(
    orders: pd.DataFrame, settings: OrdersSettings, inputs: OrdersInputs
) -> tuple[pd.DataFrame, dict[str, Any]]:
    cfg = settings.recommendations.model()
    buys = orders[~orders.get("IsReductionOrder", pd.Series(False, index=orders.index)).eq(True)]
    buys = buys[buys["contact_id"].notna()]
    lines = inputs.items.merge(
        buys[["Id", "contact_id"]], left_on="OrderId", right_on="Id", how="inner"
    )
    purchases = pd.DataFrame(
        {"person": "Contact:" + lines["contact_id"].astype(str), "item": lines["Product2Id"]}
    ).dropna()
    products = inputs.products
    by_code = products.dropna(subset=["ProductCode"]).set_index("ProductCode")["Id"]
    events = None
    if len(inputs.events) and "product_id" in inputs.events:
        seen = inputs.events[inputs.events["name"].isin(PRODUCT_EVENTS)]
        seen = seen.dropna(subset=["record_id", "product_id"])
        events = pd.DataFrame(
            {
                "person": seen["object"].astype(str) + ":" + seen["record_id"].astype(str),
                # events name a product by its code or its Id
                "item": seen["product_id"].map(by_code).fillna(seen["product_id"]),
                "event": seen["name"],
            }
        )
    data = recommend.interactions(purchases, events, cfg)
    inactive = products.loc[products["IsActive"].isin([False, 0, "false"]), "Id"].astype(str)
    names = products.set_index("Id")["Name"].dropna().astype(str).to_dict()
    model = recommend.fit(data, cfg)
    ranked = recommend.recommend(model, data, cfg, inactive=list(inactive), names=names)
    if ranked.empty:
        return empty_frame("recommendations"), {"people": 0}
    text = recommend.as_text(ranked, names)
    as_json = ranked.groupby("person", sort=True).apply(
        lambda g: json.dumps(
            [
                {"product": p, "rank": int(r), "score": float(s), "why": w}
                for p, r, s, w in zip(g["item"], g["rank"], g["score"], g["why"], strict=True)
            ]
        ),
        include_groups=False,
    )
    keys = text.index.str.split(":", n=1)
    values = pd.DataFrame(
        {
            "recommendations.text": text.to_numpy(),
            "recommendations.json": as_json.reindex(text.index).to_numpy(),
        },
        index=pd.MultiIndex.from_arrays([keys.str[0], keys.str[1]], names=["object", "record_id"]),
    )
    entry = {
        "method": "item-item co-purchase",
        "people": len(values),
        "products": len(model.items),
        "inactive_excluded": len(inactive),
    }
    return model_frame("recommendations", values), entry


def _moment(
    name: str,
    flow: str | None,
    scores: dict[str, dict[str, float]],
    fired: dict[tuple[str, str], set[str]],
    threshold: float,
    inputs_of: Any,
    resolved: Resolved,
    *,
    reasons: dict[tuple[str, str], str] | None = None,
) -> tuple[Effects, dict[str, Any]]:
    """One moment's Flow calls, once per crossing (the rules of scoring/moments.py)."""
    effects = Effects()
    if flow is None:
        return effects, {}
    crossed = rearmed = 0
    for obj, now in scores.items():
        before = fired.get((name, obj), set())
        if resolved.people is not None:
            before = {rid for rid in before if rid in now}
        change = crossings(now, before, threshold, threshold)
        if change.rearm:
            effects.rearm.append((name, obj, list(change.rearm)))
        for rid in change.fire:
            extra = (
                inputs_of(rid)
                if inputs_of is not None
                else {"fulfilmentReasons": (reasons or {}).get((obj, rid), "")}
            )
            effects.calls.append(
                MomentCall(
                    moment=name,
                    flow=flow,
                    inputs={"recordId": rid, "objectName": obj, **extra},
                    kind="intent",
                    scope=(name, obj),
                    key=rid,
                    value=now[rid],
                )
            )
        crossed += len(change.fire)
        rearmed += len(change.rearm)
    return effects, {"crossed": crossed, "rearmed": rearmed}

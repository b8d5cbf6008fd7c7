"""The compute step's glue for what orders tell (issue 24): risk per Order, fulfilment per
Account and Contact, recommendations per Contact and Lead, and their moments.

The models are pure (:mod:`connector.orders_intel`); this module reads what they need of the
store first (:func:`load_inputs`), builds their frames from the resolved run, and plans the
moments' Flow calls as effects, each once per crossing (:mod:`connector.scoring.moments`):

- ``risky_order``: an Order's risk score rises to the threshold (``risk.flow``);
- ``fulfilment_flagged``: an Account or Contact gets flagged (``fulfilment.flow``).

**Frozen scores.** An Order is scored once: its score and reasons, once computed, are kept
(``store.scoring`` ``order_risk``, by the Effects step after the push) and every later run or
real-time pass writes the kept ones as they are and scores only Orders with none. Without it a
real-time pass, scoring a person's older Orders against the stored population, could land on
another score than the full run (85 against 99 was seen), rewrite it, and the next full run
rewrite it back. The score says how an order looked when it was placed (its features only look
back), which is when it is acted on (held, checked); an Order whose amount or lines change
later is *not* re-scored: the change is staff's (a partial cancellation, a price fix), refunds
arrive as reduction Orders that count in the customer's later orders, and a re-score would
bring back the flip-flop and could fire ``risky_order`` for an order long fulfilled.

**New orders** are scored against a population: a run of everyone fits the forest on all its
orders (the frozen ones too: they are the shop's usual) and keeps a sample of that population
(:data:`RISK_MODEL`); a run of some people (the real-time pass) refits the same forest on the
sample (a fixed ``random_state``) and places its new orders among the run's scores.

**Webhook orders** (shop orders from the webhooks that no Salesforce Order names yet) are
scored the same way, before they are fulfilled, and their score is *held* (``held = 1``, keyed
``<platform>:<order id>``): the run record shows it (``models.orders.risk.held``). The run
that first reads the Salesforce Order naming the shop order (its reference field holds the
shop order's id or name, as :mod:`connector.sync.order_merge` matches them) writes the held
score to it and fires ``risky_order`` for it, once. A held score no Order took within
``risk.held_days`` is dropped, with a log line.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, timedelta
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
from connector.sync.resolve import Resolved, email_index, order_aliases, resolve_events

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
#: Where a full run keeps the shop's usual delivery (per Account and per Contact), by which a
#: run of some people judges their fulfilment as the full run would have.
FULFILMENT_MODEL = "fulfilment_usual"
SAMPLE = 4_000  # orders kept for the real-time refit: ~4,000 x 8 numbers of JSON
KEPT_COLUMNS = ["order_id", "score", "reasons", "held", "scored_at"]


@dataclass
class OrdersInputs:
    """What the models read of the store besides the resolved run."""

    orders: pd.DataFrame  # Id + ORDER_FIELDS (+ the label field)
    items: pd.DataFrame  # OrderId, Product2Id, Quantity, UnitPrice, ListPrice
    products: pd.DataFrame  # Id, Name, ProductCode, IsActive
    events: pd.DataFrame  # product events, resolved: name, object, record_id, product_id
    fired: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    population: dict[str, Any] | None = None
    # kept risk (store.scoring.order_risk): order_id, score, reasons, held, scored_at
    kept: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=KEPT_COLUMNS))
    shop_keys: pd.DataFrame = field(default_factory=pd.DataFrame)  # when scores are held
    reference_field: str = "OrderReferenceNumber"
    # the shop's usual delivery the last full run measured, per object (FULFILMENT_MODEL)
    usual: dict[str, fulfilment.ShopUsual] = field(default_factory=dict)


def load_settings(path: Any) -> OrdersSettings | None:
    """``models/orders.yaml`` validated, or ``None`` without the file (nothing runs)."""
    return load_yaml_model(path, OrdersSettings) if path.exists() else None


def order_columns(settings: OrdersSettings) -> list[str]:
    """The Order fields the three models read beside the resolved orders."""
    extra = list(ORDER_FIELDS)
    if settings.risk.label_field:
        extra.append(settings.risk.label_field)
    f = settings.fulfilment
    extra += [f.delivered_field, f.ordered_field, f.status_field]
    return ["Id", *dict.fromkeys(extra)]


def load_inputs(
    store: Store,
    settings: OrdersSettings,
    resolved: Resolved,
    *,
    reference_field: str = "OrderReferenceNumber",
) -> OrdersInputs:
    """Read, once, what :func:`orders_values` needs of the store: a run of some people reads
    their orders' fields and lines only (indexed lookups), the kept risk of their
    orders only (and every held score, a few rows), and no product events (only the
    recommendations read them, and a run of some people keeps the last ones)."""
    columns = order_columns(settings)
    item_columns = ["OrderId", "Product2Id", "Quantity", "UnitPrice", "ListPrice"]
    product_columns = ["Id", "Name", "ProductCode", "IsActive"]
    if resolved.people is not None:
        # A run of some people (a real-time pass) scores their orders only, and recommends
        # nothing: read their orders and lines, not the org's (a pass's cost follows its
        # people; the whole tables were most of a small pass's reads, bench/scale.py).
        theirs = resolved.orders
        ids = sorted(set(theirs["Id"].dropna().astype(str).tolist())) if len(theirs) else []
        read = resolved.order_records
        if read is not None and set(columns) <= set(read.columns):
            # the Resolve step read them already, with these columns (one read, not two:
            # 60,000 Orders of a 1% change's sync on the medium seed, 0.3 CPU s)
            orders = read.loc[read["Id"].astype(str).isin(ids), columns].reset_index(drop=True)
        else:
            orders = store.records.frame("Order", columns, any_of={"Id": ids})
        items = store.records.frame("OrderItem", item_columns, any_of={"OrderId": ids})
        products = pd.DataFrame(columns=product_columns)
        events = pd.DataFrame(columns=["name", "object", "record_id", "product_id"])
    else:
        orders = store.records.frame("Order", columns)
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
    population = _parsed(stored.params) if stored is not None else None
    usual: dict[str, fulfilment.ShopUsual] = {}
    if resolved.people is not None and (kept_usual := store.scoring.load_model(FULFILMENT_MODEL)):
        usual = {o: fulfilment.ShopUsual(**u) for o, u in json.loads(kept_usual.params).items()}
    kept = pd.DataFrame(columns=KEPT_COLUMNS)
    shop_keys = pd.DataFrame()
    if settings.risk.enabled:
        theirs_ids = None if resolved.people is None else resolved.orders["Id"].astype(str).tolist()
        held = store.scoring.held_order_risk()
        kept = pd.concat([store.scoring.order_risk(theirs_ids), held], ignore_index=True)
        if len(held):
            shop_keys = store.events.shop_order_keys()
    return OrdersInputs(
        orders,
        items,
        products,
        events,
        fired,
        population,
        kept.drop_duplicates("order_id"),
        shop_keys,
        reference_field,
        usual,
    )


def orders_values(
    resolved: Resolved, settings: OrdersSettings, inputs: OrdersInputs
) -> tuple[list[pd.DataFrame], dict[str, Any], Effects]:
    """The three models' values frames (indexed (object, record_id)), their run record, and
    the effects planned (moments, the risk population)."""
    frames: list[pd.DataFrame] = []
    record: dict[str, Any] = {}
    effects = Effects()
    orders = _orders(resolved, inputs)
    if settings.risk.enabled and len(resolved.orders):
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
    """Risk per Order, each scored once (the module docstring, "Frozen scores"): kept scores
    as they are, the others scored (against the run's orders, or in a run of some people
    against the last full run's), shop orders no Salesforce Order names yet scored and held."""
    cfg = settings.risk.model()
    effects = Effects()
    shop = _shop_rows(resolved, inputs)
    frame = _risk_frame(orders, shop, inputs, settings)
    kept = inputs.kept.drop_duplicates("order_id").set_index("order_id")
    held = kept[kept["held"].astype(int) == 1]
    frozen = kept[kept["held"].astype(int) == 0]
    sf_ids = pd.Index(orders["Id"].astype(str).unique())
    frozen = frozen[frozen.index.isin(sf_ids)]
    adopted = _adoptions(held, sf_ids.difference(frozen.index), resolved, inputs)
    if adopted:
        taken = held.loc[list(adopted.values()), ["score", "reasons"]]
        taken.index = pd.Index(list(adopted.keys()))
        frozen = pd.concat([frozen[["score", "reasons"]], taken])
        effects.risk_adopted = sorted((shop_id, sf) for sf, shop_id in adopted.items())
    done = frozen.index.union(held.index)
    new, method = _score_new(frame, done, cfg, inputs, resolved, effects)
    new_sf = new[new.index.isin(sf_ids)]
    new_shop = new[~new.index.isin(sf_ids)]
    # by column, not iterrows: a Series per row was 25 s of CPU over the medium seed's 296k
    # newly scored Orders
    effects.risk_kept = _kept_rows(new_sf, held=False) + _kept_rows(new_shop, held=True)
    # a held score no Salesforce Order took within held_days goes (the order never reached
    # Salesforce, or its reference was not set): the store keeps no score of a ghost forever
    cutoff = resolved.now.astimezone(UTC) - timedelta(days=settings.risk.held_days)
    waiting = held.drop(index=list(adopted.values()))
    at = pd.to_datetime(waiting["scored_at"], utc=True, errors="coerce", format="ISO8601")
    expired = sorted(waiting.index[(at < cutoff).to_numpy()].astype(str))
    if expired:
        effects.risk_expired = (expired, settings.risk.held_days)
    scores = pd.concat([frozen[["score", "reasons"]], new_sf[["score", "reasons"]]]).astype(
        {"score": int, "reasons": str}
    )
    shown = scores
    if resolved.people is not None:
        # A run of some people writes the risk of the orders its changes touched and of those
        # it scored or adopted now: any other order's value is its kept score, the one written
        # when it was scored, so a whole-org run finds nothing to write there either. Mapping,
        # reading the baseline of and diffing every order of the touched people (60,466 for
        # the medium seed's 1% change of 3,046 Orders) cost more than the rest of the run's map
        # and diff.
        fresh = {rid for obj, rid in resolved.people if obj == "Order"}
        fresh |= {*new_sf.index.astype(str), *adopted}
        shown = scores[scores.index.astype(str).isin(fresh)]
    values = pd.DataFrame(
        {"risk.score": shown["score"].astype(int), "risk.reasons": shown["reasons"]}
    )
    values.index = pd.MultiIndex.from_arrays(
        [["Order"] * len(values), values.index.astype(str)], names=["object", "record_id"]
    )
    planned, moment = _moment(
        RISK_MOMENT,
        settings.risk.flow,
        # zip of lists, not to_dict(): to_dict boxes each string index value through pandas
        # (0.7 of 26 profiled CPU seconds of a 1% change's sync on the medium seed, 60,000
        # orders)
        {"Order": _as_dict(scores["score"].astype(float))},
        inputs.fired,
        cfg.threshold,
        lambda rid: {
            "riskScore": int(scores.loc[rid, "score"]),
            "riskReasons": scores.loc[rid, "reasons"],
        },
        resolved,
    )
    effects.extend(planned)
    entry: dict[str, Any] = {
        "method": method,
        "orders": len(scores),
        "scored": len(new_sf),
        "kept": len(frozen) - len(adopted),
        "flagged": int((scores["score"] >= cfg.threshold).sum()),
        **moment,
    }
    if len(new_shop) or adopted or expired:
        entry["held"] = {
            "new": [
                {"order": str(i), "score": int(r.score), "reasons": str(r.reasons)}
                for i, r in new_shop.head(20).iterrows()
            ],
            "adopted": len(adopted),
            "expired": len(expired),
        }
    if not len(scores):
        return empty_frame("risk"), entry, effects
    return model_frame("risk", values), entry, effects


def _kept_rows(scores: pd.DataFrame, *, held: bool) -> list[tuple[str, int, str, bool]]:
    """(order id, score, reasons, held) of each scored order, as the store keeps them."""
    return [
        (str(i), int(score), str(reasons), held)
        for i, score, reasons in zip(
            scores.index, scores["score"].tolist(), scores["reasons"].tolist(), strict=True
        )
    ]


def _shop_rows(resolved: Resolved, inputs: OrdersInputs) -> pd.DataFrame:
    """The resolved shop orders (from webhooks) no Salesforce Order names yet."""
    orders = resolved.orders
    if not len(orders):
        return orders
    known = set(inputs.orders["Id"].astype(str).tolist()) if len(inputs.orders) else set()
    ids = orders["Id"].astype(str)
    return orders[~ids.isin(known) & ids.str.contains(":", regex=False)]


def _risk_frame(
    orders: pd.DataFrame, shop: pd.DataFrame, inputs: OrdersInputs, settings: OrdersSettings
) -> pd.DataFrame:
    """The risk model's input (:mod:`connector.orders_intel.risk`) for Salesforce Orders and
    the shop orders beside them: a shop order is dated by when it was placed."""
    sf_when = orders["CreatedDate"] if "CreatedDate" in orders else orders["EffectiveDate"]
    when = pd.to_datetime(sf_when, errors="coerce", utc=True)
    both = orders
    if len(shop):
        placed = pd.to_datetime(shop["ActivatedDate"], errors="coerce", utc=True, format="ISO8601")
        both = pd.concat([orders, shop], ignore_index=True)
        when = pd.concat([when, placed], ignore_index=True)
    both = both.reset_index(drop=True)
    person = both["contact_id"].where(both["contact_id"].notna(), both["AccountId"])
    frame = pd.DataFrame(
        {
            "Id": both["Id"].astype(str),
            "person": person,
            "when": when.reset_index(drop=True),
            "TotalAmount": both["TotalAmount"],
            "IsReductionOrder": both.get("IsReductionOrder", False),
        }
    )
    for column in ("BillingCountry", "ShippingCountry"):
        if column in both:
            frame[column] = both[column]
    # the new-email-domain and discount features from standard fields: Order's
    # BillingEmailAddress, OrderItem's UnitPrice against ListPrice (evaluate.order_discounts)
    if "BillingEmailAddress" in both:
        frame["email"] = both["BillingEmailAddress"]
    discounts = order_discounts(inputs.items)
    if len(discounts):
        frame["discount"] = frame["Id"].map(discounts).fillna(0.0)
    label = settings.risk.label_field
    if label and label in both:
        value = both[label]
        frame["label"] = np.where(
            value.isna(), np.nan, value.isin(settings.risk.fraud_values).astype(float)
        )
    return frame


def _adoptions(
    held: pd.DataFrame, open_ids: pd.Index, resolved: Resolved, inputs: OrdersInputs
) -> dict[str, str]:
    """Salesforce Order Id -> the held shop order it names (its reference field holds the
    shop order's id or name, as the merge matches them), for Orders with no kept score."""
    if not len(held) or not len(inputs.shop_keys) or not len(open_ids):
        return {}
    field_name = inputs.reference_field
    orders = resolved.orders
    if field_name not in orders:
        return {}
    naming = orders[orders["Id"].astype(str).isin(open_ids) & orders[field_name].notna()]
    if not len(naming):
        return {}
    aliases = order_aliases(naming, inputs.shop_keys, field_name)
    out: dict[str, str] = {}
    for shop_id in held.index.astype(str):
        target = aliases.get(shop_id)
        if target is not None and target != shop_id and target in open_ids:
            out.setdefault(target, shop_id)
    return out


def _score_new(
    frame: pd.DataFrame,
    done: pd.Index,
    cfg: risk.RiskConfig,
    inputs: OrdersInputs,
    resolved: Resolved,
    effects: Effects,
) -> tuple[pd.DataFrame, str]:
    """Scores of the orders in ``frame`` not in ``done`` (all orders stay in the features:
    a person's history and the shop's usual). A run of everyone fits the forest on all its
    orders and keeps that population for real-time passes; a run of some people scores
    against the kept population."""
    empty = pd.DataFrame(columns=["score", "reasons", "flagged"])
    if not len(frame):
        return empty, "none: no orders"
    todo = ~frame["Id"].isin(done) & ~frame["IsReductionOrder"].eq(True)
    if not todo.any():
        return empty, "none: every order scored before"
    if resolved.people is not None and inputs.population is not None:
        scores = _score_against(frame, inputs.population, cfg)
        method = "population of the last full run"
    else:
        result = risk.score_orders(frame, cfg)
        scores, method = result.scores, result.method
        if scores.empty:  # too few orders: nothing to say, nothing kept
            return empty, method
        effects.models[RISK_MODEL] = (
            json.dumps(_population(result)),
            {"method": result.method, "orders": len(result.scores)},
        )
    return scores[scores.index.isin(frame.loc[todo, "Id"])], method


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


#: The stored population's text and what it parses to: every real-time pass read and parsed
#: the same ~4,000 x 8 numbers of JSON until the next full run (bench/pass_cost.py). One entry.
_PARSED: dict[str, dict[str, Any]] = {}


def _parsed(text: str) -> dict[str, Any]:
    """``json.loads(text)`` of a stored risk population, parsed once per text (read only:
    :func:`_score_against` makes an array of it)."""
    if text not in _PARSED:
        _PARSED.clear()
        _PARSED[text] = json.loads(text)
    return _PARSED[text]


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
    usual: dict[str, dict[str, float]] = {}
    effects = Effects()
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
        # a run of some people judges them against the shop's usual of the last full run
        # (load_inputs reads it for such a run only)
        kept = inputs.usual.get(obj)
        judged = fulfilment.trends(frame, cfg, kept)
        usual[obj] = {"median": judged.usual.median, "scale": judged.usual.scale}
        result = judged.people
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
        flags[obj] = _as_dict(result["flagged"].astype(float))
        reasons.update(
            {
                (obj, str(k)): str(v)
                for k, v in zip(result.index.tolist(), result["reasons"].tolist(), strict=True)
            }
        )
        entry[obj] = {
            "people": len(result),
            "flagged": int(result["flagged"].sum()),
            "usual": {"days": round(judged.usual.median, 3), "scale": round(judged.usual.scale, 3)},
            "usual_from": "the last full run" if kept is not None else "these orders",
        }
    if resolved.people is None:
        effects.models[FULFILMENT_MODEL] = (json.dumps(usual), {"orders": len(orders)})
    planned, moment = _moment(
        FULFILMENT_MOMENT,
        settings.fulfilment.flow,
        flags,
        inputs.fired,
        1.0,
        None,
        resolved,
        reasons=reasons,
    )
    effects.extend(planned)
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
    as_json = _ranked_json(ranked)
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


def _ranked_json(ranked: pd.DataFrame) -> pd.Series:
    """Each person's picks (``ranked``: person, rank, item, score, why) as one JSON list, in
    the order ``ranked`` holds them; a Series by person, sorted.

    One pass over plain lists: a groupby ``apply`` made a frame per person (50,000 on the
    medium seed), 9 s of CPU for what the JSON encoder does in under one.
    """
    order = np.argsort(ranked["person"].astype(str).to_numpy(), kind="stable")
    columns = [ranked[c].to_numpy()[order].tolist() for c in ("person", "item", "rank", "score")]
    why = ranked["why"].to_numpy()[order].tolist()
    people: list[str] = []
    texts: list[str] = []
    picks: list[dict[str, Any]] = []
    for i, (person, item, rank, score) in enumerate(zip(*columns, strict=True)):
        if i and person != people[-1]:
            texts.append(json.dumps(picks))
            picks = []
        if not picks:
            people.append(person)
        picks.append({"product": item, "rank": int(rank), "score": float(score), "why": why[i]})
    if picks:
        texts.append(json.dumps(picks))
    return pd.Series(texts, index=pd.Index(people, name="person"), dtype=object)


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


def _as_dict(series: pd.Series) -> dict[Any, Any]:
    """``series.to_dict()`` (index value -> value, as Python scalars) through plain lists."""
    return dict(zip(series.index.tolist(), series.tolist(), strict=True))

"""``evaluate risk | fulfilment | recommendations``: the order models against known truth, on a
CSV export of Orders (Salesforce's column names) or on the synced Orders.

Each command is a function of settings and files returning JSON-ready data; the figures are
those of :mod:`connector.orders_intel.evaluate`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from connector.config import Settings
from connector.errors import ConfigError
from connector.orders_intel import evaluate as figures
from connector.orders_intel.fulfilment import trends
from connector.orders_intel.risk import score_orders
from connector.orders_intel.settings import OrdersSettings
from connector.store import Store

ORDER_READ = (
    "Id",
    "AccountId",
    "BillToContactId",
    "ShipToContactId",
    "CustomerAuthorizedById",
    "CreatedDate",
    "EffectiveDate",
    "EndDate",
    "Status",
    "TotalAmount",
    "IsReductionOrder",
    "OriginalOrderId",
    "BillingCountry",
    "ShippingCountry",
)


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=True)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read it as CSV of {what} ({exc})") from None


def _settings(settings: Settings) -> OrdersSettings:
    path = settings.models_dir / "orders.yaml"
    if not path.exists():
        return OrdersSettings()
    from connector.mapping.loader import load_yaml_model

    return load_yaml_model(path, OrdersSettings)


def _orders(settings: Settings, orders_file: Path | None) -> pd.DataFrame:
    if orders_file is not None:
        frame = _read_csv(orders_file, "Orders")
        missing = [c for c in ("Id", "TotalAmount") if c not in frame]
        if "EffectiveDate" not in frame and "CreatedDate" not in frame:
            missing.append("EffectiveDate or CreatedDate")
        if missing:
            raise ConfigError(f"{orders_file}: no column {', '.join(missing)} (Order field names)")
        return frame
    store = Store(settings.store_location)
    frame = store.records.frame("Order", list(ORDER_READ))
    if not len(frame):
        raise ConfigError(
            f"{settings.database_label} holds no Orders: run a sync, or pass --orders"
        )
    return frame


def _ids(path: Path, column: str) -> pd.DataFrame:
    frame = _read_csv(path, "truth")
    if column not in frame:
        raise ConfigError(f"{path}: no column {column}")
    return frame


def risk_command(
    settings: Settings,
    orders_file: Path | None,
    frauds_file: Path | None,
    label: str | None,
    threshold: int | None,
) -> dict[str, Any]:
    """Precision and recall of the risky orders against the frauds of ``frauds_file`` (a
    column ``order_id``, like the seed's truth/frauds.csv) or of the orders' ``label`` column
    (a fraud value of models/orders.yaml, or 1/true)."""
    orders = _orders(settings, orders_file)
    cfg = _settings(settings).risk
    if frauds_file is not None:
        frauds = set(_ids(frauds_file, "order_id")["order_id"].astype(str))
    elif label is not None:
        if label not in orders:
            raise ConfigError(f"no column {label} in the Orders")
        value = orders[label].astype(str)
        bad = value.isin([*cfg.fraud_values, "1", "true", "True"])
        frauds = set(orders.loc[bad, "Id"].astype(str))
    else:
        raise ConfigError("say what the frauds are: --frauds FILE.csv or --label COLUMN")
    model = cfg.model()
    if threshold is not None:
        model = type(model)(**{**model.__dict__, "threshold": threshold})
    result = score_orders(figures.risk_input(orders), model)
    flagged = result.scores.index[result.scores["flagged"]]
    out = figures.risk_figures(flagged, frauds & set(result.scores.index), len(result.scores))
    return {"method": result.method, "threshold": model.threshold, **out}


def fulfilment_command(
    settings: Settings,
    orders_file: Path | None,
    changes_file: Path,
    per: str,
    within: int,
) -> dict[str, Any]:
    """Detection of the degrading Accounts or Contacts of ``changes_file`` (``account_id`` or
    ``contact_id`` and ``change_date``, like the seed's truth/fulfilment.csv) within
    ``within`` orders of the change, and false flags among the others."""
    orders = _orders(settings, orders_file)
    key = "account_id" if per == "account" else "contact_id"
    truth = _ids(changes_file, key)
    if "change_date" not in truth:
        raise ConfigError(f"{changes_file}: no column change_date")
    cfg = _settings(settings).fulfilment
    person = orders["AccountId"] if per == "account" else figures.order_person(orders)
    for column in (cfg.ordered_field, cfg.delivered_field):
        if column not in orders:
            raise ConfigError(f"no column {column} in the Orders (models/orders.yaml fulfilment)")
    frame = figures.fulfilment_input(
        orders,
        person,
        ordered=cfg.ordered_field,
        delivered=cfg.delivered_field,
        status=cfg.status_field,
    )
    result = trends(frame, cfg.model())
    changes = dict(zip(truth[key].astype(str), truth["change_date"], strict=True))
    return {"per": per, **figures.fulfilment_figures(result.history, changes, within)}


def recommendations_command(
    settings: Settings,
    lines_file: Path | None,
    cutoff: date | None,
    ks: list[int],
) -> dict[str, Any]:
    """Hit rate and NDCG at each k, model beside popularity, on a time split at ``cutoff``
    (default: the day 80% of the purchase lines are before). ``lines_file``: person, item, day;
    default the synced OrderItems with their Order's person and EffectiveDate."""
    if lines_file is not None:
        lines = _read_csv(lines_file, "purchase lines")
        missing = [c for c in ("person", "item", "day") if c not in lines]
        if missing:
            raise ConfigError(f"{lines_file}: no column {', '.join(missing)}")
    else:
        store = Store(settings.store_location)
        orders = store.records.frame("Order", list(ORDER_READ))
        items = store.records.frame("OrderItem", ["OrderId", "Product2Id"])
        if not len(items):
            raise ConfigError(f"{settings.database_label} holds no OrderItems: run a sync first")
        buys = orders[~orders["IsReductionOrder"].isin([True, 1, "1", "true"])]
        buys = buys.assign(person=figures.order_person(buys))
        joined = items.merge(buys, left_on="OrderId", right_on="Id")
        lines = pd.DataFrame(
            {
                "person": joined["person"],
                "item": joined["Product2Id"],
                "day": joined["EffectiveDate"],
            }
        ).dropna()
    days = pd.to_datetime(lines["day"], errors="coerce", utc=True)
    if days.isna().all():
        raise ConfigError("no readable day in the purchase lines")
    cut = pd.Timestamp(cutoff) if cutoff is not None else days.quantile(0.8).normalize()
    recs = _settings(settings).recommendations.model()
    out: dict[str, Any] = {"cutoff": str(cut.date()), "by_k": []}
    for k in ks:
        out["by_k"].append(figures.recommendation_split(lines, cut, k, recs))
    return out

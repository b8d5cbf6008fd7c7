"""The compute step: per-person values from stored records, vectorised.

Pure functions of DataFrames: no I/O. Each returns a frame indexed by (object, record_id)
with one column per computed value key (``rfm.order_count``...), which the mapping step
turns into field values. Later models add their own frames beside these.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from connector.sync.resolve import order_person, truthy

RFM_KEYS = (
    "rfm.order_count",
    "rfm.revenue",
    "rfm.last_order_date",
    "rfm.avg_order_value",
    "rfm.days_since_last_order",
)


def rfm(
    orders: pd.DataFrame, accounts: pd.DataFrame, contacts: pd.DataFrame, today: date
) -> pd.DataFrame:
    """Plain RFM per Contact: order count, revenue, last order date, average order value,
    days since the last order.

    Reduction orders (refunds) lower revenue but are not orders of their own. Contacts
    without orders are absent (nothing to write for them).
    """
    live = set(contacts["Id"].astype(str)) if len(contacts) else set()
    if not len(orders) or not live:
        return _empty()
    frame = pd.DataFrame(
        {
            "person": order_person(orders, accounts, live),
            "amount": pd.to_numeric(orders["TotalAmount"], errors="coerce").fillna(0.0),
            "day": pd.to_datetime(orders["EffectiveDate"], errors="coerce"),
            "refund": truthy(orders.get("IsReductionOrder", pd.Series(None, index=orders.index))),
        }
    ).dropna(subset=["person"])
    if frame.empty:
        return _empty()
    purchases = frame[~frame["refund"]]
    grouped = purchases.groupby("person")
    out = pd.DataFrame(
        {
            "rfm.order_count": grouped.size(),
            "gross": grouped["amount"].sum(),
            "last": grouped["day"].max(),
        }
    )
    out["rfm.revenue"] = frame.groupby("person")["amount"].sum().reindex(out.index).round(2)
    out["rfm.avg_order_value"] = (out["gross"] / out["rfm.order_count"]).round(2)
    out["rfm.last_order_date"] = out["last"].dt.date
    out["rfm.days_since_last_order"] = (pd.Timestamp(today) - out["last"]).dt.days
    out = out.drop(columns=["gross", "last"])
    out.index = pd.MultiIndex.from_arrays(
        [["Contact"] * len(out), out.index.astype(str)], names=["object", "record_id"]
    )
    return out[list(RFM_KEYS)]


def _empty() -> pd.DataFrame:
    index = pd.MultiIndex.from_arrays([[], []], names=["object", "record_id"])
    return pd.DataFrame(columns=list(RFM_KEYS), index=index)

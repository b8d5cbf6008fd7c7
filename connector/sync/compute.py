"""The compute step: per-person values from stored records, vectorised.

Pure functions of DataFrames: no I/O. Each returns a frame indexed by (object, record_id)
with one column per computed value key (``rfm.order_count``...), which the mapping step
turns into field values. Later models add their own frames beside these, built with
:func:`model_frame` so their columns are exactly the keys registered for them in
``connector.mapping.values``.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from connector.mapping.values import KNOWN_VALUES, keys_of, model_of

RFM_KEYS = keys_of(model="rfm")


def model_frame(model: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly ``model``'s registered columns, in registry order.

    A registered value the frame lacks becomes an empty column (nobody has it this run); a
    column that is not a registered value of ``model`` raises ``KeyError``: a value the
    mappings cannot name, or one registered under another model, is a bug to fix here.
    Columns of one loyalty program's values (``value@program``) are kept after them.
    """
    # "loyalty.points_balance@club": a registered value of one program (FieldMapping.program)
    bases = [str(c).split("@", 1)[0] for c in frame.columns]
    strays = [
        c
        for c, base in zip(frame.columns, bases, strict=True)
        if base not in KNOWN_VALUES or model_of(base) != model
    ]
    if strays:
        raise KeyError(
            f"{model} produced {strays}, not registered for it in connector/mapping/values.py"
        )
    qualified = [c for c in frame.columns if "@" in str(c)]
    return frame.reindex(columns=[*keys_of(model), *qualified])


def rfm(orders: pd.DataFrame, today: date) -> pd.DataFrame:
    """Plain RFM per Contact of resolved orders (with ``contact_id``): order count, revenue,
    last order date, average order value, days since the last order.

    Reduction orders (refunds) lower revenue but are not orders of their own. Contacts
    without orders are absent (nothing to write for them).
    """
    if not len(orders):
        return _empty()
    frame = pd.DataFrame(
        {
            "person": orders["contact_id"],
            "amount": pd.to_numeric(orders["TotalAmount"], errors="coerce").fillna(0.0),
            "day": pd.to_datetime(orders["EffectiveDate"], errors="coerce"),
            "refund": orders["IsReductionOrder"].eq(True),  # bool from the store; None: no
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
    return model_frame("rfm", out)


def empty_frame(model: str) -> pd.DataFrame:
    """A frame of ``model``'s registered columns with nobody in it."""
    index = pd.MultiIndex.from_arrays([[], []], names=["object", "record_id"])
    return pd.DataFrame(columns=list(keys_of(model)), index=index)


def _empty() -> pd.DataFrame:
    return empty_frame("rfm")

"""The predictions part of the compute step: orders and events in, per-Contact values out.

Pure functions of DataFrames (no I/O). Orders resolve to Contacts as in ``resolve.py``; events
resolve by email (directly, or through an ``identify`` that tied an anonymous id to an email).
The models themselves live in ``connector.predictions``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from connector.events.names import CLICK_EVENTS, ENGAGEMENT_EVENTS
from connector.mapping.values import keys_of
from connector.predictions import (
    PredictionsConfig,
    attribute_clicks,
    best_channel,
    best_send_hour,
    org_summary,
    predict_people,
)
from connector.sync.compute import empty_frame, model_frame
from connector.sync.resolve import email_index, order_person

PREDICTION_KEYS = keys_of(model="predictions")
#: The events the compute step reads (clicks and opens; the catalog is connector.events.names).
EVENT_NAMES = tuple(sorted({*CLICK_EVENTS, *ENGAGEMENT_EVENTS}))
#: The event properties the compute step reads, extracted by the store (``store.events.frame``).
EVENT_PROPERTIES = ("channel",)
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def purchases(orders: pd.DataFrame, accounts: pd.DataFrame, contacts: pd.DataFrame) -> pd.DataFrame:
    """Purchase orders (refunds left out) as ``customer_id, ordered_at, amount``."""
    live = set(contacts["Id"].astype(str)) if len(contacts) else set()
    if not len(orders) or not live:
        return pd.DataFrame(
            {
                "customer_id": pd.Series(dtype=object),
                "ordered_at": pd.Series(dtype="datetime64[ns, UTC]"),
                "amount": pd.Series(dtype=float),
            }
        )
    when = pd.to_datetime(orders.get("ActivatedDate"), utc=True, errors="coerce", format="mixed")
    day = pd.to_datetime(orders["EffectiveDate"], utc=True, errors="coerce")
    frame = pd.DataFrame(
        {
            "customer_id": order_person(orders, accounts, live),
            "ordered_at": when.fillna(day) if when is not None else day,
            "amount": pd.to_numeric(orders["TotalAmount"], errors="coerce").fillna(0.0),
            "refund": orders["IsReductionOrder"].eq(True),  # bool from the store; None: no
        }
    )
    frame = frame[~frame["refund"]].dropna(subset=["customer_id", "ordered_at"])
    return frame.drop(columns="refund").reset_index(drop=True)


def event_people(events: pd.DataFrame, contacts: pd.DataFrame, leads: pd.DataFrame) -> pd.DataFrame:
    """Events with ``person_id`` (a Contact Id) resolved by email, directly or via anonymous id."""
    if not len(events):
        return events.assign(person_id=pd.Series(dtype=object))
    emails = events["email"].astype("object")
    known = events.dropna(subset=["email", "anonymous_id"]).drop_duplicates("anonymous_id")
    by_anon = known.set_index("anonymous_id")["email"]
    emails = emails.where(emails.notna(), events["anonymous_id"].map(by_anon))
    index = email_index(contacts, leads)
    contacts_only = index[index["kind"] == "contact"].set_index("email")["record_id"]
    return events.assign(person_id=emails.str.strip().str.lower().map(contacts_only))


def channel_touches(events: pd.DataFrame, bought: pd.DataFrame, window_days: float) -> pd.DataFrame:
    """The stored click events with their channel (the ``channel`` property, which the store
    extracts with SQLite's ``json_extract``), each marked converted when its person ordered
    within ``window_days`` after it (:func:`~connector.predictions.attribute_clicks`)."""
    clicks = events[events["name"].isin(CLICK_EVENTS) & events["person_id"].notna()]
    clicks = clicks.assign(
        occurred_at=pd.to_datetime(clicks["occurred_at"], utc=True, format="ISO8601"),
    ).dropna(subset=["channel"])
    return attribute_clicks(clicks, bought, window_days)


def predict_contacts(
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    contacts: pd.DataFrame,
    leads: pd.DataFrame,
    events: pd.DataFrame,
    now: datetime,
    config: PredictionsConfig,
    attribution_days: float = 7.0,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Prediction values per Contact (indexed by object, record_id) and what the run records."""
    bought = purchases(orders, accounts, contacts)
    if bought.empty:
        return _empty(), {"method": "none: no orders", "people": 0}
    people = predict_people(bought, now, config)
    out = pd.DataFrame(
        {
            "predictions.clv": people["predicted_clv"],
            "predictions.historic_clv": people["historic_clv"],
            "predictions.p_buy_30d": people["p_buy_30d"],
            "predictions.p_buy_90d": people["p_buy_90d"],
            "predictions.churn_risk": people["churn_risk"],
            "predictions.next_order_date": pd.to_datetime(
                people["expected_next_order_date"], utc=True
            ).dt.date,
            "predictions.next_order_probability": people["next_order_probability"],
            "predictions.avg_days_between_orders": people["avg_days_between_orders"],
            "predictions.avg_order_value": people["avg_order_value"],
            "predictions.segment": people["segment"],
            "predictions.segment_name": people["segment_name"],
        },
        index=people.index,
    )
    if len(events):
        resolved = event_people(events, contacts, leads)
        touches = channel_touches(resolved, bought, attribution_days)
        if len(touches):
            channels = best_channel(touches, config.channel_prior_strength)
            out["predictions.best_channel"] = channels["best_channel"].reindex(out.index)
        engaged = resolved[resolved["name"].isin(ENGAGEMENT_EVENTS) & resolved["person_id"].notna()]
        if len(engaged):
            hours = best_send_hour(
                pd.DataFrame(
                    {
                        "person_id": engaged["person_id"].to_numpy(),
                        "occurred_at": pd.to_datetime(
                            engaged["occurred_at"], utc=True, format="ISO8601"
                        ).to_numpy(),
                    }
                ).assign(occurred_at=lambda f: pd.to_datetime(f["occurred_at"], utc=True)),
                config.send_hour_prior_strength,
                config.send_hour_min_events,
            ).reindex(out.index)
            how = hours["best_hour_of_week"]
            out["predictions.best_send_hour"] = how
            out["predictions.best_send_time"] = how.map(_hour_label)
    out.index = pd.MultiIndex.from_arrays(
        [["Contact"] * len(out), out.index.astype(str)], names=["object", "record_id"]
    )
    out = model_frame("predictions", out)
    summary = {k: round(v, 4) for k, v in org_summary(people, now).items()}
    return out, {"method": str(people["method"].iloc[0]), "people": len(people), "org": summary}


def _hour_label(how: Any) -> str | None:
    if how is None or (isinstance(how, float) and np.isnan(how)):
        return None
    hour = int(how)
    return f"{DAYS[hour // 24]} {hour % 24:02d}:00 UTC"


def _empty() -> pd.DataFrame:
    return empty_frame("predictions")

"""The predictions part of the compute step: orders and events in, per-Contact values out.

Pure functions of DataFrames (no I/O). Orders resolve to Contacts as in ``resolve.py``; events
resolve by email (directly, or through an ``identify`` that tied an anonymous id to an email).
The models themselves live in ``connector.predictions``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from connector.events.generic import OFFSET_PROPERTY, ZONE_PROPERTY
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
from connector.predictions.outputs import Population, send_time_label
from connector.predictions.timezones import event_zones, person_zones
from connector.sync.compute import empty_frame, model_frame
from connector.sync.resolve import Resolved
from connector.sync.streams import Stream

PREDICTION_KEYS = keys_of(model="predictions")
#: The events the compute step reads (clicks and opens; the catalog is connector.events.names).
EVENT_NAMES = tuple(sorted({*CLICK_EVENTS, *ENGAGEMENT_EVENTS}))
#: The event properties the compute step reads, extracted by the store (``store.events.frame``):
#: the click's channel and the sender's clock (the intake keeps it: connector.events.generic).
EVENT_PROPERTIES = ("channel", ZONE_PROPERTY, OFFSET_PROPERTY)
#: The Contact fields the send-time zone reads (the stream pulls them: connector.sync.streams).
ADDRESS_FIELDS = ("MailingCountry", "MailingState")


def purchases(orders: pd.DataFrame) -> pd.DataFrame:
    """Resolved purchase orders (refunds left out) as ``customer_id, ordered_at, amount``."""
    if not len(orders):
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
            "customer_id": orders["contact_id"],
            "ordered_at": when.fillna(day) if when is not None else day,
            "amount": pd.to_numeric(orders["TotalAmount"], errors="coerce").fillna(0.0),
            "refund": orders["IsReductionOrder"].eq(True),  # bool from the store; None: no
        }
    )
    frame = frame[~frame["refund"]].dropna(subset=["customer_id", "ordered_at"])
    return frame.drop(columns="refund").reset_index(drop=True)


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
    resolved: Resolved, config: PredictionsConfig, population: Population | None = None
) -> tuple[pd.DataFrame, dict[str, Any], Population | None]:
    """Prediction values per Contact (indexed by object, record_id), what the run records, and
    what was learnt of the population (its parameters, segment edges, the org's channel rates
    and hours), which a run of some people passes back as ``population`` to predict them
    against it instead of refitting on a few."""
    now = resolved.now
    events = resolved.contact_events()
    bought = purchases(resolved.orders)
    if bought.empty:
        return _empty(), {"method": "none: no orders", "people": 0}, None
    people = predict_people(bought, now, config, population)
    learnt: Population = people.attrs["population"]
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
        touched = events.assign(person_id=events["record_id"])
        touches = channel_touches(touched, bought, config.attribution_days)
        if len(touches):
            channels = best_channel(
                touches,
                config.channel_prior_strength,
                population.channel_rates if population is not None else None,
            )
            learnt = replace(learnt, channel_rates=channels.attrs["org_rates"])
            out["predictions.best_channel"] = channels["best_channel"].reindex(out.index)
        engaged = touched[touched["name"].isin(ENGAGEMENT_EVENTS) & touched["person_id"].notna()]
        if len(engaged):
            zones = contact_zones(
                resolved.contacts, engaged, config.default_zone, config.zone_field
            )
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
                population.hours if population is not None else None,
                zones=zones,
            )
            learnt = replace(learnt, hours=hours.attrs["org_hours"])
            hours = hours.reindex(out.index)
            how = hours["best_hour_of_week"]
            out["predictions.best_send_hour"] = how
            out["predictions.best_send_time"] = [
                None if pd.isna(h) else send_time_label(int(h), str(z))
                for h, z in zip(how, hours["zone"], strict=True)
            ]
    out.index = pd.MultiIndex.from_arrays(
        [["Contact"] * len(out), out.index.astype(str)], names=["object", "record_id"]
    )
    out = model_frame("predictions", out)
    summary = {k: round(v, 4) for k, v in org_summary(people, now).items()}
    record: dict[str, Any] = {"method": str(people["method"].iloc[0]), "people": len(people)}
    if population is None:
        record["org"] = summary
    else:  # a few people: no org figures, and the parameters are the last full run's
        record["population"] = "frozen: the last full run's parameters"
    return out, record, learnt


def contact_fields(config: PredictionsConfig | None) -> tuple[str, ...]:
    """The Contact fields the send-time zone reads: the mailing address, and the mapped zone
    field when ``zone_field`` names one."""
    zone = config.zone_field if config is not None else None
    return (*ADDRESS_FIELDS, zone) if zone and zone not in ADDRESS_FIELDS else ADDRESS_FIELDS


def with_zone_field(stream: Stream, config: PredictionsConfig | None) -> Stream:
    """The Contact stream with ``zone_field`` added (other streams as they are); a field the
    org lacks is dropped after describe like any other optional field."""
    zone = config.zone_field if config is not None else None
    if stream.object_name != "Contact" or not zone or zone in stream.fields:
        return stream
    return replace(stream, fields=(*stream.fields, zone), optional=(*stream.optional, zone))


def contact_zones(
    contacts: pd.DataFrame,
    events: pd.DataFrame,
    default_zone: str,
    zone_field: str | None = None,
) -> pd.Series:
    """Each Contact's zone (indexed by Id) by :mod:`connector.predictions.timezones`' rule:
    their events' clock, then the mailing address, then ``zone_field``, then the org's
    default zone."""
    if not len(contacts) or "Id" not in contacts:
        return pd.Series(dtype=object)
    people = contacts.set_index(contacts["Id"].astype(str))
    told = event_zones(events) if len(events) else None
    return person_zones(
        people, zone_column=zone_field, events_zones=told, default_zone=default_zone
    )


def _empty() -> pd.DataFrame:
    return empty_frame("predictions")

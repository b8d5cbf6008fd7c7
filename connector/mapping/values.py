"""The computed values a mapping may name, so a typo in `value:` is caught before a sync.

Each issue that adds a computed value registers its key here, with a one-line description (shown
to admins) and the Python kind the engine produces (used to check transforms and field types).
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple


class KnownValue(NamedTuple):
    """What a computed value means and the Python type the engine produces for it."""

    description: str
    kind: type


KNOWN_VALUES: dict[str, KnownValue] = {
    "rfm.order_count": KnownValue("Orders placed by this person, all time.", int),
    "rfm.revenue": KnownValue("Revenue from this person's orders, all time.", float),
    "rfm.last_order_date": KnownValue("Date of this person's most recent order.", date),
    "rfm.avg_order_value": KnownValue("Average revenue per order.", float),
    "rfm.days_since_last_order": KnownValue("Days between the last order and the run.", int),
    "predictions.clv": KnownValue("Predicted CLV over the configured horizon, discounted.", float),
    "predictions.historic_clv": KnownValue("Value of the orders so far, times the margin.", float),
    "predictions.p_buy_30d": KnownValue(
        "Probability of an order in the next 30 days (0..1).", float
    ),
    "predictions.p_buy_90d": KnownValue(
        "Probability of an order in the next 90 days (0..1).", float
    ),
    "predictions.churn_risk": KnownValue(
        "Probability of no order within the churn horizon.", float
    ),
    "predictions.next_order_date": KnownValue("Most likely date of the next order.", date),
    "predictions.next_order_probability": KnownValue(
        "Probability of an order within the next-order window (0..1).", float
    ),
    "predictions.avg_days_between_orders": KnownValue("Average days between orders.", float),
    "predictions.avg_order_value": KnownValue("Average order value.", float),
    "predictions.segment": KnownValue("Purchase x churn cell, P1..P4 by C1..C4.", str),
    "predictions.segment_name": KnownValue("Readable name of the purchase x churn cell.", str),
    "predictions.best_channel": KnownValue("email, sms or push: the channel that converts.", str),
    "predictions.best_send_hour": KnownValue("Best hour of the week, 0 = Monday 00:00 UTC.", int),
    "predictions.best_send_time": KnownValue("Best send time as text, e.g. Tue 14:00 UTC.", str),
    "intent.score": KnownValue("Intent 0-5, one decimal: recent behaviour, decayed.", float),
    "intent.reasons": KnownValue("Top signals behind the intent score and their shares.", str),
    "conversion.score": KnownValue("Lead conversion score 1-99, learned from conversions.", int),
    "conversion.probability": KnownValue("Probability this open Lead converts (0..1).", float),
    "conversion.factors": KnownValue("Strongest factors of the conversion score.", str),
}

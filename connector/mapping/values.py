"""The computed values a mapping may name, declared once: key, type, unit, meaning, model.

Everything that lists values reads this registry: the compute step builds its output columns
from it (:func:`keys_of`), ``validate`` suggests from it ("did you mean"), the generated mapping
schema offers its keys, and ``lead2loyalty values`` prints the README's table from it. A test
fails when a model produces a value that is not registered here, or a registered value that no
model produces.

Adding a value is one line::

    "intent.score": KnownValue("Intent score, 0..5.", int, "score 0..5"),

``model`` defaults to the key's prefix (``intent`` above), which is the name the compute step
asks for (``keys_of(model="intent")``); give it only when a value's prefix is not its model.
Run ``python -m connector.mapping.schema`` after adding one (the schema lists the keys).
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple


class KnownValue(NamedTuple):
    """What a computed value means and the Python type the engine produces for it."""

    description: str  # one line, shown to admins
    kind: type  # the Python type of the value (used to check transforms and field types)
    unit: str = ""  # what a number counts (currency, days, 0..1); empty for text
    model: str = ""  # the model that produces it; empty means the key's prefix


KNOWN_VALUES: dict[str, KnownValue] = {
    "rfm.order_count": KnownValue("Orders placed by this person, all time.", int, "orders"),
    "rfm.revenue": KnownValue("Revenue from this person's orders, all time.", float, "currency"),
    "rfm.last_order_date": KnownValue("Date of this person's most recent order.", date),
    "rfm.avg_order_value": KnownValue("Average revenue per order.", float, "currency"),
    "rfm.days_since_last_order": KnownValue(
        "Days between the last order and the run.", int, "days"
    ),
    "predictions.clv": KnownValue(
        "Predicted CLV over the configured horizon, discounted.", float, "currency"
    ),
    "predictions.historic_clv": KnownValue(
        "Value of the orders so far, times the margin.", float, "currency"
    ),
    "predictions.p_buy_30d": KnownValue(
        "Probability of an order in the next 30 days.", float, "0..1"
    ),
    "predictions.p_buy_90d": KnownValue(
        "Probability of an order in the next 90 days.", float, "0..1"
    ),
    "predictions.churn_risk": KnownValue(
        "Probability of no order within the churn horizon: by default the 90th percentile of "
        "the store's gaps between repeat orders (churned = gone longer than 9 in 10 repeat "
        "gaps), or churn_horizon_days of models/predictions.yaml.",
        float,
        "0..1",
    ),
    "predictions.next_order_date": KnownValue("Most likely date of the next order.", date),
    "predictions.next_order_probability": KnownValue(
        "Probability of an order within the next-order window.", float, "0..1"
    ),
    "predictions.avg_days_between_orders": KnownValue(
        "Average days between orders.", float, "days"
    ),
    "predictions.avg_order_value": KnownValue("Average order value.", float, "currency"),
    "predictions.segment": KnownValue(
        "Purchase x churn cell: P1..P4 the org's quartile of the 30-day buy probability, "
        "C1..C4 the quartile of churn risk among the people of that purchase band.",
        str,
    ),
    "predictions.segment_name": KnownValue(
        "Readable name of the purchase x churn cell (P4-C1 Champions ... P1-C4 Lost).", str
    ),
    "predictions.best_channel": KnownValue("email, sms or push: the channel that converts.", str),
    "predictions.best_send_hour": KnownValue(
        "Best hour of the week on the person's own clock, 0 = Monday 00:00 in their time zone "
        "(their events' zone, else their mailing address's, else the org's default zone).",
        int,
        "hour of week",
    ),
    "predictions.best_send_time": KnownValue(
        "Best send time as text in the person's time zone, e.g. Sat 10:00 Europe/Berlin.", str
    ),
    "loyalty.points_balance": KnownValue(
        "Redeemable points: the sum of the journal.", int, "points"
    ),
    "loyalty.qualifying_points": KnownValue(
        "Qualifying (tier) points in the current tier window.", int, "points"
    ),
    "loyalty.tier": KnownValue("Loyalty tier held now.", str),
    "loyalty.points_to_next_tier": KnownValue(
        "Qualifying points still needed for the next tier (0 at the top).", int, "points"
    ),
    "loyalty.points_expiring_30d": KnownValue(
        "Points that expire within the next 30 days.", int, "points"
    ),
    "loyalty.points_expiry_date": KnownValue("Last day the oldest points can be spent.", date),
    "loyalty.cashback_balance": KnownValue("Cashback balance.", float, "currency"),
    "loyalty.discount_percent": KnownValue(
        "Progressive discount of the tier held, or of the net spend reached.", float, "percent"
    ),
    "loyalty.spend_to_next_discount": KnownValue(
        "Net spend still needed for the next discount level (none at the top).", float, "currency"
    ),
    "loyalty.member_since": KnownValue("Day of the member's first loyalty entry.", date),
    "intent.score": KnownValue("Intent 0-5, one decimal: recent behaviour, decayed.", float),
    "intent.reasons": KnownValue("Top signals behind the intent score and their shares.", str),
    "texts.sentiment": KnownValue(
        "Recency-weighted sentiment of this person's newest messages, -1..1.", float
    ),
    "texts.sentiment_trend": KnownValue(
        "Improving, Steady, Worsening (newest message against the earlier ones), or New.", str
    ),
    "texts.last_reply_sentiment": KnownValue(
        "Sentiment of this person's newest message, -1..1.", float
    ),
    "texts.last_reply_label": KnownValue("Positive, Neutral or Negative: the newest message.", str),
    "texts.last_intent": KnownValue(
        "What this person's newest message with an intent asked for (models/texts.yaml).", str
    ),
    "texts.last_intent_phrase": KnownValue("The phrase of that message that said so.", str),
    "texts.last_message_entities": KnownValue(
        "Order numbers, amounts and products of this person's newest message naming any.", str
    ),
    "texts.case_sentiment": KnownValue(
        "Sentiment of a Case's newest message (its own text or an email on it), -1..1.", float
    ),
    "texts.case_intent": KnownValue(
        "What a Case's newest message asked for (models/texts.yaml), if anything.", str
    ),
    "texts.case_entities": KnownValue(
        "Order numbers, amounts and products a Case's newest message names.", str
    ),
    "texts.case_priority": KnownValue(
        "High, Medium or Low: the priority a Case's newest message suggests (its intents, "
        "raised when it is negative).",
        str,
    ),
    "conversion.score": KnownValue("Lead conversion score 1-99, learned from conversions.", int),
    "conversion.probability": KnownValue("Probability this open Lead converts (0..1).", float),
    "conversion.factors": KnownValue("Strongest factors of the conversion score.", str),
    "risk.score": KnownValue(
        "Order risk 0-100: the order is riskier than this share of the shop's orders.",
        int,
        "score 0..100",
    ),
    "risk.reasons": KnownValue("What stands out about the order (amount, country...).", str),
    "fulfilment.flag": KnownValue(
        "Fulfilment trending the wrong way: recent orders late, cancelled or returned against "
        "the person's own usual and the shop's.",
        bool,
    ),
    "fulfilment.reasons": KnownValue(
        "Why fulfilment is flagged, e.g. 3 of the last 4 orders delivered late, usually 0.", str
    ),
    "recommendations.text": KnownValue(
        "Top products to offer next, each with its why (bought with X by 38% of its buyers).",
        str,
    ),
    "recommendations.json": KnownValue(
        "The same list as JSON for a related list: product, rank, score, why.", str
    ),
}


def model_of(key: str) -> str:
    """The model that produces ``key``: its entry's ``model``, else the key's prefix."""
    return KNOWN_VALUES[key].model or key.split(".", 1)[0]


def keys_of(model: str) -> tuple[str, ...]:
    """The registered keys ``model`` produces, in registry order (the compute step's columns)."""
    return tuple(key for key in KNOWN_VALUES if model_of(key) == model)


def models() -> tuple[str, ...]:
    """Every model with registered values, in registry order."""
    return tuple(dict.fromkeys(model_of(key) for key in KNOWN_VALUES))


_TYPE_NAMES = {bool: "checkbox", int: "integer", float: "number", str: "text", date: "date"}


def type_name(kind: type) -> str:
    """The admin's word for a value's Python type (integer, number, text, date...)."""
    return _TYPE_NAMES.get(kind, kind.__name__)


def value_rows() -> list[dict[str, str]]:
    """One row per registered value (key, type, unit, model, description), registry order."""
    return [
        {
            "key": key,
            "type": type_name(v.kind),
            "unit": v.unit,
            "model": model_of(key),
            "description": v.description,
        }
        for key, v in KNOWN_VALUES.items()
    ]


def value_table() -> str:
    """The registry as the Markdown table the README carries between its values markers."""
    lines = ["| value | type | unit | model | what it means |", "|---|---|---|---|---|"]
    lines += [
        f"| `{r['key']}` | {r['type']} | {r['unit']} | {r['model']} | {r['description']} |"
        for r in value_rows()
    ]
    return "\n".join(lines) + "\n"

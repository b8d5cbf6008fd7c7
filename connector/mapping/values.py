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
}

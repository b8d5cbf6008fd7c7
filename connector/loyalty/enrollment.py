"""Who is a member of a program: pure, frames in, a set of members out.

``enrollment`` says who joins:

- ``buyers`` (the default): every Contact (or pooled Account) with an order; with
  ``enrollment_min_orders: N`` only those with at least N purchase orders (refunds, i.e.
  reduction orders, do not count);
- ``everyone``: every Contact, with or without orders;
- ``field``: only Contacts whose stored ``enrollment_field`` (a checkbox such as
  ``L2L_Loyalty_Member__c``) is true. A non-member's orders book nothing and no standing is
  written for them.
"""

from __future__ import annotations

import pandas as pd

from connector.loyalty.config import LoyaltyConfig, Program

#: Stored checkbox values that mean "checked" (the store may keep a bool, 0/1 or text).
_TRUE = {"true", "1", "yes"}


def _checked(values: pd.Series) -> pd.Series:
    return values.map(lambda v: str(v).strip().lower() in _TRUE if v is not None else False)


def enrollment_fields(config: LoyaltyConfig | None) -> list[str]:
    """The Contact fields the programs enroll by: the sync pulls and reads them too."""
    if config is None:
        return []
    fields = {p.enrollment_field for p in config.programs if p.enrollment_field}
    return sorted(fields)


def enrolled(program: Program, orders: pd.DataFrame, contacts: pd.DataFrame) -> set[str] | None:
    """The members of ``program`` (``Contact:<id>`` / ``Account:<id>``), or ``None`` when every
    member the orders name is enrolled (plain ``buyers`` and ``everyone``).

    ``orders``: member orders (:func:`connector.sync.loyalty.member_orders`): member,
    original_order_id. ``contacts``: stored Contacts with ``Id`` and, for ``field``, the
    configured field's column; a store without that column enrolls nobody (the field is not
    pulled or the org lacks it), which is safer than enrolling everyone.
    """
    if program.enrollment == "field":
        field = program.enrollment_field
        if not len(contacts) or field is None or field not in contacts.columns:
            return set()
        hit = contacts[_checked(contacts[field]).astype(bool)]
        return set("Contact:" + hit["Id"].astype(str))
    if program.enrollment == "buyers" and program.enrollment_min_orders > 1:
        if not len(orders):
            return set()
        refund = orders["original_order_id"].notna() if "original_order_id" in orders else None
        purchases = orders[~refund] if refund is not None else orders
        counts = purchases.groupby("member").size()
        return set(counts[counts >= program.enrollment_min_orders].index.astype(str))
    return None


def members_only(frame: pd.DataFrame, members: set[str] | None) -> pd.DataFrame:
    """The rows of ``frame`` (a ``member`` column) whose member is enrolled."""
    if members is None or not len(frame):
        return frame
    return frame[frame["member"].astype(str).isin(members)].reset_index(drop=True)

"""Each member's standing, the values mappings write: balance, tier, expiring points...

:func:`standing` is pure: the program's journal (and, for discounts from spend, the signed
purchases and refunds of :func:`connector.loyalty.spend.spend_entries`) and the moment in, one
row per member out, with the ``loyalty.*`` value keys as columns.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from connector.loyalty.config import Program
from connector.loyalty.operations import expiring_within, member_since
from connector.loyalty.spend import spend_discounts
from connector.loyalty.tiers import standings

#: The loyalty values a mapping may name, in the order they are produced.
STANDING_KEYS = (
    "loyalty.points_balance",
    "loyalty.qualifying_points",
    "loyalty.tier",
    "loyalty.points_to_next_tier",
    "loyalty.points_expiring_30d",
    "loyalty.points_expiry_date",
    "loyalty.cashback_balance",
    "loyalty.discount_percent",
    "loyalty.spend_to_next_discount",
    "loyalty.member_since",
)


def standing(
    journal: pd.DataFrame, program: Program, now: datetime, *, spend: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per member of ``program``: the values of :data:`STANDING_KEYS`.

    With discounts from spend (``discounts: {basis: spend}``), ``spend`` holds the members'
    purchases and refunds (:func:`connector.loyalty.spend.spend_entries`): a member with
    spend but no journal entry (a program that earns no points) has a standing too. Without
    ``spend`` such a program's discount values are unknown (``None``), never a guess.
    """
    by_spend = program.spend_discounts is not None and spend is not None
    spenders = set(spend["member"].dropna()) if by_spend and spend is not None else set()
    if journal.empty and not spenders:
        return pd.DataFrame(columns=list(STANDING_KEYS))
    members = pd.Index(sorted(set(journal["member"].unique()) | spenders), name="member")
    by_currency = journal.groupby(["member", "currency"])["points"].sum().unstack(fill_value=0)
    by_currency = by_currency.reindex(members).fillna(0)

    def currency(name: str) -> pd.Series:
        if name in by_currency:
            return by_currency[name].astype(np.int64)
        return pd.Series(0, index=members, dtype=np.int64)

    soon, next_expiry = expiring_within(journal, now, 30)
    out = pd.DataFrame(index=members)
    out["loyalty.points_balance"] = currency("points")
    if program.tiers is not None:
        tiers = standings(journal[journal["currency"] == "qualifying"], members, now, program)
        out["loyalty.qualifying_points"] = tiers["qualifying"]
        out["loyalty.tier"] = tiers["tier"]
        out["loyalty.points_to_next_tier"] = tiers["points_to_next"]
        out["loyalty.discount_percent"] = tiers["discount_percent"]
    else:
        out["loyalty.qualifying_points"] = currency("qualifying")
        out["loyalty.tier"] = None
        out["loyalty.points_to_next_tier"] = None
        out["loyalty.discount_percent"] = None
    out["loyalty.spend_to_next_discount"] = None
    if program.spend_discounts is not None:
        out["loyalty.discount_percent"] = None
        if by_spend and spend is not None:
            levels = spend_discounts(spend, members, now, program)
            out["loyalty.discount_percent"] = levels["discount_percent"]
            # object, so the top level's "none to go" stays None rather than NaN
            to_next = levels["spend_to_next"].astype(object)
            out["loyalty.spend_to_next_discount"] = to_next.where(to_next.notna(), None)
    out["loyalty.points_expiring_30d"] = soon.reindex(members).fillna(0).astype(np.int64)
    day = next_expiry.reindex(members).dt.tz_convert(program.zone)
    # Lots expire at the start of the next local day: the last day they can be spent is before.
    out["loyalty.points_expiry_date"] = (day - pd.Timedelta(days=1)).dt.date
    out["loyalty.cashback_balance"] = (currency("cashback") / 100.0).round(2)
    out["loyalty.member_since"] = (
        member_since(journal).reindex(members).dt.tz_convert(program.zone).dt.date
    )
    return out[list(STANDING_KEYS)]

"""Each member's standing, the values mappings write: balance, tier, expiring points...

:func:`standing` is pure: the program's journal and the moment in, one row per member out,
with the ``loyalty.*`` value keys as columns.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from connector.loyalty.config import Program
from connector.loyalty.operations import expiring_within, member_since
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
    "loyalty.member_since",
)


def standing(journal: pd.DataFrame, program: Program, now: datetime) -> pd.DataFrame:
    """Per member of ``program``: the values of :data:`STANDING_KEYS`."""
    if journal.empty:
        return pd.DataFrame(columns=list(STANDING_KEYS))
    members = pd.Index(sorted(journal["member"].unique()), name="member")
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
    out["loyalty.points_expiring_30d"] = soon.reindex(members).fillna(0).astype(np.int64)
    day = next_expiry.reindex(members).dt.tz_convert(program.zone)
    # Lots expire at the start of the next local day: the last day they can be spent is before.
    out["loyalty.points_expiry_date"] = (day - pd.Timedelta(days=1)).dt.date
    out["loyalty.cashback_balance"] = (currency("cashback") / 100.0).round(2)
    out["loyalty.member_since"] = (
        member_since(journal).reindex(members).dt.tz_convert(program.zone).dt.date
    )
    return out[list(STANDING_KEYS)]

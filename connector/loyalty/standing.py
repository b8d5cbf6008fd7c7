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
from connector.mapping.values import keys_of

#: The loyalty values a mapping may name, in registry order (``connector/mapping/values.py``).
STANDING_KEYS = keys_of("loyalty")


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
    # Members factorised once (sorted: the rows' order), currencies once: the sums per member
    # and currency and the first entry's moment are then integer work, not a groupby on
    # millions of member strings per value.
    codes, uniques = pd.factorize(journal["member"].to_numpy(), sort=True)
    if (codes < 0).any():
        return _standing_by_groupby(journal, program, now, spenders, spend)
    members = pd.Index(list(uniques), name="member")
    if spenders - set(uniques):  # members with spend and no entry yet
        members = pd.Index(sorted(set(uniques) | spenders), name="member")
        codes = members.get_indexer(journal["member"].to_numpy())
    currencies = journal["currency"].to_numpy()
    currency_codes, currency_names = pd.factorize(currencies)
    points = journal["points"].to_numpy(dtype=np.int64)

    def in_currency(name: str) -> np.ndarray:
        found = np.flatnonzero(np.asarray(currency_names, dtype=object) == name)
        if not len(found):
            return np.zeros(len(codes), dtype=bool)
        return np.asarray(currency_codes == found[0])

    def currency(name: str) -> pd.Series:
        mine = in_currency(name)
        sums = np.zeros(len(members), dtype=np.int64)
        np.add.at(sums, codes[mine], points[mine])
        return pd.Series(sums, index=members)

    soon, next_expiry = expiring_within(journal, now, 30)
    out = pd.DataFrame(index=members)
    out["loyalty.points_balance"] = currency("points")
    if program.tiers is not None:
        qualifying = journal.loc[in_currency("qualifying"), ["member", "at", "points"]]
        _tiers(out, standings(qualifying, members, now, program))
    else:
        out["loyalty.qualifying_points"] = currency("qualifying")
        _no_tiers(out)
    first = journal["at"].groupby(codes).min()
    first.index = members[first.index]
    _discounts(out, members, now, program, spend if by_spend else None)
    return _finish(out, soon, next_expiry, first, currency("cashback"), members, program)


def _discounts(
    out: pd.DataFrame,
    members: pd.Index,
    now: datetime,
    program: Program,
    spend: pd.DataFrame | None,
) -> None:
    """The progressive discount from spend, when the program takes it from there."""
    out["loyalty.spend_to_next_discount"] = None
    if program.spend_discounts is None:
        return
    out["loyalty.discount_percent"] = None
    if spend is not None:
        levels = spend_discounts(spend, members, now, program)
        out["loyalty.discount_percent"] = levels["discount_percent"]
        # object, so the top level's "none to go" stays None rather than NaN
        to_next = levels["spend_to_next"].astype(object)
        out["loyalty.spend_to_next_discount"] = to_next.where(to_next.notna(), None)


def _tiers(out: pd.DataFrame, tiers: pd.DataFrame) -> None:
    out["loyalty.qualifying_points"] = tiers["qualifying"]
    out["loyalty.tier"] = tiers["tier"]
    out["loyalty.points_to_next_tier"] = tiers["points_to_next"]
    out["loyalty.discount_percent"] = tiers["discount_percent"]


def _no_tiers(out: pd.DataFrame) -> None:
    out["loyalty.tier"] = None
    out["loyalty.points_to_next_tier"] = None
    out["loyalty.discount_percent"] = None


def _finish(
    out: pd.DataFrame,
    soon: pd.Series,
    next_expiry: pd.Series,
    first: pd.Series,
    cashback: pd.Series,
    members: pd.Index,
    program: Program,
) -> pd.DataFrame:
    out["loyalty.points_expiring_30d"] = soon.reindex(members).fillna(0).astype(np.int64)
    day = next_expiry.reindex(members).dt.tz_convert(program.zone)
    # Lots expire at the start of the next local day: the last day they can be spent is before.
    out["loyalty.points_expiry_date"] = (day - pd.Timedelta(days=1)).dt.date
    out["loyalty.cashback_balance"] = (cashback / 100.0).round(2)
    out["loyalty.member_since"] = first.reindex(members).dt.tz_convert(program.zone).dt.date
    return out[list(STANDING_KEYS)]


def _standing_by_groupby(
    journal: pd.DataFrame,
    program: Program,
    now: datetime,
    spenders: set[str],
    spend: pd.DataFrame | None,
) -> pd.DataFrame:
    # A journal with a missing member (never written by this package): the general groupby
    # path, which the factorised one above reproduces for every named member.
    members = pd.Index(sorted(set(journal["member"].dropna().unique()) | spenders), name="member")
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
        qualifying = journal[journal["currency"] == "qualifying"]
        _tiers(out, standings(qualifying, members, now, program))
    else:
        out["loyalty.qualifying_points"] = currency("qualifying")
        _no_tiers(out)
    first = member_since(journal)
    _discounts(out, members, now, program, spend)
    return _finish(out, soon, next_expiry, first, currency("cashback"), members, program)

"""What a member's request or an admin's act adds to the journal: pure decisions.

Each function takes the member's journal (every entry of the program for that member) and
returns the entries to append, or raises :class:`LoyaltyError` saying why not. The store runs
them inside one write transaction, so two requests for the same member never both see the
same balance (no overdraft), and their keys make a repeated request a no-op.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from connector.bounds import MAX_POINTS
from connector.errors import Lead2LoyaltyError
from connector.loyalty.config import Program
from connector.loyalty.earning import expiry_moments
from connector.loyalty.ledger import (
    as_journal,
    concat,
    entry,
    expired_frontier,
    expiry_entries,
    expiry_frame,
    lot_state,
    spendable,
)


class LoyaltyError(Lead2LoyaltyError):
    """A loyalty request cannot be carried out (unknown member, not enough points...)."""

    def __init__(self, message: str, *, code: str = "invalid_request", status: int = 400):
        super().__init__(message)
        self.code = code
        self.status = status


def due_expiries(journal: pd.DataFrame, program: Program, now: datetime) -> list[dict[str, object]]:
    """Expiry entries due at ``now`` under the program's expiry mode."""
    return expiry_entries(journal, now, program.id, mode=program.expiry.mode,
                          inactivity_cutoff=_inactivity_cutoff(program, now))  # fmt: skip


def due_expiry_frame(journal: pd.DataFrame, program: Program, now: datetime) -> pd.DataFrame:
    """:func:`due_expiries` as a journal frame (what a big batch books; no dict per entry)."""
    return expiry_frame(journal, now, program.id, mode=program.expiry.mode,
                        inactivity_cutoff=_inactivity_cutoff(program, now))  # fmt: skip


def _inactivity_cutoff(program: Program, now: datetime) -> pd.Timestamp | None:
    if program.expiry.mode != "inactivity":
        return None
    local = pd.Timestamp(now).tz_convert(program.zone).normalize()
    cutoff: pd.Timestamp = (local - pd.DateOffset(months=program.expiry.months)).tz_convert("UTC")
    return cutoff


def redeem(
    journal: pd.DataFrame,
    program: Program,
    member: str,
    points: int,
    request_key: str,
    now: datetime,
    *,
    reason: str = "redemption",
    source_id: str | None = None,
) -> list[dict[str, object]]:
    """A redemption of ``points`` (after any expiry due now), or :class:`LoyaltyError`
    (``insufficient_points``, 409) when the member cannot spend that many."""
    if not 0 < points <= MAX_POINTS:
        raise LoyaltyError(f"points must be a whole number from 1 to {MAX_POINTS:,}")
    key = f"{program.id}:redemption:{member}:{request_key}"
    if len(journal) and key in set(journal["key"]):
        return []  # the same request again: already done
    expiries = due_expiries(journal, program, now)
    after = concat(journal, as_journal(expiries))
    available = spendable(after, member, now)
    if available < points:
        raise LoyaltyError(
            f"member has {available} spendable points, {points} requested",
            code="insufficient_points",
            status=409,
        )
    return [
        *expiries,
        entry(
            key=key,
            program=program.id,
            member=member,
            kind="redemption",
            currency="points",
            points=-points,
            at=now,
            source_type="api",
            source_id=source_id or request_key,
            reason=reason,
        ),
    ]


def cancel_redemption(
    journal: pd.DataFrame, program: Program, member: str, request_key: str, now: datetime
) -> list[dict[str, object]]:
    """Give a redemption's points back with their original expiry: they return to the lots
    they came from, and whatever of them lies in lots that have expired since expires at once.
    """
    key = f"{program.id}:redemption:{member}:{request_key}"
    mine = journal[journal["key"] == key] if len(journal) else journal
    if mine.empty:
        raise LoyaltyError(
            f"no redemption {request_key!r} for this member", code="not_found", status=404
        )
    cancel_key = key + ":cancel"
    if cancel_key in set(journal["key"]):
        return []
    points = -int(mine["points"].iloc[0])
    consumed = int(lot_state(journal[journal["member"] == member]).consumed.get(member, 0))
    frontier = expired_frontier(journal, member, now)
    back = entry(
        key=cancel_key,
        program=program.id,
        member=member,
        kind="redemption_cancel",
        currency="points",
        points=points,
        at=now,
        source_type="api",
        source_id=request_key,
        reason="redemption cancelled",
    )
    lapsed = frontier - (consumed - points)
    if lapsed <= 0:
        return [back]
    return [
        back,
        entry(
            key=cancel_key + ":expiry",
            program=program.id,
            member=member,
            kind="expiry",
            currency="points",
            points=-min(lapsed, points),
            at=now,
            source_type="rule",
            reason="returned points had already expired",
        ),
    ]


def adjust(
    program: Program, member: str, points: int, reason: str, request_key: str, now: datetime
) -> dict[str, object]:
    """An admin adjustment: positive points are a new lot (expiring like earned points),
    negative ones are taken first-in first-out. The reason is required and journaled."""
    if points == 0:
        raise LoyaltyError("an adjustment of 0 points changes nothing")
    if abs(points) > MAX_POINTS:  # the journal never holds a move a balance could wrap on
        raise LoyaltyError(f"an adjustment moves at most {MAX_POINTS:,} points either way")
    if not reason.strip():
        raise LoyaltyError("an adjustment needs a reason (it is kept in the journal)")
    key = f"{program.id}:adjustment:{member}:{request_key}"
    at = pd.Series([pd.Timestamp(now)])
    expires = expiry_moments(at, program).iloc[0] if points > 0 else None
    return entry(
        key=key,
        program=program.id,
        member=member,
        kind="adjustment",
        currency="points",
        points=points,
        at=now,
        lot=key if points > 0 else None,
        expires_at=None if expires is None or pd.isna(expires) else expires,
        available_at=now if points > 0 else None,
        source_type="admin",
        source_id=request_key,
        reason=reason.strip(),
    )


def _with_debt(
    program: Program,
    member: str,
    at: object,
    key: str,
    kind: str,
    points: int,
    reasons: tuple[str, str],
) -> list[dict[str, object]]:
    """The same move in points and in the debt currency: a deferral (points back now, owed)
    or a settlement (taken from new points, no longer owed)."""
    return [
        entry(key=key + suffix, program=program.id, member=member, kind=kind,
              currency=currency, points=points, at=at, source_type="rule", reason=reason)
        for suffix, currency, reason in (("", "points", reasons[0]), (":debt", "debt", reasons[1]))
    ]  # fmt: skip


def refund_policy(
    program: Program, new: pd.DataFrame, journal: pd.DataFrame
) -> list[dict[str, object]]:
    """Entries the refund policy adds for a batch of new accruals and reversals.

    ``negative_balance``: none; the balance may go below zero and the field shows it.
    ``settle_from_future``: a member whose points (after the batch's accruals) cannot cover
    the batch's reversals gets a ``deferral`` of the shortfall (points back now, the same amount
    as debt), and debt outstanding before the batch is settled from the batch's accruals first.
    """
    if program.refund_policy != "settle_from_future" or new.empty:
        return []
    pts = new[new["currency"] == "points"]
    old_points = journal[journal["currency"] == "points"].groupby("member")["points"].sum()
    old_debt = journal[journal["currency"] == "debt"].groupby("member")["points"].sum()
    gained = pts[pts["points"] > 0].groupby("member")["points"].sum()
    lost = -pts[pts["points"] < 0].groupby("member")["points"].sum()
    members = gained.index.union(lost.index)
    out: list[dict[str, object]] = []
    at = new["at"].max()
    for member in members:
        balance = int(old_points.get(member, 0)) + int(gained.get(member, 0))
        debt = int(old_debt.get(member, 0))
        settle = min(debt, max(balance, 0), int(gained.get(member, 0)))
        tag = f"{program.id}:{member}:{new['key'][new['member'] == member].iloc[-1]}"
        if settle > 0:
            out += _with_debt(
                program, member, at, f"{tag}:settlement", "settlement", -settle,
                ("refund debt settled from new points", "refund debt settled"),
            )  # fmt: skip
            balance -= settle
        shortfall = int(lost.get(member, 0)) - max(balance, 0)
        if shortfall > 0:
            out += _with_debt(
                program, member, at, f"{tag}:deferral", "deferral", shortfall,
                ("refunded points were already spent: carried as debt", "refund debt"),
            )  # fmt: skip
    return out


def member_since(journal: pd.DataFrame) -> pd.Series:
    """Per member: the day of their first entry."""
    return journal.groupby("member")["at"].min()


def expiring_within(journal: pd.DataFrame, now: datetime, days: int) -> tuple[pd.Series, pd.Series]:
    """Per member: points that expire within ``days`` after ``now``, and the next expiry moment
    of any points still held."""
    lots = lot_state(journal).lots
    live = lots[(lots["remaining"] > 0) & lots["expires_at"].notna()]
    live = live[live["expires_at"] > pd.Timestamp(now)]
    soon = live[live["expires_at"] <= pd.Timestamp(now) + timedelta(days=days)]
    return (
        soon.groupby("member")["remaining"].sum().astype(np.int64),
        live.groupby("member")["expires_at"].min(),
    )

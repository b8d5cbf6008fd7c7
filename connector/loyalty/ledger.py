"""The points journal and what follows from it: lots, balances, expiry, redemption.

Pure functions over a journal frame (one row per entry, the columns of :data:`JOURNAL_COLUMNS`);
no I/O. The rules, in the order a reader needs them:

1. **The balance is the sum of the entries** of a currency, never clamped. Points are integers.
2. **Lots.** Every positive entry that adds points (an accrual, a positive adjustment, a transfer
   in) is a *lot* with its own expiry. A reversal names the lot it reverses (``lot``) and makes
   that lot smaller, so a refunded order's points leave with their order, not with the oldest
   points. Every other negative entry (redemption, expiry, negative adjustment, transfer out,
   settlement) is *consumed first-in first-out*; a cancelled redemption un-consumes.
3. **The consumption pointer.** Lots in earn order, each net of its reversals, laid end to end:
   ``cum_i`` is where lot ``i`` ends. ``C`` is the total consumed. Lot ``i`` still holds
   ``clip(cum_i - C, 0, net_i)``. Because every lot of a program expires the same time after it
   was earned, lots expire in earn order, so expiring the lots up to ``k`` costs
   ``max(0, cum_k - C)`` and moves ``C`` to at least ``cum_k``; nothing else needs remembering.
4. **Expiry runs before any consumption at the same moment** (the store runs it before a
   redemption and the clock runs it daily), so consumption never takes expired points.
5. **Spendable** points are those of lots past their pending days: ``cum_avail - C`` (pending
   lots are the newest, so they sit at the end).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

#: Every journal column, in the store's order.
JOURNAL_COLUMNS = (
    "key",  # idempotency key: unique in the database
    "program",
    "member",  # "Contact:003..." or "Account:001..." (pooled B2B)
    "kind",  # one of JournalKind
    "currency",  # points | qualifying | cashback | debt
    "points",  # signed integer
    "at",  # aware UTC datetime
    "lot",  # accruals: own key; reversals: the lot they reverse
    "expires_at",  # lots: when they expire (end of day, program time zone), else NaT
    "available_at",  # lots: when they can be spent (pending days), else NaT
    "source_type",  # order | order_item | event | promotion | admin | api | partner | rule
    "source_id",
    "rule_id",
    "rule",  # the rule's parameters as they were, JSON
    "partner",
    "brand",
    "reason",
    "token",  # the loyalty API token that booked it: its name, never its secret
)

#: What moved the points: the ``kind`` of a journal entry.
JournalKind = Literal[
    "accrual",
    "reversal",
    "redemption",
    "redemption_cancel",
    "expiry",
    "adjustment",
    "transfer",
    "settlement",
    "deferral",
]
KINDS: tuple[str, ...] = get_args(JournalKind)

LOT_KINDS = frozenset({"accrual", "adjustment", "transfer"})
#: Entries consumed (or, when positive, un-consumed) first-in first-out: every kind but the
#: lots' own accruals and the reversals, which name the lot they reverse. A ``deferral`` is
#: the part of a refund's reversal that the balance could not cover under the
#: ``settle_from_future`` policy: it gives the points back now and becomes debt that
#: ``settlement`` entries take from later earning.
FIFO_KINDS = frozenset(KINDS) - {"accrual", "reversal"}


def round_points(values: np.ndarray | float, rule: str) -> np.ndarray:
    """Fractional points to integers by the program's one rounding rule.

    ``floor`` never gives a point not fully earned (a 9.99 order at 1 point per unit earns 9);
    ``half_up`` rounds halves away from zero. A tiny tolerance keeps 0.1 * 30 (= 2.9999...)
    from losing a point to binary floating point.
    """
    arr = np.asarray(values, dtype=float)
    signs = np.sign(arr)
    mag = np.abs(arr) + 1e-9
    out = np.floor(mag) if rule == "floor" else np.floor(mag + 0.5)
    result: np.ndarray = (signs * out).astype(np.int64)
    return result


def empty_journal() -> pd.DataFrame:
    """A journal with no entries and the right columns and types (a copy of one built once:
    building it took 6 ms, several times in a run of a few people)."""
    return _EMPTY_JOURNAL.copy()


def _empty_journal() -> pd.DataFrame:
    types: dict[str, Any] = {"points": np.dtype(np.int64)}
    types.update(dict.fromkeys(("at", "expires_at", "available_at"), "datetime64[ns, UTC]"))
    return pd.DataFrame({c: pd.Series(dtype=types.get(c, object)) for c in JOURNAL_COLUMNS})


_EMPTY_JOURNAL = _empty_journal()


@dataclass(frozen=True)
class LotState:
    """Per member: the lots with what each still holds, and the consumption pointer."""

    lots: pd.DataFrame  # member, lot, at, expires_at, available_at, net, cum, remaining
    consumed: pd.Series  # member -> C


def _lot_order(lots: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions that sort ``lots`` by member, at, lot (what
    ``sort_values(["member", "at", "lot"], kind="stable")`` gives) and each position's member
    code (codes follow the members' sorted order); ``None`` when a value is missing.

    A stable sort on integer keys (member codes, instants): sorting the string columns was
    most of :func:`lot_state`'s time. The lot strings are only ranked where a member has
    several lots at the same instant (one order earning by several rules), and only those
    runs are sorted again.
    """
    members, _ = pd.factorize(lots["member"].to_numpy(), sort=True)
    at = lots["at"]
    if (members < 0).any() or at.isna().any() or lots["lot"].isna().any():
        return None
    moments = at.to_numpy(dtype="datetime64[ns]").view(np.int64)
    order = np.lexsort((moments, members))
    m, a = members[order], moments[order]
    tie = (m[1:] == m[:-1]) & (a[1:] == a[:-1])
    if tie.any():
        in_tie = np.zeros(len(order), dtype=bool)
        in_tie[1:] |= tie
        in_tie[:-1] |= tie
        # Each run of one member's lots at one instant is contiguous in ``order``: sort the
        # tied positions by (run, lot string), stable, and put them back in their slots.
        # Equal lot strings keep their order, as the stable sort on all columns did.
        run = np.cumsum(np.concatenate(([True], ~tie)))[in_tie]
        tied = order[in_tie]
        rank, _ = pd.factorize(lots["lot"].to_numpy()[tied], sort=True)
        order[in_tie] = tied[np.lexsort((rank, run))]
    return order, members


def text_equals(column: pd.Series, value: str) -> np.ndarray:
    """``column == value`` as a boolean array, a missing value unequal.

    The journal's text columns (pandas' default string type, or objects) are compared on
    their object values: the same result as pandas' comparison, several times faster on
    millions of rows. Other types (``pd.NA``-backed strings, categoricals) use pandas'.
    """
    dtype = column.dtype
    if pd.api.types.is_object_dtype(dtype) or (
        isinstance(dtype, pd.StringDtype) and dtype.na_value is not pd.NA
    ):
        try:
            return np.asarray(column.to_numpy(dtype=object) == value, dtype=bool)
        except TypeError:  # an object column holding pd.NA: its truth value is ambiguous
            pass
    return np.asarray((column == value).to_numpy(dtype=bool, na_value=False))


def lot_state(journal: pd.DataFrame) -> LotState:
    """The lots of a journal's points currency, net of reversals, and what each still holds."""
    # Masks over the whole journal, then each part taken with only its columns: copying a
    # points-only frame first copied 8 columns of millions of rows once more.
    in_points = text_equals(journal["currency"], "points")
    kind = journal["kind"]
    signed = journal["points"].to_numpy()
    is_lot = in_points & kind.isin(LOT_KINDS).to_numpy() & (signed > 0)
    lots = journal.loc[is_lot, ["member", "key", "at", "expires_at", "available_at", "points"]]
    lots = lots.rename(columns={"key": "lot", "points": "net"})
    reversed_ = journal.loc[in_points & text_equals(kind, "reversal"), ["lot", "points"]]
    reversals = reversed_.groupby("lot")["points"].sum()
    # What each lot's reversals took (0 for most): one lookup of the lots' keys in the small
    # table of reversed lots (Series.map did the same lookup with twice the overhead).
    if len(reversals):
        at = reversals.index.get_indexer(lots["lot"])
        taken = np.where(at >= 0, reversals.to_numpy(dtype=np.int64)[at], 0)
        lots = lots.assign(net=lots["net"] + taken)
    fifo = in_points & kind.isin(FIFO_KINDS).to_numpy() & ~is_lot
    consumed = -journal.loc[fifo, ["member", "points"]].groupby("member")["points"].sum()
    sorted_ = _lot_order(lots)
    if sorted_ is None:
        lots = lots.sort_values(["member", "at", "lot"], kind="stable").reset_index(drop=True)
        lots["cum"] = lots.groupby("member")["net"].cumsum()
        c = lots["member"].map(consumed).fillna(0).to_numpy(dtype=np.int64)
    else:
        order, codes = sorted_
        lots = lots.take(order).reset_index(drop=True)
        codes = codes[order]
        # Running sum per member without a groupby: lots are sorted by member, so it is the
        # running sum of all lots minus where the member's first lot starts.
        net = lots["net"].to_numpy(dtype=np.int64)
        running = np.cumsum(net)
        first = np.ones(len(codes), dtype=bool)
        first[1:] = codes[1:] != codes[:-1]
        group = np.cumsum(first) - 1
        lots["cum"] = running - (running - net)[first][group]
        uniques = lots["member"].to_numpy()[first]
        c = consumed.reindex(uniques).fillna(0).to_numpy(dtype=np.int64)[group]
    lots["remaining"] = np.clip(lots["cum"].to_numpy() - c, 0, lots["net"].clip(lower=0))
    return LotState(lots, consumed)


def balances(journal: pd.DataFrame) -> pd.DataFrame:
    """member x currency -> sum of entries (missing currencies are 0)."""
    if journal.empty:
        return pd.DataFrame()
    table = journal.pivot_table(
        index="member", columns="currency", values="points", aggfunc="sum", fill_value=0
    )
    return table.astype(np.int64)


def consumed_of(state: LotState, member: str) -> int:
    """The member's consumption pointer ``C``."""
    return int(state.consumed.get(member, 0))


def expiry_entries(
    journal: pd.DataFrame, now: datetime, program: str, *, mode: str, inactivity_cutoff: Any = None
) -> list[dict[str, object]]:
    """Expiry entries due at ``now``: for each member, what is left of the lots that expired.

    ``mode`` ``lot``: the lots whose ``expires_at`` has passed (rule 3). ``inactivity``: every
    remaining point of members whose last activity is before ``inactivity_cutoff``.
    Each entry's key names the last lot it covers, so running twice posts nothing twice.
    """
    due = _due_expiry(journal, now, mode, inactivity_cutoff)
    if due is None:
        return []
    lots, members, amounts = due
    reason = _expiry_reason(mode)
    return [
        entry(
            key=f"{program}:expiry:{lot}",
            program=program,
            member=member,
            kind="expiry",
            currency="points",
            points=-amount,
            at=now,
            source_type="rule",
            reason=reason,
        )
        for lot, member, amount in zip(lots, members, amounts, strict=True)
    ]


def expiry_frame(
    journal: pd.DataFrame, now: datetime, program: str, *, mode: str, inactivity_cutoff: Any = None
) -> pd.DataFrame:
    """:func:`expiry_entries` as a journal frame (``as_journal`` of those entries, the same
    values and types), built column by column: a big batch (hundreds of thousands of members
    with expired lots) no longer makes one dict per entry."""
    due = _due_expiry(journal, now, mode, inactivity_cutoff)
    if due is None:
        return empty_journal()
    lots, members, amounts = due
    n = len(lots)
    # Lists per column: pandas infers each column's type from the values as it does for the
    # entry dicts, so the frame is typed exactly as as_journal(expiry_entries(...)) is.
    columns: dict[str, list[Any]] = {c: [None] * n for c in JOURNAL_COLUMNS}
    columns["key"] = [f"{program}:expiry:{lot}" for lot in lots]
    columns["program"] = [program] * n
    columns["member"] = members
    columns["kind"] = ["expiry"] * n
    columns["currency"] = ["points"] * n
    columns["points"] = [-a for a in amounts]
    columns["at"] = [now] * n
    columns["source_type"] = ["rule"] * n
    columns["reason"] = [_expiry_reason(mode)] * n
    return as_journal(pd.DataFrame(columns, columns=list(JOURNAL_COLUMNS)))


def _expiry_reason(mode: str) -> str:
    return "points expired" if mode == "lot" else "points expired after inactivity"


def _due_expiry(
    journal: pd.DataFrame, now: datetime, mode: str, inactivity_cutoff: Any
) -> tuple[list[Any], list[str], list[int]] | None:
    """Per member with points due to expire: the last lot covered, the member, the points."""
    if journal.empty or mode == "never":
        return None
    state = lot_state(journal)
    lots = state.lots
    if lots.empty:
        return None
    now_ts = pd.Timestamp(now)
    if mode == "lot":
        due = lots[lots["expires_at"] <= now_ts]
        if due.empty:
            return None
        # lots are sorted by member: a member's last due lot is where the next row's
        # member differs (what groupby("member").tail(1) gives, without factorising again)
        if due["member"].isna().any():
            last = due.groupby("member").tail(1)
        else:
            member = due["member"].to_numpy()
            is_last = np.ones(len(member), dtype=bool)
            is_last[:-1] = member[1:] != member[:-1]
            last = due[is_last]
    else:
        activity = journal[journal["kind"].isin(["accrual", "redemption"])]
        last_seen = activity.groupby("member")["at"].max()
        idle = last_seen[last_seen < pd.Timestamp(inactivity_cutoff)].index
        last = lots[lots["member"].isin(idle)].groupby("member").tail(1)
    # One map of the consumption pointers, not a lookup per member.
    consumed = last["member"].map(state.consumed).fillna(0).to_numpy(dtype=np.int64)
    amounts = last["cum"].to_numpy(dtype=np.int64) - consumed
    positive = amounts > 0
    if not positive.any():
        return None
    return (
        last["lot"].to_numpy()[positive].tolist(),
        [str(m) for m in last["member"].to_numpy()[positive].tolist()],
        amounts[positive].tolist(),
    )


def spendable(journal: pd.DataFrame, member: str, now: datetime) -> int:
    """Points the member can spend at ``now``: available lots minus what is consumed."""
    mine = journal[journal["member"] == member]
    if mine.empty:
        return 0
    state = lot_state(mine)
    lots = state.lots
    avail = lots[lots["available_at"].isna() | (lots["available_at"] <= pd.Timestamp(now))]
    cum = int(avail["net"].sum())
    return max(0, cum - consumed_of(state, member))


def expired_frontier(journal: pd.DataFrame, member: str, now: datetime) -> int:
    """Where the member's expired lots end (``cum_k`` of the last expired lot), or 0."""
    mine = journal[journal["member"] == member]
    lots = lot_state(mine).lots if not mine.empty else pd.DataFrame()
    if lots.empty:
        return 0
    due = lots[lots["expires_at"] <= pd.Timestamp(now)]
    return int(due["cum"].max()) if not due.empty else 0


def entry(**values: object) -> dict[str, object]:
    """One journal entry as a dict with every column (missing ones None)."""
    row: dict[str, object] = dict.fromkeys(JOURNAL_COLUMNS)
    unknown = set(values) - set(JOURNAL_COLUMNS)
    if unknown:
        raise ValueError(f"unknown journal columns: {sorted(unknown)}")
    row.update(values)
    points = row["points"]
    if not isinstance(points, int | np.integer) or isinstance(points, bool):
        raise TypeError(f"points must be an integer, got {points!r}")
    row["points"] = int(points)
    return row


def as_journal(rows: Iterable[dict[str, object]] | pd.DataFrame) -> pd.DataFrame:
    """A journal frame from entry dicts or a frame of entries (typed like
    :func:`empty_journal`)."""
    if isinstance(rows, pd.DataFrame):
        frame = rows.reindex(columns=list(JOURNAL_COLUMNS)).reset_index(drop=True)
    else:
        frame = pd.DataFrame(list(rows), columns=list(JOURNAL_COLUMNS))
    if frame.empty:
        return empty_journal()
    frame["points"] = frame["points"].astype(np.int64)
    for c in ("at", "expires_at", "available_at"):
        if not _is_utc(frame[c]):
            # A column already aware in UTC is what to_datetime would return (a copy of it):
            # parsing only the others saves a copy of every time column per call.
            frame[c] = pd.to_datetime(frame[c], utc=True, format="ISO8601")
    return frame


def _is_utc(column: pd.Series) -> bool:
    dtype = column.dtype
    return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC"


def concat(*frames: pd.DataFrame) -> pd.DataFrame:
    """Journals appended in order (empty ones skipped), typed like :func:`empty_journal`."""
    parts = [f for f in frames if len(f)]
    if not parts:
        return empty_journal()
    if len(parts) == 1:
        # pd.concat of one frame is a copy of it: as_journal alone gives the same frame
        return as_journal(parts[0])
    return as_journal(pd.concat(parts, ignore_index=True))


def is_finite(value: float) -> bool:
    """True for a real number (amounts from the org may be missing)."""
    return not (math.isnan(value) or math.isinf(value))

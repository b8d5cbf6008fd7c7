"""Tiers from qualifying points, vectorised over members.

The rules (``Tiers`` in ``models/loyalty.yaml``):

1. A member's *level* for a number of qualifying points is the highest tier whose
   ``min_points`` it reaches.
2. The *program year* starts each year on the assessment date (``assessment_month`` /
   ``assessment_day``, in the program's time zone). ``a`` is the latest start at or before now.
3. Qualifying points count over a window: ``calendar_year`` counts from ``a`` to now;
   ``rolling_12_months`` counts the last twelve months.
4. **Upgrades are immediate**: the tier is at least the level of the current window.
5. **Downgrades wait for the assessment**: the tier is also at least the level the member had
   qualified for at ``a`` (the window that ended there), so points leaving a rolling window
   between assessments never drop a tier. During ``grace_days`` after ``a``, the level
   qualified for at the assessment before it still holds too.
6. Points to the next tier = the next tier's ``min_points`` minus the current window's points.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from connector.loyalty.config import Program


def assessment_start(now: datetime, program: Program) -> datetime:
    """The latest program-year start at or before ``now`` (rule 2), as an aware UTC moment."""
    assert program.tiers is not None
    local = now.astimezone(program.zone)
    start = local.replace(
        month=program.tiers.assessment_month,
        day=program.tiers.assessment_day,
        hour=0,
        minute=0,
        second=0,
        microsecond=0,
    )
    if start > local:
        start = start.replace(year=start.year - 1)
    return start.astimezone(UTC)


def _years_back(moment: datetime, years: int, program: Program) -> datetime:
    local = moment.astimezone(program.zone)
    return local.replace(year=local.year - years).astimezone(UTC)


def levels(points: np.ndarray, program: Program) -> np.ndarray:
    """The tier index each number of qualifying points reaches (rule 1).

    Points below the first ``min_points`` (a window holding only a refund is negative) are the
    lowest tier: the index is clipped at 0, because ``-1`` would name the top tier.
    """
    assert program.tiers is not None
    mins = np.array([t.min_points for t in program.tiers.levels])
    return np.maximum(np.searchsorted(mins, points, side="right") - 1, 0)


def standings(
    qualifying: pd.DataFrame, members: pd.Index, now: datetime, program: Program
) -> pd.DataFrame:
    """Per member: ``tier`` (name), ``tier_index``, ``qualifying`` (current window) and
    ``points_to_next`` (0 at the top tier).

    ``qualifying``: the journal's qualifying-currency entries (member, at, points).
    """
    assert program.tiers is not None
    tiers = program.tiers
    a = assessment_start(now, program)
    a1 = _years_back(a, 1, program)
    a2 = _years_back(a, 2, program)
    now_ts = pd.Timestamp(now)
    # Each member's position once (not a string groupby per window): windows are bincounts.
    position = members.get_indexer(qualifying["member"])
    points = qualifying["points"].to_numpy(dtype=float)
    at = qualifying["at"]

    def between(start: datetime, end: datetime, inclusive_end: bool) -> pd.Series:
        mask = (at >= pd.Timestamp(start)) & ((at <= end) if inclusive_end else (at < end))
        hit = mask.to_numpy(dtype=bool) & (position >= 0)
        sums = np.bincount(position[hit], weights=points[hit], minlength=len(members))
        return pd.Series(sums, index=members)

    def window(end: datetime) -> pd.Series:
        if tiers.basis == "rolling_12_months":
            start = pd.Timestamp(end).tz_convert(program.zone) - pd.DateOffset(months=12)
            return between(
                start.tz_convert("UTC").to_pydatetime() + timedelta(microseconds=1),
                end,
                inclusive_end=True,
            )
        return pd.Series(0.0, index=members)

    if tiers.basis == "calendar_year":
        current = between(a, now_ts.to_pydatetime(), True)
        at_a = between(a1, a, False)
        at_a1 = between(a2, a1, False)
    else:
        current = window(now_ts.to_pydatetime())
        at_a = window(a)
        at_a1 = window(a1)
    level = np.maximum(levels(current.to_numpy(), program), levels(at_a.to_numpy(), program))
    if now < a + timedelta(days=tiers.grace_days):
        level = np.maximum(level, levels(at_a1.to_numpy(), program))
    names = np.array([t.name for t in tiers.levels], dtype=object)
    mins = np.array([t.min_points for t in tiers.levels] + [0])
    top = len(tiers.levels) - 1
    nxt = np.where(level < top, mins[np.minimum(level + 1, top)] - current.to_numpy(), 0)
    return pd.DataFrame(
        {
            "tier": names[level],
            "tier_index": level,
            "qualifying": current.to_numpy().astype(np.int64),
            "points_to_next": np.maximum(nxt, 0).astype(np.int64),
            "discount_percent": np.array([t.discount_percent for t in tiers.levels])[level],
        },
        index=members,
    )

"""The reasons behind an intent score, as reps read them on the record.

``Cart adds x3 (last 3d) +1.4 | Email clicks x2 (last 7d) +0.6 | Returns x1 (last 30d) -0.3``:
the top signals by their share of the score, the rest summed as ``Other activity``; the shares
are rounded to one decimal so that they add up exactly to the displayed score (largest
remainder), and the text fits a 255-character text field.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from connector.scoring.config import IntentConfig
from connector.scoring.intent import AGE_STEPS, Float, SignalTotals, contributions

MAX_LENGTH = 255
SEPARATOR = " | "
NO_ACTIVITY = "No recent activity"


def rounded_shares(values: Sequence[float], total_tenths: int) -> list[int]:
    """``values`` (in points) rounded to tenths so that they sum to exactly ``total_tenths``.

    Largest remainder: every value is floored to a tenth, then the missing tenths go to the
    values with the largest remainders (mixed signs included).
    """
    scaled = [v * 10.0 for v in values]
    floors = [math.floor(v) for v in scaled]
    missing = total_tenths - sum(floors)
    order = sorted(range(len(scaled)), key=lambda i: scaled[i] - floors[i], reverse=True)
    for k in range(max(0, min(missing, len(order)))):
        floors[order[k]] += 1
    return floors


def _age(days: float) -> str:
    """``days``: whole calendar days since the latest event (0 today, 1 yesterday...)."""
    for step in AGE_STEPS:
        if days <= step:
            return f"last {step}d"
    return f"{AGE_STEPS[-1]}d+ ago"


def _item(label: str, count: int, age: float | None, tenths: int) -> str:
    times = f" x{count}" if count else ""
    when = f" ({_age(age)})" if age is not None else ""
    return f"{label}{times}{when} {'+' if tenths >= 0 else '-'}{abs(tenths) / 10:.1f}"


def reasons_text(
    labels: Sequence[str],
    points: Sequence[float],
    counts: Sequence[int],
    ages: Sequence[float],
    score: float,
    top: int,
) -> str:
    """One person's reasons: the ``top`` signals by absolute share, shares adding up to
    ``score`` (already rounded to one decimal)."""
    raw = float(sum(points))
    total = round(score * 10)
    if total <= 0 or raw <= 0:
        negative = [i for i in range(len(points)) if points[i] < 0]
        if negative and sum(p for p in points if p > 0) > 0.05:
            worst = min(negative, key=lambda i: points[i])
            return f"{labels[worst]} outweigh recent activity"
        return NO_ACTIVITY
    factor = score / raw  # the clip at the scale shrinks every share alike
    order = sorted(range(len(points)), key=lambda i: abs(points[i]), reverse=True)
    for shown in range(min(top, len(order)), 0, -1):
        head, tail = order[:shown], order[shown:]
        values = [points[i] * factor for i in head]
        if tail:
            values.append(sum(points[i] for i in tail) * factor)
        tenths = rounded_shares(values, total)
        items = [
            _item(labels[i], counts[i], ages[i], tenths[k])
            for k, i in enumerate(head)
            if tenths[k] != 0
        ]
        if tail and tenths[-1] != 0:
            items.append(_item("Other activity", 0, None, tenths[-1]))
        text = SEPARATOR.join(items)
        if len(text) <= MAX_LENGTH:
            return text
    return text[:MAX_LENGTH]


def all_reasons(
    totals: SignalTotals, config: IntentConfig, scores: Float, people: Sequence[int]
) -> dict[int, str]:
    """Reasons text for each person index in ``people`` (one loop per person, not per event:
    the groups are already summed)."""
    labels = [s.label for s in config.signals]
    points = contributions(totals, config)
    starts = np.searchsorted(totals.person, np.asarray(people, dtype=np.int64), side="left")
    ends = np.searchsorted(totals.person, np.asarray(people, dtype=np.int64), side="right")
    signal = totals.signal.tolist()
    pts = points.tolist()
    recent = totals.recent.tolist()
    last = totals.last_age_days.tolist()
    out: dict[int, str] = {}
    for p, lo, hi in zip(people, starts.tolist(), ends.tolist(), strict=True):
        out[int(p)] = reasons_text(
            [labels[signal[g]] for g in range(lo, hi)],
            pts[lo:hi],
            recent[lo:hi],
            last[lo:hi],
            float(scores[p]),
            config.reasons_top,
        )
    return out

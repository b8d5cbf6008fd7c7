"""The intent score: how hot a person is right now, 0-5 with one decimal, from what they did.

Pure functions over numpy arrays (no I/O), vectorised: hashed groupings and ``bincount``
passes, never a Python loop over events.

For each person ``p`` and signal ``s`` (a group of event names, ``models/intent.yaml``):

* every event ``e`` counts ``d_e = 0.5 ** (age_e / half_life_s)``: a lone event counts exactly
  half at its half-life, a quarter at twice it, and nothing is ever cut off abruptly;
* at most ``cap_per_day_s`` events of a signal count per person and UTC day: a day with more
  counts as ``cap`` of its events (one shopper reloading a page 40 times is not 40 views;
  Marketo's engagement scoring caps each activity type per day the same way);
* an event may be scaled by a numeric property (dwell time) and by a machine discount (email
  opens and clicks made by privacy proxies and link scanners, :func:`machine_events`);
* the decayed value ``x_ps = sum_e d_e`` becomes points with diminishing returns:
  ``c_ps = sign(w_s) * M_s * (1 - exp(-|w_s| x_ps / M_s))``, so one fresh event is worth about
  ``w_s`` points and the signal never adds (or removes) more than ``M_s``;
* the score is ``clip(sum_s c_ps, 0, scale)``; without recent activity every ``x`` decays
  toward 0, and so does the score. Nothing here can produce NaN: ages are clipped at 0 and the
  saturation is finite for every finite input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from connector.scoring.config import IntentConfig

Float = npt.NDArray[np.float64]
Int = npt.NDArray[np.int64]

DAY = 86_400.0
# An event still counts in the reasons' "x3" while it weighs at least this much (4 half-lives).
COUNTED = 1.0 / 16.0
# "(last 3d)": calendar days since the latest event, in coarse steps so the text changes
# rarely; "last 1d" is today or yesterday.
AGE_STEPS = (1, 3, 7, 14, 30, 90)


@dataclass(frozen=True)
class SignalTotals:
    """Decayed signal values per (person, signal) that has events, sorted by person then
    signal: the sparse form of a people x signals matrix."""

    person: Int
    signal: Int
    value: Float  # x: the decayed (capped, discounted) count
    recent: Int  # events that still weigh at least COUNTED
    last_age_days: Float  # UTC calendar days since the latest event (0: today)

    def dense(self, n_people: int, n_signals: int) -> Float:
        """The people x signals matrix of decayed values (zeros where nothing happened)."""
        out = np.zeros((n_people, n_signals))
        out[self.person, self.signal] = self.value
        return out


def signal_index(config: IntentConfig, names: npt.ArrayLike) -> Int:
    """The signal index of each event name (-1 for names no signal reads)."""
    codes, uniques = _factorize(np.asarray(names, dtype=object))
    lookup = config.event_signal()
    per_name = np.array([lookup.get(str(u), -1) for u in uniques] + [-1], dtype=np.int64)
    return per_name[codes]  # code -1 picks the trailing -1


def _factorize(values: npt.NDArray[Any]) -> tuple[Int, npt.NDArray[Any]]:
    codes, uniques = pd.factorize(values)  # a missing name is code -1, and no signal
    return codes.astype(np.int64), np.asarray(uniques, dtype=object)


def decayed_signals(
    person: Int,
    signal: Int,
    t: Float,
    now: float | Float,
    half_life_days: Float,
    cap_per_day: Int,
    multiplier: Float | None = None,
) -> SignalTotals:
    """Sum ``0.5 ** (age / half_life)`` per (person, signal), with the per-day caps.

    ``t`` are epoch seconds; ``now`` is one moment or one per person (each person scored as
    of their own date, for training). Events after ``now``, and events of signal -1,
    are ignored. ``cap_per_day`` holds 0 for signals without a cap.
    """
    person = np.asarray(person, dtype=np.int64)
    signal = np.asarray(signal, dtype=np.int64)
    t = np.asarray(t, dtype=np.float64)
    moment = np.asarray(now, dtype=np.float64)
    ref = moment[person] if moment.ndim else moment
    keep = (signal >= 0) & (person >= 0) & (t <= ref) & np.isfinite(t)
    if multiplier is not None:
        keep &= np.asarray(multiplier) > 0
    if not keep.all():
        person, signal, t = person[keep], signal[keep], t[keep]
        ref = ref[keep] if np.ndim(ref) else ref
        multiplier = multiplier[keep] if multiplier is not None else None
    if person.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return SignalTotals(empty, empty.copy(), np.zeros(0), empty.copy(), np.zeros(0))
    n_signals = int(max(half_life_days.size, 1))
    age = np.maximum(ref - t, 0.0) / DAY
    weight = np.exp2(-age / half_life_days[signal])
    if multiplier is not None:
        weight *= np.minimum(multiplier, 10.0)
    pair = person * n_signals + signal  # dense: 0 .. people x signals
    factor = _over_cap(pair, signal, t, cap_per_day)
    counted = weight * factor if factor is not None else weight
    fresh = (weight >= COUNTED) * (factor if factor is not None else 1.0)
    # Person x signal totals by bincount over the dense pair index: no sort, no hash; the
    # arrays are people x signals long (17 million floats for a million people).
    size = (int(person.max()) + 1) * n_signals
    events = np.bincount(pair, minlength=size)
    groups = np.flatnonzero(events)
    value = np.bincount(pair, weights=counted, minlength=size)[groups].astype(np.float64)
    recent = np.rint(np.bincount(pair, weights=fresh, minlength=size)[groups]).astype(np.int64)
    # The reasons' "(last 3d)" counts whole UTC calendar days since the latest event, so the
    # text moves only when the day does (as the compute-skip key does), never between two
    # syncs of one day: a label crossing mid-day rewrote fields with nothing new to say.
    days = np.floor(np.asarray(ref, dtype=float) / DAY) - np.floor(t / DAY)
    latest = np.full(size, np.inf)
    np.minimum.at(latest, pair, np.maximum(days, 0.0))
    last_age = latest[groups]
    return SignalTotals(groups // n_signals, groups % n_signals, value, recent, last_age)


def _over_cap(pair: Int, signal: Int, t: Float, cap_per_day: Int) -> Float | None:
    """Per event, the share it counts for: ``cap / n`` on a (person, signal, UTC day) with
    ``n`` events over its cap, else 1 (None: no day is over its cap).

    Exact groups need a hash or a sort of every event; instead every event's group key is
    hashed into about as many buckets as there are events and counted with one bincount. A
    group over its cap lies in a bucket over it, so only those events (a few percent: the
    busy days and the bucket collisions) are grouped exactly.
    """
    cap = cap_per_day[signal]
    if not (cap > 0).any():
        return None
    day = np.floor(t / DAY).astype(np.int64)
    key = (pair * (int(day.max() - day.min()) + 1) + (day - day.min())).astype(np.uint64)
    bits = max(10, int(pair.size).bit_length())
    slot = ((key * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)).astype(np.int64)
    crowded = np.bincount(slot, minlength=1 << bits)[slot] > np.where(cap > 0, cap, np.inf)
    maybe = np.flatnonzero(crowded)
    if not maybe.size:
        return None
    codes, _ = pd.factorize(key[maybe])
    size = np.bincount(codes)[codes]
    over = size > cap[maybe]
    if not over.any():
        return None
    factor = np.ones(pair.size)
    factor[maybe[over]] = cap[maybe[over]] / size[over]
    return factor


def contributions(totals: SignalTotals, config: IntentConfig) -> Float:
    """Points per (person, signal) group: weight per fresh event, saturating at max_points."""
    weight = np.array([s.weight for s in config.signals])[totals.signal]
    most = np.array([s.max_points for s in config.signals])[totals.signal]
    points: Float = np.sign(weight) * most * -np.expm1(-np.abs(weight) * totals.value / most)
    return points


def score_people(totals: SignalTotals, config: IntentConfig, n_people: int) -> tuple[Float, Float]:
    """(score, raw) per person: ``raw`` is the sum of points, ``score`` it clipped to
    [0, scale] and rounded to one decimal. People without events score 0."""
    points = contributions(totals, config)
    raw: Float = np.bincount(totals.person, weights=points, minlength=n_people).astype(float)
    score: Float = np.asarray(np.round(np.clip(raw, 0.0, config.scale), 1), dtype=np.float64)
    return score, raw


def half_lives(config: IntentConfig) -> Float:
    """Each signal's half-life in days, by signal index."""
    return np.array([s.half_life_days for s in config.signals], dtype=np.float64)


def caps(config: IntentConfig) -> Int:
    """Each signal's cap per day (0: none), by signal index."""
    return np.array([s.cap_per_day or 0 for s in config.signals], dtype=np.int64)


def machine_events(
    kind: npt.NDArray[Any],
    group: Int,
    t: Float,
    sent_at: Float,
    open_within_seconds: float,
    clicks_at_once: int,
    click_window_seconds: float,
) -> npt.NDArray[np.bool_]:
    """Which email events a machine made, not a person.

    ``kind`` is "send", "open" or "click" per event; ``group`` numbers one person's one email
    (events of the same person and email share it); ``sent_at`` is the send time the event
    carries itself (NaN when it does not). An open less than ``open_within_seconds`` after its
    email's send (Apple Mail Privacy Protection and corporate scanners fetch every image at
    delivery) is a machine, and so is each of ``clicks_at_once`` or more clicks on one email
    within ``click_window_seconds`` of each other (a link scanner follows every link at once).
    Sends themselves are never marked.
    """
    kind = np.asarray(kind, dtype=object)
    group = np.asarray(group, dtype=np.int64)
    t = np.asarray(t, dtype=np.float64)
    machine = np.zeros(t.size, dtype=bool)
    if t.size == 0:
        return machine
    # The latest send of the same email at or before each event (NaN when there is none).
    order = np.lexsort((t, group))
    g, ts, ks = group[order], t[order], kind[order]
    is_send = ks == "send"
    last_send = np.where(is_send, ts, np.nan)
    # forward-fill the last send within each group
    idx = np.where(is_send, np.arange(ts.size), -1)
    np.maximum.accumulate(idx, out=idx)
    filled = np.where(idx >= 0, last_send[np.maximum(idx, 0)], np.nan)
    same = (idx >= 0) & (g[np.maximum(idx, 0)] == g)
    send_time = np.where(same, filled, np.nan)
    own = np.asarray(sent_at, dtype=np.float64)[order]
    send_time = np.where(np.isfinite(own), own, send_time)
    is_open = ks == "open"
    with np.errstate(invalid="ignore"):
        quick = is_open & np.isfinite(send_time) & (ts - send_time < open_within_seconds)
    is_click = ks == "click"
    if is_click.any():
        ci = np.flatnonzero(is_click)
        # one sortable number per click: the group, then seconds within a wide enough band
        base = ts[ci] - ts[ci].min()
        span = float(base.max()) + 2.0 * click_window_seconds + 1.0
        key = g[ci].astype(np.float64) * span + base
        lo = np.searchsorted(key, key - click_window_seconds, side="left")
        hi = np.searchsorted(key, key + click_window_seconds, side="right")
        quick[ci] |= (hi - lo) >= clicks_at_once
    machine[order] = quick
    return machine


def summit_scores(
    totals: SignalTotals, config: IntentConfig, n_people: int, ever_active: npt.NDArray[np.bool_]
) -> Float:
    """The published baseline (Summit's formula) on the same decayed web counts: each web
    component ``1 - exp(-n / 10)`` with ``n`` its decayed count (no weights, no caps),
    ``scale`` times the largest component, rounded to steps of 0.5, and never below 0.5 for
    anyone ever active (it does not fall back to 0)."""
    web = np.array([s.web for s in config.signals])[totals.signal]
    component = np.where(web, -np.expm1(-totals.value / 10.0), 0.0)
    best = np.zeros(n_people)
    np.maximum.at(best, totals.person, component)
    score = np.round(config.scale * best * 2.0) / 2.0
    return np.where(ever_active, np.maximum(score, 0.5), score)

"""Benchmark: intent scores for 1,000,000 people from 20,000,000 events.

Prints the wall time of each stage of the vectorised path (event names to signals, decayed
and capped sums per person and signal, points and scores, reasons text) and its ratio to a
per-event Python loop doing the same work, measured in the same run on a subset of the events
and extrapolated linearly to all of them (the loop's cost is per event, so it scales with the
event count; said so in the output). The loop's scores are checked against the vectorised
ones on that subset.

    .venv/bin/python bench/scoring.py [--people 1000000] [--events 20000000] [--loop-events 400000]
"""

from __future__ import annotations

import argparse
import math
import resource
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from connector.mapping import load_yaml_model
from connector.scoring import IntentConfig
from connector.scoring.intent import (
    DAY,
    caps,
    decayed_signals,
    half_lives,
    score_people,
    signal_index,
)
from connector.scoring.reasons import all_reasons

REPO = Path(__file__).resolve().parent.parent
NOW = 1_800_000_000.0


def synthetic_events(
    config: IntentConfig, people: int, events: int, seed: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(person, event name, epoch seconds): a few people very active, most quiet (Zipf-like),
    ages exponential around 60 days, names weighted like a shop's stream (views dominate)."""
    rng = np.random.default_rng(seed)
    names = [e for s in config.signals for e in s.events]
    weights = np.array([20.0 if "View" in n else 3.0 if "Email" in n else 1.0 for n in names])
    person = (rng.pareto(1.2, events) * people / 50).astype(np.int64) % people
    codes = rng.choice(len(names), events, p=weights / weights.sum())
    t = NOW - rng.exponential(60.0, events) * DAY
    return person, np.asarray(names, dtype=object)[codes], t


def vectorised(
    config: IntentConfig, person: np.ndarray, name: np.ndarray, t: np.ndarray, n_people: int
) -> tuple[np.ndarray, dict[str, float]]:
    """Scores the way the sync computes them; returns them and seconds per stage."""
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    signal = signal_index(config, name)
    seconds["names -> signals"] = time.perf_counter() - started
    started = time.perf_counter()
    totals = decayed_signals(person, signal, t, NOW, half_lives(config), caps(config))
    seconds["decayed, capped sums"] = time.perf_counter() - started
    started = time.perf_counter()
    score, _ = score_people(totals, config, n_people)
    seconds["points and scores"] = time.perf_counter() - started
    started = time.perf_counter()
    active = np.flatnonzero(score > 0)
    all_reasons(totals, config, score, active.tolist())
    seconds[f"reasons text ({active.size:,} people)"] = time.perf_counter() - started
    return score, seconds


def loop(
    config: IntentConfig, person: list[int], name: list[str], t: list[float]
) -> dict[int, float]:
    """The same score, one event at a time in plain Python (the baseline)."""
    lookup = config.event_signal()
    hl = [s.half_life_days for s in config.signals]
    cap = [s.cap_per_day or 0 for s in config.signals]
    per_day: dict[tuple[int, int, int], list[float]] = {}
    for p, n, when in zip(person, name, t, strict=True):
        s = lookup.get(n, -1)
        if s < 0 or when > NOW:
            continue
        key = (p, s, int(when // DAY))
        day = per_day.get(key)
        if day is None:
            day = per_day[key] = [0.0, 0.0]
        day[0] += 1.0
        day[1] += 0.5 ** ((NOW - when) / DAY / hl[s])
    x: dict[tuple[int, int], float] = defaultdict(float)
    for (p, s, _), (count, total) in per_day.items():
        x[(p, s)] += total * cap[s] / count if cap[s] and count > cap[s] else total
    raw: dict[int, float] = defaultdict(float)
    for (p, s), value in x.items():
        sig = config.signals[s]
        points = sig.max_points * (1 - math.exp(-abs(sig.weight) * value / sig.max_points))
        raw[p] += math.copysign(points, sig.weight)
    return {p: round(min(max(v, 0.0), config.scale), 1) for p, v in raw.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--loop-events", type=int, default=400_000)
    args = parser.parse_args()
    config = load_yaml_model(REPO / "models" / "intent.yaml", IntentConfig)

    started = time.perf_counter()
    person, name, t = synthetic_events(config, args.people, args.events)
    print(
        f"generated {args.events:,} events for {args.people:,} people in "
        f"{time.perf_counter() - started:.1f}s (not counted)"
    )

    score, stages = vectorised(config, person, name, t, args.people)
    for stage, secs in stages.items():
        print(f"  {stage:<36} {secs:6.2f}s")
    total = sum(v for k, v in stages.items() if not k.startswith("reasons"))
    print(
        f"vectorised scores: {total:.1f}s for {args.events:,} events "
        f"({args.events / total / 1e6:.2f} M events/s); {int((score > 0).sum()):,} people score "
        "(the reasons text, a loop per person, is timed apart above)"
    )

    # The baseline on the first events of people 0..k-1: the same rules over a subset.
    k = max(1, int(args.people * args.loop_events / args.events))
    subset = np.flatnonzero(person < k)[: args.loop_events]
    sub_person, sub_name, sub_t = person[subset], name[subset], t[subset]
    started = time.perf_counter()
    expected = loop(config, sub_person.tolist(), sub_name.tolist(), sub_t.tolist())
    loop_secs = time.perf_counter() - started
    check, _ = vectorised(config, sub_person, sub_name, sub_t, int(sub_person.max()) + 1)
    mismatches = sum(1 for p, v in expected.items() if abs(check[p] - v) > 1e-9)
    per_event = loop_secs / subset.size
    projected = per_event * args.events
    print(
        f"per-event Python loop: {loop_secs:.1f}s for {subset.size:,} events "
        f"({per_event * 1e6:.2f} us/event); scores that differ from the vectorised: {mismatches}"
    )
    print(
        f"  extrapolated linearly to {args.events:,} events: {projected:,.0f}s "
        f"(the loop's work is per event, plus a per-person pass it only shortens)"
    )
    print(f"ratio: vectorised scores are {projected / total:.0f}x faster than the loop")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"peak memory (max RSS): {peak:.1f} GiB")


if __name__ == "__main__":
    main()

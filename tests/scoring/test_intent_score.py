"""The intent score's rules, on small arrays: decay, saturation, caps, negatives, machine opens,
reasons that add up, the Summit baseline, and settings read from YAML."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import MappingError
from connector.mapping import load_yaml_model
from connector.scoring import IntentConfig
from connector.scoring.intent import (
    DAY,
    caps,
    contributions,
    decayed_signals,
    half_lives,
    machine_events,
    score_people,
    summit_scores,
)
from connector.scoring.moments import crossings
from connector.scoring.reasons import NO_ACTIVITY, all_reasons, reasons_text, rounded_shares
from tests.support import REPO

NOW = 1_800_000_000.0  # 2027-01-15, epoch seconds


def config(**overrides: object) -> IntentConfig:
    """Three signals: views (capped), cart adds, returns (negative)."""
    signals = [
        {
            "name": "views",
            "label": "Product views",
            "events": ["Product Viewed"],
            "weight": 0.2,
            "max_points": 1.0,
            "half_life_days": 7,
            "cap_per_day": 5,
            "web": True,
        },
        {
            "name": "carts",
            "label": "Cart adds",
            "events": ["Product Added"],
            "weight": 0.5,
            "max_points": 2.0,
            "half_life_days": 4,
            "web": True,
        },
        {
            "name": "returns",
            "label": "Returns",
            "events": ["Order Refunded"],
            "weight": -0.8,
            "max_points": 1.0,
            "half_life_days": 30,
        },
    ]
    return IntentConfig.model_validate({"signals": signals, **overrides})


def totals(cfg: IntentConfig, person: list[int], signal: list[int], age_days: list[float]):  # type: ignore[no-untyped-def]
    t = NOW - np.asarray(age_days, dtype=float) * DAY
    return decayed_signals(
        np.asarray(person), np.asarray(signal), t, NOW, half_lives(cfg), caps(cfg)
    )


def test_a_lone_event_counts_half_at_its_half_life() -> None:
    cfg = config()
    fresh, one, two = (totals(cfg, [0], [1], [age]).value[0] for age in (0.0, 4.0, 8.0))
    assert fresh == pytest.approx(1.0)
    assert one == pytest.approx(0.5)
    assert two == pytest.approx(0.25)


def test_saturation_bounds_a_signal_with_diminishing_returns() -> None:
    cfg = config()
    points = [
        float(contributions(totals(cfg, [0] * n, [1] * n, [0.5] * n), cfg)[0])
        for n in (1, 2, 4, 50, 5_000)
    ]
    assert points == sorted(points)  # more events never lower it
    gains = np.diff(points[:3])
    assert gains[1] < gains[0] * 2  # doubling the events less than doubles the gain
    assert points[-1] <= cfg.signals[1].max_points
    assert points[-1] == pytest.approx(cfg.signals[1].max_points, rel=1e-6)
    one_event = 0.5 * 0.5 ** (0.5 / 4)  # weight x decay
    assert one_event * 0.85 < points[0] < one_event  # about the weight, a little saturated


def test_a_negative_signal_lowers_the_score() -> None:
    cfg = config()
    base = totals(cfg, [0, 0, 0], [1, 1, 0], [0.5, 1.0, 0.2])
    with_return = totals(cfg, [0, 0, 0, 0], [1, 1, 0, 2], [0.5, 1.0, 0.2, 1.0])
    before, _ = score_people(base, cfg, 1)
    after, _ = score_people(with_return, cfg, 1)
    assert after[0] < before[0]
    assert after[0] >= 0.0


def test_cap_per_day_counts_only_the_first_events_of_a_day() -> None:
    cfg = config()
    forty = totals(cfg, [0] * 40, [0] * 40, [0.1] * 40)  # 40 reloads within the same day
    five = totals(cfg, [0] * 5, [0] * 5, [0.1] * 5)
    assert forty.value[0] == pytest.approx(five.value[0])
    spread = totals(cfg, [0] * 10, [0] * 10, [0.1] * 5 + [1.1] * 5)  # two days: both count
    assert spread.value[0] > forty.value[0]


def test_without_activity_the_score_decays_to_zero_and_is_never_nan() -> None:
    cfg = config()
    person = np.array([0, 0, 1, 1, 2])
    signal = np.array([1, 0, 1, 2, 0])
    t = np.array([NOW - DAY, NOW - 2 * DAY, np.nan, NOW + 5 * DAY, NOW - 3 * DAY])
    scores = []
    for later in (0, 30, 365, 3650):
        tot = decayed_signals(person, signal, t, NOW + later * DAY, half_lives(cfg), caps(cfg))
        score, raw = score_people(tot, cfg, 3)
        assert not np.isnan(score).any()
        assert not np.isnan(raw).any()
        scores.append(score[0])
    assert scores == sorted(scores, reverse=True)
    assert scores[0] >= 0.5
    assert scores[-1] == 0.0


def test_per_person_as_of_ignores_later_events() -> None:
    cfg = config()
    t = np.array([NOW - 10 * DAY, NOW - DAY])
    tot = decayed_signals(
        np.array([0, 0]), np.array([1, 1]), t, np.array([NOW - 5 * DAY]), half_lives(cfg), caps(cfg)
    )
    assert tot.value[0] == pytest.approx(0.5 ** (5 / 4))


def test_machine_opens_and_link_scanner_clicks_are_found() -> None:
    kind = np.array(["send", "open", "send", "open", "click", "click", "click", "click"], object)
    group = np.array([1, 1, 2, 2, 3, 3, 3, 4])
    t = np.array([0.0, 3.0, 100.0, 4000.0, 50.0, 50.5, 51.0, 60.0])
    sent_at = np.full(8, np.nan)
    machine = machine_events(kind, group, t, sent_at, 10.0, 3, 2.0)
    assert machine.tolist() == [False, True, False, False, True, True, True, False]
    # an open carrying its own send time
    own = machine_events(
        np.array(["open"], object), np.array([9]), np.array([5.0]), np.array([0.0]), 10.0, 3, 2.0
    )
    assert own.tolist() == [True]


def test_summit_rounds_to_halves_and_never_falls_back_to_zero() -> None:
    cfg = config()
    tot = totals(cfg, [0, 1, 1, 1], [0, 1, 1, 1], [900.0, 0.1, 0.2, 0.3])
    scores = summit_scores(tot, cfg, 3, np.array([True, True, False]))
    assert scores[0] == 0.5  # long quiet, still 0.5
    assert scores[2] == 0.0  # never active
    assert (scores * 2 == np.round(scores * 2)).all()
    assert scores[1] == np.round(5 * (1 - np.exp(-tot.value[1] / 10)) * 2) / 2


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(min_value=-1.5, max_value=2.0, allow_nan=False), min_size=1, max_size=12),
    st.integers(min_value=1, max_value=6),
)
def test_reasons_shares_add_up_to_the_score(points: list[float], top: int) -> None:
    raw = sum(points)
    score = round(min(max(raw, 0.0), 5.0), 1)
    labels = [f"Signal {i}" for i in range(len(points))]
    text = reasons_text(labels, points, [1] * len(points), [0.5] * len(points), score, top)
    assert len(text) <= 255
    if score == 0.0:
        assert "+" not in text
        return
    shares = [float(m) for m in re.findall(r" ([+-]\d+\.\d)(?: \||$)", text)]
    assert round(sum(shares), 1) == score


def test_rounded_shares_keep_the_total() -> None:
    assert sum(rounded_shares([0.33, 0.33, 0.34], 10)) == 10
    assert rounded_shares([1.46, -0.27], 12) == [15, -3]


def test_reasons_read_in_plain_words() -> None:
    cfg = config()
    tot = totals(cfg, [0, 0, 0, 0, 0], [1, 1, 1, 0, 2], [0.5, 1.5, 1.0, 2.0, 10.0])
    score, _ = score_people(tot, cfg, 1)
    text = all_reasons(tot, cfg, score, [0])[0]
    assert text.startswith("Cart adds x3 (last 1d) +")
    assert "Returns x1 (last 14d) -" in text
    quiet = totals(cfg, [0], [0], [3000.0])
    nothing, _ = score_people(quiet, cfg, 1)
    assert all_reasons(quiet, cfg, nothing, [0])[0] == NO_ACTIVITY


def test_editing_a_weight_in_yaml_changes_scores(tmp_path: Path) -> None:
    text = (REPO / "models" / "intent.yaml").read_text(encoding="utf-8")
    path = tmp_path / "intent.yaml"
    path.write_text(text, encoding="utf-8")
    before = load_yaml_model(path, IntentConfig)
    edited = text.replace(
        "label: Cart adds\n    events: [Product Added, Cart Viewed, Cart Updated, "
        "Wishlist Product Added to Cart]\n    weight: 0.5",
        "label: Cart adds\n    events: [Product Added, Cart Viewed, Cart Updated, "
        "Wishlist Product Added to Cart]\n    weight: 1.2",
    )
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    after = load_yaml_model(path, IntentConfig)
    cart = [s.name for s in before.signals].index("cart_adds")

    def score(cfg: IntentConfig) -> float:
        tot = totals(cfg, [0, 0], [cart, cart], [0.2, 1.0])
        return float(score_people(tot, cfg, 1)[0][0])

    assert score(after) > score(before) > 0


def test_bad_yaml_is_a_file_line_error(tmp_path: Path) -> None:
    path = tmp_path / "intent.yaml"
    path.write_text(
        "signals:\n"
        "  - name: carts\n"
        "    label: Cart adds\n"
        "    events: [Product Added]\n"
        "    weight: lots\n"
        "    max_points: 2\n"
        "    half_life_days: -1\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as caught:
        load_yaml_model(path, IntentConfig)
    problems = caught.value.problems
    assert any(p.startswith(f"{path}:5: signals[0].weight") for p in problems), problems
    assert any(p.startswith(f"{path}:7: signals[0].half_life_days") for p in problems), problems


def test_an_event_feeds_one_signal_only() -> None:
    with pytest.raises(ValueError, match="feeds both"):
        config(
            signals=[
                {
                    "name": "a",
                    "label": "A",
                    "events": ["X"],
                    "weight": 1,
                    "max_points": 1,
                    "half_life_days": 1,
                },
                {
                    "name": "b",
                    "label": "B",
                    "events": ["X"],
                    "weight": 1,
                    "max_points": 1,
                    "half_life_days": 1,
                },
            ]
        )


def test_crossings_fire_once_and_rearm_below_the_line() -> None:
    first = crossings({"a": 4.2, "b": 3.9, "c": 4.0}, set(), 4.0, 3.0)
    assert first.fire == ["a", "c"]
    assert first.rearm == []
    still_hot = crossings({"a": 4.6, "c": 3.5}, {"a", "c"}, 4.0, 3.0)
    assert still_hot.fire == []
    assert still_hot.rearm == []
    cooled = crossings({"a": 2.9}, {"a", "c"}, 4.0, 3.0)
    assert cooled.rearm == ["a", "c"]  # c has no score any more
    again = crossings({"a": 4.1}, set(), 4.0, 3.0)
    assert again.fire == ["a"]


def test_committed_model_schemas_match_the_typed_settings() -> None:
    from connector.scoring.schema import SCHEMAS, render

    for name, model in SCHEMAS.items():
        assert (REPO / "models" / name).read_text(encoding="utf-8") == render(model), (
            f"models/{name} drifted: run python -m connector.scoring.schema"
        )


def test_the_reasons_age_moves_with_the_day_not_the_minute() -> None:
    """Two syncs minutes apart on one day write the same text even when the event's exact
    age crosses a step (7 days to the minute); the next day's text moves on."""
    cfg = config()
    day = 20_000 * DAY  # a midnight, UTC
    event = np.asarray([day + 10 * 3600.0])  # 10:00

    def text(ref: float) -> str:
        tot = decayed_signals(
            np.asarray([0]), np.asarray([1]), event, ref, half_lives(cfg), caps(cfg)
        )
        score, _ = score_people(tot, cfg, 1)
        return all_reasons(tot, cfg, score, [0])[0]

    before = text(day + 7 * DAY + 10 * 3600.0 - 60)  # 6.9993 days old
    after = text(day + 7 * DAY + 10 * 3600.0 + 60)  # 7.0007 days old
    assert before == after
    assert "(last 7d)" in after
    assert "(last 14d)" in text(day + 8 * DAY + 60)  # the next day: 8 calendar days

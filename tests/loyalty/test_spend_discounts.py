"""Progressive discounts from cumulative net spend (``discounts: {basis: spend}``): the pure
rules of :mod:`connector.loyalty.spend`, the member standing, and the config's errors.

The pipeline test is in ``test_spend_discounts_sync.py``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from connector.cli import main
from connector.errors import MappingError
from connector.loyalty.book import book
from connector.loyalty.config import Discounts, LoyaltyConfig, Program
from connector.loyalty.ledger import empty_journal
from connector.loyalty.spend import discount_levels, net_spend, spend_entries
from connector.loyalty.standing import standing
from connector.mapping import load_yaml_model

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
LEVELS = [
    {"min_spend": 0, "percent": 0},
    {"min_spend": 100, "percent": 5},
    {"min_spend": 500, "percent": 10},
]


def _program(window: str = "lifetime", zone: str = "UTC", **extra: Any) -> Program:
    return Program.model_validate(
        {
            "id": "vip",
            "name": "VIP",
            "type": "progressive_discount",
            "timezone": zone,
            "discounts": {"basis": "spend", "window": window, "levels": LEVELS},
            **extra,
        }
    )


def _orders(*rows: tuple[str, str, str, float, str | None]) -> pd.DataFrame:
    """(order id, member, ISO moment, amount, original order id) -> book()'s orders frame."""
    return pd.DataFrame(
        {
            "order_id": [r[0] for r in rows],
            "member": [r[1] for r in rows],
            "at": pd.to_datetime([r[2] for r in rows], utc=True, format="ISO8601"),
            "amount": [r[3] for r in rows],
            "original_order_id": [r[4] for r in rows],
        }
    )


def _spend(
    program: Program,
    orders: pd.DataFrame,
    now: datetime,
    reductions: pd.DataFrame | None = None,
) -> dict[str, float]:
    entries = spend_entries(orders, now, reductions)
    members = pd.Index(sorted(orders["member"].unique()))
    return net_spend(entries, members, now, program).to_dict()


def _discounts(levels: list[dict[str, float]] = LEVELS) -> Discounts:
    return Discounts.model_validate({"basis": "spend", "levels": levels})


# ---------------------------------------------------------------- levels
@pytest.mark.parametrize(
    ("spend", "percent", "to_next"),
    [
        (0.0, 0.0, 100.0),
        (99.99, 0.0, 0.01),
        (100.0, 5.0, 400.0),  # exactly min_spend reaches the level
        (499.99, 5.0, 0.01),
        (500.0, 10.0, None),  # the top level: nothing to go
        (12_345.0, 10.0, None),
    ],
)
def test_a_level_starts_at_exactly_its_min_spend(
    spend: float, percent: float, to_next: float | None
) -> None:
    got_percent, got_next = discount_levels(np.array([spend]), _discounts())
    assert got_percent.tolist() == [percent]
    if to_next is None:
        assert math.isnan(got_next[0])
    else:
        assert got_next[0] == pytest.approx(to_next)


def test_below_a_first_level_above_zero_there_is_no_discount() -> None:
    discounts = _discounts([{"min_spend": 200, "percent": 3}, {"min_spend": 800, "percent": 6}])
    percent, to_next = discount_levels(np.array([0.0, 150.0, 200.0, 800.0]), discounts)
    assert percent.tolist() == [0.0, 0.0, 3.0, 6.0]
    assert to_next[:3].tolist() == [200.0, 50.0, 600.0]
    assert math.isnan(to_next[3])


@st.composite
def _levels_and_spend(draw: st.DrawFn) -> tuple[list[dict[str, float]], list[float]]:
    mins = sorted(draw(st.sets(st.integers(0, 10_000), min_size=1, max_size=6)))
    steps = draw(st.lists(st.integers(0, 10), min_size=len(mins), max_size=len(mins)))
    percents = np.minimum(np.cumsum(steps), 100).tolist()
    spends = draw(st.lists(st.integers(0, 1_000_000), min_size=1, max_size=20))
    levels = [
        {"min_spend": float(m), "percent": float(p)} for m, p in zip(mins, percents, strict=True)
    ]
    return levels, [s / 100 for s in spends]


@given(_levels_and_spend())
def test_the_level_is_the_highest_min_spend_reached(
    case: tuple[list[dict[str, float]], list[float]],
) -> None:
    levels, spends = case
    percent, to_next = discount_levels(np.array(spends), _discounts(levels))
    for spend, got, nxt in zip(spends, percent.tolist(), to_next.tolist(), strict=True):
        reached = [lv for lv in levels if lv["min_spend"] <= spend]
        assert got == (reached[-1]["percent"] if reached else 0.0)
        above = [lv for lv in levels if lv["min_spend"] > spend]
        if above:
            assert nxt == pytest.approx(above[0]["min_spend"] - spend, abs=0.006)
            assert nxt > 0
        else:
            assert math.isnan(nxt)
    # more spend never gives less discount
    order = np.argsort(spends, kind="stable")
    assert np.all(np.diff(percent[order]) >= 0)


# ---------------------------------------------------------------- net spend
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@st.composite
def _purchases_and_refunds(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 8))
    rows: list[tuple[str, str, str, float, str | None]] = []
    for i in range(n):
        day = draw(st.integers(1, 40))
        cents = draw(st.integers(0, 100_000))
        rows.append(
            (
                f"o{i}",
                f"Contact:{draw(st.sampled_from('abc'))}",
                f"2026-10-{day:02d}" if day <= 31 else f"2026-11-{day - 31:02d}",
                cents / 100,
                None,
            )
        )
    for j in range(draw(st.integers(0, 8))):
        target = draw(st.sampled_from([*(r[0] for r in rows), "o-unknown"]))
        member = next((r[1] for r in rows if r[0] == target), "Contact:a")
        day = draw(st.integers(1, 28))
        cents = draw(st.integers(1, 60_000))
        rows.append((f"r{j}", member, f"2026-11-{day:02d}", -cents / 100, target))
    return _orders(*((o, m, f"{d}T10:00Z", a, t) for o, m, d, a, t in rows))


@given(_purchases_and_refunds())
def test_lifetime_net_spend_is_purchases_minus_capped_refunds(orders: pd.DataFrame) -> None:
    now = datetime(2026, 11, 20, tzinfo=UTC)
    due = orders[orders["at"] <= pd.Timestamp(now)].sort_values(["at", "order_id"])
    bought = {r.order_id: r for r in due.itertuples() if pd.isna(r.original_order_id)}
    expected = dict.fromkeys(orders["member"].unique(), 0.0)
    for r in bought.values():
        expected[r.member] += r.amount
    returned = dict.fromkeys(bought, 0.0)
    for r in due.itertuples():
        if r.original_order_id in bought:
            order = bought[r.original_order_id]
            take = min(abs(r.amount), order.amount - returned[order.order_id])
            returned[order.order_id] += take
            expected[order.member] -= take
    got = _spend(_program(), orders, now)
    assert got == pytest.approx({m: max(round(v, 2), 0.0) for m, v in expected.items()})


def test_a_reduction_order_lowers_the_level_on_its_own_date() -> None:
    program = _program()
    orders = _orders(
        ("o1", "Contact:a", "2026-10-01T10:00Z", 600.0, None),
        # a reduction order: negative quantities, so a negative amount naming its order
        ("r1", "Contact:a", "2026-11-01T10:00Z", -150.0, "o1"),
    )
    assert _spend(program, orders, datetime(2026, 10, 31, tzinfo=UTC)) == {"Contact:a": 600.0}
    assert _spend(program, orders, NOW) == {"Contact:a": 450.0}
    row = standing(empty_journal(), program, NOW, spend=spend_entries(orders, NOW)).iloc[0]
    assert row["loyalty.discount_percent"] == 5.0  # was 10 before the refund
    assert row["loyalty.spend_to_next_discount"] == pytest.approx(50.0)


def test_refunds_never_take_more_than_their_order_added() -> None:
    orders = _orders(
        ("o1", "Contact:a", "2026-10-01T10:00Z", 600.0, None),
        ("o2", "Contact:a", "2026-10-02T10:00Z", 300.0, None),
        ("r1", "Contact:a", "2026-10-03T10:00Z", -400.0, "o1"),
        ("r2", "Contact:a", "2026-10-04T10:00Z", -400.0, "o1"),  # 200 more than o1 had left
        ("r3", "Contact:a", "2026-10-05T10:00Z", -50.0, "o-unknown"),  # reverses nothing
    )
    assert _spend(_program(), orders, NOW) == {"Contact:a": 300.0}


def test_a_shop_refund_counts_its_share_of_the_order() -> None:
    # A shop order of 100 EUR counted as 200 in the corporate currency; 25 EUR refunded.
    orders = _orders(("shopify:s/1", "Contact:a", "2026-11-01T10:00Z", 200.0, None))
    reductions = pd.DataFrame(
        {
            "refund_id": ["shopify:s/r1", "shopify:s/r2"],
            "original_order_id": ["shopify:s/1", "shopify:s/1"],
            "at": pd.to_datetime(["2026-11-02T10:00Z", "2026-12-02T10:00Z"], utc=True),
            "amount": [25.0, 75.0],
            "original_amount": [100.0, 100.0],
        }
    )
    # the second refund is dated after now: it does not count yet
    assert _spend(_program(), orders, NOW, reductions) == {"Contact:a": 150.0}
    later = datetime(2026, 12, 3, tzinfo=UTC)
    assert _spend(_program(), orders, later, reductions) == {"Contact:a": 0.0}


def test_a_refund_of_an_order_before_the_window_empties_it_but_never_below_zero() -> None:
    program = _program("calendar_year")
    orders = _orders(
        ("o1", "Contact:a", "2025-12-20T10:00Z", 600.0, None),
        ("r1", "Contact:a", "2026-01-10T10:00Z", -600.0, "o1"),
        ("o2", "Contact:a", "2026-02-01T10:00Z", 250.0, None),
    )
    assert _spend(program, orders, datetime(2025, 12, 31, tzinfo=UTC)) == {"Contact:a": 600.0}
    assert _spend(program, orders, datetime(2026, 1, 20, tzinfo=UTC)) == {"Contact:a": 0.0}
    # 250 bought this year, 600 refunded this year: the year holds 0, not -350
    assert _spend(program, orders, NOW) == {"Contact:a": 0.0}


def test_lifetime_counts_everything_up_to_now_and_nothing_after() -> None:
    orders = _orders(
        ("o1", "Contact:a", "2001-01-01T00:00Z", 80.0, None),
        ("o2", "Contact:a", "2026-11-28T12:00Z", 20.0, None),  # exactly now counts
        ("o3", "Contact:a", "2026-11-28T12:00:01Z", 900.0, None),
    )
    assert _spend(_program(), orders, NOW) == {"Contact:a": 100.0}


@pytest.mark.parametrize(
    ("zone", "now_local", "counted"),
    [
        # 23:30 on 31 December in New York is 04:30 UTC on 1 January: that year still
        ("America/New_York", "2026-12-31T23:45", True),
        ("America/New_York", "2027-01-01T00:10", False),
        # the same UTC moment is already 1 January in UTC and in Tokyo
        ("UTC", "2027-01-01T05:00", True),
        ("Asia/Tokyo", "2027-01-01T19:00", True),
        ("Asia/Tokyo", "2026-12-31T23:59", False),  # not yet bought, seen from Tokyo
    ],
)
def test_the_calendar_year_is_the_programs_local_year(
    zone: str, now_local: str, counted: bool
) -> None:
    program = _program("calendar_year", zone)
    bought = datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    orders = _orders(("o1", "Contact:a", bought.isoformat(), 120.0, None))
    now = datetime.fromisoformat(now_local).replace(tzinfo=ZoneInfo(zone))
    assert _spend(program, orders, now) == {"Contact:a": 120.0 if counted else 0.0}


def test_a_purchase_at_2330_local_on_31_december_gives_that_years_discount() -> None:
    zone = ZoneInfo("America/New_York")
    program = _program("calendar_year", "America/New_York")
    bought = datetime(2026, 12, 31, 23, 30, tzinfo=zone)
    orders = _orders(("o1", "Contact:a", bought.isoformat(), 100.0, None))
    on_the_night = datetime(2026, 12, 31, 23, 50, tzinfo=zone)
    row = standing(
        empty_journal(), program, on_the_night, spend=spend_entries(orders, on_the_night)
    ).iloc[0]
    assert row["loyalty.discount_percent"] == 5.0
    new_year = datetime(2027, 1, 1, 0, 5, tzinfo=zone)
    row = standing(empty_journal(), program, new_year, spend=spend_entries(orders, new_year))
    assert row.iloc[0]["loyalty.discount_percent"] == 0.0
    assert row.iloc[0]["loyalty.spend_to_next_discount"] == pytest.approx(100.0)


def test_the_rolling_window_starts_after_the_same_local_moment_a_year_ago() -> None:
    zone = ZoneInfo("Europe/Berlin")
    now = datetime(2026, 7, 1, 12, 0, tzinfo=zone)  # summer time; a year ago too
    program = _program("rolling_12_months", "Europe/Berlin")
    edge = datetime(2025, 7, 1, 12, 0, tzinfo=zone)
    orders = _orders(
        ("o1", "Contact:a", edge.isoformat(), 1000.0, None),  # the previous window's
        ("o2", "Contact:a", (edge + timedelta(seconds=1)).isoformat(), 100.0, None),
        ("o3", "Contact:a", now.isoformat(), 10.0, None),
    )
    assert _spend(program, orders, now) == {"Contact:a": 110.0}


# ---------------------------------------------------------------- standing
def test_members_with_spend_and_no_points_have_a_standing() -> None:
    program = _program()
    orders = _orders(
        ("o1", "Contact:a", "2026-11-01T10:00Z", 99.0, None),
        ("o2", "Contact:b", "2026-11-01T10:00Z", 700.0, None),
    )
    out = standing(empty_journal(), program, NOW, spend=spend_entries(orders, NOW))
    assert out["loyalty.discount_percent"].to_dict() == {"Contact:a": 0.0, "Contact:b": 10.0}
    assert out["loyalty.spend_to_next_discount"].to_dict() == {"Contact:a": 1.0, "Contact:b": None}
    assert out["loyalty.tier"].isna().all()


def test_spend_discounts_sit_beside_points_and_tiers() -> None:
    program = _program(
        "lifetime",
        earning=[{"id": "base", "kind": "spend", "points_per_unit": 1}],
        tiers={"levels": [{"name": "Blue", "min_points": 0}, {"name": "Red", "min_points": 300}]},
        expiry={"mode": "never"},
    )
    orders = _orders(
        ("o1", "Contact:a", "2026-11-01T10:00Z", 400.0, None),
        ("r1", "Contact:a", "2026-11-02T10:00Z", -100.0, "o1"),
    )
    journal = book(program, orders, empty_journal(), NOW)
    row = standing(journal, program, NOW, spend=spend_entries(orders, NOW)).iloc[0]
    assert row["loyalty.points_balance"] == 300
    assert row["loyalty.tier"] == "Red"
    assert row["loyalty.discount_percent"] == 5.0
    assert row["loyalty.spend_to_next_discount"] == pytest.approx(200.0)
    # Without the purchases the discount is unknown, never a guess from points.
    alone = standing(journal, program, NOW).iloc[0]
    assert alone["loyalty.discount_percent"] is None
    assert alone["loyalty.spend_to_next_discount"] is None


def test_basis_tier_keeps_the_discount_of_the_tier() -> None:
    program = Program.model_validate(
        {
            "id": "tiered_discount",
            "name": "T",
            "type": "progressive_discount",
            "earning": [{"id": "base", "kind": "spend", "points_per_unit": 1}],
            "tiers": {
                "levels": [
                    {"name": "Blue", "min_points": 0},
                    {"name": "Red", "min_points": 300, "discount_percent": 7.5},
                ]
            },
            "discounts": {"basis": "tier"},
            "expiry": {"mode": "never"},
        }
    )
    orders = _orders(
        ("o1", "Contact:a", "2026-11-01T10:00Z", 400.0, None),
        ("o2", "Contact:b", "2026-11-01T10:00Z", 100.0, None),
    )
    journal = book(program, orders, empty_journal(), NOW)
    out = standing(journal, program, NOW, spend=spend_entries(orders, NOW))
    assert out["loyalty.discount_percent"].to_dict() == {"Contact:a": 7.5, "Contact:b": 0.0}
    assert out["loyalty.spend_to_next_discount"].isna().all()


# ---------------------------------------------------------------- validation
HEAD = """\
programs:
  - id: vip
    name: VIP
    type: progressive_discount
"""


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (
            "    discounts:\n      basis: spend\n      levels:\n"
            "        - {min_spend: 0, percent: 0}\n        - {min_spend: 500, percent: 5}\n"
            "        - {min_spend: 500, percent: 8}\n",
            7,
            "levels must rise in min_spend: level 3 (500) is not above level 2 (500)",
        ),
        (
            "    discounts:\n      basis: spend\n      levels:\n"
            "        - {min_spend: 0, percent: 6}\n        - {min_spend: 500, percent: 5}\n",
            7,
            "a higher level cannot give less: level 2 has percent 5, level 1 has 6",
        ),
        (
            "    discounts:\n      basis: spend\n      levels:\n"
            "        - {min_spend: 0, percent: 0}\n        - {min_spend: 500, percent: 105}\n",
            9,
            "less than or equal to 100",
        ),
        (
            "    discounts:\n      basis: spend\n      levels:\n"
            "        - {min_spend: -5, percent: 0}\n",
            8,
            "greater than or equal to 0",
        ),
        ("    discounts:\n      basis: spend\n", 5, "basis: spend needs levels"),
        ("    discounts:\n      window: lifetime\n      levels: []\n", 5, "required key"),
        (
            "    discounts:\n      basis: spend\n      window: fiscal_year\n"
            "      levels: [{min_spend: 0, percent: 1}]\n",
            7,
            "'lifetime', 'rolling_12_months' or 'calendar_year'",
        ),
        (
            "    tiers:\n      levels: [{name: A, min_points: 0, discount_percent: 5}]\n"
            "    discounts:\n      basis: tier\n      levels: [{min_spend: 0, percent: 1}]\n",
            7,
            "basis: tier takes each tier's discount_percent; remove levels",
        ),
        (
            "    tiers:\n      levels: [{name: A, min_points: 0, discount_percent: 5}]\n"
            "    discounts:\n      basis: tier\n      window: calendar_year\n",
            7,
            "window applies to basis: spend",
        ),
        ("    discounts: {basis: tier}\n", 2, "discounts basis: tier needs tiers"),
        (
            "    tiers:\n      levels: [{name: A, min_points: 0, discount_percent: 5}]\n"
            "    discounts:\n      basis: spend\n      levels: [{min_spend: 0, percent: 1}]\n",
            2,
            "remove discount_percent from tiers ['A']",
        ),
    ],
)
def test_a_wrong_discounts_block_is_one_line_with_its_file_and_line(
    tmp_path: Path, body: str, line: int, message: str
) -> None:
    path = tmp_path / "loyalty.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_yaml_model(path, LoyaltyConfig)
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:{line}: "), problem
    assert message in problem, problem
    assert "\n" not in problem


def test_discounts_belong_to_progressive_discount_programs(tmp_path: Path) -> None:
    path = tmp_path / "loyalty.yaml"
    path.write_text(
        HEAD.replace("progressive_discount", "points")
        + "    discounts:\n      basis: spend\n      levels: [{min_spend: 0, percent: 1}]\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as caught:
        load_yaml_model(path, LoyaltyConfig)
    assert caught.value.problems == [
        f"{path}:2: programs[0]: discounts apply to type: progressive_discount programs only"
    ]


def test_the_commented_example_in_models_loyalty_yaml_is_valid(tmp_path: Path) -> None:
    text = (REPO_MODELS / "loyalty.yaml").read_text(encoding="utf-8").splitlines()
    start = text.index("  # - id: vip_discount")
    block = []
    for raw in text[start:]:
        if not raw.startswith("  # "):
            break
        block.append("  " + raw[len("  # ") :])
    path = tmp_path / "loyalty.yaml"
    path.write_text("programs:\n" + "\n".join(block) + "\n", encoding="utf-8")
    (program,) = load_yaml_model(path, LoyaltyConfig).programs
    assert program.spend_discounts is not None
    assert program.spend_discounts.spend_window == "calendar_year"
    assert [lv.min_spend for lv in program.spend_discounts.levels] == [0, 500, 1500, 5000]


def test_validate_reports_a_wrong_discounts_block(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    path = models / "loyalty.yaml"
    path.write_text(
        HEAD + "    discounts:\n      basis: spend\n      levels:\n"
        "        - {min_spend: 500, percent: 5}\n        - {min_spend: 100, percent: 10}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("L2L_MODELS_DIR", str(models))
    result = CliRunner().invoke(main, ["validate", "--offline"])
    assert result.exit_code == 1, result.output
    assert f"{path}:7: programs[0].discounts.levels: levels must rise in min_spend" in result.output
    assert "Traceback" not in result.output

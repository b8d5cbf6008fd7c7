"""The loyalty CLI: member, adjust, expire and report loyalty, on a temp database and models dir."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import Settings
from connector.loyalty.wiring import open_service
from connector.store import Store
from tests.backends import database_env
from tests.loyalty.conftest import ANN, BOB, book_orders


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in database_env(settings.store_location).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("L2L_MODELS_DIR", str(settings.models_dir))
    return settings


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def journal(settings: Settings) -> Any:
    store = Store(settings.store_location)
    try:
        return store.loyalty.journal("club")
    finally:
        store.close()


def test_member_json_has_balance_tier_lots_and_sourced_journal(env: Settings) -> None:
    result = run("loyalty", "member", "ann@example.com", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["points_balance"] == 1200
    assert out["tier"] == "Silver"
    assert [lot["remaining"] for lot in out["lots"]] == [400, 700, 100]  # a lot per entry
    sources = {(e["source_type"], e["source_id"], e["rule_id"]) for e in out["journal"]}
    assert ("order", "801A", "base") in sources
    assert ("order", "801B", "big_order") in sources


def test_member_text_names_each_entrys_source_and_rule(env: Settings) -> None:
    result = run("loyalty", "member", ANN)
    assert result.exit_code == 0, result.output
    assert "balance 1,200 points" in result.output
    assert "tier Silver, 3,800 points to the next tier" in result.output
    assert "order 801B  rule big_order" in result.output
    assert "journal (6 entries)" in result.output  # 3 accruals, each also as qualifying


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody@example.com",), "no member 'nobody@example.com'"),
        ((BOB,), "is not a member of club"),
        ((ANN, "--program", "nope"), "no program 'nope'; programs: club"),
    ],
)
def test_member_errors_are_one_line(env: Settings, args: tuple[str, ...], message: str) -> None:
    result = run("loyalty", "member", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_adjust_is_journaled_with_its_reason_and_once_per_key(env: Settings) -> None:
    args = ("loyalty", "adjust", "ann@example.com", "--points", "250", "--reason", "case 1026")
    first = run(*args, "--key", "case-1026", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {
        "member": f"Contact:{ANN}",
        "points": 250,
        "repeated": False,
        "balance": 1450,
        "key": "case-1026",
    }
    again = run(*args, "--key", "case-1026")
    assert again.exit_code == 0
    assert "already used: nothing done; balance 1,450" in again.output
    taken = run("loyalty", "adjust", ANN, "--points", "-50", "--reason", "goodwill undone")
    assert taken.exit_code == 0
    assert "by -50 points" in taken.output
    j = journal(env)
    adjustments = j[j["kind"] == "adjustment"]
    assert sorted(adjustments["points"]) == [-50, 250]
    assert set(adjustments["reason"]) == {"case 1026", "goodwill undone"}
    assert set(adjustments["source_type"]) == {"admin"}
    reused = run(*args[:4], "300", "--reason", "case 1026", "--key", "case-1026")
    assert reused.exit_code == 1
    assert "already used" in reused.output


@pytest.mark.parametrize(
    "args",
    [
        ("--points", "0", "--reason", "x"),
        ("--points", "10", "--reason", "  "),
    ],
)
def test_bad_adjustments_are_refused(env: Settings, args: tuple[str, ...]) -> None:
    before = len(journal(env))
    result = run("loyalty", "adjust", ANN, *args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert len(journal(env)) == before


def test_expire_runs_once_at_the_end_of_the_local_day(env: Settings) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=400)
    # Bob earned 120 points 410 days ago, booked back then: they expired after 12 months.
    book_orders(env, [("801X", f"Contact:{BOB}", 120.0, 10)], now=long_ago)
    first = run("loyalty", "expire", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {"expired": {"club": 120}}
    assert json.loads(run("loyalty", "expire", "--json").output) == {"expired": {"club": 0}}
    assert "club: expired 0 points" in run("loyalty", "expire").output
    j = journal(env)
    bob = j[(j["member"] == f"Contact:{BOB}") & (j["currency"] == "points")]
    assert int(bob["points"].sum()) == 0
    assert list(bob["kind"]) == ["accrual", "expiry"]


def test_report_outstanding_is_the_sum_of_member_balances(env: Settings, tmp_path: Path) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=400)
    book_orders(env, [("801X", f"Contact:{BOB}", 120.0, 10)], now=long_ago)
    book_orders(env, [("801Y", f"Contact:{BOB}", 80.0, 1)], now=datetime.now(UTC))
    assert run("loyalty", "expire").exit_code == 0
    with open_service(env) as service:
        service.redeem(f"Contact:{ANN}", "r1", points=300)
        service.partner_accrual(f"Contact:{BOB}", 5000, "hotel_co", "stay-1", brand="south")
        service.partner_accrual(f"Contact:{BOB}", 60, "airline", "flight-9")
    assert run("loyalty", "adjust", ANN, "--points", "-25", "--reason", "fix").exit_code == 0

    png = tmp_path / "loyalty.png"
    result = run("report", "loyalty", "--json", "--png", str(png))
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["members"] == 2
    assert out["tiers"] == {"Silver": 1, "Gold": 1}
    assert out["points"] == {
        "issued": 400 + 800 + 120 + 80 + 5000 + 60,
        "redeemed": 300,
        "expired": 120,
        "reversed": 0,
        "adjusted": -25,
        "outstanding": 1200 - 300 - 25 + 80 + 5000 + 60,
    }
    balances = {}
    for member in (ANN, BOB):
        view = json.loads(run("loyalty", "member", member, "--json").output)
        balances[member] = view["points_balance"]
    assert out["points"]["outstanding"] == sum(balances.values())
    assert out["partners"] == {"hotel_co": 5000, "airline": 60}
    rules = {r["rule"]: r["points"] for r in out["top_rules"]}
    assert rules["base"] == 400 + 700 + 120 + 80
    assert rules["big_order"] == 100
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    text = run("report", "loyalty")
    assert text.exit_code == 0
    assert "outstanding (the liability) 6,015 points" in text.output
    assert "partner settlement (points issued): airline 60, hotel_co 5,000" in text.output


def test_report_without_programs_or_with_a_bad_file_is_one_line(
    env: Settings, tmp_path: Path
) -> None:
    path = env.models_dir / "loyalty.yaml"
    path.unlink()
    result = run("report", "loyalty")
    assert result.exit_code == 1
    assert "no loyalty program is configured" in result.output
    path.write_text("programs:\n  - id: club\n    name: Club\n    type: tiered\n")
    result = run("report", "loyalty", "--json")
    assert result.exit_code == 1
    assert "loyalty.yaml:" in result.output
    assert "needs tiers" in result.output
    assert "Traceback" not in result.output

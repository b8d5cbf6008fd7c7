"""`lead2loyalty validate` checks models/loyalty.yaml like the mappings: every problem as
file:line, and the sync refuses to start on a broken program (no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main

BROKEN = """\
programs:
  - id: rewards
    name: Rewards
    type: tiered
    timezone: Europe/Berlni
    earning:
      - id: base
        kind: spend
    tiers:
      levels:
        - {name: Silver, min_points: 500}
        - {name: Bronze, min_points: 0}
"""


def test_a_broken_loyalty_file_is_reported_with_its_lines(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    path = models / "loyalty.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    monkeypatch.setenv("L2L_MODELS_DIR", str(models))
    result = CliRunner().invoke(main, ["validate", "--offline", "--json"])
    assert result.exit_code == 1, result.output
    problems = json.loads(result.stdout.splitlines()[0])["problems"]
    lines = {p.split(": ")[0] for p in problems}
    # the zone (line 5), the spend rule without its rate (line 7), the unordered tiers (line 10)
    assert {f"{path}:5", f"{path}:7", f"{path}:10"} <= lines, problems
    assert any("IANA time zone" in p for p in problems)
    sync = CliRunner().invoke(main, ["sync"])
    assert sync.exit_code != 0
    assert f"{path}:5" in sync.output
    assert "Traceback" not in sync.output


MIRROR = """\
programs:
  - id: rewards
    name: Rewards
    type: points
    earning:
      - {{id: base, kind: spend, points_per_unit: 1}}
      - {{id: wear, kind: product, multiplier: 2{rule}}}
{extra}"""


@pytest.mark.parametrize(
    ("rule", "extra", "line", "message"),
    [
        ("", "", 7, "needs products or categories"),
        (", categories: [Apparel]", "    journal_types: {accrual: Purchase}\n", 2, "mirror"),
        (
            ", categories: [Apparel]",
            "    mirror: loyalty_management\n    journal_types: {earn: Purchase}\n",
            9,
            "earn",
        ),
        (
            ", categories: [Apparel]",
            "    mirror: loyalty_management\n    journal_types: {accrual: ' '}\n",
            2,
            "cannot be empty",
        ),
    ],
)
def test_product_categories_and_journal_types_are_validated(
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rule: str,
    extra: str,
    line: int,
    message: str,
) -> None:
    models = tmp_path / "models"
    models.mkdir()
    path = models / "loyalty.yaml"
    path.write_text(MIRROR.format(rule=rule, extra=extra), encoding="utf-8")
    monkeypatch.setenv("L2L_MODELS_DIR", str(models))
    result = CliRunner().invoke(main, ["validate", "--offline", "--json"])
    assert result.exit_code == 1, result.output
    problems = json.loads(result.stdout.splitlines()[0])["problems"]
    assert any(p.startswith(f"{path}:{line}: ") and message in p for p in problems), problems

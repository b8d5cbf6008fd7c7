"""Several programs, each written to its own fields: a mapping's ``program`` names whose
standing a ``loyalty.*`` field holds (without it, the first program's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connector.cli import main
from connector.store import Store
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import activated_order, deployed_engine, localorg_settings

PROGRAMS = """\
programs:
  - id: rewards
    name: Rewards
    type: points
    earning:
      - {id: base, kind: spend, points_per_unit: 1}
  - id: partner_club
    name: Partner Club
    type: points
    earning:
      - {id: base, kind: spend, points_per_unit: 3}
"""


def _field(value: str, field: str, program: str | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"value": value, "field": field, "type": "number", "scale": 0}
    if program:
        spec["program"] = program
    return spec


def _files(tmp_path: Path, fields: list[dict[str, object]]) -> tuple[Path, Path]:
    mappings, models = tmp_path / "programs" / "mappings", tmp_path / "programs" / "models"
    mappings.mkdir(parents=True)
    models.mkdir()
    mapping = {"object": "Contact", "person": "contact", "fields": fields}
    (mappings / "contact.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False))
    (models / "loyalty.yaml").write_text(PROGRAMS)
    return mappings, models


def test_each_program_writes_its_own_fields(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    mappings, models = _files(
        tmp_path,
        [
            _field("loyalty.points_balance", "L2L_Points_Balance__c"),
            _field("loyalty.points_balance", "L2L_Partner_Points__c", "partner_club"),
            _field("loyalty.points_balance", "L2L_Reward_Points__c", "rewards"),
        ],
    )
    account = org.store.insert("Account", {"Name": "Buyer"})
    contact = org.store.insert(
        "Contact", {"LastName": "Buyer", "Email": "two@example.com", "AccountId": account}
    )
    activated_order(org, account, contact, [{"Quantity": 1, "UnitPrice": 40.0}])
    settings = localorg_settings(
        org, localorg_server, tmp_path, mappings_dir=mappings, models_dir=models
    )
    engine = deployed_engine(settings)
    run = engine.run()
    assert run.status == "succeeded", run.errors
    books = Store(settings.store_location).loyalty
    sums = {
        p: int(books.journal(p).query("currency == 'points'")["points"].sum())
        for p in ("rewards", "partner_club")
    }
    assert sums == {"rewards": 40, "partner_club": 120}
    row = org.store.execute(
        'SELECT "L2L_Points_Balance__c", "L2L_Partner_Points__c", "L2L_Reward_Points__c" '
        'FROM "Contact" WHERE "Id" = ?',
        [contact],
    )[0]
    assert [int(v) for v in row] == [40, 120, 40]


@pytest.mark.parametrize(
    ("field", "line", "message"),
    [
        (
            _field("loyalty.points_balance", "L2L_X__c", "gold_club"),
            4,
            "program 'gold_club' is not in models/loyalty.yaml (programs: rewards, partner_club)",
        ),
        (
            _field("rfm.order_count", "L2L_X__c", "rewards"),
            4,
            "program applies to loyalty.* values only",
        ),
    ],
)
def test_a_program_a_field_cannot_have_is_reported_at_its_line(
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    field: dict[str, object],
    line: int,
    message: str,
) -> None:
    mappings, models = _files(tmp_path, [field])
    monkeypatch.setenv("L2L_MAPPINGS_DIR", str(mappings))
    monkeypatch.setenv("L2L_MODELS_DIR", str(models))
    result = CliRunner().invoke(main, ["validate", "--offline", "--json"])
    assert result.exit_code == 1, result.output
    problems = json.loads(result.stdout.splitlines()[0])["problems"]
    where = f"{mappings / 'contact.yaml'}:{line}"
    assert any(p.startswith(where) and message in p for p in problems), problems

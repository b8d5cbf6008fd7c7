"""A progressive discount from net spend through the whole sync: Orders and a reduction Order
in localorg, pulled over HTTPS, the program's standing mapped to Contact fields and written."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import (
    account_contacts,
    deployed_engine,
    field_values,
    load_rows,
    localorg_settings,
    order_row,
)

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"

PROGRAM = """\
programs:
  - id: vip
    name: VIP
    type: progressive_discount
    timezone: Europe/Berlin
    enrollment: everyone
    discounts:
      basis: spend
      window: rolling_12_months
      levels:
        - {min_spend: 0, percent: 0}
        - {min_spend: 250, percent: 5}
        - {min_spend: 500, percent: 10}
        - {min_spend: 1000, percent: 15}
"""

FIELDS = ("L2L_Discount_Percent__c", "L2L_Spend_To_Next_Discount__c")
MAPPING = {
    "object": "Contact",
    "person": "contact",
    "fields": [
        {
            "value": "loyalty.discount_percent",
            "field": FIELDS[0],
            "type": "percent",
            "precision": 5,
            "scale": 2,
            "label": "Discount Percent",
        },
        {
            "value": "loyalty.spend_to_next_discount",
            "field": FIELDS[1],
            "type": "currency",
            "precision": 18,
            "scale": 2,
            "label": "Spend To Next Discount",
        },
    ],
}


def test_a_spend_based_member_gets_the_discount_of_their_net_spend(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    account, (ann, bob, carl, dan) = account_contacts(org, ("Ann", "Bob", "Carl", "Dan"))

    def order(contact: str, days_ago: int, amount: float) -> dict[str, object]:
        return order_row(account, contact, days_ago, amount)

    bobs_order, *_ = load_rows(
        org,
        "Order",
        [
            order(bob, 30, 600.0),
            order(ann, 10, 300.0),
            order(ann, 20, 250.0),
            order(ann, 400, 1000.0),  # outside the rolling twelve months
            order(carl, 15, 1200.0),
        ],
    )
    # Bob returns a third: a reduction Order (negative quantities, so a negative total).
    load_rows(
        org,
        "Order",
        [{**order(bob, 5, -200.0), "IsReductionOrder": True, "OriginalOrderId": bobs_order}],
    )
    models = tmp_path / "models"
    shutil.copytree(REPO_MODELS, models)
    (models / "loyalty.yaml").write_text(PROGRAM, encoding="utf-8")
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "contact.yaml").write_text(yaml.safe_dump(MAPPING), encoding="utf-8")
    settings = localorg_settings(
        org, localorg_server, tmp_path, models_dir=models, mappings_dir=mappings
    )
    engine = deployed_engine(settings)

    report = engine.run()
    assert report.status == "succeeded", report.errors
    assert report.models["loyalty"]["vip"]["booked"] == 0  # it earns no points
    assert field_values(org, [ann, bob, carl, dan], FIELDS) == {
        ann: (10.0, 450.0),  # 300 + 250 within the window
        bob: (5.0, 100.0),  # 600 - 200 returned
        carl: (15.0, None),  # the top level: nothing to go
        dan: (0.0, 250.0),  # enrolled (everyone), nothing bought yet
    }
    again = engine.run()
    assert again.writes["fields_changed"] == 0

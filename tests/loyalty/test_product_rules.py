"""Product and category multipliers on order lines, through the whole sync.

A ``product`` rule multiplies the spend rate on the OrderItems of its ``products`` (Product2
Ids) or ``categories`` (Product2 ``Family``, the category Salesforce keeps on a product); the
sync pulls Product2 only when a rule names categories.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.loyalty.config import EarningRule
from connector.store import Store
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import activated_order, deployed_engine, localorg_settings

PROGRAM = """\
programs:
  - id: shop
    name: Shop
    type: points
    earning:
      - {{id: base, kind: spend, points_per_unit: 1}}
      - {{id: novels_x3, kind: product, multiplier: 3, products: [{novel}]}}
      - {{id: apparel_x2, kind: product, multiplier: 2, categories: [Apparel]}}
"""


def test_product_and_category_rules_earn_on_their_lines_only(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    shirt = org.store.insert("Product2", {"Name": "Shirt", "Family": "Apparel"})
    novel = org.store.insert("Product2", {"Name": "Novel", "Family": "Books"})
    lamp = org.store.insert("Product2", {"Name": "Lamp", "Family": "Home"})
    account = org.store.insert("Account", {"Name": "Buyer"})
    contact = org.store.insert(
        "Contact", {"LastName": "Buyer", "Email": "lines@example.com", "AccountId": account}
    )
    activated_order(
        org,
        account,
        contact,
        [
            {"Product2Id": product, "Quantity": quantity, "UnitPrice": price}
            for product, quantity, price in ((shirt, 2, 40.0), (novel, 1, 15.0), (lamp, 1, 30.0))
        ],
    )
    models = tmp_path / "models"
    models.mkdir()
    (models / "loyalty.yaml").write_text(PROGRAM.format(novel=novel), encoding="utf-8")
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=models)

    run = deployed_engine(settings).run()
    assert run.status == "succeeded", run.errors
    assert "Product2" in run.objects  # pulled for the category rule
    journal = Store(settings.store_location).loyalty.journal("shop")
    points = journal[journal["currency"] == "points"].groupby("rule_id")["points"].sum()
    assert points["base"] == 80 + 15 + 30  # 1 a unit on the whole order
    assert points["novels_x3"] == 15 * (3 - 1)  # the extra on the novel's line only
    assert points["apparel_x2"] == 80 * (2 - 1)  # the extra on the Apparel line only
    assert set(journal[journal["rule_id"] == "apparel_x2"]["source_type"]) == {"order_item"}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"id": "x", "kind": "product", "multiplier": 2}, "needs products or categories"),
        (
            {"id": "x", "kind": "spend", "points_per_unit": 1, "categories": ["Books"]},
            "categories apply to product rules only",
        ),
    ],
)
def test_a_product_rule_names_what_it_multiplies(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EarningRule.model_validate(rule)

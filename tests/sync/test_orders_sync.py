"""What orders tell, through the whole pipeline on the small seed: risk on Orders, fulfilment
on Accounts and Contacts, recommendations on Contacts; each moment's Flow fires once per
crossing, and a re-sync writes nothing and fires nothing."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml

from connector.events import import_file
from connector.orders_intel.settings import OrdersSettings
from connector.salesforce.sfdx import flow_specs, flow_xml
from localorg.flows import FlowEngine
from localorg.org import LocalOrg, load_seed
from localorg.server import Running
from tests.support import REPO, deployed_engine, localorg_settings

FLOWS = {"risk": {"flow": "L2L_Hold_Risky_Order"}, "fulfilment": {"flow": "L2L_Fulfilment_Service"}}


def _truth(seed: Path, name: str) -> list[dict[str, str]]:
    with (seed / "truth" / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_orders_tell_risk_fulfilment_and_offers_once(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    seed = tmp_path / "seed"
    load_seed(org, "small", seed)
    # the Flows as `fields export` writes them once models/orders.yaml names them
    specs = flow_specs(None, None, OrdersSettings.model_validate(FLOWS))
    org.store.flows = FlowEngine.from_sources({s.name: flow_xml(s) for s in specs})
    models = tmp_path / "models"
    shutil.copytree(REPO / "models", models)
    settings_yaml = yaml.safe_load((models / "orders.yaml").read_text(encoding="utf-8"))
    for part, named in FLOWS.items():
        settings_yaml[part].update(named)
    (models / "orders.yaml").write_text(yaml.safe_dump(settings_yaml), encoding="utf-8")
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=models)
    engine = deployed_engine(settings)
    assert import_file(engine.store, seed / "events.jsonl", source="seed").rejected == []
    odd = _plant_discount_and_new_domain(org, {r["order_id"] for r in _truth(seed, "frauds.csv")})

    report = engine.run()
    assert report.status == "succeeded", report.errors
    told = report.models["orders"]

    # risk: the planted frauds are the flagged orders, on the Order records themselves
    frauds = {r["order_id"] for r in _truth(seed, "frauds.csv")}
    rows = org.store.execute('SELECT "Id", "L2L_Risk_Score__c" FROM "Order"')
    scored = {r[0]: r[1] for r in rows if r[1] is not None}
    assert len(scored) > 0.9 * len(rows)
    flagged = {i for i, s in scored.items() if s >= 99}
    assert len(flagged) <= 0.011 * len(scored)
    assert len(flagged & frauds) >= 0.6 * len(flagged)
    assert len(flagged & frauds) >= 0.6 * len(frauds)
    assert told["risk"]["fired"] == told["risk"]["crossed"] == len(flagged)
    # the standard fields reach the model in the sync: the discount (OrderItem UnitPrice
    # against ListPrice) and the new billing email domain (Order BillingEmailAddress)
    placeholders = ", ".join("?" for _ in odd)
    reasons = {
        r[0]: r[1:]
        for r in org.store.execute(
            f'SELECT "Id", "L2L_Risk_Reasons__c", "L2L_Risk_Score__c" FROM "Order" '
            f'WHERE "Id" IN ({placeholders})',
            list(odd),
        )
    }
    for order_id in odd:
        assert "discount of 75%" in reasons[order_id][0], reasons[order_id]
        assert "email domain new for this customer" in reasons[order_id][0], reasons[order_id]

    # fulfilment: the degrading accounts carry the flag and its reasons
    degrading = {r["account_id"] for r in _truth(seed, "fulfilment.csv")}
    accounts = org.store.execute(
        'SELECT "Id", "L2L_Fulfilment_Flag__c", "L2L_Fulfilment_Reasons__c" FROM "Account"'
    )
    on = {r[0] for r in accounts if r[1]}
    assert len(on & degrading) >= 0.6 * len(degrading)
    assert all("orders delivered late" in r[2] for r in accounts if r[1])
    assert told["fulfilment"]["fired"] == told["fulfilment"]["crossed"] > 0

    # recommendations: text and JSON on buyers, never a product they own
    offers = org.store.execute(
        'SELECT "Id", "L2L_Recommendations__c", "L2L_Recommendations_JSON__c" FROM "Contact" '
        'WHERE "L2L_Recommendations__c" IS NOT NULL'
    )
    assert len(offers) > 100
    assert offers[0][1].startswith("1. ")
    assert '"why"' in offers[0][2]

    interviews = org.store.count("FlowInterview")
    assert interviews == told["risk"]["fired"] + told["fulfilment"]["fired"]
    # the risky orders' Tasks hang on the Orders themselves
    tasks = org.store.execute('SELECT "WhatId" FROM "Task" WHERE "Subject" LIKE \'Risky order%\'')
    assert {t[0] for t in tasks} == flagged

    second = engine.run()
    assert second.status == "succeeded", second.errors
    # what a re-sync wrote, by field, with a few of its values: says which clock or input moved
    wrote = engine.store.outbox.value_log(second.run_id)
    assert second.writes["fields_changed"] == 0, (second.scope, wrote[:10])
    assert org.store.count("FlowInterview") == interviews


def _plant_discount_and_new_domain(org: LocalOrg, frauds: set[str]) -> list[str]:
    """Three customers with 4+ orders billed to one email domain; their latest order billed to
    another domain, its lines listed at 4x what was charged (75% off). The latest Order Ids."""
    rows = org.store.execute(
        'SELECT "Id", "BillToContactId", "EffectiveDate", "IsReductionOrder" FROM "Order" '
        'ORDER BY "EffectiveDate", "Id"'
    )
    by_contact: dict[str, list[str]] = {}
    for order_id, contact, _, reduction in rows:
        if contact and not reduction and order_id not in frauds:
            by_contact.setdefault(contact, []).append(order_id)
    chosen = [c for c in sorted(by_contact) if len(by_contact[c]) >= 4][:3]
    assert len(chosen) == 3
    latest = []
    # as seed rows (the seed's own modstamps, inside the first pull's window), not as saves
    with org.store.transaction() as conn:
        for contact in chosen:
            *usual, last = by_contact[contact]
            for order_id in usual:
                conn.execute(
                    'UPDATE "Order" SET "BillingEmailAddress" = ? WHERE "Id" = ?',
                    [f"{contact.lower()}@usual.example", order_id],
                )
            conn.execute(
                'UPDATE "Order" SET "BillingEmailAddress" = ? WHERE "Id" = ?',
                [f"{contact.lower()}@elsewhere.example", last],
            )
            changed = conn.execute(
                'UPDATE "OrderItem" SET "ListPrice" = 4 * "UnitPrice" WHERE "OrderId" = ?', [last]
            )
            assert changed.rowcount > 0
            latest.append(last)
    return latest

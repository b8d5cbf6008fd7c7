"""Loyalty through the whole pipeline: a seeded org, the repository's models/loyalty.yaml and
mappings, localorg over HTTPS.

The issue's "done when" on the seeded org, at the small size a test can afford (the medium
figures are in the closing note): a full sync writes every member's standing; a second sync
and a ``sync --full`` write nothing; a new order changes only its member's fields; the
outstanding liability equals the sum of the balances Salesforce now holds.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from connector.loyalty.wiring import open_service
from connector.sync import SyncOptions
from localorg.org import LocalOrg, load_seed
from localorg.server import Running
from tests.support import deployed_engine, localorg_settings

LOYALTY_FIELDS = (
    "L2L_Points_Balance__c",
    "L2L_Qualifying_Points__c",
    "L2L_Loyalty_Tier__c",
    "L2L_Points_To_Next_Tier__c",
    "L2L_Points_Expiring_30d__c",
    "L2L_Points_Expiry_Date__c",
    "L2L_Member_Since__c",
)


def _standing(org: LocalOrg) -> dict[str, tuple[object, ...]]:
    columns = ", ".join(f'"{f}"' for f in LOYALTY_FIELDS)
    rows = org.store.execute(f'SELECT "Id", {columns} FROM "Contact"')
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.mark.slow
def test_the_books_land_in_salesforce_once_and_move_only_for_their_member(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    load_seed(org, "small", tmp_path / "seed")
    settings = localorg_settings(org, localorg_server, tmp_path)  # the repository's files
    engine = deployed_engine(settings)

    first = engine.run()
    assert first.status == "succeeded", first.errors
    # no rule names categories; Product2 is pulled for the recommendations (models/orders.yaml)
    assert first.objects["Product2"]["pulled"] > 0
    booked = first.models["loyalty"]["rewards"]
    standing = _standing(org)
    members = {cid for cid, values in standing.items() if values[0] is not None}
    # Every buyer is a member (enrollment: buyers) and has a tier and a member-since date.
    buyers = {
        r[0]
        for r in org.store.execute(
            'SELECT DISTINCT "BillToContactId" FROM "Order" WHERE "BillToContactId" IS NOT NULL'
        )
    }
    assert buyers
    assert buyers <= members
    assert booked["members"] == len(members)
    assert all(standing[c][2] in ("Bronze", "Silver", "Gold", "Platinum") for c in members)
    # The liability is the sum of the balances Salesforce holds.
    with open_service(settings) as service:
        outstanding = service.report()["points"]["outstanding"]
    assert outstanding == sum(int(standing[c][0]) for c in members) > 0

    again = engine.run()
    assert again.writes["fields_changed"] == 0
    full = engine.run(SyncOptions(full=True))
    assert full.status == "succeeded", full.errors
    assert full.writes["fields_changed"] == 0
    assert full.models["loyalty"]["rewards"]["booked"] == 0  # nothing earns twice
    assert _standing(org) == standing

    # A new order of 300 (over the 250 threshold) for one member moves that member only.
    member = sorted(members)[0]
    account = org.store.execute('SELECT "AccountId" FROM "Contact" WHERE "Id" = ?', [member])
    order = org.store.insert(
        "Order",
        {
            "AccountId": account[0][0],
            "BillToContactId": member,
            "Status": "Draft",
            "EffectiveDate": time.strftime("%Y-%m-%d", time.gmtime()),
        },
    )
    org.store.insert("OrderItem", {"OrderId": order, "Quantity": 1, "UnitPrice": 300})
    org.store.update("Order", order, {"Status": "Activated"})
    time.sleep(1.1)  # the pull window ends on the last whole second
    after_order = engine.run()
    assert after_order.status == "succeeded", after_order.errors
    now = _standing(org)
    changed = {cid for cid in standing if now[cid] != standing[cid]}
    assert changed == {member}
    assert int(now[member][0]) == int(standing[member][0]) + 300 + 100  # spend + threshold

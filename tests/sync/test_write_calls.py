"""N records to write cost exactly ceil(N/200) sObject Collections calls, also when they are of
several objects: one call takes records "of different types", processed in chunks of one type,
at most 10 per request (REST API Developer Guide, "Update Records Using sObject Collections").
Counted by the org, over the real client, at the sizes issue 19 measured one call too many."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import (
    RFM_PLAIN_FIELDS,
    deployed_engine,
    field_values,
    load_rows,
    localorg_settings,
    rfm_mappings,
)


def _people(org: LocalOrg, business: int, persons: int) -> tuple[list[str], list[str]]:
    """``business`` contacts of one business account and ``persons`` person accounts, each
    with one activated order; returns (business contact ids, person contact ids)."""
    [acme] = load_rows(org, "Account", [{"Name": "Acme", "IsPersonAccount": 0}])
    contacts = load_rows(
        org,
        "Contact",
        [{"LastName": f"C{i:04d}", "AccountId": acme} for i in range(business + persons)],
    )
    workers, people = contacts[:business], contacts[business:]
    accounts = load_rows(
        org,
        "Account",
        [{"Name": f"P{i}", "IsPersonAccount": 1, "PersonContactId": c} for i, c in
         enumerate(people)],
    )  # fmt: skip
    org.store.execute(
        'UPDATE "Contact" SET "AccountId" = (SELECT "Id" FROM "Account" WHERE '
        '"PersonContactId" = "Contact"."Id") WHERE "Id" IN (SELECT "PersonContactId" FROM '
        '"Account" WHERE "IsPersonAccount" = 1)'
    )
    orders = [(acme, c) for c in workers] + [(a, None) for a in accounts]
    load_rows(
        org,
        "Order",
        [
            {"AccountId": account, "BillToContactId": bill_to, "Status": "Activated",
             "EffectiveDate": "2026-01-10", "TotalAmount": 30.0}
            for account, bill_to in orders
        ],
    )  # fmt: skip
    return workers, people


@pytest.mark.parametrize(("business", "persons"), [(30, 23), (270, 200), (1_150, 850)])
def test_n_records_of_two_objects_cost_ceil_n_over_200_calls(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, business: int, persons: int
) -> None:
    mappings = rfm_mappings(tmp_path / "mappings", RFM_PLAIN_FIELDS, objects=("Contact",))
    engine = deployed_engine(
        localorg_settings(org, localorg_server, tmp_path, mappings_dir=mappings)
    )
    workers, people = _people(org, business, persons)
    before = org.calls_by_kind.get("composite", 0)
    report = engine.run()
    n = business + persons
    assert report.status == "succeeded", report.errors
    assert report.writes["succeeded"] == n
    # Person contacts are written as Accounts (their __pc fields), the rest as Contacts: two
    # objects, and still ceil(N/200) calls (53 -> 1, 470 -> 3, 2,000 -> 10).
    assert org.calls_by_kind.get("composite", 0) - before == math.ceil(n / 200)
    assert report.api_calls["collection_update"] == math.ceil(n / 200)
    values = field_values(org, [workers[0], people[-1]], RFM_PLAIN_FIELDS)
    assert values[workers[0]] == values[people[-1]] == (1, 30.0, "2026-01-10", 30.0)
    person = org.store.get("Contact", people[-1])
    assert person is not None
    account = org.store.get("Account", person["AccountId"])
    assert account is not None
    assert account["L2L_Order_Count__pc"] == 1  # written through the person account

"""localorg's save log: every save of an existing record is counted, whichever API made it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from connector.salesforce import SalesforceClient
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import load_rows, localorg_settings


def test_each_save_is_counted_once_per_record_through_every_api(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, sf: Any
) -> None:
    ids = load_rows(org, "Contact", [{"LastName": f"C{i}"} for i in range(3)])
    assert org.store.saves("Contact") == {}  # created, never saved again
    sf.Contact.update(ids[0], {"FirstName": "Rest"})  # REST PATCH
    client = SalesforceClient.from_settings(localorg_settings(org, localorg_server, tmp_path))
    results = client.update_collection(
        "Contact", [{"Id": i, "FirstName": "Collection"} for i in ids[:2]]
    )
    assert all(r.success for r in results)
    bulk = client.bulk_upsert("Contact", [{"Id": i, "FirstName": "Bulk"} for i in ids])
    assert all(r.success for r in bulk)
    assert org.store.saves("Contact") == {ids[0]: 3, ids[1]: 2, ids[2]: 1}


def test_a_refused_save_is_not_a_save(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    ids = load_rows(org, "Contact", [{"LastName": "C"}])
    client = SalesforceClient.from_settings(localorg_settings(org, localorg_server, tmp_path))
    org.faults.configure("UNABLE_TO_LOCK_ROW=1")
    [result] = client.update_collection("Contact", [{"Id": ids[0], "FirstName": "X"}])
    org.faults.configure("")
    assert result.error_code == "UNABLE_TO_LOCK_ROW"
    assert org.store.saves("Contact") == {}

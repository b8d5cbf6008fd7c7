"""Bulk API 2.0 ingest and query jobs through the client, against localorg's jobs."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from connector.config import Settings
from connector.salesforce import SalesforceClient
from localorg import bulk
from localorg.org import LocalOrg

pytestmark = pytest.mark.skipif(
    not bulk.bp.deferred_functions, reason="localorg Bulk API 2.0 is not implemented yet"
)


@pytest.fixture
def bulk_client(make_settings: Callable[..., Settings]) -> SalesforceClient:
    """A client whose job polling waits at most 20 ms a time."""
    return SalesforceClient.from_settings(
        make_settings(), sleep=lambda s: time.sleep(min(s, 0.02)), random=lambda: 0.5
    )


def test_bulk_update_clears_with_na_and_reports_failed_rows(
    bulk_client: SalesforceClient,
) -> None:
    client = bulk_client
    ids = [
        str(client.create("Contact", {"LastName": f"B{i}", "Title": "Old"})["id"]) for i in range(3)
    ]
    results = client.bulk_upsert(
        "Contact",
        [
            {"Id": ids[0], "Title": None},
            {"Id": ids[1], "Email": "not an email"},
            {"Id": ids[2], "Title": "New"},
        ],
    )
    assert [r.record_id for r in results] == ids
    assert [r.success for r in results] == [True, False, True]
    assert results[1].error_code == "INVALID_EMAIL_ADDRESS"
    assert not results[1].retryable
    titles = {r["Id"]: r["Title"] for r in client.query("SELECT Id, Title FROM Contact")}
    assert titles == {ids[0]: None, ids[1]: "Old", ids[2]: "New"}
    assert client.calls["bulk_job"] >= 6  # create, upload, close, poll, 3 result sets


def test_bulk_upsert_on_an_external_id(bulk_client: SalesforceClient) -> None:
    client = bulk_client
    account = str(client.create("Account", {"Name": "Acme"})["id"])
    rows = [
        {
            "External_Order_Id__c": f"EXT-{i}",
            "AccountId": account,
            "Status": "Draft",
            "EffectiveDate": "2026-02-01",
        }
        for i in range(3)
    ]
    first = client.bulk_upsert("Order", rows, external_id_field="External_Order_Id__c")
    assert all(r.success for r in first)
    again = client.bulk_upsert(
        "Order",
        [{"External_Order_Id__c": "EXT-1", "Description": "again"}],
        external_id_field="External_Order_Id__c",
    )
    assert again[0].success
    assert again[0].record_id == first[1].record_id


def test_bulk_query_types_values_by_describe(bulk_client: SalesforceClient, org: LocalOrg) -> None:
    client = bulk_client
    keep = str(
        client.create("Account", {"Name": "A", "AnnualRevenue": 1500.5, "NumberOfEmployees": 12})[
            "id"
        ]
    )
    gone = str(client.create("Account", {"Name": "B"})["id"])
    org.store.delete("Account", gone)
    soql = "SELECT Id, Name, AnnualRevenue, NumberOfEmployees, IsDeleted FROM Account"
    rows = {r["Id"]: r for page in client.bulk_query(soql, include_deleted=True) for r in page}
    assert rows[keep] == {
        "Id": keep,
        "Name": "A",
        "AnnualRevenue": 1500.5,
        "NumberOfEmployees": 12,
        "IsDeleted": False,
    }
    assert rows[gone]["IsDeleted"] is True
    assert rows[gone]["AnnualRevenue"] is None
    live = [r for page in client.bulk_query(soql) for r in page]
    assert [r["Id"] for r in live] == [keep]

"""localorg's Bulk API 2.0, driven through unmodified simple-salesforce over real HTTPS.

Plain ``http`` requests cover what simple-salesforce has no method for (job info, aborts,
error shapes, a job that fails on its header).
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceOperationError

from localorg.flows import FlowEngine
from localorg.ids import is_valid
from localorg.org import LocalOrg
from localorg.schema import FieldInfo
from localorg.store import RecordFault

WAIT = 0.05  # simple-salesforce sleeps this long before its first poll


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _add_external_id(org: LocalOrg) -> None:
    org.store.add_custom_field(
        "Contact",
        FieldInfo("Ext_Id__c", "string", length=64, custom=True, external_id=True, unique=True),
    )


def _headers(sf: Salesforce, content_type: str = "application/json") -> dict[str, str]:
    return {"Authorization": f"Bearer {sf.session_id}", "Content-Type": content_type}


def _wait(http: requests.Session, sf: Salesforce, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120  # generous: a loaded machine is slow, never wrong
    while time.monotonic() < deadline:
        info: dict[str, Any] = http.get(url, headers=_headers(sf)).json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return info
        time.sleep(0.02)
    raise AssertionError(f"job at {url} did not finish")


# ---------------------------------------------------------------------- ingest
def test_insert_reports_created_ids_and_failed_rows(sf: Salesforce) -> None:
    records = [
        {"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"},
        {"FirstName": "Alan", "LastName": "Turing", "Email": "alan@example.com"},
        {"FirstName": "Nobody", "LastName": "", "Email": "nobody@example.com"},
    ]
    [result] = sf.bulk2.Contact.insert(records=records, wait=WAIT)
    assert result["numberRecordsProcessed"] == 3
    assert result["numberRecordsFailed"] == 1
    ok = _rows(sf.bulk2.Contact.get_successful_records(result["job_id"]))
    assert {r["LastName"] for r in ok} == {"Lovelace", "Turing"}
    assert all(is_valid(r["sf__Id"]) and r["sf__Id"].startswith("003") for r in ok)
    assert all(r["sf__Created"] == "true" for r in ok)
    [bad] = _rows(sf.bulk2.Contact.get_failed_records(result["job_id"]))
    assert bad["sf__Id"] == ""
    assert bad["sf__Error"].startswith(
        "REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]"
    )
    assert bad["Email"] == "nobody@example.com"
    names = {r["Name"] for r in sf.query("SELECT Name FROM Contact")["records"]}
    assert names == {"Ada Lovelace", "Alan Turing"}


def test_upsert_creates_updates_and_fails_rows(sf: Salesforce, org: LocalOrg) -> None:
    _add_external_id(org)
    existing = sf.Contact.create({"LastName": "Old", "Ext_Id__c": "A"})["id"]
    for _ in range(2):
        sf.Contact.create({"LastName": "Twin", "Ext_Id__c": "DUP"})
    records = [
        {"Ext_Id__c": "A", "LastName": "Updated", "Email": ""},
        {"Ext_Id__c": "B", "LastName": "Created", "Email": "b@example.com"},
        {"Ext_Id__c": "DUP", "LastName": "Either", "Email": ""},
        {"Ext_Id__c": "C", "LastName": "Bad", "Email": "not-an-email"},
        {"Ext_Id__c": "", "LastName": "Keyless", "Email": ""},
        {"Ext_Id__c": "B", "LastName": "Again", "Email": ""},
    ]
    [result] = sf.bulk2.Contact.upsert(records=records, external_id_field="Ext_Id__c", wait=WAIT)
    assert (result["numberRecordsProcessed"], result["numberRecordsFailed"]) == (6, 4)
    ok = {
        r["Ext_Id__c"]: r for r in _rows(sf.bulk2.Contact.get_successful_records(result["job_id"]))
    }
    assert ok["A"]["sf__Id"] == existing
    assert ok["A"]["sf__Created"] == "false"
    assert ok["B"]["sf__Created"] == "true"
    errors = {
        r["LastName"]: r["sf__Error"].split(":")[0]
        for r in _rows(sf.bulk2.Contact.get_failed_records(result["job_id"]))
    }
    assert errors == {
        "Either": "DUPLICATE_EXTERNAL_ID",
        "Bad": "INVALID_EMAIL_ADDRESS",
        "Keyless": "MISSING_ARGUMENT",
        "Again": "DUPLICATE_VALUE",
    }
    assert sf.Contact.get(existing)["LastName"] == "Updated"
    assert sf.Contact.get_by_custom_id("Ext_Id__c", "B")["Email"] == "b@example.com"


def test_empty_cell_keeps_a_value_and_na_clears_it(sf: Salesforce) -> None:
    record_id = sf.Contact.create({"LastName": "Keep", "Title": "CTO", "Phone": "555-0100"})["id"]
    before = sf.Contact.get(record_id)["SystemModstamp"]
    time.sleep(0.002)
    [result] = sf.bulk2.Contact.update(
        records=[{"Id": record_id, "Title": "", "Phone": "#N/A", "FirstName": "Grace"}], wait=WAIT
    )
    assert result["numberRecordsFailed"] == 0
    after = sf.Contact.get(record_id)
    assert (after["Title"], after["Phone"], after["Name"]) == ("CTO", None, "Grace Keep")
    assert after["SystemModstamp"] > before
    [result] = sf.bulk2.Contact.update(records=[{"Id": record_id, "LastName": "#N/A"}], wait=WAIT)
    [bad] = _rows(sf.bulk2.Contact.get_failed_records(result["job_id"]))
    assert bad["sf__Id"] == record_id
    assert bad["sf__Error"].startswith("REQUIRED_FIELD_MISSING:")


def test_update_reports_unknown_and_malformed_ids(sf: Salesforce) -> None:
    live = sf.Contact.create({"LastName": "Live"})["id"]
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(gone)
    account = sf.Account.create({"Name": "Acme"})["id"]
    [result] = sf.bulk2.Contact.update(
        records=[
            {"Id": live[:15], "Title": "15-char ids work"},
            {"Id": gone, "Title": "x"},
            {"Id": account, "Title": "x"},
            {"Id": "nonsense", "Title": "x"},
        ],
        wait=WAIT,
    )
    errors = {
        r["Id"]: r["sf__Error"].split(":")[0]
        for r in _rows(sf.bulk2.Contact.get_failed_records(result["job_id"]))
    }
    assert errors == {
        gone: "ENTITY_IS_DELETED",
        account: "INVALID_CROSS_REFERENCE_KEY",
        "nonsense": "MALFORMED_ID",
    }
    assert sf.Contact.get(live)["Title"] == "15-char ids work"


def test_order_items_roll_up_and_flows_fire(sf: Salesforce, org: LocalOrg) -> None:
    org.store.flows = FlowEngine(
        {
            "record_triggered": [
                {
                    "name": "Big_Item",
                    "object": "OrderItem",
                    "condition": {"field": "TotalPrice", "op": ">=", "value": 100},
                    "actions": [{"create_task": {"Subject": "Big item {Id}"}}],
                }
            ]
        }
    )
    account = sf.Account.create({"Name": "Acme"})["id"]
    order = sf.Order.create({"AccountId": account, "EffectiveDate": "2026-01-05"})["id"]
    items = [
        {"OrderId": order, "Quantity": "2", "UnitPrice": "10.5"},
        {"OrderId": order, "Quantity": "1", "UnitPrice": "150"},
    ]
    [result] = sf.bulk2.OrderItem.insert(records=items, wait=WAIT)
    assert result["numberRecordsFailed"] == 0
    assert sf.Order.get(order)["TotalAmount"] == 171.0
    tasks = sf.query("SELECT Subject FROM Task")["records"]
    assert len(tasks) == 1
    assert tasks[0]["Subject"].startswith("Big item 802")


def test_delete_then_query_all_pages_through_deleted_rows(sf: Salesforce) -> None:
    account = sf.Account.create({"Name": "Acme"})["id"]
    records = [
        {
            "LastName": f"P{i:02d}",
            "AccountId": account if i % 2 else "",
            "HasOptedOutOfEmail": "true" if i < 3 else "",
        }
        for i in range(25)
    ]
    [result] = sf.bulk2.Contact.insert(records=records, wait=WAIT)
    ids = [r["sf__Id"] for r in _rows(sf.bulk2.Contact.get_successful_records(result["job_id"]))]
    [deleted] = sf.bulk2.Contact.delete(records=[{"Id": i} for i in ids[:5]], wait=WAIT)
    assert (deleted["numberRecordsProcessed"], deleted["numberRecordsFailed"]) == (5, 0)

    soql = "SELECT Id, LastName, IsDeleted, HasOptedOutOfEmail, Account.Name FROM Contact"
    live = list(sf.bulk2.Contact.query(soql + " ORDER BY LastName", max_records=10, wait=WAIT))
    assert len(live) == 2
    rows = [r for page in live for r in _rows(page)]
    assert len(rows) == 20
    assert list(rows[0]) == ["Id", "LastName", "IsDeleted", "HasOptedOutOfEmail", "Account.Name"]
    assert {r["IsDeleted"] for r in rows} == {"false"}
    assert {r["Account.Name"] for r in rows} == {"Acme", ""}

    every = list(sf.bulk2.Contact.query_all(soql, max_records=10, wait=WAIT))
    assert len(every) == 3
    rows = [r for page in every for r in _rows(page)]
    assert len(rows) == 25
    assert {r["Id"] for r in rows if r["IsDeleted"] == "true"} == set(ids[:5])
    assert sum(r["HasOptedOutOfEmail"] == "true" for r in rows) == 3


def test_injected_lock_errors_land_in_failed_results(sf: Salesforce, org: LocalOrg) -> None:
    org.faults.configure("UNABLE_TO_LOCK_ROW=0.3,seed=1")
    [result] = sf.bulk2.Contact.insert(
        records=[{"LastName": f"L{i}"} for i in range(60)], wait=WAIT
    )
    org.faults.configure("")
    failed = _rows(sf.bulk2.Contact.get_failed_records(result["job_id"]))
    assert 5 < len(failed) == result["numberRecordsFailed"] < 40
    assert all(r["sf__Error"].startswith("UNABLE_TO_LOCK_ROW:") for r in failed)
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 60 - len(failed)


# ---------------------------------------------------------------------- job protocol
def test_job_lifecycle_over_plain_http(http: requests.Session, sf: Salesforce) -> None:
    base = sf.bulk2_url + "ingest"
    info = http.post(
        base, json={"object": "contact", "operation": "insert"}, headers=_headers(sf)
    ).json()
    assert info["state"] == "Open"
    assert info["object"] == "Contact"
    assert info["id"].startswith("750")
    assert is_valid(info["id"])
    assert info["contentUrl"].endswith(f"/jobs/ingest/{info['id']}/batches")
    job = f"{base}/{info['id']}"
    put = http.put(
        job + "/batches", data=b"LastName,Title\nOne,\nTwo,Boss\n", headers=_headers(sf, "text/csv")
    )
    assert put.status_code == 201
    closed = http.patch(job, json={"state": "UploadComplete"}, headers=_headers(sf)).json()
    assert closed["state"] == "UploadComplete"
    done = _wait(http, sf, job)
    assert (done["state"], done["numberRecordsProcessed"], done["numberRecordsFailed"]) == (
        "JobComplete",
        2,
        0,
    )
    listed = http.get(base, headers=_headers(sf)).json()
    assert [j["id"] for j in listed["records"]] == [info["id"]]
    assert http.delete(job, headers=_headers(sf)).status_code == 204
    assert http.get(job, headers=_headers(sf)).status_code == 404

    aborted = http.post(
        base, json={"object": "Contact", "operation": "insert"}, headers=_headers(sf)
    ).json()
    url = f"{base}/{aborted['id']}"
    assert (
        http.patch(url, json={"state": "Aborted"}, headers=_headers(sf)).json()["state"]
        == "Aborted"
    )
    refused = http.put(url + "/batches", data=b"LastName\nX\n", headers=_headers(sf, "text/csv"))
    assert refused.status_code == 400
    assert refused.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_relationship_column_fails_the_job(http: requests.Session, sf: Salesforce) -> None:
    base = sf.bulk2_url + "ingest"
    info = http.post(
        base, json={"object": "Contact", "operation": "insert"}, headers=_headers(sf)
    ).json()
    job = f"{base}/{info['id']}"
    http.put(
        job + "/batches", data=b"LastName,Account.Name\nX,Acme\n", headers=_headers(sf, "text/csv")
    )
    http.patch(job, json={"state": "UploadComplete"}, headers=_headers(sf))
    done = _wait(http, sf, job)
    assert done["state"] == "Failed"
    assert "Account.Name" in done["errorMessage"]
    unprocessed = http.get(job + "/unprocessedrecords", headers=_headers(sf)).text
    assert _rows(unprocessed) == [{"LastName": "X", "Account.Name": "Acme"}]
    with pytest.raises(SalesforceOperationError, match="Field name not found : Nope"):
        sf.bulk2.Contact.insert(records=[{"LastName": "X", "Nope": "y"}], wait=WAIT)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"object": "Spaceship__c", "operation": "insert"}, "INVALIDENTITY"),
        ({"object": "Contact", "operation": "merge"}, "INVALIDJOB"),
        (
            {"object": "Contact", "operation": "upsert", "externalIdFieldName": "LastName"},
            "INVALIDJOB",
        ),
        ({"object": "Contact", "operation": "insert", "lineEnding": "CR"}, "INVALIDJOB"),
    ],
)
def test_bad_ingest_job_is_refused(
    http: requests.Session, sf: Salesforce, body: dict[str, str], code: str
) -> None:
    response = http.post(sf.bulk2_url + "ingest", json=body, headers=_headers(sf))
    assert response.status_code == 400
    [error] = response.json()
    assert error["errorCode"] == code
    assert error["message"]


def test_unknown_job_is_not_found(http: requests.Session, sf: Salesforce) -> None:
    for kind in ("ingest", "query"):
        response = http.get(sf.bulk2_url + f"{kind}/7505g00000000zzAAA", headers=_headers(sf))
        assert response.status_code == 404
        assert response.json()[0]["errorCode"] == "NOT_FOUND"


# ---------------------------------------------------------------------- query jobs
def test_bad_soql_is_rejected(http: requests.Session, sf: Salesforce) -> None:
    url = sf.bulk2_url + "query"
    response = http.post(
        url, json={"operation": "query", "query": "SELECT Nope FROM Contact"}, headers=_headers(sf)
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_FIELD"
    response = http.post(
        url, json={"operation": "query", "query": "SELECT COUNT() FROM Lead"}, headers=_headers(sf)
    )
    assert response.status_code == 400
    with pytest.raises(SalesforceMalformedRequest):
        list(sf.bulk2.Contact.query("SELEKT Id FROM Contact", wait=WAIT))


def test_query_results_headers_and_locators(http: requests.Session, sf: Salesforce) -> None:
    sf.bulk2.Lead.insert(
        records=[{"LastName": f"L{i}", "Company": "Co"} for i in range(5)], wait=WAIT
    )
    info = http.post(
        sf.bulk2_url + "query",
        headers=_headers(sf),
        json={"operation": "query", "query": "SELECT LastName, Status FROM Lead ORDER BY LastName"},
    ).json()
    job = f"{sf.bulk2_url}query/{info['id']}"
    assert _wait(http, sf, job)["numberRecordsProcessed"] == 5
    first = http.get(job + "/results", params={"maxRecords": 3}, headers=_headers(sf))
    assert first.headers["Sforce-NumberOfRecords"] == "3"
    assert first.text.splitlines()[:2] == ['"LastName","Status"', '"L0","Open - Not Contacted"']
    second = http.get(
        job + "/results",
        headers=_headers(sf),
        params={"maxRecords": 3, "locator": first.headers["Sforce-Locator"]},
    )
    assert second.headers["Sforce-Locator"] == "null"
    assert second.headers["Sforce-NumberOfRecords"] == "2"
    bad = http.get(job + "/results", params={"locator": "!!"}, headers=_headers(sf))
    assert bad.status_code == 400
    assert http.delete(job, headers=_headers(sf)).status_code == 204


# ---------------------------------------------------------------------- store rules shared
def test_rest_delete_of_an_order_item_refreshes_the_order_total(sf: Salesforce) -> None:
    account = sf.Account.create({"Name": "Acme"})["id"]
    order = sf.Order.create({"AccountId": account, "EffectiveDate": "2026-01-05"})["id"]
    keep = sf.OrderItem.create({"OrderId": order, "Quantity": 2, "UnitPrice": 10.5})["id"]
    drop = sf.OrderItem.create({"OrderId": order, "Quantity": 1, "UnitPrice": 150})["id"]
    assert sf.Order.get(order)["TotalAmount"] == 171.0
    sf.OrderItem.delete(drop)
    assert sf.Order.get(order)["TotalAmount"] == 21.0
    sf.OrderItem.delete(keep)
    assert sf.Order.get(order)["TotalAmount"] == 0


def test_bulk_rows_fail_with_the_errors_rest_gives(sf: Salesforce) -> None:
    account = sf.Account.create({"Name": "Acme"})["id"]
    lead = sf.Lead.create({"LastName": "L", "Company": "Co"})["id"]
    bad = [
        {"LastName": "Mail", "Email": "not-an-email"},
        {"LastName": "Long", "Title": "x" * 129},
        {"LastName": "Pick", "LeadSource": "Carrier Pigeon"},
        {"LastName": "Day", "Birthdate": "2026-02-30"},
        {"LastName": "Flag", "HasOptedOutOfEmail": "yes"},
        {"LastName": "Ref", "AccountId": "nonsense"},
        {"LastName": "Kind", "AccountId": lead},
        {"LastName": "Gone", "AccountId": account[:5] + "0" * 10},
        {"LastName": "", "Email": "x@example.com", "Title": "y" * 200},
    ]
    columns = sorted({k for row in bad for k in row})
    rows = [{c: row.get(c, "") for c in columns} for row in bad]
    [result] = sf.bulk2.Contact.insert(records=rows, wait=WAIT)
    assert result["numberRecordsFailed"] == len(bad)
    from_bulk = {
        r["Title"] + r["LastName"]: r["sf__Error"]
        for r in _rows(sf.bulk2.Contact.get_failed_records(result["job_id"]))
    }
    for row in bad:
        with pytest.raises(SalesforceMalformedRequest) as refused:
            sf.Contact.create({k: v for k, v in row.items() if v != ""})
        errors = refused.value.content
        expected = " ".join(
            f"{e['errorCode']}:{e['message']}:{','.join(e['fields'])} --" for e in errors
        )
        assert from_bulk[row.get("Title", "") + row["LastName"]] == expected


def test_row_checker_keeps_reference_checks_per_field(org: LocalOrg) -> None:
    store = org.store
    account = store.insert("Account", {"Name": "Acme"})
    check = store.row_checker(store.objects["Task"], ["Subject", "WhatId", "WhoId"], creating=True)
    assert check({"Subject": "ok", "WhatId": account}) == {"Subject": "ok", "WhatId": account}
    with pytest.raises(RecordFault) as refused:
        check({"Subject": "wrong kind", "WhoId": account})
    assert [e.status_code for e in refused.value.errors] == ["FIELD_INTEGRITY_EXCEPTION"]
    # a key outside the job's columns is resolved on first sight, as clean() does
    with pytest.raises(RecordFault) as refused:
        check({"Subject": "x", "Nope": 1, "status": "Done"})
    assert [(e.status_code, e.fields) for e in refused.value.errors] == [
        ("INVALID_FIELD", ["Nope"]),
        ("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Status"]),
    ]


def test_required_fields_match_any_case_as_clean_does(org: LocalOrg) -> None:
    info = org.store.objects["Contact"]
    for body in ({"lastname": "X"}, {"LASTNAME": "X", "LastName": ""}, {"FirstName": "Y"}):
        try:
            expected: Any = org.store.clean(info, body, creating=True)
        except RecordFault as exc:
            expected = [e.rest() for e in exc.errors]
        check = org.store.row_checker(info, ["LastName", "FirstName"], creating=True)
        try:
            got: Any = check(body)
        except RecordFault as exc:
            got = [e.rest() for e in exc.errors]
        assert got == expected
    assert org.store.clean(info, {"lastname": "X"}, creating=True) == {"LastName": "X"}
    with pytest.raises(RecordFault, match="REQUIRED_FIELD_MISSING"):
        org.store.clean(info, {"LASTNAME": "X", "LastName": ""}, creating=True)


def test_field_permission_changes_reach_the_next_job(sf: Salesforce, org: LocalOrg) -> None:
    sf.toolingexecute(
        "sobjects/CustomField/",
        method="POST",
        json={
            "FullName": "Contact.Tier__c",
            "Metadata": {"label": "Tier", "type": "Text", "length": 20},
        },
    )
    with pytest.raises(SalesforceOperationError, match="Field name not found : Tier__c"):
        sf.bulk2.Contact.insert(records=[{"LastName": "A", "Tier__c": "Gold"}], wait=WAIT)
    permission_set = sf.PermissionSet.create({"Name": "L2L", "Label": "L2L"})["id"]
    grant = sf.FieldPermissions.create(
        {
            "ParentId": permission_set,
            "SobjectType": "Contact",
            "Field": "Contact.Tier__c",
            "PermissionsRead": True,
            "PermissionsEdit": True,
        }
    )["id"]
    # A permission set grants nothing until it is assigned to the user (Object Reference,
    # "FieldPermissions"); this test once relied on localorg honouring unassigned sets.
    sf.PermissionSetAssignment.create(
        {"AssigneeId": org.store.integration_user_id, "PermissionSetId": permission_set}
    )
    [result] = sf.bulk2.Contact.insert(records=[{"LastName": "B", "Tier__c": "Gold"}], wait=WAIT)
    assert result["numberRecordsFailed"] == 0
    # revoked by a bulk job this time: the store must notice writes from every path
    [revoked] = sf.bulk2.FieldPermissions.update(
        records=[{"Id": grant, "PermissionsEdit": "false"}], wait=WAIT
    )
    assert revoked["numberRecordsFailed"] == 0
    [result] = sf.bulk2.Contact.insert(records=[{"LastName": "C", "Tier__c": "Gold"}], wait=WAIT)
    [bad] = _rows(sf.bulk2.Contact.get_failed_records(result["job_id"]))
    assert bad["sf__Error"].startswith("INVALID_FIELD_FOR_INSERT_UPDATE:")
    [stored] = sf.query("SELECT Tier__c FROM Contact WHERE LastName = 'B'")["records"]
    assert stored["Tier__c"] == "Gold"

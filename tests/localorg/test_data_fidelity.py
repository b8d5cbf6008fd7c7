"""localorg's data behaviours, each as Salesforce documents it (source named per test).

Driven over real HTTPS with unmodified simple-salesforce, like the connector drives a real org.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from localorg.features import OrgFeatures
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import load_rows

WAIT = 0.05
DATA = "/services/data/v59.0"


def _converted_lead(org: LocalOrg) -> str:
    account = load_rows(org, "Account", [{"Name": "Acme"}])[0]
    contact = load_rows(org, "Contact", [{"LastName": "Ada", "AccountId": account}])[0]
    return load_rows(
        org,
        "Lead",
        [
            {
                "LastName": "Ada",
                "Company": "Acme",
                "Status": "Closed - Converted",
                "IsConverted": 1,
                "ConvertedContactId": contact,
                "ConvertedAccountId": account,
            }
        ],
    )[0]


# ---------------------------------------------------------------------- converted Leads
# Source: simple-salesforce issue #341 "CANNOT_UPDATE_CONVERTED_LEAD when trying to update a
# lead"; gravityplus/Gravity-Forms-Salesforce #342 (statusCode CANNOT_UPDATE_CONVERTED_LEAD,
# message "cannot reference converted lead"); mautic #6560 ("the lead record ... becomes read
# only"). Every write path refuses, the record stays as it was.
def test_converted_lead_refuses_a_rest_update(sf: Salesforce, org: LocalOrg) -> None:
    lead = _converted_lead(org)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.update(lead, {"Title": "CEO"})
    [error] = caught.value.content
    assert error["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert error["message"] == "cannot reference converted lead"
    assert sf.Lead.get(lead)["Title"] is None


def test_converted_lead_refuses_a_collection_update_per_record(
    sf: Salesforce, org: LocalOrg
) -> None:
    lead = _converted_lead(org)
    live = sf.Lead.create({"LastName": "Bo", "Company": "Acme"})["id"]
    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Lead"}, "id": i, "Title": "CEO"} for i in (lead, live)
            ],
        },
    )
    assert results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert results[1]["success"] is True
    assert sf.Lead.get(lead)["Title"] is None
    assert sf.Lead.get(live)["Title"] == "CEO"


def test_converted_lead_refuses_a_bulk_update_row(sf: Salesforce, org: LocalOrg) -> None:
    lead = _converted_lead(org)
    live = sf.Lead.create({"LastName": "Bo", "Company": "Acme"})["id"]
    [result] = sf.bulk2.Lead.update(
        records=[{"Id": lead, "Title": "CEO"}, {"Id": live, "Title": "CEO"}], wait=WAIT
    )
    assert result["numberRecordsFailed"] == 1
    [bad] = _rows(sf.bulk2.Lead.get_failed_records(result["job_id"]))
    assert bad["sf__Id"] == lead
    assert bad["sf__Error"].startswith(
        "CANNOT_UPDATE_CONVERTED_LEAD:cannot reference converted lead"
    )
    assert sf.Lead.get(lead)["Title"] is None


def _rows(text: str) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(text)))


# ---------------------------------------------------------------------- Recycle Bin
# Source: REST API Developer Guide, "sObject Get Deleted" (resources_getdeleted.htm): results
# "for no more than 15 days previous", body ``deletedRecords[{id, deletedDate}]``,
# ``earliestDateAvailable``, ``latestDateCovered``; queryAll returns deleted rows only while they
# are in the Recycle Bin (forcedotcom/SalesforceMobileSDK-iOS #2857, Airbyte PR #30420).
def _query_all_ids(sf: Salesforce, soql: str) -> set[str]:
    return {r["Id"] for r in sf.query_all(soql, include_deleted=True)["records"]}


def _get_deleted(
    http: requests.Session, sf: Salesforce, name: str, start: datetime, end: datetime
) -> dict[str, Any]:
    response = http.get(
        f"https://{sf.sf_instance}{DATA}/sobjects/{name}/deleted/",
        params={"start": start.isoformat(), "end": end.isoformat()},
        headers={"Authorization": f"Bearer {sf.session_id}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_deleted_rows_stay_in_query_all_until_the_recycle_bin_purges_them(
    sf: Salesforce, org: LocalOrg, http: requests.Session
) -> None:
    kept, gone = (sf.Contact.create({"LastName": n})["id"] for n in ("Kept", "Gone"))
    sf.Contact.delete(gone)
    now = datetime.now(UTC)
    assert _query_all_ids(sf, "SELECT Id FROM Contact") == {kept, gone}
    listed = _get_deleted(http, sf, "Contact", now - timedelta(hours=1), now + timedelta(hours=1))
    assert [r["id"] for r in listed["deletedRecords"]] == [gone]
    assert set(listed) >= {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}
    assert org.purge_recycle_bin(now + timedelta(days=14)) == {}
    assert _query_all_ids(sf, "SELECT Id FROM Contact") == {kept, gone}
    assert org.purge_recycle_bin(now + timedelta(days=16)) == {"Contact": 1}
    assert _query_all_ids(sf, "SELECT Id FROM Contact") == {kept}
    after = _get_deleted(http, sf, "Contact", now - timedelta(hours=1), now + timedelta(hours=1))
    assert after["deletedRecords"] == []
    assert sf.Contact.get(kept)["LastName"] == "Kept"


def test_recycle_bin_days_is_an_org_setting(serve: Callable[..., LocalOrg]) -> None:
    org = serve(recycle_bin_days=1)
    stamp = "2026-01-01T00:00:00.000+0000"
    [old] = load_rows(org, "Contact", [{"LastName": "Old"}])
    org.store.execute('UPDATE "Contact" SET "IsDeleted" = 1, "SystemModstamp" = ?', [stamp])
    assert org.purge_recycle_bin(datetime(2026, 1, 1, 23, tzinfo=UTC)) == {}
    assert org.purge_recycle_bin(datetime(2026, 1, 2, 1, tzinfo=UTC)) == {"Contact": 1}
    assert org.store.get("Contact", old, include_deleted=True) is None


def test_get_deleted_refuses_bad_dates(sf: Salesforce, http: requests.Session) -> None:
    response = http.get(
        f"https://{sf.sf_instance}{DATA}/sobjects/Contact/deleted/",
        params={"start": "yesterday", "end": "2026-01-01T00:00:00Z"},
        headers={"Authorization": f"Bearer {sf.session_id}"},
    )
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALID_REPLICATION_DATE"


# Source: Salesforce CLI reference, "data delete bulk" (--hard-delete: records are "immediately
# eligible for deletion", needs the "Bulk API Hard Delete" system permission); Data Loader
# guide, "Enable Bulk API 2.0" ("hard-deleted records are immediately deleted and can't be
# recovered from the Recycle Bin").
def test_hard_delete_leaves_nothing_for_query_all_or_get_deleted(
    sf: Salesforce, http: requests.Session
) -> None:
    ids = [sf.Contact.create({"LastName": f"H{i}"})["id"] for i in range(3)]
    [result] = sf.bulk2.Contact.hard_delete(records=[{"Id": i} for i in ids[:2]], wait=WAIT)
    assert result["numberRecordsFailed"] == 0
    assert _query_all_ids(sf, "SELECT Id FROM Contact") == {ids[2]}
    now = datetime.now(UTC)
    listed = _get_deleted(http, sf, "Contact", now - timedelta(hours=1), now)
    assert listed["deletedRecords"] == []


# ---------------------------------------------------------------------- features
# Source: REST API Developer Guide, "Status Codes and Error Responses" (404 NOT_FOUND for a
# resource that does not exist); SOQL on an unknown sObject is INVALID_TYPE "sObject type '...'
# is not supported"; OrderSettings.enableOrders (Metadata API) turns Orders on.
def test_orders_off_means_no_order_objects(
    serve: Callable[..., LocalOrg], localorg_server: Running
) -> None:
    serve(features=OrgFeatures(orders=False))
    sf = localorg_server.salesforce()
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert "Order" not in names
    assert "OrderItem" not in names
    assert "Contact" in names
    for name in ("Order", "OrderItem"):
        with pytest.raises(SalesforceResourceNotFound) as caught:
            getattr(sf, name).describe()
        assert caught.value.content[0]["errorCode"] == "NOT_FOUND"
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.query_all("SELECT Id FROM Order", include_deleted=True)
    assert bad.value.content[0]["errorCode"] == "INVALID_TYPE"
    assert "sObject type 'Order' is not supported" in bad.value.content[0]["message"]


# Source: SOAP API Developer Guide, "Person Account Record Types" (IsPersonAccount and
# PersonContactId exist on Account when person accounts are enabled).
def test_person_accounts_off_hides_the_person_fields(
    serve: Callable[..., LocalOrg], localorg_server: Running
) -> None:
    serve(features=OrgFeatures(person_accounts=False))
    sf = localorg_server.salesforce()
    fields = {f["name"] for f in sf.Account.describe()["fields"]}
    assert not fields & {"IsPersonAccount", "PersonContactId", "PersonEmail"}
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.query("SELECT Id, PersonContactId FROM Account")
    assert bad.value.content[0]["errorCode"] == "INVALID_FIELD"


# Source: Object Reference, CurrencyType (IsoCode, ConversionRate, DecimalPlaces, IsActive,
# IsCorporate; "not available in single-currency organizations") and DatedConversionRate
# (IsoCode, ConversionRate, StartDate, read-only NextStartDate "the day after the end date";
# only "for multicurrency organizations with advanced currency management enabled").
def test_single_currency_org_has_no_currency_objects(sf: Salesforce) -> None:
    fields = {f["name"] for f in sf.Order.describe()["fields"]}
    assert "CurrencyIsoCode" not in fields
    for name in ("CurrencyType", "DatedConversionRate"):
        with pytest.raises(SalesforceResourceNotFound):
            getattr(sf, name).describe()


def test_multi_currency_org_has_currency_types_and_currency_codes(
    serve: Callable[..., LocalOrg], localorg_server: Running
) -> None:
    serve(features=OrgFeatures(multi_currency=True, corporate_currency="EUR"))
    sf = localorg_server.salesforce()
    types = sf.query("SELECT IsoCode, ConversionRate, IsCorporate, IsActive FROM CurrencyType")
    by_code = {r["IsoCode"]: r for r in types["records"]}
    assert by_code["EUR"]["IsCorporate"] is True
    assert by_code["EUR"]["ConversionRate"] == 1.0
    assert by_code["USD"]["IsCorporate"] is False
    assert by_code["USD"]["IsActive"] is True
    contact = sf.Contact.create({"LastName": "Ada"})["id"]
    assert sf.Contact.get(contact)["CurrencyIsoCode"] == "EUR"  # the corporate currency
    sf.Contact.update(contact, {"CurrencyIsoCode": "GBP"})
    assert sf.Contact.get(contact)["CurrencyIsoCode"] == "GBP"
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.Contact.update(contact, {"CurrencyIsoCode": "XXX"})
    assert bad.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(SalesforceResourceNotFound):
        sf.DatedConversionRate.describe()


def test_advanced_currency_keeps_dated_rates_with_their_next_start_date(
    serve: Callable[..., LocalOrg], localorg_server: Running
) -> None:
    serve(features=OrgFeatures(multi_currency=True, advanced_currency=True))
    sf = localorg_server.salesforce()
    sf.DatedConversionRate.create(
        {"IsoCode": "EUR", "ConversionRate": 0.95, "StartDate": "2026-03-01"}
    )
    rows = sf.query(
        "SELECT StartDate, NextStartDate, ConversionRate FROM DatedConversionRate "
        "WHERE IsoCode = 'EUR' ORDER BY StartDate"
    )["records"]
    assert [(r["StartDate"], r["NextStartDate"]) for r in rows] == [
        ("1900-01-01", "2026-03-01"),
        ("2026-03-01", None),
    ]
    fields = {f["name"]: f for f in sf.DatedConversionRate.describe()["fields"]}
    assert fields["NextStartDate"]["updateable"] is False


def test_advanced_currency_needs_multi_currency() -> None:
    assert OrgFeatures(advanced_currency=True).problems()
    assert not OrgFeatures(multi_currency=True, advanced_currency=True).problems()


# Source: Object Reference, OrderStatus: StatusCode (the status category) is "Activated" or
# "Draft"; each Order Status value belongs to one category.
def test_order_status_code_follows_the_status(sf: Salesforce, org: LocalOrg) -> None:
    account = sf.Account.create({"Name": "Acme"})["id"]
    order = sf.Order.create({"AccountId": account, "EffectiveDate": "2026-01-02"})["id"]
    assert sf.Order.get(order)["StatusCode"] == "Draft"
    sf.Order.update(order, {"Status": "Activated"})
    assert sf.Order.get(order)["StatusCode"] == "Activated"
    with pytest.raises(SalesforceMalformedRequest) as bad:
        sf.Order.update(order, {"StatusCode": "Draft"})
    assert bad.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


# ---------------------------------------------------------------------- person accounts
# Sources: Change Data Capture Developer Guide, "Creating and Undeleting a Person Account" (a
# custom Contact field appears on Account with the __pc suffix) and "Updating a Person
# Account" (an update of a custom contact field changes both records); SOAP API Developer
# Guide, "Person Account Record Types" (PersonContactId); texei/texei-sfdx-plugin #51 (__pc on
# a business account: "Account: bad field names on insert/update call"); lekkimworld,
# salesforce-personaccount-field-reference (write a person account through the Account, never
# its Contact). localorg's refusal of a person contact written through Contact is the strict
# reading; see localorg/person_accounts.py.
def _person_account(org: LocalOrg) -> tuple[str, str, str, str]:
    """A custom Contact field, a person account with its person contact, and a business
    account with a contact of its own: (person account, person contact, business account,
    business contact)."""
    from localorg.schema import FieldInfo

    org.store.add_custom_field("Contact", FieldInfo("Tier__c", "string", length=40, custom=True))
    [contact, plain] = load_rows(org, "Contact", [{"LastName": "Ada"}, {"LastName": "Bo"}])
    [person, business] = load_rows(
        org,
        "Account",
        [
            {"Name": "Ada", "IsPersonAccount": 1, "PersonContactId": contact},
            {"Name": "Acme", "IsPersonAccount": 0},
        ],
    )
    org.store.execute('UPDATE "Contact" SET "AccountId" = ? WHERE "Id" = ?', [person, contact])
    org.store.execute('UPDATE "Contact" SET "AccountId" = ? WHERE "Id" = ?', [business, plain])
    return person, contact, business, plain


def test_person_contact_fields_are_written_through_the_account(
    sf: Salesforce, org: LocalOrg
) -> None:
    person, contact, business, plain = _person_account(org)
    assert "Tier__pc" in {f["name"] for f in sf.Account.describe()["fields"]}
    sf.Account.update(person, {"Tier__pc": "Gold"})
    assert sf.Account.get(person)["Tier__pc"] == "Gold"
    assert sf.Contact.get(contact)["Tier__c"] == "Gold"  # one person, one value
    with pytest.raises(SalesforceMalformedRequest) as through_contact:
        sf.Contact.update(contact, {"Tier__c": "Silver"})
    assert through_contact.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    with pytest.raises(SalesforceMalformedRequest) as business_pc:
        sf.Account.update(business, {"Tier__pc": "Gold"})
    assert business_pc.value.content[0]["message"] == (
        "Account: bad field names on insert/update call: Tier__pc"
    )
    sf.Contact.update(plain, {"Tier__c": "Silver"})  # a business contact is an ordinary Contact
    assert sf.Contact.get(plain)["Tier__c"] == "Silver"
    assert sf.Contact.get(contact)["Tier__c"] == "Gold"


def test_person_contact_fields_through_bulk_api(sf: Salesforce, org: LocalOrg) -> None:
    person, contact, business, _ = _person_account(org)
    [result] = sf.bulk2.Account.update(
        records=[{"Id": person, "Tier__pc": "Gold"}, {"Id": business, "Tier__pc": "Gold"}],
        wait=WAIT,
    )
    assert result["numberRecordsFailed"] == 1
    [bad] = _rows(sf.bulk2.Account.get_failed_records(result["job_id"]))
    assert bad["sf__Id"] == business
    assert sf.Contact.get(contact)["Tier__c"] == "Gold"


def test_orgs_without_person_accounts_have_no_pc_fields(
    serve: Callable[..., LocalOrg], localorg_server: Running
) -> None:
    from localorg.schema import FieldInfo

    org = serve(features=OrgFeatures(person_accounts=False))
    org.store.add_custom_field("Contact", FieldInfo("Tier__c", "string", length=40, custom=True))
    sf = localorg_server.salesforce()
    assert "Tier__pc" not in {f["name"] for f in sf.Account.describe()["fields"]}

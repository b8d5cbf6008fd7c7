"""localorg's REST API, driven through unmodified simple-salesforce over real HTTPS."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceRefusedRequest,
)

from localorg.flows import FlowEngine
from localorg.ids import is_valid
from localorg.org import LocalOrg
from localorg.server import Running
from tests.conftest import get_token


def _token(http: requests.Session, org: LocalOrg, **form: str) -> requests.Response:
    return http.post(org.instance_url + "/services/oauth2/token", data=form)


def _account(sf: Salesforce) -> str:
    return str(sf.Account.create({"Name": "Acme"})["id"])


# ---------------------------------------------------------------------- OAuth
def test_client_credentials_token_opens_the_api(http: requests.Session, org: LocalOrg) -> None:
    token = get_token(http, org)
    assert token["token_type"] == "Bearer"
    assert token["instance_url"] == org.instance_url
    sf = Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=http
    )
    assert sf.restful("limits/")["DailyApiRequests"]["Max"] == org.config.daily_limit


def test_wrong_secret_is_refused_in_oauth_shape(http: requests.Session, org: LocalOrg) -> None:
    response = _token(
        http,
        org,
        grant_type="client_credentials",
        client_id=org.config.client_id,
        client_secret="nope",
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client"
    assert org.config.client_secret not in response.text


def test_password_grant_returns_a_refresh_token_that_works(
    http: requests.Session, org: LocalOrg
) -> None:
    cfg = org.config
    first = _token(
        http,
        org,
        grant_type="password",
        client_id=cfg.client_id,
        client_secret=cfg.client_secret,
        username=cfg.username,
        password=cfg.password,
    ).json()
    refreshed = _token(
        http,
        org,
        grant_type="refresh_token",
        client_id=cfg.client_id,
        client_secret=cfg.client_secret,
        refresh_token=first["refresh_token"],
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["access_token"] != first["access_token"]
    bad = _token(
        http, org, grant_type="refresh_token", client_id=cfg.client_id, refresh_token="5Aepforged"
    )
    assert bad.json()["error"] == "invalid_grant"
    wrong_password = _token(
        http,
        org,
        grant_type="password",
        client_id=cfg.client_id,
        client_secret=cfg.client_secret,
        username=cfg.username,
        password="guess",
    )
    assert wrong_password.json() == {
        "error": "invalid_grant",
        "error_description": "authentication failure",
    }


def test_jwt_bearer_with_the_registered_certificate(
    http: requests.Session, org: LocalOrg, localorg_server: Running
) -> None:
    org.config.jwt_certificate_pem = localorg_server.jwt.cert.read_bytes()
    key = localorg_server.jwt.key.read_bytes()
    claims = {
        "iss": org.config.client_id,
        "sub": org.config.username,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
    }
    ok = _token(
        http,
        org,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=jwt.encode(claims, key, algorithm="RS256"),
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["access_token"]
    expired = dict(claims, exp=int(time.time()) - 10)
    refused = _token(
        http,
        org,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=jwt.encode(expired, key, algorithm="RS256"),
    )
    assert refused.json()["error"] == "invalid_grant"
    # A key the connected app never saw is refused.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = _token(
        http,
        org,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=jwt.encode(claims, other, algorithm="RS256"),
    )
    assert forged.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}


def test_api_without_token_is_invalid_session(http: requests.Session, org: LocalOrg) -> None:
    response = http.get(org.instance_url + "/services/data/v59.0/limits/")
    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


# ---------------------------------------------------------------------- versions, describe
def test_versions_and_describe(sf: Salesforce, http: requests.Session, org: LocalOrg) -> None:
    versions = http.get(org.instance_url + "/services/data/").json()
    assert {"label", "url", "version"} <= set(versions[0])
    assert "59.0" in [v["version"] for v in versions]
    names = {o["name"]: o for o in sf.describe()["sobjects"]}
    for standard in (
        "Lead",
        "Contact",
        "Account",
        "Order",
        "OrderItem",
        "Product2",
        "Task",
        "Case",
        "EmailMessage",
    ):
        assert standard in names
    assert names["Lead"]["keyPrefix"] == "00Q"
    fields = {f["name"]: f for f in sf.Order.describe()["fields"]}
    assert fields["BillToContactId"]["referenceTo"] == ["Contact"]
    assert fields["BillToContactId"]["relationshipName"] == "BillToContact"
    assert fields["TotalAmount"]["updateable"] is False
    assert fields["External_Order_Id__c"]["externalId"] is True
    assert "Draft" in [p["value"] for p in fields["Status"]["picklistValues"]]


# ---------------------------------------------------------------------- CRUD
def test_crud_round_trip(sf: Salesforce) -> None:
    created = sf.Contact.create(
        {
            "FirstName": "Ada",
            "LastName": "Lovelace",
            "Email": "ada@example.com",
            "Birthdate": "1815-12-10",
        }
    )
    assert created["success"] is True
    assert is_valid(created["id"])
    assert created["id"].startswith("003")
    record = sf.Contact.get(created["id"])
    assert record["Name"] == "Ada Lovelace"
    assert record["HasOptedOutOfEmail"] is False
    assert record["attributes"]["type"] == "Contact"
    assert sf.Contact.update(created["id"], {"Title": "Countess"}) == 204
    assert sf.Contact.get(created["id"])["Title"] == "Countess"
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(Exception, match="NOT_FOUND"):
        sf.Contact.get(created["id"])


def test_validation_reports_every_problem_in_salesforce_shape(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Lead.create(
            {"LastName": "x" * 81, "Status": "Bogus", "NoSuch__c": 1, "IsConverted": True}
        )
    codes = {e["errorCode"] for e in info.value.content}
    assert codes == {
        "STRING_TOO_LONG",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "INVALID_FIELD",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "REQUIRED_FIELD_MISSING",
    }  # Company is required and missing
    for error in info.value.content:
        assert set(error) == {"message", "errorCode", "fields"}
    with pytest.raises(SalesforceMalformedRequest, match="JSON_PARSER_ERROR"):
        sf.Lead.create({"LastName": "A", "Company": "B", "AnnualRevenue": "lots"})
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_EMAIL_ADDRESS"):
        sf.Lead.create({"LastName": "A", "Company": "B", "Email": "not an email"})


def test_upsert_by_external_id_201_200_300(sf: Salesforce, org: LocalOrg) -> None:
    account = _account(sf)
    body = {"AccountId": account, "Status": "Draft", "EffectiveDate": "2026-01-05"}
    assert sf.Order.upsert("External_Order_Id__c/EXT-1", body) == 201
    assert sf.Order.upsert("External_Order_Id__c/EXT-1", {"Description": "again"}) == 200
    orders = org.store.find_by("Order", "External_Order_Id__c", "EXT-1")
    assert len(orders) == 1
    assert sf.Order.get(orders[0])["Description"] == "again"
    # Two records sharing an external id value: Salesforce answers 300 Multiple Choices.
    org.store.load_rows(
        "Order",
        [
            {
                "Id": org.store.ids.new("Order"),
                "IsDeleted": 0,
                "AccountId": account,
                "Status": "Draft",
                "EffectiveDate": "2026-01-05",
                "External_Order_Id__c": "EXT-1",
            }
        ],
    )
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Order.upsert("External_Order_Id__c/EXT-1", {"Description": "which one?"})


# ---------------------------------------------------------------------- collections
def test_collections_mixed_success_and_all_or_none(sf: Salesforce) -> None:
    records = [
        {"attributes": {"type": "Contact"}, "LastName": "Good"},
        {"attributes": {"type": "Contact"}, "Email": "missing-last-name@example.com"},
        {"attributes": {"type": "Lead"}, "LastName": "L", "Company": "C"},
    ]
    results = sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
    )
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    updates = [
        {"attributes": {"type": "Contact"}, "id": results[0]["id"], "Title": "Boss"},
        {"attributes": {"type": "Contact"}, "id": results[0]["id"], "Email": "bad"},
    ]
    rolled = sf.restful(
        "composite/sobjects", method="PATCH", json={"allOrNone": True, "records": updates}
    )
    assert [r["success"] for r in rolled] == [False, False]
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sf.Contact.get(results[0]["id"])["Title"] is None
    deleted = sf.restful(
        "composite/sobjects",
        method="DELETE",
        params={"ids": f"{results[0]['id']},{results[2]['id']}", "allOrNone": "false"},
    )
    assert all(r["success"] for r in deleted)


def test_collections_refuse_more_than_200(sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Contact"}, "LastName": f"C{i}"} for i in range(201)]
    with pytest.raises(SalesforceMalformedRequest, match="EXCEEDED_ID_LIMIT"):
        sf.restful("composite/sobjects", method="POST", json={"records": records})


def test_collection_upsert_on_external_id(sf: Salesforce) -> None:
    account = _account(sf)
    sf.Order.upsert(
        "External_Order_Id__c/A",
        {"AccountId": account, "Status": "Draft", "EffectiveDate": "2026-02-01"},
    )
    records = [
        {"attributes": {"type": "Order"}, "External_Order_Id__c": "A", "Description": "upd"},
        {
            "attributes": {"type": "Order"},
            "External_Order_Id__c": "B",
            "AccountId": account,
            "Status": "Draft",
            "EffectiveDate": "2026-02-02",
        },
        {"attributes": {"type": "Order"}, "External_Order_Id__c": "C"},
    ]
    results = sf.restful(
        "composite/sobjects/Order/External_Order_Id__c",
        method="PATCH",
        json={"allOrNone": False, "records": records},
    )
    assert [(r["success"], r.get("created")) for r in results[:2]] == [(True, False), (True, True)]
    assert results[2]["success"] is False
    assert results[2]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"


# ---------------------------------------------------------------------- query
def test_query_pages_across_three_batches_and_query_all_sees_deletes(
    sf: Salesforce, org: LocalOrg
) -> None:
    rows = [{"LastName": f"P{i:04d}", "Email": f"p{i}@example.com"} for i in range(450)]
    for chunk in range(0, len(rows), 200):
        payload = [{"attributes": {"type": "Contact"}, **r} for r in rows[chunk : chunk + 200]]
        sf.restful("composite/sobjects", method="POST", json={"records": payload})
    sf.headers["Sforce-Query-Options"] = "batchSize=200"
    first = sf.query("SELECT Id, LastName FROM Contact ORDER BY LastName")
    assert first["totalSize"] == 450
    assert not first["done"]
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    pages = [first]
    while not pages[-1]["done"]:
        pages.append(sf.query_more(pages[-1]["nextRecordsUrl"], identifier_is_url=True))
    assert len(pages) == 3
    names = [r["LastName"] for p in pages for r in p["records"]]
    assert names == sorted(r["LastName"] for r in rows)
    victim = first["records"][0]["Id"]
    sf.Contact.delete(victim)
    live = sf.query_all("SELECT Id FROM Contact")
    assert live["totalSize"] == 449
    everything = sf.query_all(
        "SELECT Id, IsDeleted FROM Contact WHERE LastName = 'P0000'", include_deleted=True
    )
    assert everything["records"][0]["IsDeleted"] is True
    del sf.headers["Sforce-Query-Options"]


def test_query_relationship_fields_and_count(sf: Salesforce) -> None:
    account = _account(sf)
    sf.Contact.create({"LastName": "Rel", "AccountId": account})
    sf.Contact.create({"LastName": "Orphan"})
    result = sf.query("SELECT Id, LastName, Account.Name FROM Contact ORDER BY LastName")
    by_name = {r["LastName"]: r for r in result["records"]}
    assert by_name["Rel"]["Account"]["Name"] == "Acme"
    assert by_name["Orphan"]["Account"] is None
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 2


def test_malformed_query_is_refused_not_trimmed(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest, match="MALFORMED_QUERY"):
        sf.query("SELECT Id FROM Contact WHERE LastName = 'x' GROUP BY Name")
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_FIELD"):
        sf.query("SELECT Nope FROM Contact")


# ---------------------------------------------------------------------- limits
def test_limit_counter_reaches_request_limit_exceeded(sf: Salesforce, org: LocalOrg) -> None:
    org.reset_limits(daily_limit=5)
    seen: list[str] = []
    for _ in range(4):
        sf.query("SELECT Id FROM Contact")
        seen.append(sf.api_usage["api-usage"].used if sf.api_usage else "")
    assert [int(s) for s in seen] == [1, 2, 3, 4]
    sf.query("SELECT Id FROM Contact")
    with pytest.raises(SalesforceRefusedRequest, match="REQUEST_LIMIT_EXCEEDED"):
        sf.query("SELECT Id FROM Contact")
    org.reset_limits(daily_limit=1_000_000)
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


# ---------------------------------------------------------------------- tooling
def test_created_custom_field_appears_in_describe_once_permitted(
    sf: Salesforce, org: LocalOrg
) -> None:
    created = sf.toolingexecute(
        "sobjects/CustomField/",
        method="POST",
        json={
            "FullName": "Contact.L2L_Intent_Score__c",
            "Metadata": {"label": "Intent Score", "type": "Number", "precision": 3, "scale": 0},
        },
    )
    assert created["success"] is True
    assert created["id"].startswith("00N")
    names = {f["name"] for f in sf.Contact.describe()["fields"]}
    assert "L2L_Intent_Score__c" not in names  # field-level security hides it
    contact = sf.Contact.create({"LastName": "Fls"})["id"]
    with pytest.raises(SalesforceMalformedRequest, match="INVALID_FIELD"):
        sf.Contact.update(contact, {"L2L_Intent_Score__c": 3})
    permission_set = sf.PermissionSet.create({"Name": "L2L_Integration", "Label": "lead2loyalty"})[
        "id"
    ]
    sf.FieldPermissions.create(
        {
            "ParentId": permission_set,
            "SobjectType": "Contact",
            "Field": "Contact.L2L_Intent_Score__c",
            "PermissionsRead": True,
            "PermissionsEdit": True,
        }
    )
    # Granted but not yet assigned: still invisible (Object Reference, "FieldPermissions": the
    # set must be assigned to the user). This test once expected the grant alone to suffice.
    assert "L2L_Intent_Score__c" not in {f["name"] for f in sf.Contact.describe()["fields"]}
    sf.PermissionSetAssignment.create(
        {"AssigneeId": org.store.integration_user_id, "PermissionSetId": permission_set}
    )
    fields = {f["name"]: f for f in sf.Contact.describe()["fields"]}
    assert fields["L2L_Intent_Score__c"]["type"] == "double"
    assert fields["L2L_Intent_Score__c"]["custom"] is True
    sf.Contact.update(contact, {"L2L_Intent_Score__c": 3})
    result = sf.query(f"SELECT L2L_Intent_Score__c FROM Contact WHERE Id = '{contact}'")
    assert result["records"][0]["L2L_Intent_Score__c"] == 3
    with pytest.raises(SalesforceMalformedRequest, match="DUPLICATE_DEVELOPER_NAME"):
        sf.toolingexecute(
            "sobjects/CustomField/",
            method="POST",
            json={
                "FullName": "Contact.L2L_Intent_Score__c",
                "Metadata": {"label": "Again", "type": "Number"},
            },
        )


# ---------------------------------------------------------------------- flows
def _flows() -> FlowEngine:
    return FlowEngine(
        {
            "record_triggered": [
                {
                    "name": "High_Intent_Alert",
                    "object": "Contact",
                    "when_changed": "Title",
                    "condition": {"field": "Title", "op": "=", "value": "Hot"},
                    "actions": [
                        {
                            "create_task": {
                                "Subject": "Call {Name}",
                                "WhoId": "{Id}",
                                "Priority": "High",
                            }
                        }
                    ],
                }
            ],
            "autolaunched": [
                {
                    "name": "Tier_Upgrade",
                    "inputs": ["recordId", "tier"],
                    "actions": [{"create_task": {"Subject": "Tier {tier}", "WhoId": "{recordId}"}}],
                }
            ],
        }
    )


def test_record_triggered_flow_creates_a_task_once_per_change(
    sf: Salesforce, org: LocalOrg
) -> None:
    org.store.flows = _flows()
    contact = sf.Contact.create({"FirstName": "Grace", "LastName": "Hopper"})["id"]
    sf.Contact.update(contact, {"Title": "Hot"})
    sf.Contact.update(contact, {"Title": "Hot"})  # no change: no second run
    sf.Contact.update(contact, {"Department": "Navy"})
    tasks = sf.query(f"SELECT Subject, Priority FROM Task WHERE WhoId = '{contact}'")
    assert [(t["Subject"], t["Priority"]) for t in tasks["records"]] == [
        ("Call Grace Hopper", "High")
    ]
    runs = sf.query("SELECT FlowName, TriggerType, RecordId FROM FlowInterview")
    assert [(r["FlowName"], r["RecordId"]) for r in runs["records"]] == [
        ("High_Intent_Alert", contact)
    ]


def test_actions_api_invokes_an_autolaunched_flow(sf: Salesforce, org: LocalOrg) -> None:
    org.store.flows = _flows()
    contact = sf.Contact.create({"LastName": "Tiered"})["id"]
    result = sf.restful(
        "actions/custom/flow/Tier_Upgrade",
        method="POST",
        json={"inputs": [{"recordId": contact, "tier": "Gold"}]},
    )
    assert result[0]["isSuccess"] is True
    tasks = sf.query(f"SELECT Subject FROM Task WHERE WhoId = '{contact}'")["records"]
    assert [t["Subject"] for t in tasks] == ["Tier Gold"]
    runs = sf.query("SELECT TriggerType FROM FlowInterview WHERE FlowName = 'Tier_Upgrade'")
    assert runs["records"][0]["TriggerType"] == "Autolaunched"
    with pytest.raises(Exception, match="NOT_FOUND"):
        sf.restful("actions/custom/flow/Nope", method="POST", json={"inputs": [{}]})


# ---------------------------------------------------------------------- faults
def test_injected_lock_errors_are_per_record(sf: Salesforce, org: LocalOrg) -> None:
    org.faults.configure("UNABLE_TO_LOCK_ROW=0.5,seed=3")
    records = [{"attributes": {"type": "Contact"}, "LastName": f"L{i}"} for i in range(100)]
    results = sf.restful("composite/sobjects", method="POST", json={"records": records})
    failed = [r for r in results if not r["success"]]
    assert 20 < len(failed) < 80
    assert {r["errors"][0]["statusCode"] for r in failed} == {"UNABLE_TO_LOCK_ROW"}
    org.faults.configure("")
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 100 - len(failed)


def test_injected_server_unavailable_writes_nothing(sf: Salesforce, org: LocalOrg) -> None:
    org.faults.configure("SERVER_UNAVAILABLE=1")
    with pytest.raises(SalesforceGeneralError) as info:
        sf.Contact.create({"LastName": "Lost"})
    assert info.value.status == 503
    org.faults.configure("")
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0


def test_injected_latency_slows_every_call(sf: Salesforce, org: LocalOrg) -> None:
    org.faults.configure("latency=150ms")
    started = time.monotonic()
    sf.query("SELECT Id FROM Contact")
    # A floor, not a timing assertion: the call cannot be faster than the injected delay.
    assert time.monotonic() - started >= 0.15


def test_session_expiry(sf: Salesforce, org: LocalOrg, http: requests.Session) -> None:
    org.expire_sessions()
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Contact")
    org.faults.configure("session_ttl=0.2s")
    token = get_token(http, org)
    fresh = Salesforce(
        instance_url=org.instance_url, session_id=token["access_token"], session=http
    )
    fresh.query("SELECT Id FROM Contact")
    time.sleep(0.3)
    with pytest.raises(SalesforceExpiredSession):
        fresh.query("SELECT Id FROM Contact")


def _limit_header(response: Any) -> str:
    return str(response.headers.get("Sforce-Limit-Info", ""))


def test_every_api_response_carries_limit_info(http: requests.Session, org: LocalOrg) -> None:
    token = get_token(http, org)["access_token"]
    response = http.get(
        org.instance_url + "/services/data/v59.0/sobjects/",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert _limit_header(response) == f"api-usage=1/{org.config.daily_limit}"


def test_a_15_character_reference_id_is_accepted_and_stored_as_18(sf: Salesforce) -> None:
    account = _account(sf)
    contact = sf.Contact.create({"LastName": "Short", "AccountId": account[:15]})["id"]
    assert sf.Contact.get(contact)["AccountId"] == account

"""REST API error paths over real HTTPS: bodies Salesforce cannot read, unknown objects, ids and
fields, records that are gone, collections over the limit or with bad items, bad query
locators — each answered with Salesforce's status, error shape and code.

Sources (REST API Developer Guide unless named):
- "Status Codes and Error Responses" (400 bad JSON, 404 unknown resource, 405, 415 a body
  format the resource does not take, 300 several external-id matches) —
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
- the 415 answer's code and wording as a real org sent it to nforce ("MediaType of
  'multipart/related' is not supported by this resource", errorCode UNSUPPORTED_MEDIA_TYPE) —
  https://github.com/kevinohara80/nforce/issues/74
- "sObject Collections" (200 records a call, allOrNone, per-record SaveResult errors with
  statusCode) — https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections.htm
- "Insert or Update (Upsert) a Record Using an External ID" (404 for a field that is not an
  external id) — https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_upsert.htm
- SOAP API Developer Guide, "StatusCode" values (ENTITY_IS_DELETED, MALFORMED_ID,
  INVALID_CROSS_REFERENCE_KEY, REQUIRED_FIELD_MISSING...) —
  https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm
"""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce

from localorg.org import LocalOrg
from localorg.schema import FieldInfo
from tests.localorg.errorshape import Api, error_of, item_errors

COLLECTIONS = "composite/sobjects"


# ---------------------------------------------------------------------- bodies
@pytest.mark.parametrize("data", [b"{not json", b"[]", b'"text"', b"null", b""])
def test_a_record_body_that_is_not_a_json_object_is_a_parser_error(
    api: Api, org: LocalOrg, data: bytes
) -> None:
    error_of(
        api.call("POST", "sobjects/Contact", data=data, content_type="application/json"),
        400,
        "JSON_PARSER_ERROR",
    )
    assert org.store.count("Contact") == 0


@pytest.mark.parametrize("content_type", ["text/plain", "text/csv", "multipart/related"])
def test_a_body_in_a_format_the_resource_does_not_take_is_415(
    api: Api, org: LocalOrg, sf: Salesforce, content_type: str
) -> None:
    body = b'{"LastName": "Plain"}'
    error = error_of(
        api.call("POST", "sobjects/Contact", data=body, content_type=content_type),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    assert content_type in error["message"]
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    error_of(
        api.call("PATCH", f"sobjects/Contact/{kept}", data=body, content_type=content_type),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    error_of(
        api.call("POST", COLLECTIONS, data=b'{"records": []}', content_type=content_type),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    assert [r["LastName"] for r in sf.query("SELECT LastName FROM Contact")["records"]] == ["Kept"]


def test_json_with_a_charset_is_json(api: Api, org: LocalOrg) -> None:
    response = api.call(
        "POST",
        "sobjects/Contact",
        data=b'{"LastName": "Charset"}',
        content_type="application/json; charset=UTF-8",
    )
    assert response.status_code == 201, response.text
    assert org.store.count("Contact") == 1


# ---------------------------------------------------------------------- unknown things
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "sobjects/Spaceship__c/describe"),
        ("GET", "sobjects/Spaceship__c"),
        ("POST", "sobjects/Spaceship__c"),
        ("GET", "sobjects/Spaceship__c/0035g00000000zzAAA"),
        ("GET", "no/such/resource"),
    ],
)
def test_unknown_objects_and_resources_are_not_found(api: Api, method: str, path: str) -> None:
    error_of(api.call(method, path, json={"Name": "x"}), 404, "NOT_FOUND")


def test_an_unknown_or_deleted_record_id(api: Api, sf: Salesforce) -> None:
    unknown = "0035g00000000zzAAA"
    for method in ("GET", "PATCH", "DELETE"):
        error_of(
            api.call(method, f"sobjects/Contact/{unknown}", json={"Title": "x"}), 404, "NOT_FOUND"
        )
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    assert api.call("DELETE", f"sobjects/Contact/{gone}").status_code == 204
    error_of(api.call("DELETE", f"sobjects/Contact/{gone}"), 404, "ENTITY_IS_DELETED")
    error_of(
        api.call("PATCH", f"sobjects/Contact/{gone}", json={"Title": "x"}),
        404,
        "ENTITY_IS_DELETED",
    )
    error_of(api.call("GET", f"sobjects/Contact/{gone}"), 404, "NOT_FOUND")


def test_reading_an_unknown_field_names_it(api: Api, sf: Salesforce) -> None:
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    error = error_of(
        api.call("GET", f"sobjects/Contact/{kept}", params={"fields": "LastName,Shoe_Size__c"}),
        400,
        "INVALID_FIELD",
    )
    assert "Shoe_Size__c" in error["message"]
    fields = api.call("GET", f"sobjects/Contact/{kept}", params={"fields": "LastName"}).json()
    assert set(fields) == {"attributes", "LastName"}


def test_writes_report_every_bad_field_at_once(api: Api, org: LocalOrg) -> None:
    response = api.call(
        "POST",
        "sobjects/Contact",
        json={"Shoe_Size__c": 9, "Name": "Read Only", "Email": "nope", "Birthdate": "31/01/2000"},
    )
    assert response.status_code == 400
    codes = sorted(e["errorCode"] for e in response.json())
    assert codes == [
        "INVALID_EMAIL_ADDRESS",
        "INVALID_FIELD",
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "JSON_PARSER_ERROR",
        "REQUIRED_FIELD_MISSING",
    ]
    for error in response.json():
        assert set(error) == {"message", "errorCode", "fields"}
    assert org.store.count("Contact") == 0


def test_an_update_cannot_clear_a_required_field(api: Api, sf: Salesforce) -> None:
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    error = error_of(
        api.call("PATCH", f"sobjects/Contact/{kept}", json={"LastName": None}),
        400,
        "REQUIRED_FIELD_MISSING",
    )
    assert error["fields"] == ["LastName"]
    assert sf.Contact.get(kept)["LastName"] == "Kept"


def test_references_must_be_ids_of_the_right_live_object(api: Api, sf: Salesforce) -> None:
    lead = sf.Lead.create({"LastName": "L", "Company": "C"})["id"]
    gone = sf.Account.create({"Name": "Gone"})["id"]
    sf.Account.delete(gone)
    for value, code in (
        ("not-an-id", "MALFORMED_ID"),
        (lead, "FIELD_INTEGRITY_EXCEPTION"),
        (gone, "INVALID_CROSS_REFERENCE_KEY"),
        ("0015g00000000zzAAA", "INVALID_CROSS_REFERENCE_KEY"),
    ):
        error = error_of(
            api.call("POST", "sobjects/Contact", json={"LastName": "C", "AccountId": value}),
            400,
            code,
        )
        assert error["fields"] == ["AccountId"]


# ---------------------------------------------------------------------- external ids
def test_upsert_needs_an_external_id_field(api: Api, org: LocalOrg) -> None:
    error = error_of(
        api.call("PATCH", "sobjects/Contact/LastName/Smith", json={"Title": "x"}), 404, "NOT_FOUND"
    )
    assert "LastName" in error["message"]
    error_of(
        api.call("PATCH", "sobjects/Contact/Id/0035g00000000zzAAA", json={"Title": "x"}),
        404,
        "NOT_FOUND",
    )
    assert org.store.count("Contact") == 0


def test_several_external_id_matches_answer_300_with_their_urls(
    api: Api, sf: Salesforce, org: LocalOrg
) -> None:
    org.store.add_custom_field(
        "Contact", FieldInfo("Shop_Key__c", "string", length=20, custom=True, external_id=True)
    )
    ids = {sf.Contact.create({"LastName": n, "Shop_Key__c": "twin"})["id"] for n in "AB"}
    for method in ("GET", "PATCH", "DELETE"):
        response = api.call(method, "sobjects/Contact/Shop_Key__c/twin", json={"Title": "x"})
        assert response.status_code == 300
        assert {url.rsplit("/", 1)[1] for url in response.json()} == ids
    assert org.store.count("Contact") == 2


# ---------------------------------------------------------------------- query
def test_query_errors(api: Api) -> None:
    error_of(api.call("GET", "query", params={"q": ""}), 400, "MALFORMED_QUERY")
    error_of(
        api.call("GET", "query", params={"q": "SELECT Id FROM Spaceship__c"}), 400, "INVALID_TYPE"
    )
    error_of(
        api.call("GET", "query", params={"q": "SELECT Nope FROM Contact"}), 400, "INVALID_FIELD"
    )
    for locator in ("nosuchcursor-2000", "abc", "01gXXX-x"):
        error_of(api.call("GET", f"query/{locator}"), 400, "INVALID_QUERY_LOCATOR")


# ---------------------------------------------------------------------- collections
@pytest.mark.parametrize("body", [{}, {"records": {"LastName": "x"}}, {"records": "x"}])
def test_collections_need_a_records_list(api: Api, body: dict[str, object]) -> None:
    for method in ("POST", "PATCH"):
        error_of(api.call(method, COLLECTIONS, json=body), 400, "JSON_PARSER_ERROR")


def test_collections_refuse_more_than_200_ids_to_delete(api: Api) -> None:
    ids = ",".join(["0035g00000000zzAAA"] * 201)
    error_of(api.call("DELETE", COLLECTIONS, params={"ids": ids}), 400, "EXCEEDED_ID_LIMIT")


def test_collection_items_fail_alone_with_their_status_code(api: Api, sf: Salesforce) -> None:
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(gone)
    records = [
        {"attributes": {"type": "Contact"}, "id": kept, "Title": "Boss"},
        {"Title": "no type"},
        {"attributes": {"type": "Contact"}, "id": "short", "Title": "x"},
        {"attributes": {"type": "Contact"}, "id": "0035g00000000zzAAA", "Title": "x"},
        {"attributes": {"type": "Contact"}, "id": gone, "Title": "x"},
        {"attributes": {"type": "Spaceship__c"}, "id": kept, "Title": "x"},
    ]
    response = api.call("PATCH", COLLECTIONS, json={"records": records})
    assert response.status_code == 200
    ok, *failed = response.json()
    assert ok == {"id": kept, "success": True, "errors": []}
    assert [item_errors(r) for r in failed] == [
        ["INVALID_TYPE"],
        ["MALFORMED_ID"],
        ["INVALID_CROSS_REFERENCE_KEY"],
        ["ENTITY_IS_DELETED"],
        ["NOT_FOUND"],
    ]
    assert failed[1]["id"] is None  # a malformed id is not echoed as an id
    assert sf.Contact.get(kept)["Title"] == "Boss"


def test_all_or_none_rolls_every_item_back(api: Api, org: LocalOrg) -> None:
    records = [
        {"attributes": {"type": "Contact"}, "LastName": "Good"},
        {"attributes": {"type": "Contact"}, "Email": "no last name"},
    ]
    response = api.call("POST", COLLECTIONS, json={"allOrNone": True, "records": records})
    assert response.status_code == 200
    first, second = response.json()
    assert item_errors(first) == ["ALL_OR_NONE_OPERATION_ROLLED_BACK"]
    assert sorted(item_errors(second)) == ["INVALID_EMAIL_ADDRESS", "REQUIRED_FIELD_MISSING"]
    assert org.store.count("Contact") == 0


def test_collection_delete_of_bad_ids(api: Api, sf: Salesforce, org: LocalOrg) -> None:
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    response = api.call(
        "DELETE", COLLECTIONS, params={"ids": f"short,0035g00000000zzAAA,{kept},zzz000000000000"}
    )
    assert response.status_code == 200
    bad_form, unknown, ok, no_prefix = response.json()
    assert item_errors(bad_form) == ["MALFORMED_ID"]
    assert item_errors(unknown) == ["NOT_FOUND"]
    assert ok == {"id": kept, "success": True, "errors": []}
    assert item_errors(no_prefix) == ["INVALID_CROSS_REFERENCE_KEY"]
    assert org.store.count("Contact") == 0


def test_collection_upsert_errors(api: Api, org: LocalOrg, sf: Salesforce) -> None:
    error_of(
        api.call("PATCH", f"{COLLECTIONS}/Contact/LastName", json={"records": []}),
        400,
        "INVALID_FIELD",
    )
    org.store.add_custom_field(
        "Contact", FieldInfo("Shop_Key__c", "string", length=20, custom=True, external_id=True)
    )
    for name in "AB":
        sf.Contact.create({"LastName": name, "Shop_Key__c": "twin"})
    records = [
        {"attributes": {"type": "Contact"}, "LastName": "No key"},
        {"attributes": {"type": "Contact"}, "Shop_Key__c": "twin", "LastName": "Twin"},
        {"attributes": {"type": "Contact"}, "Shop_Key__c": "new", "LastName": "New"},
    ]
    response = api.call("PATCH", f"{COLLECTIONS}/Contact/Shop_Key__c", json={"records": records})
    no_key, twin, new = response.json()
    assert item_errors(no_key) == ["MISSING_ARGUMENT"]
    assert item_errors(twin) == ["DUPLICATE_EXTERNAL_ID"]
    assert new["success"] is True
    assert new["created"] is True
    assert org.store.count("Contact") == 3


# ---------------------------------------------------------------------- methods and flows
def test_a_method_the_resource_does_not_take_is_405(api: Api, sf: Salesforce) -> None:
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    for method in ("POST", "PUT"):
        error = error_of(
            api.call(method, f"sobjects/Contact/{kept}", json={}), 405, "METHOD_NOT_ALLOWED"
        )
        assert method in error["message"]


def test_flows_that_do_not_exist_or_get_no_inputs(api: Api) -> None:
    error_of(api.call("POST", "actions/custom/flow/Nope", json={"inputs": [{}]}), 404, "NOT_FOUND")
    for body in ({}, {"inputs": []}, {"inputs": "x"}):
        error_of(api.call("POST", "actions/custom/flow/Nope", json=body), 400, "JSON_PARSER_ERROR")

"""OrgStore on its own: every refusal of a write, with Salesforce's status code, message and
fields, and what a refused write leaves behind (nothing).

The codes are Salesforce's ``StatusCode`` values (SOAP API Developer Guide, "Core Data Types
Used in API Calls" / StatusCode —
https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_concepts_core_data_objects.htm);
the two shapes of an error, ``errorCode`` on the REST record endpoints and ``statusCode`` in
sObject Collections save results, are pinned in tests/fixtures/salesforce/ (see its README).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from localorg.access import as_user, install
from localorg.ids import IdFactory
from localorg.schema import FieldInfo
from localorg.store import OrgStore, RecordError, RecordFault, parse_datetime

UNKNOWN_CONTACT = IdFactory(pod="zz").new("Contact")


@pytest.fixture
def store() -> OrgStore:
    return OrgStore(":memory:")


def _refusal(call: Any, *args: Any, **kwargs: Any) -> RecordFault:
    with pytest.raises(RecordFault) as caught:
        call(*args, **kwargs)
    return caught.value


def _codes(fault: RecordFault) -> list[str]:
    return sorted(e.status_code for e in fault.errors)


def _only(fault: RecordFault) -> RecordError:
    assert len(fault.errors) == 1, fault.errors
    return fault.errors[0]


# ---------------------------------------------------------------------- error shapes
def test_an_error_has_a_rest_and_a_collection_form() -> None:
    error = RecordError("STRING_TOO_LONG", "Last Name: data value too large", ["LastName"])
    assert error.rest() == {
        "message": "Last Name: data value too large",
        "errorCode": "STRING_TOO_LONG",
        "fields": ["LastName"],
    }
    assert error.collection() == {
        "statusCode": "STRING_TOO_LONG",
        "message": "Last Name: data value too large",
        "fields": ["LastName"],
    }
    fault = RecordFault([error, RecordError("INVALID_FIELD", "No such column", ["X"])], 400)
    assert (
        str(fault)
        == "STRING_TOO_LONG: Last Name: data value too large; INVALID_FIELD: No such column"
    )


# ---------------------------------------------------------------------- unknown things
@pytest.mark.parametrize("name", ["Spaceship__c", "", "Contacts"])
def test_an_unknown_object_is_not_found(store: OrgStore, name: str) -> None:
    fault = _refusal(store.object, name)
    assert fault.http_status == 404
    assert _only(fault).status_code == "NOT_FOUND"
    assert f"'{name}'" in _only(fault).message


def test_object_names_are_case_insensitive(store: OrgStore) -> None:
    assert store.object("contact").name == "Contact"
    assert store.object("ORDERITEM").name == "OrderItem"


def test_reading_or_matching_on_an_unknown_field(store: OrgStore) -> None:
    record_id = store.insert("Contact", {"LastName": "A"})
    for call in (
        lambda: store.get("Contact", record_id, ["LastName", "Shoe_Size__c"]),
        lambda: store.find_by("Contact", "Shoe_Size__c", "9"),
    ):
        error = _only(_refusal(call))
        assert (error.status_code, error.fields) == ("INVALID_FIELD", ["Shoe_Size__c"])
        assert error.message == "No such column 'Shoe_Size__c' on sobject of type Contact"


def test_a_field_the_user_is_not_granted_is_unknown_to_them(store: OrgStore) -> None:
    store.add_custom_field(
        "Contact", FieldInfo("Secret__c", "string", length=10, custom=True, protected=True)
    )
    install(store, "admin")  # even a System Administrator sees a new field only once granted
    with as_user(store.integration_user_id):
        error = _only(_refusal(store.insert, "Contact", {"LastName": "A", "Secret__c": "x"}))
    assert (error.status_code, error.fields) == ("INVALID_FIELD", ["Secret__c"])
    assert store.count("Contact") == 0


def test_a_custom_field_cannot_be_added_twice(store: OrgStore) -> None:
    spec = FieldInfo("Score__c", "double", custom=True)
    store.add_custom_field("Contact", spec)
    error = _only(_refusal(store.add_custom_field, "Contact", spec))
    assert error.status_code == "DUPLICATE_DEVELOPER_NAME"
    assert "Score__c" in error.message
    # the existing one still works
    record_id = store.insert("Contact", {"LastName": "A", "Score__c": 1.5})
    assert store.get("Contact", record_id, ["Score__c"])["Score__c"] == 1.5  # type: ignore[index]


# ---------------------------------------------------------------------- values
@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"LastName": "x" * 81}, "STRING_TOO_LONG", "LastName"),
        ({"LastName": "A", "Email": "not an email"}, "INVALID_EMAIL_ADDRESS", "Email"),
        (
            {"LastName": "A", "LeadSource": "Carrier Pigeon"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "LeadSource",
        ),
        ({"LastName": "A", "AccountId": "not-an-id"}, "MALFORMED_ID", "AccountId"),
        ({"LastName": "A", "AccountId": UNKNOWN_CONTACT}, "FIELD_INTEGRITY_EXCEPTION", "AccountId"),
        ({"LastName": "A", "Name": "Read Only"}, "INVALID_FIELD_FOR_INSERT_UPDATE", "Name"),
        (
            {"LastName": "A", "CreatedDate": "2024-01-01T00:00:00Z"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "CreatedDate",
        ),
    ],
)
def test_a_bad_value_names_its_field(
    store: OrgStore, body: dict[str, Any], code: str, field: str
) -> None:
    error = _only(_refusal(store.insert, "Contact", body))
    assert (error.status_code, error.fields) == (code, [field])
    assert store.count("Contact") == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Birthdate", "31/01/2000"),
        ("Birthdate", "2023-02-30"),
        ("Birthdate", 20000131),
        ("HasOptedOutOfEmail", "yes"),
        ("HasOptedOutOfEmail", 1),
        ("LastName", ["a", "list"]),
        ("LastName", {"an": "object"}),
    ],
)
def test_a_value_of_the_wrong_json_type_is_a_parser_error(
    store: OrgStore, field: str, value: Any
) -> None:
    body = {"LastName": "A", field: value}
    error = _only(_refusal(store.insert, "Contact", body))
    assert error.status_code == "JSON_PARSER_ERROR"
    assert error.message.startswith("Cannot deserialize instance of")
    assert error.fields == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("NumberOfEmployees", 1.5),
        ("NumberOfEmployees", "ten"),
        ("NumberOfEmployees", True),
        ("AnnualRevenue", "lots"),
    ],
)
def test_numbers_must_be_numbers_of_the_field_kind(store: OrgStore, field: str, value: Any) -> None:
    body = {"LastName": "A", "Company": "C", field: value}
    assert _only(_refusal(store.insert, "Lead", body)).status_code == "JSON_PARSER_ERROR"


def test_a_number_beyond_the_field_precision_is_out_of_range(store: OrgStore) -> None:
    # currency(18, 2): 16 digits before the point
    error = _only(
        _refusal(store.insert, "Lead", {"LastName": "A", "Company": "C", "AnnualRevenue": 1e16})
    )
    assert (error.status_code, error.fields) == ("NUMBER_OUTSIDE_VALID_RANGE", ["AnnualRevenue"])
    ok = store.insert(
        "Lead", {"LastName": "A", "Company": "C", "AnnualRevenue": "999999999999999.994"}
    )
    assert store.get("Lead", ok, ["AnnualRevenue"])["AnnualRevenue"] == 999999999999999.99  # type: ignore[index]


def test_every_problem_of_a_body_is_reported_at_once(store: OrgStore) -> None:
    fault = _refusal(
        store.insert,
        "Contact",
        {"Email": "bad", "LeadSource": "Nope", "Shoe_Size__c": 9, "Birthdate": "soon"},
    )
    assert _codes(fault) == [
        "INVALID_EMAIL_ADDRESS",
        "INVALID_FIELD",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "JSON_PARSER_ERROR",
        "REQUIRED_FIELD_MISSING",
    ]
    assert fault.http_status == 400


@pytest.mark.parametrize("blank", [None, "", {}])
def test_a_required_field_left_out_or_blank(store: OrgStore, blank: Any) -> None:
    body: dict[str, Any] = {"FirstName": "A"}
    if blank != {}:
        body["LastName"] = blank
    error = _only(_refusal(store.insert, "Contact", body))
    assert (error.status_code, error.fields) == ("REQUIRED_FIELD_MISSING", ["LastName"])
    assert error.message == "Required fields are missing: [LastName]"


def test_a_required_field_with_a_default_may_be_left_out(store: OrgStore) -> None:
    record_id = store.insert("Lead", {"LastName": "A", "Company": "C"})
    assert store.get("Lead", record_id, ["Status"])["Status"] == "Open - Not Contacted"  # type: ignore[index]


def test_a_reference_to_a_deleted_or_unknown_record(store: OrgStore) -> None:
    account = store.insert("Account", {"Name": "Gone"})
    store.delete("Account", account)
    unknown_account = IdFactory(pod="zz").new("Account")
    for value in (account, unknown_account):
        error = _only(_refusal(store.insert, "Contact", {"LastName": "A", "AccountId": value}))
        assert (error.status_code, error.fields) == ("INVALID_CROSS_REFERENCE_KEY", ["AccountId"])


def test_a_15_character_reference_is_stored_as_18(store: OrgStore) -> None:
    account = store.insert("Account", {"Name": "Acme"})
    contact = store.insert("Contact", {"LastName": "A", "AccountId": account[:15]})
    assert store.get("Contact", contact, ["AccountId"])["AccountId"] == account  # type: ignore[index]


def test_an_update_cannot_touch_a_create_only_field(store: OrgStore) -> None:
    account = store.insert("Account", {"Name": "Acme"})
    order = store.insert(
        "Order", {"AccountId": account, "EffectiveDate": "2024-01-01", "IsReductionOrder": True}
    )
    error = _only(_refusal(store.update, "Order", order, {"IsReductionOrder": False}))
    assert (error.status_code, error.fields) == (
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        ["IsReductionOrder"],
    )


def test_an_update_cannot_clear_a_required_field(store: OrgStore) -> None:
    record_id = store.insert("Contact", {"LastName": "Kept"})
    for blank in (None, ""):
        error = _only(_refusal(store.update, "Contact", record_id, {"lastname": blank}))
        assert (error.status_code, error.fields) == ("REQUIRED_FIELD_MISSING", ["LastName"])
    assert store.get("Contact", record_id, ["LastName"])["LastName"] == "Kept"  # type: ignore[index]


# ---------------------------------------------------------------------- records that are gone
def test_updating_or_deleting_a_record_that_never_was(store: OrgStore) -> None:
    for call in (
        lambda: store.update("Contact", UNKNOWN_CONTACT, {"Title": "x"}),
        lambda: store.delete("Contact", UNKNOWN_CONTACT),
    ):
        fault = _refusal(call)
        assert fault.http_status == 404
        assert _only(fault).status_code == "NOT_FOUND"
        assert UNKNOWN_CONTACT in _only(fault).message


def test_a_deleted_record_is_gone_but_remembered(store: OrgStore) -> None:
    record_id = store.insert("Contact", {"LastName": "A"})
    store.delete("Contact", record_id)
    for call in (
        lambda: store.update("Contact", record_id, {"Title": "x"}),
        lambda: store.delete("Contact", record_id),
    ):
        fault = _refusal(call)
        assert (fault.http_status, _only(fault).status_code) == (404, "ENTITY_IS_DELETED")
    assert store.get("Contact", record_id) is None
    kept = store.get("Contact", record_id, include_deleted=True)
    assert kept is not None
    assert kept["IsDeleted"] is True
    assert store.count("Contact") == 0
    assert store.find_by("Contact", "Id", record_id) == []


def test_a_refused_update_changes_nothing(store: OrgStore) -> None:
    record_id = store.insert("Contact", {"LastName": "A", "Title": "Before"})
    before = store.get("Contact", record_id)
    _refusal(store.update, "Contact", record_id, {"Title": "After", "Email": "bad"})
    assert store.get("Contact", record_id) == before


# ---------------------------------------------------------------------- the row checker
def test_a_row_checker_refuses_a_column_outside_the_header_as_clean_does(
    store: OrgStore,
) -> None:
    info = store.object("Contact")
    check = store.row_checker(info, ["LastName"], creating=True)
    assert check({"LastName": "A"}) == {"LastName": "A"}
    assert _codes(_refusal(check, {"LastName": "A", "Nope__c": "x"})) == ["INVALID_FIELD"]
    assert _codes(_refusal(check, {"LastName": "x" * 81})) == ["STRING_TOO_LONG"]
    assert check({"LastName": "B"}) == {"LastName": "B"}  # a refusal does not stick


# ---------------------------------------------------------------------- datetimes in
@functools.cache
def _shared_store() -> tuple[OrgStore, str]:
    # One store for every example: opening a store (tables, indexes) costs more than a write.
    store = OrgStore(":memory:")
    return store, store.insert("Account", {"Name": "Acme"})


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)),
    st.sampled_from(["Z", "+00:00", "+0530", "-08:00"]),
)
def test_any_iso_datetime_is_stored_in_utc_storage_form(moment: datetime, zone: str) -> None:
    store, account = _shared_store()
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + zone
    order = store.insert(
        "Order", {"AccountId": account, "EffectiveDate": "2024-01-01", "ActivatedDate": text}
    )
    stored = store.get("Order", order, ["ActivatedDate"])["ActivatedDate"]  # type: ignore[index]
    assert stored.endswith(".000+0000")
    assert parse_datetime(stored) == parse_datetime(text)


@pytest.mark.parametrize(
    "value", ["yesterday", "2024-01-01T25:00:00Z", "2024-13-01T00:00:00Z", 1700000000]
)
def test_a_datetime_that_is_not_one_is_refused(store: OrgStore, value: Any) -> None:
    account = store.insert("Account", {"Name": "Acme"})
    body = {"AccountId": account, "EffectiveDate": "2024-01-01", "ActivatedDate": value}
    assert _codes(_refusal(store.insert, "Order", body)) == ["JSON_PARSER_ERROR"]
    assert store.count("Order") == 0

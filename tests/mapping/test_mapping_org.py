"""Describe checks, field definitions for deploy, the committed schema and the default mappings."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from connector.mapping import (
    KNOWN_VALUES,
    MappingFile,
    check_against_describe,
    field_definitions,
    load_mappings,
    sfdx_field_path,
    sfdx_field_xml,
)
from connector.mapping.schema import main, render_schema

REPO = Path(__file__).resolve().parents[2]
NS = "{http://soap.sforce.com/2006/04/metadata}"


def mapping(*fields: dict[str, Any], obj: str = "Contact") -> MappingFile:
    return MappingFile.model_validate(
        {"object": obj, "person": obj.lower(), "fields": list(fields)}
    )


def sf_field(name: str, type_: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "updateable": True, **kw}


ALL_TYPES = mapping(
    {"value": "a.n", "field": "L2L_N__c", "type": "number", "precision": 10, "scale": 0},
    {"value": "a.c", "field": "L2L_C__c", "type": "currency", "label": "Money", "help": "Tip"},
    {"value": "a.p", "field": "L2L_P__c", "type": "percent"},
    {"value": "a.t", "field": "L2L_T__c", "type": "text", "length": 80},
    {"value": "a.l", "field": "L2L_L__c", "type": "textarea", "length": 1000},
    {"value": "a.d", "field": "L2L_D__c", "type": "date", "description": "When <it> & why"},
    {"value": "a.dt", "field": "L2L_DT__c", "type": "datetime"},
    {"value": "a.b", "field": "L2L_B__c", "type": "checkbox"},
    {
        "value": "a.s",
        "field": "L2L_S__c",
        "type": "picklist",
        "picklist": {"champion": "Champion", "at_risk": "At Risk"},
    },
    {"value": "a.r", "field": "Rating", "type": "text"},
)


def good_describe() -> dict[str, Any]:
    picks = [{"value": "Champion", "active": True}, {"value": "At Risk", "active": True}]
    return {
        "Contact": {
            "fields": [
                sf_field("L2L_N__c", "double", precision=18, scale=0),
                sf_field("L2L_C__c", "currency", precision=18, scale=2),
                sf_field("L2L_P__c", "percent", precision=5, scale=2),
                sf_field("L2L_T__c", "string", length=80),
                sf_field("L2L_L__c", "textarea", length=32768),
                sf_field("L2L_D__c", "date"),
                sf_field("L2L_DT__c", "datetime"),
                sf_field("L2L_B__c", "boolean"),
                sf_field("L2L_S__c", "picklist", length=255, picklistValues=picks),
                sf_field("Rating", "string", length=255),
            ]
        }
    }


def test_describe_that_fits_has_no_problems() -> None:
    assert check_against_describe([ALL_TYPES], good_describe()) == []


@pytest.mark.parametrize(
    ("field", "change", "fragment"),
    [
        ("L2L_N__c", None, "field missing in the org; run `lead2loyalty fields deploy`"),
        ("Rating", None, "field missing in the org; check the field name"),
        ("L2L_N__c", {"type": "string"}, "is string in the org but mapped as number"),
        ("L2L_B__c", {"updateable": False}, "is not updateable"),
        ("L2L_T__c", {"length": 40}, "holds 40 characters but the mapping writes up to 80"),
        ("L2L_C__c", {"scale": 0}, "keeps 0 decimals but the mapping writes 2"),
        ("L2L_N__c", {"precision": 8}, "holds 8 digits before the point but the mapping allows 10"),
        (
            "L2L_S__c",
            {"picklistValues": [{"value": "Champion", "active": True}]},
            "does not offer picklist value(s) 'At Risk'",
        ),
    ],
)
def test_describe_catches_each_problem(
    field: str, change: dict[str, Any] | None, fragment: str
) -> None:
    describe = good_describe()
    fields = describe["Contact"]["fields"]
    target = next(f for f in fields if f["name"] == field)
    if change is None:
        fields.remove(target)
    else:
        target.update(change)
    (problem,) = check_against_describe([ALL_TYPES], describe)
    assert problem.startswith(f"Contact.{field}: ")
    assert fragment in problem


def test_describe_reports_object_not_described_and_file_lines() -> None:
    loaded = load_mappings(REPO / "mappings")
    found = check_against_describe(loaded, {"Contact": {"fields": []}})
    by_file = {line.split(":", 1)[0].rsplit("/", 1)[-1]: line for line in reversed(found)}
    assert by_file["contact.yaml"].endswith(
        "contact.yaml:27: Contact.L2L_Order_Count__c: field missing in the org; "
        "run `lead2loyalty fields deploy` to create it"
    )
    for name, obj in (("lead.yaml", "Lead"), ("account.yaml", "Account")):
        assert by_file[name].endswith(
            f"{name}: {obj}: not described; check the object name and that "
            "the integration user can read it"
        )


def test_field_definitions_for_each_type() -> None:
    defs = {d["FullName"]: d["Metadata"] for d in field_definitions([ALL_TYPES])}
    assert "Contact.Rating" not in defs  # standard fields are never deployed
    assert defs["Contact.L2L_N__c"] == {"label": "N", "type": "Number", "precision": 10, "scale": 0}
    assert defs["Contact.L2L_C__c"] == {
        "label": "Money",
        "type": "Currency",
        "inlineHelpText": "Tip",
        "precision": 18,
        "scale": 2,
    }
    assert defs["Contact.L2L_P__c"] == {"label": "P", "type": "Percent", "precision": 5, "scale": 2}
    assert defs["Contact.L2L_T__c"] == {"label": "T", "type": "Text", "length": 80}
    assert defs["Contact.L2L_L__c"] == {
        "label": "L",
        "type": "LongTextArea",
        "length": 1000,
        "visibleLines": 3,
    }
    assert defs["Contact.L2L_D__c"]["type"] == "Date"
    assert defs["Contact.L2L_DT__c"] == {"label": "DT", "type": "DateTime"}
    assert defs["Contact.L2L_B__c"] == {"label": "B", "type": "Checkbox", "defaultValue": "false"}
    assert defs["Contact.L2L_S__c"]["valueSet"] == {
        "restricted": True,
        "valueSetDefinition": {
            "sorted": False,
            "value": [
                {"fullName": "Champion", "default": False, "label": "Champion"},
                {"fullName": "At Risk", "default": False, "label": "At Risk"},
            ],
        },
    }


def test_sfdx_xml_is_valid_metadata() -> None:
    defs = {d["FullName"]: d for d in field_definitions([ALL_TYPES])}
    pick = defs["Contact.L2L_S__c"]
    assert sfdx_field_path(pick) == (
        "salesforce/force-app/main/default/objects/Contact/fields/L2L_S__c.field-meta.xml"
    )
    root = ET.fromstring(sfdx_field_xml(pick))
    assert root.tag == f"{NS}CustomField"
    assert [c.tag.removeprefix(NS) for c in root] == ["fullName", "label", "type", "valueSet"]
    values = root.findall(f"{NS}valueSet/{NS}valueSetDefinition/{NS}value/{NS}fullName")
    assert [v.text for v in values] == ["Champion", "At Risk"]
    dated = ET.fromstring(sfdx_field_xml(defs["Contact.L2L_D__c"]))
    assert dated.findtext(f"{NS}description") == "When <it> & why"
    box = ET.fromstring(sfdx_field_xml(defs["Contact.L2L_B__c"]))
    assert box.findtext(f"{NS}defaultValue") == "false"


def test_committed_schema_matches_the_models(tmp_path: Path) -> None:
    committed = (REPO / "mappings" / "mapping.schema.json").read_text(encoding="utf-8")
    assert committed == render_schema(), (
        "mappings/mapping.schema.json is stale; run `python -m connector.mapping.schema`"
    )
    out = tmp_path / "schema.json"
    assert main([str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["title"] == "lead2loyalty mapping file"


def test_default_mappings_load_clean() -> None:
    loaded = load_mappings(REPO / "mappings", set(KNOWN_VALUES))
    assert [(m.object, m.person) for m in loaded] == [
        ("Account", "account"),
        ("Case", "case"),
        ("Contact", "contact"),
        ("Lead", "lead"),
        ("Order", "order"),
    ]
    # Deliberately unmapped by default: values that change every day for everyone (a formula
    # field does better), and duplicates of a mapped value in another shape.
    unmapped = {
        "rfm.days_since_last_order",
        "predictions.avg_order_value",
        "predictions.segment",
        "predictions.best_send_hour",
        "loyalty.discount_percent",  # only progressive-discount programs need it
        "loyalty.spend_to_next_discount",  # likewise (discounts from spend)
        "conversion.probability",  # the score shows it as 1-99
    }
    lead_only = {k for k in KNOWN_VALUES if k.startswith("conversion.")}
    order_only = {k for k in KNOWN_VALUES if k.startswith("risk.")}
    case_only = {k for k in KNOWN_VALUES if k.startswith("texts.case_")}
    account, case, contact, lead, order = loaded
    assert {f.value for f in contact.fields} == set(
        KNOWN_VALUES
    ) - unmapped - lead_only - order_only - case_only
    # Pooled B2B members (pool_by_account) get the loyalty standing on their Account, and
    # every Account its fulfilment trend (issue 24).
    assert {f.value for f in account.fields} == {
        k for k in KNOWN_VALUES if k.startswith(("loyalty.", "fulfilment."))
    } - unmapped
    # Leads have no orders of their own yet: the plain RFM values, intent, conversion, what
    # they wrote, and recommendations from what they browsed.
    assert {f.value for f in lead.fields} == {
        k
        for k in KNOWN_VALUES
        if k.startswith(("rfm.", "intent.", "conversion.", "recommendations.", "texts."))
    } - unmapped - case_only
    # Each Order its risk; each Case what its newest message says.
    assert {f.value for f in order.fields} == order_only
    assert {f.value for f in case.fields} == case_only
    for mf in loaded:
        assert all(f.field.startswith("L2L_") for f in mf.fields)
    # 19 RFM and prediction fields, 8 + 8 loyalty (Contact, Account), 2 + 4 intent/conversion,
    # 2 risk (Order), 2 + 2 fulfilment (Contact, Account), 2 + 2 recommendations (Contact, Lead),
    # 7 + 7 texts (Contact, Lead), 4 texts (Case)
    assert (
        len(field_definitions(loaded))
        == sum(len(m.fields) for m in loaded)
        == 19 + 16 + 6 + 10 + 14 + 4
    )

"""The SFDX source people see (connector/salesforce/sfdx.py): committed as exported, well-formed,
and consistent with the mappings and models: a mapped field the component, reports or read set
leave out fails here, and so does one they name that no mapping writes.

Formats: Metadata API Developer Guide, "PermissionSet", "FlexiPage", "ListView",
"ReportType", "Report", "Flow", "LightningComponentBundle"; the Flows' inputs follow what the
connector sends (connector/sync/intent.py fire_moments, connector/sync/loyalty.py _flow_input).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import Settings, load_settings
from connector.loyalty.config import LoyaltyConfig
from connector.loyalty.wiring import load_config
from connector.mapping import load_mappings
from connector.mapping.models import MappingFile
from connector.mapping.values import KNOWN_VALUES
from connector.salesforce.sfdx import (
    INTENT_FLOW_INPUTS,
    SCORE_VALUES,
    TIER_FLOW_INPUTS,
    FlowSpec,
    flow_specs,
    flow_xml,
    sfdx_files,
)
from connector.sync.intent import load_scoring
from connector.sync.loyalty import _flow_input
from tests.support import REPO

NS = "{http://soap.sforce.com/2006/04/metadata}"
DEFAULT = REPO / "salesforce" / "force-app" / "main" / "default"


def _settings() -> Settings:
    return load_settings(models_dir=REPO / "models", mappings_dir=REPO / "mappings")


@pytest.fixture(scope="module")
def mappings() -> list[MappingFile]:
    return load_mappings(REPO / "mappings", set(KNOWN_VALUES))


def _xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def _all(root: ET.Element, tag: str) -> list[str]:
    return [e.text or "" for e in root.iter(f"{NS}{tag}")]


def _mapped(
    mappings: list[MappingFile], obj: str, *, values: frozenset[str] | None = None
) -> set[str]:
    return {
        m.field
        for mf in mappings
        if mf.object == obj
        for m in mf.fields
        if values is None or m.value in values
    }


def _component_fields() -> dict[str, list[str]]:
    text = (DEFAULT / "lwc" / "l2lScores" / "fields.js").read_text(encoding="utf-8")
    sections = json.loads(text.split("export const SECTIONS = ", 1)[1].rstrip().rstrip(";"))
    return {
        obj: [f["apiName"] for section in obj_sections for f in section["fields"]]
        for obj, obj_sections in sections.items()
    }


def test_the_committed_source_is_what_fields_export_writes(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["fields", "export", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = {p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()}
    assert written, "export wrote nothing"
    drift = [
        str(rel)
        for rel in sorted(written)
        if (REPO / "salesforce" / rel).read_bytes() != (tmp_path / rel).read_bytes()
    ]
    assert not drift, f"salesforce/ differs from `lead2loyalty fields export`: {drift}"


def test_every_metadata_file_is_well_formed_in_the_metadata_namespace() -> None:
    files = sorted((REPO / "salesforce" / "force-app").rglob("*-meta.xml"))
    assert len(files) > 50
    for path in files:
        root = _xml(path)
        assert root.tag.startswith(NS), path


def test_the_component_shows_exactly_the_mapped_score_fields(
    mappings: list[MappingFile],
) -> None:
    shown = _component_fields()
    objects = {mf.object for mf in mappings if _mapped(mappings, mf.object, values=SCORE_VALUES)}
    assert set(shown) == objects == {"Lead", "Contact", "Account"}
    for obj, fields in shown.items():
        assert set(fields) == _mapped(mappings, obj, values=SCORE_VALUES), obj
    # what a rep needs on each page is there
    assert {"L2L_Intent_Score__c", "L2L_Intent_Reasons__c", "L2L_Conversion_Score__c"} <= set(
        shown["Lead"]
    )
    assert {
        "L2L_Predicted_CLV__c",
        "L2L_Churn_Risk__c",
        "L2L_Expected_Next_Order__c",
        "L2L_Loyalty_Tier__c",
        "L2L_Points_Balance__c",
    } <= set(shown["Contact"])
    meta = _xml(DEFAULT / "lwc" / "l2lScores" / "l2lScores.js-meta.xml")
    assert sorted(_all(meta, "object")) == sorted(objects)
    assert _all(meta, "target") == ["lightning__RecordPage"]


def test_a_mapping_change_moves_the_component_and_reports(mappings: list[MappingFile]) -> None:
    contact = next(mf for mf in mappings if mf.object == "Contact")
    dropped = [m for m in contact.fields if m.value != "predictions.churn_risk"]
    smaller = [
        contact.model_copy(update={"fields": dropped}),
        *[m for m in mappings if m is not contact],
    ]
    files = sfdx_files(smaller, [])
    fields_js = next(t for p, t in files.items() if p.endswith("fields.js"))
    assert "L2L_Churn_Risk__c" not in fields_js
    report_type = next(
        t for p, t in files.items() if p.endswith("L2L_Contact_Scores.reportType-meta.xml")
    )
    assert "L2L_Churn_Risk__c" not in report_type
    # the list view filters on churn risk: without the field it is not written at all
    assert not [p for p in files if "Customers_At_Risk" in p]
    # and the report that names it is left out rather than shipped broken
    assert not [p for p in files if "Customers_By_Segment_And_Tier" in p]


def test_report_types_hold_every_mapped_field_and_reports_name_only_mapped_ones(
    mappings: list[MappingFile],
) -> None:
    for mf in mappings:
        root = _xml(DEFAULT / "reportTypes" / f"L2L_{mf.object}_Scores.reportType-meta.xml")
        assert _all(root, "baseObject") == [mf.object]
        columns = set(_all(root, "field"))
        assert {m.field for m in mf.fields} <= columns, mf.object
    reports = sorted((DEFAULT / "reports" / "L2L_Reports").glob("*.report-meta.xml"))
    assert [p.name.split(".")[0] for p in reports] == [
        "L2L_Customers_By_Segment_And_Tier",
        "L2L_Leads_By_Intent_And_Conversion",
        "L2L_Points_Liability",
    ]
    for path in reports:
        root = _xml(path)
        report_type = _all(root, "reportType")[0]
        obj = report_type.removeprefix("L2L_").removesuffix("_Scores__c")
        type_columns = set(
            _all(_xml(DEFAULT / "reportTypes" / f"L2L_{obj}_Scores.reportType-meta.xml"), "field")
        )
        for ref in [*_all(root, "field"), *_all(root, "sourceColumnName")]:
            if ref.startswith("BucketField_"):
                continue
            prefix, _, field = ref.partition("$")
            assert prefix == obj, (path.name, ref)
            assert field in type_columns, (path.name, ref)
            if field.endswith("__c"):
                assert field in _mapped(mappings, obj), (path.name, ref)


def test_list_views_filter_on_mapped_fields(mappings: list[MappingFile]) -> None:
    hot = _xml(DEFAULT / "objects" / "Lead" / "listViews" / "L2L_Hot_Leads.listView-meta.xml")
    assert _all(hot, "label") == ["Hot leads"]
    assert _all(hot, "field") == ["L2L_Intent_Score__c"]
    assert _all(hot, "operation") == ["greaterOrEqual"]
    assert _all(hot, "value") == ["4"]
    risk = _xml(
        DEFAULT / "objects" / "Contact" / "listViews" / "L2L_Customers_At_Risk.listView-meta.xml"
    )
    assert _all(risk, "field") == ["L2L_Churn_Risk__c"]
    for root, obj in ((hot, "Lead"), (risk, "Contact")):
        custom = [c for c in _all(root, "columns") if c.endswith("__c")]
        assert custom
        assert set(custom) <= _mapped(mappings, obj)


def test_l2l_read_grants_read_only_on_every_mapped_custom_field(
    mappings: list[MappingFile],
) -> None:
    root = _xml(DEFAULT / "permissionsets" / "L2L_Read.permissionset-meta.xml")
    granted = _all(root, "field")
    mapped = {f"{mf.object}.{m.field}" for mf in mappings for m in mf.fields if m.is_custom}
    assert sorted(granted) == sorted(mapped)
    assert set(_all(root, "editable")) == {"false"}
    assert set(_all(root, "readable")) == {"true"}
    for tag in ("allowCreate", "allowEdit", "allowDelete", "modifyAllRecords", "viewAllRecords"):
        assert set(_all(root, tag)) == {"false"}, tag
    assert sorted(_all(root, "object")) == ["Account", "Case", "Contact", "Lead", "Order"]


def test_each_object_gets_a_record_page_of_its_own_with_the_component() -> None:
    for obj in ("Lead", "Contact", "Account"):
        root = _xml(DEFAULT / "flexipages" / f"L2L_{obj}_Record_Page.flexipage-meta.xml")
        assert _all(root, "sobjectType") == [obj]
        assert _all(root, "type")[-1] == "RecordPage"
        assert "l2lScores" in _all(root, "componentName")
        assert _all(root, "masterLabel") == [f"{obj} Record Page (lead2loyalty)"]


def _flow_variables(root: ET.Element) -> dict[str, tuple[str, bool]]:
    out = {}
    for v in root.iter(f"{NS}variables"):
        name = v.find(f"{NS}name").text or ""  # type: ignore[union-attr]
        out[name] = (v.find(f"{NS}dataType").text, v.find(f"{NS}isInput").text == "true")  # type: ignore[union-attr]
    return out


def test_the_flows_models_name_are_shipped_active_with_the_inputs_the_connector_sends() -> None:
    settings = _settings()
    intent = load_scoring(settings).intent
    loyalty = load_config(settings)
    specs = flow_specs(intent, loyalty)
    assert [(s.name, s.kind) for s in specs] == [
        ("L2L_Intent_Hot", "intent"),
        ("L2L_Tier_Change", "tier"),
    ]
    # what _flow_input sends for a tier change is exactly what the Flow declares
    assert isinstance(loyalty, LoyaltyConfig)
    program = next(p for p in loyalty.programs if p.tiers is not None and p.tiers.flow)
    sent = _flow_input("Contact:003000000000001AAA", "Bronze", "Silver", program)
    assert sent["direction"] == "upgrade"
    assert sorted(sent) == sorted(i.name for i in TIER_FLOW_INPUTS)
    for spec in specs:
        root = _xml(DEFAULT / "flows" / f"{spec.name}.flow-meta.xml")
        assert _all(root, "processType") == ["AutoLaunchedFlow"]
        assert _all(root, "status") == ["Active"]
        inputs = {n: t for n, (t, is_input) in _flow_variables(root).items() if is_input}
        assert inputs == {i.name: i.data_type for i in spec.inputs}
        # it makes a Task
        assert "Task" in _all(root, "object")
    assert {i.name for i in INTENT_FLOW_INPUTS} == {
        "recordId",
        "objectName",
        "intentScore",
        "intentReasons",
    }


def test_a_disabled_moment_still_ships_its_flow_and_a_repeated_name_ships_once() -> None:
    settings = _settings()
    intent = load_scoring(settings).intent
    assert intent is not None
    assert not intent.moments[0].enabled  # the repo's default: on once the Flow exists
    twice = intent.model_copy(update={"moments": [*intent.moments, *intent.moments]})
    specs = flow_specs(twice, None)
    assert [s.name for s in specs] == ["L2L_Intent_Hot"]
    text = flow_xml(FlowSpec("My_Flow", "intent", "a test"))
    assert "<label>My Flow</label>" in text

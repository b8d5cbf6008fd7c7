"""What reps and admins see in Salesforce, as SFDX source: generated from the mappings and models.

``fields export`` writes these beside the custom fields and the integration permission set, so
an admin deploys one folder (``sf project deploy start --source-dir salesforce/force-app``) and
a rep sees the scores with nothing else to build. Every function here is pure: plain data in,
file text out, keyed by the path under the SFDX project folder.

1. **L2L_Read**, a permission set for people: Read on every custom field the mappings write
   and on their objects, never Edit. Not assigned by default (``fields deploy --assign-read``
   or ``sf org assign permset --name L2L_Read``). A field created through the Tooling or
   Metadata API is visible to nobody until a permission set assigned to them grants it.
2. **lwc/l2lScores**, a Lightning Web Component for the Lead, Contact and Account record
   pages: it reads the record's lead2loyalty fields with ``lightning/uiRecordApi`` getRecord
   (``optionalFields``, so a field the rep cannot see is left out instead of failing the
   whole read) and shows them with their labels, in sections. Which fields: those that carry
   the values in :data:`SCORE_SECTIONS` on that object in the mappings; ``fields.js`` holds
   the list, the rest of the bundle is fixed.
3. **A FlexiPage of its own per object** (``L2L_<Object>_Record_Page``): the standard
   highlights panel, record detail and related lists, with the component in the sidebar. It
   never replaces the org's pages; an admin activates it in the Lightning App Builder.
4. **List views**: "Hot leads" (intent at or above the hot line) and "Customers at risk"
   (churn risk at or above :data:`CHURN_HIGH_PERCENT`). ListView metadata has no sort order
   (Metadata API "ListView": booleanFilter, columns, division, filterScope, filters, label,
   language, queue, sharedTo), so "newest activity first" is the rep's click on the column.
5. **Report types** (one per object the mappings write, every mapped field a column) and
   **reports** in the ``L2L_Reports`` folder: leads by intent band and conversion, customers
   by segment and tier, points liability. A report is written only when the mappings write
   every field it names.
6. **Flows** the connector invokes (:func:`flow_specs`): autolaunched, Active, with one input
   variable per value the connector sends (:data:`INTENT_FLOW_INPUTS`,
   :data:`TIER_FLOW_INPUTS`), making a Task for the record's owner. Admins edit them in Flow
   Builder (auto-layout canvas).

Element order follows the Metadata API's (what a retrieve writes): each type's fields sorted by
name, a flow element's ``name``/``label``/``locationX``/``locationY`` first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from connector.mapping.deploy import SFDX_ROOT, AccessNeeds
from connector.mapping.models import FieldMapping, MappingFile

API_VERSION = "59.0"
DEFAULT = SFDX_ROOT.removeprefix("salesforce/")  # paths below are relative to the project folder
READ_PERMISSION_SET = "L2L_Read"
READ_PERMISSION_SET_LABEL = "lead2loyalty read"
READ_PERMISSION_SET_DESCRIPTION = (
    "Read-only access to the scores lead2loyalty writes (intent, conversion, CLV, churn risk, "
    "loyalty): assign it to the reps and admins who should see them."
)
COMPONENT = "l2lScores"
REPORT_FOLDER = "L2L_Reports"
#: Churn risk (a 0-100 percent field) at or above this is "at risk" in the list view: the
#: probability of no order in the churn horizon is at least seven in ten.
CHURN_HIGH_PERCENT = 70
#: The intent line of "Hot leads" when models/intent.yaml names no moment.
DEFAULT_HOT_INTENT = 4.0

#: What a rep sees on the record page, in order: (section label, computed values).
SCORE_SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Intent", ("intent.score", "intent.reasons")),
    ("Lead conversion", ("conversion.score", "conversion.factors")),
    (
        "Customer value",
        ("predictions.clv", "predictions.churn_risk", "predictions.next_order_date"),
    ),
    (
        "Loyalty",
        (
            "loyalty.tier",
            "loyalty.points_balance",
            "loyalty.points_to_next_tier",
            "loyalty.points_expiring_30d",
        ),
    ),
)
SCORE_VALUES = frozenset(v for _label, values in SCORE_SECTIONS for v in values)


# ---------------------------------------------------------------------- flows
@dataclass(frozen=True)
class FlowInput:
    """One input variable of a Flow the connector invokes: what it sends, under this name."""

    name: str
    data_type: str  # Flow variable dataType: String, Number
    scale: int | None = None
    description: str = ""


RECORD_INPUTS = (
    FlowInput("recordId", "String", description="The Lead, Contact or Account."),
    FlowInput("objectName", "String", description="Lead, Contact or Account."),
)
#: What a moment sends (connector/sync/intent.py, fire_moments), one item per person.
INTENT_FLOW_INPUTS = (
    *RECORD_INPUTS,
    FlowInput("intentScore", "Number", 1, "The intent score now, 0-5."),
    FlowInput("intentReasons", "String", description="The signals behind the score."),
)
#: What a tier change sends (connector/sync/loyalty.py, _flow_input), one item per member.
TIER_FLOW_INPUTS = (
    *RECORD_INPUTS,
    FlowInput("program", "String", description="The program id in models/loyalty.yaml."),
    FlowInput("previousTier", "String", description="The tier before the change."),
    FlowInput("tier", "String", description="The tier now."),
    FlowInput("direction", "String", description="upgrade, downgrade or change."),
)
#: What the order moments send (connector/sync/orders_intel.py, _moment), one item a record.
RISK_FLOW_INPUTS = (
    FlowInput("recordId", "String", description="The Order."),
    FlowInput("objectName", "String", description="Order."),
    FlowInput("riskScore", "Number", 0, "The order's risk now, 0-100."),
    FlowInput("riskReasons", "String", description="What stands out about the order."),
)
FULFILMENT_FLOW_INPUTS = (
    *RECORD_INPUTS,
    FlowInput("fulfilmentReasons", "String", description="Why fulfilment is flagged."),
)
#: What the unhappy moment sends (connector/sync/texts_stage.py, plan_unhappy), one item a
#: negative message of a valued customer.
UNHAPPY_FLOW_INPUTS = (
    FlowInput("recordId", "String", description="The Lead or Contact who wrote."),
    FlowInput("objectName", "String", description="Lead or Contact."),
    FlowInput("sentiment", "Number", 2, "The message's sentiment, -1 to 1."),
    FlowInput("replyText", "String", description="The opening of what they wrote."),
    FlowInput("why", "String", description="Why they count: their CLV, their tier."),
)
FLOW_KINDS: dict[str, tuple[FlowInput, ...]] = {
    "intent": INTENT_FLOW_INPUTS,
    "tier": TIER_FLOW_INPUTS,
    "risk": RISK_FLOW_INPUTS,
    "fulfilment": FULFILMENT_FLOW_INPUTS,
    "unhappy": UNHAPPY_FLOW_INPUTS,
}


@dataclass(frozen=True)
class FlowSpec:
    """A Flow the configuration names: its API name, what calls it, and whether a run calls
    it now (a disabled moment names its Flow but does not call it)."""

    name: str
    kind: str  # a key of FLOW_KINDS
    called_by: str
    enabled: bool = True

    @property
    def inputs(self) -> tuple[FlowInput, ...]:
        """The input variables the Flow declares: exactly what the connector sends."""
        return FLOW_KINDS[self.kind]


def flow_specs(
    intent: Any | None, loyalty: Any | None, orders: Any | None = None, texts: Any | None = None
) -> list[FlowSpec]:
    """The Flows ``models/intent.yaml`` (moments), ``models/loyalty.yaml`` (tiers.flow),
    ``models/orders.yaml`` (risk.flow, fulfilment.flow) and ``models/texts.yaml``
    (unhappy.flow) name, once each, in file order. Arguments are the loaded configs (or
    None)."""
    out: dict[str, FlowSpec] = {}
    for moment in getattr(intent, "moments", None) or []:
        spec = FlowSpec(moment.flow, "intent", f"intent moment {moment.name}", moment.enabled)
        if spec.name not in out or spec.enabled:
            out[spec.name] = spec
    for program in getattr(loyalty, "programs", None) or []:
        tiers = getattr(program, "tiers", None)
        if tiers is not None and tiers.flow:
            out.setdefault(
                tiers.flow, FlowSpec(tiers.flow, "tier", f"tier changes of program {program.id}")
            )
    for kind in ("risk", "fulfilment"):
        part = getattr(orders, kind, None)
        flow = getattr(part, "flow", None)
        if flow:
            enabled = bool(getattr(part, "enabled", True))
            out.setdefault(
                flow, FlowSpec(flow, kind, f"{kind} moment of models/orders.yaml", enabled)
            )
    unhappy = getattr(getattr(texts, "unhappy", None), "flow", None)
    if unhappy:
        enabled = bool(getattr(texts, "enabled", True))
        out.setdefault(
            unhappy, FlowSpec(unhappy, "unhappy", "unhappy moment of models/texts.yaml", enabled)
        )
    return list(out.values())


def flow_path(name: str) -> str:
    """Where a Flow's source goes under the SFDX project folder."""
    return f"{DEFAULT}/flows/{name}.flow-meta.xml"


_TASK_TEXT = {
    "intent": (
        "Hot now: intent {!intentScore} of 5, call or email today",
        "lead2loyalty saw this person's intent cross the hot line.\n{!intentReasons}",
        "High",
    ),
    "tier": (
        "Loyalty {!direction}: {!tier} (was {!previousTier})",
        "Loyalty program {!program}: the tier changed from {!previousTier} to {!tier}.",
        "Normal",
    ),
    "risk": (
        "Risky order: risk {!riskScore} of 100, check it before it ships",
        "lead2loyalty scored this order among the shop's riskiest.\n{!riskReasons}",
        "High",
    ),
    "fulfilment": (
        "Fulfilment trending the wrong way: reach out",
        "lead2loyalty saw this customer's recent orders go wrong.\n{!fulfilmentReasons}",
        "High",
    ),
    "unhappy": (
        "Unhappy valued customer: reply today",
        "lead2loyalty read a negative message ({!sentiment}) from a valued customer ({!why}):"
        "\n{!replyText}",
        "High",
    ),
}
#: The Descriptions of the Tasks the connector's Flows make, as one pattern (each template
#: with its variables as wildcards): the texts stage never reads such a Task as what a person
#: wrote.
OWN_TASKS = "|".join(
    "(?:" + ".*?".join(re.escape(part) for part in re.split(r"\{![A-Za-z]+\}", text)) + ")"
    for _, text, _ in _TASK_TEXT.values()
)
#: objectName -> the Task field that links the record (a Lead or Contact is a "who", an
#: Account a "what": Object Reference, "Task").
_TASK_LINK = {"Lead": "WhoId", "Contact": "WhoId", "Account": "WhatId"}


def flow_xml(spec: FlowSpec) -> str:
    """An autolaunched Flow with ``spec``'s input variables that makes a Task for the owner
    of the record: a decision on objectName, a lookup of the record's OwnerId, an assignment
    of the Task's who/what, one Create Records. An objectName it does not know ends the
    interview without a Task."""
    subject, description, priority = _TASK_TEXT[spec.kind]
    decision_rules = []
    lookups = []
    assignments = []
    # an Order is a Task's "what" (Object Reference, Task: WhatId names Orders too)
    links = {"Order": "WhatId"} if spec.kind == "risk" else _TASK_LINK
    for obj, link in links.items():
        decision_rules.append(
            {
                "name": f"Is_{obj}",
                "conditionLogic": "and",
                "conditions": {
                    "leftValueReference": "objectName",
                    "operator": "EqualTo",
                    "rightValue": {"stringValue": obj},
                },
                "connector": {"targetReference": f"Get_{obj}_Owner"},
                "label": obj,
            }
        )
        lookups.append(
            {
                **_element(f"Get_{obj}_Owner", f"Get the {obj}'s owner"),
                "assignNullValuesIfNoRecordsFound": False,
                "connector": {"targetReference": f"Link_{obj}"},
                "filterLogic": "and",
                "filters": {
                    "field": "Id",
                    "operator": "EqualTo",
                    "value": {"elementReference": "recordId"},
                },
                "getFirstRecordOnly": True,
                "object": obj,
                "outputAssignments": {"assignToReference": "ownerId", "field": "OwnerId"},
            }
        )
        assignments.append(
            {
                **_element(f"Link_{obj}", f"Link the Task to the {obj}"),
                "assignmentItems": {
                    "assignToReference": "whoId" if link == "WhoId" else "whatId",
                    "operator": "Assign",
                    "value": {"elementReference": "recordId"},
                },
                "connector": {"targetReference": "Create_Task"},
            }
        )
    flow: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "assignments": assignments,
        "decisions": {
            **_element("Which_Object", "Which object"),
            "defaultConnectorLabel": "Other object",
            "rules": decision_rules,
        },
        "description": (
            f"Invoked by lead2loyalty ({spec.called_by}) through the Actions API with "
            + ", ".join(i.name for i in spec.inputs)
            + ". Makes a Task for the record's owner. Written by `lead2loyalty fields export`; "
            "edit it in Flow Builder (keep the input variables: the connector sends exactly "
            "these, and an undeclared input fails the call)."
        ),
        "environments": "Default",
        "interviewLabel": f"{spec.name} {{!$Flow.CurrentDateTime}}",
        "label": spec.name.replace("_", " "),
        "processMetadataValues": [
            {"name": "BuilderType", "value": {"stringValue": "LightningFlowBuilder"}},
            {"name": "CanvasMode", "value": {"stringValue": "AUTO_LAYOUT_CANVAS"}},
            {"name": "OriginBuilderType", "value": {"stringValue": "LightningFlowBuilder"}},
        ],
        "processType": "AutoLaunchedFlow",
        "recordCreates": {
            **_element("Create_Task", "Create a Task for the owner"),
            "inputAssignments": [
                _assign("ActivityDate", {"elementReference": "$Flow.CurrentDate"}),
                _assign("Description", {"elementReference": "TaskDescription"}),
                _assign("OwnerId", {"elementReference": "ownerId"}),
                _assign("Priority", {"stringValue": priority}),
                _assign("Status", {"stringValue": "Not Started"}),
                _assign("Subject", {"elementReference": "TaskSubject"}),
                _assign("WhatId", {"elementReference": "whatId"}),
                _assign("WhoId", {"elementReference": "whoId"}),
            ],
            "object": "Task",
            "storeOutputAutomatically": True,
        },
        "recordLookups": lookups,
        # An autolaunched Flow runs as the user who invokes it unless told otherwise (Flow
        # Builder, "How to Run the Flow"); the integration user may read the records but not
        # create Tasks, so the Flow reads the owner and creates the Task in system context.
        "runInMode": "SystemModeWithoutSharing",
        "start": {
            "locationX": 50,
            "locationY": 0,
            "connector": {"targetReference": "Which_Object"},
        },
        "status": "Active",
        "textTemplates": [
            _template("TaskDescription", description),
            _template("TaskSubject", subject),
        ],
        "variables": [
            *(_variable(i, is_input=True) for i in spec.inputs),
            *(
                _variable(FlowInput(name, "String", description=text), is_input=False)
                for name, text in (
                    ("ownerId", "The record's owner, who gets the Task."),
                    ("whatId", "The Account the Task is about."),
                    ("whoId", "The Lead or Contact the Task is about."),
                )
            ),
        ],
    }
    return _document("Flow", flow)


def _element(name: str, label: str) -> dict[str, Any]:
    # Auto-layout canvas: Flow Builder places elements itself; the coordinates are zero.
    return {"name": name, "label": label, "locationX": 0, "locationY": 0}


def _assign(field: str, value: dict[str, str]) -> dict[str, Any]:
    return {"field": field, "value": value}


def _template(name: str, text: str) -> dict[str, Any]:
    return {"name": name, "isViewedAsPlainText": True, "text": text}


def _variable(item: FlowInput, *, is_input: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": item.name, "dataType": item.data_type}
    if item.description:
        out["description"] = item.description
    out |= {
        "isCollection": False,
        "isInput": is_input,
        "isOutput": False,
    }
    if item.scale is not None:
        out["scale"] = item.scale
    return out


# ---------------------------------------------------------------------- the read set
def read_permission_set_fields(mappings: Iterable[MappingFile]) -> tuple[str, ...]:
    """``Object.Field`` of every custom field the mappings write, in file order."""
    return tuple(
        dict.fromkeys(f"{mf.object}.{m.field}" for mf in mappings for m in mf.fields if m.is_custom)
    )


def read_permission_set_needs(mappings: Iterable[MappingFile]) -> AccessNeeds:
    """L2L_Read's grants: Read on every mapped custom field and on its object, nothing else."""
    fields = read_permission_set_fields(mappings)
    objects = tuple(sorted({f.split(".")[0] for f in fields}))
    return AccessNeeds(fields=fields, read_objects=objects, edit_objects=())


def read_permission_set_xml(mappings: Iterable[MappingFile]) -> str:
    """L2L_Read as SFDX source (Metadata API "PermissionSet": fieldPermissions with
    editable false, objectPermissions with allowRead only)."""
    needs = read_permission_set_needs(mappings)
    body: dict[str, Any] = {
        "description": READ_PERMISSION_SET_DESCRIPTION,
        "fieldPermissions": [
            {"editable": False, "field": name, "readable": True} for name in sorted(needs.fields)
        ],
        "hasActivationRequired": False,
        "label": READ_PERMISSION_SET_LABEL,
        "objectPermissions": [
            {
                "allowCreate": False,
                "allowDelete": False,
                "allowEdit": False,
                "allowRead": True,
                "modifyAllRecords": False,
                "object": obj,
                "viewAllRecords": False,
            }
            for obj in needs.read_objects
        ],
    }
    return _document("PermissionSet", body)


# ---------------------------------------------------------------------- the component
@dataclass(frozen=True)
class ShownField:
    """One field the component shows: its API name and the label the rep reads."""

    api_name: str
    label: str
    value: str


def shown_fields(mapping: MappingFile) -> list[tuple[str, list[ShownField]]]:
    """The component's sections for one object: (section label, fields), in
    :data:`SCORE_SECTIONS` order, only the values this mapping writes (a value mapped for
    several loyalty programs shows once per program)."""
    out = []
    for label, values in SCORE_SECTIONS:
        fields = [
            ShownField(m.field, _shown_label(m), m.value)
            for value in values
            for m in mapping.fields
            if m.value == value
        ]
        if fields:
            out.append((label, fields))
    return out


def _shown_label(m: FieldMapping) -> str:
    return m.display_label if m.program is None else f"{m.display_label} ({m.program})"


def component_fields_js(mappings: Iterable[MappingFile]) -> str:
    """``fields.js``: object API name -> sections -> fields, the only generated part of the
    component."""
    sections = {
        mf.object: [
            {"label": label, "fields": [{"apiName": f.api_name, "label": f.label} for f in fs]}
            for label, fs in shown_fields(mf)
        ]
        for mf in mappings
        if shown_fields(mf)
    }
    return (
        "// Written by `lead2loyalty fields export` from mappings/: edit the mappings and\n"
        "// export again rather than this file. Object -> sections -> fields the component\n"
        "// reads (getRecord optionalFields) and shows with these labels.\n"
        f"export const SECTIONS = {json.dumps(sections, indent=4)};\n"
    )


def component_meta_xml(objects: Sequence[str]) -> str:
    """``l2lScores.js-meta.xml``: exposed on the record pages of ``objects``."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<LightningComponentBundle xmlns="http://soap.sforce.com/2006/04/metadata">',
        f"    <apiVersion>{API_VERSION}</apiVersion>",
        "    <description>The scores lead2loyalty writes on this record, with their labels "
        "(intent and its reasons, conversion and its factors, CLV, churn risk, next order, "
        "loyalty tier and points).</description>",
        "    <isExposed>true</isExposed>",
        "    <masterLabel>lead2loyalty scores</masterLabel>",
        "    <targets>",
        "        <target>lightning__RecordPage</target>",
        "    </targets>",
        "    <targetConfigs>",
        f"        <targetConfig targets={quoteattr('lightning__RecordPage')}>",
        "            <objects>",
        *(f"                <object>{escape(o)}</object>" for o in objects),
        "            </objects>",
        "        </targetConfig>",
        "    </targetConfigs>",
        "</LightningComponentBundle>",
    ]
    return "\n".join(lines) + "\n"


COMPONENT_JS = """\
import { LightningElement, api, wire } from 'lwc';
import { getRecord } from 'lightning/uiRecordApi';
import { SECTIONS } from './fields';

// The lead2loyalty fields of the record on this page, with their labels. Fields are asked
// as optionalFields: one the user cannot see is left out of the answer (and off the card)
// instead of failing the whole read.
export default class L2lScores extends LightningElement {
    @api recordId;
    @api objectApiName;
    record;
    error;

    get optionalFields() {
        return (SECTIONS[this.objectApiName] || []).flatMap((section) =>
            section.fields.map((field) => `${this.objectApiName}.${field.apiName}`)
        );
    }

    @wire(getRecord, { recordId: '$recordId', optionalFields: '$optionalFields' })
    wiredRecord({ data, error }) {
        this.record = data;
        this.error = error;
    }

    get sections() {
        if (!this.record) {
            return [];
        }
        const values = this.record.fields || {};
        return (SECTIONS[this.objectApiName] || [])
            .map((section) => ({
                label: section.label,
                fields: section.fields
                    .filter((field) => field.apiName in values)
                    .map((field) => ({
                        apiName: field.apiName,
                        label: field.label,
                        value: shown(values[field.apiName])
                    }))
            }))
            .filter((section) => section.fields.length > 0);
    }

    get hasScores() {
        return this.sections.length > 0;
    }

    get noScores() {
        return Boolean(this.record) && !this.hasScores;
    }

    get errorMessage() {
        if (!this.error) {
            return undefined;
        }
        const body = this.error.body;
        return (body && body.message) || 'The scores could not be read.';
    }
}

// What the rep reads: Salesforce's formatted value (currency, percent, date, picklist label)
// when it sends one, else the raw value, else a dash for "not computed yet".
function shown(field) {
    if (field.displayValue !== null && field.displayValue !== undefined) {
        return field.displayValue;
    }
    if (field.value === null || field.value === undefined || field.value === '') {
        return '—';
    }
    return String(field.value);
}
"""

COMPONENT_HTML = """\
<template>
    <lightning-card title="lead2loyalty" icon-name="standard:metrics">
        <div class="slds-p-horizontal_small">
            <template lwc:if={errorMessage}>
                <p class="error slds-text-color_error">{errorMessage}</p>
            </template>
            <template lwc:if={noScores}>
                <p class="empty slds-text-color_weak">
                    No lead2loyalty scores are visible here: ask an admin for the L2L_Read
                    permission set.
                </p>
            </template>
            <template for:each={sections} for:item="section">
                <section key={section.label} class="section slds-m-bottom_small">
                    <h3 class="slds-text-title_caps slds-m-bottom_xx-small">{section.label}</h3>
                    <template for:each={section.fields} for:item="field">
                        <div key={field.apiName} class="row slds-grid slds-gutters_xx-small">
                            <span class="label slds-col slds-size_1-of-2 slds-text-color_weak"
                                >{field.label}</span
                            >
                            <span class="value slds-col slds-size_1-of-2" data-field={field.apiName}
                                >{field.value}</span
                            >
                        </div>
                    </template>
                </section>
            </template>
        </div>
    </lightning-card>
</template>
"""

COMPONENT_TEST_JS = """\
import { createElement } from 'lwc';
import { getRecord } from 'lightning/uiRecordApi';
import L2lScores from 'c/l2lScores';
import { SECTIONS } from '../fields';

// A record as getRecord answers it: every field the component asks for, with a value and
// Salesforce's formatted displayValue.
function recordOf(objectApiName, skip = []) {
    const fields = {};
    for (const section of SECTIONS[objectApiName]) {
        for (const field of section.fields) {
            if (!skip.includes(field.apiName)) {
                fields[field.apiName] = { value: 7, displayValue: `shown ${field.apiName}` };
            }
        }
    }
    return { apiName: objectApiName, id: '00Q000000000001AAA', fields };
}

function mount(objectApiName) {
    const element = createElement('c-l2l-scores', { is: L2lScores });
    element.recordId = '00Q000000000001AAA';
    element.objectApiName = objectApiName;
    document.body.appendChild(element);
    return element;
}

function shownValues(element) {
    const out = {};
    for (const node of element.shadowRoot.querySelectorAll('.value')) {
        out[node.dataset.field] = node.textContent;
    }
    return out;
}

afterEach(() => {
    while (document.body.firstChild) {
        document.body.removeChild(document.body.firstChild);
    }
    jest.clearAllMocks();
});

describe('c-l2l-scores', () => {
    for (const objectApiName of Object.keys(SECTIONS)) {
        it(`asks getRecord for each ${objectApiName} field it shows, as optional`, async () => {
            const element = mount(objectApiName);
            await Promise.resolve();
            const expected = SECTIONS[objectApiName].flatMap((section) =>
                section.fields.map((field) => `${objectApiName}.${field.apiName}`)
            );
            expect(getRecord.getLastConfig()).toEqual({
                recordId: element.recordId,
                optionalFields: expected
            });
        });

        it(`shows every ${objectApiName} score with its label and formatted value`, async () => {
            const element = mount(objectApiName);
            getRecord.emit(recordOf(objectApiName));
            await Promise.resolve();
            const values = shownValues(element);
            const labels = [...element.shadowRoot.querySelectorAll('.label')].map(
                (node) => node.textContent
            );
            for (const section of SECTIONS[objectApiName]) {
                for (const field of section.fields) {
                    expect(values[field.apiName]).toBe(`shown ${field.apiName}`);
                    expect(labels).toContain(field.label);
                }
            }
            const headings = [...element.shadowRoot.querySelectorAll('h3')].map(
                (node) => node.textContent
            );
            expect(headings).toEqual(SECTIONS[objectApiName].map((section) => section.label));
        });
    }

    it('leaves out a field the user cannot see and shows a dash for one not computed', async () => {
        const [hidden, ...rest] = SECTIONS.Contact.flatMap((s) => s.fields.map((f) => f.apiName));
        const element = mount('Contact');
        const record = recordOf('Contact', [hidden]);
        record.fields[rest[0]] = { value: null, displayValue: null };
        getRecord.emit(record);
        await Promise.resolve();
        const values = shownValues(element);
        expect(values).not.toHaveProperty(hidden);
        expect(values[rest[0]]).toBe('—');
    });

    it('says so when no score is visible, and shows the error of a failed read', async () => {
        const element = mount('Lead');
        getRecord.emit({ apiName: 'Lead', id: '00Q000000000001AAA', fields: {} });
        await Promise.resolve();
        expect(element.shadowRoot.querySelector('.empty')).not.toBeNull();
        expect(element.shadowRoot.querySelectorAll('.value')).toHaveLength(0);

        getRecord.error({ message: 'The requested resource does not exist' });
        await Promise.resolve();
        expect(element.shadowRoot.querySelector('.error').textContent).toBe(
            'The requested resource does not exist'
        );
    });
});
"""


# ---------------------------------------------------------------------- record pages
def flexipage_name(obj: str) -> str:
    """The API name of the record page lead2loyalty ships for ``obj``."""
    return f"L2L_{obj}_Record_Page"


def flexipage_xml(obj: str) -> str:
    """A record page of its own for ``obj`` (Metadata API "FlexiPage", type RecordPage, the
    two-column ``flexipage:recordHomeTemplateDesktop``): highlights panel, record detail,
    the scores component and the related lists."""

    def region(name: str, components: list[tuple[str, str]]) -> dict[str, Any]:
        return {
            "itemInstances": [
                {"componentInstance": {"componentName": c, "identifier": i}} for c, i in components
            ],
            "mode": "Replace",
            "name": name,
            "type": "Region",
        }

    page = {
        "description": (
            f"The {obj} record page with the lead2loyalty scores in the sidebar. Activate it "
            "in the Lightning App Builder (org default, or per app and profile); it replaces "
            "no existing page."
        ),
        "flexiPageRegions": [
            region("header", [("force:highlightsPanel", "force_highlightsPanel")]),
            region("main", [("force:detailPanel", "force_detailPanel")]),
            region(
                "sidebar",
                [
                    (COMPONENT, f"c_{COMPONENT}"),
                    ("force:relatedListContainer", "force_relatedListContainer"),
                ],
            ),
        ],
        "masterLabel": f"{obj} Record Page (lead2loyalty)",
        "sobjectType": obj,
        "template": {"name": "flexipage:recordHomeTemplateDesktop"},
        "type": "RecordPage",
    }
    return _document("FlexiPage", page)


# ---------------------------------------------------------------------- list views
@dataclass(frozen=True)
class ListViewSpec:
    """One list view: its object, API name, label, columns and filters (field, op, value)."""

    object: str
    name: str
    label: str
    columns: tuple[str, ...]
    filters: tuple[tuple[str, str, str], ...]


def list_views(mappings: Iterable[MappingFile], hot: float) -> list[ListViewSpec]:
    """ "Hot leads" and "Customers at risk", each where the mappings write what it filters on."""
    by_value = _fields_by_value(mappings)
    out = []
    lead = by_value.get("Lead", {})
    if "intent.score" in lead:
        columns = ["FULL_NAME", "LEAD.COMPANY"]
        columns += [
            lead[v] for v in ("intent.score", "intent.reasons", "conversion.score") if v in lead
        ]
        columns += ["LEAD.STATUS", "CORE.USERS.ALIAS"]
        out.append(
            ListViewSpec(
                "Lead",
                "L2L_Hot_Leads",
                "Hot leads",
                tuple(columns),
                ((lead["intent.score"], "greaterOrEqual", f"{hot:g}"),),
            )
        )
    contact = by_value.get("Contact", {})
    if "predictions.churn_risk" in contact:
        columns = ["FULL_NAME", "ACCOUNT.NAME"]
        columns += [
            contact[v]
            for v in (
                "predictions.churn_risk",
                "predictions.clv",
                "predictions.segment_name",
                "loyalty.tier",
                "rfm.last_order_date",
            )
            if v in contact
        ]
        columns += ["CORE.USERS.ALIAS"]
        out.append(
            ListViewSpec(
                "Contact",
                "L2L_Customers_At_Risk",
                "Customers at risk",
                tuple(columns),
                ((contact["predictions.churn_risk"], "greaterOrEqual", str(CHURN_HIGH_PERCENT)),),
            )
        )
    return out


def list_view_path(view: ListViewSpec) -> str:
    """Where a list view's source goes under the SFDX project folder."""
    return f"{DEFAULT}/objects/{view.object}/listViews/{view.name}.listView-meta.xml"


def list_view_xml(view: ListViewSpec) -> str:
    """Metadata API "ListView", visible to all users, over every record."""
    body = {
        "fullName": view.name,
        "columns": list(view.columns),
        "filterScope": "Everything",
        "filters": [{"field": f, "operation": op, "value": v} for f, op, v in view.filters],
        "label": view.label,
    }
    return _document("ListView", body)


# ---------------------------------------------------------------------- reports
_REPORT_CATEGORY = {"Lead": "leads", "Contact": "accounts", "Account": "accounts"}
_STANDARD_COLUMNS = {
    "Lead": ("Name", "Company", "Status", "IsConverted", "CreatedDate"),
    "Contact": ("Name", "Email", "CreatedDate"),
    "Account": ("Name", "CreatedDate"),
}


def report_type_name(obj: str) -> str:
    """The API name of the report type over ``obj`` and its lead2loyalty fields."""
    return f"L2L_{obj}_Scores"


def report_type_xml(mapping: MappingFile) -> str:
    """Metadata API "ReportType": the object alone, its key standard fields and every field
    the mapping writes as columns, deployed."""
    obj = mapping.object
    columns = [*_STANDARD_COLUMNS.get(obj, ("Name",)), *(m.field for m in mapping.fields)]
    body = {
        "baseObject": obj,
        "category": _REPORT_CATEGORY.get(obj, "other"),
        "deployed": True,
        "description": f"{obj} records with the fields lead2loyalty writes.",
        "label": f"{obj}s with lead2loyalty scores",
        "sections": {
            "columns": [
                {"checkedByDefault": False, "field": c, "table": obj}
                for c in dict.fromkeys(columns)
            ],
            "masterLabel": f"{obj}s",
        },
    }
    return _document("ReportType", body)


@dataclass(frozen=True)
class ReportSpec:
    """One report: its object, API name, name, the values it groups by and the columns it
    shows (``values`` are computed-value keys resolved through the mapping)."""

    object: str
    name: str
    label: str
    description: str
    group_by: tuple[str, ...]
    columns: tuple[tuple[str, str | None], ...]  # (value or standard field, aggregate)

    def values(self) -> set[str]:
        """Every computed value the report names."""
        return {v for v in (*self.group_by, *(c for c, _a in self.columns)) if "." in v}


REPORTS = (
    ReportSpec(
        "Lead",
        "L2L_Leads_By_Intent_And_Conversion",
        "Leads by intent band and conversion",
        "Leads grouped by intent band, then converted or not, with the average conversion "
        "score: how intent and conversion go together.",
        ("bucket:intent.score", "IsConverted"),
        (
            ("Name", None),
            ("Company", None),
            ("intent.score", "Average"),
            ("conversion.score", "Average"),
            ("intent.reasons", None),
        ),
    ),
    ReportSpec(
        "Contact",
        "L2L_Customers_By_Segment_And_Tier",
        "Customers by segment and tier",
        "Contacts grouped by RFM segment, then loyalty tier, with predicted CLV and revenue.",
        ("predictions.segment_name", "loyalty.tier"),
        (
            ("Name", None),
            ("predictions.clv", "Sum"),
            ("rfm.revenue", "Sum"),
            ("predictions.churn_risk", "Average"),
        ),
    ),
    ReportSpec(
        "Contact",
        "L2L_Points_Liability",
        "Points liability",
        "Outstanding loyalty points by tier (the program's liability) and what expires within "
        "30 days.",
        ("loyalty.tier",),
        (
            ("Name", None),
            ("loyalty.points_balance", "Sum"),
            ("loyalty.points_expiring_30d", "Sum"),
        ),
    ),
)


def reports_for(mappings: Iterable[MappingFile]) -> list[ReportSpec]:
    """The reports whose every value the mappings write on their object."""
    by_value = _fields_by_value(mappings)
    out = []
    for report in REPORTS:
        have = by_value.get(report.object, {})
        needed = {v.removeprefix("bucket:") for v in report.values()}
        if needed <= set(have):
            out.append(report)
    return out


def report_path(report: ReportSpec) -> str:
    """Where a report's source goes under the SFDX project folder."""
    return f"{DEFAULT}/reports/{REPORT_FOLDER}/{report.name}.report-meta.xml"


def report_xml(report: ReportSpec, mapping: MappingFile, hot: float) -> str:
    """Metadata API "Report" over :func:`report_type_name`'s type: a Summary report,
    grouped down by ``group_by`` (an intent band is a number bucket field), all time."""
    by_value = {m.value: m for m in mapping.fields}
    obj = report.object

    def column(name: str) -> str:
        if name.startswith("bucket:"):
            return "BucketField_Intent_Band"
        return f"{obj}${by_value[name].field if name in by_value else name}"

    body: dict[str, Any] = {}
    bucketed = [g for g in report.group_by if g.startswith("bucket:")]
    if bucketed:
        body["buckets"] = _intent_bucket(f"{obj}${by_value['intent.score'].field}", by_value, hot)
    columns = []
    for name, aggregate in report.columns:
        entry: dict[str, Any] = {}
        if aggregate:
            entry["aggregateTypes"] = aggregate
        entry["field"] = column(name)
        columns.append(entry)
    body |= {
        "columns": columns,
        "description": report.description,
        "format": "Summary",
        "groupingsDown": [
            {"dateGranularity": "Day", "field": column(g), "sortOrder": "Asc"}
            for g in report.group_by
        ],
        "name": report.label,
        "reportType": f"{report_type_name(obj)}__c",
        "scope": "organization",
        "showDetails": True,
        "showGrandTotal": True,
        "showSubTotals": True,
        "timeFrameFilter": {"dateColumn": f"{obj}$CreatedDate", "interval": "INTERVAL_CUSTOM"},
    }
    return _document("Report", body)


def _intent_bucket(source: str, by_value: Mapping[str, FieldMapping], hot: float) -> dict[str, Any]:
    # A number bucket's range is (from, to]: "from" excluded, "to" included. With the score's
    # one decimal, "above hot - 0.1" is "hot or more".
    step = 10.0 ** -by_value["intent.score"].digits[1]
    warm = hot / 2
    edges = [round(warm - step, 6), round(hot - step, 6)]
    return {
        "bucketType": "number",
        "developerName": "BucketField_Intent_Band",
        "masterLabel": "Intent band",
        "nullTreatment": "z",
        "sourceColumnName": source,
        "useOther": False,
        "values": [
            {"sourceValues": {"to": f"{edges[0]:g}"}, "value": f"Cold (under {warm:g})"},
            {
                "sourceValues": {"from": f"{edges[0]:g}", "to": f"{edges[1]:g}"},
                "value": f"Warm ({warm:g} to {hot:g})",
            },
            {"sourceValues": {"from": f"{edges[1]:g}"}, "value": f"Hot ({hot:g} and above)"},
        ],
    }


def report_folder_xml() -> str:
    """The ``L2L_Reports`` report folder (Metadata API "ReportFolder")."""
    return _document("ReportFolder", {"name": "lead2loyalty"})


# ---------------------------------------------------------------------- the whole tree
def sfdx_files(
    mappings: Sequence[MappingFile], flows: Sequence[FlowSpec], *, hot: float = DEFAULT_HOT_INTENT
) -> dict[str, str]:
    """Every file this module writes: path under the SFDX project folder -> text."""
    files: dict[str, str] = {
        f"{DEFAULT}/permissionsets/{READ_PERMISSION_SET}.permissionset-meta.xml": (
            read_permission_set_xml(mappings)
        )
    }
    for spec in flows:
        files[flow_path(spec.name)] = flow_xml(spec)
    shown = [mf for mf in mappings if shown_fields(mf)]
    if shown:
        bundle = f"{DEFAULT}/lwc/{COMPONENT}"
        files[f"{bundle}/{COMPONENT}.js"] = COMPONENT_JS
        files[f"{bundle}/{COMPONENT}.html"] = COMPONENT_HTML
        files[f"{bundle}/fields.js"] = component_fields_js(mappings)
        files[f"{bundle}/{COMPONENT}.js-meta.xml"] = component_meta_xml([mf.object for mf in shown])
        files[f"{bundle}/__tests__/{COMPONENT}.test.js"] = COMPONENT_TEST_JS
        for mf in shown:
            name = flexipage_name(mf.object)
            files[f"{DEFAULT}/flexipages/{name}.flexipage-meta.xml"] = flexipage_xml(mf.object)
    for view in list_views(mappings, hot):
        files[list_view_path(view)] = list_view_xml(view)
    for mf in mappings:
        if mf.fields:
            name = report_type_name(mf.object)
            files[f"{DEFAULT}/reportTypes/{name}.reportType-meta.xml"] = report_type_xml(mf)
    reports = reports_for(mappings)
    if reports:
        files[f"{DEFAULT}/reports/{REPORT_FOLDER}.reportFolder-meta.xml"] = report_folder_xml()
        by_object = {mf.object: mf for mf in mappings}
        for report in reports:
            files[report_path(report)] = report_xml(report, by_object[report.object], hot)
    return files


def hot_line(intent: Any | None) -> float:
    """The intent score "Hot leads" starts at: the first moment's threshold, else 4.0."""
    moments = getattr(intent, "moments", None) or []
    return float(moments[0].threshold) if moments else DEFAULT_HOT_INTENT


def _fields_by_value(mappings: Iterable[MappingFile]) -> dict[str, dict[str, str]]:
    """Object -> computed value -> the first field that holds it."""
    out: dict[str, dict[str, str]] = {}
    for mf in mappings:
        for m in mf.fields:
            out.setdefault(mf.object, {}).setdefault(m.value, m.field)
    return out


# ---------------------------------------------------------------------- XML
def _document(root: str, body: Mapping[str, Any]) -> str:
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<{root} xmlns="http://soap.sforce.com/2006/04/metadata">',
    ]
    for key, value in body.items():
        lines.extend(_xml(key, value, "    "))
    lines.append(f"</{root}>")
    return "\n".join(lines) + "\n"


def _xml(key: str, value: Any, indent: str) -> list[str]:
    if isinstance(value, list | tuple):
        return [line for item in value for line in _xml(key, item, indent)]
    if isinstance(value, Mapping):
        lines = [f"{indent}<{key}>"]
        for k, v in value.items():
            lines.extend(_xml(k, v, indent + "    "))
        return [*lines, f"{indent}</{key}>"]
    text = ("true" if value else "false") if isinstance(value, bool) else escape(str(value))
    return [f"{indent}<{key}>{text}</{key}>"]


def write_sfdx(
    root: Path,
    mappings: Sequence[MappingFile],
    flows: Sequence[FlowSpec],
    *,
    hot: float = DEFAULT_HOT_INTENT,
) -> list[Path]:
    """Write :func:`sfdx_files` under ``root`` (the SFDX project folder); the paths written."""
    written = []
    for relative, text in sfdx_files(mappings, flows, hot=hot).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


__all__ = [
    "FLOW_KINDS",
    "INTENT_FLOW_INPUTS",
    "READ_PERMISSION_SET",
    "SCORE_SECTIONS",
    "TIER_FLOW_INPUTS",
    "FlowInput",
    "FlowSpec",
    "flow_specs",
    "flow_xml",
    "hot_line",
    "read_permission_set_needs",
    "sfdx_files",
    "write_sfdx",
]

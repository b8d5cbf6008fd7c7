"""Record-triggered and autolaunched flows, declared in a small rules file.

A rules file (YAML or JSON) is what an admin would build in Flow Builder, reduced to the parts
an integration can observe::

    record_triggered:
      - name: High_Intent_Alert
        object: Contact
        when_changed: L2L_Intent_Score__c       # runs only when this field's value changes
        condition: {field: L2L_Intent_Score__c, op: ">=", value: 4}
        actions:
          - create_task: {Subject: "High intent: call {Name}", WhoId: "{Id}", Priority: High}
          - set_field: {Description: "flagged by flow"}
    autolaunched:
      - name: Tier_Upgrade
        inputs: [recordId, tier]                # its declared input variables (String)
        actions:
          - create_task: {Subject: "Tier upgrade to {tier}", WhoId: "{recordId}"}

Autolaunched Flows also come from their Metadata API source (:mod:`localorg.flow_metadata`,
``--flows-source`` with the folder ``lead2loyalty fields export`` writes), as an org holds
them once an admin deployed that folder.

The Actions API (``/actions/custom/flow/<name>``, Actions Developer Guide "Flow Actions"):

1. only an Active autolaunched Flow is served; any other name is 404 NOT_FOUND for the whole
   request ("Invoke an active autolaunched flow that exists in the current org");
2. "input values vary according to the input variables specified for each flow": an input
   the Flow does not declare fails that item (statusCode INVALID_INPUT), as does a Number
   input that is not a number. No source gives Salesforce's exact code or wording for it;
   this is the strict choice: the item fails, never silently drops the value;
3. each item is one interview: a refused save inside it fails that item with the save's
   errors and ``Flow__InterviewStatus`` Error; the others run;
4. a finished interview answers its output variables and ``Flow__InterviewStatus``
   (Finished), which "is available for all flows";
5. HTTP status: 200 when every item succeeded; 400, with the same per-item list, when any
   failed. No source was found for a partly failed batch's status (salesforce-fidelity.md);
   400 is the strict choice, and the connector reads the per-item list either way.

Every run, record-triggered or invoked through the Actions API, is logged as a
``FlowInterview`` row, which tests and the demo query with SOQL.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from localorg.access import system_context
from localorg.flow_metadata import MetadataFlow, load_flows, parse_flow

if TYPE_CHECKING:
    from localorg.store import OrgStore

#: Flow variable data types the Actions API reads from a JSON number.
_NUMBER_TYPES = frozenset({"Number", "Currency"})


class FlowInputError(Exception):
    """An Actions API item refused before its interview starts (an undeclared or mistyped
    input)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class FlowEngine:
    """Runs the declared flows after saves and on invocation."""

    def __init__(
        self,
        rules: Mapping[str, Any] | None = None,
        metadata: Iterable[MetadataFlow] = (),
    ) -> None:
        rules = rules or {}
        self.record_triggered: list[dict[str, Any]] = list(rules.get("record_triggered") or [])
        self.autolaunched: dict[str, dict[str, Any]] = {
            f["name"]: f for f in rules.get("autolaunched") or []
        }
        self.metadata: dict[str, MetadataFlow] = {f.name: f for f in metadata}

    @classmethod
    def from_file(cls, path: Path | None, source: Path | None = None) -> FlowEngine:
        """Load a rules file and the Flow sources under ``source``; neither means no flows."""
        rules = yaml.safe_load(path.read_text(encoding="utf-8")) if path else None
        return cls(rules or {}, load_flows(source) if source else ())

    @classmethod
    def from_sources(
        cls, sources: Mapping[str, str], rules: Mapping[str, Any] | None = None
    ) -> FlowEngine:
        """Flows from their source text, by name (what ``fields export`` would write)."""
        return cls(rules, [parse_flow(name, text) for name, text in sources.items()])

    def declared_inputs(self, name: str) -> dict[str, str] | None:
        """The input variables (name -> data type) of the active autolaunched Flow ``name``,
        or None when the org serves no such Flow."""
        flow = self.metadata.get(name)
        if flow is not None:
            return flow.inputs if flow.active else None
        rule = self.autolaunched.get(name)
        if rule is None:
            return None
        declared = rule.get("inputs") or []
        if isinstance(declared, Mapping):
            return {str(k): str(v) for k, v in declared.items()}
        return {str(k): "String" for k in declared}

    def active_names(self) -> list[str]:
        """Every Flow the Actions API serves, sorted."""
        return sorted(
            n for n in {*self.metadata, *self.autolaunched} if self.declared_inputs(n) is not None
        )

    def describe(self, name: str) -> dict[str, Any] | None:
        """The Actions API describe of ``name`` (inputs and outputs), or None."""
        inputs = self.declared_inputs(name)
        if inputs is None:
            return None
        flow = self.metadata.get(name)
        outputs = dict(flow.outputs) if flow is not None else {}
        return {
            "name": name,
            "label": flow.label if flow is not None else name,
            "type": "FLOW",
            "inputs": [_parameter(n, t) for n, t in inputs.items()],
            "outputs": [
                _parameter("Flow__InterviewStatus", "Picklist"),
                *(_parameter(n, t) for n, t in outputs.items()),
            ],
        }

    def after_save(
        self,
        store: OrgStore,
        object_name: str,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any],
    ) -> None:
        """Run every record-triggered flow whose trigger and condition hold for this save."""
        for flow in self.record_triggered:
            if flow.get("object") != object_name:
                continue
            watched = flow.get("when_changed")
            if watched and before is not None and before.get(watched) == after.get(watched):
                continue
            if watched and before is None and after.get(watched) is None:
                continue
            if not _holds(flow.get("condition"), after):
                continue
            outcome = self._run_actions(store, flow, object_name, dict(after))
            store.log_flow(
                flow["name"],
                "RecordAfterSave",
                str(after.get("Id")),
                object_name,
                outcome,
                {"changed": watched, "value": after.get(watched or "Id")},
            )

    def invoke(self, store: OrgStore, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Run one interview of an autolaunched flow through the Actions API; returns its
        output values. Raises KeyError when no active Flow has that name,
        :class:`FlowInputError` for an input it does not declare (or of the wrong type), and
        the store's RecordFault when a save inside it is refused (see the module docstring)."""
        declared = self.declared_inputs(name)
        if declared is None:
            raise KeyError(name)
        undeclared = sorted(set(inputs) - set(declared))
        if undeclared:
            raise FlowInputError(
                "INVALID_INPUT",
                f"{', '.join(undeclared)}: not an input variable of flow {name} "
                f"(it declares {', '.join(sorted(declared)) or 'none'})",
            )
        for key, data_type in declared.items():
            value = inputs.get(key)
            if (
                data_type in _NUMBER_TYPES
                and value is not None
                and (isinstance(value, bool) or not isinstance(value, int | float))
            ):
                raise FlowInputError(
                    "INVALID_INPUT", f"{key}: flow {name} declares it {data_type}, got {value!r}"
                )
        record_id = str(inputs.get("recordId", ""))
        flow = self.metadata.get(name)
        try:
            if flow is not None:
                outputs = flow.run(store, inputs)
            else:
                self._run_actions(store, self.autolaunched[name], None, dict(inputs))
                outputs = {}
        except Exception:
            store.log_flow(name, "Autolaunched", record_id, "", "Error", dict(inputs))
            raise
        store.log_flow(name, "Autolaunched", record_id, "", "Finished", dict(inputs))
        return {"Flow__InterviewStatus": "Finished", **outputs}

    def _run_actions(
        self,
        store: OrgStore,
        flow: Mapping[str, Any],
        object_name: str | None,
        values: dict[str, Any],
    ) -> str:
        # Flows run in system context: the API user's object and field access do not apply.
        with system_context():
            return self._run_actions_as_system(store, flow, object_name, values)

    def _run_actions_as_system(
        self,
        store: OrgStore,
        flow: Mapping[str, Any],
        object_name: str | None,
        values: dict[str, Any],
    ) -> str:
        for action in flow.get("actions") or []:
            if "create_task" in action:
                body = {k: _render(v, values) for k, v in action["create_task"].items()}
                body.setdefault("Status", "Not Started")
                store.insert("Task", body, run_flows=False)
            elif "set_field" in action and object_name:
                body = {k: _render(v, values) for k, v in action["set_field"].items()}
                store.update(object_name, str(values["Id"]), body, run_flows=False)
        return "Completed"


def _holds(condition: Mapping[str, Any] | None, record: Mapping[str, Any]) -> bool:
    if not condition:
        return True
    value = record.get(condition["field"])
    if value is None:
        return False
    try:
        return bool(_OPS[condition.get("op", "=")](value, condition.get("value")))
    except TypeError:
        return False


def _render(template: Any, values: Mapping[str, Any]) -> Any:
    if not isinstance(template, str):
        return template
    return _PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), "")), template)


def _parameter(name: str, data_type: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "type": data_type.upper(),
        "required": False,
        "maxOccurs": 1,
        "description": None,
        "sobjectType": None,
    }


def dumps_detail(detail: Mapping[str, Any]) -> str:
    """A flow run's detail as stored text."""
    return json.dumps(detail, default=str, sort_keys=True)

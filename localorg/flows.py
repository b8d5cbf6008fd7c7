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
        actions:
          - create_task: {Subject: "Tier upgrade to {tier}", WhoId: "{recordId}"}

Every run, record-triggered or invoked through the Actions API, is logged as a
``FlowInterview`` row, which tests and the demo query with SOQL.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from localorg.access import system_context

if TYPE_CHECKING:
    from localorg.store import OrgStore

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

    def __init__(self, rules: Mapping[str, Any] | None = None) -> None:
        rules = rules or {}
        self.record_triggered: list[dict[str, Any]] = list(rules.get("record_triggered") or [])
        self.autolaunched: dict[str, dict[str, Any]] = {
            f["name"]: f for f in rules.get("autolaunched") or []
        }

    @classmethod
    def from_file(cls, path: Path | None) -> FlowEngine:
        """Load a rules file; no file means no flows."""
        if path is None:
            return cls()
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")) or {})

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
        """Run an autolaunched flow through the Actions API; returns its output values."""
        flow = self.autolaunched.get(name)
        if flow is None:
            raise KeyError(name)
        outcome = self._run_actions(store, flow, None, dict(inputs))
        store.log_flow(
            name, "Autolaunched", str(inputs.get("recordId", "")), "", outcome, dict(inputs)
        )
        return {"outcome": outcome}

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


def dumps_detail(detail: Mapping[str, Any]) -> str:
    """A flow run's detail as stored text."""
    return json.dumps(detail, default=str, sort_keys=True)

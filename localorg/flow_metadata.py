"""Autolaunched Flows read from their Metadata API source (``<Name>.flow-meta.xml``), as
``lead2loyalty fields export`` writes them, declared inputs and all.

What an org holds once an admin deployed the SFDX folder: the Flow's status (only an Active
Flow is served by the Actions API), its input variables (``isInput``), and the elements it runs.
localorg runs the elements the exported Flows use, with Flow semantics:

- ``start`` -> ``connector``; every element goes on to its ``connector`` (none: the interview
  finishes);
- ``decisions``: the first rule whose conditions all hold (``and``), else the default
  connector; operators EqualTo, NotEqualTo, StartsWith, GreaterThanOrEqualTo, LessThan;
- ``recordLookups``: the first record of ``object`` matching ``Id EqualTo <value>``, its
  fields copied into variables (``outputAssignments``); no record leaves them unchanged
  (``assignNullValuesIfNoRecordsFound`` false) or empties them (true);
- ``assignments``: ``Assign`` a value to a variable;
- ``recordCreates``: create one record from ``inputAssignments``; a refused save fails the
  interview with the save's errors (Flow "fault" without a fault connector);
- the interview runs in system context, as ``runInMode`` SystemModeWithoutSharing says (the
  exported Flows do); a Flow without it (run as the invoking user) is refused, as localorg
  does not model the user's access inside a Flow;
- values: ``stringValue``, ``numberValue``, ``booleanValue``, ``elementReference`` (a
  variable, a text template, ``$Flow.CurrentDate``, ``$Flow.CurrentDateTime``); a text
  template's ``{!name}`` merge fields are replaced the same way.

A Flow with any other kind of element is refused when loaded (:class:`FlowSourceError`), so a
test never passes on a Flow localorg only pretends to run.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localorg.access import system_context

if TYPE_CHECKING:
    from localorg.store import OrgStore

# Flow sources are the export's own files (or an admin's), not untrusted input: the stdlib
# parser is enough.
NS = "{http://soap.sforce.com/2006/04/metadata}"
RUNNABLE = frozenset({"start", "decisions", "recordLookups", "assignments", "recordCreates"})
# Parts of a Flow that describe it but run nothing.
DESCRIPTIVE = frozenset(
    {
        "apiVersion",
        "description",
        "environments",
        "interviewLabel",
        "label",
        "processMetadataValues",
        "processType",
        "runInMode",
        "status",
        "textTemplates",
        "variables",
    }
)
_MERGE = re.compile(r"\{!([$\w.]+)\}")
_MAX_STEPS = 2000  # a Flow whose connectors loop stops here, as Salesforce's element limit does

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "EqualTo": lambda a, b: a == b,
    "NotEqualTo": lambda a, b: a != b,
    "StartsWith": lambda a, b: isinstance(a, str) and isinstance(b, str) and a.startswith(b),
    "GreaterThanOrEqualTo": lambda a, b: a is not None and b is not None and a >= b,
    "LessThan": lambda a, b: a is not None and b is not None and a < b,
}


class FlowSourceError(ValueError):
    """A Flow source localorg cannot load (malformed, not autolaunched, unsupported)."""


@dataclass(frozen=True)
class Variable:
    """One Flow variable: its type and whether the caller may set it."""

    name: str
    data_type: str
    is_input: bool
    is_output: bool
    scale: int | None = None


@dataclass
class MetadataFlow:
    """One autolaunched Flow as its source declares it."""

    name: str
    label: str
    status: str
    variables: dict[str, Variable]
    templates: dict[str, str]
    start: str | None
    elements: dict[str, tuple[str, ET.Element]] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Only the Active version runs from the Actions API."""
        return self.status == "Active"

    @property
    def inputs(self) -> dict[str, str]:
        """Input variable name -> data type."""
        return {v.name: v.data_type for v in self.variables.values() if v.is_input}

    @property
    def outputs(self) -> dict[str, str]:
        """Output variable name -> data type."""
        return {v.name: v.data_type for v in self.variables.values() if v.is_output}

    def run(self, store: OrgStore, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """One interview in system context; returns the output variables. Raises the
        store's RecordFault when a record element's save is refused."""
        values: dict[str, Any] = {name: None for name in self.variables}
        values.update(inputs)
        with system_context():
            self._walk(store, values)
        return {name: values.get(name) for name in self.outputs}

    def _walk(self, store: OrgStore, values: dict[str, Any]) -> None:
        current = self.start
        steps = 0
        while current is not None:
            steps += 1
            if steps > _MAX_STEPS:
                raise FlowSourceError(f"{self.name}: more than {_MAX_STEPS} elements ran")
            kind, node = self.elements[current]
            current = getattr(self, f"_{kind}")(store, node, values)

    # each element runs, then names the next one (None: the interview finishes)
    def _decisions(self, _store: OrgStore, node: ET.Element, values: dict[str, Any]) -> str | None:
        for rule in node.findall(f"{NS}rules"):
            conditions = rule.findall(f"{NS}conditions")
            if all(self._holds(c, values) for c in conditions):
                return _target(rule)
        default = node.find(f"{NS}defaultConnector")
        return _text(default, "targetReference") if default is not None else None

    def _holds(self, condition: ET.Element, values: dict[str, Any]) -> bool:
        left = self._reference(_text(condition, "leftValueReference"), values)
        right = self._value(condition.find(f"{NS}rightValue"), values)
        return _OPERATORS[_text(condition, "operator")](left, right)

    def _recordLookups(
        self, store: OrgStore, node: ET.Element, values: dict[str, Any]
    ) -> str | None:
        obj = _text(node, "object")
        record_id = self._value(node.find(f"{NS}filters/{NS}value"), values)
        outputs = [
            (_text(o, "field"), _text(o, "assignToReference"))
            for o in node.findall(f"{NS}outputAssignments")
        ]
        found = store.get(obj, str(record_id), [f for f, _v in outputs]) if record_id else None
        if found is not None:
            for field_name, variable in outputs:
                values[variable] = found.get(field_name)
        elif _text(node, "assignNullValuesIfNoRecordsFound") == "true":
            for _f, variable in outputs:
                values[variable] = None
        return _target(node)

    def _assignments(
        self, _store: OrgStore, node: ET.Element, values: dict[str, Any]
    ) -> str | None:
        for item in node.findall(f"{NS}assignmentItems"):
            values[_text(item, "assignToReference")] = self._value(item.find(f"{NS}value"), values)
        return _target(node)

    def _recordCreates(
        self, store: OrgStore, node: ET.Element, values: dict[str, Any]
    ) -> str | None:
        body = {}
        for item in node.findall(f"{NS}inputAssignments"):
            value = self._value(item.find(f"{NS}value"), values)
            if value is not None and value != "":
                body[_text(item, "field")] = value
        store.insert(_text(node, "object"), body, run_flows=False)
        return _target(node)

    def _value(self, node: ET.Element | None, values: dict[str, Any]) -> Any:
        if node is None:
            return None
        for child in node:
            tag = child.tag.removeprefix(NS)
            text = child.text or ""
            if tag == "stringValue":
                return text
            if tag == "numberValue":
                return float(text)
            if tag == "booleanValue":
                return text == "true"
            if tag == "elementReference":
                return self._reference(text, values)
        return None

    def _reference(self, name: str, values: dict[str, Any]) -> Any:
        if name == "$Flow.CurrentDate":
            return datetime.now(UTC).date().isoformat()
        if name == "$Flow.CurrentDateTime":
            return datetime.now(UTC).isoformat()
        if name in self.templates:
            return _MERGE.sub(
                lambda m: _merged(self._reference(m.group(1), values)), self.templates[name]
            )
        if name not in values:
            raise FlowSourceError(f"{self.name}: '{name}' names no variable or template")
        return values[name]


def _merged(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _text(node: ET.Element, child: str) -> str:
    found = node.find(f"{NS}{child}")
    return (found.text or "") if found is not None else ""


def _target(node: ET.Element) -> str | None:
    connector = node.find(f"{NS}connector")
    return _text(connector, "targetReference") if connector is not None else None


def parse_flow(name: str, text: str) -> MetadataFlow:
    """A Flow from its source; raises :class:`FlowSourceError` for what localorg cannot run."""
    try:
        root = ET.fromstring(text)  # noqa: S314 - the export's own files
    except ET.ParseError as exc:
        raise FlowSourceError(f"{name}: not well-formed XML ({exc})") from None
    if root.tag != f"{NS}Flow":
        raise FlowSourceError(f"{name}: the root element is not a Metadata API Flow")
    process = _text(root, "processType")
    if process != "AutoLaunchedFlow":
        raise FlowSourceError(
            f"{name}: processType {process or '(none)'}; the Actions API runs only autolaunched "
            "Flows (AutoLaunchedFlow)"
        )
    mode = _text(root, "runInMode")
    if not mode.startswith("SystemMode"):
        raise FlowSourceError(
            f"{name}: runInMode {mode or '(default: the invoking user)'}; localorg runs Flows "
            "in system context only (SystemModeWithoutSharing), it does not model the "
            "invoking user's access inside a Flow"
        )
    unknown = sorted({c.tag.removeprefix(NS) for c in root} - RUNNABLE - DESCRIPTIVE)
    if unknown:
        raise FlowSourceError(
            f"{name}: localorg does not run {', '.join(unknown)} elements; it runs "
            + ", ".join(sorted(RUNNABLE))
        )
    variables = {}
    for v in root.findall(f"{NS}variables"):
        scale = _text(v, "scale")
        variables[_text(v, "name")] = Variable(
            _text(v, "name"),
            _text(v, "dataType"),
            _text(v, "isInput") == "true",
            _text(v, "isOutput") == "true",
            int(scale) if scale else None,
        )
    templates = {_text(t, "name"): _text(t, "text") for t in root.findall(f"{NS}textTemplates")}
    start = root.find(f"{NS}start")
    flow = MetadataFlow(
        name=name,
        label=_text(root, "label") or name,
        status=_text(root, "status"),
        variables=variables,
        templates=templates,
        start=_target(start) if start is not None else None,
    )
    for kind in RUNNABLE - {"start"}:
        for node in root.findall(f"{NS}{kind}"):
            flow.elements[_text(node, "name")] = (kind, node)
    missing = sorted(
        {t for _k, node in flow.elements.values() for t in _targets(node)} - set(flow.elements)
    )
    if flow.start is not None and flow.start not in flow.elements:
        missing.append(flow.start)
    if missing:
        raise FlowSourceError(f"{name}: connectors lead to no element: {', '.join(missing)}")
    return flow


def _targets(node: ET.Element) -> list[str]:
    return [t.text or "" for t in node.iter(f"{NS}targetReference")]


def load_flows(folder: Path) -> list[MetadataFlow]:
    """Every ``*.flow-meta.xml`` under ``folder`` (an SFDX project or any folder in it)."""
    suffix = ".flow-meta.xml"
    return [
        parse_flow(path.name.removesuffix(suffix), path.read_text(encoding="utf-8"))
        for path in sorted(folder.rglob(f"*{suffix}"))
    ]

"""Check mappings against what the org says about its fields, before a sync writes anything.

Works on describe() results that the caller fetched (`/sobjects/<Object>/describe`), so it is a
pure function: no network, easy to test, and the same check runs in `validate` and before a sync.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from connector.mapping.models import NUMERIC_TYPES, TEXT_TYPES, FieldMapping, MappingFile

#: Salesforce describe types each mapping type can be written to.
FITS: dict[str, frozenset[str]] = {
    "number": frozenset({"double", "int", "long"}),
    "currency": frozenset({"currency", "double"}),
    "percent": frozenset({"percent", "double"}),
    "text": frozenset({"string", "textarea"}),
    "textarea": frozenset({"textarea", "string"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"datetime"}),
    "checkbox": frozenset({"boolean"}),
    "picklist": frozenset({"picklist"}),
}


def check_against_describe(
    mappings: Iterable[MappingFile], describe_by_object: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Every way the org's fields do not fit the mappings, one line each, with what to do.

    Reports objects not described, missing fields, types that do not fit, read-only fields,
    numbers or text the field cannot hold and picklist labels the field does not offer.
    """
    problems: list[str] = []
    for mf in mappings:
        describe = describe_by_object.get(mf.object)
        if describe is None:
            where = f"{mf.source}: " if mf.source else ""
            problems.append(
                f"{where}{mf.object}: not described; check the object name and that the "
                "integration user can read it"
            )
            continue
        by_name = {str(f.get("name", "")).lower(): f for f in describe.get("fields", [])}
        for m in mf.fields:
            sf = by_name.get(m.field.lower())
            prefix = f"{m.where}: " if m.where else ""
            target = f"{mf.object}.{m.field}"
            if sf is None:
                hint = (
                    "run `lead2loyalty fields deploy` to create it"
                    if m.is_custom
                    else "check the field name"
                )
                problems.append(f"{prefix}{target}: field missing in the org; {hint}")
                continue
            problems.extend(f"{prefix}{target}: {msg}" for msg in _field_problems(m, sf))
    return problems


def _field_problems(m: FieldMapping, sf: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    sf_type = str(sf.get("type", ""))
    if sf_type not in FITS[m.type]:
        out.append(
            f"is {sf_type} in the org but mapped as {m.type}; change `type:` to fit "
            f"({', '.join(sorted(FITS[m.type]))}) or map another field"
        )
        return out
    if not sf.get("updateable", False):
        out.append(
            "is not updateable by the integration user; grant edit access in its permission set "
            "(`lead2loyalty fields deploy` does) or map a field that is not a formula"
        )
    if m.type in NUMERIC_TYPES:
        precision, scale = m.digits
        sf_precision, sf_scale = int(sf.get("precision") or 0), int(sf.get("scale") or 0)
        if sf_type in ("int", "long"):
            sf_precision, sf_scale = int(sf.get("digits") or 18), 0
        if sf_scale < scale:
            out.append(
                f"keeps {sf_scale} decimals but the mapping writes {scale}; set `scale: "
                f"{sf_scale}` or widen the field"
            )
        if sf_precision - sf_scale < precision - scale:
            out.append(
                f"holds {sf_precision - sf_scale} digits before the point but the mapping allows "
                f"{precision - scale}; lower `precision` or widen the field"
            )
    if m.type in TEXT_TYPES:
        sf_length = int(sf.get("length") or 0)
        if sf_length < m.max_length:
            out.append(
                f"holds {sf_length} characters but the mapping writes up to {m.max_length}; set "
                f"`length: {sf_length}` and add `- truncate: {sf_length}`"
            )
    if m.type == "picklist":
        offered = {
            str(v.get("value")) for v in sf.get("picklistValues", []) if v.get("active", True)
        }
        labels = set((m.picklist or {}).values())
        if m.picklist_default is not None:
            labels.add(m.picklist_default)
        missing = sorted(labels - offered)
        if missing:
            out.append(
                f"does not offer picklist value(s) {', '.join(repr(x) for x in missing)}; add them "
                "to the field (`lead2loyalty fields deploy`) or change the labels"
            )
    return out

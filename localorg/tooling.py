"""The Tooling API's CustomField creation: the way the connector deploys its fields.

A field created here exists at once but stays invisible to the API user (absent from
describe, refused in queries and writes) until a ``FieldPermissions`` row grants it, as
field-level security does in a real org.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from localorg.http import current_org, sf_error
from localorg.schema import FieldInfo

bp = Blueprint("tooling", __name__)

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__c$")
# Metadata API type -> (describe type, default length)
_TYPES: dict[str, tuple[str, int]] = {
    "Number": ("double", 0),
    "Currency": ("currency", 0),
    "Percent": ("percent", 0),
    "Text": ("string", 255),
    "TextArea": ("textarea", 255),
    "LongTextArea": ("textarea", 32768),
    "Date": ("date", 0),
    "DateTime": ("datetime", 0),
    "Checkbox": ("boolean", 0),
    "Picklist": ("picklist", 255),
    "Email": ("email", 80),
    "Phone": ("phone", 40),
    "Url": ("url", 255),
}


@bp.post("/services/data/v<version>/tooling/sobjects/CustomField/", strict_slashes=False)
def create_custom_field(version: str) -> Response:
    """Create a custom field from ``{"FullName": "Object.Field__c", "Metadata": {...}}``."""
    store = current_org().store
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return sf_error("JSON_PARSER_ERROR", "The request body is not a JSON object")
    full_name = str(body.get("FullName", ""))
    meta: dict[str, Any] = body.get("Metadata") or {}
    object_name, _, field_name = full_name.partition(".")
    if object_name not in store.objects:
        return sf_error(
            "INVALID_TYPE", f"FullName: no sObject named '{object_name}'", 400, ["FullName"]
        )
    if not _API_NAME.match(field_name) or len(field_name) > 43:
        return sf_error(
            "FIELD_INTEGRITY_EXCEPTION",
            f"FullName: '{field_name}' is not a valid "
            "custom field API name (letters, digits, single underscores, ending "
            "in __c, at most 40 characters)",
            400,
            ["FullName"],
        )
    missing = [k for k in ("label", "type") if not meta.get(k)]
    if missing:
        return sf_error(
            "REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}", 400, missing
        )
    kind = _TYPES.get(str(meta["type"]))
    if kind is None:
        return sf_error(
            "FIELD_INTEGRITY_EXCEPTION",
            f"type: '{meta['type']}' is not a supported field type; use one of {sorted(_TYPES)}",
            400,
            ["type"],
        )
    sf_type, default_length = kind
    precision = int(
        meta.get("precision") or (18 if sf_type in ("double", "currency", "percent") else 0)
    )
    scale = int(meta.get("scale") or 0)
    if precision and not 0 <= scale <= precision:
        return sf_error(
            "FIELD_INTEGRITY_EXCEPTION", "scale must be between 0 and precision", 400, ["scale"]
        )
    values = [
        v.get("fullName")
        for v in (((meta.get("valueSet") or {}).get("valueSetDefinition") or {}).get("value") or [])
    ]
    if sf_type == "picklist" and not values:
        return sf_error(
            "FIELD_INTEGRITY_EXCEPTION", "a Picklist needs valueSet values", 400, ["valueSet"]
        )
    info = FieldInfo(
        name=field_name,
        type=sf_type,
        label=str(meta["label"]),
        length=int(meta.get("length") or default_length),
        precision=precision,
        scale=scale,
        custom=True,
        protected=True,
        picklist=[str(v) for v in values],
        external_id=bool(meta.get("externalId")),
        unique=bool(meta.get("unique")),
        default=(str(meta.get("defaultValue", "false")).lower() == "true")
        if sf_type == "boolean"
        else None,
        description=str(meta.get("inlineHelpText") or meta.get("description") or ""),
    )
    store.add_custom_field(object_name, info)
    field_id = store.ids.new("CustomField")
    response = jsonify({"id": field_id, "success": True, "errors": [], "warnings": [], "infos": []})
    response.status_code = 201
    return response

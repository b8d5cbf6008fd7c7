"""The Tooling API: CustomField creation, and queries of CustomField, FieldDefinition,
EntityDefinition and EntityParticle.

A field created here exists at once but stays invisible to the API user (absent from
describe, refused in queries and writes) until a ``FieldPermissions`` row of a permission set
assigned to the user grants it, as field-level security does in a real org. The Tooling
queries are not filtered by field-level security: they are how a deploy learns which fields
exist (Tooling API Developer Guide, "CustomField", "FieldDefinition", "EntityParticle").
Creating a field needs Customize Application; querying needs View Setup and Configuration
(see localorg.access).
"""

from __future__ import annotations

import re
import weakref
from typing import Any

from flask import Blueprint, Response, jsonify, request

from localorg import soql
from localorg.access import CUSTOMIZE_APPLICATION, STANDARD_FLS_OBJECTS, VIEW_SETUP
from localorg.http import api_version, current_org, sf_error
from localorg.permission_rules import permissionable
from localorg.schema import FieldInfo
from localorg.store import OrgStore, now_text

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
    if not store.access.has(CUSTOMIZE_APPLICATION):
        return sf_error(
            "INSUFFICIENT_ACCESS_OR_READONLY",
            "insufficient access rights: creating a custom field needs the Customize "
            "Application permission",
            400,
        )
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
    _create_tables(store)
    _insert_custom_field(store, field_id, object_name, field_name)
    response = jsonify({"id": field_id, "success": True, "errors": [], "warnings": [], "infos": []})
    response.status_code = 201
    return response


@bp.patch("/services/data/v<version>/tooling/sobjects/CustomField/<field_id>", strict_slashes=False)
def update_custom_field(version: str, field_id: str) -> Response:
    """Update a custom field from ``{"Metadata": {...}}`` (204, no body, as REST updates).

    The Tooling API's CustomField takes PATCH and its ``Metadata`` is updatable (Tooling API
    Developer Guide, "CustomField": Supported REST HTTP Methods Query, GET, POST, PATCH;
    Metadata: Create, Update). What localorg changes is a Text field's length (the label and
    help stay); the type cannot change here, and a length a stored value no longer fits is
    refused, so no data is cut."""
    store = current_org().store
    if not store.access.has(CUSTOMIZE_APPLICATION):
        return sf_error(
            "INSUFFICIENT_ACCESS_OR_READONLY",
            "insufficient access rights: updating a custom field needs the Customize "
            "Application permission",
            400,
        )
    _create_tables(store)
    _refresh(store)
    rows = store.execute(
        'SELECT "TableEnumOrId", "FieldName" FROM "CustomField" WHERE "Id" = ?', [field_id]
    )
    if not rows:
        return sf_error("NOT_FOUND", "The requested resource does not exist", 404)
    object_name, field_name = str(rows[0][0]), str(rows[0][1])
    info = store.objects[object_name].field(field_name)
    body = request.get_json(silent=True)
    if info is None or not isinstance(body, dict) or not isinstance(body.get("Metadata"), dict):
        return sf_error("JSON_PARSER_ERROR", "The request body needs a Metadata object")
    meta: dict[str, Any] = body["Metadata"]
    kind = _TYPES.get(str(meta.get("type")))
    if kind is None or kind[0] != info.type:
        return sf_error(
            "FIELD_INTEGRITY_EXCEPTION",
            f"type: {field_name} is a {info.type} field; localorg changes a Text field's length "
            "only",
            400,
            ["type"],
        )
    length = int(meta.get("length") or info.length)
    if info.type == "string" and not 1 <= length <= 255:
        return sf_error(
            "FIELD_INTEGRITY_EXCEPTION", "length: a Text field holds 1 to 255 characters", 400
        )
    longest = store.execute(f'SELECT max(length("{field_name}")) FROM "{object_name}"', [])
    if longest and longest[0][0] is not None and int(longest[0][0]) > length:
        return sf_error(
            "FIELD_INTEGRITY_EXCEPTION",
            f"length: stored values of {field_name} are up to {longest[0][0]} characters",
            400,
        )
    store.set_field_length(object_name, field_name, length)
    _BUILT.pop(store, None)  # FieldDefinition.Length is derived: rebuild on the next query
    return Response(status=204)


# ---------------------------------------------------------------------- queries
# Tooling objects as the SOQL compiler sees them: (field, describe type, reference target).
# EntityDefinitionId is text (a standard object's is its name: WHERE EntityDefinitionId =
# 'Contact'), yet it is also the EntityDefinition relationship.
_TOOLING: dict[str, list[tuple[str, str, str | None]]] = {
    "CustomField": [
        ("Id", "id", None),
        ("DeveloperName", "string", None),
        ("TableEnumOrId", "string", None),
        ("NamespacePrefix", "string", None),
        ("ManageableState", "string", None),
        ("CreatedDate", "datetime", None),
        ("LastModifiedDate", "datetime", None),
    ],
    "EntityDefinition": [
        ("DurableId", "string", None),
        ("QualifiedApiName", "string", None),
        ("DeveloperName", "string", None),
        ("Label", "string", None),
        ("KeyPrefix", "string", None),
    ],
    "FieldDefinition": [
        ("DurableId", "string", None),
        ("QualifiedApiName", "string", None),
        ("DeveloperName", "string", None),
        ("EntityDefinitionId", "string", "EntityDefinition"),
        ("DataType", "string", None),
        ("Label", "string", None),
        ("NamespacePrefix", "string", None),
        ("IsCalculated", "boolean", None),
        # The most characters a text field holds (0 for other types): Object Reference,
        # "FieldDefinition", Length.
        ("Length", "int", None),
    ],
    "EntityParticle": [
        ("DurableId", "string", None),
        ("QualifiedApiName", "string", None),
        ("DeveloperName", "string", None),
        ("EntityDefinitionId", "string", "EntityDefinition"),
        ("FieldDefinitionId", "string", None),
        ("DataType", "string", None),
        ("Label", "string", None),
        ("NamespacePrefix", "string", None),
        ("IsCreatable", "boolean", None),
        ("IsUpdatable", "boolean", None),
        # Whether FieldPermissions may name the field (field-level security applies):
        # localorg.permission_rules, rule 6.
        ("IsPermissionable", "boolean", None),
    ],
}
_SCHEMA: dict[str, soql.ObjectInfo] = {
    name: soql.ObjectInfo(
        name=name,
        fields={
            f: soql.FieldInfo(f, kind, target, f.removesuffix("Id") if target is not None else None)
            for f, kind, target in columns
        },
    )
    for name, columns in _TOOLING.items()
}
# store -> the field count the derived tables were last built for
_BUILT: weakref.WeakKeyDictionary[OrgStore, int] = weakref.WeakKeyDictionary()


@bp.get("/services/data/v<version>/tooling/query/", strict_slashes=False)
def tooling_query(version: str) -> Response:
    """A SOQL query of CustomField, FieldDefinition, EntityDefinition or EntityParticle."""
    store = current_org().store
    text = request.args.get("q", "")
    if not text.strip():
        return sf_error("MALFORMED_QUERY", "SOQL statement cannot be empty", 400)
    schema = _SCHEMA if store.access.has(VIEW_SETUP) else {}
    try:
        compiled = soql.compile_soql(text, schema)
    except soql.SoqlError as exc:
        return sf_error(exc.error_code, str(exc), 400)
    _create_tables(store)
    _refresh(store)
    rows = store.execute(compiled.sql, compiled.params)
    if compiled.count_only:
        total = int(rows[0][0]) if rows else 0
        return jsonify({"size": total, "totalSize": total, "done": True, "records": []})
    base = f"/services/data/v{api_version(version)}/tooling/sobjects/"
    name = compiled.object_name
    records = []
    for row in rows:
        record: dict[str, Any] = {"attributes": {"type": name, "url": base + name}}
        for path, value in zip(compiled.select_fields, row, strict=False):
            rel, _, field = path.rpartition(".")
            kinds = {f: k for f, k, _t in _TOOLING[name if not rel else "EntityDefinition"]}
            if kinds.get(field) == "boolean" and value is not None:
                value = bool(value)
            if rel:
                record.setdefault(rel, {"attributes": {"type": "EntityDefinition"}})[field] = value
            else:
                record[field] = value
        if "Id" in record:
            record["attributes"]["url"] = f"{base}{name}/{record['Id']}"
        records.append(record)
    return jsonify(
        {
            "size": len(records),
            "totalSize": len(records),
            "done": True,
            "queryLocator": None,
            "entityTypeName": name,
            "records": records,
        }
    )


def _create_tables(store: OrgStore) -> None:
    with store.transaction() as conn:
        conn.execute(
            'CREATE TABLE IF NOT EXISTS "CustomField" ("Id" TEXT PRIMARY KEY, "IsDeleted" '
            'INTEGER, "DeveloperName" TEXT, "TableEnumOrId" TEXT, "NamespacePrefix" TEXT, '
            '"ManageableState" TEXT, "CreatedDate" TEXT, "LastModifiedDate" TEXT, '
            '"FieldName" TEXT)'
        )
        for name in ("EntityDefinition", "FieldDefinition", "EntityParticle"):
            columns = ", ".join(f'"{c}"' for c, _k, _t in _TOOLING[name])
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{name}" ("Id" TEXT, "IsDeleted" INTEGER, {columns})'
            )


def _refresh(store: OrgStore) -> None:
    """Give every custom field a CustomField row, and rebuild the definitions when fields
    were added since the last build."""
    count = sum(len(o.fields) for o in store.objects.values())
    if _BUILT.get(store) == count:
        return
    known = {
        (str(r[0]), str(r[1]))
        for r in store.execute('SELECT "TableEnumOrId", "FieldName" FROM "CustomField"')
    }
    for info in list(store.objects.values()):
        for f in list(info.fields.values()):
            if f.custom and (info.name, f.name) not in known:
                _insert_custom_field(store, store.ids.new("CustomField"), info.name, f.name)
    ids = {
        (str(r[0]), str(r[1])): str(r[2])
        for r in store.execute('SELECT "TableEnumOrId", "FieldName", "Id" FROM "CustomField"')
    }
    entities, definitions, particles = [], [], []
    for info in store.objects.values():
        entities.append(
            (info.name, 0, info.name, info.name, info.name, info.label, info.key_prefix)
        )
        for f in info.fields.values():
            # A custom field's DurableId carries its CustomField id (without the checksum).
            durable = (
                f"{info.name}.{ids[(info.name, f.name)][:15]}"
                if f.custom
                else (f"{info.name}.{f.name}")
            )
            common = (durable, f.name, f.name.removesuffix("__c"), info.name)
            definitions.append((durable, 0, *common, f.type, f.label, None, 0, f.length))
            particles.append(
                (
                    durable,
                    0,
                    *common,
                    durable,
                    f.type,
                    f.label,
                    None,
                    int(f.createable),
                    int(f.updateable),
                    int(
                        f.custom
                        or (
                            info.name in STANDARD_FLS_OBJECTS
                            and permissionable(f.name, custom=False, required=f.required)
                        )
                    ),
                )
            )
    with store.transaction() as conn:
        for name, rows in (
            ("EntityDefinition", entities),
            ("FieldDefinition", definitions),
            ("EntityParticle", particles),
        ):
            # Derived tables are rebuilt whole, so an org saved by an older localorg (fewer
            # columns) reads with today's.
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')
            columns = ", ".join(f'"{c}"' for c, _k, _t in _TOOLING[name])
            conn.execute(f'CREATE TABLE "{name}" ("Id" TEXT, "IsDeleted" INTEGER, {columns})')
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                conn.executemany(f'INSERT INTO "{name}" VALUES ({marks})', rows)
    _BUILT[store] = count


def _insert_custom_field(store: OrgStore, field_id: str, object_name: str, name: str) -> None:
    stamp = now_text()
    with store.transaction() as conn:
        conn.execute(
            'INSERT INTO "CustomField" VALUES (?, 0, ?, ?, NULL, ?, ?, ?, ?)',
            (field_id, name.removesuffix("__c"), object_name, "unmanaged", stamp, stamp, name),
        )

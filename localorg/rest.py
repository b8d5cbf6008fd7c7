"""The REST API: versions, describe, CRUD and upsert, query, collections, limits, actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, make_response, request

from localorg import soql
from localorg.datetimes import format_datetime
from localorg.flows import FlowInputError
from localorg.http import api_version, current_org, fault_response, sf_error
from localorg.org import API_VERSIONS
from localorg.schema import FieldInfo, ObjectInfo
from localorg.store import (
    OrgStore,
    RecordError,
    RecordFault,
    fault,
    parse_datetime,
    refuse_converted,
)

bp = Blueprint("rest", __name__)
DATA = "/services/data/v<version>"
COLLECTION_LIMIT = 200


@bp.get("/services/data")
@bp.get("/services/data/")
def versions() -> Response:
    """The API versions this org speaks."""
    return jsonify(
        [
            {"label": f"Release {v}", "url": f"/services/data/v{v}", "version": v}
            for v in API_VERSIONS
        ]
    )


@bp.get(f"{DATA}/", strict_slashes=False)
def resources(version: str) -> Response:
    """The resources under one API version."""
    base = f"/services/data/v{api_version(version)}"
    names = ("sobjects", "query", "queryAll", "limits", "composite", "tooling", "jobs", "actions")
    return jsonify({name: f"{base}/{name}" for name in names})


@bp.get(f"{DATA}/limits/", strict_slashes=False)
def limits(version: str) -> Response:
    """Remaining daily API requests, in the shape of Salesforce's ``/limits``."""
    org = current_org()
    limit = org.config.daily_limit
    return jsonify(
        {
            "DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - org.api_calls)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
        }
    )


# ---------------------------------------------------------------------- describe
@bp.get(f"{DATA}/sobjects/", strict_slashes=False)
def describe_global(version: str) -> Response:
    """Every object, as the global describe lists them."""
    org = current_org()
    v = api_version(version)
    return jsonify(
        {
            "encoding": "UTF-8",
            "maxBatchSize": COLLECTION_LIMIT,
            "sobjects": [
                _object_summary(info, v)
                for info in org.store.objects.values()
                if org.store.access.object_readable(info.name)
            ],
        }
    )


@bp.get(f"{DATA}/sobjects/<name>/", strict_slashes=False)
def object_info(version: str, name: str) -> Response:
    """One object's summary and its recently viewed records (none here)."""
    info = current_org().store.object(name)
    return jsonify(
        {"objectDescribe": _object_summary(info, api_version(version)), "recentItems": []}
    )


@bp.get(f"{DATA}/sobjects/<name>/describe/", strict_slashes=False)
def describe(version: str, name: str) -> Response:
    """Full describe of one object, custom fields included once they are visible."""
    store = current_org().store
    info = store.object(name)
    body = _object_summary(info, api_version(version))
    body["fields"] = [
        _field_describe(store, info.name, f)
        for f in info.fields.values()
        if store.field_visible(info.name, f)
    ]
    body["childRelationships"] = []
    body["recordTypeInfos"] = []
    return jsonify(body)


def _field_describe(store: OrgStore, object_name: str, f: FieldInfo) -> dict[str, Any]:
    body = f.describe()
    if not store.field_editable(object_name, f):
        # Read-only field-level security shows in describe (DescribeSObjectResult Field:
        # createable / updateable reflect what the user may do).
        body["createable"] = body["updateable"] = False
    return body


_SETUP = (
    "FieldPermissions",
    "ObjectPermissions",
    "PermissionSet",
    "PermissionSetAssignment",
    "PermissionSetLicenseAssign",
)


_READ_ONLY_SETUP = (
    "FlowInterview",
    "User",
    "Profile",
    "UserLicense",
    "PermissionSetLicense",
)


def _object_summary(info: ObjectInfo, version: str) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/{info.name}"
    system = info.name in (*_READ_ONLY_SETUP, *_SETUP)
    access = current_org().store.access
    # describe's createable/updateable/deletable say what the current user may do with the
    # object (Object Reference, DescribeSObjectResult), so they follow its object permissions.
    return {
        "name": info.name,
        "label": info.label,
        "labelPlural": info.label_plural,
        "keyPrefix": info.key_prefix,
        "custom": info.custom,
        "queryable": True,
        "createable": info.name not in _READ_ONLY_SETUP
        and access.object_allows(info.name, "PermissionsCreate"),
        "updateable": (not system or info.name in _SETUP)
        and info.name not in ("PermissionSetAssignment", "PermissionSetLicenseAssign")
        and access.object_allows(info.name, "PermissionsEdit"),
        "deletable": (not system or info.name in _SETUP)
        and access.object_allows(info.name, "PermissionsDelete"),
        "searchable": not system,
        "layoutable": not system,
        "replicateable": True,
        "retrieveable": True,
        "triggerable": not system,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


@bp.get(f"{DATA}/sobjects/<name>/deleted/", strict_slashes=False)
def get_deleted(version: str, name: str) -> Response:
    """sObject Get Deleted: ids deleted in ``[start, end]`` that are still in the Recycle Bin.

    REST API Developer Guide, "sObject Get Deleted" (resources_getdeleted.htm): ``start`` and
    ``end`` are ISO 8601 datetimes; the body is ``deletedRecords`` (``id``, ``deletedDate``),
    ``earliestDateAvailable`` and ``latestDateCovered``; purged rows are not listed.
    """
    store = current_org().store
    info = store.object(name)
    try:
        start = parse_datetime(request.args.get("start", ""))
        end = parse_datetime(request.args.get("end", ""))
    except ValueError:
        return sf_error(
            "INVALID_REPLICATION_DATE",
            "start and end must be ISO 8601 datetimes, e.g. 2026-05-05T00:00:00+00:00",
            400,
        )
    if start > end:
        return sf_error("INVALID_REPLICATION_DATE", "start must be before end", 400)
    now = datetime.now(UTC)
    end = min(end, now)
    rows, purged = store.deleted_between(info.name, start, end)
    return jsonify(
        {
            "deletedRecords": [{"id": rid, "deletedDate": stamp} for rid, stamp in rows],
            "earliestDateAvailable": purged or format_datetime(start),
            "latestDateCovered": format_datetime(end),
        }
    )


# ---------------------------------------------------------------------- records
@bp.post(f"{DATA}/sobjects/<name>/", strict_slashes=False)
def create(version: str, name: str) -> Response:
    """Create one record."""
    store = current_org().store
    body = _json_object()
    _row_fault()
    record_id = store.insert(name, body)
    response = jsonify({"id": record_id, "success": True, "errors": []})
    response.status_code = 201
    return response


@bp.route(
    f"{DATA}/sobjects/<name>/<record_id>", methods=["GET", "PATCH", "DELETE"], strict_slashes=False
)
def record(version: str, name: str, record_id: str) -> Response:
    """Read, update or delete one record by id."""
    store = current_org().store
    info = store.object(name)
    if request.method == "GET":
        fields = [f for f in request.args.get("fields", "").split(",") if f.strip()] or None
        found = store.get(info.name, _id18(record_id), fields)
        if found is None:
            return sf_error("NOT_FOUND", "The requested resource does not exist", 404)
        found["attributes"]["url"] = store.record_url(
            info.name, found.get("Id", record_id), api_version(version)
        )
        return jsonify(found)
    if request.method == "PATCH":
        body = _json_object()
        _row_fault()
        store.update(info.name, _id18(record_id), body)
        return Response(status=204)
    _row_fault()
    store.delete(info.name, _id18(record_id))
    return Response(status=204)


@bp.route(f"{DATA}/sobjects/<name>/<field>/<path:value>", methods=["GET", "PATCH", "DELETE"])
def by_external_id(version: str, name: str, field: str, value: str) -> Response:
    """Read, upsert or delete through an external id field (201 created, 200 updated, 300 many)."""
    store = current_org().store
    info = store.object(name)
    ext = info.field(field)
    if ext is None or not (ext.external_id or ext.name == "Id"):
        return sf_error(
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {field}",
            404,
        )
    matches = store.find_by(info.name, ext.name, value)
    if len(matches) > 1:
        response = jsonify([store.record_url(info.name, m, api_version(version)) for m in matches])
        response.status_code = 300
        return response
    if request.method == "GET":
        if not matches:
            return sf_error("NOT_FOUND", "The requested resource does not exist", 404)
        return jsonify(store.get(info.name, matches[0]))
    if request.method == "DELETE":
        if not matches:
            return sf_error("NOT_FOUND", "The requested resource does not exist", 404)
        _row_fault()
        store.delete(info.name, matches[0])
        return Response(status=204)
    body = {k: v for k, v in _json_object().items() if k.lower() != ext.name.lower()}
    _row_fault()
    if matches:
        store.update(info.name, matches[0], body)
        return jsonify({"id": matches[0], "success": True, "errors": [], "created": False})
    if ext.name == "Id":
        return sf_error("NOT_FOUND", "The requested resource does not exist", 404)
    record_id = store.insert(info.name, {**body, ext.name: value})
    response = jsonify({"id": record_id, "success": True, "errors": [], "created": True})
    response.status_code = 201
    return response


# ---------------------------------------------------------------------- query
@bp.get(f"{DATA}/query/", strict_slashes=False)
def query(version: str) -> Response:
    """Run a SOQL query; live rows only."""
    return _query(version, include_deleted=False)


@bp.get(f"{DATA}/queryAll/", strict_slashes=False)
def query_all(version: str) -> Response:
    """Run a SOQL query including deleted rows."""
    return _query(version, include_deleted=True)


@bp.get(f"{DATA}/query/<locator>")
@bp.get(f"{DATA}/queryAll/<locator>")
def query_more(version: str, locator: str) -> Response:
    """The next page of a query, from the ``nextRecordsUrl`` of the previous one."""
    org = current_org()
    cursor_id, _, offset_text = locator.partition("-")
    cursor = org.cursor(cursor_id)
    if cursor is None or not offset_text.isdigit():
        return sf_error("INVALID_QUERY_LOCATOR", "invalid query locator", 400)
    kind = "queryAll" if "/queryAll/" in request.path else "query"
    return _page(version, kind, cursor_id, cursor.rows, int(offset_text), cursor.batch)


def _query(version: str, *, include_deleted: bool) -> Response:
    org = current_org()
    text = request.args.get("q", "")
    if not text.strip():
        return sf_error("MALFORMED_QUERY", "SOQL statement cannot be empty", 400)
    try:
        compiled = soql.compile_soql(text, org.store.soql_schema(), include_deleted=include_deleted)
    except soql.SoqlError as exc:
        return sf_error(exc.error_code, str(exc), 400)
    rows = org.store.execute(compiled.sql, compiled.params)
    if compiled.count_only:
        return jsonify({"totalSize": int(rows[0][0]) if rows else 0, "done": True, "records": []})
    records = _records(org.store, compiled, rows, api_version(version))
    batch = _batch_size()
    kind = "queryAll" if include_deleted else "query"
    if len(records) <= batch:
        return jsonify({"totalSize": len(records), "done": True, "records": records})
    locator = org.open_cursor(records, batch)
    return _page(version, kind, locator, records, 0, batch)


def _page(
    version: str, kind: str, locator: str, rows: list[dict[str, Any]], offset: int, batch: int
) -> Response:
    end = offset + batch
    body: dict[str, Any] = {
        "totalSize": len(rows),
        "done": end >= len(rows),
        "records": rows[offset:end],
    }
    if end < len(rows):
        body["nextRecordsUrl"] = f"/services/data/v{api_version(version)}/{kind}/{locator}-{end}"
    return jsonify(body)


def _batch_size() -> int:
    options = request.headers.get("Sforce-Query-Options", "")
    for part in options.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "batchSize" and value.strip().isdigit():
            return max(200, min(2000, int(value)))
    return 2000


def _records(
    store: OrgStore, compiled: soql.CompiledQuery, rows: list[tuple[Any, ...]], version: str
) -> list[dict[str, Any]]:
    info = store.objects[compiled.object_name]
    # Per output column: (relationship or None, field name, is boolean).
    plan: list[tuple[str | None, str, bool]] = []
    for path in compiled.select_fields:
        rel_name, _, name = path.rpartition(".")
        target = store.objects[compiled.relationships[rel_name]] if rel_name else info
        f = target.field(name)
        plan.append((rel_name or None, f.name if f else name, bool(f and f.type == "boolean")))
    base = f"/services/data/v{version}/sobjects/"
    id_index = compiled.select_fields.index("Id") if "Id" in compiled.select_fields else None
    out = []
    for row in rows:
        record: dict[str, Any] = {
            "attributes": {
                "type": info.name,
                "url": base
                + info.name
                + "/"
                + (str(row[id_index]) if id_index is not None else ""),
            }
        }
        nested: dict[str, dict[str, Any]] = {}
        for (rel, name, is_bool), value in zip(plan, row[: len(plan)], strict=True):
            if is_bool and value is not None:
                value = bool(value)
            if rel is None:
                record[name] = value
            else:
                nested.setdefault(rel, {})[name] = value
        # After the selected columns, the SQL returns each relationship's parent Id: a missing
        # parent is ``null`` in Salesforce, not an object of nulls.
        for offset, rel in enumerate(compiled.relationships):
            values = nested.get(rel, {})
            if row[len(plan) + offset] is None:
                record[rel] = None
            else:
                target_name = compiled.relationships[rel]
                record[rel] = {
                    "attributes": {"type": target_name, "url": base + target_name + "/"},
                    **values,
                }
        out.append(record)
    return out


# ---------------------------------------------------------------------- collections
@bp.route(f"{DATA}/composite/sobjects", methods=["POST", "PATCH", "DELETE"], strict_slashes=False)
def collections(version: str) -> Response:
    """sObject Collections: create, update or delete up to 200 records in one call."""
    store = current_org().store
    if request.method == "DELETE":
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        all_or_none = request.args.get("allOrNone", "false").lower() == "true"
        if len(ids) > COLLECTION_LIMIT:
            return _too_many()
        items: list[tuple[str, str | None, dict[str, Any]]] = []
        for record_id in ids:
            items.append(("delete", record_id, {}))
        return jsonify(_run_collection(store, items, all_or_none, None))
    body = _json_object()
    records = _collection_records(body)
    if isinstance(records, Response):
        return records
    all_or_none = bool(body.get("allOrNone", False))
    op = "create" if request.method == "POST" else "update"
    items = []
    for rec in records:
        rec = dict(rec) if isinstance(rec, dict) else {}
        object_name = (rec.pop("attributes", None) or {}).get("type")
        if op == "update":
            record_id = rec.pop("id", None) or rec.pop("Id", None)
            items.append((op, record_id, {"__type": object_name, **rec}))
        else:
            items.append((op, None, {"__type": object_name, **rec}))
    return jsonify(_run_collection(store, items, all_or_none, None))


@bp.patch(f"{DATA}/composite/sobjects/<name>/<field>")
def collection_upsert(version: str, name: str, field: str) -> Response:
    """sObject Collections upsert on an external id field."""
    store = current_org().store
    info = store.object(name)
    ext = info.field(field)
    if ext is None or not (ext.external_id or ext.name == "Id"):
        return sf_error("INVALID_FIELD", f"{field} is not an external id field on {info.name}", 400)
    body = _json_object()
    records = _collection_records(body)
    if isinstance(records, Response):
        return records
    items: list[tuple[str, str | None, dict[str, Any]]] = []
    for rec in records:
        fields = {k: v for k, v in dict(rec).items() if k != "attributes"}
        items.append(("upsert", None, {"__type": info.name, **fields}))
    return jsonify(_run_collection(store, items, bool(body.get("allOrNone", False)), ext.name))


def _collection_records(body: dict[str, Any]) -> list[Any] | Response:
    """The body's ``records`` list, or the error Salesforce gives for it."""
    records = body.get("records")
    if not isinstance(records, list):
        return sf_error("JSON_PARSER_ERROR", "The request body needs a 'records' list", 400)
    if len(records) > COLLECTION_LIMIT:
        return _too_many()
    return records


def _too_many() -> Response:
    return sf_error(
        "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
        400,
    )


def _run_collection(
    store: OrgStore,
    items: list[tuple[str, str | None, dict[str, Any]]],
    all_or_none: bool,
    ext_field: str | None,
) -> list[dict[str, Any]]:
    """Apply each item; with allOrNone, validate everything first and write nothing on error."""
    org = current_org()
    errors: list[list[RecordError] | None] = []
    for op, record_id, rec in items:
        errors.append(_precheck(store, op, record_id, rec, ext_field, org.faults.draw_row()))
    results: list[dict[str, Any]] = []
    if all_or_none and any(errors):
        for errs, (_op, record_id, _rec) in zip(errors, items, strict=True):
            rolled = [
                RecordError(
                    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "Record rolled back "
                    "because not all records were valid and the request was using "
                    "AllOrNone header",
                    [],
                )
            ]
            results.append(
                {
                    "id": record_id if _is_id(record_id) else None,
                    "success": False,
                    "errors": [e.collection() for e in (errs or rolled)],
                }
            )
        return results
    with store.lock:
        for errs, (op, record_id, rec) in zip(errors, items, strict=True):
            if errs:
                results.append(
                    {
                        "id": record_id if _is_id(record_id) else None,
                        "success": False,
                        "errors": [e.collection() for e in errs],
                    }
                )
                continue
            try:
                results.append(_apply(store, op, record_id, rec, ext_field))
            except RecordFault as exc:
                results.append(
                    {
                        "id": record_id if _is_id(record_id) else None,
                        "success": False,
                        "errors": [e.collection() for e in exc.errors],
                    }
                )
    return results


def _precheck(
    store: OrgStore,
    op: str,
    record_id: str | None,
    rec: dict[str, Any],
    ext_field: str | None,
    injected: str | None,
) -> list[RecordError] | None:
    if injected:
        return [
            RecordError(
                injected,
                "unable to obtain exclusive access to this record or 1 records"
                if injected == "UNABLE_TO_LOCK_ROW"
                else injected,
                [],
            )
        ]
    try:
        if op == "delete":
            if not record_id or not _is_id(record_id):
                raise fault("MALFORMED_ID", f"malformed id {record_id}")
            return None
        type_name = rec.get("__type")
        if not type_name:
            raise fault("INVALID_TYPE", "Must send a concrete entity type.")
        info = store.object(str(type_name))
        body = {k: v for k, v in rec.items() if k != "__type"}
        if op == "update":
            if not record_id or not _is_id(record_id):
                raise fault("MALFORMED_ID", f"malformed id {record_id}", ["Id"])
            current = store.get(info.name, _id18(record_id))
            if current is None:
                raise fault(
                    "ENTITY_IS_DELETED"
                    if store.get(info.name, _id18(record_id), include_deleted=True)
                    else "INVALID_CROSS_REFERENCE_KEY",
                    "entity is deleted or does not exist",
                    ["Id"],
                )
            refuse_converted(info.name, current)
            store.clean(info, body, creating=False)
        elif op == "create":
            store.clean(info, body, creating=True)
        elif op == "upsert":
            assert ext_field is not None
            key = body.get(ext_field)
            if key in (None, ""):
                raise fault("MISSING_ARGUMENT", f"{ext_field} not specified", [ext_field])
            matches = store.find_by(info.name, ext_field, key)
            if len(matches) > 1:
                raise fault(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{ext_field}: more than one record found for external id field: {matches}",
                    [ext_field],
                )
            rest = {k: v for k, v in body.items() if k != ext_field}
            store.clean(info, rest if matches else body, creating=not matches)
    except RecordFault as exc:
        return exc.errors
    return None


def _apply(
    store: OrgStore, op: str, record_id: str | None, rec: dict[str, Any], ext_field: str | None
) -> dict[str, Any]:
    if op == "delete":
        assert record_id is not None
        from localorg.ids import object_for_id

        object_name = object_for_id(record_id)
        if object_name is None:
            raise fault("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        store.delete(object_name, _id18(record_id))
        return {"id": _id18(record_id), "success": True, "errors": []}
    type_name = str(rec["__type"])
    body = {k: v for k, v in rec.items() if k != "__type"}
    if op == "create":
        return {"id": store.insert(type_name, body), "success": True, "errors": []}
    if op == "update":
        assert record_id is not None
        store.update(type_name, _id18(record_id), body)
        return {"id": _id18(record_id), "success": True, "errors": []}
    assert ext_field is not None
    matches = store.find_by(type_name, ext_field, body[ext_field])
    if matches:
        store.update(type_name, matches[0], {k: v for k, v in body.items() if k != ext_field})
        return {"id": matches[0], "success": True, "errors": [], "created": False}
    return {"id": store.insert(type_name, body), "success": True, "errors": [], "created": True}


# ---------------------------------------------------------------------- actions
@bp.get(f"{DATA}/actions/custom/flow")
def list_flows(version: str) -> Response:
    """The active autolaunched flows the Actions API serves."""
    org = current_org()
    return jsonify(
        {
            "actions": [
                {
                    "name": name,
                    "label": name,
                    "type": "FLOW",
                    "url": f"/services/data/v{version}/actions/custom/flow/{name}",
                }
                for name in org.store.flows.active_names()
            ]
        }
    )


@bp.get(f"{DATA}/actions/custom/flow/<name>")
def describe_flow(version: str, name: str) -> Response:
    """A flow action's describe: its declared inputs and its outputs."""
    described = current_org().store.flows.describe(name)
    if described is None:
        return sf_error("NOT_FOUND", f"Flow {name} was not found or is not active", 404)
    return jsonify(described)


@bp.post(f"{DATA}/actions/custom/flow/<name>")
def invoke_flow(version: str, name: str) -> Response:
    """Run an autolaunched flow once per input (the Actions API); localorg/flows.py lists
    the rules, per item and per request."""
    org = current_org()
    body = _json_object()
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        return sf_error("JSON_PARSER_ERROR", "The request body needs a non-empty 'inputs' list")
    if org.store.flows.declared_inputs(name) is None:
        return sf_error("NOT_FOUND", f"Flow {name} was not found or is not active", 404)
    results = []
    for item in inputs:
        if not isinstance(item, dict):
            return sf_error("JSON_PARSER_ERROR", "Each input must be a JSON object")
        try:
            outputs = org.store.flows.invoke(org.store, name, dict(item))
        except FlowInputError as exc:
            errors = [{"statusCode": exc.code, "message": exc.message, "fields": []}]
            results.append(_failed_item(name, errors, None))
            continue
        except RecordFault as exc:
            errors = [e.collection() for e in exc.errors]
            results.append(_failed_item(name, errors, {"Flow__InterviewStatus": "Error"}))
            continue
        results.append(
            {
                "actionName": name,
                "isSuccess": True,
                "errors": None,
                "outputValues": outputs,
                "version": 1,
            }
        )
    status = 200 if all(r["isSuccess"] for r in results) else 400
    return make_response(jsonify(results), status)


def _failed_item(
    name: str, errors: list[dict[str, Any]], outputs: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "actionName": name,
        "isSuccess": False,
        "errors": errors,
        "outputValues": outputs,
        "version": 1,
    }


# ---------------------------------------------------------------------- helpers
def _json_object() -> dict[str, Any]:
    # A body in another format is refused before it is read, as Salesforce does: 415,
    # UNSUPPORTED_MEDIA_TYPE (REST API "Status Codes and Error Responses"; wording as a real
    # org answered nforce, github.com/kevinohara80/nforce/issues/74). Salesforce also reads
    # XML; localorg does not (see salesforce-fidelity.md).
    if request.mimetype and request.mimetype != "application/json":
        raise fault(
            "UNSUPPORTED_MEDIA_TYPE",
            f"MediaType of '{request.mimetype}' is not supported by this resource",
            status=415,
        )
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise fault("JSON_PARSER_ERROR", "The request body is not a JSON object")
    return body


def _row_fault() -> None:
    code = current_org().faults.draw_row()
    if code:
        raise fault(
            code,
            "unable to obtain exclusive access to this record"
            if code == "UNABLE_TO_LOCK_ROW"
            else code,
        )


def _is_id(value: str | None) -> bool:
    return bool(value) and len(str(value)) in (15, 18) and str(value).isalnum()


def _id18(record_id: str) -> str:
    from localorg.ids import to18

    return to18(record_id) if len(record_id) == 15 else record_id


def register_errors(app: Flask) -> None:
    """JSON error handlers in Salesforce's shape for every blueprint."""

    @app.errorhandler(RecordFault)
    def _record_fault(exc: RecordFault) -> Response:
        return fault_response(exc)

    @app.errorhandler(404)
    def _not_found(exc: Exception) -> Response:
        return sf_error("NOT_FOUND", "The requested resource does not exist", 404)

    @app.errorhandler(405)
    def _method(exc: Exception) -> Response:
        return sf_error("METHOD_NOT_ALLOWED", f"HTTP Method '{request.method}' not allowed.", 405)

"""Bulk API 2.0: ingest jobs (CSV in, per-row results out) and query jobs (SOQL out as CSV).

The endpoints live under ``/services/data/v<version>/jobs/`` and follow Salesforce's protocol
closely enough for unmodified simple-salesforce (``sf.bulk2.<Object>``):

- ``POST jobs/ingest`` opens a job, ``PUT jobs/ingest/<id>/batches`` uploads CSV,
  ``PATCH jobs/ingest/<id>`` with ``UploadComplete`` closes it; the job is then processed in a
  background thread (UploadComplete -> InProgress -> JobComplete, or Failed with an
  ``errorMessage``). ``successfulResults``, ``failedResults`` and ``unprocessedrecords`` give
  the per-row outcome as CSV.
- ``POST jobs/query`` compiles the SOQL at once (a bad query is a 400 with the compiler's
  error code), runs it in the background, and ``GET jobs/query/<id>/results`` pages the rows as
  CSV with ``Sforce-Locator`` and ``Sforce-NumberOfRecords``.

CSV rules are Salesforce's: an empty cell leaves a field unchanged (on insert: not set), ``#N/A``
sets it to null, header names match fields case-insensitively. A malformed file (unknown or
relationship column, missing key column) fails the whole job; a bad row fails only itself and
lands in ``failedResults`` with ``sf__Error`` as ``STATUS_CODE:message:fields --``.

Rows are validated one by one with a checker compiled once per job
(:meth:`OrgStore.row_checker`, the rules of :meth:`OrgStore.clean`) and then written in one
transaction with ``executemany``, which is what keeps a 100,000-row job at a few seconds.
Fields, field-level security and coercions are resolved once per job (as Salesforce resolves the
header once), not once per cell.

Jobs live in memory for the lifetime of their :class:`LocalOrg`.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import csv
import io
import logging
import operator
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any, TypedDict

from flask import Blueprint, Response, jsonify, request

from localorg import person_accounts, soql
from localorg.http import api_version, current_org, sf_error
from localorg.ids import is_valid, object_for_id, to18
from localorg.org import LocalOrg
from localorg.schema import FieldInfo, ObjectInfo
from localorg.store import OrgStore, RecordError, RecordFault, now_text, refuse_converted

log = logging.getLogger(__name__)

bp = Blueprint("bulk", __name__)
JOBS = "/services/data/v<version>/jobs"

INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
QUERY_OPERATIONS = ("query", "queryAll")
DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
LINE_ENDINGS = ("LF", "CRLF")
NULL_MARK = "#N/A"
MAX_UPLOAD_BYTES = 150 * 1024 * 1024
DEFAULT_PAGE = 100_000
# SQLite binds at most 32,766 variables; lookups by key go in slices well under that.
_IN_CHUNK = 500
_LOCK_MESSAGE = "unable to obtain exclusive access to this record or 1 records"


# ---------------------------------------------------------------------- jobs
@dataclass
class _Job:
    """What ingest and query jobs share: identity, state and timing."""

    id: str
    operation: str
    object_name: str
    api_version: str
    column_delimiter: str
    line_ending: str
    created_by: str
    created_date: str = field(default_factory=now_text)
    system_modstamp: str = ""
    state: str = "Open"
    error_message: str | None = None
    processed: int = 0
    failed: int = 0
    processing_ms: int = 0

    def __post_init__(self) -> None:
        self.system_modstamp = self.system_modstamp or self.created_date

    def set_state(self, state: str, error: str | None = None) -> None:
        """Move to ``state`` (and keep the failure reason, if any)."""
        self.state = state
        self.system_modstamp = now_text()
        if error is not None:
            self.error_message = error

    def base_info(self) -> dict[str, Any]:
        """The fields every job-info answer carries."""
        return {
            "id": self.id,
            "operation": self.operation,
            "object": self.object_name,
            "createdById": self.created_by,
            "createdDate": self.created_date,
            "systemModstamp": self.system_modstamp,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.column_delimiter,
        }


@dataclass
class IngestJob(_Job):
    """An ingest job: its uploaded CSV and, once processed, the outcome of every row."""

    external_id: str | None = None
    uploads: list[bytes] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    # (record id, created, original cells) / (record id or "", sf__Error, original cells)
    successes: list[tuple[str, bool, list[str]]] = field(default_factory=list)
    failures: list[tuple[str, str, list[str]]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)

    def info(self, *, full: bool) -> dict[str, Any]:
        """Job info as ``POST jobs/ingest`` (``full=False``) or ``GET`` answers it."""
        body = self.base_info()
        if self.external_id:
            body["externalIdFieldName"] = self.external_id
        body["contentUrl"] = f"services/data/v{self.api_version}/jobs/ingest/{self.id}/batches"
        if full:
            body.update(
                {
                    "jobType": "V2Ingest",
                    "retries": 0,
                    "numberRecordsProcessed": self.processed,
                    "numberRecordsFailed": self.failed,
                    "totalProcessingTime": self.processing_ms,
                    "apiActiveProcessingTime": self.processing_ms,
                    "apexProcessingTime": 0,
                }
            )
            if self.error_message:
                body["errorMessage"] = self.error_message
        return body


@dataclass
class QueryJob(_Job):
    """A query job: the compiled query and, once run, its rows in output form."""

    query: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[Sequence[Any]] = field(default_factory=list)
    compiled: soql.CompiledQuery | None = None

    def info(self, *, full: bool) -> dict[str, Any]:
        """Job info as ``POST jobs/query`` (``full=False``) or ``GET`` answers it."""
        body = self.base_info()
        body["query"] = self.query
        if full:
            body.update(
                {
                    "jobType": "V2Query",
                    "numberRecordsProcessed": self.processed,
                    "retries": 0,
                    "totalProcessingTime": self.processing_ms,
                    "isPkChunkingSupported": False,
                }
            )
            if self.error_message:
                body["errorMessage"] = self.error_message
        return body


class JobRegistry:
    """The Bulk API jobs of one org, safe to use from the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, IngestJob | QueryJob] = {}

    def add(self, job: IngestJob | QueryJob) -> None:
        """Register a new job."""
        with self._lock:
            self._jobs[job.id] = job

    def ingest(self, job_id: str) -> IngestJob | None:
        """The ingest job with this id (15 or 18 characters), or None."""
        job = self._get(job_id)
        return job if isinstance(job, IngestJob) else None

    def query(self, job_id: str) -> QueryJob | None:
        """The query job with this id (15 or 18 characters), or None."""
        job = self._get(job_id)
        return job if isinstance(job, QueryJob) else None

    def remove(self, job_id: str) -> None:
        """Forget a job and its results."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def all(self) -> list[IngestJob | QueryJob]:
        """Every job, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def _get(self, job_id: str) -> IngestJob | QueryJob | None:
        if len(job_id) == 15 and job_id.isalnum():
            job_id = to18(job_id)
        with self._lock:
            return self._jobs.get(job_id)


_registries: weakref.WeakKeyDictionary[LocalOrg, JobRegistry] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def jobs_of(org: LocalOrg) -> JobRegistry:
    """The job registry of ``org`` (made on first use, gone with the org)."""
    with _registries_lock:
        registry = _registries.get(org)
        if registry is None:
            registry = _registries[org] = JobRegistry()
        return registry


# ---------------------------------------------------------------------- ingest endpoints
@bp.post(f"{JOBS}/ingest/", strict_slashes=False)
def create_ingest_job(version: str) -> Response:
    """Open an ingest job (state Open) for one object and operation."""
    org = current_org()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _job_error("JSON_PARSER_ERROR", "The request body is not a JSON object")
    operation = body.get("operation")
    if operation not in INGEST_OPERATIONS:
        return _job_error(
            "INVALIDJOB",
            f"InvalidJob : Invalid operation '{operation}': use one "
            f"of {', '.join(INGEST_OPERATIONS)}",
        )
    problem = _check_format(body)
    if problem:
        return _job_error("INVALIDJOB", problem)
    object_name = str(body.get("object") or "")
    try:
        info = org.store.object(object_name)
    except RecordFault:
        return _job_error(
            "INVALIDENTITY",
            f"InvalidEntity : sObject type '{object_name}' is not supported by the Bulk API",
        )
    external_id: str | None = None
    if operation == "upsert":
        name = str(body.get("externalIdFieldName") or "")
        ext = info.field(name) if name else None
        if (
            ext is None
            or not (ext.external_id or ext.name == "Id")
            or not (org.store.field_visible(info.name, ext))
        ):
            return _job_error(
                "INVALIDJOB",
                f"InvalidJob : Field name provided, {name or '(none)'}"
                f", is not an External ID or the Id field of {info.name}",
            )
        external_id = ext.name
    job = IngestJob(
        **_new_job(org, version, body),
        operation=operation,
        object_name=info.name,
        external_id=external_id,
    )
    jobs_of(org).add(job)
    return jsonify(job.info(full=False))


@bp.get(f"{JOBS}/ingest/", strict_slashes=False)
def list_ingest_jobs(version: str) -> Response:
    """Every ingest job of the org."""
    jobs = [j.info(full=False) for j in jobs_of(current_org()).all() if isinstance(j, IngestJob)]
    return jsonify({"done": True, "records": jobs, "nextRecordsUrl": None})


@bp.put(f"{JOBS}/ingest/<job_id>/batches/", strict_slashes=False)
def upload(version: str, job_id: str) -> Response:
    """Add CSV data to an Open job (201, no body)."""
    job = jobs_of(current_org()).ingest(job_id)
    if job is None:
        return _not_found()
    if job.state != "Open":
        return _wrong_state(job, "data can only be uploaded to an Open job")
    if request.mimetype != "text/csv":
        # "Upload Job Data": Formats text/csv.
        return _job_error(
            "UNSUPPORTED_MEDIA_TYPE",
            f"MediaType of '{request.mimetype or '(none)'}' is not supported by this resource",
            415,
        )
    data = request.get_data(cache=False)
    if sum(map(len, job.uploads)) + len(data) > MAX_UPLOAD_BYTES:
        return _job_error(
            "INVALIDBATCH",
            "InvalidBatch : a job's data cannot exceed 150 MB; split it into several jobs",
        )
    job.uploads.append(data)
    return Response(status=201)


@bp.route(f"{JOBS}/ingest/<job_id>/", methods=["GET", "PATCH", "DELETE"], strict_slashes=False)
def ingest_job(version: str, job_id: str) -> Response:
    """Read, close (``UploadComplete``), abort (``Aborted``) or delete an ingest job."""
    org = current_org()
    registry = jobs_of(org)
    job = registry.ingest(job_id)
    if job is None:
        return _not_found()
    if request.method == "GET":
        return jsonify(job.info(full=True))
    if request.method == "DELETE":
        return _delete_job(registry, job)
    body = request.get_json(silent=True)
    state = body.get("state") if isinstance(body, dict) else None
    if state == "UploadComplete":
        if job.state != "Open":
            return _wrong_state(job, "only an Open job can be closed")
        job.set_state("UploadComplete")
        info = job.info(full=False)
        _start(_run_ingest, org, job)
        return jsonify(info)
    if state == "Aborted":
        if job.state not in ("Open", "UploadComplete", "InProgress"):
            return _wrong_state(job, "it can no longer be aborted")
        job.set_state("Aborted")
        return jsonify(job.info(full=False))
    return _job_error(
        "INVALIDJOBSTATE",
        f"InvalidJobState : cannot set a job's state to '{state}': use UploadComplete or Aborted",
    )


@bp.get(f"{JOBS}/ingest/<job_id>/<kind>/", strict_slashes=False)
def ingest_results(version: str, job_id: str, kind: str) -> Response:
    """The per-row outcome of a finished job as CSV: successful, failed or unprocessed rows."""
    job = jobs_of(current_org()).ingest(job_id)
    if job is None or kind.lower() not in (
        "successfulresults",
        "failedresults",
        "unprocessedrecords",
    ):
        return _not_found()
    kind = kind.lower()
    if kind != "unprocessedrecords" and job.state not in ("JobComplete", "Failed", "Aborted"):
        return _wrong_state(job, "results are available once it is complete")
    if kind == "unprocessedrecords" and job.state == "Failed" and not job.header:
        # The data could not be read as CSV at all (encoding, line ending, row width,
        # mismatched headers): none of it was processed, so all of it comes back as sent.
        return Response(b"".join(job.uploads), mimetype="text/csv")
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    header = job.header
    if kind == "successfulresults":
        writer.writerow(["sf__Id", "sf__Created", *header])
        writer.writerows(
            [rid, "true" if created else "false", *cells] for rid, created, cells in job.successes
        )
    elif kind == "failedresults":
        writer.writerow(["sf__Id", "sf__Error", *header])
        writer.writerows([rid, error, *cells] for rid, error, cells in job.failures)
    else:
        if header:
            writer.writerow(header)
        writer.writerows(job.unprocessed)
    return Response(out.getvalue(), mimetype="text/csv")


# ---------------------------------------------------------------------- query endpoints
@bp.post(f"{JOBS}/query/", strict_slashes=False)
def create_query_job(version: str) -> Response:
    """Compile the SOQL of a query job (400 when it is invalid) and run it in the background."""
    org = current_org()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _job_error("JSON_PARSER_ERROR", "The request body is not a JSON object")
    operation = body.get("operation", "query")
    if operation not in QUERY_OPERATIONS:
        return _job_error(
            "INVALIDJOB",
            f"InvalidJob : Invalid operation '{operation}' for a query job: use query or queryAll",
        )
    problem = _check_format(body)
    if problem:
        return _job_error("INVALIDJOB", problem)
    text = str(body.get("query") or "")
    if not text.strip():
        return _job_error("MALFORMED_QUERY", "SOQL statement cannot be empty")
    try:
        compiled = soql.compile_soql(
            text, org.store.soql_schema(), include_deleted=operation == "queryAll"
        )
    except soql.SoqlError as exc:
        return _job_error(exc.error_code, str(exc))
    if compiled.count_only:
        return _job_error(
            "API_ERROR",
            "Aggregate queries such as COUNT() are not supported by "
            "Bulk API 2.0; use the REST query resource",
        )
    job = QueryJob(
        **_new_job(org, version, body),
        operation=operation,
        object_name=compiled.object_name,
        state="UploadComplete",
        query=text,
        compiled=compiled,
    )
    jobs_of(org).add(job)
    info = job.info(full=False)
    _start(_run_query, org, job)
    return jsonify(info)


@bp.get(f"{JOBS}/query/", strict_slashes=False)
def list_query_jobs(version: str) -> Response:
    """Every query job of the org."""
    jobs = [j.info(full=False) for j in jobs_of(current_org()).all() if isinstance(j, QueryJob)]
    return jsonify({"done": True, "records": jobs, "nextRecordsUrl": None})


@bp.route(f"{JOBS}/query/<job_id>/", methods=["GET", "PATCH", "DELETE"], strict_slashes=False)
def query_job(version: str, job_id: str) -> Response:
    """Read, abort or delete a query job."""
    registry = jobs_of(current_org())
    job = registry.query(job_id)
    if job is None:
        return _not_found()
    if request.method == "GET":
        return jsonify(job.info(full=True))
    if request.method == "DELETE":
        return _delete_job(registry, job)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or body.get("state") != "Aborted":
        return _job_error(
            "INVALIDJOBSTATE", "InvalidJobState : a query job can only be set to Aborted"
        )
    if job.state not in ("UploadComplete", "InProgress"):
        return _wrong_state(job, "it can no longer be aborted")
    job.set_state("Aborted")
    return jsonify(job.info(full=False))


@bp.get(f"{JOBS}/query/<job_id>/results/", strict_slashes=False)
def query_results(version: str, job_id: str) -> Response:
    """One page of a finished query job's rows as CSV, with the locator of the next page."""
    job = jobs_of(current_org()).query(job_id)
    if job is None:
        return _not_found()
    if job.state != "JobComplete":
        return _wrong_state(job, "results are available once it is JobComplete")
    page = request.args.get("maxRecords", "")
    if page and (not page.isdigit() or int(page) < 1):
        return _job_error(
            "INVALIDJOB", f"InvalidJob : maxRecords must be a positive integer, got '{page}'"
        )
    size = int(page) if page else DEFAULT_PAGE
    start = _offset(request.args.get("locator", ""))
    if start is None or start > len(job.rows):
        return _job_error(
            "INVALID_LOCATOR", "Invalid locator: use the Sforce-Locator header of the previous page"
        )
    end = min(start + size, len(job.rows))
    delimiter = DELIMITERS.get(job.column_delimiter, ",")
    newline = "\r\n" if job.line_ending == "CRLF" else "\n"
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator=newline)
    writer.writerow(job.columns)
    writer.writerows(job.rows[start:end])
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Sforce-Locator"] = _locator(end) if end < len(job.rows) else "null"
    response.headers["Sforce-NumberOfRecords"] = str(end - start)
    return response


# ---------------------------------------------------------------------- helpers
def _job_error(code: str, message: str, status: int = 400) -> Response:
    return sf_error(code, message, status)


def _not_found() -> Response:
    return sf_error("NOT_FOUND", "The requested resource does not exist", 404)


# "Delete a Job": "To be deleted, a job must have a state of UploadComplete, JobComplete,
# Aborted, or Failed" (Bulk API 2.0 Developer Guide, delete_job.htm): an Open job is aborted
# first, and one being processed is waited for.
_DELETABLE = ("UploadComplete", "JobComplete", "Aborted", "Failed")


def _delete_job(registry: JobRegistry, job: IngestJob | QueryJob) -> Response:
    if job.state not in _DELETABLE:
        hint = "abort it before deleting" if job.state == "Open" else "wait for it to finish"
        return _wrong_state(job, hint)
    registry.remove(job.id)
    return Response(status=204)


def _wrong_state(job: IngestJob | QueryJob, hint: str) -> Response:
    """INVALIDJOBSTATE: what the job's state does not allow, and what to do instead."""
    return _job_error("INVALIDJOBSTATE", f"InvalidJobState : Job {job.id} is {job.state}; {hint}")


class _NewJob(TypedDict):
    id: str
    api_version: str
    column_delimiter: str
    line_ending: str
    created_by: str


def _new_job(org: LocalOrg, version: str, body: dict[str, Any]) -> _NewJob:
    """What every new job takes from its request: id, version, CSV format, creator."""
    return {
        "id": org.store.ids.new("Job"),
        "api_version": api_version(version),
        "column_delimiter": str(body.get("columnDelimiter", "COMMA")),
        "line_ending": str(body.get("lineEnding", "LF")),
        "created_by": org.store.integration_user_id,
    }


def _check_format(body: dict[str, Any]) -> str | None:
    if str(body.get("contentType", "CSV")) != "CSV":
        return "InvalidJob : localorg's Bulk API 2.0 accepts contentType CSV only"
    if str(body.get("columnDelimiter", "COMMA")) not in DELIMITERS:
        return (
            f"InvalidJob : columnDelimiter must be one of {', '.join(DELIMITERS)}, "
            f"got '{body.get('columnDelimiter')}'"
        )
    if str(body.get("lineEnding", "LF")) not in LINE_ENDINGS:
        return f"InvalidJob : lineEnding must be LF or CRLF, got '{body.get('lineEnding')}'"
    return None


def _locator(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(locator: str) -> int | None:
    if not locator or locator == "null":
        return 0
    try:
        text = base64.urlsafe_b64decode(locator + "=" * (-len(locator) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _start(target: Any, org: LocalOrg, job: IngestJob | QueryJob) -> None:
    # The job runs as the user who created it: its thread gets a copy of this request's
    # context (localorg.access.CURRENT_USER), as a new thread would otherwise start empty.
    context = contextvars.copy_context()
    threading.Thread(
        target=context.run, args=(target, org, job), name=f"bulk-{job.id}", daemon=True
    ).start()


def _run_query(org: LocalOrg, job: QueryJob) -> None:
    """Run a query job's SQL and keep its rows in CSV form (booleans as true/false)."""
    started = time.monotonic()
    try:
        if job.state == "Aborted":
            return
        job.set_state("InProgress")
        compiled = job.compiled
        assert compiled is not None
        rows = org.store.execute(compiled.sql, compiled.params)
        job.columns, job.rows = _query_output(org.store, compiled, rows)
        job.processed = len(job.rows)
        if job.state != "Aborted":
            job.set_state("JobComplete")
    except Exception as exc:  # a job fails with a reason; it never kills the server thread
        log.exception("bulk query job %s failed", job.id)
        job.set_state("Failed", f"InternalServerError : {exc}")
    finally:
        job.processing_ms = int((time.monotonic() - started) * 1000)


def _query_output(
    store: OrgStore, compiled: soql.CompiledQuery, rows: list[tuple[Any, ...]]
) -> tuple[list[str], list[Sequence[Any]]]:
    """Column names as Salesforce prints them and rows trimmed to the SELECT list."""
    info = store.objects[compiled.object_name]
    columns: list[str] = []
    booleans: list[int] = []
    for i, path in enumerate(compiled.select_fields):
        rel, _, name = path.rpartition(".")
        target = store.objects[compiled.relationships[rel]] if rel else info
        f = target.field(name)
        canonical = f.name if f else name
        columns.append(f"{rel}.{canonical}" if rel else canonical)
        if f is not None and f.type == "boolean":
            booleans.append(i)
    width = len(columns)
    if not booleans:
        return columns, [row[:width] if len(row) > width else row for row in rows]
    out: list[Sequence[Any]] = []
    for row in rows:
        cells = list(row[:width])
        for i in booleans:
            if cells[i] is not None:
                cells[i] = "true" if cells[i] else "false"
        out.append(cells)
    return columns, out


# ---------------------------------------------------------------------- ingest processing
class _JobFailure(Exception):
    """The job's data cannot be processed at all; the message becomes ``errorMessage``."""


def _run_ingest(org: LocalOrg, job: IngestJob) -> None:
    """Process a closed ingest job: parse, validate per row, write, record every outcome."""
    started = time.monotonic()
    rows: list[list[str]] = []
    try:
        if job.state == "Aborted":
            return
        job.set_state("InProgress")
        job.header, rows = _parse(job)
        if job.header:
            _IngestRun(org, job).process(rows)
        if job.state != "Aborted":
            job.set_state("JobComplete")
    except _JobFailure as exc:
        job.unprocessed = rows
        job.set_state("Failed", str(exc))
    except Exception as exc:  # a job fails with a reason; it never kills the server thread
        log.exception("bulk ingest job %s failed", job.id)
        job.unprocessed = rows
        job.set_state("Failed", f"InternalServerError : {exc}")
    finally:
        job.processing_ms = int((time.monotonic() - started) * 1000)


def _parse(job: IngestJob) -> tuple[list[str], list[list[str]]]:
    """The header and data rows of every upload of the job (each upload repeats the header)."""
    header: list[str] | None = None
    rows: list[list[str]] = []
    delimiter = DELIMITERS[job.column_delimiter]
    for number, data in enumerate(job.uploads, start=1):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _JobFailure("ClientInputError : the CSV data is not UTF-8") from None
        first_break = text.find("\n")
        if job.line_ending == "LF" and first_break > 0 and text[first_break - 1] == "\r":
            raise _JobFailure(
                "ClientInputError : LineEnding is invalid on user data. Current "
                "LineEnding setting is LF"
            )
        if job.line_ending == "CRLF" and first_break > 0 and text[first_break - 1] != "\r":
            raise _JobFailure(
                "ClientInputError : LineEnding is invalid on user data. Current "
                "LineEnding setting is CRLF"
            )
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            this_header = next(reader)
            body = [row for row in reader if row]
        except StopIteration:
            continue
        except csv.Error as exc:
            raise _JobFailure(
                f"ClientInputError : upload {number} is not valid CSV: {exc}"
            ) from None
        if header is None:
            header = this_header
        elif [h.strip().lower() for h in this_header] != [h.strip().lower() for h in header]:
            raise _JobFailure(
                f"InvalidBatch : upload {number} has another header than the "
                "first; every upload of a job needs the same columns"
            )
        rows.extend(body)
    if header is None:
        return [], []
    for index, row in enumerate(rows, start=2):
        if len(row) != len(header):
            raise _JobFailure(
                f"InvalidBatch : row {index} has {len(row)} cells but the header "
                f"has {len(header)} columns"
            )
    return header, rows


@dataclass
class _Pending:
    """A row that passed validation and waits for the write."""

    index: int
    values: dict[str, Any]
    record_id: str | None = None
    before: dict[str, Any] | None = None
    person_contact: str | None = None  # an Account row whose __pc values land on this Contact


class _IngestRun:
    """One ingest job's processing: column plan, per-row checks, then one batch write."""

    def __init__(self, org: LocalOrg, job: IngestJob) -> None:
        self.org = org
        self.store = org.store
        self.job = job
        self.info = self.store.objects[job.object_name]
        self.fields = self._columns(job.header)
        self.names = [f.name for f in self.fields]
        self.check_new = self.store.row_checker(self.info, self.names, creating=True)
        self.check_old = self.store.row_checker(self.info, self.names, creating=False)
        self.outcome: dict[int, tuple[str, bool | str]] = {}
        # which cells go into a write body, by the key column left out (see _body)
        self._kept: dict[str | None, list[bool]] = {}

    # ---------------------------------------------------------------- plan
    def _columns(self, header: list[str]) -> list[FieldInfo]:
        """Resolve every header cell to a field, or fail the job the way Salesforce does."""
        fields: list[FieldInfo] = []
        seen: set[str] = set()
        for raw in header:
            name = raw.strip()
            if "." in name:
                raise _JobFailure(
                    f"InvalidBatch : Relationship column '{name}' is not supported by localorg; "
                    f"send the parent's Id in the lookup field instead (e.g. "
                    f"{name.split('.')[0]}Id)"
                )
            f = self.info.field(name)
            if f is None or not self.store.field_visible(self.info.name, f):
                raise _JobFailure(f"InvalidBatch : Field name not found : {name}")
            if f.name in seen:
                raise _JobFailure(f"InvalidBatch : Duplicate field name : {f.name}")
            seen.add(f.name)
            fields.append(f)
        key = {
            "update": "Id",
            "delete": "Id",
            "hardDelete": "Id",
            "upsert": self.job.external_id,
        }.get(self.job.operation)
        if key and key not in seen:
            raise _JobFailure(
                f"InvalidBatch : the {self.job.operation} operation needs a "
                f"'{key}' column in the CSV header"
            )
        return fields

    # ---------------------------------------------------------------- rows
    def process(self, rows: list[list[str]]) -> None:
        """Check every row, write the good ones in one transaction, record every outcome."""
        op = self.job.operation
        if op in ("delete", "hardDelete"):
            self._delete(rows, hard=op == "hardDelete")
        else:
            self._save(rows, op)
        job = self.job
        for index, cells in enumerate(rows):
            record_id, result = self.outcome[index]
            if isinstance(result, bool):
                job.successes.append((record_id, result, cells))
            else:
                job.failures.append((record_id, result, cells))
        job.processed = len(rows)
        job.failed = len(job.failures)

    def _fail(self, index: int, record_id: str, errors: Iterable[RecordError]) -> None:
        self.outcome[index] = (
            record_id,
            " ".join(f"{e.status_code}:{e.message}:{','.join(e.fields)} --" for e in errors),
        )

    def _injected(self, index: int, record_id: str) -> bool:
        code = self.org.faults.draw_row()
        if code:
            message = _LOCK_MESSAGE if code == "UNABLE_TO_LOCK_ROW" else code
            self._fail(index, record_id, [RecordError(code, message, [])])
        return bool(code)

    def _body(self, cells: list[str], skip: str | None) -> dict[str, str | None]:
        """A write body from one row: empty cells left out, ``#N/A`` as null."""
        kept = self._kept.get(skip)
        if kept is None:
            kept = self._kept[skip] = [n not in ("Id", skip) for n in self.names]
        body: dict[str, str | None] = {
            name: cell for name, cell in compress(zip(self.names, cells, strict=True), kept) if cell
        }
        if NULL_MARK in body.values():
            body = {name: None if cell == NULL_MARK else cell for name, cell in body.items()}
        return body

    def _clean(
        self, index: int, record_id: str, body: dict[str, str | None], creating: bool
    ) -> dict[str, Any] | None:
        try:
            return (self.check_new if creating else self.check_old)(body)
        except RecordFault as exc:
            self._fail(index, record_id, exc.errors)
            return None

    def _save(self, rows: list[list[str]], op: str) -> None:
        """insert / update / upsert: decide per row, then write all in one transaction."""
        key = "Id" if op == "update" else self.job.external_id
        key_at = [f.name for f in self.fields].index(key) if key else -1
        keys = [_key(row[key_at], key) for row in rows] if key else []
        matches = self._matches(key, keys) if key else {}
        inserts: list[_Pending] = []
        updates: list[_Pending] = []
        first_row: dict[str, int] = {}
        for index, cells in enumerate(rows):
            value = keys[index] if key else ""
            given_id = value if key == "Id" else ""
            if self._injected(index, given_id):
                continue
            if key and value:
                if value in first_row:
                    what = "id" if key == "Id" else "external id"
                    self._fail(
                        index,
                        given_id,
                        [
                            RecordError(
                                "DUPLICATE_VALUE", f"Duplicate {what} specified: {value}", [key]
                            )
                        ],
                    )
                    continue
                first_row[value] = index
            if op == "insert" or (op == "upsert" and not value and key == "Id"):
                values = self._clean(index, "", self._body(cells, None), creating=True)
                if values is not None:
                    inserts.append(_Pending(index, values))
                continue
            if not value:
                message = (
                    "Id not specified in an update call" if key == "Id" else f"{key} not specified"
                )
                self._fail(index, "", [RecordError("MISSING_ARGUMENT", message, [str(key)])])
                continue
            if key == "Id" and not _is_id(value):
                self._fail(
                    index, value, [RecordError("MALFORMED_ID", f"Id: invalid id: {value}", ["Id"])]
                )
                continue
            found = matches.get(value, [])
            if len(found) > 1:
                self._fail(
                    index,
                    "",
                    [
                        RecordError(
                            "DUPLICATE_EXTERNAL_ID",
                            f"{key}: more than one record found for external id field: {found}",
                            [str(key)],
                        )
                    ],
                )
            elif found:
                before = found[0]
                record_id = str(before["Id"])
                if before["IsDeleted"]:
                    self._fail(
                        index,
                        record_id,
                        [RecordError("ENTITY_IS_DELETED", "entity is deleted", [])],
                    )
                    continue
                body = self._body(cells, key)
                person_contact = None
                try:
                    refuse_converted(self.info.name, before)
                    if self.store.features.person_accounts:
                        person_contact = person_accounts.check_update(
                            self.store, self.info.name, before, body
                        )
                except RecordFault as exc:
                    self._fail(index, record_id, exc.errors)
                    continue
                values = self._clean(index, record_id, body, creating=False)
                if values is not None:
                    updates.append(_Pending(index, values, record_id, before, person_contact))
            elif key == "Id":
                code = "INVALID_CROSS_REFERENCE_KEY" if op == "update" else "NOT_FOUND"
                self._fail(
                    index,
                    value,
                    [
                        RecordError(
                            code,
                            "invalid cross reference id"
                            if op == "update"
                            else f"The requested resource does not exist: {value}",
                            ["Id"],
                        )
                    ],
                )
            else:
                values = self._clean(index, "", self._body(cells, None), creating=True)
                if values is not None:
                    inserts.append(_Pending(index, values))
        self._write(inserts, updates)

    def _matches(self, key: str | None, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Existing records by key value (by Id: deleted ones too, to say ENTITY_IS_DELETED)."""
        names = list(self.info.fields)
        cols = ", ".join(f'"{n}"' for n in names)
        wanted = sorted({k for k in keys if k and (key != "Id" or _is_id(k))})
        found: dict[str, list[dict[str, Any]]] = {}
        live = "" if key == "Id" else ' AND "IsDeleted" = 0'
        for chunk in _chunks(wanted, _IN_CHUNK):
            marks = ", ".join("?" * len(chunk))
            sql = f'SELECT {cols} FROM "{self.info.name}" WHERE "{key}" IN ({marks}){live}'
            for row in self.store.execute(sql, chunk):
                record = dict(zip(names, row, strict=True))
                found.setdefault(str(record[str(key)]), []).append(record)
        return found

    def _write(self, inserts: list[_Pending], updates: list[_Pending]) -> None:
        """Write every validated row in one transaction, then run record-triggered flows."""
        info, store = self.info, self.store
        stamp = now_text()
        user = store.integration_user_id
        ids = store.ids.batch(info.name, len(inserts)) if inserts else []
        defaults = {
            f.name: int(bool(f.default)) if f.type == "boolean" else f.default
            for f in info.fields.values()
            if f.default is not None
        }
        system = {
            "IsDeleted": 0,
            "CreatedDate": stamp,
            "LastModifiedDate": stamp,
            "SystemModstamp": stamp,
            "CreatedById": user,
            "LastModifiedById": user,
        }
        possible = {
            *defaults,
            *system,
            "Id",
            "OwnerId",
            "Name",
            "TotalPrice",
            "OrderNumber",
            *self.names,
        }
        insert_cols = [c for c, f in info.fields.items() if c in possible and not f.generated]
        # Every row starts from the same template, so one itemgetter turns it into a tuple.
        template = dict.fromkeys(insert_cols)
        template.update(defaults)
        template.update(system)
        owner = "OwnerId" in info.fields
        created: list[dict[str, Any]] = []
        for pending, record_id in zip(inserts, ids, strict=True):
            row = template.copy()
            row.update(pending.values)
            row["Id"] = record_id
            if owner and not row["OwnerId"]:
                row["OwnerId"] = user
            store.derive(info, row)
            pending.record_id = record_id
            created.append(row)
        changed: list[dict[str, Any]] = []
        derived = [n for n in ("Name", "TotalPrice") if n in info.fields]
        for pending in updates:
            assert pending.before is not None
            merged = {**pending.before, **pending.values}
            store.derive(info, merged)
            merged.update(
                {"LastModifiedDate": stamp, "SystemModstamp": stamp, "LastModifiedById": user}
            )
            changed.append(merged)
        set_cols = (
            [f.name for f in self.fields if f.name != "Id"]
            + derived
            + ["LastModifiedDate", "SystemModstamp", "LastModifiedById"]
        )
        set_cols = list(dict.fromkeys(set_cols))
        orders = (
            {str(r["OrderId"]) for r in [*created, *changed] if r.get("OrderId")}
            if info.name == "OrderItem"
            else set()
        )
        with store.transaction() as conn:
            if created:
                getter = operator.itemgetter(*insert_cols)
                conn.executemany(
                    f'INSERT INTO "{info.name}" ({", ".join(_q(c) for c in insert_cols)}) '
                    f"VALUES ({', '.join('?' * len(insert_cols))})",
                    map(getter, created),
                )
            if changed:
                conn.executemany(
                    f'UPDATE "{info.name}" SET {", ".join(f"{_q(c)} = ?" for c in set_cols)} '
                    'WHERE "Id" = ?',
                    map(operator.itemgetter(*set_cols, "Id"), changed),
                )
            for order_id in orders:
                store.rollup(conn, info, {"OrderId": order_id})
            for pending in updates:
                if pending.person_contact:
                    person_accounts.copy_to_contact(
                        conn,
                        pending.person_contact,
                        {**pending.values, "LastModifiedById": user},
                        stamp,
                    )
        for pending in inserts:
            assert pending.record_id is not None
            self.outcome[pending.index] = (pending.record_id, True)
        for pending in updates:
            assert pending.record_id is not None
            self.outcome[pending.index] = (pending.record_id, False)
        self._flows(
            [(None, row) for row in created]
            + [(p.before, row) for p, row in zip(updates, changed, strict=True)]
        )

    def _flows(self, saves: list[tuple[dict[str, Any] | None, dict[str, Any]]]) -> None:
        flows = self.store.flows
        if not any(f.get("object") == self.info.name for f in flows.record_triggered):
            return
        for before, after in saves:
            flows.after_save(
                self.store,
                self.info.name,
                _rest_view(self.info, before) if before is not None else None,
                _rest_view(self.info, after),
            )

    def _delete(self, rows: list[list[str]], *, hard: bool) -> None:
        """delete / hardDelete by Id; a soft delete keeps the row for queryAll."""
        at = [f.name for f in self.fields].index("Id")
        ids = [_key(row[at], "Id") for row in rows]
        found = self._matches("Id", ids)
        doomed: list[tuple[int, str]] = []
        seen: set[str] = set()
        for index, record_id in enumerate(ids):
            if self._injected(index, record_id):
                continue
            if not record_id:
                self._fail(index, "", [RecordError("MISSING_ARGUMENT", "Id not specified", ["Id"])])
            elif not _is_id(record_id):
                self._fail(
                    index,
                    record_id,
                    [RecordError("MALFORMED_ID", f"Id: invalid id: {record_id}", ["Id"])],
                )
            elif record_id not in found or record_id in seen:
                self._fail(
                    index,
                    record_id,
                    [RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [])],
                )
            elif found[record_id][0]["IsDeleted"] and not hard:
                self._fail(
                    index, record_id, [RecordError("ENTITY_IS_DELETED", "entity is deleted", [])]
                )
            else:
                seen.add(record_id)
                doomed.append((index, record_id))
        stamp = now_text()
        orders = {
            str(found[rid][0].get("OrderId")) for _, rid in doomed if found[rid][0].get("OrderId")
        }
        name = self.info.name
        with self.store.transaction() as conn:
            if hard:
                conn.executemany(
                    f'DELETE FROM "{name}" WHERE "Id" = ?', [(rid,) for _, rid in doomed]
                )
            else:
                user = self.store.integration_user_id
                conn.executemany(
                    f'UPDATE "{name}" SET "IsDeleted" = 1, "SystemModstamp" = ?, '
                    '"LastModifiedDate" = ?, "LastModifiedById" = ? WHERE "Id" = ?',
                    [(stamp, stamp, user, rid) for _, rid in doomed],
                )
            if name == "OrderItem":
                for order_id in orders:
                    self.store.rollup(conn, self.info, {"OrderId": order_id})
        for index, record_id in doomed:
            self.outcome[index] = (record_id, False)


def _key(cell: str, key: str | None) -> str:
    value = cell.strip()
    if key == "Id" and len(value) == 15 and value.isalnum():
        return to18(value)
    return value


def _is_id(value: str) -> bool:
    return is_valid(value) and object_for_id(value) is not None


def _q(name: str) -> str:
    return f'"{name}"'


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rest_view(info: ObjectInfo, values: dict[str, Any]) -> dict[str, Any]:
    """Stored values as a REST record reads them (booleans as bool), for flow conditions."""
    return {
        k: bool(v) if v is not None and k in info.fields and info.fields[k].type == "boolean" else v
        for k, v in values.items()
    }

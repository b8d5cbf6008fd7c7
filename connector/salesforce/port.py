"""The Salesforce port: every call the connector makes to an org, as one Protocol.

:class:`SalesforcePort` is the one statement of what the rest of the connector may ask of
Salesforce. :class:`~connector.salesforce.client.SalesforceClient` is its implementation (over
simple-salesforce and requests); every consumer types its client as the port, and a test
double, should one be needed, implements the whole port. A narrower Protocol per consumer is
not written: the port is the contract, and one contract is read in one place.

Rules the port keeps:

1. **SOQL lives in ``connector/salesforce/``.** Consumers call named reads
   (:meth:`~SalesforcePort.currency_types`, :meth:`~SalesforcePort.journal_types`,
   :meth:`~SalesforcePort.records_by_id`...) built with ``format_soql``; ``query`` and
   ``tooling_query`` take SOQL text and are for code inside this package (field deploy and
   the permission checks).
2. **One read or write is one call kind**, counted in ``calls``; a named read costs exactly
   the calls its SOQL would (one query plus its ``queryMore`` pages).
3. **Batch sizes are declared here** and read by everyone: :data:`COLLECTION_LIMIT` records
   per sObject Collections call, :data:`FLOW_BATCH` inputs per Actions API call,
   :data:`ID_BATCH` ids per ``WHERE Id IN`` read, :data:`BULK_JOB_CALLS` per ingest job.

The value types a call returns (:class:`RowResult`, :class:`ApiUsage`) and takes
(:class:`Echoes`) live here too, so a consumer imports nothing of the client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from connector.salesforce.errors import RETRYABLE_ROW_CODES

#: Records per sObject Collections call (create, update, upsert): Salesforce refuses a 201st
#: with EXCEEDED_ID_LIMIT (REST API Developer Guide, "sObject Collections").
COLLECTION_LIMIT = 200
#: Runs of consecutive records of one object per sObject Collections update: the list "can
#: contain objects of different types", processed "as chunks", "up to 10 chunks" per request
#: (REST API Developer Guide, "Update Records Using sObject Collections").
COLLECTION_CHUNKS = 10
#: Inputs per Actions API call (``actions/custom/flow/<name>``). The Actions Developer Guide
#: ("Flow Actions") states no per-call limit; none was found elsewhere, so the strict choice is
#: the Collections limit, the size of one Flow interview batch in a transaction.
FLOW_BATCH = 200
#: What one Bulk API 2.0 ingest job costs in calls, about (a dry run's plan counts it): create,
#: upload, close, a few polls, successful and failed results.
BULK_JOB_CALLS = 7
#: Ids per ``WHERE Id IN (...)`` read: a collection's worth, and a GET URL well under
#: Salesforce's 16,384 characters (200 quoted 18-character ids are about 4,400).
ID_BATCH = 200


@dataclass(frozen=True)
class ApiUsage:
    """Daily API requests used and allowed, from the last ``Sforce-Limit-Info`` header."""

    used: int
    max: int


@dataclass(frozen=True)
class RowResult:
    """The outcome of writing one record, in the order the records were given."""

    record_id: str | None
    success: bool
    error_code: str | None = None
    message: str | None = None

    @property
    def retryable(self) -> bool:
        """True when the row failed for a transient reason: send it again later."""
        return not self.success and self.error_code in RETRYABLE_ROW_CODES


@dataclass(frozen=True)
class Echoes:
    """The rows a window query leaves out (or, with ``only``, reads alone): those last saved
    by ``user_id`` with a ``SystemModstamp`` inside one of ``spans`` (``[start, end)``).

    Salesforce sets ``LastModifiedById`` and ``SystemModstamp`` on every save ("System
    Fields", SOAP API Developer Guide), so a record our write-back saved, and nobody after
    it, carries our user id and a stamp inside the push's span: an echo of our own write.
    """

    user_id: str
    spans: tuple[tuple[datetime, datetime], ...]
    only: bool = False


class SalesforcePort(Protocol):
    """What the connector asks of one Salesforce org (see the module docstring)."""

    #: Calls made so far, per kind (``query``, ``collection_update``, ``flow``...).
    calls: dict[str, int]
    #: The signed-in user, from the token's identity URL (None before the first sign-in).
    token_user_id: str | None

    # ------------------------------------------------------------------ session
    def begin_run(self) -> None:
        """Forget the last API usage seen: a new run learns it afresh."""
        ...

    def user_id(self) -> str:
        """The id of the signed-in user."""
        ...

    def api_versions(self) -> list[str]:
        """The REST API versions the org serves, oldest first."""
        ...

    def limits(self) -> dict[str, Any]:
        """The org's ``/limits``."""
        ...

    # ------------------------------------------------------------------ describe
    def describe(self, object_name: str) -> dict[str, Any]:
        """One object's describe."""
        ...

    def describe_global(self) -> dict[str, Any]:
        """The global describe: every object of the org."""
        ...

    # ------------------------------------------------------------------ window reads
    def query_window(
        self,
        object_name: str,
        fields: Sequence[str],
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None = None,
    ) -> Iterable[list[dict[str, Any]]]:
        """Pages of rows with ``since <= SystemModstamp < until``, deleted ones too."""
        ...

    def bulk_query_window(
        self,
        object_name: str,
        fields: Sequence[str],
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None = None,
    ) -> Iterable[list[dict[str, Any]]]:
        """The rows of :meth:`query_window` through one Bulk API 2.0 job."""
        ...

    def count_window(
        self,
        object_name: str,
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None = None,
    ) -> int:
        """How many rows :meth:`query_window` would return."""
        ...

    def window_soql(
        self,
        object_name: str,
        fields: Iterable[str],
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None = None,
        *,
        order: bool = True,
    ) -> str:
        """The SOQL text of :meth:`query_window` (benchmarks run it as their baseline)."""
        ...

    def live_ids(self, object_name: str, *, bulk: bool = False) -> set[str]:
        """The Id of every live record of ``object_name``."""
        ...

    # ------------------------------------------------------------------ named reads
    def records_by_id(
        self, object_name: str, fields: Sequence[str], ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        """``Id`` and ``fields`` of the records ``ids`` (at most :data:`ID_BATCH`), one query."""
        ...

    def currency_types(self) -> list[dict[str, Any]]:
        """Every CurrencyType row (``IsoCode``, ``ConversionRate``, ``IsCorporate``)."""
        ...

    def dated_conversion_rates(self) -> list[dict[str, Any]]:
        """Every DatedConversionRate row (``IsoCode``, ``ConversionRate``, ``StartDate``,
        ``NextStartDate``)."""
        ...

    def journal_types(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """The JournalType rows (``Id``, ``Name``) of the given names."""
        ...

    def top_records(
        self,
        object_name: str,
        fields: Sequence[str],
        *,
        by: str,
        limit: int,
        where: Sequence[tuple[str, str, Any]] = (),
    ) -> list[dict[str, Any]]:
        """The first ``limit`` records by ``by`` descending, filtered by ``where``
        (``(field, operator, value)`` triples joined by AND; ``IN`` takes a list)."""
        ...

    # ------------------------------------------------------------------ SOQL (this package)
    def query(
        self, soql: str, *args: Any, include_deleted: bool = False, **params: Any
    ) -> list[dict[str, Any]]:
        """Every record of a SOQL statement; for code inside ``connector/salesforce/``."""
        ...

    def tooling_query(self, soql: str, *args: Any, **params: Any) -> list[dict[str, Any]]:
        """Every record of a Tooling API query; for code inside ``connector/salesforce/``."""
        ...

    # ------------------------------------------------------------------ writes
    def update_collection(self, object_name: str, records: list[dict[str, Any]]) -> list[RowResult]:
        """Update up to :data:`COLLECTION_LIMIT` records by ``Id`` in one call."""
        ...

    def update_records(self, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[RowResult]:
        """Update up to :data:`COLLECTION_LIMIT` records by ``Id`` in one call, each given as
        (object name, fields); objects may differ, grouped in at most
        :data:`COLLECTION_CHUNKS` runs."""
        ...

    def upsert_collection(
        self, object_name: str, external_id_field: str, records: list[dict[str, Any]]
    ) -> list[RowResult]:
        """Upsert up to :data:`COLLECTION_LIMIT` records on an External ID field in one call."""
        ...

    def bulk_upsert(
        self,
        object_name: str,
        records: list[dict[str, Any]],
        external_id_field: str = "Id",
    ) -> list[RowResult]:
        """Write ``records`` through Bulk API 2.0 (update by Id, else upsert)."""
        ...

    def create(
        self, object_name: str, body: Mapping[str, Any], *, unique: bool = False
    ) -> dict[str, Any]:
        """Create one record; Salesforce's ``{"id", "success", "errors"}``. ``unique``: the org
        refuses a second such record, so a repeat after a lost answer is safe (retried)."""
        ...

    def update(self, object_name: str, record_id: str, body: Mapping[str, Any]) -> None:
        """Update one record by id."""
        ...

    def create_tooling(self, sobject: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a Tooling API record (``CustomField``); the save result."""
        ...

    def update_tooling(self, sobject: str, record_id: str, body: Mapping[str, Any]) -> None:
        """Update a Tooling API record by id (a ``CustomField``'s ``Metadata``)."""
        ...

    # ------------------------------------------------------------------ flows
    def invoke_flow(self, name: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run the autolaunched flow ``name`` once per input (at most :data:`FLOW_BATCH`);
        one result per input, also when part of the batch failed."""
        ...

    def describe_flow(self, name: str) -> dict[str, Any]:
        """The Actions API describe of the active autolaunched flow ``name`` (its declared
        ``inputs``); FatalError NOT_FOUND when the org serves none of that name."""
        ...


__all__ = [
    "BULK_JOB_CALLS",
    "COLLECTION_CHUNKS",
    "COLLECTION_LIMIT",
    "FLOW_BATCH",
    "ID_BATCH",
    "ApiUsage",
    "Echoes",
    "RowResult",
    "SalesforcePort",
]

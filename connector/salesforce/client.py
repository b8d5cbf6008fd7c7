"""The narrow, typed Salesforce client: every call the connector makes to an org goes here.

It implements :class:`~connector.salesforce.port.SalesforcePort`, the one Protocol the rest of
the connector types its client as; the port also holds the value types and batch sizes.

Each method is one explicit operation (paged window queries, collection updates, Bulk API 2.0,
tooling, flows, limits) over simple-salesforce's session, URLs and SOQL formatting. Every call:

- is refused up front with :class:`QuotaExhausted` once the configured share of the daily limit
  is used (read from ``Sforce-Limit-Info`` after each call), so a run stops cleanly;
- re-authenticates once on ``INVALID_SESSION_ID``;
- is retried with jittered exponential backoff on 5xx, SERVER_UNAVAILABLE, whole-request
  UNABLE_TO_LOCK_ROW, connection errors and timeouts, then raises :class:`RetryableError`;
- except a write that is not idempotent in effect (``idempotent=False``: every save fires the
  record's Flows and bumps its SystemModstamp, even with the same values): once it was sent, a
  5xx answer, a reset connection or a read timeout raises :class:`OutcomeUnknown` at once.
  Salesforce may have applied it ("500: An error has occurred within Lightning Platform, so the
  request couldn't be completed" says nothing of what was saved before; REST API Developer
  Guide, "Status Codes and Error Responses"), so the caller reads the org back instead of
  sending it again. Only a call that never left (a refused connection, a connect timeout)
  or that Salesforce refused with a 4xx (nothing applied) is retried;
- is counted per kind in :attr:`SalesforceClient.calls`.
"""

from __future__ import annotations

import csv
import io
import logging
import random as _random
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql
from urllib3.exceptions import ConnectTimeoutError

from connector.backoff import backoff_delay
from connector.config import Settings
from connector.salesforce.auth import Authenticator, make_session
from connector.salesforce.errors import (
    SESSION_CODES,
    FatalError,
    OutcomeUnknown,
    QuotaExhausted,
    RetryableError,
    SalesforceError,
    classify,
)
from connector.salesforce.port import (
    COLLECTION_CHUNKS,
    COLLECTION_LIMIT,
    FLOW_BATCH,
    ID_BATCH,
    ApiUsage,
    Echoes,
    RowResult,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")

QUERY_PAGE_SIZE = 2000
BULK_QUERY_PAGE = 50_000
# Bulk API 2.0 accepts 150 MB per upload (base64 counted); stay well under it.
BULK_UPLOAD_BYTES = 64 * 1024 * 1024
BULK_POLL_FIRST_SECONDS = 0.5
BULK_POLL_MAX_SECONDS = 10.0
# Each poll waits this much longer than the last, so a finished job is noticed within a quarter
# of its own run time. Doubling (polls at 0.5, 1.5, 3.5, 7.5 s) noticed the medium seed's
# 300,000-Order query job, done in 3.9 s, at 7.5 s: the whole pull waited 3.6 s for nothing.
# A quarter costs about two polls more per job than doubling.
BULK_POLL_GROWTH = 1.25
BULK_TIMEOUT_SECONDS = 3600.0
CLEAR = "#N/A"  # a Bulk API 2.0 cell that sets the field to null
REQUEST_TIMEOUT = (10.0, 120.0)
KINDS = (
    "auth",
    "query",
    "query_more",
    "describe",
    "collection_update",
    "bulk_job",
    "tooling",
    "create",
    "flow",
    "limits",
    "update",
)

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")
_OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "IN")
_FROM = re.compile(r"\bFROM\s+([A-Za-z][A-Za-z0-9_]*)", re.IGNORECASE)
_INTEGER_TYPES = frozenset({"int", "long"})
_FLOAT_TYPES = frozenset({"double", "currency", "percent"})


def parse_limit_info(header: str) -> ApiUsage | None:
    """``api-usage=used/max`` out of a ``Sforce-Limit-Info`` header (other parts ignored)."""
    match = _USAGE.search(header)
    return ApiUsage(int(match.group(1)), int(match.group(2))) if match else None


class SalesforceClient:
    """One org, one session; see the module docstring for what every call goes through."""

    def __init__(
        self,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.settings = settings
        self.session = session or make_session(settings)
        self.calls: dict[str, int] = dict.fromkeys(KINDS, 0)
        self.usage: ApiUsage | None = None
        self._sleep = sleep
        self._random = random
        self._auth = Authenticator(settings, self.session)
        self._sf: Salesforce | None = None
        self._describes: dict[str, dict[str, Any]] = {}
        self._identity_url = ""
        # The integration user, learnt at sign-in: the sync tells its own echoes by it.
        self.token_user_id: str | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
    ) -> SalesforceClient:
        """A client signed in to the org of ``settings`` (:class:`ConfigError` if refused)."""
        client = cls(settings, sleep=sleep, random=random)
        client.authenticate()
        return client

    # ------------------------------------------------------------------ plumbing
    @property
    def calls_total(self) -> int:
        """Every call made so far, sign-ins included."""
        return sum(self.calls.values())

    @property
    def auth_flow(self) -> str:
        """The OAuth flow this client signs in with."""
        return self._auth.flow

    @property
    def instance_url(self) -> str:
        """The org's instance URL (signs in first if needed)."""
        return "https://" + self._api().sf_instance

    def begin_run(self) -> None:
        """Forget the last API usage seen: a new run learns it afresh from its first call.

        A long-lived process (the clock) would otherwise keep refusing calls after the daily
        limit has reset, having no call left to learn that it did.
        """
        self.usage = None

    def authenticate(self) -> None:
        """Get a new access token and bind simple-salesforce to it."""
        self._count("auth")
        token = self._retrying("sign-in", self._auth.token)
        self._identity_url = token.identity_url
        self.token_user_id = token.user_id
        self._sf = Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            session=self.session,
            version=self.settings.salesforce_api_version,
        )

    def _api(self) -> Salesforce:
        if self._sf is None:
            self.authenticate()
        assert self._sf is not None
        return self._sf

    def _count(self, kind: str) -> None:
        self.calls[kind] = self.calls.get(kind, 0) + 1

    def _check_quota(self, what: str) -> None:
        usage = self.usage
        if usage is not None and usage.used >= self.settings.quota_share * usage.max:
            raise QuotaExhausted(
                f"{what}: not sent, {usage.used} of {usage.max} daily API calls are used, "
                f"the configured share is {self.settings.quota_share:.0%} "
                "(L2L_QUOTA_SHARE); the run stops here and resumes tomorrow",
                error_code="QUOTA_SHARE_REACHED",
            )

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, self.settings.retry_base_seconds, self._random)

    def _retrying(self, what: str, attempt_once: Callable[[], _T]) -> _T:
        attempt = 0
        while True:
            try:
                return attempt_once()
            except OutcomeUnknown:
                raise  # sent, maybe applied: never repeated here (see the module docstring)
            except RetryableError as exc:
                if attempt >= self.settings.max_retries:
                    raise
                delay = self._backoff(attempt)
                attempt += 1
                log.info(
                    "%s: %s, retry %d of %d in %.2fs",
                    what,
                    exc.error_code,
                    attempt,
                    self.settings.max_retries,
                    delay,
                )
                self._sleep(delay)

    def _call(
        self,
        kind: str,
        method: str,
        url: str,
        *,
        what: str,
        idempotent: bool = True,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
    ) -> requests.Response:
        """One API call with quota guard, re-sign-in, retries and accounting.

        ``url`` is relative to the versioned REST base (``query/``) or, starting with ``/``,
        to the instance (a ``nextRecordsUrl``). ``accept``: error statuses whose body the
        caller reads itself (returned, not raised).
        """
        reauthenticated = False

        def once() -> requests.Response:
            nonlocal reauthenticated
            self._check_quota(what)
            sf = self._api()
            full = self.instance_url + url if url.startswith("/") else sf.base_url + url
            sent_headers = dict(sf.headers)
            sent_headers.update(headers or {})
            self._count(kind)
            log.debug("%s %s (%s)", method, full.split("?", 1)[0], kind)
            try:
                response = self.session.request(
                    method,
                    full,
                    params=params,
                    json=json,
                    data=data,
                    headers=sent_headers,
                    timeout=REQUEST_TIMEOUT,
                )
            except requests.exceptions.SSLError:
                raise FatalError(
                    f"{what}: TLS verification failed; check L2L_SALESFORCE_CA_BUNDLE",
                    error_code="SSLError",
                ) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not idempotent and not _never_sent(exc):
                    raise OutcomeUnknown(
                        f"{what}: sent, but no answer came back ({type(exc).__name__}); "
                        "Salesforce may have saved it, so it is read back, not sent again",
                        error_code=type(exc).__name__,
                    ) from None
                raise RetryableError(
                    f"{what}: no answer from Salesforce ({type(exc).__name__}); retry later",
                    error_code=type(exc).__name__,
                ) from None
            usage = parse_limit_info(response.headers.get("Sforce-Limit-Info", ""))
            if usage is not None:
                self.usage = usage
            if response.ok or response.status_code in accept:
                return response
            code = _error_code(response)
            if (response.status_code == 401 or code in SESSION_CODES) and not reauthenticated:
                log.info("%s: session expired, signing in again", what)
                reauthenticated = True
                self.authenticate()
                return once()
            if not idempotent and response.status_code >= 500:
                raise OutcomeUnknown(
                    f"{what}: sent, and Salesforce answered {response.status_code} "
                    f"({code or 'no error code'}); it may have saved it, so it is read back, "
                    "not sent again",
                    error_code=code or f"HTTP_{response.status_code}",
                    status=response.status_code,
                )
            raise classify(response.status_code, code, what)

        return self._retrying(what, once)

    def _json(self, kind: str, method: str, url: str, *, what: str, **kwargs: Any) -> Any:
        response = self._call(kind, method, url, what=what, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise FatalError(
                f"{what}: Salesforce answered with something other than JSON; "
                "check L2L_SALESFORCE_LOGIN_URL points at a Salesforce org",
                error_code="UNEXPECTED_RESPONSE",
                status=response.status_code,
            ) from None

    # ------------------------------------------------------------------ queries
    def query_window(
        self,
        object_name: str,
        fields: Iterable[str],
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Rows of ``object_name`` with ``since <= SystemModstamp < until``, deleted ones too.

        Pages of up to 2,000 records, ordered by ``SystemModstamp, Id``, each record a plain
        dict without ``attributes``. Bounds must be timezone-aware; SOQL has second precision.
        With ``echoes``, the rows they describe are left out (or read alone).
        """
        soql = self.window_soql(object_name, fields, since, until, echoes)
        yield from self._pages(soql, include_deleted=True, what=f"query of {object_name}")

    def bulk_query_window(
        self,
        object_name: str,
        fields: Iterable[str],
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """The rows of :meth:`query_window`, through one Bulk API 2.0 queryAll job.

        Cheaper in API calls for big windows: a result page holds up to 50,000 rows.
        """
        soql = self.window_soql(object_name, fields, since, until, echoes, order=False)
        yield from self.bulk_query(soql, include_deleted=True)

    def count_window(
        self,
        object_name: str,
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None = None,
    ) -> int:
        """How many rows (deleted included) :meth:`query_window` would return."""
        soql = self._window_soql(object_name, "COUNT()", since, until, echoes, order=False)
        body = self._json(
            "query",
            "GET",
            "queryAll/",
            params={"q": soql},
            what=f"count of {object_name}",
        )
        return int(body["totalSize"])

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
        """The SOQL of :meth:`query_window` (the benchmark's baseline runs this very text)."""
        return self._window_soql(
            object_name, ", ".join(_check_fields(fields)), since, until, echoes, order=order
        )

    def _window_soql(
        self,
        object_name: str,
        select: str,
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None = None,
        *,
        order: bool = True,
    ) -> str:
        _check_name(object_name)
        until = _aware(until, "until")
        where = format_soql("SystemModstamp < {}", until)
        if since is not None:
            since = _aware(since, "since")
            if since > until:
                raise ValueError(f"window starts ({since}) after it ends ({until})")
            where = format_soql("SystemModstamp >= {} AND ", since) + where
        if echoes is not None and echoes.spans:
            spans = " OR ".join(
                format_soql(
                    "(SystemModstamp >= {} AND SystemModstamp < {})",
                    _aware(start, "echo span start"),
                    _aware(end, "echo span end"),
                )
                for start, end in echoes.spans
            )
            mine = format_soql("LastModifiedById = {} AND ", echoes.user_id) + f"({spans})"
            where += f" AND ({mine})" if echoes.only else f" AND (NOT ({mine}))"
        soql = f"SELECT {select} FROM {object_name} WHERE {where}"
        return soql + " ORDER BY SystemModstamp, Id" if order else soql

    def query(
        self, soql: str, *args: Any, include_deleted: bool = False, **params: Any
    ) -> list[dict[str, Any]]:
        """Every record of ``soql`` (all pages), as plain dicts.

        With ``args`` or ``params``, ``soql`` is a :func:`format_soql` template whose
        ``{}``/``{name}`` placeholders are filled with quoted values:
        ``query("SELECT Id FROM Lead WHERE Email = {email}", email=address)``.
        """
        if args or params:
            soql = format_soql(soql, *args, **params)
        return [r for page in self._pages(soql, include_deleted, what="query") for r in page]

    def _pages(
        self, soql: str, include_deleted: bool, *, what: str
    ) -> Iterator[list[dict[str, Any]]]:
        headers = {"Sforce-Query-Options": f"batchSize={QUERY_PAGE_SIZE}"}
        body = self._json(
            "query",
            "GET",
            "queryAll/" if include_deleted else "query/",
            params={"q": soql},
            headers=headers,
            what=what,
        )
        while True:
            yield [_plain(r) for r in body["records"]]
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            body = self._json("query_more", "GET", str(next_url), headers=headers, what=what)

    def bulk_query(
        self, soql_text: str, include_deleted: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        """Rows of ``soql_text`` through a Bulk API 2.0 query job, typed by the object's describe.

        Numbers become int/float, checkboxes bool, empty cells None; other values stay text.
        """
        match = _FROM.search(soql_text)
        if match is None:
            raise ValueError("bulk_query needs a SOQL statement with a FROM clause")
        types = self._field_types(match.group(1))
        what = f"bulk query of {match.group(1)}"
        job = self._json(
            "bulk_job",
            "POST",
            "jobs/query",
            json={
                "operation": "queryAll" if include_deleted else "query",
                "query": soql_text,
                "contentType": "CSV",
                "columnDelimiter": "COMMA",
                "lineEnding": "LF",
            },
            idempotent=False,
            what=what,
        )
        job_id = str(job["id"])
        self._wait_for_job("query", job_id, what)
        locator: str | None = None
        while True:
            params: dict[str, Any] = {"maxRecords": BULK_QUERY_PAGE}
            if locator:
                params["locator"] = locator
            response = self._call(
                "bulk_job",
                "GET",
                f"jobs/query/{job_id}/results",
                params=params,
                headers={"Accept": "text/csv"},
                what=what,
            )
            rows = _read_csv(response)
            yield [{k: _typed(v, types.get(k)) for k, v in row.items()} for row in rows]
            locator = response.headers.get("Sforce-Locator")
            if not locator or locator == "null":
                return

    def live_ids(self, object_name: str, *, bulk: bool = False) -> set[str]:
        """The Id of every live record of ``object_name``: one Id-only query (``bulk``: a Bulk
        API 2.0 job, a handful of calls for millions of rows; else REST pages of 2,000)."""
        _check_name(object_name)
        soql = f"SELECT Id FROM {object_name}"
        pages = (
            self.bulk_query(soql)
            if bulk
            else self._pages(soql, False, what=f"id query of {object_name}")
        )
        return {str(r["Id"]) for page in pages for r in page}

    # ------------------------------------------------------------------ named reads
    # Each builds its SOQL here (format_soql quotes the values) and costs what that SOQL
    # costs through :meth:`query`: one call, plus a queryMore per further page.
    def records_by_id(
        self, object_name: str, fields: Sequence[str], ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        """``Id`` and ``fields`` of the records ``ids`` (at most ``ID_BATCH``), in one query;
        no call for no ids. Names are checked; the ids travel as quoted literals."""
        _check_name(object_name)
        names = _check_fields(["Id", *(f for f in fields if f != "Id")])
        if len(ids) > ID_BATCH:
            raise ValueError(f"records_by_id takes at most {ID_BATCH} ids, got {len(ids)}")
        if not ids:
            return []
        select = ", ".join(names)
        return self.query(f"SELECT {select} FROM {object_name} WHERE Id IN {{ids}}", ids=list(ids))

    def currency_types(self) -> list[dict[str, Any]]:
        """Every CurrencyType row (``IsoCode``, ``ConversionRate``: units per corporate unit;
        ``IsCorporate``: the corporate currency's row)."""
        return self.query("SELECT IsoCode, ConversionRate, IsCorporate FROM CurrencyType")

    def dated_conversion_rates(self) -> list[dict[str, Any]]:
        """Every DatedConversionRate row (``IsoCode``, ``ConversionRate``, ``StartDate``,
        ``NextStartDate``); only orgs with advanced currency management have the object."""
        return self.query(
            "SELECT IsoCode, ConversionRate, StartDate, NextStartDate FROM DatedConversionRate"
        )

    def journal_types(self, names: Sequence[str]) -> list[dict[str, Any]]:
        """The JournalType rows (``Id``, ``Name``) named ``names`` (Loyalty Management)."""
        soql = "SELECT Id, Name FROM JournalType WHERE Name IN {names}"
        return self.query(soql, names=list(names))

    def top_records(
        self,
        object_name: str,
        fields: Sequence[str],
        *,
        by: str,
        limit: int,
        where: Sequence[tuple[str, str, Any]] = (),
    ) -> list[dict[str, Any]]:
        """The first ``limit`` records of ``object_name`` by ``by`` descending, filtered by
        ``where``: ``(field, operator, value)`` triples joined by AND (``None`` is null)."""
        _check_name(object_name)
        select = ", ".join(_check_fields(fields))
        _check_fields([by, *(f for f, _, _ in where)])
        if limit < 1:
            raise ValueError(f"top_records needs a positive limit, got {limit}")
        conditions = []
        for name, op, value in where:
            if op not in _OPERATORS:
                raise ValueError(f"'{op}' is not a SOQL comparison ({', '.join(_OPERATORS)})")
            conditions.append(f"{name} {op} " + format_soql("{}", value))
        soql = f"SELECT {select} FROM {object_name}"
        if conditions:
            soql += " WHERE " + " AND ".join(conditions)
        return self.query(soql + f" ORDER BY {by} DESC LIMIT {int(limit)}")

    # ------------------------------------------------------------------ describe, limits
    def describe(self, object_name: str) -> dict[str, Any]:
        """The object's full describe; cached for the life of this client."""
        _check_name(object_name)
        if object_name not in self._describes:
            self._describes[object_name] = self._json(
                "describe",
                "GET",
                f"sobjects/{object_name}/describe/",
                what=f"describe of {object_name}",
            )
        return self._describes[object_name]

    def describe_global(self) -> dict[str, Any]:
        """The global describe: every object of the org."""
        body: dict[str, Any] = self._json("describe", "GET", "sobjects/", what="global describe")
        return body

    def limits(self) -> dict[str, Any]:
        """The org's ``/limits`` (``DailyApiRequests`` and the rest)."""
        body: dict[str, Any] = self._json("limits", "GET", "limits/", what="limits")
        return body

    def _field_types(self, object_name: str) -> dict[str, str]:
        return {str(f["name"]): str(f["type"]) for f in self.describe(object_name)["fields"]}

    def api_versions(self) -> list[str]:
        """The REST API versions the org serves (``/services/data``), oldest first."""
        body = self._json("describe", "GET", "/services/data/", what="API versions")
        return [str(v["version"]) for v in body or []]

    def user_id(self) -> str:
        """The id of the signed-in user.

        Taken from the token response's identity URL (``id``: ``.../id/<org id>/<user id>``,
        Salesforce Help "Identity URLs"); when it is missing, asked of the OpenID Connect
        ``/services/oauth2/userinfo`` endpoint (Salesforce Help "UserInfo Endpoint").
        """
        self._api()
        tail = self._identity_url.rstrip("/").rsplit("/", 1)[-1]
        if re.fullmatch(r"005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?", tail):
            return tail
        body = self._json("auth", "GET", "/services/oauth2/userinfo", what="userinfo")
        return str(body["user_id"])

    def tooling_query(self, soql: str, *args: Any, **params: Any) -> list[dict[str, Any]]:
        """Every record of a Tooling API query (``tooling/query``), as plain dicts.

        For setup metadata (CustomField, FieldDefinition): unlike describe, these answers do
        not depend on the user's field-level security. ``soql`` is a :func:`format_soql`
        template when ``args`` or ``params`` are given.
        """
        if args or params:
            soql = format_soql(soql, *args, **params)
        body = self._json(
            "tooling", "GET", "tooling/query/", params={"q": soql}, what="tooling query"
        )
        records = [_plain(r) for r in body["records"]]
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            body = self._json("tooling", "GET", str(body["nextRecordsUrl"]), what="tooling query")
            records.extend(_plain(r) for r in body["records"])
        return records

    # ------------------------------------------------------------------ writes
    def update(self, object_name: str, record_id: str, body: Mapping[str, Any]) -> None:
        """Update one record by id (``PATCH sobjects/<object>/<id>``). Retried like a read: it
        serves the deploy's setup rows (FieldPermissions, ObjectPermissions), which no
        record-triggered Flow watches, so a second save of the same values changes nothing."""
        _check_name(object_name)
        if not re.fullmatch(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?", record_id):
            raise ValueError(f"not a Salesforce id: {record_id!r}")
        self._json(
            "update",
            "PATCH",
            f"sobjects/{object_name}/{record_id}",
            json=dict(body),
            what=f"update of {object_name}",
        )

    def create(
        self, object_name: str, body: Mapping[str, Any], *, unique: bool = False
    ) -> dict[str, Any]:
        """Create one record; returns Salesforce's ``{"id", "success", "errors"}``.

        ``unique``: the org refuses a second such record (a permission set of that name, a
        grant, an assignment), so a repeat after a lost answer is refused as a duplicate
        (the caller treats that as done) and the call is retried like a read. Otherwise a
        create whose answer is lost raises :class:`OutcomeUnknown`: read the org back.
        """
        _check_name(object_name)
        result: dict[str, Any] = self._json(
            "create",
            "POST",
            f"sobjects/{object_name}/",
            json=dict(body),
            idempotent=unique,
            what=f"create of {object_name}",
        )
        return result

    def create_tooling(self, sobject: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a Tooling API record (e.g. ``CustomField``); returns the save result.

        Retried like a read: a field's full name is unique, so a repeat after a lost answer
        is refused as a duplicate (DUPLICATE_DEVELOPER_NAME), never a second field.
        """
        _check_name(sobject)
        result: dict[str, Any] = self._json(
            "tooling",
            "POST",
            f"tooling/sobjects/{sobject}/",
            json=dict(body),
            what=f"tooling create of {sobject}",
        )
        return result

    def update_tooling(self, sobject: str, record_id: str, body: Mapping[str, Any]) -> None:
        """Update a Tooling API record by id (``PATCH tooling/sobjects/<sobject>/<id>``), e.g.
        a ``CustomField``'s whole ``Metadata`` to widen it. Retried like a read: the same
        Metadata saved twice is the same field."""
        _check_name(sobject)
        if not re.fullmatch(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?", record_id):
            raise ValueError(f"not a Salesforce id: {record_id!r}")
        self._json(
            "tooling",
            "PATCH",
            f"tooling/sobjects/{sobject}/{record_id}",
            json=dict(body),
            what=f"tooling update of {sobject}",
        )

    def update_collection(self, object_name: str, records: list[dict[str, Any]]) -> list[RowResult]:
        """Update up to 200 records of ``object_name`` by ``Id`` in one sObject Collections call
        (:meth:`update_records` with one object)."""
        return self.update_records([(object_name, record) for record in records])

    def update_records(self, records: Sequence[tuple[str, Mapping[str, Any]]]) -> list[RowResult]:
        """Update up to 200 records by ``Id`` in one sObject Collections call; each record is
        (object name, fields with ``Id``), and the objects may differ.

        The REST API Developer Guide ("Update Records Using sObject Collections") allows
        records "of different types" in one list, processed in chunks of consecutive records
        of one type, at most :data:`COLLECTION_CHUNKS` per request: give the records grouped by
        object (a ValueError otherwise). ``allOrNone`` is false (each row succeeds or fails
        alone) and ``Sforce-Auto-Assign: FALSE`` keeps assignment rules from re-owning the
        records. Results follow ``records``.
        """
        _check_collection("update_collection", records)
        if not records:
            return []
        chunks = 0
        previous = None
        ids: list[str | None] = []
        payload = []
        for object_name, record in records:
            if object_name != previous:
                _check_name(object_name)
                chunks, previous = chunks + 1, object_name
            record_id = record.get("Id") or record.get("id")
            if not record_id:
                raise ValueError("every record given to update_collection needs an Id")
            ids.append(str(record_id))
            fields = {k: v for k, v in record.items() if k not in ("Id", "id", "attributes")}
            payload.append({"attributes": {"type": object_name}, "id": record_id, **fields})
        if chunks > COLLECTION_CHUNKS:
            raise ValueError(
                f"update_collection takes at most {COLLECTION_CHUNKS} runs of one object, got "
                f"{chunks}: group the records by object"
            )
        objects = ", ".join(dict.fromkeys(name for name, _ in records))
        body = self._json(
            "collection_update",
            "PATCH",
            "composite/sobjects",
            json={"allOrNone": False, "records": payload},
            headers={"Sforce-Auto-Assign": "FALSE"},
            # Not retried once sent: Salesforce may have saved the records (and run their
            # Flows); the engine leaves them in flight and the next run reads the org.
            idempotent=False,
            what=f"collection update of {objects}",
        )
        return [_save_result(item, given) for given, item in zip(ids, body, strict=True)]

    def upsert_collection(
        self, object_name: str, external_id_field: str, records: list[dict[str, Any]]
    ) -> list[RowResult]:
        """Upsert up to 200 records on an External ID field in one sObject Collections call
        (``PATCH composite/sobjects/<object>/<field>``, REST API Developer Guide, "Upsert Up to
        200 Records"). ``allOrNone`` is false; results follow ``records``.

        Not retried once sent (:class:`OutcomeUnknown`): a repeat would create no second row,
        the external ids match the first attempt's, but it would save each record again.
        """
        _check_name(object_name)
        _check_name(external_id_field)
        _check_collection("upsert_collection", records)
        if not records:
            return []
        payload = [{"attributes": {"type": object_name}, **r} for r in records]
        body = self._json(
            "collection_upsert",
            "PATCH",
            f"composite/sobjects/{object_name}/{external_id_field}",
            json={"allOrNone": False, "records": payload},
            idempotent=False,
            what=f"collection upsert of {object_name}",
        )
        return [_save_result(item) for item in body]

    def bulk_upsert(
        self,
        object_name: str,
        records: list[dict[str, Any]],
        external_id_field: str = "Id",
    ) -> list[RowResult]:
        """Write ``records`` with Bulk API 2.0 (update by Id, else upsert on the external id).

        ``None`` clears a field (``#N/A``); a key absent from a record leaves it unchanged.
        Results follow ``records``, matched back through each row's key.
        """
        _check_name(object_name)
        _check_name(external_id_field)
        if not records:
            return []
        for record in records:
            if record.get(external_id_field) in (None, ""):
                raise ValueError(f"every record given to bulk_upsert needs {external_id_field}")
        results: list[RowResult] = []
        for chunk, text in _csv_chunks(records, external_id_field):
            results.extend(self._bulk_ingest(object_name, chunk, text, external_id_field))
        return results

    def _bulk_ingest(
        self,
        object_name: str,
        records: list[dict[str, Any]],
        text: bytes,
        key: str,
    ) -> list[RowResult]:
        what = f"bulk upsert of {object_name}"
        spec: dict[str, Any] = {
            "object": object_name,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
            "operation": "update" if key == "Id" else "upsert",
        }
        if key != "Id":
            spec["externalIdFieldName"] = key
        job_id = self._open_ingest_job(spec, what)
        try:
            # Once per job: a second upload of the same rows would save each of them twice.
            self._call(
                "bulk_job",
                "PUT",
                f"jobs/ingest/{job_id}/batches",
                data=text,
                headers={"Content-Type": "text/csv"},
                idempotent=False,
                what=what,
            )
        except OutcomeUnknown as exc:
            # An Open job is never processed: abort it, nothing was saved, send it all later.
            self._abort_ingest_job(job_id, what)
            raise RetryableError(
                f"{what}: the upload to Bulk API job {job_id} went unanswered; the job was "
                "aborted before it saved anything, the next run sends the rows again",
                error_code=exc.error_code,
                status=exc.status,
            ) from None
        self._close_ingest_job(job_id, what)
        try:
            return self._ingest_results(job_id, records, key, what)
        except OutcomeUnknown:
            raise
        except RetryableError as exc:
            # The job was closed, so Salesforce saves its rows whatever we hear: never send
            # them again blindly, read them back.
            raise OutcomeUnknown(
                f"{what}: Bulk API job {job_id} was closed and its outcome is unknown "
                f"({exc.error_code}); the rows are read back before any is sent again",
                error_code=exc.error_code,
                status=exc.status,
            ) from None

    def _open_ingest_job(self, spec: dict[str, Any], what: str) -> str:
        """Create an ingest job; when the answer to the create is lost, find the job it made
        (Open, ours, same object and operation, in Get All Jobs) rather than make a second."""
        try:
            job = self._json(
                "bulk_job", "POST", "jobs/ingest", json=spec, idempotent=False, what=what
            )
            return str(job["id"])
        except OutcomeUnknown as exc:
            found = self._find_open_ingest_job(spec, what)
            if found is None:
                raise RetryableError(
                    f"{what}: creating a Bulk API job went unanswered and no such job is open; "
                    "nothing was saved, the next run sends the rows again",
                    error_code=exc.error_code,
                    status=exc.status,
                ) from None
            return found

    def _find_open_ingest_job(self, spec: dict[str, Any], what: str) -> str | None:
        body = self._json("bulk_job", "GET", "jobs/ingest", what=what)
        jobs = [
            j
            for j in body.get("records") or []
            if j.get("state") == "Open"
            and j.get("object") == spec["object"]
            and j.get("operation") == spec["operation"]
            and (self.token_user_id is None or j.get("createdById") == self.token_user_id)
        ]
        # The run lock keeps a second sync of this store away; the newest is the one we made.
        jobs.sort(key=lambda j: str(j.get("createdDate") or ""))
        return str(jobs[-1]["id"]) if jobs else None

    def _abort_ingest_job(self, job_id: str, what: str) -> None:
        try:
            self._json(
                "bulk_job",
                "PATCH",
                f"jobs/ingest/{job_id}",
                json={"state": "Aborted"},
                what=what,
            )
        except RetryableError:
            # Still Open then: never closed, it saves nothing whatever becomes of it.
            log.warning("%s: could not abort Bulk API job %s; it is never closed", what, job_id)

    def _close_ingest_job(self, job_id: str, what: str) -> None:
        """Close the job (Salesforce starts saving its rows). A lost answer is settled by
        reading the job: still Open, the close was not applied and is sent again; any other
        state, it was, and the job is not closed twice."""
        body = {"state": "UploadComplete"}
        url = f"jobs/ingest/{job_id}"
        try:
            self._json("bulk_job", "PATCH", url, json=body, idempotent=False, what=what)
            return
        except OutcomeUnknown:
            pass
        try:
            state = self._json("bulk_job", "GET", url, what=what).get("state")
        except RetryableError as exc:
            raise OutcomeUnknown(
                f"{what}: closing Bulk API job {job_id} went unanswered and the job could not "
                f"be read ({exc.error_code}); the rows are read back before any is sent again",
                error_code=exc.error_code,
                status=exc.status,
            ) from None
        if state == "Open":
            self._json("bulk_job", "PATCH", url, json=body, idempotent=False, what=what)

    def _ingest_results(
        self, job_id: str, records: list[dict[str, Any]], key: str, what: str
    ) -> list[RowResult]:
        self._wait_for_job("ingest", job_id, what)
        outcomes: dict[str, list[RowResult]] = {}
        for kind in ("successfulResults", "failedResults", "unprocessedrecords"):
            response = self._call(
                "bulk_job",
                "GET",
                f"jobs/ingest/{job_id}/{kind}/",
                headers={"Accept": "text/csv"},
                what=what,
            )
            for row in _read_csv(response):
                outcome = _bulk_outcome(kind, row)
                outcomes.setdefault(row.get(key, ""), []).append(outcome)
        results = []
        for record in records:
            found = outcomes.get(_cell(record[key]))
            if found:
                results.append(found.pop(0))
            else:
                results.append(
                    RowResult(
                        str(record[key]) if key == "Id" else None,
                        False,
                        "UNPROCESSED",
                        "Salesforce reported no result for this row; send it again",
                    )
                )
        return results

    def _wait_for_job(self, kind: str, job_id: str, what: str) -> None:
        delay = BULK_POLL_FIRST_SECONDS
        waited = 0.0
        while True:
            state = self._json("bulk_job", "GET", f"jobs/{kind}/{job_id}", what=what)
            status = state.get("state")
            if status == "JobComplete":
                return
            if status in ("Failed", "Aborted"):
                raise FatalError(
                    f"{what}: Bulk API job {job_id} ended {status}; look the job up under "
                    "Setup > Bulk Data Load Jobs for its error message",
                    error_code=f"BULK_JOB_{str(status).upper()}",
                )
            if waited >= BULK_TIMEOUT_SECONDS:
                raise RetryableError(
                    f"{what}: Bulk API job {job_id} still {status} after {waited:.0f}s; "
                    "it keeps running in Salesforce, the next run will try again",
                    error_code="BULK_JOB_TIMEOUT",
                )
            self._sleep(delay)
            waited += delay
            delay = min(delay * BULK_POLL_GROWTH, BULK_POLL_MAX_SECONDS)

    # ------------------------------------------------------------------ flows
    def invoke_flow(self, name: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run the autolaunched flow ``name`` once per input; one result per input
        (``isSuccess``, ``errors``, ``outputValues`` with ``Flow__InterviewStatus``).

        A batch with failed items may come back as HTTP 400 carrying the same per-item list
        (localorg answers so; Salesforce's status for it is not documented): the list is
        returned either way, so items that ran are never taken for failed ones. Any other
        error (NOT_FOUND for a missing or inactive Flow) raises.

        Raises :class:`OutcomeUnknown` when the call was sent and its answer lost: the Flow
        may have run for some or all inputs. Nothing in the org records the run of an
        autolaunched Flow that the API could read back (FlowInterviewLog holds screen-flow
        interviews only, Object Reference "FlowInterviewLog"; a paused interview is all
        FlowInterview shows), so callers treat the batch as run (at most once) and say so.
        """
        _check_name(name)
        if len(inputs) > FLOW_BATCH:
            raise ValueError(f"invoke_flow takes at most {FLOW_BATCH} inputs, got {len(inputs)}")
        if not inputs:
            return []
        what = f"flow {name}"
        response = self._call(
            "flow",
            "POST",
            f"actions/custom/flow/{name}",
            json={"inputs": inputs},
            idempotent=False,
            what=what,
            accept=(400,),
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, list) and all(
            isinstance(item, dict) and "isSuccess" in item for item in body
        ):
            return body
        raise classify(response.status_code, _error_code(response), what)

    def describe_flow(self, name: str) -> dict[str, Any]:
        """The Actions API describe of the flow ``name``: its declared ``inputs`` and its
        ``outputs``. Raises FatalError NOT_FOUND (404) when the org serves no active
        autolaunched Flow of that name."""
        _check_name(name)
        result: dict[str, Any] = self._json(
            "describe", "GET", f"actions/custom/flow/{name}", what=f"describe of flow {name}"
        )
        return result


# ---------------------------------------------------------------------- helpers
def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request never reached Salesforce: the connection was refused or timed
    out while connecting (urllib3's NewConnectionError is a ConnectTimeoutError). A reset or
    a read timeout came after the request left, so it may have been applied."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, ConnectTimeoutError)


def _check_collection(call: str, records: Sequence[Any]) -> None:
    if len(records) > COLLECTION_LIMIT:
        raise ValueError(f"{call} takes at most {COLLECTION_LIMIT} records, got {len(records)}")


def _save_result(item: dict[str, Any], record_id: str | None = None) -> RowResult:
    """One sObject Collections SaveResult as a row outcome (its first error, if any);
    ``record_id`` stands in when the result names none."""
    errors = item.get("errors") or []
    first = errors[0] if errors else {}
    return RowResult(
        record_id=item.get("id") or record_id,
        success=bool(item.get("success")),
        error_code=first.get("statusCode") or first.get("errorCode"),
        message=first.get("message"),
    )


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"'{name}' is not a Salesforce API name")


def _check_fields(fields: Iterable[str]) -> list[str]:
    names = list(fields)
    if not names:
        raise ValueError("query_window needs at least one field")
    for name in names:
        if not _FIELD.match(name):
            raise ValueError(f"'{name}' is not a Salesforce field name")
    return names


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record without its ``attributes`` (also in related records). Parsed JSON holds plain
    dicts, so the check is ``type() is dict``: the Mapping ABC check costs a third of a pull."""
    return {k: _plain(v) if type(v) is dict else v for k, v in record.items() if k != "attributes"}


def _error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        code = body[0].get("errorCode")
        return str(code) if code else None
    if isinstance(body, dict):
        code = body.get("errorCode") or body.get("error")
        return str(code) if code else None
    return None


def _read_csv(response: requests.Response) -> Iterator[dict[str, str]]:
    """The rows of a CSV answer, one at a time: a first sync's results of one ingest job (the
    medium seed's 304,627 Orders, every column echoed back) held about 400 MB as a list of
    row dicts, at the connector's peak."""
    # decoded as it is read: the text is never held whole beside the bytes
    text = io.TextIOWrapper(io.BytesIO(response.content), encoding="utf-8-sig", newline="")
    return csv.DictReader(text)


def _typed(value: str, field_type: str | None) -> Any:
    if value == "":
        return None
    if field_type in _INTEGER_TYPES:
        return int(float(value))
    if field_type in _FLOAT_TYPES:
        return float(value)
    if field_type == "boolean":
        return value.lower() == "true"
    return value


def _cell(value: Any) -> str:
    if value is None:
        return CLEAR
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _aware(value, "datetime value").isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _csv_chunks(
    records: list[dict[str, Any]], key: str
) -> Iterator[tuple[list[dict[str, Any]], bytes]]:
    """Records as CSV uploads under the Bulk API size limit, key column first."""
    columns = [key]
    for record in records:
        columns.extend(c for c in record if c not in columns)

    def header() -> io.StringIO:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(columns)
        return buffer

    buffer, chunk = header(), []
    writer = csv.writer(buffer, lineterminator="\n")
    for record in records:
        # A key missing from a record is an empty cell: Bulk API leaves that field unchanged.
        writer.writerow([_cell(record[c]) if c in record else "" for c in columns])
        chunk.append(record)
        if buffer.tell() >= BULK_UPLOAD_BYTES:
            yield chunk, buffer.getvalue().encode()
            buffer, chunk = header(), []
            writer = csv.writer(buffer, lineterminator="\n")
    if chunk:
        yield chunk, buffer.getvalue().encode()


def _bulk_outcome(kind: str, row: Mapping[str, str]) -> RowResult:
    record_id = row.get("sf__Id") or row.get("Id") or None
    if kind == "successfulResults":
        return RowResult(record_id, True)
    if kind == "unprocessedrecords":
        return RowResult(record_id, False, "UNPROCESSED", "the job stopped before this row")
    code, _, message = (row.get("sf__Error") or "UNKNOWN_EXCEPTION").partition(":")
    return RowResult(record_id, False, code.strip() or None, message.strip() or None)


__all__ = [
    "ApiUsage",
    "Echoes",
    "FatalError",
    "QuotaExhausted",
    "RetryableError",
    "RowResult",
    "SalesforceClient",
    "SalesforceError",
    "parse_limit_info",
]

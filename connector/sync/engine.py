"""One sync run: pull -> resolve -> compute -> map -> diff -> push -> record.

The driver is the same for every object and every model; what differs is declared in
``streams.py`` (what to pull), ``compute.py`` (what to compute) and ``mappings/`` (where it
lands). State lives in the :class:`~connector.store.Store`: a crash at any point leaves the
watermarks, outbox and written-value baseline consistent, and the next run converges.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pandas as pd

from connector.config import Settings
from connector.errors import QuotaExhausted, RetryableError, SalesforceError
from connector.mapping import MapProblem
from connector.predictions import PredictionsConfig
from connector.salesforce.client import Echoes
from connector.store.db import PendingWrite, Store
from connector.sync import compute, inputs, predict
from connector.sync.diff import diff
from connector.sync.echo import EchoLedger
from connector.sync.prefetch import prefetched
from connector.sync.resolve import ORDER_COLUMNS, PERSON_KIND
from connector.sync.retry_pool import BatchPlanner, Item
from connector.sync.streams import DEFAULT_OBJECTS, STREAMS, Stream

log = logging.getLogger(__name__)

COLLECTION_SIZE = 200
# A Bulk API 2.0 ingest job costs about this many calls: create, upload, close, a few polls,
# successful and failed results.
BULK_JOB_CALLS = 7


class RowResultLike(Protocol):
    """What the push step reads from a per-record write result."""

    record_id: str | None
    success: bool
    error_code: str | None
    message: str | None

    @property
    def retryable(self) -> bool: ...


class ClientLike(Protocol):
    """The Salesforce client methods a sync run uses (``connector.salesforce``)."""

    calls: dict[str, int]
    user_id: str | None

    def begin_run(self) -> None: ...

    def describe(self, object_name: str) -> dict[str, Any]: ...

    def query_window(
        self,
        object_name: str,
        fields: Sequence[str],
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None = None,
    ) -> Iterable[list[dict[str, Any]]]: ...

    def count_window(
        self,
        object_name: str,
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None = None,
    ) -> int: ...

    def bulk_query_window(
        self,
        object_name: str,
        fields: Sequence[str],
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None = None,
    ) -> Iterable[list[dict[str, Any]]]: ...

    def update_collection(
        self, object_name: str, records: list[dict[str, Any]]
    ) -> Sequence[RowResultLike]: ...

    def bulk_upsert(
        self, object_name: str, records: list[dict[str, Any]], external_id_field: str = "Id"
    ) -> Sequence[RowResultLike]: ...


class Mapper(Protocol):
    """The map step: computed values -> field values per (object, record id); a value that
    cannot be written is left out and appended to ``problems``."""

    def __call__(
        self, computed: pd.DataFrame, problems: list[MapProblem] | None = None
    ) -> dict[tuple[str, str], dict[str, Any]]: ...


@dataclass
class SyncOptions:
    """What one run should do."""

    dry_run: bool = False
    objects: Sequence[str] | None = None
    full: bool = False
    # Values Salesforce refused (a validation rule, a bad picklist) wait for a new value;
    # this sends them again, for when the cause was fixed in the org.
    retry_failed: bool = False


@dataclass
class RunReport:
    """The outcome of a run, as ``sync --json`` prints it."""

    run_id: int
    status: str = "running"
    objects: dict[str, dict[str, int]] = field(default_factory=dict)
    writes: dict[str, int] = field(
        default_factory=lambda: {
            "planned": 0,
            "succeeded": 0,
            "failed": 0,
            "carried_over": 0,
            "fields_changed": 0,
            "unmappable": 0,
        }
    )
    api_calls: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    planned: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # Per model: how it ran (btyd or the heuristic and why), for whom, org-wide figures.
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Seconds per phase (pull, compute, push), so a slow run says where its time went.
    phases: dict[str, float] = field(default_factory=dict)
    # "ran", or "skipped" when nothing the compute step reads changed since it last ran.
    compute: str = "ran"

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the seconds spent in the block to ``phases[phase]`` (also when it raises)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.phases[phase] = self.phases.get(phase, 0.0) + time.monotonic() - started

    def as_json(self) -> dict[str, Any]:
        """The JSON object of the sync contract."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "objects": self.objects,
            "writes": self.writes,
            "api_calls": self.api_calls,
            "duration_s": round(self.duration_s, 3),
            "planned": self.planned,
            "errors": self.errors[:20],
            "models": self.models,
            "phases_s": {k: round(v, 3) for k, v in self.phases.items()},
            "compute": self.compute,
        }


class SyncEngine:
    """Runs syncs of one org into one store with one set of mappings."""

    def __init__(
        self,
        settings: Settings,
        client: ClientLike,
        store: Store,
        mapper: Mapper,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str], None] | None = None,
        predictions: PredictionsConfig | None = None,
        min_change: dict[tuple[str, str], float] | None = None,
        inputs_key: str | None = None,
    ) -> None:
        self.settings = settings
        # What, besides the store and the day, the computed values depend on (mappings,
        # models, code): with it, a run whose inputs are those of the last computed run skips
        # the compute step (inputs.py); without it every run computes.
        self.inputs_key = inputs_key
        self.echoes = EchoLedger(store, timedelta(minutes=settings.pull_echo_sweep_minutes))
        self.min_change = min_change or {}  # (object, field) -> smallest move worth a write
        self.client = client
        self.store = store
        self.mapper = mapper
        self.predictions = predictions
        self._now = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._progress = progress or (lambda message: None)

    # ------------------------------------------------------------------ the run
    def run(self, options: SyncOptions | None = None) -> RunReport:
        """One complete run; never raises for Salesforce faults, the report says what happened.

        Raises :class:`~connector.errors.RunInProgress` when another run holds the database.
        """
        with self.store.run_lock():
            return self._run(options or SyncOptions())

    def _run(self, options: SyncOptions) -> RunReport:
        started = time.monotonic()
        mode = "dry-run" if options.dry_run else ("full" if options.full else "incremental")
        report = RunReport(run_id=self.store.start_run(mode))
        calls_before = dict(self.client.calls)
        self.client.begin_run()
        try:
            until = datetime.now(UTC) - timedelta(seconds=self.settings.pull_lag_seconds)
            if options.full:
                self.store.reset_watermarks() if not options.dry_run else None
            with report.timed("pull"):
                for name in options.objects or DEFAULT_OBJECTS:
                    report.objects[name] = self._pull(STREAMS[name], until, full=options.full)
            if options.retry_failed and not options.dry_run:
                self.store.requeue_failed()
            key = self._inputs_key()
            may_skip = not (options.dry_run or options.full or options.retry_failed)
            with report.timed("compute"):
                changes: list[tuple[str, str, str, Any]] = []
                if may_skip and key is not None and key == self.store.state(inputs.STATE_KEY):
                    report.compute = "skipped"  # nothing it reads changed: same values
                else:
                    problems: list[MapProblem] = []
                    written = self.store.written_values()
                    computed = with_written_people(self._compute(report), written)
                    desired = self.mapper(computed, problems)
                    self._report_problems(problems, report)
                    changes = self._diff(desired, written, report, dry_run=options.dry_run)
            if options.dry_run:
                self._plan(changes, report)
                report.status = "succeeded"
            else:
                with report.timed("push"):  # queueing included: a big write-back pays there too
                    self.store.enqueue(report.run_id, changes)
                    if key and report.compute == "ran" and not report.writes["unmappable"]:
                        self.store.set_state(inputs.STATE_KEY, key)
                    self._push(report)
                carried = report.writes["carried_over"]
                unmapped = report.writes["unmappable"]
                partial = report.writes["failed"] or carried or unmapped
                report.status = "partial" if partial else "succeeded"
        except QuotaExhausted as exc:
            report.status = "quota_stopped"
            report.errors.append(str(exc))
            log.warning("run %s stopped by the quota guard: %s", report.run_id, exc)
        except SalesforceError as exc:
            report.status = "failed"
            report.errors.append(str(exc))
            log.error("run %s failed: %s", report.run_id, exc)
        finally:
            report.api_calls = _spent(calls_before, self.client.calls)
            report.duration_s = time.monotonic() - started
            self.store.finish_run(report.run_id, report.status, report.as_json())
        if not options.dry_run:
            keep = timedelta(days=self.settings.value_log_days)
            self.store.prune_value_log(self._now() - keep)
        return report

    # ------------------------------------------------------------------ pull
    def _pull(self, stream: Stream, until: datetime, *, full: bool) -> dict[str, int]:
        name = stream.object_name
        available = {f["name"] for f in self.client.describe(name)["fields"]}
        fields = [f for f in stream.all_fields() if f in available]
        mark = None if full else self.store.watermark(name)
        since = mark - timedelta(seconds=self.settings.pull_lookback_seconds) if mark else None
        user = self.client.user_id
        # Incremental windows leave out the echoes of our own pushes; spans old enough are
        # then read alone, for the changes an echo can hide (echo.py says why none is lost).
        spans = self.echoes.spans(name) if since is not None and user else []
        skip = Echoes(user, tuple(spans)) if user and spans else None
        sweep = self.echoes.due(name, self._now(), since) if skip and since else []
        counts = {"pulled": 0, "deleted": 0, "changed": 0}
        self._read(name, fields, since, until, skip, counts)
        if user and sweep:
            swept = {"pulled": 0, "deleted": 0, "changed": 0}
            self._read(name, fields, None, until, Echoes(user, tuple(sweep), only=True), swept)
            counts = {k: counts[k] + swept[k] for k in counts} | {"echoes_swept": swept["pulled"]}
            self.echoes.swept(name, sweep)
        if since is None:
            self.echoes.covered(name, until)
        # Only now is the window stored; a crash above re-reads it next run.
        self.store.set_watermark(name, until)
        return counts

    def _read(
        self,
        name: str,
        fields: list[str],
        since: datetime | None,
        until: datetime,
        echoes: Echoes | None,
        counts: dict[str, int],
    ) -> None:
        """Read one window into the store, adding to ``counts`` (pulled, deleted, changed)."""
        pages = self.client.query_window(name, fields, since, until, echoes)
        # A full pull (or a long gap, or a big sweep) of a big object goes through Bulk API
        # 2.0: one job and a page per 50,000 rows instead of a REST call per 2,000.
        if (
            since is None
            and self.client.count_window(name, since, until, echoes)
            > self.settings.pull_bulk_threshold
        ):
            pages = self.client.bulk_query_window(name, fields, since, until, echoes)
        for page in prefetched(pages):  # the next page is read while this one is stored
            counts["changed"] += self.store.upsert_records(name, page)
            counts["pulled"] += len(page)
            counts["deleted"] += sum(1 for r in page if r.get("IsDeleted") in (True, 1, "true"))
            self._progress(f"pull {name}: {counts['pulled']:,}")

    # ------------------------------------------------------------------ compute
    def _inputs_key(self) -> str | None:
        """What this run's compute would read (``inputs.py``); None: compute regardless."""
        if self.inputs_key is None:
            return None
        return inputs.inputs_key(self.store.input_generation(), self._now().date(), self.inputs_key)

    def _compute(self, report: RunReport) -> pd.DataFrame:
        contacts = self.store.records_frame("Contact", ["Id", "Email", "AccountId"])
        leads = self.store.records_frame(
            "Lead", ["Id", "Email", "IsConverted", "ConvertedContactId"]
        )
        accounts = self.store.records_frame("Account", ["Id", "PersonContactId"])
        orders = self.store.records_frame("Order", list(ORDER_COLUMNS))
        frames = [compute.rfm(orders, accounts, contacts, self._now().date())]
        if self.predictions is not None:
            events = self.store.events_frame(
                sorted(set(predict.CLICK_EVENTS) | set(predict.ENGAGEMENT_EVENTS))
            )
            values, record = predict.predict_contacts(
                orders,
                accounts,
                contacts,
                leads,
                events,
                self._now(),
                self.predictions,
                self.predictions.attribution_days,
            )
            report.models["predictions"] = record
            frames.append(values)
        return pd.concat(frames, axis=1) if len(frames) > 1 else frames[0]

    @staticmethod
    def _report_problems(problems: list[MapProblem], report: RunReport) -> None:
        """Values the mappings cannot write: counted, the first few said, each one logged."""
        report.writes["unmappable"] = len(problems)
        said = [
            f"{p.object}.{p.field} from {p.value_key} ({p.record_id}): {p.message}"
            for p in problems
        ]
        for line in said:
            log.warning("%s", line)
        report.errors.extend(said[:5])
        if len(said) > 5:
            report.errors.append(f"... and {len(said) - 5} more values the mappings cannot write")

    # ------------------------------------------------------------------ diff
    def _diff(
        self,
        desired: dict[tuple[str, str], dict[str, Any]],
        written: dict[tuple[str, str, str], str],
        report: RunReport,
        *,
        dry_run: bool,
    ) -> list[tuple[str, str, str, Any]]:
        """Values that differ from the last successful write; stale outbox rows dropped."""
        result = diff(
            desired,
            written,
            self.store.outbox_values(),
            {obj: self.store.live_ids(obj) for obj in {o for o, _ in desired}},
            self.min_change,
        )
        if result.stale and not dry_run:
            self.store.drop_outbox(result.stale)
        report.writes["fields_changed"] = len(result.changes)
        return result.changes

    def _plan(self, changes: list[tuple[str, str, str, Any]], report: RunReport) -> None:
        records: dict[str, set[str]] = defaultdict(set)
        for obj, record_id, _, _ in changes:
            records[obj].add(record_id)
        for obj, ids in records.items():
            n = len(ids)
            bulk = n > self.settings.push_bulk_threshold
            report.planned[obj] = {
                "records": n,
                "fields": sum(1 for c in changes if c[0] == obj),
                "api_calls": BULK_JOB_CALLS if bulk else math.ceil(n / COLLECTION_SIZE),
                "bulk": int(bulk),
            }
            report.writes["planned"] += n

    # ------------------------------------------------------------------ push
    def _push(self, report: RunReport) -> None:
        by_record: dict[tuple[str, str], list[PendingWrite]] = defaultdict(list)
        for pending in self.store.pending_writes():
            by_record[(pending.object, pending.record_id)].append(pending)
        report.writes["planned"] = len(by_record)
        by_object: dict[str, list[tuple[str, list[PendingWrite]]]] = defaultdict(list)
        for (obj, record_id), writes in by_record.items():
            by_object[obj].append((record_id, writes))
        for obj, items in by_object.items():
            started = datetime.now(UTC)  # Salesforce's clock stamps the saves, not the fake one
            try:
                if len(items) > self.settings.push_bulk_threshold:
                    self._push_batch(obj, items, report, bulk=True)
                else:
                    self._push_collections(obj, items, report)
            finally:  # also when the quota guard stops the run: what was saved echoes
                self.echoes.record(obj, started, datetime.now(UTC))

    def _push_collections(
        self, obj: str, items: list[tuple[str, list[PendingWrite]]], report: RunReport
    ) -> None:
        """Write through sObject Collections, refused-but-retryable records pooled into the
        next full calls (``retry_pool``), each call's outcome recorded as it comes back."""
        planner = BatchPlanner((Item(rid, ws) for rid, ws in items), COLLECTION_SIZE)
        settled = 0
        while planner:
            wait, batch = planner.next_batch()
            if wait:
                self._sleep(wait)
            written: list[PendingWrite] = []
            failed: list[tuple[PendingWrite, str]] = []
            carried: list[tuple[PendingWrite, str]] = []
            records = [{"Id": i.record_id, **{w.field: w.value for w in i.writes}} for i in batch]
            try:
                results = self.client.update_collection(obj, records)
            except RetryableError as exc:
                # The whole call failed after the client's own retries: carry its records.
                error = f"{type(exc).__name__}: {exc}"
                carried.extend((w, error) for it in batch for w in it.writes)
                settled += len(batch)
            else:
                for it, result in zip(batch, results, strict=True):
                    if result.success:
                        written.extend(it.writes)
                    elif result.retryable and it.attempt < self.settings.max_retries:
                        planner.retry(it, self._backoff(it.attempt + 1))
                        continue
                    else:
                        error = f"{result.error_code}: {result.message}"
                        bucket = carried if result.retryable else failed
                        bucket.extend((w, error) for w in it.writes)
                    settled += 1
            self.store.record_results(report.run_id, written, carried, failed)
            self._count(report, written, carried, failed)
            self._progress(f"push {obj}: {settled:,}/{len(items):,}")

    def _push_batch(
        self,
        obj: str,
        items: list[tuple[str, list[PendingWrite]]],
        report: RunReport,
        *,
        bulk: bool,
    ) -> None:
        """Write one batch, retrying retryable rows with backoff, then record the outcome."""
        remaining = dict(items)
        written: list[PendingWrite] = []
        failed: list[tuple[PendingWrite, str]] = []
        carried: list[tuple[PendingWrite, str]] = []
        attempt = 0
        while remaining:
            records = [
                {"Id": rid, **{w.field: w.value for w in ws}} for rid, ws in remaining.items()
            ]
            try:
                if bulk:
                    results = self.client.bulk_upsert(obj, records, "Id")
                else:
                    results = self.client.update_collection(obj, records)
            except RetryableError as exc:
                # The whole call failed after the client's own retries: carry every row.
                carried.extend(
                    (w, f"{type(exc).__name__}: {exc}") for ws in remaining.values() for w in ws
                )
                remaining = {}
                break
            except QuotaExhausted:
                # Keep what was learnt so far; the rest stays pending in the outbox.
                self.store.record_results(report.run_id, written, carried, failed)
                self._count(report, written, carried, failed)
                raise
            retry: dict[str, list[PendingWrite]] = {}
            for rid, result in zip(remaining, results, strict=True):
                ws = remaining[rid]
                if result.success:
                    written.extend(ws)
                elif result.retryable and attempt < self.settings.max_retries:
                    retry[rid] = ws
                elif result.retryable:
                    carried.extend((w, f"{result.error_code}: {result.message}") for w in ws)
                else:
                    failed.extend((w, f"{result.error_code}: {result.message}") for w in ws)
            remaining = retry
            if remaining:
                attempt += 1
                self._sleep(self._backoff(attempt))
        self.store.record_results(report.run_id, written, carried, failed)
        self._count(report, written, carried, failed)

    def _count(
        self,
        report: RunReport,
        written: list[PendingWrite],
        carried: list[tuple[PendingWrite, str]],
        failed: list[tuple[PendingWrite, str]],
    ) -> None:
        report.writes["succeeded"] += len({w.record_id for w in written})
        report.writes["carried_over"] += len({w.record_id for w, _ in carried})
        report.writes["failed"] += len({w.record_id for w, _ in failed})
        for w, error in failed[:20]:
            report.errors.append(f"{w.object} {w.record_id} {w.field}: {error}")

    def _backoff(self, attempt: int) -> float:
        base = self.settings.retry_base_seconds * 2 ** (attempt - 1)
        return float(base * (0.5 + random.random()))  # full jitter keeps retries apart


def _spent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    spent = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
    spent["total"] = sum(spent.values())
    return spent


def with_written_people(
    computed: pd.DataFrame, written: dict[tuple[str, str, str], str]
) -> pd.DataFrame:
    """``computed`` plus an empty row for each person written before whom nothing is computed
    now (their orders were deleted, say): the map step turns the holes into clears, so no stale
    value stays behind in Salesforce. People never written get no row, hence no null writes."""
    have = set(computed.index)
    gone = sorted({(obj, rid) for obj, rid, _ in written if obj in PERSON_KIND} - have)
    if not gone:
        return computed
    index = pd.MultiIndex.from_tuples(gone, names=computed.index.names)
    return pd.concat([computed, pd.DataFrame(index=index, columns=computed.columns)])

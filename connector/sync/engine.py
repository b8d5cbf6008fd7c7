"""One sync run: pull -> resolve -> compute -> map -> diff -> push -> record.

The driver is the same for every object and every model; what differs is declared in
``streams.py`` (what to pull), ``compute.py`` (what to compute) and ``mappings/`` (where it
lands). State lives in the :class:`~connector.store.Store`: a crash at any point leaves the
watermarks, outbox and written-value baseline consistent, and the next run converges.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random as _random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

import pandas as pd

from connector.alerts import alert_text, post_alert, should_alert
from connector.backoff import backoff_delay
from connector.config import Settings, split_list
from connector.errors import (
    AccessMissing,
    Lead2LoyaltyError,
    OutcomeUnknown,
    QuotaExhausted,
    RetryableError,
    SalesforceError,
)
from connector.loyalty.config import LoyaltyConfig, Program
from connector.loyalty.enrollment import enrollment_fields
from connector.mapping import MapProblem
from connector.memory import release_free_memory
from connector.orders_intel.settings import OrdersSettings
from connector.predictions import PredictionsConfig
from connector.predictions.outputs import Population
from connector.salesforce.port import BULK_JOB_CALLS, COLLECTION_LIMIT, Echoes, SalesforcePort
from connector.store import PendingWrite, Store
from connector.store.runs import person_key
from connector.sync import compute, incremental, inputs, intent, predict, reconcile
from connector.sync.diff import diff
from connector.sync.echo import EchoLedger
from connector.sync.effects import Effects
from connector.sync.effects import apply as apply_effects
from connector.sync.inflight import settle_in_flight, unknown_outcome_line
from connector.sync.loyalty import event_names as loyalty_event_names
from connector.sync.loyalty import load_inputs as load_loyalty_inputs
from connector.sync.loyalty import (
    loyalty_objects,
    loyalty_values,
    member_segments,
    tier_moment,
    with_enrollment_fields,
)
from connector.sync.loyalty_mirror import backlog, mirror_program
from connector.sync.order_merge import merge_orders
from connector.sync.orders import (
    FILTER_COLUMNS,
    RATES_KEY,
    counted_orders,
    hold_unconvertible,
    to_corporate,
)
from connector.sync.orders_intel import FULFILMENT_MOMENT, RISK_MOMENT, orders_values
from connector.sync.orders_intel import load_inputs as load_orders_inputs
from connector.sync.orders_intel import order_columns as orders_intel_columns
from connector.sync.person_accounts import account_field, person_contacts
from connector.sync.prefetch import prefetched
from connector.sync.resolve import (
    ORDER_COLUMNS,
    ORDER_KEY_PROPERTIES,
    PERSON_KIND,
    Resolved,
    normalise_email,
    resolve_run,
)
from connector.sync.retry_pool import BatchPlanner, Item
from connector.sync.runstate import RunStatus, WriteCounts, outstanding_summary
from connector.sync.streams import DEFAULT_OBJECTS, STREAMS, Stream
from connector.sync.texts_stage import (
    SENDER_COLUMN,
    TEXT_LOOKUPS,
    TEXT_OBJECTS,
    UNHAPPY_MOMENT,
    plan_unhappy,
    texts_values,
    valued_people,
    with_text_events,
)
from connector.sync.texts_stage import load_records as load_text_records

log = logging.getLogger(__name__)

#: Per pulled object, the columns a run of some people looks its records up by (indexed).
LOOKUPS = {
    "Order": ("BillToContactId", "ShipToContactId", "CustomerAuthorizedById", "AccountId"),
    "Contact": ("AccountId",),
    "Lead": ("ConvertedContactId",),
    "Account": ("PersonContactId",),
    "OrderItem": ("OrderId",),
}
#: The stored name of what the last full run learnt of the population (predictions).
POPULATION = "predictions_population"
#: Event properties the Resolve step reads beside each event: the click's channel and the
#: sender's clock (predictions) and the order an order event names (each order counted once).
EVENT_PROPERTIES = tuple(dict.fromkeys((*predict.EVENT_PROPERTIES, *ORDER_KEY_PROPERTIES)))


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
    # Compute every person, as the day's first run does, even when the changes since the last
    # compute name only a few (connector/sync/incremental.py); no refit, unlike ``full``.
    whole_org: bool = False


@dataclass
class RunReport:
    """The outcome of a run, as ``sync --json`` prints it."""

    run_id: int
    status: RunStatus = RunStatus.RUNNING
    objects: dict[str, dict[str, int]] = field(default_factory=dict)
    writes: WriteCounts = field(default_factory=WriteCounts)
    api_calls: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    cpu_s: float = 0.0
    planned: dict[str, dict[str, int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    # Per model: how it ran (btyd or the heuristic and why), for whom, org-wide figures.
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Seconds per phase (pull, compute, push), so a slow run says where its time went.
    phases: dict[str, float] = field(default_factory=dict)
    # CPU seconds of this process per phase: on a loaded machine the wall clock also counts
    # other processes' turns, the CPU time does not.
    phases_cpu: dict[str, float] = field(default_factory=dict)
    # Per object: records held, forgotten (the org no longer has them), calls spent.
    reconciled: dict[str, dict[str, int]] = field(default_factory=dict)
    dry_run: bool = False
    # Values still waiting in the outbox when the run ended, grouped with their reason: what a
    # partial run carried over, and why.
    outstanding: list[dict[str, Any]] = field(default_factory=list)
    # Runs found still `running` at the start (their process died): now marked crashed.
    recovered: list[dict[str, Any]] = field(default_factory=list)
    # "ran", or "skipped" when nothing the compute step reads changed since it last ran.
    compute: str = "ran"
    # Whom the compute step computed: ``{"people": n}`` for the people the changes touched,
    # ``{"people": "all", "why": ...}`` for the whole org (connector/sync/incremental.py).
    scope: dict[str, Any] = field(default_factory=dict)
    # Flow interviews the Effects step could not run (each named in errors; tried next run).
    effects_failed: int = 0
    # A dry run's planned writes, (object, record id, field, value): what the admin page's
    # mapping preview shows. Not in the JSON: a full dry run plans millions.
    planned_changes: list[tuple[str, str, str, Any]] = field(default_factory=list)

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Add the seconds spent in the block to ``phases[phase]`` and its CPU seconds to
        ``phases_cpu[phase]`` (also when it raises)."""
        started = time.monotonic()
        cpu = time.process_time()
        try:
            yield
        finally:
            self.phases[phase] = self.phases.get(phase, 0.0) + time.monotonic() - started
            spent = time.process_time() - cpu
            self.phases_cpu[phase] = self.phases_cpu.get(phase, 0.0) + spent

    def as_json(self) -> dict[str, Any]:
        """The JSON object of the sync contract."""
        return {
            "run_id": self.run_id,
            "status": str(self.status),
            "objects": self.objects,
            "writes": self.writes.as_json(dry_run=self.dry_run),
            "api_calls": self.api_calls,
            "duration_s": round(self.duration_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "planned": self.planned,
            "errors": self.errors[:20],
            "models": self.models,
            "phases_s": {k: round(v, 3) for k, v in self.phases.items()},
            "phases_cpu_s": {k: round(v, 3) for k, v in self.phases_cpu.items()},
            "reconciled": self.reconciled,
            "outstanding": self.outstanding,
            "recovered_runs": self.recovered,
            "compute": self.compute,
            "scope": self.scope,
            "effects": {"failed": self.effects_failed},
        }


class SyncEngine:
    """Runs syncs of one org into one store with one set of mappings."""

    def __init__(
        self,
        settings: Settings,
        client: SalesforcePort,
        store: Store,
        mapper: Mapper,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: Callable[[], float] = _random.random,
        progress: Callable[[str], None] | None = None,
        predictions: PredictionsConfig | None = None,
        loyalty: LoyaltyConfig | None = None,
        min_change: dict[tuple[str, str], float] | None = None,
        scoring: intent.ScoringSetup | None = None,
        inputs_key: str | None = None,
        mapped_programs: frozenset[str] = frozenset(),
        orders: OrdersSettings | None = None,
    ) -> None:
        self.scoring = scoring  # intent score, moments and lead conversion (sync/intent.py)
        self.orders = orders  # order risk, fulfilment, recommendations (sync/orders_intel.py)
        # Loyalty programs a mapping names (``program:``): their standing is computed too.
        self.mapped_programs = mapped_programs
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
        self.loyalty = loyalty
        self._now = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._random = random
        self._progress = progress or (lambda message: None)
        # The org's currency rates, read once per run (connector.sync.orders.to_corporate), and
        # its corporate currency; None until read (a real-time pass takes the last run's).
        self._rates: tuple[pd.DataFrame, pd.DataFrame | None] | None = None
        # the stored population's text and what it parses to: a pass reads it twice and the
        # same text pass after pass until the next full run (_parsed_population)
        self._parsed: tuple[str, Population] | None = None
        self._corporate = settings.org_currency
        # Shop orders the last Resolve held for their currency, for the run record.
        self._held: dict[str, Any] | None = None
        # What an ordinary run's pull touched (incremental.py); None in a run of some people.
        self._touched: incremental.Touched | None = None
        # What the run's compute consumed, kept as the next run's basis once it ends clean.
        self._consumed: tuple[incremental.Basis, list[tuple[str, str]]] | None = None

    def _backoff(self, attempt: int) -> float:
        """Seconds before retry number ``attempt`` (1 for the first) of a refused record."""
        return backoff_delay(attempt - 1, self.settings.retry_base_seconds, self._random)

    # ------------------------------------------------------------------ the run
    def run(
        self,
        options: SyncOptions | None = None,
        *,
        people: Iterable[tuple[str, str]] | None = None,
        lock_wait_seconds: float = 0,
    ) -> RunReport:
        """One complete run: Pull -> Resolve -> Compute -> Map -> Diff -> Push -> Effects ->
        Record. The one entry of the clock, the CLI and the real-time worker.

        ``people`` ((object, record id) pairs) makes it a run of just them, the real-time
        worker's: nothing is pulled, only they are computed, mapped and diffed (against the
        stored population parameters of the last full run, so its cost follows them, not the
        org), and their changes are pushed through the same outbox.

        Never raises for what goes wrong inside it (a refused sign-in, a Salesforce fault, a
        bug): the run ends ``failed`` with the reason, and the report says what happened.
        Raises :class:`~connector.errors.RunInProgress` when another run holds the database
        (after ``lock_wait_seconds``: the clock waits out a real-time worker's short pass).
        """
        who = None if people is None else frozenset(people)
        # A whole-org run holds the run lock alone; a run of some people holds just them
        # (PostgreSQL: the run lock shared and their shards, so workers run side by side).
        lock = (
            self.store.runs.lock(lock_wait_seconds)
            if who is None
            else self.store.runs.people_lock(person_key(o, r) for o, r in who)
        )
        with lock:
            self.store.notice_schema()  # another process's new columns (PostgreSQL)
            # Under the lock alone, a run still marked running belongs to a dead process.
            recovered = self.store.runs.recover_crashed()
            for run in recovered:
                log.warning("run %s (pid %s on %s) never finished: marked crashed", *run.values())
            report = self._run(options or SyncOptions(), recovered, who)
        self._alert(report)
        return report

    def _run(
        self,
        options: SyncOptions,
        recovered: list[dict[str, Any]],
        people: frozenset[tuple[str, str]] | None,
    ) -> RunReport:
        started, cpu = time.monotonic(), time.process_time()
        report = RunReport(
            run_id=self.store.runs.start(_mode(options, people)), dry_run=options.dry_run
        )
        report.recovered = recovered
        calls_before = dict(self.client.calls)
        try:
            self.client.begin_run()
            self._touched = incremental.Touched.load(self.store) if people is None else None
            self._consumed = None
            if people is None:
                if not options.dry_run:
                    self._settle_in_flight(report)
                with report.timed("pull"):
                    self._pull_all(options, report)
                if not options.dry_run:
                    self._reconcile(options, report)
                self._rates = self._currency_rates()
                if options.retry_failed and not options.dry_run:
                    self.store.outbox.requeue_failed()
            key = self._inputs_key() if people is None else None
            may_skip = not (
                options.dry_run or options.full or options.retry_failed or options.whole_org
            )
            effects = Effects()
            changes: list[tuple[str, str, str, Any]] = []
            with report.timed("compute"):
                if (
                    may_skip
                    and key is not None
                    and key == self.store.records.state(inputs.STATE_KEY)
                ):
                    report.compute = "skipped"  # nothing it reads changed: same values
                else:
                    changes, effects = self._plan_changes(report, people, options)
            if options.dry_run:  # a dry run stops before the push: nothing written, no effect
                self._plan(changes, report)
                report.planned_changes = changes
                report.status = RunStatus.SUCCEEDED
            else:
                with report.timed("push"):  # queueing included: a big write-back pays there too
                    self.store.outbox.enqueue(report.run_id, changes)
                    own = self._own_records(people, changes)
                    planned = bool(changes)
                    # the outbox holds them now; the push reads them back (a first sync's
                    # 1.155M values were held twice over the push, at the connector's peak)
                    changes.clear()
                    if people is None:
                        # what the whole-org compute freed goes back to the system before the
                        # push reads its values back (connector/memory.py)
                        release_free_memory()
                    if people is None or planned or self.store.outbox.counts().get("pending"):
                        self._push(report, own)
                with report.timed("effects"):
                    if people is None:
                        release_free_memory()  # and what the push freed, before the booking
                    self._effects(effects, report)
                with report.timed("mirror"):
                    self._mirror(report)
                report.status = self._outcome(report, own)
                clean = not (report.writes.unmappable or report.effects_failed)
                if key and report.compute == "ran" and clean:
                    # the next run may skip its compute: nothing it reads changed, and nothing
                    # this one meant to do waits (a refused Flow call is planned again)
                    self.store.records.set_state(inputs.STATE_KEY, key)
                if self._consumed is not None and clean:
                    # the touched people are computed and their effects done: the next run
                    # builds on this one (an unclean run keeps them, to compute them again)
                    basis, marks = self._consumed
                    # the models this run fitted count as seen; a refit by anyone else since
                    # the compute started does not (the next run computes everyone)
                    fitted = self.store.scoring.fitted()
                    seen = {n: fitted[n] for n in effects.models if n in fitted}
                    # entries booked since the compute read the journal are its own bookings,
                    # or someone else's (the loyalty API), whose members the next run computes
                    own = {p: list(j["key"]) for p, j in effects.journal.items() if len(j)}
                    left, journal = incremental.booked_by_others(self.store, basis.journal, own)
                    basis = replace(basis, models={**basis.models, **seen}, journal=journal)
                    basis.save(self.store)
                    left.save(self.store)
                    self.store.events.clear_dirty(marks)
        except QuotaExhausted as exc:
            report.status = RunStatus.QUOTA_STOPPED
            report.errors.append(str(exc))
            log.warning("run %s stopped by the quota guard: %s", report.run_id, exc)
        except (SalesforceError, Lead2LoyaltyError) as exc:
            # A refused sign-in (ConfigError) lands here too: a failed run, with its reason.
            report.status = RunStatus.FAILED
            report.errors.insert(0, _one_line(exc))
            log.error("run %s failed: %s", report.run_id, exc)
        except Exception as exc:
            # A bug or an OS error: still a failed run with one clear line; the traceback goes
            # to the debug log (lead2loyalty -v) for whoever fixes it.
            report.status = RunStatus.FAILED
            report.errors.insert(0, f"unexpected {type(exc).__name__}: {_one_line(exc)}")
            log.error("run %s failed: %s: %s", report.run_id, type(exc).__name__, exc)
            log.debug("run %s traceback", report.run_id, exc_info=True)
        except BaseException as exc:  # Ctrl-C, SystemExit: record it, then let it stop us
            report.status = RunStatus.FAILED
            report.errors.insert(0, f"interrupted ({type(exc).__name__})")
            raise
        finally:
            report.api_calls = _spent(calls_before, self.client.calls)
            report.duration_s = time.monotonic() - started
            report.cpu_s = time.process_time() - cpu  # this process's CPU: where time goes
            self.store.runs.finish(report.run_id, report.status, report.as_json())
        if not options.dry_run and people is None:
            keep = timedelta(days=self.settings.value_log_days)
            self.store.outbox.prune_value_log(self._now() - keep)
        return report

    def _pull_all(self, options: SyncOptions, report: RunReport) -> None:
        """Pull every object the run reads, each in its own window."""
        until = self._now() - timedelta(seconds=self.settings.pull_lag_seconds)
        if options.full and not options.dry_run:
            self.store.records.reset_watermarks()
        for name in options.objects or self._pulled_objects():
            stream = with_enrollment_fields(STREAMS[name], self.loyalty)
            stream = intent.with_lead_fields(stream, self.scoring)
            stream = predict.with_zone_field(stream, self.predictions)
            report.objects[name] = self._pull(stream, until, full=options.full)

    def _plan_changes(
        self, report: RunReport, people: frozenset[tuple[str, str]] | None, options: SyncOptions
    ) -> tuple[list[tuple[str, str, str, Any]], Effects]:
        """Resolve, Compute, Map and Diff: the values that differ from what Salesforce holds,
        and the effects the compute planned."""
        dry_run = options.dry_run
        if people is None:
            people = self._scope(options, report)
        resolved = self._resolve(people)
        if self._held:
            report.models["held_orders"] = self._held
        computed, effects = self._compute(resolved, report, refit=options.full)
        # the orders and people read for the compute: freed before the map and diff build
        # their own (a first sync's peak was there)
        del resolved
        if people is None:
            written = self.store.outbox.written_values()
            outbox = self.store.outbox.values()
        else:
            # the people's records and every other record the run computed values for (their
            # Orders' risk, their Cases): a value without its baseline would be written again
            # each run, equal or not
            records = {*people, *((str(o), str(r)) for o, r in computed.index)}
            written, outbox = self.store.outbox.baseline_for(sorted(records))
        computed = with_written_people(computed, written)
        problems: list[MapProblem] = []
        desired = self.mapper(computed, problems)
        del computed
        self._report_problems(problems, report)
        return self._diff(desired, written, outbox, report, dry_run=dry_run), effects

    def _scope(self, options: SyncOptions, report: RunReport) -> frozenset[tuple[str, str]] | None:
        """Whom an ordinary run computes: the people its changes touched (incremental.py), or
        None for everyone (the reason in ``report.scope``). Notes what it consumed, kept as
        the next run's basis when the run ends clean."""
        touched = self._touched or incremental.Touched()
        programs = [p.id for p in self.loyalty.programs] if self.loyalty is not None else []
        config = self.inputs_key
        day = self._now().astimezone(UTC).date()
        if config is None:  # no configuration fingerprint: nothing to tell a change of it by
            report.scope = {"people": "all", "why": "no configuration fingerprint"}
            return None
        basis = incremental.Basis.load(self.store)
        why = incremental.whole_org_reason(basis, touched, day=day, config=config, store=self.store)
        if options.full:
            why = "sync --full"
        elif options.whole_org:
            why = "asked for"
        # positions read before the reads they bound: what comes meanwhile is read next run
        events = self.store.events.position()
        dirty = None
        if why is None and basis is not None:
            dirty = incremental.dirty_people(self.store, touched, basis, programs)
            org = self.store.records.count("Contact") + self.store.records.count("Lead")
            if dirty.count > incremental.WHOLE_ORG_SHARE * org:
                why = f"{dirty.count:,} people touched, over a quarter of the org"
        if why is not None or dirty is None:
            journal = {p: self.store.loyalty.position(p) for p in programs}
            if not options.dry_run:
                self._consumed = (
                    incremental.current_basis(self.store, day, config, events, journal),
                    self.store.events.dirty_people(),
                )
            report.scope = {"people": "all", "why": why}
            return None
        if not options.dry_run:
            self._consumed = (
                incremental.current_basis(self.store, day, config, events, dirty.journal),
                dirty.marks,
            )
        report.scope = {"people": dirty.count}
        return dirty.people

    # ------------------------------------------------------------------ run outcome
    def _settle_in_flight(self, report: RunReport) -> None:
        """Writes a crashed run sent without recording the answer: read the org, keep what it
        holds, send the rest (connector/sync/inflight.py)."""
        settled = settle_in_flight(self.client, self.store, report.run_id)
        report.writes.verified = len({(w.object, w.record_id) for w in settled.held})
        report.writes.read_back_calls = settled.queries
        if settled.held or settled.resend:
            log.warning(
                "run %s: %d in-flight values of a crashed run already in Salesforce, %d to "
                "send again (%d verification queries)",
                report.run_id,
                len(settled.held),
                len(settled.resend),
                settled.queries,
            )

    def _pulled_objects(self) -> tuple[str, ...]:
        """The objects a run pulls: the default ones and those the loyalty programs need."""
        extra = ("Product2",) if self.orders is not None else ()  # recommendations' catalogue
        texts = TEXT_OBJECTS if self.scoring is not None and self.scoring.texts else ()
        objects = (*DEFAULT_OBJECTS, *loyalty_objects(self.loyalty), *extra, *texts)
        return tuple(dict.fromkeys(objects))

    def _mirrored_programs(self) -> list[Program]:
        programs = self.loyalty.programs if self.loyalty is not None else []
        return [p for p in programs if p.mirror == "loyalty_management"]

    def _mirror(self, report: RunReport) -> None:
        """Send each mirroring program's journal entries not yet in Loyalty Management: every
        run, so entries booked between syncs (expiry job, loyalty API) and rows an earlier run
        could not save go out even when the compute was skipped."""
        programs = self._mirrored_programs()
        if not programs:
            return
        with self.store.runs.exclusive_part("loyalty mirror") as mine:
            if mine:  # else a run of other people is sending them now
                self._mirror_programs(programs, report)

    def _mirror_programs(self, programs: list[Program], report: RunReport) -> None:
        books = self.store.loyalty
        loyalty = report.models.setdefault("loyalty", {})
        for program in programs:
            record = mirror_program(
                self.client,
                self.store,
                books,
                program,
                bulk_threshold=self.settings.push_bulk_threshold,
            )
            loyalty.setdefault(program.id, {})["mirror"] = record

    def _outcome(
        self, report: RunReport, records: frozenset[tuple[str, str]] | None = None
    ) -> RunStatus:
        """``succeeded`` only when nothing waits: no refused, carried, unmappable or unsent
        value, this run's or an earlier one's (of ``records`` when given: see _own_records),
        and no journal entry a program mirrors still out of Loyalty Management; else
        ``partial``, listing what waits and why."""
        report.outstanding = self.store.outbox.outstanding(records=records)
        waiting = outstanding_summary(report.outstanding)
        books = self.store.loyalty
        unmirrored = 0
        for program in self._mirrored_programs():
            left = backlog(self.store, books, program)
            if left:
                unmirrored += left
                mirror = report.models.get("loyalty", {}).get(program.id, {}).get("mirror", {})
                refused = next(iter(books.mirror_retry(program.id).values()), None)
                reason = mirror.get("error") or refused or "not sent yet"
                waiting.append(
                    f"{left:,} journal entries of loyalty program {program.id} not yet in "
                    f"Loyalty Management (sent again next run): {reason}"
                )
        report.errors.extend(line for line in waiting if line not in report.errors)
        w = report.writes
        waits = w.failed or w.carried_over or w.unmappable or report.outstanding or unmirrored
        if waits or report.effects_failed:
            return RunStatus.PARTIAL
        return RunStatus.SUCCEEDED

    def _alert(self, report: RunReport) -> None:
        url = self.settings.alert_webhook_url.get_secret_value()
        if not url or report.dry_run:
            return
        runs = [r for r in self.store.runs.latest(10) if r["mode"] != "dry-run"]
        previous = next((r["status"] for r in runs if r["id"] < report.run_id), None)
        if not should_alert(report.status, previous, effects_failed=report.effects_failed):
            return
        from connector.logs import RedactSecrets

        errors = report.errors
        if report.effects_failed:  # the Flow that failed first: it is why this alert comes now
            errors = sorted(errors, key=lambda line: "Flow " not in line)
        text = alert_text(
            report.run_id,
            report.status,
            errors,
            self.store.label,
            again=previous == "partial",
        )
        post_alert(url, text, redact=RedactSecrets.from_settings(self.settings).redact)

    # ------------------------------------------------------------------ pull
    def _pull(self, stream: Stream, until: datetime, *, full: bool) -> dict[str, int]:
        name = stream.object_name
        try:
            described = self.client.describe(name)
        except SalesforceError as exc:
            # An org may run without an object (Orders turned off: describe is 404 NOT_FOUND);
            # there is nothing to pull, and nothing of it counts.
            if exc.error_code != "NOT_FOUND":
                raise
            log.warning("%s is not in this org (describe: NOT_FOUND); not pulled", name)
            return {"pulled": 0, "deleted": 0, "missing": 1}
        types = {f["name"]: f["type"] for f in described["fields"]}
        hidden = [f for f in stream.expected_fields() if f not in types]
        if hidden:
            # Field-level security hides them: a pull without them would read less, silently.
            raise AccessMissing(
                f"pull {name}: describe does not show {', '.join(hidden)}: field-level "
                "security hides them from the integration user; run `lead2loyalty fields "
                "deploy` (it grants Read on them) or have an admin grant Read on them in a "
                "permission set assigned to the user (`lead2loyalty doctor` lists them)"
            )
        wanted = stream.all_fields()
        if name == "Order":  # the field that ties a Salesforce Order to a webhook's shop order
            wanted.append(self.settings.order_reference_field)
        fields = [f for f in dict.fromkeys(wanted) if f in types]
        self.store.records.declare(name, {f: types[f] for f in fields})
        # what a run of some people looks its records up by (_people_records)
        lookups = [*LOOKUPS.get(name, ()), *TEXT_LOOKUPS.get(name, ())]
        if name == "Order":  # a run of some people looks up the Orders naming its shop orders
            lookups.append(self.settings.order_reference_field)
        sender = SENDER_COLUMN.get(name, "Email")
        self.store.records.index(
            name, lookups, emails=name in ("Contact", "Lead", *SENDER_COLUMN), email_column=sender
        )
        mark = None if full else self.store.records.watermark(name)
        since = mark - timedelta(seconds=self.settings.pull_lookback_seconds) if mark else None
        user = self.client.token_user_id
        # Incremental windows leave out the echoes of our own pushes; spans old enough are
        # then read alone, for the changes an echo can hide (echo.py says why none is lost).
        spans = self.echoes.spans(name) if since is not None and user else []
        skip = Echoes(user, tuple(spans)) if user and spans else None
        sweep = self.echoes.due(name, self._now(), since) if skip and since else []
        counts = {"pulled": 0, "deleted": 0, "changed": 0}
        if since is None and self._touched is not None:
            self._touched.all(f"{name} read in full")
        self._read(name, fields, since, until, skip, counts)
        if user and sweep:
            swept = {"pulled": 0, "deleted": 0, "changed": 0}
            self._read(name, fields, None, until, Echoes(user, tuple(sweep), only=True), swept)
            counts = {k: counts[k] + swept[k] for k in counts} | {"echoes_swept": swept["pulled"]}
            self.echoes.swept(name, sweep)
        if since is None:
            self.echoes.covered(name, until)
        if self._touched is not None:  # kept before the watermark moves past what it names
            self._touched.save(self.store)
        # Only now is the window stored; a crash above re-reads it next run.
        self.store.records.set_watermark(name, until)
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
            touched = self._touched
            # whom the page touches: the owners its rows had, and have once it is stored
            pulled = touched.before(self.store, name, page) if touched is not None else None
            changed = self.store.records.upsert(name, page)
            if touched is not None:
                touched.note(self.store, pulled, changed)
            counts["changed"] += changed
            counts["pulled"] += len(page)
            counts["deleted"] += sum(1 for r in page if r.get("IsDeleted") in (True, 1, "true"))
            self._progress(f"pull {name}: {counts['pulled']:,}")

    def _currency_rates(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """The org's conversion rates when its orders carry a currency (multi-currency orgs):
        CurrencyType, and DatedConversionRate under advanced currency management. One query
        each (and one describe); nothing for a single-currency org. Kept in the store for the
        real-time passes, which convert with the last run's rates."""
        empty = pd.DataFrame(columns=["IsoCode", "ConversionRate"])
        self._corporate = self.settings.org_currency
        if self.store.records.count("Order"):
            order_fields = {f["name"] for f in self.client.describe("Order")["fields"]}
            multi = "CurrencyIsoCode" in order_fields
        elif self.store.events.has_shop_orders():  # shop orders alone: is the org multi-currency?
            multi = "CurrencyType" in {o["name"] for o in self.client.describe_global()["sobjects"]}
        else:
            multi = False
        if not multi:
            return self._keep_rates(empty, None)
        rows = self.client.currency_types()
        self._corporate = next(
            (str(r["IsoCode"]) for r in rows if r.get("IsCorporate")), self._corporate
        )
        types = pd.DataFrame(rows, columns=["IsoCode", "ConversionRate"])
        names = {o["name"] for o in self.client.describe_global()["sobjects"]}
        if "DatedConversionRate" not in names:
            return self._keep_rates(types, None)
        dated = pd.DataFrame(
            self.client.dated_conversion_rates(),
            columns=["IsoCode", "ConversionRate", "StartDate", "NextStartDate"],
        )
        return self._keep_rates(types, dated)

    def _keep_rates(
        self, types: pd.DataFrame, dated: pd.DataFrame | None
    ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        kept = {
            "corporate": self._corporate,
            "types": types.to_dict("records"),
            "dated": None if dated is None else dated.to_dict("records"),
        }
        self.store.records.set_state(RATES_KEY, json.dumps(kept, default=str))
        return types, dated

    def _reconcile(self, options: SyncOptions, report: RunReport) -> None:
        """Forget records the org no longer has, when due (``connector.sync.reconcile``)."""
        now = self._now()
        last = self.store.records.watermark(reconcile.RECONCILED_KEY)
        hours = self.settings.reconcile_interval_hours
        if not reconcile.due(last, now, hours, full=options.full):
            if last is None:
                self.store.records.set_watermark(
                    reconcile.RECONCILED_KEY, now
                )  # the interval starts
            return
        with report.timed("reconcile"):
            report.reconciled = reconcile.reconcile(
                self.client,
                self.store,
                list(options.objects or self._pulled_objects()),
                self.settings.pull_bulk_threshold,
            )
        if self._touched is not None and any(
            r.get("forgotten") for r in report.reconciled.values()
        ):
            # whom a forgotten record named is no longer known: everyone
            self._touched.all("records the org no longer has were forgotten")
            self._touched.save(self.store)
        self.store.records.set_watermark(reconcile.RECONCILED_KEY, now)

    # ------------------------------------------------------------------ compute
    def _inputs_key(self) -> str | None:
        """What this run's compute would read (``inputs.py``); None: compute regardless."""
        if self.inputs_key is None:
            return None
        return inputs.inputs_key(
            self.store.records.input_generation(), self._now().date(), self.inputs_key
        )

    def _resolve(self, people: frozenset[tuple[str, str]] | None) -> Resolved:
        """The Resolve step: read the people, orders and events the models need, once, and
        resolve them (``sync/resolve.py``). A run of some people reads only their orders and
        events (with a frozen population to predict them against, :meth:`_population`)."""
        reference = self.settings.order_reference_field
        contact_columns = [
            "Id",
            "Email",
            "AccountId",
            *predict.contact_fields(self.predictions),
            *enrollment_fields(self.loyalty),
        ]
        conversion = self.scoring.conversion if self.scoring is not None else None
        lead_columns = intent.lead_columns(conversion)
        account_columns = ["Id", "PersonContactId"]
        columns = [*ORDER_COLUMNS, *FILTER_COLUMNS, reference]
        narrow = people is not None and (self.predictions is None or self._population is not None)
        names = self._event_names()
        if narrow and people is not None:
            # what orders tell reads its orders' own fields too: read with them, once
            read = [*columns, *(orders_intel_columns(self.orders) if self.orders else [])]
            contacts, leads, accounts, salesforce_orders, events = self._people_records(
                people,
                contact_columns,
                lead_columns,
                account_columns,
                list(dict.fromkeys(read)),
                names,
            )
            shop = self._people_shop_orders(contacts, leads, salesforce_orders, reference)
        else:
            contacts = self.store.records.frame("Contact", contact_columns)
            leads = self.store.records.frame("Lead", lead_columns)
            accounts = self.store.records.frame("Account", account_columns)
            salesforce_orders = self.store.records.frame("Order", columns)
            events = self.store.events.frame(names, EVENT_PROPERTIES) if names else _no_events()
            shop = self.store.events.shop_orders()
        # Salesforce Orders and the webhooks' shop orders (the same order counted once).
        orders = merge_orders(
            salesforce_orders,
            shop,
            contacts,
            leads,
            reference,
            columns,
        )
        orders = counted_orders(
            orders,
            split_list(self.settings.order_statuses),
            split_list(self.settings.order_status_categories),
        )
        if self._rates is None:  # a run of some people reads them once per engine
            self._rates = self._currency_rates()
        orders, held = hold_unconvertible(
            orders, self._corporate, list(self._rates[0]["IsoCode"].astype(str))
        )
        self._held = None
        if len(held):  # named in the run record, never added as is (connector.sync.orders)
            self._held = {
                "reason": f"no rate to the org's currency {self._corporate}",
                "by_currency": held["CurrencyIsoCode"].astype(str).value_counts().to_dict(),
                "orders": sorted(held["Id"].astype(str))[:20],
            }
        orders = to_corporate(orders, *self._rates)
        intent_config = self.scoring.intent if self.scoring is not None else None
        return resolve_run(
            now=self._now(),
            contacts=contacts,
            leads=leads,
            accounts=accounts,
            orders=orders,
            events=events,
            shop_keys=self.store.events.shop_order_keys(),
            reference_field=reference,
            orders_are_events=bool(intent_config and intent_config.orders_from_salesforce),
            people=people,
            order_records=salesforce_orders if narrow else None,
        )

    def _people_records(
        self,
        people: frozenset[tuple[str, str]],
        contact_columns: list[str],
        lead_columns: list[str],
        account_columns: list[str],
        order_columns: list[str],
        names: list[str],
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """What a run of some people reads (contacts, leads, accounts, Salesforce orders,
        events), by indexed lookups: their records, orders and events, and every record those
        name, so each order and event resolves as a read of the whole org would resolve it
        (an order's first live Contact, its Account's person contact; an email's Contact before
        its Lead). A real-time pass on the medium seed read every Contact, Lead and Account
        before this, about 2.5 s a pass whoever it was for."""
        records = self.store.records
        contact_ids = sorted(rid for obj, rid in people if obj == "Contact")
        lead_ids = sorted(rid for obj, rid in people if obj == "Lead")
        theirs = records.frame("Contact", contact_columns, any_of={"Id": contact_ids})
        their_leads = records.frame(
            "Lead", lead_columns, any_of={"Id": lead_ids, "ConvertedContactId": contact_ids}
        )
        own = records.frame("Account", account_columns, any_of={"PersonContactId": contact_ids})
        orders_of, events_of = _belongings(people, theirs, their_leads, own)
        orders = records.frame("Order", order_columns, any_of=orders_of)
        events = (
            self.store.events.frame(names, EVENT_PROPERTIES, emails=events_of)
            if names
            else _no_events()
        )
        # every record the orders and events name, so they resolve as in a run of everyone
        # tolist(): a pandas string column iterated value by value costs ~0.4 us a value, its
        # list ~0.13 us (200,000 ids, unprofiled)
        account_ids = {
            *orders["AccountId"].dropna().astype(str).tolist(),
            *theirs["AccountId"].dropna().tolist(),
        }
        accounts = records.frame(
            "Account",
            account_columns,
            any_of={"Id": sorted(account_ids), "PersonContactId": contact_ids},
        )
        named = {*contact_ids, *accounts["PersonContactId"].dropna().astype(str).tolist()}
        for column in ("BillToContactId", "ShipToContactId", "CustomerAuthorizedById"):
            named |= set(orders[column].dropna().astype(str).tolist())
        emails = set(normalise_email(events["email"]).dropna().tolist()) | set(events_of)
        contacts = pd.concat(
            [
                records.frame("Contact", contact_columns, any_of={"Id": sorted(named)}),
                records.with_emails("Contact", contact_columns, emails),
            ],
            ignore_index=True,
        ).drop_duplicates("Id")
        leads = pd.concat(
            [
                their_leads,
                records.with_emails("Lead", lead_columns, emails),
            ],
            ignore_index=True,
        ).drop_duplicates("Id")
        return contacts, leads, accounts, orders, events

    def _people_shop_orders(
        self,
        contacts: pd.DataFrame,
        leads: pd.DataFrame,
        salesforce_orders: pd.DataFrame,
        reference: str,
    ) -> pd.DataFrame:
        """The shop orders a run of some people merges (``merge_orders``): those of the
        emails of the Contacts and Leads it read (a shop order binds to its shopper by email,
        and to no one it did not read), less those a Salesforce Order it did not read names in
        ``reference``: a read of everything drops such a shop order for that Salesforce Order,
        which counts for its own people, so here it must not count for the email's. A shop
        order one of its own Salesforce Orders names is dropped by the merge as in a read of
        everything. Read by the email index and the reference's, not the whole table of
        webhook orders each pass."""
        emails = normalise_email(pd.concat([contacts["Email"], leads["Email"]], ignore_index=True))
        shop = self.store.events.shop_orders(emails=emails.dropna().tolist())
        if not len(shop):
            return shop
        names = {
            *shop["platform_order_id"].dropna().astype(str).tolist(),
            *shop["reference"].dropna().astype(str).tolist(),
        }
        if reference in salesforce_orders and len(salesforce_orders):
            names -= set(salesforce_orders[reference].dropna().astype(str).str.strip().tolist())
        if not names:
            return shop
        others = self.store.records.frame(
            "Order", ["Id", reference], any_of={reference: sorted(names)}
        )
        named = set(others[reference].dropna().astype(str).str.strip().tolist())
        known = shop["platform_order_id"].astype(str).isin(named) | shop["reference"].astype(
            str
        ).isin(named)
        return shop[~known].reset_index(drop=True)

    @property
    def _population(self) -> Population | None:
        """What the last full run learnt of the population (predictions), if stored."""
        stored = self.store.scoring.load_model(POPULATION)
        return self._parsed_population(stored.params) if stored is not None else None

    def _parsed_population(self, text: str) -> Population:
        """``Population.from_json(text)``, parsed once per stored text (frozen, so shared)."""
        if self._parsed is None or self._parsed[0] != text:
            self._parsed = (text, Population.from_json(text))
        return self._parsed[1]

    def _frozen_population(self, resolved: Resolved) -> Population | None:
        """The population a run predicts against instead of refitting: the one fitted this UTC
        day (predictions are as of the day's start, so a refit a day is the schedule; ``sync
        --full`` refits at once); a run of some people takes any stored one. ``None``: refit."""
        stored = self.store.scoring.load_model(POPULATION)
        if stored is None:
            return None
        today = resolved.now.astimezone(UTC).date().isoformat()
        if resolved.people is None and stored.record.get("day") != today:
            return None
        return self._parsed_population(stored.params)

    def _event_names(self) -> list[str]:
        """Every event name a configured model reads."""
        names: set[str] = set()
        if self.predictions is not None:
            names |= set(predict.EVENT_NAMES)
        if self.scoring is not None and self.scoring.intent is not None:
            names |= set(intent.event_names(self.scoring.intent))
        names |= set(loyalty_event_names(self.loyalty))
        if self.scoring is not None and self.scoring.texts is not None:
            names |= set(self.scoring.texts.text_events)
        return sorted(names)

    def _compute(
        self, resolved: Resolved, report: RunReport, *, refit: bool = False
    ) -> tuple[pd.DataFrame, Effects]:
        """The Compute step: each model, a pure function of the resolved frames (and what it
        reads of the store, read first), into one values frame, and the effects planned."""
        effects = Effects()
        frames = [compute.rfm(resolved.orders, resolved.now.date())]
        if self.predictions is not None:
            frozen = None if refit else self._frozen_population(resolved)
            values, record, learnt = predict.predict_contacts(resolved, self.predictions, frozen)
            if frozen is None and learnt is not None:
                # later runs this day predict against it: nobody's values drift with others'
                day = resolved.now.astimezone(UTC).date().isoformat()
                effects.models[POPULATION] = (
                    learnt.to_json(),
                    {"method": learnt.method, "day": day},
                )
            report.models["predictions"] = record
            frames.append(values)
        if self.loyalty is not None and self.loyalty.programs:
            values, planned, record = loyalty_values(
                self.loyalty,
                resolved,
                load_loyalty_inputs(self.store, self.loyalty, resolved),
                reference_field=self.settings.order_reference_field,
                segments=member_segments(frames),
                mapped_programs=self.mapped_programs,
            )
            report.models["loyalty"] = record
            effects.extend(planned)
            frames.append(values)
        if self.scoring is not None and self.scoring.texts is not None:
            # what people wrote: values on their records, and events the intent score reads
            texts = self.scoring.texts
            wrote = texts_values(
                resolved, texts, load_text_records(self.store, resolved), self.scoring.text_intents
            )
            report.models["texts"] = wrote.record
            resolved = replace(with_text_events(resolved, wrote.events), owned=wrote.owned)
            values = wrote.values
            frames.append(compute.model_frame("texts", values[resolved.wants(values.index)]))
            if texts.unhappy.flow is not None:
                # a valued customer's negative message: valued by the values computed so far
                so_far = pd.concat(frames, axis=1) if len(frames) > 1 else frames[0]
                planned, moment = plan_unhappy(
                    wrote,
                    texts,
                    valued_people(so_far, texts, self._top_tiers()),
                    self.store.scoring.fired(UNHAPPY_MOMENT, "message"),
                    resolved,
                )
                wrote.record["unhappy"] = moment
                effects.extend(planned)
        if self.scoring is not None:
            scored, records, planned = intent.scoring_values(
                resolved, self.scoring, intent.load_inputs(self.store, self.scoring)
            )
            report.models.update(records)
            effects.extend(planned)
            frames.extend(scored)
        if self.orders is not None:
            reference = self.settings.order_reference_field
            told, record, planned = orders_values(
                resolved,
                self.orders,
                load_orders_inputs(self.store, self.orders, resolved, reference_field=reference),
            )
            report.models["orders"] = record
            effects.extend(planned)
            frames.extend(told)
        computed = pd.concat(frames, axis=1) if len(frames) > 1 else frames[0]
        return computed[resolved.wants(computed.index)], effects

    def _top_tiers(self) -> frozenset[str]:
        """The top tier of each loyalty program (levels ascend: models/loyalty.yaml)."""
        top: set[str] = set()
        for program in self.loyalty.programs if self.loyalty is not None else []:
            if program.tiers is not None and program.tiers.levels:
                top.add(program.tiers.levels[-1].name)
        return frozenset(top)

    def _effects(self, effects: Effects, report: RunReport) -> None:
        """The Effects step (``sync/effects.py``): book, give, remember, fire; what failed is
        named and makes the run partial."""
        if not effects:
            return
        applied = apply_effects(effects, self.client, self.store, report.run_id)
        loyalty = report.models.get("loyalty", {})
        for program, booked in applied.booked.items():
            loyalty.setdefault(program, {})["booked"] = booked
            fired = applied.fired.get(tier_moment(program))
            if fired:
                loyalty[program]["flows_invoked"] = fired
        if applied.vouchers and self.loyalty is not None and self.loyalty.programs:
            loyalty.setdefault(self.loyalty.programs[0].id, {})["vouchers_given"] = applied.vouchers
        moments = report.models.get("moments")
        if moments:
            for name, entry in moments.items():
                if isinstance(entry, dict):
                    entry["fired"] = applied.fired.get(name, 0)
            moments["method"] = intent.moments_method(moments)
        told = report.models.get("orders", {})
        for part, name in (("risk", RISK_MOMENT), ("fulfilment", FULFILMENT_MOMENT)):
            if isinstance(told.get(part), dict) and name in applied.fired:
                told[part]["fired"] = applied.fired[name]
        unhappy = report.models.get("texts", {}).get("unhappy")
        if isinstance(unhappy, dict):
            unhappy["fired"] = applied.fired.get(UNHAPPY_MOMENT, 0)
        report.effects_failed = sum(applied.failed.values())
        report.errors.extend(applied.errors)

    @staticmethod
    def _report_problems(problems: list[MapProblem], report: RunReport) -> None:
        """Values the mappings cannot write: counted, the first few said, each one logged."""
        report.writes.unmappable = len(problems)
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
        outbox: dict[tuple[str, str, str], tuple[str, str]],
        report: RunReport,
        *,
        dry_run: bool,
    ) -> list[tuple[str, str, str, Any]]:
        """Values that differ from the last successful write; stale outbox rows dropped."""
        ids: dict[str, list[str]] = defaultdict(list)
        for obj, record_id in desired:
            ids[obj].append(record_id)
        live = {obj: self._live_ids(obj, rids) for obj, rids in ids.items()}
        result = diff(desired, written, outbox, live, self.min_change)
        if result.stale and not dry_run:
            self.store.outbox.drop(result.stale)
        report.writes.fields_changed = len(result.changes)
        return result.changes

    def _live_ids(self, obj: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` the org still has (stored, not deleted): looked up by Id, or, for
        a good share of the object (a whole-org run), read as the whole Id column: every
        record of the medium seed's five written objects took 1.4 s of CPU in lookups of
        5,000 ids, 0.5 s so."""
        records = self.store.records
        if 4 * len(ids) < records.count(obj):
            return set(records.frame(obj, ["Id"], any_of={"Id": ids})["Id"].astype(str).tolist())
        return set(records.frame(obj, ["Id"])["Id"].astype(str).tolist()).intersection(ids)

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
                "api_calls": BULK_JOB_CALLS if bulk else math.ceil(n / COLLECTION_LIMIT),
                "bulk": int(bulk),
            }
            report.writes.planned += n

    # ------------------------------------------------------------------ push
    def _own_records(
        self,
        people: frozenset[tuple[str, str]] | None,
        changes: list[tuple[str, str, str, Any]],
    ) -> frozenset[tuple[str, str]] | None:
        """The records whose outbox values this run sends and answers for: all (None), or
        beside other runs of other people (PostgreSQL workers) its people and the other records
        its changes touch (their orders, Cases): the rest is another run's, which holds those
        people and sends it, so nothing is sent twice."""
        if people is None or not self.store.runs.shared:
            return None
        return people | {(obj, record_id) for obj, record_id, _, _ in changes}

    def _push(self, report: RunReport, records: frozenset[tuple[str, str]] | None = None) -> None:
        """Send what the outbox holds for ``records`` (None: all of it; see _own_records)."""
        by_record: dict[tuple[str, str], list[PendingWrite]] = defaultdict(list)
        for pending in self.store.outbox.pending(records):
            by_record[(pending.object, pending.record_id)].append(pending)
        report.writes.queued = len(by_record)
        by_object: dict[str, list[tuple[str, list[PendingWrite]]]] = defaultdict(list)
        for (obj, record_id), writes in by_record.items():
            by_object[obj].append((record_id, writes))
        contacts = sorted(rid for obj, rid in by_record if obj == "Contact")
        person = person_contacts(  # the person accounts of the Contacts to write, looked up
            self.store.records.frame(
                "Account",
                ["Id", "IsPersonAccount", "PersonContactId"],
                any_of={"PersonContactId": contacts},
            )
        )
        groups: list[tuple[str, list[tuple[str, list[PendingWrite]]], dict[str, str] | None]] = []
        for obj, items in by_object.items():
            if obj == "Contact" and person:
                # person contacts are written through their Account's __pc fields
                groups.append(("Account", [i for i in items if i[0] in person], person))
                items = [i for i in items if i[0] not in person]
            groups.append((obj, items, None))
        # Objects under the Bulk threshold share their collection calls: one call takes
        # records of several objects, so N records cost ceil(N/200) calls, not one more per
        # object (53 records of Contact and Lead took 2 calls, 470 took 4, 2,000 took 11).
        shared: list[_Target] = []
        # Only the groups hold the values from here, and each Bulk group is let go once sent:
        # a first sync's Orders (sent last) no longer come on top of every value sent before
        # them (the medium seed's 2.0M values were all held to the end of the push).
        del by_record, by_object
        groups.reverse()
        while groups:
            obj, items, via = groups.pop()
            if len(items) > self.settings.push_bulk_threshold:
                with self._echoes_of(obj, via):
                    self._push_batch(obj, items, report, bulk=True, via=via)
            else:
                shared += [_Target(obj, rid, ws, via) for rid, ws in items]
            del items
        if shared:
            with contextlib.ExitStack() as spans:
                for obj, through in dict.fromkeys((t.object, t.via is not None) for t in shared):
                    spans.enter_context(self._echoes_of(obj, {} if through else None))
                self._push_collections(shared, report)

    @contextmanager
    def _echoes_of(self, obj: str, via: dict[str, str] | None) -> Iterator[None]:
        """Remember the span of ``obj``'s saves, so their echoes are not read back (echo.py);
        also when the quota guard stops the run: what was saved echoes."""
        started = datetime.now(UTC)  # Salesforce's clock stamps the saves, not the fake one
        try:
            yield
        finally:
            ended = datetime.now(UTC)
            self.echoes.record(obj, started, ended)
            if via is not None:
                # A write through a person account's __pc fields saves its person contact too
                # (the medium seed's second sync re-read 20,000 person contacts before this).
                self.echoes.record("Contact", started, ended)

    def _push_collections(self, targets: list[_Target], report: RunReport) -> None:
        """Write through sObject Collections, records of several objects in one call (grouped
        by object: Salesforce takes at most 10 runs of one type per call), refused-but-retryable
        records pooled into the next full calls (``retry_pool``), each call's outcome recorded
        as it comes back."""
        planner = BatchPlanner((Item(t.record_id, t) for t in targets), COLLECTION_LIMIT)
        settled = 0
        order = {obj: n for n, obj in enumerate(dict.fromkeys(t.object for t in targets))}
        while planner:
            wait, batch = planner.next_batch()
            if wait:
                self._sleep(wait)
            # Retries go first in a call: grouped again by object (a stable sort), so a call
            # holds one run per object.
            batch.sort(key=lambda i: order[i.writes.object])
            written: list[PendingWrite] = []
            failed: list[tuple[PendingWrite, str]] = []
            carried: list[tuple[PendingWrite, str]] = []
            # Sent, answer not yet recorded: a crash from here on is settled by the next run.
            # Marked under the outbox's object: a person contact's values go out through its
            # Account (``via``) but wait, and are read back, as the Contact's.
            self.store.outbox.mark_in_flight(
                report.run_id, [(i.writes.writes[0].object, i.record_id) for i in batch]
            )
            records = [
                (i.writes.object, _record(i.record_id, i.writes.writes, i.writes.via))
                for i in batch
            ]
            objects = ", ".join(dict.fromkeys(i.writes.object for i in batch))
            try:
                results = self.client.update_records(records)
            except RetryableError as exc:
                carried.extend(_unanswered(report, objects, [i.writes.writes for i in batch], exc))
                settled += len(batch)
            except QuotaExhausted:
                # Refused before it was sent: pending again, no longer in flight.
                self.store.outbox.release_in_flight(w.key for it in batch for w in it.writes.writes)
                raise
            else:
                for it, result in zip(batch, results, strict=True):
                    if result.success:
                        written.extend(it.writes.writes)
                    elif result.retryable and it.attempt < self.settings.max_retries:
                        planner.retry(it, self._backoff(it.attempt + 1))
                        continue
                    else:
                        error = f"{result.error_code}: {result.message}"
                        bucket = carried if result.retryable else failed
                        bucket.extend((w, error) for w in it.writes.writes)
                    settled += 1
            self.store.outbox.record_results(report.run_id, written, carried, failed)
            self._count(report, written, carried, failed)
            self._progress(f"push {objects}: {settled:,}/{len(targets):,}")

    def _push_batch(
        self,
        obj: str,
        items: list[tuple[str, list[PendingWrite]]],
        report: RunReport,
        *,
        bulk: bool,
        via: dict[str, str] | None = None,
    ) -> None:
        """Write one batch, retrying retryable rows with backoff, then record the outcome.

        ``via`` maps person contacts to the Accounts their values are written through.
        """
        remaining = dict(items)
        written: list[PendingWrite] = []
        failed: list[tuple[PendingWrite, str]] = []
        carried: list[tuple[PendingWrite, str]] = []
        attempt = 0
        # Sent, answer not yet recorded: a crash from here on is settled by the next run.
        self.store.outbox.mark_in_flight(report.run_id, [(ws[0].object, rid) for rid, ws in items])
        while remaining:
            records = [_record(rid, ws, via) for rid, ws in remaining.items()]
            try:
                if bulk:
                    results = self.client.bulk_upsert(obj, records, "Id")
                else:
                    results = self.client.update_collection(obj, records)
            except RetryableError as exc:
                carried.extend(_unanswered(report, obj, list(remaining.values()), exc))
                remaining = {}
                break
            except QuotaExhausted:
                # Keep what was learnt so far; the rest stays pending in the outbox (refused
                # before it was sent, so no longer in flight).
                self.store.outbox.release_in_flight(w.key for ws in remaining.values() for w in ws)
                self.store.outbox.record_results(report.run_id, written, carried, failed)
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
        self.store.outbox.record_results(report.run_id, written, carried, failed)
        self._count(report, written, carried, failed)

    def _count(
        self,
        report: RunReport,
        written: list[PendingWrite],
        carried: list[tuple[PendingWrite, str]],
        failed: list[tuple[PendingWrite, str]],
    ) -> None:
        report.writes.succeeded += len({w.record_id for w in written})
        report.writes.carried_over += len({w.record_id for w, _ in carried})
        report.writes.failed += len({w.record_id for w, _ in failed})
        for w, error in failed[:20]:
            report.errors.append(f"{w.object} {w.record_id} {w.field}: {error}")


def _unanswered(
    report: RunReport, obj: str, records: list[list[PendingWrite]], exc: RetryableError
) -> list[tuple[PendingWrite, str]]:
    """What a write call that failed after the client's own retries leaves: nothing to carry
    when it was sent and its answer lost (Salesforce may have saved it: the rows stay in
    flight and the next run reads the org before sending any again), else every row carried."""
    if isinstance(exc, OutcomeUnknown):
        report.writes.carried_over += len(records)
        report.errors.append(unknown_outcome_line(obj, len(records), exc))
        return []
    error = f"{type(exc).__name__}: {exc}"
    return [(w, error) for writes in records for w in writes]


class _Target(NamedTuple):
    """One record to write: the object it is written as (an Account for a person contact),
    its id, its outbox values, and the person contact -> Account map when written so."""

    object: str
    record_id: str
    writes: list[PendingWrite]
    via: dict[str, str] | None


def _record(
    record_id: str, writes: list[PendingWrite], via: dict[str, str] | None
) -> dict[str, Any]:
    """The body of one record's write: its fields, or, for a person contact written through
    its Account (``via``), the Account's ``__pc`` fields."""
    if via is None:
        return {"Id": record_id, **{w.field: w.value for w in writes}}
    return {"Id": via[record_id], **{account_field(w.field): w.value for w in writes}}


def _belongings(
    people: frozenset[tuple[str, str]],
    contacts: pd.DataFrame,
    leads: pd.DataFrame,
    accounts: pd.DataFrame,
) -> tuple[dict[str, list[str]], list[str]]:
    """What a run of ``people`` reads: the Order columns that can name them (their Contacts,
    their Accounts: person accounts and the business Accounts whose orders pool), and their
    emails (the intake stores emails trimmed and lower-case)."""
    contact_ids = sorted(rid for obj, rid in people if obj == "Contact")
    lead_ids = {rid for obj, rid in people if obj == "Lead"}
    pooled = {rid for obj, rid in people if obj == "Account"}  # Accounts whose orders pool
    mine = contacts[contacts["Id"].astype(str).isin(contact_ids)]
    own = accounts.loc[accounts["PersonContactId"].isin(contact_ids), "Id"].astype(str)
    account_ids = sorted({*mine["AccountId"].dropna().astype(str), *own, *pooled})
    converted = leads["ConvertedContactId"].isin(contact_ids) if len(leads) else []
    their_leads = leads[leads["Id"].astype(str).isin(lead_ids) | converted] if len(leads) else leads
    emails = normalise_email(pd.concat([mine["Email"], their_leads["Email"]], ignore_index=True))
    orders = {
        "BillToContactId": contact_ids,
        "ShipToContactId": contact_ids,
        "CustomerAuthorizedById": contact_ids,
        "AccountId": account_ids,
    }
    return orders, sorted(set(emails.dropna()))


def _mode(options: SyncOptions, people: frozenset[tuple[str, str]] | None) -> str:
    """The run's mode as ``runs`` shows it."""
    if people is not None:
        # a dry run of some people is the admin page's mapping preview
        return "preview" if options.dry_run else "realtime"
    return "dry-run" if options.dry_run else ("full" if options.full else "incremental")


def _no_events() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "source",
            "delivery_id",
            "name",
            "occurred_at",
            "email",
            "anonymous_id",
            "properties",
            *EVENT_PROPERTIES,
        ]
    )


def _one_line(exc: BaseException) -> str:
    """An error as one line: its first line, or its type when it has no message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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

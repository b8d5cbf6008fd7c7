"""The Effects step: what a run does besides writing fields, done after the push, each once.

Compute only *plans* effects (:class:`Effects`); this module carries them out, so a dry run is
"stop before Push" and compute needs no store and no client. In order:

1. **Book** each program's new journal entries (their idempotency keys are unique, so a run that
   dies after the push books them on the next run, once).
2. **Give** the vouchers promotions earned (unique by source key, so each once).
3. **Remember** what needs no Flow: moments re-armed, tiers seen for the first time (a first
   sync announces nothing), tier changes of a program without a Flow.
4. **Fire** every moment's Flow through one loop (:func:`fire`): calls grouped by Flow, at most
   :data:`FLOW_BATCH` interviews a request; an interview counts only when Salesforce says
   ``isSuccess: true`` for it, and only then is it remembered, so a refused one (or a whole
   request that failed: a missing Flow, a fault) is tried again next run, once per run. Each
   failure is named (Flow and Salesforce's message) and makes the run ``partial``.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd

from connector.errors import OutcomeUnknown, RetryableError, SalesforceError
from connector.salesforce.port import FLOW_BATCH, SalesforcePort
from connector.store import Store
from connector.store.runs import person_key
from connector.sync.inflight import unconfirmed_flow_line

log = logging.getLogger(__name__)

MomentKind = Literal["intent", "tier"]


@dataclass(frozen=True)
class MomentCall:
    """One Flow interview a moment asks for, and what to remember once Salesforce ran it.

    ``kind`` says where it is remembered: ``intent`` (the moment's fired set: ``scope`` is
    (moment, object), ``key`` the record id, ``value`` the score) or ``tier`` (the program's
    notified tiers: ``scope`` is (program, ""), ``key`` the member, ``value`` the tier).
    """

    moment: str
    flow: str
    inputs: Mapping[str, Any]
    kind: MomentKind
    scope: tuple[str, str]
    key: str
    value: Any


@dataclass
class Effects:
    """Everything a run's compute planned besides field values."""

    journal: dict[str, pd.DataFrame] = field(default_factory=dict)  # program -> new entries
    vouchers: list[dict[str, Any]] = field(default_factory=list)
    rearm: list[tuple[str, str, list[str]]] = field(default_factory=list)  # moment, object, ids
    tiers_seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # program, tiers
    calls: list[MomentCall] = field(default_factory=list)
    # model name -> (parameters as JSON, record): fitted by compute, stored after the push
    models: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    # order risk (issue 24, sync/orders_intel.py): scores to keep frozen (order id, score,
    # reasons, held), held shop-order scores an Order adopts (shop id, Order Id), and held
    # scores past their age limit (ids, the limit in days)
    risk_kept: list[tuple[str, int, str, bool]] = field(default_factory=list)
    risk_adopted: list[tuple[str, str]] = field(default_factory=list)
    risk_expired: tuple[list[str], int] = field(default_factory=lambda: ([], 0))

    def extend(self, other: Effects) -> None:
        """Add ``other``'s effects to these."""
        self.journal.update(other.journal)
        self.vouchers.extend(other.vouchers)
        self.rearm.extend(other.rearm)
        self.tiers_seen.extend(other.tiers_seen)
        self.calls.extend(other.calls)
        self.models.update(other.models)
        self.risk_kept.extend(other.risk_kept)
        self.risk_adopted.extend(other.risk_adopted)
        if other.risk_expired[0]:
            self.risk_expired = other.risk_expired

    def __bool__(self) -> bool:
        return bool(
            any(len(j) for j in self.journal.values())
            or self.vouchers
            or self.rearm
            or self.tiers_seen
            or self.calls
            or self.models
            or self.risk_kept
            or self.risk_adopted
            or self.risk_expired[0]
        )


#: Journal columns that repeat a few values over a whole batch (programs, kinds, rules...).
REPEATED_COLUMNS = (
    "program",
    "kind",
    "currency",
    "source_type",
    "rule_id",
    "rule",
    "partner",
    "brand",
    "reason",
    "token",
)
#: Planned entries from which :func:`compact_journal` pays for itself.
COMPACT_FROM = 50_000


def compact_journal(entries: pd.DataFrame) -> pd.DataFrame:
    """A big batch of planned journal entries with its repeating text columns held as
    categories: the same values, a code per entry instead of a string object. A first sync of
    the medium seed plans 678,110 entries, held from the compute to the Effects step after the
    push, across the connector's peak memory; as plain text columns they took about 470 MB.
    """
    if len(entries) < COMPACT_FROM:
        return entries
    repeated = {c: "category" for c in REPEATED_COLUMNS if c in entries.columns}
    return entries.astype(repeated)


@dataclass
class Applied:
    """What the Effects step did: counts per moment and program, and every failure named."""

    booked: dict[str, int] = field(default_factory=dict)
    vouchers: int = 0
    fired: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)
    # Calls Salesforce did not run (refused, or the request failed): tried again by the next
    # run; those whose request failed for a passing reason (RetryableError: no answer before
    # sending, a lock, a 5xx of an idempotent read...) also sooner by a queue job on PostgreSQL
    # (:func:`retry_on_queue`). A refused interview or a missing Flow waits for the next run:
    # retrying it every few seconds would change nothing and hold people meanwhile.
    unfired: list[MomentCall] = field(default_factory=list)
    transient: list[MomentCall] = field(default_factory=list)


def apply(
    effects: Effects,
    client: SalesforcePort,
    store: Store,
    run_id: int | None,
) -> Applied:
    """Carry out ``effects`` in the order of the module docstring."""
    out = Applied()
    books = store.loyalty
    for program, entries in effects.journal.items():
        out.booked[program] = books.append(entries) if len(entries) else 0
    if effects.vouchers:
        done = books.issued_for([v["source_key"] for v in effects.vouchers])
        new = [v for v in effects.vouchers if v["source_key"] not in done]
        out.vouchers = books.add_vouchers(new) if new else 0
    for name, (params, record) in effects.models.items():
        store.scoring.save_model(name, params, record)
    keep_order_risk(effects, store, run_id)
    for moment, obj, ids in effects.rearm:
        store.scoring.rearm(moment, obj, ids)
    for program, tiers in effects.tiers_seen:
        if tiers:
            books.record_tiers(program, tiers, run_id)
    fire(client, store, effects.calls, run_id, out)
    queued = [c for c in out.transient if person_of(c) is not None]
    if queued:
        retry_on_queue(store, queued)
    return out


def person_of(call: MomentCall) -> str | None:
    """The person lock (``RunsRepository.people_lock``) of the person ``call`` is about, or
    None when it names another record (an Order, a Case): a run computing that person holds
    it from its compute to its Effects, so a queue job holding it never fires a call that run
    plans too."""
    if call.kind == "tier":
        obj, _, rid = call.key.partition(":")
    else:
        obj, rid = call.scope[1], call.key
    return person_key(obj, rid) if obj in ("Contact", "Lead") and rid else None


def retry_on_queue(store: Store, calls: Sequence[MomentCall]) -> bool:
    """On PostgreSQL, defer a job that invokes ``calls`` again (``connector.sync.jobs``:
    retried by the queue with a growing wait, each call skipped once remembered, so a later run
    that fired it first is not doubled); True when deferred. SQLite: nothing, the next run tries
    them again as before. A queue that cannot be reached costs nothing: the next run does."""
    if store.url is None or not calls:
        return False
    from connector.store import queue

    try:
        queue.defer(
            queue.shared_app(store.url),
            queue.FIRE,
            queueing_lock=queue.FIRE,  # one waiting at most: the next run covers the rest
            calls=[call_json(c) for c in calls],
        )
    except Exception as exc:  # the queue's own errors: the run's next pass covers the calls
        log.warning("Flow calls not deferred to the queue (the next run tries them): %s", exc)
        return False
    return True


def call_json(call: MomentCall) -> dict[str, Any]:
    """``call`` as the queue's job arguments (JSON: numpy numbers as Python ones)."""
    out = {
        "moment": call.moment,
        "flow": call.flow,
        "inputs": dict(call.inputs),
        "kind": call.kind,
        "scope": list(call.scope),
        "key": call.key,
        "value": call.value,
    }
    return dict(json.loads(json.dumps(out, default=_plain)))


def call_from_json(data: Mapping[str, Any]) -> MomentCall:
    """The :class:`MomentCall` of :func:`call_json`'s ``data``."""
    scope = data["scope"]
    return MomentCall(
        moment=str(data["moment"]),
        flow=str(data["flow"]),
        inputs=dict(data["inputs"]),
        kind=data["kind"],
        scope=(str(scope[0]), str(scope[1])),
        key=str(data["key"]),
        value=data["value"],
    )


def remembered(store: Store, call: MomentCall) -> bool:
    """True when ``call`` is remembered as run (a run or a job fired it since it was planned)."""
    if call.kind == "intent":
        return call.key in store.scoring.fired(call.scope[0], call.scope[1])
    told = store.loyalty.notified_tiers(call.scope[0], [call.key])
    return told.get(call.key) == str(call.value)


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    return item() if callable(item) else str(value)


def keep_order_risk(effects: Effects, store: Store, run_id: int | None) -> None:
    """Adopt held scores, keep the new ones (frozen from now on), drop the expired held ones
    with a log line (sync/orders_intel.py says why each)."""
    scoring = store.scoring
    if effects.risk_adopted:
        scoring.adopt_held_risk(effects.risk_adopted, run_id)
    if effects.risk_kept:
        scoring.keep_order_risk(effects.risk_kept, run_id, datetime.now(UTC).isoformat())
    expired, days = effects.risk_expired
    if expired:
        gone = scoring.drop_held_risk(expired)
        log.info(
            "dropped %d held order risk score(s) older than %d days, no Salesforce Order "
            "named them: %s",
            gone,
            days,
            ", ".join(sorted(expired)[:5]) + (" ..." if len(expired) > 5 else ""),
        )


def fire(
    client: SalesforcePort,
    store: Store,
    calls: Sequence[MomentCall],
    run_id: int | None,
    out: Applied,
) -> None:
    """Invoke every call's Flow, :data:`FLOW_BATCH` interviews a request, remembering each
    interview Salesforce ran; the others are counted and named in ``out``."""
    by_flow: dict[str, list[MomentCall]] = defaultdict(list)
    for call in calls:
        by_flow[call.flow].append(call)
    for flow, todo in by_flow.items():
        for start in range(0, len(todo), FLOW_BATCH):
            batch = todo[start : start + FLOW_BATCH]
            try:
                results = client.invoke_flow(flow, [dict(c.inputs) for c in batch])
            except OutcomeUnknown as exc:
                # Sent, answer lost, and a Flow run cannot be read back (invoke_flow): at most
                # once, so the batch counts as run, and as a failure the run names (partial).
                _remember(store, batch, run_id)
                for call in batch:
                    out.failed[call.moment] += 1
                line = unconfirmed_flow_line(f"Flow {flow}", len(batch), exc)
                log.warning("%s", line)
                out.errors.append(line)
                continue
            except SalesforceError as exc:
                # The whole request failed (the Flow is missing, inactive, a fault): none ran.
                left = todo[start:]
                _failed(out, left, f"Flow {flow} failed for {len(left):,} interviews: {exc}")
                if isinstance(exc, RetryableError):
                    out.transient.extend(left)
                break
            ran = [c for c, r in zip(batch, results, strict=False) if r.get("isSuccess") is True]
            refused = [
                (c, r)
                for c, r in zip(batch, results, strict=False)
                if r.get("isSuccess") is not True
            ]
            refused += [(c, {}) for c in batch[len(results) :]]  # an answer short of the batch
            if refused:
                _failed(
                    out,
                    [c for c, _ in refused],
                    f"Flow {flow} refused {len(refused):,} of {len(batch):,} interviews: "
                    f"{_message(refused[0][1])}",
                )
            _remember(store, ran, run_id)
            for call in ran:
                out.fired[call.moment] += 1


def _failed(out: Applied, calls: Sequence[MomentCall], line: str) -> None:
    for call in calls:
        out.failed[call.moment] += 1
    out.unfired.extend(calls)
    line += " (tried again next run)"
    log.warning("%s", line)
    out.errors.append(line)


def _message(result: Mapping[str, Any]) -> str:
    """Salesforce's first error message of a refused interview."""
    errors = result.get("errors") or []
    if errors and isinstance(errors, list) and isinstance(errors[0], Mapping):
        first = errors[0]
        code = first.get("statusCode") or first.get("errorCode")
        return f"{code}: {first.get('message')}" if code else str(first.get("message"))
    return "no answer for the interview"


def _remember(store: Store, ran: Iterable[MomentCall], run_id: int | None) -> None:
    intent: dict[tuple[str, str], list[tuple[str, float]]] = defaultdict(list)
    tiers: dict[str, dict[str, str]] = defaultdict(dict)
    for call in ran:
        if call.kind == "intent":
            intent[call.scope].append((call.key, float(call.value)))
        else:
            tiers[call.scope[0]][call.key] = str(call.value)
    for (moment, obj), done in intent.items():
        store.scoring.mark_fired(moment, obj, done)
    books = store.loyalty
    for program, told in tiers.items():
        books.record_tiers(program, told, run_id)

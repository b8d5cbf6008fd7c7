"""The real-time path: the ``worker`` process (``lead2loyalty worker``).

Every ``L2L_REALTIME_INTERVAL_SECONDS`` one pass:

1. **Normalise** stored deliveries (``status = 'stored'``) into events, shop orders and refunds,
   each delivery in one transaction with its status; a delivery that cannot be normalised is
   marked ``failed`` with the reason (``events replay`` retries it). A crash anywhere leaves
   ``stored`` rows, which the next pass picks up: nothing acknowledged is lost. BigCommerce
   orders known only by reference are then read in full from the store's API.
2. **Resolve** the dirty shoppers (by email) to Contacts and Leads, as a sync run does.
3. **Recompute and push** just those people: ``SyncEngine.run(people=...)``, the sync's own
   pipeline on a small set, under the same per-database run lock as a sync, so a pass never
   overlaps a scheduled sync and a value is never written twice. When a sync holds the lock the
   pass skips and keeps the marks; the sync itself recomputes everyone anyway.

Marks are cleared only up to the time they were read, so a shopper marked during a pass is
recomputed on the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.config import Settings, secret_list
from connector.errors import OutcomeUnknown, RunInProgress, SalesforceError, WebhookError
from connector.store import Store, open_shared
from connector.store.events import StoredDelivery
from connector.store.runs import person_key
from connector.sync.engine import SyncEngine
from connector.sync.resolve import email_index
from connector.webhooks import NORMALISERS, bigcommerce
from connector.webhooks.base import Delivery
from connector.webhooks.bigcommerce_api import fetch_order

log = logging.getLogger(__name__)

KIND_OBJECT = {"contact": "Contact", "lead": "Lead"}


@dataclass
class PassReport:
    """What one real-time pass did."""

    normalised: int = 0
    failed: int = 0
    fetched: int = 0
    leads_created: int = 0
    dirty: int = 0
    people: int = 0
    left: int = 0  # dirty shoppers whose people another pass holds: the next pass does them
    run: dict[str, Any] | None = None
    skipped: str | None = None
    problems: list[str] = field(default_factory=list)


def normalise_pending(store: Store, *, batch: int = 500, limit: int = 50_000) -> tuple[int, int]:
    """Normalise stored deliveries, oldest first; returns (normalised, failed)."""
    done = failed = 0
    while done + failed < limit:
        pending = store.events.pending_deliveries(batch)
        if not pending:
            break
        for stored in pending:
            if normalise_one(store, stored):
                done += 1
            else:
                failed += 1
    return done, failed


def normalise_one(store: Store, stored: StoredDelivery) -> bool:
    """Normalise one stored delivery into events, orders and marks (one transaction with its
    status); False when it cannot be, and it is marked ``failed`` with the reason."""
    module = NORMALISERS.get(stored.source)
    if module is None:
        store.events.mark_failed(stored.id, f"no normaliser for source {stored.source}")
        return False
    delivery = Delivery(
        source=stored.source,
        key=stored.key,
        topic=stored.topic,
        shop=stored.shop,
        headers=stored.headers,
        body=stored.body,
    )
    try:
        result = module.normalise(delivery)
    except WebhookError as exc:
        store.events.mark_failed(stored.id, str(exc))
        return False
    store.events.apply_normalised(stored.id, result)
    return True


def fetch_bigcommerce_orders(store: Store, settings: Settings) -> tuple[int, int]:
    """Read in full the BigCommerce orders known only by reference, for stores with an API
    token; returns (completed, failed). Failures are logged and tried again next pass."""
    tokens = dict(
        entry.split(":", 1)
        for entry in secret_list(settings.bigcommerce_api_tokens)
        if ":" in entry
    )
    if not tokens:
        return 0, 0
    done = failed = 0
    for order in store.events.orders_awaiting_details(bigcommerce.SOURCE):
        store_hash = order["shop"].split("/", 1)[-1]
        token = tokens.get(store_hash)
        if token is None:
            continue
        try:
            details = fetch_order(
                settings.bigcommerce_api_url, store_hash, order["platform_order_id"], token
            )
        except WebhookError as exc:
            log.warning("BigCommerce order %s not read yet: %s", order["order_id"], exc)
            failed += 1
            continue
        store.events.complete_order(bigcommerce.SOURCE, order["order_id"], details)
        done += 1
    return done, failed


def people_for(store: Store, emails: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """The (object, record id) of each email's person, as identity resolution binds them, and
    the emails no Contact or Lead has (one read of the people for both)."""
    by_email = people_by_email(store, emails)
    people = sorted({p for found in by_email.values() for p in found})
    return people, [e for e in emails if not by_email.get(e)]


def people_by_email(store: Store, emails: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Email -> the (object, record id) of its people as identity resolution binds them (no
    entry for an email no Contact or Lead has). ``emails`` trimmed and lower-case, as the
    marks hold them.

    Reads only the Contacts and Leads with those emails (the store's index on the trimmed,
    lower-case ``Email``): every record an email can resolve to, so :func:`email_index` ranks
    them as over the whole org. A pass read every Contact and Lead here before, a cost that
    followed the org, not the marks."""
    if not emails:
        return {}
    contacts = store.records.with_emails("Contact", ["Id", "Email"], emails)
    leads = store.records.with_emails(
        "Lead", ["Id", "Email", "IsConverted", "ConvertedContactId"], emails
    )
    index = email_index(contacts, leads)
    found = index[index["email"].isin(set(emails))]
    out: dict[str, set[tuple[str, str]]] = {}
    rows = zip(found["email"], found["kind"], found["record_id"], strict=True)
    for email, kind, record_id in rows:
        out.setdefault(str(email), set()).add((KIND_OBJECT[kind], str(record_id)))
    return {email: sorted(people) for email, people in out.items()}


def create_leads(engine: SyncEngine, emails: list[str]) -> list[tuple[str, str]]:
    """A Lead in Salesforce for each shopper among ``emails`` who has an order but is no
    Contact or Lead yet (``L2L_REALTIME_CREATE_LEADS``); returns the new (object, id) pairs.

    The Lead is stored locally at once, so the next pass resolves the email to it and never
    creates a second one. LastName is the email's local part and Company the shop: the
    deliveries keep no names.
    """
    created: list[tuple[str, str]] = []
    for email, shop in sorted(engine.store.events.shoppers(emails).items()):
        body = {
            "LastName": email.split("@", 1)[0][:80] or email[:80],
            "Company": (shop or "Online shopper")[:255],
            "Email": email,
        }
        try:
            lead_id = str(engine.client.create("Lead", body)["id"])
        except OutcomeUnknown as exc:
            # The create may have been applied: read it back rather than make a second Lead.
            found = _lead_with_email(engine, email)
            if found is None:
                log.warning("no Lead created for a shopper: %s", exc)
                continue
            lead_id = found
        except SalesforceError as exc:
            log.warning("no Lead created for a shopper: %s", exc)
            continue
        engine.store.records.upsert(
            "Lead", [{"Id": lead_id, "Email": email, "IsConverted": False, "IsDeleted": False}]
        )
        created.append(("Lead", lead_id))
    return created


def _lead_with_email(engine: SyncEngine, email: str) -> str | None:
    """The id of an open Lead with ``email`` (the newest), or None; also None when the org
    cannot be read now (the next pass tries the shopper again)."""
    try:
        rows = engine.client.top_records(
            "Lead",
            ["Id"],
            by="CreatedDate",
            limit=1,
            where=[("Email", "=", email), ("IsConverted", "=", False)],
        )
    except SalesforceError:
        return None
    return str(rows[0]["Id"]) if rows else None


class RealtimeWorker:
    """The worker loop: a pass every ``settings.realtime_interval_seconds``."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine_factory: Callable[[Settings], SyncEngine] | None = None,
    ) -> None:
        self.settings = settings
        self.store = open_shared(settings.store_location)
        self._engine_factory = engine_factory
        self._engine: SyncEngine | None = None

    def close(self) -> None:
        """Close the worker's store and its engine's (an engine it was handed is the caller's)."""
        if self._engine is not None and self._engine_factory is None:
            self._engine.store.close()
        self.store.close()

    def _engine_for_pass(self) -> SyncEngine:
        if self._engine is None:
            if self._engine_factory is not None:
                self._engine = self._engine_factory(self.settings)
            else:
                from connector.sync import build_engine

                self._engine = build_engine(self.settings)
        return self._engine

    def run_pass(self) -> PassReport:
        """One pass: normalise, then recompute and push the dirty people."""
        out = PassReport()
        out.normalised, out.failed = normalise_pending(self.store)
        return self.recompute_pass(out)

    def recompute_pass(self, out: PassReport | None = None) -> PassReport:
        """The pass after normalising: read BigCommerce orders known by reference, then
        recompute and push the dirty people (the queue's recompute job on PostgreSQL).

        The people are held first (``store.runs.people_lock``): on PostgreSQL another run of
        some people may hold some of them (the queue runs one recompute at a time, but a
        Flow-call retry holds its people too); their marks stay (``out.left``) for the next
        pass."""
        out = out if out is not None else PassReport()
        out.fetched, _ = fetch_bigcommerce_orders(self.store, self.settings)
        marks = self.store.events.dirty_people()
        out.dirty = len(marks)
        if not marks:
            return out
        by_email = people_by_email(self.store, [email for email, _ in marks])
        unknown = [email for email, _ in marks if not by_email.get(email)]
        create = bool(unknown) and self.settings.realtime_create_leads
        # what each email's pass holds: its people, or (a Lead to create) the email itself
        keys_of = {
            email: [person_key(*p) for p in by_email.get(email, [])]
            or ([person_key("Email", email)] if create else [])
            for email, _ in marks
        }
        keys = {key for keys in keys_of.values() for key in keys}
        done = marks
        if keys:
            engine = self._engine_for_pass()
            try:
                with engine.store.runs.people_lock(keys, some=True) as held:
                    # an email is this pass's when all it holds is held
                    done = [m for m in marks if all(k in held for k in keys_of[m[0]])]
                    out.left = len(marks) - len(done)
                    people = sorted({p for e, _ in done for p in by_email.get(e, [])})
                    out.people = len(people)
                    mine = {e for e, _ in done}
                    if create:
                        new = [e for e in unknown if e in mine]
                        out.leads_created = len(create_leads(engine, new)) if new else 0
                    report = engine.run(people=people) if people else None
            except RunInProgress:
                out.skipped = "a sync holds the database; its run covers these people"
                return out
            if report is not None:
                out.run = report.as_json()
                if report.status not in ("succeeded", "partial"):
                    return out  # keep the marks: the next pass tries again
        # Unknown shoppers are unmarked too: they bind when their Contact or Lead is pulled,
        # and that sync computes them.
        self.store.events.clear_dirty(done)
        return out

    def run(self, stop: threading.Event, *, passes: int | None = None) -> int:
        """Pass after pass until ``stop`` is set (or ``passes`` are done); returns the count."""
        done = 0
        interval = self.settings.realtime_interval_seconds
        while not stop.is_set() and (passes is None or done < passes):
            began = time.monotonic()
            report = self.run_pass()
            done += 1
            if report.normalised or report.failed or report.fetched or report.run or report.skipped:
                log.info(
                    "real-time pass: %s normalised, %s failed, %s dirty, %s people%s",
                    report.normalised,
                    report.failed,
                    report.dirty,
                    report.people,
                    f", run {report.run['run_id']} {report.run['status']}"
                    if report.run
                    else (f", skipped: {report.skipped}" if report.skipped else ""),
                )
            stop.wait(max(0.0, interval - (time.monotonic() - began)))
        return done

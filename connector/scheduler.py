"""The clock: APScheduler in its own process (``lead2loyalty clock``), never in web workers.
On PostgreSQL its sync tick is a job on the queue, run by a worker (:func:`sync_job`).

Jobs (the sync every few minutes, the loyalty expiry daily) are referenced as
``"module:function"`` with stable ids; ``coalesce`` and ``max_instances=1`` mean a slow job is
never run twice at once, and missed runs collapse into one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler

from connector.config import Settings, load_settings

log = logging.getLogger(__name__)


def sync_job() -> str:
    """One incremental sync with settings read afresh; returns the run's status
    (``skipped`` when another sync, e.g. a manual one, holds the database; ``failed`` when the
    settings or mappings are broken, said in one log line: the clock keeps ticking, and the
    next tick runs once they are fixed).

    On PostgreSQL (``DATABASE_URL``) the clock runs no sync itself: it defers a ``sync`` job
    on the queue (``deferred``; ``waiting`` when one already waits: missed ticks collapse into
    it) and a worker runs it, waiting for the run lock and retried by the queue while another
    sync holds it; a worker killed mid-sync leaves the job to another (``connector.sync.jobs``).
    Before deferring it answers as the SQLite path does: ``failed`` for broken files (checked
    here, so the clock's log says so, not a job failing on every worker) and ``skipped`` while
    another sync of the whole org holds the run lock (it picks up whatever this tick would
    have done; a sync queued behind it would only spend API calls finding nothing new).
    The SQLite default keeps the single-host path: the sync runs here."""
    from connector.errors import Lead2LoyaltyError

    try:
        settings = load_settings()
        if isinstance(settings.store_location, str):
            return _defer_sync(settings)
        return _sync_once(settings)
    except Lead2LoyaltyError as exc:
        log.error("sync not started: %s", str(exc).replace("\n", "; "))
        return "failed"


def _defer_sync(settings: Settings) -> str:
    from connector.errors import RunInProgress
    from connector.store import Store, queue
    from connector.sync import load_files

    url = settings.store_location
    assert isinstance(url, str)
    load_files(settings)  # a broken mapping or model file raises here, not on every worker
    store = Store(url)
    try:
        # The run lock shared, at once released: refused while a whole-org sync holds it (or
        # waits for it), granted beside real-time passes, which hold it shared themselves.
        with store.runs.people_lock(()):
            pass
    except RunInProgress:
        log.info("sync skipped: another sync is running on %s", store.label)
        return "skipped"
    finally:
        store.close()
    if queue.defer(queue.shared_app(url), queue.SYNC, queueing_lock=queue.SYNC):
        log.info("sync deferred to the queue's workers")
        return "deferred"
    log.info("sync not deferred: one waits on the queue already")
    return "waiting"


def _sync_once(settings: Settings | None = None) -> str:
    from connector.errors import RunInProgress
    from connector.sync import build_engine

    try:
        # A real-time worker's pass holds the run lock for seconds at most: wait it out.
        report = build_engine(settings or load_settings()).run(lock_wait_seconds=30)
    except RunInProgress as exc:
        log.info("sync skipped: %s", exc)
        return "skipped"
    log.info(
        "sync run %s: %s, %s records written",
        report.run_id,
        report.status,
        report.writes.succeeded,
    )
    return str(report.status)


def expiry_job() -> dict[str, int]:
    """Post the loyalty points expiry due now in every program (settings read afresh);
    program id -> points expired. Nothing to do (``{}``) when no program is configured.

    Running it twice expires nothing twice (expiry entries are keyed by the last lot they
    cover), so a missed or repeated day is harmless.
    """
    from connector.loyalty.wiring import load_config, run_expiry

    settings = load_settings()
    if not load_config(settings).programs:
        return {}
    expired = run_expiry(settings)
    log.info("loyalty expiry: %s", ", ".join(f"{p} {n} points" for p, n in expired.items()))
    return expired


def build_scheduler(settings: Settings) -> BlockingScheduler:
    """The scheduler with every job of the clock registered."""
    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(
        "connector.scheduler:sync_job",
        "interval",
        minutes=settings.sync_interval_minutes,
        id="sync",
        coalesce=True,
        max_instances=1,
        next_run_time=datetime.now(UTC),
        replace_existing=True,
    )
    # Lots expire at the start of a local day in each program's zone; once a day shortly after
    # midnight UTC posts them (a redemption runs the expiry due first anyway, so what a member
    # can spend never includes expired points).
    scheduler.add_job(
        "connector.scheduler:expiry_job",
        "cron",
        hour=0,
        minute=15,
        id="loyalty_expiry",
        coalesce=True,
        max_instances=1,
        replace_existing=True,
    )
    from connector.sync.intent import load_scoring

    conversion = load_scoring(settings).conversion
    if conversion is not None:
        # Einstein Lead Scoring refits every 10 days; every sync rescores with the latest fit.
        scheduler.add_job(
            "connector.sync.intent:retrain_job",
            "interval",
            days=conversion.retrain_every_days,
            id="retrain_lead_conversion",
            coalesce=True,
            max_instances=1,
            replace_existing=True,
        )
    return scheduler


def run_clock(settings: Settings, *, once: bool = False) -> str | None:
    """Run the clock until stopped; with ``once``, run the sync job once and return its
    status (the CLI exits with :func:`connector.sync.exit_code` of it, like ``sync``)."""
    if once:
        return _sync_once()  # broken settings raise: the CLI says so in one line
    scheduler = build_scheduler(settings)
    log.info(
        "clock started: sync every %s minutes, loyalty expiry daily at 00:15 UTC",
        settings.sync_interval_minutes,
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("clock stopped")
    return None

"""The clock: APScheduler in its own process (``lead2loyalty clock``), never in web workers.

Jobs are referenced as ``"module:function"`` with stable ids; ``coalesce`` and
``max_instances=1`` mean a slow sync is never run twice at once, and missed runs collapse
into one.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler

from connector.config import Settings, load_settings

log = logging.getLogger(__name__)


def sync_job() -> str:
    """One incremental sync with settings read afresh; returns the run's status
    (``skipped`` when another sync, e.g. a manual one, holds the database)."""
    from connector.errors import RunInProgress
    from connector.sync import build_engine

    try:
        # A real-time worker's pass holds the run lock for seconds at most: wait it out.
        report = build_engine(load_settings()).run(lock_wait_seconds=30)
    except RunInProgress as exc:
        log.info("sync skipped: %s", exc)
        return "skipped"
    log.info(
        "sync run %s: %s, %s records written",
        report.run_id,
        report.status,
        report.writes["succeeded"],
    )
    return report.status


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
    return scheduler


def run_clock(settings: Settings, *, once: bool = False) -> None:
    """Run the clock until stopped (or the sync job once with ``once``)."""
    if once:
        sync_job()
        return
    scheduler = build_scheduler(settings)
    log.info("clock started: sync every %s minutes", settings.sync_interval_minutes)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("clock stopped")

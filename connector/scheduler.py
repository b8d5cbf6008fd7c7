"""The clock: APScheduler in its own process (``lead2loyalty clock``), never in web workers.

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
    (``skipped`` when another sync, e.g. a manual one, holds the database)."""
    from connector.errors import RunInProgress
    from connector.sync import build_engine

    try:
        report = build_engine(load_settings()).run()
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
    return scheduler


def run_clock(settings: Settings, *, once: bool = False) -> None:
    """Run the clock until stopped (or the sync job once with ``once``)."""
    if once:
        sync_job()
        return
    scheduler = build_scheduler(settings)
    log.info(
        "clock started: sync every %s minutes, loyalty expiry daily at 00:15 UTC",
        settings.sync_interval_minutes,
    )
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("clock stopped")

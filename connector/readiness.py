"""Readiness: is the connector doing its job? The rules an uptime monitor's probe (``/readyz``)
and ``lead2loyalty doctor`` share; a pure function over facts the store reads.

Rules of :func:`readiness`:

1. The database cannot be read: 503 (``database``: the error's class, never its text).
2. No scheduled sync (``incremental`` or ``full``) has ever run: 503 ``no_sync_yet``.
3. The last finished scheduled run ``failed`` or ``crashed``: 503 ``last_run_failed``.
   ``partial`` and ``quota_stopped`` are reported but ready: values wait, nothing is broken.
4. The newest scheduled run started more than twice ``L2L_SYNC_INTERVAL_MINUTES`` ago (one
   missed period is allowed for a long run): 503 ``schedule_late``; the clock has stopped, or a
   run hangs.

The body always says the database's state, the real-time backlog (stored deliveries not yet
normalised, people waiting for a recompute) and the last scheduled run's status and age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connector.store import Store

FAILED = ("failed", "crashed")
# Runs the clock starts; dry runs and the worker's real-time passes say nothing of the schedule.
SCHEDULED_MODES = ("incremental", "full")


@dataclass(frozen=True)
class ReadinessFacts:
    """The newest scheduled run's start, the last finished one's status and end, and the
    backlog: stored deliveries not yet normalised and dirty people."""

    latest_started_at: str | None
    finished_status: str | None
    finished_at: str | None
    pending_deliveries: int
    dirty_people: int


def read_facts(store: Store) -> ReadinessFacts:
    """The facts, read from ``store``."""
    return ReadinessFacts(*store.runs.readiness(SCHEDULED_MODES))


def readiness(
    facts: ReadinessFacts | Exception, now: datetime, interval_minutes: int
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) for the facts read (or the error that stopped the read)."""
    if isinstance(facts, Exception):
        return 503, {
            "status": "unavailable",
            "problems": ["database"],
            "database": f"cannot be read ({facts.__class__.__name__}); check L2L_DATABASE",
        }
    problems: list[str] = []
    late_after = 2 * interval_minutes * 60
    age = _age(facts.latest_started_at, now)
    if facts.latest_started_at is None:
        problems.append("no_sync_yet")
    elif facts.finished_status in FAILED:
        problems.append("last_run_failed")
    if age is not None and age > late_after:
        problems.append("schedule_late")
    body: dict[str, Any] = {
        "status": "unavailable" if problems else "ready",
        "problems": problems,
        "database": "ok",
        "backlog": {
            "deliveries_pending": facts.pending_deliveries,
            "dirty_people": facts.dirty_people,
        },
        "last_run": {
            "status": facts.finished_status,
            "finished_at": facts.finished_at,
            "started_seconds_ago": None if age is None else int(age),
            "late_after_seconds": late_after,
        },
    }
    return (503 if problems else 200), body


def _age(stamp: str | None, now: datetime) -> float | None:
    if not stamp:
        return None
    started = datetime.fromisoformat(stamp)
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return (now - started).total_seconds()

"""The job queue between intake and work, on PostgreSQL: procrastinate.

Why procrastinate, not RQ or Celery over Redis: the jobs live in the same PostgreSQL database
as the deliveries they point at, so a deployment with ``DATABASE_URL`` needs no second
service (no Redis add-on, no broker to back up), and a job and the row it names are never in
two stores that can disagree after a restore. procrastinate takes a job with
``SELECT ... FOR UPDATE SKIP LOCKED`` (so N workers never take the same job), has a plain
synchronous ``defer`` for the web process, retries, job ``lock``s (jobs with the same lock run
one at a time) and ``queueing_lock``s (at most one job of that lock waiting), and workers that
write a heartbeat: a worker killed with SIGKILL leaves its job in ``doing``, and
``JobManager.get_stalled_jobs`` finds it once the worker's heartbeat is older than
``seconds_since_heartbeat``; ``retry_job`` puts it back (procrastinate's docs, "Retry stalled
jobs", docs/howto/production/retry_stalled_jobs.md: heartbeat every 10 s by default; a
periodic task retries the stalled ones). ``connector.sync.jobs`` is that periodic task.

What this module owns: the app (one per process, opened lazily after a fork), the schema
(procrastinate's own SQL, applied once under an advisory lock), the task names, and deferring
by name, so the web process defers without importing the tasks (which bring the sync and the
Salesforce client; ``web`` imports neither). The tasks themselves are in
``connector.sync.jobs``.

Job kinds and their locks:

- ``NORMALISE`` (source, key): one stored delivery. ``queueing_lock`` per delivery, so a sweep
  and the web's defer never queue it twice; normalising is idempotent anyway
  (``EventsRepository.apply_normalised``) and skips a delivery no longer ``stored``. Taken
  before any other due job (:data:`NORMALISE_PRIORITY`): during a burst every worker
  normalises, and the recompute that waits meanwhile covers all of the burst's marks in one
  pass, instead of a pass starting between two deliveries while the other workers pile up
  the marks of the next. A recompute due for :data:`RECOMPUTE_MAX_WAIT_SECONDS` is promoted
  to their priority, so a stream that never lets the queue empty still moves the fields.
- ``RECOMPUTE``: the dirty people, recomputed and pushed. ``queueing_lock`` ``people``: at
  most one waiting (a waiting one covers every later mark); job ``lock`` ``people``: one runs
  at a time, whichever worker takes it, while the other workers go on normalising. A pass
  costs about the same for 1 or 100 people (0.2-0.5 CPU s at the small seed: reading and
  framing, the models' set-up), so one pass that takes every dirty person beats several side
  by side, which each pay that cost on fewer people and compete for the same cores:
  ``bench/scale.py`` measured the workers' CPU per delivery rising from 0.02 s (1 worker) to
  0.03-0.04 s (4) with parallel passes, and flat at 0.02 s with one at a time. The pass still
  holds its people (``RunsRepository.people_lock``): a Flow-call retry (``FIRE``) runs beside
  it on the same people's shards, and a whole-org sync keeps it out.
- ``SYNC``: a full sync (it takes the run lock, a PostgreSQL advisory lock).
- ``FIRE`` (calls): moments' Flow calls about Contacts and Leads whose request failed in a
  run for a passing reason, invoked again holding those people, retried with a growing wait;
  a call remembered since is skipped. ``queueing_lock`` ``l2l.fire_flows``: one waiting.
- ``SWEEP`` (periodic): defers a job for every delivery still ``stored`` (a defer that failed
  after the 2xx) and retries stalled jobs.
"""

from __future__ import annotations

import os
from typing import Any

import psycopg
from procrastinate import App, PsycopgConnector
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager

NORMALISE = "l2l.normalise_delivery"
RECOMPUTE = "l2l.recompute_people"
SYNC = "l2l.sync"
SWEEP = "l2l.sweep"
FIRE = "l2l.fire_flows"
PEOPLE_LOCK = "people"
#: procrastinate takes due jobs by priority, highest first, then in order of deferral; every
#: other job has the default, 0.
NORMALISE_PRIORITY = 1
#: A recompute due for this long behind normalise jobs is given their priority, and being the
#: older job it is taken next (:func:`promote_overdue_recompute`): under a stream of deliveries
#: the workers cannot keep up with, the fields still move at least this often.
RECOMPUTE_MAX_WAIT_SECONDS = 10.0

# An arbitrary constant of our own: the advisory lock that serialises applying the schema
# (two workers starting at once must not both run procrastinate's CREATE statements).
_SCHEMA_LOCK = 0x4C324C51  # "L2LQ"

_apps: dict[str, tuple[int, App]] = {}


def make_app(url: str) -> App:
    """A procrastinate app on ``url`` (not opened; tasks are added by ``connector.sync.jobs``)."""
    return App(connector=PsycopgConnector(conninfo=url))


def shared_app(url: str) -> App:
    """This process's opened app for deferring (opened again after a fork: a connection pool
    must not cross one, as gunicorn forks its workers)."""
    cached = _apps.get(url)
    if cached is None or cached[0] != os.getpid():
        ensure_schema(url)  # a web process may take deliveries before any worker started
        app = make_app(url)
        app.open()
        cached = (os.getpid(), app)
        _apps[url] = cached
    return cached[1]


def close_shared() -> None:
    """Close this process's opened apps (their connection pools): a process that deferred
    and goes on without the queue (a test, a one-off command)."""
    while _apps:
        _, (pid, app) = _apps.popitem()
        if pid == os.getpid():
            app.close()


def ensure_schema(url: str) -> bool:
    """Create procrastinate's tables in the database (the first schema of its search path)
    unless they are there; True when created. Safe with several processes starting at once."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [_SCHEMA_LOCK])
        try:
            row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if row is not None and row[0] is not None:
                return False
            conn.execute(SchemaManager.get_schema())
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [_SCHEMA_LOCK])


def job(
    app: App,
    task: str,
    *,
    queueing_lock: str | None = None,
    lock: str | None = None,
    schedule_in: int | None = None,
    priority: int | None = None,
) -> Any:
    """The task named ``task`` configured to be deferred (``.defer(**args)``, or
    ``.defer_async`` in a worker's task): in ``schedule_in`` seconds, one at a time with the
    other jobs of ``lock``, at most one waiting per ``queueing_lock``."""
    return app.configure_task(
        name=task,
        lock=lock,
        queueing_lock=queueing_lock,
        schedule_in={"seconds": schedule_in} if schedule_in is not None else None,
        priority=priority,
    )


def delivery_job(app: App, source: str, key: str) -> Any:
    """The normalisation of the stored delivery (source, key), as the web and the sweep queue
    it: one waiting per delivery, before any other due job."""
    return job(
        app, NORMALISE, queueing_lock=f"delivery:{source}:{key}", priority=NORMALISE_PRIORITY
    )


def recompute_job(app: App, *, schedule_in: int | None = None) -> Any:
    """A recompute of the dirty people, as everyone queues it: at most one waiting (it covers
    every mark committed before it starts), one running (:data:`PEOPLE_LOCK` is its job lock)."""
    return job(app, RECOMPUTE, queueing_lock=PEOPLE_LOCK, lock=PEOPLE_LOCK, schedule_in=schedule_in)


def defer(app: App, task: str, *, queueing_lock: str | None = None, **kwargs: Any) -> bool:
    """Defer the task named ``task`` with ``kwargs`` as its arguments; False when
    ``queueing_lock`` already has a job waiting (that job does the same work)."""
    return _deferred(job(app, task, queueing_lock=queueing_lock), **kwargs)


def defer_delivery(app: App, source: str, key: str) -> bool:
    """Defer the normalisation of the stored delivery (source, key)."""
    return _deferred(delivery_job(app, source, key), source=source, key=key)


def _deferred(configured: Any, **kwargs: Any) -> bool:
    try:
        configured.defer(**kwargs)
    except AlreadyEnqueued:
        return False
    return True


def recompute_waiting(db: Any) -> bool:
    """True when a recompute job waits to start (``todo``, due or not): it reads the marks
    when it starts, so it covers every mark committed before now, and deferring another would
    only be refused by its queueing lock. One indexed read instead of that refusal (an
    ``INSERT`` that fails on the unique index, an error the server logs, and procrastinate's
    exception), which every normalise job met while a recompute waited."""
    row = db.conn.execute(
        "SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = ? AND status = 'todo' LIMIT 1",
        [PEOPLE_LOCK],
    ).fetchone()
    return row is not None


def promote_overdue_recompute(db: Any, waited: float = RECOMPUTE_MAX_WAIT_SECONDS) -> bool:
    """Give the waiting recompute the normalise jobs' priority once it has been due for
    ``waited`` seconds (due: deferred, or its ``schedule_in`` passed); True when it was. Each
    normalise job that finds a recompute waiting asks, so a burst longer than ``waited`` is
    recomputed in passes that far apart instead of only once it ends."""
    cur = db.conn.execute(
        "UPDATE procrastinate_jobs AS j SET priority = ? "
        "WHERE j.queueing_lock = ? AND j.status = 'todo' AND j.priority < ? "
        "AND GREATEST(j.scheduled_at, (SELECT MIN(e.at) FROM procrastinate_events AS e "
        "WHERE e.job_id = j.id AND e.type = 'deferred')) < NOW() - ? * INTERVAL '1 second'",
        [NORMALISE_PRIORITY, PEOPLE_LOCK, NORMALISE_PRIORITY, waited],
    )
    return bool(cur.rowcount)


def defer_recompute(app: App, *, schedule_in: int | None = None) -> bool:
    """Defer a recompute of the dirty people (in ``schedule_in`` seconds), unless one is
    already waiting; recomputes run one at a time (:data:`PEOPLE_LOCK` is their job lock too)."""
    return _deferred(recompute_job(app, schedule_in=schedule_in))

"""The queue's tasks and worker (``lead2loyalty worker`` on PostgreSQL).

The queue itself, the reasons for procrastinate, the task names and their locks are in
``connector.store.queue``. Each task here is the real-time pass cut into jobs:

- normalise one stored delivery (skipped when it is no longer ``stored``: a twin job, a sweep
  or ``events replay`` did it), then defer a recompute;
- recompute and push the dirty people (``RealtimeWorker.recompute_pass``): one pass at a
  time (the job's lock, ``connector.store.queue`` says why), on every dirty person whose
  people no other run holds (the store's people locks: the run lock shared and a lock per
  shard of people; a Flow-call retry may hold some); the marks of people another run held
  stay and a recompute job follows a second later (the workers poll for due jobs every
  second); when a sync holds the run lock the job is deferred again, and the marks stay;
- moments' Flow calls about a Contact or Lead whose request failed for a passing reason,
  invoked again with a growing wait holding those people (each skipped once remembered; the
  next run tries them too);
- a full sync (the clock's tick on PostgreSQL defers it: ``queueing_lock`` ``sync``, at most
  one waiting; retried while another sync holds the run lock);
- every ``SWEEP_SECONDS`` a sweep: it retries the jobs of workers whose heartbeat stopped
  (``queue_stalled_seconds``; a worker killed with SIGKILL) and defers a job for every
  delivery still ``stored`` whose defer failed after its 2xx. Nothing acknowledged is lost.

A worker runs one job at a time (``concurrency=1``): the tasks are synchronous and hold the
store's one connection; scale with more worker processes.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from procrastinate import App, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued, UniqueViolation
from procrastinate.jobs import Status

from connector.config import Settings
from connector.errors import Lead2LoyaltyError, RunInProgress
from connector.store import queue
from connector.sync import effects
from connector.sync.realtime import RealtimeWorker, normalise_one

log = logging.getLogger(__name__)

SWEEP_SECONDS = 5
HEARTBEAT_SECONDS = 2.0
#: A recompute whose people another pass held (or a sync held the database) is deferred again
#: this much later; a worker looks for due jobs this often (procrastinate wakes on a new job's
#: NOTIFY, but a job scheduled later is only seen by the next poll, 5 s by default: the
#: deferred-again recompute waited up to 5 s, not 1, for an idle worker).
AGAIN_SECONDS = 1


class RetryLater(Lead2LoyaltyError):
    """A job that could not be done now (a sync holds the run lock): procrastinate retries it."""


def build_app(settings: Settings) -> tuple[App, RealtimeWorker]:
    """The procrastinate app with the connector's tasks, and the real-time worker they use."""
    url = settings.store_location
    assert isinstance(url, str), "the queue runs on PostgreSQL (DATABASE_URL)"
    app = queue.make_app(url)
    worker = RealtimeWorker(settings)
    store = worker.store
    retry = RetryStrategy(max_attempts=20, wait=1, retry_exceptions={RetryLater})

    @app.task(name=queue.NORMALISE, retry=RetryStrategy(max_attempts=5, wait=1))
    def normalise_delivery(source: str, key: str) -> None:
        stored = store.events.stored_delivery(source, key)
        if stored is None:
            return  # already normalised (or failed): nothing to do twice
        normalise_one(store, stored)  # committed: a recompute that starts from now sees it
        if queue.recompute_waiting(store.db):
            queue.promote_overdue_recompute(store.db)  # a long burst: fields move meanwhile
        else:
            queue.defer_recompute(app)

    @app.task(name=queue.RECOMPUTE)
    def recompute_people() -> None:
        # One at a time (the job lock) and one waiting (the queueing lock): each pass takes
        # every dirty person no other run holds (RealtimeWorker.recompute_pass).
        report = worker.recompute_pass()
        failed = report.run is not None and report.run["status"] not in ("succeeded", "partial")
        if report.left and not (report.skipped or failed):
            # people another run held (a Flow-call retry): their marks stay, a job follows
            queue.defer_recompute(app, schedule_in=AGAIN_SECONDS)
        if report.skipped or failed:
            # The marks are kept; a new job a second later does them. Not procrastinate's
            # retry: a retried job goes back to `todo` under its queueing lock, which the
            # job waiting behind it holds (a UniqueViolation that left this job `doing`).
            log.info("recompute again in 1 s: %s", report.skipped or report.run)
            queue.defer_recompute(app, schedule_in=AGAIN_SECONDS)

    @app.task(name=queue.SYNC, retry=retry)
    def sync() -> None:
        from connector.sync import build_engine

        try:
            # the clock's tick (scheduler.sync_job): a real-time pass holds the run lock for
            # seconds at most, and this wait queues in the server ahead of later passes
            report = build_engine(settings).run(lock_wait_seconds=30)
        except RunInProgress as exc:
            raise RetryLater(str(exc)) from exc
        log.info("sync run %s: %s", report.run_id, report.status)

    @app.task(
        name=queue.FIRE,
        retry=RetryStrategy(max_attempts=8, exponential_wait=2, retry_exceptions={RetryLater}),
    )
    def fire_flows(calls: list[dict[str, Any]]) -> None:
        # Holding the calls' people (as a pass does): no run plans and fires the same
        # interview meanwhile, and one that fired it before is seen as remembered.
        engine = worker._engine_for_pass()
        todo = [effects.call_from_json(c) for c in calls]
        people = {p for p in map(effects.person_of, todo) if p is not None}
        try:
            with engine.store.runs.people_lock(people):
                left = [c for c in todo if not effects.remembered(engine.store, c)]
                out = effects.Applied()
                effects.fire(engine.client, engine.store, left, None, out)
        except RunInProgress as exc:
            raise RetryLater(str(exc)) from exc
        ran = sum(out.fired.values())
        if ran:
            log.info("Flow calls retried by the queue: %s ran", ran)
        if out.transient:  # a passing failure again: the queue tries later
            raise RetryLater("; ".join(out.errors) or f"{len(out.transient)} Flow calls not run")
        # refused ones wait for the next run, as any run's do

    @app.periodic(cron=f"* * * * * */{SWEEP_SECONDS}")
    @app.task(name=queue.SWEEP, queueing_lock=queue.SWEEP)
    async def sweep(timestamp: int) -> None:
        stalled = await app.job_manager.get_stalled_jobs(
            seconds_since_heartbeat=settings.queue_stalled_seconds
        )
        for job in stalled:
            try:
                await app.job_manager.retry_job(job)
            except UniqueViolation:
                # A job of the same queueing lock waits already and does the same work: this
                # one ends as failed, which frees its lock for that one.
                await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
                log.warning(
                    "job %s (%s) was left by a stopped worker: its twin does it",
                    job.id,
                    job.task_name,
                )
                continue
            log.warning("job %s (%s) was left by a stopped worker: retried", job.id, job.task_name)
        for stored in store.events.pending_deliveries(1000):
            try:
                await queue.delivery_job(app, stored.source, stored.key).defer_async(
                    source=stored.source, key=stored.key
                )
            except AlreadyEnqueued:
                continue
        if store.events.dirty_people():  # marks whose recompute job was lost with a defer
            with contextlib.suppress(AlreadyEnqueued):
                await queue.recompute_job(app).defer_async()

    # registered on the app by their names
    del normalise_delivery, recompute_people, sync, fire_flows
    return app, worker


def run_worker(settings: Settings, **options: Any) -> None:
    """Apply the queue's schema if needed, then work jobs until SIGTERM or SIGINT (the
    worker finishes its job first; procrastinate's own signal handling)."""
    url = settings.store_location
    assert isinstance(url, str)
    queue.ensure_schema(url)
    app, _ = build_app(settings)
    app.run_worker(  # opens the app and its pool, closes them on the way out
        concurrency=1,
        fetch_job_polling_interval=AGAIN_SECONDS,
        update_heartbeat_interval=min(HEARTBEAT_SECONDS, settings.queue_stalled_seconds / 3),
        stalled_worker_timeout=settings.queue_stalled_seconds,
        install_signal_handlers=True,
        **options,
    )

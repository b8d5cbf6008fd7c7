"""Sync runs and the run lock: :class:`RunsRepository`.

Table ``runs``: what each run did, with its process id and host, so a run that died is found
and marked ``crashed``. The run lock is an OS advisory lock on ``<database>.lock`` beside the
SQLite file; on PostgreSQL, a session-level advisory lock in the database (``pg_try_advisory_lock``:
the processes sharing the database may run on several hosts, which share no file).

Runs of some people (the queue's recompute jobs) need not wait for each other: on PostgreSQL
:meth:`RunsRepository.people_lock` holds the run lock *shared* (a whole-org run holds it
exclusively, so the two never overlap) and an advisory lock per shard of the people it
computes, so two workers compute and push different people at once and never the same person.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from connector.errors import Busy, RunInProgress
from connector.store.backend import is_postgres, transaction
from connector.store.postgres import LOCK_TIMEOUT_MS
from connector.store.sqlite import now

#: The PostgreSQL advisory lock of the run lock (the write lock, ``postgres.py``, is another),
#: taken as the second of two keys whose first names the store's schema (``_run_lock_key``).
RUN_LOCK_KEY = 0x4C324C52  # "L2LR"
#: People locks: shards of people (the CRC-32 of a person's key, modulo this). Each run of some
#: people holds at most this many session-level advisory locks however many people it computes
#: (the server's lock table has room for ``max_locks_per_transaction`` x ``max_connections``).
PEOPLE_SHARDS = 256
#: The ``sync_state`` key where the run lock's holder leaves its pid (the lock file's content).
_HOLDER = "run_lock_pid"


def person_key(obj: str, record_id: str) -> str:
    """What :meth:`RunsRepository.people_lock` locks a person by."""
    return f"{obj}:{record_id}"


_RUN_COLUMNS = "id, started_at, finished_at, status, mode, stats, pid, host"


def _run_row(r: Sequence[Any]) -> dict[str, Any]:
    return {
        "id": r[0],
        "started_at": r[1],
        "finished_at": r[2],
        "status": r[3],
        "mode": r[4],
        "stats": json.loads(r[5] or "{}"),
        "pid": r[6],
        "host": r[7],
    }


class RunsRepository:
    """Run records and the lock that keeps one sync at a time (``store.runs``)."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None) -> None:
        self.db = db
        self.path = path  # the database file (the lock sits beside it); None in memory
        self._pg_held = False  # PostgreSQL: this store holds the run lock (see _pg_lock)
        self._shared = 0  # people_lock's depth: > 0 while this store holds the run lock shared
        self._people_class: int | None = None  # PostgreSQL: first key of the people locks

    @contextmanager
    def lock(self, wait_seconds: float = 0.0) -> Iterator[None]:
        """Hold the database's run lock (``<database>.lock``) or raise :class:`RunInProgress`.

        An OS advisory lock: it is released when the holder exits, however it exits (a killed
        run leaves no stale lock behind). The file keeps the holder's pid for the message.
        ``wait_seconds`` tries again for that long first (the real-time worker holds the lock
        for short passes, so a scheduled sync can wait them out instead of being skipped).
        """
        if is_postgres(self.db):
            with self._pg_lock(wait_seconds):
                yield
            return
        if self.path is None:
            yield
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        deadline = time.monotonic() + wait_seconds
        with lock_path.open("a+", encoding="utf-8") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(0.05)
            try:  # held already (a no-op), or still refused: say who holds it
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise RunInProgress(
                    f"another sync is running on {self.path} (pid {holder}); this one did not "
                    "start, and the next one picks up whatever it would have done"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def _pg_lock(self, wait_seconds: float) -> Iterator[None]:
        """:meth:`lock` on PostgreSQL: a session-level advisory lock, released when its holder
        ends however it ends (the server drops a dead client's session, and its locks, as the
        OS drops a dead process's flock); tried, then tried again for ``wait_seconds``."""
        conn = self.db.conn
        deadline = time.monotonic() + wait_seconds
        # PostgreSQL grants a session the lock it holds again; a second holder through this same
        # store (``close_dead`` inside a run, a thread beside it) must be refused as the file
        # lock refuses a second handle, or it would mark its own live run crashed.
        while self._pg_held or not self._pg_try():
            if not self._pg_held and wait_seconds > 0 and self._pg_wait(deadline):
                break
            if time.monotonic() >= deadline:
                row = conn.execute("SELECT value FROM sync_state WHERE key = ?", [_HOLDER])
                holder = (row.fetchone() or ["unknown"])[0]
                raise RunInProgress(
                    f"another sync is running on {getattr(conn, 'label', '?')} (pid {holder}); "
                    "this one did not start, and the next one picks up whatever it would have "
                    "done"
                )
            time.sleep(0.05)
        self._pg_held = True
        try:
            conn.execute(
                "INSERT INTO sync_state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [_HOLDER, str(os.getpid())],
            )
            yield
        finally:
            self._pg_held = False
            conn.execute("SELECT pg_advisory_unlock(?, ?)", self._run_lock_key())

    @contextmanager
    def people_lock(self, keys: Iterable[str], *, some: bool = False) -> Iterator[frozenset[str]]:
        """Hold the people named by ``keys`` (``"Contact:003..."``, or any string naming what a
        run of some people computes) against every other run; yields the keys held.

        PostgreSQL: the run lock *shared* (refused with :class:`RunInProgress` while a whole-org
        run holds it exclusively), then a session-level advisory lock per shard of the keys
        (:data:`PEOPLE_SHARDS`), tried in shard order, never waited for, so two workers never
        wait on each other. Without ``some`` every shard must be free, else
        :class:`RunInProgress`; with ``some`` the shards another run holds are left out and the
        keys held are yielded (maybe none): the caller computes those and leaves the rest to
        the run that holds them. The server drops a dead worker's session and its locks with it.
        Nested holds through the same store are granted (PostgreSQL counts a session's holds).

        SQLite (one host, one worker): the run lock, exclusive; every key is yielded.
        """
        wanted = frozenset(keys)
        if not is_postgres(self.db):
            if self._shared:  # held already by an outer people_lock of this store
                yield wanted
                return
            with self.lock():
                self._shared += 1
                try:
                    yield wanted
                finally:
                    self._shared -= 1
            return
        conn = self.db.conn
        if self._pg_held:  # this store runs the whole org (PostgreSQL would grant it again)
            raise RunInProgress(
                f"a sync of the whole org is running on {getattr(conn, 'label', '?')} in this "
                "process; it computes these people too"
            )
        run_key = self._run_lock_key()
        if not conn.execute("SELECT pg_try_advisory_lock_shared(?, ?)", run_key).fetchone()[0]:
            raise RunInProgress(
                f"a sync of the whole org is running on {getattr(conn, 'label', '?')}; it "
                "computes these people too, and their marks stay for the next pass"
            )
        self._shared += 1
        cls = self._people_lock_class()
        taken: list[int] = []
        try:
            by_shard: dict[int, list[str]] = defaultdict(list)
            for key in wanted:
                by_shard[zlib.crc32(key.encode()) % PEOPLE_SHARDS].append(key)
            held: set[str] = set()
            for shard in sorted(by_shard):
                got = conn.execute("SELECT pg_try_advisory_lock(?, ?)", [cls, shard]).fetchone()
                if got[0]:
                    taken.append(shard)
                    held.update(by_shard[shard])
                elif not some:
                    raise RunInProgress(
                        "another worker is computing some of these people; their marks stay "
                        "for the next pass"
                    )
            yield frozenset(held)
        finally:
            for shard in taken:
                conn.execute("SELECT pg_advisory_unlock(?, ?)", [cls, shard])
            self._shared -= 1
            conn.execute("SELECT pg_advisory_unlock_shared(?, ?)", run_key)

    def _people_lock_class(self) -> int:
        """The first key of the run lock and the people locks: from the store's schema
        (advisory locks are per database, and several stores, tests or tenants, may share one
        in their own schemas: one store's sync must not keep another's out)."""
        if self._people_class is None:
            schema = self.db.conn.execute("SELECT current_schema()").fetchone()[0]
            self._people_class = zlib.crc32(f"l2l-people:{schema}".encode()) & 0x7FFFFFFF
        return self._people_class

    @contextmanager
    def exclusive_part(self, name: str) -> Iterator[bool]:
        """Inside runs of some people (on PostgreSQL several at once), a part that must not run
        twice at once (the loyalty mirror sends journal entries not yet sent): yields True when
        this run may do it now, False when another run is doing it (that run, or the next one,
        does it). Under the exclusive run lock, and on SQLite, always True."""
        if not self.shared:
            yield True
            return
        conn = self.db.conn
        cls = self._people_lock_class()
        key = PEOPLE_SHARDS + (zlib.crc32(name.encode()) & 0x3FFFFFFF)  # never a shard
        got = bool(conn.execute("SELECT pg_try_advisory_lock(?, ?)", [cls, key]).fetchone()[0])
        try:
            yield got
        finally:
            if got:
                conn.execute("SELECT pg_advisory_unlock(?, ?)", [cls, key])

    @property
    def shared(self) -> bool:
        """True inside :meth:`people_lock` on PostgreSQL: other runs of other people may be
        running beside this one (so it sends only its own people's values)."""
        return bool(self._shared) and is_postgres(self.db)

    def recover_crashed(self) -> list[dict[str, Any]]:
        """:meth:`mark_crashed`, for a run that holds its lock; nothing while this store holds
        the lock shared on PostgreSQL (runs of other people may be live: the next whole-org run,
        which holds it alone, marks the dead ones)."""
        return [] if self.shared else self.mark_crashed()

    def _pg_wait(self, deadline: float) -> bool:
        """Wait in the server's queue for the run lock until ``deadline``; True when granted.
        Queued, not polled: while a whole-org run waits, runs of some people asking for the
        lock shared are refused (PostgreSQL grants no lock that conflicts with a waiter ahead
        of it), so a stream of real-time passes cannot keep a scheduled sync out."""
        conn = self.db.conn
        ms = max(1, int((deadline - time.monotonic()) * 1000))
        conn.execute(f"SET lock_timeout = {ms}")
        try:
            conn.execute("SELECT pg_advisory_lock(?, ?)", self._run_lock_key())
            return True
        except Busy:
            return False
        finally:
            conn.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")

    def _pg_try(self) -> bool:
        key = self._run_lock_key()
        return bool(self.db.conn.execute("SELECT pg_try_advisory_lock(?, ?)", key).fetchone()[0])

    def _run_lock_key(self) -> list[int]:
        """The run lock's two keys: the store's own (its schema's) first key, and
        :data:`RUN_LOCK_KEY` (folded to 32 bits; the shards of people are 0 and up)."""
        return [self._people_lock_class(), -(RUN_LOCK_KEY & 0x7FFFFFFF)]

    def start(self, mode: str) -> int:
        """Open a run record; returns its id."""
        table = self.db.table("runs")
        table.insert(
            {
                "started_at": now(),
                "status": "running",
                "mode": mode,
                "stats": "{}",
                "pid": os.getpid(),
                "host": socket.gethostname(),
            }
        )
        return int(table.last_pk)  # type: ignore[arg-type]

    def mark_crashed(self) -> list[dict[str, Any]]:
        """Close every run still marked ``running`` as ``crashed``; returns them (id, pid, host).

        Call it holding :meth:`lock`: the lock is held by a live run for as long as it runs
        and released by the OS when its process dies, so a ``running`` run seen under the lock
        belongs to a process that ended without finishing it.
        """
        rows = self.db.execute(
            "SELECT id, pid, host, stats FROM runs WHERE status = 'running' ORDER BY id"
        ).fetchall()
        crashed = []
        with transaction(self.db.conn):
            for run_id, pid, host, stats_text in rows:
                stats = json.loads(stats_text or "{}")
                reason = (
                    f"process {pid or '?'} on {host or '?'} ended without finishing this run "
                    "(killed or crashed); the next run settled its writes"
                )
                stats.update(
                    {
                        "status": "crashed",
                        "errors": [*stats.get("errors", []), reason],
                        # What it got to record before it died, from its value log: the run's
                        # counts then match what it did to the org (writes whose answer it
                        # never recorded are counted as verified by the run that settles them).
                        "writes": {**stats.get("writes", {}), **self._logged_writes(run_id)},
                    }
                )
                self.db.conn.execute(
                    "UPDATE runs SET status = 'crashed', finished_at = ?, stats = ? WHERE id = ?",
                    (now(), json.dumps(stats, default=str), run_id),
                )
                crashed.append({"id": run_id, "pid": pid, "host": host})
        return crashed

    def finish(self, run_id: int, status: str, stats: dict[str, Any]) -> None:
        """Close a run record with its outcome and metrics."""
        self.db.table("runs").update(
            run_id,
            {"finished_at": now(), "status": status, "stats": json.dumps(stats, default=str)},
        )

    def latest(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first, stats decoded."""
        rows = self.db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?", [limit]
        ).fetchall()
        return [_run_row(r) for r in rows]

    def one(self, run_id: int) -> dict[str, Any] | None:
        """Run ``run_id`` as :meth:`latest` gives it, or None."""
        row = self.db.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", [run_id]).fetchone()
        return None if row is None else _run_row(row)

    def _logged_writes(self, run_id: int) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT status, COUNT(DISTINCT object || ' ' || record_id) FROM value_log "
            "WHERE run_id = ? GROUP BY status",
            [run_id],
        ).fetchall()
        by_status = dict(rows)
        return {
            "succeeded": int(by_status.get("written", 0)),
            "carried_over": int(by_status.get("carried", 0)),
            "failed": int(by_status.get("failed", 0)),
            "verified": int(by_status.get("verified", 0)),
        }

    def close_dead(self) -> list[dict[str, Any]]:
        """:meth:`mark_crashed` when no live run holds the lock (else nothing): lets a read
        such as ``lead2loyalty runs`` show a dead run as crashed before the next sync."""
        try:
            with self.lock():
                return self.mark_crashed()
        except RunInProgress:
            return []

    def readiness(
        self, modes: Sequence[str]
    ) -> tuple[str | None, str | None, str | None, int, int]:
        """(newest run of ``modes``: its start; the last finished one: its status and end; stored
        deliveries not yet normalised; dirty people): a handful of indexed lookups, cheap enough
        for a probe every few seconds."""
        conn = self.db.conn
        marks = ", ".join("?" * len(modes))
        # Newest first by id: the scan stops at the first run of these modes, however many other
        # runs (real-time passes) were recorded since.
        latest = conn.execute(
            f"SELECT started_at FROM runs WHERE mode IN ({marks}) ORDER BY id DESC LIMIT 1",
            list(modes),
        ).fetchone()
        finished = conn.execute(
            f"SELECT status, finished_at FROM runs WHERE mode IN ({marks}) AND status != 'running' "
            "ORDER BY id DESC LIMIT 1",
            list(modes),
        ).fetchone()
        # The partial index deliveries_pending holds exactly these rows: no scan of the table.
        pending = conn.execute(
            "SELECT COUNT(*) FROM deliveries WHERE status = 'stored'"
        ).fetchone()[0]
        dirty = conn.execute("SELECT COUNT(*) FROM dirty_people").fetchone()[0]
        return (
            latest[0] if latest else None,
            finished[0] if finished else None,
            finished[1] if finished else None,
            int(pending),
            int(dirty),
        )

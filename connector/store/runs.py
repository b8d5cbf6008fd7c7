"""Sync runs and the run lock: :class:`RunsRepository`.

Table ``runs``: what each run did, with its process id and host, so a run that died is found
and marked ``crashed``. The run lock is an OS advisory lock on ``<database>.lock`` beside the
SQLite file; on PostgreSQL, a session-level advisory lock in the database (``pg_try_advisory_lock``:
the processes sharing the database may run on several hosts, which share no file).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from connector.errors import RunInProgress
from connector.store.backend import is_postgres, transaction
from connector.store.postgres import advisory
from connector.store.sqlite import now

#: The PostgreSQL advisory lock of the run lock (the write lock, ``postgres.py``, is another).
RUN_LOCK_KEY = 0x4C324C52  # "L2LR"
#: The ``sync_state`` key where the run lock's holder leaves its pid (the lock file's content).
_HOLDER = "run_lock_pid"

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
            conn.execute(advisory("pg_advisory_unlock"), [RUN_LOCK_KEY])

    def _pg_try(self) -> bool:
        return bool(
            self.db.conn.execute(advisory("pg_try_advisory_lock"), [RUN_LOCK_KEY]).fetchone()[0]
        )

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

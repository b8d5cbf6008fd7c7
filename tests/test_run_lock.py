"""The run lock on each backend (``store.runs.lock``): one sync at a time per database.

SQLite: an OS lock on the file beside the database; PostgreSQL: an advisory lock in the
database (the processes may share no disk). Either way a second holder is refused with the
first one's pid, may wait for it (``wait_seconds``), and a holder killed mid-run leaves no
stale lock behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from connector.errors import RunInProgress
from connector.store import Store
from tests.support import REPO

_HOLD = """
import sys, time
from connector.store import Store
store = Store(sys.argv[1])
with store.runs.lock():
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_second_holder_is_refused_with_the_first_ones_pid(database: Path | str) -> None:
    first, second = Store(database), Store(database)
    try:
        with (
            first.runs.lock(),
            pytest.raises(RunInProgress, match=rf"another sync is running .*pid {os.getpid()}"),
            second.runs.lock(),
        ):
            pass  # pragma: no cover - refused
        with second.runs.lock():  # released: taken at once
            pass
    finally:
        first.close()
        second.close()


def test_a_waiting_holder_gets_the_lock_when_the_first_lets_go(database: Path | str) -> None:
    first, second = Store(database), Store(database)
    got: list[bool] = []
    holding = threading.Event()

    def hold_briefly() -> None:
        with first.runs.lock():
            holding.set()
            time.sleep(0.5)

    holder = threading.Thread(target=hold_briefly)
    holder.start()
    holding.wait(10)
    try:
        with second.runs.lock(wait_seconds=30):  # waits the first one out
            got.append(True)
    finally:
        holder.join()
        first.close()
        second.close()
    assert got == [True]


def test_a_holder_killed_mid_run_leaves_no_stale_lock(database: Path | str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(database)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    store = Store(database)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunInProgress, match=rf"pid {proc.pid}\)"), store.runs.lock():
            pass  # pragma: no cover - refused
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        with store.runs.lock(wait_seconds=30):  # the server or the OS dropped the dead one's lock
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
        store.close()


def test_the_same_store_cannot_take_the_lock_twice(database: Path | str) -> None:
    # As with the file lock: a second holder through the same store (``close_dead`` while this
    # process runs a sync) is refused, so it never marks its own live run crashed.
    store = Store(database)
    try:
        run_id = store.runs.start("incremental")
        with store.runs.lock():
            assert store.runs.close_dead() == []
            with pytest.raises(RunInProgress), store.runs.lock():
                pass  # pragma: no cover - refused
        assert store.runs.latest(1)[0]["status"] == "running"
        assert [r["id"] for r in store.runs.close_dead()] == [run_id]  # now it is dead
    finally:
        store.close()

"""The run lock on each backend (``store.runs.lock``): one sync at a time per database.

SQLite: an OS lock on the file beside the database; PostgreSQL: an advisory lock in the
database (the processes may share no disk). Either way a second holder is refused with the
first one's pid, may wait for it (``wait_seconds``), and a holder killed mid-run leaves no
stale lock behind.

Runs of some people (the queue's recompute jobs, PostgreSQL): each holds the run lock shared and
its people's shards, so several run at once on different people, never on the same one, and
never beside a whole-org run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

from connector.errors import RunInProgress
from connector.store import Store
from connector.store.runs import PEOPLE_SHARDS
from tests.backends import postgres_schema, sqlite_only
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


# ---------------------------------------------------------------- runs of some people (workers)
def _apart(n: int) -> list[str]:
    """``n`` person keys in ``n`` different shards of the people locks."""
    keys: dict[int, str] = {}
    i = 0
    while len(keys) < n:
        key = f"Contact:003{i:012d}"
        keys.setdefault(zlib.crc32(key.encode()) % PEOPLE_SHARDS, key)
        i += 1
    return list(keys.values())


def test_runs_of_different_people_hold_them_at_once_and_never_the_same() -> None:
    with postgres_schema() as url:
        first, second, third = Store(url), Store(url), Store(url)
        a, b, c = _apart(3)
        try:
            with first.runs.people_lock([a]) as mine, second.runs.people_lock([b]) as theirs:
                assert (mine, theirs) == ({a}, {b})  # two workers side by side
                with (
                    pytest.raises(RunInProgress, match="another worker"),
                    third.runs.people_lock([a, c]),
                ):
                    pass  # pragma: no cover - refused: a is held
                with third.runs.people_lock([a, b, c], some=True) as left:
                    assert left == {c}  # what nobody holds; a and b stay with their holders
                with first.runs.people_lock([a]) as again:  # nested through the same store
                    assert again == {a}
                with (
                    pytest.raises(RunInProgress, match="another worker"),
                    third.runs.people_lock([a]),
                ):  # still held after the nested release
                    pass  # pragma: no cover
            with third.runs.people_lock([a, b, c]) as everyone:  # all released
                assert everyone == {a, b, c}
        finally:
            for store in (first, second, third):
                store.close()


def test_a_whole_org_run_and_runs_of_people_keep_each_other_out() -> None:
    with postgres_schema() as url:
        worker, clock = Store(url), Store(url)
        [a] = _apart(1)
        try:
            with worker.runs.people_lock([a]):
                with pytest.raises(RunInProgress, match="another sync"), clock.runs.lock():
                    pass  # pragma: no cover - a worker computes some people
                assert worker.runs.shared  # beside others: sends only its own people's values
                assert worker.runs.recover_crashed() == []  # their runs may be live
            with clock.runs.lock():
                with pytest.raises(RunInProgress, match="whole org"), worker.runs.people_lock([a]):
                    pass  # pragma: no cover - a whole-org run holds everyone
                with (
                    pytest.raises(RunInProgress, match="whole org"),
                    clock.runs.people_lock([a]),
                ):  # nor through the sync's own store
                    pass  # pragma: no cover
        finally:
            worker.close()
            clock.close()


def test_each_store_schema_has_its_own_run_lock() -> None:
    # Advisory locks are per database: two stores in two schemas of one database (tests,
    # tenants) must not keep each other's syncs out.
    with postgres_schema() as one_url, postgres_schema() as other_url:
        one, other = Store(one_url), Store(other_url)
        try:
            with one.runs.lock(), other.runs.lock():
                pass
        finally:
            one.close()
            other.close()


@sqlite_only("the run lock's file on one host (PostgreSQL's advisory locks: the tests above)")
def test_on_sqlite_a_run_of_people_holds_the_run_lock_alone(tmp_path: Path) -> None:
    # One host, one worker: no shards, the run lock as before; nested holds are granted.
    first, second = Store(tmp_path / "l2l.sqlite"), Store(tmp_path / "l2l.sqlite")
    try:
        with first.runs.people_lock(["Contact:a"]) as held:
            assert held == {"Contact:a"}
            assert not first.runs.shared
            with first.runs.people_lock(["Contact:b"]) as nested:
                assert nested == {"Contact:b"}
            with pytest.raises(RunInProgress), second.runs.people_lock(["Contact:b"]):
                pass  # pragma: no cover - refused
    finally:
        first.close()
        second.close()


_HOLD_PEOPLE = """
import sys, time
from connector.store import Store
store = Store(sys.argv[1])
with store.runs.people_lock([sys.argv[2]]):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_worker_killed_holding_people_leaves_no_stale_lock() -> None:
    with postgres_schema() as url:
        [a] = _apart(1)
        proc = subprocess.Popen(
            [sys.executable, "-c", _HOLD_PEOPLE, url, a],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            text=True,
        )
        store = Store(url)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "held"
            with store.runs.people_lock([a], some=True) as held:
                assert held == frozenset()
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            deadline = time.monotonic() + 120  # the server ends the dead session
            while True:
                with store.runs.people_lock([a], some=True) as held:
                    if held == {a} or time.monotonic() > deadline:
                        break
                time.sleep(0.1)
            assert held == {a}
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
            if proc.stdout is not None:
                proc.stdout.close()
            store.close()


def test_a_waiting_whole_org_run_is_not_kept_out_by_a_stream_of_passes() -> None:
    # The clock's sync waits in the server's queue: passes that start after it asked are
    # refused (their marks stay), so it gets the lock once the passes already running end.
    with postgres_schema() as url:
        running, later, clock = Store(url), Store(url), Store(url)
        a, b = _apart(2)
        got: list[float] = []
        waiting = threading.Event()

        def sync() -> None:
            waiting.set()
            with clock.runs.lock(wait_seconds=240):
                got.append(time.monotonic())

        try:
            with running.runs.people_lock([a]):
                thread = threading.Thread(target=sync)
                thread.start()
                waiting.wait(120)
                deadline = time.monotonic() + 120
                refused = False
                while not refused and time.monotonic() < deadline:  # until the sync queues
                    try:
                        with later.runs.people_lock([b]):
                            time.sleep(0.02)
                    except RunInProgress as exc:
                        refused = "whole org" in str(exc)
                assert refused
                assert got == []  # still waiting for the pass that was running
                released = time.monotonic()
            thread.join(240)
            assert len(got) == 1
            assert got[0] >= released
        finally:
            for store in (running, later, clock):
                store.close()

"""Benchmark: a full sync of a seeded org, against baselines measured in the same run.

Prints records pulled per second, write-back API calls per 1,000 records written against the
ceil(N/200) minimum of sObject Collections, the calls and seconds of the syncs after it, and the
connector's peak memory. The org runs in a process of its own (``lead2loyalty localorg
serve``), as Salesforce would, so the memory is the connector's alone and the two do not share
one interpreter lock. The speed baseline is a bare simple-salesforce ``query_all`` of the
connector's exact SOQL for every object (the same text, fields and window) through the same
server in the same run, so the ratio says what the connector adds over a plain pull (storing
the rows in SQLite, mostly) on this (noisy) machine.

After the first sync come: one at once (its pull window still ends before most of the first
sync's write-back, held back by the 5 s pull lag), and one "a minute later", when every record
the write-back saved is inside the window. The minute is not waited for: that sync runs with no
pull lag, which puts the same echoes in its window. The same sync with the echo filter off
(no integration user id) shows what reading the echoes would cost.

    .venv/bin/python bench/sync.py --size medium
    .venv/bin/lead2loyalty localorg seed --size large --data var/large   # once
    nice .venv/bin/python bench/sync.py --size large --data var/large

``--data`` serves a folder ``localorg seed`` wrote (a copy of it, from disk) instead of seeding
in memory; ``--profile FILE`` writes a cProfile of the first sync; the peak memory is printed
with where the connector was (its main thread's innermost frames) when it was reached.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import resource
import sys
import tempfile
import threading
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

from served import deployed, served, served_settings
from simple_salesforce.api import Salesforce

from connector.sync import SyncOptions
from connector.sync.streams import DEFAULT_OBJECTS, STREAMS
from localorg.server import client_credentials_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--data", type=Path, help="a seeded org folder (localorg seed --data)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the first sync here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-"))
    t0 = time.perf_counter()
    with served(args.size, data=args.data) as info:
        how = f"--data {args.data} (a copy)" if args.data else f"--seed {args.size}"
        print(f"localorg serve {how}: ready in {time.perf_counter() - t0:.1f}s")
        settings = served_settings(info, work)
        engine = deployed(settings)

        # Baseline: a bare simple-salesforce query_all of the connector's own SOQL for every
        # object it pulls (the fields its describe leaves, the whole window), same server.
        session = engine.client.session
        token = client_credentials_token(
            session, info["login_url"], info["client_id"], info["client_secret"]
        )
        sf = Salesforce(
            instance_url=token["instance_url"], session_id=token["access_token"], session=session
        )
        until = datetime.now(UTC) - timedelta(seconds=settings.pull_lag_seconds)
        raw = 0
        baseline_s = 0.0
        for name in DEFAULT_OBJECTS:
            stream = STREAMS[name]
            available = {f["name"] for f in engine.client.describe(name)["fields"]}
            fields = [f for f in stream.all_fields() if f in available]
            soql = engine.client.window_soql(name, fields, None, until)
            t0 = time.perf_counter()
            # query_all_iter: the same calls as query_all, without holding every record (the
            # peak memory printed below is the connector's, not the baseline's)
            raw += sum(1 for _ in sf.query_all_iter(soql, include_deleted=True))
            baseline_s += time.perf_counter() - t0
        baseline_rate = raw / baseline_s

        watch = PeakWatch()
        profile = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        if profile is not None:
            profile.enable()
        report = engine.run(SyncOptions()).as_json()
        if profile is not None:
            profile.disable()
            profile.dump_stats(args.profile)
        sync_s = time.perf_counter() - t0
        watch.stop()
        # CPU seconds of the connector alone: on a shared machine the wall clock of each phase
        # also counts the other processes' turns.
        sync_cpu = time.process_time() - cpu0
        pulled = sum(o["pulled"] for o in report["objects"].values())
        written = report["writes"]["succeeded"]
        writes = report["api_calls"].get("collection_update", 0)  # bulk jobs are listed below
        minimum = math.ceil(written / 200)
        second = engine.run(SyncOptions()).as_json()
        # "A minute later": no pull lag puts every echo of the write-back in the window (and
        # two seconds' wait its last second too: the window ends on a whole second).
        time.sleep(2)
        engine.settings = engine.settings.model_copy(update={"pull_lag_seconds": 0})
        later = engine.run(SyncOptions()).as_json()
        user, engine.client.user_id = engine.client.user_id, None
        unfiltered = engine.run(SyncOptions()).as_json()
        engine.client.user_id = user
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        phases = report["phases_s"]
        cpu = report["phases_cpu_s"]
        pull_rate = pulled / phases["pull"]
        print(
            f"first sync: {report['status']}, {sync_s:.1f}s (pull {phases['pull']:.1f}s, compute "
            f"{phases['compute']:.1f}s, push {phases.get('push', 0.0):.1f}s); "
            f"{report['writes']['unmappable']:,} values the mappings could not write"
        )
        print(
            "  per phase, wall / CPU seconds of the connector: "
            + ", ".join(f"{k} {v:.1f} / {cpu.get(k, 0.0):.1f}" for k, v in phases.items())
            + f"; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        if args.size == "medium":
            print(
                f"  beside issue 19's medium first sync (85-107 s: pull 19.6 s, compute 34-49 s, "
                f"push 29-38 s; targets compute < 15 s, push < 12 s): compute "
                f"{phases['compute']:.1f}s, push {phases.get('push', 0.0):.1f}s, effects "
                f"{phases.get('effects', 0.0):.1f}s; connector CPU {sync_cpu:.1f}s for the "
                f"{sync_s:.1f}s; this machine's load now: {os.getloadavg()[0]:.1f} on "
                f"{os.cpu_count()} cores"
            )
        print(
            f"pull: {pulled:,} records at {pull_rate:,.0f} records/s, stored in SQLite; baseline "
            f"bare query_all of the same SOQL, {raw:,} records at {baseline_rate:,.0f} "
            f"records/s; ratio {pull_rate / baseline_rate:.2f} (target >= 0.85)"
        )
        if writes:
            print(
                f"write-back: {written:,} records in {writes:,} collection calls = "
                f"{1000 * writes / max(written, 1):.2f} calls per 1,000 records "
                f"(minimum ceil(N/200) = {minimum:,}, ratio {writes / max(minimum, 1):.2f})"
            )
        else:  # above the push threshold: one Bulk API 2.0 upsert job instead
            print(
                f"write-back: {written:,} records through one Bulk API 2.0 upsert job (a handful "
                f"of bulk_job calls, counted with the pull's below) instead of the {minimum:,} "
                "calls sObject Collections would need at best"
            )
        print(f"API calls: {report['api_calls']}")
        for label, run in (
            ("second sync, at once", second),
            ('third sync, "a minute later"', later),
            ("the same, echo filter off", unfiltered),
        ):
            print(
                f"{label}: {run['writes']['succeeded']} records written, "
                f"{sum(o['pulled'] for o in run['objects'].values()):,} records pulled, "
                f"{sum(o.get('changed', 0) for o in run['objects'].values()):,} changed, "
                f"compute {run['compute']}, {run['api_calls'].get('total', 0)} API calls, "
                f"{run['duration_s']:.1f}s"
            )
        print(
            f'"a minute later" against at once: {later["api_calls"].get("total", 0)} calls '
            f"(no more than {second['api_calls'].get('total', 0)}), {later['duration_s']:.1f}s "
            "(target < 3 s)"
        )
        print(
            f"peak memory of the connector (the org runs in its own process): {peak_mb:,.0f} MB"
            + (" (issue 19: 1,580 MB; target < 800 MB)" if args.size == "medium" else "")
            + (" (issue 19: 5.8 GB, 14.4 GB lately; target < 2 GB)" if args.size == "large" else "")
        )
        print(
            f"  the first sync's own peak: {watch.peak_mb:,.0f} MB resident, reached in:\n"
            + "".join(f"    {line}\n" for line in watch.where)
        )
        if args.size == "large":
            print(
                f"large first sync {sync_s:.0f}s (CPU {sync_cpu:.0f}s) beside 617 s measured "
                f"before intent and loyalty (24 min most recently): ratio {sync_s / 617:.2f}"
            )


class PeakWatch:
    """Samples this process's resident memory every 0.2 s on a thread of its own; keeps the
    peak and the main thread's innermost frames at that moment (what held the memory)."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self.where: list[str] = []
        self._main = threading.main_thread().ident
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._done.wait(0.2):
            mb = int(Path("/proc/self/statm").read_text().split()[1]) * page / 2**20
            if mb > self.peak_mb:
                self.peak_mb = mb
                frame = sys._current_frames().get(self._main or 0)
                stack = traceback.extract_stack(frame)[-6:] if frame is not None else []
                self.where = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in stack]

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


if __name__ == "__main__":
    main()

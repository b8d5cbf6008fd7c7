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
with where the connector was (its main thread's innermost frames) when it was reached, and the
resident memory at each phase's start and end with the phase's own peak (the probe wraps the
run report's phase timer: no product code logs it). ``--census`` also lists, at the push's
start, the biggest objects still alive and what holds them (a diagnosis: the walk over every
object costs seconds and its figures are then no baseline).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import math
import os
import resource
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from served import deployed, served, served_settings
from simple_salesforce.api import Salesforce

from connector.store.outbox import OutboxRepository
from connector.sync import SyncEngine, SyncOptions
from connector.sync import engine as engine_module
from connector.sync.engine import RunReport
from connector.sync.streams import DEFAULT_OBJECTS, STREAMS
from localorg.server import client_credentials_token


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--data", type=Path, help="a seeded org folder (localorg seed --data)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the first sync here")
    parser.add_argument(
        "--census", action="store_true", help="list the biggest live objects at the push's start"
    )
    parser.add_argument(
        "--compute-only",
        action="store_true",
        help="the first sync as a dry run (pull and compute, no push), with its compute's steps",
    )
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
        probe = PhaseProbe(watch, census=args.census, steps=args.compute_only)
        if args.compute_only:
            probe.step(watch, engine, "mapper")
        profile = cProfile.Profile() if args.profile else None
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        if profile is not None:
            profile.enable()
        report = engine.run(SyncOptions(dry_run=args.compute_only)).as_json()
        if profile is not None:
            profile.disable()
            profile.dump_stats(args.profile)
        sync_s = time.perf_counter() - t0
        watch.stop()
        probe.stop()
        if args.compute_only:
            print_compute_only(report, probe, args.size)
            return
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
        print("  resident memory of the first sync per phase (MB: at start -> at end, the phase's")
        print("  own peak; ru_maxrss, the process's peak so far, at the end):")
        for line in probe.lines:
            print(f"    {line}")
        if args.size == "large":
            print(
                f"large first sync {sync_s:.0f}s (CPU {sync_cpu:.0f}s) beside 617 s measured "
                f"before intent and loyalty (24 min most recently): ratio {sync_s / 617:.2f}"
            )


def print_compute_only(report: dict[str, Any], probe: PhaseProbe, size: str) -> None:
    """A dry run's figures: the compute's CPU and memory, step by step."""
    cpu = report["phases_cpu_s"]
    print(
        f"first sync as a dry run: {report['status']}; compute CPU {cpu['compute']:.1f}s"
        + (" (issue 19 target < 15 s)" if size == "medium" else "")
        + f", pull CPU {cpu['pull']:.1f}s; {report['writes']['fields_changed']:,} values "
        f"planned; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(f"peak memory of the connector: {maxrss_mb():,.0f} MB (ru_maxrss)")
    print("  resident MB per phase and compute step (at start -> at end, the step's own peak):")
    for line in probe.lines:
        print(f"    {line}")


def resident_mb() -> float:
    """This process's resident memory now, in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def maxrss_mb() -> float:
    """This process's peak resident memory so far (ru_maxrss), in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PhaseProbe:
    """Wraps :meth:`RunReport.timed` (each phase of a run) to note the resident memory at the
    phase's start and end and the phase's own peak (``PeakWatch``'s samples within it); with
    ``census``, wraps the push to list the biggest live objects at its start."""

    def __init__(self, watch: PeakWatch, *, census: bool, steps: bool = False) -> None:
        self.lines: list[str] = []
        self._timed = RunReport.timed
        self._push = SyncEngine._push
        self._patched: list[tuple[object, str, object]] = []
        timed = self._timed
        lines = self.lines

        @contextmanager
        def probed(report: RunReport, phase: str) -> Iterator[None]:
            start = resident_mb()
            watch.phase_peak = start
            with timed(report, phase):
                yield
            lines.append(
                f"{phase:<10} {start:7,.0f} -> {resident_mb():7,.0f}, peak "
                f"{watch.phase_peak:7,.0f}; ru_maxrss {maxrss_mb():7,.0f}"
            )

        RunReport.timed = probed  # type: ignore[assignment,method-assign]
        if steps:
            for owner, name in COMPUTE_STEPS:
                self.step(watch, owner, name)
        if census:
            push = self._push

            def counted(engine: SyncEngine, *args: object, **kwargs: object) -> None:
                lines.extend(census_lines())
                push(engine, *args, **kwargs)  # type: ignore[arg-type]

            SyncEngine._push = counted  # type: ignore[method-assign]

    def step(self, watch: PeakWatch, owner: object, name: str) -> None:
        """Wrap ``owner.name`` to note its memory and CPU seconds (a step of the compute)."""
        inner = getattr(owner, name)
        lines = self.lines

        def stepped(*args: Any, **kwargs: Any) -> Any:
            start, outer_peak = resident_mb(), watch.phase_peak
            watch.phase_peak = start
            cpu = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                lines.append(
                    f"  {name:<22} {start:7,.0f} -> {resident_mb():7,.0f}, peak "
                    f"{watch.phase_peak:7,.0f}; CPU {time.process_time() - cpu:5.1f}s"
                )
                watch.phase_peak = max(outer_peak, watch.phase_peak)

        self._patched.append((owner, name, inner))
        setattr(owner, name, stepped)

    def stop(self) -> None:
        RunReport.timed = self._timed  # type: ignore[method-assign]
        SyncEngine._push = self._push  # type: ignore[method-assign]
        for owner, name, inner in self._patched:
            setattr(owner, name, inner)


#: The compute's steps ``--compute-only`` notes, (where it is looked up, its name).
COMPUTE_STEPS: list[tuple[object, str]] = [
    (SyncEngine, "_resolve"),
    (engine_module, "load_loyalty_inputs"),
    (engine_module.compute, "rfm"),
    (engine_module.predict, "predict_contacts"),
    (engine_module, "loyalty_values"),
    (engine_module, "texts_values"),
    (engine_module.intent, "scoring_values"),
    (engine_module, "orders_values"),
    (OutboxRepository, "written_values"),
    (engine_module, "with_written_people"),
    (SyncEngine, "_diff"),
]


def census_lines(top: int = 15) -> list[str]:
    """The biggest live containers and frames (after a full collection), each with the types
    of what refers to it: what compute left resident when the push starts."""
    gc.collect()
    before = resident_mb()
    sized: list[tuple[float, str, object]] = []
    for obj in gc.get_objects():
        if isinstance(obj, pd.DataFrame):
            mb = obj.memory_usage(deep=True).sum() / 2**20
            what = f"DataFrame {obj.shape}"
        elif isinstance(obj, dict | list | set) and len(obj) > 50_000:
            mb = sys.getsizeof(obj) / 2**20
            what = f"{type(obj).__name__} of {len(obj):,} (container only)"
        else:
            continue
        if mb >= 5:
            sized.append((mb, what, obj))
    sized.sort(key=lambda s: -s[0])
    out = [f"census at push start: resident {before:,.0f} MB after gc.collect()"]
    entries = {id(s) for s in sized}
    for mb, what, obj in sized[:top]:
        holders = [holder(r, obj) for r in gc.get_referrers(obj) if id(r) not in entries][:4]
        out.append(f"  {mb:7,.1f} MB {what}; held by {', '.join(holders) or 'nothing tracked'}")
    del sized
    return out


def holder(referrer: object, obj: object) -> str:
    """Who ``referrer`` is: a function's frame, or the owner of a dict (an instance's
    attributes, a frame's locals) with the key ``obj`` sits under."""
    if hasattr(referrer, "f_code"):
        return f"frame {referrer.f_code.co_name}"
    if isinstance(referrer, dict):
        key = next((k for k, v in referrer.items() if v is obj), "?")
        owners = [
            type(o).__name__ if not hasattr(o, "f_code") else f"frame {o.f_code.co_name}"
            for o in gc.get_referrers(referrer)
            if not isinstance(o, list)
        ][:2]
        return f"{'/'.join(owners) or 'dict'}[{key!r}]"
    return type(referrer).__name__


class PeakWatch:
    """Samples this process's resident memory every 0.2 s on a thread of its own; keeps the
    peak and the main thread's innermost frames at that moment (what held the memory)."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self.phase_peak = 0.0  # the peak since PhaseProbe's phase began
        self.where: list[str] = []
        self._main = threading.main_thread().ident
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.2):
            mb = resident_mb()
            self.phase_peak = max(self.phase_peak, mb)
            if mb > self.peak_mb:
                self.peak_mb = mb
                frame = sys._current_frames().get(self._main or 0)
                stack = traceback.extract_stack(frame)[-6:] if frame is not None else []
                # the frame (and every caller's locals) stays alive while referenced here
                del frame
                self.where = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in stack]

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


if __name__ == "__main__":
    main()

"""Benchmark: the fixed cost of one real-time pass on PostgreSQL (issue 20).

The small seed synced once into a fresh PostgreSQL schema (``scale.py``'s first sync), then
``--background`` shop orders of other Contacts normalised and recomputed (not counted: the
webhooks' shop orders a pass of a few people should not have to read), then passes of
``RealtimeWorker.run_pass`` (normalise, recompute, push), each after one signed Shopify
``orders/create`` per person: ``--repeats`` passes of 1 person and of ``--people``. Per pass
size: the median connector CPU seconds (this process: normalising, the compute, the push to
localorg's own process), the PostgreSQL server's CPU seconds (``scale.ServerCpu``), the
statements sent and those reading ``information_schema``; then the ratio of the medians (many
people / one). CPU, not wall: the machine is shared, so wall time follows the load.

    cd bench && ../.venv/bin/python pass_cost.py
    cd bench && ../.venv/bin/python pass_cost.py --profile 20   # cProfile of the 1-person passes

Measured 2026-12-07 23:03-23:21 (load average 4.3-7.0 on 2 cores), defaults: before (fe11bd7)
a pass of 1 person 0.714 connector CPU s [0.625-0.850] + 0.130 server CPU s, 147 statements of
which 47 read information_schema; of 50 people 1.362 [1.146-1.562] + 0.400 s. With the shop
orders of the pass's emails only and the catalog answers kept per connection: 1 person 0.734
[0.573-0.873] + 0.040 s, 101 statements, none of information_schema; 50 people 1.053
[0.878-1.341] + 0.300 s. With the populations parsed once too: 0.693 [0.524-0.870] + 0.040 s;
50 people 1.071 [0.950-1.215] + 0.330 s. The connector's ~0.7 s left is the compute stages'
pandas work (risk, fulfilment, loyalty, texts, predictions: ``--profile``).

``--messages N`` then stores N Tasks with notes (and N/4 incoming EmailMessages) of other
Contacts and times 1-person passes again, as a ratio to the passes before: a pass reads the
messages that can be its people's, not the org's. Measured 2026-12-08 02:3x (load 0.9-1.0),
``--messages 200000 --people 20``: before (a627d70) 1.270 s [1.227-1.442], 5.23x the 0.243 s
pass without them; after 0.265 s [0.248-0.378], 1.05x the 0.251 s pass.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deliveries import signed_order
from scale import ServerCpu, first_sync, pg_schema
from served import served

from connector.sync import SyncEngine
from connector.sync.realtime import RealtimeWorker
from connector.webhooks import shopify

SECRET = "bench_pass_secret"


def _deliver(engine: SyncEngine, people: list[dict[str, Any]], first: int) -> None:
    """Store one signed Shopify order per person (order ids from ``first``), as ``web`` does."""
    for n, person in enumerate(people):
        body, headers = signed_order(person, first + n, SECRET, prefix="P")
        delivery = shopify.receive(headers, body, [SECRET], datetime.now(UTC), 3600)
        engine.store.events.store_delivery(delivery)


def _plant_messages(engine: SyncEngine, contacts: list[str], count: int) -> None:
    """``count`` Tasks with a rep's note, and a quarter as many incoming EmailMessages, of
    ``contacts``, stored as the pull stores records (a real org's activity history is often
    its largest table)."""
    stamp = "2026-11-30T10:00:00.000+0000"
    for start in range(0, count, 50_000):
        engine.store.records.upsert(
            "Task",
            [
                {"Id": f"00TB{n:014d}", "Subject": "Call", "WhoId": contacts[n % len(contacts)],
                 "Description": f"Spoke about order {n}; wants it sooner", "CreatedDate": stamp,
                 "ActivityDate": "2026-11-30", "SystemModstamp": stamp}
                for n in range(start, min(start + 50_000, count))
            ],
        )  # fmt: skip
    engine.store.records.upsert(
        "EmailMessage",
        [
            {"Id": f"02sB{n:014d}", "Subject": "Re: order", "TextBody": f"Thanks for order {n}",
             "Incoming": True, "RelatedToId": contacts[n % len(contacts)],
             "MessageDate": stamp, "CreatedDate": stamp, "SystemModstamp": stamp}
            for n in range(count // 4)
        ],
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://127.0.0.1:5432/test", help="server")
    parser.add_argument("--background", type=int, default=500, help="shop orders beforehand")
    parser.add_argument("--people", type=int, default=50, help="people of the larger passes")
    parser.add_argument("--repeats", type=int, default=5, help="passes per size")
    parser.add_argument("--profile", type=int, default=0, help="print the top N of a profile")
    parser.add_argument(
        "--messages",
        type=int,
        default=0,
        help="then store this many Tasks with notes of other Contacts (and a quarter as many "
        "incoming EmailMessages), as a pull would, and time 1-person passes again",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-pass-"))
    with served("small") as info, pg_schema(args.pg) as url:
        _, _, _, engine = first_sync(info, work / "pg", url)
        settings = engine.settings.model_copy(update={"shopify_webhook_secrets": SECRET})
        worker = RealtimeWorker(settings, engine_factory=lambda s: engine)
        contacts = engine.store.records.frame("Contact", ["Id", "Email"]).dropna()
        people = contacts.to_dict("records")
        need = args.background + args.repeats * (1 + args.people) + 1
        assert len(people) >= need, f"{len(people)} Contacts with an email, {need} needed"
        _deliver(engine, people[: args.background], 1_000_000)
        worker.run_pass()  # the background shop orders, normalised and recomputed
        rest = people[args.background :]
        _deliver(engine, rest[:1], 2_000_000)
        worker.run_pass()  # warm-up: the first pass of some people reads its rates once

        statements: list[str] = []
        engine.store.db.conn.set_trace_callback(statements.append)
        worker.store.db.conn.set_trace_callback(statements.append)
        profile = cProfile.Profile() if args.profile else None
        results: dict[int, list[tuple[float, float, int, int]]] = {}
        used = 1
        load = os.getloadavg()[0]
        for size in (1, args.people):
            for _ in range(args.repeats):
                batch = rest[used : used + size]
                _deliver(engine, batch, 2_000_000 + used)
                used += size
                statements.clear()
                with ServerCpu(url) as server:
                    c0 = time.process_time()
                    if profile is not None and size == 1:
                        profile.enable()
                    out = worker.run_pass()
                    if profile is not None:
                        profile.disable()
                    cpu = time.process_time() - c0
                assert out.run is not None, out
                # partial: the org has none of the connector's Flows (deployed() deploys
                # fields), so the loyalty Flows fail; the values are written all the same
                assert out.run["status"] in ("succeeded", "partial"), out.run
                assert out.people == size, (out.people, size)
                schema = sum("information_schema" in s for s in statements)
                results.setdefault(size, []).append((cpu, server.seconds, len(statements), schema))
        load = max(load, os.getloadavg()[0])
        medians = {}
        for size, rows in results.items():
            cpu = statistics.median(r[0] for r in rows)
            medians[size] = cpu
            print(
                f"pass of {size} people: connector CPU {cpu:.3f} s "
                f"[{min(r[0] for r in rows):.3f}-{max(r[0] for r in rows):.3f}], "
                f"server CPU {statistics.median(r[1] for r in rows):.3f} s, "
                f"{statistics.median(r[2] for r in rows):.0f} statements, "
                f"{statistics.median(r[3] for r in rows):.0f} of information_schema",
                flush=True,
            )
        print(
            f"{args.people} people / 1: {medians[args.people] / medians[1]:.2f}x connector CPU; "
            f"{args.background} background shop orders; load average {load:.1f} on "
            f"{os.cpu_count()} cores"
        )
        if args.messages:
            others = [p["Id"] for p in people[: args.background]]
            _plant_messages(engine, others, args.messages)
            cpus = []
            for _ in range(args.repeats):
                _deliver(engine, rest[used : used + 1], 2_000_000 + used)
                used += 1
                c0 = time.process_time()
                out = worker.run_pass()
                cpus.append(time.process_time() - c0)
                assert out.run is not None, out
                assert out.people == 1, out
            cpu = statistics.median(cpus)
            print(
                f"pass of 1 person with {args.messages:,} Tasks and {args.messages // 4:,} "
                f"EmailMessages of other people stored: connector CPU {cpu:.3f} s "
                f"[{min(cpus):.3f}-{max(cpus):.3f}], {cpu / medians[1]:.2f}x the pass without",
                flush=True,
            )
        if profile is not None:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
        worker.store.close()
        engine.store.close()


if __name__ == "__main__":
    main()

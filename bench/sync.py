"""Benchmark: a full sync of a seeded org, against baselines measured in the same run.

Prints records pulled per second, write-back API calls per 1,000 records written against the
ceil(N/200) minimum of sObject Collections, and peak memory. The speed baseline is a bare
simple-salesforce ``query_all`` of the same Orders through the same server in the same run, so
the ratio says what the connector adds over a plain pull on this (noisy) machine.

    .venv/bin/python bench/sync.py --size medium
"""

from __future__ import annotations

import argparse
import math
import resource
import tempfile
import time
from pathlib import Path

from connector.config import load_settings
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.sync import SyncOptions, build_engine
from connector.sync.fields import deploy
from localorg.org import LocalOrg, load_seed
from localorg.server import start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", choices=["small", "medium", "large"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-"))
    org = LocalOrg(None)
    t0 = time.perf_counter()
    counts = load_seed(org, args.size, work / "org")
    print(f"seeded {args.size} in {time.perf_counter() - t0:.1f}s: {counts}")
    running = start(org, work / "certs")
    try:
        settings = load_settings(
            salesforce_login_url=running.url,
            salesforce_client_id=org.config.client_id,
            salesforce_client_secret=org.config.client_secret,
            salesforce_auth="client_credentials",
            salesforce_ca_bundle=running.tls.cert,
            database=work / "l2l.sqlite",
        )
        engine = build_engine(settings)
        deploy(engine.client, load_mappings(settings.mappings_dir, set(KNOWN_VALUES)))  # type: ignore[arg-type]

        # Baseline: a bare simple-salesforce pull of the Orders, same server, same run.
        sf = running.salesforce(engine.client.session)
        t0 = time.perf_counter()
        raw = sf.query_all(
            "SELECT Id, AccountId, BillToContactId, EffectiveDate, TotalAmount FROM Order"
        )["totalSize"]
        baseline_s = time.perf_counter() - t0
        baseline_rate = raw / baseline_s

        t0 = time.perf_counter()
        report = engine.run(SyncOptions()).as_json()
        sync_s = time.perf_counter() - t0
        pulled = sum(o["pulled"] for o in report["objects"].values())
        written = report["writes"]["succeeded"]
        writes = report["api_calls"].get("collection_update", 0)  # bulk jobs are listed below
        minimum = math.ceil(written / 200)
        second = engine.run(SyncOptions()).as_json()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"first sync: {report['status']}, {sync_s:.1f}s, pulled {pulled:,} records "
            f"({pulled / sync_s:,.0f} records/s; baseline bare query_all of Orders "
            f"{baseline_rate:,.0f} records/s, ratio {pulled / sync_s / baseline_rate:.2f}); "
            f"{report['writes']['unmappable']:,} values the mappings could not write"
        )
        print(
            f"write-back: {written:,} records in {writes:,} collection calls = "
            f"{1000 * writes / max(written, 1):.2f} calls per 1,000 records "
            f"(minimum ceil(N/200) = {minimum:,}, ratio {writes / max(minimum, 1):.2f})"
        )
        print(f"API calls: {report['api_calls']}")
        print(
            f"second sync: {second['writes']['succeeded']} records written, "
            f"{second['api_calls'].get('total', 0)} API calls, {second['duration_s']:.1f}s"
        )
        print(f"peak memory (server and connector in one process): {peak_mb:,.0f} MB")
    finally:
        running.stop()


if __name__ == "__main__":
    main()

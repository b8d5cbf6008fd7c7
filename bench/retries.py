"""Benchmark: the API calls a first sync spends under faults, against a clean run of the same org.

Two orgs seeded alike, served by ``lead2loyalty localorg serve`` in their own processes: one
clean, one refusing 5% of records with UNABLE_TO_LOCK_ROW, failing 1% of calls with
SERVER_UNAVAILABLE and expiring sessions after 30 s. Both get a first sync; the ratio of calls
is what the faults cost (target: at most 1.10), and the values written must be the same.

    .venv/bin/python bench/retries.py --size small
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from connector.config import load_settings
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.sync import SyncOptions, build_engine
from connector.sync.fields import deploy

FAULTS = "UNABLE_TO_LOCK_ROW=0.05,SERVER_UNAVAILABLE=0.01,session_ttl=30s,seed=9"


@contextmanager
def served(size: str, faults: str) -> Iterator[dict[str, Any]]:
    """A seeded localorg in its own process; yields its connection line."""
    command = [sys.executable, "-m", "connector.cli", "localorg", "serve", "--seed", size]
    server = subprocess.Popen([*command, "--faults", faults], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield json.loads(server.stdout.readline())
    finally:
        server.terminate()
        server.wait(timeout=30)


def first_sync(info: dict[str, Any], work: Path) -> tuple[dict[str, Any], dict[Any, str], float]:
    """Deploy the fields and run a first sync; (report, values written, seconds)."""
    settings = load_settings(
        salesforce_login_url=info["login_url"],
        salesforce_client_id=info["client_id"],
        salesforce_client_secret=info["client_secret"],
        salesforce_auth="client_credentials",
        salesforce_ca_bundle=info["ca_cert"],
        database=work / "l2l.sqlite",
    )
    engine = build_engine(settings)
    deploy(engine.client, load_mappings(settings.mappings_dir, set(KNOWN_VALUES)))  # type: ignore[arg-type]
    started = time.perf_counter()
    report = engine.run(SyncOptions()).as_json()
    return report, engine.store.written_values(), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", choices=["small", "medium"])
    parser.add_argument("--faults", default=FAULTS)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-retries-"))
    runs = {}
    for name, faults in (("clean", ""), ("faults", args.faults)):
        (work / name).mkdir()
        with served(args.size, faults) as info:
            runs[name] = first_sync(info, work / name)
    (clean, clean_values, clean_s), (faulty, faulty_values, faulty_s) = (
        runs["clean"],
        runs["faults"],
    )
    calls, faulty_calls = clean["api_calls"]["total"], faulty["api_calls"]["total"]
    print(
        f"first sync of the {args.size} seed, clean: {clean['status']}, {calls} API calls "
        f"{clean['api_calls']}, {clean_s:.1f}s"
    )
    print(
        f"first sync under {args.faults}: {faulty['status']}, {faulty_calls} API calls "
        f"{faulty['api_calls']}, {faulty_s:.1f}s; carried to the next run: "
        f"{faulty['writes']['carried_over']}"
    )
    print(f"calls ratio faults/clean: {faulty_calls / calls:.3f} (target <= 1.10)")
    same = faulty_values == clean_values
    print(
        f"values written: {len(clean_values):,} clean, {len(faulty_values):,} under faults; "
        f"identical: {same}"
    )


if __name__ == "__main__":
    main()

"""Benchmark: a first mirror of a seeded org's loyalty journal into Loyalty Management.

Two orgs seeded alike (``localorg serve --seed SIZE --loyalty-management``), the repository's
mappings and ``models/loyalty.yaml`` with the program mirroring: one first sync with the
default push bulk threshold (an object with more than 10,000 rows to send goes as one Bulk API
2.0 upsert job), one with sObject Collections only (200 rows a call). Prints the mirror
phase's seconds, the API calls of the whole sync and the rows that landed, and their ratios,
measured in the same run; both must land the same rows.

    .venv/bin/python bench/lm_mirror.py --size medium
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from served import deployed, served, served_settings
from simple_salesforce.api import Salesforce

from localorg.server import client_credentials_token

REPO = Path(__file__).resolve().parents[1]


def mirroring_models(work: Path) -> Path:
    """The repository's models with the first program mirroring into Loyalty Management."""
    models = work / "models"
    shutil.copytree(REPO / "models", models)
    path = models / "loyalty.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "    pool_by_account: false"
    path.write_text(text.replace(marker, "    mirror: loyalty_management\n" + marker, 1))
    return models


def first_sync(size: str, bulk_threshold: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="l2l-bench-lm-"))
    with served(size, "--loyalty-management") as info:
        settings = served_settings(
            info, work, models_dir=mirroring_models(work), push_bulk_threshold=bulk_threshold
        )
        engine = deployed(settings)
        t0 = time.perf_counter()
        report = engine.run().as_json()
        seconds = time.perf_counter() - t0
        session = engine.client.session
        token = client_credentials_token(
            session, info["login_url"], info["client_id"], info["client_secret"]
        )
        sf = Salesforce(
            instance_url=token["instance_url"], session_id=token["access_token"], session=session
        )
        landed = {
            obj: sf.query(f"SELECT COUNT() FROM {obj}")["totalSize"]
            for obj in ("TransactionJournal", "LoyaltyProgramMember", "LoyaltyMemberCurrency")
        }
    mirror = report["models"]["loyalty"]["rewards"]["mirror"]
    return {
        "status": report["status"],
        "sync_s": seconds,
        "mirror_s": report["phases_s"].get("mirror", 0.0),
        "calls": report["api_calls"],
        "journals": mirror.get("journals", 0),
        "landed": landed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", choices=["small", "medium", "large"])
    args = parser.parse_args()
    runs = {
        "bulk above 10,000 rows": first_sync(args.size, 10_000),
        "collections only": first_sync(args.size, 10**9),
    }
    for label, run in runs.items():
        print(
            f"{label}: {run['status']}, sync {run['sync_s']:.1f} s of which mirror "
            f"{run['mirror_s']:.1f} s, {run['calls'].get('total', 0):,} API calls "
            f"({run['calls'].get('bulk_job', 0)} bulk job calls), landed {run['landed']}"
        )
    bulk, plain = runs.values()
    print(
        f"mirror seconds bulk/collections: {bulk['mirror_s'] / max(plain['mirror_s'], 1e-9):.2f}; "
        f"API calls bulk/collections: "
        f"{bulk['calls'].get('total', 0) / max(plain['calls'].get('total', 0), 1):.3f}; "
        f"same rows landed: {bulk['landed'] == plain['landed']}"
    )


if __name__ == "__main__":
    main()

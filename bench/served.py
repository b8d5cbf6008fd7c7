"""What the benchmarks that sync share: a seeded localorg in a process of its own, settings
that sign in to it, and a sync engine whose fields are deployed.

The org runs apart, as Salesforce would: the connector's time and memory are its own, and the
two do not share one interpreter lock. Imported by the scripts next to it (``bench/`` is on
``sys.path`` when one of them runs).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from connector.admin.deploy import deploy
from connector.config import Settings, load_settings
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.sync import SyncEngine, build_engine
from connector.sync.loyalty import org_needs


@contextmanager
def served(size: str, *flags: str, data: Path | None = None) -> Iterator[dict[str, Any]]:
    """``lead2loyalty localorg serve --seed SIZE [flags]``; yields its connection line
    (login_url, client_id, client_secret, ca_cert) and stops the server afterwards.

    With ``data`` (a folder ``lead2loyalty localorg seed --data`` wrote), the org is served
    from disk instead (``serve --data``): a copy of the folder, so every run starts from the
    same org, and localorg holds no table in memory (the large seed took 17.7 GB so).
    """
    command = [sys.executable, "-m", "connector.cli", "localorg", "serve", "--seed", size]
    copy: Path | None = None
    if data is not None:
        if not (data / "org.sqlite").exists():
            raise SystemExit(
                f"{data} holds no seeded org: lead2loyalty localorg seed --size {size} "
                f"--data {data}"
            )
        copy = Path(tempfile.mkdtemp(prefix="l2l-org-", dir=data.parent))
        shutil.copytree(data, copy, dirs_exist_ok=True)
        command = [*command[:-2], "--seed", "none", "--data", str(copy)]
    server = subprocess.Popen([*command, *flags], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield json.loads(server.stdout.readline())
    finally:
        server.terminate()
        server.wait(timeout=30)
        if copy is not None:
            shutil.rmtree(copy, ignore_errors=True)


def served_settings(info: dict[str, Any], work: Path, **extra: Any) -> Settings:
    """Settings signing in to the served org (client credentials), a database in ``work``."""
    return load_settings(
        salesforce_login_url=info["login_url"],
        salesforce_client_id=info["client_id"],
        salesforce_client_secret=info["client_secret"],
        salesforce_auth="client_credentials",
        salesforce_ca_bundle=info["ca_cert"],
        database=work / "l2l.sqlite",
        **extra,
    )


def deployed(settings: Settings) -> SyncEngine:
    """A sync engine whose mapped fields (and the loyalty programs' needs) are deployed."""
    engine = build_engine(settings)
    mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    deploy(engine.client, mappings, extra=org_needs(engine.loyalty))  # type: ignore[arg-type]
    return engine

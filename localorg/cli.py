"""What ``lead2loyalty localorg serve`` and ``seed`` do (the click wiring is in connector.cli)."""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

from localorg.faults import Faults, FaultSpecError
from localorg.features import OrgFeatures
from localorg.flow_metadata import FlowSourceError
from localorg.flows import FlowEngine
from localorg.org import LocalOrg, OrgConfig, load_seed
from localorg.server import prepare


class LocalOrgUsageError(Exception):
    """Bad options for localorg; the message says what to change."""


class ProgressSink(Protocol):
    """Where progress lines go (the connector's ``Progress`` is one): called with each
    message, then told when the step is done."""

    def __call__(self, message: str) -> None: ...

    def done(self) -> None: ...


def serve(
    *,
    host: str,
    port: int,
    size: str,
    data_dir: Path | None,
    faults: str,
    daily_limit: int,
    flows_file: Path | None,
    recycle_bin_days: int = 15,
    flows_source: Path | None = None,
    features: OrgFeatures | None = None,
    api_user: str = "admin",
    progress: ProgressSink | None = None,
) -> None:
    """Seed (optionally), print the connection line, serve until SIGINT/SIGTERM.

    ``api_user`` is the user the connected app signs in as: ``admin`` (System Administrator),
    ``minimal`` (a Salesforce-licensed profile with API Enabled only) or ``integration`` (the
    Salesforce Integration license and its Minimum Access - API Only Integrations profile;
    localorg.access.install). Raises :class:`LocalOrgUsageError` for a bad fault spec or
    feature set.
    """
    try:
        fault_spec = Faults.parse(faults)
    except FaultSpecError as exc:
        raise LocalOrgUsageError(str(exc)) from None
    features = features or OrgFeatures()
    if features.problems():
        raise LocalOrgUsageError("; ".join(features.problems()))
    try:
        flows = (
            FlowEngine.from_file(flows_file, flows_source) if flows_file or flows_source else None
        )
    except FlowSourceError as exc:
        raise LocalOrgUsageError(str(exc)) from None
    work = data_dir or Path(tempfile.mkdtemp(prefix="localorg-"))
    config = OrgConfig(
        daily_limit=daily_limit,
        recycle_bin_days=recycle_bin_days,
        features=features,
        api_user=api_user,
    )
    org = LocalOrg(data_dir, config=config, faults=fault_spec, flows=flows)
    started = time.monotonic()
    if size != "none":
        load_seed(org, size, work, progress=progress)
        if progress is not None:
            progress.done()
    running = prepare(org, host, port, work / "certs")
    info = running.connection_info()
    info["seed"] = size
    info["seconds_to_start"] = round(time.monotonic() - started, 2)
    print(json.dumps(info), flush=True)

    def _stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        running.server.serve_forever()
    except KeyboardInterrupt:
        print("localorg stopped", file=sys.stderr)
    finally:
        running.server.server_close()


def seed(
    *, size: str, data_dir: Path, rng_seed: int, progress: ProgressSink | None = None
) -> dict[str, Any]:
    """Write a seeded org into ``data_dir`` and return what was written.

    Raises :class:`LocalOrgUsageError` when ``data_dir`` already holds an org.
    """
    if (data_dir / "org.sqlite").exists():
        raise LocalOrgUsageError(
            f"{data_dir} already holds an org; pick an empty folder or delete it"
        )
    started = time.monotonic()
    org = LocalOrg(data_dir)
    counts = load_seed(org, size, data_dir, rng_seed=rng_seed, progress=progress)
    if progress is not None:
        progress.done()
    return {
        "data": str(data_dir),
        "size": size,
        "rows": counts,
        "seconds": round(time.monotonic() - started, 2),
    }

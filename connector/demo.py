"""``lead2loyalty demo``: the whole product against a local org, in one command.

Starts localorg in-process on a free port, seeds a synthetic store, deploys the mapped
fields, syncs, shows what landed in the org (and the Flow it triggered), then syncs again to
show that a run with no new data writes nothing.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connector.config import load_settings
from connector.events import import_file
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.progress import Progress
from connector.sync import SyncOptions, build_engine
from connector.sync.fields import deploy

DEMO_FLOWS: dict[str, Any] = {
    "record_triggered": [
        {
            "name": "L2L_Loyal_Customer_Alert",
            "object": "Contact",
            "when_changed": "L2L_Order_Count__c",
            "condition": {"field": "L2L_Order_Count__c", "op": ">=", "value": 10},
            "actions": [
                {
                    "create_task": {
                        "Subject": "Loyal customer: thank {Name}",
                        "WhoId": "{Id}",
                        "Priority": "High",
                    }
                }
            ],
        }
    ],
}


def run_demo(*, size: str, workdir: Path | None, echo: Callable[[str], None]) -> dict[str, Any]:
    """Run the demo; returns both runs' reports."""
    from localorg.flows import FlowEngine
    from localorg.org import LocalOrg, load_seed
    from localorg.server import start

    work = workdir or Path(tempfile.mkdtemp(prefix="l2l-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    org = LocalOrg(None, flows=FlowEngine(DEMO_FLOWS))
    progress = Progress()
    counts = load_seed(org, size, work / "org", progress=progress)
    progress.done()
    running = start(org, work / "certs")
    echo(
        f"localorg at {running.url}: seeded '{size}' in {time.monotonic() - started:.1f}s "
        + ", ".join(
            f"{n:,} {o}"
            for o, n in counts.items()
            if o in ("Contact", "Lead", "Order", "OrderItem")
        )
    )
    try:
        settings = load_settings(
            salesforce_login_url=running.url,
            salesforce_client_id=org.config.client_id,
            salesforce_client_secret=org.config.client_secret,
            salesforce_auth="client_credentials",
            salesforce_ca_bundle=running.tls.cert,
            database=work / "lead2loyalty.sqlite",
        )
        engine = build_engine(settings, progress=progress)
        mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
        deployed = deploy(engine.client, mappings)  # type: ignore[arg-type]
        imported = import_file(engine.store, work / "org" / "events.jsonl", source="demo")
        progress.done()
        echo(
            f"imported {imported.stored:,} behavioural events (web, email, SMS, push) from the "
            "seed's event file"
        )
        echo(
            f"fields deploy: created {len(deployed.created)} custom fields, granted "
            f"{len(deployed.permissions_granted)} in permission set {deployed.permission_set}"
            + (", assigned to the integration user" if deployed.assigned else "")
        )
        first = engine.run(SyncOptions()).as_json()
        progress.done()
        _show(echo, "first sync", first)
        method = first["models"].get("predictions", {}).get("method", "none")
        echo(f"predictions computed with: {method}")
        sample = engine.client.query(  # type: ignore[attr-defined]
            "SELECT Name, L2L_Order_Count__c, L2L_Revenue__c, L2L_Predicted_CLV__c, "
            "L2L_Buy_Probability_90d__c, L2L_Churn_Risk__c, L2L_Segment__c, L2L_Best_Channel__c, "
            "L2L_Best_Send_Time__c FROM Contact WHERE L2L_Order_Count__c >= 3 "
            "ORDER BY L2L_Predicted_CLV__c DESC LIMIT 5"
        )
        echo("top customers by predicted CLV, as Salesforce now shows them:")
        for row in sample:
            echo(
                f"  {row['Name']:<20} orders {row['L2L_Order_Count__c']:>3.0f}  revenue "
                f"{row['L2L_Revenue__c']:>9,.0f}  CLV {row['L2L_Predicted_CLV__c'] or 0:>7,.0f}"
                f"  buy 90d {row['L2L_Buy_Probability_90d__c'] or 0:>3.0f}%  churn "
                f"{row['L2L_Churn_Risk__c'] or 0:>3.0f}%  {row['L2L_Segment__c'] or '-':<16}"
                f" {row['L2L_Best_Channel__c'] or '-':<5} {row['L2L_Best_Send_Time__c'] or '-'}"
            )
        flow_runs = org.store.count("FlowInterview")
        echo(
            f"the record-triggered Flow 'L2L_Loyal_Customer_Alert' ran {flow_runs:,} times "
            "(a Task for each Contact whose order count reached 10)"
        )
        second = engine.run(SyncOptions()).as_json()
        progress.done()
        _show(echo, "second sync (no new data)", second)
        return {"first": first, "second": second}
    finally:
        running.stop()
        if workdir is None:  # nothing asked to keep it: leave no org behind in /tmp
            shutil.rmtree(work, ignore_errors=True)


def _show(echo: Callable[[str], None], title: str, report: dict[str, Any]) -> None:
    w = report["writes"]
    pulled = sum(o["pulled"] for o in report["objects"].values())
    echo(
        f"{title}: {report['status']} in {report['duration_s']:.1f}s, pulled {pulled:,} "
        f"records, {w['fields_changed']:,} field values changed, {w['succeeded']:,} records "
        f"written, API calls {report['api_calls'].get('total', 0):,} "
        f"({report['api_calls'].get('collection_update', 0):,} writes)"
    )

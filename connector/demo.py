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

from connector.admin.deploy import deploy
from connector.config import Settings, load_settings
from connector.events import import_file
from connector.mapping import load_registered_mappings
from connector.predictions import PredictionsConfig
from connector.progress import Progress
from connector.sync import SyncOptions, build_engine, load_predictions_config
from connector.sync.intent import load_scoring

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
    # The autolaunched Flows the moments invoke (intent turning hot, models/intent.yaml
    # `moments:`; loyalty tier changes, models/loyalty.yaml `tiers.flow`) are the ones
    # `fields export` ships, served from their source with their declared inputs.
}


def _shipped_flows(settings: Settings) -> dict[str, str]:
    """The Flows the models name, as ``fields export`` writes them: name -> source."""
    from connector.loyalty.wiring import load_config
    from connector.salesforce.sfdx import flow_specs, flow_xml
    from connector.sync.intent import load_scoring
    from connector.sync.orders_intel import load_settings as load_orders_settings

    orders = load_orders_settings(settings.models_dir / "orders.yaml")
    scoring = load_scoring(settings)
    specs = flow_specs(scoring.intent, load_config(settings), orders, scoring.texts)
    return {spec.name: flow_xml(spec) for spec in specs}


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
            models_dir=_demo_models(work / "models"),
            salesforce_login_url=running.url,
            salesforce_client_id=org.config.client_id,
            salesforce_client_secret=org.config.client_secret,
            salesforce_auth="client_credentials",
            salesforce_ca_bundle=running.tls.cert,
            database=work / "lead2loyalty.sqlite",
        )
        org.store.flows = FlowEngine.from_sources(_shipped_flows(settings), DEMO_FLOWS)
        engine = build_engine(settings, progress=progress)
        mappings = load_registered_mappings(settings.mappings_dir)
        deployed = deploy(engine.client, mappings)
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
        sample = engine.client.top_records(
            "Contact",
            [
                "Name",
                "L2L_Order_Count__c",
                "L2L_Revenue__c",
                "L2L_Predicted_CLV__c",
                "L2L_Buy_Probability_90d__c",
                "L2L_Churn_Risk__c",
                "L2L_Segment__c",
                "L2L_Best_Channel__c",
                "L2L_Best_Send_Time__c",
            ],
            by="L2L_Predicted_CLV__c",
            limit=5,
            where=[("L2L_Order_Count__c", ">=", 3)],
        )
        config = load_predictions_config(settings)
        averages = first["models"].get("predictions", {}).get("org", {})
        churn_days = averages.get("churn_horizon_days", config.churn_horizon_days)
        for line in _value_words(config, churn_days):
            echo(line)
        echo("top customers by predicted CLV, as Salesforce now shows them:")
        echo(
            f"  {'name':<20} {'orders':>10}  revenue ({config.currency}) "
            f"{'CLV ' + str(config.horizon_months) + ' months':>11}  buy in 90 days  "
            f"churn risk  {'segment':<16} channel  best send time"
        )
        for row in sample:
            echo(
                f"  {row['Name']:<20} orders {row['L2L_Order_Count__c']:>3.0f}  revenue "
                f"{row['L2L_Revenue__c']:>9,.0f}  CLV {row['L2L_Predicted_CLV__c'] or 0:>7,.0f}"
                f"  {row['L2L_Buy_Probability_90d__c'] or 0:>13.0f}%  "
                f"{row['L2L_Churn_Risk__c'] or 0:>9.0f}%  {row['L2L_Segment__c'] or '-':<16}"
                f" {row['L2L_Best_Channel__c'] or '-':<8} {row['L2L_Best_Send_Time__c'] or '-'}"
            )
        flow_runs = org.store.count("FlowInterview")
        echo(
            f"the record-triggered Flow 'L2L_Loyal_Customer_Alert' ran {flow_runs:,} times "
            "(a Task for each Contact whose order count reached 10)"
        )
        _hottest_leads(echo, engine, first, settings)
        _loyalty(echo, engine, settings)
        second = engine.run(SyncOptions()).as_json()
        progress.done()
        _show(echo, "second sync (no new data)", second)
        return {"first": first, "second": second}
    finally:
        running.stop()
        if workdir is None:  # nothing asked to keep it: leave no org behind in /tmp
            shutil.rmtree(work, ignore_errors=True)


def _value_words(config: PredictionsConfig, churn_days: float | None) -> list[str]:
    """One sentence each on what CLV and churn risk mean, with their currency and horizons."""
    margin = "" if config.margin == 1.0 else f"{config.margin:.0%} margin on "
    churn = (
        f"the chance of no order in the next {churn_days:.0f} days (9 in 10 of this store's "
        "repeat orders come sooner after the one before)"
        if churn_days is not None
        else "the chance the customer has stopped buying, judged from their usual gap"
    )
    return [
        f"CLV = the {margin}what a customer is expected to spend in the next "
        f"{config.horizon_months} months, in {config.currency}, discounted "
        f"{config.monthly_discount_rate:.0%} a month; revenue is everything spent so far, so "
        "CLV sits below it for customers who may slow down or leave.",
        f"churn risk = {churn}.",
    ]


def _demo_models(directory: Path) -> Path:
    """The shipped models/ with the intent moment switched on (the demo org has its Flow)."""
    from connector.project import defaults_root

    directory.mkdir(parents=True, exist_ok=True)
    for source in (defaults_root() / "models").glob("*.yaml"):
        text = source.read_text(encoding="utf-8")
        if source.name == "intent.yaml":
            text = text.replace("enabled: false", "enabled: true")
        (directory / source.name).write_text(text, encoding="utf-8")
    return directory


def _hottest_leads(
    echo: Callable[[str], None], engine: Any, report: dict[str, Any], settings: Settings
) -> None:
    """The five hottest Leads with their score and reasons, as Salesforce shows them; "hot"
    is the intent moment's threshold of models/intent.yaml."""
    intent = load_scoring(settings).intent
    moments = intent.moments if intent is not None else []
    rows = engine.client.top_records(
        "Lead",
        [
            "Name",
            "Company",
            "L2L_Intent_Score__c",
            "L2L_Intent_Reasons__c",
            "L2L_Conversion_Score__c",
        ],
        by="L2L_Intent_Score__c",
        limit=5,
        where=[("L2L_Intent_Score__c", "!=", None)],
    )
    echo(
        "the five hottest Leads, as Salesforce now shows them: Intent Score 0-5 (what they did "
        "lately), conversion fit 1-99 (how much they look like Leads that converted; n/a until "
        "the model has enough data) and why:"
    )
    for row in rows:
        fit = row.get("L2L_Conversion_Score__c")
        echo(
            f"  {row['Name']:<20} {row['L2L_Intent_Score__c']:>3.1f}"
            f"  fit {'n/a' if fit is None else f'{fit:.0f}':>3}  {row['L2L_Intent_Reasons__c']}"
        )
    conversion = report["models"].get("lead_conversion", {})
    echo(f"lead conversion score: {conversion.get('method', 'off')}")
    fired = report["models"].get("moments", {}).get("turned_hot", {}).get("fired", 0)
    hot = next((m.threshold for m in moments if m.name == "turned_hot"), 4.0)
    echo(
        f"the intent moment invoked the autolaunched Flow 'L2L_Intent_Hot' for {fired:,} "
        f"{'person' if fired == 1 else 'people'} who turned hot: an Intent Score reaching "
        f"{hot:.1f} (once per crossing: it stays quiet while they stay hot)"
    )


def _loyalty(echo: Callable[[str], None], engine: Any, settings: Any) -> None:
    """The loyalty program's books (models/loyalty.yaml) and its best members in Salesforce."""
    from connector.loyalty.wiring import open_service

    with open_service(settings) as service:
        if not service.config.programs:
            return
        books = service.report()
    tiers = ", ".join(f"{n:,} {t}" for t, n in sorted(books["tiers"].items(), key=lambda x: -x[1]))
    points = books["points"]
    echo(
        f"loyalty program '{books['program']}': {books['members']:,} members ({tiers}); points "
        f"issued {points['issued']:,}, reversed by refunds {points['reversed']:,}, expired "
        f"{points['expired']:,}, outstanding {points['outstanding']:,} (the liability)"
    )
    rows = engine.client.top_records(
        "Contact",
        [
            "Name",
            "L2L_Loyalty_Tier__c",
            "L2L_Points_Balance__c",
            "L2L_Points_To_Next_Tier__c",
            "L2L_Points_Expiring_30d__c",
        ],
        by="L2L_Points_Balance__c",
        limit=3,
        where=[("L2L_Points_Balance__c", "!=", None)],
    )
    for row in rows:
        echo(
            f"  {row['Name']:<20} {row['L2L_Loyalty_Tier__c'] or '-':<9} "
            f"{row['L2L_Points_Balance__c'] or 0:>7,.0f} points, "
            f"{row['L2L_Points_To_Next_Tier__c'] or 0:,.0f} to the next tier, "
            f"{row['L2L_Points_Expiring_30d__c'] or 0:,.0f} expiring within 30 days"
        )


def _show(echo: Callable[[str], None], title: str, report: dict[str, Any]) -> None:
    w = report["writes"]
    pulled = sum(o["pulled"] for o in report["objects"].values())
    echo(
        f"{title}: {report['status']} in {report['duration_s']:.1f}s, pulled {pulled:,} "
        f"records, {w['fields_changed']:,} field values changed, {w['succeeded']:,} records "
        f"written, API calls {report['api_calls'].get('total', 0):,} "
        f"({report['api_calls'].get('collection_update', 0):,} writes)"
    )

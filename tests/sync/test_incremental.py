"""An ordinary sync computes only the people its changes touch (connector/sync/incremental.py),
and writes exactly what a compute of the whole org from the same state would: after the
incremental run, a whole-org run of the same store writes nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.admin.deploy import deploy
from connector.events import import_file
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.sync import SyncEngine, SyncOptions, build_engine
from connector.sync.echo import MARGIN
from connector.sync.incremental import Touched
from localorg.flows import FlowEngine
from localorg.org import LocalOrg, load_seed
from localorg.server import Running
from tests.support import load_rows, localorg_settings, settle

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def synced(org: LocalOrg, localorg_server: Running, tmp_path: Path) -> tuple[SyncEngine, datetime]:
    """The `small` synthetic store with its events and the repository's mappings (every model:
    predictions, loyalty, intent), synced once."""
    load_seed(org, "small", tmp_path / "seed")
    org.store.flows = FlowEngine.from_file(None, REPO / "salesforce")  # the Flows it calls
    # One moment for every run's compute (mocked time): values that move with the clock alone
    # (intent decay) then differ by nothing but what changed. It lies ahead of the org's saves,
    # so every pull window ends after them; the hour of lookback reaches back to them.
    settings = localorg_settings(org, localorg_server, tmp_path, pull_lookback_seconds=3600)
    moment = datetime.now(UTC) + timedelta(minutes=30)
    engine = build_engine(settings, clock=lambda: moment)
    deploy(engine.client, load_mappings(settings.mappings_dir, set(KNOWN_VALUES)))  # type: ignore[arg-type]
    import_file(engine.store, tmp_path / "seed" / "events.jsonl", source="seed")
    first = engine.run()
    assert first.status == "succeeded", first.errors
    assert first.scope == {"people": "all", "why": "no earlier compute to build on"}
    # The test's saves are by the integration user: within the echo margin of the first push
    # they would be read by the echo sweep (tests/sync/test_echo.py), not by the next window.
    # (a span is widened by the margin and rounded up to the next whole second)
    time.sleep(MARGIN.total_seconds() + 1.1)
    return engine, moment


def _buyers(org: LocalOrg) -> list[tuple[str, str, str]]:
    """(order id, its BillToContactId, its AccountId) of some activated orders, by id."""
    rows = org.store.execute(
        'SELECT "Id", "BillToContactId", "AccountId" FROM "Order" WHERE "Status" = '
        '\'Activated\' AND "BillToContactId" IS NOT NULL ORDER BY "Id" LIMIT 400'
    )
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def _event(email: str, name: str, n: int) -> dict[str, Any]:
    when = datetime.now(UTC) - timedelta(hours=1)
    return {
        "source": "test",
        "delivery_id": f"{email}-{name}-{n}",
        "type": "track",
        "name": name,
        "occurred_at": when.isoformat(timespec="milliseconds"),
        "email": email,
        "anonymous_id": None,
        "properties": json.dumps({}),
    }


@pytest.mark.slow
def test_incremental_sync_writes_what_a_whole_org_compute_would_and_when_it_does_not(
    org: LocalOrg, synced: tuple[SyncEngine, datetime]
) -> None:
    engine, moment = synced
    orders = list({c: (o, c, a) for o, c, a in _buyers(org)}.values())  # one per Contact
    contacts = sorted({c for _, c, _ in orders})
    # Changes of every kind an ordinary sync meets: order dates, an order moved to another
    # Contact (both must be recomputed), an order refused (no longer counted), a new order,
    # a Contact's new email, and new events of a shopper.
    for order_id, _, _ in orders[:3]:
        org.store.update("Order", order_id, {"EffectiveDate": "2026-01-05"})
    moved, owner, _ = orders[3]
    other = next(c for c in contacts if c != owner)
    org.store.update("Order", moved, {"BillToContactId": other})
    org.store.update("Order", orders[4][0], {"Status": "Draft"})
    _, buyer, account = orders[5]
    [new_order] = load_rows(  # TotalAmount is a roll-up: loaded as the org holds it
        org,
        "Order",
        [
            {
                "AccountId": account,
                "BillToContactId": buyer,
                "Status": "Activated",
                "EffectiveDate": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
                "TotalAmount": 321.0,
            }
        ],
    )
    renamed = contacts[-1]
    org.store.update("Contact", renamed, {"Email": "renamed.shopper@example.com"})
    [(email,)] = org.store.execute('SELECT "Email" FROM "Contact" WHERE "Id" = ?', [contacts[-2]])
    engine.store.events.append(
        [_event(str(email), n, i) for i, n in enumerate(["Product Viewed"] * 5)]
    )
    settle()

    changed = engine.run()
    assert changed.status == "succeeded", changed.errors
    touched = changed.scope["people"]
    assert isinstance(touched, int), changed.scope
    everyone = engine.store.records.count("Contact") + engine.store.records.count("Lead")
    # at least the 8 Contacts changed above (and their Accounts): not the org
    assert 8 <= touched < everyone / 20
    assert changed.writes.fields_changed > 0
    # each value written moved: the run read the baseline of every record it computed (its
    # people's Orders too), so an unchanged value is not sent again
    logged = engine.store.outbox.value_log(changed.run_id)
    assert logged
    assert [r for r in logged if r["old"] == r["new"]] == []
    # Order values (risk) only of the Orders changed above: the new one's, scored by this run
    # against the kept population, among them; the others' kept scores were written before
    risk = {r["record_id"] for r in logged if r["object"] == "Order"}
    assert new_order in risk
    assert risk <= {new_order, *(o for o, _, _ in orders[:6])}
    assert Touched.load(engine.store) == Touched()  # consumed

    # The buyer of the new order moved up a tier: the tier Flow the run called left a Task on
    # them, a note the texts stage reads as what they wrote (sync/texts_stage.py). The next
    # ordinary run pulls it and computes its person, not the org.
    noted = engine.run()
    assert noted.status == "succeeded", noted.errors
    assert noted.objects["Task"]["pulled"] >= 1
    assert isinstance(noted.scope["people"], int), noted.scope

    whole = engine.run(SyncOptions(whole_org=True))
    assert whole.status == "succeeded", whole.errors
    assert whole.scope == {"people": "all", "why": "asked for"}
    # One value is the population's, not a person's, and is refreshed by the whole-org runs
    # (the day's first, daily, and --full): a co-purchase recommendation's score is a
    # similarity between products over every buyer's basket (one new basket moves them for
    # everyone who bought either product); a run of some people keeps what the last whole-org
    # run learnt. An order's risk is no longer one: each order is scored once and its score
    # kept (sync/orders_intel.py), so the whole-org run keeps the one the run above gave the
    # new order.
    population_level = ("L2L_Recommendations",)
    differing = [
        row
        for row in engine.store.outbox.value_log(whole.run_id)
        if not str(row["field"]).startswith(population_level)
    ]
    assert differing == []

    again = engine.run()
    assert again.compute == "skipped"  # nothing changed since

    # One seeded org serves both tests (a minute of seeding and first sync each): a new day or
    # new settings compute everyone.
    order_id = orders[10][0]
    time.sleep(MARGIN.total_seconds() + 1.1)  # past the echo span of the whole-org run's push
    # A rep logs a call with three Contacts whose deliveries run late. A run of them alone
    # judges their fulfilment against the whole shop's usual delivery, kept by the last full
    # run: against their own orders' usual it moved their flags and reasons (seen in CI, when
    # the fulfilment Flow's Tasks brought such Contacts to the next run).
    late = [
        str(r[0])
        for r in org.store.execute(
            'SELECT "Id" FROM "Contact" WHERE "L2L_Fulfilment_Flag__c" = 1 ORDER BY "Id" LIMIT 3'
        )
    ]
    assert len(late) == 3
    load_rows(
        org,
        "Task",
        [
            {"WhoId": c, "Subject": "Call", "Status": "Completed", "Description": "Called."}
            for c in late
        ],
    )
    settle()
    called = engine.run()
    assert called.status == "succeeded", called.errors
    assert isinstance(called.scope["people"], int), called.scope
    judged = called.models["orders"]["fulfilment"]["Contact"]
    assert judged["usual_from"] == "the last full run"
    assert judged["usual"] == whole.models["orders"]["fulfilment"]["Contact"]["usual"]
    moved = [
        r
        for r in engine.store.outbox.value_log(called.run_id)
        if str(r["field"]).startswith("L2L_Fulfilment")
    ]
    assert moved == []
    org.store.update("Order", order_id, {"EffectiveDate": "2026-01-06"})
    settle()
    key, engine.inputs_key = engine.inputs_key, "other mappings"
    report = engine.run(SyncOptions(dry_run=True))
    assert report.scope == {"people": "all", "why": "mappings, models or code changed"}
    engine.inputs_key = key
    few = engine.run(SyncOptions(dry_run=True)).scope["people"]
    assert isinstance(few, int)  # the buyer, its Account and the Account's contacts
    assert 1 <= few < 10
    tomorrow = SyncEngine(
        engine.settings,
        engine.client,
        engine.store,
        engine.mapper,
        clock=lambda: moment + timedelta(days=1),
        predictions=engine.predictions,
        loyalty=engine.loyalty,
        scoring=engine.scoring,
        inputs_key=key,
        mapped_programs=engine.mapped_programs,
    )
    report = tomorrow.run(SyncOptions(dry_run=True))
    assert report.scope["people"] == "all"
    assert "new UTC day" in report.scope["why"]

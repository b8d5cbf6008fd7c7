"""The real-time path against localorg: a signed Shopify order for an existing Contact moves
that Contact's fields within seconds, never twice, and the same order synced later from
Salesforce (same reference) does not count twice.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.config import Settings
from connector.sync import SyncEngine
from connector.sync.realtime import RealtimeWorker, normalise_pending
from connector.webhooks import shopify
from localorg.org import LocalOrg
from localorg.server import Running
from tests.backends import BACKENDS, postgres_schema, store_location
from tests.support import (
    RFM_PLAIN_FIELDS,
    deployed_engine,
    field_values,
    load_rows,
    localorg_settings,
    rfm_mappings,
    salesforce_env,
    seed,
    sync_env,
)
from tests.webhooks.helpers import (
    SHOP,
    SHOPIFY_SECRETS,
    encode,
    fixture,
    free_port,
    server_env,
    shopify_headers,
    stop,
    wait_until_serving,
)

COUNT, REVENUE = "L2L_Order_Count__c", "L2L_Revenue__c"


def _settings(
    org: LocalOrg, server: Running, tmp_path: Path, database: Path | str | None = None
) -> Settings:
    mappings = rfm_mappings(tmp_path / "mappings", RFM_PLAIN_FIELDS, objects=("Contact",))
    return localorg_settings(
        org,
        server,
        tmp_path,
        database=database or store_location(tmp_path),
        mappings_dir=mappings,
        shopify_webhook_secrets=",".join(SHOPIFY_SECRETS),
        realtime_interval_seconds=0.2,
    )


def _order_for(email: str, order_id: int, name: str, total: str) -> dict[str, Any]:
    order = fixture("shopify_orders_create.json")
    order.update(id=order_id, name=name, email=email, contact_email=email, total_price=total)
    order["customer"] = {"id": order_id, "email": email}
    return order


def _values(org: LocalOrg, contact: str) -> tuple[Any, Any]:
    count, revenue = field_values(org, [contact], [COUNT, REVENUE])[contact]
    return count, revenue


@pytest.fixture
def synced(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Settings, SyncEngine, str]]:
    """An org with one Contact (one order of 100.00), synced once; on SQLite, or on the
    backend a test names (``@pytest.mark.parametrize("synced", BACKENDS, indirect=True)``)."""
    with ExitStack() as stack:
        database: Path | str = store_location(tmp_path)
        if getattr(request, "param", "sqlite") == "postgresql":
            database = stack.enter_context(postgres_schema())
        settings = _settings(org, localorg_server, tmp_path, database)
        engine = deployed_engine(settings)
        [contact] = seed(org, 1, [("2026-10-01", 100.0)])
        assert engine.run().status == "succeeded"
        assert _values(org, contact) == (1, 100.0)
        yield settings, engine, contact
        engine.store.close()


def test_a_pass_waits_for_a_running_sync_then_writes_once(
    org: LocalOrg, synced: tuple[Settings, SyncEngine, str]
) -> None:
    settings, engine, contact = synced
    body = encode(_order_for("c0@example.com", 77001, "#2001", "129.60"))
    delivery = shopify.receive(
        shopify_headers(body, "orders/create"), body, SHOPIFY_SECRETS, datetime.now(UTC), 3600
    )
    engine.store.events.store_delivery(delivery)
    worker = RealtimeWorker(settings, engine_factory=lambda s: engine)
    with engine.store.runs.lock():  # a scheduled sync is running
        held = worker.run_pass()
    assert held.normalised == 1
    assert held.skipped
    assert held.run is None
    assert _values(org, contact) == (1, 100.0)
    done = worker.run_pass()  # the marks were kept: this pass writes
    assert done.run is not None
    assert done.run["status"] == "succeeded"
    assert _values(org, contact) == (2, 229.6)
    again = worker.run_pass()
    assert (again.dirty, again.run) == (0, None)
    written = [
        r
        for r in engine.store.outbox.value_log()
        if r["record_id"] == contact and r["field"] == COUNT and r["status"] == "written"
    ]
    assert [r["new"] for r in written] == ["1", "2"]  # each value once


def test_the_same_order_from_salesforce_later_counts_once(
    org: LocalOrg, synced: tuple[Settings, SyncEngine, str]
) -> None:
    settings, engine, contact = synced
    body = encode(_order_for("c0@example.com", 77002, "#2002", "50.00"))
    delivery = shopify.receive(
        shopify_headers(body, "orders/create"), body, SHOPIFY_SECRETS, datetime.now(UTC), 3600
    )
    engine.store.events.store_delivery(delivery)
    RealtimeWorker(settings, engine_factory=lambda s: engine).run_pass()
    assert _values(org, contact) == (2, 150.0)
    account = org.store.execute('SELECT "AccountId" FROM "Contact"')[0][0]
    load_rows(
        org,
        "Order",
        [
            {
                "AccountId": account,
                "BillToContactId": contact,
                "Status": "Activated",
                "EffectiveDate": "2026-11-20",
                "TotalAmount": 50.0,
                "OrderReferenceNumber": "#2002",
            }
        ],
    )
    report = engine.run()
    assert report.status == "succeeded"
    references = engine.store.records.frame("Order", ["OrderReferenceNumber"])
    assert "#2002" in set(references["OrderReferenceNumber"])  # pulled with the sync's Orders
    assert _values(org, contact) == (2, 150.0)
    assert report.writes["fields_changed"] == 0


@pytest.fixture
def processes(
    org: LocalOrg,
    localorg_server: Running,
    synced: tuple[Settings, SyncEngine, str],
    tmp_path: Path,
) -> Iterator[str]:
    """`lead2loyalty web` and `lead2loyalty worker` running against the synced org."""
    settings, _, _ = synced
    env = server_env(
        settings.store_location,
        **salesforce_env(org, localorg_server),
        **sync_env(settings.store_location, settings.mappings_dir),
        L2L_REALTIME_INTERVAL_SECONDS="0.2",
    )
    port = free_port()
    cli = [sys.executable, "-m", "connector.cli"]
    web = subprocess.Popen(
        [*cli, "web", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    worker = subprocess.Popen(
        [*cli, "worker"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    http = requests.Session()
    http.trust_env = False
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(http, url, web)
        yield url
    finally:
        http.close()
        stop(web)
        err = stop(worker)
        assert worker.returncode == 0, err
        assert "Traceback" not in err, err


@pytest.mark.parametrize("synced", BACKENDS, indirect=True)
def test_web_and_worker_move_the_contacts_fields(
    org: LocalOrg, synced: tuple[Settings, SyncEngine, str], processes: str
) -> None:
    _, _, contact = synced
    body = encode(_order_for("C0@Example.com", 77003, "#2003", "80.25"))
    http = requests.Session()
    http.trust_env = False
    sent = time.monotonic()
    response = http.post(
        processes + "/webhooks/shopify",
        data=body,
        headers=shopify_headers(body, "orders/create"),
        timeout=60,
    )
    http.close()
    assert response.status_code == 200
    deadline = sent + 60
    while time.monotonic() < deadline and _values(org, contact) == (1, 100.0):
        time.sleep(0.1)
    assert _values(org, contact) == (2, 180.25)


def test_an_unknown_shopper_becomes_a_lead_when_asked(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    settings = _settings(org, localorg_server, tmp_path).model_copy(
        update={"realtime_create_leads": True}
    )
    engine = deployed_engine(settings)
    seed(org, 1, [("2026-10-01", 100.0)])
    engine.run()
    worker = RealtimeWorker(settings, engine_factory=lambda s: engine)
    for n, (email, topic) in enumerate(
        (("new.shopper@example.com", "orders/create"), ("browser@example.com", "carts/update"))
    ):
        payload = (
            _order_for(email, 88000 + n, f"#30{n}", "12.00")
            if topic == "orders/create"
            else {**fixture("shopify_carts_update.json"), "email": email}
        )
        body = encode(payload)
        delivery = shopify.receive(
            shopify_headers(body, topic), body, SHOPIFY_SECRETS, datetime.now(UTC), 3600
        )
        engine.store.events.store_delivery(delivery)
    first = worker.run_pass()
    assert first.leads_created == 1  # a shopper with an order; a cart alone makes no Lead
    leads = org.store.execute('SELECT "Email", "LastName", "Company" FROM "Lead"')
    assert [tuple(r) for r in leads] == [("new.shopper@example.com", "new.shopper", SHOP)]
    again = {**_order_for("new.shopper@example.com", 88009, "#309", "5.00")}
    body = encode(again)
    engine.store.events.store_delivery(
        shopify.receive(
            shopify_headers(body, "orders/create"), body, SHOPIFY_SECRETS, datetime.now(UTC), 3600
        ),
    )
    assert worker.run_pass().leads_created == 0  # the email now resolves to that Lead
    assert len(org.store.execute('SELECT "Id" FROM "Lead"')) == 1


def test_no_lead_is_created_by_default(
    org: LocalOrg, synced: tuple[Settings, SyncEngine, str]
) -> None:
    settings, engine, _ = synced
    body = encode(_order_for("stranger@example.com", 88100, "#400", "9.00"))
    engine.store.events.store_delivery(
        shopify.receive(
            shopify_headers(body, "orders/create"), body, SHOPIFY_SECRETS, datetime.now(UTC), 3600
        ),
    )
    report = RealtimeWorker(settings, engine_factory=lambda s: engine).run_pass()
    assert (report.normalised, report.leads_created, report.run) == (1, 0, None)
    assert org.store.execute('SELECT COUNT(*) FROM "Lead"')[0][0] == 0


def test_lost_lead_create_answer_reads_the_lead_back_not_a_second(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """The Lead was created and its answer lost: the worker finds it by email, stores it, and
    the shopper's next order makes no second Lead."""
    settings = _settings(org, localorg_server, tmp_path).model_copy(
        update={"realtime_create_leads": True}
    )
    engine = deployed_engine(settings)
    seed(org, 1, [("2026-10-01", 100.0)])
    engine.run()
    worker = RealtimeWorker(settings, engine_factory=lambda s: engine)
    for n in range(2):
        body = encode(_order_for("lost.answer@example.com", 88200 + n, f"#50{n}", "12.00"))
        delivery = shopify.receive(
            shopify_headers(body, "orders/create"), body, SHOPIFY_SECRETS, datetime.now(UTC), 3600
        )
        engine.store.events.store_delivery(delivery)
        org.faults.configure("fail_nth=sobjects:1:after" if n == 0 else "")
        worker.run_pass()
    org.faults.configure("")
    leads = org.store.execute(
        'SELECT "Id" FROM "Lead" WHERE "Email" = ?', ["lost.answer@example.com"]
    )
    assert len(leads) == 1
    assert engine.store.records.frame("Lead", ["Id"])["Id"].tolist().count(leads[0][0]) == 1


def test_a_pass_merges_the_shop_orders_a_read_of_everything_merges(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, database: Path | str
) -> None:
    """A real-time pass reads the shop orders of its people's emails only (issue 20), and
    merges what a read of every shop order merges for them: the shop order of Ada's email
    that Bo's Salesforce Order names by reference (Ada shopped, the Order was filed under Bo)
    is Bo's, not Ada's, though the pass reads none of Bo's Orders; the one Ada's own Order
    names is that Order; her other one counts for her."""
    engine = deployed_engine(_settings(org, localorg_server, tmp_path, database))
    a1, a2 = load_rows(org, "Account", [{"Name": "Ada's"}, {"Name": "Bo's"}])
    ada, bo = load_rows(
        org,
        "Contact",
        [
            {"LastName": "Ada", "Email": "ada@example.com", "AccountId": a1},
            {"LastName": "Bo", "Email": "bo@example.com", "AccountId": a2},
        ],
    )
    orders = [(a1, ada, 100.0, None), (a1, ada, 40.0, "#3002"), (a2, bo, 70.0, "#3001")]
    load_rows(
        org,
        "Order",
        [
            {
                "AccountId": account,
                "BillToContactId": contact,
                "Status": "Activated",
                "EffectiveDate": "2026-10-01",
                "TotalAmount": amount,
                "OrderReferenceNumber": reference,
            }
            for account, contact, amount, reference in orders
        ],
    )
    assert engine.run().status == "succeeded"
    shop = [
        ("ada@example.com", 91001, "#3001", "70.00"),  # Bo's Order names it
        ("someone@example.com", 91002, "#3002", "40.00"),  # Ada's Order names it
        ("ada@example.com", 91003, "#3003", "25.50"),  # no Order yet: Ada's
    ]
    for email, order_id, name, total in shop:
        body = encode(_order_for(email, order_id, name, total))
        engine.store.events.store_delivery(
            shopify.receive(
                shopify_headers(body, "orders/create"),
                body,
                SHOPIFY_SECRETS,
                datetime.now(UTC),
                3600,
            )
        )
    assert normalise_pending(engine.store) == (3, 0)

    def merged(people: frozenset[tuple[str, str]] | None) -> list[tuple[str, float]]:
        resolved = engine._resolve(people).orders
        mine = resolved[resolved["contact_id"] == ada]
        return sorted(zip(mine["Id"].astype(str), mine["TotalAmount"].astype(float), strict=True))

    try:
        everything = merged(None)
        assert len(everything) == 3  # her two Orders and the webhook's #3003
        assert f"shopify:{SHOP}/91003" in {i for i, _ in everything}
        assert merged(frozenset({("Contact", ada)})) == everything
    finally:
        engine.store.close()


@pytest.mark.parametrize("synced", ["postgresql"], indirect=True)
def test_a_pass_after_the_first_asks_information_schema_nothing(
    synced: tuple[Settings, SyncEngine, str],
) -> None:
    """What the store's tables hold (columns, keys) is asked once per connection, not by
    every pass (about 40 catalog queries a pass before, issue 20)."""
    settings, engine, _ = synced
    worker = RealtimeWorker(settings, engine_factory=lambda s: engine)
    seen: list[str] = []
    for n in range(3):
        if n == 2:  # after two passes' warm-up
            engine.store.db.conn.set_trace_callback(seen.append)
            worker.store.db.conn.set_trace_callback(seen.append)
        body = encode(_order_for("c0@example.com", 93000 + n, f"#40{n}", "10.00"))
        engine.store.events.store_delivery(
            shopify.receive(
                shopify_headers(body, "orders/create"),
                body,
                SHOPIFY_SECRETS,
                datetime.now(UTC),
                3600,
            )
        )
        done = worker.run_pass()
        assert done.run is not None
        assert done.run["status"] == "succeeded"
    worker.close()
    assert len(seen) > 20  # the pass's own reads and writes
    assert [s for s in seen if "information_schema" in s] == []

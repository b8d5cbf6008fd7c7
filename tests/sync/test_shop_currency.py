"""Shop orders in another currency and from strangers, through a real sync against localorg.

Sources: Object Reference, CurrencyType ("Conversion rate of this currency type against the
corporate currency"; IsCorporate; "not available in single-currency organizations"). A shop
order in EUR converts with the org's rate in a multi-currency org and is held, named, in a
single-currency USD org: EUR 80 is never USD 80.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from connector.cli import main
from connector.config import Settings
from connector.store import Store
from connector.sync.realtime import RealtimeWorker, normalise_pending
from connector.webhooks.base import Delivery
from localorg.features import OrgFeatures
from localorg.org import LocalOrg
from localorg.server import Running
from tests.backends import database_env
from tests.support import (
    RFM_PLAIN_FIELDS,
    deployed_engine,
    field_values,
    load_rows,
    localorg_settings,
    rfm_mappings,
)
from tests.webhooks.helpers import encode, fixture

FIELDS = RFM_PLAIN_FIELDS  # order count, revenue, last order date, average order value
STORE = "https://tea.example.org/"


def _settings(org: LocalOrg, server: Running, tmp_path: Path, **extra: Any) -> Settings:
    mappings = rfm_mappings(tmp_path / "mappings", FIELDS, objects=("Contact",))
    return localorg_settings(org, server, tmp_path, mappings_dir=mappings, **extra)


def _woo_order(settings: Settings, number: int, email: str, total: str, currency: str) -> None:
    order = {
        **fixture("woocommerce_order_created.json"),
        "id": number,
        "number": str(number),
        "total": total,
        "currency": currency,
        "billing": {"email": email},
    }
    store = Store(settings.store_location)
    try:
        delivery = Delivery("woocommerce", f"d{number}", "order.created", STORE, {}, encode(order))
        store.events.store_delivery(delivery)
        assert normalise_pending(store) == (1, 0)
    finally:
        store.close()


def _contact(org: LocalOrg, email: str) -> str:
    [contact] = load_rows(org, "Contact", [{"LastName": "Buyer", "Email": email}])
    return contact


def test_eur_woo_order_is_converted_to_org_currency(
    serve: Callable[..., LocalOrg], localorg_server: Running, tmp_path: Path
) -> None:
    org = serve(features=OrgFeatures(multi_currency=True))  # USD corporate, EUR at 0.9
    contact = _contact(org, "bo.buyer@example.org")
    settings = _settings(org, localorg_server, tmp_path)
    _woo_order(settings, 7001, "bo.buyer@example.org", "81.00", "EUR")
    _woo_order(settings, 7002, "bo.buyer@example.org", "10.00", "USD")
    report = deployed_engine(settings).run()  # an org with no Salesforce Orders: shop ones only
    assert report.status == "succeeded", report.errors
    assert "held_orders" not in report.models
    [(count, revenue, _, _)] = field_values(org, [contact], FIELDS).values()
    assert (count, revenue) == (2, 100.0)  # 81 EUR / 0.9 = 90 USD, plus 10 USD


def test_eur_woo_order_in_a_usd_single_currency_org_is_held_and_named(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, monkeypatch: Any
) -> None:
    contact = _contact(org, "bo.buyer@example.org")
    settings = _settings(org, localorg_server, tmp_path, org_currency="USD")
    _woo_order(settings, 7101, "bo.buyer@example.org", "80.00", "EUR")
    _woo_order(settings, 7102, "bo.buyer@example.org", "20.00", "USD")
    report = deployed_engine(settings).run()
    assert report.status == "succeeded", report.errors
    [(count, revenue, _, _)] = field_values(org, [contact], FIELDS).values()
    assert (count, revenue) == (1, 20.0)  # the EUR 80 is not added as USD 80
    held = report.models["held_orders"]
    assert held["by_currency"] == {"EUR": 1}
    assert held["orders"] == [f"woocommerce:{STORE}/7101"]
    assert "USD" in held["reason"]
    for name, value in database_env(settings.store_location).items():
        monkeypatch.setenv(name, value)
    as_json = CliRunner().invoke(main, ["events", "stats", "--json"])
    assert json.loads(as_json.output)["shop_orders"]["held"] == {"EUR": 1}
    result = CliRunner().invoke(main, ["events", "stats"])
    assert result.exit_code == 0, result.output
    assert "held 1 in EUR: no rate to the org's currency" in result.output


def test_eur_order_counts_as_is_in_an_eur_org(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    contact = _contact(org, "bo.buyer@example.org")
    settings = _settings(org, localorg_server, tmp_path, org_currency="eur")
    _woo_order(settings, 7201, "bo.buyer@example.org", "80.00", "EUR")
    report = deployed_engine(settings).run()
    assert report.status == "succeeded", report.errors
    [(count, revenue, _, _)] = field_values(org, [contact], FIELDS).values()
    assert (count, revenue) == (1, 80.0)


def test_orders_from_strangers_are_counted_and_listed_by_events_stats(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, monkeypatch: Any
) -> None:
    _contact(org, "known@example.org")
    settings = _settings(org, localorg_server, tmp_path)
    _woo_order(settings, 7301, "known@example.org", "10.00", "USD")
    _woo_order(settings, 7302, "Stranger@Example.org", "10.00", "USD")
    _woo_order(settings, 7303, "stranger@example.org", "12.00", "USD")
    _woo_order(settings, 7304, "other@example.org", "5.00", "USD")
    assert deployed_engine(settings).run().status == "succeeded"  # pulls the Contact
    for name, value in database_env(settings.store_location).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["events", "stats", "--json"])
    assert result.exit_code == 0, result.output
    unknown = json.loads(result.output)["shop_orders"]["strangers"]
    assert unknown == {
        "people": 2,
        "orders": 3,
        "emails": ["stranger@example.org", "other@example.org"],
    }
    text = CliRunner().invoke(main, ["events", "stats"]).output
    assert "strangers 2 (shoppers no Contact or Lead has), 3 orders" in text


def test_a_realtime_pass_converts_with_the_last_runs_rates(
    serve: Callable[..., LocalOrg], localorg_server: Running, tmp_path: Path
) -> None:
    org = serve(features=OrgFeatures(multi_currency=True))  # USD corporate, EUR at 0.9
    contact = _contact(org, "bo.buyer@example.org")
    settings = _settings(org, localorg_server, tmp_path)
    _woo_order(settings, 7401, "bo.buyer@example.org", "10.00", "USD")
    assert deployed_engine(settings).run().status == "succeeded"  # reads and keeps the rates
    order = {
        **fixture("woocommerce_order_created.json"),
        "id": 7402,
        "total": "81.00",
        "currency": "EUR",
        "billing": {"email": "bo.buyer@example.org"},
    }
    store = Store(settings.store_location)
    try:  # stored as the web process stores it; the worker normalises it
        store.events.store_delivery(
            Delivery("woocommerce", "d7402", "order.created", STORE, {}, encode(order))
        )
    finally:
        store.close()
    worker = RealtimeWorker(settings)  # its own engine, as the worker process builds it
    report = worker.run_pass()
    assert report.run is not None
    assert report.run["status"] == "succeeded", report
    [(count, revenue, _, _)] = field_values(org, [contact], FIELDS).values()
    assert (count, revenue) == (2, 100.0)  # 81 EUR / 0.9 + 10 USD

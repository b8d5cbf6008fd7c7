"""Shop orders: refunds and cancellations reduce them, replays change nothing, and a Salesforce
Order carrying the same reference is the same order (counted once)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connector.store import Store
from connector.sync import compute
from connector.sync.order_merge import merge_orders, orders_frame
from connector.sync.realtime import normalise_pending
from connector.sync.resolve import ORDER_COLUMNS, with_contacts
from connector.webhooks import shopify, woocommerce
from connector.webhooks.base import Delivery
from tests.webhooks.helpers import SHOP, encode, fixture

COLUMNS = list(ORDER_COLUMNS)


def _shopify(topic: str, payload: dict[str, Any], key: str) -> Delivery:
    return Delivery("shopify", key, topic, SHOP, {}, encode(payload))


def _apply(store: Store, *deliveries: Delivery) -> None:

    for d in deliveries:
        store.events.store_delivery(d)
    assert normalise_pending(store) == (len(deliveries), 0)


def _contacts(store: Store, *rows: tuple[str, str]) -> None:
    store.records.upsert("Contact", [{"Id": i, "Email": e, "IsDeleted": 0} for i, e in rows])


@pytest.fixture
def store(database: Path | str) -> Iterator[Store]:  # on each backend (tests/conftest.py)
    opened = Store(database)
    yield opened
    opened.close()


def _rfm(store: Store) -> pd.DataFrame:
    orders = orders_frame(store, COLUMNS)
    contacts = store.records.frame("Contact", ["Id", "Email", "AccountId"])
    accounts = store.records.frame("Account", ["Id", "PersonContactId"])
    return compute.rfm(with_contacts(orders, accounts, contacts), date(2026, 11, 28))


def test_an_order_counts_for_its_contact_and_a_refund_reduces_it(store: Store) -> None:
    _contacts(store, ("003A", "Ada.Shopper@example.com"))
    _apply(store, _shopify("orders/create", fixture("shopify_orders_create.json"), "e1"))
    rfm = _rfm(store).loc[("Contact", "003A")]
    assert (rfm["rfm.order_count"], rfm["rfm.revenue"]) == (1, pytest.approx(129.60))
    _apply(store, _shopify("refunds/create", fixture("shopify_refunds_create.json"), "e2"))
    rfm = _rfm(store).loc[("Contact", "003A")]
    assert (rfm["rfm.order_count"], rfm["rfm.revenue"]) == (1, pytest.approx(97.20))
    # The same refund again inside a later orders/updated payload: counted once.
    updated = fixture("shopify_orders_create.json")
    updated["updated_at"] = "2026-11-22T14:00:01-05:00"
    updated["refunds"] = [fixture("shopify_refunds_create.json")]
    _apply(store, _shopify("orders/updated", updated, "e3"))
    assert _rfm(store).loc[("Contact", "003A")]["rfm.revenue"] == pytest.approx(97.20)


def test_a_cancelled_order_does_not_count(store: Store) -> None:
    _contacts(store, ("003A", "ada.shopper@example.com"))
    order = fixture("shopify_orders_create.json")
    _apply(store, _shopify("orders/create", order, "e1"))
    cancelled = {**order, "cancelled_at": "2026-11-20T10:00:00-05:00"}
    cancelled["updated_at"] = "2026-11-20T10:00:00-05:00"
    _apply(store, _shopify("orders/cancelled", cancelled, "e2"))
    assert ("Contact", "003A") not in _rfm(store).index


def test_an_older_update_arriving_late_does_not_win(store: Store) -> None:
    order = fixture("shopify_orders_create.json")
    cancelled = {**order, "cancelled_at": "2026-11-20T10:00:00-05:00"}
    cancelled["updated_at"] = "2026-11-20T10:00:00-05:00"
    _apply(store, _shopify("orders/cancelled", cancelled, "e2"))
    _apply(store, _shopify("orders/create", order, "e1"))  # the retry of an earlier state
    row = store.db.conn.execute("SELECT cancelled FROM shop_orders").fetchone()
    assert row[0] == 1


def test_an_unknown_shopper_binds_when_the_contact_appears(store: Store) -> None:
    _apply(store, _shopify("orders/create", fixture("shopify_orders_create.json"), "e1"))
    assert _rfm(store).empty
    orders = orders_frame(store, COLUMNS)
    assert len(orders) == 1
    assert pd.isna(orders["BillToContactId"].iloc[0])
    _contacts(store, ("003B", "ada.shopper@example.com"))
    assert _rfm(store).loc[("Contact", "003B")]["rfm.order_count"] == 1


def test_a_converted_lead_binds_the_order_to_its_contact(store: Store) -> None:
    _contacts(store, ("003C", "other@example.com"))
    store.records.upsert(
        "Lead",
        [
            {
                "Id": "00QA",
                "Email": "ada.shopper@example.com",
                "IsConverted": 1,
                "ConvertedContactId": "003C",
                "IsDeleted": 0,
            }
        ],
    )
    _apply(store, _shopify("orders/create", fixture("shopify_orders_create.json"), "e1"))
    assert orders_frame(store, COLUMNS)["BillToContactId"].tolist() == ["003C"]


@pytest.mark.parametrize("reference", ["#1042", "5820011223344"])
def test_a_salesforce_order_with_the_same_reference_is_one_order(
    store: Store, reference: str
) -> None:
    _contacts(store, ("003A", "ada.shopper@example.com"))
    _apply(store, _shopify("orders/create", fixture("shopify_orders_create.json"), "e1"))
    store.records.upsert(
        "Order",
        [
            {
                "Id": "801A",
                "BillToContactId": "003A",
                "EffectiveDate": "2026-11-20",
                "TotalAmount": 129.6,
                "IsReductionOrder": 0,
                "OrderReferenceNumber": reference,
                "IsDeleted": 0,
            }
        ],
    )
    orders = orders_frame(store, COLUMNS)
    assert orders["Id"].tolist() == ["801A"]
    assert _rfm(store).loc[("Contact", "003A")]["rfm.order_count"] == 1


def test_another_reference_field_can_be_configured(store: Store) -> None:
    _apply(store, _shopify("orders/create", fixture("shopify_orders_create.json"), "e1"))
    store.records.upsert(
        "Order",
        [{"Id": "801A", "EffectiveDate": "2026-11-20", "Shop_Order__c": "#1042", "IsDeleted": 0}],
    )
    assert len(orders_frame(store, COLUMNS)) == 2
    assert orders_frame(store, COLUMNS, reference_field="Shop_Order__c")["Id"].tolist() == ["801A"]


def test_merge_orders_without_shop_orders_is_the_salesforce_frame() -> None:
    salesforce = pd.DataFrame({c: ["x"] for c in COLUMNS})
    out = merge_orders(salesforce, pd.DataFrame(), pd.DataFrame(), pd.DataFrame(), "R", COLUMNS)
    assert out.equals(salesforce)


def test_woocommerce_refunds_and_statuses() -> None:
    order = {
        **fixture("woocommerce_order_created.json"),
        "status": "completed",
        "refunds": [{"id": 5, "reason": "", "total": "-4.90"}],
    }
    out = woocommerce.normalise(
        Delivery("woocommerce", "k", "order.updated", "https://s/", {}, encode(order))
    )
    assert out.refunds[0]["amount"] == pytest.approx(4.90)
    assert out.orders[0]["cancelled"] == 0
    failed = {**order, "status": "failed"}
    out = woocommerce.normalise(
        Delivery("woocommerce", "k", "order.updated", "https://s/", {}, encode(failed))
    )
    assert out.orders[0]["cancelled"] == 1


def test_shopify_normalise_is_deterministic() -> None:
    delivery = _shopify("orders/create", fixture("shopify_orders_create.json"), "e1")
    assert shopify.normalise(delivery) == shopify.normalise(delivery)


def test_shop_orders_pass_the_status_filter_and_convert_their_currency(store: Store) -> None:
    from connector.sync.orders import FILTER_COLUMNS, counted_orders, to_corporate

    _apply(store, _shopify("orders/create", fixture("shopify_orders_create.json"), "e1"))
    orders = orders_frame(store, [*COLUMNS, *FILTER_COLUMNS])
    assert orders["CurrencyIsoCode"].tolist() == ["USD"]
    kept = counted_orders(orders, [], ["Activated"])  # no Status: nothing says it does not count
    assert len(kept) == 1
    rates = pd.DataFrame({"IsoCode": ["EUR", "USD"], "ConversionRate": [1.0, 1.2]})
    assert to_corporate(kept, rates)["TotalAmount"].tolist() == [pytest.approx(108.0)]

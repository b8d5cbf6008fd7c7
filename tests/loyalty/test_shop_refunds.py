"""Shop refunds reach the points: a webhook order booked at its gross, a later refund webhook
reverses its share, the full refund (or a cancellation) leaves the member as if the order never
happened, and booking again adds nothing. RFM keeps reading the net amount.

Real store, real normaliser (the Shopify fixtures of tests/webhooks), the sync's loyalty step.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connector.loyalty.shop import shop_reductions
from connector.store import Store
from connector.sync.order_merge import orders_frame
from connector.sync.orders import FILTER_COLUMNS
from connector.sync.realtime import normalise_pending
from connector.sync.resolve import ORDER_COLUMNS
from connector.webhooks.base import Delivery
from tests.support import (
    SHOP_LEDGER_ADA,
    SHOP_LEDGER_EMAIL,
    SHOP_LEDGER_NOW,
    ada_journal,
    book_shop_orders,
    shop_ledger_config,
)
from tests.webhooks.helpers import SHOP, encode, fixture

CONFIG = shop_ledger_config()
NOW = SHOP_LEDGER_NOW
ADA = SHOP_LEDGER_ADA


@pytest.fixture
def store(database: Path | str) -> Iterator[Store]:  # on each backend (tests/conftest.py)
    store = Store(database)
    store.records.upsert("Contact", [{"Id": ADA, "Email": SHOP_LEDGER_EMAIL}])
    yield store
    store.close()


def _apply(store: Store, topic: str, payload: dict[str, Any], key: str) -> None:
    store.events.store_delivery(Delivery("shopify", key, topic, SHOP, {}, encode(payload)))
    assert normalise_pending(store) == (1, 0)


def _step(store: Store, now: datetime = NOW) -> int:
    return book_shop_orders(store, CONFIG, now)


def _balance(store: Store, currency: str = "points") -> int:
    return int(ada_journal(store, currency)["points"].sum())


def _refund(refund_id: int, amount: str, at: str) -> dict[str, Any]:
    refund = fixture("shopify_refunds_create.json")
    refund["id"] = refund_id
    refund["created_at"] = at
    refund["transactions"][0]["amount"] = amount
    return refund


def test_a_partial_then_full_shop_refund_reverses_the_points_once(store: Store) -> None:
    _apply(store, "orders/create", fixture("shopify_orders_create.json"), "e1")
    assert _step(store) > 0
    # 129.60 at 1 point per unit (floor) and the 100 threshold's 50.
    assert _balance(store) == 129 + 50
    assert _balance(store, "qualifying") == 129 + 50  # the rules qualify: the tier currency too

    # A quarter refunded (32.40 of 129.60): each entry loses a quarter, floored.
    _apply(store, "refunds/create", fixture("shopify_refunds_create.json"), "e2")
    assert _step(store) == 4  # two rules, points and qualifying
    assert _balance(store) == _balance(store, "qualifying") == 129 + 50 - 32 - 12
    assert _step(store) == 0  # booking again adds nothing

    # The rest refunded: the member is as if the order never happened.
    _apply(store, "refunds/create", _refund(9120056, "97.20", "2026-11-24T10:00:00-05:00"), "e3")
    assert _step(store) == 4
    assert _balance(store) == _balance(store, "qualifying") == 0
    assert _step(store) == 0
    # An over-refund (a goodwill extra) reverses nothing more: the reversal is capped.
    _apply(store, "refunds/create", _refund(9120057, "10.00", "2026-11-25T10:00:00-05:00"), "e4")
    assert _step(store) == 0
    assert _balance(store) == 0


def test_a_shop_order_refunded_before_it_is_first_booked_earns_only_its_net(
    store: Store,
) -> None:
    _apply(store, "orders/create", fixture("shopify_orders_create.json"), "e1")
    _apply(store, "refunds/create", fixture("shopify_refunds_create.json"), "e2")
    # RFM and the predictions still read the net amount.
    orders = orders_frame(store, [*ORDER_COLUMNS, *FILTER_COLUMNS, "OrderReferenceNumber"])
    assert orders["TotalAmount"].tolist() == [pytest.approx(97.20)]
    # Earned from the gross, a quarter reversed: not the net's points minus the refund again.
    assert _step(store) == 8  # two rules x (points, qualifying) x (accrual, reversal)
    assert _balance(store) == 129 + 50 - 32 - 12


def test_a_cancelled_shop_order_is_reversed_in_full(store: Store) -> None:
    order = fixture("shopify_orders_create.json")
    _apply(store, "orders/create", order, "e1")
    _step(store)
    assert _balance(store) == 179
    cancelled = {**order, "cancelled_at": "2026-11-21T10:00:00-05:00"}
    cancelled["updated_at"] = "2026-11-21T10:00:00-05:00"
    _apply(store, "orders/cancelled", cancelled, "e2")
    assert _step(store) == 4
    assert _balance(store) == _balance(store, "qualifying") == 0
    assert _step(store) == 0


def test_a_converted_shop_order_is_grossed_up_by_its_own_rate() -> None:
    members = pd.DataFrame(
        {
            "order_id": ["shopify:s/1", "shopify:s/2", "801A"],
            "member": ["Contact:a"] * 3,
            "at": pd.to_datetime(["2026-11-20T10:00:00Z"] * 3, utc=True),
            "amount": [40.0, 0.0, 70.0],  # corporate: net 80 EUR at 2.0; a fully refunded one
            "original_order_id": [None, None, None],
        }
    )
    refunds = pd.DataFrame(
        {
            "refund_id": ["shopify:s/r1", "shopify:s/r2", "shopify:s/r3"],
            "original_order_id": ["shopify:s/1", "shopify:s/2", "shopify:s/9"],
            "amount": [20.0, 30.0, 5.0],
            "at": ["2026-11-21T10:00:00Z", "2026-11-21T10:00:00Z", "2026-12-01T10:00:00Z"],
            "total": [100.0, 30.0, 5.0],
            "cancelled": [0, 0, 1],
        }
    )
    gross, reductions = shop_reductions(members, refunds, NOW)
    assert gross["amount"].tolist() == [50.0, 30.0, 70.0]  # 40 x 100/80; own total; untouched
    # The one dated after now waits; shares are counted in the order's own currency.
    assert reductions["refund_id"].tolist() == ["shopify:s/r1", "shopify:s/r2"]
    assert reductions["original_amount"].tolist() == [100.0, 30.0]


def test_a_running_refunded_total_reverses_each_increase_once(store: Store) -> None:
    # A BigCommerce order read for details: its refunded amount so far is one replaced row.
    store.db["shop_orders"].insert(
        {"platform": "bigcommerce", "order_id": "store-1/100", "shop": "store-1", "stale": 0}
    )
    details = {
        "email": "ada.shopper@example.com",
        "total": 200.0,
        "currency": "USD",
        "placed_at": "2026-11-20T10:00:00+00:00",
        "cancelled": 0,
        "refunded": 0.0,
    }

    # The refunded total is stamped when it is read (the wall clock), so the books are kept
    # as of a moment after that, not the module's fixed NOW.
    def later() -> datetime:
        return max(NOW, datetime.now(UTC) + timedelta(minutes=1))

    store.events.complete_order("bigcommerce", "store-1/100", details)
    _step(store, later())
    assert _balance(store) == 200 + 50
    store.events.complete_order("bigcommerce", "store-1/100", {**details, "refunded": 50.0})
    assert _step(store, later()) == 4
    assert _balance(store) == 250 - 50 - 12
    store.events.complete_order("bigcommerce", "store-1/100", {**details, "refunded": 50.0})
    assert _step(store, later()) == 0  # read again, unchanged: nothing more
    store.events.complete_order("bigcommerce", "store-1/100", {**details, "refunded": 200.0})
    assert _step(store, later()) == 4
    assert _balance(store) == _balance(store, "qualifying") == 0


def test_the_salesforce_order_that_replaces_a_booked_shop_order_does_not_earn_again(
    store: Store,
) -> None:
    _apply(store, "orders/create", fixture("shopify_orders_create.json"), "e1")
    assert _step(store) > 0
    earned = _balance(store)
    # The same order later synced from Salesforce, its name in OrderReferenceNumber: the
    # order merge now counts the Salesforce Order instead of the shop one.
    store.records.upsert(
        "Order",
        [
            {"Id": "801000000000001AAA", "IsDeleted": False, "AccountId": "001A",
             "BillToContactId": ADA, "Status": "Activated", "StatusCode": "Activated",
             "EffectiveDate": "2026-11-20", "TotalAmount": 129.60,
             "IsReductionOrder": False, "OrderReferenceNumber": "#1042"},
        ],
    )  # fmt: skip
    orders = orders_frame(store, [*ORDER_COLUMNS, *FILTER_COLUMNS, "OrderReferenceNumber"])
    assert orders["Id"].tolist() == ["801000000000001AAA"]  # one order, not two
    assert _step(store) == 0  # it was booked under its shop id: nothing earns twice
    assert _balance(store) == earned
    # A Salesforce refund of it (a reduction Order) reverses the points booked for it.
    store.records.upsert(
        "Order",
        [
            {"Id": "801000000000002AAA", "IsDeleted": False, "AccountId": "001A",
             "BillToContactId": ADA, "Status": "Activated", "StatusCode": "Activated",
             "EffectiveDate": "2026-11-21", "TotalAmount": -129.60,
             "IsReductionOrder": True, "OriginalOrderId": "801000000000001AAA"},
        ],
    )  # fmt: skip
    assert _step(store) == 4
    assert _balance(store) == 0

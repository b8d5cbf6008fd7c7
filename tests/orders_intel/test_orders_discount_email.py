"""The discount and new-email-domain features from Salesforce's standard fields: OrderItem
UnitPrice against ListPrice (what was charged against the price book's price), and Order
BillingEmailAddress (Object Reference, Order and OrderItem)."""

from __future__ import annotations

import pandas as pd
import pytest

from connector.orders_intel.evaluate import order_discounts, risk_input
from connector.orders_intel.risk import order_features


def test_discount_is_the_share_of_the_list_value_given_away() -> None:
    items = pd.DataFrame(
        {
            "OrderId": ["A", "A", "B", "C", "D"],
            "Quantity": [2, 1, 1, 3, 1],
            "UnitPrice": [5.0, 10.0, 30.0, 10.0, 12.0],
            "ListPrice": [10.0, 10.0, 30.0, None, 10.0],
        }
    )
    share = order_discounts(items)
    # A: charged 2x5 + 10 = 20 of 2x10 + 10 = 30 listed; B: none; C: no list price;
    # D: charged above the list, never a negative discount
    assert share["A"] == pytest.approx(1 - 20 / 30)
    assert share["B"] == 0.0
    assert "C" not in share.index
    assert share["D"] == 0.0


def test_no_list_price_column_means_no_discounts() -> None:
    items = pd.DataFrame({"OrderId": ["A"], "Quantity": [1], "UnitPrice": [3.0]})
    assert order_discounts(items).empty


def test_billing_email_feeds_the_new_domain_feature() -> None:
    day = pd.Timestamp("2025-01-01", tz="UTC")
    orders = pd.DataFrame(
        {
            "Id": ["o1", "o2", "o3", "o4"],
            "AccountId": ["a", "a", "a", "b"],
            "EffectiveDate": [day + pd.Timedelta(days=d) for d in (0, 10, 20, 0)],
            "TotalAmount": [50.0, 60.0, 55.0, 40.0],
            "BillingEmailAddress": ["x@shop.example", "X@Shop.example", "x@else.example", None],
        }
    )
    features = order_features(risk_input(orders))
    assert features.loc[["o1", "o2", "o3", "o4"], "new_domain"].tolist() == [0, 0, 1, 0]

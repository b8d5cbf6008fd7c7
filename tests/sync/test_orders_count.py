"""Which orders count (status categories), and in which currency (multi-currency orgs).

Sources: Object Reference, OrderStatus.StatusCode ("Activated, Draft": the status category);
Object Reference, CurrencyType ("Conversion rate of this currency type against the corporate
currency") and DatedConversionRate (StartDate, NextStartDate: the rate of a date range).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from connector.errors import ConfigError
from connector.sync.orders import counted_orders, to_corporate
from localorg.features import OrgFeatures
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import (
    RFM_PLAIN_FIELDS,
    deployed_engine,
    field_values,
    load_rows,
    localorg_settings,
    rfm_mappings,
)

FIELDS = RFM_PLAIN_FIELDS  # order count, revenue, last order date, average order value


def _person(org: LocalOrg, orders: list[dict[str, Any]]) -> str:
    account = load_rows(org, "Account", [{"Name": "Acme"}])[0]
    [contact] = load_rows(org, "Contact", [{"LastName": "Ada", "AccountId": account}])
    load_rows(
        org, "Order", [{"AccountId": account, "BillToContactId": contact, **o} for o in orders]
    )
    return contact


def _engine(org: LocalOrg, server: Running, tmp_path: Path, **extra: Any) -> Any:
    mappings = rfm_mappings(tmp_path / "mappings", FIELDS, objects=("Contact",))
    settings = localorg_settings(org, server, tmp_path, mappings_dir=mappings, **extra)
    return deployed_engine(settings)


def test_draft_orders_do_not_count(org: LocalOrg, localorg_server: Running, tmp_path: Path) -> None:
    contact = _person(
        org,
        [
            {"Status": "Activated", "EffectiveDate": "2026-01-10", "TotalAmount": 10.0},
            {"Status": "Activated", "EffectiveDate": "2026-02-10", "TotalAmount": 20.0},
            {"Status": "Draft", "EffectiveDate": "2026-03-10", "TotalAmount": 100.0},
            {"Status": "Cancelled", "EffectiveDate": "2026-03-11", "TotalAmount": 500.0},
        ],
    )
    report = _engine(org, localorg_server, tmp_path).run()
    assert report.status == "succeeded", report.errors
    assert field_values(org, [contact], FIELDS)[contact] == (2, 30.0, "2026-02-10", 15.0)


def test_named_statuses_override_the_category(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    contact = _person(
        org,
        [
            {"Status": "Activated", "EffectiveDate": "2026-01-10", "TotalAmount": 10.0},
            {"Status": "Draft", "EffectiveDate": "2026-03-10", "TotalAmount": 100.0},
        ],
    )
    engine = _engine(org, localorg_server, tmp_path, order_statuses="Activated,Draft")
    assert engine.run().status == "succeeded"
    assert field_values(org, [contact], FIELDS)[contact] == (2, 110.0, "2026-03-10", 55.0)


def test_a_bad_category_is_one_clear_error(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"L2L_ORDER_STATUS_CATEGORIES: .*Draft and/or Activated"):
        localorg_settings(org, localorg_server, tmp_path, order_status_categories="Shipped")


def test_amounts_in_two_currencies_convert_to_the_corporate_one(
    serve: Callable[..., LocalOrg], localorg_server: Running, tmp_path: Path
) -> None:
    org = serve(features=OrgFeatures(multi_currency=True))  # USD corporate, EUR at 0.9
    contact = _person(
        org,
        [
            {"Status": "Activated", "EffectiveDate": "2026-01-10", "TotalAmount": 90.0,
             "CurrencyIsoCode": "EUR"},
            {"Status": "Activated", "EffectiveDate": "2026-02-10", "TotalAmount": 10.0,
             "CurrencyIsoCode": "USD"},
        ],
    )  # fmt: skip
    report = _engine(org, localorg_server, tmp_path).run()
    assert report.status == "succeeded", report.errors
    assert field_values(org, [contact], FIELDS)[contact] == (2, 110.0, "2026-02-10", 55.0)


def test_dated_rates_convert_by_the_order_date(
    serve: Callable[..., LocalOrg], localorg_server: Running, tmp_path: Path
) -> None:
    org = serve(features=OrgFeatures(multi_currency=True, advanced_currency=True))
    org.store.insert(
        "DatedConversionRate", {"IsoCode": "EUR", "ConversionRate": 0.5, "StartDate": "2026-03-01"}
    )
    contact = _person(
        org,
        [
            {"Status": "Activated", "EffectiveDate": "2026-02-10", "TotalAmount": 90.0,
             "CurrencyIsoCode": "EUR"},  # 0.9 until March: 100 USD
            {"Status": "Activated", "EffectiveDate": "2026-04-10", "TotalAmount": 50.0,
             "CurrencyIsoCode": "EUR"},  # 0.5 from March: 100 USD
        ],
    )  # fmt: skip
    report = _engine(org, localorg_server, tmp_path).run()
    assert report.status == "succeeded", report.errors
    assert field_values(org, [contact], FIELDS)[contact] == (2, 200.0, "2026-04-10", 100.0)


def test_counted_orders_and_to_corporate_rules() -> None:
    orders = pd.DataFrame(
        {
            "Status": ["Activated", "Shipped", "Draft", None],
            "StatusCode": ["Activated", "Activated", "Draft", None],
            "EffectiveDate": ["2026-01-01"] * 4,
            "TotalAmount": [10.0, 20.0, 30.0, 40.0],
            "CurrencyIsoCode": ["USD", "EUR", "GBP", None],
        }
    )
    assert list(counted_orders(orders, [], ["Activated"])["TotalAmount"]) == [10.0, 20.0, 40.0]
    assert list(counted_orders(orders, ["Shipped"], ["Activated"])["TotalAmount"]) == [20.0, 40.0]
    types = pd.DataFrame({"IsoCode": ["USD", "EUR", "GBP"], "ConversionRate": [1.0, 0.5, 2.0]})
    converted = to_corporate(orders, types)
    assert list(converted["TotalAmount"]) == [10.0, 40.0, 15.0, 40.0]
    assert list(orders["TotalAmount"]) == [10.0, 20.0, 30.0, 40.0]  # a copy, not in place
    assert to_corporate(orders.drop(columns="CurrencyIsoCode"), types) is not None


def test_a_sync_of_an_org_without_orders_pulls_the_rest(
    serve: Callable[..., LocalOrg], localorg_server: Running, tmp_path: Path
) -> None:
    # Orders off: describe of Order and OrderItem is 404 NOT_FOUND (tests/localorg contract test)
    org = serve(features=OrgFeatures(orders=False))
    load_rows(org, "Contact", [{"LastName": "Ada"}])
    report = _engine(org, localorg_server, tmp_path).run()
    assert report.status == "succeeded", report.errors
    assert report.objects["Order"] == {"pulled": 0, "deleted": 0, "missing": 1}
    assert report.objects["OrderItem"]["missing"] == 1
    assert report.objects["Contact"]["pulled"] == 1

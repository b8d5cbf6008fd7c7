"""Fulfilment trending the wrong way: the small seed's degrading accounts are caught within
three orders of the change, few others are flagged, and the reasons count the late orders."""

from __future__ import annotations

import pandas as pd

from connector.orders_intel.evaluate import (
    fulfilment_figures,
    fulfilment_input,
    order_person,
)
from connector.orders_intel.fulfilment import FulfilmentConfig, trends


def test_degrading_accounts_are_caught_early(planted) -> None:
    orders = planted.frames["Order"]
    truth = planted.csv("fulfilment.csv")
    for key, column in (("account_id", "AccountId"), ("contact_id", None)):
        person = orders[column] if column else order_person(orders)
        result = trends(fulfilment_input(orders, person), FulfilmentConfig())
        changes = dict(zip(truth[key], truth["change_date"], strict=True))
        figures = fulfilment_figures(result.history, changes, within=3)
        assert figures["degrading"] == len(truth) > 5
        assert figures["detection_rate"] >= 0.8, figures
        assert figures["false_flag_rate"] <= 0.05, figures


def test_reasons_count_late_orders_against_the_usual() -> None:
    day = pd.Timestamp("2025-01-01", tz="UTC")
    waits = [3, 4, 3, 4, 3, 12, 13, 12, 14]
    orders = pd.DataFrame(
        {
            "Id": [f"o{i}" for i in range(len(waits))],
            "person": "a1",
            "ordered": [day + pd.Timedelta(days=30 * i) for i in range(len(waits))],
            "delivered": [day + pd.Timedelta(days=30 * i + w) for i, w in enumerate(waits)],
        }
    )
    steady = orders.assign(
        person="a2", Id=orders["Id"] + "s", delivered=orders["ordered"] + pd.Timedelta(days=3)
    )
    result = trends(pd.concat([orders, steady]), FulfilmentConfig())
    assert bool(result.people.loc["a1", "flagged"])
    assert not bool(result.people.loc["a2", "flagged"])
    assert result.people.loc["a1", "reasons"].startswith(
        "4 of the last 4 orders delivered late, usually 0 of 4"
    )
    flags = result.history.set_index("Id")["flagged"]
    assert not flags[["o0", "o1", "o2", "o3", "o4"]].any()
    assert flags["o6"]  # the second slow order raises it


def test_cancelled_and_returned_orders_count_as_bad() -> None:
    day = pd.Timestamp("2025-01-01", tz="UTC")
    n = 8
    orders = pd.DataFrame(
        {
            "Id": [f"o{i}" for i in range(n)],
            "person": "a1",
            "ordered": [day + pd.Timedelta(days=20 * i) for i in range(n)],
            "delivered": [day + pd.Timedelta(days=20 * i + 3) for i in range(n)],
            "status": ["Activated"] * 5 + ["Cancelled"] * 3,
        }
    )
    result = trends(orders, FulfilmentConfig())
    assert bool(result.people.loc["a1", "flagged"])
    assert "3 of the last 4 cancelled" in result.people.loc["a1", "reasons"]


def test_some_people_are_judged_against_the_whole_shops_usual(planted) -> None:
    """A run of some people passes the shop's usual delivery its last full run measured: each
    person then gets the flag and reasons the full run gave them, whoever else is in the run."""
    orders = planted.frames["Order"]
    frame = fulfilment_input(orders, orders["AccountId"])
    whole = trends(frame, FulfilmentConfig())
    flagged = whole.people.index[whole.people["flagged"]]
    assert len(flagged) > 5
    # the flagged alone (their own usual is slower than the shop's), then a mixed few
    for some in (
        list(flagged[:4]),
        [*flagged[:2], *whole.people.index[~whole.people["flagged"]][:5]],
    ):
        part = frame[frame["person"].isin(some)]
        judged = trends(part, FulfilmentConfig(), whole.usual)
        pd.testing.assert_frame_equal(judged.people, whole.people.loc[judged.people.index])
        assert judged.usual == whole.usual
    # measured over the flagged alone, the usual is theirs and their reasons say so
    alone = trends(frame[frame["person"].isin(flagged[:4])], FulfilmentConfig())
    assert alone.usual.median > whole.usual.median
    assert not alone.people["reasons"].equals(whole.people.loc[alone.people.index, "reasons"])

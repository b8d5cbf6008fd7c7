"""Every order counts once, however many ways it arrives (issue: a Shopify ``orders/create``
and a Segment ``Order Completed`` of the same order made "Orders x2" in the intent reasons).

The Resolve step (``connector/sync/resolve.py``) is pure, so these tests build its frames by
hand: a shop order as the store's order merge shapes it, the events as the webhooks and the
events API store them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.mapping import load_yaml_model
from connector.scoring import IntentConfig
from connector.sync.intent import intent_events, intent_values
from connector.sync.resolve import resolve_run

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SHOP = "acme.myshopify.com"
ADA = "003000000000001AAA"
LEAD = "00Q000000000001AAA"
CONTACTS = pd.DataFrame({"Id": [ADA], "Email": ["ada@example.com"], "AccountId": [None]})
LEADS = pd.DataFrame(
    {
        "Id": [LEAD],
        "Email": ["lee@example.com"],
        "IsConverted": [False],
        "ConvertedContactId": [None],
    }
)
ACCOUNTS = pd.DataFrame(columns=["Id", "PersonContactId"])
EVENT_COLUMNS = ["source", "delivery_id", "name", "occurred_at", "email", "anonymous_id"]
PROPERTY_COLUMNS = ["properties", "channel", "order_id", "order_name"]


def _config(orders_from_salesforce: bool = True) -> IntentConfig:
    config = load_yaml_model(REPO / "models" / "intent.yaml", IntentConfig)
    return config.model_copy(update={"orders_from_salesforce": orders_from_salesforce})


def _shop_order(number: int, email_contact: str | None) -> dict[str, Any]:
    """A shop order as the order merge gives it: ``shopify:<shop>/<id>``."""
    return {
        "Id": f"shopify:{SHOP}/{number}",
        "AccountId": None,
        "BillToContactId": email_contact,
        "ShipToContactId": None,
        "CustomerAuthorizedById": None,
        "EffectiveDate": (NOW - timedelta(days=1)).date().isoformat(),
        "ActivatedDate": (NOW - timedelta(days=1)).isoformat(),
        "TotalAmount": 50.0,
        "IsReductionOrder": False,
        "OriginalOrderId": None,
        "OrderReferenceNumber": None,
    }


def _salesforce_order(number: int, reference: str) -> dict[str, Any]:
    return {
        **_shop_order(number, ADA),
        "Id": f"801{number:015d}",
        "OrderReferenceNumber": reference,
    }


def _keys(numbers: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "shop_id": [f"shopify:{SHOP}/{n}" for n in numbers],
            "platform_order_id": [str(n) for n in numbers],
            "reference": [f"#{n}" for n in numbers],
        }
    )


def _event(source: str, key: str, email: str, **props: Any) -> dict[str, Any]:
    return {
        "source": source,
        "delivery_id": key,
        "name": "Order Completed",
        "occurred_at": (NOW - timedelta(days=1)).isoformat(),
        "email": email,
        "anonymous_id": None,
        "properties": json.dumps(props),
        "channel": None,
        **{k: props.get(k) for k in ("order_id", "order_name")},
    }


def _shopify_event(number: int, email: str) -> dict[str, Any]:
    # what connector/webhooks/shopify.py stores for orders/create
    return _event(
        "shopify", f"e{number}", email, order_id=f"{SHOP}/{number}", order_name=f"#{number}"
    )


def _segment_event(value: str, email: str, n: int = 0) -> dict[str, Any]:
    # a Segment track of the same order: order_id is the platform's id or the order's name
    return _event("segment", f"s{value}-{n}", email, order_id=value)


def _resolve(
    orders: list[dict[str, Any]],
    events: list[dict[str, Any]],
    keys: pd.DataFrame,
    *,
    orders_are_events: bool = True,
) -> Any:
    return resolve_run(
        now=NOW,
        contacts=CONTACTS,
        leads=LEADS,
        accounts=ACCOUNTS,
        orders=pd.DataFrame(orders, columns=list(_shop_order(0, None))),
        events=pd.DataFrame(
            events, columns=[*EVENT_COLUMNS, "properties", "channel", "order_id", "order_name"]
        ),
        shop_keys=keys,
        reference_field="OrderReferenceNumber",
        orders_are_events=orders_are_events,
    )


def _orders_of(config: IntentConfig, resolved: Any, record_id: str) -> int:
    events = intent_events(resolved, config)
    mine = events[(events["record_id"] == record_id) & (events["name"] == "Order Completed")]
    return len(mine)


def test_a_shopify_order_and_a_segment_track_of_it_count_once_in_intent() -> None:
    config = _config()
    resolved = _resolve(
        [_shop_order(1042, ADA)],
        [_shopify_event(1042, "ada@example.com"), _segment_event("1042", "Ada@Example.com ")],
        _keys([1042]),
    )
    assert _orders_of(config, resolved, ADA) == 1
    values, _ = intent_values(intent_events(resolved, config), NOW, config)
    reasons = values.loc[("Contact", ADA), "intent.reasons"]
    assert "Orders x1 " in reasons
    assert "x2" not in reasons


def test_events_of_one_order_count_once_without_orders_from_salesforce() -> None:
    config = _config(orders_from_salesforce=False)
    resolved = _resolve(
        [_shop_order(7, ADA)],
        [
            _shopify_event(7, "ada@example.com"),
            _segment_event("#7", "ada@example.com"),
            _segment_event("7", "ada@example.com", 1),
        ],
        _keys([7]),
        orders_are_events=False,
    )
    assert _orders_of(config, resolved, ADA) == 1


def test_a_salesforce_order_carrying_the_shop_reference_is_the_same_order() -> None:
    config = _config()
    # the merge kept the Salesforce Order (its reference names the shop order)
    resolved = _resolve(
        [_salesforce_order(9, "#9")],
        [_shopify_event(9, "ada@example.com"), _segment_event("9", "ada@example.com")],
        _keys([9]),
    )
    assert _orders_of(config, resolved, ADA) == 1


def test_a_lead_only_shoppers_order_still_counts_once_for_the_lead() -> None:
    config = _config()
    # no Contact has the email: the shop order belongs to nobody yet, its events to the Lead
    resolved = _resolve(
        [_shop_order(11, None)],
        [_shopify_event(11, "lee@example.com"), _segment_event("11", "lee@example.com")],
        _keys([11]),
    )
    assert _orders_of(config, resolved, LEAD) == 1


def test_order_events_that_name_no_order_are_kept() -> None:
    config = _config(orders_from_salesforce=False)
    plain = {**_segment_event("x", "ada@example.com"), "order_id": None, "properties": "{}"}
    resolved = _resolve([], [plain, {**plain, "delivery_id": "other"}], _keys([]))
    assert _orders_of(config, resolved, ADA) == 2


ROUTES = ("shopify", "segment_id", "segment_name", "salesforce")


@settings(max_examples=60, deadline=None)
@given(
    routes=st.lists(st.sets(st.sampled_from(ROUTES), min_size=1), min_size=1, max_size=6),
    order=st.randoms(use_true_random=False),
    from_salesforce=st.booleans(),
)
def test_any_arrival_of_the_same_orders_counts_each_once(
    routes: list[set[str]], order: Any, from_salesforce: bool
) -> None:
    config = _config(from_salesforce)
    orders: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    numbers = [100 + i for i in range(len(routes))]
    for number, ways in zip(numbers, routes, strict=True):
        if "salesforce" in ways:
            orders.append(_salesforce_order(number, f"#{number}"))
        elif "shopify" in ways:
            orders.append(_shop_order(number, ADA))
        if "shopify" in ways:
            events.append(_shopify_event(number, "ada@example.com"))
        if "segment_id" in ways:
            events.append(_segment_event(str(number), "ada@example.com"))
        if "segment_name" in ways:
            events.append(_segment_event(f"#{number}", "ada@example.com"))
    order.shuffle(events)
    order.shuffle(orders)
    resolved = _resolve(orders, events, _keys(numbers), orders_are_events=from_salesforce)
    counted = _orders_of(config, resolved, ADA)
    if from_salesforce:
        assert counted == len(routes)  # every order once, whichever way it came
    else:
        # events alone feed intent: each order with at least one event counts once
        assert counted == sum(1 for ways in routes if ways - {"salesforce"})

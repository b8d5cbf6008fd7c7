"""The order moments' Flows, as `fields export` writes them when models/orders.yaml names
them: active, declaring exactly the inputs the moments send, a risky order's Task on the Order."""

from __future__ import annotations

from connector.orders_intel.settings import OrdersSettings
from connector.salesforce.sfdx import _TASK_TEXT, FlowSpec, flow_specs, flow_xml
from connector.sync.texts_stage import OWN_TASK_PATTERN
from localorg.flow_metadata import parse_flow


def test_order_moments_ship_flows_with_their_inputs() -> None:
    orders = OrdersSettings.model_validate(
        {"risk": {"flow": "L2L_Risky_Order"}, "fulfilment": {"flow": "L2L_Fulfilment"}}
    )
    specs = {s.name: s for s in flow_specs(None, None, orders)}
    assert set(specs) == {"L2L_Risky_Order", "L2L_Fulfilment"}
    risky = parse_flow("L2L_Risky_Order", flow_xml(specs["L2L_Risky_Order"]))
    assert risky.active
    assert risky.inputs == {
        "recordId": "String",
        "objectName": "String",
        "riskScore": "Number",
        "riskReasons": "String",
    }
    service = parse_flow("L2L_Fulfilment", flow_xml(specs["L2L_Fulfilment"]))
    assert set(service.inputs) == {"recordId", "objectName", "fulfilmentReasons"}
    assert "Get_Order_Owner" in flow_xml(specs["L2L_Risky_Order"])
    assert flow_specs(None, None, OrdersSettings()) == []  # none named by default


def test_the_flows_tasks_are_never_read_as_what_a_person_wrote() -> None:
    """A Task a connector Flow makes matches the pattern the texts stage skips: a fulfilment
    Task on a Contact ("... recent orders go wrong") was read as the Contact's negative
    reply, and the next sync moved their sentiment and intent (307 fields). A rep's note that
    only shares some words is still read."""
    made = {
        "intent": "lead2loyalty saw this person's intent cross the hot line.\nOrders x3 +0.8",
        "tier": "Loyalty program club: the tier changed from Silver to Gold.",
        "risk": "lead2loyalty scored this order among the shop's riskiest.\ndiscount of 75%",
        "fulfilment": "lead2loyalty saw this customer's recent orders go wrong.\n3 of 4 late",
        "unhappy": "lead2loyalty read a negative message (-0.9) from a valued customer "
        "(CLV 900):\nWhere is my parcel?",
    }
    assert set(made) == set(_TASK_TEXT)
    for kind, text in made.items():
        assert OWN_TASK_PATTERN.fullmatch(text), kind
        template = _TASK_TEXT[kind][1].split("{!")[0]
        assert template in flow_xml(FlowSpec(f"L2L_{kind}", kind, "test", True)), kind
    for note in (
        "Loyalty program question: she asks when her points expire, sounded annoyed",
        "Called back: the parcel arrived late again, lead2loyalty aside she is unhappy",
    ):
        assert not OWN_TASK_PATTERN.fullmatch(note)

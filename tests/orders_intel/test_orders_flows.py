"""The order moments' Flows, as `fields export` writes them when models/orders.yaml names
them: active, declaring exactly the inputs the moments send, a risky order's Task on the Order."""

from __future__ import annotations

from connector.orders_intel.settings import OrdersSettings
from connector.salesforce.sfdx import flow_specs, flow_xml
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

"""The connector's Flow calls against localorg serving the exported Flows: per-item results
when part of a batch fails (HTTP 400 with the per-item list), NOT_FOUND for a missing Flow,
and doctor's Flow lines (connector/salesforce/flow_checks.py)."""

from __future__ import annotations

import pytest

from connector.errors import FatalError
from connector.salesforce import SalesforceClient
from connector.salesforce.flow_checks import check_flows
from connector.salesforce.sfdx import FlowSpec
from localorg.flows import FlowEngine
from localorg.org import LocalOrg
from tests.support import REPO

INTENT = "L2L_Intent_Hot"
TIER = "L2L_Tier_Change"


@pytest.fixture
def shipped(org: LocalOrg) -> LocalOrg:
    """The org with the Flows as exported under salesforce/ (an admin deployed them)."""
    org.store.flows = FlowEngine.from_file(None, REPO / "salesforce")
    return org


def test_a_partly_failed_batch_comes_back_item_by_item(
    client: SalesforceClient, shipped: LocalOrg
) -> None:
    contact = client.create("Contact", {"LastName": "Hot"})["id"]
    good = {"recordId": contact, "objectName": "Contact", "intentScore": 4.5, "intentReasons": "r"}
    bad = {**good, "recordId": "003000000000000AAA"}  # no such Contact: the Task is refused
    results = client.invoke_flow(INTENT, [good, bad])
    assert [r["isSuccess"] for r in results] == [True, False]
    assert results[0]["outputValues"]["Flow__InterviewStatus"] == "Finished"
    assert results[1]["errors"][0]["statusCode"]
    assert shipped.store.count("Task") == 1
    with pytest.raises(FatalError) as info:
        client.invoke_flow("L2L_Nope", [good])
    assert info.value.error_code == "NOT_FOUND"


def test_doctor_flow_lines_against_the_org(client: SalesforceClient, shipped: LocalOrg) -> None:
    specs = [
        FlowSpec(INTENT, "intent", "intent moment turned_hot"),
        FlowSpec(TIER, "tier", "tier changes of program rewards"),
        FlowSpec("L2L_Missing", "tier", "tier changes of program vip"),
        FlowSpec("L2L_Off", "intent", "intent moment cold", enabled=False),
    ]
    lines = {name: (status, detail) for name, status, detail, _fix in check_flows(client, specs)}
    assert lines[f"flow {INTENT}"][0] == "ok"
    assert lines[f"flow {TIER}"][0] == "ok"
    assert lines["flow L2L_Missing"][0] == "fail"
    assert "missing or not active" in lines["flow L2L_Missing"][1]
    assert lines["flow L2L_Off"] == ("ok", "not called: intent moment cold is disabled")
    # a Flow an admin built without the connector's inputs fails doctor before any run
    shipped.store.flows = FlowEngine(
        {"autolaunched": [{"name": TIER, "inputs": ["recordId", "tier"], "actions": []}]}
    )
    [(_name, status, detail, fix)] = check_flows(client, specs[1:2])
    assert status == "fail"
    assert "objectName, program, previousTier, direction" in detail
    assert "available for input" in fix

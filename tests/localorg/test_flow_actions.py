"""localorg's Actions API for autolaunched Flows, served from the Flow source `fields export`
writes (localorg/flows.py lists the rules, localorg/flow_metadata.py what runs).

Sources: Actions Developer Guide, "Flow Actions"
(https://developer.salesforce.com/docs/atlas.en-us.api_action.meta/api_action/actions_obj_flow.htm):
"Invoke an active autolaunched flow", "input values vary according to the input variables
in that flow", outputs carry Flow__InterviewStatus (Created, Started, Finished, Error,
Waiting); "Invoking Actions" for the per-item result (actionName, errors, isSuccess,
outputValues). Not found anywhere, so the strict choice: an undeclared input fails its item
(INVALID_INPUT) and a batch with a failed item answers 400 with the per-item list.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from simple_salesforce import Salesforce

from connector.salesforce.sfdx import FlowSpec, flow_xml
from localorg.flow_metadata import FlowSourceError, parse_flow
from localorg.flows import FlowEngine
from localorg.org import LocalOrg
from tests.localorg.errorshape import Api, error_of
from tests.support import REPO

INTENT = "L2L_Intent_Hot"
TIER = "L2L_Tier_Change"


@pytest.fixture
def shipped(org: LocalOrg) -> LocalOrg:
    """The org with the Flows as exported under salesforce/ (an admin deployed them)."""
    org.store.flows = FlowEngine.from_file(None, REPO / "salesforce")
    return org


def _owned_contact(sf: Salesforce, org: LocalOrg) -> str:
    contact = sf.Contact.create({"LastName": "Tiered"})["id"]
    org.store.update("Contact", contact, {"OwnerId": org.admin_user_id}, run_flows=False)
    return str(contact)


def _tier_input(record_id: str, obj: str = "Contact") -> dict[str, str]:
    return {
        "recordId": record_id,
        "objectName": obj,
        "program": "rewards",
        "previousTier": "Bronze",
        "tier": "Silver",
        "direction": "upgrade",
    }


def test_the_tier_flow_makes_a_task_for_the_owner_and_says_finished(
    api: Api, sf: Salesforce, shipped: LocalOrg
) -> None:
    contact = _owned_contact(sf, shipped)
    account = sf.Account.create({"Name": "Pooled"})["id"]
    response = api.call(
        "POST",
        f"actions/custom/flow/{TIER}",
        json={"inputs": [_tier_input(contact), _tier_input(account, "Account")]},
    )
    assert response.status_code == 200, response.text
    results = response.json()
    assert [r["isSuccess"] for r in results] == [True, True]
    assert [r["actionName"] for r in results] == [TIER, TIER]
    assert [r["outputValues"] for r in results] == [{"Flow__InterviewStatus": "Finished"}] * 2
    tasks = shipped.store.execute(
        'SELECT "Subject", "WhoId", "WhatId", "OwnerId", "Status" FROM "Task" ORDER BY "Id"'
    )
    subject = "Loyalty upgrade: Silver (was Bronze)"
    # a Contact is the Task's "who", an Account its "what"; the owner gets it
    assert tasks == [
        (subject, contact, None, shipped.admin_user_id, "Not Started"),
        (subject, None, account, shipped.store.integration_user_id, "Not Started"),
    ]


def test_an_undeclared_input_fails_its_item_and_the_others_run(
    api: Api, sf: Salesforce, shipped: LocalOrg
) -> None:
    contact = _owned_contact(sf, shipped)
    extra = {**_tier_input(contact), "points": 120}
    response = api.call(
        "POST", f"actions/custom/flow/{TIER}", json={"inputs": [extra, _tier_input(contact)]}
    )
    assert response.status_code == 400
    failed, ran = response.json()
    assert failed["isSuccess"] is False
    assert failed["outputValues"] is None
    [error] = failed["errors"]
    assert error["statusCode"] == "INVALID_INPUT"
    assert "points" in error["message"]
    assert ran["isSuccess"] is True
    assert shipped.store.count("Task") == 1
    # the intent Flow declares intentScore a Number: a string is refused too
    response = api.call(
        "POST",
        f"actions/custom/flow/{INTENT}",
        json={
            "inputs": [
                {
                    "recordId": contact,
                    "objectName": "Contact",
                    "intentScore": "4.2",
                    "intentReasons": "x",
                }
            ]
        },
    )
    assert response.status_code == 400
    assert response.json()[0]["errors"][0]["statusCode"] == "INVALID_INPUT"


def test_a_failed_interview_fails_its_item_with_the_save_error(
    api: Api, sf: Salesforce, shipped: LocalOrg
) -> None:
    contact = _owned_contact(sf, shipped)
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(gone)
    response = api.call(
        "POST",
        f"actions/custom/flow/{TIER}",
        json={"inputs": [_tier_input(gone), _tier_input(contact)]},
    )
    assert response.status_code == 400
    failed, ran = response.json()
    assert failed["isSuccess"] is False
    assert failed["outputValues"] == {"Flow__InterviewStatus": "Error"}
    assert failed["errors"][0]["statusCode"]
    assert ran["outputValues"] == {"Flow__InterviewStatus": "Finished"}
    outcomes = shipped.store.execute('SELECT "Outcome" FROM "FlowInterview" ORDER BY "Id"')
    assert outcomes == [("Error",), ("Finished",)]


def test_describe_lists_declared_inputs_and_only_active_flows_are_served(
    api: Api, shipped: LocalOrg
) -> None:
    described = api.call("GET", f"actions/custom/flow/{INTENT}").json()
    assert [i["name"] for i in described["inputs"]] == [
        "recordId",
        "objectName",
        "intentScore",
        "intentReasons",
    ]
    assert described["outputs"][0]["name"] == "Flow__InterviewStatus"
    listed = api.call("GET", "actions/custom/flow").json()["actions"]
    assert [a["name"] for a in listed] == [INTENT, TIER]
    draft = flow_xml(FlowSpec("L2L_Draft", "tier", "a test")).replace(
        "<status>Active</status>", "<status>Draft</status>"
    )
    shipped.store.flows = FlowEngine.from_sources({"L2L_Draft": draft})
    error_of(api.call("GET", "actions/custom/flow/L2L_Draft"), 404, "NOT_FOUND")
    response = api.call("POST", "actions/custom/flow/L2L_Draft", json={"inputs": [{}]})
    error_of(response, 404, "NOT_FOUND")


def test_a_flow_localorg_cannot_run_is_refused_when_loaded(tmp_path: Path) -> None:
    text = flow_xml(FlowSpec("L2L_X", "tier", "a test"))
    with pytest.raises(FlowSourceError, match="does not run loops"):
        parse_flow("L2L_X", text.replace("<start>", "<loops><name>L</name></loops>\n    <start>"))
    with pytest.raises(FlowSourceError, match="AutoLaunchedFlow"):
        parse_flow("L2L_X", text.replace(">AutoLaunchedFlow<", ">Flow<"))
    with pytest.raises(FlowSourceError, match="system context only"):
        parse_flow("L2L_X", text.replace("<runInMode>SystemModeWithoutSharing</runInMode>", ""))
    with pytest.raises(FlowSourceError, match="lead to no element: Create_Task"):
        parse_flow("L2L_X", text.replace("<name>Create_Task</name>", "<name>Make_Task</name>"))

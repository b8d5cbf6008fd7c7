"""A Flow call whose answer is lost after it ran: run at most once, remembered, and named."""

from __future__ import annotations

from pathlib import Path

from connector.salesforce import SalesforceClient
from connector.store import Store
from connector.sync.effects import Applied, MomentCall, fire
from localorg.flows import FlowEngine
from localorg.org import LocalOrg
from localorg.server import Running
from tests.backends import store_location
from tests.support import load_rows, localorg_settings

FLOW = "L2L_Tier_Changed"


def _calls(ids: list[str], tier: str) -> list[MomentCall]:
    return [
        MomentCall(
            moment="tier change (club)",
            flow=FLOW,
            inputs={"recordId": rid, "tier": tier},
            kind="tier",
            scope=("club", ""),
            key=f"Contact:{rid}",
            value=tier,
        )
        for rid in ids
    ]


def test_lost_flow_answer_runs_each_interview_once_and_is_named(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    org.store.flows = FlowEngine(
        {
            "autolaunched": [
                {
                    "name": FLOW,
                    "inputs": ["recordId", "tier"],
                    "actions": [{"create_task": {"WhoId": "{recordId}"}}],
                }
            ]
        }
    )
    ids = load_rows(org, "Contact", [{"LastName": f"M{i}"} for i in range(3)])
    client = SalesforceClient.from_settings(localorg_settings(org, localorg_server, tmp_path))
    store = Store(store_location(tmp_path))
    org.faults.configure("fail_nth=actions:1:after")
    out = Applied()
    fire(client, store, _calls(ids, "Silver"), 1, out)
    org.faults.configure("")
    assert org.store.count("FlowInterview") == 3  # it ran; its answer was lost
    assert client.calls["flow"] == 1  # and the client did not send it again
    assert out.failed["tier change (club)"] == 3  # the run is partial...
    assert any("sent without an answer" in e for e in out.errors)  # ...and says why
    # Remembered as told (at most once): the next run plans no call for these members.
    told = store.loyalty.notified_tiers("club")
    assert told == {f"Contact:{rid}": "Silver" for rid in ids}
    store.close()

"""A localorg restarted on its ``--data`` folder keeps minting fresh ids.

Salesforce never hands out an id twice; an org that forgot its id counter on restart re-minted
ids already taken, so the next flow log insert failed on its UNIQUE key and every collection
update answered 500.
"""

from __future__ import annotations

from pathlib import Path

from simple_salesforce import Salesforce

from localorg.flows import FlowEngine
from localorg.org import LocalOrg, OrgConfig
from localorg.server import start

FLOWS = {
    "record_triggered": [
        {"name": "Log_Title", "object": "Contact", "when_changed": "Title", "actions": []}
    ]
}


def _write(data: Path, certs: Path, config: OrgConfig, label: str) -> list[str]:
    """Serve the org in ``data``, create two Contacts, update both through a collection (each
    update logs a flow run), stop; returns the new ids."""
    running = start(LocalOrg(data, config=config, flows=FlowEngine(FLOWS)), certs)
    try:
        sf: Salesforce = running.salesforce()
        ids = [sf.Contact.create({"LastName": f"{label}{i}"})["id"] for i in range(2)]
        results = sf.restful(
            "composite/sobjects",
            method="PATCH",
            json={
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": "Contact"}, "id": i, "Title": label} for i in ids
                ],
            },
        )
        assert [r["success"] for r in results] == [True, True], results
        return ids
    finally:
        running.stop()


def test_restart_on_the_same_folder_keeps_minting_unused_ids(tmp_path: Path) -> None:
    config = OrgConfig()
    first = _write(tmp_path / "org", tmp_path / "certs", config, "first")
    second = _write(tmp_path / "org", tmp_path / "certs2", config, "second")
    assert not set(first) & set(second)
    org = LocalOrg(tmp_path / "org")
    assert org.store.count("Contact") == 4
    runs = org.store.execute('SELECT COUNT(DISTINCT "Id") FROM "FlowInterview"')[0][0]
    assert runs == 4  # one logged flow run per update, none lost to a reused id

"""A person contact's values go to its Account's ``__pc`` fields; business contacts stay Contact
writes. Sources: Change Data Capture Developer Guide, "Creating and Undeleting a Person Account"
(custom Contact fields on Account end in __pc); see localorg/person_accounts.py."""

from __future__ import annotations

import time
from pathlib import Path

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


def test_person_contacts_are_written_through_their_account(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    mappings = rfm_mappings(tmp_path / "mappings", RFM_PLAIN_FIELDS, objects=("Contact",))
    engine = deployed_engine(
        localorg_settings(org, localorg_server, tmp_path, mappings_dir=mappings)
    )
    [person_contact, business_contact] = load_rows(
        org, "Contact", [{"LastName": "Ada"}, {"LastName": "Bo"}]
    )
    [person, business] = load_rows(
        org,
        "Account",
        [
            {"Name": "Ada", "IsPersonAccount": 1, "PersonContactId": person_contact},
            {"Name": "Acme", "IsPersonAccount": 0},
        ],
    )
    org.store.execute(
        'UPDATE "Contact" SET "AccountId" = ? WHERE "Id" = ?', [person, person_contact]
    )
    org.store.execute(
        'UPDATE "Contact" SET "AccountId" = ? WHERE "Id" = ?', [business, business_contact]
    )
    load_rows(
        org,
        "Order",
        [
            {"AccountId": person, "BillToContactId": None, "Status": "Activated",
             "EffectiveDate": "2026-01-10", "TotalAmount": 40.0},  # resolved by PersonContactId
            {"AccountId": business, "BillToContactId": business_contact, "Status": "Activated",
             "EffectiveDate": "2026-02-10", "TotalAmount": 25.0},
        ],
    )  # fmt: skip
    report = engine.run()
    assert report.status == "succeeded", report.errors
    assert report.writes["succeeded"] == 2
    values = field_values(org, [person_contact, business_contact], RFM_PLAIN_FIELDS)
    assert values[person_contact] == (1, 40.0, "2026-01-10", 40.0)
    assert values[business_contact] == (1, 25.0, "2026-02-10", 25.0)
    account = org.store.get("Account", person)
    assert account is not None
    assert account["L2L_Revenue__pc"] == 40.0  # written through the Account
    assert engine.run().writes["fields_changed"] == 0  # the baseline keeps the Contact key


def test_a_write_through_a_person_account_is_an_echo_of_its_contact_too(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    mappings = rfm_mappings(tmp_path / "mappings", RFM_PLAIN_FIELDS, objects=("Contact",))
    engine = deployed_engine(
        localorg_settings(org, localorg_server, tmp_path, mappings_dir=mappings)
    )
    [contact] = load_rows(org, "Contact", [{"LastName": "Ada"}])
    [person] = load_rows(
        org, "Account", [{"Name": "Ada", "IsPersonAccount": 1, "PersonContactId": contact}]
    )
    org.store.execute('UPDATE "Contact" SET "AccountId" = ? WHERE "Id" = ?', [person, contact])
    load_rows(
        org,
        "Order",
        [{"AccountId": person, "Status": "Activated", "EffectiveDate": "2026-01-10",
          "TotalAmount": 40.0}],
    )  # fmt: skip
    first = engine.run()
    assert first.writes["succeeded"] == 1  # the Account, through its __pc fields
    time.sleep(1.1)  # past the whole second of the write
    again = engine.run()
    # The save through the Account also saved its person contact: an echo, not read back.
    assert again.objects["Contact"]["pulled"] == 0
    assert again.objects["Account"]["pulled"] == 0


def test_lost_answer_through_a_person_account_is_read_back_not_saved_twice(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """The person contact's values went out through its Account and the answer was lost: they
    wait in flight as the Contact's and are read back, not sent again."""
    mappings = rfm_mappings(tmp_path / "mappings", RFM_PLAIN_FIELDS, objects=("Contact",))
    engine = deployed_engine(
        localorg_settings(org, localorg_server, tmp_path, mappings_dir=mappings)
    )
    [person_contact] = load_rows(org, "Contact", [{"LastName": "Ada"}])
    [person] = load_rows(
        org, "Account", [{"Name": "Ada", "IsPersonAccount": 1, "PersonContactId": person_contact}]
    )
    org.store.execute(
        'UPDATE "Contact" SET "AccountId" = ? WHERE "Id" = ?', [person, person_contact]
    )
    load_rows(
        org,
        "Order",
        [{"AccountId": person, "Status": "Activated", "EffectiveDate": "2026-01-10",
          "TotalAmount": 40.0}],
    )  # fmt: skip
    org.faults.configure("fail_nth=composite:1:after")
    first = engine.run()
    org.faults.configure("")
    assert first.status == "partial", first.errors
    assert engine.store.outbox.counts() == {"in_flight": len(RFM_PLAIN_FIELDS)}
    second = engine.run()
    assert second.status == "succeeded", second.errors
    assert (second.writes.verified, second.writes.succeeded) == (1, 0)
    assert org.store.saves("Account") == {person: 1}
    assert field_values(org, [person_contact], RFM_PLAIN_FIELDS)[person_contact] == (
        1, 40.0, "2026-01-10", 40.0,
    )  # fmt: skip

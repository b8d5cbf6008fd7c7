"""The journal mirrored into Salesforce Loyalty Management (``mirror: loyalty_management``).

A localorg served with the Loyalty Management objects (``--loyalty-management``; fields as the
Loyalty Management Developer Guide's object reference names them: LoyaltyProgramMember,
LoyaltyProgramCurrency, LoyaltyMemberCurrency, TransactionJournal, see
localorg/loyalty_management.py), the repository's models with the program asking for the
mirror, and the whole sync over HTTPS: the members, currencies and journals land once, with the
balances the journal holds; a second sync adds nothing; a new order adds exactly its entries.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.admin.deploy import deploy
from connector.doctor import run_doctor
from connector.errors import FatalError
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.salesforce.client import SalesforceClient
from connector.store import Store
from connector.sync import SyncOptions, build_engine
from connector.sync.loyalty import org_needs
from localorg.features import OrgFeatures
from localorg.org import LocalOrg
from localorg.server import Running
from tests.conftest import admin_salesforce
from tests.support import (
    DEPLOY_PERMISSIONS,
    activated_order,
    deployed_engine,
    grant_permissions,
    localorg_settings,
)

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture
def lm_org(request: pytest.FixtureRequest, serve: Callable[..., LocalOrg]) -> LocalOrg:
    """The served org with empty data and the Loyalty Management objects; its API user is
    the administrator, or the minimal API-only user when the test is parametrized so."""
    return serve(
        daily_limit=1_000_000,
        api_user=getattr(request, "param", "admin"),
        features=OrgFeatures(loyalty_management=True),
    )


def _models(tmp_path: Path, journal_types: str | None = None) -> Path:
    """The repository's models with the program mirroring (and mapping journal kinds to
    ``journal_types``, YAML, when given)."""
    models = tmp_path / "models"
    shutil.copytree(REPO_MODELS, models)
    path = models / "loyalty.yaml"
    text = path.read_text(encoding="utf-8")
    marker = "    pool_by_account: false"
    assert marker in text
    extra = f"    journal_types: {journal_types}\n" if journal_types else ""
    path.write_text(
        text.replace(marker, "    mirror: loyalty_management\n" + extra + marker, 1),
        encoding="utf-8",
    )
    return models


def _order(
    org: LocalOrg, account: str, contact: str, amount: float, *, settled: bool = True
) -> str:
    lines = [{"Quantity": 1, "UnitPrice": amount}]
    return activated_order(org, account, contact, lines, settled=settled)


def _buyers(org: LocalOrg, amounts: list[float]) -> list[tuple[str, str]]:
    """One Account and Contact per amount, each with an activated order of that amount;
    (account, contact) of each."""
    people = []
    for i, amount in enumerate(amounts):
        account = org.store.insert("Account", {"Name": f"Buyer {i}"})
        contact = org.store.insert(
            "Contact",
            {"LastName": f"Buyer {i}", "Email": f"buyer{i}@example.com", "AccountId": account},
        )
        _order(org, account, contact, amount, settled=i == len(amounts) - 1)
        people.append((account, contact))
    return people


def _rows(org: LocalOrg, sql: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in org.store.execute(sql)]


def _journal_types(org: LocalOrg) -> dict[object, object]:
    """Journal key -> the Name of its JournalType (None when it has none)."""
    return dict(
        _rows(
            org,
            'SELECT j."L2L_Journal_Key__c", t."Name" FROM "TransactionJournal" j '
            'LEFT JOIN "JournalType" t ON t."Id" = j."JournalTypeId"',
        )
    )


def test_the_journal_lands_in_loyalty_management_once(
    lm_org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    org = lm_org
    contacts = _buyers(org, [120.0, 40.0, 310.0])
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=_models(tmp_path))
    engine = deployed_engine(settings)

    first = engine.run()
    assert first.status == "succeeded", first.errors
    mirror = first.models["loyalty"]["rewards"]["mirror"]
    assert "error" not in mirror

    books = Store(settings.store_location).loyalty
    journal = books.journal("rewards")
    keys = set(journal["key"])
    assert _rows(org, 'SELECT "Name" FROM "LoyaltyProgram"') == [("Rewards",)]
    mirrored = {r[0] for r in _rows(org, 'SELECT "L2L_Journal_Key__c" FROM "TransactionJournal"')}
    assert mirrored == keys
    assert mirror["journals"] == len(keys) > 0
    members = dict(_rows(org, 'SELECT "ContactId", "Id" FROM "LoyaltyProgramMember"'))
    assert set(members) == {c for _, c in contacts}
    # Each journal row belongs to the member of its entry.
    by_key = dict(_rows(org, 'SELECT "L2L_Journal_Key__c", "MemberId" FROM "TransactionJournal"'))
    for key, member in zip(journal["key"], journal["member"], strict=True):
        assert by_key[key] == members[member.split(":", 1)[1]]
    # Every journal has the org's JournalType for its kind: a journal without one is neither
    # processed nor listed in the member's transaction history (see _journal_types).
    types = _journal_types(org)
    assert set(types.values()) <= {"Accrual", "Redemption", "Manual Points Adjustment"}
    for key, kind in zip(journal["key"], journal["kind"], strict=True):
        expected_type = {"accrual": "Accrual", "redemption": "Redemption"}.get(
            kind, "Manual Points Adjustment"
        )
        assert types[key] == expected_type, (key, kind)
    # The points balance in LoyaltyMemberCurrency is the journal's, and the Contact field's.
    balances = dict(
        _rows(
            org,
            'SELECT m."ContactId", c."PointsBalance" FROM "LoyaltyMemberCurrency" c '
            'JOIN "LoyaltyProgramMember" m ON m."Id" = c."LoyaltyMemberId" '
            'JOIN "LoyaltyProgramCurrency" p ON p."Id" = c."LoyaltyProgramCurrencyId" '
            "WHERE p.\"Name\" = 'points'",
        )
    )
    points = journal[journal["currency"] == "points"]
    expected = points.groupby("member")["points"].sum()
    for _, contact in contacts:
        assert balances[contact] == expected[f"Contact:{contact}"] > 0
        field = org.store.execute(
            'SELECT "L2L_Points_Balance__c" FROM "Contact" WHERE "Id" = ?', [contact]
        )
        assert int(field[0][0]) == balances[contact]
    kinds = dict(_rows(org, 'SELECT "Name", "CurrencyType" FROM "LoyaltyProgramCurrency"'))
    assert set(kinds) == set(journal["currency"])
    assert kinds["points"] == "NonQualifying"
    assert kinds["qualifying"] == "Qualifying"  # the repository's program is tiered

    count = 'SELECT COUNT(*) FROM "TransactionJournal"'
    again = engine.run()
    assert again.status == "succeeded", again.errors
    # Nothing changed: the compute is skipped, and the mirror (which runs every sync) sends
    # nothing.
    assert again.models["loyalty"]["rewards"]["mirror"] == {"journals": 0}
    assert _rows(org, count) == [(len(keys),)]
    full = engine.run(SyncOptions(full=True))  # recomputes loyalty: books and mirrors nothing
    assert full.status == "succeeded", full.errors
    assert full.models["loyalty"]["rewards"]["mirror"] == {"journals": 0}
    assert _rows(org, count) == [(len(keys),)]

    account, contact = contacts[1]
    _order(org, account, contact, 300.0)
    third = engine.run()
    assert third.status == "succeeded", third.errors
    added = set(books.journal("rewards")["key"]) - keys
    assert added
    assert third.models["loyalty"]["rewards"]["mirror"]["journals"] == len(added)
    now = {r[0] for r in _rows(org, 'SELECT "L2L_Journal_Key__c" FROM "TransactionJournal"')}
    assert now == keys | added
    assert _rows(org, count) == [(len(keys) + len(added),)]
    assert len(_rows(org, 'SELECT "Id" FROM "LoyaltyProgramMember"')) == 3
    moved = org.store.execute(
        'SELECT c."PointsBalance" FROM "LoyaltyMemberCurrency" c '
        'JOIN "LoyaltyProgramMember" m ON m."Id" = c."LoyaltyMemberId" '
        'JOIN "LoyaltyProgramCurrency" p ON p."Id" = c."LoyaltyProgramCurrencyId" '
        'WHERE p."Name" = \'points\' AND m."ContactId" = ?',
        [contact],
    )
    assert moved[0][0] == balances[contact] + 300 + 100  # spend + the 250 threshold bonus


# Field names per the Loyalty Management Developer Guide, object reference pages
# sforce_api_objects_<object>.htm (and the Platform Field Reference); see
# localorg/loyalty_management.py for which names the excerpts we read confirmed.
CONTRACT = {
    "LoyaltyProgramMember": {
        "ProgramId",
        "ContactId",
        "AccountId",
        "MembershipNumber",
        "MemberStatus",
        "EnrollmentDate",
        "MemberType",
    },
    "LoyaltyProgramCurrency": {"LoyaltyProgramId", "Name", "CurrencyType", "IsActive", "IsPrimary"},
    "LoyaltyMemberCurrency": {
        "LoyaltyMemberId",
        "LoyaltyProgramCurrencyId",
        "PointsBalance",
        "TotalPointsAccrued",
        "TotalPointsRedeemed",
        "TotalPointsExpired",
    },
    "TransactionJournal": {
        "ActivityDate",
        "MemberId",
        "LoyaltyProgramId",
        "JournalTypeId",
        "JournalSubTypeId",
        "Status",
    },
    # "JournalType" / "JournalSubType" object reference pages.
    "JournalType": {"Name", "ProcessType", "Description"},
    "JournalSubType": {"JournalTypeId", "Name", "Description"},
}


def test_describe_shows_the_loyalty_objects_only_with_the_feature(
    lm_org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    settings = localorg_settings(lm_org, localorg_server, tmp_path)
    client = SalesforceClient.from_settings(settings)
    for name, fields in CONTRACT.items():
        described = {f["name"]: f for f in client.describe(name)["fields"]}
        assert fields <= set(described), name
    journal = {f["name"]: f for f in client.describe("TransactionJournal")["fields"]}
    # Our External ID fields are not in a new org: `fields deploy` creates them.
    assert "L2L_Journal_Key__c" not in journal
    assert journal["JournalTypeId"]["referenceTo"] == ["JournalType"]
    assert journal["ActivityDate"]["nillable"] is False
    member = {f["name"]: f for f in client.describe("LoyaltyProgramMember")["fields"]}
    assert member["EnrollmentDate"]["nillable"] is False  # "Required."
    kinds = {f["name"]: f for f in client.describe("JournalType")["fields"]}
    assert [v["value"] for v in kinds["ProcessType"]["picklistValues"]] == ["Loyalty"]
    with pytest.raises(FatalError) as refused:  # a restricted picklist
        client.create("JournalType", {"Name": "Bonus", "ProcessType": "Referral"})
    assert refused.value.error_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(FatalError) as refused:  # JournalTypeId is not nillable
        client.create("JournalSubType", {"Name": "Product Buy"})
    assert refused.value.error_code == "REQUIRED_FIELD_MISSING"
    subtype = {f["name"]: f for f in client.describe("JournalSubType")["fields"]}
    assert subtype["JournalTypeId"]["nillable"] is False
    # A new org holds the journal types Loyalty Management provides.
    provided = {r["Name"] for r in client.query("SELECT Name, ProcessType FROM JournalType")}
    assert provided == {"Accrual", "Redemption", "Manual Points Adjustment"}
    statuses = [v["value"] for v in journal["Status"]["picklistValues"]]
    assert statuses == ["Cancelled", "Error", "Pending", "Processed"]
    currency = {f["name"]: f for f in client.describe("LoyaltyProgramCurrency")["fields"]}
    assert [v["value"] for v in currency["CurrencyType"]["picklistValues"]] == [
        "NonQualifying",
        "Qualifying",
    ]
    names = {o["name"] for o in client.describe_global()["sobjects"]}
    assert set(CONTRACT) | {"LoyaltyProgram"} <= names


def test_an_org_without_the_feature_has_no_loyalty_objects(org: LocalOrg) -> None:
    assert not {"LoyaltyProgramMember", "TransactionJournal"} & set(org.store.objects)


def test_rows_that_fail_are_sent_again_without_duplicates(
    lm_org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    org = lm_org
    _buyers(org, [50.0, 150.0, 250.0, 350.0])
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=_models(tmp_path))
    engine = deployed_engine(settings)
    store = Store(settings.store_location)

    org.faults.configure("FIELD_CUSTOM_VALIDATION_EXCEPTION=0.3,seed=3")
    first = engine.run()
    org.faults.configure("")
    mirror = first.models["loyalty"]["rewards"]["mirror"]
    assert "error" in mirror
    books = store.loyalty
    waiting = books.mirror_retry("rewards")
    # The run does not claim success while entries wait, and says why.
    assert first.status == "partial"
    assert any("not yet in Loyalty Management" in e for e in first.errors), first.errors
    if "failed_rows" in mirror:  # rows refused one by one: they, and only they, wait
        assert len(waiting) == mirror["failed_rows"] > 0
        assert all("FIELD_CUSTOM_VALIDATION_EXCEPTION" in why for why in waiting.values())
    else:  # the whole pass was refused (the program or a currency): nothing recorded
        assert store.records.state("loyalty_mirror.rewards.seq") is None

    # The same faults refused some Contact values too: --retry-failed sends those again; the
    # mirror's waiting entries go again by themselves.
    again = engine.run(SyncOptions(retry_failed=True))
    assert again.status == "succeeded", again.errors
    assert "error" not in again.models["loyalty"]["rewards"]["mirror"]
    keys = set(books.journal("rewards")["key"])
    landed = [r[0] for r in _rows(org, 'SELECT "L2L_Journal_Key__c" FROM "TransactionJournal"')]
    assert sorted(landed) == sorted(keys)  # each once, however often it was sent
    assert len(_rows(org, 'SELECT "Id" FROM "LoyaltyProgramMember"')) == 4
    assert books.mirror_retry("rewards") == {}
    assert store.records.state("loyalty_mirror.rewards.seq") is not None


def test_a_journal_type_the_org_lacks_stops_the_mirror_until_it_exists(
    lm_org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """A program mapping a kind to a JournalType the org does not have sends nothing (a journal
    without its type would be invisible to Loyalty Management), says which type to create,
    and the run is partial; once an admin creates it, the next sync sends everything, even
    though nothing else changed (the compute is skipped, the mirror is not)."""
    org = lm_org
    account = org.store.insert("Account", {"Name": "Buyer"})
    contact = org.store.insert(
        "Contact", {"LastName": "Buyer", "Email": "jt@example.com", "AccountId": account}
    )
    _order(org, account, contact, 120.0)
    models = _models(tmp_path, "{accrual: Purchase}")
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=models)
    engine = deployed_engine(settings)

    first = engine.run()
    assert first.status == "partial"
    error = first.models["loyalty"]["rewards"]["mirror"]["error"]
    assert "'Purchase'" in error
    assert "journal_types" in error
    assert any("not yet in Loyalty Management" in e and "'Purchase'" in e for e in first.errors)
    assert _rows(org, 'SELECT COUNT(*) FROM "TransactionJournal"') == [(0,)]

    admin = SalesforceClient.from_settings(settings)
    purchase = admin.create("JournalType", {"Name": "Purchase", "ProcessType": "Loyalty"})["id"]
    second = engine.run()
    assert second.status == "succeeded", second.errors
    assert second.compute == "skipped"
    journal = Store(settings.store_location).loyalty.journal("rewards")
    assert second.models["loyalty"]["rewards"]["mirror"]["journals"] == len(journal) > 0
    types = dict(
        _rows(org, 'SELECT "L2L_Journal_Key__c", "JournalTypeId" FROM "TransactionJournal"')
    )
    accruals = journal[journal["kind"] == "accrual"]["key"]
    assert len(accruals)
    assert all(types[k] == purchase for k in accruals)


def test_fields_deploy_creates_the_mirror_fields_and_grants_upserts(
    lm_org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """With a program that mirrors, `fields deploy` creates our External ID fields on the
    Loyalty Management objects (unique, so upserts match on them) and grants Create and Edit
    on those objects and Read on JournalType; without one, it leaves those objects alone."""
    settings = localorg_settings(lm_org, localorg_server, tmp_path, models_dir=_models(tmp_path))
    engine = deployed_engine(settings)
    client = engine.client
    journal = {f["name"]: f for f in client.describe("TransactionJournal")["fields"]}
    assert journal["L2L_Journal_Key__c"]["externalId"]
    assert journal["L2L_Journal_Key__c"]["unique"]
    for name in ("L2L_Kind__c", "L2L_Currency__c", "L2L_Points__c"):
        assert journal[name]["updateable"], name
    grants = {
        r["SobjectType"]: r
        for r in client.query(
            "SELECT SobjectType, PermissionsRead, PermissionsCreate, PermissionsEdit "
            "FROM ObjectPermissions WHERE Parent.Name = 'L2L_Integration'"
        )
    }
    for obj in ("LoyaltyProgram", "LoyaltyProgramMember", "TransactionJournal"):
        assert grants[obj]["PermissionsCreate"], obj
        assert grants[obj]["PermissionsEdit"], obj
    assert grants["JournalType"]["PermissionsRead"]
    assert not grants["JournalType"]["PermissionsEdit"]
    assert not grants["Contact"]["PermissionsCreate"]  # the mappings only update Contacts


@pytest.mark.parametrize("lm_org", ["minimal"], indirect=True)
def test_an_integration_user_mirrors_with_what_fields_deploy_grants(
    lm_org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """The API-only integration user may create Loyalty Management records only through the
    permission set `fields deploy` assigns it (object permissions, as for any data object):
    with the deploy rights an admin grants from the README's checklist, deploy, then sync."""
    org = lm_org
    account = org.store.insert("Account", {"Name": "Buyer"})
    contact = org.store.insert(
        "Contact", {"LastName": "Buyer", "Email": "min@example.com", "AccountId": account}
    )
    _order(org, account, contact, 80.0)
    admin = admin_salesforce(localorg_server, org)
    grant_permissions(admin, org.store.integration_user_id, DEPLOY_PERMISSIONS, "Deployer")
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=_models(tmp_path))
    client = SalesforceClient.from_settings(settings)
    with pytest.raises(FatalError):  # no object permission on TransactionJournal yet
        client.query("SELECT Id FROM TransactionJournal")

    run = deployed_engine(settings).run()
    assert run.status == "succeeded", run.errors
    journal = Store(settings.store_location).loyalty.journal("rewards")
    mirrored = {r[0] for r in _rows(org, 'SELECT "L2L_Journal_Key__c" FROM "TransactionJournal"')}
    assert mirrored == set(journal["key"])
    assert mirrored
    assert set(_journal_types(org).values()) <= {"Accrual", "Manual Points Adjustment"}


def test_doctor_checks_the_mirror_fields_and_journal_types(
    lm_org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    models = _models(tmp_path)
    settings = localorg_settings(lm_org, localorg_server, tmp_path, models_dir=models)
    mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    checks = {c.name: c for c in run_doctor(settings, mappings).checks}
    assert checks["field TransactionJournal.L2L_Journal_Key__c"].status == "fail"
    assert checks["object TransactionJournal"].status == "ok"
    assert checks["journal types of rewards"].status == "ok"

    deployed_engine(settings)
    path = models / "loyalty.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "    mirror: loyalty_management\n",
            "    mirror: loyalty_management\n    journal_types: {expiry: Points Expiry}\n",
            1,
        ),
        encoding="utf-8",
    )
    checks = {c.name: c for c in run_doctor(settings, mappings).checks}
    assert checks["field TransactionJournal.L2L_Journal_Key__c"].status == "ok"
    assert checks["journal types of rewards"].status == "fail"
    assert "'Points Expiry'" in checks["journal types of rewards"].detail


def test_a_member_refused_for_good_waits_alone(
    lm_org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """A member Salesforce refuses on every pass (its Contact deleted in the org after its
    entries were booked) keeps only its own entries waiting: the other members' entries land,
    and each later run sends the new entries plus that member's, never the whole history."""
    org = lm_org
    people = _buyers(org, [100.0, 200.0, 300.0])
    settings = localorg_settings(
        org, localorg_server, tmp_path, models_dir=_models(tmp_path, "{accrual: Purchase}")
    )
    engine = deployed_engine(settings)
    books = Store(settings.store_location).loyalty
    # The first run books everyone but mirrors nothing: the org lacks the Purchase type.
    assert engine.run().status == "partial"
    journal = books.journal("rewards")
    _, gone = people[0]
    org.store.delete("Contact", gone)
    SalesforceClient.from_settings(settings).create(
        "JournalType", {"Name": "Purchase", "ProcessType": "Loyalty"}
    )

    first = engine.run()
    assert first.status == "partial"
    theirs = set(journal[journal["member"] == f"Contact:{gone}"]["key"])
    waiting = books.mirror_retry("rewards")
    assert set(waiting) == theirs
    assert all(why.startswith("LoyaltyProgramMember: ") for why in waiting.values())
    landed = {r[0] for r in _rows(org, 'SELECT "L2L_Journal_Key__c" FROM "TransactionJournal"')}
    assert landed == set(journal["key"]) - theirs

    account, contact = people[2]
    _order(org, account, contact, 50.0)
    second = engine.run()
    assert second.status == "partial"  # that member still waits, and the run says so
    added = set(books.journal("rewards")["key"]) - set(journal["key"])
    assert added
    # Sent: the new entries and the waiting member's, nothing of the history.
    assert second.models["loyalty"]["rewards"]["mirror"]["journals"] == len(added)
    assert set(books.mirror_retry("rewards")) == theirs
    assert any(f"{len(theirs)} journal entries" in e for e in second.errors), second.errors


def test_a_long_history_goes_as_bulk_jobs_with_the_same_result(
    lm_org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """Above the push bulk threshold, an object's rows go as one Bulk API 2.0 upsert job (a
    first mirror of years of history): the same rows land, each once, and a row Salesforce
    refuses waits on the retry list as with sObject Collections."""
    org = lm_org
    people = [contact for _, contact in _buyers(org, [100.0, 300.0, 500.0])]
    settings = localorg_settings(
        org,
        localorg_server,
        tmp_path,
        models_dir=_models(tmp_path, "{accrual: Purchase}"),
        push_bulk_threshold=2,
    )
    engine = deployed_engine(settings)
    assert engine.run().status == "partial"  # booked; nothing mirrored yet (no Purchase type)
    org.store.delete("Contact", people[0])  # its member row will be refused
    SalesforceClient.from_settings(settings).create(
        "JournalType", {"Name": "Purchase", "ProcessType": "Loyalty"}
    )

    run = engine.run()
    assert run.api_calls.get("bulk_job", 0) > 0
    books = Store(settings.store_location).loyalty
    journal = books.journal("rewards")
    refused = set(journal[journal["member"] == f"Contact:{people[0]}"]["key"])
    assert set(books.mirror_retry("rewards")) == refused
    landed = [r[0] for r in _rows(org, 'SELECT "L2L_Journal_Key__c" FROM "TransactionJournal"')]
    assert sorted(landed) == sorted(set(journal["key"]) - refused)
    assert len(_rows(org, 'SELECT "Id" FROM "LoyaltyProgramMember"')) == 2
    assert run.models["loyalty"]["rewards"]["mirror"]["journals"] == len(landed)


def test_fields_deploy_in_an_org_without_loyalty_management(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """A program that mirrors, an org without the product: the deploy does what it can (the
    mapped fields) and names the Loyalty Management objects it could not grant or give fields,
    instead of failing on the first field it cannot create."""
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=_models(tmp_path))
    engine = build_engine(settings)
    mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    report = deploy(engine.client, mappings, extra=org_needs(engine.loyalty))  # type: ignore[arg-type]
    assert set(report.objects_absent) >= {"TransactionJournal", "LoyaltyProgramMember"}
    assert "Contact.L2L_Points_Balance__c" in report.created
    assert not [f for f in report.created if f.startswith("TransactionJournal.")]
    assert report.assigned


def test_lost_journal_upsert_answer_is_read_back_not_saved_twice(
    lm_org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """The TransactionJournal upsert was applied and its answer lost: the next pass reads the
    keys back and does not upsert (save) those journals again."""
    from connector.loyalty.wiring import load_config, open_service
    from connector.sync.loyalty_mirror import UNKNOWN_REASON, mirror_program

    org = lm_org
    [(_, contact)] = _buyers(org, [120.0])
    settings = localorg_settings(org, localorg_server, tmp_path, models_dir=_models(tmp_path))
    engine = deployed_engine(settings)
    assert engine.run().status == "succeeded"
    with open_service(settings) as service:
        service.adjust(f"Contact:{contact}", 40, "goodwill", "adj-1")
    store = Store(settings.store_location)
    books = store.loyalty
    program = load_config(settings).programs[0]
    client = engine.client
    # The pass's collection upserts: program (1), currencies (2), members (3), journals (4).
    org.faults.configure("fail_nth=composite:4:after")
    lost = mirror_program(client, store, books, program)  # type: ignore[arg-type]
    org.faults.configure("")
    key = next(k for k in books.journal(program.id)["key"] if "adjustment" in k)
    assert books.mirror_retry(program.id) == {key: UNKNOWN_REASON}
    assert lost["journals"] == 0
    queries = org.calls_by_kind.get("query", 0)
    again = mirror_program(client, store, books, program)  # type: ignore[arg-type]
    assert again == {"journals": 0, "read_back": 1}
    assert org.calls_by_kind.get("query", 0) == queries + 1
    assert books.mirror_retry(program.id) == {}
    landed = [r[0] for r in _rows(org, 'SELECT "L2L_Journal_Key__c" FROM "TransactionJournal"')]
    assert landed.count(key) == 1
    assert org.store.saves("TransactionJournal") == {}  # created once, never saved again
    store.close()

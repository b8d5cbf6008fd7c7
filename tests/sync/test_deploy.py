"""`fields deploy` and `doctor` against a minimum-access integration user, as on a real org.

A Salesforce integration user starts with API Enabled and nothing else. An admin grants what
the integration-user checklist says (View Setup and Configuration, Customize Application,
Manage Profiles and Permission Sets, Assign Permission Sets); `fields deploy` then creates the
fields, the L2L_Integration permission set with its field and object grants, and assigns it.
Sources: Object Reference "FieldPermissions", "ObjectPermissions", "PermissionSetAssignment";
see localorg/access.py.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from connector.admin.deploy import PERMISSION_SET, deploy
from connector.cli import main
from connector.errors import AccessMissing, FatalError, RetryableError
from connector.mapping import load_mappings
from connector.mapping.values import KNOWN_VALUES
from connector.salesforce import SalesforceClient
from connector.salesforce.read_access import apply_read_set, plan_read_set
from localorg.access import as_user
from localorg.features import OrgFeatures
from localorg.flows import FlowEngine
from localorg.org import ADMIN_USERNAME, LocalOrg
from localorg.server import Running
from tests.backends import ON_POSTGRES
from tests.conftest import admin_salesforce
from tests.support import (
    DEPLOY_PERMISSIONS,
    REPO,
    RFM_FIELDS,
    field_values,
    grant_permissions,
    localorg_settings,
    rfm_mappings,
    salesforce_env,
    seed,
    serve_fresh,
)

MAPPED = sorted(f"{obj}.{field}" for obj in ("Contact", "Lead") for field in RFM_FIELDS)


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _doctor() -> tuple[int, dict[str, dict[str, str]]]:
    result = _cli("doctor", "--json")
    assert "Traceback" not in result.output
    body = json.loads(result.stdout)
    return result.exit_code, {c["check"]: c for c in body["checks"]}


def _l2l_rows(org: LocalOrg, sql: str) -> list[tuple[Any, ...]]:
    return org.store.execute(
        sql.replace(
            "{set}", '(SELECT "Id" FROM "PermissionSet" WHERE "Name" = \'L2L_Integration\')'
        )
    )


def test_minimal_user_checklist_doctor_deploy_then_sync_writes_every_value(
    env: Path,
    minimal_org: LocalOrg,
    localorg_server: Running,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in salesforce_env(minimal_org, localorg_server).items():
        monkeypatch.setenv(name, value)
    org = minimal_org
    user_id = org.store.integration_user_id

    # Before any grant: doctor names every missing permission, one line each, and fails.
    code, checks = _doctor()
    assert code == 1
    assert checks["API Enabled"]["status"] == "ok"
    for obj in ("Account", "Contact", "Lead", "Order", "OrderItem"):
        assert checks[f"object {obj}"]["status"] == "fail", obj
        assert "Read" in checks[f"object {obj}"]["fix"]
    assert "Setup > Order Settings" in checks["object Order"]["fix"]
    for name in MAPPED:
        assert checks[f"field {name}"]["status"] == "fail", name
    for label in (
        "View Setup and Configuration",
        "Customize Application",
        "Manage Profiles and Permission Sets",
        "Assign Permission Sets",
    ):
        assert checks[f'permission "{label}"']["status"] == "warn", label

    # fields deploy stops before changing anything and says what an admin must grant.
    blocked = _cli("fields", "deploy")
    assert blocked.exit_code == 1
    assert "Traceback" not in blocked.output
    # Without View Setup nothing else can be read: the block names all four at once.
    for label in (
        "View Setup and Configuration",
        "Customize Application",
        "Manage Profiles and Permission Sets",
        "Assign Permission Sets",
    ):
        assert f'"{label}"' in blocked.output, label
    admin = admin_salesforce(localorg_server, org)
    grant_permissions(admin, user_id, ("PermissionsViewSetup",), "Viewer")
    blocked = _cli("fields", "deploy")
    assert blocked.exit_code == 1
    for label in (
        "Customize Application",
        "Manage Profiles and Permission Sets",
        "Assign Permission Sets",
    ):
        assert f'"{label}"' in blocked.output, label
    assert '"View Setup and Configuration"' not in blocked.output
    with as_user(None):
        assert org.store.objects["Contact"].field("L2L_Order_Count__c") is None
    assert not org.store.execute('SELECT 1 FROM "PermissionSet" WHERE "Name" = ?', [PERMISSION_SET])

    # The Flows models/ names are not in the org yet: doctor names each.
    code, checks = _doctor()
    assert code == 1
    assert checks["flow L2L_Tier_Change"]["status"] == "fail"
    assert "missing or not active" in checks["flow L2L_Tier_Change"]["detail"]

    # The admin grants the rest of the checklist and deploys the exported Flows (as
    # `sf project deploy start` would); deploy, assigning L2L_Read to the admin, then doctor
    # passes.
    # (Customize Application and Manage Profiles and Permission Sets depend on View Setup)
    grant_permissions(admin, user_id, DEPLOY_PERMISSIONS, "Deployer")
    org.store.flows = FlowEngine.from_file(None, REPO / "salesforce")
    deployed = _cli("fields", "deploy", "--json", "--assign-read", ADMIN_USERNAME)
    assert deployed.exit_code == 0, deployed.output
    report = json.loads(deployed.stdout)
    # the mapped fields, and the sentiment and intent overrides models/texts.yaml adds on both
    overrides = [
        f"{obj}.L2L_{kind}_Override__c"
        for obj in ("Case", "EmailMessage")
        for kind in ("Sentiment", "Intent")
    ]
    assert sorted(report["created"]) == sorted([*MAPPED, *overrides])
    assert report["assigned"] is True
    # OrderItem follows Order: no object permission of its own (jetstream PR #1982); nor Task,
    # which follows the records it relates to
    assert sorted(report["objects_granted"]) == [
        "Account",
        "Case",
        "Contact",
        "EmailMessage",
        "Lead",
        "Order",
    ]
    # Read on the standard fields the pull reads, which field-level security hides
    assert {"Contact.Email", "Lead.Email", "Lead.LeadSource", "Order.TotalAmount"} <= set(
        report["fields_readable"]
    )
    assert "Lead.LastName" not in report["fields_readable"]  # required: never hidden
    assert report["read_permission_set"]["assigned"] == [ADMIN_USERNAME]
    assert sorted(report["read_permission_set"]["fields_granted"]) == MAPPED
    code, checks = _doctor()
    assert checks["permission set L2L_Read"]["detail"] == f"held by 1 user(s): {ADMIN_USERNAME}"
    assert code == 0, [c for c in checks.values() if c["status"] != "ok"]
    # The tests' SQLite file sits in pytest's temporary folder, which doctor rightly warns
    # about; a PostgreSQL server's data is no file of ours.
    assert checks.pop("database")["status"] == ("ok" if ON_POSTGRES else "warn")
    assert all(c["status"] == "ok" for c in checks.values())

    # The sync, as the minimal user, writes every value.
    ids = seed(org, 3, [("2026-03-01", 12.5), ("2026-04-01", 7.5)])
    result = _cli("sync", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["writes"]["succeeded"] == 3
    values = field_values(org, ids, ("L2L_Order_Count__c", "L2L_Revenue__c"))
    assert values == dict.fromkeys(ids, (2, 20.0))


def test_doctor_text_is_one_line_per_check_with_its_fix(
    env: Path,
    minimal_org: LocalOrg,
    localorg_server: Running,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in salesforce_env(minimal_org, localorg_server).items():
        monkeypatch.setenv(name, value)
    result = _cli("doctor")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[-1].endswith("problem(s) block a sync")
    contact = next(line for line in lines if line.startswith("FAIL  object Contact:"))
    assert "-> fix: grant Read on Contact" in contact
    assert any(line.startswith("OK    API version: ") for line in lines), lines


def test_doctor_reports_a_failed_sign_in_as_one_check(
    env: Path, org: LocalOrg, localorg_server: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in salesforce_env(org, localorg_server).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("L2L_SALESFORCE_CLIENT_SECRET", "wrong")
    code, checks = _doctor()
    assert code == 1
    assert list(checks) == ["sign-in"]
    assert "invalid_client" in checks["sign-in"]["detail"]


# ---------------------------------------------------------------------- resumable deploy
def _fresh(running: Running, api_user: str) -> LocalOrg:
    """A new empty org behind the running server (what the org fixtures do per test)."""
    config = dataclasses.replace(running.org.config, daily_limit=1_000_000, api_user=api_user)
    return serve_fresh(running, config)


def _converged(org: LocalOrg, fields: list[str]) -> None:
    """Every field created once, granted read+edit once, Contact readable+editable once, the
    set assigned once to the API user."""
    user = org.store.integration_user_id
    created = org.store.execute(
        'SELECT "FieldName" FROM "CustomField" WHERE "TableEnumOrId" = \'Contact\''
    )
    assert sorted(r[0] for r in created) == sorted(f.split(".")[1] for f in fields)
    assert (
        len(org.store.execute('SELECT 1 FROM "PermissionSet" WHERE "Name" = ?', [PERMISSION_SET]))
        == 1
    )
    grants = _l2l_rows(
        org,
        'SELECT "Field", "PermissionsRead", "PermissionsEdit" FROM "FieldPermissions" '
        'WHERE "ParentId" IN {set}',
    )
    assert sorted(g for g in grants if g[2]) == [(f, 1, 1) for f in sorted(fields)]
    # Read, once, on the standard fields the pull of Contact reads (LastName is required,
    # so never hidden, and takes no grant)
    assert sorted(g for g in grants if not g[2]) == [
        (f"Contact.{f}", 1, 0)
        for f in ("AccountId", "Email", "HasOptedOutOfEmail", "MailingCountry", "MailingState")
    ]
    objects = _l2l_rows(
        org,
        'SELECT "SobjectType", "PermissionsRead", "PermissionsEdit" FROM "ObjectPermissions" '
        'WHERE "ParentId" IN {set}',
    )
    assert objects == [("Contact", 1, 1)]
    assigned = _l2l_rows(
        org,
        f'SELECT 1 FROM "PermissionSetAssignment" WHERE "AssigneeId" = \'{user}\' '
        'AND "PermissionSetId" IN {set}',
    )
    assert len(assigned) == 1


@pytest.mark.slow
def test_deploy_interrupted_at_each_call_converges_when_run_again(
    localorg_server: Running, minimal_org: LocalOrg, tmp_path: Path
) -> None:
    """Each call of a deploy in turn fails with a 503, once before it is carried out and once
    after (its answer lost); no retries, so the deploy stops there. Run again, it always ends
    with every field created, granted and assigned, and nothing twice."""
    fields = ["L2L_Order_Count__c", "L2L_Revenue__c"]
    mappings_dir = rfm_mappings(tmp_path / "mappings", fields, objects=("Contact",))
    mappings = load_mappings(mappings_dir, set(KNOWN_VALUES))
    qualified = [f"Contact.{f}" for f in fields]

    def prepared() -> tuple[LocalOrg, Any]:
        org = _fresh(localorg_server, "minimal")
        admin = admin_salesforce(localorg_server, org)
        grant_permissions(admin, org.store.integration_user_id, DEPLOY_PERMISSIONS)
        org.reset_limits()
        settings = localorg_settings(
            org, localorg_server, tmp_path, mappings_dir=mappings_dir, max_retries=0
        )
        return org, settings

    org, settings = prepared()
    deploy(SalesforceClient.from_settings(settings), mappings, pulled=("Contact",))  # type: ignore[arg-type]
    _converged(org, qualified)
    calls = dict(org.calls_by_kind)
    assert sum(calls.values()) >= 10, calls
    interrupted = 0
    for kind, count in sorted(calls.items()):
        for n in range(1, count + 1):
            for when in ("", ":after"):
                org, settings = prepared()
                org.faults.configure(f"fail_nth={kind}:{n}{when}")
                with pytest.raises(RetryableError):
                    deploy(
                        SalesforceClient.from_settings(settings),  # type: ignore[arg-type]
                        mappings,
                        pulled=("Contact",),
                    )
                interrupted += 1
                org.faults.configure("")
                deploy(SalesforceClient.from_settings(settings), mappings, pulled=("Contact",))  # type: ignore[arg-type]
                _converged(org, qualified)
                again = deploy(
                    SalesforceClient.from_settings(settings), mappings, pulled=("Contact",)
                )  # type: ignore[arg-type]
                assert again.created == again.permissions_granted == again.objects_granted == []
                assert again.assigned is False
    assert interrupted == 2 * sum(calls.values())


def test_deploy_with_retries_survives_lost_answers_in_one_run(
    localorg_server: Running, org: LocalOrg, tmp_path: Path
) -> None:
    """A create whose answer is lost is retried; the retry finds the record made (duplicate)
    and the deploy carries on instead of failing."""
    settings = localorg_settings(
        org,
        localorg_server,
        tmp_path,
        mappings_dir=rfm_mappings(tmp_path / "m", RFM_FIELDS[:1], objects=("Contact",)),
    )
    mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    for kind, n in (("tooling", 2), ("sobjects", 1), ("sobjects", 2), ("sobjects", 4)):
        org.faults.configure(f"fail_nth={kind}:{n}:after")
        deploy(SalesforceClient.from_settings(settings), mappings, pulled=("Contact",))  # type: ignore[arg-type]
    org.faults.configure("")
    _converged(org, ["Contact.L2L_Order_Count__c"])


def test_deploy_upgrades_a_read_only_grant_instead_of_adding_a_row(
    localorg_server: Running, org: LocalOrg, tmp_path: Path
) -> None:
    sf = admin_salesforce(localorg_server, org)
    sf.toolingexecute(
        "sobjects/CustomField/",
        method="POST",
        json={
            "FullName": "Contact.L2L_Order_Count__c",
            "Metadata": {"label": "Order Count", "type": "Number", "precision": 18, "scale": 0},
        },
    )
    set_id = sf.PermissionSet.create({"Name": PERMISSION_SET, "Label": "lead2loyalty"})["id"]
    sf.FieldPermissions.create(
        {
            "ParentId": set_id,
            "SobjectType": "Contact",
            "Field": "Contact.L2L_Order_Count__c",
            "PermissionsRead": True,
            "PermissionsEdit": False,
        }
    )
    sf.ObjectPermissions.create(
        {"ParentId": set_id, "SobjectType": "Contact", "PermissionsRead": True}
    )
    settings = localorg_settings(
        org,
        localorg_server,
        tmp_path,
        mappings_dir=rfm_mappings(
            tmp_path / "m", ("L2L_Order_Count__c", "L2L_Revenue__c"), objects=("Contact",)
        ),
    )
    report = deploy(
        SalesforceClient.from_settings(settings),
        load_mappings(settings.mappings_dir, set(KNOWN_VALUES)),
        pulled=("Contact",),
    )  # type: ignore[arg-type]
    assert report.existing == ["Contact.L2L_Order_Count__c"]
    assert report.created == ["Contact.L2L_Revenue__c"]
    assert sorted(report.permissions_granted) == [
        "Contact.L2L_Order_Count__c",
        "Contact.L2L_Revenue__c",
    ]
    assert report.objects_granted == ["Contact"]
    _converged(org, ["Contact.L2L_Order_Count__c", "Contact.L2L_Revenue__c"])


def test_a_user_without_deploy_rights_can_rerun_a_finished_deploy(
    localorg_server: Running, minimal_org: LocalOrg, tmp_path: Path
) -> None:
    """Reads first, writes only what is missing: once everything is in place, a re-run needs
    no setup permission beyond reading (View Setup and Configuration)."""
    org = minimal_org
    admin = admin_salesforce(localorg_server, org)
    user = org.store.integration_user_id
    grant_permissions(admin, user, ("PermissionsViewSetup",), "Viewer")
    deployer = grant_permissions(admin, user, DEPLOY_PERMISSIONS, "Deployer")
    settings = localorg_settings(
        org,
        localorg_server,
        tmp_path,
        mappings_dir=rfm_mappings(tmp_path / "m", RFM_FIELDS[:2], objects=("Contact",)),
    )
    mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    client = SalesforceClient.from_settings(settings)
    plan = plan_read_set(client, mappings)
    first = deploy(client, mappings, pulled=("Contact",))  # type: ignore[arg-type]
    apply_read_set(client, mappings, plan, first.created)
    [assignment] = admin.query(
        f"SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = '{deployer}'"
    )["records"]
    admin.PermissionSetAssignment.delete(assignment["Id"])
    again = deploy(SalesforceClient.from_settings(settings), mappings, pulled=("Contact",))  # type: ignore[arg-type]
    assert again.created == []
    assert again.assigned is False
    # L2L_Read is complete too: planning it needs no right, applying it writes nothing.
    client = SalesforceClient.from_settings(settings)
    read = apply_read_set(client, mappings, plan_read_set(client, mappings), again.existing)
    assert (read.created, read.fields_granted, read.objects_granted) == (False, [], [])
    # A new mapped field now needs Customize Application again: refused, nothing changed.
    more = rfm_mappings(tmp_path / "m2", RFM_FIELDS[:3], objects=("Contact",))
    with pytest.raises(AccessMissing, match="Customize Application"):
        deploy(
            SalesforceClient.from_settings(settings),
            load_mappings(more, set(KNOWN_VALUES)),
            pulled=("Contact",),
        )  # type: ignore[arg-type]
    with as_user(None):
        assert org.store.objects["Contact"].field(RFM_FIELDS[2]) is None


def test_deploy_skips_objects_the_org_does_not_have(
    localorg_server: Running, org: LocalOrg, tmp_path: Path
) -> None:
    """ObjectPermissions.SobjectType is a restricted picklist of the org's objects (Object
    Reference); an object the org lacks (Orders switched off, here Pricebook2, which localorg
    does not serve) is asked of the Tooling API's EntityDefinition and left out, named in the
    report, instead of failing the deploy."""
    settings = localorg_settings(
        org,
        localorg_server,
        tmp_path,
        mappings_dir=rfm_mappings(tmp_path / "m", RFM_FIELDS[:1], objects=("Contact",)),
    )
    mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    client = SalesforceClient.from_settings(settings)
    report = deploy(client, mappings, pulled=("Contact", "Pricebook2"))  # type: ignore[arg-type]
    assert report.objects_absent == ["Pricebook2"]
    assert report.objects_granted == ["Contact"]
    with pytest.raises(FatalError) as info:
        client.create(
            "ObjectPermissions",
            {
                "ParentId": client.query(
                    "SELECT Id FROM PermissionSet WHERE Name = 'L2L_Integration'"
                )[0]["Id"],
                "SobjectType": "Pricebook2",
                "PermissionsRead": True,
            },
        )
    assert info.value.error_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_doctor_without_api_enabled_says_so_and_stops(
    env: Path,
    minimal_org: LocalOrg,
    localorg_server: Running,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in salesforce_env(minimal_org, localorg_server).items():
        monkeypatch.setenv(name, value)
    with minimal_org.store.transaction() as conn:
        conn.execute('UPDATE "PermissionSet" SET "PermissionsApiEnabled" = 0')
    code, checks = _doctor()
    assert code == 1
    assert list(checks) == ["sign-in", "API version", "API Enabled"]
    assert checks["API Enabled"]["status"] == "fail"
    assert "API Enabled" in checks["API Enabled"]["fix"]


def test_deploy_in_a_person_account_org_grants_contact_before_account(
    localorg_server: Running, org: LocalOrg, tmp_path: Path
) -> None:
    """In an org with person accounts "Permission Read Account depends on permission(s): Read
    Contact" (trailheadapps/apex-recipes #22): granted in name order, Account would be refused;
    the deploy saves Contact first."""
    config = dataclasses.replace(org.config, features=OrgFeatures(person_accounts=True))
    fresh = serve_fresh(localorg_server, config)
    settings = localorg_settings(
        fresh,
        localorg_server,
        tmp_path,
        mappings_dir=rfm_mappings(tmp_path / "m", RFM_FIELDS[:1], objects=("Contact",)),
    )
    report = deploy(
        SalesforceClient.from_settings(settings),  # type: ignore[arg-type]
        load_mappings(settings.mappings_dir, set(KNOWN_VALUES)),
        pulled=("Account", "Contact"),
    )
    assert report.objects_granted == ["Contact", "Account"]
    assert report.assigned is True


def test_deploy_widens_a_text_field_an_earlier_deploy_made_shorter(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """L2L_Best_Send_Time__c grew from 20 to 64 characters. An org deployed before holds 20:
    a longer value is refused with STRING_TOO_LONG (SOAP API Developer Guide,
    "AllowFieldTruncationHeader": from API 15.0 a too-long string fails), doctor says so,
    and `fields deploy` widens the field through the Tooling API (a PATCH of its CustomField
    Metadata), after which the value is taken."""
    from connector.admin.deploy import too_short_fields
    from connector.doctor import DoctorReport, _check_field_lengths

    settings = localorg_settings(org, localorg_server, tmp_path)
    client = SalesforceClient(settings)
    mappings = load_mappings(settings.mappings_dir, set(KNOWN_VALUES))
    name = "Contact.L2L_Best_Send_Time__c"
    deploy(client, mappings)
    [(field_id,)] = org.store.execute(
        'SELECT "Id" FROM "CustomField" WHERE "TableEnumOrId" = \'Contact\' AND '
        "\"FieldName\" = 'L2L_Best_Send_Time__c'"
    )
    # the org as an earlier deploy left it: Text(20)
    client.update_tooling("CustomField", field_id, {"Metadata": {"type": "Text", "length": 20}})
    [contact] = seed(org, 1, [("2026-03-01", 10.0)])
    label = "Sat 10:00 America/Chicago"  # 25 characters
    with pytest.raises(FatalError, match="STRING_TOO_LONG"):
        client.update("Contact", contact, {"L2L_Best_Send_Time__c": label})
    assert too_short_fields(client, mappings) == {name: (20, 64)}
    report = DoctorReport()
    _check_field_lengths(client, mappings, report)
    [line] = report.checks
    assert line.name == f"field {name}"
    assert line.status == "fail"
    assert "fields deploy" in line.fix

    done = deploy(client, mappings)
    assert done.widened == [f"{name} (20 -> 64)"]
    assert done.created == []
    client.update("Contact", contact, {"L2L_Best_Send_Time__c": label})
    assert field_values(org, [contact], ("L2L_Best_Send_Time__c",)) == {contact: (label,)}
    assert too_short_fields(client, mappings) == {}
    assert deploy(client, mappings).widened == []  # nothing left to widen
    # localorg never cuts stored data: shortening below a stored value is refused
    with pytest.raises(FatalError, match="FIELD_INTEGRITY_EXCEPTION"):
        client.update_tooling("CustomField", field_id, {"Metadata": {"type": "Text", "length": 20}})

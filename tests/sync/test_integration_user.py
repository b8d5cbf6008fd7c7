"""The README's integration-user checklist, followed step by step on localorg started as the
README's user: the Salesforce Integration user license and its "Minimum Access - API Only
Integrations" profile (``localorg serve --user integration``).

Sources (see localorg/permission_rules.py): Salesforce Help, "Give Integration Users API Only
Access" (the user takes only sets of the Salesforce API Integration permission set license,
and holds that license first); Object Reference, "ObjectPermissions" and jetstreamapp/jetstream
PR #1982 (no object permission for Order Products, which follow Order); field-level security
on the standard fields the pull reads (Object Reference, "FieldPermissions").
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from simple_salesforce import Salesforce

from connector.admin.deploy import PERMISSION_SET
from connector.cli import main
from localorg.access import as_user
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
    salesforce_env,
    seed,
    serve_fresh,
)

MAPPED = sorted(f"{obj}.{field}" for obj in ("Contact", "Lead") for field in RFM_FIELDS)
PSL = "SalesforceAPIIntegrationPsl"


def _cli(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output
    return result


def _doctor() -> tuple[int, dict[str, dict[str, str]]]:
    result = _cli("doctor", "--json")
    body = json.loads(result.stdout)
    return result.exit_code, {c["check"]: c for c in body["checks"]}


@pytest.fixture
def integration_org(
    env: Path, localorg_server: Running, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalOrg]:
    """A fresh org served as `localorg serve --user integration` starts it; the CLI signs in
    as its API user."""
    config = dataclasses.replace(
        localorg_server.org.config, daily_limit=1_000_000, api_user="integration"
    )
    org = serve_fresh(localorg_server, config)
    for name, value in salesforce_env(org, localorg_server).items():
        monkeypatch.setenv(name, value)
    yield org
    org.faults.configure("")


def _psl(admin: Salesforce) -> str:
    rows = admin.query(f"SELECT Id FROM PermissionSetLicense WHERE DeveloperName = '{PSL}'")
    return str(rows["records"][0]["Id"])


def _l2l_set(org: LocalOrg) -> tuple[str, str | None] | None:
    rows = org.store.execute(
        'SELECT "Id", "LicenseId" FROM "PermissionSet" WHERE "Name" = ?', [PERMISSION_SET]
    )
    return (str(rows[0][0]), rows[0][1]) if rows else None


def test_the_readme_checklist_on_an_integration_user_ends_in_doctor_ok_and_a_full_sync(
    integration_org: LocalOrg, localorg_server: Running
) -> None:
    org = integration_org
    user_id = org.store.integration_user_id
    admin = admin_salesforce(localorg_server, org)

    # Step 1: the dedicated user, API Enabled through its profile, nothing else yet.
    code, checks = _doctor()
    assert code == 1
    assert checks["API Enabled"]["status"] == "ok"
    assert checks["object Contact"]["status"] == "fail"

    # Step 3, as the README says it: the permission set license first, then a deploy set of
    # that license with the four system permissions, assigned to the user.
    psl = _psl(admin)
    admin.PermissionSetLicenseAssign.create({"AssigneeId": user_id, "PermissionSetLicenseId": psl})
    deployer = admin.PermissionSet.create(
        {
            "Name": "lead2loyalty_deploy",
            "Label": "lead2loyalty deploy",
            "LicenseId": psl,
            **dict.fromkeys(DEPLOY_PERMISSIONS, True),
        }
    )["id"]
    admin.PermissionSetAssignment.create({"AssigneeId": user_id, "PermissionSetId": deployer})

    # Step 4: fields deploy, L2L_Read assigned to the admin; the admin deploys the exported
    # Flows (as `sf project deploy start` would: localorg serves them from the source).
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
    assert report["license_assigned"] is False  # the admin assigned it in step 3
    # Task follows its parent: no object permission of its own
    assert sorted(report["objects_granted"]) == [
        "Account",
        "Case",
        "Contact",
        "EmailMessage",
        "Lead",
        "Order",
    ]
    assert {"Contact.Email", "Lead.Email", "Order.TotalAmount"} <= set(report["fields_readable"])
    found = _l2l_set(org)
    assert found is not None
    assert found[1] == psl  # the set carries the Salesforce API Integration license
    assert not org.store.execute(
        'SELECT 1 FROM "ObjectPermissions" WHERE "SobjectType" = \'OrderItem\''
    )

    # Doctor after the deploy: every line ok (Orders are on, the quota is fresh).
    code, checks = _doctor()
    assert code == 0, [c for c in checks.values() if c["status"] != "ok"]
    # The tests' SQLite file sits in pytest's temporary folder, which doctor rightly warns
    # about; a PostgreSQL server's data is no file of ours.
    assert checks.pop("database")["status"] == ("ok" if ON_POSTGRES else "warn")
    assert all(c["status"] == "ok" for c in checks.values())
    assert checks["fields read from Lead"]["status"] == "ok"

    # The sync writes every value.
    ids = seed(org, 3, [("2026-03-01", 12.5), ("2026-04-01", 7.5)])
    result = _cli("sync", "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["status"] == "succeeded"
    assert run["writes"]["succeeded"] == 3
    assert field_values(org, ids, ("L2L_Order_Count__c", "L2L_Revenue__c")) == dict.fromkeys(
        ids, (2, 20.0)
    )

    # Step 3's set can go once the deploy is done: the sync needs only L2L_Integration.
    [row] = admin.query(
        f"SELECT Id FROM PermissionSetAssignment WHERE PermissionSetId = '{deployer}'"
    )["records"]
    admin.PermissionSetAssignment.delete(row["Id"])
    code, checks = _doctor()
    assert code == 0, [c for c in checks.values() if c["status"] == "fail"]


def _profile_grants(org: LocalOrg, *permissions: str) -> None:
    """What an admin does in Setup to the integration profile (Help: its other permissions
    can be changed): give its own permission set ``permissions``."""
    with as_user(None), org.store.transaction() as conn:
        for permission in permissions:
            conn.execute(
                f'UPDATE "PermissionSet" SET "{permission}" = 1 WHERE "IsOwnedByProfile" = 1 '
                'AND "ProfileId" = (SELECT "ProfileId" FROM "User" WHERE "Id" = ?)',
                (org.store.integration_user_id,),
            )


def test_an_integration_user_without_the_license_is_given_it_or_told_what_the_admin_must_do(
    integration_org: LocalOrg,
) -> None:
    """The deploy rights on the profile itself, the license not assigned: without Manage
    Users the deploy stops before changing anything and names the license; with it, the deploy
    assigns the license first, then the set."""
    org = integration_org
    _profile_grants(org, *DEPLOY_PERMISSIONS)
    blocked = _cli("fields", "deploy")
    assert blocked.exit_code == 1
    assert "Salesforce API Integration permission set license" in blocked.output
    assert f"sf org assign permsetlicense --name {PSL}" in blocked.output
    assert '"Manage Users"' in blocked.output
    assert _l2l_set(org) is None
    with as_user(None):
        assert org.store.objects["Contact"].field("L2L_Order_Count__c") is None

    _profile_grants(org, "PermissionsManageUsers")
    deployed = _cli("fields", "deploy", "--json")
    assert deployed.exit_code == 0, deployed.output
    report = json.loads(deployed.stdout)
    assert report["license_assigned"] is True
    assert report["assigned"] is True
    assert org.store.execute('SELECT 1 FROM "PermissionSetLicenseAssign"')
    again = json.loads(_cli("fields", "deploy", "--json").stdout)
    assert again["license_assigned"] is False
    assert again["created"] == again["objects_granted"] == again["fields_readable"] == []


def test_a_set_made_without_the_license_stops_the_deploy_before_any_change(
    integration_org: LocalOrg, localorg_server: Running
) -> None:
    """A set's license is chosen when it is made: an L2L_Integration made for a Salesforce
    user cannot serve an integration user, and the deploy says what the admin must do."""
    org = integration_org
    admin = admin_salesforce(localorg_server, org)
    admin.PermissionSet.create({"Name": PERMISSION_SET, "Label": "made by hand"})
    _profile_grants(org, *DEPLOY_PERMISSIONS, "PermissionsManageUsers")
    blocked = _cli("fields", "deploy")
    assert blocked.exit_code == 1
    assert "exists without the Salesforce API Integration permission set license" in (
        blocked.output
    )
    assert "deletes L2L_Integration" in blocked.output
    assert not org.store.execute('SELECT 1 FROM "PermissionSetLicenseAssign"')
    with as_user(None):
        assert org.store.objects["Contact"].field("L2L_Order_Count__c") is None


def test_a_hidden_standard_field_fails_doctor_and_the_pull_by_name(
    integration_org: LocalOrg, localorg_server: Running
) -> None:
    """describe drops a field field-level security hides; the pull then refuses to run short
    (leads and contacts would stop matching without Email) and names the field."""
    org = integration_org
    _profile_grants(org, *DEPLOY_PERMISSIONS, "PermissionsManageUsers")
    assert _cli("fields", "deploy").exit_code == 0
    seed(org, 2, [("2026-03-01", 10.0)])
    admin = admin_salesforce(localorg_server, org)
    [grant] = admin.query(
        "SELECT Id FROM FieldPermissions WHERE Field = 'Lead.Email' "
        f"AND Parent.Name = '{PERMISSION_SET}'"
    )["records"]
    admin.FieldPermissions.delete(grant["Id"])
    code, checks = _doctor()
    assert code == 1
    assert checks["fields read from Lead"]["status"] == "fail"
    assert "Email" in checks["fields read from Lead"]["detail"]
    assert checks["fields read from Contact"]["status"] == "ok"
    result = _cli("sync", "--json")
    assert result.exit_code == 1
    run = json.loads(result.stdout)
    assert run["status"] == "failed"
    assert any("pull Lead" in e and "Email" in e for e in run["errors"]), run["errors"]
    # fields deploy grants it again, and the sync runs
    assert _cli("fields", "deploy").exit_code == 0
    assert _cli("sync", "--json").exit_code == 0

"""The rules Salesforce applies when permission objects are saved, as localorg enforces them.

Each test names its source (see also localorg/permission_rules.py):

- No ObjectPermissions for objects whose access follows a parent (Order Product, Opportunity
  Product, Price Book Entry; Task, Event, User): INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST,
  jetstreamapp/jetstream PR #1982 and issue #1981.
- Flags within an ObjectPermissions row: Object Reference, "ObjectPermissions"
  https://developer.salesforce.com/docs/platform/object-reference/references/standard-objects/object-objectpermissions.html
  with the message form of trailheadapps/apex-recipes #22 ("Permission Read Account depends
  on permission(s): Read Contact", an org with person accounts).
- System permissions: FIELD_INTEGRITY_EXCEPTION "Permission CustomizeApplication depends on
  permission(s): ..." (SalesforceFoundation/NPSP PR #3979); Salesforce Help, "User
  Permissions" (dependencies evaluated on save); Tooling API "PermissionDependency".
- Permission set licenses: Salesforce Help, "Give Integration Users API Only Access"
  https://help.salesforce.com/s/articleView?id=platform.integration_user.htm ; Object
  Reference, "PermissionSetLicense".
- Field-level security on standard fields: Object Reference, "FieldPermissions"; Tooling API,
  "EntityParticle" (IsPermissionable); salesforce.stackexchange 408569 for the integration
  profile (second hand: localorg takes the strict choice, no field without a grant).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from localorg.features import OrgFeatures
from localorg.org import LocalOrg
from localorg.server import Running
from tests.conftest import admin_salesforce
from tests.support import grant_permissions, serve_fresh


def _error(exc: pytest.ExceptionInfo[Any]) -> tuple[str, str]:
    body = exc.value.content[0]
    return str(body["errorCode"]), str(body["message"])


@pytest.fixture
def admin(localorg_server: Running, minimal_org: LocalOrg) -> Salesforce:
    return admin_salesforce(localorg_server, minimal_org)


@pytest.fixture
def integration_org(localorg_server: Running) -> LocalOrg:
    """A fresh org whose API user is the README's: Salesforce Integration license, Minimum
    Access - API Only Integrations profile (``localorg serve --user integration``)."""
    config = dataclasses.replace(
        localorg_server.org.config, daily_limit=1_000_000, api_user="integration"
    )
    return serve_fresh(localorg_server, config)


@pytest.mark.parametrize("sobject", ["OrderItem", "Task", "User"])
def test_no_object_permissions_for_objects_that_follow_a_parent(
    admin: Salesforce, sobject: str
) -> None:
    set_id = admin.PermissionSet.create({"Name": "Objects", "Label": "Objects"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.ObjectPermissions.create(
            {"ParentId": set_id, "SobjectType": sobject, "PermissionsRead": True}
        )
    code, message = _error(info)
    assert code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert sobject in message


def test_an_order_product_follows_its_order_and_keeps_field_security(
    admin: Salesforce, minimal_org: LocalOrg, localorg_server: Running
) -> None:
    """FieldPermissions.SobjectType keeps the children (jetstream PR #1982): OrderItem's fields
    are granted one by one, its object access is Order's."""
    user = localorg_server.salesforce()
    set_id = grant_permissions(admin, minimal_org.store.integration_user_id, ())
    with pytest.raises(SalesforceMalformedRequest):
        user.query("SELECT Id FROM OrderItem")
    admin.ObjectPermissions.create(
        {"ParentId": set_id, "SobjectType": "Order", "PermissionsRead": True}
    )
    assert user.query("SELECT Id, Quantity FROM OrderItem")["totalSize"] == 0
    described = {f["name"] for f in user.OrderItem.describe()["fields"]}
    assert {"Quantity", "UnitPrice", "OrderId"} <= described  # required: never hidden
    assert "Description" not in described  # permissionable: hidden until granted
    admin.FieldPermissions.create(
        {
            "ParentId": set_id,
            "SobjectType": "OrderItem",
            "Field": "OrderItem.Description",
            "PermissionsRead": True,
        }
    )
    assert "Description" in {f["name"] for f in user.OrderItem.describe()["fields"]}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            {"PermissionsEdit": True},
            "Permission Edit Contact depends on permission(s): Read Contact",
        ),
        (
            {"PermissionsRead": True, "PermissionsDelete": True},
            "Permission Delete Contact depends on permission(s): Edit Contact",
        ),
        (
            {"PermissionsRead": True, "PermissionsModifyAllRecords": True},
            "Permission Modify All Contact depends on permission(s): Edit Contact, "
            "Delete Contact, View All Contact",
        ),
    ],
)
def test_object_flags_need_the_flags_they_depend_on(
    admin: Salesforce, flags: dict[str, bool], message: str
) -> None:
    set_id = admin.PermissionSet.create({"Name": "Flags", "Label": "Flags"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.ObjectPermissions.create({"ParentId": set_id, "SobjectType": "Contact", **flags})
    assert _error(info) == ("FIELD_INTEGRITY_EXCEPTION", message)


def test_an_update_cannot_take_away_a_dependency(admin: Salesforce) -> None:
    set_id = admin.PermissionSet.create({"Name": "Upd", "Label": "Upd"})["id"]
    row = admin.ObjectPermissions.create(
        {
            "ParentId": set_id,
            "SobjectType": "Lead",
            "PermissionsRead": True,
            "PermissionsEdit": True,
        }
    )["id"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.ObjectPermissions.update(row, {"PermissionsRead": False})
    assert _error(info)[0] == "FIELD_INTEGRITY_EXCEPTION"


def test_person_account_orgs_need_contact_read_before_account_read(
    localorg_server: Running, org: LocalOrg
) -> None:
    """apex-recipes #22 / #57: "Permission Read Account depends on permission(s): Read
    Contact" in orgs with person accounts; the Contact row first, then Account is taken."""
    config = dataclasses.replace(org.config, features=OrgFeatures(person_accounts=True))
    fresh = serve_fresh(localorg_server, config)
    admin = admin_salesforce(localorg_server, fresh)
    set_id = admin.PermissionSet.create({"Name": "Persons", "Label": "Persons"})["id"]
    account = {"ParentId": set_id, "SobjectType": "Account", "PermissionsRead": True}
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.ObjectPermissions.create(account)
    assert _error(info) == (
        "FIELD_INTEGRITY_EXCEPTION",
        "Permission Read Account depends on permission(s): Read Contact",
    )
    admin.ObjectPermissions.create(
        {"ParentId": set_id, "SobjectType": "Contact", "PermissionsRead": True}
    )
    admin.ObjectPermissions.create(account)


def test_system_permissions_need_their_dependencies_in_the_same_save(admin: Salesforce) -> None:
    """NPSP PR #3979: FIELD_INTEGRITY_EXCEPTION "Permission CustomizeApplication depends on
    permission(s): ..."; Help "User Permissions": the dependency may be turned on in the same
    save."""
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.PermissionSet.create(
            {"Name": "Cust", "Label": "Cust", "PermissionsCustomizeApplication": True}
        )
    assert _error(info) == (
        "FIELD_INTEGRITY_EXCEPTION",
        "Permission CustomizeApplication depends on permission(s): ViewSetup",
    )
    set_id = admin.PermissionSet.create(
        {
            "Name": "Cust",
            "Label": "Cust",
            "PermissionsCustomizeApplication": True,
            "PermissionsViewSetup": True,
        }
    )["id"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.PermissionSet.update(set_id, {"PermissionsViewSetup": False})
    assert _error(info)[0] == "FIELD_INTEGRITY_EXCEPTION"
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.PermissionSet.update(set_id, {"PermissionsModifyAllData": True})
    assert "ModifyAllData depends on permission(s): ViewAllData" in _error(info)[1]


def test_an_integration_user_takes_only_api_integration_sets_and_only_with_the_license(
    localorg_server: Running, integration_org: LocalOrg
) -> None:
    """Help, "Give Integration Users API Only Access": the Salesforce Integration license
    makes the API-only profile and the Salesforce API Integration permission set license
    available; the user must hold that license for sets tied to it."""
    org = integration_org
    admin = admin_salesforce(localorg_server, org)
    me = org.store.integration_user_id
    profile = admin.query(
        f"SELECT Profile.Name, Profile.UserLicenseId FROM User WHERE Id = '{me}'"
    )["records"][0]["Profile"]
    assert profile["Name"] == "Minimum Access - API Only Integrations"
    license_name = admin.query(
        f"SELECT Name FROM UserLicense WHERE Id = '{profile['UserLicenseId']}'"
    )["records"][0]["Name"]
    assert license_name == "Salesforce Integration"
    [psl] = admin.query(
        "SELECT Id, MasterLabel FROM PermissionSetLicense "
        "WHERE DeveloperName = 'SalesforceAPIIntegrationPsl'"
    )["records"]
    assert psl["MasterLabel"] == "Salesforce API Integration"

    plain = admin.PermissionSet.create({"Name": "Plain", "Label": "Plain"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.PermissionSetAssignment.create({"AssigneeId": me, "PermissionSetId": plain})
    code, message = _error(info)
    assert code == "FIELD_INTEGRITY_EXCEPTION"
    assert "Salesforce API Integration" in message
    licensed = admin.PermissionSet.create(
        {"Name": "Licensed", "Label": "Licensed", "LicenseId": psl["Id"]}
    )["id"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.PermissionSetAssignment.create({"AssigneeId": me, "PermissionSetId": licensed})
    assert "has not been assigned" in _error(info)[1]
    admin.PermissionSetLicenseAssign.create({"AssigneeId": me, "PermissionSetLicenseId": psl["Id"]})
    admin.PermissionSetAssignment.create({"AssigneeId": me, "PermissionSetId": licensed})
    # The license is for integration users only; the admin (Salesforce license) cannot hold it.
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.PermissionSetLicenseAssign.create(
            {"AssigneeId": org.admin_user_id, "PermissionSetLicenseId": psl["Id"]}
        )
    assert _error(info)[0] == "FIELD_INTEGRITY_EXCEPTION"
    # A set's license is chosen when it is made.
    with pytest.raises(SalesforceMalformedRequest):
        admin.PermissionSet.update(plain, {"LicenseId": psl["Id"]})


def test_assigning_a_permission_set_license_needs_manage_users(
    localorg_server: Running, integration_org: LocalOrg
) -> None:
    org = integration_org
    admin = admin_salesforce(localorg_server, org)
    me = org.store.integration_user_id
    psl = admin.query(
        "SELECT Id FROM PermissionSetLicense WHERE DeveloperName = 'SalesforceAPIIntegrationPsl'"
    )["records"][0]["Id"]
    admin.PermissionSetLicenseAssign.create({"AssigneeId": me, "PermissionSetLicenseId": psl})
    setup = admin.PermissionSet.create(
        {"Name": "Setup", "Label": "Setup", "LicenseId": psl, "PermissionsViewSetup": True}
    )["id"]
    admin.PermissionSetAssignment.create({"AssigneeId": me, "PermissionSetId": setup})
    user = localorg_server.salesforce()
    other = org.store.add_user("someone@localorg.test", "Someone")
    with pytest.raises(SalesforceMalformedRequest) as info:
        user.PermissionSetLicenseAssign.create({"AssigneeId": other, "PermissionSetLicenseId": psl})
    assert _error(info)[0] == "INSUFFICIENT_ACCESS_OR_READONLY"


def test_standard_fields_are_hidden_from_a_minimal_profile_until_granted(
    admin: Salesforce, minimal_org: LocalOrg, localorg_server: Running
) -> None:
    """Field-level security applies to standard fields that are neither required nor system
    fields; describe drops a hidden field and SOQL refuses it (INVALID_FIELD)."""
    user = localorg_server.salesforce()
    set_id = grant_permissions(admin, minimal_org.store.integration_user_id, ())
    admin.ObjectPermissions.create(
        {"ParentId": set_id, "SobjectType": "Lead", "PermissionsRead": True}
    )
    described = {f["name"] for f in user.Lead.describe()["fields"]}
    assert {"Id", "LastName", "Company", "Status", "SystemModstamp"} <= described
    assert not {"Email", "LeadSource", "Industry", "Rating"} & described
    with pytest.raises(SalesforceMalformedRequest) as info:
        user.query("SELECT Email FROM Lead")
    assert _error(info)[0] == "INVALID_FIELD"
    admin.FieldPermissions.create(
        {"ParentId": set_id, "SobjectType": "Lead", "Field": "Lead.Email", "PermissionsRead": True}
    )
    fields = {f["name"]: f for f in user.Lead.describe()["fields"]}
    assert "Email" in fields
    assert fields["Email"]["updateable"] is False  # read, not edit
    # The admin's profile grants every standard field.
    assert {"Email", "LeadSource"} <= {f["name"] for f in admin.Lead.describe()["fields"]}
    # Required and system fields are not under field-level security: no grant names them.
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.FieldPermissions.create(
            {
                "ParentId": set_id,
                "SobjectType": "Lead",
                "Field": "Lead.LastName",
                "PermissionsRead": True,
            }
        )
    assert _error(info)[0] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_entity_particle_says_which_fields_take_a_grant(
    admin: Salesforce, minimal_org: LocalOrg
) -> None:
    """Tooling API, "EntityParticle": IsPermissionable."""
    rows = admin.toolingexecute(
        "query/?q=SELECT+QualifiedApiName,IsPermissionable+FROM+EntityParticle+"
        "WHERE+EntityDefinitionId='Contact'"
    )["records"]
    flags = {r["QualifiedApiName"]: r["IsPermissionable"] for r in rows}
    assert flags["Email"] is True
    assert flags["LastName"] is False
    assert flags["Id"] is False

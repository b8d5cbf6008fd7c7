"""Access as Salesforce enforces it: profiles, assigned permission sets, system permissions.

Each test names the documentation it follows (see also localorg/access.py):

- Object Reference, "FieldPermissions":
  https://developer.salesforce.com/docs/platform/object-reference/references/standard-objects/object-fieldpermissions.html
- Object Reference, "PermissionSetAssignment" (Special Access Rules):
  https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_objects_permissionsetassignment.htm
- Object Reference, "ObjectPermissions":
  https://developer.salesforce.com/docs/platform/object-reference/references/standard-objects/object-objectpermissions.html
- Tooling API, "CustomField" / "FieldDefinition":
  https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/tooling_api_objects_customfield.htm
- API_DISABLED_FOR_ORG in the REST shape: https://docs.sequin.io/integrations/salesforce/playbooks/enable-salesforce-api
- INVALID_TYPE for an object the user cannot access: jsforce/jsforce #1404,
  afawcett/apex-toolingapi #19
- No field-level security for fields made through the Tooling/Metadata API:
  simple-salesforce/simple-salesforce #621, restforce/restforce #353
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from localorg.access import SYSTEM_PERMISSIONS
from localorg.org import LocalOrg
from localorg.schema import _SYSTEM_PERMISSIONS
from localorg.server import Running
from tests.conftest import admin_salesforce
from tests.support import grant_permissions

FIELD = {
    "FullName": "Contact.L2L_Tier__c",
    "Metadata": {"label": "Tier", "type": "Text", "length": 20},
}


@pytest.fixture
def user(localorg_server: Running, minimal_org: LocalOrg) -> Salesforce:
    """simple-salesforce signed in as the minimal-profile API user."""
    return localorg_server.salesforce()


@pytest.fixture
def admin(localorg_server: Running, minimal_org: LocalOrg) -> Salesforce:
    """simple-salesforce signed in as the org's administrator."""
    return admin_salesforce(localorg_server, minimal_org)


def _code(exc: pytest.ExceptionInfo[Any]) -> str:
    return str(exc.value.content[0]["errorCode"])


def test_every_system_permission_is_a_permission_set_field() -> None:
    assert tuple(SYSTEM_PERMISSIONS) == _SYSTEM_PERMISSIONS


def test_minimal_user_cannot_see_data_objects_until_granted(
    user: Salesforce, admin: Salesforce, minimal_org: LocalOrg
) -> None:
    """Object Reference, "ObjectPermissions": object access comes from ObjectPermissions of a
    set assigned to the user. Without it, SOQL answers INVALID_TYPE (jsforce #1404) and the
    object's REST resources 404."""
    with pytest.raises(SalesforceMalformedRequest) as info:
        user.query("SELECT Id FROM Contact")
    assert _code(info) == "INVALID_TYPE"
    assert "sObject type 'Contact' is not supported" in info.value.content[0]["message"]
    with pytest.raises(SalesforceResourceNotFound):
        user.Contact.describe()
    assert "Contact" not in {o["name"] for o in user.describe()["sobjects"]}

    set_id = grant_permissions(admin, minimal_org.store.integration_user_id, ())
    admin.ObjectPermissions.create(
        {"ParentId": set_id, "SobjectType": "Contact", "PermissionsRead": True}
    )
    assert user.query("SELECT COUNT() FROM Contact")["totalSize"] == 0
    described = user.Contact.describe()
    assert described["updateable"] is False
    assert described["createable"] is False
    with pytest.raises(SalesforceMalformedRequest) as info:
        user.Contact.create({"LastName": "Refused"})
    assert _code(info) == "INSUFFICIENT_ACCESS_OR_READONLY"


def test_a_user_without_api_enabled_is_refused_every_call(
    localorg_server: Running, minimal_org: LocalOrg
) -> None:
    """API Enabled gates every REST call: 403 API_DISABLED_FOR_ORG (the REST error body
    quoted in Sequin's "Enable Salesforce API Access")."""
    with minimal_org.store.transaction() as conn:
        conn.execute('UPDATE "PermissionSet" SET "PermissionsApiEnabled" = 0')
    sf = localorg_server.salesforce()
    with pytest.raises(SalesforceRefusedRequest) as info:
        sf.limits()
    assert info.value.content[0] == {
        "message": "The REST API is not enabled for this Organization.",
        "errorCode": "API_DISABLED_FOR_ORG",
        "fields": [],
    }
    assert info.value.status == 403


def test_permission_objects_need_view_setup_and_assignments_need_assign_permission_sets(
    user: Salesforce, admin: Salesforce, minimal_org: LocalOrg
) -> None:
    """FieldPermissions / ObjectPermissions: View Setup and Configuration (API 49.0+).
    PermissionSet: View Setup, Assign Permission Sets or Manage Profiles and Permission Sets.
    PermissionSetAssignment: View Setup, Assign Permission Sets or Manage Users (Object
    Reference, Special Access Rules)."""
    for sobject in ("FieldPermissions", "ObjectPermissions", "PermissionSet"):
        with pytest.raises(SalesforceMalformedRequest) as info:
            user.query(f"SELECT Id FROM {sobject}")
        assert _code(info) == "INVALID_TYPE", sobject
    me = minimal_org.store.integration_user_id
    grant_permissions(admin, me, ("PermissionsAssignPermissionSets",), "Assigner")
    # Assign Permission Sets alone opens PermissionSetAssignment and PermissionSet (Object
    # Reference, "PermissionSet", Special Access Rules), not the grants inside the sets
    assert user.query(f"SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = '{me}'")
    assert user.query("SELECT Id FROM PermissionSet")["totalSize"] >= 3
    for sobject in ("FieldPermissions", "ObjectPermissions"):
        with pytest.raises(SalesforceMalformedRequest):
            user.query(f"SELECT Id FROM {sobject}")
    grant_permissions(admin, me, ("PermissionsViewSetup",), "Viewer")
    assert user.query("SELECT Id FROM FieldPermissions")["totalSize"] >= 0
    # Reading is not writing: creating a permission set needs Manage Profiles and Permission Sets
    with pytest.raises(SalesforceMalformedRequest) as info:
        user.PermissionSet.create({"Name": "Mine", "Label": "Mine"})
    assert _code(info) == "INSUFFICIENT_ACCESS_OR_READONLY"


def test_assigning_needs_assign_permission_sets_and_is_unique(
    user: Salesforce, admin: Salesforce, minimal_org: LocalOrg
) -> None:
    me = minimal_org.store.integration_user_id
    target = admin.PermissionSet.create({"Name": "Target", "Label": "Target"})["id"]
    grant_permissions(admin, me, ("PermissionsViewSetup",), "Viewer")
    with pytest.raises(SalesforceMalformedRequest) as info:
        user.PermissionSetAssignment.create({"AssigneeId": me, "PermissionSetId": target})
    assert _code(info) == "INSUFFICIENT_ACCESS_OR_READONLY"
    grant_permissions(admin, me, ("PermissionsAssignPermissionSets",), "Assigner")
    user.PermissionSetAssignment.create({"AssigneeId": me, "PermissionSetId": target})
    with pytest.raises(SalesforceMalformedRequest) as info:
        user.PermissionSetAssignment.create({"AssigneeId": me, "PermissionSetId": target})
    assert _code(info) == "DUPLICATE_VALUE"


def test_tooling_field_creation_needs_customize_application(
    user: Salesforce, admin: Salesforce, minimal_org: LocalOrg
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        user.toolingexecute("sobjects/CustomField/", method="POST", json=FIELD)
    assert _code(info) == "INSUFFICIENT_ACCESS_OR_READONLY"
    assert minimal_org.store.objects["Contact"].field("L2L_Tier__c") is None
    # Customize Application depends on View Setup and Configuration (permission_rules, 4)
    grant_permissions(
        admin,
        minimal_org.store.integration_user_id,
        ("PermissionsViewSetup", "PermissionsCustomizeApplication"),
    )
    created = user.toolingexecute("sobjects/CustomField/", method="POST", json=FIELD)
    assert created["id"].startswith("00N")


def test_a_tooling_field_is_invisible_even_to_an_admin_until_an_assigned_set_grants_it(
    admin: Salesforce, user: Salesforce, minimal_org: LocalOrg
) -> None:
    """No field-level security on any profile for Tooling-created fields (simple-salesforce
    #621); a FieldPermissions row counts only once its set is assigned (Object Reference,
    "FieldPermissions")."""
    admin.toolingexecute("sobjects/CustomField/", method="POST", json=FIELD)
    assert "L2L_Tier__c" not in {f["name"] for f in admin.Contact.describe()["fields"]}
    set_id = admin.PermissionSet.create({"Name": "Tier", "Label": "Tier"})["id"]
    grant = {
        "ParentId": set_id,
        "SobjectType": "Contact",
        "Field": "Contact.L2L_Tier__c",
        "PermissionsRead": True,
        "PermissionsEdit": False,
    }
    row = admin.FieldPermissions.create(grant)["id"]
    assert "L2L_Tier__c" not in {f["name"] for f in admin.Contact.describe()["fields"]}
    admin.PermissionSetAssignment.create(
        {"AssigneeId": minimal_org.admin_user_id, "PermissionSetId": set_id}
    )
    fields = {f["name"]: f for f in admin.Contact.describe()["fields"]}
    assert fields["L2L_Tier__c"]["updateable"] is False  # read-only grant
    # One row per (ParentId, Field): a second grant is refused, the first one is upgraded.
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.FieldPermissions.create({**grant, "PermissionsEdit": True})
    assert _code(info) == "DUPLICATE_VALUE"
    admin.FieldPermissions.update(row, {"PermissionsEdit": True})
    fields = {f["name"]: f for f in admin.Contact.describe()["fields"]}
    assert fields["L2L_Tier__c"]["updateable"] is True
    # The API user, reading Contact through a set of its own, still cannot see the field:
    # the admin's set is not assigned to it.
    mine = grant_permissions(admin, minimal_org.store.integration_user_id, (), "Reader")
    admin.ObjectPermissions.create(
        {"ParentId": mine, "SobjectType": "Contact", "PermissionsRead": True}
    )
    with pytest.raises(SalesforceMalformedRequest) as info:
        user.query("SELECT L2L_Tier__c FROM Contact")
    assert _code(info) == "INVALID_FIELD"


def test_a_grant_must_name_an_existing_field(admin: Salesforce) -> None:
    """FieldPermissions.Field is a restricted picklist of the org's fields."""
    set_id = admin.PermissionSet.create({"Name": "Bad", "Label": "Bad"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as info:
        admin.FieldPermissions.create(
            {
                "ParentId": set_id,
                "SobjectType": "Contact",
                "Field": "Contact.Nope__c",
                "PermissionsRead": True,
            }
        )
    assert _code(info) == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


def test_tooling_queries_see_fields_field_security_hides(
    user: Salesforce, admin: Salesforce, minimal_org: LocalOrg
) -> None:
    """CustomField and FieldDefinition describe the org's metadata, not what the user may
    read (Tooling API Developer Guide); they need View Setup and Configuration."""
    admin.toolingexecute("sobjects/CustomField/", method="POST", json=FIELD)
    query = "query/?q=SELECT+Id,DeveloperName,TableEnumOrId+FROM+CustomField"
    with pytest.raises(SalesforceMalformedRequest) as info:
        user.toolingexecute(query)
    assert _code(info) == "INVALID_TYPE"
    grant_permissions(admin, minimal_org.store.integration_user_id, ("PermissionsViewSetup",))
    body = user.toolingexecute(query)
    assert body["done"] is True
    assert body["entityTypeName"] == "CustomField"
    rows = {(r["TableEnumOrId"], r["DeveloperName"]): r for r in body["records"]}
    # the new field, and the seeded store's own custom fields on Order
    assert ("Contact", "L2L_Tier") in rows
    assert ("Order", "Sales_Channel") in rows
    assert rows[("Contact", "L2L_Tier")]["Id"].startswith("00N")
    assert rows[("Contact", "L2L_Tier")]["attributes"]["type"] == "CustomField"
    definitions = user.toolingexecute(
        "query/?q=SELECT+QualifiedApiName,DataType,EntityDefinition.QualifiedApiName+"
        "FROM+FieldDefinition+WHERE+EntityDefinition.QualifiedApiName='Contact'"
    )["records"]
    names = {r["QualifiedApiName"]: r for r in definitions}
    assert "L2L_Tier__c" in names
    assert "Email" in names
    assert names["L2L_Tier__c"]["EntityDefinition"]["QualifiedApiName"] == "Contact"
    particles = user.toolingexecute(
        "query/?q=SELECT+QualifiedApiName+FROM+EntityParticle+WHERE+"
        "EntityDefinitionId='Contact'+AND+QualifiedApiName='L2L_Tier__c'"
    )["records"]
    assert [p["QualifiedApiName"] for p in particles] == ["L2L_Tier__c"]


def test_the_token_and_userinfo_name_the_signed_in_user(
    localorg_server: Running, minimal_org: LocalOrg, http: requests.Session
) -> None:
    """The token response's identity URL ends in the user id (Salesforce Help, "Identity
    URLs"); /services/oauth2/userinfo answers user_id for the bearer (Help, "UserInfo
    Endpoint")."""
    token = localorg_server.token(http)
    user_id = minimal_org.store.integration_user_id
    assert token["id"].rsplit("/", 1)[-1] == user_id
    info = http.get(
        minimal_org.instance_url + "/services/oauth2/userinfo",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    ).json()
    assert info["user_id"] == user_id
    assert info["preferred_username"] == minimal_org.config.username


def test_admin_and_api_user_are_listed_with_their_profiles(admin: Salesforce) -> None:
    rows = admin.query(
        "SELECT PermissionSet.IsOwnedByProfile, PermissionSet.PermissionsApiEnabled, "
        "PermissionSet.PermissionsCustomizeApplication, Assignee.Username "
        "FROM PermissionSetAssignment"
    )["records"]
    by_user = {r["Assignee"]["Username"]: r["PermissionSet"] for r in rows}
    assert by_user["integration@localorg.test"]["IsOwnedByProfile"] is True
    assert by_user["integration@localorg.test"]["PermissionsApiEnabled"] is True
    assert by_user["integration@localorg.test"]["PermissionsCustomizeApplication"] is False
    assert by_user["admin@localorg.test"]["PermissionsCustomizeApplication"] is True


def test_fail_nth_refuses_or_loses_exactly_one_call(sf: Salesforce, org: LocalOrg) -> None:
    org.faults.configure("fail_nth=sobjects:2")
    sf.Contact.create({"LastName": "First"})
    with pytest.raises(Exception, match="SERVER_UNAVAILABLE"):
        sf.Contact.create({"LastName": "Second"})
    sf.Contact.create({"LastName": "Third"})
    assert org.store.count("Contact") == 2
    org.faults.configure("fail_nth=sobjects:1:after")
    with pytest.raises(Exception, match="SERVER_UNAVAILABLE"):
        sf.Contact.create({"LastName": "Lost answer"})
    assert org.store.count("Contact") == 3  # carried out; only its answer was lost


def test_bulk_jobs_run_with_the_access_of_the_user_who_created_them(
    user: Salesforce, admin: Salesforce, minimal_org: LocalOrg
) -> None:
    """A Bulk API 2.0 job is processed later, in the background, yet as its creator: rows it
    may not create fail one by one with the object-permission error."""
    set_id = grant_permissions(admin, minimal_org.store.integration_user_id, ())
    admin.ObjectPermissions.create(
        {"ParentId": set_id, "SobjectType": "Contact", "PermissionsRead": True}
    )
    [result] = user.bulk2.Contact.insert(records=[{"LastName": "A"}, {"LastName": "B"}], wait=0.1)
    assert result["numberRecordsFailed"] == 2
    failed = user.bulk2.Contact.get_failed_records(result["job_id"])
    assert failed.count("INSUFFICIENT_ACCESS_OR_READONLY") == 2
    assert minimal_org.store.count("Contact") == 0

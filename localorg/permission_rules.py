"""The rules Salesforce applies when a permission object is saved, as pure functions.

``localorg.access`` asks these when a PermissionSet, ObjectPermissions, FieldPermissions,
PermissionSetAssignment or PermissionSetLicenseAssign row is created or changed. Each rule
with the source it follows:

1. **No object permissions for objects whose access follows another**
   (:data:`NO_OBJECT_PERMISSIONS`). ``ObjectPermissions.SobjectType`` is a restricted picklist
   that omits "any object whose record access rolls up to a parent" (Order Product, Opportunity
   Product, Price Book Entry) and Task, Event and User, while ``FieldPermissions.SobjectType``
   keeps them; saving such a row fails with INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST
   (jetstreamapp/jetstream PR #1982 and issue #1981). A child's object access is its parent's.
2. **Object permission flags depend on each other** within a row (Object Reference,
   "ObjectPermissions": Create and Edit require Read; Delete requires Read and Edit; View All
   requires Read; Modify All requires Read, Edit, Delete and View All), refused with the
   message Salesforce uses, "Permission Edit Contact depends on permission(s): Read Contact"
   (trailheadapps/apex-recipes #22).
3. **Object permissions depend across objects** where documented: in an org with person
   accounts, "Permission Read Account depends on permission(s): Read Contact"
   (trailheadapps/apex-recipes #22, #57: both orgs had person accounts, whose Account is also
   a Contact). Checked against the set's saved rows, so the Contact row must come first.
4. **System permissions depend on each other** (:data:`SYSTEM_REQUIRES`), refused with
   FIELD_INTEGRITY_EXCEPTION "Permission CustomizeApplication depends on permission(s): ..."
   (SalesforceFoundation/NPSP PR #3979). Salesforce Help, "User Permissions": dependencies are
   evaluated "as part of the current updates being made or from previous changes", so one
   save may turn on a permission and its dependency together. Customize Application needs
   View Setup and Configuration (sfdccloudninja.com, "What user permissions are dependent upon
   each other?"); Modify All Data needs View All Data (Tooling API, "PermissionDependency",
   whose example is exactly that). Manage Profiles and Permission Sets needing View Setup and
   Configuration: no source found, the strict choice.
5. **Permission set licenses** (Salesforce Help, "Give Integration Users API Only Access"):
   the *Salesforce Integration* user license makes the *Minimum Access - API Only
   Integrations* profile and the *Salesforce API Integration* permission set license
   (DeveloperName ``SalesforceAPIIntegrationPsl``) available; a user of that license gets
   more than its profile gives only through permission sets tied to that permission set
   license, and must hold the license (PermissionSetLicenseAssign) before such a set is
   assigned ("Assign the Integration PSL to that user", gist infocynic; "PSL first -
   required for the permission set's grants to apply", public integration runbooks). A set
   that requires another user license (Salesforce) cannot be assigned to it. The error code
   of a refused assignment is not documented: FIELD_INTEGRITY_EXCEPTION is our choice.
6. **Field-level security on standard fields** (:func:`permissionable`): a standard field
   that is neither required nor a system field is visible only through a FieldPermissions
   grant of the user's profile or an assigned set (Object Reference, "FieldPermissions";
   Tooling API, "EntityParticle.IsPermissionable"). Whether the *Minimum Access - API Only
   Integrations* profile reads every field is reported only second hand
   (salesforce.stackexchange 408569); the strict choice is that it grants none, so a field
   the connector reads must be granted like the ones it writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Objects ObjectPermissions refuses -> the object whose access they follow (None: their own
#: rules, not object permissions: activities follow the related record, User is always there).
#: Activities are read through the records they relate to (WhoId: Contact or Lead), not
#: through object permissions of their own (rule 1; Salesforce Help, "Guidelines for Tracking
#: Activities", activity access "Controlled by Parent"). Writing them is not modelled.
ACTIVITY_PARENTS: dict[str, tuple[str, ...]] = {
    "Task": ("Contact", "Lead"),
    "Event": ("Contact", "Lead"),
}
NO_OBJECT_PERMISSIONS: dict[str, str | None] = {
    "OrderItem": "Order",
    "OpportunityLineItem": "Opportunity",
    "PricebookEntry": "Pricebook2",
    "Task": None,
    "Event": None,
    "User": None,
}

#: ObjectPermissions flag -> the flags of the same row it requires (rule 2).
OBJECT_FLAG_REQUIRES: dict[str, tuple[str, ...]] = {
    "PermissionsCreate": ("PermissionsRead",),
    "PermissionsEdit": ("PermissionsRead",),
    "PermissionsDelete": ("PermissionsRead", "PermissionsEdit"),
    "PermissionsViewAllRecords": ("PermissionsRead",),
    "PermissionsModifyAllRecords": (
        "PermissionsRead",
        "PermissionsEdit",
        "PermissionsDelete",
        "PermissionsViewAllRecords",
    ),
}
_FLAG_WORDS = {
    "PermissionsRead": "Read",
    "PermissionsCreate": "Create",
    "PermissionsEdit": "Edit",
    "PermissionsDelete": "Delete",
    "PermissionsViewAllRecords": "View All",
    "PermissionsModifyAllRecords": "Modify All",
}

#: (object, flag) -> (object, flag) it requires in a person-account org (rule 3).
PERSON_ACCOUNT_REQUIRES: dict[tuple[str, str], tuple[str, str]] = {
    ("Account", "PermissionsRead"): ("Contact", "PermissionsRead"),
}

#: System permission -> the system permissions it requires (rule 4).
SYSTEM_REQUIRES: dict[str, tuple[str, ...]] = {
    "PermissionsCustomizeApplication": ("PermissionsViewSetup",),
    "PermissionsModifyAllData": ("PermissionsViewAllData",),
    "PermissionsManageProfilesPermissionsets": ("PermissionsViewSetup",),
}

USER_LICENSE_SALESFORCE = "Salesforce"
USER_LICENSE_INTEGRATION = "Salesforce Integration"
API_INTEGRATION_PSL = "SalesforceAPIIntegrationPsl"
API_INTEGRATION_PSL_LABEL = "Salesforce API Integration"

#: Fields of every object that field-level security never hides.
SYSTEM_FIELD_NAMES = frozenset(
    {
        "Id",
        "IsDeleted",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
        "OwnerId",
        # The parts of a person's name are the Name field to field-level security (Setup
        # lists one "Name"; no page found that grants FirstName alone).
        "Name",
        "FirstName",
        "LastName",
        "Salutation",
        "MiddleName",
    }
)


def _on(values: Mapping[str, Any], flag: str) -> bool:
    return bool(values.get(flag))


def object_flag_problems(sobject: str, values: Mapping[str, Any]) -> list[str]:
    """Rule 2: a message per flag of an ObjectPermissions row whose same-row dependency is off."""
    problems = []
    for flag, needs in OBJECT_FLAG_REQUIRES.items():
        missing = [n for n in needs if _on(values, flag) and not _on(values, n)]
        if missing:
            problems.append(dependency_message(_object_word(flag, sobject), missing, sobject))
    return problems


def _object_word(flag: str, sobject: str) -> str:
    return f"{_FLAG_WORDS[flag]} {sobject}"


def dependency_message(permission: str, missing: list[str], sobject: str | None = None) -> str:
    """Salesforce's wording: "Permission X depends on permission(s): Y, Z"."""
    words = [
        _object_word(m, sobject) if sobject is not None else m.removeprefix("Permissions")
        for m in missing
    ]
    return f"Permission {permission} depends on permission(s): {', '.join(words)}"


def cross_object_problems(
    sobject: str, values: Mapping[str, Any], held: Mapping[str, frozenset[str]]
) -> list[str]:
    """Rule 3 (person-account orgs): ``held`` is object -> flags the set's other rows grant."""
    problems = []
    for (obj, flag), (needed_obj, needed_flag) in PERSON_ACCOUNT_REQUIRES.items():
        if obj == sobject and _on(values, flag) and needed_flag not in held.get(needed_obj, ()):
            problems.append(
                f"Permission {_object_word(flag, obj)} depends on permission(s): "
                f"{_object_word(needed_flag, needed_obj)}"
            )
    return problems


def system_problems(values: Mapping[str, Any]) -> list[str]:
    """Rule 4: a message per system permission of a PermissionSet whose dependency is off."""
    problems = []
    for permission, needs in SYSTEM_REQUIRES.items():
        missing = [n for n in needs if _on(values, permission) and not _on(values, n)]
        if missing:
            problems.append(dependency_message(permission.removeprefix("Permissions"), missing))
    return problems


def permissionable(field_name: str, *, custom: bool, required: bool) -> bool:
    """Rule 6: True when field-level security applies to the field (FieldPermissions may name
    it, and the user sees it only when a grant does)."""
    if custom:
        return True
    return not required and field_name not in SYSTEM_FIELD_NAMES

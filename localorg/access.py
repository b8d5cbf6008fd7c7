"""Who may do what in a local org: profiles, permission sets, their assignments.

Every API call runs as a user (the one whose token it carries). What that user may do is the
union of its profile's permission set and every permission set assigned to it through a
``PermissionSetAssignment``, as in Salesforce. The rules, each with the page it follows:

- **API Enabled** (``PermissionsApiEnabled``) for every REST call, else ``403
  API_DISABLED_FOR_ORG`` "The REST API is not enabled for this Organization." (the REST shape
  shown by Sequin's "Enable Salesforce API Access",
  https://docs.sequin.io/integrations/salesforce/playbooks/enable-salesforce-api).
- **Object access** through ``ObjectPermissions`` (Object Reference, "ObjectPermissions"):
  an object the user cannot read does not exist for it: describe and ``sobjects/<name>`` answer
  ``404 NOT_FOUND``, SOQL ``INVALID_TYPE`` "sObject type '<name>' is not supported..." (what a
  user without access gets: jsforce/jsforce #1404, afawcett/apex-toolingapi #19). Create, edit
  and delete need their own flags, else ``INSUFFICIENT_ACCESS_OR_READONLY`` (StatusCode enum;
  "Insufficient access rights on object id", agentforceaccess.com).
- **Field access** to custom fields only through ``FieldPermissions`` of a permission set
  assigned to the user: "To grant a user access to a field, associate a FieldPermissions record
  with a PermissionSet that's assigned to a user" (Object Reference, "FieldPermissions").
  Fields created through the Tooling or Metadata API get no field-level security on any
  profile (simple-salesforce #621, restforce #353), so not even an administrator sees them
  until a set assigned to it grants them.
- **Setup objects**: FieldPermissions and ObjectPermissions can be read only with **View
  Setup and Configuration** (Object Reference, "FieldPermissions": "In API version 49.0 and
  later, only users with the View Setup and Configuration permission can access this
  object"; "ObjectPermissions" likewise); PermissionSet with View Setup and Configuration,
  Assign Permission Sets or Manage Profiles and Permission Sets (Object Reference,
  "PermissionSet", Special Access Rules); PermissionSetAssignment with View Setup and
  Configuration, **Assign Permission Sets** or **Manage Users** (Object Reference,
  "PermissionSetAssignment", Special Access Rules).
  Creating or changing permission sets and their rows needs **Manage Profiles and
  Permission Sets** (the Setup permission of that name; the exact API refusal is not
  documented); creating an assignment needs Assign Permission Sets or Manage Users.
- **Customize Application** to create a field through the Tooling API (the profile permission
  that gates metadata changes; simstudioai/sim PR #5209 notes the same).
- One ``FieldPermissions`` row per (ParentId, Field), one ``ObjectPermissions`` row per
  (ParentId, SobjectType), one ``PermissionSetAssignment`` per (AssigneeId, PermissionSetId)
  and one ``PermissionSet`` per Name; a second is refused with ``DUPLICATE_VALUE``. No
  Salesforce page found states the code for these objects: this is the strict choice, and
  updating the existing row is right whichever way a real org behaves.
- ``FieldPermissions.Field`` must name an existing field (a restricted picklist, Object
  Reference "FieldPermissions"), else ``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``.

- The rules of saving a permission object (parent-controlled objects, dependencies between
  permissions, permission set licenses, field-level security on standard fields) are
  :mod:`localorg.permission_rules`, each with its source.

Code that runs outside an API call (seeding, tests reaching into the store, flows, which run
in system context) runs with no user and is not checked.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from localorg import permission_rules as rules

if TYPE_CHECKING:
    from localorg.schema import FieldInfo
    from localorg.store import OrgStore, RecordFault

#: The user of the API call being served; None outside a call (system context).
CURRENT_USER: ContextVar[str | None] = ContextVar("localorg_user", default=None)

API_ENABLED = "PermissionsApiEnabled"
VIEW_SETUP = "PermissionsViewSetup"
CUSTOMIZE_APPLICATION = "PermissionsCustomizeApplication"
MANAGE_PERMISSION_SETS = "PermissionsManageProfilesPermissionsets"
ASSIGN_PERMISSION_SETS = "PermissionsAssignPermissionSets"
MANAGE_USERS = "PermissionsManageUsers"
VIEW_ALL_DATA = "PermissionsViewAllData"
MODIFY_ALL_DATA = "PermissionsModifyAllData"

#: System permissions a PermissionSet (and so a profile) carries, with their Setup labels.
SYSTEM_PERMISSIONS: dict[str, str] = {
    API_ENABLED: "API Enabled",
    VIEW_SETUP: "View Setup and Configuration",
    CUSTOMIZE_APPLICATION: "Customize Application",
    MANAGE_PERMISSION_SETS: "Manage Profiles and Permission Sets",
    ASSIGN_PERMISSION_SETS: "Assign Permission Sets",
    MANAGE_USERS: "Manage Users",
    VIEW_ALL_DATA: "View All Data",
    MODIFY_ALL_DATA: "Modify All Data",
}

OBJECT_FLAGS = (
    "PermissionsRead",
    "PermissionsCreate",
    "PermissionsEdit",
    "PermissionsDelete",
    "PermissionsViewAllRecords",
    "PermissionsModifyAllRecords",
)

#: Objects whose access ObjectPermissions (or a profile) grants.
DATA_OBJECTS = frozenset(
    {"Account", "Contact", "Lead", "Order", "OrderItem", "Product2", "Task", "Case", "EmailMessage"}
    # Loyalty Management's objects (--loyalty-management): a user reads and writes them only
    # with object permissions too ("Loyalty Management" permission set license aside).
    | {
        "LoyaltyProgram",
        "LoyaltyProgramMember",
        "LoyaltyProgramCurrency",
        "LoyaltyMemberCurrency",
        "TransactionJournal",
        "JournalType",
        "JournalSubType",
    }
)

#: Objects whose standard fields localorg puts under field-level security (permission_rules,
#: rule 6). Loyalty Management's are not yet: the mirror's writes to their standard fields
#: would first need declaring to `fields deploy`; a known gap, not a Salesforce rule.
STANDARD_FLS_OBJECTS = frozenset(
    {"Account", "Contact", "Lead", "Order", "OrderItem", "Product2", "Task", "Case", "EmailMessage"}
)

# Setup objects: who may read them, who may write them (any one permission suffices).
_SETUP_READ: dict[str, tuple[str, ...]] = {
    # Object Reference, "PermissionSet", Special Access Rules (Summer '20+).
    "PermissionSet": (VIEW_SETUP, ASSIGN_PERMISSION_SETS, MANAGE_PERMISSION_SETS),
    "FieldPermissions": (VIEW_SETUP,),
    "ObjectPermissions": (VIEW_SETUP,),
    "Profile": (VIEW_SETUP,),
    "PermissionSetAssignment": (VIEW_SETUP, ASSIGN_PERMISSION_SETS, MANAGE_USERS),
    # Who may read a user's permission set licenses: no page found; the strict choice is the
    # rule of PermissionSetAssignment's neighbours.
    "PermissionSetLicenseAssign": (VIEW_SETUP, MANAGE_USERS),
    "UserLicense": (VIEW_SETUP,),
}
_SETUP_WRITE: dict[str, tuple[str, ...]] = {
    "PermissionSet": (MANAGE_PERMISSION_SETS,),
    "FieldPermissions": (MANAGE_PERMISSION_SETS,),
    "ObjectPermissions": (MANAGE_PERMISSION_SETS,),
    "PermissionSetAssignment": (ASSIGN_PERMISSION_SETS, MANAGE_USERS),
    "User": (MANAGE_USERS,),
    "Profile": (),  # profiles are edited in Setup, not through this API
    "UserLicense": (),
    "PermissionSetLicense": (),  # licenses come with the org's contract
    # Assigning a permission set license is user management (Setup > Users > the user >
    # Permission Set License Assignments); no page names the API rule: the strict choice.
    "PermissionSetLicenseAssign": (MANAGE_USERS,),
}
# Rows one permission set may hold once: object -> the field besides ParentId that keys them.
_UNIQUE_PER_SET: dict[str, tuple[str, ...]] = {
    "PermissionSet": ("Name",),
    "FieldPermissions": ("ParentId", "Field"),
    "ObjectPermissions": ("ParentId", "SobjectType"),
    "PermissionSetAssignment": ("AssigneeId", "PermissionSetId"),
    "PermissionSetLicenseAssign": ("AssigneeId", "PermissionSetLicenseId"),
}

ADMIN_PROFILE = "System Administrator"
#: The profile of the Salesforce Integration user license (Salesforce Help, "Give Integration
#: Users API Only Access"): API Enabled and nothing else.
INTEGRATION_PROFILE = "Minimum Access - API Only Integrations"
#: A custom profile on the Salesforce license with API Enabled and nothing else (what an admin
#: makes by cloning "Minimum Access - Salesforce" and turning API Enabled on).
MINIMAL_PROFILE = "Minimum Access - Salesforce (API Enabled)"
ADMIN_USERNAME = "admin@localorg.test"
API_USER_PROFILES = ("admin", "minimal", "integration")


@dataclass(frozen=True)
class Grants:
    """What one user may do: the union over its profile and its assigned permission sets."""

    system: frozenset[str]
    objects: Mapping[str, frozenset[str]]
    fields: Mapping[str, tuple[bool, bool]]  # "Object.Field" -> (read, edit)

    def has(self, *permissions: str) -> bool:
        """True when the user holds any one of ``permissions``."""
        return any(p in self.system for p in permissions)

    def object_allows(self, object_name: str, flag: str) -> bool:
        """True when the user holds ``flag`` (``PermissionsRead``...) on a data object."""
        if MODIFY_ALL_DATA in self.system:
            return True
        if VIEW_ALL_DATA in self.system and flag == "PermissionsRead":
            return True
        if object_name in rules.ACTIVITY_PARENTS:
            # Tasks and Events follow the records they relate to (the Activity sharing default
            # "Controlled by Parent": a user who can read the Who/What record can read the
            # activity; Salesforce Help "Guidelines for Tracking Activities"). localorg has no
            # record-level sharing, so: read on any object an activity's WhoId may name.
            return flag == "PermissionsRead" and any(
                flag in self.objects.get(parent, frozenset())
                for parent in rules.ACTIVITY_PARENTS[object_name]
            )
        # An object whose access follows its parent's (Order Products follow Order).
        object_name = rules.NO_OBJECT_PERMISSIONS.get(object_name) or object_name
        return flag in self.objects.get(object_name, frozenset())


@contextmanager
def as_user(user_id: str | None) -> Iterator[None]:
    """Run the body as ``user_id`` (None: system context, nothing checked)."""
    token = CURRENT_USER.set(user_id)
    try:
        yield
    finally:
        CURRENT_USER.reset(token)


def system_context() -> Any:
    """Run the body in system context, as flows do."""
    return as_user(None)


class Access:
    """The access rules of one org's store; answers for the user of the current call."""

    def __init__(self, store: OrgStore) -> None:
        self.store = store
        self._cache: dict[str, Grants] = {}
        self._cache_at = -1

    # ------------------------------------------------------------------ grants
    def grants(self, user_id: str) -> Grants:
        """The user's grants, recomputed whenever a permission object or a user changed."""
        store = self.store
        with store.lock:
            version = store.permission_version
            if self._cache_at != version:
                self._cache.clear()
                self._cache_at = version
            found = self._cache.get(user_id)
            if found is None:
                found = self._cache[user_id] = self._compute(user_id)
            return found

    def _compute(self, user_id: str) -> Grants:
        store = self.store
        set_ids = [
            str(r[0])
            for r in store.execute(
                'SELECT "PermissionSetId" FROM "PermissionSetAssignment" '
                'WHERE "AssigneeId" = ? AND "IsDeleted" = 0 '
                'UNION SELECT ps."Id" FROM "PermissionSet" ps JOIN "User" u '
                'ON ps."ProfileId" = u."ProfileId" AND ps."IsOwnedByProfile" = 1 '
                'WHERE u."Id" = ? AND ps."IsDeleted" = 0',
                [user_id, user_id],
            )
        ]
        if not set_ids:
            return Grants(frozenset(), {}, {})
        marks = ", ".join("?" * len(set_ids))
        columns = ", ".join(f'MAX(COALESCE("{p}", 0))' for p in SYSTEM_PERMISSIONS)
        row = store.execute(
            f'SELECT {columns} FROM "PermissionSet" WHERE "Id" IN ({marks}) AND "IsDeleted" = 0',
            set_ids,
        )[0]
        system = frozenset(p for p, v in zip(SYSTEM_PERMISSIONS, row, strict=True) if v)
        objects: dict[str, set[str]] = {}
        flags = ", ".join(f'"{f}"' for f in OBJECT_FLAGS)
        for r in store.execute(
            f'SELECT "SobjectType", {flags} FROM "ObjectPermissions" '
            f'WHERE "ParentId" IN ({marks}) AND "IsDeleted" = 0',
            set_ids,
        ):
            held = objects.setdefault(str(r[0]), set())
            held.update(f for f, v in zip(OBJECT_FLAGS, r[1:], strict=True) if v)
        fields: dict[str, tuple[bool, bool]] = {}
        for name, read, edit in store.execute(
            'SELECT "Field", "PermissionsRead", "PermissionsEdit" FROM "FieldPermissions" '
            f'WHERE "ParentId" IN ({marks}) AND "IsDeleted" = 0',
            set_ids,
        ):
            was = fields.get(str(name), (False, False))
            fields[str(name)] = (was[0] or bool(read), was[1] or bool(edit))
        return Grants(system, {k: frozenset(v) for k, v in objects.items()}, fields)

    def current(self) -> Grants | None:
        """The grants of the current call's user; None in system context."""
        user_id = CURRENT_USER.get()
        return None if user_id is None else self.grants(user_id)

    # ------------------------------------------------------------------ questions
    def api_enabled(self) -> bool:
        """True when the current user may use the API at all."""
        grants = self.current()
        return grants is None or grants.has(API_ENABLED)

    def has(self, *permissions: str) -> bool:
        """True when the current user holds one of ``permissions`` (always, in system context)."""
        grants = self.current()
        return grants is None or grants.has(*permissions)

    def object_readable(self, object_name: str) -> bool:
        """True when the current user can see ``object_name`` at all."""
        grants = self.current()
        if grants is None:
            return True
        if object_name in DATA_OBJECTS:
            return grants.object_allows(object_name, "PermissionsRead")
        needed = _SETUP_READ.get(object_name)
        return needed is None or grants.has(*needed)

    def object_allows(self, object_name: str, flag: str) -> bool:
        """True when the current user may create/edit/delete (``flag``) ``object_name``."""
        grants = self.current()
        if grants is None:
            return True
        if object_name in DATA_OBJECTS:
            return grants.object_allows(object_name, flag)
        if object_name in _SETUP_WRITE:
            return grants.has(*_SETUP_WRITE[object_name])
        return True

    def field_allows(self, object_name: str, field_name: str, column: str) -> bool:
        """Field-level security of a protected (custom) field for the current user."""
        grants = self.current()
        if grants is None:
            return True
        read, edit = grants.fields.get(f"{object_name}.{field_name}", (False, False))
        return edit if column == "PermissionsEdit" else read

    # ------------------------------------------------------------------ refusals
    def write_refusal(self, object_name: str, *, creating: bool) -> RecordFault | None:
        """The error a create (or an update) of ``object_name`` gets, or None when allowed."""
        flag = "PermissionsCreate" if creating else "PermissionsEdit"
        if self.object_allows(object_name, flag):
            return None
        return _insufficient(object_name, "create" if creating else "edit")

    def delete_refusal(self, object_name: str) -> RecordFault | None:
        """The error a delete of ``object_name`` gets, or None when allowed."""
        if self.object_allows(object_name, "PermissionsDelete"):
            return None
        return _insufficient(object_name, "delete")

    def duplicate(self, object_name: str, values: Mapping[str, Any]) -> RecordFault | None:
        """DUPLICATE_VALUE when a permission row with the same key already exists."""
        key = _UNIQUE_PER_SET.get(object_name)
        if key is None:
            return None
        given = [values.get(k) for k in key]
        if any(v is None for v in given):
            return None
        if object_name == "FieldPermissions" and isinstance(given[1], str):
            self._check_field_name(given[1])
        if object_name == "ObjectPermissions" and given[1] not in self.store.objects:
            from localorg.store import fault

            # SobjectType is a restricted picklist of the org's objects (Object Reference,
            # "ObjectPermissions"): an object the org does not have (Orders off) is refused.
            return fault(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"SObject Type Name: bad value for restricted picklist field: {given[1]}",
                ["SobjectType"],
            )
        where = " AND ".join(f'"{k}" = ?' for k in key)
        rows = self.store.execute(
            f'SELECT "Id" FROM "{object_name}" WHERE {where} AND "IsDeleted" = 0 LIMIT 1', given
        )
        if not rows:
            return None
        from localorg.store import fault

        return fault(
            "DUPLICATE_VALUE",
            f"duplicate value found: {' and '.join(key)} duplicates value on record with "
            f"id: {rows[0][0]}",
            [key[-1]],
        )

    def field_secured(self, object_name: str, f: FieldInfo) -> bool:
        """True when field-level security decides whether the user sees ``f``: a field made
        through the Tooling API, or a permissionable standard field of a data object
        (:func:`localorg.permission_rules.permissionable`). Custom fields the seed made are
        visible to everyone who reads their object."""
        if f.protected:
            return True
        return (
            not f.custom
            and object_name in STANDARD_FLS_OBJECTS
            and rules.permissionable(f.name, custom=False, required=f.required)
        )

    def save_refusal(
        self, object_name: str, values: Mapping[str, Any], record_id: str | None = None
    ) -> RecordFault | None:
        """The error Salesforce gives for saving a permission object with ``values`` (the
        row as it would be after the save), or None; the rules are
        :mod:`localorg.permission_rules`."""
        from localorg.store import fault

        if object_name == "ObjectPermissions":
            sobject = str(values.get("SobjectType") or "")
            if sobject in rules.NO_OBJECT_PERMISSIONS:
                return fault(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"SObject Type Name: bad value for restricted picklist field: {sobject}",
                    ["SobjectType"],
                )
            problems = rules.object_flag_problems(sobject, values)
            if not problems and self.store.features.person_accounts:
                held = self._set_object_flags(str(values.get("ParentId") or ""), record_id)
                problems = rules.cross_object_problems(sobject, values, held)
            if problems:
                return fault("FIELD_INTEGRITY_EXCEPTION", "; ".join(problems))
        elif object_name == "PermissionSet":
            problems = rules.system_problems(values)
            if problems:
                return fault("FIELD_INTEGRITY_EXCEPTION", "; ".join(problems))
        elif object_name == "PermissionSetAssignment":
            return self._assignment_refusal(
                str(values.get("AssigneeId")), str(values.get("PermissionSetId"))
            )
        elif object_name == "PermissionSetLicenseAssign":
            license_name = self._psl_name(str(values.get("PermissionSetLicenseId")))
            user_license = self.user_license(str(values.get("AssigneeId")))
            if (
                license_name == rules.API_INTEGRATION_PSL
                and user_license != rules.USER_LICENSE_INTEGRATION
            ):
                return fault(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"The {rules.API_INTEGRATION_PSL_LABEL} permission set license is for "
                    f"users of the {rules.USER_LICENSE_INTEGRATION} user license; this user "
                    f"has the {user_license} license",
                    ["PermissionSetLicenseId"],
                )
        return None

    def _set_object_flags(self, set_id: str, excluding: str | None) -> dict[str, frozenset[str]]:
        flags = ", ".join(f'"{f}"' for f in OBJECT_FLAGS)
        held: dict[str, frozenset[str]] = {}
        for row in self.store.execute(
            f'SELECT "Id", "SobjectType", {flags} FROM "ObjectPermissions" '
            'WHERE "ParentId" = ? AND "IsDeleted" = 0',
            [set_id],
        ):
            if row[0] != excluding:
                held[str(row[1])] = frozenset(
                    f for f, v in zip(OBJECT_FLAGS, row[2:], strict=True) if v
                )
        return held

    def user_license(self, user_id: str) -> str | None:
        """The name of the user's user license (through its profile), or None."""
        rows = self.store.execute(
            'SELECT ul."Name" FROM "User" u JOIN "Profile" p ON p."Id" = u."ProfileId" '
            'JOIN "UserLicense" ul ON ul."Id" = p."UserLicenseId" WHERE u."Id" = ?',
            [user_id],
        )
        return str(rows[0][0]) if rows else None

    def _psl_name(self, psl_id: str) -> str | None:
        rows = self.store.execute(
            'SELECT "DeveloperName" FROM "PermissionSetLicense" WHERE "Id" = ?', [psl_id]
        )
        return str(rows[0][0]) if rows else None

    def _assignment_refusal(self, user_id: str, set_id: str) -> RecordFault | None:
        """Rule 5: a set tied to a license the user lacks, or any set beyond its profile's
        for a Salesforce Integration user unless tied to the API Integration license."""
        from localorg.store import fault

        rows = self.store.execute(
            'SELECT "Name", "LicenseId", "IsOwnedByProfile" FROM "PermissionSet" WHERE "Id" = ?',
            [set_id],
        )
        if not rows or rows[0][2]:
            return None
        name, license_id = str(rows[0][0]), rows[0][1]
        user_license = self.user_license(user_id)
        psl = self._psl_name(str(license_id)) if license_id else None
        if user_license == rules.USER_LICENSE_INTEGRATION and psl != rules.API_INTEGRATION_PSL:
            return fault(
                "FIELD_INTEGRITY_EXCEPTION",
                f"Can't assign permission set {name} to a user with the "
                f"{rules.USER_LICENSE_INTEGRATION} license: only permission sets with the "
                f"{rules.API_INTEGRATION_PSL_LABEL} permission set license can be assigned",
                ["PermissionSetId"],
            )
        if psl is not None:
            held = self.store.execute(
                'SELECT 1 FROM "PermissionSetLicenseAssign" a JOIN "PermissionSetLicense" l '
                'ON l."Id" = a."PermissionSetLicenseId" WHERE a."AssigneeId" = ? '
                'AND l."DeveloperName" = ? AND a."IsDeleted" = 0',
                [user_id, psl],
            )
            if not held:
                label = self.store.execute(
                    'SELECT "MasterLabel" FROM "PermissionSetLicense" WHERE "DeveloperName" = ?',
                    [psl],
                )[0][0]
                return fault(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"Can't assign permission set {name}: it requires the {label} permission "
                    "set license, which the user has not been assigned",
                    ["PermissionSetId"],
                )
        elif license_id:
            license_name = self.store.execute(
                'SELECT "Name" FROM "UserLicense" WHERE "Id" = ?', [license_id]
            )
            if license_name and license_name[0][0] != user_license:
                return fault(
                    "FIELD_INTEGRITY_EXCEPTION",
                    f"Can't assign permission set {name}: it requires the "
                    f"{license_name[0][0]} user license; the user has {user_license}",
                    ["PermissionSetId"],
                )
        return None

    def _check_field_name(self, qualified: str) -> None:
        from localorg.store import fault

        object_name, _, field_name = qualified.partition(".")
        info = self.store.objects.get(object_name)
        found = info.field(field_name) if info is not None else None
        if found is None or not (found.custom or self.field_secured(object_name, found)):
            # Field is a restricted picklist of every field field-level security applies to
            # (Object Reference, "FieldPermissions": "Restricted picklist"): not a required
            # or system field, whose visibility nothing can take away.
            raise fault(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"Field Name: bad value for restricted picklist field: {qualified}",
                ["Field"],
            )


def _insufficient(object_name: str, act: str) -> RecordFault:
    from localorg.store import fault

    return fault(
        "INSUFFICIENT_ACCESS_OR_READONLY",
        f"insufficient access rights on object id: the user cannot {act} {object_name} "
        "records (object permissions)",
    )


# ---------------------------------------------------------------------- profiles and users
@dataclass(frozen=True)
class OrgUsers:
    """The users a local org starts with."""

    api_user_id: str
    admin_user_id: str


def install(store: OrgStore, api_profile: str) -> OrgUsers:
    """Create the licenses, the profiles and the admin user if missing; give the API user its
    profile.

    ``api_profile`` is ``"admin"`` (System Administrator: every system permission, full
    access to every data object and every standard field), ``"minimal"`` (a custom profile on
    the Salesforce license: API Enabled and nothing else) or ``"integration"`` (the README's
    recommended user: the Salesforce Integration user license and its "Minimum Access - API
    Only Integrations" profile, API Enabled and nothing else; it takes only permission sets of
    the Salesforce API Integration permission set license, which it does not hold yet).
    Idempotent, so a restarted org keeps its rows.
    """
    if api_profile not in API_USER_PROFILES:
        raise ValueError(
            f"api user profile must be one of {', '.join(API_USER_PROFILES)}, got {api_profile!r}"
        )
    with system_context():
        salesforce = _user_license(store, rules.USER_LICENSE_SALESFORCE, "SFDC")
        integration = _user_license(store, rules.USER_LICENSE_INTEGRATION, "SFDC_INTEGRATION")
        _permission_set_license(store)
        admin_profile = _profile(
            store, ADMIN_PROFILE, set(SYSTEM_PERMISSIONS), salesforce, full_access=True
        )
        profiles = {
            "admin": admin_profile,
            "minimal": _profile(store, MINIMAL_PROFILE, {API_ENABLED}, salesforce),
            "integration": _profile(store, INTEGRATION_PROFILE, {API_ENABLED}, integration),
        }
        api_user = store.integration_user_id
        profile = profiles[api_profile]
        with store.transaction() as conn:
            conn.execute('UPDATE "User" SET "ProfileId" = ? WHERE "Id" = ?', (profile, api_user))
        _assign_profile_set(store, api_user, profile)
        rows = store.execute('SELECT "Id" FROM "User" WHERE "Username" = ?', [ADMIN_USERNAME])
        if rows:
            admin_user = str(rows[0][0])
        else:
            admin_user = store.ids.new("User")
            store.load_rows(
                "User",
                [
                    _system_row(store, admin_user)
                    | {
                        "Name": "Org Admin",
                        "Username": ADMIN_USERNAME,
                        "Email": ADMIN_USERNAME,
                        "FirstName": "Org",
                        "LastName": "Admin",
                        "IsActive": 1,
                        "ProfileId": admin_profile,
                    }
                ],
            )
            _assign_profile_set(store, admin_user, admin_profile)
    return OrgUsers(api_user, admin_user)


def _assign_profile_set(store: OrgStore, user_id: str, profile_id: str) -> None:
    """The user's one assignment of its profile's own set, which queries of
    PermissionSetAssignment list beside the others (Object Reference,
    "PermissionSetAssignment": a user's profile permission set shows there with
    PermissionSet.IsOwnedByProfile true)."""
    owned = store.execute(
        'SELECT "Id" FROM "PermissionSet" WHERE "IsOwnedByProfile" = 1 AND "ProfileId" = ?',
        [profile_id],
    )[0][0]
    with store.transaction() as conn:
        conn.execute(
            'DELETE FROM "PermissionSetAssignment" WHERE "AssigneeId" = ? AND "PermissionSetId" '
            'IN (SELECT "Id" FROM "PermissionSet" WHERE "IsOwnedByProfile" = 1)',
            (user_id,),
        )
    store.load_rows(
        "PermissionSetAssignment",
        [
            _system_row(store, store.ids.new("PermissionSetAssignment"))
            | {"AssigneeId": user_id, "PermissionSetId": owned}
        ],
    )


def _user_license(store: OrgStore, name: str, key: str) -> str:
    rows = store.execute('SELECT "Id" FROM "UserLicense" WHERE "Name" = ?', [name])
    if rows:
        return str(rows[0][0])
    license_id = store.ids.new("UserLicense")
    store.load_rows(
        "UserLicense",
        [_system_row(store, license_id) | {"Name": name, "LicenseDefinitionKey": key}],
    )
    return license_id


def _permission_set_license(store: OrgStore) -> None:
    """The Salesforce API Integration permission set license an org with Salesforce
    Integration user licenses holds (Salesforce Help, "Give Integration Users API Only
    Access"); its DeveloperName is what ``sf org assign permsetlicense --name`` takes."""
    name = rules.API_INTEGRATION_PSL
    if store.execute('SELECT 1 FROM "PermissionSetLicense" WHERE "DeveloperName" = ?', [name]):
        return
    store.load_rows(
        "PermissionSetLicense",
        [
            _system_row(store, store.ids.new("PermissionSetLicense"))
            | {
                "DeveloperName": name,
                "MasterLabel": rules.API_INTEGRATION_PSL_LABEL,
                "TotalLicenses": 5,
                "IsAvailableForIntegrations": 1,
            }
        ],
    )


def _profile(
    store: OrgStore,
    name: str,
    system: set[str],
    license_id: str,
    *,
    full_access: bool = False,
) -> str:
    """The id of profile ``name``, created with its own permission set when missing."""
    rows = store.execute('SELECT "Id" FROM "Profile" WHERE "Name" = ?', [name])
    if rows:
        return str(rows[0][0])
    profile_id = store.ids.new("Profile")
    store.load_rows(
        "Profile",
        [_system_row(store, profile_id) | {"Name": name, "UserLicenseId": license_id}],
    )
    set_id = store.ids.new("PermissionSet")
    # Every profile is backed by a permission set it owns (IsOwnedByProfile, ProfileId:
    # Object Reference, "PermissionSet"); its name is generated, as in an org.
    store.load_rows(
        "PermissionSet",
        [
            _system_row(store, set_id)
            | {
                "Name": "X00e" + secrets.token_hex(6),
                "Label": name,
                "IsOwnedByProfile": 1,
                "ProfileId": profile_id,
                "LicenseId": license_id,
                **{p: int(p in system) for p in SYSTEM_PERMISSIONS},
            }
        ],
    )
    if full_access:
        store.load_rows(
            "ObjectPermissions",
            [
                _system_row(store, store.ids.new("ObjectPermissions"))
                | {"ParentId": set_id, "SobjectType": obj, **dict.fromkeys(OBJECT_FLAGS, 1)}
                for obj in sorted(DATA_OBJECTS)
                if obj in store.objects and obj not in rules.NO_OBJECT_PERMISSIONS
            ],
        )
        # An administrator's profile reads and edits every standard field it may
        # (field-level security; localorg.permission_rules, rule 6).
        store.load_rows(
            "FieldPermissions",
            [
                _system_row(store, store.ids.new("FieldPermissions"))
                | {
                    "ParentId": set_id,
                    "SobjectType": obj,
                    "Field": f"{obj}.{f.name}",
                    "PermissionsRead": 1,
                    "PermissionsEdit": int(f.updateable or f.createable),
                }
                for obj in sorted(STANDARD_FLS_OBJECTS)
                if obj in store.objects
                for f in store.objects[obj].fields.values()
                if not f.custom and rules.permissionable(f.name, custom=False, required=f.required)
            ],
        )
    return profile_id


def _system_row(store: OrgStore, record_id: str) -> dict[str, Any]:
    return store.created_fields(record_id, store.integration_user_id)

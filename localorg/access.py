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

if TYPE_CHECKING:
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

# Setup objects: who may read them, who may write them (any one permission suffices).
_SETUP_READ: dict[str, tuple[str, ...]] = {
    # Object Reference, "PermissionSet", Special Access Rules (Summer '20+).
    "PermissionSet": (VIEW_SETUP, ASSIGN_PERMISSION_SETS, MANAGE_PERMISSION_SETS),
    "FieldPermissions": (VIEW_SETUP,),
    "ObjectPermissions": (VIEW_SETUP,),
    "Profile": (VIEW_SETUP,),
    "PermissionSetAssignment": (VIEW_SETUP, ASSIGN_PERMISSION_SETS, MANAGE_USERS),
}
_SETUP_WRITE: dict[str, tuple[str, ...]] = {
    "PermissionSet": (MANAGE_PERMISSION_SETS,),
    "FieldPermissions": (MANAGE_PERMISSION_SETS,),
    "ObjectPermissions": (MANAGE_PERMISSION_SETS,),
    "PermissionSetAssignment": (ASSIGN_PERMISSION_SETS, MANAGE_USERS),
    "User": (MANAGE_USERS,),
    "Profile": (),  # profiles are edited in Setup, not through this API
}
# Rows one permission set may hold once: object -> the field besides ParentId that keys them.
_UNIQUE_PER_SET: dict[str, tuple[str, ...]] = {
    "PermissionSet": ("Name",),
    "FieldPermissions": ("ParentId", "Field"),
    "ObjectPermissions": ("ParentId", "SobjectType"),
    "PermissionSetAssignment": ("AssigneeId", "PermissionSetId"),
}

ADMIN_PROFILE = "System Administrator"
MINIMAL_PROFILE = "Minimum Access - API Only Integrations"
ADMIN_USERNAME = "admin@localorg.test"


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

    def _check_field_name(self, qualified: str) -> None:
        from localorg.store import fault

        object_name, _, field_name = qualified.partition(".")
        info = self.store.objects.get(object_name)
        if info is None or info.field(field_name) is None:
            # Field is a restricted picklist of every field of every object (Object Reference,
            # "FieldPermissions": "Restricted picklist").
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
    """Create the two profiles and the admin user if missing; give the API user its profile.

    ``api_profile`` is ``"admin"`` (System Administrator: every system permission and full
    access to every data object) or ``"minimal"`` (a "Minimum Access - API Only Integrations"
    profile: API Enabled and nothing else). Idempotent, so a restarted org keeps its rows.
    """
    if api_profile not in ("admin", "minimal"):
        raise ValueError(f"api user profile must be admin or minimal, got {api_profile!r}")
    with system_context():
        admin_profile = _profile(store, ADMIN_PROFILE, set(SYSTEM_PERMISSIONS), full_access=True)
        minimal_profile = _profile(store, MINIMAL_PROFILE, {API_ENABLED}, full_access=False)
        api_user = store.integration_user_id
        profile = admin_profile if api_profile == "admin" else minimal_profile
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


def _profile(store: OrgStore, name: str, system: set[str], *, full_access: bool) -> str:
    """The id of profile ``name``, created with its own permission set when missing."""
    rows = store.execute('SELECT "Id" FROM "Profile" WHERE "Name" = ?', [name])
    if rows:
        return str(rows[0][0])
    profile_id = store.ids.new("Profile")
    store.load_rows("Profile", [_system_row(store, profile_id) | {"Name": name}])
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
                if obj in store.objects
            ],
        )
    return profile_id


def _system_row(store: OrgStore, record_id: str) -> dict[str, Any]:
    return store.created_fields(record_id, store.integration_user_id)

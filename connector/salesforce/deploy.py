"""Field deploy and export, and the permission checks doctor makes: make the org hold every
field the mappings write, and let the integration user see and edit them. Every SOQL string
of the deploy and of doctor's permission checks lives here.

``deploy`` reads first, then writes only what is missing, so it can be re-run at any time and
resumes after an interruption at any of its calls:

1. who am I (the user id from the sign-in's identity URL);
2. which mapped custom fields exist: asked of the Tooling API (``CustomField``), never of
   describe, which hides every field the user cannot see yet;
3. the ``L2L_Integration`` permission set, its FieldPermissions, ObjectPermissions and its
   assignment to the integration user: a permission set grants nothing until it is assigned
   (Object Reference, "FieldPermissions"), and a field created through the Tooling API has no
   field-level security on any profile;
4. if the user lacks a permission one of the writes needs, stop before changing anything and
   say exactly what an admin must grant (:class:`AccessMissing`);
5. create the missing fields, the set, the missing grants; upgrade a read-only grant in place
   (never a second row for the same field); assign the set.

``export`` writes the same fields and the permission set as SFDX source, for admins who deploy
through their own pipeline (``sf project deploy start``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.errors import AccessMissing, FatalError
from connector.mapping import field_definitions, sfdx_field_path, sfdx_field_xml
from connector.mapping.deploy import (
    PERMISSION_SET,
    PERMISSION_SET_DESCRIPTION,
    PERMISSION_SET_LABEL,
    SFDX_PERMISSION_SET_PATH,
    AccessNeeds,
    ExtraNeeds,
    access_needs,
    sfdx_permission_set_xml,
)
from connector.mapping.models import MappingFile
from connector.salesforce.port import SalesforcePort as DeployClient
from connector.salesforce.sfdx import DEFAULT_HOT_INTENT, FlowSpec, write_sfdx
from connector.sync.streams import DEFAULT_OBJECTS

__all__ = [
    "DEPLOY_RIGHTS",
    "MANAGE_USERS",
    "PERMISSION_SET",
    "DeployReport",
    "deploy",
    "export",
    "is_assigned",
    "read_rights",
]

# System permissions: API field name -> the label an admin sees in Setup.
VIEW_SETUP = ("PermissionsViewSetup", "View Setup and Configuration")
CUSTOMIZE_APPLICATION = ("PermissionsCustomizeApplication", "Customize Application")
MANAGE_PERMISSION_SETS = (
    "PermissionsManageProfilesPermissionsets",
    "Manage Profiles and Permission Sets",
)
ASSIGN_PERMISSION_SETS = ("PermissionsAssignPermissionSets", "Assign Permission Sets")
MANAGE_USERS = ("PermissionsManageUsers", "Manage Users")
DEPLOY_RIGHTS = (VIEW_SETUP, CUSTOMIZE_APPLICATION, MANAGE_PERMISSION_SETS, ASSIGN_PERMISSION_SETS)
# Codes Salesforce answers when a setup object is out of the user's reach.
_NO_SETUP_ACCESS = frozenset({"INVALID_TYPE", "INVALID_FIELD", "NOT_FOUND"})
_DUPLICATES = frozenset({"DUPLICATE_VALUE", "DUPLICATE_DEVELOPER_NAME"})


@dataclass
class DeployReport:
    """What ``fields deploy`` did."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    permissions_granted: list[str] = field(default_factory=list)
    objects_granted: list[str] = field(default_factory=list)
    objects_absent: list[str] = field(default_factory=list)
    assigned: bool = False
    permission_set: str = PERMISSION_SET

    def as_json(self) -> dict[str, Any]:
        """The ``fields deploy --json`` object."""
        return {
            "created": self.created,
            "existing": self.existing,
            "permissions_granted": self.permissions_granted,
            "objects_granted": self.objects_granted,
            "objects_absent": self.objects_absent,
            "assigned": self.assigned,
            "permission_set": self.permission_set,
        }


@dataclass(frozen=True)
class _ObjectGrant:
    """One ObjectPermissions row of the permission set."""

    id: str
    read: bool
    create: bool
    edit: bool


def _object_granted(have: _ObjectGrant, *, edit: bool, make: bool) -> bool:
    """True when the row already grants Read, and Edit / Create where they are needed."""
    return have.read and (have.edit or not edit) and (have.create or not make)


@dataclass
class _State:
    """What the org holds now, as far as the deploy is concerned."""

    user_id: str
    existing_fields: set[str]
    existing_objects: set[str] = field(default_factory=set)
    set_id: str | None = None
    field_grants: dict[str, tuple[str, bool, bool]] = field(default_factory=dict)
    object_grants: dict[str, _ObjectGrant] = field(default_factory=dict)
    assigned: bool = False


def deploy(
    client: DeployClient,
    mappings: list[MappingFile],
    *,
    pulled: Sequence[str] = DEFAULT_OBJECTS,
    extra: ExtraNeeds | None = None,
) -> DeployReport:
    """Create missing fields, grant and assign the permission set; see the module docstring.

    ``pulled``: the objects a sync reads (Read on each). ``extra``: fields and rights beyond
    the mappings (the Loyalty Management mirror's). Raises :class:`AccessMissing`, having
    changed nothing, when the user lacks a permission the remaining writes need.
    """
    definitions = [*field_definitions(mappings), *(extra.definitions if extra else ())]
    wanted = access_needs(mappings, pulled, extra)
    state = _read_state(client, definitions, wanted.read_objects)
    # An object the org does not have (Orders off, no Loyalty Management) cannot be granted,
    # nor hold fields; doctor reports it.
    present = state.existing_objects
    definitions = [d for d in definitions if str(d["FullName"]).split(".")[0] in present]
    needs = dataclasses.replace(
        wanted,
        read_objects=tuple(o for o in wanted.read_objects if o in present),
        fields=tuple(f for f in wanted.fields if f.split(".")[0] in present),
    )
    missing = _missing_rights(client, state, definitions, needs)
    if missing:
        raise AccessMissing(_blocked_message(state.user_id, missing))
    report = DeployReport(
        objects_absent=[o for o in wanted.read_objects if o not in state.existing_objects]
    )
    for definition in definitions:
        name = definition["FullName"]
        if name in state.existing_fields:
            report.existing.append(name)
            continue
        _create(client, "CustomField", definition, tooling=True)
        report.created.append(name)
    set_id = state.set_id or _create_permission_set(client)
    for name in needs.fields:
        row = state.field_grants.get(name)
        if row is None:
            body = {
                "ParentId": set_id,
                "SobjectType": name.split(".")[0],
                "Field": name,
                "PermissionsRead": True,
                "PermissionsEdit": True,
            }
            if not _create(client, "FieldPermissions", body):
                # Created by an earlier attempt whose answer was lost: upgrade what is there.
                row = _field_grants(client, set_id).get(name)
        if row is not None:
            if row[1] and row[2]:
                continue
            client.update(
                "FieldPermissions", row[0], {"PermissionsRead": True, "PermissionsEdit": True}
            )
        report.permissions_granted.append(name)
    for obj in needs.read_objects:
        edit = obj in needs.edit_objects
        make = obj in needs.create_objects
        have = state.object_grants.get(obj)
        if have is None:
            body = {
                "ParentId": set_id,
                "SobjectType": obj,
                "PermissionsRead": True,
                "PermissionsCreate": make,
                "PermissionsEdit": edit,
            }
            if not _create(client, "ObjectPermissions", body):
                have = _object_grants(client, set_id).get(obj)
        if have is not None:
            if _object_granted(have, edit=edit, make=make):
                continue
            client.update(
                "ObjectPermissions",
                have.id,
                {
                    "PermissionsRead": True,
                    "PermissionsCreate": make or have.create,
                    "PermissionsEdit": edit or have.edit,
                },
            )
        report.objects_granted.append(obj)
    if not state.assigned:
        _create(
            client,
            "PermissionSetAssignment",
            {"AssigneeId": state.user_id, "PermissionSetId": set_id},
        )
        report.assigned = True
    return report


def _create(
    client: DeployClient, sobject: str, body: dict[str, Any], *, tooling: bool = False
) -> bool:
    """Create one record; False when it already exists (an earlier attempt made it, and the
    answer was lost on the way back), so a retried call never fails the deploy."""
    try:
        if tooling:
            client.create_tooling(sobject, body)
        else:
            client.create(sobject, body, unique=True)
    except FatalError as exc:
        if exc.error_code in _DUPLICATES:
            return False
        raise
    return True


def _create_permission_set(client: DeployClient) -> str:
    body = {
        "Name": PERMISSION_SET,
        "Label": PERMISSION_SET_LABEL,
        "Description": PERMISSION_SET_DESCRIPTION,
    }
    # The id is read back rather than taken from the answer: the same path whether this call
    # created the set or an earlier attempt did and its answer was lost.
    _create(client, "PermissionSet", body)
    rows = client.query("SELECT Id FROM PermissionSet WHERE Name = {name}", name=PERMISSION_SET)
    return str(rows[0]["Id"])


# ---------------------------------------------------------------------- reading the org
def _read_state(
    client: DeployClient, definitions: list[dict[str, Any]], objects_wanted: Sequence[str]
) -> _State:
    user_id = client.user_id()
    objects = sorted({d["FullName"].split(".")[0] for d in definitions})
    try:
        existing: set[str] = set()
        if objects:
            rows = client.tooling_query(
                "SELECT DeveloperName, TableEnumOrId FROM CustomField "
                "WHERE TableEnumOrId IN {objs}",
                objs=objects,
            )
            existing = {f"{r['TableEnumOrId']}.{r['DeveloperName']}__c" for r in rows}
        entities = client.tooling_query(
            "SELECT QualifiedApiName FROM EntityDefinition WHERE QualifiedApiName IN {objs}",
            objs=list(objects_wanted),
        )
        sets = client.query("SELECT Id FROM PermissionSet WHERE Name = {name}", name=PERMISSION_SET)
        set_id = str(sets[0]["Id"]) if sets else None
        state = _State(user_id, existing, {str(e["QualifiedApiName"]) for e in entities}, set_id)
        if set_id is not None:
            state.field_grants = _field_grants(client, set_id)
            state.object_grants = _object_grants(client, set_id)
            state.assigned = is_assigned(client, user_id)
    except FatalError as exc:
        if exc.error_code in _NO_SETUP_ACCESS:
            # Without it nothing else can be checked; a first deploy needs all four, so name
            # them all at once rather than one per attempt.
            unknown = (
                "cannot be checked without View Setup and Configuration; a first deploy needs it"
            )
            missing = {
                VIEW_SETUP[1]: [
                    "read which fields and grants exist (Tooling API, permission sets)"
                ],
                **{label: [unknown] for _name, label in DEPLOY_RIGHTS[1:]},
            }
            raise AccessMissing(_blocked_message(user_id, missing)) from None
        raise
    return state


def _field_grants(client: DeployClient, set_id: str) -> dict[str, tuple[str, bool, bool]]:
    rows = client.query(
        "SELECT Id, Field, PermissionsRead, PermissionsEdit FROM FieldPermissions "
        "WHERE ParentId = {ps}",
        ps=set_id,
    )
    return {
        str(r["Field"]): (str(r["Id"]), bool(r["PermissionsRead"]), bool(r["PermissionsEdit"]))
        for r in rows
    }


def _object_grants(client: DeployClient, set_id: str) -> dict[str, _ObjectGrant]:
    rows = client.query(
        "SELECT Id, SobjectType, PermissionsRead, PermissionsCreate, PermissionsEdit "
        "FROM ObjectPermissions WHERE ParentId = {ps}",
        ps=set_id,
    )
    return {
        str(r["SobjectType"]): _ObjectGrant(
            str(r["Id"]),
            bool(r["PermissionsRead"]),
            bool(r["PermissionsCreate"]),
            bool(r["PermissionsEdit"]),
        )
        for r in rows
    }


def is_assigned(client: DeployClient, user_id: str, name: str = PERMISSION_SET) -> bool:
    """True when permission set ``name`` is assigned to the user. Raises :class:`FatalError`
    (INVALID_TYPE) when the user cannot read assignments (no View Setup and Configuration)."""
    rows = client.query(
        "SELECT Id FROM PermissionSetAssignment WHERE AssigneeId = {user} "
        "AND PermissionSet.Name = {name}",
        user=user_id,
        name=name,
    )
    return bool(rows)


def read_rights(client: DeployClient, user_id: str) -> set[str] | None:
    """The system permissions (API names) the user holds through its profile and assigned
    permission sets; None when it cannot read them (no View Setup and Configuration)."""
    names = [p for p, _label in (*DEPLOY_RIGHTS, MANAGE_USERS)]
    select = ", ".join(f"PermissionSet.{p}" for p in names)
    try:
        rows = client.query(
            f"SELECT {select} FROM PermissionSetAssignment WHERE AssigneeId = {{user}}",
            user=user_id,
        )
    except FatalError as exc:
        if exc.error_code in _NO_SETUP_ACCESS:
            return None
        raise
    held: set[str] = set()
    for row in rows:
        permission_set = row.get("PermissionSet") or {}
        held.update(p for p in names if permission_set.get(p))
    return held


def _missing_rights(
    client: DeployClient, state: _State, definitions: list[dict[str, Any]], needs: AccessNeeds
) -> dict[str, list[str]]:
    """Setup label -> what the planned writes need it for, for each permission the user lacks."""
    wanted: dict[tuple[str, str], list[str]] = {}
    to_create = [d["FullName"] for d in definitions if d["FullName"] not in state.existing_fields]
    if to_create:
        wanted.setdefault(CUSTOMIZE_APPLICATION, []).append(
            f"create {len(to_create)} custom field(s) through the Tooling API"
        )
    grants_missing = (
        state.set_id is None
        or any(
            not (row := state.field_grants.get(name)) or not (row[1] and row[2])
            for name in needs.fields
        )
        or any(
            not (grant := state.object_grants.get(obj))
            or not _object_granted(
                grant, edit=obj in needs.edit_objects, make=obj in needs.create_objects
            )
            for obj in needs.read_objects
        )
    )
    if grants_missing:
        wanted.setdefault(MANAGE_PERMISSION_SETS, []).append(
            f"create or update permission set {PERMISSION_SET} and its field and object grants"
        )
    if not state.assigned:
        wanted.setdefault(ASSIGN_PERMISSION_SETS, []).append(
            f"assign {PERMISSION_SET} to the integration user"
        )
    if not wanted:
        return {}
    held = read_rights(client, state.user_id)
    if held is None:
        return {VIEW_SETUP[1]: ["read its own system permissions"]}
    missing: dict[str, list[str]] = {}
    for (api_name, label), uses in wanted.items():
        if api_name in held:
            continue
        if api_name == ASSIGN_PERMISSION_SETS[0] and MANAGE_USERS[0] in held:
            continue
        missing[label] = uses
    return missing


def _blocked_message(user_id: str, missing: dict[str, list[str]]) -> str:
    lines = [
        f"fields deploy changed nothing: the integration user ({user_id}) needs "
        f"{len(missing)} permission(s) it does not hold. An admin must grant:",
    ]
    for label, uses in missing.items():
        lines.append(f'  - "{label}": to {"; ".join(uses)}')
    lines += [
        "Either give these to the integration user (a permission set holding them, assigned to",
        "it in Setup > Permission Sets) and run `lead2loyalty fields deploy` again,",
        "or deploy the source `lead2loyalty fields export` writes (fields and the "
        f"{PERMISSION_SET} permission set)",
        "as an admin: `sf project deploy start --source-dir salesforce/force-app`, then",
        f"`sf org assign permset --name {PERMISSION_SET} --on-behalf-of <integration username>`.",
        "`lead2loyalty doctor` lists every permission the connector needs.",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------- export
def export(
    mappings: list[MappingFile],
    root: Path,
    *,
    pulled: Iterable[str] = DEFAULT_OBJECTS,
    extra: ExtraNeeds | None = None,
    flows: Sequence[FlowSpec] = (),
    hot: float = DEFAULT_HOT_INTENT,
) -> list[Path]:
    """Write SFDX source for every mapped custom field (and ``extra``'s) and the permission
    set under ``root`` (the SFDX project folder), then what people see
    (:mod:`connector.salesforce.sfdx`: L2L_Read, the record page component, list views,
    reports, the ``flows`` the connector invokes)."""
    written = []
    for definition in [*field_definitions(mappings), *(extra.definitions if extra else ())]:
        # sfdx_field_path is relative to the repo ("salesforce/force-app/..."); root is the
        # SFDX project folder itself.
        path = root / Path(sfdx_field_path(definition)).relative_to("salesforce")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sfdx_field_xml(definition), encoding="utf-8")
        written.append(path)
    path = root / Path(SFDX_PERMISSION_SET_PATH).relative_to("salesforce")
    path.parent.mkdir(parents=True, exist_ok=True)
    needs = access_needs(mappings, pulled, extra)
    path.write_text(sfdx_permission_set_xml(needs), encoding="utf-8")
    written.append(path)
    written += write_sfdx(root, mappings, flows, hot=hot)
    return written

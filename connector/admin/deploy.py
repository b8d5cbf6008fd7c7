"""Field deploy and export, and the permission checks doctor makes: make the org hold every
field the mappings write, and let the integration user see and edit them. Every SOQL string
of the deploy and of doctor's permission checks lives here.

``deploy`` reads first, then writes only what is missing, so it can be re-run at any time and
resumes after an interruption at any of its calls:

1. who am I (the user id from the sign-in's identity URL);
2. which mapped custom fields exist: asked of the Tooling API (``CustomField``), never of
   describe, which hides every field the user cannot see yet;
3. which standard fields the pull reads take a field permission (Tooling ``EntityParticle``,
   ``IsPermissionable``): field-level security hides them from a profile that does not grant
   them, as the integration profile does not;
4. the user's license: a *Salesforce Integration* user takes only permission sets of the
   *Salesforce API Integration* permission set license, and must hold that license first
   (Salesforce Help, "Give Integration Users API Only Access");
5. the ``L2L_Integration`` permission set, its FieldPermissions, ObjectPermissions and its
   assignment to the integration user: a permission set grants nothing until it is assigned
   (Object Reference, "FieldPermissions"), and a field created through the Tooling API has no
   field-level security on any profile;
6. if the user lacks a permission one of the writes needs, or the set exists with the wrong
   license, stop before changing anything and say exactly what an admin must do
   (:class:`AccessMissing`);
7. create the missing fields; widen an existing ``L2L_`` Text field the org holds shorter
   than the mappings say (``L2L_Best_Send_Time__c`` grew from 20 to 64 characters; a value
   longer than a text field's length is refused with STRING_TOO_LONG from API 15.0 on: SOAP
   API Developer Guide, "AllowFieldTruncationHeader"). The length is read from the Tooling
   API's ``FieldDefinition.Length`` and changed by a PATCH of the field's ``CustomField``
   record with its whole ``Metadata`` (Tooling API Developer Guide, "CustomField": REST
   methods Query, GET, POST, PATCH; ``Metadata`` is updatable). Never shortened: a shorter
   length would cut values already stored. Assign the permission set license when the user lacks it;
   create the set (with that license for an integration user), the missing grants, read and
   edit on mapped fields, read on the standard fields the pull reads, object grants in an
   order their dependencies allow and never for an object that follows its parent
   (:meth:`AccessNeeds.object_grants`); upgrade a grant in place (never a second row for
   the same field); assign the set.

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
    API_INTEGRATION_LICENSE,
    API_INTEGRATION_PSL,
    PERMISSION_SET,
    PERMISSION_SET_DESCRIPTION,
    PERMISSION_SET_LABEL,
    SFDX_PERMISSION_SET_PATH,
    AccessNeeds,
    ExtraNeeds,
    ObjectGrant,
    access_needs,
    sfdx_permission_set_xml,
)
from connector.mapping.models import MappingFile
from connector.salesforce.port import SalesforcePort as DeployClient
from connector.salesforce.rights import (
    ASSIGN_PERMISSION_SETS,
    CUSTOMIZE_APPLICATION,
    DUPLICATES,
    MANAGE_PERMISSION_SETS,
    MANAGE_USERS,
    NO_SETUP_ACCESS,
    VIEW_SETUP,
    rights_held,
)
from connector.salesforce.sfdx import DEFAULT_HOT_INTENT, FlowSpec, write_sfdx
from connector.sync.streams import DEFAULT_OBJECTS, read_fields

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

DEPLOY_RIGHTS = (VIEW_SETUP, CUSTOMIZE_APPLICATION, MANAGE_PERMISSION_SETS, ASSIGN_PERMISSION_SETS)
INTEGRATION_USER_LICENSE = "Salesforce Integration"


@dataclass
class DeployReport:
    """What ``fields deploy`` did."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    #: ``Object.Field (old -> new characters)`` for each text field made longer
    widened: list[str] = field(default_factory=list)
    permissions_granted: list[str] = field(default_factory=list)
    objects_granted: list[str] = field(default_factory=list)
    objects_absent: list[str] = field(default_factory=list)
    assigned: bool = False
    permission_set: str = PERMISSION_SET
    fields_readable: list[str] = field(default_factory=list)
    license_assigned: bool = False

    def as_json(self) -> dict[str, Any]:
        """The ``fields deploy --json`` object."""
        return {
            "created": self.created,
            "existing": self.existing,
            "widened": self.widened,
            "permissions_granted": self.permissions_granted,
            "objects_granted": self.objects_granted,
            "objects_absent": self.objects_absent,
            "assigned": self.assigned,
            "permission_set": self.permission_set,
            "fields_readable": self.fields_readable,
            "license_assigned": self.license_assigned,
        }


@dataclass(frozen=True)
class _ObjectGrant:
    """One ObjectPermissions row of the permission set."""

    id: str
    read: bool
    create: bool
    edit: bool


def _object_granted(have: _ObjectGrant, want: ObjectGrant) -> bool:
    """True when the row already grants Read, and Edit / Create where they are needed."""
    return have.read and (have.edit or not want.edit) and (have.create or not want.create)


def _field_granted(have: tuple[str, bool, bool] | None, *, edit: bool) -> bool:
    return have is not None and have[1] and (have[2] or not edit)


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
    #: ``Object.Field`` -> (CustomField id, length in the org) of the existing custom fields
    field_lengths: dict[str, tuple[str, int]] = field(default_factory=dict)
    #: standard fields that take a field permission (EntityParticle.IsPermissionable)
    permissionable: set[str] = field(default_factory=set)
    #: the set's license (PermissionSet.LicenseId) as it is, and as the user needs it
    set_license: str | None = None
    license_id: str | None = None
    license_held: bool = True


def deploy(
    client: DeployClient,
    mappings: list[MappingFile],
    *,
    pulled: Sequence[str] = DEFAULT_OBJECTS,
    extra: ExtraNeeds | None = None,
) -> DeployReport:
    """Create missing fields, grant and assign the permission set; see the module docstring.

    ``pulled``: the objects a sync reads (Read on each, and on the standard fields it reads).
    ``extra``: fields and rights beyond the mappings (the Loyalty Management mirror's). Raises
    :class:`AccessMissing`, having changed nothing, when the user lacks a permission the
    remaining writes need.
    """
    definitions = [*field_definitions(mappings), *(extra.definitions if extra else ())]
    wanted = access_needs(mappings, pulled, extra, _read_fields(pulled, extra))
    state = _read_state(client, definitions, wanted)
    # An object the org does not have (Orders off, no Loyalty Management) cannot be granted,
    # nor hold fields; doctor reports it.
    present = state.existing_objects
    definitions = [d for d in definitions if str(d["FullName"]).split(".")[0] in present]
    custom = {str(d["FullName"]) for d in definitions}
    needs = dataclasses.replace(
        wanted,
        read_objects=tuple(o for o in wanted.read_objects if o in present),
        fields=tuple(f for f in wanted.fields if f in custom or f in state.permissionable),
        read_fields=tuple(f for f in wanted.read_fields if f in state.permissionable),
    )
    _check_set_license(state)
    missing = _missing_rights(client, state, definitions, needs)
    if missing:
        raise AccessMissing(_blocked_message(state, missing))
    report = DeployReport(
        objects_absent=[o for o in wanted.read_objects if o not in state.existing_objects]
    )
    for definition in definitions:
        name = definition["FullName"]
        if name in state.existing_fields:
            report.existing.append(name)
            too_short = _too_short(definition, state)
            if too_short is not None:
                record_id, have = too_short
                client.update_tooling(
                    "CustomField", record_id, {"Metadata": definition["Metadata"]}
                )
                report.widened.append(f"{name} ({have} -> {definition['Metadata']['length']})")
            continue
        _create(client, "CustomField", definition, tooling=True)
        report.created.append(name)
    if not state.license_held:
        # The permission set license first: a set tied to it cannot be assigned before.
        _create(
            client,
            "PermissionSetLicenseAssign",
            {"AssigneeId": state.user_id, "PermissionSetLicenseId": state.license_id},
        )
        report.license_assigned = True
    set_id = state.set_id or _create_permission_set(client, state.license_id)
    wanted_fields = {**dict.fromkeys(needs.read_fields, False), **dict.fromkeys(needs.fields, True)}
    for name, edit in wanted_fields.items():
        row = state.field_grants.get(name)
        if row is None:
            body = {
                "ParentId": set_id,
                "SobjectType": name.split(".")[0],
                "Field": name,
                "PermissionsRead": True,
                "PermissionsEdit": edit,
            }
            if not _create(client, "FieldPermissions", body):
                # Created by an earlier attempt whose answer was lost: upgrade what is there.
                row = _field_grants(client, set_id).get(name)
        if row is not None:
            if _field_granted(row, edit=edit):
                continue
            client.update(
                "FieldPermissions", row[0], {"PermissionsRead": True, "PermissionsEdit": edit}
            )
        (report.permissions_granted if edit else report.fields_readable).append(name)
    for grant in needs.object_grants():
        if _grant_object(client, set_id, grant, state.object_grants.get(grant.object_name)):
            report.objects_granted.append(grant.object_name)
    if not state.assigned:
        _create(
            client,
            "PermissionSetAssignment",
            {"AssigneeId": state.user_id, "PermissionSetId": set_id},
        )
        report.assigned = True
    return report


def _too_short(definition: dict[str, Any], state: _State) -> tuple[str, int] | None:
    """(CustomField id, length now) when the org holds this Text field shorter than its
    definition; None otherwise (other types, or long enough)."""
    meta = definition["Metadata"]
    found = state.field_lengths.get(str(definition["FullName"]))
    if meta.get("type") != "Text" or found is None:
        return None
    record_id, have = found
    return (record_id, have) if 0 < have < int(meta["length"]) else None


def too_short_fields(
    client: DeployClient, mappings: list[MappingFile]
) -> dict[str, tuple[int, int]]:
    """``Object.Field`` -> (length in the org, length the mappings write) for every mapped
    Text field the org holds shorter (doctor's check; ``fields deploy`` widens them)."""
    definitions = [d for d in field_definitions(mappings) if d["Metadata"].get("type") == "Text"]
    lengths = _field_lengths(client, definitions)
    out: dict[str, tuple[int, int]] = {}
    for d in definitions:
        name = str(d["FullName"])
        if name in lengths and 0 < lengths[name][1] < int(d["Metadata"]["length"]):
            out[name] = (lengths[name][1], int(d["Metadata"]["length"]))
    return out


def _field_lengths(
    client: DeployClient, definitions: list[dict[str, Any]]
) -> dict[str, tuple[str, int]]:
    """``Object.Field`` -> (CustomField id, FieldDefinition.Length) of the Text fields among
    ``definitions`` that exist. FieldDefinition is queried one object at a time: the Tooling
    API wants it filtered by its entity (Object Reference, "FieldDefinition")."""
    objects = sorted({str(d["FullName"]).split(".")[0] for d in definitions})
    if not objects:
        return {}
    rows = client.tooling_query(
        "SELECT Id, DeveloperName, TableEnumOrId FROM CustomField WHERE TableEnumOrId IN {objs}",
        objs=objects,
    )
    ids = {f"{r['TableEnumOrId']}.{r['DeveloperName']}__c": str(r["Id"]) for r in rows}
    wanted = {str(d["FullName"]) for d in definitions} & set(ids)
    out: dict[str, tuple[str, int]] = {}
    for obj in sorted({n.split(".")[0] for n in wanted}):
        for r in client.tooling_query(
            "SELECT QualifiedApiName, Length FROM FieldDefinition WHERE EntityDefinitionId = {o}",
            o=obj,
        ):
            name = f"{obj}.{r['QualifiedApiName']}"
            if name in wanted:
                out[name] = (ids[name], int(r.get("Length") or 0))
    return out


def _read_fields(
    pulled: Iterable[str], extra: ExtraNeeds | None, *, optional: bool = True
) -> tuple[str, ...]:
    """The standard fields the pull reads, of the pulled objects and those a feature reads
    (Product2 when loyalty rules name product categories)."""
    return read_fields((*pulled, *(extra.read_objects if extra else ())), optional=optional)


def _grant_object(
    client: DeployClient, set_id: str, want: ObjectGrant, have: _ObjectGrant | None
) -> bool:
    """Make the set's row for ``want.object_name`` grant it; False when it already did.
    Read is always saved with the flags that depend on it (Object Reference,
    "ObjectPermissions": Create and Edit require Read)."""
    if have is None:
        body = {
            "ParentId": set_id,
            "SobjectType": want.object_name,
            "PermissionsRead": True,
            "PermissionsCreate": want.create,
            "PermissionsEdit": want.edit,
        }
        if _create(client, "ObjectPermissions", body):
            return True
        have = _object_grants(client, set_id).get(want.object_name)
        if have is None:
            return True
    if _object_granted(have, want):
        return False
    client.update(
        "ObjectPermissions",
        have.id,
        {
            "PermissionsRead": True,
            "PermissionsCreate": want.create or have.create,
            "PermissionsEdit": want.edit or have.edit,
        },
    )
    return True


def _check_set_license(state: _State) -> None:
    """An integration user's set must carry the API Integration license, and a set's license
    cannot be changed once it is made: stop before anything changes and say so."""
    if state.set_id is None or state.license_id is None or state.set_license == state.license_id:
        return
    raise AccessMissing(
        f"fields deploy changed nothing: permission set {PERMISSION_SET} exists without the "
        f"{API_INTEGRATION_LICENSE} permission set license, and the integration user "
        f"({state.user_id}) has the {INTEGRATION_USER_LICENSE} user license, which takes only "
        "sets of that license. A set's license cannot be changed: an admin deletes "
        f"{PERMISSION_SET} (Setup > Permission Sets), then run `lead2loyalty fields deploy` "
        "again; it creates the set with that license."
    )


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
        if exc.error_code in DUPLICATES:
            return False
        raise
    return True


def _create_permission_set(client: DeployClient, license_id: str | None) -> str:
    body = {
        "Name": PERMISSION_SET,
        "Label": PERMISSION_SET_LABEL,
        "Description": PERMISSION_SET_DESCRIPTION,
    }
    if license_id is not None:
        body["LicenseId"] = license_id
    # The id is read back rather than taken from the answer: the same path whether this call
    # created the set or an earlier attempt did and its answer was lost.
    _create(client, "PermissionSet", body)
    rows = client.query("SELECT Id FROM PermissionSet WHERE Name = {name}", name=PERMISSION_SET)
    return str(rows[0]["Id"])


# ---------------------------------------------------------------------- reading the org
def _read_state(
    client: DeployClient, definitions: list[dict[str, Any]], wanted: AccessNeeds
) -> _State:
    user_id = client.user_id()
    objects = sorted({d["FullName"].split(".")[0] for d in definitions})
    standard = sorted({f.split(".")[0] for f in (*wanted.fields, *wanted.read_fields)})
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
            objs=list(wanted.read_objects),
        )
        sets = client.query(
            "SELECT Id, LicenseId FROM PermissionSet WHERE Name = {name}", name=PERMISSION_SET
        )
        set_id = str(sets[0]["Id"]) if sets else None
        state = _State(user_id, existing, {str(e["QualifiedApiName"]) for e in entities}, set_id)
        texts = [d for d in definitions if d["Metadata"].get("type") == "Text"]
        state.field_lengths = _field_lengths(client, texts)
        state.set_license = str(sets[0]["LicenseId"]) if sets and sets[0]["LicenseId"] else None
        if standard:
            state.permissionable = _permissionable(client, standard)
        _read_license(client, state)
        if set_id is not None:
            state.field_grants = _field_grants(client, set_id)
            state.object_grants = _object_grants(client, set_id)
            state.assigned = is_assigned(client, user_id)
    except FatalError as exc:
        if exc.error_code in NO_SETUP_ACCESS:
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
            raise AccessMissing(_blocked_message(_State(user_id, set()), missing)) from None
        raise
    return state


def _permissionable(client: DeployClient, objects: list[str]) -> set[str]:
    """``Object.Field`` of every field of ``objects`` a field permission may name (Tooling
    API, "EntityParticle": IsPermissionable); required and system fields are not."""
    rows = client.tooling_query(
        "SELECT QualifiedApiName, EntityDefinitionId, IsPermissionable FROM EntityParticle "
        "WHERE EntityDefinitionId IN {objs}",
        objs=objects,
    )
    return {
        f"{r['EntityDefinitionId']}.{r['QualifiedApiName']}" for r in rows if r["IsPermissionable"]
    }


def _read_license(client: DeployClient, state: _State) -> None:
    """For a user of the Salesforce Integration user license: the Salesforce API Integration
    permission set license its sets need, and whether the user holds it (Salesforce Help,
    "Give Integration Users API Only Access")."""
    users = client.query(
        "SELECT Profile.UserLicenseId FROM User WHERE Id = {user}", user=state.user_id
    )
    license_id = ((users[0].get("Profile") or {}).get("UserLicenseId")) if users else None
    if not license_id:
        return
    licenses = client.query("SELECT Name FROM UserLicense WHERE Id = {id}", id=license_id)
    if not licenses or licenses[0]["Name"] != INTEGRATION_USER_LICENSE:
        return
    psl = client.query(
        "SELECT Id FROM PermissionSetLicense WHERE DeveloperName = {name}",
        name=API_INTEGRATION_PSL,
    )
    if not psl:
        raise AccessMissing(
            f"fields deploy changed nothing: the integration user ({state.user_id}) has the "
            f"{INTEGRATION_USER_LICENSE} user license, but the org shows no "
            f"{API_INTEGRATION_LICENSE} permission set license ({API_INTEGRATION_PSL}), "
            "which its permission sets need. Check Setup > Company Information > Permission "
            "Set Licenses, or give the connector a user with the Salesforce license."
        )
    state.license_id = str(psl[0]["Id"])
    state.license_held = bool(
        client.query(
            "SELECT Id FROM PermissionSetLicenseAssign WHERE AssigneeId = {user} "
            "AND PermissionSetLicenseId = {psl}",
            user=state.user_id,
            psl=state.license_id,
        )
    )


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
    """The deploy's system permissions (API names) the user holds through its profile and
    assigned permission sets; None when it cannot read them (no View Setup and Configuration)."""
    return rights_held(client, user_id, [p for p, _label in (*DEPLOY_RIGHTS, MANAGE_USERS)])


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
    to_widen = [d["FullName"] for d in definitions if _too_short(d, state) is not None]
    if to_widen:
        wanted.setdefault(CUSTOMIZE_APPLICATION, []).append(
            f"widen {len(to_widen)} text field(s) shorter than the mappings need"
        )
    grants_missing = (
        state.set_id is None
        or any(not _field_granted(state.field_grants.get(name), edit=True) for name in needs.fields)
        or any(
            not _field_granted(state.field_grants.get(name), edit=False)
            for name in needs.read_fields
        )
        or any(
            not (have := state.object_grants.get(grant.object_name))
            or not _object_granted(have, grant)
            for grant in needs.object_grants()
        )
    )
    if grants_missing:
        wanted.setdefault(MANAGE_PERMISSION_SETS, []).append(
            f"create or update permission set {PERMISSION_SET} and its field and object grants"
        )
    if not state.license_held:
        wanted.setdefault(MANAGE_USERS, []).append(
            f"assign the {API_INTEGRATION_LICENSE} permission set license to the integration "
            "user (its permission sets need it)"
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


def _blocked_message(state: _State, missing: dict[str, list[str]]) -> str:
    lines = [
        f"fields deploy changed nothing: the integration user ({state.user_id}) needs "
        f"{len(missing)} permission(s) it does not hold. An admin must grant:",
    ]
    for label, uses in missing.items():
        lines.append(f'  - "{label}": to {"; ".join(uses)}')
    if MANAGE_USERS[1] in missing:
        lines += [
            f"  (or, instead of {MANAGE_USERS[1]}, assign the license in Setup > Users > the "
            "integration user > Permission Set License Assignments, or",
            f"  `sf org assign permsetlicense --name {API_INTEGRATION_PSL} --on-behalf-of "
            "<integration username>`)",
        ]
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
    integration_license: bool = True,
) -> list[Path]:
    """Write SFDX source for every mapped custom field (and ``extra``'s) and the permission
    set under ``root`` (the SFDX project folder), then what people see
    (:mod:`connector.salesforce.sfdx`: L2L_Read, the record page component, list views,
    reports, the ``flows`` the connector invokes). ``integration_license``: the set carries
    the Salesforce API Integration permission set license, as a Salesforce Integration user
    (the README's) needs; without it, the set suits a user of the Salesforce license."""
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
    pulled = tuple(pulled)
    # Only the fields every org has: a permission set naming a field the org lacks fails to
    # deploy ("no CustomField named ... found", trailheadapps/apex-recipes #8).
    needs = access_needs(mappings, pulled, extra, _read_fields(pulled, extra, optional=False))
    license_name = API_INTEGRATION_LICENSE if integration_license else None
    path.write_text(sfdx_permission_set_xml(needs, license_name=license_name), encoding="utf-8")
    written.append(path)
    written += write_sfdx(root, mappings, flows, hot=hot)
    return written

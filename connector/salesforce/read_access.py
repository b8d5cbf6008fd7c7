"""L2L_Read in the org: the read-only permission set that lets reps and admins see the scores.

``fields deploy`` makes the integration user's fields and its L2L_Integration set; a field made
through the Tooling API is visible to nobody else until a permission set assigned to them
grants it (Object Reference, "FieldPermissions"). This module gives people the same view,
read-only, in the steps ``fields deploy`` runs it:

1. :func:`plan_read_set`, before ``fields deploy`` changes anything: the users to assign
   (``--assign-read``, by username) exist and are active, and the integration user holds the
   permissions the writes need (Manage Profiles and Permission Sets to create or change the
   set, Assign Permission Sets to assign it); otherwise :class:`AccessMissing` names them;
2. :func:`apply_read_set`, after the fields exist: the L2L_Read set, a read-only
   FieldPermissions row per mapped custom field the org has (an editable one is made
   read-only), Read on their objects, and the assignments; safe to re-run, it writes only
   what is missing;
3. :func:`read_set_holders`, for ``doctor``: who holds L2L_Read.

Nobody is assigned by default: an admin chooses the people (``--assign-read``, or
``sf org assign permset --name L2L_Read --on-behalf-of <username>``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from connector.errors import AccessMissing, FatalError
from connector.mapping.models import MappingFile
from connector.salesforce.port import SalesforcePort
from connector.salesforce.rights import (
    ASSIGN_PERMISSION_SETS,
    DUPLICATES,
    MANAGE_PERMISSION_SETS,
    MANAGE_USERS,
    NO_SETUP_ACCESS,
    rights_held,
)
from connector.salesforce.sfdx import (
    READ_PERMISSION_SET,
    READ_PERMISSION_SET_DESCRIPTION,
    READ_PERMISSION_SET_LABEL,
    read_permission_set_needs,
)

# System permissions: API field name -> the label an admin sees in Setup.
_MANAGE_SETS = MANAGE_PERMISSION_SETS
_ASSIGN_SETS = ASSIGN_PERMISSION_SETS
_MANAGE_USERS = MANAGE_USERS[0]


class AssigneesUnknown(AccessMissing):
    """A username given to ``--assign-read`` is no active user of the org."""


@dataclass(frozen=True)
class ReadSetPlan:
    """What :func:`apply_read_set` will do: the users (username -> id) to assign."""

    assignees: dict[str, str]


@dataclass
class ReadSetReport:
    """What :func:`apply_read_set` did."""

    created: bool = False
    fields_granted: list[str] = field(default_factory=list)
    objects_granted: list[str] = field(default_factory=list)
    assigned: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The ``read_permission_set`` object of ``fields deploy --json``."""
        return {
            "name": READ_PERMISSION_SET,
            "created": self.created,
            "fields_granted": self.fields_granted,
            "objects_granted": self.objects_granted,
            "assigned": self.assigned,
        }


def plan_read_set(
    client: SalesforcePort, mappings: Sequence[MappingFile], assign: Sequence[str] = ()
) -> ReadSetPlan:
    """Check, before anything changes, that L2L_Read can be made and assigned as asked.

    Raises :class:`AssigneesUnknown` naming every username that is no active user, then
    :class:`AccessMissing` naming every missing permission.
    """
    problems: list[str] = []
    assignees: dict[str, str] = {}
    if assign:
        rows = client.query(
            "SELECT Id, Username, IsActive FROM User WHERE Username IN {names}",
            names=list(assign),
        )
        found = {str(r["Username"]).lower(): r for r in rows}
        for name in assign:
            row = found.get(name.lower())
            if row is None:
                problems.append(f"no user has the username {name}")
            elif not row.get("IsActive", True):
                problems.append(f"user {name} is inactive")
            else:
                assignees[name] = str(row["Id"])
    if problems:
        raise AssigneesUnknown(
            "fields deploy changed nothing: "
            + "; ".join(problems)
            + ". Give the usernames of active users to --assign-read."
        )
    complete = _complete(client, mappings, assignees)
    held = None if complete in (True, None) else _held_rights(client)
    # complete: nothing to write, no right needed (a re-run needs only View Setup and
    # Configuration). None (cannot read the set) or held None (cannot read its own rights):
    # no View Setup and Configuration; the field deploy then stops before any write and
    # names every permission it needs, these too.
    if held is not None:
        wanted = [_MANAGE_SETS] + ([_ASSIGN_SETS] if assignees else [])
        for api_name, label in wanted:
            granted = api_name in held or (api_name == _ASSIGN_SETS[0] and _MANAGE_USERS in held)
            if not granted:
                problems.append(
                    f'the integration user needs "{label}" to '
                    + ("create and grant" if api_name == _MANAGE_SETS[0] else "assign")
                    + f" permission set {READ_PERMISSION_SET}"
                )
    if problems:
        raise AccessMissing(
            "fields deploy changed nothing: "
            + "; ".join(problems)
            + ". Fix these (or deploy salesforce/force-app as an admin and run "
            f"`sf org assign permset --name {READ_PERMISSION_SET} --on-behalf-of <username>`), "
            "then run `lead2loyalty fields deploy` again."
        )
    return ReadSetPlan(assignees)


def apply_read_set(
    client: SalesforcePort,
    mappings: Sequence[MappingFile],
    plan: ReadSetPlan,
    present: Iterable[str],
) -> ReadSetReport:
    """Make L2L_Read grant Read on every mapped custom field in ``present`` (the fields the
    org has, ``Object.Field``) and on their objects; assign it as ``plan`` says."""
    report = ReadSetReport()
    needs = read_permission_set_needs(mappings)
    have = set(present)
    fields = [f for f in needs.fields if f in have]
    objects = sorted({f.split(".")[0] for f in fields})
    set_id = _set_id(client)
    if set_id is None:
        _create(
            client,
            "PermissionSet",
            {
                "Name": READ_PERMISSION_SET,
                "Label": READ_PERMISSION_SET_LABEL,
                "Description": READ_PERMISSION_SET_DESCRIPTION,
            },
        )
        report.created = True
        set_id = _set_id(client)
        assert set_id is not None
    grants = {
        str(r["Field"]): r
        for r in client.query(
            "SELECT Id, Field, PermissionsRead, PermissionsEdit FROM FieldPermissions "
            "WHERE ParentId = {ps}",
            ps=set_id,
        )
    }
    for name in fields:
        row = grants.get(name)
        if row is None:
            _create(
                client,
                "FieldPermissions",
                {
                    "ParentId": set_id,
                    "SobjectType": name.split(".")[0],
                    "Field": name,
                    "PermissionsRead": True,
                    "PermissionsEdit": False,
                },
            )
        elif row["PermissionsRead"] and not row["PermissionsEdit"]:
            continue
        else:
            client.update(
                "FieldPermissions",
                str(row["Id"]),
                {"PermissionsRead": True, "PermissionsEdit": False},
            )
        report.fields_granted.append(name)
    readable = {
        str(r["SobjectType"]): r
        for r in client.query(
            "SELECT Id, SobjectType, PermissionsRead FROM ObjectPermissions WHERE ParentId = {ps}",
            ps=set_id,
        )
    }
    for obj in objects:
        row = readable.get(obj)
        if row is not None and row["PermissionsRead"]:
            continue
        if row is None:
            _create(
                client,
                "ObjectPermissions",
                {"ParentId": set_id, "SobjectType": obj, "PermissionsRead": True},
            )
        else:
            client.update("ObjectPermissions", str(row["Id"]), {"PermissionsRead": True})
        report.objects_granted.append(obj)
    if plan.assignees:
        held = {
            str(r["AssigneeId"])
            for r in client.query(
                "SELECT AssigneeId FROM PermissionSetAssignment WHERE PermissionSetId = {ps}",
                ps=set_id,
            )
        }
        for name, user_id in plan.assignees.items():
            if user_id in held:
                continue
            _create(
                client,
                "PermissionSetAssignment",
                {"AssigneeId": user_id, "PermissionSetId": set_id},
            )
            report.assigned.append(name)
    return report


def _complete(
    client: SalesforcePort, mappings: Sequence[MappingFile], assignees: dict[str, str]
) -> bool | None:
    """Whether L2L_Read already grants and is assigned as asked; None when unreadable."""
    needs = read_permission_set_needs(mappings)
    if not needs.fields and not assignees:
        return True
    try:
        set_id = _set_id(client)
        if set_id is None:
            return False
        fields = {
            str(r["Field"])
            for r in client.query(
                "SELECT Field FROM FieldPermissions WHERE ParentId = {ps} "
                "AND PermissionsRead = true AND PermissionsEdit = false",
                ps=set_id,
            )
        }
        objects = {
            str(r["SobjectType"])
            for r in client.query(
                "SELECT SobjectType FROM ObjectPermissions WHERE ParentId = {ps} "
                "AND PermissionsRead = true",
                ps=set_id,
            )
        }
        holders = {
            str(r["AssigneeId"])
            for r in client.query(
                "SELECT AssigneeId FROM PermissionSetAssignment WHERE PermissionSetId = {ps}",
                ps=set_id,
            )
        }
    except FatalError as exc:
        if exc.error_code in NO_SETUP_ACCESS:
            return None
        raise
    return (
        set(needs.fields) <= fields
        and set(needs.read_objects) <= objects
        and set(assignees.values()) <= holders
    )


def read_set_holders(client: SalesforcePort) -> list[str] | None:
    """The usernames L2L_Read is assigned to (sorted); None when the set cannot be read
    (no View Setup and Configuration)."""
    try:
        rows = client.query(
            "SELECT Assignee.Username FROM PermissionSetAssignment "
            "WHERE PermissionSet.Name = {name}",
            name=READ_PERMISSION_SET,
        )
    except FatalError as exc:
        if exc.error_code in NO_SETUP_ACCESS:
            return None
        raise
    return sorted(str((r.get("Assignee") or {}).get("Username")) for r in rows)


def read_set_exists(client: SalesforcePort) -> bool | None:
    """Whether the org has L2L_Read; None when it cannot tell."""
    try:
        return _set_id(client) is not None
    except FatalError as exc:
        if exc.error_code in NO_SETUP_ACCESS:
            return None
        raise


def _set_id(client: SalesforcePort) -> str | None:
    rows = client.query(
        "SELECT Id FROM PermissionSet WHERE Name = {name}", name=READ_PERMISSION_SET
    )
    return str(rows[0]["Id"]) if rows else None


def _held_rights(client: SalesforcePort) -> set[str] | None:
    return rights_held(client, client.user_id(), [_MANAGE_SETS[0], _ASSIGN_SETS[0], _MANAGE_USERS])


def _create(client: SalesforcePort, sobject: str, body: dict[str, Any]) -> None:
    # A row an earlier, interrupted attempt made is taken as made.
    try:
        client.create(sobject, body)
    except FatalError as exc:
        if exc.error_code not in DUPLICATES:
            raise

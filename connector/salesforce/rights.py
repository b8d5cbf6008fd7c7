"""System permissions the connector checks before it changes an org, and how it reads them.

A user's system permissions are the union of its profile's and its assigned permission sets'
(Object Reference, "PermissionSetAssignment": every profile has a backing permission set, so one
query over the assignments reads both). Each is named by its API field and the label an admin
sees in Setup.
"""

from __future__ import annotations

from collections.abc import Sequence

from connector.errors import FatalError
from connector.salesforce.port import SalesforcePort

VIEW_SETUP = ("PermissionsViewSetup", "View Setup and Configuration")
CUSTOMIZE_APPLICATION = ("PermissionsCustomizeApplication", "Customize Application")
MANAGE_PERMISSION_SETS = (
    "PermissionsManageProfilesPermissionsets",
    "Manage Profiles and Permission Sets",
)
ASSIGN_PERMISSION_SETS = ("PermissionsAssignPermissionSets", "Assign Permission Sets")
MANAGE_USERS = ("PermissionsManageUsers", "Manage Users")
#: Codes Salesforce answers when a setup object is out of the user's reach.
NO_SETUP_ACCESS = frozenset({"INVALID_TYPE", "INVALID_FIELD", "NOT_FOUND"})
#: Codes of a create that found its record already made (a re-run, an answer lost before).
DUPLICATES = frozenset({"DUPLICATE_VALUE", "DUPLICATE_DEVELOPER_NAME"})


def rights_held(client: SalesforcePort, user_id: str, names: Sequence[str]) -> set[str] | None:
    """Which of the system permissions ``names`` (API names) the user holds through its profile
    and assigned permission sets; None when it cannot read them (no View Setup and
    Configuration)."""
    select = ", ".join(f"PermissionSet.{p}" for p in names)
    try:
        rows = client.query(
            f"SELECT {select} FROM PermissionSetAssignment WHERE AssigneeId = {{user}}",
            user=user_id,
        )
    except FatalError as exc:
        if exc.error_code in NO_SETUP_ACCESS:
            return None
        raise
    held: set[str] = set()
    for row in rows:
        permission_set = row.get("PermissionSet") or {}
        held.update(p for p in names if permission_set.get(p))
    return held

"""Field deploy and export: make the org hold every field the mappings write.

``deploy`` creates missing custom fields through the Tooling API, then grants the
integration's permission set read and edit on each (a new field is invisible to the API user
until field-level security allows it). ``export`` writes the same fields as SFDX source, for
admins who deploy through their own pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from connector.mapping import field_definitions, sfdx_field_path, sfdx_field_xml
from connector.mapping.models import MappingFile

PERMISSION_SET = "L2L_Integration"


class DeployClient(Protocol):
    """The client calls a deploy makes."""

    def describe(self, object_name: str) -> dict[str, Any]: ...

    def create_tooling(self, sobject: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def create(self, object_name: str, body: dict[str, Any]) -> dict[str, Any]: ...

    def query(self, soql: str, **params: Any) -> list[dict[str, Any]]: ...


@dataclass
class DeployReport:
    """What ``fields deploy`` did."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    permissions_granted: list[str] = field(default_factory=list)
    permission_set: str = PERMISSION_SET

    def as_json(self) -> dict[str, Any]:
        """The ``fields deploy --json`` object."""
        return {
            "created": self.created,
            "existing": self.existing,
            "permissions_granted": self.permissions_granted,
            "permission_set": self.permission_set,
        }


def deploy(client: DeployClient, mappings: list[MappingFile]) -> DeployReport:
    """Create missing fields and grant the permission set on every mapped custom field."""
    report = DeployReport()
    definitions = field_definitions(mappings)
    objects = sorted({d["FullName"].split(".")[0] for d in definitions})
    present = {f"{obj}.{f['name']}" for obj in objects for f in client.describe(obj)["fields"]}
    for definition in definitions:
        name = definition["FullName"]
        if name in present:
            report.existing.append(name)
            continue
        client.create_tooling("CustomField", definition)
        report.created.append(name)
    sets = client.query("SELECT Id FROM PermissionSet WHERE Name = {name}", name=PERMISSION_SET)
    if sets:
        permission_set_id = sets[0]["Id"]
    else:
        permission_set_id = client.create(
            "PermissionSet",
            {
                "Name": PERMISSION_SET,
                "Label": "lead2loyalty integration",
                "Description": "Read and edit on the fields lead2loyalty writes.",
            },
        )["id"]
    granted = {
        row["Field"]
        for row in client.query(
            "SELECT Field FROM FieldPermissions WHERE ParentId = {ps} AND PermissionsEdit = true",
            ps=permission_set_id,
        )
    }
    for definition in definitions:
        name = definition["FullName"]
        if name in granted:
            continue
        client.create(
            "FieldPermissions",
            {
                "ParentId": permission_set_id,
                "SobjectType": name.split(".")[0],
                "Field": name,
                "PermissionsRead": True,
                "PermissionsEdit": True,
            },
        )
        report.permissions_granted.append(name)
    return report


def export(mappings: list[MappingFile], root: Path) -> list[Path]:
    """Write SFDX field source for every mapped custom field under ``root``."""
    written = []
    for definition in field_definitions(mappings):
        # sfdx_field_path is relative to the repo ("salesforce/force-app/..."); root is the
        # SFDX project folder itself.
        path = root / Path(sfdx_field_path(definition)).relative_to("salesforce")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sfdx_field_xml(definition), encoding="utf-8")
        written.append(path)
    return written

"""Field definitions for `fields deploy`: Tooling API CustomField bodies and SFDX source files.

Built from the mappings alone (no network): the Salesforce client posts the bodies to
`tooling/sobjects/CustomField`, and the SFDX files let an admin deploy the same fields with the
Salesforce CLI or keep them in their org's source control. Standard fields are never deployed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from connector.mapping.models import DEFAULT_VISIBLE_LINES, FieldMapping, MappingFile

#: Mapping type -> Metadata API CustomField type.
METADATA_TYPES: dict[str, str] = {
    "number": "Number",
    "currency": "Currency",
    "percent": "Percent",
    "text": "Text",
    "textarea": "LongTextArea",
    "date": "Date",
    "datetime": "DateTime",
    "checkbox": "Checkbox",
    "picklist": "Picklist",
}

SFDX_ROOT = "salesforce/force-app/main/default"


def _metadata(m: FieldMapping) -> dict[str, Any]:
    meta: dict[str, Any] = {"label": m.display_label, "type": METADATA_TYPES[m.type]}
    if m.description:
        meta["description"] = m.description
    if m.help:
        meta["inlineHelpText"] = m.help
    if m.type in ("number", "currency", "percent"):
        meta["precision"], meta["scale"] = m.digits
    elif m.type == "text":
        meta["length"] = m.max_length
    elif m.type == "textarea":
        meta["length"] = m.max_length
        meta["visibleLines"] = m.visible_lines or DEFAULT_VISIBLE_LINES
    elif m.type == "checkbox":
        meta["defaultValue"] = "false"
    elif m.type == "picklist":
        labels = list(dict.fromkeys((m.picklist or {}).values()))
        if m.picklist_default is not None and m.picklist_default not in labels:
            labels.append(m.picklist_default)
        meta["valueSet"] = {
            "restricted": True,
            "valueSetDefinition": {
                "sorted": False,
                "value": [{"fullName": x, "default": False, "label": x} for x in labels],
            },
        }
    return meta


def field_definitions(mappings: Iterable[MappingFile]) -> list[dict[str, Any]]:
    """Tooling API CustomField bodies, `{"FullName": "Object.Field__c", "Metadata": {...}}`.

    One per custom field in the mappings, in file order; standard fields are skipped because
    they exist in every org and cannot be created.
    """
    out: list[dict[str, Any]] = []
    for mf in mappings:
        for m in mf.fields:
            if m.is_custom:
                out.append({"FullName": f"{mf.object}.{m.field}", "Metadata": _metadata(m)})
    return out


def sfdx_field_path(defn: Mapping[str, Any]) -> str:
    """Where the field's SFDX source file goes, relative to the repository root."""
    obj, field = str(defn["FullName"]).split(".", 1)
    return f"{SFDX_ROOT}/objects/{obj}/fields/{field}.field-meta.xml"


def _xml(key: str, value: Any, indent: str) -> list[str]:
    if isinstance(value, list):
        return [line for item in value for line in _xml(key, item, indent)]
    if isinstance(value, Mapping):
        lines = [f"{indent}<{key}>"]
        for k, v in value.items():
            lines.extend(_xml(k, v, indent + "    "))
        return [*lines, f"{indent}</{key}>"]
    text = ("true" if value else "false") if isinstance(value, bool) else escape(str(value))
    return [f"{indent}<{key}>{text}</{key}>"]


def sfdx_field_xml(defn: Mapping[str, Any]) -> str:
    """The SFDX source (`<Field>.field-meta.xml`) of one definition from `field_definitions`.

    Elements follow the Metadata API's order for CustomField: fullName first, then by name.
    """
    field = str(defn["FullName"]).split(".", 1)[1]
    meta: Mapping[str, Any] = defn["Metadata"]
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<CustomField xmlns="http://soap.sforce.com/2006/04/metadata">',
        f"    <fullName>{escape(field)}</fullName>",
    ]
    for key in sorted(meta):
        lines.extend(_xml(key, meta[key], "    "))
    lines.append("</CustomField>")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- the permission set
PERMISSION_SET = "L2L_Integration"
PERMISSION_SET_LABEL = "lead2loyalty integration"
PERMISSION_SET_DESCRIPTION = (
    "Read on the objects lead2loyalty pulls; read and edit on the objects and fields it writes."
)


#: Objects Salesforce takes no object permissions for -> the object whose access they follow
#: (None: activities and users, which follow rules of their own). ObjectPermissions.SobjectType
#: omits "any object whose record access rolls up to a parent" (Order Product follows Order,
#: Opportunity Product follows Opportunity) and Task, Event and User; saving such a row fails
#: with INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST (jetstreamapp/jetstream PR #1982, issue #1981).
#: Their fields still take field permissions.
FOLLOWS_PARENT: dict[str, str | None] = {
    "OrderItem": "Order",
    "OpportunityLineItem": "Opportunity",
    "PricebookEntry": "Pricebook2",
    "Task": None,
    "Event": None,
    "User": None,
}

#: Object -> objects whose grant must be saved before its own: "Permission Read Account
#: depends on permission(s): Read Contact" in orgs with person accounts
#: (trailheadapps/apex-recipes #22); granting Contact first is harmless elsewhere.
GRANT_AFTER: dict[str, tuple[str, ...]] = {"Account": ("Contact",)}

#: Standard fields the pull reads that field-level security never hides (required or system
#: fields; no permission set may name them, and a Metadata API deploy of one that does
#: fails). ``fields deploy`` asks the org instead (EntityParticle.IsPermissionable); the
#: export, which has no org to ask, leaves these out.
NOT_PERMISSIONABLE = frozenset(
    {
        "Account.Name",
        "Contact.FirstName",
        "Contact.LastName",
        "Contact.Name",
        "Lead.FirstName",
        "Lead.LastName",
        "Lead.Company",
        "Lead.Status",
        "Order.AccountId",
        "Order.EffectiveDate",
        "Order.Status",
        "OrderItem.OrderId",
        "OrderItem.Quantity",
        "OrderItem.UnitPrice",
    }
)


@dataclass(frozen=True)
class ObjectGrant:
    """One ObjectPermissions row the integration's set holds."""

    object_name: str
    create: bool
    edit: bool


@dataclass(frozen=True)
class AccessNeeds:
    """What the integration's permission set grants, from the mappings and the pulled objects.

    ``fields``: every mapped field (``Object.Field``), read and edit. ``read_objects``: every
    pulled or written object. ``edit_objects``: every object a mapping writes.
    ``create_objects``: objects the connector creates records of (upserts), Create and Edit.
    A user sees a field only with Read on its object too, and edits it only with Edit on the
    object (Object Reference, "ObjectPermissions": Edit requires Read, Create requires Read).
    """

    fields: tuple[str, ...]
    read_objects: tuple[str, ...]
    edit_objects: tuple[str, ...]
    create_objects: tuple[str, ...] = ()
    #: Standard fields the pull reads (``Object.Field``): Read, where field-level security
    #: applies to them.
    read_fields: tuple[str, ...] = ()

    def object_grants(self) -> list[ObjectGrant]:
        """The ObjectPermissions rows that give this access, in the order they can be saved:
        an object that follows its parent (:data:`FOLLOWS_PARENT`) is granted through the
        parent, and an object comes after those it depends on (:data:`GRANT_AFTER`)."""
        rights: dict[str, tuple[bool, bool]] = {}
        for obj in self.read_objects:
            target = FOLLOWS_PARENT.get(obj, obj)
            if target is None:
                continue
            create, edit = rights.get(target, (False, False))
            rights[target] = (
                create or obj in self.create_objects,
                edit or obj in self.edit_objects,
            )
        ordered: list[str] = []

        def place(obj: str) -> None:
            if obj in ordered:
                return
            for before in GRANT_AFTER.get(obj, ()):
                if before in rights:
                    place(before)
            ordered.append(obj)

        for obj in sorted(rights):
            place(obj)
        return [ObjectGrant(o, *rights[o]) for o in ordered]


@dataclass(frozen=True)
class ExtraNeeds:
    """Fields and object rights a feature needs beyond the mappings (the Loyalty Management
    mirror's External ID fields and upserts): deployed and granted like the mapped ones."""

    definitions: tuple[dict[str, Any], ...] = ()
    read_objects: tuple[str, ...] = ()
    create_objects: tuple[str, ...] = ()


def access_needs(
    mappings: Iterable[MappingFile],
    pulled: Iterable[str],
    extra: ExtraNeeds | None = None,
    read_fields: Iterable[str] = (),
) -> AccessNeeds:
    """The grants the integration needs for ``mappings``, the ``pulled`` objects (and the
    standard ``read_fields`` their pull reads) and ``extra``."""
    files = list(mappings)
    extra = extra or ExtraNeeds()
    fields = tuple(
        dict.fromkeys(
            [
                *(f"{mf.object}.{m.field}" for mf in files for m in mf.fields),
                *(str(d["FullName"]) for d in extra.definitions),
            ]
        )
    )
    create = tuple(sorted(set(extra.create_objects)))
    edit = tuple(sorted({*(mf.object for mf in files if mf.fields), *create}))
    read = tuple(sorted({*pulled, *edit, *extra.read_objects}))
    reads = tuple(f for f in dict.fromkeys(read_fields) if f not in fields)
    return AccessNeeds(
        fields=fields,
        read_objects=read,
        edit_objects=edit,
        create_objects=create,
        read_fields=reads,
    )


SFDX_PERMISSION_SET_PATH = f"{SFDX_ROOT}/permissionsets/{PERMISSION_SET}.permissionset-meta.xml"


#: The permission set license of a set for a Salesforce Integration user (Salesforce Help,
#: "Give Integration Users API Only Access"), as the Metadata API's ``license`` names it.
API_INTEGRATION_LICENSE = "Salesforce API Integration"
API_INTEGRATION_PSL = "SalesforceAPIIntegrationPsl"


def sfdx_permission_set_xml(needs: AccessNeeds, *, license_name: str | None = None) -> str:
    """The permission set as SFDX source (``<Name>.permissionset-meta.xml``).

    Metadata API "PermissionSet": child elements in the order a retrieve writes them
    (alphabetical: description, fieldPermissions, hasActivationRequired, label, license,
    objectPermissions), fieldPermissions as editable/field/readable sorted by field,
    objectPermissions as allowCreate/allowDelete/allowEdit/allowRead/modifyAllRecords/object/
    viewAllRecords sorted by object. Mapped fields are read and edit, the standard fields the
    pull reads read-only (but :data:`NOT_PERMISSIONABLE`); objects that follow a parent get no
    objectPermissions (:data:`FOLLOWS_PARENT`). ``license_name``: the set's license
    (:data:`API_INTEGRATION_LICENSE` for a Salesforce Integration user), or none.
    """
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<PermissionSet xmlns="http://soap.sforce.com/2006/04/metadata">',
        f"    <description>{escape(PERMISSION_SET_DESCRIPTION)}</description>",
    ]
    editable = set(needs.fields)
    readable = {f for f in needs.read_fields if f not in NOT_PERMISSIONABLE}
    for name in sorted(editable | readable):
        edit = "true" if name in editable else "false"
        lines += [
            "    <fieldPermissions>",
            f"        <editable>{edit}</editable>",
            f"        <field>{escape(name)}</field>",
            "        <readable>true</readable>",
            "    </fieldPermissions>",
        ]
    lines += [
        "    <hasActivationRequired>false</hasActivationRequired>",
        f"    <label>{escape(PERMISSION_SET_LABEL)}</label>",
    ]
    if license_name:
        lines.append(f"    <license>{escape(license_name)}</license>")
    for grant in sorted(needs.object_grants(), key=lambda g: g.object_name):
        lines += [
            "    <objectPermissions>",
            f"        <allowCreate>{'true' if grant.create else 'false'}</allowCreate>",
            "        <allowDelete>false</allowDelete>",
            f"        <allowEdit>{'true' if grant.edit else 'false'}</allowEdit>",
            "        <allowRead>true</allowRead>",
            "        <modifyAllRecords>false</modifyAllRecords>",
            f"        <object>{escape(grant.object_name)}</object>",
            "        <viewAllRecords>false</viewAllRecords>",
            "    </objectPermissions>",
        ]
    lines.append("</PermissionSet>")
    return "\n".join(lines) + "\n"

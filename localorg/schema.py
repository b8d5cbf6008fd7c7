"""The sObjects localorg knows: standard fields with their describe metadata.

A field is declared once here and drives everything else: the SQLite column, describe(),
validation of writes and the SOQL compiler's type checks. Custom fields created through the
Tooling API are added to the same structures at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Salesforce describe type -> SQLite column affinity.
SQL_TYPES: dict[str, str] = {
    "id": "TEXT",
    "reference": "TEXT",
    "string": "TEXT",
    "email": "TEXT",
    "phone": "TEXT",
    "url": "TEXT",
    "textarea": "TEXT",
    "picklist": "TEXT",
    "multipicklist": "TEXT",
    "date": "TEXT",
    "datetime": "TEXT",
    "boolean": "INTEGER",
    "int": "INTEGER",
    "double": "REAL",
    "currency": "REAL",
    "percent": "REAL",
}

SOAP_TYPES: dict[str, str] = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


@dataclass
class FieldInfo:
    """One field of an sObject, with what describe() reports about it."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    required: bool = False  # required on create (nillable false, no default)
    createable: bool = True
    updateable: bool = True
    custom: bool = False
    external_id: bool = False
    unique: bool = False
    reference_to: list[str] = field(default_factory=list)
    relationship_name: str | None = None
    picklist: list[str] = field(default_factory=list)
    default: Any = None
    description: str = ""
    # Fields created at run time through the Tooling API stay invisible to the API user until
    # a permission set grants them, as field-level security does in a real org.
    protected: bool = False
    # A read-only field the org derives from others: the SQL expression of its (virtual) column.
    generated: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            self.label = _label(self.name)
        if self.type in ("string", "email", "phone", "url", "picklist") and not self.length:
            self.length = 80 if self.type == "email" else 255
        if self.type == "textarea" and not self.length:
            self.length = 32000
        if self.type in ("double", "currency", "percent") and not self.precision:
            self.precision, self.scale = 18, 2

    @property
    def sql_type(self) -> str:
        """The SQLite column type that stores this field."""
        return SQL_TYPES[self.type]

    def describe(self) -> dict[str, Any]:
        """This field as a describe() ``fields`` entry."""
        nillable = not self.required and self.type != "boolean" and self.name != "Id"
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "soapType": SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "precision": self.precision,
            "scale": self.scale,
            "digits": 9 if self.type == "int" else 0,
            "byteLength": self.length * 3,
            "nillable": nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "custom": self.custom,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.name == "Id" or self.external_id or self.type == "email",
            "calculated": False,
            "defaultedOnCreate": self.default is not None or self.type == "boolean",
            "filterable": self.type != "textarea",
            "sortable": self.type != "textarea",
            "groupable": self.type not in ("textarea", "double", "currency", "percent"),
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "picklistValues": [
                {"active": True, "defaultValue": i == 0 and self.required, "label": v, "value": v}
                for i, v in enumerate(self.picklist)
            ],
            "inlineHelpText": self.description or None,
            "defaultValue": self.default if self.type == "boolean" else None,
            "autoNumber": False,
            "htmlFormatted": False,
            "nameField": self.name == "Name",
        }


def _label(name: str) -> str:
    base = name.removesuffix("__c").removesuffix("Id") if name != "Id" else "Record ID"
    out = []
    for i, ch in enumerate(base.replace("_", " ")):
        if ch.isupper() and i and base[i - 1].islower():
            out.append(" ")
        out.append(ch)
    return "".join(out).strip() or name


@dataclass
class ObjectInfo:
    """One sObject: its fields in declaration order and its describe() flags."""

    name: str
    label: str
    label_plural: str
    fields: dict[str, FieldInfo]
    key_prefix: str = ""
    custom: bool = False
    # lower-case name -> canonical name, for SOQL and JSON keys (Salesforce is case-insensitive).
    _lower: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.reindex()

    def reindex(self) -> None:
        """Rebuild the case-insensitive index after fields were added."""
        self._lower = {name.lower(): name for name in self.fields}

    def field(self, name: str) -> FieldInfo | None:
        """The field called ``name``, matched case-insensitively."""
        canonical = self._lower.get(name.lower())
        return self.fields[canonical] if canonical else None

    def add_field(self, info: FieldInfo) -> None:
        """Add a (custom) field."""
        self.fields[info.name] = info
        self.reindex()


def _s(name: str, length: int = 0, **kw: Any) -> FieldInfo:
    return FieldInfo(name, "string", length=length, **kw)


def _ref(name: str, *to: str, rel: str | None = None, **kw: Any) -> FieldInfo:
    return FieldInfo(
        name, "reference", reference_to=list(to), relationship_name=rel or name[:-2], **kw
    )


def _pick(name: str, *values: str, **kw: Any) -> FieldInfo:
    return FieldInfo(name, "picklist", picklist=list(values), **kw)


def _ro(info: FieldInfo) -> FieldInfo:
    info.createable = False
    info.updateable = False
    return info


def _system(owner: bool = True) -> list[FieldInfo]:
    fields = [
        _ro(FieldInfo("Id", "id", length=18)),
        _ro(FieldInfo("IsDeleted", "boolean", default=False)),
        _ro(FieldInfo("CreatedDate", "datetime")),
        _ro(_ref("CreatedById", "User")),
        _ro(FieldInfo("LastModifiedDate", "datetime")),
        _ro(_ref("LastModifiedById", "User")),
        _ro(FieldInfo("SystemModstamp", "datetime")),
    ]
    if owner:
        fields.append(_ref("OwnerId", "User", rel="Owner"))
    return fields


LEAD_STATUSES = (
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
)
LEAD_SOURCES = (
    "Web",
    "Phone Inquiry",
    "Partner Referral",
    "Purchased List",
    "Other",
    "Advertisement",
    "Email",
    "Social",
)
# The system permissions a PermissionSet carries (localorg.access.SYSTEM_PERMISSIONS).
_SYSTEM_PERMISSIONS = (
    "PermissionsApiEnabled",
    "PermissionsViewSetup",
    "PermissionsCustomizeApplication",
    "PermissionsManageProfilesPermissionsets",
    "PermissionsAssignPermissionSets",
    "PermissionsManageUsers",
    "PermissionsViewAllData",
    "PermissionsModifyAllData",
)
ORDER_STATUSES = ("Draft", "Activated", "Cancelled")
ORDER_STATUS_CODE = (
    'CASE WHEN "Status" IS NULL THEN NULL '
    "WHEN \"Status\" IN ('Draft', 'Cancelled') THEN 'Draft' ELSE 'Activated' END"
)
SALES_CHANNELS = ("Web", "Mobile App", "Store", "Marketplace")


def _standard_objects() -> list[tuple[str, str, list[FieldInfo]]]:
    address = ["Street", "City", "State", "PostalCode", "Country"]
    return [
        (
            "User",
            "Users",
            [
                *_system(owner=False),
                _ro(_s("Name", 121)),
                _s("Username", 80, required=True),
                FieldInfo("Email", "email", required=True),
                _s("FirstName", 40),
                _s("LastName", 80, required=True),
                FieldInfo("IsActive", "boolean", default=True),
                _ref("ProfileId", "Profile"),
            ],
        ),
        (
            "Account",
            "Accounts",
            [
                *_system(),
                _s("Name", 255, required=True),
                _pick("Type", "Prospect", "Customer - Direct", "Customer - Channel", "Other"),
                _pick("Industry", "Retail", "Technology", "Finance", "Healthcare", "Other"),
                FieldInfo("Phone", "phone"),
                FieldInfo("Website", "url"),
                *[_s("Billing" + a, 255 if a == "Street" else 40) for a in address],
                FieldInfo("AnnualRevenue", "currency"),
                FieldInfo("NumberOfEmployees", "int"),
                FieldInfo("Description", "textarea"),
                _ro(FieldInfo("IsPersonAccount", "boolean", default=False)),
                _ro(_ref("PersonContactId", "Contact")),
                FieldInfo("PersonEmail", "email"),
            ],
        ),
        (
            "Contact",
            "Contacts",
            [
                *_system(),
                _s("FirstName", 40),
                _s("LastName", 80, required=True),
                _ro(_s("Name", 121)),
                _ref("AccountId", "Account"),
                FieldInfo("Email", "email"),
                FieldInfo("Phone", "phone"),
                FieldInfo("MobilePhone", "phone"),
                _s("Title", 128),
                _s("Department", 80),
                FieldInfo("Birthdate", "date"),
                *[_s("Mailing" + a, 255 if a == "Street" else 40) for a in address],
                _pick("LeadSource", *LEAD_SOURCES),
                FieldInfo("HasOptedOutOfEmail", "boolean", default=False),
                FieldInfo("Description", "textarea"),
            ],
        ),
        (
            "Lead",
            "Leads",
            [
                *_system(),
                _s("FirstName", 40),
                _s("LastName", 80, required=True),
                _ro(_s("Name", 121)),
                _s("Company", 255, required=True),
                _s("Title", 128),
                FieldInfo("Email", "email"),
                FieldInfo("Phone", "phone"),
                FieldInfo("MobilePhone", "phone"),
                _pick("Status", *LEAD_STATUSES, required=True, default=LEAD_STATUSES[0]),
                _pick("LeadSource", *LEAD_SOURCES),
                _pick("Industry", "Retail", "Technology", "Finance", "Healthcare", "Other"),
                _pick("Rating", "Hot", "Warm", "Cold"),
                FieldInfo("AnnualRevenue", "currency"),
                FieldInfo("NumberOfEmployees", "int"),
                *[_s(a, 255 if a == "Street" else 40) for a in address],
                FieldInfo("HasOptedOutOfEmail", "boolean", default=False),
                FieldInfo("Description", "textarea"),
                _ro(FieldInfo("IsConverted", "boolean", default=False)),
                _ro(FieldInfo("ConvertedDate", "date")),
                _ro(_ref("ConvertedContactId", "Contact")),
                _ro(_ref("ConvertedAccountId", "Account")),
            ],
        ),
        (
            "Product2",
            "Products",
            [
                *_system(owner=False),
                _s("Name", 255, required=True),
                _s("ProductCode", 255),
                _pick("Family", "Music", "Books", "Apparel", "Electronics", "Home", "Beauty"),
                FieldInfo("IsActive", "boolean", default=True),
                FieldInfo("Description", "textarea"),
            ],
        ),
        (
            "Order",
            "Orders",
            [
                *_system(),
                _ref("AccountId", "Account", required=True),
                _ro(_s("OrderNumber", 30)),
                _s("Name", 80),
                _pick("Status", *ORDER_STATUSES, required=True, default="Draft"),
                # Status Category: each Status value belongs to Draft or Activated (Object
                # Reference, OrderStatus.StatusCode "Activated, Draft"); localorg files its
                # Cancelled value under Draft, so a cancelled order is not an activated one.
                _ro(_pick("StatusCode", "Draft", "Activated", generated=ORDER_STATUS_CODE)),
                FieldInfo("EffectiveDate", "date", required=True),
                # Order End Date and the address countries are standard Order fields (Object
                # Reference, Order: EndDate date, BillingCountry/ShippingCountry string(80));
                # the seed writes the delivery day to EndDate (localorg/seed/order_truth.py).
                FieldInfo("EndDate", "date"),
                _s("BillingCountry", 80),
                _s("ShippingCountry", 80),
                # Billing Email Address: a standard Order field of type email, length 80
                # (Field Reference, Order; Object Reference, Order: "Email address for this
                # order's billing address"); the risk model's new-email-domain feature reads it
                FieldInfo("BillingEmailAddress", "email"),
                _pick("Type", "New", "Reorder"),
                _ro(FieldInfo("TotalAmount", "currency")),
                _ref("BillToContactId", "Contact"),
                _ref("ShipToContactId", "Contact"),
                _ref("CustomerAuthorizedById", "Contact"),
                _ref("Pricebook2Id", "Pricebook2"),
                _s("OrderReferenceNumber", 80),
                FieldInfo("ActivatedDate", "datetime"),
                FieldInfo("IsReductionOrder", "boolean", default=False, updateable=False),
                _ref("OriginalOrderId", "Order", updateable=False),
                FieldInfo("Description", "textarea"),
                _pick("Sales_Channel__c", *SALES_CHANNELS, custom=True, label="Sales Channel"),
                _s(
                    "External_Order_Id__c",
                    64,
                    custom=True,
                    external_id=True,
                    unique=True,
                    label="External Order ID",
                ),
            ],
        ),
        (
            "OrderItem",
            "Order Products",
            [
                *_system(owner=False),
                _ref("OrderId", "Order", required=True, updateable=False),
                _ref("Product2Id", "Product2"),
                _ref("PricebookEntryId", "PricebookEntry"),
                FieldInfo("Quantity", "double", required=True),
                FieldInfo("UnitPrice", "currency", required=True),
                FieldInfo("ListPrice", "currency"),
                _ro(FieldInfo("TotalPrice", "currency")),
                _s("Description", 255),
                _ref("OriginalOrderItemId", "OrderItem", updateable=False),
            ],
        ),
        (
            "Task",
            "Tasks",
            [
                *_system(),
                _s("Subject", 255),
                _pick(
                    "Status",
                    "Not Started",
                    "In Progress",
                    "Completed",
                    required=True,
                    default="Not Started",
                ),
                _pick("Priority", "High", "Normal", "Low", default="Normal"),
                _ref("WhoId", "Contact", "Lead", rel="Who"),
                _ref("WhatId", "Account", "Order", rel="What"),
                FieldInfo("ActivityDate", "date"),
                FieldInfo("Description", "textarea"),
                _pick("Type", "Call", "Email", "Meeting", "Other"),
                _pick("TaskSubtype", "Task", "Email", "Call"),
            ],
        ),
        (
            "Case",
            "Cases",
            [
                *_system(),
                _s("Subject", 255),
                _pick("Status", "New", "Working", "Escalated", "Closed", default="New"),
                _pick("Origin", "Phone", "Email", "Web"),
                _pick("Priority", "High", "Medium", "Low"),
                _pick("Type", "Question", "Problem", "Feature Request"),
                _ref("ContactId", "Contact"),
                _ref("AccountId", "Account"),
                FieldInfo("Description", "textarea"),
            ],
        ),
        (
            "EmailMessage",
            "Email Messages",
            [
                *_system(owner=False),
                _s("Subject", 3000),
                FieldInfo("TextBody", "textarea"),
                FieldInfo("HtmlBody", "textarea"),
                FieldInfo("FromAddress", "email"),
                _s("ToAddress", 4000),
                FieldInfo("Incoming", "boolean", default=False),
                FieldInfo("MessageDate", "datetime"),
                _pick("Status", "0", "1", "2", "3", "4", "5"),
                _ref("RelatedToId", "Contact", "Lead", "Account", rel="RelatedTo"),
                _ref("ParentId", "Case"),
                # the activity (a Task) of the email, Enhanced Email (Field Reference,
                # "EmailMessage": ActivityId)
                _ref("ActivityId", "Task", rel="Activity"),
            ],
        ),
        (
            "PermissionSet",
            "Permission Sets",
            [
                *_system(owner=False),
                _s("Name", 80, required=True),
                _s("Label", 80, required=True),
                _s("Description", 255),
                # A profile's own permission set (Object Reference, "PermissionSet").
                _ro(FieldInfo("IsOwnedByProfile", "boolean", default=False)),
                _ro(_ref("ProfileId", "Profile")),
                # System permissions (localorg.access names what each one allows).
                *[FieldInfo(p, "boolean", default=False) for p in _SYSTEM_PERMISSIONS],
                # The license the set requires: a PermissionSetLicense or a UserLicense, set
                # when the set is created (Object Reference, "PermissionSet": LicenseId).
                _ref("LicenseId", "PermissionSetLicense", "UserLicense", updateable=False),
            ],
        ),
        (
            "FieldPermissions",
            "Field Permissions",
            [
                *_system(owner=False),
                # ParentId, SobjectType and Field are set on create only (Object Reference,
                # "FieldPermissions": Create, Filter; no Update).
                _ref("ParentId", "PermissionSet", required=True, updateable=False),
                _s("SobjectType", 40, required=True, updateable=False),
                _s("Field", 255, required=True, updateable=False),
                FieldInfo("PermissionsRead", "boolean", default=False),
                FieldInfo("PermissionsEdit", "boolean", default=False),
            ],
        ),
        (
            "ObjectPermissions",
            "Object Permissions",
            [
                *_system(owner=False),
                _ref("ParentId", "PermissionSet", required=True, updateable=False),
                _s("SobjectType", 40, required=True, updateable=False),
                *[
                    FieldInfo(f"Permissions{flag}", "boolean", default=False)
                    for flag in (
                        "Read",
                        "Create",
                        "Edit",
                        "Delete",
                        "ViewAllRecords",
                        "ModifyAllRecords",
                    )
                ],
            ],
        ),
        (
            "PermissionSetAssignment",
            "Permission Set Assignments",
            [
                *_system(owner=False),
                _ref("AssigneeId", "User", rel="Assignee", required=True, updateable=False),
                _ref("PermissionSetId", "PermissionSet", required=True, updateable=False),
            ],
        ),
        (
            "Profile",
            "Profiles",
            [
                *_system(owner=False),
                _s("Name", 255, required=True),
                _ro(_ref("UserLicenseId", "UserLicense")),
            ],
        ),
        # Licenses (Object Reference, "UserLicense", "PermissionSetLicense",
        # "PermissionSetLicenseAssign"): see localorg.permission_rules, rule 5.
        (
            "UserLicense",
            "User Licenses",
            [*_system(owner=False), _ro(_s("Name", 40)), _ro(_s("LicenseDefinitionKey", 40))],
        ),
        (
            "PermissionSetLicense",
            "Permission Set Licenses",
            [
                *_system(owner=False),
                _ro(_s("DeveloperName", 80)),
                _ro(_s("MasterLabel", 80)),
                _ro(FieldInfo("TotalLicenses", "int")),
                _ro(FieldInfo("IsAvailableForIntegrations", "boolean", default=False)),
            ],
        ),
        (
            "PermissionSetLicenseAssign",
            "Permission Set License Assignments",
            [
                *_system(owner=False),
                _ref("AssigneeId", "User", rel="Assignee", required=True, updateable=False),
                _ref(
                    "PermissionSetLicenseId",
                    "PermissionSetLicense",
                    required=True,
                    updateable=False,
                ),
            ],
        ),
        (
            "FlowInterview",
            "Flow Runs",
            [
                *_system(owner=False),
                _s("FlowName", 255),
                _s("TriggerType", 40),
                _s("RecordId", 18),
                _s("SobjectType", 40),
                _s("Outcome", 40),
                FieldInfo("Detail", "textarea"),
            ],
        ),
    ]


def standard_objects() -> dict[str, ObjectInfo]:
    """A fresh copy of every standard object (each org gets its own, custom fields differ)."""
    from localorg.ids import KEY_PREFIXES

    out = {}
    for name, plural, fields in _standard_objects():
        out[name] = ObjectInfo(
            name=name,
            label=_label(name) if name != "Product2" else "Product",
            label_plural=plural,
            fields={f.name: f for f in fields},
            key_prefix=KEY_PREFIXES.get(name, ""),
        )
    return out

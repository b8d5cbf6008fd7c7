"""Person accounts: a person's Contact fields are read and written through its Account.

What Salesforce documents, and localorg does:

- A person account is one Account row and one "person contact" Contact row; the Account's
  ``PersonContactId`` names the Contact (SOAP API Developer Guide, "Person Account Record
  Types").
- Each custom Contact field also exists on Account with the ``__pc`` suffix instead of ``__c``
  (Change Data Capture Developer Guide, "Creating and Undeleting a Person Account": "In the
  account change event, the contact custom field ends with the __pc" suffix), and an update
  through it updates the person contact too (CDC guide, "Updating a Person Account": "If the
  updated field ... is a custom contact field, both change events contain all changed fields").
- A ``__pc`` field on a business account is refused: ``INVALID_FIELD_FOR_INSERT_UPDATE``
  "Account: bad field names on insert/update call: <field>" (texei/texei-sfdx-plugin #51).
- A person contact is written through its Account, not through Contact ("When using
  PersonAccounts you should always access the Account and never the associated Contact",
  lekkimworld, salesforce-personaccount-field-reference). No Salesforce page states the exact
  refusal of a Contact write; a person contact's save is an Account save (its errors read
  "Account: bad field names on insert/update call: AccountId", SalesforceCommerceCloud/
  b2c-crm-sync #14), so localorg refuses writes through Contact with that error shape. This is
  the strict reading: a connector that writes through ``__pc`` works either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from localorg.schema import FieldInfo

if TYPE_CHECKING:
    import sqlite3

    from localorg.store import OrgStore

SUFFIX = "__pc"


def pc_name(contact_field: str) -> str | None:
    """``Loyalty__c`` -> ``Loyalty__pc``; None for a field that is not custom."""
    return contact_field[: -len("__c")] + SUFFIX if contact_field.endswith("__c") else None


def contact_name(account_field: str) -> str | None:
    """``Loyalty__pc`` -> ``Loyalty__c``; None for a field that is not a ``__pc`` field."""
    return account_field[: -len(SUFFIX)] + "__c" if account_field.endswith(SUFFIX) else None


def mirror(info: FieldInfo) -> FieldInfo | None:
    """The Account field that mirrors custom Contact field ``info`` (None if not custom)."""
    name = pc_name(info.name)
    if name is None:
        return None
    return replace(info, name=name, external_id=False, unique=False)


def bad_fields(fields: Iterable[str]) -> Exception:
    """The refusal of a person-account write Salesforce cannot place."""
    from localorg.store import fault

    names = ", ".join(fields)
    return fault(
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        f"Account: bad field names on insert/update call: {names}",
        list(fields),
    )


def person_account_of(store: OrgStore, contact_id: str) -> str | None:
    """The person account whose person contact is ``contact_id``, or None."""
    rows = store.execute(
        'SELECT "Id" FROM "Account" WHERE "PersonContactId" = ? AND "IsPersonAccount" = 1 '
        'AND "IsDeleted" = 0 LIMIT 1',
        [contact_id],
    )
    return str(rows[0][0]) if rows else None


def check_update(
    store: OrgStore, object_name: str, record: Mapping[str, Any], keys: Iterable[str]
) -> str | None:
    """Refuse what Salesforce refuses (see the module docstring); for an Account write that
    sets ``__pc`` fields, return its person contact's id (the row those values also land on)."""
    if object_name == "Contact":
        record_id = str(record.get("Id") or "")
        if person_account_of(store, record_id) is not None:
            raise bad_fields(sorted(k for k in keys if k != "attributes"))
        return None
    if object_name != "Account":
        return None
    pc = sorted(k for k in keys if contact_name(k) is not None)
    if not pc:
        return None
    if not record.get("IsPersonAccount") or not record.get("PersonContactId"):
        raise bad_fields(pc)
    return str(record["PersonContactId"])


def copy_to_contact(
    conn: sqlite3.Connection, contact_id: str, values: Mapping[str, Any], stamp: str
) -> None:
    """Write the ``__pc`` values of an Account write onto its person contact (one row, one
    stored value per field, as in Salesforce), inside the Account write's transaction."""
    fields = {contact_name(k): v for k, v in values.items() if contact_name(k) is not None}
    if not fields:
        return
    fields.update({"LastModifiedDate": stamp, "SystemModstamp": stamp})
    if values.get("LastModifiedById"):
        # The person contact is saved by whoever saved the Account (our own write-back's echo
        # is recognised by this: connector/sync/echo.py).
        fields["LastModifiedById"] = values["LastModifiedById"]
    assignments = ", ".join(f'"{k}" = ?' for k in fields)
    conn.execute(
        f'UPDATE "Contact" SET {assignments} WHERE "Id" = ?', [*fields.values(), contact_id]
    )

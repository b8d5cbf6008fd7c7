"""Identity: which person an order or an event belongs to.

A person is a Contact, else a Lead. Orders name their Contact through BillToContactId,
ShipToContactId or CustomerAuthorizedById, else through their Account's PersonContactId (B2C
orgs use person accounts). Events carry an email: it binds to a Contact, else to a Lead
(a converted Lead follows ConvertedContactId), else stays a pending email key that binds on a
later run, once a Lead or Contact with that email exists. Resolution is recomputed each run
from the stored records, so a late binding needs no bookkeeping.
"""

from __future__ import annotations

import pandas as pd

#: The Salesforce objects a person can be, and the person kind mappings/ names them by.
PERSON_KIND = {"Contact": "contact", "Lead": "lead"}

#: The Order columns the compute step reads: who the order belongs to, when, and how much.
ORDER_COLUMNS = (
    "Id",
    "AccountId",
    "BillToContactId",
    "ShipToContactId",
    "CustomerAuthorizedById",
    "EffectiveDate",
    "ActivatedDate",
    "TotalAmount",
    "IsReductionOrder",
)


def normalise_email(emails: pd.Series) -> pd.Series:
    """Emails compared as Salesforce users expect: trimmed, lower-case, empty as missing."""
    cleaned = emails.astype("string").str.strip().str.lower()
    return cleaned.where(cleaned.str.len() > 0)


def order_person(
    orders: pd.DataFrame, accounts: pd.DataFrame, live_contacts: set[str]
) -> pd.Series:
    """The Contact Id of each order (index aligned), or missing when none resolves."""
    person = pd.Series(None, index=orders.index, dtype="object")
    for column in ("BillToContactId", "ShipToContactId", "CustomerAuthorizedById"):
        if column in orders:
            candidate = orders[column].astype("object")
            person = person.where(person.notna(), candidate.where(candidate.isin(live_contacts)))
    if "PersonContactId" in accounts and len(accounts):
        by_account = accounts.set_index("Id")["PersonContactId"].dropna()
        via_account = orders["AccountId"].astype("object").map(by_account)
        person = person.where(person.notna(), via_account.where(via_account.isin(live_contacts)))
    return person


def email_index(contacts: pd.DataFrame, leads: pd.DataFrame) -> pd.DataFrame:
    """Email -> person (``kind``, ``record_id``): Contacts win, converted Leads follow their
    ConvertedContactId, unconverted Leads stand for themselves."""
    frames = []
    if len(contacts):
        frames.append(
            pd.DataFrame(
                {
                    "email": normalise_email(contacts["Email"]),
                    "kind": "contact",
                    "record_id": contacts["Id"],
                    "rank": 0,
                }
            )
        )
    if len(leads):
        # booleans come from the store as bool; a field the org lacks comes as None: false
        converted = leads["IsConverted"].eq(True) & leads["ConvertedContactId"].notna()
        frames.append(
            pd.DataFrame(
                {
                    "email": normalise_email(leads["Email"]),
                    "kind": converted.map({True: "contact", False: "lead"}),
                    "record_id": leads["ConvertedContactId"].where(converted, leads["Id"]),
                    "rank": converted.map({True: 1, False: 2}),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=["email", "kind", "record_id"])
    index = pd.concat(frames, ignore_index=True).dropna(subset=["email"])
    index = index.sort_values(["email", "rank"]).drop_duplicates("email")
    return index.drop(columns="rank").reset_index(drop=True)

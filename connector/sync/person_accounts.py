"""Person accounts on the push side: a person contact's values are written through its Account.

In an org with person accounts, each custom Contact field also exists on Account as
``<Name>__pc`` (Change Data Capture Developer Guide, "Creating and Undeleting a Person
Account"), and a person account is read and written through the Account, not its person
contact (see ``localorg/person_accounts.py`` for the sources). So a value computed for a
person contact (``Contact``, ``L2L_Revenue__c``) is sent as its Account's ``L2L_Revenue__pc``;
the outbox and the written-value baseline keep the Contact key, so the diff does not change.
"""

from __future__ import annotations

import pandas as pd


def person_contacts(accounts: pd.DataFrame) -> dict[str, str]:
    """Person contact Id -> its person account Id (live person accounts only)."""
    if not len(accounts) or "PersonContactId" not in accounts or "IsPersonAccount" not in accounts:
        return {}
    person = accounts[accounts["IsPersonAccount"].eq(True) & accounts["PersonContactId"].notna()]
    return dict(zip(person["PersonContactId"].astype(str), person["Id"].astype(str), strict=True))


def account_field(contact_field: str) -> str:
    """The Account field a person contact's custom field is written through (``__pc``)."""
    if contact_field.endswith("__c"):
        return contact_field[: -len("__c")] + "__pc"
    return contact_field  # a standard field: no __pc twin; Salesforce will say what it thinks

"""The Salesforce objects a sync pulls, each a small declaration.

A stream names its object, the fields the compute step needs and its replication key. The
driver (``connector.sync.pull``) is the same for every stream; fields the org does not have
(``Sales_Channel__c`` is a custom field of the seeded store, not of every org) are dropped
after describe, so one declaration serves every org.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.scoring.config import LEAD_MODEL_FIELDS
from connector.sync.resolve import ORDER_COLUMNS

SYSTEM_FIELDS = ("Id", "IsDeleted", "SystemModstamp", "CreatedDate")


@dataclass(frozen=True)
class Stream:
    """One pulled object."""

    object_name: str
    fields: tuple[str, ...]
    replication_key: str = "SystemModstamp"

    def all_fields(self) -> list[str]:
        """System fields first, then the stream's own, without repeats."""
        out: list[str] = []
        for name in (*SYSTEM_FIELDS, *self.fields):
            if name not in out:
                out.append(name)
        return out


STREAMS: dict[str, Stream] = {
    s.object_name: s
    for s in (
        Stream("Account", ("Name", "IsPersonAccount", "PersonContactId")),
        Stream("Contact", ("FirstName", "LastName", "Email", "AccountId", "HasOptedOutOfEmail")),
        Stream(
            "Lead",
            tuple(
                dict.fromkeys(
                    (
                        "FirstName",
                        "LastName",
                        "Email",
                        "Company",
                        "Status",
                        "LeadSource",
                        "IsConverted",
                        "ConvertedContactId",
                        "ConvertedDate",
                        # the lead conversion model's default fields (a configured list adds
                        # its own: connector.sync.intent.with_lead_fields)
                        *LEAD_MODEL_FIELDS,
                    )
                )
            ),
        ),
        # what the compute step reads (ORDER_COLUMNS), plus what the run keeps for later models
        Stream(
            "Order",
            (
                *ORDER_COLUMNS,
                "Status",
                "StatusCode",  # the status category (Draft/Activated), when the org has it
                "CurrencyIsoCode",  # multi-currency orgs only
                "OriginalOrderId",
                "Sales_Channel__c",
            ),
        ),
        Stream("OrderItem", ("OrderId", "Product2Id", "Quantity", "UnitPrice", "TotalPrice")),
        # pulled only when a loyalty product rule names categories (Family)
        Stream("Product2", ("Name", "Family")),
    )
}

DEFAULT_OBJECTS = ("Account", "Contact", "Lead", "Order", "OrderItem")

"""The Salesforce objects a sync pulls, each a small declaration.

A stream names its object, the fields the compute step needs and its replication key. The
driver (``connector.sync.pull``) is the same for every stream; fields the org does not have
(``Sales_Channel__c`` is a custom field of the seeded store, not of every org) are dropped
after describe, so one declaration serves every org.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connector.scoring.config import LEAD_MODEL_FIELDS
from connector.sync.resolve import ORDER_COLUMNS

SYSTEM_FIELDS = ("Id", "IsDeleted", "SystemModstamp", "CreatedDate")
#: An admin's correction of a message's sentiment (picklist Positive/Neutral/Negative on
#: EmailMessage and Case): read when the org has it; the texts stage learns from it.
OVERRIDE_FIELD = "L2L_Sentiment_Override__c"
#: The admin's intent of a message (a picklist of the intents' labels and None): the labels
#: ``lead2loyalty fit texts`` learns intents from (connector/texts/intent_classifier.py).
INTENT_OVERRIDE_FIELD = "L2L_Intent_Override__c"


@dataclass(frozen=True)
class Stream:
    """One pulled object."""

    object_name: str
    fields: tuple[str, ...]
    replication_key: str = "SystemModstamp"
    #: Fields only some orgs have (a feature, a seed's custom field): read when describe shows
    #: them. Every other field is in every org that has the object, so describe leaving it
    #: out means field-level security hides it, and the pull refuses to run short.
    optional: tuple[str, ...] = ()

    def all_fields(self) -> list[str]:
        """System fields first, then the stream's own, without repeats."""
        out: list[str] = []
        for name in (*SYSTEM_FIELDS, *self.fields):
            if name not in out:
                out.append(name)
        return out

    def expected_fields(self) -> list[str]:
        """The fields describe must show: :meth:`all_fields` but the optional ones."""
        return [f for f in self.all_fields() if f not in self.optional]


STREAMS: dict[str, Stream] = {
    s.object_name: s
    for s in (
        Stream(
            "Account",
            ("Name", "IsPersonAccount", "PersonContactId"),
            optional=("IsPersonAccount", "PersonContactId"),  # person-account orgs only
        ),
        Stream(
            "Contact",
            (
                "FirstName",
                "LastName",
                "Email",
                "AccountId",
                "HasOptedOutOfEmail",
                # the send-time zone (connector.predictions.timezones): standard address fields
                # of every Contact, text even where state and country picklists are on
                "MailingCountry",
                "MailingState",
            ),
        ),
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
                # what orders tell (sync/orders_intel.py): standard Order fields (Object
                # Reference, Order: EndDate, BillingCountry, ShippingCountry)
                "EndDate",
                "BillingCountry",
                "ShippingCountry",
                "BillingEmailAddress",
            ),
            # reduction orders and multi-currency are org settings; Sales_Channel__c is the
            # seeded store's own field; the address fields follow field-level security
            optional=(
                "StatusCode",
                "CurrencyIsoCode",
                "IsReductionOrder",
                "OriginalOrderId",
                "Sales_Channel__c",
                "EndDate",
                "BillingCountry",
                "ShippingCountry",
                "BillingEmailAddress",
            ),
        ),
        # ListPrice (inherited from the PricebookEntry, Object Reference, OrderItem) against
        # UnitPrice is the line's discount; optional: an org without price books has none
        Stream(
            "OrderItem",
            ("OrderId", "Product2Id", "Quantity", "UnitPrice", "TotalPrice", "ListPrice"),
            optional=("ListPrice",),
        ),
        # pulled when a loyalty product rule names categories (Family) or recommendations run
        # (an inactive product is never offered: IsActive)
        Stream("Product2", ("Name", "Family", "ProductCode", "IsActive")),
        # What people wrote, pulled when models/texts.yaml is enabled (connector/sync/
        # texts_stage.py). Names and relationships: Salesforce Field Reference, "EmailMessage"
        # (ActivityId, ParentId = Parent Case, RelatedToId, Incoming, MessageDate), "Task"
        # (WhoId: Contact or Lead), "Case" (ContactId, Origin). RelatedToId and ActivityId
        # exist with Enhanced Email; ParentId with Email-to-Case.
        Stream(
            "EmailMessage",
            (
                "Subject",
                "TextBody",
                "FromAddress",
                "MessageDate",
                "Incoming",
                "RelatedToId",
                "ActivityId",
                "ParentId",
                OVERRIDE_FIELD,
                INTENT_OVERRIDE_FIELD,
            ),
            optional=(
                "RelatedToId",
                "ActivityId",
                "ParentId",
                OVERRIDE_FIELD,
                INTENT_OVERRIDE_FIELD,
            ),
        ),
        Stream("Task", ("Subject", "Description", "WhoId", "ActivityDate")),
        Stream(
            "Case",
            (
                "Subject",
                "Description",
                "ContactId",
                "Origin",
                OVERRIDE_FIELD,
                INTENT_OVERRIDE_FIELD,
            ),
            optional=(OVERRIDE_FIELD, INTENT_OVERRIDE_FIELD),
        ),
    )
}

DEFAULT_OBJECTS = ("Account", "Contact", "Lead", "Order", "OrderItem")


def read_fields(objects: Iterable[str], *, optional: bool = True) -> tuple[str, ...]:
    """``Object.Field`` of every field the pull of ``objects`` reads, system fields aside: what
    the integration user must see (field-level security applies to standard fields too).
    ``optional``: with the fields only some orgs have."""
    out: list[str] = []
    for name in objects:
        stream = STREAMS.get(name)
        if stream is not None:
            out += [
                f"{name}.{f}"
                for f in stream.fields
                if f not in SYSTEM_FIELDS and (optional or f not in stream.optional)
            ]
    return tuple(dict.fromkeys(out))

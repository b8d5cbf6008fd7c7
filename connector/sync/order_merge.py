"""Shop orders beside Salesforce Orders: one list of orders for the compute step.

:func:`merge_orders` is a pure function over DataFrames (no I/O), so it is tested alone;
:func:`orders_frame` reads its inputs from the store (which returns the shop orders as they
are) and merges. The rules:

- A shop order counts from the moment its webhook is normalised: it becomes a row shaped like a
  pulled Salesforce Order (``Id`` ``<platform>:<order id>``, ``EffectiveDate``, ``ActivatedDate``,
  ``TotalAmount`` = total minus refunds), so RFM and the predictions read it like any other.
- Its shopper is found by email as identity resolution finds people (``email_index``): a
  Contact, else the Contact a converted Lead became. With no match yet it is kept, unassigned,
  and binds on a later pass once the Contact exists (resolution is recomputed every run).
  Until then its shopper is a stranger: :func:`strangers` counts them for ``events stats``;
  the worker creates a Lead for one only with ``L2L_REALTIME_CREATE_LEADS``.
- When a Salesforce Order carries the shop order's id or name in the reference field (default
  ``OrderReferenceNumber``), the two are one order: the Salesforce Order is kept, the shop
  order dropped, so nothing counts twice.
- Cancelled orders and orders whose details are not known yet are not in ``shop`` at all.
  A shop order has no Status, so the status filter keeps it; it carries its currency as
  ``CurrencyIsoCode``, so a multi-currency org converts it like its own Orders.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from connector.store import Store
from connector.sync.resolve import email_index, normalise_email


def orders_frame(
    store: Store, columns: Sequence[str], *, reference_field: str = "OrderReferenceNumber"
) -> pd.DataFrame:
    """Every order the compute step counts: pulled Salesforce Orders plus the shop orders
    from webhooks that Salesforce does not hold yet (matched on ``reference_field``), their
    shopper resolved by email (:func:`merge_orders`)."""
    wanted = list(dict.fromkeys([*columns, reference_field]))
    salesforce = store.records.frame("Order", wanted)
    shop = store.events.shop_orders()
    if not len(shop):
        return salesforce[list(columns)]
    contacts = store.records.frame("Contact", ["Id", "Email"])
    leads = store.records.frame("Lead", ["Id", "Email", "IsConverted", "ConvertedContactId"])
    return merge_orders(salesforce, shop, contacts, leads, reference_field, columns)


def merge_orders(
    salesforce: pd.DataFrame,
    shop: pd.DataFrame,
    contacts: pd.DataFrame,
    leads: pd.DataFrame,
    reference_field: str,
    columns: Sequence[str],
) -> pd.DataFrame:
    """Salesforce Orders plus the shop orders Salesforce does not have yet, with ``columns``."""
    if not len(shop):
        return salesforce[list(columns)] if len(salesforce) else salesforce
    references: set[str] = set()
    if reference_field in salesforce and len(salesforce):
        references = set(salesforce[reference_field].dropna().astype(str).str.strip())
    known = shop["platform_order_id"].astype(str).isin(references) | shop["reference"].astype(
        str
    ).isin(references)
    shop = shop[~known]
    if not len(shop):
        return salesforce[list(columns)] if len(salesforce) else salesforce
    index = email_index(
        contacts if len(contacts) else pd.DataFrame(columns=["Id", "Email"]),
        leads
        if len(leads)
        else pd.DataFrame(columns=["Id", "Email", "IsConverted", "ConvertedContactId"]),
    )
    to_contact = index[index["kind"] == "contact"].set_index("email")["record_id"]
    placed = pd.to_datetime(shop["placed_at"], utc=True, errors="coerce", format="ISO8601")
    rows = pd.DataFrame(
        {
            "Id": (shop["platform"] + ":" + shop["order_id"].astype(str)).to_numpy(),
            "BillToContactId": normalise_email(shop["email"]).map(to_contact).to_numpy(),
            "EffectiveDate": placed.dt.strftime("%Y-%m-%d").to_numpy(),
            "ActivatedDate": shop["placed_at"].to_numpy(),
            "TotalAmount": pd.to_numeric(shop["amount"], errors="coerce").to_numpy(),
            "IsReductionOrder": False,
        }
    )
    if "CurrencyIsoCode" in columns:  # converted to the corporate currency like any Order
        rows["CurrencyIsoCode"] = shop["currency"].to_numpy()
    for column in columns:
        if column not in rows:
            rows[column] = None
    rows = rows[list(columns)]
    if not len(salesforce):
        return rows.reset_index(drop=True)
    return pd.concat([salesforce[list(columns)], rows], ignore_index=True)


def strangers(shop: pd.DataFrame, contacts: pd.DataFrame, leads: pd.DataFrame) -> pd.DataFrame:
    """Shoppers with a counted shop order whom no Contact or Lead has by email: ``email,
    orders`` (most orders first), what ``events stats`` lists."""
    if not len(shop):
        return pd.DataFrame({"email": pd.Series(dtype=object), "orders": pd.Series(dtype=int)})
    index = email_index(
        contacts if len(contacts) else pd.DataFrame(columns=["Id", "Email"]),
        leads
        if len(leads)
        else pd.DataFrame(columns=["Id", "Email", "IsConverted", "ConvertedContactId"]),
    )
    emails = normalise_email(shop["email"])
    unknown = emails[emails.notna() & ~emails.isin(set(index["email"]))]
    counts = unknown.value_counts()
    return (
        pd.DataFrame({"email": counts.index.astype(str), "orders": counts.to_numpy()})
        .sort_values(["orders", "email"], ascending=[False, True])
        .reset_index(drop=True)
    )

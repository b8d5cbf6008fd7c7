"""Identity: which person an order or an event belongs to.

A person is a Contact, else a Lead. Orders name their Contact through BillToContactId,
ShipToContactId or CustomerAuthorizedById, else through their Account's PersonContactId (B2C
orgs use person accounts). Events carry an email: it binds to a Contact, else to a Lead
(a converted Lead follows ConvertedContactId), else stays a pending email key that binds on a
later run, once a Lead or Contact with that email exists. Resolution is recomputed each run
from the stored records, so a late binding needs no bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

#: The Salesforce objects values are computed for, and the kind mappings/ names them by (an
#: Order or a Case is no person, but its values are computed and written like a person's).
PERSON_KIND = {
    "Contact": "contact",
    "Lead": "lead",
    "Account": "account",
    "Order": "order",
    "Case": "case",
}

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
    "OriginalOrderId",
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
    # record_id breaks ties (two Contacts with one email): the same person whichever records
    # were read, and in whatever order
    index = index.sort_values(["email", "rank", "record_id"], kind="stable")
    index = index.drop_duplicates("email")
    return index.drop(columns="rank").reset_index(drop=True)


# ---------------------------------------------------------------------- the Resolve step
#: Event names that stand for an order (or its refund): each order counts once, however many
#: ways it arrives (a shop's webhook, a Segment ``track`` of the same order, the Salesforce
#: Order that later carries its reference).
ORDER_EVENTS = ("Order Completed", "Order Refunded")
#: The event properties that name an order (the shop webhooks write ``order_id`` and
#: ``order_name``; Segment's ecommerce spec names it ``order_id``).
ORDER_KEY_PROPERTIES = ("order_id", "order_name")


@dataclass(frozen=True)
class Resolved:
    """One run's people and what they did, each resolved once (the Resolve step's output).

    - ``contacts``, ``leads``, ``accounts``: the stored records the models read.
    - ``orders``: the orders that count (Salesforce Orders and the shop orders it does not
      hold yet, status-filtered, in the corporate currency) with ``contact_id``, the Contact
      each belongs to (:func:`order_person`), missing when none resolves yet.
    - ``events``: the read events with ``email`` (their own, else the one an identify tied to
      their anonymous id; :func:`normalise_email`), ``object`` and ``record_id`` (the person:
      :func:`email_index`), missing when nobody has that email yet. Order events come once
      per order (:func:`once_per_order`).
    - ``people``: the run's people, (object, record id); ``None`` is everyone.
    - ``owned``: records that are no person but whose values belong to the run (a Case of
      one of its people: the texts stage says which).
    - ``order_records``: in a run of some people, the stored Salesforce Orders it read, with
      every column the models read, so a later stage selects its orders' fields from them
      instead of reading the Orders again; ``None`` in a run of everyone (the whole table is
      not held through the compute step: the first sync's memory follows it).
    """

    now: datetime
    contacts: pd.DataFrame
    leads: pd.DataFrame
    accounts: pd.DataFrame
    orders: pd.DataFrame
    events: pd.DataFrame
    people: frozenset[tuple[str, str]] | None = None
    owned: frozenset[tuple[str, str]] = frozenset()
    order_records: pd.DataFrame | None = None

    def contact_events(self) -> pd.DataFrame:
        """The events of Contacts (a converted Lead's events follow its Contact)."""
        return self.events[self.events["object"].eq("Contact")]

    def wants(self, index: pd.Index) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """Which rows of a values frame indexed (object, record_id) belong to the run."""
        if self.people is None:
            return np.ones(len(index), dtype=bool)
        mine: dict[str, set[str]] = {}
        for obj, rid in (*self.people, *self.owned):
            mine.setdefault(obj, set()).add(rid)
        # an Order's values (its risk) belong to the run when the order is one of its people's
        if len(self.orders) and "Id" in self.orders:
            mine.setdefault("Order", set()).update(self.orders["Id"].astype(str).tolist())
        # one hashed lookup per object over the record ids: a Python test per row took 2.3 s
        # of a profiled 1% change's sync on the medium seed (240,000 rows in four calls);
        # this takes 0.07 s of CPU for 126,000 rows
        objects = np.asarray(index.get_level_values(0), dtype=object)
        records = index.get_level_values(1)
        keep = np.zeros(len(index), dtype=bool)
        for obj, ids in mine.items():
            at = objects == obj
            if at.any():
                keep[at] = records[at].isin(list(ids))
        return keep


def event_emails(events: pd.DataFrame) -> pd.Series:
    """Each event's email, normalised: its own, else the one an identify (or any event) tied
    to its anonymous id."""
    emails = normalise_email(events["email"])
    if "anonymous_id" not in events:
        return emails
    known = events.assign(email=emails).dropna(subset=["email", "anonymous_id"])
    # the earliest event's email wins, whatever order the log was read in (a run of some
    # people reads it by email, a run of everyone by name)
    order = [c for c in ("occurred_at", "source", "delivery_id") if c in known]
    known = known.sort_values(order, kind="stable") if order else known
    by_anon = known.drop_duplicates("anonymous_id").set_index("anonymous_id")["email"]
    return emails.where(emails.notna(), events["anonymous_id"].map(by_anon))


def resolve_events(events: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """``events`` with ``email`` normalised and ``object``/``record_id`` of their person
    (missing when no Contact or Lead has the email yet), through ``index``
    (:func:`email_index`)."""
    emails = event_emails(events) if len(events) else pd.Series(dtype=object)
    by_email = index.set_index("email") if len(index) else None
    kind = (
        emails.map(by_email["kind"])
        if by_email is not None
        else pd.Series(None, index=events.index, dtype=object)
    )
    record = (
        emails.map(by_email["record_id"])
        if by_email is not None
        else pd.Series(None, index=events.index, dtype=object)
    )
    return events.assign(
        email=emails,
        object=kind.map({"contact": "Contact", "lead": "Lead"}).astype(object),
        record_id=record.astype(object),
    )


def order_aliases(
    orders: pd.DataFrame, shop_keys: pd.DataFrame, reference_field: str
) -> dict[str, str]:
    """Every name an order goes by -> the one id the run counts it under (pure).

    A shop order (``<platform>:<shop>/<id>``) is also known by its shop-local id
    (``<shop>/<id>``), its platform id and its name (``#1001``); a Salesforce Order by its Id,
    and when its ``reference_field`` holds a shop order's id or name it *is* that shop order
    (the merge keeps the Salesforce Order), so every name of the shop order names the
    Salesforce Id. ``shop_keys``: ``shop_id``, ``platform_order_id``, ``reference`` of every
    stored shop order.
    """
    names = [pd.DataFrame(columns=["alias", "target"])]
    if len(shop_keys):
        shop_id = shop_keys["shop_id"].astype(str)
        for alias in (
            shop_id,
            shop_id.str.split(":", n=1).str[-1],
            shop_keys["platform_order_id"],
            shop_keys["reference"],
        ):
            names.append(pd.DataFrame({"alias": alias.to_numpy(), "target": shop_id.to_numpy()}))
    table = pd.concat(names, ignore_index=True).dropna()
    table = table.assign(alias=table["alias"].astype(str).str.strip()).drop_duplicates("alias")
    if len(orders) and reference_field in orders:
        refs = orders[["Id", reference_field]].dropna()
        refs = pd.DataFrame(
            {"Id": refs["Id"].astype(str), "alias": refs[reference_field].astype(str).str.strip()}
        )
        owner = refs.merge(table, on="alias").drop_duplicates("target")
        became = owner.set_index("target")["Id"]
        mapped = table["target"].map(became).astype(object)
        table = table.assign(target=mapped.where(mapped.notna(), table["target"]))
        table = pd.concat([table, refs.rename(columns={"Id": "target"})], ignore_index=True)
    if len(orders):
        ids = orders["Id"].astype(str)
        table = pd.concat([table, pd.DataFrame({"alias": ids, "target": ids})], ignore_index=True)
    # the later rows win: a Salesforce Id names itself, a reference names its Salesforce Order
    table = table.drop_duplicates("alias", keep="last")
    return dict(zip(table["alias"], table["target"].astype(str), strict=True))


def once_per_order(
    events: pd.DataFrame, aliases: dict[str, str], *, counted: set[str]
) -> pd.DataFrame:
    """``events`` with each order's events once (pure): an order event (:data:`ORDER_EVENTS`)
    is known by the order it names (``order_id`` or ``order_name`` through ``aliases``);
    one whose order is in ``counted`` (the orders the run reads as orders) is dropped, as the
    order itself stands for it; of the rest, the first of each (name, order) is kept. Order
    events naming no order are kept as they are."""
    if not len(events):
        return events
    is_order = events["name"].isin(ORDER_EVENTS)
    if not is_order.any():
        return events
    rows = events[is_order]
    key = pd.Series(None, index=rows.index, dtype=object)
    for prop in ORDER_KEY_PROPERTIES:
        if prop not in rows:
            continue
        raw = rows[prop].astype("string").str.strip()
        named = raw.map(aliases).astype(object)
        key = key.where(key.notna(), named)
        key = key.where(key.notna(), ("event:" + raw).astype(object).where(raw.notna()))
    stands_in = key.isin(counted)
    first = ~rows.assign(_key=key).duplicated(["name", "_key"]) | key.isna()
    keep = pd.Series(True, index=events.index)
    keep[rows.index] = (~stands_in & first).to_numpy()
    return events[keep.to_numpy()]


def with_contacts(
    orders: pd.DataFrame, accounts: pd.DataFrame, contacts: pd.DataFrame
) -> pd.DataFrame:
    """``orders`` with ``contact_id``: the Contact each belongs to (:func:`order_person`)."""
    live = set(contacts["Id"].astype(str)) if len(contacts) else set()
    if not len(orders):
        return orders.assign(contact_id=pd.Series(dtype=object))
    return orders.assign(contact_id=order_person(orders, accounts, live).astype(object))


def resolve_run(
    *,
    now: datetime,
    contacts: pd.DataFrame,
    leads: pd.DataFrame,
    accounts: pd.DataFrame,
    orders: pd.DataFrame,
    events: pd.DataFrame,
    shop_keys: pd.DataFrame,
    reference_field: str,
    orders_are_events: bool,
    people: frozenset[tuple[str, str]] | None = None,
    order_records: pd.DataFrame | None = None,
) -> Resolved:
    """The Resolve step over stored frames (pure): every order to its Contact, every event to
    its person, each order's events once.

    ``orders`` are the orders that count (status-filtered, corporate currency) with
    ``reference_field``; ``orders_are_events``: the orders feed the intent score as order events
    (``orders_from_salesforce``), so an order event naming a resolved order is left to it.
    ``order_records``: what a run of some people read of its Salesforce Orders, kept as
    :class:`Resolved` says.
    """
    orders = with_contacts(orders, accounts, contacts)
    events = resolve_events(events, email_index(contacts, leads))
    if len(events) and events["name"].isin(ORDER_EVENTS).any():
        counted = (
            set(orders.loc[orders["contact_id"].notna(), "Id"].astype(str))
            if orders_are_events and len(orders)
            else set()
        )
        aliases = order_aliases(orders, shop_keys, reference_field)
        events = once_per_order(events, aliases, counted=counted)
    return Resolved(
        now, contacts, leads, accounts, orders, events, people, order_records=order_records
    )

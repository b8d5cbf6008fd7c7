"""Which people an ordinary sync must compute: those its changes touch (issue 19).

A sync after a small change used to recompute the whole org (23.6-24.9 s on the medium seed for
302 changed Orders, 22.5-23.7 s of it compute). Every value is a function of one person's
records, orders, events and journal, plus population parameters fitted once per UTC day
(predictions) or by the retrain job (the lead model). So, with those parameters unchanged, a
person none of whose inputs changed keeps the values last computed, and a run need compute only:

- the people of every pulled row (:class:`Touched`, noted page by page during the pull, with the
  owners the row had before it was stored, so an order moved to another Contact recomputes both):
  a Contact or Lead itself and the people sharing its old or new email, an Order's Contacts and
  Account, an OrderItem's Order, an Account's person contact, pooled members and contacts,
  the people an EmailMessage, Task or Case names (its Task's, its Case's, its sender's
  address: what people wrote follows them);
- the people of the events appended since the last compute (their emails, and the emails an
  earlier event tied to their anonymous ids), of the shoppers the webhooks marked dirty, and of
  the journal entries booked since the last compute (the loyalty API, the expiry job).

What the last compute saw is :class:`Basis` (kept in ``sync_state``). Every person is computed
instead (:func:`whole_org_reason` says why) when there is no basis, the UTC day changed (recency,
horizons, loyalty expiry and tier reviews count in days; the population is refitted), the
mappings, models or code changed, a model was refitted, events were deleted (a redaction),
records were forgotten, an object was read in full, an admin corrected a message's sentiment
(the correction refines the model that scores every message), or the touched people are more than
:data:`WHOLE_ORG_SHARE` of the org (one pass over everyone is then cheaper). Values that move
with the clock alone within a day (intent decay) are refreshed by the day's first run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from connector.salesforce.sfdx import OWN_TASKS
from connector.store import Store
from connector.sync.streams import OVERRIDE_FIELD

#: The ``sync_state`` key of the touched records not yet computed.
TOUCHED_KEY = "incremental_touched"
#: The ``sync_state`` key of what the last compute saw (:class:`Basis`).
BASIS_KEY = "incremental_basis"
#: Above this share of the org's Contacts and Leads, a run computes everyone: the narrow reads
#: cost per person what the whole-org pass costs per org.
WHOLE_ORG_SHARE = 0.25
#: Above this many touched keys the set is not kept (its JSON would grow with the org): the
#: run computes everyone.
MAX_TOUCHED = 50_000

# Per pulled object: the columns whose old and new values name the people a row touches.
_OWNERS: dict[str, tuple[str, ...]] = {
    "Contact": ("Email",),
    "Lead": ("Email", "ConvertedContactId"),
    "Account": ("PersonContactId",),
    "Order": ("BillToContactId", "ShipToContactId", "CustomerAuthorizedById", "AccountId"),
    "OrderItem": ("OrderId",),
    # what people wrote (sync/texts_stage.py): the message's person, its Task's, its Case's,
    # its sender's address; and the admins' sentiment correction, which moves everyone's
    "EmailMessage": ("RelatedToId", "ActivityId", "ParentId", "FromAddress", OVERRIDE_FIELD),
    "Task": ("WhoId", "Description"),
    "Case": ("ContactId", OVERRIDE_FIELD),
}
#: The key prefixes of the people a message names (Salesforce's Contact and Lead ids).
_PERSON_PREFIX = {"003": "contacts", "00Q": "leads"}
_ORDER_CONTACTS = ("BillToContactId", "ShipToContactId", "CustomerAuthorizedById")
_OWN_TASK = re.compile(OWN_TASKS, re.DOTALL)
_KEYS = ("contacts", "leads", "accounts", "orders", "emails", "account_rows")


@dataclass
class Touched:
    """Records the pulls since the last compute touched, kept until a compute consumes them.

    ``everyone`` says why every person must be computed instead (an object read in full,
    records forgotten), else None.
    """

    everyone: str | None = None
    contacts: set[str] = field(default_factory=set)
    leads: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    orders: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    # Accounts whose own row changed (IsPersonAccount, PersonContactId): their contacts too.
    account_rows: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, store: Store) -> Touched:
        """The touched records a run left uncomputed (none when there are none)."""
        text = store.records.state(TOUCHED_KEY)
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            everyone=data.get("everyone"),
            **{k: set(data.get(k, [])) for k in _KEYS},
        )

    def save(self, store: Store) -> None:
        """Keep the set (before the pull's watermark moves: a crash re-reads the window)."""
        data: dict[str, Any] = {"everyone": self.everyone}
        if self.everyone is None:
            for name in _KEYS:
                data[name] = sorted(getattr(self, name))
        store.records.set_state(TOUCHED_KEY, json.dumps(data))

    def size(self) -> int:
        """How many keys the set holds."""
        return sum(len(getattr(self, name)) for name in _KEYS)

    def all(self, why: str) -> None:
        """Every person must be computed (the first reason is kept)."""
        if self.everyone is None:
            self.everyone = why
        for name in _KEYS:
            getattr(self, name).clear()

    def before(
        self, store: Store, object_name: str, page: Sequence[Mapping[str, Any]]
    ) -> PulledPage | None:
        """What :meth:`note` needs of a pulled page before it is stored: its rows that may be
        changes and the owners they had (None when the page can touch nobody)."""
        if self.everyone is not None or not page:
            return None
        owners = _OWNERS.get(object_name, ())
        ids = sorted({str(r["Id"]) for r in page if r.get("Id")})
        old = _rows(store, object_name, ["Id", "SystemModstamp", *owners], "Id", ids)
        # A row stored with the same SystemModstamp is a re-read (the pull's lookback, a
        # sweep), not a change: it touches nobody.
        rows = _stamped(page, old, stored=False)
        return PulledPage(object_name, rows, old, len(page)) if rows else None

    def note(self, store: Store, pulled: PulledPage | None, changed: int) -> None:
        """Note the people a pulled page touches, once it is stored (``pulled``: what
        :meth:`before` read; ``changed``: the rows its upsert changed).

        A row with a new stamp but nothing else new is an echo of a save that changed nothing
        we read (our own write-back, read again by the echo sweep an hour later): the upsert
        leaves it as stored, and it touches nobody. Before this, the sweep after a medium-seed
        first sync named every Contact and Lead the push wrote (more than 50,000 records), and
        the next sync computed the whole org."""
        if pulled is None or self.everyone is not None or not changed:
            return
        object_name, page, old = pulled.object_name, pulled.rows, pulled.old
        if changed < pulled.size:
            # Some rows were echoes (or re-reads): the ones the upsert wrote now hold the
            # page's stamp.
            ids = sorted({str(r["Id"]) for r in page if r.get("Id")})
            now = _rows(store, object_name, ["Id", "SystemModstamp"], "Id", ids)
            page = _stamped(page, now, stored=True)
            if not page:
                return
        owners = _OWNERS.get(object_name, ())
        if object_name not in _OWNERS:
            # Anything else a model reads (Product2's Family for a product rule) may move
            # anyone's values.
            self.all(f"{object_name} changed")
            return
        ids = sorted({str(r["Id"]) for r in page if r.get("Id")})
        new = pd.DataFrame([{c: r.get(c) for c in ("Id", *owners)} for r in page])
        old = old[old["Id"].astype(str).isin(ids)]
        rows = pd.concat([new, old.drop(columns="SystemModstamp")], ignore_index=True)
        if object_name == "Contact":
            self.contacts.update(ids)
            self.emails |= _emails(rows["Email"])
        elif object_name == "Lead":
            self.leads.update(ids)
            self.emails |= _emails(rows["Email"])
            self.contacts |= _values(rows["ConvertedContactId"])
        elif object_name == "Account":
            self.accounts.update(ids)
            self.account_rows.update(ids)
            self.contacts |= _values(rows["PersonContactId"])
        elif object_name == "Order":
            self.orders.update(ids)
            self._note_orders(rows)
        elif object_name in ("EmailMessage", "Task", "Case"):
            self._note_texts(store, object_name, new, old.drop(columns="SystemModstamp"))
        else:  # OrderItem: the people of its Order, as stored
            order_ids = sorted(_values(rows["OrderId"]))
            self.orders.update(order_ids)
            columns = ["Id", *_OWNERS["Order"]]
            self._note_orders(_rows(store, "Order", columns, "Id", order_ids))
        if self.size() > MAX_TOUCHED:
            self.all(f"more than {MAX_TOUCHED:,} records changed")

    def _note_texts(
        self, store: Store, object_name: str, new: pd.DataFrame, old: pd.DataFrame
    ) -> None:
        """The people of changed messages: who a message names (as it was and as it is), the
        person of its Task and of its Case, and its sender's address. Everyone when a
        sentiment correction changed (it refines the model that scores every message) or a
        Case names no Contact (its values belong to nobody's run)."""
        if OVERRIDE_FIELD in new:
            before = dict(zip(old["Id"].astype(str), old[OVERRIDE_FIELD], strict=True))
            for rid, value in zip(new["Id"].astype(str), new[OVERRIDE_FIELD], strict=True):
                if _given(value) != _given(before.get(rid)):
                    self.all(f"a sentiment correction on {object_name} {rid}")
                    return
        if object_name == "Task":
            # The Tasks the connector's own Flows make (what it told a rep) and Tasks with no
            # text are read by no model (sync/texts_stage.py): they touch nobody. Before, the
            # run after one that fired the fulfilment Flow recomputed each flagged person.
            read = pd.concat([new, old], ignore_index=True)
            read = read[_read_task(read["Description"])]
            if read.empty:
                return
            kept = set(read["Id"].astype(str))
            new = new[new["Id"].astype(str).isin(kept)]
            old = old[old["Id"].astype(str).isin(kept)]
        rows = pd.concat([new, old], ignore_index=True)
        named: set[str] = set()
        for column in ("RelatedToId", "WhoId", "ContactId"):
            if column in rows:
                named |= _values(rows[column])
        if object_name == "Case" and rows["ContactId"].isna().any():
            self.all("a Case with no Contact changed")
            return
        if object_name == "EmailMessage":
            tasks = _rows(store, "Task", ["Id", "WhoId"], "Id", sorted(_values(rows["ActivityId"])))
            named |= _values(tasks["WhoId"])
            parents = sorted(_values(rows["ParentId"]))
            cases = _rows(store, "Case", ["Id", "ContactId"], "Id", parents)
            if len(cases) < len(parents) or cases["ContactId"].isna().any():
                self.all("an EmailMessage of a Case with no Contact changed")
                return
            named |= _values(cases["ContactId"])
            self.emails |= _emails(rows["FromAddress"])
        for rid in named:
            kind = _PERSON_PREFIX.get(rid[:3])
            if kind is not None:
                getattr(self, kind).add(rid)

    def _note_orders(self, orders: pd.DataFrame) -> None:
        for column in _ORDER_CONTACTS:
            self.contacts |= _values(orders[column])
        self.accounts |= _values(orders["AccountId"])


@dataclass(frozen=True)
class PulledPage:
    """A pulled page's rows that may be changes, and the stored rows of its Ids before it was
    stored (``Id``, ``SystemModstamp`` and the owner columns): :meth:`Touched.before`."""

    object_name: str
    rows: list[Mapping[str, Any]]
    old: pd.DataFrame
    size: int  # rows in the page


def booked_by_others(
    store: Store, journal: Mapping[str, int], own: Mapping[str, Iterable[str]]
) -> tuple[Touched, dict[str, int]]:
    """After a run: the members of entries booked since its compute read the journal
    (``journal``) by anyone but the run itself (``own``: program -> the keys it booked), as
    the next run's touched people, and the journal positions the next run starts from."""
    touched = Touched()
    positions: dict[str, int] = {}
    for program, seq in journal.items():
        mine = set(own.get(program, ()))
        entries, positions[program] = store.loyalty.members_after(program, seq)
        for key, member in entries:
            if key not in mine:
                kind, _, rid = member.partition(":")
                (touched.contacts if kind == "Contact" else touched.accounts).add(rid)
    return touched, positions


@dataclass(frozen=True)
class Basis:
    """What the last compute saw: its UTC day, the configuration (mappings, models, code), when
    each stored model was fitted, the event log's position and each program's journal
    position."""

    day: str
    config: str
    models: dict[str, str]
    events: tuple[int, int]
    journal: dict[str, int]

    @classmethod
    def load(cls, store: Store) -> Basis | None:
        """The stored basis, or None before the first compute that kept one."""
        text = store.records.state(BASIS_KEY)
        if not text:
            return None
        data = json.loads(text)
        return cls(
            day=data["day"],
            config=data["config"],
            models=data["models"],
            events=(int(data["events"][0]), int(data["events"][1])),
            journal={k: int(v) for k, v in data["journal"].items()},
        )

    def save(self, store: Store) -> None:
        """Keep it for the next run."""
        data = {
            "day": self.day,
            "config": self.config,
            "models": self.models,
            "events": list(self.events),
            "journal": self.journal,
        }
        store.records.set_state(BASIS_KEY, json.dumps(data, sort_keys=True))


def current_basis(
    store: Store,
    day: date,
    config: str,
    events: tuple[int, int],
    journal: Mapping[str, int],
) -> Basis:
    """The basis of a compute that read the event log up to ``events`` and each program's
    journal up to ``journal`` (positions read before it read them: what comes while it runs
    is computed by the next run)."""
    return Basis(
        day=day.isoformat(),
        config=config,
        models=store.scoring.fitted(),
        events=events,
        journal=dict(journal),
    )


def whole_org_reason(
    basis: Basis | None, touched: Touched, *, day: date, config: str, store: Store
) -> str | None:
    """Why this run must compute every person, or None when the touched people suffice."""
    if basis is None:
        return "no earlier compute to build on"
    if touched.everyone is not None:
        return touched.everyone
    if basis.day != day.isoformat():
        return "a new UTC day (recency, horizons, expiry and tier reviews count in days)"
    if basis.config != config:
        return "mappings, models or code changed"
    if basis.models != store.scoring.fitted():
        return "a model was refitted"
    last, count = store.events.position()
    _, appended = store.events.emails_after(basis.events[0]) if last > basis.events[0] else (0, 0)
    if count != basis.events[1] + appended:
        return "events were deleted (a redaction)"
    return None


@dataclass(frozen=True)
class Dirty:
    """The people a run computes, and the positions it read up to."""

    people: frozenset[tuple[str, str]]
    journal: dict[str, int]
    marks: list[tuple[str, str]]

    @property
    def count(self) -> int:
        """How many people (Contacts, Leads, Accounts) the run computes; its Orders aside."""
        return sum(1 for obj, _ in self.people if obj != "Order")


def dirty_people(store: Store, touched: Touched, basis: Basis, programs: Iterable[str]) -> Dirty:
    """The people the touched records, the new events, the webhooks' marks and the new journal
    entries name, and the touched Orders, as (object, record id) pairs (``basis``: where the
    last compute stood)."""
    emails = set(touched.emails)
    contacts = set(touched.contacts)
    leads = set(touched.leads)
    accounts = set(touched.accounts)
    new_emails, _ = store.events.emails_after(basis.events[0])
    emails |= new_emails
    marks = store.events.dirty_people()
    emails |= {email.strip().lower() for email, _ in marks if email}
    journal: dict[str, int] = {}
    for program in programs:
        entries, journal[program] = store.loyalty.members_after(
            program, basis.journal.get(program, 0)
        )
        for _, member in entries:
            kind, _, rid = member.partition(":")
            (contacts if kind == "Contact" else accounts).add(rid)
    people: set[tuple[str, str]] = {("Account", a) for a in accounts}
    if accounts:  # an Account's person contact (its orders are the person's)
        own = _rows(store, "Account", ["Id", "PersonContactId"], "Id", sorted(accounts))
        contacts |= _values(own["PersonContactId"])
    if touched.account_rows:
        # an Account that changed itself (a person account now, or no longer) may move whose
        # its orders are: its contacts too. An Account an order names moves nobody else: the
        # medium seed's 1% change of Orders touched 9,394 people with their contacts.
        mine = _rows(store, "Contact", ["Id"], "AccountId", sorted(touched.account_rows))
        contacts |= _values(mine["Id"])
    if emails:
        found = store.records.with_emails("Contact", ["Id"], emails)
        contacts |= _values(found["Id"])
        named = store.records.with_emails("Lead", ["Id"], emails)
        leads |= _values(named["Id"])
    if leads:
        converted = _rows(store, "Lead", ["Id", "ConvertedContactId"], "Id", sorted(leads))
        contacts |= _values(converted["ConvertedContactId"])
    people |= {("Contact", c) for c in contacts}
    people |= {("Lead", lead) for lead in leads}
    # the changed Orders themselves: their own values (risk) are written only for them
    # (sync/orders_intel.py); they are no people, and do not count as such
    people |= {("Order", o) for o in touched.orders}
    return Dirty(frozenset(people), journal, marks)


def _rows(
    store: Store, object_name: str, columns: list[str], by: str, values: Sequence[str]
) -> pd.DataFrame:
    """Stored rows (deleted ones too) whose ``by`` column holds one of ``values`` (the store
    reads them in chunks under the bound-parameter limit: one call, not one per 500 values,
    25 calls for a 1% change's pages on the medium seed)."""
    if not values:
        return pd.DataFrame(columns=columns)
    return store.records.frame(object_name, columns, include_deleted=True, any_of={by: values})


def _stamped(
    page: Sequence[Mapping[str, Any]], rows: pd.DataFrame, *, stored: bool
) -> list[Mapping[str, Any]]:
    """The page's rows whose SystemModstamp is (``stored``) or is not the one ``rows`` (the
    stored ``Id`` and ``SystemModstamp``) hold for them; a row without a stamp is kept either
    way (it cannot be told from a change)."""
    # lists, not Series: iterating a pandas string column boxes each value through pandas
    stamps = dict(
        zip(rows["Id"].astype(str).tolist(), rows["SystemModstamp"].tolist(), strict=True)
    )
    return [
        r
        for r in page
        if r.get("SystemModstamp") is None
        or (stamps.get(str(r.get("Id"))) == r["SystemModstamp"]) == stored
    ]


def _values(column: pd.Series) -> set[str]:
    # tolist(): a pandas string column iterated value by value boxes each through pandas
    # (16,794 values of a 1% change's sync on the medium seed, a third of its per-value cost)
    return {str(v) for v in column.dropna().tolist() if str(v)}


def _given(value: Any) -> Any:
    """A stored value, None for a hole (None, NaN)."""
    return None if value is None or (isinstance(value, float) and value != value) else value


def _emails(column: pd.Series) -> set[str]:
    return {str(v).strip().lower() for v in column.dropna().tolist() if str(v).strip()}


def _read_task(description: pd.Series) -> pd.Series:
    """Which Tasks the texts stage reads as what a person wrote: a text that is not one the
    connector's own Flows write (sync/texts_stage.py reads them by the same rule)."""
    text = description.astype(object).where(description.notna(), None)
    return text.map(lambda t: t is not None and _OWN_TASK.fullmatch(str(t)) is None).astype(bool)

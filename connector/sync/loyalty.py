"""The loyalty step of a sync: book stored orders and events into each program's journal, post
the expiry due, compute every member's standing, and tell Salesforce of tier changes.

Glue only: the rules are :mod:`connector.loyalty` (pure), the journal is
:mod:`connector.store.loyalty`. A dry run books nothing: it computes the standing the journal
would have, in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from connector.errors import SalesforceError
from connector.loyalty.book import book
from connector.loyalty.config import LoyaltyConfig, Program
from connector.loyalty.earning import promotion_vouchers
from connector.loyalty.enrollment import enrolled, enrollment_fields, members_only
from connector.loyalty.ledger import concat
from connector.loyalty.service import voucher_row
from connector.loyalty.shop import shop_reductions
from connector.loyalty.spend import discount_levels, spend_entries
from connector.loyalty.standing import standing
from connector.mapping.deploy import ExtraNeeds
from connector.mapping.models import program_key
from connector.salesforce.port import FLOW_BATCH, SalesforcePort
from connector.store import Store
from connector.store.loyalty import LoyaltyRepository
from connector.sync.compute import empty_frame, model_frame
from connector.sync.loyalty_mirror import mirror_needs
from connector.sync.predict import event_people
from connector.sync.resolve import order_person
from connector.sync.streams import Stream

log = logging.getLogger(__name__)


def member_orders(
    orders: pd.DataFrame, accounts: pd.DataFrame, contacts: pd.DataFrame, program: Program
) -> pd.DataFrame:
    """Stored Orders as the journal books them: order_id, member, at, amount,
    original_order_id (refunds, i.e. reduction orders, name the order they reduce).

    A member is ``Contact:<id>``; with ``pool_by_account`` an order of a business Account (one
    that is not a person account) belongs to ``Account:<id>`` instead, so its contacts pool
    their points. An order's moment is the start of its EffectiveDate in the program's zone.
    """
    if not len(orders):
        return pd.DataFrame(
            {
                "order_id": pd.Series(dtype=object),
                "member": pd.Series(dtype=object),
                "at": pd.Series(dtype="datetime64[ns, UTC]"),
                "amount": pd.Series(dtype=float),
                "original_order_id": pd.Series(dtype=object),
            }
        )
    live = set(contacts["Id"].astype(str)) if len(contacts) else set()
    person = order_person(orders, accounts, live)
    member = "Contact:" + person.astype("string")
    if program.pool_by_account and len(accounts):
        personal = set(accounts.dropna(subset=["PersonContactId"])["Id"].astype(str))
        account = orders["AccountId"].astype("string")
        business = account.notna() & ~account.isin(personal)
        member = member.where(~business, "Account:" + account)
    day = pd.to_datetime(orders["EffectiveDate"], errors="coerce")
    at = day.dt.tz_localize(program.zone, ambiguous="NaT", nonexistent="shift_forward")
    refund = orders["IsReductionOrder"].eq(True)
    original = orders.get("OriginalOrderId")
    frame = pd.DataFrame(
        {
            "order_id": orders["Id"].astype(str),
            "member": member,
            "at": at.dt.tz_convert(UTC),
            "amount": pd.to_numeric(orders["TotalAmount"], errors="coerce"),
            "original_order_id": original.where(refund, None) if original is not None else None,
        }
    )
    return frame.dropna(subset=["member", "at", "amount"]).reset_index(drop=True)


def member_events(
    events: pd.DataFrame, contacts: pd.DataFrame, leads: pd.DataFrame
) -> pd.DataFrame:
    """Stored events resolved to Contact members: event_id, member, name, at."""
    if not len(events):
        return pd.DataFrame(columns=["event_id", "member", "name", "at"])
    people = event_people(events, contacts, leads).dropna(subset=["person_id"])
    return pd.DataFrame(
        {
            "event_id": people["source"].astype(str) + ":" + people["delivery_id"].astype(str),
            "member": "Contact:" + people["person_id"].astype(str),
            "name": people["name"],
            "at": pd.to_datetime(people["occurred_at"], utc=True, format="ISO8601"),
        }
    )


def order_lines(items: pd.DataFrame, products: pd.DataFrame | None = None) -> pd.DataFrame:
    """Stored OrderItems as earning rules read them: order_id, product_id, amount, and with
    ``products`` (stored Product2: Id, Family) category, the line's product Family."""
    if not len(items):
        return pd.DataFrame(columns=["order_id", "product_id", "amount", "category"])
    lines = pd.DataFrame(
        {
            "order_id": items["OrderId"].astype(str),
            "product_id": items["Product2Id"].astype(str),
            "amount": pd.to_numeric(items["TotalPrice"], errors="coerce").fillna(0.0),
        }
    )
    family = (
        products.set_index(products["Id"].astype(str))["Family"]
        if products is not None and len(products)
        else pd.Series(dtype=object)
    )
    return lines.assign(category=lines["product_id"].map(family))


def loyalty_step(
    store: Store,
    config: LoyaltyConfig,
    *,
    orders: pd.DataFrame,
    accounts: pd.DataFrame,
    contacts: pd.DataFrame,
    leads: pd.DataFrame,
    now: datetime,
    client: SalesforcePort | None,
    run_id: int | None,
    dry_run: bool,
    reference_field: str = "OrderReferenceNumber",
    segments: pd.Series | None = None,
    mapped_programs: Collection[str] = (),
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Book every program, then the standing of the first program's members as ``loyalty.*``
    values indexed by (object, record_id), and a record of what was done for the run report.

    ``segments`` (member -> segment name, :func:`member_segments`) feeds promotions limited to
    segments. The standing of each program in ``mapped_programs`` (named by a mapping's
    ``program``) comes too, as ``loyalty.<key>@<program>`` columns.
    """
    if not config.programs:
        return empty_frame("loyalty"), {"programs": 0}
    books = store.loyalty
    record: dict[str, Any] = {"programs": len(config.programs)}
    values = empty_frame("loyalty")
    for i, program in enumerate(config.programs):
        journal = books.journal(program.id)
        booked_orders = member_orders(orders, accounts, contacts, program)
        enrolled_members = enrolled(program, booked_orders, contacts)
        events = _events_for(store, program, contacts, leads)
        # Shop orders at their gross, their refunds and cancellations as reductions.
        members, reductions = shop_reductions(
            members_only(booked_orders, enrolled_members), store.events.shop_refunds(), now
        )
        # A shop order booked before Salesforce held it keeps its first id: the Salesforce
        # Order that replaced it (same reference) must not earn a second time.
        alias = same_orders(
            store.records.frame("Order", ["Id", reference_field]).rename(
                columns={reference_field: "reference"}
            )
            if len(orders)
            else pd.DataFrame(columns=["Id", "reference"]),
            store.events.shop_order_keys(),
            set(journal["source_id"].dropna()) if len(journal) else set(),
        )
        if alias:
            members = members.assign(
                order_id=members["order_id"].replace(alias),
                original_order_id=members["original_order_id"].replace(alias),
            )
        new = book(
            program,
            members,
            journal,
            now,
            lines=_lines_for(store, program),
            events=members_only(events, enrolled_members) if events is not None else None,
            tiers=_current_tiers(books, program),
            reductions=reductions,
            segments=segments,
        )
        gifts = promotion_vouchers(
            _purchases(members_only(booked_orders, enrolled_members), now),
            program,
            _current_tiers(books, program),
            segments,
        )
        if dry_run:
            booked = len(new)
            journal = concat(journal, new)
            given = len(gifts) - len(books.issued_for(gifts["source_key"].tolist()))
        else:
            booked = books.append(new)
            journal = books.journal(program.id) if booked else journal
            given = _give_vouchers(books, program, gifts, now)
        # Discounts from spend count the same purchases and refunds the journal just booked.
        spend = spend_entries(members, now, reductions) if program.spend_discounts else None
        members = standing(journal, program, now, spend=spend)
        if enrolled_members is not None:
            # a member who left (a cleared checkbox) keeps their journal but gets no standing
            members = members[members.index.isin(list(enrolled_members))]
        moments = _tier_moments(books, program, members, client, run_id, dry_run)
        record[program.id] = {"booked": booked, "members": len(members), **moments}
        if given:
            record[program.id]["vouchers_given"] = given
        if i == 0 or program.id in mapped_programs:
            frame = _as_values(members, contacts, program)
            if i == 0:
                values = frame
            if program.id in mapped_programs:
                own = frame.rename(columns={c: program_key(str(c), program.id) for c in frame})
                values = values.join(own, how="outer") if len(values.columns) else own
    return values, record


def same_orders(salesforce: pd.DataFrame, shop: pd.DataFrame, booked: set[str]) -> dict[str, str]:
    """Salesforce Order Id -> the shop order id it replaced, for orders the journal booked
    under their shop id and not yet under the Salesforce one (pure).

    ``salesforce``: Id, reference (the reference field); ``shop``: shop_id, platform_order_id,
    reference. The match is the one the order merge uses: the reference field holds the
    platform's order id or its name.
    """
    if not len(salesforce) or not len(shop):
        return {}
    refs = salesforce.dropna(subset=["reference"])
    refs = refs.assign(reference=refs["reference"].astype(str).str.strip())
    keys = pd.concat(
        [
            shop[["shop_id", "platform_order_id"]].rename(columns={"platform_order_id": "key"}),
            shop[["shop_id", "reference"]].rename(columns={"reference": "key"}),
        ]
    ).dropna()
    keys = keys.assign(key=keys["key"].astype(str).str.strip()).drop_duplicates("key")
    matched = refs.merge(keys, left_on="reference", right_on="key")
    matched = matched[matched["shop_id"].isin(booked) & ~matched["Id"].astype(str).isin(booked)]
    return dict(zip(matched["Id"].astype(str), matched["shop_id"].astype(str), strict=True))


def with_enrollment_fields(stream: Stream, config: LoyaltyConfig | None) -> Stream:
    """The Contact stream with the programs' enrollment checkboxes added (other streams as
    they are). A field the org lacks is dropped after describe like any other, and then
    nobody is enrolled by it."""
    extra = enrollment_fields(config) if stream.object_name == "Contact" else []
    if not extra:
        return stream
    return replace(stream, fields=(*stream.fields, *extra))


def _purchases(orders: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Purchase orders (not refunds) dated at or before ``now``: what promotions reward."""
    keep = orders["original_order_id"].isna() & (orders["at"] <= pd.Timestamp(now))
    return orders[keep]


def _give_vouchers(
    books: LoyaltyRepository, program: Program, gifts: pd.DataFrame, now: datetime
) -> int:
    """Store the vouchers promotions give, each once (its source key is unique), with a new
    code, cost 0; returns how many were new."""
    if gifts.empty:
        return 0
    done = books.issued_for(gifts["source_key"].tolist())
    todo = gifts[~gifts["source_key"].isin(done)]
    kinds = {v.id: v for v in program.vouchers}
    rows = []
    for gift in todo.itertuples(index=False):
        voucher = kinds[str(gift.voucher_id)]
        rows.append(
            voucher_row(program, str(gift.member), voucher, now, source_key=str(gift.source_key))
        )
    return books.add_vouchers(rows) if rows else 0


def member_segments(frames: Sequence[pd.DataFrame]) -> pd.Series | None:
    """Member (``Contact:<id>``) -> segment name, from this run's predictions values (a frame
    indexed by (object, record_id) with ``predictions.segment_name``), or ``None``."""
    for frame in frames:
        if "predictions.segment_name" in frame.columns and len(frame):
            names = frame["predictions.segment_name"].dropna()
            objects = names.index.get_level_values(0).astype(str)
            ids = names.index.get_level_values(1).astype(str)
            return pd.Series(names.to_numpy(), index=objects + ":" + ids, dtype=object)
    return None


def _as_values(members: pd.DataFrame, contacts: pd.DataFrame, program: Program) -> pd.DataFrame:
    if program.enrollment == "everyone" and len(contacts):
        everyone = pd.Index("Contact:" + contacts["Id"].astype(str), name="member")
        members = members.reindex(members.index.union(everyone))
        zero = ["loyalty.points_balance", "loyalty.points_expiring_30d"]
        members[zero] = members[zero].fillna(0)
        if program.tiers is not None:
            first = program.tiers.levels[0]
            members["loyalty.tier"] = members["loyalty.tier"].fillna(first.name)
            members["loyalty.qualifying_points"] = members["loyalty.qualifying_points"].fillna(0)
        if program.spend_discounts is not None:
            # a Contact with no purchase has spent 0: the level (and the way to the next) of 0
            (percent,), (to_next,) = discount_levels(np.zeros(1), program.spend_discounts)
            none_yet = members["loyalty.discount_percent"].isna()
            members.loc[none_yet, "loyalty.discount_percent"] = percent
            if not np.isnan(to_next):
                members.loc[none_yet, "loyalty.spend_to_next_discount"] = to_next
    if members.empty:
        return empty_frame("loyalty")
    keys = members.index.to_series().astype(str).str.split(":", n=1, expand=True)
    members.index = pd.MultiIndex.from_arrays(
        [keys[0].to_numpy(), keys[1].to_numpy()], names=["object", "record_id"]
    )
    return model_frame("loyalty", members)


def _lines_for(store: Store, program: Program) -> pd.DataFrame | None:
    if not any(r.kind == "product" for r in program.earning):
        return None
    items = store.records.frame("OrderItem", ["OrderId", "Product2Id", "TotalPrice"])
    products = (
        store.records.frame("Product2", ["Id", "Family"]) if program.uses_categories else None
    )
    return order_lines(items, products)


def org_needs(config: LoyaltyConfig | None) -> ExtraNeeds:
    """What the programs need of the org beyond the mappings, for ``fields deploy`` and
    ``doctor``: the Loyalty Management mirror's fields and rights, Read on Product2 when
    product rules name categories."""
    mirror = mirror_needs(config)
    return replace(mirror, read_objects=(*mirror.read_objects, *loyalty_objects(config)))


def loyalty_objects(config: LoyaltyConfig | None) -> tuple[str, ...]:
    """Objects the programs need pulled beyond the default ones: Product2 (its Family, the
    product category) when a product rule names categories."""
    if config is not None and any(p.uses_categories for p in config.programs):
        return ("Product2",)
    return ()


def _events_for(
    store: Store, program: Program, contacts: pd.DataFrame, leads: pd.DataFrame
) -> pd.DataFrame | None:
    names = sorted({r.event for r in program.earning if r.kind == "event" and r.event})
    if not names:
        return None
    events = store.events.frame(names)
    return member_events(events[events["name"].isin(names)], contacts, leads)


def _current_tiers(books: LoyaltyRepository, program: Program) -> pd.Series | None:
    if not program.promotions or program.tiers is None:
        return None
    return pd.Series(books.notified_tiers(program.id), dtype=object)


def _tier_moments(
    books: LoyaltyRepository,
    program: Program,
    members: pd.DataFrame,
    client: SalesforcePort | None,
    run_id: int | None,
    dry_run: bool,
) -> dict[str, Any]:
    """Tell the configured Flow of every tier change once; a member seen for the first time
    is recorded silently (a first sync announces nothing)."""
    if program.tiers is None or members.empty:
        return {}
    current = members["loyalty.tier"].dropna().astype(str).to_dict()
    known = books.notified_tiers(program.id)
    first = {m: t for m, t in current.items() if m not in known}
    changed = {m: t for m, t in current.items() if m in known and known[m] != t}
    out: dict[str, Any] = {"tier_changes": len(changed)}
    if dry_run:
        return out
    if first:
        books.record_tiers(program.id, first, run_id)
    flow = program.tiers.flow
    if not changed:
        return out
    if flow is None or client is None:
        books.record_tiers(program.id, changed, run_id)
        return out
    told: dict[str, str] = {}
    items = sorted(changed.items())
    try:
        for start in range(0, len(items), FLOW_BATCH):
            chunk = items[start : start + FLOW_BATCH]
            inputs = [_flow_input(m, known[m], t, program) for m, t in chunk]
            results = client.invoke_flow(flow, inputs)
            for (member, tier), result in zip(chunk, results, strict=False):
                if result.get("isSuccess", True):
                    told[member] = tier
    except SalesforceError as exc:
        # Not recorded: the next run tells them again (a change is never dropped).
        log.warning("tier-change flow %s failed: %s", flow, exc)
        out["flow_error"] = str(exc)
    books.record_tiers(program.id, told, run_id)
    out["flows_invoked"] = len(told)
    return out


def _flow_input(member: str, old: str, new: str, program: Program) -> dict[str, Any]:
    obj, record_id = member.split(":", 1)
    assert program.tiers is not None
    order = [t.name for t in program.tiers.levels]
    direction = "change"  # a tier renamed in models/loyalty.yaml since it was recorded
    if old in order and new in order:
        direction = "upgrade" if order.index(new) > order.index(old) else "downgrade"
    return {
        "recordId": record_id,
        "objectName": obj,
        "program": program.id,
        "previousTier": old,
        "tier": new,
        "direction": direction,
    }


def known_programs(config: LoyaltyConfig) -> Sequence[str]:
    """The configured program ids, in file order."""
    return [p.id for p in config.programs]

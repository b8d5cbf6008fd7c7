"""The loyalty part of the compute step: the journal entries the resolved orders and events
earn in each program, the expiry due, every member's standing with them, and the tier changes
to tell Salesforce of.

Glue only: the rules are :mod:`connector.loyalty` (pure). What it reads of the store is read
before compute (:func:`load_inputs`); :func:`loyalty_values` is pure and only *plans* the
booking, the vouchers and the tier Flows, which the Effects step (``sync/effects.py``) carries
out after the push. So a dry run books nothing and the standing written is the standing the
journal has once the Effects step has run.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

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
from connector.store import Store
from connector.sync.compute import empty_frame, model_frame
from connector.sync.effects import Effects, MomentCall, compact_journal
from connector.sync.loyalty_mirror import mirror_needs
from connector.sync.resolve import Resolved
from connector.sync.streams import Stream

log = logging.getLogger(__name__)


def member_orders(orders: pd.DataFrame, accounts: pd.DataFrame, program: Program) -> pd.DataFrame:
    """Resolved orders (with ``contact_id``) as the journal books them: order_id, member, at,
    amount, original_order_id (refunds, i.e. reduction orders, name the order they reduce).

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
    member = "Contact:" + orders["contact_id"].astype("string")
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


def member_events(events: pd.DataFrame) -> pd.DataFrame:
    """Resolved events of Contacts as members' events: event_id, member, name, at."""
    people = events[events["object"].eq("Contact")] if len(events) else events
    if not len(people):
        return pd.DataFrame(columns=["event_id", "member", "name", "at"])
    return pd.DataFrame(
        {
            "event_id": people["source"].astype(str) + ":" + people["delivery_id"].astype(str),
            "member": "Contact:" + people["record_id"].astype(str),
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


@dataclass(frozen=True)
class LoyaltyInputs:
    """What the loyalty compute reads of the store besides the resolved people and orders,
    read once before compute (:func:`load_inputs`)."""

    journals: dict[str, pd.DataFrame]  # program -> its journal (the run's members' entries)
    tiers: dict[str, dict[str, str]]  # program -> member -> the tier Salesforce was told
    shop_refunds: pd.DataFrame  # store.events.shop_refunds()
    shop_keys: pd.DataFrame  # store.events.shop_order_keys()
    lines: pd.DataFrame | None  # order lines, when a program has product rules


def load_inputs(store: Store, config: LoyaltyConfig, resolved: Resolved) -> LoyaltyInputs:
    """Read what :func:`loyalty_values` needs; for a run of some people, only their members'
    journal entries."""
    books = store.loyalty
    members = _run_members(resolved)
    journals = {
        p.id: books.journal(p.id) if members is None else books.entries_of(p.id, members)
        for p in config.programs
    }
    return LoyaltyInputs(
        journals=journals,
        tiers={p.id: books.notified_tiers(p.id, members) for p in config.programs},
        shop_refunds=store.events.shop_refunds(),
        shop_keys=store.events.shop_order_keys(),
        lines=_lines_for(store, config, None if members is None else resolved.orders),
    )


def _run_members(resolved: Resolved) -> list[str] | None:
    """The members a run of some people touches: their Contacts, and the business Accounts
    their orders pool into; ``None`` for a run of everyone."""
    if resolved.people is None:
        return None
    contacts = sorted(rid for obj, rid in resolved.people if obj == "Contact")
    accounts = resolved.orders.loc[resolved.orders["contact_id"].isin(contacts), "AccountId"]
    pooled = {rid for obj, rid in resolved.people if obj == "Account"}
    # tolist(): a pandas string column iterated value by value costs ~3x its list
    return [f"Contact:{c}" for c in contacts] + [
        f"Account:{a}" for a in sorted({*accounts.dropna().astype(str).tolist(), *pooled})
    ]


def loyalty_values(
    config: LoyaltyConfig,
    resolved: Resolved,
    inputs: LoyaltyInputs,
    *,
    reference_field: str = "OrderReferenceNumber",
    segments: pd.Series | None = None,
    mapped_programs: Collection[str] = (),
) -> tuple[pd.DataFrame, Effects, dict[str, Any]]:
    """Each program's new journal entries, vouchers and tier moments (planned, as
    :class:`~connector.sync.effects.Effects`), and the standing the journal has with them: the
    first program's as ``loyalty.*`` values indexed by (object, record_id), and a record of what
    was planned for the run report (pure).

    ``segments`` (member -> segment name, :func:`member_segments`) feeds promotions limited to
    segments. The standing of each program in ``mapped_programs`` (named by a mapping's
    ``program``) comes too, as ``loyalty.<key>@<program>`` columns.
    """
    effects = Effects()
    if not config.programs:
        return empty_frame("loyalty"), effects, {"programs": 0}
    now = resolved.now
    contacts = resolved.contacts
    record: dict[str, Any] = {"programs": len(config.programs)}
    values = empty_frame("loyalty")
    # A run of some people reads the orders their records name (an Account's orders are all
    # its contacts'), but the journal of its own members only: it books and gives for them
    # alone. Booking for a member whose journal it did not read expired a medium-seed
    # member's points a second time (an expiry keyed by another lot once an order moved).
    run_members = _run_members(resolved)
    mine = set(run_members) if run_members is not None else None
    for i, program in enumerate(config.programs):
        journal = inputs.journals[program.id]
        booked_orders = members_only(
            member_orders(resolved.orders, resolved.accounts, program), mine
        )
        enrolled_members = enrolled(program, booked_orders, contacts)
        events = _events_for(resolved, program)
        if events is not None:
            events = members_only(events, mine)
        # Shop orders at their gross, their refunds and cancellations as reductions.
        members, reductions = shop_reductions(
            members_only(booked_orders, enrolled_members), inputs.shop_refunds, now
        )
        # A shop order booked before Salesforce held it keeps its first id: the Salesforce
        # Order that replaced it (same reference) must not earn a second time.
        alias = same_orders(
            _references(resolved.orders, reference_field),
            inputs.shop_keys,
            set(journal["source_id"].dropna().tolist()) if len(journal) else set(),
        )
        if alias:
            members = members.assign(
                order_id=members["order_id"].replace(alias),
                original_order_id=members["original_order_id"].replace(alias),
            )
        tiers = _current_tiers(inputs, program)
        new = book(
            program,
            members,
            journal,
            now,
            lines=inputs.lines,
            events=members_only(events, enrolled_members) if events is not None else None,
            tiers=tiers,
            reductions=reductions,
            segments=segments,
        )
        gifts = promotion_vouchers(
            _purchases(members_only(booked_orders, enrolled_members), now),
            program,
            tiers,
            segments,
        )
        # held until the Effects step, after the push: compact (the same entries) at once,
        # not after the rest of the compute, which it was held across
        effects.journal[program.id] = compact_journal(new)
        effects.vouchers.extend(_voucher_rows(program, gifts, now))
        journal = concat(journal, new)
        # Discounts from spend count the same purchases and refunds the journal just booked.
        spend = spend_entries(members, now, reductions) if program.spend_discounts else None
        standings = standing(journal, program, now, spend=spend)
        if enrolled_members is not None:
            # a member who left (a cleared checkbox) keeps their journal but gets no standing
            standings = standings[standings.index.isin(list(enrolled_members))]
        if resolved.people is not None:
            standings = standings[standings.index.isin(run_members or [])]
        moments = _tier_moments(inputs, program, standings, effects)
        record[program.id] = {"booked": len(new), "members": len(standings), **moments}
        if i == 0 or program.id in mapped_programs:
            frame = _as_values(standings, contacts, program, resolved)
            if i == 0:
                values = frame
            if program.id in mapped_programs:
                own = frame.rename(columns={c: program_key(str(c), program.id) for c in frame})
                values = values.join(own, how="outer") if len(values.columns) else own
    return values, effects, record


def _references(orders: pd.DataFrame, reference_field: str) -> pd.DataFrame:
    """The resolved orders' Salesforce Ids with their reference field (``Id, reference``)."""
    if not len(orders) or reference_field not in orders:
        return pd.DataFrame(columns=["Id", "reference"])
    return orders[["Id", reference_field]].rename(columns={reference_field: "reference"})


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
    return replace(stream, fields=(*stream.fields, *extra), optional=(*stream.optional, *extra))


def _purchases(orders: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Purchase orders (not refunds) dated at or before ``now``: what promotions reward."""
    keep = orders["original_order_id"].isna() & (orders["at"] <= pd.Timestamp(now))
    return orders[keep]


def _voucher_rows(program: Program, gifts: pd.DataFrame, now: datetime) -> list[dict[str, Any]]:
    """The vouchers promotions give, each with a new code and cost 0; the Effects step stores
    those whose source key is new (each once)."""
    kinds = {v.id: v for v in program.vouchers}
    return [
        voucher_row(
            program, str(g.member), kinds[str(g.voucher_id)], now, source_key=str(g.source_key)
        )
        for g in gifts.itertuples(index=False)
    ]


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


def _as_values(
    members: pd.DataFrame, contacts: pd.DataFrame, program: Program, resolved: Resolved
) -> pd.DataFrame:
    if program.enrollment == "everyone" and len(contacts):
        ids = contacts["Id"].astype(str)
        if resolved.people is not None:
            ids = ids[ids.isin([rid for obj, rid in resolved.people if obj == "Contact"])]
        everyone = pd.Index("Contact:" + ids, name="member")
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


def _lines_for(
    store: Store, config: LoyaltyConfig, orders: pd.DataFrame | None
) -> pd.DataFrame | None:
    """The order lines product rules read: of ``orders`` (a run of some people), else all."""
    if not any(r.kind == "product" for p in config.programs for r in p.earning):
        return None
    columns = ["OrderId", "Product2Id", "TotalPrice"]
    if orders is None:
        items = store.records.frame("OrderItem", columns)
    else:  # looked up by their orders (an indexed column), not the org's lines
        ids = sorted(orders["Id"].dropna().astype(str))
        items = store.records.frame("OrderItem", columns, any_of={"OrderId": ids})
    categories = any(p.uses_categories for p in config.programs)
    products = store.records.frame("Product2", ["Id", "Family"]) if categories else None
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


def _events_for(resolved: Resolved, program: Program) -> pd.DataFrame | None:
    names = sorted({r.event for r in program.earning if r.kind == "event" and r.event})
    if not names:
        return None
    events = resolved.events
    return member_events(events[events["name"].isin(names)])


def event_names(config: LoyaltyConfig | None) -> list[str]:
    """The event names the programs' earning rules read."""
    if config is None:
        return []
    return sorted(
        {r.event for p in config.programs for r in p.earning if r.kind == "event" and r.event}
    )


def _current_tiers(inputs: LoyaltyInputs, program: Program) -> pd.Series | None:
    if not program.promotions or program.tiers is None:
        return None
    return pd.Series(inputs.tiers[program.id], dtype=object)


def _tier_moments(
    inputs: LoyaltyInputs, program: Program, members: pd.DataFrame, effects: Effects
) -> dict[str, Any]:
    """Plan telling the configured Flow of every tier change, once; a member seen for the
    first time is recorded silently (a first sync announces nothing), and so is every change
    of a program without a Flow."""
    if program.tiers is None or members.empty:
        return {}
    current = members["loyalty.tier"].dropna().astype(str).to_dict()
    known = inputs.tiers[program.id]
    first = {m: t for m, t in current.items() if m not in known}
    changed = {m: t for m, t in current.items() if m in known and known[m] != t}
    flow = program.tiers.flow
    if first:
        effects.tiers_seen.append((program.id, first))
    if changed and flow is None:
        effects.tiers_seen.append((program.id, changed))
    elif changed and flow is not None:
        effects.calls.extend(
            MomentCall(
                moment=tier_moment(program.id),
                flow=flow,
                inputs=_flow_input(m, known[m], t, program),
                kind="tier",
                scope=(program.id, ""),
                key=m,
                value=t,
            )
            for m, t in sorted(changed.items())
        )
    return {"tier_changes": len(changed)}


def tier_moment(program: str) -> str:
    """The name the Effects step counts a program's tier-change Flow calls under."""
    return f"tier change ({program})"


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

"""Earning and reversing: orders, order lines and events -> journal entries, vectorised.

Pure functions: frames in, entry frames out, no I/O. The rules:

1. Each (order, rule, currency) earns once: the entry's key is ``<program>:accrual:<order>:
   <rule>:<currency>``, and entries whose key the journal already has are not made again (the
   database's unique key enforces it a second time).
2. ``spend`` earns ``amount x points_per_unit``; ``product`` earns the spend rate x
   ``(multiplier - 1)`` more on matching order lines; ``threshold`` earns ``points`` once when
   the order's amount reaches ``min_amount``; ``event`` earns ``points`` per stored event.
   A promotion's multiplier scales spend and product points of orders dated within it; its
   bonus is an entry of its own. Each entry is rounded on its own (``Program.rounding``).
3. A rule's ``cap`` limits what one member earns from it per calendar period (program time
   zone), counting what the journal already holds for that period.
4. ``qualifying`` rules post the same points again in the qualifying (tier) currency; cashback
   programs post ``cashback_percent`` of the amount, in cents, as cashback.
5. A refund (a reduction Order naming its OriginalOrderId, or a negative webhook refund)
   reverses each entry its order earned in proportion to the refunded share of the order, from
   the entry's own points (the rule as it was when earned), with the cumulative reversal capped
   at the original entry: ``reversed_total = round(earned x min(1, refunded / amount))``. Points
   of a lot that has already expired are not reversed (they are gone already): a lot expired
   at the refund's date, or whose expiry the journal has booked (a refund synced late, or
   dated back), reverses at most what it still holds.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from connector.loyalty.config import Program, Promotion
from connector.loyalty.ledger import JOURNAL_COLUMNS, lot_state, round_points, text_equals

#: Columns the earning step reads from orders (already resolved to members, in corporate
#: currency): order_id, member, at (aware UTC), amount, original_order_id (refunds only).
ORDER_FIELDS = ("order_id", "member", "at", "amount", "original_order_id")


def local_period(at: pd.Series, program: Program, period: str) -> pd.Series:
    """The calendar period (day/week/month/year) of each moment in the program's zone."""
    local = at.dt.tz_convert(program.zone)
    if period == "day":
        return local.dt.strftime("%Y-%m-%d")
    if period == "week":
        iso = local.dt.isocalendar()
        return iso["year"].astype(str) + "-W" + iso["week"].astype(str).str.zfill(2)
    if period == "month":
        return local.dt.strftime("%Y-%m")
    return local.dt.strftime("%Y")


def expiry_moments(at: pd.Series, program: Program) -> pd.Series:
    """When points earned at ``at`` expire: the end of the local day ``months`` later.

    End of day means the first instant of the next local day, converted back to UTC, so an
    expiry is never a day early for a member east or west of UTC.
    """
    if program.expiry.mode != "lot":
        return pd.Series(pd.NaT, index=at.index, dtype="datetime64[ns, UTC]")
    local_day = at.dt.tz_convert(program.zone).dt.tz_localize(None).dt.normalize()
    later = local_day + pd.DateOffset(months=program.expiry.months) + pd.Timedelta(days=1)
    # A local midnight that happens twice (a clock turned back at 00:00) takes the later one;
    # one that does not exist (turned forward) takes the first instant after the gap.
    later_local = later.dt.tz_localize(
        program.zone, ambiguous=np.zeros(len(later), dtype=bool), nonexistent="shift_forward"
    )
    return later_local.dt.tz_convert("UTC")


def _no_time(index: pd.Index, dtype: object = "datetime64[ns, UTC]") -> pd.Series:
    """An aware UTC time column of NaT (no expiry, no pending days)."""
    return pd.Series(pd.NaT, index=index, dtype=dtype)


def _frame(
    program: Program,
    base: pd.DataFrame,
    *,
    rule_id: str,
    rule_json: str,
    points: np.ndarray,
    currency: str,
    source_type: str,
    partner: str | None = None,
) -> pd.DataFrame:
    # Entries of 0 points are dropped (accruals keeps none): dropping them here, before the
    # 17 columns are built and concatenated, saves most of a rule that few orders meet.
    keep = np.asarray(points) != 0
    if not keep.all():
        base, points = base[keep], np.asarray(points)[keep]
    # the constant parts joined first: two column concatenations, not five
    keys = f"{program.id}:accrual:" + base["source_key"].astype(str) + f":{rule_id}:{currency}"
    lot_like = currency == "points"
    at = base["at"]
    return pd.DataFrame(
        {
            "key": keys,
            "program": program.id,
            "member": base["member"].astype(str),
            "kind": "accrual",
            "currency": currency,
            "points": points.astype(np.int64),
            "at": at,
            "lot": keys if lot_like else None,
            "expires_at": expiry_moments(at, program) if lot_like else _no_time(base.index),
            "available_at": at + timedelta(days=program.pending_days)
            if lot_like
            else _no_time(base.index),
            "source_type": source_type,
            "source_id": base["source_id"].astype(str),
            "rule_id": rule_id,
            "rule": rule_json,
            "partner": partner,
            "brand": None,
            "reason": None,
            "token": None,
        },
        index=base.index,
    )[list(JOURNAL_COLUMNS)]


def _promotion_multiplier(
    orders: pd.DataFrame,
    program: Program,
    tiers: pd.Series | None,
    segments: pd.Series | None = None,
) -> tuple[np.ndarray, list[tuple[str, str, np.ndarray]]]:
    """Per order: the product of the running promotions' multipliers, and the bonus entries
    (promotion id, its JSON, points per order) of fixed-bonus promotions. Promotions for
    partners only apply to partner accruals, not to orders; a promotion for segments applies
    to members whose segment (``segments``: member -> segment name) is one of them."""
    mult = np.ones(len(orders))
    bonuses: list[tuple[str, str, np.ndarray]] = []
    if not program.promotions:
        return mult, bonuses
    day = orders["at"].dt.tz_convert(program.zone).dt.date
    member_tier = (
        orders["member"].map(tiers) if tiers is not None else pd.Series(None, index=orders.index)
    )
    member_segment = (
        orders["member"].map(segments)
        if segments is not None
        else pd.Series(None, index=orders.index, dtype=object)
    )
    for promo in program.promotions:
        if promo.partners:
            continue
        active = _qualifies(promo, day, member_tier, member_segment)
        if promo.multiplier is None and promo.bonus_points is None:
            continue  # a voucher-only promotion (promotion_vouchers)
        if promo.multiplier is not None:
            mult = np.where(active, mult * promo.multiplier, mult)
        else:
            bonus = np.where(active, promo.bonus_points or 0, 0)
            bonuses.append((promo.id, promo.model_dump_json(), bonus))
    return mult, bonuses


def _qualifies(
    promo: Promotion, day: pd.Series, member_tier: pd.Series, member_segment: pd.Series
) -> np.ndarray:
    """Which orders a promotion applies to: dated within it, of its tiers and segments."""
    # a copy: the &= below writes into it, and pandas' array may be read-only
    active = ((day >= promo.start) & (day <= promo.end)).to_numpy(copy=True)
    if promo.tiers:
        active &= member_tier.isin(promo.tiers).to_numpy()
    if promo.segments:
        active &= member_segment.isin(promo.segment_names()).to_numpy()
    return np.asarray(active, dtype=bool)


def promotion_vouchers(
    orders: pd.DataFrame,
    program: Program,
    tiers: pd.Series | None = None,
    segments: pd.Series | None = None,
) -> pd.DataFrame:
    """The vouchers promotions give: one row per (promotion with a ``voucher``, qualifying
    purchase order): source_key ``<program>:promotion:<promotion>:<order>`` (what makes the
    gift once only), promotion, voucher_id, order_id, member."""
    columns = ["source_key", "promotion", "voucher_id", "order_id", "member"]
    giving = [p for p in program.promotions if p.voucher is not None and not p.partners]
    if not giving or not len(orders):
        return pd.DataFrame(columns=columns)
    day = orders["at"].dt.tz_convert(program.zone).dt.date
    none = pd.Series(None, index=orders.index, dtype=object)
    member_tier = orders["member"].map(tiers) if tiers is not None else none
    member_segment = orders["member"].map(segments) if segments is not None else none
    parts = []
    for promo in giving:
        hit = orders[_qualifies(promo, day, member_tier, member_segment)]
        parts.append(
            pd.DataFrame(
                {
                    "source_key": f"{program.id}:promotion:{promo.id}:" + hit["order_id"],
                    "promotion": promo.id,
                    "voucher_id": promo.voucher,
                    "order_id": hit["order_id"],
                    "member": hit["member"],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[columns]


def _apply_caps(entries: pd.DataFrame, program: Program, journal: pd.DataFrame) -> pd.DataFrame:
    """Clip each capped rule's points per member and period (rule 3), counting the journal."""
    for rule in program.earning:
        if rule.cap is None:
            continue
        mask = (entries["rule_id"] == rule.id) & (entries["currency"] == "points")
        if not mask.any():
            continue
        part = entries[mask].sort_values("at", kind="stable")
        period = local_period(part["at"], program, rule.cap.period)
        earlier = journal[(journal["rule_id"] == rule.id) & (journal["currency"] == "points")]
        if len(earlier):
            before = (
                earlier.assign(period=local_period(earlier["at"], program, rule.cap.period))
                .groupby(["member", "period"])["points"]
                .sum()
            )
            start = pd.Series(
                before.reindex(pd.MultiIndex.from_arrays([part["member"], period])).to_numpy(),
                index=part.index,
            ).fillna(0)
        else:
            start = pd.Series(0.0, index=part.index)
        running = part.groupby([part["member"], period])["points"].cumsum() + start
        allowed = np.clip(rule.cap.points - (running - part["points"]), 0, part["points"])
        entries.loc[part.index, "points"] = allowed.astype(np.int64)
    return entries


def accruals(
    program: Program,
    orders: pd.DataFrame,
    lines: pd.DataFrame | None,
    events: pd.DataFrame | None,
    journal: pd.DataFrame,
    tiers: pd.Series | None = None,
    segments: pd.Series | None = None,
) -> pd.DataFrame:
    """New accrual entries for purchase orders, their lines and events (rules 1-4).

    ``orders``: :data:`ORDER_FIELDS` (purchases only; refunds go to :func:`reversals`).
    ``lines``: order_id, product_id, amount (and category: the product's Family, for rules
    naming categories). ``events``: event_id, member, name, at.
    ``tiers``: member -> current tier name, for promotions limited to tiers.
    ``segments``: member -> segment name (predictions), for promotions limited to segments.
    """
    parts: list[pd.DataFrame] = []
    rounding = program.rounding
    base = orders.assign(source_key=orders["order_id"], source_id=orders["order_id"])
    amount = base["amount"].to_numpy(dtype=float)
    mult, bonuses = _promotion_multiplier(base, program, tiers, segments)
    spend_rate = next((r.points_per_unit for r in program.earning if r.kind == "spend"), None)
    for rule in program.earning:
        if rule.kind == "spend":
            pts = round_points(amount * (rule.points_per_unit or 0) * mult, rounding)
            parts.append(_rule_frames(program, base, rule.id, rule, pts, "order"))
        elif rule.kind == "threshold":
            pts = np.where(amount >= (rule.min_amount or 0), rule.points or 0, 0)
            parts.append(_rule_frames(program, base, rule.id, rule, pts, "order"))
        elif rule.kind == "product" and lines is not None and len(lines) and spend_rate:
            chosen = lines["product_id"].isin(rule.products)
            if rule.categories and "category" in lines:
                chosen |= lines["category"].isin(rule.categories)
            hit = lines[chosen]
            extra = hit.groupby("order_id")["amount"].sum()
            line_amount = base["order_id"].map(extra).fillna(0.0).to_numpy()
            rate = spend_rate * ((rule.multiplier or 1.0) - 1.0)
            pts = round_points(line_amount * rate * mult, rounding)
            parts.append(_rule_frames(program, base, rule.id, rule, pts, "order_item"))
    for promo_id, promo_json, bonus in bonuses:
        frames = [
            _frame(
                program,
                base,
                rule_id=promo_id,
                rule_json=promo_json,
                points=bonus,
                currency="points",
                source_type="promotion",
            )
        ]
        parts.extend(frames)
    if program.type == "cashback":
        cents = round_points(amount * program.cashback_percent, rounding)
        parts.append(
            _frame(
                program,
                base,
                rule_id="cashback",
                rule_json=f'{{"percent": {program.cashback_percent}}}',
                points=cents,
                currency="cashback",
                source_type="order",
            )
        )
    if events is not None and len(events):
        for rule in program.earning:
            if rule.kind != "event":
                continue
            hit = events[events["name"] == rule.event]
            if hit.empty:
                continue
            ev = hit.assign(
                source_key="event:" + hit["event_id"].astype(str), source_id=hit["event_id"]
            )
            pts = np.full(len(ev), rule.points or 0)
            parts.append(_rule_frames(program, ev, rule.id, rule, pts, "event"))
    if not parts:
        return pd.DataFrame(columns=list(JOURNAL_COLUMNS))
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    out = _nonzero(out)
    if len(journal):
        out = out[~out["key"].isin(journal["key"])]
    out = _apply_caps(out.reset_index(drop=True), program, journal)
    # Qualifying copies follow the capped points, so a cap limits tiers too.
    qualifying_rules = {r.id for r in program.earning if r.qualifying} | {
        p.id for p in program.promotions
    }
    # (boolean indexing makes a new frame: no .copy() of the 17 columns before writing to it)
    q = out[text_equals(out["currency"], "points") & out["rule_id"].isin(qualifying_rules)]
    # every key here ends with ":points" (the currency): swap the suffix, per string in
    # Python (pandas' str.slice and + on this text type each walk the column again)
    q["key"] = pd.array(
        [
            k[: -len("points")] + "qualifying" if isinstance(k, str) else k
            for k in q["key"].to_numpy(dtype=object)  # iterating the Series boxes each value
        ],
        dtype=q["key"].dtype,
    )
    q["currency"] = "qualifying"
    q["lot"] = None
    # Typed NaT (aware, like the lots' columns): a plain pd.NaT makes a naive column, and the
    # concat below would turn both time columns into objects that as_journal parses again.
    q["expires_at"] = _no_time(q.index, q["at"].dtype)
    q["available_at"] = _no_time(q.index, q["at"].dtype)
    out = pd.concat([out, q], ignore_index=True)
    return _nonzero(out).reset_index(drop=True)


def _nonzero(entries: pd.DataFrame) -> pd.DataFrame:
    """The entries with points: a frame with no 0-point entry is returned as it is (filtering
    with an all-true mask copied every column of millions of rows)."""
    keep = (entries["points"] != 0).to_numpy()
    return entries if keep.all() else entries[keep]


def _rule_frames(
    program: Program,
    base: pd.DataFrame,
    rule_id: str,
    rule: object,
    points: np.ndarray,
    source_type: str,
) -> pd.DataFrame:
    rule_json = rule.model_dump_json() if hasattr(rule, "model_dump_json") else "{}"
    partner = getattr(rule, "partner", None)
    return _frame(
        program,
        base,
        rule_id=rule_id,
        rule_json=rule_json,
        points=np.asarray(points),
        currency="points",
        source_type=source_type,
        partner=partner,
    )


def reversals(
    program: Program, refunds: pd.DataFrame, originals: pd.DataFrame, journal: pd.DataFrame
) -> pd.DataFrame:
    """New reversal entries for refunds (rule 5).

    ``refunds``: refund_id, original_order_id, at, amount (the refunded amount, positive).
    ``originals``: order_id, amount (the original order's amount).
    Reversals already journaled (by key) are not made again; the proportion counts every
    refund of the same order up to and including this one, in date order.
    """
    if refunds.empty or journal.empty:
        return pd.DataFrame(columns=list(JOURNAL_COLUMNS))
    # Only the entries of refunded orders, and only the columns the merge takes: the merge
    # factorised every accrual's source id (millions) to pair them with a few refunds.
    earned = journal.loc[
        (
            text_equals(journal["kind"], "accrual")
            & journal["source_type"].isin(["order", "order_item", "promotion"])
            & journal["source_id"].isin(refunds["original_order_id"])
        ).to_numpy(),
        ["key", "member", "source_id", "rule_id", "currency", "points", "expires_at"],
    ]
    if earned.empty:
        return pd.DataFrame(columns=list(JOURNAL_COLUMNS))
    refunds = refunds.sort_values(["at", "refund_id"], kind="stable")
    total = originals.set_index("order_id")["amount"]
    cum = refunds.groupby("original_order_id")["amount"].cumsum()
    share = (cum / refunds["original_order_id"].map(total)).clip(upper=1.0).fillna(0.0)
    refunds = refunds.assign(share=share)
    pairs = refunds.merge(
        earned,
        left_on="original_order_id",
        right_on="source_id",
    )
    if pairs.empty:
        return pd.DataFrame(columns=list(JOURNAL_COLUMNS))
    target = round_points(pairs["points"].to_numpy() * pairs["share"].to_numpy(), program.rounding)
    # What earlier refunds of the same order reversed of this entry (journal, then this batch).
    reversed_ = journal.loc[text_equals(journal["kind"], "reversal"), ["lot", "points"]]
    done = reversed_.groupby("lot")["points"].sum()
    pairs = pairs.assign(target=target)
    pairs = pairs.sort_values(["key", "at", "refund_id"], kind="stable")
    prev_target = pairs.groupby("key")["target"].shift(1)
    first_in_batch = prev_target.isna()
    before = np.where(first_in_batch, -pairs["key"].map(done).fillna(0), prev_target)
    delta = pairs["target"].to_numpy() - before.astype(float)
    expired = pairs["expires_at"].notna() & (pairs["expires_at"] <= pairs["at"])
    delta = np.where(expired.to_numpy(), 0, np.maximum(delta, 0)).astype(np.int64)
    delta = _held_by_expired_lots(pairs, delta, journal)
    keys = (
        program.id
        + ":reversal:"
        + pairs["refund_id"].astype(str)
        + ":"
        + pairs["rule_id"]
        + ":"
        + pairs["currency"]
    )
    out = pd.DataFrame(
        {
            "key": keys,
            "program": program.id,
            "member": pairs["member"],
            "kind": "reversal",
            "currency": pairs["currency"],
            "points": -delta,
            "at": pairs["at"],
            "lot": pairs["key"],
            "expires_at": _no_time(pairs.index, pairs["at"].dtype),
            "available_at": _no_time(pairs.index, pairs["at"].dtype),
            "source_type": "order",
            "source_id": pairs["refund_id"].astype(str),
            "rule_id": pairs["rule_id"],
            "rule": None,
            "partner": None,
            "brand": None,
            "reason": "refund of " + pairs["original_order_id"].astype(str),
            "token": None,
        }
    )[list(JOURNAL_COLUMNS)]
    out = out[out["points"] != 0]
    return out[~out["key"].isin(known_keys(journal["key"], out["key"]))].reset_index(drop=True)


def _held_by_expired_lots(
    pairs: pd.DataFrame, delta: np.ndarray, journal: pd.DataFrame
) -> np.ndarray:
    """``delta`` with the reversal of each lot whose expiry the journal already booked capped
    at what the lot still holds (0 once expired; several refunds of it share that, in
    ``pairs``' order).

    A refund dated before its lot expired but booked after the expiry (synced late, or its
    Order's date moved back) found the points gone: reversing them again took a medium-seed
    member's other points, or left a balance below zero.
    """
    expiries = journal.loc[text_equals(journal["kind"], "expiry"), ["member", "at"]]
    if expiries.empty:
        return delta
    last = expiries.groupby("member")["at"].max()
    covered = (pairs["expires_at"] <= pairs["member"].map(last)).fillna(False).to_numpy(bool)
    if not covered.any():
        return delta
    members = pairs.loc[covered, "member"].unique()
    lots = lot_state(journal[journal["member"].isin(members).to_numpy()]).lots
    room = pairs["key"].map(lots.set_index("lot")["remaining"]).fillna(0).to_numpy(np.int64)
    keys = pairs["key"].to_numpy()
    taken_before = pd.Series(delta).groupby(keys).cumsum().to_numpy() - delta
    held = np.clip(room - taken_before, 0, delta)
    return np.where(covered, held, delta).astype(np.int64)


def known_keys(stored: pd.Series, new: pd.Series) -> pd.Series:
    """The keys of ``stored`` that are also in ``new`` (so ``new.isin(known_keys(stored,
    new))`` is ``new.isin(stored)``).

    ``new`` is usually a few thousand keys and ``stored`` millions: hashing the few and
    looking the millions up in that small table is much cheaper than hashing the millions.
    """
    return stored[stored.isin(new).to_numpy()]


def partner_bonuses(
    program: Program, partner: str, points: int, at: datetime, tier: str | None
) -> list[tuple[str, int]]:
    """Extra points that running partner promotions add to a partner accrual of ``points``:
    (promotion id, points) per promotion for ``partner`` whose dates hold ``at`` (program
    zone) and whose tiers, if any, include ``tier``. A multiplier adds ``points x (m - 1)``
    (rounded by the program's rule), a bonus adds its points. The partner's own points stay
    the partner's (its settlement counts them); these are the program's."""
    day = at.astimezone(program.zone).date()
    out: list[tuple[str, int]] = []
    for promo in program.promotions:
        if partner not in promo.partners or not promo.start <= day <= promo.end:
            continue
        if promo.tiers and tier not in promo.tiers:
            continue
        if promo.multiplier is not None:
            extra = int(
                round_points(np.array([points * (promo.multiplier - 1)]), program.rounding)[0]
            )
        else:
            extra = promo.bonus_points or 0
        if extra > 0:
            out.append((promo.id, extra))
    return out

"""Loyalty: each program's liability, members per tier, points issued, redeemed and expired,
top rules and partners; a member's page (balance, lots, vouchers, journal) found by email or
Salesforce id; an adjustment form.

An adjustment is scoped to one member of one program, needs a reason, and is journaled like
``lead2loyalty loyalty adjust``: its request key names the admin who made it
(``admin-<name>-<random>``), and the same form sent twice adjusts once (the key travels in the
form).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from connector.errors import Lead2LoyaltyError
from connector.loyalty.wiring import load_config, open_service
from connector.web import intake
from connector.web.admin.blueprint import bp


def _reports() -> tuple[list[dict[str, Any]], str | None]:
    """Each program's report, read from the totals the store keeps as entries are booked
    (adding up the journal per request took 47 s on the medium seed; now a few rows), with
    its liability over time as an SVG polyline."""
    try:
        programs = load_config(intake.settings()).programs
    except Lead2LoyaltyError as exc:
        return [], str(exc)
    admin = intake.store().admin
    return [
        {**admin.loyalty_report(p.id), "liability": liability_chart(admin.liability_by_day(p.id))}
        for p in programs
    ], None


#: The liability chart's size (SVG user units) and how many points it draws at most.
WIDTH, HEIGHT, POINTS = 600, 160, 200


def liability_chart(days: list[tuple[str, int]]) -> dict[str, Any]:
    """The liability over time as an SVG polyline: at most :data:`POINTS` days (evenly
    picked, the last always kept), the first and last day and the highest value for labels."""
    if not days:
        return {"points": "", "first": "", "last": "", "high": 0, "now": 0}
    step = -(-len(days) // POINTS)  # rounded up: never more than POINTS picked
    picked = days[::step]
    if picked[-1] != days[-1]:
        picked.append(days[-1])
    high = max(max(n for _, n in picked), 1)
    low = min(min(n for _, n in picked), 0)
    span = high - low or 1
    last = max(len(picked) - 1, 1)
    coords = " ".join(
        f"{WIDTH * i / last:.1f},{HEIGHT - HEIGHT * (n - low) / span:.1f}"
        for i, (_, n) in enumerate(picked)
    )
    return {
        "points": coords,
        "first": days[0][0],
        "last": days[-1][0],
        "high": high,
        "now": days[-1][1],
    }


@bp.get("/loyalty")
def loyalty() -> ResponseReturnValue:
    """Every program's report, and the member search."""
    reports, problem = _reports()
    return render_template("admin/loyalty.html", reports=reports, problem=problem)


@bp.get("/loyalty/member")
def member() -> ResponseReturnValue:
    """One member by email, Contact/Account id or member key (``?who=``)."""
    who = request.args.get("who", "").strip()
    program = request.args.get("program") or None
    if not who:
        return redirect(url_for("admin.loyalty"))
    try:
        with open_service(intake.settings()) as service:
            view = service.member(service.member_key(who), program)
    except Lead2LoyaltyError as exc:
        flash(f"{who}: {exc}", "error")
        return redirect(url_for("admin.loyalty"))
    key = f"admin-{session.get('admin', '')}-{secrets.token_hex(8)}"
    return render_template(
        "admin/member.html",
        view=view,
        who=who,
        key=key,
        expiring=expiring(view["lots"], datetime.now(UTC)),
        vouchers=[shown_voucher(v) for v in view["vouchers"]],
    )


#: The horizons (days) of "points expiring" on a member's page.
HORIZONS = (30, 60, 90)


def expiring(lots: list[dict[str, Any]], now: datetime) -> list[tuple[int, int]]:
    """(days, points) for each of :data:`HORIZONS`: the points left in lots that expire
    within that many days of ``now`` (a lot already past its expiry and not yet expired by
    the clock counts too: it goes at the next expiry run)."""
    out = []
    for days in HORIZONS:
        until = now + timedelta(days=days)
        out.append(
            (
                days,
                sum(
                    int(lot["remaining"])
                    for lot in lots
                    if lot.get("expires_at")
                    and datetime.fromisoformat(str(lot["expires_at"])) <= until
                ),
            )
        )
    return out


def shown_voucher(row: dict[str, Any]) -> dict[str, Any]:
    """A voucher as the page shows it: its code cut to the last 4 characters (enough to
    match what a customer reads out; the whole code spends the voucher, so it is not shown)."""
    code = str(row.get("code") or "")
    return {**row, "code": f"...{code[-4:]}" if len(code) > 4 else "(short code withheld)"}


@bp.post("/loyalty/member/adjust")
def adjust() -> ResponseReturnValue:
    """A journaled adjustment of one member's points, with a reason."""
    who = request.form.get("who", "").strip()
    program = request.form.get("program") or None
    reason = request.form.get("reason", "").strip()
    key = request.form.get("key", "")
    back = redirect(url_for("admin.member", who=who, program=program))
    try:
        points = int(request.form.get("points", ""))
    except ValueError:
        flash("Points: a whole number, negative to take points away.", "error")
        return back
    if not reason:
        flash("A reason is required: it is journaled with the adjustment.", "error")
        return back
    if not key.startswith(f"admin-{session.get('admin', '')}-"):
        key = f"admin-{session.get('admin', '')}-{secrets.token_hex(8)}"
    try:
        with open_service(intake.settings()) as service:
            out = service.adjust(service.member_key(who), points, reason, key, program)
    except Lead2LoyaltyError as exc:
        flash(f"Not adjusted: {exc}", "error")
        return back
    if out["repeated"]:
        flash("This adjustment was already made (the same form sent twice): nothing more.", "ok")
    else:
        flash(f"Adjusted {points:+,} points; balance now {out['balance']:,}.", "ok")
    return back

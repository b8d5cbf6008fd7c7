"""Loyalty: each program's liability, members per tier, points issued, redeemed and expired,
top rules and partners, the points expiring per month ahead (also as CSV); a member's page
(balance, lots, vouchers, journal) found by email or Salesforce id; an adjustment form.

An adjustment is scoped to one member of one program, needs a reason, and is journaled like
``lead2loyalty loyalty adjust``: its request key names the admin who made it
(``admin-<name>-<random>``), and the same form sent twice adjusts once (the key travels in the
form).
"""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from flask import Response, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from connector.errors import Lead2LoyaltyError
from connector.loyalty.config import Program
from connector.loyalty.ledger import lot_state
from connector.loyalty.wiring import load_config, open_service
from connector.web import intake
from connector.web.admin.blueprint import bp
from connector.web.admin.cache import kept


def _reports() -> tuple[list[dict[str, Any]], str | None]:
    """Each program's report, read from the totals the store keeps of the journal (adding up
    the journal per request took 47 s on the medium seed; now a few rows), with its liability
    over time as an SVG polyline and its points expiring per month ahead."""
    try:
        programs = load_config(intake.settings()).programs
    except Lead2LoyaltyError as exc:
        return [], str(exc)
    admin = intake.store().admin
    return [
        {
            **admin.loyalty_report(p.id),
            "liability": liability_chart(admin.liability_by_day(p.id)),
            "expiring": program_expiring(p),
        }
        for p in programs
    ], None


#: How many months ahead "points expiring" counts (the current month first).
MONTHS_AHEAD = 12


def program_expiring(program: Program) -> list[dict[str, Any]]:
    """The program's points expiring per month ahead (:func:`expiring_by_month`'s rows), summed
    from the per-(member, month) rows the store keeps (``loyalty_expiring``): the admin
    catch-up first recomputes the lots of only the members booked since its position
    (:func:`held_by_month`). Computing every lot of the program per change took 5.5 s CPU on
    the medium seed; the sum reads one row per member and month. Kept until an entry is booked
    (:mod:`.cache`)."""

    def compute() -> list[dict[str, Any]]:
        admin = intake.store().admin
        zone = ZoneInfo(program.timezone)
        admin.catch_up_expiring(
            program.id, program.timezone, lambda entries: held_by_month(entries, zone)
        )
        labels = month_labels(intake.now(), zone)
        counted = admin.expiring_by_month(program.id, labels[0], labels[-1])
        return [
            {"month": m, "points": counted.get(m, (0, 0))[0], "members": counted.get(m, (0, 0))[1]}
            for m in [*labels, "later"]
        ]

    month = intake.now().astimezone(ZoneInfo(program.timezone)).strftime("%Y-%m")
    return kept(f"expiring:{program.id}", compute, program.id, program.timezone, month)


def month_labels(now: datetime, zone: ZoneInfo, months: int = MONTHS_AHEAD) -> list[str]:
    """``YYYY-MM`` of ``now``'s month in ``zone`` and the ``months - 1`` after it."""
    start = now.astimezone(zone)
    return [
        f"{start.year + (start.month - 1 + i) // 12:04d}-{(start.month - 1 + i) % 12 + 1:02d}"
        for i in range(months)
    ]


def held_by_month(entries: pd.DataFrame, zone: ZoneInfo) -> pd.DataFrame:
    """What the lots of ``entries`` (members' whole points entries, as
    ``AdminRepository.points_lot_entries`` reads them) still hold, per member and month of
    expiry in ``zone`` (a lot expires at the end of a day there): ``member``, ``month``
    (``YYYY-MM``), ``points``. A lot that never expires, or holds nothing, is left out."""
    lots = lot_state(entries).lots if len(entries) else pd.DataFrame()
    if not len(lots):
        return pd.DataFrame({"member": [], "month": [], "points": []})
    held = lots[(lots["remaining"] > 0) & lots["expires_at"].notna()]
    frame = pd.DataFrame(
        {
            "member": held["member"].to_numpy(),
            "month": held["expires_at"].dt.tz_convert(zone).dt.strftime("%Y-%m").to_numpy(),
            "points": held["remaining"].to_numpy(dtype="int64"),
        }
    )
    return frame.groupby(["member", "month"], as_index=False)["points"].sum()


def expiring_by_month(
    lots: pd.DataFrame, now: datetime, zone: ZoneInfo, months: int = MONTHS_AHEAD
) -> list[dict[str, Any]]:
    """The points left in lots (the ledger's ``lot_state`` lots: ``member``, ``expires_at``,
    ``remaining``) that expire in each month from ``now``'s month for ``months`` months, in
    the program's time zone (a lot expires at the end of a day there), with how many members
    hold them: ``[{"month": "2026-06", "points", "members"}, ...]`` then
    ``{"month": "later", ...}`` for lots expiring after those months. A lot already past its
    expiry whose points the expiry job has not taken yet counts in the first month (it goes at
    the next run); a lot that never expires, or has nothing left, is not counted."""
    labels = month_labels(now, zone, months)
    counted: dict[str, tuple[int, int]] = {}
    if len(lots):
        held = lots[(lots["remaining"] > 0) & lots["expires_at"].notna()]
        if len(held):
            month = held["expires_at"].dt.tz_convert(zone).dt.strftime("%Y-%m").to_numpy()
            month[month < labels[0]] = labels[0]  # due already, taken at the next expiry run
            month[month > labels[-1]] = "later"
            frame = pd.DataFrame(
                {"month": month, "member": held["member"].to_numpy(), "points": held["remaining"]}
            )
            grouped = frame.groupby("month").agg(
                points=("points", "sum"), members=("member", "nunique")
            )
            counted = {str(m): (int(r.points), int(r.members)) for m, r in grouped.iterrows()}
    return [
        {"month": m, "points": counted.get(m, (0, 0))[0], "members": counted.get(m, (0, 0))[1]}
        for m in [*labels, "later"]
    ]


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


@bp.get("/loyalty.csv")
def loyalty_csv() -> ResponseReturnValue:
    """Each program's figures and its points expiring per month ahead, as CSV:
    program, figure, month, value, members."""
    reports, _ = _reports()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["program", "figure", "month", "value", "members"])
    for r in reports:
        writer.writerow([r["program"], "members", "", r["members"], r["members"]])
        for name, value in r["points"].items():
            writer.writerow([r["program"], f"points {name}", "", value, ""])
        for e in r["expiring"]:
            row = [r["program"], "points expiring", e["month"], e["points"], e["members"]]
            writer.writerow(row)
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=lead2loyalty-loyalty.csv"},
    )


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

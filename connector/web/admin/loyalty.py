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
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from connector.errors import Lead2LoyaltyError
from connector.loyalty.wiring import open_service
from connector.web import intake
from connector.web.admin.blueprint import bp


def _reports() -> tuple[list[dict[str, Any]], str | None]:
    try:
        with open_service(intake.settings()) as service:
            return [service.report(p.id) for p in service.config.programs], None
    except Lead2LoyaltyError as exc:
        return [], str(exc)


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
    return render_template("admin/member.html", view=view, who=who, key=key)


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

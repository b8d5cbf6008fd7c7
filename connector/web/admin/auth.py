"""Signing in and out of the admin page (the rules are in :mod:`connector.web.admin.accounts`)."""

from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from connector.web import intake
from connector.web.admin.accounts import SignIn, sign_in
from connector.web.admin.blueprint import bp


def _next_page() -> str:
    """Where to go after signing in: a page of the admin site, never another site."""
    wanted = request.values.get("next", "")
    if wanted.startswith("/admin") and not wanted.startswith("//"):
        return wanted
    return url_for("admin.home")


@bp.route("/sign-in", methods=["GET", "POST"], endpoint="sign_in")
def sign_in_view() -> ResponseReturnValue:
    """The sign-in form; a good name and password open a session."""
    if request.method == "GET":
        return render_template("admin/sign_in.html", next=_next_page(), error=None)
    settings = intake.settings()
    name = request.form.get("name", "").strip()
    outcome = sign_in(
        settings,
        intake.store(),
        name,
        request.form.get("password", ""),
        request.remote_addr or "unknown",
        intake.now(),
    )
    if outcome is SignIn.OK:
        session.clear()  # a fresh session: nothing from before the sign-in carries over
        session["admin"] = name
        session.permanent = True
        return redirect(_next_page())
    if outcome is SignIn.LOCKED:
        error = (
            f"Too many failed sign-ins for this account from your address; try again in "
            f"{settings.admin_lockout_minutes} minutes."
        )
        return render_template("admin/sign_in.html", next=_next_page(), error=error), 429
    error = "Wrong name or password."
    return render_template("admin/sign_in.html", next=_next_page(), error=error), 401


@bp.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    """End the session."""
    session.clear()
    return redirect(url_for("admin.sign_in"))

"""Signing in and out of the admin page: a name and password (the rules are in
:mod:`connector.web.admin.accounts`), or the org's own Salesforce login.

Signing in with Salesforce (on when ``L2L_ADMIN_SALESFORCE_USERS`` names someone):

1. ``/admin/sign-in/salesforce`` keeps a fresh state, nonce and PKCE verifier in the session
   and sends the browser to the org's authorize page (:mod:`connector.admin.salesforce_sign_in`).
2. The callback is refused, and the session's sign-in forgotten, unless its ``state`` is the
   one kept (compared in constant time): a callback this browser did not start does nothing.
3. After the code is traded and the ID token checked, only a username listed in
   ``L2L_ADMIN_SALESFORCE_USERS`` (case-insensitive, as Salesforce usernames are) gets a
   session; anyone else is told they may not, by name, and stays signed out.
4. No token, code, verifier or the consumer secret is ever rendered or logged; the session
   keeps the username only.
"""

from __future__ import annotations

import hmac
import logging

from flask import abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from connector.config import Settings
from connector.web import intake
from connector.web.admin.accounts import SignIn, salesforce_users, sign_in
from connector.web.admin.blueprint import bp

log = logging.getLogger(__name__)


def _next_page() -> str:
    """Where to go after signing in: a page of the admin site, never another site."""
    wanted = request.values.get("next", "")
    if wanted.startswith("/admin") and not wanted.startswith("//"):
        return wanted
    return url_for("admin.home")


@bp.route("/sign-in", methods=["GET", "POST"], endpoint="sign_in")
def sign_in_view() -> ResponseReturnValue:
    """The sign-in form; a good name and password open a session."""
    settings = intake.settings()
    if request.method == "GET":
        return _form(settings, None)
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
        return _form(settings, error), 429
    return _form(settings, "Wrong name or password."), 401


def _form(settings: Settings, error: str | None) -> str:
    return render_template(
        "admin/sign_in.html",
        next=_next_page(),
        error=error,
        salesforce=bool(salesforce_users(settings)),
    )


#: The session key of a Salesforce sign-in under way (rule 1).
PENDING = "salesforce_sign_in"


@bp.get("/sign-in/salesforce")
def salesforce_start() -> ResponseReturnValue:
    """Rule 1: off to the org's login page."""
    from connector.admin.salesforce_sign_in import start

    settings = intake.settings()
    if not salesforce_users(settings):
        abort(404)
    started = start(settings, url_for("admin.salesforce_callback", _external=True))
    session[PENDING] = {
        "state": started.state,
        "nonce": started.nonce,
        "verifier": started.verifier,
        "next": _next_page(),
    }
    return redirect(started.url)


@bp.get("/sign-in/salesforce/callback")
def salesforce_callback() -> ResponseReturnValue:
    """Rules 2-4: back from the org's login page."""
    from connector.admin.salesforce_sign_in import WebLoginError, finish

    settings = intake.settings()
    allowed = salesforce_users(settings)
    if not allowed:
        abort(404)
    pending = session.pop(PENDING, None)
    state = request.args.get("state", "")
    if not isinstance(pending, dict) or not hmac.compare_digest(
        state.encode(), str(pending.get("state", "")).encode()
    ):
        return _form(settings, "That Salesforce sign-in was not started here; sign in again."), 400
    if request.args.get("error"):
        error = request.args["error"] if request.args["error"].isidentifier() else "an error"
        return _form(settings, f"Salesforce did not sign you in ({error})."), 401
    try:
        user = finish(
            settings,
            redirect_uri=url_for("admin.salesforce_callback", _external=True),
            code=request.args.get("code", ""),
            verifier=str(pending.get("verifier", "")),
            nonce=str(pending.get("nonce", "")),
        )
    except WebLoginError as exc:
        log.warning("admin Salesforce sign-in failed: %s", exc)
        return _form(settings, f"Not signed in: {exc}."), 401
    if user.username.casefold() not in allowed:
        log.warning("admin Salesforce sign-in refused for %s: not listed", user.username)
        message = (
            f"{user.username} may not sign in here: ask for the username to be added to "
            "L2L_ADMIN_SALESFORCE_USERS."
        )
        return _form(settings, message), 403
    session.clear()  # a fresh session, as after a password sign-in
    session["admin"] = user.username
    session["via"] = "salesforce"
    session.permanent = True
    wanted = str(pending.get("next", ""))
    return redirect(wanted if wanted.startswith("/admin") else url_for("admin.home"))


@bp.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    """End the session."""
    session.clear()
    return redirect(url_for("admin.sign_in"))

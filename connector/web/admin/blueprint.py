"""The admin blueprint and what runs around every view: the guard (rules 1-3 of
:mod:`connector.web.admin`), the response headers (rule 4) and the templates' globals."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.wrappers import Response
from wtforms import ValidationError

from connector.web import intake
from connector.web.admin.accounts import accounts, salesforce_users

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

#: Endpoints a signed-out visitor may reach.
OPEN = {"admin.sign_in", "admin.static", "admin.salesforce_start", "admin.salesforce_callback"}


@bp.before_request
def guard() -> ResponseReturnValue | None:
    """Rules 1-3, before any view."""
    if request.endpoint == "admin.static":
        return None
    settings = intake.settings()
    if not accounts(settings) and not salesforce_users(settings):
        return render_template("admin/not_configured.html"), 503
    if request.method == "POST":
        try:
            validate_csrf(request.form.get("csrf_token"))
        except (ValidationError, CSRFError) as exc:
            message = f"{exc} Reload the page and send the form again."
            return render_template("admin/refused.html", message=message), 400
    if request.endpoint not in OPEN and not session.get("admin"):
        return redirect(url_for("admin.sign_in", next=request.full_path.rstrip("?")))
    return None


@bp.after_request
def headers(response: Response) -> Response:
    """Rule 4's headers."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    )
    return response


@bp.context_processor
def template_globals() -> dict[str, object]:
    """What every template may use: the CSRF token and the signed-in admin's name."""
    return {"csrf_token": generate_csrf, "admin_name": session.get("admin")}


@bp.get("/")
def home() -> ResponseReturnValue:
    """The admin page's start: the runs."""
    return redirect(url_for("admin.runs"))

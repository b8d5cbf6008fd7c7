"""The localorg Flask app: one blueprint per Salesforce surface, Salesforce's error shapes.

Every call under ``/services/data/v*`` is authenticated, counted against the daily limit
(reported in ``Sforce-Limit-Info``) and passed through fault injection before it reaches a
blueprint.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from localorg import auth, bulk, rest, tooling, web_login
from localorg.access import CURRENT_USER
from localorg.faults import REQUEST_CODES
from localorg.http import current_org, sf_error
from localorg.org import LocalOrg


def create_app(org: LocalOrg) -> Flask:
    """The WSGI app serving ``org``."""
    app = Flask("localorg")
    app.config["LOCALORG"] = org
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.compact = True  # type: ignore[attr-defined]
    app.url_map.strict_slashes = False
    for blueprint in (auth.bp, rest.bp, tooling.bp, bulk.bp, web_login.bp):
        app.register_blueprint(blueprint)
    rest.register_errors(app)
    app.before_request(_enter)
    app.before_request(_guard)
    app.teardown_request(_forget_user)
    app.after_request(_limit_info)
    app.teardown_request(_leave)
    return app


def _enter() -> None:
    # Requests in progress, so a test can wait until a killed client's last request has been
    # applied (a server finishes a request whether or not its client is still there).
    g.org = current_org()
    g.org.request_started()


def _leave(_exc: BaseException | None) -> None:
    org = g.pop("org", None)
    if org is not None:
        org.request_finished()


def _kind(path: str) -> str:
    parts = path.split("/")
    # /services/data/v59.0/<kind>/...
    return parts[4] if len(parts) > 4 and parts[4] else "root"


def _guard() -> Response | None:
    """Authenticate, count and maybe fail an API call, before any blueprint sees it."""
    path = request.path
    if not path.startswith("/services/data/v"):
        return None
    org = current_org()
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").removeprefix("OAuth ").strip()
    user_id = org.session_user(token) if token else None
    if user_id is None:
        return sf_error("INVALID_SESSION_ID", "Session expired or invalid", 401)
    # The rest of this request runs as the token's user (localorg.access); Werkzeug serves
    # each request in its own thread, so the context variable is this request's alone.
    CURRENT_USER.set(user_id)
    if not org.store.access.api_enabled():
        return sf_error(
            "API_DISABLED_FOR_ORG", "The REST API is not enabled for this Organization.", 403
        )
    if not org.count_call(_kind(path)):
        return sf_error("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", 403)
    g.counted = True
    org.purge_due()
    if org.faults.latency_s:
        time.sleep(org.faults.latency_s)
    nth = org.faults.take_nth(_kind(path))
    if nth == "before":
        return sf_error("SERVER_UNAVAILABLE", REQUEST_CODES["SERVER_UNAVAILABLE"][1], 503)
    g.lose_answer = nth == "after"
    code = org.faults.draw_request()
    if code:
        status, message = REQUEST_CODES.get(code, (500, code))
        return sf_error(code, message, status)
    return None


def _forget_user(exc: BaseException | None) -> None:
    # Server threads may be reused: the next request must not inherit this one's user.
    CURRENT_USER.set(None)


def _limit_info(response: Response) -> Response:
    if g.get("lose_answer"):
        # fail_nth=...:after: the call was carried out; its caller never learns it.
        response = sf_error("SERVER_UNAVAILABLE", REQUEST_CODES["SERVER_UNAVAILABLE"][1], 503)
    if request.path.startswith("/services/data/v"):
        org = current_org()
        if org.faults.answer_delay_s and request.method in ("POST", "PATCH", "PUT", "DELETE"):
            time.sleep(org.faults.answer_delay_s)  # applied already; the answer is late
        response.headers["Sforce-Limit-Info"] = (
            f"api-usage={org.api_calls}/{org.config.daily_limit}"
        )
    return response

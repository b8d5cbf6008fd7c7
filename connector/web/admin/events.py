"""Events: deliveries per source, rejections by reason, duplicates, the last deliveries (their
headers, secret ones withheld) and a replay button.

A header's value is shown only when its name carries no secret: signatures, HMACs, tokens,
keys, authorisation and cookies are withheld whole (never masked with their length).
"""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from connector.web import intake
from connector.web.admin.blueprint import bp

#: Header names whose values are secrets or prove one (a signature is an HMAC of the secret).
SECRET_HEADER = re.compile(
    r"authori[sz]ation|signature|hmac|token|secret|key|cookie|password|auth", re.IGNORECASE
)
WITHHELD = "(withheld: carries a secret)"


def shown_headers(headers: dict[str, str]) -> list[tuple[str, str]]:
    """``headers`` as (name, value) rows, a secret one's value replaced by :data:`WITHHELD`."""
    return [
        (name, WITHHELD if SECRET_HEADER.search(name) else str(value))
        for name, value in sorted(headers.items())
    ]


@bp.get("/events")
def events() -> ResponseReturnValue:
    """Per source: deliveries, events, duplicates, pending, failed, rejections by reason; then
    the last 20 deliveries."""
    store = intake.store()
    latest = store.events.latest_deliveries(20)
    for delivery in latest:
        delivery["shown_headers"] = shown_headers(delivery.pop("headers"))
    return render_template("admin/events.html", stats=store.events.stats(), latest=latest)


@bp.post("/events/replay")
def replay() -> ResponseReturnValue:
    """Queue stored deliveries to be normalised again (all, or the failed ones); the worker
    does it on its next pass (idempotent: what is stored stays once)."""
    failed_only = request.form.get("failed_only") == "1"
    queued = intake.store().events.requeue_deliveries(failed_only=failed_only)
    what = "failed deliveries" if failed_only else "deliveries"
    flash(
        f"{queued:,} {what} queued again; the worker (lead2loyalty worker) normalises them on "
        "its next pass.",
        "ok",
    )
    return redirect(url_for("admin.events"))

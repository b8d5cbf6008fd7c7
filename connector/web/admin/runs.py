"""Runs: the history (status, calls, phases, errors, outstanding values), one run's value log
filtered by object, field and record, and the "sync now" and "retry failed" buttons."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from connector.errors import MappingError, RunInProgress
from connector.web import intake
from connector.web.admin.blueprint import bp
from connector.web.admin.mappings import mapped_names

#: Rows of a value log per page: a full sync logs one row per changed field, hundreds of
#: thousands on a big org; a page reads only its slice through the run_id index.
PAGE = 200


def run_summary(run: dict[str, Any]) -> dict[str, Any]:
    """What the history shows of one run record (``store.runs.latest``)."""
    stats = run["stats"]
    writes = stats.get("writes") or {}
    return {
        "id": run["id"],
        "started_at": (run["started_at"] or "")[:19].replace("T", " "),
        "mode": run["mode"],
        "status": run["status"],
        "duration_s": stats.get("duration_s"),
        "api_calls": (stats.get("api_calls") or {}).get("total", 0),
        "phases": stats.get("phases_s") or {},
        "written": writes.get("succeeded", 0),
        "failed": writes.get("failed", 0),
        "errors": stats.get("errors") or [],
        "outstanding": sum(int(o.get("values", 0)) for o in stats.get("outstanding") or []),
    }


@bp.get("/runs")
def runs() -> ResponseReturnValue:
    """The latest runs, newest first."""
    store = intake.store()
    return render_template(
        "admin/runs.html",
        runs=[run_summary(r) for r in store.runs.latest(50)],
        outstanding=store.outbox.outstanding(),
    )


@bp.get("/runs/<int:run_id>")
def run(run_id: int) -> ResponseReturnValue:
    """One run and its value log, filtered by ``object``, ``field`` and ``record``."""
    store = intake.store()
    found = store.runs.one(run_id)
    if found is None:
        abort(404)
    filters = {k: request.args.get(k, "").strip() for k in ("object", "field", "record")}
    asked = request.args.get("page", "1")
    page = max(int(asked), 1) if asked.isdigit() else 1
    objects, fields = mapped_names()
    # a name no mapping writes any more can still be asked for (the URL), and is shown
    objects = sorted({*objects, filters["object"]} - {""})
    fields = sorted({*fields, filters["field"]} - {""})
    rows, more = store.outbox.value_log_page(
        run_id,
        obj=filters["object"],
        field=filters["field"],
        record_id=filters["record"],
        objects=objects or ["Contact", "Lead", "Account"],  # the person objects
        limit=PAGE,
        offset=(page - 1) * PAGE,
    )
    return render_template(
        "admin/run.html",
        run=run_summary(found),
        stats=found["stats"],
        rows=rows,
        first=(page - 1) * PAGE + 1,
        more=more,
        page=page,
        filters=filters,
        objects=objects,
        fields=fields,
    )


@bp.post("/runs/start")
def start() -> ResponseReturnValue:
    """Start a sync now (``retry_failed``: values Salesforce refused are sent again)."""
    # Imported here: only an admin's click loads the engine into a web worker.
    from connector.admin.console import start_sync

    retry = request.form.get("retry_failed") == "1"
    try:
        start_sync(intake.settings(), retry_failed=retry)
    except RunInProgress as exc:
        flash(f"Not started: {exc}.", "error")
    except MappingError as exc:
        flash("Not started: the mappings do not validate: " + "; ".join(exc.problems), "error")
    else:
        what = "A sync that sends refused values again" if retry else "A sync"
        flash(f"{what} started; it appears below as it runs (reload to follow it).", "ok")
    return redirect(url_for("admin.runs"))

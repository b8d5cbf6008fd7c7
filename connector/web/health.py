"""Health: liveness for the load balancer, readiness for an uptime monitor.

- ``GET /healthz``: 200 while the process serves requests. It reads nothing, so a slow or
  locked database never makes an orchestrator restart a healthy web process.
- ``GET /readyz``: what a monitor watches. 200 when the database answers, the last scheduled
  sync did not fail and the schedule is on time; else 503 with the reasons (the rules are in
  :mod:`connector.readiness`).
"""

from __future__ import annotations

import logging
import sqlite3

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from connector.errors import Lead2LoyaltyError
from connector.readiness import ReadinessFacts, read_facts, readiness
from connector.web import intake

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 while the process serves requests."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """200 when the connector is doing its job, 503 with the reasons when it is not."""

    interval = intake.settings().sync_interval_minutes
    try:
        facts: ReadinessFacts | Exception = read_facts(intake.store())
    except (sqlite3.Error, OSError, Lead2LoyaltyError) as exc:  # missing, locked, corrupt
        log.warning("readyz: the database cannot be read (%s)", exc.__class__.__name__)
        facts = exc
    status, body = readiness(facts, intake.now(), interval)
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response

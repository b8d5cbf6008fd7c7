"""Health: the load balancer's and the orchestrator's probe."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 while the process serves requests."""
    return jsonify({"status": "ok"})

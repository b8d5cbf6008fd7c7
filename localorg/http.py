"""Small pieces every localorg blueprint shares: the org of this app, error responses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Response, current_app, jsonify

if TYPE_CHECKING:
    from localorg.org import LocalOrg
    from localorg.store import RecordFault


def current_org() -> LocalOrg:
    """The org this app serves."""
    org: LocalOrg = current_app.config["LOCALORG"]
    return org


def sf_error(
    code: str, message: str, status: int = 400, fields: list[str] | None = None
) -> Response:
    """A REST error in Salesforce's shape: a list of ``{message, errorCode, fields}``."""
    body: dict[str, Any] = {"message": message, "errorCode": code, "fields": fields or []}
    response = jsonify([body])
    response.status_code = status
    return response


def fault_response(exc: RecordFault) -> Response:
    """A refused write as Salesforce answers it on the single-record REST endpoints."""
    response = jsonify([e.rest() for e in exc.errors])
    response.status_code = exc.http_status
    return response


def api_version(version: str) -> str:
    """The version part of a ``v59.0`` path segment."""
    return version.removeprefix("v")

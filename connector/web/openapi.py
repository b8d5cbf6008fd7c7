"""``GET /openapi.json``: an OpenAPI 3.1 description of the webhook, events and loyalty endpoints.

Written by hand beside the routes; a test checks it names exactly the routes the app serves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from connector.webhooks import PLATFORMS

bp = Blueprint("openapi", __name__)

_ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(ok: str, *extra: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "200": {
            "description": ok,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Ack"}}},
        }
    }
    texts = {
        400: "Malformed body (not JSON, bad headers) or a stale delivery.",
        401: "Missing or wrong signature, token or write key. Nothing is stored.",
        413: "Body over L2L_WEBHOOK_MAX_BYTES (after gunzip).",
        422: "JSON with wrongly typed or missing fields.",
    }
    for status in (400, 401, 413, *extra):
        out[str(status)] = {
            "description": texts[status],
            "content": {"application/json": {"schema": _ERROR}},
        }
    return out


def _webhook(summary: str, headers: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "tags": ["webhooks"],
            "parameters": [
                {
                    "name": name,
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": text,
                }
                for name, text in headers
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": _responses("Stored (or a duplicate, acknowledged).", 422),
        }
    }


def _loyalty(
    summary: str,
    *,
    body: bool,
    ok: int,
    path: tuple[dict[str, Any], ...],
    extra: tuple[int, ...] = (),
    key_header: bool = False,
) -> dict[str, Any]:
    texts = {
        200: "Done (or, with a repeated Idempotency-Key, the first outcome again).",
        201: "Booked.",
        400: "Bad input (points, brand, missing Idempotency-Key...).",
        401: "Missing or wrong bearer token.",
        403: "The token lacks the scope, accrues for another partner, or passes an accrual cap.",
        404: "Unknown member, program, voucher or redemption.",
        409: "Not enough spendable points, an email shared by several Contacts, or a voucher "
        "used up or expired.",
        413: "Body over 64 KB.",
        422: "The Idempotency-Key was used for another request.",
        503: "The API is off (no token configured), models/loyalty.yaml is invalid, or busy.",
    }
    statuses = sorted({ok, 200, 400, 401, 403, 404, 503, *extra})
    operation: dict[str, Any] = {
        "summary": summary,
        "tags": ["loyalty"],
        "security": [{"loyaltyToken": []}],
        "parameters": [
            *path,
            {"name": "program", "in": "query", "schema": {"type": "string"}, "required": False},
        ],
        "responses": {
            str(code): {
                "description": texts[code],
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
            for code in statuses
        },
    }
    if body or key_header:
        operation["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "maxLength": 200},
            }
        )
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    return operation


_MEMBER = {"name": "member_id", "in": "path", "required": True, "schema": {"type": "string"}}
_KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
_LOYALTY_PATHS: dict[str, Any] = {
    "/v1/loyalty/members/{member_id}": {
        "get": _loyalty(
            "A member's balance, tier, lots, vouchers and journal",
            body=False,
            ok=200,
            path=(_MEMBER,),
        ),
    },
    "/v1/loyalty/members/{member_id}/redemptions": {
        "post": _loyalty(
            'Redeem points ({"points": N}) or a voucher ({"voucher": id})',
            body=True,
            ok=201,
            path=(_MEMBER,),
            extra=(409, 413, 422),
        ),
    },
    "/v1/loyalty/members/{member_id}/redemptions/{key}/cancel": {
        "post": _loyalty(
            "Cancel a redemption: its points come back", body=False, ok=200, path=(_MEMBER, _KEY)
        ),
    },
    "/v1/loyalty/members/{member_id}/accruals": {
        "post": _loyalty(
            "Points a partner issues", body=True, ok=201, path=(_MEMBER,), extra=(413, 422)
        ),
    },
    "/v1/loyalty/members/{member_id}/adjustments": {
        "post": _loyalty(
            'Adjust points with a reason ({"points": +/-N, "reason"})',
            body=True,
            ok=201,
            path=(_MEMBER,),
            extra=(413, 422),
        ),
    },
    "/v1/loyalty/vouchers/{code}/use": {
        "post": _loyalty(
            "Use a voucher code once (409 used up or expired)",
            body=False,
            ok=200,
            path=({"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},),
            extra=(409, 422),
            key_header=True,
        ),
    },
}


def _events(summary: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "tags": ["events"],
            "security": [{"writeKey": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            },
            "responses": _responses("Stored; counts of accepted and rejected messages."),
        }
    }


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "lead2loyalty webhooks, events and loyalty API",
        "version": "1",
        "description": "Each request is verified, stored durably and acknowledged; the worker "
        "normalises it into events and orders and updates Salesforce fields.",
    },
    "paths": {
        **{
            f"/webhooks/{name}": _webhook(module.SUMMARY, module.HEADERS)
            for name, module in PLATFORMS.items()
        },
        "/v1/batch": _events(
            "A batch of Segment-format messages",
            {
                "type": "object",
                "required": ["batch"],
                "properties": {
                    "batch": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}}
                },
            },
        ),
        "/v1/track": _events("One track message", {"$ref": "#/components/schemas/Message"}),
        "/v1/identify": _events("One identify message", {"$ref": "#/components/schemas/Message"}),
        "/v1/page": _events("One page message", {"$ref": "#/components/schemas/Message"}),
        **_LOYALTY_PATHS,
        "/v1/orders/risk": {
            "get": {
                "summary": "An order's risk score, held before Salesforce has the order",
                "description": "By the shop's order id or name (order). Bearer token of "
                "L2L_LOYALTY_API_TOKENS with the read scope. The score is 0-100 (99: riskier "
                "than 99% of the shop's orders); held is true until the Salesforce Order "
                "naming the shop order is pulled and takes it.",
                "tags": ["orders"],
                "security": [{"loyaltyToken": []}],
                "parameters": [
                    {
                        "name": "order",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 200},
                    }
                ],
                "responses": {
                    code: {
                        "description": text,
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                    for code, text in (
                        ("200", "order, score, reasons, held, scored_at, salesforce_order"),
                        ("401", "No valid bearer token"),
                        ("403", "The token lacks the read scope"),
                        ("404", "No risk known for the order yet"),
                    )
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness probe",
                "tags": ["health"],
                "responses": {"200": {"description": "The process serves requests."}},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness for an uptime monitor",
                "description": "The database, the real-time backlog (deliveries_pending, "
                "dirty_people) and the last scheduled sync's status and age.",
                "tags": ["health"],
                "responses": {
                    "200": {"description": "Ready: the last sync did not fail, on schedule."},
                    "503": {
                        "description": "Not ready: problems lists database, no_sync_yet, "
                        "last_run_failed or schedule_late."
                    },
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "tags": ["meta"],
                "responses": {"200": {"description": "OpenAPI 3.1 JSON."}},
            }
        },
    },
    "components": {
        "securitySchemes": {
            "writeKey": {
                "type": "http",
                "scheme": "basic",
                "description": "The write key as username, empty password.",
            },
            "loyaltyToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "One of L2L_LOYALTY_API_TOKENS.",
            },
        },
        "schemas": {
            "Ack": {
                "type": "object",
                "properties": {
                    "status": {"type": "string", "enum": ["stored", "duplicate", "ping"]},
                    "success": {"type": "boolean"},
                    "accepted": {"type": "integer"},
                    "rejected": {"type": "integer"},
                    "problems": {"type": "array", "items": {"type": "string"}},
                },
            },
            "Error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
            "Message": {
                "type": "object",
                "required": ["messageId", "timestamp"],
                "properties": {
                    "type": {"type": "string", "enum": ["track", "identify", "page"]},
                    "messageId": {"type": "string"},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "event": {"type": "string"},
                    "userId": {"type": "string"},
                    "anonymousId": {"type": "string"},
                    "properties": {"type": "object"},
                    "traits": {"type": "object"},
                    "context": {"type": "object"},
                },
            },
        },
    },
}


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    """The OpenAPI document."""
    return jsonify(SPEC)

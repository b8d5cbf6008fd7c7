"""``GET /v1/orders/risk?order=<id or name>``: an order's risk, before Salesforce has it.

A webhook order is scored by the worker's next pass (``connector/sync/orders_intel.py``) and
its score *held* until the Salesforce Order naming it is pulled; that can be hours later, and
the order may ship before. So the score is readable here as soon as it is held: a shop's
automation (Shopify Flow's "Send HTTP request", a fulfilment app) asks for the order by the
shop's order id or name and holds it when the score is at or above the threshold. Once the
Salesforce Order has adopted the score, the same answer names it (and the Order's
``L2L_Risk_Score__c`` holds it, where a Salesforce Flow reads it).

Authentication is the loyalty API's bearer tokens (``L2L_LOYALTY_API_TOKENS``) with the
``read`` scope: a shop already holds one. 401 without a valid token, 403 without ``read``,
404 for an order not known or not scored yet.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from connector.api_tokens import bearer, parse_tokens
from connector.web import intake

bp = Blueprint("orders_api", __name__, url_prefix="/v1/orders")


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify({"code": code, "message": message})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="lead2loyalty orders"'
    return response


@bp.get("/risk")
def risk() -> ResponseReturnValue:
    """The risk of one order, by the shop's order id or name (``order``)."""
    tokens = parse_tokens(intake.settings().loyalty_api_tokens.get_secret_value())
    if not tokens:
        return _error(503, "api_disabled", "set L2L_LOYALTY_API_TOKENS to read order risk")
    token, why = bearer(tokens, request.headers.get("Authorization", ""))
    if token is None:
        return _error(401, "unauthorized", why)
    if not token.allows("read"):
        return _error(403, "insufficient_scope", f"token {token.name} lacks the read scope")
    asked = (request.args.get("order") or "").strip()
    if not asked or len(asked) > 200:
        return _error(400, "invalid_order", "order must be a shop order id or name (1-200)")
    found = order_risk(asked)
    if found is None:
        return _error(404, "not_scored", f"no risk known for order {asked} yet")
    return jsonify(found)


def order_risk(asked: str) -> dict[str, Any] | None:
    """The kept or held risk of the order the shop knows as ``asked`` (its id or name)."""
    store = intake.store()
    keys = store.events.shop_order_keys()
    if not len(keys):
        return None
    local = keys["shop_id"].astype(str).str.split(":", n=1).str[-1]
    hit = keys[
        keys["platform_order_id"].astype(str).eq(asked)
        | keys["reference"].astype(str).eq(asked)
        | keys["shop_id"].astype(str).eq(asked)
        | local.eq(asked)
    ]
    if not len(hit):
        return None
    shop_id = str(hit["shop_id"].iloc[0])
    names = sorted({str(v) for v in hit[["platform_order_id", "reference"]].iloc[0].dropna()})
    field = intake.settings().order_reference_field
    orders = store.records.frame("Order", ["Id", field], any_of={field: names})
    ids = [shop_id, *orders["Id"].astype(str)]
    rows = store.scoring.order_risk(ids)
    if not len(rows):
        return None
    row = rows.sort_values("held").iloc[0]  # the Salesforce Order's, once adopted
    held = bool(int(row["held"]))
    return {
        "order": shop_id,
        "score": int(row["score"]),
        "reasons": str(row["reasons"]),
        "held": held,
        "scored_at": str(row["scored_at"]),
        "salesforce_order": None if held else str(row["order_id"]),
    }

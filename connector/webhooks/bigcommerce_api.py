"""BigCommerce orders in full: a light webhook names an order, the store's API tells the rest.

The worker (never the web process) reads ``GET {api}/stores/{store_hash}/v2/orders/{id}`` with
the store's API token in ``X-Auth-Token`` (BigCommerce Orders V2 API: ``date_created`` as an
RFC 2822 date, ``status_id``, ``currency_code``, ``total_inc_tax`` and ``refunded_amount`` as
decimal strings, ``billing_address.email``). Tokens come from ``L2L_BIGCOMMERCE_API_TOKENS``
(``store_hash:token``, comma separated); orders of stores without a token wait.

:func:`order_details` is pure (tested on a documented example); :func:`fetch_order` is the one
HTTP call, through the standard library (the connector's HTTP client is Salesforce's alone).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime
from typing import Any

from connector.bounds import OutOfBounds, load_json
from connector.errors import PayloadError, Unprocessable
from connector.webhooks.base import email_of, iso, money, obj
from connector.webhooks.bigcommerce import NOT_PURCHASED_STATUS


def order_details(order: Any) -> dict[str, Any]:
    """What a V2 order tells: email, total, currency, placed_at, cancelled, refunded."""
    order = obj(order, "order")
    created = order.get("date_created")
    try:
        placed = parsedate_to_datetime(created) if isinstance(created, str) else None
    except (TypeError, ValueError):
        placed = None
    if placed is None or placed.tzinfo is None:
        raise Unprocessable("date_created must be an RFC 2822 date with a zone")
    status = order.get("status_id")
    refunded = order.get("refunded_amount")
    currency = order.get("currency_code")
    return {
        "email": email_of(obj(order.get("billing_address"), "billing_address").get("email")),
        "total": money(order.get("total_inc_tax"), "total_inc_tax"),
        "currency": currency[:3] if isinstance(currency, str) else None,
        "placed_at": iso(placed),
        "cancelled": 1 if status in NOT_PURCHASED_STATUS else 0,
        "refunded": money(refunded, "refunded_amount") if refunded not in (None, "") else 0.0,
    }


def fetch_order(
    api_url: str, store_hash: str, order_id: str, token: str, timeout: float = 10.0
) -> dict[str, Any]:
    """The store's order as :func:`order_details`; :class:`PayloadError` when it cannot be read
    (the worker tries again on its next pass)."""
    if not api_url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise PayloadError("L2L_BIGCOMMERCE_API_URL must be an https URL")
    url = f"{api_url.rstrip('/')}/stores/{store_hash}/v2/orders/{int(order_id)}"
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, headers={"X-Auth-Token": token, "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(2_000_000)
    except urllib.error.HTTPError as exc:
        raise PayloadError(f"BigCommerce answered {exc.code} for order {order_id}") from None
    except (urllib.error.URLError, TimeoutError) as exc:
        raise PayloadError(f"BigCommerce could not be reached: {exc.__class__.__name__}") from None
    try:
        return order_details(load_json(body))
    except OutOfBounds as exc:
        raise PayloadError(f"BigCommerce's order {order_id} is refused: {exc}") from None
    except ValueError:
        raise PayloadError(f"BigCommerce sent no JSON for order {order_id}") from None

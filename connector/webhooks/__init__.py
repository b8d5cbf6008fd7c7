"""Webhooks and the events API: one module per platform, pure functions over (headers, body).

``PLATFORMS`` maps the ``/webhooks/<platform>`` path to its module, and is the one list of
platforms: the web routes, their secrets' settings and ``/openapi.json`` are made from it. Each
module's ``receive`` verifies and checks a request and returns the
:class:`~connector.webhooks.base.Delivery` to store, and its ``normalise`` turns a stored delivery
into events, orders and refunds (:class:`~connector.webhooks.base.Normalised`); it declares
``SECRET_SETTING`` (the setting its secrets are in), ``SUMMARY`` and ``HEADERS`` (its OpenAPI
description). ``segment`` is the generic events API.
"""

from __future__ import annotations

from types import ModuleType

from connector.webhooks import bigcommerce, segment, shopify, woocommerce
from connector.webhooks.base import Delivery, Normalised

PLATFORMS: dict[str, ModuleType] = {
    "shopify": shopify,
    "woocommerce": woocommerce,
    "bigcommerce": bigcommerce,
}
#: Every stored delivery's source -> the module that normalises it.
NORMALISERS: dict[str, ModuleType] = {**PLATFORMS, segment.SOURCE: segment}

__all__ = ["NORMALISERS", "PLATFORMS", "Delivery", "Normalised"]

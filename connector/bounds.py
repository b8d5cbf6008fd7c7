"""The documented bounds of numbers and JSON at every edge: CLI, settings, APIs, YAML, webhooks.

Rules, each enforced where outside input comes in, so nothing past them reaches SQLite or the
loyalty journal:

1. Whole numbers fit SQLite's INTEGER, a signed 64-bit value (``INT64_MIN`` .. ``INT64_MAX``);
   Python's ``sqlite3`` raises ``OverflowError`` on anything wider, and a balance that wraps is
   worse than a refusal.
2. Decimals are finite: JSON's non-standard ``NaN``/``Infinity`` and overflowing literals such as
   ``1e400`` (which Python reads as ``inf``) are refused; RFC 8259 section 6 has no such numbers.
3. Points move at most ``MAX_POINTS`` (10^12) in one request, adjustment or rule: a balance then
   needs over nine million maximal moves to leave 64 bits.
4. A money amount is at most ``MAX_AMOUNT`` (10^12) in its currency, far above any real order
   and well inside a float's exact integers (2^53), so cents stay exact.
5. JSON is nested at most ``MAX_JSON_DEPTH`` (64) levels: no platform payload comes close (a
   Shopify order is about 6 deep), and Python's parser (and every walk over its result) raises
   ``RecursionError`` near 1,000 levels, which would otherwise be a 500 or a traceback.
"""

from __future__ import annotations

import json
import math
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_POINTS = 10**12
MAX_AMOUNT = 10**12
MAX_JSON_DEPTH = 64


class OutOfBounds(ValueError):
    """A value outside its documented bound; the message says which bound."""


def _int(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise OutOfBounds(f"the number {text[:24]}... does not fit 64 bits")
    return value


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise OutOfBounds(f"the number {text[:24]} is too large to hold")
    return value


def _constant(text: str) -> Any:
    raise OutOfBounds(f"{text} is not a JSON number (RFC 8259 has no NaN or Infinity)")


def load_json(data: bytes | str) -> Any:
    """Parse JSON within the bounds above; :class:`OutOfBounds` says which one was passed,
    ``ValueError`` (or ``UnicodeDecodeError``) that it is not JSON at all."""
    try:
        value = json.loads(data, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise OutOfBounds(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels") from None
    if depth_over(value, MAX_JSON_DEPTH):
        raise OutOfBounds(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def depth_over(value: Any, limit: int) -> bool:
    """True when ``value`` (parsed JSON) nests lists and objects more than ``limit`` deep;
    iterative, so any depth is measured without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if not isinstance(item, dict | list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def whole(value: int, what: str, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    """``value`` when ``low <= value <= high``, else :class:`OutOfBounds` naming ``what``."""
    if not low <= value <= high:
        raise OutOfBounds(f"{what} must be between {low:,} and {high:,}, got {str(value)[:24]}")
    return value


def finite(value: float, what: str, low: float, high: float) -> float:
    """``value`` when finite and within ``[low, high]``, else :class:`OutOfBounds`."""
    if not math.isfinite(value) or not low <= value <= high:
        raise OutOfBounds(f"{what} must be a finite number between {low:,} and {high:,}")
    return value

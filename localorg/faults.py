"""Fault injection: the failures a real org throws at an integration, on demand.

A spec is a comma-separated list, for the CLI's ``--faults`` and for tests::

    latency=40ms,UNABLE_TO_LOCK_ROW=0.2,SERVER_UNAVAILABLE=0.05,session_ttl=30s,seed=7

- ``latency``: added to every API call (``ms`` or ``s``).
- ``<ERROR_CODE>=<rate>``: that share of calls (request-level codes) or of records (row-level
  codes, which Salesforce reports per record in collections and Bulk API results) fails.
- ``session_ttl``: access tokens expire after this long (the caller must re-authenticate).
- ``seed``: makes the random draws repeatable.
- ``fail_nth=<kind>:<n>[:after]``: the n-th API call of that kind (the path segment after the
  version: ``query``, ``sobjects``, ``tooling``, ``composite``...) answers 503
  SERVER_UNAVAILABLE, once. Plain, the call is refused before it does anything; with
  ``:after`` it is carried out and its answer is lost, as when a connection drops.
  Deterministic, so a test can interrupt a sequence of calls at each call in turn.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field

# Codes Salesforce reports per record; every other code fails the whole request.
ROW_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "DUPLICATE_VALUE", "FIELD_CUSTOM_VALIDATION_EXCEPTION"}
)

# HTTP status and message of each request-level code.
REQUEST_CODES: dict[str, tuple[int, str]] = {
    "SERVER_UNAVAILABLE": (503, "Server unavailable; please try again later."),
    "REQUEST_LIMIT_EXCEEDED": (403, "TotalRequests Limit exceeded."),
    "INVALID_SESSION_ID": (401, "Session expired or invalid"),
    "UNKNOWN_EXCEPTION": (500, "An unexpected error occurred. Please include this ErrorId."),
    "REQUEST_RUNNING_TOO_LONG": (500, "Your request was running for too long."),
}


class FaultSpecError(ValueError):
    """The ``--faults`` spec cannot be parsed; the message says which part and why."""


@dataclass
class Faults:
    """The faults in force; changed at run time by tests through :meth:`configure`."""

    latency_s: float = 0.0
    rates: dict[str, float] = field(default_factory=dict)
    session_ttl_s: float | None = None
    seed: int | None = None
    fail_nth: tuple[str, int, bool] | None = None  # (kind, n, after)
    _seen: dict[str, int] = field(default_factory=dict, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        """Build from a spec string (see the module docstring)."""
        faults = cls()
        faults.configure(spec or "")
        return faults

    def configure(self, spec: str) -> None:
        """Replace the faults in force with those of ``spec`` ("" clears them all)."""
        latency, rates, ttl, seed = 0.0, {}, None, None
        nth: tuple[str, int, bool] | None = None
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            if not sep:
                raise FaultSpecError(
                    f"fault '{part}' has no '=': write e.g. UNABLE_TO_LOCK_ROW=0.1"
                )
            key = key.strip()
            if key == "latency":
                latency = _duration(value)
            elif key == "session_ttl":
                ttl = _duration(value)
            elif key == "seed":
                seed = int(value)
            elif key == "fail_nth":
                nth = _nth(value)
            elif key.isupper():
                rate = float(value)
                if not 0.0 <= rate <= 1.0:
                    raise FaultSpecError(f"rate of {key} must be between 0 and 1, got {value}")
                rates[key] = rate
            else:
                raise FaultSpecError(
                    f"unknown fault '{key}': use latency, session_ttl, seed, fail_nth or an "
                    "ERROR_CODE"
                )
        with self._lock:
            self.latency_s, self.rates, self.session_ttl_s, self.seed = latency, rates, ttl, seed
            self.fail_nth, self._seen = nth, {}
            self._rng = random.Random(seed)

    def take_nth(self, kind: str) -> str | None:
        """Count one call of ``kind``; ``"before"`` or ``"after"`` when it is the one to fail."""
        with self._lock:
            if self.fail_nth is None or self.fail_nth[0] != kind:
                return None
            self._seen[kind] = self._seen.get(kind, 0) + 1
            if self._seen[kind] != self.fail_nth[1]:
                return None
            return "after" if self.fail_nth[2] else "before"

    def draw_request(self) -> str | None:
        """The request-level error code this call fails with, if any."""
        with self._lock:
            for code, rate in self.rates.items():
                if code not in ROW_CODES and rate and self._rng.random() < rate:
                    return code
        return None

    def draw_row(self) -> str | None:
        """The row-level error code this record fails with, if any."""
        with self._lock:
            for code, rate in self.rates.items():
                if code in ROW_CODES and rate and self._rng.random() < rate:
                    return code
        return None


def _nth(text: str) -> tuple[str, int, bool]:
    kind, _, rest = text.strip().partition(":")
    number, _, when = rest.partition(":")
    if not kind or not number.isdigit() or int(number) < 1 or when not in ("", "after"):
        raise FaultSpecError(
            f"fail_nth '{text}' must be <kind>:<n> or <kind>:<n>:after, e.g. tooling:2"
        )
    return kind, int(number), when == "after"


def _duration(text: str) -> float:
    text = text.strip()
    try:
        if text.endswith("ms"):
            return float(text[:-2]) / 1000
        if text.endswith("s"):
            return float(text[:-1])
        return float(text)
    except ValueError:
        raise FaultSpecError(f"'{text}' is not a duration: write 40ms or 2s") from None

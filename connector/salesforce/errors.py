"""Salesforce failures, sorted by what the caller does next, and the rules that sort them.

SalesforceError             a call to Salesforce failed (``error_code``, ``status``)
├── RetryableError          lock, timeout, 5xx: retried with backoff here, then carried on
│   └── OutcomeUnknown      a write sent and its answer lost: not retried, read back instead
├── FatalError              bad data or config: report ``error_code``, do not retry
└── QuotaExhausted          REQUEST_LIMIT_EXCEEDED or the configured share of the daily limit

The classes live in ``connector/errors.py`` with the rest of the tree; this module holds
the rules that sort Salesforce's answers into them.
Messages name the error code and what to do; they never carry response bodies or tokens.
"""

from __future__ import annotations

from connector.errors import (
    FatalError,
    OutcomeUnknown,
    QuotaExhausted,
    RetryableError,
    SalesforceError,
)

__all__ = [
    "FatalError",
    "OutcomeUnknown",
    "QuotaExhausted",
    "RetryableError",
    "SalesforceError",
    "classify",
]

# Error codes that fail a whole request but succeed when simply sent again later.
RETRYABLE_CODES = frozenset(
    {
        "SERVER_UNAVAILABLE",
        "UNABLE_TO_LOCK_ROW",
        "REQUEST_RUNNING_TOO_LONG",
        "UNKNOWN_EXCEPTION",
        "QUERY_TIMEOUT",
    }
)

# Per-row codes that say nothing is wrong with the row itself: send it again.
RETRYABLE_ROW_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "SERVER_UNAVAILABLE",
        "REQUEST_RUNNING_TOO_LONG",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "UNPROCESSED",
    }
)

QUOTA_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "TOO_MANY_REQUESTS"})
SESSION_CODES = frozenset({"INVALID_SESSION_ID"})


def classify(status: int, error_code: str | None, what: str) -> SalesforceError:
    """The error for a non-2xx answer to ``what`` (e.g. ``"query on Contact"``)."""
    code = error_code or f"HTTP_{status}"
    if error_code in QUOTA_CODES or status == 429:
        return QuotaExhausted(
            f"{what}: Salesforce refused the call ({code}): the org's daily API limit is spent; "
            "the run stops here and resumes after the limit resets",
            error_code=code,
            status=status,
        )
    if status >= 500 or error_code in RETRYABLE_CODES:
        return RetryableError(
            f"{what}: Salesforce is temporarily unable to answer ({code}); "
            "retry later, the next run will pick this work up",
            error_code=code,
            status=status,
        )
    if status == 401 or error_code in SESSION_CODES:
        return FatalError(
            f"{what}: the session was refused even after signing in again ({code}); "
            "check that the integration user has the API Enabled permission",
            error_code=code,
            status=status,
        )
    if status == 403:
        hint = "check the integration user's permission set and field-level security"
    elif status == 404:
        hint = "check the object, field or flow name and that the integration user can see it"
    else:
        hint = "fix the request (field names, values, SOQL) and run again"
    return FatalError(f"{what} failed ({code}): {hint}", error_code=code, status=status)

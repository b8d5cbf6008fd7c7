"""Errors of lead2loyalty, typed by what happens next.

Lead2LoyaltyError
├── ConfigError            settings are wrong; every problem listed at once
├── MappingError           mappings/ or models/ YAML is wrong; every problem as file:line
├── AccessMissing          the integration user lacks permissions: an admin must grant them
├── RunInProgress          another sync holds the database's run lock: this one did not start
├── StoreError             the database cannot be used (full disk, read-only, not a database)
│   └── Busy               another process held the write lock past the busy timeout: retry
├── SalesforceError        a call to Salesforce failed
│   ├── RetryableError     lock, timeout, 5xx: retry with backoff, then carry to the next run
│   │   └── OutcomeUnknown a write was sent and its answer lost: read the org, never resend
│   ├── FatalError         bad data or config: report the row's errorCode, do not retry
│   └── QuotaExhausted     REQUEST_LIMIT_EXCEEDED or the configured share of the daily limit
└── WebhookError
    ├── SignatureError     401: the delivery is not from who it claims
    └── PayloadError       400: the body or its headers are malformed (or it is stale)
        ├── Unprocessable  422: well-formed JSON with wrongly typed or missing fields
        └── TooLarge       413: the body (after gunzip) is over L2L_WEBHOOK_MAX_BYTES
"""

from __future__ import annotations


class Lead2LoyaltyError(Exception):
    """Base of every error the connector raises on purpose."""


class ConfigError(Lead2LoyaltyError):
    """Settings are missing or invalid."""


class SalesforceError(Lead2LoyaltyError):
    """A call to Salesforce failed; ``error_code`` is Salesforce's code when it sent one."""

    def __init__(self, message: str, *, error_code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.error_code = error_code
        self.status = status


class RetryableError(SalesforceError):
    """Transient: the same call may succeed later (already retried with backoff here)."""


class OutcomeUnknown(RetryableError):
    """A write was sent and no answer came back (5xx, connection reset, read timeout):
    Salesforce may have applied it. Never resent blindly: read the org back first, or, where
    nothing can be read back (a Flow run), count it as done and say so."""


class FatalError(SalesforceError):
    """The request itself is wrong (data, permissions, configuration): do not retry it."""


class QuotaExhausted(SalesforceError):
    """The org's daily API limit, or the share of it this connector may use, is spent."""


class RunInProgress(Lead2LoyaltyError):
    """Another sync holds the database: two runs at once could write the same values twice."""


class StoreError(Lead2LoyaltyError):
    """The database cannot be used (a full disk, a read-only or corrupt file): fix the disk or
    ``L2L_DATABASE``; nothing was written by the statement that failed."""


class Busy(StoreError):
    """Another process held the database's write lock longer than the busy timeout; nothing was
    written, and the same request may succeed in a few seconds (HTTP APIs answer 503)."""


class MappingError(Lead2LoyaltyError):
    """A mappings/ or models/ file is invalid; the message lists every problem as file:line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class AccessMissing(Lead2LoyaltyError):
    """The integration user lacks permissions for what was asked; nothing was changed.

    The message is one block naming each missing permission and what an admin does about it.
    """


class WebhookError(Lead2LoyaltyError):
    """A webhook delivery was refused."""


class SignatureError(WebhookError):
    """401: the delivery's signature does not verify."""


class PayloadError(WebhookError):
    """4xx: the delivery's body is malformed."""


class Unprocessable(PayloadError):
    """422: well-formed JSON whose fields have the wrong types or are missing."""


class TooLarge(PayloadError):
    """413: the body (after gunzip) is over ``L2L_WEBHOOK_MAX_BYTES``."""

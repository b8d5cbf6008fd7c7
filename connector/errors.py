"""Errors of lead2loyalty, typed by what happens next.

Lead2LoyaltyError
├── ConfigError            settings are wrong; every problem listed at once
├── MappingError           mappings/ or models/ YAML is wrong; every problem as file:line
├── SalesforceError        a call to Salesforce failed
│   ├── RetryableError     lock, timeout, 5xx: retry with backoff, then carry to the next run
│   ├── FatalError         bad data or config: report the row's errorCode, do not retry
│   └── QuotaExhausted     REQUEST_LIMIT_EXCEEDED or the configured share of the daily limit
└── WebhookError
    ├── SignatureError     401: the delivery is not from who it claims
    └── PayloadError       4xx: the body is malformed
"""

from __future__ import annotations


class Lead2LoyaltyError(Exception):
    """Base of every error the connector raises on purpose."""


class ConfigError(Lead2LoyaltyError):
    """Settings are missing or invalid."""


class MappingError(Lead2LoyaltyError):
    """A mappings/ or models/ file is invalid; the message lists every problem as file:line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

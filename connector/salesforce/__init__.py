"""The only code that talks to Salesforce: OAuth, the typed client, errors, log redaction."""

from __future__ import annotations

from connector.salesforce.client import ApiUsage, RowResult, SalesforceClient, parse_limit_info
from connector.salesforce.errors import FatalError, QuotaExhausted, RetryableError, SalesforceError
from connector.salesforce.redact import RedactSecrets

__all__ = [
    "ApiUsage",
    "FatalError",
    "QuotaExhausted",
    "RedactSecrets",
    "RetryableError",
    "RowResult",
    "SalesforceClient",
    "SalesforceError",
    "parse_limit_info",
]

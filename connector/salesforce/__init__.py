"""The only code that talks to Salesforce: OAuth, the port and its client, errors.

Consumers type their client as :class:`SalesforcePort` (``port.py``); :class:`SalesforceClient`
implements it. Log redaction is not here but in ``connector/logs.py``, so a process that never
calls Salesforce (the web workers) never loads simple-salesforce.
"""

from __future__ import annotations

from connector.salesforce.client import SalesforceClient, parse_limit_info
from connector.salesforce.errors import (
    FatalError,
    OutcomeUnknown,
    QuotaExhausted,
    RetryableError,
    SalesforceError,
)
from connector.salesforce.port import (
    COLLECTION_LIMIT,
    FLOW_BATCH,
    ID_BATCH,
    ApiUsage,
    Echoes,
    RowResult,
    SalesforcePort,
)

__all__ = [
    "COLLECTION_LIMIT",
    "FLOW_BATCH",
    "ID_BATCH",
    "ApiUsage",
    "Echoes",
    "FatalError",
    "OutcomeUnknown",
    "QuotaExhausted",
    "RetryableError",
    "RowResult",
    "SalesforceClient",
    "SalesforceError",
    "SalesforcePort",
    "parse_limit_info",
]

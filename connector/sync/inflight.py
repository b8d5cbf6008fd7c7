"""Writes whose outcome a crashed run never learnt: read the org, then send only what is missing.

A run marks each batch ``in_flight`` in the outbox before sending it and records the answer
after. A run killed in between (SIGKILL, out of memory, a lost connection after Salesforce
applied the batch) leaves rows ``in_flight``: Salesforce may or may not hold those values.
Sending them again blindly saves the records twice, and every record-triggered Flow without an
"only when changed" condition runs twice. So the next run first reads the current values of
those records (one SOQL query by Id per 200 records, the size of a collection batch) and:

- a field that already holds the value is recorded as written (logged ``verified``), not sent;
- a field that does not is put back to ``pending`` and sent as usual.

:func:`holds` is the pure comparison, tested alone; :func:`settle_in_flight` does the reads.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from connector.salesforce.port import ID_BATCH, SalesforcePort
from connector.store import PendingWrite, Store

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass
class Settled:
    """What verification found: values already in the org, and values to send again."""

    held: list[PendingWrite]
    resend: list[PendingWrite]
    queries: int = 0


def holds(wanted: Any, current: Any) -> bool:
    """True when the org's ``current`` value of a field is the ``wanted`` one we sent.

    Salesforce answers in its own spellings: numbers may come back as floats (``3.0`` for a
    number(18, 0)), an empty text field as null, datetimes as ``...T10:00:00.000+0000``.
    """
    if wanted is None or wanted == "":
        return current is None or current == ""
    if current is None:
        return False
    if isinstance(wanted, bool) or isinstance(current, bool):
        return _as_bool(wanted) == _as_bool(current)
    if isinstance(wanted, int | float):
        try:
            number = float(current)
        except (TypeError, ValueError):
            return False
        return math.isclose(float(wanted), number, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(wanted, str) and isinstance(current, str):
        if wanted == current:
            return True
        a, b = _moment(wanted), _moment(current)
        return a is not None and a == b
    return bool(wanted == current)


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _moment(text: str) -> date | datetime | None:
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def unknown_outcome_line(obj: str, records: int, exc: Exception) -> str:
    """What a run says about a batch sent without an answer."""
    code = getattr(exc, "error_code", None) or type(exc).__name__
    return (
        f"{obj}: {records} records sent without an answer ({code}); Salesforce may have saved "
        "them, so the next run reads them before sending any again"
    )


def unconfirmed_flow_line(where: str, people: int, exc: Exception) -> str:
    """What a run says about a Flow call sent without an answer."""
    code = getattr(exc, "error_code", None) or type(exc).__name__
    return (
        f"{where}: a Flow call for {people} people was sent without an answer ({code}); it "
        "may have run, and a Flow run cannot be read back, so it is not sent again (at most "
        "once): check the Flow's runs in Salesforce"
    )


def settle_in_flight(client: SalesforcePort, store: Store, run_id: int) -> Settled:
    """Verify every ``in_flight`` outbox row against the org and record the outcome."""
    rows = store.outbox.in_flight()
    if not rows:
        return Settled([], [])
    by_object: dict[str, dict[str, list[PendingWrite]]] = defaultdict(lambda: defaultdict(list))
    for w in rows:
        by_object[w.object][w.record_id].append(w)
    held: list[PendingWrite] = []
    resend: list[PendingWrite] = []
    queries = 0
    for obj, records in by_object.items():
        ids = sorted(records)
        for start in range(0, len(ids), ID_BATCH):
            chunk = ids[start : start + ID_BATCH]
            fields = sorted({w.field for rid in chunk for w in records[rid]})
            current = _read(client, obj, fields, chunk)
            queries += 1
            for rid in chunk:
                found = current.get(rid)
                for w in records[rid]:
                    if found is not None and holds(w.value, found.get(w.field)):
                        held.append(w)
                    else:
                        resend.append(w)
    store.outbox.record_verified(run_id, held, resend)
    return Settled(held, resend, queries)


def _read(
    client: SalesforcePort, obj: str, fields: Sequence[str], ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    # Object and field names come from the outbox, which only the mappings fill; the client
    # checks names, and the ids travel as quoted literals through format_soql.
    for name in (obj, *fields):
        if not _NAME.match(name):
            raise ValueError(f"'{name}' is not a Salesforce API name")
    records = client.records_by_id(obj, fields, ids)
    return {str(r["Id"]): r for r in records}

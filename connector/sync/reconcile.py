"""Reconciliation: forget the records the org no longer has.

A pull learns deletions from ``queryAll``'s ``IsDeleted`` rows, but a real org returns those
only while they sit in the Recycle Bin (15 days: REST API Developer Guide, "sObject Get
Deleted"); a hard delete (Bulk API ``hardDelete``) or a purged Recycle Bin leaves no trace a pull
can see, and such orders would count in revenue and CLV forever. So, daily by default and on
every ``sync --full``, the run compares the ids it holds with the ids the org still has (one
Id-only query per object; a Bulk API 2.0 query above ``L2L_PULL_BULK_THRESHOLD`` rows, a few
calls whatever the size) and forgets the rest. The compute step then no longer sees them, and
a person left with nothing gets clears, like anyone whose orders were deleted.

:func:`purged_ids` is the rule (pure); :func:`reconcile` applies it with a client and a store.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from connector.salesforce.port import SalesforcePort
from connector.store import Store

#: The pseudo-object under which the store keeps the moment of the last reconciliation.
RECONCILED_KEY = "@reconcile"


@dataclass(frozen=True)
class Reconciled:
    """What reconciling one object did."""

    held: int
    forgotten: int


def purged_ids(held: Iterable[str], live: set[str]) -> set[str]:
    """The held ids the org no longer has (not live: deleted, purged or hard-deleted)."""
    return {record_id for record_id in held if record_id not in live}


def due(last: datetime | None, now: datetime, interval_hours: int, *, full: bool) -> bool:
    """True when this run reconciles: a full sync, or the interval has passed since the last
    reconciliation (an interval of 0: every run). Without a last one, the interval starts now:
    a first sync has just pulled every record, so none can be missing yet."""
    if full or interval_hours == 0:
        return True
    return last is not None and now - last >= timedelta(hours=interval_hours)


def reconcile(
    client: SalesforcePort, store: Store, objects: Sequence[str], bulk_threshold: int
) -> dict[str, dict[str, int]]:
    """Forget, per object, the stored records the org no longer has; returns per object
    ``held``, ``forgotten`` and ``api_calls``. Objects with nothing stored cost no call."""
    out: dict[str, dict[str, int]] = {}
    for name in objects:
        held = store.records.ids(name)
        if not held:
            continue
        before = sum(client.calls.values())
        live = client.live_ids(name, bulk=len(held) > bulk_threshold)
        gone = purged_ids(held, live)
        store.records.forget(name, gone)
        out[name] = {
            "held": len(held),
            "forgotten": len(gone),
            "api_calls": sum(client.calls.values()) - before,
        }
    return out

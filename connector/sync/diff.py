"""The diff: which computed values must be written, and which queued writes no longer apply.

A pure function over plain dictionaries, so it is tested alone (properties included): the
engine gathers the inputs from the store and applies the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from connector.store.db import dumps

FieldKey = tuple[str, str, str]  # (object, record id, field)


@dataclass
class Diff:
    """Values to write, and outbox rows to drop."""

    changes: list[tuple[str, str, str, Any]] = field(default_factory=list)
    stale: list[FieldKey] = field(default_factory=list)


def diff(
    desired: Mapping[tuple[str, str], Mapping[str, Any]],
    written: Mapping[FieldKey, str],
    outbox: Mapping[FieldKey, tuple[str, str]],
    live: Mapping[str, Set[str]],
) -> Diff:
    """Compare desired field values with the last successful writes.

    - A value equal to the last written one is not written again (no Flow fires twice).
    - A ``None`` for a field never written is not written (nothing to clear).
    - Records that are gone (deleted, or never pulled) are not written.
    - A value Salesforce refused (outbox status ``failed``) is not sent again until it changes.
    - Outbox rows whose field is no longer wanted, or wanted with another value, are stale.
    """
    result = Diff()
    keep: set[FieldKey] = set()
    for (obj, record_id), values in desired.items():
        if record_id not in live.get(obj, ()):
            continue
        for field_name, value in values.items():
            key = (obj, record_id, field_name)
            text = dumps(value)
            if written.get(key) == text or (value is None and key not in written):
                continue
            queued = outbox.get(key)
            if queued is not None and queued == (text, "failed"):
                keep.add(key)  # refused as it is: wait for a new value, keep the record of it
                continue
            keep.add(key)
            result.changes.append((obj, record_id, field_name, value))
    result.stale = [key for key in outbox if key not in keep]
    return result

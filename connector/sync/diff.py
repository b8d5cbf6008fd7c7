"""The diff: which computed values must be written, and which queued writes no longer apply.

A pure function over plain dictionaries, so it is tested alone (properties included): the
engine gathers the inputs from the store and applies the result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connector.store import dumps

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
    min_change: Mapping[tuple[str, str], float] | None = None,
) -> Diff:
    """Compare desired field values with the last successful writes.

    - A value equal to the last written one is not written again (no Flow fires twice).
    - A value within ``min_change[(object, field)]`` of the last written one is not written
      either: numbers by their difference, dates (``YYYY-MM-DD...``) by days.
    - A ``None`` for a field never written is not written (nothing to clear).
    - Records that are gone (deleted, or never pulled) are not written.
    - A value Salesforce refused (outbox status ``failed``) is not sent again until it changes.
    - Outbox rows whose field is no longer wanted, or wanted with another value, are stale.
    """
    result = Diff()
    changes = result.changes
    if not written and not outbox:
        # Nothing written or queued yet (a first sync): every value but a None is a change.
        # The general loop below gives the same list; this one skips its per-value encoding
        # and lookups, 2.0M values of the medium seed's first sync.
        for (obj, record_id), values in desired.items():
            if record_id in live.get(obj, ()):
                changes += [(obj, record_id, f, v) for f, v in values.items() if v is not None]
        return result
    keep: set[FieldKey] = set()
    for (obj, record_id), values in desired.items():
        if record_id not in live.get(obj, ()):
            continue
        for field_name, value in values.items():
            key = (obj, record_id, field_name)
            old = written.get(key)
            if old is None and value is None:
                continue  # nothing to clear
            text = dumps(value)
            if old == text:
                continue
            tolerance = min_change.get((obj, field_name)) if min_change else None
            if tolerance is not None and old is not None:
                moved = _distance(old, value)
                if moved is not None and moved < tolerance:
                    continue
            queued = outbox.get(key)
            if queued is not None and queued == (text, "failed"):
                keep.add(key)  # refused as it is: wait for a new value, keep the record of it
                continue
            keep.add(key)
            changes.append((obj, record_id, field_name, value))
    result.stale = [key for key in outbox if key not in keep]
    return result


def _distance(written_text: str, value: Any) -> float | None:
    """How far ``value`` moved from the written one: a number's difference, a date's days;
    None when the two cannot be compared (a clear, a type change)."""
    try:
        old = json.loads(written_text)
    except ValueError:
        return None
    if isinstance(old, bool) or isinstance(value, bool) or old is None or value is None:
        return None
    if isinstance(old, int | float) and isinstance(value, int | float):
        return abs(float(value) - float(old))
    if isinstance(old, str) and isinstance(value, str):
        try:
            then, now = datetime.fromisoformat(old), datetime.fromisoformat(value)
        except ValueError:
            return None
        if (then.tzinfo is None) != (now.tzinfo is None):
            return None
        return abs((now - then).total_seconds()) / 86_400
    return None

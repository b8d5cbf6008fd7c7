"""Our own write-back, read back: recognised, left out of the pull, and swept for what it hides.

Salesforce sets ``SystemModstamp``, ``LastModifiedDate`` and ``LastModifiedById`` on every save
("System Fields", SOAP API Developer Guide), so each record the push writes comes back in the
next incremental window: on the large seed the sync after a full write-back re-read 500,000
Contacts (254 calls, 145 s) to learn nothing. Three parts keep that from costing anything:

1. **Spans.** Each push records, per object, the span of time its writes took (widened by
   ``MARGIN`` for clock skew and commit lag). A row whose ``LastModifiedById`` is the
   integration user and whose ``SystemModstamp`` is inside a span was last saved by that push:
   an echo. Incremental windows leave those rows out (:class:`~connector.salesforce.Echoes`),
   so they cost no read calls. Rows saved by anyone else, or by the integration user at any
   other time (another tool sharing the user, a test), are read as before.
2. **The sweep.** An echo can hide a real change: an admin edits a record after the run's pull
   window ended and before the push saved the same record; the record then shows only our
   user and our stamp ("what a record changed by both an admin and us in one window looks
   like": the last save's user and time, nothing of the first). So every span is read once,
   alone (``only=True``), when it is ``L2L_PULL_ECHO_SWEEP_MINUTES`` old (60 by default).
   Why nothing is missed: every row's latest state has a ``SystemModstamp`` ``s`` and a last
   saver ``u``. If ``s`` is in no span or ``u`` is not us, the incremental windows (contiguous
   in ``SystemModstamp``, with their lookback) read it; otherwise the sweep of the span holding
   ``s`` reads it, and that sweep runs before its span is forgotten. A later save moves ``s``
   and the argument starts again. The hidden change is late by at most the sweep period plus
   one sync interval; the sweep costs at most what reading the echoes at once would have (each
   record once per sweep, however often it was written), and on most runs nothing.
3. **Comparison.** A re-read row equal to the stored one in everything but the bookkeeping
   columns changes nothing (``store.records.upsert``), so echoes the sweep or a full pull read
   mark nobody dirty and the compute step is skipped (``SyncEngine``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from connector.store import Store

# Allowance around a push's own clock readings for the skew between our clock and Salesforce's
# (the pull lag already trusts them to agree within seconds). A push's saves fall between its
# first request and its last answer (a Bulk API job's too: we wait for JobComplete), so the
# span needs nothing more. Wider only delays other same-user saves until the sweep.
MARGIN = timedelta(seconds=2)

Span = tuple[datetime, datetime]


class EchoLedger:
    """The spans of our writes per object not yet swept, kept in the store between runs."""

    def __init__(self, store: Store, sweep_after: timedelta) -> None:
        self.store = store
        self.sweep_after = sweep_after

    def spans(self, object_name: str) -> list[Span]:
        """Unswept spans of ``object_name``, oldest first."""
        text = self.store.records.state(_key(object_name))
        if not text:
            return []
        return [(_parse(a), _parse(b)) for a, b in json.loads(text)]

    def record(self, object_name: str, start: datetime, end: datetime) -> None:
        """A push wrote ``object_name`` between ``start`` and ``end`` (our clock, UTC)."""
        # SOQL compares datetimes to the second: the span is widened to whole seconds.
        low = (start - MARGIN).replace(microsecond=0)
        high = (end + MARGIN).replace(microsecond=0) + timedelta(seconds=1)
        spans = [*self.spans(object_name), (low, high)]
        self._save(object_name, _merged(spans))

    def due(self, object_name: str, now: datetime, since: datetime) -> list[Span]:
        """Spans old enough to be swept at ``now`` and out of reach of the incremental window
        starting at ``since`` (once swept they are forgotten, so a window that still reached
        them would read their echoes again)."""
        oldest = min(now - self.sweep_after, since)
        return [s for s in self.spans(object_name) if s[1] <= oldest]

    def swept(self, object_name: str, spans: Sequence[Span]) -> None:
        """``spans`` were read whole: forget them."""
        done = set(spans)
        self._save(object_name, [s for s in self.spans(object_name) if s not in done])

    def covered(self, object_name: str, until: datetime) -> None:
        """A full pull read every row stamped before ``until``: spans ending by then are read."""
        self._save(object_name, [s for s in self.spans(object_name) if s[1] > until])

    def _save(self, object_name: str, spans: Sequence[Span]) -> None:
        value = json.dumps([[a.isoformat(), b.isoformat()] for a, b in spans]) if spans else None
        self.store.records.set_state(_key(object_name), value)


def _key(object_name: str) -> str:
    return f"echo_spans:{object_name}"


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _merged(spans: Sequence[Span]) -> list[Span]:
    """Overlapping spans as one, oldest first (a query names each span it leaves out)."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out

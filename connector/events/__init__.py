"""Behavioural events: the generic message format, normalisation and file imports.

Events arrive as Segment/RudderStack-style messages (``track`` and ``identify``) from the
events API, from webhooks, or from a file backfill (``lead2loyalty import``). They are stored
once per (source, delivery id) in the store's append-only log; identity (which Contact or Lead
an event belongs to) is resolved at compute time, so an email that binds later needs nothing.
"""

from __future__ import annotations

from connector.events.generic import EventProblem, normalise_message
from connector.events.importer import ImportReport, import_file

__all__ = ["EventProblem", "ImportReport", "import_file", "normalise_message"]

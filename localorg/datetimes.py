"""The storage form of a Salesforce datetime, spelled once: ``2026-01-02T03:04:05.000+0000``.

Salesforce prints datetimes in UTC with milliseconds and a ``+0000`` zone ("dateTime" in the
SOAP/REST API Developer Guides' primitive data types), so localorg stores them as that text:
ordering the text orders the moments. The store, the SOQL translator and the seed generator
all write it through this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time

# What precedes the milliseconds: also what numpy's datetime_as_string(unit="s") writes.
_SECONDS = "%Y-%m-%dT%H:%M:%S"
_ZONE = "+0000"


def format_datetime(moment: datetime) -> str:
    """A datetime as Salesforce prints it: UTC, milliseconds, ``+0000``."""
    moment = moment.astimezone(UTC)
    return f"{moment.strftime(_SECONDS)}.{moment.microsecond // 1000:03d}{_ZONE}"


def format_midnight(day: date) -> str:
    """The first moment of ``day`` (UTC) in storage form."""
    return format_datetime(datetime.combine(day, time(), UTC))


def format_whole_seconds(texts: Iterable[str]) -> list[str]:
    """Storage form of ``YYYY-MM-DDTHH:MM:SS`` UTC texts: the fast path for generated rows.

    The same text :func:`format_datetime` writes for a moment on a whole second.
    """
    tail = f".000{_ZONE}"
    return [text + tail for text in texts]

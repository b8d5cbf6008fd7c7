"""Figures a page keeps until what they are read from changes.

The scores and KPI pages read every written value of a few fields (50,000 Contacts each on the
medium seed: 150-250 ms a request, over the 300 ms target under load). Those values move only
when a run writes, a record is pulled or an entry is booked; :meth:`AdminRepository.change_marks`
says when, in three O(1) reads. So the first request after a change computes and every later
one reads this worker's copy. Per process (a gunicorn worker computes its own once), keyed by
database and page, so two apps in one process (the tests) never share figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from connector.web import intake

T = TypeVar("T")

#: (database, page) -> (marks, figures).
_KEPT: dict[tuple[str, str], tuple[Any, Any]] = {}


def kept(page: str, compute: Callable[[], T], *extra: object) -> T:
    """``compute()``, or the figures it gave last time for ``page`` when nothing it reads has
    changed since (the store's change marks, the mappings, and ``extra``)."""
    marks = (intake.store().admin.change_marks(), *extra)
    key = (str(intake.settings().database), page)
    found = _KEPT.get(key)
    if found is not None and found[0] == marks:
        value: T = found[1]
        return value
    value = compute()
    _KEPT[key] = (marks, value)
    return value

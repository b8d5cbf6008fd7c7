"""Moments: a score crossing a line (intent rises to 4.0 or above) fires a Flow once.

A pure rule over plain data, like ``sync/diff.py``; the glue in ``sync/intent.py`` reads the
fired set from the store, invokes the Flow and stores the outcome.

Rules:

- A person not in ``fired`` whose score is at or above ``threshold`` crosses: fire.
- A person in ``fired`` stays quiet while their score stays at or above ``rearm``; once it falls
  below ``rearm`` they are re-armed (removed from ``fired``), so the next rise fires again.
- A person without a score now (no longer computed, deleted) is re-armed too.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field


@dataclass
class Crossings:
    """Who fires now, and who is re-armed."""

    fire: list[str] = field(default_factory=list)
    rearm: list[str] = field(default_factory=list)


def crossings(
    scores: Mapping[str, float], fired: Set[str], threshold: float, rearm: float
) -> Crossings:
    """Apply the rules above to ``scores`` (record id -> score) and the ``fired`` record ids."""
    out = Crossings()
    for record_id, score in scores.items():
        if record_id in fired:
            if score < rearm:
                out.rearm.append(record_id)
        elif score >= threshold:
            out.fire.append(record_id)
    out.rearm.extend(sorted(r for r in fired if r not in scores))
    out.fire.sort()
    return out

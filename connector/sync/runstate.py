"""Typed run state: the statuses a run ends in, its write counts, and the exit code of each.

A run record is what an operator reads to tell a failing schedule from a healthy one, so its
status means one thing everywhere:

============== ==== =============================================================================
status         exit what it says
============== ==== =============================================================================
succeeded      0    every changed value is in Salesforce; nothing refused, carried or unsent
partial        2    the run finished, but some values wait: refused by Salesforce, carried to
                    the next run after retries, or not writable by their mapping (``outstanding``
                    lists which, and why)
quota_stopped  2    the quota guard stopped the run cleanly; the next run resumes
failed         1    the run stopped on an error (its one-line reason is in ``errors``); a refused
                    sign-in is a failed run too
crashed        1    the process died mid-run (killed, out of memory, power); found and marked by
                    the next run, which also settles the writes that were in flight
running        1    still in progress (only ever seen by another process)
============== ==== =============================================================================

:func:`exit_code` is the one place the CLI's exit codes come from (``sync``, ``clock --once``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any


class RunStatus(StrEnum):
    """How a run ended (a ``str``, so JSON, SQLite and ``== "succeeded"`` keep working)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    QUOTA_STOPPED = "quota_stopped"
    FAILED = "failed"
    CRASHED = "crashed"


_EXIT_CODES = {
    RunStatus.SUCCEEDED: 0,
    RunStatus.PARTIAL: 2,
    RunStatus.QUOTA_STOPPED: 2,
    RunStatus.FAILED: 1,
    RunStatus.CRASHED: 1,
    RunStatus.RUNNING: 1,
}


def exit_code(status: str) -> int:
    """The process exit code for a run that ended in ``status``: 0 succeeded, 2 partial or
    quota-stopped (the next run picks the rest up), 1 anything else (failed, crashed, a run
    that did not start)."""
    try:
        return _EXIT_CODES[RunStatus(status)]
    except ValueError:
        return 1


@dataclass
class WriteCounts:
    """What a run wrote, in records (``fields_changed`` and ``unmappable`` count values).

    ``planned`` is what a dry run would write; ``queued`` what a real run set out to write
    (this run's changes plus values carried from earlier runs). The JSON key ``planned`` keeps
    its documented meaning, "records this run would write or set out to write", for scripts
    that read it; ``queued`` is the same number for real runs only.
    """

    planned: int = 0
    queued: int = 0
    succeeded: int = 0
    failed: int = 0
    carried_over: int = 0
    fields_changed: int = 0
    unmappable: int = 0
    # Values found already in Salesforce when a crashed run's in-flight writes were checked:
    # recorded as written without sending them again.
    verified: int = 0
    # API calls spent reading those in-flight values back (one query per 200 records).
    read_back_calls: int = 0

    def as_json(self, *, dry_run: bool = False) -> dict[str, int]:
        """The ``writes`` object of ``sync --json``."""
        out = asdict(self)
        out["planned"] = self.planned if dry_run else self.queued
        return out

    def __getitem__(self, key: str) -> int:
        # Read access by the documented JSON names, for scripts and tests written against them.
        if key == "planned":
            return self.planned or self.queued
        return int(getattr(self, _name(key)))

    def __setitem__(self, key: str, value: int) -> None:
        setattr(self, _name(key), value)


def _name(key: str) -> str:
    if key not in {f.name for f in fields(WriteCounts)}:
        raise KeyError(key)
    return key


def outstanding_summary(rows: list[dict[str, Any]]) -> list[str]:
    """One line per group of values still waiting in the outbox, for a run's errors."""
    return [
        f"{r['values']:,} {r['object']}.{r['field']} value(s) "
        + _WAITING.get(r["status"], f"waiting ({r['status']})")
        + (f": {r['reason']}" if r.get("reason") else "")
        for r in rows
    ]


_WAITING = {
    "failed": "refused by Salesforce (sent again when the value changes, or with --retry-failed)",
    "carried": "carried to the next run after retries",
    "pending": "not sent yet",
    "in_flight": "sent, outcome unknown (checked against the org by the next run)",
}

"""File backfills: ``lead2loyalty import events.jsonl``.

Streams the file in batches, so a file of millions of lines needs little memory; a line that
cannot be stored is reported with its line number and skipped, never losing the rest; a
re-import stores nothing twice (the log is idempotent on source and message id).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from connector.errors import ConfigError
from connector.events.generic import EventProblem, normalise_message
from connector.store import Store

BATCH = 5_000


@dataclass
class ImportReport:
    """What an import stored, skipped as already stored, and rejected (with line numbers)."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        """The ``import --json`` object."""
        return {
            "read": self.read,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": len(self.rejected),
            "problems": self.rejected[:50],
        }


def import_file(
    store: Store,
    path: Path,
    *,
    source: str = "import",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a JSON-lines file of generic event messages into the event log."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; give a JSON-lines file of event messages")
    report = ImportReport()
    batch: list[dict[str, object]] = []

    def flush() -> None:
        stored = store.events.append(batch)
        report.stored += stored
        report.duplicates += len(batch) - stored
        batch.clear()
        if progress:
            progress(report.read)

    # Bytes, decoded line by line: one line of another encoding (a Latin-1 name, a truncated
    # write) is that line's problem, listed and skipped, never the whole file's.
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            report.read += 1
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                report.rejected.append(
                    f"{path}:{number}: not UTF-8 text (byte {raw[exc.start]:#04x} at column "
                    f"{exc.start + 1})"
                )
                continue
            try:
                batch.append(normalise_message(json.loads(line), source))
            except json.JSONDecodeError as exc:
                report.rejected.append(f"{path}:{number}: not JSON ({exc.msg})")
            except EventProblem as exc:
                report.rejected.append(f"{path}:{number}: {exc}")
            if len(batch) >= BATCH:
                flush()
    flush()
    return report

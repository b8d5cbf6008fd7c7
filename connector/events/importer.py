"""File backfills: ``lead2loyalty import events.jsonl``.

Streams the file in batches, so a file of millions of lines needs little memory; a line that
cannot be stored is reported with its line number and skipped, never losing the rest; a
re-import stores nothing twice (the log is idempotent on source and message id). A line is
read within the bounds of :mod:`connector.bounds` (nesting, 64-bit numbers) and at most
``MAX_LINE_BYTES`` long: a longer line is rejected on its own, read past in bounded steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from connector.bounds import OutOfBounds, load_json
from connector.errors import ConfigError
from connector.events.generic import EventProblem, normalise_message
from connector.store import Store

BATCH = 5_000
# A message is 32 KB at most on the events API (Segment's limit); a backfill line gets room
# for large properties, and no line can take the process's memory.
MAX_LINE_BYTES = 1_000_000


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
    with path.open("rb") as handle:
        for number, raw in enumerate(_lines(handle), start=1):
            if raw is None:
                report.read += 1
                report.rejected.append(f"{path}:{number}: longer than {MAX_LINE_BYTES:,} bytes")
                continue
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
                batch.append(normalise_message(load_json(line), source))
            except OutOfBounds as exc:
                report.rejected.append(f"{path}:{number}: {exc}")
            except ValueError as exc:
                report.rejected.append(f"{path}:{number}: not JSON ({getattr(exc, 'msg', exc)})")
            except EventProblem as exc:
                report.rejected.append(f"{path}:{number}: {exc}")
            if len(batch) >= BATCH:
                flush()
    flush()
    return report


def _lines(handle: BinaryIO) -> Iterator[bytes | None]:
    """Each line of ``handle`` (None for one over ``MAX_LINE_BYTES``, read past in steps)."""
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = handle.readline(MAX_LINE_BYTES)
            yield None
            continue
        yield raw

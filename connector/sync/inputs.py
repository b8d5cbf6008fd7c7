"""When the compute step can be skipped: nothing it reads has changed since it last ran.

A no-op sync on the medium seed spent 9 s refitting every model (13 s in all) to compute the
values it had computed a minute before. The computed values are a pure function of:

- the stored records and events: :meth:`RecordsRepository.input_generation` moves with every new or
  changed pulled row (echoes of our own writes change nothing) and every appended event;
- the day: RFM recency and the models' horizons count in days from today (UTC);
- the mappings and model settings, and the connector's own code (:func:`fingerprint`).

The engine skips the compute step when all three equal those of the last run that computed
and queued its changes; anything else, and ``--full``, ``--dry-run`` or ``--retry-failed``,
computes. A run whose values could not all be mapped is not remembered, so the next run
computes again once the admin fixed the field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from pathlib import Path

STATE_KEY = "computed_inputs"


CODE = Path(__file__).resolve().parent.parent  # the connector package


def fingerprint(folders: Iterable[Path]) -> str:
    """A digest of the YAML files under ``folders`` and of the connector's Python sources and
    JSON package data (names and bytes): a new mapping, model setting or release computes
    again. About 5 ms."""
    digest = hashlib.sha256()
    # the package's JSON too: the shipped sentiment model (connector/texts/sentiment_model.json,
    # 0.9 MB, 0.5 ms to hash: best of 20, hashlib.sha256 on this machine) is code in all but
    # name
    sources = [(f, "*.y*ml") for f in folders] + [(CODE, "*.py"), (CODE, "*.json")]
    for folder, pattern in sources:
        for path in sorted(folder.rglob(pattern)) if folder.is_dir() else []:
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def inputs_key(generation: int, day: date, config: str) -> str:
    """The identity of one compute's inputs, as stored after it ran."""
    return json.dumps({"generation": generation, "day": day.isoformat(), "config": config})

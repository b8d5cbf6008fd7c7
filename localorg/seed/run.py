"""What one generation shares across its chunks: the clock, the id factory, the random streams,
the row counts and the two outputs (the event log and the truth files)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from localorg.ids import IdFactory
from localorg.seed.events import EventLog
from localorg.seed.frame import Columns, Same, datetimes
from localorg.seed.params import Arr, Population, SeedSize
from localorg.seed.truth import TruthFiles


class Counts(dict[str, int]):
    """Rows made per object (and events written), for ``truth/params.json``."""

    def add(self, key: str, n: int) -> None:
        """Add ``n`` to ``key``'s count."""
        self[key] = self.get(key, 0) + n


def stream(seed: int, name: str, chunk: int) -> np.random.Generator:
    """The random stream of one part (``"customers"``, ``"leads"``...) and chunk.

    Each chunk has its own stream, so a chunk's rows do not depend on how many numbers the
    chunks before it drew.
    """
    key = [seed, sum(ord(c) * 31**i for i, c in enumerate(name)) % 2**32, chunk]
    return np.random.default_rng(key)


@dataclass
class SeedRun:
    """One generation in progress. ``now`` is in epoch seconds (a whole second), ``holdout``
    in days."""

    spec: SeedSize
    ids: IdFactory
    owner: str
    now: float
    seed: int
    holdout: float
    pop: Population
    converted_mask: Arr  # per customer: came from a converted Lead
    events: EventLog
    truth: TruthFiles
    counts: Counts = field(default_factory=Counts)
    order_seq: int = 0

    def rng(self, name: str, chunk: int) -> np.random.Generator:
        """The random stream of part ``name`` and ``chunk`` (see :func:`stream`)."""
        return stream(self.seed, name, chunk)

    def count(self, obj: str, n: int) -> None:
        """Add ``n`` to the row count of ``obj``."""
        self.counts.add(obj, n)

    def mint(self, obj: str, n: int) -> list[str]:
        """``n`` fresh ids of ``obj``, counted."""
        self.count(obj, n)
        return self.ids.batch(obj, n)

    def system(
        self, obj: str, n: int, created: Arr, modified: Arr | None = None, *, owner: bool = True
    ) -> tuple[list[str], Columns]:
        """Fresh ids and the system columns of ``n`` rows of ``obj`` created at ``created``."""
        ids = self.mint(obj, n)
        return ids, self.system_columns(ids, created, modified, owner=owner)

    def system_columns(
        self, ids: list[str], created: Arr, modified: Arr | None = None, *, owner: bool = True
    ) -> Columns:
        """The system columns (Id, dates, owner...) of rows with ``ids``."""
        created_text = datetimes(created)
        modified_text = created_text if modified is None else datetimes(modified)
        cols: Columns = {
            "Id": ids,
            "IsDeleted": Same(0),
            "CreatedDate": created_text,
            "CreatedById": Same(self.owner),
            "LastModifiedDate": modified_text,
            "LastModifiedById": Same(self.owner),
            "SystemModstamp": modified_text,
        }
        if owner:
            cols["OwnerId"] = Same(self.owner)
        return cols

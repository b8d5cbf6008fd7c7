"""The small seed's Orders and its planted truth (issue 24), generated once per session."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from localorg.ids import IdFactory
from localorg.seed import generate

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Planted:
    """The seed's rows per object as frames, and its truth folder."""

    frames: dict[str, pd.DataFrame]
    truth: Path

    def csv(self, name: str) -> pd.DataFrame:
        """One truth file."""
        return pd.read_csv(self.truth / name, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    out = tmp_path_factory.mktemp("planted")
    rows: dict[str, list[dict[str, object]]] = {}
    for obj, batch in generate(
        "small", out, IdFactory(), owner_id="005000000000001AAA", now=NOW, rng_seed=7
    ):
        if obj in ("Order", "OrderItem", "Product2", "Contact"):
            rows.setdefault(obj, []).extend(batch)
    return Planted({k: pd.DataFrame(v) for k, v in rows.items()}, out / "truth")

"""Shared fixtures: the CDNOW reference data (see tests/fixtures/cdnow/README.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

CDNOW = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow"


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    """The published 39-week calibration summary (ID, x, t_x, T, zbar; weeks)."""
    return pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="session")
def cdnow_orders() -> pd.DataFrame:
    """The raw CDNOW transactions as an orders table (one row per purchase record)."""
    raw = pd.read_csv(
        CDNOW / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "n_cds", "amount"],
        dtype={"date": str},
    )
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d").dt.tz_localize("UTC"),
            "amount": raw["amount"].astype(float),
        }
    )

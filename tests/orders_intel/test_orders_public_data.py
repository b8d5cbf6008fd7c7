"""On public retail data (UCI Online Retail, tests/fixtures/online_retail/README.md), the
co-purchase recommender beats the popularity baseline at 10 on a time split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from connector.orders_intel.evaluate import recommendation_split

LINES = Path(__file__).resolve().parents[1] / "fixtures" / "online_retail" / "lines.csv.gz"


def test_beats_popularity_at_ten_on_online_retail() -> None:
    lines = pd.read_csv(LINES, dtype=str).dropna(subset=["CustomerID"])
    lines = lines[~lines["InvoiceNo"].str.startswith("C")]  # cancellations are no purchases
    purchases = pd.DataFrame(
        {
            "person": lines["CustomerID"],
            "item": lines["StockCode"],
            "day": pd.to_datetime(lines["InvoiceDate"]),
        }
    )
    figures = recommendation_split(purchases, "2010-12-08", 10)
    print(figures)  # no published figure for this cut (the fixture's README)
    assert figures["people"] >= 50
    assert figures["model"]["hit_rate@10"] > figures["popularity"]["hit_rate@10"]
    assert figures["model"]["ndcg@10"] > figures["popularity"]["ndcg@10"]

"""Loyalty fixtures: a temp models dir with a small ``loyalty.yaml``, a temp database with one
Contact, settings pointing at both, and a helper to book orders through the real pure path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from connector.config import Settings, load_settings
from connector.loyalty.book import book
from connector.loyalty.wiring import load_config
from connector.store import Store
from tests.backends import database_settings

TOKEN = "loyalty-test-token-7f3a91"
OTHER_TOKEN = "second-storefront-token-22b"
ANN = "003000000000001AAA"
BOB = "003000000000002AAA"

PROGRAM_YAML = """\
programs:
  - id: club
    name: Club
    type: tiered
    brands: [north, south]
    timezone: Europe/Berlin
    earning:
      - {id: base, kind: spend, points_per_unit: 1}
      - {id: big_order, kind: threshold, min_amount: 500, points: 100}
    tiers:
      levels:
        - {name: Bronze, min_points: 0}
        - {name: Silver, min_points: 1000}
        - {name: Gold, min_points: 5000}
    expiry: {mode: lot, months: 12}
    vouchers:
      - {id: five_off, kind: fixed, value: 5, cost_points: 300}
      - {id: promo_only, kind: percent, value: 10}
"""


def make_settings(tmp_path: Path, *, tokens: str = f"{TOKEN},{OTHER_TOKEN}") -> Settings:
    """Settings over a fresh database and models dir (with the test program) in ``tmp_path``."""
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    (models / "loyalty.yaml").write_text(PROGRAM_YAML, encoding="utf-8")
    settings = load_settings(
        **database_settings(tmp_path), models_dir=models, loyalty_api_tokens=tokens
    )
    store = Store(settings.store_location)
    store.records.upsert(
        "Contact",
        [
            {"Id": ANN, "Email": "Ann@Example.com", "IsDeleted": False},
            {"Id": BOB, "Email": "bob@example.com", "IsDeleted": False},
        ],
    )
    store.close()
    return settings


def book_orders(
    settings: Settings, orders: Sequence[tuple[str, str, float, int]], *, now: datetime
) -> int:
    """Book ``(order id, member key, amount, days ago)`` orders into the journal; returns the
    number of new entries."""
    program = load_config(settings).programs[0]
    frame = pd.DataFrame(
        {
            "order_id": [o[0] for o in orders],
            "member": [o[1] for o in orders],
            "amount": [float(o[2]) for o in orders],
            "at": pd.to_datetime([now - timedelta(days=o[3]) for o in orders], utc=True),
            "original_order_id": [None] * len(orders),
        }
    )
    store = Store(settings.store_location)
    try:
        books = store.loyalty
        with store.transaction():
            return books.append(book(program, frame, books.journal(program.id), now))
    finally:
        store.close()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Fresh settings (no stray .env) with Ann holding 1,200 points from two orders."""
    monkeypatch.chdir(tmp_path)
    s = make_settings(tmp_path)
    book_orders(
        s,
        [("801A", f"Contact:{ANN}", 400.0, 20), ("801B", f"Contact:{ANN}", 700.0, 10)],
        now=datetime.now(UTC),
    )
    return s

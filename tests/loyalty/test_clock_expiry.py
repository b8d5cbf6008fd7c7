"""The clock's daily loyalty expiry job (``connector.scheduler:expiry_job``) on a real temp
database and models dir: it posts what is due once, and does nothing without a program."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.config import Settings, load_settings
from connector.scheduler import expiry_job
from connector.store import Store
from tests.backends import database_env, store_location
from tests.loyalty.conftest import BOB, book_orders


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # the job reads its settings afresh from the environment, as the clock process does
    for name, value in database_env(settings.store_location).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("L2L_MODELS_DIR", str(settings.models_dir))
    return settings


def test_expiry_job_posts_the_due_expiry_once(env: Settings) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=400)
    # Bob earned 120 points 410 days ago: past the program's 12 months
    book_orders(env, [("801X", f"Contact:{BOB}", 120.0, 10)], now=long_ago)

    assert expiry_job() == {"club": 120}
    assert expiry_job() == {"club": 0}  # a second run (a coalesced or repeated day)

    store = Store(env.store_location)
    try:
        journal = store.loyalty.journal("club")
    finally:
        store.close()
    bob = journal[(journal["member"] == f"Contact:{BOB}") & (journal["currency"] == "points")]
    assert list(bob["kind"]) == ["accrual", "expiry"]
    assert int(bob["points"].sum()) == 0
    # Ann's points (earned 10 and 20 days ago, booked now) are untouched: one expiry entry
    assert int((journal["kind"] == "expiry").sum()) == 1


def test_expiry_job_without_a_program_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    for name, value in database_env(store_location(tmp_path)).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("L2L_MODELS_DIR", str(models))
    assert load_settings().models_dir == models
    assert expiry_job() == {}

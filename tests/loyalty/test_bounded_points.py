"""Points stay inside their documented bound (connector/bounds.py) on every way in: the adjust
command, the loyalty API's body reader, and the operation itself; nothing reaches the journal."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from connector.bounds import MAX_JSON_DEPTH, MAX_POINTS
from connector.cli import main
from connector.config import Settings
from connector.store import Store
from connector.web import create_app
from tests.backends import database_env
from tests.loyalty.conftest import ANN, TOKEN


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in database_env(settings.store_location).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("L2L_MODELS_DIR", str(settings.models_dir))
    return settings


def _journal_size(settings: Settings) -> int:
    store = Store(settings.store_location)
    try:
        return len(store.loyalty.journal("club"))
    finally:
        store.close()


@pytest.mark.parametrize(
    "points",
    ["9223372036854775808", "92233720368547758080", "-9223372036854775809", str(MAX_POINTS + 1)],
)
def test_adjust_refuses_points_beyond_int64(env: Settings, points: str) -> None:
    before = _journal_size(env)
    result = CliRunner().invoke(
        main, ["loyalty", "adjust", ANN, "--points", points, "--reason", "x"]
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--points'" in result.output
    assert "Traceback" not in result.output
    assert _journal_size(env) == before


def test_adjust_at_the_bound_is_booked(env: Settings) -> None:
    result = CliRunner().invoke(
        main, ["loyalty", "adjust", ANN, "--points", str(MAX_POINTS), "--reason", "x", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert '"points": 1000000000000' in result.output


def _post(settings: Settings, body: bytes) -> Any:
    client = create_app(settings).test_client()
    return client.post(
        f"/v1/loyalty/members/{ANN}/accruals",
        data=body,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Idempotency-Key": "deep-1",
            "Content-Type": "application/json",
        },
    )


@pytest.mark.parametrize(
    "body",
    [
        b'{"points": 10, "partner": "p", "x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b'{"points": 10, "partner": "p", "x": '
        + b"[" * (MAX_JSON_DEPTH + 1)
        + b"]" * (MAX_JSON_DEPTH + 1)
        + b"}",
        b'{"points": 9223372036854775808, "partner": "p"}',
        b'{"points": 10, "partner": "p", "rate": NaN}',
    ],
)
def test_loyalty_body_past_its_bounds_is_400_and_books_nothing(
    settings: Settings, body: bytes
) -> None:
    before = _journal_size(settings)
    response = _post(settings, body)
    assert response.status_code == 400
    assert response.get_json()["code"] == "invalid_body"
    assert _journal_size(settings) == before

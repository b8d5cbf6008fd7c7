"""Two gunicorn workers, two client processes, one member: redemptions never overdraw and an
idempotency key redeems once, however the requests interleave."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from connector.store import Store
from tests.loyalty.conftest import ANN, TOKEN, book_orders, make_settings
from tests.webhooks.helpers import gunicorn

START_POINTS = 1_000
SPEND = 37  # each request; START_POINTS is no multiple of it, so the last refusals are tight
PER_CLIENT = 30
SHARED = [f"shared-{i}" for i in range(10)]  # both clients send these keys


def _client(args: tuple[str, str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    """One client process: its own keys interleaved with the shared ones, as fast as it can."""
    base, name, barrier = args
    http = requests.Session()
    http.trust_env = False
    keys = [f"{name}-{i}" for i in range(PER_CLIENT)]
    order = [k for pair in zip(keys, SHARED + [""] * PER_CLIENT, strict=False) for k in pair if k]
    barrier.wait()  # both start together
    out = []
    for key in order:
        response = http.post(
            f"{base}/v1/loyalty/members/{ANN}/redemptions",
            json={"points": SPEND},
            headers={"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": key},
            timeout=30,
        )
        out.append((key, response.status_code, response.json()))
    http.close()
    return out


@pytest.fixture
def server(tmp_path: Path) -> Any:
    settings = make_settings(tmp_path)
    now = datetime.now(UTC)
    # 1,000 points in three lots (400 + 450 + 150; no order reaches the threshold rule)
    book_orders(
        settings,
        [
            ("801A", f"Contact:{ANN}", 400.0, 30),
            ("801B", f"Contact:{ANN}", 450.0, 20),
            ("801C", f"Contact:{ANN}", 150.0, 10),
        ],
        now=now,
    )
    # two workers importing pandas on a busy machine: up to 60 s before they serve
    with gunicorn(
        settings.store_location,
        tmp_path,
        ready_within=60.0,
        L2L_MODELS_DIR=str(settings.models_dir),
        L2L_LOYALTY_API_TOKENS=TOKEN,
    ) as served:
        yield served.url, settings
    assert "Traceback" not in served.stderr
    assert TOKEN not in served.stderr


def test_two_processes_never_overdraw_and_each_key_redeems_once(server: Any) -> None:
    base, settings = server
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(2)
    with ctx.Pool(2) as pool:
        results = pool.map(_client, [(base, "a", barrier), (base, "b", barrier)])
    responses = [r for client in results for r in client]
    assert {status for _, status, _ in responses} <= {200, 201, 409}, responses

    store = Store(settings.store_location)
    try:
        journal = store.loyalty.journal("club", f"Contact:{ANN}")
    finally:
        store.close()
    points = journal[journal["currency"] == "points"]
    earned = int(points[points["kind"] == "accrual"]["points"].sum())
    assert earned == START_POINTS
    redemptions = points[points["kind"] == "redemption"]
    final = int(points["points"].sum())
    # never overdrawn, and every point the journal says was spent was accepted by a 201
    assert final >= 0
    accepted = [(k, body["points"]) for k, status, body in responses if status == 201]
    assert sum(p for _, p in accepted) == -int(redemptions["points"].sum()) <= START_POINTS
    assert final == START_POINTS - sum(p for _, p in accepted)
    # refusals were honest: what is left cannot pay for one more request
    assert final < SPEND
    assert any(status == 409 for _, status, _ in responses)
    # one journal entry per key, one 201 per key; the shared keys' second answers repeat it
    assert redemptions["key"].is_unique
    assert len(redemptions) == len(accepted) == len({k for k, _ in accepted})
    for key in SHARED:
        # both answers say the same: spent once (201, then 200 repeating it) or refused twice
        answers = sorted(status for k, status, _ in responses if k == key)
        assert answers in ([200, 201], [409, 409]), (key, answers)
        repeat = [body for k, status, body in responses if k == key and status == 200]
        assert all(body["repeated"] and body["points"] == SPEND for body in repeat)

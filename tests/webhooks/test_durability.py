"""A crash between storing and normalising loses nothing: what got a 2xx is on disk, and the
next worker pass (after a restart) turns it into events."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from connector.store import Store
from tests.backends import store_location
from tests.webhooks.helpers import encode, fixture, gunicorn, server_env, shopify_headers


def test_acknowledged_deliveries_survive_a_killed_server(tmp_path: Path) -> None:
    database = store_location(tmp_path)
    keys = []
    with gunicorn(database, tmp_path) as server:
        for n in range(20):
            order = {**fixture("shopify_orders_create.json"), "id": 10_000 + n}
            body = encode(order)
            headers = shopify_headers(body, "orders/create")
            assert server.post("/webhooks/shopify", body, headers).status_code == 200
            keys.append(headers["X-Shopify-Event-Id"])
        # The crash: every gunicorn process killed at once, no shutdown, no normalising.
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
    store = Store(database)
    stored = store.db.conn.execute(
        "SELECT COUNT(*) FROM deliveries WHERE status = 'stored'"
    ).fetchone()[0]
    assert stored == 20
    assert store.db.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    store.close()
    # After the restart: one worker pass (no Salesforce needed: nobody resolves to a person).
    done = subprocess.run(
        [sys.executable, "-m", "connector.cli", "worker", "--once"],
        env=server_env(database),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["normalised"], report["failed"]) == (20, 0)
    store = Store(database)
    try:
        found = {
            r[0]
            for r in store.db.conn.execute(
                "SELECT delivery_id FROM events WHERE source = 'shopify'"
            ).fetchall()
        }
        assert found == set(keys)
        assert store.db.conn.execute("SELECT COUNT(*) FROM shop_orders").fetchone()[0] == 20
    finally:
        store.close()


def test_replay_is_idempotent(tmp_path: Path) -> None:
    database = store_location(tmp_path)
    with gunicorn(database, tmp_path, workers=1) as server:
        for topic, name in (
            ("orders/create", "shopify_orders_create.json"),
            ("refunds/create", "shopify_refunds_create.json"),
        ):
            body = encode(fixture(name))
            assert server.post("/webhooks/shopify", body, shopify_headers(body, topic)).ok
        bad = {**fixture("shopify_orders_create.json"), "id": str(uuid.uuid4())}
        body = encode(bad)
        assert server.post("/webhooks/shopify", body, shopify_headers(body, "orders/paid")).ok

    def replay() -> dict[str, int]:
        done = subprocess.run(
            [sys.executable, "-m", "connector.cli", "events", "replay", "--json"],
            env=server_env(database),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        out: dict[str, int] = json.loads(done.stdout)
        return out

    def state() -> tuple[object, ...]:
        store = Store(database)
        try:
            conn = store.db.conn
            return (
                conn.execute("SELECT COUNT(*) FROM events").fetchone()[0],
                conn.execute("SELECT * FROM shop_orders ORDER BY order_id").fetchall(),
                conn.execute("SELECT * FROM shop_refunds").fetchall(),
            )
        finally:
            store.close()

    assert replay()["normalised"] == 3
    first = state()
    assert first[0] == 3
    assert replay() == {"requeued": 3, "normalised": 3, "failed": 0}
    assert state() == first

"""The CLI of the real-time path: help that teaches, stats, and the Procfile's lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.store import Store
from connector.webhooks.base import Delivery
from tests.webhooks.helpers import REPO


@pytest.mark.parametrize(
    "command", [["web"], ["worker"], ["events"], ["events", "replay"], ["events", "stats"]]
)
def test_commands_have_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


def test_events_stats_json(env: Path) -> None:
    store = Store(env)
    delivery = Delivery("shopify", "k1", "orders/create", "s", {}, b"{}")
    store.events.store_delivery(delivery)
    store.events.store_delivery(delivery)
    store.events.count_rejection("shopify", "bad_signature")
    result = CliRunner().invoke(main, ["events", "stats", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["sources"]["shopify"]["deliveries"] == 1
    assert out["sources"]["shopify"]["duplicates"] == 1
    assert out["sources"]["shopify"]["rejections"] == {"bad_signature": 1}
    text = CliRunner().invoke(main, ["events", "stats"])
    assert "rejected bad_signature: 1" in text.output


def test_replay_reports_failures_in_one_line(env: Path) -> None:
    store = Store(env)
    store.events.store_delivery(Delivery("shopify", "k2", "orders/create", "s", {}, b"{not json"))
    result = CliRunner().invoke(main, ["events", "replay"])
    assert result.exit_code == 1
    assert "1 failed" in result.output
    assert "Traceback" not in result.output


def test_procfile_runs_web_worker_and_clock() -> None:
    lines = (REPO / "Procfile").read_text(encoding="utf-8").splitlines()
    kinds = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in lines if line}
    assert set(kinds) == {"web", "worker", "clock"}
    assert kinds["worker"] == "lead2loyalty worker"
    assert "connector.web:create_app()" in kinds["web"]


def test_config_masks_the_webhook_secrets(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("L2L_SHOPIFY_WEBHOOK_SECRETS", "shpss_aaaa,shpss_bbbb")
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 0
    assert "L2L_SHOPIFY_WEBHOOK_SECRETS=**********" in result.output
    assert "shpss_" not in result.output

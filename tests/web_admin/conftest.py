"""Fixtures of the admin page tests: an app with one admin account, a signed-in test client,
a database synced from localorg (one run with values in its log), and a headless browser."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from connector.config import Settings, load_settings
from connector.web import create_app
from localorg.org import LocalOrg
from localorg.server import Running
from tests.backends import database_settings
from tests.support import deployed_engine, localorg_settings, rfm_mappings, seed
from tests.web_admin.helpers import CHROMIUM, COMMENT, HASH, NAME


@pytest.fixture
def admin_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with one admin account, a fresh database and the tests' mappings."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    return load_settings(
        **database_settings(tmp_path),
        admin_users=f"{NAME}:{HASH}",
        mappings_dir=rfm_mappings(tmp_path / "mappings"),
    )


@dataclass
class Synced:
    """An org synced once into a database, and the admin app over it."""

    settings: Settings
    app: Flask
    contacts: list[str]
    run_id: int
    mappings: Path


@pytest.fixture
def synced(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Synced:
    """Four Contacts with two orders each, synced once (fields deployed first); the admin app
    serves that database with the same settings (so "sync now" reaches the same org)."""
    monkeypatch.chdir(tmp_path)
    mappings = rfm_mappings(tmp_path / "mappings")
    contact_yaml = mappings / "contact.yaml"
    contact_yaml.write_text(COMMENT + contact_yaml.read_text(encoding="utf-8"), encoding="utf-8")
    settings = localorg_settings(
        org, localorg_server, tmp_path, mappings_dir=mappings, admin_users=f"{NAME}:{HASH}"
    )
    contacts = seed(org, 4, [("2026-03-02", 10.55), ("2026-04-20", 20.3)])
    engine = deployed_engine(settings)
    report = engine.run()
    engine.store.close()
    assert report.writes.succeeded == 4, report.errors
    return Synced(settings, create_app(settings), contacts, report.run_id, mappings)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium launched headless through Playwright (skipped without either)."""
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: apt-get install -y chromium (Debian's; no download)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="no playwright package: pip install -e '.[dev]'"
    )
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()

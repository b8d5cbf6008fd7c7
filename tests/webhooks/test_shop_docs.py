"""The README's "Connecting a shop" tells each platform's topics, URL, secret and signature
header as the intake handles them: a platform without a section, a topic the module does not
read, or one it reads that the README omits, fails."""

from __future__ import annotations

import re
from types import ModuleType

import pytest

from connector.config import Settings
from connector.webhooks import PLATFORMS
from tests.support import REPO

TITLES = {"shopify": "Shopify", "woocommerce": "WooCommerce", "bigcommerce": "BigCommerce"}


def _handled(module: ModuleType) -> set[str]:
    topics = getattr(module, "TOPICS", None) or getattr(module, "EVENT_NAMES", {})
    return set(topics)


def _shop_section() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return readme.split("\n## Connecting a shop\n", 1)[1].split("\n## ", 1)[0]


def _section(platform: str) -> str:
    return _shop_section().split(f"\n### {TITLES[platform]}\n", 1)[1].split("\n### ", 1)[0]


def test_every_platform_has_a_section() -> None:
    assert set(TITLES) == set(PLATFORMS)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_platform_section_lists_exactly_the_topics_its_module_reads(platform: str) -> None:
    handled = _handled(PLATFORMS[platform])
    assert handled
    rows = [line for line in _section(platform).splitlines() if line.startswith(("| `", "| comp"))]
    listed = {t for row in rows for t in re.findall(r"`([A-Za-z_/.]+)`", row.split(" | ")[0])}
    assert listed == handled, f"README only: {listed - handled}; module only: {handled - listed}"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_platform_section_names_its_url_secret_and_signature_header(platform: str) -> None:
    module = PLATFORMS[platform]
    text = _section(platform)
    assert f"https://<host>/webhooks/{platform}" in text
    assert module.SECRET_SETTING in Settings.model_fields
    assert f"L2L_{module.SECRET_SETTING.upper()}" in text
    signature, _ = module.HEADERS[0]  # the header a delivery is checked by comes first
    assert signature in text


def test_the_shop_section_says_https_and_where_product_views_come_from() -> None:
    intro = _shop_section().split("\n### ", 1)[0]
    assert "**HTTPS**" in intro
    assert "Product Viewed" in intro
    assert "Web Pixel" in intro
    assert "lead2loyalty shopify app-config" in _section("shopify")

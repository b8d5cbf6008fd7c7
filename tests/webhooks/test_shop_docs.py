"""The README's "Connecting a shop" tells each platform's topics, URL and secret as the intake
handles them: a topic the module does not read, or one it reads that the README omits, fails."""

from __future__ import annotations

import re

import pytest

from connector.config import Settings
from connector.webhooks import bigcommerce, shopify, woocommerce
from tests.support import REPO

PLATFORMS = {
    "Shopify": ("shopify", set(shopify.TOPICS), "L2L_SHOPIFY_WEBHOOK_SECRETS"),
    "WooCommerce": ("woocommerce", set(woocommerce.EVENT_NAMES), "L2L_WOOCOMMERCE_WEBHOOK_SECRETS"),
    "BigCommerce": ("bigcommerce", set(bigcommerce.EVENT_NAMES), "L2L_BIGCOMMERCE_WEBHOOK_TOKEN"),
}


def _section(title: str) -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shop = readme.split("\n## Connecting a shop\n", 1)[1].split("\n## ", 1)[0]
    return shop.split(f"\n### {title}\n", 1)[1].split("\n### ", 1)[0]


@pytest.mark.parametrize("title", PLATFORMS)
def test_each_platform_section_lists_exactly_the_topics_its_module_reads(title: str) -> None:
    _, handled, _ = PLATFORMS[title]
    rows = [line for line in _section(title).splitlines() if line.startswith(("| `", "| comp"))]
    listed = {t for row in rows for t in re.findall(r"`([A-Za-z_/.]+)`", row.split(" | ")[0])}
    assert listed == handled, f"README only: {listed - handled}; module only: {handled - listed}"


@pytest.mark.parametrize("title", PLATFORMS)
def test_each_platform_section_names_its_url_secret_and_https(title: str) -> None:
    path, _, secret = PLATFORMS[title]
    text = _section(title)
    assert f"https://<host>/webhooks/{path}" in text
    assert secret in text
    assert secret.removeprefix("L2L_").lower() in Settings.model_fields


def test_the_shop_section_says_https_and_where_product_views_come_from() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    shop = readme.split("\n## Connecting a shop\n", 1)[1].split("\n### ", 1)[0]
    assert "**HTTPS**" in shop
    assert "Product Viewed" in shop
    assert "Web Pixel" in shop
    assert "lead2loyalty shopify app-config" in _section("Shopify")

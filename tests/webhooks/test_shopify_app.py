"""`lead2loyalty shopify app-config`: the [webhooks] section of a shopify.app.toml.

Checked against Shopify's documented format ("App configuration" and "Manage webhook
subscriptions" on shopify.dev: `[webhooks]` with `api_version`, `[[webhooks.subscriptions]]`
with `topics` or `compliance_topics` and an https `uri`), and against what the intake does
with each topic: every subscribed topic goes through the real Shopify receive + normalise and
yields what it feeds, so a topic the module would only store fails here.
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.webhooks import shopify
from connector.webhooks.shopify_app import DEFAULT_API_VERSION, SUBSCRIBED_TOPICS
from tests.webhooks.helpers import SHOPIFY_SECRETS, encode, fixture, shopify_headers

HOST = "https://l2l.example.com"
COMPLIANCE = {"customers/data_request", "customers/redact", "shop/redact"}


def _config(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["shopify", "app-config", *args])
    assert result.exit_code == 0, result.output
    return tomllib.loads(result.output)


def test_the_output_is_a_webhooks_section_in_shopifys_format() -> None:
    config = _config("--host", HOST)
    assert set(config) == {"webhooks"}
    webhooks = config["webhooks"]
    assert set(webhooks) == {"api_version", "subscriptions"}
    assert webhooks["api_version"] == DEFAULT_API_VERSION
    assert re.fullmatch(r"\d{4}-(01|04|07|10)", webhooks["api_version"])
    subscriptions = webhooks["subscriptions"]
    assert isinstance(subscriptions, list)
    assert len(subscriptions) == 2
    for table in subscriptions:
        # one list per table: the CLI refused a table holding both (Shopify/cli #5505)
        assert set(table) in ({"topics", "uri"}, {"compliance_topics", "uri"})
        assert table["uri"] == f"{HOST}/webhooks/shopify"
    topics = [t for table in subscriptions for t in table.get("topics", [])]
    compliance = [t for table in subscriptions for t in table.get("compliance_topics", [])]
    assert set(compliance) == COMPLIANCE
    assert not set(topics) & COMPLIANCE
    for kind in ("orders/create", "refunds/create", "checkouts/update", "carts/update"):
        assert kind in topics
    assert {"customers/create", "customers/update"} <= set(topics)
    assert len(topics) == len(set(topics))


def test_a_path_prefix_and_an_api_version_are_kept() -> None:
    config = _config("--host", "https://shop.example.org/l2l/", "--api-version", "2026-07")
    assert config["webhooks"]["api_version"] == "2026-07"
    assert {t["uri"] for t in config["webhooks"]["subscriptions"]} == {
        "https://shop.example.org/l2l/webhooks/shopify"
    }


def _payload(topic: str) -> dict[str, Any]:
    resource = topic.split("/")[0]
    if resource == "orders":
        return fixture("shopify_orders_create.json")
    if resource == "customers" and topic not in COMPLIANCE:
        return {"id": 7010203040506, "email": "ada.shopper@example.com",
                "updated_at": "2026-11-20T09:08:00-05:00"}  # fmt: skip
    name = {"refunds": "refunds_create", "checkouts": "checkouts_create", "carts": "carts_update"}
    return fixture(f"shopify_{name.get(resource, topic.replace('/', '_'))}.json")


def _fed(topic: str) -> shopify.Normalised:
    body = encode(_payload(topic))
    delivery = shopify.receive(
        shopify_headers(body, topic), body, SHOPIFY_SECRETS, datetime.now(UTC), 172_800
    )
    return shopify.normalise(delivery)


@pytest.mark.parametrize("topic", _config("--host", HOST)["webhooks"]["subscriptions"][0]["topics"])
def test_every_subscribed_topic_feeds_the_intake(topic: str) -> None:
    out = _fed(topic)
    assert out.events, f"{topic}: stored only, no event"
    if topic.startswith("orders/"):
        assert out.orders
    if topic == "refunds/create":
        assert out.refunds


def test_the_compliance_topics_are_acted_on() -> None:
    assert _fed("customers/redact").redact_emails == ["ada.shopper@example.com"]
    assert _fed("shop/redact").redact_shop == "trail-goods.myshopify.com"
    data_request = _fed("customers/data_request")  # accepted and stored: the record
    assert not data_request.events


def test_a_topic_the_module_does_not_read_feeds_nothing() -> None:
    # the control: the check above fails for a topic that is only stored
    out = _fed_other("products/create")
    assert not out.events
    assert not out.orders
    assert not out.refunds
    assert "products/create" not in SUBSCRIBED_TOPICS


def _fed_other(topic: str) -> shopify.Normalised:
    body = encode({"id": 1, "title": "Trail shoe"})
    delivery = shopify.receive(
        shopify_headers(body, topic), body, SHOPIFY_SECRETS, datetime.now(UTC), 172_800
    )
    return shopify.normalise(delivery)


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("http://l2l.example.com", "is not an https:// URL"),
        ("l2l.example.com", "is not an https:// URL"),
        ("https://localhost:8000", "not reachable from the internet"),
        ("https://10.0.0.7", "not reachable from the internet"),
        ("https://[::1]:8443", "not reachable from the internet"),
        ("https://trail-goods.myshopify.com", "Shopify store domain"),
        ("https://l2l.example.com/?x=1", "query, fragment or credentials"),
        ("https://user:pw@l2l.example.com", "query, fragment or credentials"),
        ("http://user:pw@l2l.example.com", "is not an https:// URL"),
    ],
)
def test_a_host_shopify_cannot_deliver_to_is_refused_in_one_line(host: str, says: str) -> None:
    result = CliRunner().invoke(main, ["shopify", "app-config", "--host", host])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert result.output.count("\n") == 1
    assert says in result.output
    assert "Traceback" not in result.output
    assert ":pw" not in result.output  # credentials are never echoed


@pytest.mark.parametrize("version", ["2026-11", "unstable", "26-10"])
def test_an_api_version_shopify_never_released_is_refused(version: str) -> None:
    result = CliRunner().invoke(
        main, ["shopify", "app-config", "--host", HOST, "--api-version", version]
    )
    assert result.exit_code == 1
    assert "is not a Shopify API version" in result.output

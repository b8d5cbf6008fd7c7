"""The ``[webhooks]`` section of a Shopify app's ``shopify.app.toml`` for this connector.

What Shopify documents, and what this module writes from it:

- App-specific subscriptions live in the app configuration file: ``[webhooks]`` with
  ``api_version``, then ``[[webhooks.subscriptions]]`` tables of ``topics`` (or
  ``compliance_topics``) and ``uri``; ``shopify app deploy`` makes them live for every shop the
  app is installed on ("Manage webhook subscriptions",
  https://shopify.dev/docs/apps/build/webhooks/subscribe; "App configuration",
  https://shopify.dev/docs/apps/build/cli-for-apps/app-configuration).
- The three mandatory compliance topics (``customers/data_request``, ``customers/redact``,
  ``shop/redact``) go in ``compliance_topics``, never in ``topics`` ("Privacy law compliance",
  https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance). They get a table of
  their own: the CLI refused one table holding both lists (Shopify/cli issue #5505).
- ``uri`` must be an absolute ``https://`` URL for HTTPS delivery (the CLI's validation
  message in Shopify/cli #5505: "URI isn't correct URI format of https://, pubsub://... or
  Eventbridge ARN"); Shopify must reach it from the internet, and refuses an address on the
  shop's own domains, ``*.myshopify.com`` among them ("Address cannot be any of the domains",
  craftcms/shopify issue #193).
- Each topic needs an access scope in ``[access_scopes]``: orders, refunds, checkouts and carts
  ``read_orders``; customers ``read_customers`` (webhook reference,
  https://shopify.dev/docs/api/webhooks/latest; the "Invalid topic specified" answers of the
  Shopify community when ``read_orders`` was missing for checkouts/carts). Order and customer
  payloads carry protected customer data, which the app must be approved for.

The topics are exactly those :mod:`connector.webhooks.shopify` handles, so nothing is
subscribed that the intake would only store, and nothing it reads is left out.
"""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import urlsplit

from connector.errors import ConfigError
from connector.webhooks.shopify import ORDER_TOPICS, OTHER_TOPICS, PRIVACY_TOPICS

#: The API version the payload parsing follows: the newest stable version in Shopify's
#: webhook reference when this was written (https://shopify.dev/docs/api/webhooks/latest).
DEFAULT_API_VERSION = "2026-10"
PATH = "/webhooks/shopify"
SUBSCRIBED_TOPICS: tuple[str, ...] = (*ORDER_TOPICS, *OTHER_TOPICS)
#: The access scope each subscribed topic needs, by its resource.
SCOPE_OF_RESOURCE = {
    "orders": "read_orders",
    "refunds": "read_orders",
    "checkouts": "read_orders",
    "carts": "read_orders",
    "customers": "read_customers",
}
# Shopify's versions are quarterly releases named by year and month.
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$")


def webhook_uri(host: str) -> str:
    """``host`` + ``/webhooks/shopify``, after checking Shopify can deliver there."""
    parts = urlsplit(host.strip())
    # Never echo credentials back: the errors show the host without them.
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    fix = "give the public HTTPS address of `lead2loyalty web`, e.g. https://l2l.example.com"
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(
            f"--host '{shown}' is not an https:// URL; Shopify delivers only over HTTPS: {fix}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"--host '{shown}' has a query, fragment or credentials; {fix}")
    name = parts.hostname.lower()
    if name == "localhost" or name.endswith((".localhost", ".local")) or _private_ip(name):
        raise ConfigError(
            f"--host '{shown}' is not reachable from the internet, so Shopify cannot deliver "
            f"to it; {fix} (a tunnel such as cloudflared or ngrok for a test)"
        )
    if name == "myshopify.com" or name.endswith(".myshopify.com"):
        raise ConfigError(
            f"--host '{shown}' is a Shopify store domain, which Shopify refuses as a webhook "
            f"address; {fix}"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{PATH}"


def _private_ip(name: str) -> bool:
    try:
        ip = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return not ip.is_global


def required_scopes() -> list[str]:
    """The access scopes the subscribed topics need, sorted."""
    return sorted({SCOPE_OF_RESOURCE[topic.split("/")[0]] for topic in SUBSCRIBED_TOPICS})


def app_config_toml(host: str, api_version: str = DEFAULT_API_VERSION) -> str:
    """The ``[webhooks]`` TOML section delivering every handled topic to ``host``."""
    if not _VERSION.match(api_version):
        raise ConfigError(
            f"--api-version '{api_version}' is not a Shopify API version; use YYYY-MM with "
            f"MM 01, 04, 07 or 10, e.g. {DEFAULT_API_VERSION}"
        )
    uri = webhook_uri(host)

    def strings(values: tuple[str, ...]) -> str:
        return "[\n" + "".join(f"  {json.dumps(v)},\n" for v in values) + "]"

    return (
        "# lead2loyalty: the webhooks of this app (`lead2loyalty shopify app-config`).\n"
        "# Paste into shopify.app.toml (replacing its [webhooks] section), then run\n"
        "# `shopify app deploy`. Set L2L_SHOPIFY_WEBHOOK_SECRETS to the app's client secret.\n"
        f"# The topics need the access scopes {', '.join(required_scopes())} in [access_scopes]\n"
        "# (and the app approved for protected customer data).\n"
        "[webhooks]\n"
        f"api_version = {json.dumps(api_version)}\n"
        "\n"
        "[[webhooks.subscriptions]]\n"
        f"topics = {strings(SUBSCRIBED_TOPICS)}\n"
        f"uri = {json.dumps(uri)}\n"
        "\n"
        "# Mandatory for apps in the Shopify App Store: redact deletes the person's (or shop's)\n"
        "# stored events and orders; data_request is recorded.\n"
        "[[webhooks.subscriptions]]\n"
        f"compliance_topics = {strings(PRIVACY_TOPICS)}\n"
        f"uri = {json.dumps(uri)}\n"
    )

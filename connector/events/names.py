"""Every event name the connector reads, declared once: what each means and what it feeds.

Ecommerce names follow Segment's V2 Ecommerce Events spec (Twilio Segment docs, "Spec: V2
Ecommerce Events", https://www.twilio.com/docs/segment/connections/spec/ecommerce/v2), which
RudderStack and PostHog follow too, so a store that already sends them needs no renaming.
Marketing engagement has no ecommerce spec; its names are one word per channel and act
(``Email Clicked``, ``SMS Clicked``, ``Push Opened``), as ``localorg``'s seed emits them. The
email lifecycle names email service providers send (``Email Delivered``, ``Email Opened``,
``Email Link Clicked``) follow the semantic email events Customer.io documents for Segment-format
sources (https://docs.customer.io/integrations/data-in/semantic-events/email.md); ``Email
Sent`` is the name other senders use for the send. The intent score's machine-open filter reads
them by act (``EMAIL_SEND_EVENTS``, ``EMAIL_OPEN_EVENTS``, ``EMAIL_CLICK_EVENTS``).

The compute step asks this module (``CLICK_EVENTS``, ``ENGAGEMENT_EVENTS``) instead of
spelling names itself; a test holds the seed's events to this catalog. Adding a name is one
line in ``EVENTS``.
"""

from __future__ import annotations

from typing import NamedTuple


class EventName(NamedTuple):
    """One event name: what it means, and the marketing channel it belongs to (if any)."""

    description: str
    channel: str | None = None  # a click on a send of this channel can earn the next order
    click: bool = False  # a click-through: credited with an order that follows it
    engagement: bool = False  # shows when the person reads their messages (send hour)
    email_act: str | None = None  # "send", "open" or "click": what it says of one email


EVENTS: dict[str, EventName] = {
    # Segment V2 ecommerce: browsing, ordering
    "Products Searched": EventName("Searched for products."),
    "Product List Viewed": EventName("Viewed a product list or category."),
    "Product Clicked": EventName("Clicked a product."),
    "Product Viewed": EventName("Viewed a product's details."),
    "Product Added": EventName("Added a product to the cart."),
    "Product Removed": EventName("Removed a product from the cart."),
    "Cart Viewed": EventName("Viewed the cart."),
    "Checkout Started": EventName("Started the checkout."),
    "Checkout Step Completed": EventName("Completed a checkout step."),
    "Payment Info Entered": EventName("Entered payment information."),
    "Order Completed": EventName("Completed an order."),
    "Order Refunded": EventName("Had an order refunded."),
    "Order Cancelled": EventName("Cancelled an order."),
    "Coupon Applied": EventName("Applied a coupon."),
    "Product Reviewed": EventName("Reviewed a product."),
    # site and lead engagement
    "Page Viewed": EventName("Viewed a page."),
    "Form Submitted": EventName("Submitted a form (sign-up, contact, download)."),
    # marketing engagement, one name per channel and act
    "Email Delivered": EventName("A marketing email reached the inbox.", email_act="send"),
    "Email Sent": EventName("A marketing email was sent.", email_act="send"),
    "Email Opened": EventName(
        "Opened a marketing email.", "email", engagement=True, email_act="open"
    ),
    "Email Clicked": EventName(
        "Clicked a link in a marketing email.", "email", True, True, email_act="click"
    ),
    "Email Link Clicked": EventName(
        "Clicked a link in a marketing email (email providers' name).", email_act="click"
    ),
    "SMS Clicked": EventName("Clicked a link in a marketing SMS.", "sms", True, True),
    "Push Opened": EventName("Opened the app from a push notification.", "push", True, True),
    "Push Clicked": EventName("Clicked a push notification's action.", "push", True, True),
}

#: Marketing touches whose channel can be credited with the next order.
CLICK_EVENTS: tuple[str, ...] = tuple(name for name, e in EVENTS.items() if e.click)
#: Engagement that shows when a person reads their messages (input of the best send hour).
ENGAGEMENT_EVENTS: tuple[str, ...] = tuple(name for name, e in EVENTS.items() if e.engagement)
#: Events that mark an email's send time, that are opens, that are clicks (machine opens).
EMAIL_SEND_EVENTS: tuple[str, ...] = tuple(n for n, e in EVENTS.items() if e.email_act == "send")
EMAIL_OPEN_EVENTS: tuple[str, ...] = tuple(n for n, e in EVENTS.items() if e.email_act == "open")
EMAIL_CLICK_EVENTS: tuple[str, ...] = tuple(n for n, e in EVENTS.items() if e.email_act == "click")
#: The channel each click event belongs to.
CLICK_CHANNEL: dict[str, str] = {
    name: e.channel for name, e in EVENTS.items() if e.click and e.channel is not None
}

"""The event stream (``events.jsonl``): marketing clicks, web browsing and lead engagement.

Events use the Segment/RudderStack message format: ``track`` calls with ``properties`` and the
email in ``context.traits`` when the sender knows it, and one ``identify`` call per person that
links its anonymous browser id to the email (and to the store's user id for customers).

Channels and send hours: each customer prefers one marketing channel (email, sms, push) and one
hour of the week (0 = Monday 00:00 UTC ... 167). About a third of all purchases are preceded by a
converting click on a channel chosen in proportion to its click->purchase conversion rate
(``CONVERSION_PREFERRED`` on the preferred channel, ``CONVERSION_OTHER`` elsewhere);
non-converting clicks are added so that every channel gets the same click volume, hence the
observed per-channel conversion rate estimates the true one. Clicks fall near the preferred hour
(a rounded normal offset, 20% at random hours). Customers go quiet once they drop out.

Leads engage at a base rate that grows with their propensity, plus a burst in the days before a
conversion (see :mod:`localorg.seed.leads`).
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

import numpy as np

from localorg.seed.frame import event_timestamps, group_starts
from localorg.seed.params import (
    ATTRIBUTED_SHARE,
    CHANNELS,
    CLICK_EVENT,
    CONVERSION_OTHER,
    CONVERSION_PREFERRED,
    DAY,
    HOUR_NOISE_SHARE,
    HOUR_SD,
    LEAD_EVENT_SHARE,
    LEAD_EVENTS,
    MONDAY,
    WEEK,
    Arr,
)

if TYPE_CHECKING:
    from localorg.seed.orders import Products, Purchases, Sales
    from localorg.seed.people import Behaviour, People
    from localorg.seed.run import Counts

Properties = dict[str, object]
# One line per message, no spaces: the compact form event senders post.
_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
# Prices are money and the file has always written them with two decimals (25.40); json.dumps
# writes the shortest form (25.4), so the one number that needs it is padded after encoding.
_PRICE = re.compile(r'"price":(\d+)(?:\.(\d+))?(?=[,}])')


def _money(match: re.Match[str]) -> str:
    return f'"price":{match[1]}.{(match[2] or "").ljust(2, "0")}'


def _encode(obj: object) -> str:
    line = _json(obj)
    return _PRICE.sub(_money, line) if '"price":' in line else line


_PRICING_PAGE: Properties = {"channel": "web", "path": "/pricing"}
_CONTACT_FORM: Properties = {"channel": "web", "form": "contact-us"}
_NURTURE_EMAIL: Properties = {"channel": "email", "campaign_id": "cmp-nurture"}


@dataclass
class TrackEvents:
    """Track events collected for one chunk, a list of columns per call of :meth:`add`."""

    t: list[Arr] = field(default_factory=list)
    name: list[list[str]] = field(default_factory=list)
    anon: list[list[str]] = field(default_factory=list)
    user: list[list[str | None]] = field(default_factory=list)
    email: list[list[str | None]] = field(default_factory=list)
    props: list[list[Properties]] = field(default_factory=list)

    def add(
        self,
        t: Arr,
        name: list[str],
        *,
        anon: list[str],
        user: list[str | None],
        email: list[str | None],
        props: list[Properties],
    ) -> None:
        """Events at times ``t`` (epoch seconds), one per element of every column."""
        self.t.append(t)
        self.name.append(name)
        self.anon.append(anon)
        self.user.append(user)
        self.email.append(email)
        self.props.append(props)


class EventLog:
    """Writes ``events.jsonl``: message ids ``seed<seed>-<n>`` numbered across the file."""

    def __init__(self, out: IO[str], seed: int, counts: Counts) -> None:
        self.out = out
        self.prefix = f"seed{seed}-"
        self.counts = counts
        self.next_message = 0

    def _message_ids(self, n: int) -> list[str]:
        start = self.next_message
        self.next_message += n
        return [f"{self.prefix}{i:010d}" for i in range(start, start + n)]

    def write_tracks(self, ev: TrackEvents) -> None:
        """One ``track`` line per collected event, in the order they were added."""
        if not ev.t:
            return
        stamps = event_timestamps(np.concatenate(ev.t))
        self.counts.add("events", len(stamps))
        chain = itertools.chain.from_iterable
        columns = zip(
            self._message_ids(len(stamps)),
            stamps,
            chain(ev.user),
            chain(ev.anon),
            chain(ev.name),
            chain(ev.props),
            chain(ev.email),
            strict=True,
        )
        self.out.writelines(
            _encode(
                {
                    "type": "track",
                    "messageId": message_id,
                    "timestamp": stamp,
                    "userId": user,
                    "anonymousId": anon,
                    "event": name,
                    "properties": props,
                    "context": {} if email is None else {"traits": {"email": email}},
                }
            )
            + "\n"
            for message_id, stamp, user, anon, name, props, email in columns
        )

    def write_identifies(
        self, t: Arr, anon: list[str], users: list[str | None], emails: list[str]
    ) -> None:
        """One ``identify`` line per person: browser id and user id to email."""
        stamps = event_timestamps(t)
        self.counts.add("identifies", len(stamps))
        columns = zip(self._message_ids(len(stamps)), stamps, users, anon, emails, strict=True)
        self.out.writelines(
            _encode(
                {
                    "type": "identify",
                    "messageId": message_id,
                    "timestamp": stamp,
                    "userId": user,
                    "anonymousId": a,
                    "traits": {"email": email},
                }
            )
            + "\n"
            for message_id, stamp, user, a, email in columns
        )


def snap(rng: np.random.Generator, t: Arr, how: Arr) -> Arr:
    """The latest moment at or before ``t`` that falls in hour-of-week ``how``."""
    week = np.floor((t - MONDAY) / WEEK)
    out = MONDAY + week * WEEK + how * 3600.0 + rng.uniform(0.0, 3600.0, t.size)
    return np.where(out > t, out - WEEK, out)


def hours(rng: np.random.Generator, preferred: Arr) -> Arr:
    """Hours of the week near each preferred hour (a few anywhere)."""
    near = (preferred + np.rint(rng.normal(0.0, HOUR_SD, preferred.size))) % 168
    anywhere = rng.integers(0, 168, preferred.size)
    return np.where(rng.random(preferred.size) < HOUR_NOISE_SHARE, anywhere, near)


def marketing_events(
    rng: np.random.Generator,
    ev: TrackEvents,
    *,
    now: float,
    purchases: Purchases,
    behaviour: Behaviour,
    people: People,
) -> None:
    """Converting and non-converting clicks (and the opens before email clicks)."""
    birth, death = behaviour.birth, behaviour.death
    n = birth.size
    n_ch = len(CHANNELS)
    conv = np.full((n, n_ch), CONVERSION_OTHER)
    conv[np.arange(n), people.preferred_channel] = CONVERSION_PREFERRED
    # converting clicks: a share of the purchases, channel in proportion to its conversion rate
    attributed = np.flatnonzero(rng.random(purchases.owner.size) < ATTRIBUTED_SHARE)
    who = purchases.owner[attributed]
    share = conv / conv.sum(axis=1, keepdims=True)
    weights = share[who]
    ch = (rng.random(who.size)[:, None] > np.cumsum(weights, axis=1)[:, :-1]).sum(axis=1)
    pref_hour = people.preferred_hour
    click_t = snap(rng, purchases.t[attributed] - 600.0, hours(rng, pref_hour[who]))
    # non-converting clicks so every channel gets the same expected click volume
    n_purchases = np.bincount(purchases.owner, minlength=n)
    expected_conv = ATTRIBUTED_SHARE * n_purchases[:, None] * share
    n_miss = rng.poisson(expected_conv * (1.0 - conv) / conv)
    miss_who = np.repeat(np.repeat(np.arange(n), n_ch), n_miss.ravel())
    miss_ch = np.repeat(np.tile(np.arange(n_ch), n), n_miss.ravel())
    end = np.where(np.isnan(death), now, np.minimum(death, now))
    raw = birth[miss_who] + rng.random(miss_who.size) * (end - birth)[miss_who]
    miss_t = snap(rng, raw, hours(rng, pref_hour[miss_who]))
    miss_t = np.where(miss_t < birth[miss_who], miss_t + WEEK, miss_t)
    keep = miss_t <= end[miss_who]
    all_who = np.concatenate((who, miss_who[keep]))
    all_ch = np.concatenate((ch, miss_ch[keep]))
    all_t = np.concatenate((click_t, miss_t[keep]))
    all_t = np.minimum(all_t, now)
    campaign = np.floor((all_t - MONDAY) / WEEK).astype("int64").tolist()
    ch_list = all_ch.tolist()
    who_list = all_who.tolist()
    email, anon = people.email, people.anon
    props: list[Properties] = [
        {"channel": CHANNELS[c], "campaign_id": f"cmp-{CHANNELS[c]}-{w}"}
        for c, w in zip(ch_list, campaign, strict=True)
    ]
    ev.add(
        all_t,
        [CLICK_EVENT[c] for c in ch_list],
        anon=[anon[i] for i in who_list],
        user=[None] * len(who_list),
        email=[email[i] for i in who_list],
        props=props,
    )
    # every email click is preceded by an open
    is_mail = np.flatnonzero(all_ch == 0)
    open_t = all_t[is_mail] - rng.uniform(60.0, 1800.0, is_mail.size)
    mail_who = [who_list[i] for i in is_mail.tolist()]
    ev.add(
        open_t,
        ["Email Opened"] * is_mail.size,
        anon=[anon[i] for i in mail_who],
        user=[None] * is_mail.size,
        email=[email[i] for i in mail_who],
        props=[props[i] for i in is_mail.tolist()],
    )


def web_events(
    rng: np.random.Generator,
    ev: TrackEvents,
    *,
    now: float,
    purchases: Purchases,
    sales: Sales,
    birth: Arr,
    people: People,
    products: Products,
) -> None:
    """The views, adds and checkouts before each online order, and browsing that led nowhere."""
    online = np.flatnonzero(sales.channel <= 1)  # Web, Mobile App
    first_item = group_starts(np.bincount(sales.item_order, minlength=purchases.owner.size))
    first_item = first_item[online]
    prod = sales.item_product[first_item]
    price = sales.item_unit_cents[first_item] / 100.0
    who = purchases.owner[online]
    logged_in = rng.random(online.size) < 0.6
    pairs = list(zip(who.tolist(), logged_in.tolist(), strict=True))
    users: list[str | None] = [people.store_user[w] if li else None for w, li in pairs]
    mails: list[str | None] = [people.email[w] if li else None for w, li in pairs]
    anon_w = [people.anon[w] for w in who.tolist()]
    base = purchases.t[online]
    item_props = _product_props(products, prod, price)
    for name, lo, hi in (
        ("Product Viewed", 600.0, 3600.0),
        ("Product Added", 180.0, 600.0),
        ("Checkout Started", 10.0, 180.0),
    ):
        ev.add(
            base - rng.uniform(lo, hi, online.size),
            [name] * online.size,
            anon=anon_w,
            user=users,
            email=mails,
            props=item_props,
        )
    # browsing that led nowhere, anonymous
    n_browse = rng.poisson(1.5, birth.size)
    b_who = np.repeat(np.arange(birth.size), n_browse)
    b_t = birth[b_who] + rng.random(b_who.size) * (now - birth[b_who])
    b_prod = rng.integers(0, len(products.codes), b_who.size)
    ev.add(
        b_t,
        ["Product Viewed"] * b_who.size,
        anon=[people.anon[i] for i in b_who.tolist()],
        user=[None] * b_who.size,
        email=[None] * b_who.size,
        props=_product_props(products, b_prod, products.price_cents[b_prod] / 100.0),
    )


def _product_props(products: Products, product: Arr, price: Arr) -> list[Properties]:
    return [
        {"channel": "web", "product_id": products.codes[i], "price": p}
        for i, p in zip(product.tolist(), price.tolist(), strict=True)
    ]


@dataclass(frozen=True)
class LeadEngagement:
    """Who engages over which window: per lead, from ``created`` to ``end`` (epoch seconds)."""

    created: Arr
    end: Arr
    propensity: Arr
    burst: Arr  # extra events just before ``end``
    email: list[str]
    anon: list[str]
    web_form: Arr  # came in through the web form: a Form Submitted right after ``created``


def lead_events(rng: np.random.Generator, ev: TrackEvents, leads: LeadEngagement) -> None:
    """Base-rate engagement over [created, end] plus ``burst`` events just before ``end``."""
    created, end = leads.created, leads.end
    n = created.size
    age = (end - created) / DAY
    n_base = rng.poisson((0.01 + 0.12 * leads.propensity) * age)
    b_who = np.repeat(np.arange(n), n_base)
    b_t = created[b_who] + rng.random(b_who.size) * (end - created)[b_who]
    r_who = np.repeat(np.arange(n), leads.burst)
    r_t = end[r_who] - rng.exponential(4.0 * DAY, r_who.size)
    early = r_t < created[r_who]
    r_t[early] = (
        created[r_who][early] + rng.random(int(early.sum())) * (end - created)[r_who][early]
    )
    f_who = np.flatnonzero(leads.web_form)
    who = np.concatenate((b_who, r_who))
    t = np.concatenate((b_t, r_t))
    kind = rng.choice(len(LEAD_EVENTS), who.size, p=LEAD_EVENT_SHARE)
    who = np.concatenate((who, f_who))
    t = np.concatenate((t, created[f_who] + 1.0))
    kind = np.concatenate((kind, np.full(f_who.size, 3)))
    t = np.minimum(t, end[who])
    anonymous = (kind == 0) & (rng.random(who.size) < 0.5)
    who_list = who.tolist()
    kinds = kind.tolist()
    props = {0: _PRICING_PAGE, 3: _CONTACT_FORM}
    ev.add(
        t,
        [LEAD_EVENTS[k] for k in kinds],
        anon=[leads.anon[i] for i in who_list],
        user=[None] * who.size,
        email=[
            None if a else leads.email[i] for i, a in zip(who_list, anonymous.tolist(), strict=True)
        ],
        props=[props.get(k, _NURTURE_EMAIL) for k in kinds],
    )

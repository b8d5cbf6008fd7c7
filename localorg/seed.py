"""A synthetic store with known ground truth, streamed into localorg.

Every model the connector ships (BTYD purchase predictions, Gamma-Gamma spend, lead conversion,
best channel, best send hour) is scored against people whose behaviour follows the processes
below, so the truth is known exactly. All rates are per day; all times are UTC.

Customers (Contacts), BG/NBD (Fader, Hardie & Lee 2005):
  * purchase rate ``lambda_i ~ Gamma(r, alpha)`` (shape r, rate alpha), dropout probability
    ``p_i ~ Beta(a, b)``;
  * the first purchase ("birth") falls uniformly in the ``SPAN_DAYS`` before ``now``; while alive,
    repeat purchases follow a Poisson process of rate ``lambda_i``; right after each *repeat*
    purchase the customer drops out with probability ``p_i`` (so the number of repeat purchases
    before dropout is ``K_i ~ Geometric(p_i)``);
  * the process runs to ``now + holdout_days``: purchases up to ``now`` become Orders, later ones
    are only counted in the truth. The first ``min(M_i, K_i)`` event times of ``M_i ~
    Poisson(lambda_i H_i)`` uniform points on the horizon are drawn directly with Renyi's
    representation of order statistics, so the simulation is one vectorised pass;
  * ``alpha`` is calibrated so that the expected number of observed orders per customer,
    ``1 + E[X(T)]`` averaged over birth times, meets the size's order count.
Spend, Gamma-Gamma (Fader, Hardie & Lee 2005b): ``nu_i ~ Gamma(q, gamma)``, each order's value
``~ Gamma(p, nu_i)``, so the true mean spend is ``p / nu_i``. An order's value is split over 1-4
OrderItems (Dirichlet shares, quantity 1-3, unit prices in whole cents) so item sums equal the
order's TotalAmount exactly. About 3% of orders are partly refunded later by a reduction Order
(negative quantity of one item); refunds are not part of the spend truth.

Channels and send hours: each customer prefers one marketing channel (email, sms, push) and one
hour of the week (0 = Monday 00:00 UTC ... 167). About a third of all purchases are preceded by a
converting click on a channel chosen in proportion to its click->purchase conversion rate
(``CONVERSION_PREFERRED`` on the preferred channel, ``CONVERSION_OTHER`` elsewhere);
non-converting clicks are added so that every channel gets the same click volume, hence the
observed per-channel conversion rate estimates the true one. Clicks fall near the preferred hour
(a rounded normal offset, 20% at random hours). Customers go quiet once they drop out.

Leads: a latent propensity ``pi`` (the probability of converting within the holdout window).
Engagement events (Page Viewed, Form Submitted, Email Opened/Clicked) arrive at a base rate that
grows with ``pi``, plus a burst in the days before a conversion. Some Leads are already
converted (their Contact has the same email; engagement precedes ConvertedDate); open Leads
convert in the holdout window with probability ``pi``, and those that will show the burst in
the weeks before ``now``.

Identity: some customers have person Accounts, and half of their orders carry only AccountId
(resolution goes through PersonContactId); others belong to business Accounts, with
BillTo/ShipTo set and a few orders carrying only CustomerAuthorizedById. About 3% of stored
emails differ from the canonical one in case or surrounding whitespace. Events carry the email
in ``context.traits`` when the sender knows it; anonymous browsing is linked by one
``identify`` call per person.

Outputs: :func:`generate` yields ``(object_name, rows)`` batches in storage form, references
first (the one forward reference is Account.PersonContactId, created with its Contact as in
Salesforce), and writes ``truth/customers.csv``, ``truth/leads.csv``, ``truth/replies.csv``,
``truth/params.json`` and ``events.jsonl`` into ``out_dir``.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Generator, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq
from scipy.special import hyp2f1

from localorg.ids import IdFactory
from localorg.schema import LEAD_SOURCES, LEAD_STATUSES, SALES_CHANNELS

Arr = npt.NDArray[Any]
Batch = tuple[str, list[dict[str, object]]]

DAY = 86_400.0
WEEK = 7 * DAY
# 1970-01-05 was a Monday: hour-of-week 0 is Monday 00:00 UTC.
_MONDAY = 4 * DAY
SPAN_DAYS = 1_000.0
BATCH_ROWS = 20_000
CONTACT_CHUNK = 5_000
LEAD_CHUNK = 20_000
REFUND_RATE = 0.03
PERSON_ACCOUNT_SHARE = 0.4
CONVERTED_LEAD_SHARE = 0.25
MIXED_EMAIL_SHARE = 0.03
ATTRIBUTED_SHARE = 0.3
CONVERSION_PREFERRED = 0.35
CONVERSION_OTHER = 0.12
HOUR_SD = 1.5
HOUR_NOISE_SHARE = 0.2
CHANNELS = ("email", "sms", "push")
CHANNEL_SHARE = (0.5, 0.25, 0.25)
CLICK_EVENT = ("Email Clicked", "SMS Clicked", "Push Opened")
FAMILIES = ("Music", "Books", "Apparel", "Electronics", "Home", "Beauty")
LEAD_EVENTS = ("Page Viewed", "Email Opened", "Email Clicked", "Form Submitted")
LEAD_EVENT_SHARE = (0.5, 0.25, 0.12, 0.13)


@dataclass(frozen=True)
class SeedSize:
    """How big a synthetic store is: Leads, Contacts, target Orders, Products."""

    name: str
    leads: int
    contacts: int
    orders: int
    products: int = 200


SIZES: dict[str, SeedSize] = {
    "small": SeedSize("small", leads=1_000, contacts=2_000, orders=10_000),
    "medium": SeedSize("medium", leads=20_000, contacts=50_000, orders=300_000),
    "large": SeedSize("large", leads=200_000, contacts=500_000, orders=3_000_000),
}


@dataclass(frozen=True)
class Population:
    """Population parameters, per day. ``alpha`` is calibrated to the size's order count."""

    r: float = 0.8
    alpha: float = 40.0
    a: float = 0.85
    b: float = 4.5
    gg_p: float = 6.0
    gg_q: float = 3.8
    gg_gamma: float = 42.0


def expected_repeat_purchases(t: Arr | float, r: float, alpha: float, a: float, b: float) -> Arr:
    """BG/NBD E[X(t)]: expected repeat purchases in (0, t] for a new customer (FHL 2005, eq. 7)."""
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    bracket = 1.0 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1.0, z)
    return np.asarray((a + b - 1.0) / (a - 1.0) * bracket)


def calibrate(size: SeedSize, base: Population | None = None) -> Population:
    """``base`` with ``alpha`` set so the expected observed orders match ``size.orders``."""
    base = base or Population()
    per_customer = size.orders / size.contacts / (1.0 + REFUND_RATE)
    grid = (np.arange(400) + 0.5) / 400 * SPAN_DAYS

    def gap(log_alpha: float) -> float:
        mean = expected_repeat_purchases(grid, base.r, math.exp(log_alpha), base.a, base.b).mean()
        return float(1.0 + mean - per_customer)

    alpha = math.exp(brentq(gap, math.log(1e-3), math.log(1e6)))
    return Population(**{**asdict(base), "alpha": alpha})


def generate(
    size: str | SeedSize,
    out_dir: Path,
    ids: IdFactory,
    *,
    owner_id: str,
    now: datetime,
    rng_seed: int = 7,
    holdout_days: int = 180,
) -> Iterator[Batch]:
    """Stream a synthetic store as ``(object_name, rows)`` batches; its truth goes to ``out_dir``.

    Rows are in storage form (datetimes ``YYYY-MM-DDTHH:MM:SS.000+0000``, dates, 0/1 booleans),
    at most ``BATCH_ROWS`` per batch, all rows of a batch with the same keys; referenced rows come
    before the rows that reference them. The same seed and a fresh ``IdFactory`` with the same
    pod and start give byte-identical output.
    """
    spec = SIZES[size] if isinstance(size, str) else size
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    yield from _Store(spec, Path(out_dir), ids, owner_id, now, rng_seed, holdout_days).run()


# --------------------------------------------------------------------------- helpers


class _Same:
    """A column whose every row has one value."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


Columns = dict[str, "Sequence[object] | _Same"]


def _batches(obj: str, columns: Columns, n: int) -> Iterator[Batch]:
    keys = list(columns)
    for start in range(0, n, BATCH_ROWS):
        stop = min(n, start + BATCH_ROWS)
        cols = [
            itertools.repeat(v.value, stop - start) if isinstance(v, _Same) else v[start:stop]
            for v in columns.values()
        ]
        yield obj, [dict(zip(keys, vals, strict=False)) for vals in zip(*cols, strict=True)]


def _seconds(secs: Arr) -> Arr:
    return np.floor(secs).astype("int64").astype("datetime64[s]")


def _dt_text(secs: Arr) -> list[str]:
    return [s + ".000+0000" for s in np.datetime_as_string(_seconds(secs), unit="s").tolist()]


def _date_text(secs: Arr) -> list[str]:
    days = _seconds(secs).astype("datetime64[D]")
    return list(np.datetime_as_string(days).tolist())


def _event_ts(secs: Arr) -> list[str]:
    ms = np.floor(secs * 1000.0).astype("int64").astype("datetime64[ms]")
    return [s + "Z" for s in np.datetime_as_string(ms, unit="ms").tolist()]


def _pick(
    rng: np.random.Generator, values: Sequence[str], n: int, p: Sequence[float] | None = None
) -> list[str]:
    idx = rng.choice(len(values), size=n, p=p)
    return [values[i] for i in idx.tolist()]


def _group_starts(counts: Arr) -> Arr:
    out: Arr = np.concatenate(([0], np.cumsum(counts)[:-1])).astype("int64")
    return out


def _within(counts: Arr) -> Arr:
    """0-based position of each element within its group, for groups laid out by ``counts``."""
    out: Arr = np.arange(int(counts.sum())) - np.repeat(_group_starts(counts), counts)
    return out


def _snap(rng: np.random.Generator, t: Arr, how: Arr) -> Arr:
    """The latest moment at or before ``t`` that falls in hour-of-week ``how``."""
    week = np.floor((t - _MONDAY) / WEEK)
    out = _MONDAY + week * WEEK + how * 3600.0 + rng.uniform(0.0, 3600.0, t.size)
    return np.where(out > t, out - WEEK, out)


def _hours(rng: np.random.Generator, preferred: Arr) -> Arr:
    """Hours of the week near each preferred hour (a few anywhere)."""
    near = (preferred + np.rint(rng.normal(0.0, HOUR_SD, preferred.size))) % 168
    anywhere = rng.integers(0, 168, preferred.size)
    return np.where(rng.random(preferred.size) < HOUR_NOISE_SHARE, anywhere, near)


def _hex_ids(rng: np.random.Generator, n: int) -> list[str]:
    raw = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).tolist()
    return [f"{x:016x}{y:016x}" for x, y in raw]


_FIRST = [
    "Anna",
    "Ben",
    "Chloe",
    "Daniel",
    "Emma",
    "Felix",
    "Grace",
    "Hugo",
    "Isla",
    "Jack",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Olivia",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Will",
    "Xena",
    "Yusuf",
    "Zoe",
    "Amir",
    "Bella",
    "Carlos",
    "Dana",
    "Elif",
    "Farah",
    "Gus",
    "Hana",
    "Ivan",
    "Jonas",
    "Lena",
    "Marco",
    "Nina",
    "Oscar",
    "Priya",
    "Ravi",
    "Sofia",
    "Theo",
    "Uma",
    "Victor",
    "Wen",
    "Yara",
    "Zain",
]
_LAST = [
    "Smith",
    "Jones",
    "Garcia",
    "Muller",
    "Rossi",
    "Silva",
    "Kim",
    "Nguyen",
    "Patel",
    "Cohen",
    "Novak",
    "Larsen",
    "Dubois",
    "Costa",
    "Moreau",
    "Fischer",
    "Weber",
    "Santos",
    "Okafor",
    "Mensah",
    "Tanaka",
    "Sato",
    "Ivanova",
    "Kowalski",
    "Horvat",
    "Berg",
    "Lund",
    "Walsh",
    "Byrne",
    "Reyes",
    "Ortiz",
    "Haddad",
    "Aziz",
    "Khan",
    "Singh",
    "Chen",
    "Wang",
    "Li",
    "Park",
    "Brown",
    "Taylor",
    "Wilson",
    "Evans",
    "Hughes",
    "Clarke",
    "Murphy",
    "Baker",
    "Wright",
]
_FREE_MAIL = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "gmx.de",
    "proton.me",
    "orange.fr",
)
_FREE_MAIL_SHARE = (0.38, 0.1, 0.14, 0.1, 0.12, 0.06, 0.04, 0.06)
_CITIES = (
    ("London", "United Kingdom"),
    ("Manchester", "United Kingdom"),
    ("Paris", "France"),
    ("Lyon", "France"),
    ("Berlin", "Germany"),
    ("Munich", "Germany"),
    ("Madrid", "Spain"),
    ("Milan", "Italy"),
    ("Amsterdam", "Netherlands"),
    ("Dublin", "Ireland"),
    ("New York", "United States"),
    ("Austin", "United States"),
    ("Toronto", "Canada"),
)
_CO_WORDS = [
    "Northwind",
    "Bluebird",
    "Granite",
    "Maple",
    "Harbor",
    "Summit",
    "Copper",
    "Willow",
    "Falcon",
    "Cedar",
    "Orbit",
    "Lumen",
    "Atlas",
    "Meridian",
    "Kestrel",
    "Juniper",
    "Pioneer",
    "Silverline",
    "Brightwater",
    "Redwood",
]
_CO_KINDS = [
    "Studio",
    "Labs",
    "Trading",
    "Supply",
    "Partners",
    "Retail",
    "Goods",
    "Collective",
    "Works",
    "Outfitters",
    "Boutique",
    "Systems",
]
_CO_SUFFIX = ("Ltd", "GmbH", "Inc", "SAS", "LLC", "BV", "")
_INDUSTRIES = ("Retail", "Technology", "Finance", "Healthcare", "Other")
_PRODUCT_WORDS = {
    "Music": ("Vinyl", "Headphones", "Turntable", "Speaker", "Songbook", "Ukulele"),
    "Books": ("Novel", "Cookbook", "Atlas", "Biography", "Poetry Set", "Field Guide"),
    "Apparel": ("Jacket", "Sweater", "Sneakers", "Scarf", "Jeans", "Raincoat"),
    "Electronics": ("Charger", "E-reader", "Smartwatch", "Camera", "Keyboard", "Router"),
    "Home": ("Lamp", "Throw", "Kettle", "Planter", "Rug", "Mug Set"),
    "Beauty": ("Serum", "Lip Balm", "Perfume", "Face Mask", "Hair Oil", "Soap Bar"),
}
_PRODUCT_ADJ = (
    "Classic",
    "Eco",
    "Deluxe",
    "Mini",
    "Urban",
    "Nordic",
    "Vintage",
    "Pro",
    "Soft",
    "Bold",
)
_FAMILY_PRICE = (18.0, 15.0, 45.0, 80.0, 30.0, 22.0)
_POSITIVE = (
    "Thanks so much, the parcel arrived early and everything is perfect.",
    "Love the quality, I will definitely order again.",
    "Great service, the exchange was quick and easy.",
    "Really happy with my purchase, thank you!",
)
_NEGATIVE = (
    "This is the second late delivery, I am very disappointed.",
    "The item arrived damaged and nobody answered my email.",
    "Please cancel my account, I will not be ordering again.",
    "Terrible experience, the refund still has not arrived.",
)
_TASK_SUBJECTS = (
    "Call: follow up on order",
    "Email: delivery question",
    "Call: loyalty offer",
    "Email: product recommendation",
)


def _company_names(rng: np.random.Generator, n: int) -> list[str]:
    words = _pick(rng, _CO_WORDS, n)
    kinds = _pick(rng, _CO_KINDS, n)
    suffix = _pick(rng, _CO_SUFFIX, n)
    return [f"{w} {k} {s}".strip() for w, k, s in zip(words, kinds, suffix, strict=True)]


def _emails(
    rng: np.random.Generator, first: list[str], last: list[str], serial: Arr, domains: list[str]
) -> list[str]:
    """Canonical (lower-case) emails; the serial number makes each one unique."""
    style = rng.integers(0, 3, len(first)).tolist()
    out = []
    for f, lname, n, d, s in zip(first, last, serial.tolist(), domains, style, strict=True):
        local = (f"{f}.{lname}", f"{f}_{lname}", f"{f[0]}{lname}")[s]
        out.append(f"{local}{n}@{d}".lower())
    return out


def _stored_emails(rng: np.random.Generator, canonical: list[str]) -> list[str]:
    """What Salesforce holds: a few emails in mixed case or with surrounding whitespace."""
    out = list(canonical)
    picks = np.flatnonzero(rng.random(len(out)) < MIXED_EMAIL_SHARE).tolist()
    kinds = rng.integers(0, 3, len(picks)).tolist()
    for i, kind in zip(picks, kinds, strict=True):
        local, domain = out[i].split("@")
        if kind == 0:
            out[i] = f"{local.title()}@{domain}"
        elif kind == 1:
            out[i] = f"{local}@{domain.upper()}"
        else:
            out[i] = f" {out[i]} "
    return out


@dataclass
class _Products:
    ids: list[str]
    codes: list[str]
    family: Arr
    price_cents: Arr
    family_start: Arr
    family_count: Arr


@dataclass
class _Events:
    """Columns of track events being collected for one chunk."""

    t: list[Arr]
    name: list[list[str]]
    anon: list[list[str]]
    user: list[list[str | None]]
    email: list[list[str | None]]
    props: list[list[str]]

    @classmethod
    def empty(cls) -> _Events:
        return cls([], [], [], [], [], [])

    def add(
        self,
        t: Arr,
        name: list[str],
        anon: list[str],
        user: list[str | None],
        email: list[str | None],
        props: list[str],
    ) -> None:
        self.t.append(t)
        self.name.append(name)
        self.anon.append(anon)
        self.user.append(user)
        self.email.append(email)
        self.props.append(props)


# --------------------------------------------------------------------------- the store


class _Store:
    def __init__(
        self,
        spec: SeedSize,
        out_dir: Path,
        ids: IdFactory,
        owner_id: str,
        now: datetime,
        rng_seed: int,
        holdout_days: int,
    ) -> None:
        self.spec = spec
        self.out_dir = out_dir
        self.ids = ids
        self.owner = owner_id
        self.now_dt = now.astimezone(UTC)
        self.now = float(int(self.now_dt.timestamp()))
        self.seed = rng_seed
        self.holdout = float(holdout_days)
        self.pop = calibrate(spec)
        self.order_seq = 0
        self.message_seq = 0
        self.counts: dict[str, int] = {}
        n_conv = min(round(spec.leads * CONVERTED_LEAD_SHARE), spec.contacts)
        self.n_open_leads = spec.leads - n_conv
        mask = np.zeros(spec.contacts, dtype=bool)
        mask[self._rng("converted", 0).choice(spec.contacts, n_conv, replace=False)] = True
        self.converted_mask = mask
        self.events_out: IO[str] | None = None
        self.customers: Any = None
        self.leads: Any = None
        self.replies: Any = None

    def _rng(self, stream: str, chunk: int) -> np.random.Generator:
        key = [self.seed, sum(ord(c) * 31**i for i, c in enumerate(stream)) % 2**32, chunk]
        return np.random.default_rng(key)

    def _count(self, obj: str, n: int) -> None:
        self.counts[obj] = self.counts.get(obj, 0) + n

    def _system(
        self, obj: str, n: int, created: Arr, modified: Arr | None = None, *, owner: bool = True
    ) -> tuple[list[str], Columns]:
        ids = self.ids.batch(obj, n)
        self._count(obj, n)
        created_text = _dt_text(created)
        modified_text = created_text if modified is None else _dt_text(modified)
        cols: Columns = {
            "Id": ids,
            "IsDeleted": _Same(0),
            "CreatedDate": created_text,
            "CreatedById": _Same(self.owner),
            "LastModifiedDate": modified_text,
            "LastModifiedById": _Same(self.owner),
            "SystemModstamp": modified_text,
        }
        if owner:
            cols["OwnerId"] = _Same(self.owner)
        return ids, cols

    # ------------------------------------------------------------------ driver
    def run(self) -> Iterator[Batch]:
        truth = self.out_dir / "truth"
        truth.mkdir(parents=True, exist_ok=True)
        with (
            (self.out_dir / "events.jsonl").open("w", encoding="utf-8") as events,
            (truth / "customers.csv").open("w", newline="", encoding="utf-8") as customers,
            (truth / "leads.csv").open("w", newline="", encoding="utf-8") as leads,
            (truth / "replies.csv").open("w", newline="", encoding="utf-8") as replies,
        ):
            self.events_out = events
            self.customers = csv.writer(customers)
            self.customers.writerow(CUSTOMER_COLUMNS)
            self.leads = csv.writer(leads)
            self.leads.writerow(LEAD_COLUMNS)
            self.replies = csv.writer(replies)
            self.replies.writerow(("message_id", "contact_id", "tone"))
            products = self._products()
            yield from self._product_rows(products)
            for k, lo in enumerate(range(0, self.spec.contacts, CONTACT_CHUNK)):
                hi = min(self.spec.contacts, lo + CONTACT_CHUNK)
                yield from self._customers_chunk(k, lo, hi, products)
            for k, lo in enumerate(range(0, self.n_open_leads, LEAD_CHUNK)):
                hi = min(self.n_open_leads, lo + LEAD_CHUNK)
                yield from self._open_leads_chunk(k, lo, hi)
        self._write_params()

    def _write_params(self) -> None:
        pop = self.pop
        params = {
            "size": self.spec.name,
            "rng_seed": self.seed,
            "now": _dt_text(np.array([self.now]))[0],
            "holdout_days": self.holdout,
            "units": "rates per day, times UTC, hour_of_week 0 = Monday 00:00 UTC",
            "bgnbd": {"r": pop.r, "alpha": pop.alpha, "a": pop.a, "b": pop.b},
            "gamma_gamma": {"p": pop.gg_p, "q": pop.gg_q, "gamma": pop.gg_gamma},
            "birth_span_days": SPAN_DAYS,
            "channels": {
                "names": list(CHANNELS),
                "preferred_share": list(CHANNEL_SHARE),
                "conversion_preferred": CONVERSION_PREFERRED,
                "conversion_other": CONVERSION_OTHER,
                "attributed_share": ATTRIBUTED_SHARE,
                "hour_sd": HOUR_SD,
                "hour_noise_share": HOUR_NOISE_SHARE,
            },
            "refund_rate": REFUND_RATE,
            "person_account_share": PERSON_ACCOUNT_SHARE,
            "counts": dict(sorted(self.counts.items())),
        }
        path = self.out_dir / "truth" / "params.json"
        path.write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")

    # ------------------------------------------------------------------ events
    def _write_events(self, ev: _Events) -> None:
        assert self.events_out is not None
        if not ev.t:
            return
        ts = _event_ts(np.concatenate(ev.t))
        names = list(itertools.chain.from_iterable(ev.name))
        anon = list(itertools.chain.from_iterable(ev.anon))
        users = list(itertools.chain.from_iterable(ev.user))
        emails = list(itertools.chain.from_iterable(ev.email))
        props = list(itertools.chain.from_iterable(ev.props))
        start = self.message_seq
        self.message_seq += len(ts)
        self._count("events", len(ts))
        prefix = f"seed{self.seed}-"
        lines = []
        for i, (t, name, a, u, e, pr) in enumerate(
            zip(ts, names, anon, users, emails, props, strict=True), start
        ):
            uid = "null" if u is None else f'"{u}"'
            ctx = "{}" if e is None else f'{{"traits":{{"email":"{e}"}}}}'
            lines.append(
                f'{{"type":"track","messageId":"{prefix}{i:010d}","timestamp":"{t}",'
                f'"userId":{uid},"anonymousId":"{a}","event":"{name}","properties":{pr},'
                f'"context":{ctx}}}\n'
            )
        self.events_out.writelines(lines)

    def _write_identifies(
        self, t: Arr, anon: list[str], users: list[str | None], emails: list[str]
    ) -> None:
        assert self.events_out is not None
        ts = _event_ts(t)
        start = self.message_seq
        self.message_seq += len(ts)
        self._count("identifies", len(ts))
        prefix = f"seed{self.seed}-"
        lines = []
        for i, (stamp, a, u, e) in enumerate(zip(ts, anon, users, emails, strict=True), start):
            uid = "null" if u is None else f'"{u}"'
            lines.append(
                f'{{"type":"identify","messageId":"{prefix}{i:010d}","timestamp":"{stamp}",'
                f'"userId":{uid},"anonymousId":"{a}","traits":{{"email":"{e}"}}}}\n'
            )
        self.events_out.writelines(lines)

    # ------------------------------------------------------------------ products
    def _products(self) -> _Products:
        rng = self._rng("products", 0)
        n = self.spec.products
        family = np.sort(np.arange(n) % len(FAMILIES))
        counts = np.bincount(family, minlength=len(FAMILIES))
        base = np.asarray(_FAMILY_PRICE)[family]
        price = np.maximum(np.rint(base * rng.lognormal(0.0, 0.5, n) * 100), 199).astype("int64")
        codes = [
            f"SKU-{FAMILIES[f][:3].upper()}-{i + 1:04d}" for i, f in enumerate(family.tolist())
        ]
        return _Products(
            ids=[],
            codes=codes,
            family=family,
            price_cents=price,
            family_start=_group_starts(counts),
            family_count=counts,
        )

    def _product_rows(self, products: _Products) -> Iterator[Batch]:
        rng = self._rng("products", 1)
        n = self.spec.products
        created = self.now - (SPAN_DAYS + 30 + rng.uniform(0, 60, n)) * DAY
        products.ids, cols = self._system("Product2", n, created, owner=False)
        fam = products.family.tolist()
        adj = _pick(rng, _PRODUCT_ADJ, n)
        nouns = [
            _PRODUCT_WORDS[FAMILIES[f]][int(j)]
            for f, j in zip(fam, rng.integers(0, 6, n).tolist(), strict=True)
        ]
        cols.update(
            {
                "Name": [f"{a} {w}" for a, w in zip(adj, nouns, strict=True)],
                "ProductCode": products.codes,
                "Family": [FAMILIES[f] for f in fam],
                "IsActive": _Same(1),
                "Description": [
                    f"{a} {w}, list price {c / 100:.2f}"
                    for a, w, c in zip(adj, nouns, products.price_cents.tolist(), strict=True)
                ],
            }
        )
        yield from _batches("Product2", cols, n)

    # ------------------------------------------------------------------ customers
    def _simulate(
        self, rng: np.random.Generator, lam: Arr, p: Arr, birth: Arr
    ) -> tuple[Arr, Arr, Arr, Arr]:
        """Repeat purchases through the holdout: (owner, time, count, dropped-at-last) arrays."""
        horizon = self.now + self.holdout * DAY - birth
        m = rng.poisson(lam * horizon / DAY)
        k = rng.geometric(p)
        count = np.minimum(m, k)
        owner = np.repeat(np.arange(lam.size), count)
        j = _within(count)
        # Renyi: the k-th smallest of m uniforms is 1 - prod_{i<=k} V_i^(1/(m-i+1)).
        logs = np.log1p(-rng.random(owner.size)) / (m[owner] - j)
        cum = np.cumsum(logs)
        starts = _group_starts(count)
        offset = np.repeat(cum[starts - 1] * (starts > 0) if owner.size else cum[:0], count)
        u = -np.expm1(cum - offset)
        times = birth[owner] + u * horizon[owner]
        return owner, times, count, k <= m

    def _customers_chunk(
        self, chunk: int, lo: int, hi: int, products: _Products
    ) -> Iterator[Batch]:
        rng = self._rng("customers", chunk)
        n = hi - lo
        pop = self.pop
        now = self.now
        lam = rng.gamma(pop.r, 1.0 / pop.alpha, n)
        p = np.clip(rng.beta(pop.a, pop.b, n), 1e-9, 1.0)
        nu = rng.gamma(pop.gg_q, 1.0 / pop.gg_gamma, n)
        birth = now - rng.uniform(0.0, SPAN_DAYS * DAY, n)
        converted = self.converted_mask[lo:hi]
        conversion = birth - rng.uniform(0.0, 3 * DAY, n)
        created = np.where(converted, conversion, birth - rng.uniform(0.0, 600.0, n))

        rep_owner, rep_t, rep_count, dropped = self._simulate(rng, lam, p, birth)
        observed = rep_t <= now
        n_rep_obs = np.bincount(rep_owner[observed], minlength=n)
        n_holdout = rep_count - n_rep_obs
        last_idx = _group_starts(rep_count) + rep_count - 1
        death = np.full(n, np.nan)
        has_death = dropped & (rep_count > 0)
        death[has_death] = rep_t[last_idx[has_death]]
        alive_now = ~(has_death & (death <= now))

        # people
        first = _pick(rng, _FIRST, n)
        last = _pick(rng, _LAST, n)
        domains = _pick(rng, _FREE_MAIL, n, _FREE_MAIL_SHARE)
        email = _emails(rng, first, last, np.arange(lo, hi) + 1, domains)
        stored = _stored_emails(rng, email)
        pref_channel = rng.choice(len(CHANNELS), n, p=CHANNEL_SHARE)
        pref_hour = rng.integers(0, 168, n)
        sales_mix = rng.dirichlet((3.0, 1.5, 1.0, 0.7), n)
        fav_family = rng.integers(0, len(FAMILIES), n)
        person = rng.random(n) < PERSON_ACCOUNT_SHARE
        anon = _hex_ids(rng, n)
        store_user = [f"cust_{i + 1:07d}" for i in range(lo, hi)]

        # accounts: one per person-account customer, business accounts of ~3 contacts
        bus = np.flatnonzero(~person)
        n_bus_acc = math.ceil(bus.size / 3)
        bus_acc = rng.permutation(bus.size) % max(n_bus_acc, 1)
        pers = np.flatnonzero(person)
        n_acc = pers.size + n_bus_acc
        contact_acc = np.empty(n, dtype="int64")
        contact_acc[pers] = np.arange(pers.size)
        contact_acc[bus] = pers.size + bus_acc
        acc_created = np.full(n_acc, np.inf)
        np.minimum.at(acc_created, contact_acc, created - np.where(person, 0.0, DAY))
        contact_ids = self.ids.batch("Contact", n)
        self._count("Contact", n)
        acc_ids, acc_cols = self._system("Account", n_acc, acc_created)
        full_name = [f"{f} {x}" for f, x in zip(first, last, strict=True)]
        acc_name = [full_name[i] for i in pers.tolist()] + _company_names(rng, n_bus_acc)
        city_idx = rng.integers(0, len(_CITIES), n)
        acc_city = np.empty(n_acc, dtype="int64")
        acc_city[contact_acc] = city_idx
        pers_list = pers.tolist()
        industry: list[str | None] = [None] * pers.size
        industry += _pick(rng, _INDUSTRIES, n_bus_acc)
        acc_cols.update(
            {
                "Name": acc_name,
                "Type": _Same("Customer - Direct"),
                "Industry": industry,
                "BillingCity": [_CITIES[c][0] for c in acc_city.tolist()],
                "BillingCountry": [_CITIES[c][1] for c in acc_city.tolist()],
                "IsPersonAccount": [1] * pers.size + [0] * n_bus_acc,
                "PersonContactId": [contact_ids[i] for i in pers_list] + [None] * n_bus_acc,
                "PersonEmail": [stored[i] for i in pers_list] + [None] * n_bus_acc,
            }
        )
        yield from _batches("Account", acc_cols, n_acc)

        account_of = [acc_ids[a] for a in contact_acc.tolist()]
        lead_source = _pick(rng, LEAD_SOURCES, n)
        con_cols: Columns = {
            "Id": contact_ids,
            "IsDeleted": _Same(0),
            "CreatedDate": _dt_text(created),
            "CreatedById": _Same(self.owner),
            "LastModifiedDate": _dt_text(created),
            "LastModifiedById": _Same(self.owner),
            "SystemModstamp": _dt_text(created),
            "OwnerId": _Same(self.owner),
            "FirstName": first,
            "LastName": last,
            "Name": full_name,
            "AccountId": account_of,
            "Email": stored,
            "MobilePhone": [f"+44 7700 {x:06d}" for x in rng.integers(0, 10**6, n).tolist()],
            "MailingCity": [_CITIES[c][0] for c in city_idx.tolist()],
            "MailingCountry": [_CITIES[c][1] for c in city_idx.tolist()],
            "LeadSource": lead_source,
            "HasOptedOutOfEmail": _Same(0),
        }
        yield from _batches("Contact", con_cols, n)

        yield from self._converted_leads(
            rng,
            np.flatnonzero(converted),
            conversion,
            first,
            last,
            email,
            stored,
            lead_source,
            contact_ids,
            account_of,
            acc_name,
            contact_acc,
        )

        # orders: the first purchase plus observed repeats, sorted by customer then time
        o_owner = np.concatenate((np.arange(n), rep_owner[observed]))
        o_t = np.concatenate((birth, rep_t[observed]))
        order = np.lexsort((o_t, o_owner))
        o_owner, o_t = o_owner[order], o_t[order]
        o_first = np.concatenate(([True], o_owner[1:] != o_owner[:-1]))
        spend, items, channel = yield from self._orders(
            rng,
            o_owner,
            o_t,
            o_first,
            nu,
            sales_mix,
            fav_family,
            person,
            contact_ids,
            account_of,
            products,
        )
        n_obs = np.bincount(o_owner, minlength=n)

        # marketing and web events
        ev = _Events.empty()
        self._marketing_events(
            rng, ev, o_owner, o_t, birth, death, pref_channel, pref_hour, email, anon
        )
        self._web_events(
            rng, ev, o_owner, o_t, items, channel, birth, email, anon, store_user, products
        )
        self._write_events(ev)
        self._write_identifies(created - 60.0, anon, list(store_user), email)

        yield from self._service(
            rng, created, o_owner, o_t, alive_now, contact_ids, account_of, email
        )

        mean_spend = pop.gg_p / nu
        expected_holdout = np.where(alive_now, -np.expm1(-lam * p * self.holdout) / p, 0.0)
        rep_obs_t = np.where(observed, rep_t, -np.inf)
        last_obs = np.full(n, -np.inf)
        np.maximum.at(last_obs, rep_owner, rep_obs_t)
        last_obs = np.where(n_rep_obs > 0, last_obs, birth)
        birth_text = _dt_text(birth)
        death_text = [
            "" if math.isnan(d) else s
            for d, s in zip(death.tolist(), _dt_text(np.nan_to_num(death, nan=now)), strict=True)
        ]
        rows = zip(
            contact_ids,
            email,
            np.round(lam, 8).tolist(),
            np.round(p, 8).tolist(),
            birth_text,
            death_text,
            alive_now.astype(int).tolist(),
            np.round(mean_spend, 4).tolist(),
            [CHANNELS[c] for c in pref_channel.tolist()],
            pref_hour.tolist(),
            [SALES_CHANNELS[c] for c in sales_mix.argmax(axis=1).tolist()],
            n_obs.tolist(),
            n_holdout.tolist(),
            np.round(expected_holdout, 6).tolist(),
            n_rep_obs.tolist(),
            np.round((last_obs - birth) / DAY, 6).tolist(),
            np.round((now - birth) / DAY, 6).tolist(),
            np.round(spend / 100.0, 2).tolist(),
            account_of,
            person.astype(int).tolist(),
            converted.astype(int).tolist(),
            strict=True,
        )
        self.customers.writerows(rows)

    def _orders(
        self,
        rng: np.random.Generator,
        owner: Arr,
        t: Arr,
        first: Arr,
        nu: Arr,
        sales_mix: Arr,
        fav_family: Arr,
        person: Arr,
        contact_ids: list[str],
        account_of: list[str],
        products: _Products,
    ) -> Generator[Batch, None, tuple[Arr, tuple[Arr, Arr, Arr], Arr]]:
        """Orders, reduction orders and their items; returns spend per customer, items, channel."""
        pop = self.pop
        n_orders = owner.size
        value = np.maximum(np.rint(rng.gamma(pop.gg_p, 1.0 / nu[owner]) * 100), 100)
        cum = np.cumsum(sales_mix[owner], axis=1)
        channel = (rng.random(n_orders)[:, None] > cum[:, :-1]).sum(axis=1)
        n_items = 1 + rng.binomial(3, 0.25, n_orders)
        it_order = np.repeat(np.arange(n_orders), n_items)
        share = rng.exponential(1.0, it_order.size)
        share /= np.bincount(it_order, weights=share)[it_order]
        qty = rng.choice(np.array([1, 2, 3]), it_order.size, p=(0.75, 0.2, 0.05))
        unit = np.maximum(np.rint(value[it_order] * share / qty), 1).astype("int64")
        line = unit * qty
        total = np.bincount(it_order, weights=line, minlength=n_orders).astype("int64")
        fam = fav_family[owner[it_order]]
        in_family = products.family_start[fam] + np.floor(
            rng.random(it_order.size) * products.family_count[fam]
        ).astype("int64")
        anywhere = rng.integers(0, len(products.codes), it_order.size)
        product = np.where(rng.random(it_order.size) < 0.6, in_family, anywhere)

        # who the order names: person accounts sometimes only AccountId; business accounts
        # usually BillTo/ShipTo, a few only CustomerAuthorizedById
        roll = rng.random(n_orders)
        is_person = person[owner]
        account_only = is_person & (roll < 0.5)
        authorized_only = ~is_person & (roll < 0.04)
        contact_of = [contact_ids[i] for i in owner.tolist()]
        bill = [
            None if a or b else c
            for a, b, c in zip(
                account_only.tolist(), authorized_only.tolist(), contact_of, strict=True
            )
        ]
        authorized = [
            c if a else None for a, c in zip(authorized_only.tolist(), contact_of, strict=True)
        ]
        accounts = [account_of[i] for i in owner.tolist()]

        # refunds: a reduction order for the whole first line of a few orders
        refund_t = t + rng.uniform(1.0, 30.0, n_orders) * DAY
        refunded = np.flatnonzero((rng.random(n_orders) < REFUND_RATE) & (refund_t <= self.now))
        item_start = _group_starts(n_items)
        refund_item = item_start[refunded]

        n_all = n_orders + refunded.size
        all_t = np.concatenate((t, refund_t[refunded]))
        order_ids, cols = self._system("Order", n_all, all_t)
        numbers = range(self.order_seq + 1, self.order_seq + 1 + n_all)
        self.order_seq += n_all
        self._count("ReductionOrder", refunded.size)
        ref = refunded.tolist()
        ext = [f"ext-{self.seed}-{k:08d}" for k in numbers[:n_orders]]
        totals = (total / 100.0).tolist() + (-line[refund_item] / 100.0).tolist()
        dates = _date_text(all_t)
        cols.update(
            {
                "AccountId": accounts + [accounts[i] for i in ref],
                "OrderNumber": [f"{k:08d}" for k in numbers],
                "Status": _Same("Activated"),
                "EffectiveDate": dates,
                "ActivatedDate": cols["CreatedDate"],
                "Type": ["New" if f else "Reorder" for f in first.tolist()] + [None] * len(ref),
                "TotalAmount": totals,
                "BillToContactId": bill + [bill[i] for i in ref],
                "ShipToContactId": bill + [bill[i] for i in ref],
                "CustomerAuthorizedById": authorized + [authorized[i] for i in ref],
                "IsReductionOrder": [0] * n_orders + [1] * len(ref),
                "OriginalOrderId": [None] * n_orders + [order_ids[i] for i in ref],
                "Sales_Channel__c": [
                    SALES_CHANNELS[c] for c in np.concatenate((channel, channel[refunded])).tolist()
                ],
                "External_Order_Id__c": ext + [f"{ext[i]}-R" for i in ref],
            }
        )
        yield from _batches("Order", cols, n_all)

        n_lines = it_order.size + refunded.size
        line_t = np.concatenate((t[it_order], refund_t[refunded]))
        item_ids, icols = self._system("OrderItem", n_lines, line_t, owner=False)
        qty_all = np.concatenate((qty, -qty[refund_item]))
        unit_all = np.concatenate((unit, unit[refund_item])) / 100.0
        icols.update(
            {
                "OrderId": [order_ids[i] for i in it_order.tolist()] + order_ids[n_orders:],
                "Product2Id": [
                    products.ids[i]
                    for i in np.concatenate((product, product[refund_item])).tolist()
                ],
                "Quantity": qty_all.astype(float).tolist(),
                "UnitPrice": unit_all.tolist(),
                "ListPrice": unit_all.tolist(),
                "TotalPrice": (
                    qty_all * np.concatenate((unit, unit[refund_item])) / 100.0
                ).tolist(),
                "OriginalOrderItemId": [None] * it_order.size
                + [item_ids[i] for i in refund_item.tolist()],
            }
        )
        yield from _batches("OrderItem", icols, n_lines)
        spend = np.bincount(owner, weights=total, minlength=nu.size)
        return spend, (it_order, product, unit), channel

    def _marketing_events(
        self,
        rng: np.random.Generator,
        ev: _Events,
        o_owner: Arr,
        o_t: Arr,
        birth: Arr,
        death: Arr,
        pref_channel: Arr,
        pref_hour: Arr,
        email: list[str],
        anon: list[str],
    ) -> None:
        n = birth.size
        n_ch = len(CHANNELS)
        conv = np.full((n, n_ch), CONVERSION_OTHER)
        conv[np.arange(n), pref_channel] = CONVERSION_PREFERRED
        # converting clicks: half the purchases, channel in proportion to its conversion rate
        attributed = np.flatnonzero(rng.random(o_owner.size) < ATTRIBUTED_SHARE)
        who = o_owner[attributed]
        share = conv / conv.sum(axis=1, keepdims=True)
        weights = share[who]
        ch = (rng.random(who.size)[:, None] > np.cumsum(weights, axis=1)[:, :-1]).sum(axis=1)
        click_t = _snap(rng, o_t[attributed] - 600.0, _hours(rng, pref_hour[who]))
        # non-converting clicks so every channel gets the same expected click volume
        n_purchases = np.bincount(o_owner, minlength=n)
        expected_conv = ATTRIBUTED_SHARE * n_purchases[:, None] * share
        n_miss = rng.poisson(expected_conv * (1.0 - conv) / conv)
        miss_who = np.repeat(np.repeat(np.arange(n), n_ch), n_miss.ravel())
        miss_ch = np.repeat(np.tile(np.arange(n_ch), n), n_miss.ravel())
        end = np.where(np.isnan(death), self.now, np.minimum(death, self.now))
        raw = birth[miss_who] + rng.random(miss_who.size) * (end - birth)[miss_who]
        miss_t = _snap(rng, raw, _hours(rng, pref_hour[miss_who]))
        miss_t = np.where(miss_t < birth[miss_who], miss_t + WEEK, miss_t)
        keep = miss_t <= end[miss_who]
        all_who = np.concatenate((who, miss_who[keep]))
        all_ch = np.concatenate((ch, miss_ch[keep]))
        all_t = np.concatenate((click_t, miss_t[keep]))
        all_t = np.minimum(all_t, self.now)
        campaign = np.floor((all_t - _MONDAY) / WEEK).astype("int64").tolist()
        ch_list = all_ch.tolist()
        who_list = all_who.tolist()
        props = [
            f'{{"channel":"{CHANNELS[c]}","campaign_id":"cmp-{CHANNELS[c]}-{w}"}}'
            for c, w in zip(ch_list, campaign, strict=True)
        ]
        emails: list[str | None] = [email[i] for i in who_list]
        ev.add(
            all_t,
            [CLICK_EVENT[c] for c in ch_list],
            [anon[i] for i in who_list],
            [None] * len(who_list),
            emails,
            props,
        )
        # every email click is preceded by an open
        is_mail = np.flatnonzero(all_ch == 0)
        open_t = all_t[is_mail] - rng.uniform(60.0, 1800.0, is_mail.size)
        mail_who = [who_list[i] for i in is_mail.tolist()]
        ev.add(
            open_t,
            ["Email Opened"] * is_mail.size,
            [anon[i] for i in mail_who],
            [None] * is_mail.size,
            [email[i] for i in mail_who],
            [props[i] for i in is_mail.tolist()],
        )

    def _web_events(
        self,
        rng: np.random.Generator,
        ev: _Events,
        o_owner: Arr,
        o_t: Arr,
        items: tuple[Arr, Arr, Arr],
        channel: Arr,
        birth: Arr,
        email: list[str],
        anon: list[str],
        store_user: list[str],
        products: _Products,
    ) -> None:
        it_order, product, unit = items
        online = np.flatnonzero(channel <= 1)  # Web, Mobile App
        first_item = _group_starts(np.bincount(it_order, minlength=o_owner.size))[online]
        prod = product[first_item]
        price = unit[first_item] / 100.0
        who = o_owner[online]
        logged_in = rng.random(online.size) < 0.6
        users: list[str | None] = [
            store_user[w] if li else None
            for w, li in zip(who.tolist(), logged_in.tolist(), strict=True)
        ]
        mails: list[str | None] = [
            email[w] if li else None for w, li in zip(who.tolist(), logged_in.tolist(), strict=True)
        ]
        anon_w = [anon[w] for w in who.tolist()]
        base = o_t[online]
        item_props = [
            f'{{"channel":"web","product_id":"{products.codes[i]}","price":{pr:.2f}}}'
            for i, pr in zip(prod.tolist(), price.tolist(), strict=True)
        ]
        ev.add(
            base - rng.uniform(600.0, 3600.0, online.size),
            ["Product Viewed"] * online.size,
            anon_w,
            users,
            mails,
            item_props,
        )
        ev.add(
            base - rng.uniform(180.0, 600.0, online.size),
            ["Product Added"] * online.size,
            anon_w,
            users,
            mails,
            item_props,
        )
        ev.add(
            base - rng.uniform(10.0, 180.0, online.size),
            ["Checkout Started"] * online.size,
            anon_w,
            users,
            mails,
            item_props,
        )
        # browsing that led nowhere, anonymous
        n_browse = rng.poisson(1.5, birth.size)
        b_who = np.repeat(np.arange(birth.size), n_browse)
        b_t = birth[b_who] + rng.random(b_who.size) * (self.now - birth[b_who])
        b_prod = rng.integers(0, len(products.codes), b_who.size)
        prices = products.price_cents[b_prod] / 100.0
        ev.add(
            b_t,
            ["Product Viewed"] * b_who.size,
            [anon[i] for i in b_who.tolist()],
            [None] * b_who.size,
            [None] * b_who.size,
            [
                f'{{"channel":"web","product_id":"{products.codes[i]}","price":{pr:.2f}}}'
                for i, pr in zip(b_prod.tolist(), prices.tolist(), strict=True)
            ],
        )

    def _service(
        self,
        rng: np.random.Generator,
        created: Arr,
        o_owner: Arr,
        o_t: Arr,
        alive_now: Arr,
        contact_ids: list[str],
        account_of: list[str],
        email: list[str],
    ) -> Iterator[Batch]:
        n = created.size
        # Tasks: a few calls and emails with customers
        tasked = np.flatnonzero(rng.random(n) < 0.03)
        t_time = created[tasked] + rng.random(tasked.size) * (self.now - created[tasked])
        subject = _pick(rng, _TASK_SUBJECTS, tasked.size)
        _, cols = self._system("Task", tasked.size, t_time)
        cols.update(
            {
                "Subject": subject,
                "Status": _Same("Completed"),
                "Priority": _Same("Normal"),
                "WhoId": [contact_ids[i] for i in tasked.tolist()],
                "WhatId": [account_of[i] for i in tasked.tolist()],
                "ActivityDate": _date_text(t_time),
                "Type": [s.split(":")[0] for s in subject],
                "TaskSubtype": [s.split(":")[0] for s in subject],
            }
        )
        yield from _batches("Task", cols, tasked.size)

        # EmailMessages: replies after an order; customers who dropped out sound unhappier
        replied = np.flatnonzero(rng.random(n) < 0.02)
        last_order = np.full(n, -np.inf)
        np.maximum.at(last_order, o_owner, o_t)
        m_time = last_order[replied] + rng.uniform(1.0, 10.0, replied.size) * DAY
        late = m_time > self.now
        m_time[late] = self.now - rng.uniform(0.0, 1.0, int(late.sum())) * (
            self.now - last_order[replied][late]
        )
        negative = rng.random(replied.size) < np.where(alive_now[replied], 0.15, 0.7)
        body = [
            (_NEGATIVE if neg else _POSITIVE)[k]
            for neg, k in zip(
                negative.tolist(), rng.integers(0, 4, replied.size).tolist(), strict=True
            )
        ]
        message_ids, cols = self._system("EmailMessage", replied.size, m_time, owner=False)
        cols.update(
            {
                "Subject": _Same("Re: Your order"),
                "TextBody": body,
                "FromAddress": [email[i] for i in replied.tolist()],
                "ToAddress": _Same("support@shop.example.com"),
                "Incoming": _Same(1),
                "MessageDate": cols["CreatedDate"],
                "Status": _Same("1"),
                "RelatedToId": [contact_ids[i] for i in replied.tolist()],
            }
        )
        yield from _batches("EmailMessage", cols, replied.size)
        self.replies.writerows(
            zip(
                message_ids,
                [contact_ids[i] for i in replied.tolist()],
                ["negative" if x else "positive" for x in negative.tolist()],
                strict=True,
            )
        )

    # ------------------------------------------------------------------ leads
    def _lead_events(
        self,
        rng: np.random.Generator,
        ev: _Events,
        created: Arr,
        end: Arr,
        pi: Arr,
        burst: Arr,
        email: list[str],
        anon: list[str],
        web_form: Arr,
    ) -> None:
        """Base-rate engagement over [created, end] plus ``burst`` events just before ``end``."""
        n = created.size
        age = (end - created) / DAY
        n_base = rng.poisson((0.01 + 0.12 * pi) * age)
        b_who = np.repeat(np.arange(n), n_base)
        b_t = created[b_who] + rng.random(b_who.size) * (end - created)[b_who]
        r_who = np.repeat(np.arange(n), burst)
        r_t = end[r_who] - rng.exponential(4.0 * DAY, r_who.size)
        early = r_t < created[r_who]
        r_t[early] = (
            created[r_who][early] + rng.random(int(early.sum())) * (end - created)[r_who][early]
        )
        f_who = np.flatnonzero(web_form)
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
        props = []
        for k in kinds:
            if k == 0:
                props.append('{"channel":"web","path":"/pricing"}')
            elif k == 3:
                props.append('{"channel":"web","form":"contact-us"}')
            else:
                props.append('{"channel":"email","campaign_id":"cmp-nurture"}')
        ev.add(
            t,
            [LEAD_EVENTS[k] for k in kinds],
            [anon[i] for i in who_list],
            [None] * who.size,
            [None if a else email[i] for i, a in zip(who_list, anonymous.tolist(), strict=True)],
            props,
        )

    def _converted_leads(
        self,
        rng: np.random.Generator,
        idx: Arr,
        conversion: Arr,
        first: list[str],
        last: list[str],
        email: list[str],
        stored: list[str],
        lead_source: list[str],
        contact_ids: list[str],
        account_of: list[str],
        acc_name: list[str],
        contact_acc: Arr,
    ) -> Iterator[Batch]:
        n = idx.size
        if n == 0:
            return
        il = idx.tolist()
        conv_t = conversion[idx]
        created = conv_t - rng.uniform(3.0, 120.0, n) * DAY
        pi = rng.beta(2.0, 3.0, n)
        lead_ids, cols = self._system("Lead", n, created, conv_t)
        conv_date = _date_text(conv_t)
        sources = [lead_source[i] for i in il]
        cols.update(
            self._lead_fields(
                rng,
                pi,
                [first[i] for i in il],
                [last[i] for i in il],
                [acc_name[contact_acc[i]] for i in il],
                [stored[i] for i in il],
                sources,
            )
        )
        cols.update(
            {
                "Status": _Same("Closed - Converted"),
                "IsConverted": _Same(1),
                "ConvertedDate": conv_date,
                "ConvertedContactId": [contact_ids[i] for i in il],
                "ConvertedAccountId": [account_of[i] for i in il],
            }
        )
        yield from _batches("Lead", cols, n)
        ev = _Events.empty()
        burst = rng.poisson(3.0 + 12.0 * pi)
        lead_email = [email[i] for i in il]
        anon = _hex_ids(rng, n)
        web = np.array([s == "Web" for s in sources], dtype=bool)
        self._lead_events(rng, ev, created, conv_t, pi, burst, lead_email, anon, web)
        self._write_events(ev)
        self._write_identifies(created, anon, [None] * n, lead_email)
        conv_text = _dt_text(conv_t)
        self.leads.writerows(
            zip(
                lead_ids,
                lead_email,
                np.round(pi, 6).tolist(),
                [1] * n,
                [0] * n,
                conv_text,
                conv_date,
                [contact_ids[i] for i in il],
                strict=True,
            )
        )

    def _lead_fields(
        self,
        rng: np.random.Generator,
        pi: Arr,
        first: list[str],
        last: list[str],
        company: list[str],
        stored: list[str],
        sources: list[str],
    ) -> Columns:
        n = pi.size
        heat = pi * rng.lognormal(0.0, 0.7, n)
        rating = np.where(heat > 0.3, "Hot", np.where(heat > 0.1, "Warm", "Cold")).tolist()
        city = rng.integers(0, len(_CITIES), n).tolist()
        return {
            "FirstName": first,
            "LastName": last,
            "Name": [f"{f} {x}" for f, x in zip(first, last, strict=True)],
            "Company": company,
            "Email": stored,
            "LeadSource": sources,
            "Industry": _pick(rng, _INDUSTRIES, n),
            "Rating": rating,
            "City": [_CITIES[c][0] for c in city],
            "Country": [_CITIES[c][1] for c in city],
            "HasOptedOutOfEmail": _Same(0),
        }

    def _open_leads_chunk(self, chunk: int, lo: int, hi: int) -> Iterator[Batch]:
        rng = self._rng("leads", chunk)
        n = hi - lo
        now = self.now
        status_p = (0.4, 0.45, 0.15)
        open_statuses = (LEAD_STATUSES[0], LEAD_STATUSES[1], LEAD_STATUSES[3])
        status_idx = rng.choice(3, n, p=status_p)
        pi = rng.beta(0.7, 4.0, n) * np.where(status_idx == 2, 0.2, 1.0)
        created = now - rng.uniform(1.0, 365.0, n) * DAY
        converts = rng.random(n) < pi
        conv_t = now + np.maximum(rng.beta(1.0, 2.0, n) * self.holdout * DAY, 3600.0)
        first = _pick(rng, _FIRST, n)
        last = _pick(rng, _LAST, n)
        company = _company_names(rng, n)
        business = rng.random(n) < 0.4
        slug = ["".join(c for c in name.split()[0].lower() if c.isalpha()) for name in company]
        free = _pick(rng, _FREE_MAIL, n, _FREE_MAIL_SHARE)
        domains = [
            f"{s}.com" if b else f for s, b, f in zip(slug, business.tolist(), free, strict=True)
        ]
        serial = np.arange(lo, hi) + self.spec.contacts + 1
        email = _emails(rng, first, last, serial, domains)
        stored = _stored_emails(rng, email)
        sources = _pick(rng, LEAD_SOURCES, n)
        lead_ids, cols = self._system("Lead", n, created)
        cols.update(self._lead_fields(rng, pi, first, last, company, stored, sources))
        cols.update(
            {
                "Status": [open_statuses[i] for i in status_idx.tolist()],
                "IsConverted": _Same(0),
                "ConvertedDate": _Same(None),
                "ConvertedContactId": _Same(None),
                "ConvertedAccountId": _Same(None),
            }
        )
        yield from _batches("Lead", cols, n)

        worked = np.flatnonzero((status_idx == 1) & (rng.random(n) < 0.3))
        t_time = created[worked] + rng.random(worked.size) * (now - created[worked])
        _, tcols = self._system("Task", worked.size, t_time)
        tcols.update(
            {
                "Subject": _Same("Call: qualify lead"),
                "Status": _Same("Completed"),
                "Priority": _Same("Normal"),
                "WhoId": [lead_ids[i] for i in worked.tolist()],
                "WhatId": _Same(None),
                "ActivityDate": _date_text(t_time),
                "Type": _Same("Call"),
                "TaskSubtype": _Same("Call"),
            }
        )
        yield from _batches("Task", tcols, worked.size)

        ev = _Events.empty()
        burst = np.where(converts, rng.poisson(3.0 + 12.0 * pi), 0)
        end = np.full(n, now)
        anon = _hex_ids(rng, n)
        web = np.array([s == "Web" for s in sources], dtype=bool)
        self._lead_events(rng, ev, created, end, pi, burst, email, anon, web)
        self._write_events(ev)
        self._write_identifies(created, anon, [None] * n, email)
        conv_text = _dt_text(conv_t)
        conv_date = _date_text(conv_t)
        self.leads.writerows(
            zip(
                lead_ids,
                email,
                np.round(pi, 6).tolist(),
                [0] * n,
                converts.astype(int).tolist(),
                [c if x else "" for c, x in zip(conv_text, converts.tolist(), strict=True)],
                [c if x else "" for c, x in zip(conv_date, converts.tolist(), strict=True)],
                [""] * n,
                strict=True,
            )
        )


CUSTOMER_COLUMNS = (
    "contact_id",
    "email",
    "lambda",
    "p",
    "birth",
    "death_time",
    "alive_at_now",
    "mean_spend",
    "preferred_channel",
    "preferred_hour_of_week",
    "preferred_sales_channel",
    "n_orders_observed",
    "n_orders_holdout",
    "expected_holdout",
    "frequency",
    "recency_days",
    "T_days",
    "spend_observed",
    "account_id",
    "person_account",
    "from_lead",
)
LEAD_COLUMNS = (
    "lead_id",
    "email",
    "propensity",
    "converted",
    "converts_in_holdout",
    "conversion_time",
    "conversion_date",
    "contact_id",
)

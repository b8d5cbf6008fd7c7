"""Names, places, products and words the synthetic store draws from, and its email addresses."""

from __future__ import annotations

import numpy as np

from localorg.seed.frame import pick
from localorg.seed.params import MIXED_EMAIL_SHARE, Arr

FIRST_NAMES = [
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
LAST_NAMES = [
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
FREE_MAIL = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "gmx.de",
    "proton.me",
    "orange.fr",
)
FREE_MAIL_SHARE = (0.38, 0.1, 0.14, 0.1, 0.12, 0.06, 0.04, 0.06)
CITIES = (
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
#: The state or province of the cities in countries of several time zones (their postal codes),
#: so the send-time zone can place them (connector.predictions.timezones).
CITY_STATES = {"New York": "NY", "Austin": "TX", "Toronto": "ON"}
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
INDUSTRIES = ("Retail", "Technology", "Finance", "Healthcare", "Other")
PRODUCT_WORDS = {
    "Music": ("Vinyl", "Headphones", "Turntable", "Speaker", "Songbook", "Ukulele"),
    "Books": ("Novel", "Cookbook", "Atlas", "Biography", "Poetry Set", "Field Guide"),
    "Apparel": ("Jacket", "Sweater", "Sneakers", "Scarf", "Jeans", "Raincoat"),
    "Electronics": ("Charger", "E-reader", "Smartwatch", "Camera", "Keyboard", "Router"),
    "Home": ("Lamp", "Throw", "Kettle", "Planter", "Rug", "Mug Set"),
    "Beauty": ("Serum", "Lip Balm", "Perfume", "Face Mask", "Hair Oil", "Soap Bar"),
}
PRODUCT_ADJECTIVES = (
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
FAMILY_PRICE = (18.0, 15.0, 45.0, 80.0, 30.0, 22.0)
POSITIVE_REPLIES = (
    "Thanks so much, the parcel arrived early and everything is perfect.",
    "Love the quality, I will definitely order again.",
    "Great service, the exchange was quick and easy.",
    "Really happy with my purchase, thank you!",
)
NEGATIVE_REPLIES = (
    "This is the second late delivery, I am very disappointed.",
    "The item arrived damaged and nobody answered my email.",
    "Please cancel my account, I will not be ordering again.",
    "Terrible experience, the refund still has not arrived.",
)
TASK_SUBJECTS = (
    "Call: follow up on order",
    "Email: delivery question",
    "Call: loyalty offer",
    "Email: product recommendation",
)


def company_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` company names such as "Maple Trading GmbH"."""
    words = pick(rng, _CO_WORDS, n)
    kinds = pick(rng, _CO_KINDS, n)
    suffix = pick(rng, _CO_SUFFIX, n)
    return [f"{w} {k} {s}".strip() for w, k, s in zip(words, kinds, suffix, strict=True)]


def emails(
    rng: np.random.Generator, first: list[str], last: list[str], serial: Arr, domains: list[str]
) -> list[str]:
    """Canonical (lower-case) emails; the serial number makes each one unique."""
    style = rng.integers(0, 3, len(first)).tolist()
    out = []
    for f, lname, n, d, s in zip(first, last, serial.tolist(), domains, style, strict=True):
        local = (f"{f}.{lname}", f"{f}_{lname}", f"{f[0]}{lname}")[s]
        out.append(f"{local}{n}@{d}".lower())
    return out


def stored_emails(rng: np.random.Generator, canonical: list[str]) -> list[str]:
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

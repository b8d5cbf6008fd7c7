"""What orders tell, planted (issue 24): fraudulent orders, fulfilment that degrades, affinities.

Every number here is drawn from child streams of ``[seed, 24, ...]`` (:func:`plant_rng`), never
from the chunk streams of :mod:`localorg.seed.run`, so every value the seed made before this
module existed is unchanged; only new columns and new rows appear:

1. **Where and when an order goes.** Each customer lives in one country (85% United States).
   Each Order gets ``BillingCountry`` and ``ShippingCountry`` (the same, but for 2% of
   purchases sent abroad as gifts) and ``EndDate``, the day it was delivered: ``EffectiveDate``
   plus ``2 + Gamma(2, 1)`` days (about 4% of orders take over :data:`LATE_DAYS`).
2. **Degrading fulfilment.** A tenth of the customers with at least :data:`MIN_ORDERS_DEGRADE`
   purchases degrade from one of their orders on (never one of the first three nor the last two):
   from it on every delivery takes :data:`DEGRADE_EXTRA_DAYS` more, so those orders are late.
   ``truth/fulfilment.csv`` names each such Account and Contact with the day of the change.
3. **Fraud.** About :data:`FRAUD_SHARE` of the purchases are followed, at the end of the
   generation (so no earlier id moves), by planted fraudulent Orders on real customers' Accounts:
   ``takeover`` (one order of 6-12x the customer's mean order, shipped to another country) and
   ``burst`` (3-4 orders of 3-6x within two hours, shipped to another country). Each has one
   OrderItem of a catalogue product. ``truth/frauds.csv`` names them and their pattern.
4. **Affinities.** ``truth/affinities.csv``: each customer's favourite product family (60% of
   their items come from it, :func:`localorg.seed.orders.orders`), the truth recommendations
   are scored against.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from localorg.seed.frame import Batch, Same, batches, dates
from localorg.seed.params import DAY, FAMILIES, Arr

if TYPE_CHECKING:
    from localorg.seed.orders import Products, Purchases
    from localorg.seed.people import Households, People
    from localorg.seed.run import SeedRun

#: The issue number: the root of every stream drawn here.
PLANT = 24
COUNTRIES = ("United States", "Canada", "United Kingdom", "Germany", "France", "Australia")
HOME_SHARE = 0.85  # customers in the United States
GIFT_SHARE = 0.02  # purchases shipped to another country, legitimately
LATE_DAYS = 7  # the promise: delivered within a week
DEGRADE_SHARE = 0.10
MIN_ORDERS_DEGRADE = 6
DEGRADE_EXTRA_DAYS = (6.0, 10.0)
FRAUD_SHARE = 0.004  # fraud events per purchase (a burst is one event, several orders)


def plant_rng(seed: int, *parts: int) -> np.random.Generator:
    """The child stream ``[seed, 24, *parts]``: no draw here moves an existing one."""
    return np.random.default_rng([seed, PLANT, *parts])


@dataclass
class _Candidate:
    account: str
    contact: str
    mean_cents: float
    country: str
    first_t: float


@dataclass
class OrderPlant:
    """What the chunks leave for the end of the generation: fraud candidates and truth rows."""

    candidates: list[_Candidate] = field(default_factory=list)
    fulfilment: list[dict[str, object]] = field(default_factory=list)
    affinities: list[dict[str, object]] = field(default_factory=list)


def order_columns(
    run: SeedRun,
    plant: OrderPlant,
    chunk: int,
    *,
    purchases: Purchases,
    total_cents: Arr,
    refunded: Arr,
    people: People,
    households: Households,
) -> dict[str, list[object]]:
    """The planted columns of one chunk's Orders (purchases, then its reduction Orders), and its
    truth rows and fraud candidates into ``plant``."""
    rng = plant_rng(run.seed, 1, chunk)
    owner, t = purchases.owner, purchases.t
    n_people, n = len(households.contact_ids), owner.size
    home = np.where(rng.random(n_people) < HOME_SHARE, 0, rng.integers(1, len(COUNTRIES), n_people))
    gift = rng.random(n) < GIFT_SHARE
    away = (home[owner] + rng.integers(1, len(COUNTRIES), n)) % len(COUNTRIES)
    ship = np.where(gift, away, home[owner])
    days = 2.0 + rng.gamma(2.0, 1.0, n)

    counts = np.bincount(owner, minlength=n_people)
    eligible = np.flatnonzero(counts >= MIN_ORDERS_DEGRADE)
    degrading = eligible[rng.random(eligible.size) < DEGRADE_SHARE]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    for person in degrading.tolist():
        k = int(rng.integers(3, counts[person] - 1))  # never the first three, nor the last
        first = int(starts[person]) + k
        last = int(starts[person] + counts[person])
        days[first:last] += rng.uniform(*DEGRADE_EXTRA_DAYS, last - first)
        plant.fulfilment.append(
            {
                "account_id": households.account_of[person],
                "contact_id": households.contact_ids[person],
                "change_date": dates(t[first : first + 1])[0],
                "orders_before": k,
                "orders_after": last - first,
            }
        )
    delivered = dates(t + days * DAY)

    # fraud candidates: customers with an order, a few per chunk, in proportion to purchases
    n_events = int(rng.poisson(FRAUD_SHARE * n))
    buyers = np.flatnonzero(counts > 0)
    chosen = rng.choice(buyers, min(n_events, buyers.size), replace=False)
    spent = np.bincount(owner, weights=total_cents, minlength=n_people)
    for person in chosen.tolist():
        plant.candidates.append(
            _Candidate(
                account=households.account_of[person],
                contact=households.contact_ids[person],
                mean_cents=float(spent[person] / counts[person]),
                country=COUNTRIES[int(home[person])],
                first_t=float(t[starts[person]]),
            )
        )
    for contact, fam in zip(households.contact_ids, people.favourite_family.tolist(), strict=True):
        plant.affinities.append({"contact_id": contact, "favourite_family": FAMILIES[fam]})

    ref = refunded.tolist()
    bill = [COUNTRIES[int(c)] for c in home[owner].tolist()]
    shipped = [COUNTRIES[int(c)] for c in ship.tolist()]
    return {
        "BillingCountry": bill + [bill[i] for i in ref],
        "ShippingCountry": shipped + [shipped[i] for i in ref],
        "EndDate": list(delivered) + [None] * len(ref),
    }


def fraud_orders(run: SeedRun, plant: OrderPlant, products: Products) -> Iterator[Batch]:
    """The planted fraudulent Orders and their OrderItems, after every other row."""
    rng = plant_rng(run.seed, 2)
    rows: list[tuple[_Candidate, str, float, float, int]] = []  # who, pattern, t, cents, product
    for cand in plant.candidates:
        pattern = "burst" if rng.random() < 0.4 else "takeover"
        start = max(cand.first_t + DAY, run.now - 365 * DAY)
        t0 = float(rng.uniform(start, run.now - DAY)) if start < run.now - DAY else run.now - DAY
        if pattern == "takeover":
            times, factor = [t0], rng.uniform(6.0, 12.0, 1)
        else:
            k = int(rng.integers(3, 5))
            times = sorted((t0 + rng.uniform(0, 2 * 3600, k)).tolist())
            factor = rng.uniform(3.0, 6.0, k)
        product = rng.integers(0, len(products.ids), len(times))
        for when, f, p in zip(times, factor.tolist(), product.tolist(), strict=True):
            rows.append((cand, pattern, when, max(cand.mean_cents * f, 5000.0), p))
    if not rows:
        _write(run, plant, [])
        return
    n = len(rows)
    t = np.array([r[2] for r in rows])
    cents = np.rint([r[3] for r in rows]).astype("int64")
    order_ids, cols = run.system("Order", n, t)
    numbers = range(run.order_seq + 1, run.order_seq + 1 + n)
    run.order_seq += n
    away = [
        COUNTRIES[(COUNTRIES.index(r[0].country) + int(s)) % len(COUNTRIES)]
        for r, s in zip(rows, rng.integers(1, len(COUNTRIES), n).tolist(), strict=True)
    ]
    cols.update(
        {
            "AccountId": [r[0].account for r in rows],
            "OrderNumber": [f"{k:08d}" for k in numbers],
            "Status": Same("Activated"),
            "EffectiveDate": dates(t),
            "ActivatedDate": cols["CreatedDate"],
            "Type": Same("Reorder"),
            "TotalAmount": (cents / 100.0).tolist(),
            "BillToContactId": [r[0].contact for r in rows],
            "ShipToContactId": [r[0].contact for r in rows],
            "CustomerAuthorizedById": Same(None),
            "IsReductionOrder": Same(0),
            "OriginalOrderId": Same(None),
            "Sales_Channel__c": Same("Online"),
            "External_Order_Id__c": [f"ext-{run.seed}-{k:08d}" for k in numbers],
            "BillingCountry": [r[0].country for r in rows],
            "ShippingCountry": away,
            "EndDate": dates(t + 3 * DAY),
        }
    )
    yield from batches("Order", cols, n)
    _, icols = run.system("OrderItem", n, t, owner=False)
    icols.update(
        {
            "OrderId": order_ids,
            "Product2Id": [products.ids[r[4]] for r in rows],
            "Quantity": Same(1.0),
            "UnitPrice": (cents / 100.0).tolist(),
            "ListPrice": (cents / 100.0).tolist(),
            "TotalPrice": (cents / 100.0).tolist(),
            "OriginalOrderItemId": Same(None),
        }
    )
    yield from batches("OrderItem", icols, n)
    _write(
        run,
        plant,
        [
            {
                "order_id": oid,
                "pattern": r[1],
                "account_id": r[0].account,
                "contact_id": r[0].contact,
                "effective_date": day,
            }
            for oid, r, day in zip(order_ids, rows, dates(t), strict=True)
        ],
    )


def _write(run: SeedRun, plant: OrderPlant, frauds: list[dict[str, object]]) -> None:
    folder = run.truth.folder
    _csv(
        folder / "frauds.csv",
        ["order_id", "pattern", "account_id", "contact_id", "effective_date"],
        frauds,
    )
    _csv(
        folder / "fulfilment.csv",
        ["account_id", "contact_id", "change_date", "orders_before", "orders_after"],
        plant.fulfilment,
    )
    _csv(folder / "affinities.csv", ["contact_id", "favourite_family"], plant.affinities)


def _csv(path: Path, header: list[str], rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)

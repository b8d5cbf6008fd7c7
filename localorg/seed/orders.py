"""Products, Orders, OrderItems and refunds.

Spend, Gamma-Gamma (Fader, Hardie & Lee 2005b): ``nu_i ~ Gamma(q, gamma)``, each order's value
``~ Gamma(p, nu_i)``, so the true mean spend is ``p / nu_i``. An order's value is split over 1-4
OrderItems (flat Dirichlet shares, quantity 1-3, unit prices in whole cents) so
item sums equal the order's TotalAmount exactly. About 3% of orders are partly refunded
later by a reduction Order (negative quantity of one item); refunds are not part of the spend
truth.

Who an Order names: person-account customers' orders carry only AccountId half of the time
(resolution goes through PersonContactId); business customers' orders have BillTo/ShipTo set,
and a few carry only CustomerAuthorizedById.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from localorg.schema import SALES_CHANNELS
from localorg.seed.frame import Batch, Same, batches, dates, group_starts, pick
from localorg.seed.order_truth import OrderPlant, order_columns
from localorg.seed.params import DAY, FAMILIES, REFUND_RATE, SPAN_DAYS, Arr
from localorg.seed.words import FAMILY_PRICE, PRODUCT_ADJECTIVES, PRODUCT_WORDS

if TYPE_CHECKING:
    from localorg.seed.people import Behaviour, Households, People
    from localorg.seed.run import SeedRun


@dataclass
class Products:
    """The catalogue, sorted by family; ``ids`` are set once the Product2 rows are made."""

    ids: list[str]
    codes: list[str]
    family: Arr
    price_cents: Arr
    family_start: Arr
    family_count: Arr


def catalogue(run: SeedRun) -> Products:
    """Product codes, families and list prices."""
    rng = run.rng("products", 0)
    n = run.spec.products
    family = np.sort(np.arange(n) % len(FAMILIES))
    counts = np.bincount(family, minlength=len(FAMILIES))
    base = np.asarray(FAMILY_PRICE)[family]
    price = np.maximum(np.rint(base * rng.lognormal(0.0, 0.5, n) * 100), 199).astype("int64")
    codes = [f"SKU-{FAMILIES[f][:3].upper()}-{i + 1:04d}" for i, f in enumerate(family.tolist())]
    return Products(
        ids=[],
        codes=codes,
        family=family,
        price_cents=price,
        family_start=group_starts(counts),
        family_count=counts,
    )


def product_rows(run: SeedRun, products: Products) -> Iterator[Batch]:
    """The Product2 rows (and their ids into ``products``)."""
    rng = run.rng("products", 1)
    n = run.spec.products
    created = run.now - (SPAN_DAYS + 30 + rng.uniform(0, 60, n)) * DAY
    products.ids, cols = run.system("Product2", n, created, owner=False)
    fam = products.family.tolist()
    adj = pick(rng, PRODUCT_ADJECTIVES, n)
    nouns = [
        PRODUCT_WORDS[FAMILIES[f]][int(j)]
        for f, j in zip(fam, rng.integers(0, 6, n).tolist(), strict=True)
    ]
    cols.update(
        {
            "Name": [f"{a} {w}" for a, w in zip(adj, nouns, strict=True)],
            "ProductCode": products.codes,
            "Family": [FAMILIES[f] for f in fam],
            "IsActive": Same(1),
            "Description": [
                f"{a} {w}, list price {c / 100:.2f}"
                for a, w, c in zip(adj, nouns, products.price_cents.tolist(), strict=True)
            ],
        }
    )
    yield from batches("Product2", cols, n)


@dataclass(frozen=True)
class Purchases:
    """Observed purchases of one chunk (first purchases and repeats up to now), sorted by
    customer then time."""

    owner: Arr  # customer index within the chunk
    t: Arr  # epoch seconds
    first: Arr  # the customer's first purchase


def observed_purchases(behaviour: Behaviour) -> Purchases:
    """The first purchase of every customer plus the repeats up to now."""
    b = behaviour
    owner = np.concatenate((np.arange(b.birth.size), b.repeat_owner[b.observed]))
    t = np.concatenate((b.birth, b.repeat_t[b.observed]))
    order = np.lexsort((t, owner))
    owner, t = owner[order], t[order]
    return Purchases(owner=owner, t=t, first=np.concatenate(([True], owner[1:] != owner[:-1])))


@dataclass(frozen=True)
class Sales:
    """What the purchases became: spend per customer, the items, the channel of each order."""

    spend_cents: Arr  # per customer, purchases only (refunds not deducted)
    item_order: Arr  # per item, the index of its purchase
    item_product: Arr  # per item, the index of its product
    item_unit_cents: Arr
    channel: Arr  # per purchase, index into SALES_CHANNELS


def orders(
    run: SeedRun,
    rng: np.random.Generator,
    purchases: Purchases,
    *,
    nu: Arr,
    people: People,
    households: Households,
    products: Products,
    plant: OrderPlant | None = None,
    chunk: int = 0,
) -> Generator[Batch, None, Sales]:
    """Yield Orders (purchases, then reduction Orders) and their OrderItems; return the sales.

    With ``plant``, the Orders also carry the planted columns of issue 24 (countries, delivery
    day: :func:`localorg.seed.order_truth.order_columns`), drawn from their own streams.
    """
    owner, t = purchases.owner, purchases.t
    n_orders = owner.size
    value = np.maximum(np.rint(rng.gamma(run.pop.gg_p, 1.0 / nu[owner]) * 100), 100)
    cum = np.cumsum(people.sales_mix[owner], axis=1)
    channel = (rng.random(n_orders)[:, None] > cum[:, :-1]).sum(axis=1)
    n_items = 1 + rng.binomial(3, 0.25, n_orders)
    it_order = np.repeat(np.arange(n_orders), n_items)
    share = rng.exponential(1.0, it_order.size)
    share /= np.bincount(it_order, weights=share)[it_order]
    qty = rng.choice(np.array([1, 2, 3]), it_order.size, p=(0.75, 0.2, 0.05))
    unit = np.maximum(np.rint(value[it_order] * share / qty), 1).astype("int64")
    line = unit * qty
    total = np.bincount(it_order, weights=line, minlength=n_orders).astype("int64")
    fam = people.favourite_family[owner[it_order]]
    in_family = products.family_start[fam] + np.floor(
        rng.random(it_order.size) * products.family_count[fam]
    ).astype("int64")
    anywhere = rng.integers(0, len(products.codes), it_order.size)
    product = np.where(rng.random(it_order.size) < 0.6, in_family, anywhere)

    # who the order names: person accounts sometimes only AccountId; business accounts
    # usually BillTo/ShipTo, a few only CustomerAuthorizedById
    roll = rng.random(n_orders)
    is_person = people.person_account[owner]
    account_only = is_person & (roll < 0.5)
    authorized_only = ~is_person & (roll < 0.04)
    contact_of = [households.contact_ids[i] for i in owner.tolist()]
    bill = [
        None if a or b else c
        for a, b, c in zip(account_only.tolist(), authorized_only.tolist(), contact_of, strict=True)
    ]
    authorized = [
        c if a else None for a, c in zip(authorized_only.tolist(), contact_of, strict=True)
    ]
    accounts = [households.account_of[i] for i in owner.tolist()]

    # refunds: a reduction order for the whole first line of a few orders
    refund_t = t + rng.uniform(1.0, 30.0, n_orders) * DAY
    refunded = np.flatnonzero((rng.random(n_orders) < REFUND_RATE) & (refund_t <= run.now))
    item_start = group_starts(n_items)
    refund_item = item_start[refunded]

    n_all = n_orders + refunded.size
    all_t = np.concatenate((t, refund_t[refunded]))
    order_ids, cols = run.system("Order", n_all, all_t)
    numbers = range(run.order_seq + 1, run.order_seq + 1 + n_all)
    run.order_seq += n_all
    run.count("ReductionOrder", refunded.size)
    ref = refunded.tolist()
    ext = [f"ext-{run.seed}-{k:08d}" for k in numbers[:n_orders]]
    totals = (total / 100.0).tolist() + (-line[refund_item] / 100.0).tolist()
    cols.update(
        {
            "AccountId": accounts + [accounts[i] for i in ref],
            "OrderNumber": [f"{k:08d}" for k in numbers],
            "Status": Same("Activated"),
            "EffectiveDate": dates(all_t),
            "ActivatedDate": cols["CreatedDate"],
            "Type": ["New" if f else "Reorder" for f in purchases.first.tolist()]
            + [None] * len(ref),
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
    if plant is not None:
        cols.update(
            order_columns(
                run,
                plant,
                chunk,
                purchases=purchases,
                total_cents=total,
                refunded=refunded,
                people=people,
                households=households,
            )
        )
    yield from batches("Order", cols, n_all)

    n_lines = it_order.size + refunded.size
    line_t = np.concatenate((t[it_order], refund_t[refunded]))
    item_ids, icols = run.system("OrderItem", n_lines, line_t, owner=False)
    qty_all = np.concatenate((qty, -qty[refund_item]))
    unit_all = np.concatenate((unit, unit[refund_item])) / 100.0
    icols.update(
        {
            "OrderId": [order_ids[i] for i in it_order.tolist()] + order_ids[n_orders:],
            "Product2Id": [
                products.ids[i] for i in np.concatenate((product, product[refund_item])).tolist()
            ],
            "Quantity": qty_all.astype(float).tolist(),
            "UnitPrice": unit_all.tolist(),
            "ListPrice": unit_all.tolist(),
            "TotalPrice": (qty_all * np.concatenate((unit, unit[refund_item])) / 100.0).tolist(),
            "OriginalOrderItemId": [None] * it_order.size
            + [item_ids[i] for i in refund_item.tolist()],
        }
    )
    yield from batches("OrderItem", icols, n_lines)
    return Sales(
        spend_cents=np.bincount(owner, weights=total, minlength=nu.size),
        item_order=it_order,
        item_product=product,
        item_unit_cents=unit,
        channel=channel,
    )

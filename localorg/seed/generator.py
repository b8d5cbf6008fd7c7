"""The driver: products, then customers chunk by chunk, then open Leads, then the parameters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from localorg.ids import IdFactory
from localorg.seed import leads, orders, people
from localorg.seed.case_truth import CasePlant, planted_cases
from localorg.seed.events import EventLog, TrackEvents, marketing_events, web_events
from localorg.seed.frame import Batch
from localorg.seed.order_truth import OrderPlant, fraud_orders
from localorg.seed.params import (
    CONTACT_CHUNK,
    CONVERTED_LEAD_SHARE,
    LEAD_CHUNK,
    SIZES,
    SeedSize,
    calibrate,
)
from localorg.seed.run import Counts, SeedRun, stream
from localorg.seed.service import service
from localorg.seed.truth import TruthFiles, customer_truth, write_params


def generate(
    size: str | SeedSize,
    out_dir: Path,
    ids: IdFactory,
    *,
    owner_id: str,
    now: datetime,
    rng_seed: int = 7,
    holdout_days: int = 180,
    plant_orders: bool = True,
    plant_cases: bool = True,
) -> Iterator[Batch]:
    """Stream a synthetic store as ``(object_name, rows)`` batches; its truth goes to ``out_dir``.

    Rows are in storage form (datetimes ``YYYY-MM-DDTHH:MM:SS.000+0000``, dates, 0/1 booleans),
    at most ``BATCH_ROWS`` per batch, all rows of a batch with the same keys; referenced rows come
    before the rows that reference them. The same seed and a fresh ``IdFactory`` with the same
    pod and start give byte-identical output.

    ``plant_orders`` (issue 24, :mod:`localorg.seed.order_truth`) adds the Orders' countries and
    delivery days, the planted frauds (after every other row) and their truth files; without it
    the output is the seed as it was before, and with it every row of that seed is unchanged
    but for the Orders' three added columns.

    ``plant_cases`` (issue 23, :mod:`localorg.seed.case_truth`) adds Cases with a known tone
    and intent after every other row, and ``truth/cases.csv``; every other row is unchanged.
    """
    spec = SIZES[size] if isinstance(size, str) else size
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime (UTC)")
    out = Path(out_dir)
    n_converted = min(round(spec.leads * CONVERTED_LEAD_SHARE), spec.contacts)
    converted = np.zeros(spec.contacts, dtype=bool)
    converted[
        stream(rng_seed, "converted", 0).choice(spec.contacts, n_converted, replace=False)
    ] = True
    counts = Counts()
    with (
        TruthFiles(out / "truth") as truth,
        (out / "events.jsonl").open("w", encoding="utf-8") as events,
    ):
        run = SeedRun(
            spec=spec,
            ids=ids,
            owner=owner_id,
            now=float(int(now.astimezone(UTC).timestamp())),
            seed=rng_seed,
            holdout=float(holdout_days),
            pop=calibrate(spec),
            converted_mask=converted,
            events=EventLog(events, rng_seed, counts),
            truth=truth,
            counts=counts,
        )
        products = orders.catalogue(run)
        yield from orders.product_rows(run, products)
        plant = OrderPlant() if plant_orders else None
        cases = CasePlant() if plant_cases else None
        for k, lo in enumerate(range(0, spec.contacts, CONTACT_CHUNK)):
            hi = min(spec.contacts, lo + CONTACT_CHUNK)
            yield from _customers(run, k, lo, hi, products, plant, cases)
        n_open = spec.leads - n_converted
        for k, lo in enumerate(range(0, n_open, LEAD_CHUNK)):
            yield from leads.open_leads(run, k, lo, min(n_open, lo + LEAD_CHUNK))
        if plant is not None:  # last, so that no id made before moves
            yield from fraud_orders(run, plant, products)
        if cases is not None:  # after the frauds, for the same reason
            yield from planted_cases(run, cases)
    write_params(out / "truth" / "params.json", run)


def _customers(
    run: SeedRun,
    chunk: int,
    lo: int,
    hi: int,
    products: orders.Products,
    plant: OrderPlant | None,
    cases: CasePlant | None = None,
) -> Iterator[Batch]:
    """Customers ``lo``..``hi``: their Accounts, Contacts, Leads, Orders, events and truth.

    Every part draws from the chunk's one random stream, in this order.
    """
    rng = run.rng("customers", chunk)
    behaviour = people.draw_behaviour(run, rng, lo, hi)
    who = people.draw_people(rng, lo, hi)
    households = yield from people.accounts_and_contacts(run, rng, who, behaviour.created)
    yield from leads.converted_leads(
        run, rng, behaviour=behaviour, people=who, households=households
    )
    purchases = orders.observed_purchases(behaviour)
    sales = yield from orders.orders(
        run,
        rng,
        purchases,
        nu=behaviour.nu,
        people=who,
        households=households,
        products=products,
        plant=plant,
        chunk=chunk,
    )
    ev = TrackEvents()
    marketing_events(rng, ev, now=run.now, purchases=purchases, behaviour=behaviour, people=who)
    web_events(
        rng,
        ev,
        now=run.now,
        purchases=purchases,
        sales=sales,
        birth=behaviour.birth,
        people=who,
        products=products,
    )
    run.events.write_tracks(ev)
    run.events.write_identifies(behaviour.created - 60.0, who.anon, list(who.store_user), who.email)
    yield from service(
        run, rng, behaviour=behaviour, purchases=purchases, people=who, households=households
    )
    if cases is not None:  # no draw: who they are, for the Cases planted at the end
        cases.add(
            households.contact_ids, households.account_of, behaviour.created, behaviour.alive_now
        )
    run.truth.write(
        customer_truth(
            now=run.now,
            holdout=run.holdout,
            pop=run.pop,
            behaviour=behaviour,
            people=who,
            households=households,
            purchases=purchases,
            sales=sales,
        )
    )

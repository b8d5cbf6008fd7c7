"""Cases with a known tone and intent, planted (issue 23): what a service team reads.

Every number here is drawn from child streams of ``[seed, 23, ...]`` (:func:`plant_rng`), never
from the chunk streams of :mod:`localorg.seed.run`, and the Cases are made after every other
row (the planted frauds included), so every row and id the seed made before is unchanged; only
Cases and ``truth/cases.csv`` appear.

1. **Who writes.** :data:`CASE_SHARE` of the customers open one Case, at a uniform time between
   their creation and now (Origin Email, Web or Phone; Status New).
2. **What they write.** Each Case is one of :data:`CASES`: a (tone, intent) pair and a few ways
   of writing it (the Subject and the Description), written for this seed. Customers who have
   dropped out write the negative pairs more often (60% against 20%), as the replies do.
3. ``truth/cases.csv``: ``case_id``, ``contact_id``, ``tone`` (negative, neutral, positive) and
   ``intent`` (a name of models/texts.yaml, empty for none): what ``evaluate texts
   --cases-truth`` scores the synced Cases against.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from localorg.seed.frame import Batch, Same, batches
from localorg.seed.params import Arr

if TYPE_CHECKING:
    from localorg.seed.run import SeedRun

#: The issue number: the root of every stream drawn here.
PLANT = 23
CASE_SHARE = 0.015
ORIGINS = ("Email", "Web", "Phone")

#: (tone, intent, [(Subject, Description), ...]); intent "" is none.
CASES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "negative",
        "complaint",
        (
            ("Broken on arrival", "The lamp arrived broken and nobody answers my emails. Awful."),
            ("Late again", "Third late delivery in a row. I am really disappointed."),
            ("Poor quality", "The bag ripped after two days. Terrible quality."),
        ),
    ),
    (
        "negative",
        "cancellation",
        (
            ("Cancel my order", "Worst service ever. Cancel my order and refund me now."),
            ("Refund", "I want a refund, the product is useless and I am angry."),
            ("Cancel subscription", "Please cancel my subscription, I am fed up with the delays."),
        ),
    ),
    (
        "neutral",
        "support",
        (
            ("Password", "How do I reset my password?"),
            ("Delivery address", "How can I change the delivery address on my account?"),
            ("Tracking", "Where can I find the tracking number for my parcel?"),
        ),
    ),
    (
        "neutral",
        "pricing",
        (
            ("Bulk price", "What is the price for 20 units?"),
            ("Quote", "Could you send me a quote for 50 mugs?"),
            ("Volume discount", "Do you offer volume discounts for offices?"),
        ),
    ),
    (
        "positive",
        "purchase",
        (
            ("Another one", "Love it, I want to order two more for my team!"),
            ("Ordering again", "Great quality, I will definitely order again."),
            ("Gift", "Fantastic mug, how do I place an order for a gift?"),
        ),
    ),
    (
        "positive",
        "",
        (
            ("Thank you", "Thank you so much, the replacement arrived and works great!"),
            ("Well done", "Excellent service, the team was very helpful. Thanks!"),
            ("Happy", "Just wanted to say I love the new lamp. Wonderful."),
        ),
    ),
)
NEGATIVE = [i for i, (tone, _, _) in enumerate(CASES) if tone == "negative"]
OTHER = [i for i, (tone, _, _) in enumerate(CASES) if tone != "negative"]


def plant_rng(seed: int, *parts: int) -> np.random.Generator:
    """The child stream ``[seed, 23, *parts]``: no draw here moves an existing one."""
    return np.random.default_rng([seed, PLANT, *parts])


@dataclass
class CasePlant:
    """What the chunks leave for the end: each customer's Contact, Account, creation time and
    whether they are still buying."""

    contacts: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    created: list[float] = field(default_factory=list)
    alive: list[bool] = field(default_factory=list)

    def add(self, contacts: list[str], accounts: list[str], created: Arr, alive: Arr) -> None:
        """One chunk's customers."""
        self.contacts += contacts
        self.accounts += accounts
        self.created += np.asarray(created, dtype=float).tolist()
        self.alive += np.asarray(alive, dtype=bool).tolist()


def planted_cases(run: SeedRun, plant: CasePlant) -> Iterator[Batch]:
    """Yield the Cases (after every other row) and write ``truth/cases.csv``."""
    rng = plant_rng(run.seed, 0)
    n_people = len(plant.contacts)
    chosen = np.flatnonzero(rng.random(n_people) < CASE_SHARE)
    created = np.asarray(plant.created, dtype=float)[chosen]
    t = created + rng.random(chosen.size) * (run.now - created)
    alive = np.asarray(plant.alive, dtype=bool)[chosen]
    negative = rng.random(chosen.size) < np.where(alive, 0.2, 0.6)
    kinds = [
        NEGATIVE[int(rng.integers(len(NEGATIVE)))] if neg else OTHER[int(rng.integers(len(OTHER)))]
        for neg in negative.tolist()
    ]
    ways = [CASES[k][2][int(rng.integers(len(CASES[k][2])))] for k in kinds]
    origin = [ORIGINS[int(i)] for i in rng.integers(0, len(ORIGINS), chosen.size).tolist()]
    case_ids, cols = run.system("Case", chosen.size, t)
    cols.update(
        {
            "Subject": [w[0] for w in ways],
            "Description": [w[1] for w in ways],
            "Status": Same("New"),
            "Origin": origin,
            "ContactId": [plant.contacts[i] for i in chosen.tolist()],
            "AccountId": [plant.accounts[i] for i in chosen.tolist()],
        }
    )
    yield from batches("Case", cols, chosen.size)
    with (run.truth.folder / "cases.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["case_id", "contact_id", "tone", "intent"])
        for case_id, i, k in zip(case_ids, chosen.tolist(), kinds, strict=True):
            writer.writerow([case_id, plant.contacts[i], CASES[k][0], CASES[k][1]])

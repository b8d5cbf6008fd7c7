"""The ground truth files: ``truth/customers.csv``, ``leads.csv``, ``replies.csv``, ``params.json``.

Each CSV is written from a dataclass with one list per column, so a column's header and its
values are named together; the dataclass field order is the file's column order.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from localorg.schema import SALES_CHANNELS
from localorg.seed.frame import datetimes
from localorg.seed.params import (
    ATTRIBUTED_SHARE,
    CHANNEL_SHARE,
    CHANNELS,
    CONVERSION_OTHER,
    CONVERSION_PREFERRED,
    DAY,
    HOUR_NOISE_SHARE,
    HOUR_SD,
    PERSON_ACCOUNT_SHARE,
    REFUND_RATE,
    SPAN_DAYS,
    Population,
)

if TYPE_CHECKING:
    from localorg.seed.orders import Purchases, Sales
    from localorg.seed.people import Behaviour, Households, People
    from localorg.seed.run import SeedRun


@dataclass
class _Table:
    """Columns of one truth file for one chunk of rows."""

    file: ClassVar[str]

    @classmethod
    def header(cls) -> list[str]:
        """The file's column names, in order."""
        return [f.metadata.get("column", f.name) for f in fields(cls)]

    def rows(self) -> Iterator[dict[str, object]]:
        """One dict per row, keyed by column name."""
        names = self.header()
        columns = [getattr(self, f.name) for f in fields(self)]
        for values in zip(*columns, strict=True):
            yield dict(zip(names, values, strict=True))


@dataclass
class CustomerTruth(_Table):
    """What each customer really is (``truth/customers.csv``), rates per day."""

    file: ClassVar[str] = "customers.csv"
    contact_id: list[str]
    email: list[str]  # canonical: lower case, no surrounding whitespace
    # BG/NBD purchase rate while alive; "lambda" is a Python keyword
    lam: list[float] = field(metadata={"column": "lambda"})
    p: list[float]  # dropout probability after each repeat purchase
    birth: list[str]  # the first purchase
    death_time: list[str]  # the dropout; empty when none happens by the end of the holdout
    alive_at_now: list[int]
    mean_spend: list[float]  # Gamma-Gamma p / nu
    preferred_channel: list[str]
    preferred_hour_of_week: list[int]
    preferred_sales_channel: list[str]
    n_orders_observed: list[int]
    n_orders_holdout: list[int]
    expected_holdout: list[float]
    frequency: list[int]  # observed repeat purchases
    recency_days: list[float]
    T_days: list[float]
    spend_observed: list[float]
    account_id: list[str]
    person_account: list[int]
    from_lead: list[int]


@dataclass
class LeadTruth(_Table):
    """Each Lead's propensity and whether and when it converts (``truth/leads.csv``)."""

    file: ClassVar[str] = "leads.csv"
    lead_id: list[str]
    email: list[str]
    propensity: list[float]
    converted: list[int]  # converted before now
    converts_in_holdout: list[int]
    conversion_time: list[str]  # empty when it never converts
    conversion_date: list[str]
    contact_id: list[str]  # the converted Lead's Contact, else empty


@dataclass
class ReplyTruth(_Table):
    """The tone of each customer email (``truth/replies.csv``)."""

    file: ClassVar[str] = "replies.csv"
    message_id: list[str]
    contact_id: list[str]
    tone: list[str]  # positive or negative


class TruthFiles:
    """The truth CSV files of one generation, open for writing while in a ``with`` block."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files = ExitStack()
        self._writers: dict[type[_Table], csv.DictWriter[str]] = {}

    def __enter__(self) -> TruthFiles:
        self.folder.mkdir(parents=True, exist_ok=True)
        for table in (CustomerTruth, LeadTruth, ReplyTruth):
            stream = self._files.enter_context(
                (self.folder / table.file).open("w", newline="", encoding="utf-8")
            )
            writer = csv.DictWriter(stream, fieldnames=table.header())
            writer.writeheader()
            self._writers[table] = writer
        return self

    def __exit__(self, *exc: object) -> None:
        self._files.close()

    def write(self, table: _Table) -> None:
        """Append a chunk of rows to its file."""
        self._writers[type(table)].writerows(table.rows())


def customer_truth(
    *,
    now: float,
    holdout: float,
    pop: Population,
    behaviour: Behaviour,
    people: People,
    households: Households,
    purchases: Purchases,
    sales: Sales,
) -> CustomerTruth:
    """The truth rows of one chunk of customers, from their latent parameters and orders."""
    b = behaviour
    lam, p, birth = b.lam, b.p, b.birth
    n_obs = np.bincount(purchases.owner, minlength=lam.size)
    expected_holdout = np.where(b.alive_now, -np.expm1(-lam * p * holdout) / p, 0.0)
    rep_obs_t = np.where(b.observed, b.repeat_t, -np.inf)
    last_obs = np.full(lam.size, -np.inf)
    np.maximum.at(last_obs, b.repeat_owner, rep_obs_t)
    last_obs = np.where(b.repeats_observed > 0, last_obs, birth)
    death_text = [
        "" if math.isnan(d) else s
        for d, s in zip(b.death.tolist(), datetimes(np.nan_to_num(b.death, nan=now)), strict=True)
    ]
    return CustomerTruth(
        contact_id=households.contact_ids,
        email=people.email,
        lam=np.round(lam, 8).tolist(),
        p=np.round(p, 8).tolist(),
        birth=datetimes(birth),
        death_time=death_text,
        alive_at_now=b.alive_now.astype(int).tolist(),
        mean_spend=np.round(pop.gg_p / b.nu, 4).tolist(),
        preferred_channel=[CHANNELS[c] for c in people.preferred_channel.tolist()],
        preferred_hour_of_week=people.preferred_hour.tolist(),
        preferred_sales_channel=[
            SALES_CHANNELS[c] for c in people.sales_mix.argmax(axis=1).tolist()
        ],
        n_orders_observed=n_obs.tolist(),
        n_orders_holdout=b.repeats_holdout.tolist(),
        expected_holdout=np.round(expected_holdout, 6).tolist(),
        frequency=b.repeats_observed.tolist(),
        recency_days=np.round((last_obs - birth) / DAY, 6).tolist(),
        T_days=np.round((now - birth) / DAY, 6).tolist(),
        spend_observed=np.round(sales.spend_cents / 100.0, 2).tolist(),
        account_id=households.account_of,
        person_account=people.person_account.astype(int).tolist(),
        from_lead=b.converted.astype(int).tolist(),
    )


def write_params(path: Path, run: SeedRun) -> None:
    """``truth/params.json``: every parameter of the processes, and the row counts."""
    pop = run.pop
    params = {
        "size": run.spec.name,
        "rng_seed": run.seed,
        "now": datetimes(np.array([run.now]))[0],
        "holdout_days": run.holdout,
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
        "counts": dict(sorted(run.counts.items())),
    }
    path.write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")

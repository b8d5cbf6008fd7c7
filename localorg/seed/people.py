"""Customers: how they buy (BG/NBD), who they are, and their Accounts and Contacts.

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
    ``1 + E[X(T)]`` averaged over birth times, meets the size's order count
    (:func:`localorg.seed.params.calibrate`).

Identity: some customers have person Accounts (``PERSON_ACCOUNT_SHARE``), the others belong to
business Accounts of about three Contacts each. About 3% of stored emails differ from the
canonical one in case or surrounding whitespace.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from localorg.schema import LEAD_SOURCES
from localorg.seed import words
from localorg.seed.frame import Batch, Columns, Same, batches, group_starts, hex_ids, pick, within
from localorg.seed.params import (
    CHANNEL_SHARE,
    CHANNELS,
    DAY,
    FAMILIES,
    PERSON_ACCOUNT_SHARE,
    SPAN_DAYS,
    Arr,
)

if TYPE_CHECKING:
    from localorg.seed.run import SeedRun


@dataclass(frozen=True)
class Behaviour:
    """The latent parameters of one chunk of customers and their simulated purchases.

    Times are epoch seconds. ``repeat_*`` describe every repeat purchase through the end of the
    holdout, one element per purchase, grouped by customer in time order.
    """

    lam: Arr  # purchase rate per day
    p: Arr  # dropout probability after each repeat purchase
    nu: Arr  # Gamma-Gamma: the mean order value is p / nu
    birth: Arr  # the first purchase
    converted: Arr  # came from a Lead converted at ``conversion``
    conversion: Arr
    created: Arr  # the Contact's CreatedDate
    repeat_owner: Arr
    repeat_t: Arr
    observed: Arr  # per repeat purchase: at or before now
    repeats_observed: Arr  # per customer
    repeats_holdout: Arr  # per customer, after now
    death: Arr  # the moment of dropout, NaN when none by the end of the holdout
    alive_now: Arr


def draw_behaviour(run: SeedRun, rng: np.random.Generator, lo: int, hi: int) -> Behaviour:
    """Customers ``lo``..``hi``: parameters, birth, creation, and their purchases."""
    n = hi - lo
    pop = run.pop
    now = run.now
    lam = rng.gamma(pop.r, 1.0 / pop.alpha, n)
    p = np.clip(rng.beta(pop.a, pop.b, n), 1e-9, 1.0)
    nu = rng.gamma(pop.gg_q, 1.0 / pop.gg_gamma, n)
    birth = now - rng.uniform(0.0, SPAN_DAYS * DAY, n)
    converted = run.converted_mask[lo:hi]
    conversion = birth - rng.uniform(0.0, 3 * DAY, n)
    created = np.where(converted, conversion, birth - rng.uniform(0.0, 600.0, n))

    rep_owner, rep_t, rep_count, dropped = _simulate(rng, lam, p, birth, now + run.holdout * DAY)
    observed = rep_t <= now
    n_rep_obs = np.bincount(rep_owner[observed], minlength=n)
    last_idx = group_starts(rep_count) + rep_count - 1
    death = np.full(n, np.nan)
    has_death = dropped & (rep_count > 0)
    death[has_death] = rep_t[last_idx[has_death]]
    return Behaviour(
        lam=lam,
        p=p,
        nu=nu,
        birth=birth,
        converted=converted,
        conversion=conversion,
        created=created,
        repeat_owner=rep_owner,
        repeat_t=rep_t,
        observed=observed,
        repeats_observed=n_rep_obs,
        repeats_holdout=rep_count - n_rep_obs,
        death=death,
        alive_now=~(has_death & (death <= now)),
    )


def _simulate(
    rng: np.random.Generator, lam: Arr, p: Arr, birth: Arr, end: float
) -> tuple[Arr, Arr, Arr, Arr]:
    """Repeat purchases up to ``end``: (owner, time, count, dropped-at-last) arrays."""
    horizon = end - birth
    m = rng.poisson(lam * horizon / DAY)
    k = rng.geometric(p)
    count = np.minimum(m, k)
    owner = np.repeat(np.arange(lam.size), count)
    j = within(count)
    # Renyi: the k-th smallest of m uniforms is 1 - prod_{i<=k} V_i^(1/(m-i+1)).
    logs = np.log1p(-rng.random(owner.size)) / (m[owner] - j)
    cum = np.cumsum(logs)
    starts = group_starts(count)
    offset = np.repeat(cum[starts - 1] * (starts > 0) if owner.size else cum[:0], count)
    u = -np.expm1(cum - offset)
    times = birth[owner] + u * horizon[owner]
    return owner, times, count, k <= m


@dataclass(frozen=True)
class People:
    """Who one chunk of customers are, and what they prefer."""

    first: list[str]
    last: list[str]
    email: list[str]  # canonical: lower case, trimmed
    stored: list[str]  # as the Contact holds it (a few in mixed case or padded)
    preferred_channel: Arr  # index into CHANNELS
    preferred_hour: Arr  # hour of the week, 0 = Monday 00:00 UTC
    sales_mix: Arr  # per customer, the share of each SALES_CHANNELS
    favourite_family: Arr  # index into FAMILIES
    person_account: Arr
    anon: list[str]  # the browser's anonymous id
    store_user: list[str]  # the shop's user id


def draw_people(rng: np.random.Generator, lo: int, hi: int) -> People:
    """Names, emails and preferences of customers ``lo``..``hi``."""
    n = hi - lo
    first = pick(rng, words.FIRST_NAMES, n)
    last = pick(rng, words.LAST_NAMES, n)
    domains = pick(rng, words.FREE_MAIL, n, words.FREE_MAIL_SHARE)
    email = words.emails(rng, first, last, np.arange(lo, hi) + 1, domains)
    return People(
        first=first,
        last=last,
        email=email,
        stored=words.stored_emails(rng, email),
        preferred_channel=rng.choice(len(CHANNELS), n, p=CHANNEL_SHARE),
        preferred_hour=rng.integers(0, 168, n),
        sales_mix=rng.dirichlet((3.0, 1.5, 1.0, 0.7), n),
        favourite_family=rng.integers(0, len(FAMILIES), n),
        person_account=rng.random(n) < PERSON_ACCOUNT_SHARE,
        anon=hex_ids(rng, n),
        store_user=[f"cust_{i + 1:07d}" for i in range(lo, hi)],
    )


@dataclass(frozen=True)
class Households:
    """The Contacts of one chunk and their Accounts."""

    contact_ids: list[str]
    account_of: list[str]  # per Contact, its Account's id
    account_names: list[str]  # per Account
    account_index: Arr  # per Contact, the index of its Account in ``account_names``
    lead_source: list[str]  # per Contact


def accounts_and_contacts(
    run: SeedRun, rng: np.random.Generator, people: People, created: Arr
) -> Generator[Batch, None, Households]:
    """Yield the Accounts, then the Contacts; return who belongs where.

    One person Account per person-account customer; business Accounts of about three Contacts.
    """
    n = created.size
    person = people.person_account
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
    # A person Account's PersonContactId names its Contact: mint the Contact ids first.
    contact_ids = run.mint("Contact", n)
    acc_ids, acc_cols = run.system("Account", n_acc, acc_created)
    full_name = [f"{f} {x}" for f, x in zip(people.first, people.last, strict=True)]
    acc_name = [full_name[i] for i in pers.tolist()] + words.company_names(rng, n_bus_acc)
    city_idx = rng.integers(0, len(words.CITIES), n)
    acc_city = np.empty(n_acc, dtype="int64")
    acc_city[contact_acc] = city_idx
    pers_list = pers.tolist()
    industry: list[str | None] = [None] * pers.size
    industry += pick(rng, words.INDUSTRIES, n_bus_acc)
    acc_cols.update(
        {
            "Name": acc_name,
            "Type": Same("Customer - Direct"),
            "Industry": industry,
            "BillingCity": [words.CITIES[c][0] for c in acc_city.tolist()],
            "BillingCountry": [words.CITIES[c][1] for c in acc_city.tolist()],
            "IsPersonAccount": [1] * pers.size + [0] * n_bus_acc,
            "PersonContactId": [contact_ids[i] for i in pers_list] + [None] * n_bus_acc,
            "PersonEmail": [people.stored[i] for i in pers_list] + [None] * n_bus_acc,
        }
    )
    yield from batches("Account", acc_cols, n_acc)

    account_of = [acc_ids[a] for a in contact_acc.tolist()]
    lead_source = pick(rng, LEAD_SOURCES, n)
    con_cols: Columns = run.system_columns(contact_ids, created)
    con_cols.update(
        {
            "FirstName": people.first,
            "LastName": people.last,
            "Name": full_name,
            "AccountId": account_of,
            "Email": people.stored,
            "MobilePhone": [f"+44 7700 {x:06d}" for x in rng.integers(0, 10**6, n).tolist()],
            "MailingCity": [words.CITIES[c][0] for c in city_idx.tolist()],
            "MailingCountry": [words.CITIES[c][1] for c in city_idx.tolist()],
            "MailingState": [words.CITY_STATES.get(words.CITIES[c][0]) for c in city_idx.tolist()],
            "LeadSource": lead_source,
            "HasOptedOutOfEmail": Same(0),
        }
    )
    yield from batches("Contact", con_cols, n)
    return Households(
        contact_ids=contact_ids,
        account_of=account_of,
        account_names=acc_name,
        account_index=contact_acc,
        lead_source=lead_source,
    )

"""Leads: a latent propensity, engagement that precedes conversion, and converted Leads.

Each Lead has a propensity ``pi`` (the probability of converting within the holdout window).
Engagement events (Page Viewed, Form Submitted, Email Opened/Clicked) arrive at a base rate
that grows with ``pi``, plus a burst in the days before a conversion. Some Leads are already
converted (their Contact has the same email; engagement precedes ConvertedDate); open Leads
convert in the holdout window with probability ``pi``, and those that will show the burst in
the weeks before ``now``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from localorg.schema import LEAD_SOURCES, LEAD_STATUSES
from localorg.seed import words
from localorg.seed.events import LeadEngagement, TrackEvents, lead_events
from localorg.seed.frame import Batch, Columns, Same, batches, dates, datetimes, hex_ids, pick
from localorg.seed.params import DAY, Arr
from localorg.seed.truth import LeadTruth

if TYPE_CHECKING:
    from localorg.seed.people import Behaviour, Households, People
    from localorg.seed.run import SeedRun


def converted_leads(
    run: SeedRun,
    rng: np.random.Generator,
    *,
    behaviour: Behaviour,
    people: People,
    households: Households,
) -> Iterator[Batch]:
    """The Leads a chunk's converted customers came from, their engagement and truth."""
    idx = np.flatnonzero(behaviour.converted)
    n = idx.size
    if n == 0:
        return
    il = idx.tolist()
    conv_t = behaviour.conversion[idx]
    created = conv_t - rng.uniform(3.0, 120.0, n) * DAY
    pi = rng.beta(2.0, 3.0, n)
    lead_ids, cols = run.system("Lead", n, created, conv_t)
    conv_date = dates(conv_t)
    sources = [households.lead_source[i] for i in il]
    cols.update(
        _lead_fields(
            rng,
            pi,
            first=[people.first[i] for i in il],
            last=[people.last[i] for i in il],
            company=[households.account_names[households.account_index[i]] for i in il],
            stored=[people.stored[i] for i in il],
            sources=sources,
        )
    )
    cols.update(
        {
            "Status": Same("Closed - Converted"),
            "IsConverted": Same(1),
            "ConvertedDate": conv_date,
            "ConvertedContactId": [households.contact_ids[i] for i in il],
            "ConvertedAccountId": [households.account_of[i] for i in il],
        }
    )
    yield from batches("Lead", cols, n)
    lead_email = [people.email[i] for i in il]
    burst = rng.poisson(3.0 + 12.0 * pi)
    _engage(
        run, rng, created=created, end=conv_t, pi=pi, burst=burst, email=lead_email, sources=sources
    )
    run.truth.write(
        LeadTruth(
            lead_id=lead_ids,
            email=lead_email,
            propensity=np.round(pi, 6).tolist(),
            converted=[1] * n,
            converts_in_holdout=[0] * n,
            conversion_time=datetimes(conv_t),
            conversion_date=conv_date,
            contact_id=[households.contact_ids[i] for i in il],
        )
    )


def open_leads(run: SeedRun, chunk: int, lo: int, hi: int) -> Iterator[Batch]:
    """Open Leads ``lo``..``hi``, the Tasks of those being worked, engagement and truth."""
    rng = run.rng("leads", chunk)
    n = hi - lo
    now = run.now
    status_p = (0.4, 0.45, 0.15)
    open_statuses = (LEAD_STATUSES[0], LEAD_STATUSES[1], LEAD_STATUSES[3])
    status_idx = rng.choice(3, n, p=status_p)
    pi = rng.beta(0.7, 4.0, n) * np.where(status_idx == 2, 0.2, 1.0)
    created = now - rng.uniform(1.0, 365.0, n) * DAY
    converts = rng.random(n) < pi
    conv_t = now + np.maximum(rng.beta(1.0, 2.0, n) * run.holdout * DAY, 3600.0)
    first = pick(rng, words.FIRST_NAMES, n)
    last = pick(rng, words.LAST_NAMES, n)
    company = words.company_names(rng, n)
    # The same mailbox mix as the customers that converted Leads became (people.py): giving
    # only open Leads business domains taught a model "a business domain never converts"
    # (Spearman of its score with pi 0.248; issue 22). A domain says nothing about pi here.
    domains = pick(rng, words.FREE_MAIL, n, words.FREE_MAIL_SHARE)
    # Serial numbers after the customers': a Lead's email is never a customer's.
    email = words.emails(rng, first, last, np.arange(lo, hi) + run.spec.contacts + 1, domains)
    stored = words.stored_emails(rng, email)
    sources = pick(rng, LEAD_SOURCES, n)
    lead_ids, cols = run.system("Lead", n, created)
    cols.update(
        _lead_fields(
            rng, pi, first=first, last=last, company=company, stored=stored, sources=sources
        )
    )
    cols.update(
        {
            "Status": [open_statuses[i] for i in status_idx.tolist()],
            "IsConverted": Same(0),
            "ConvertedDate": Same(None),
            "ConvertedContactId": Same(None),
            "ConvertedAccountId": Same(None),
        }
    )
    yield from batches("Lead", cols, n)

    worked = np.flatnonzero((status_idx == 1) & (rng.random(n) < 0.3))
    t_time = created[worked] + rng.random(worked.size) * (now - created[worked])
    _, tcols = run.system("Task", worked.size, t_time)
    tcols.update(
        {
            "Subject": Same("Call: qualify lead"),
            "Status": Same("Completed"),
            "Priority": Same("Normal"),
            "WhoId": [lead_ids[i] for i in worked.tolist()],
            "WhatId": Same(None),
            "ActivityDate": dates(t_time),
            "Type": Same("Call"),
            "TaskSubtype": Same("Call"),
        }
    )
    yield from batches("Task", tcols, worked.size)

    burst = np.where(converts, rng.poisson(3.0 + 12.0 * pi), 0)
    end = np.full(n, now)
    _engage(run, rng, created=created, end=end, pi=pi, burst=burst, email=email, sources=sources)
    will = converts.tolist()
    run.truth.write(
        LeadTruth(
            lead_id=lead_ids,
            email=email,
            propensity=np.round(pi, 6).tolist(),
            converted=[0] * n,
            converts_in_holdout=converts.astype(int).tolist(),
            conversion_time=[c if x else "" for c, x in zip(datetimes(conv_t), will, strict=True)],
            conversion_date=[c if x else "" for c, x in zip(dates(conv_t), will, strict=True)],
            contact_id=[""] * n,
        )
    )


def _engage(
    run: SeedRun,
    rng: np.random.Generator,
    *,
    created: Arr,
    end: Arr,
    pi: Arr,
    burst: Arr,
    email: list[str],
    sources: list[str],
) -> None:
    """Write the Leads' engagement events, then one identify per Lead."""
    n = created.size
    anon = hex_ids(rng, n)
    ev = TrackEvents()
    lead_events(
        rng,
        ev,
        LeadEngagement(
            created=created,
            end=end,
            propensity=pi,
            burst=burst,
            email=email,
            anon=anon,
            web_form=np.array([s == "Web" for s in sources], dtype=bool),
        ),
    )
    run.events.write_tracks(ev)
    run.events.write_identifies(created, anon, [None] * n, email)


def _lead_fields(
    rng: np.random.Generator,
    pi: Arr,
    *,
    first: list[str],
    last: list[str],
    company: list[str],
    stored: list[str],
    sources: list[str],
) -> Columns:
    """The Lead columns both kinds of Lead share; Rating follows the propensity, noisily."""
    n = pi.size
    heat = pi * rng.lognormal(0.0, 0.7, n)
    rating = np.where(heat > 0.3, "Hot", np.where(heat > 0.1, "Warm", "Cold")).tolist()
    city = rng.integers(0, len(words.CITIES), n).tolist()
    return {
        "FirstName": first,
        "LastName": last,
        "Name": [f"{f} {x}" for f, x in zip(first, last, strict=True)],
        "Company": company,
        "Email": stored,
        "LeadSource": sources,
        "Industry": pick(rng, words.INDUSTRIES, n),
        "Rating": rating,
        "City": [words.CITIES[c][0] for c in city],
        "Country": [words.CITIES[c][1] for c in city],
        "HasOptedOutOfEmail": Same(0),
    }

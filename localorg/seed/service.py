"""Service contacts with customers: Tasks (calls and emails) and EmailMessage replies.

About 2% of customers reply after an order; customers who have dropped out sound unhappier
(70% negative against 15%), and ``truth/replies.csv`` holds each reply's tone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from localorg.seed.frame import Batch, Same, batches, dates, pick
from localorg.seed.params import DAY
from localorg.seed.truth import ReplyTruth
from localorg.seed.words import NEGATIVE_REPLIES, POSITIVE_REPLIES, TASK_SUBJECTS

if TYPE_CHECKING:
    from localorg.seed.orders import Purchases
    from localorg.seed.people import Behaviour, Households, People
    from localorg.seed.run import SeedRun


def service(
    run: SeedRun,
    rng: np.random.Generator,
    *,
    behaviour: Behaviour,
    purchases: Purchases,
    people: People,
    households: Households,
) -> Iterator[Batch]:
    """Yield a chunk's Tasks and EmailMessages; write the replies' tones to the truth."""
    created = behaviour.created
    contact_ids, account_of = households.contact_ids, households.account_of
    n = created.size
    now = run.now
    # Tasks: a few calls and emails with customers
    tasked = np.flatnonzero(rng.random(n) < 0.03)
    t_time = created[tasked] + rng.random(tasked.size) * (now - created[tasked])
    subject = pick(rng, TASK_SUBJECTS, tasked.size)
    _, cols = run.system("Task", tasked.size, t_time)
    cols.update(
        {
            "Subject": subject,
            "Status": Same("Completed"),
            "Priority": Same("Normal"),
            "WhoId": [contact_ids[i] for i in tasked.tolist()],
            "WhatId": [account_of[i] for i in tasked.tolist()],
            "ActivityDate": dates(t_time),
            "Type": [s.split(":")[0] for s in subject],
            "TaskSubtype": [s.split(":")[0] for s in subject],
        }
    )
    yield from batches("Task", cols, tasked.size)

    # EmailMessages: replies after an order; customers who dropped out sound unhappier
    replied = np.flatnonzero(rng.random(n) < 0.02)
    last_order = np.full(n, -np.inf)
    np.maximum.at(last_order, purchases.owner, purchases.t)
    m_time = last_order[replied] + rng.uniform(1.0, 10.0, replied.size) * DAY
    late = m_time > now
    m_time[late] = now - rng.uniform(0.0, 1.0, int(late.sum())) * (now - last_order[replied][late])
    negative = rng.random(replied.size) < np.where(behaviour.alive_now[replied], 0.15, 0.7)
    body = [
        (NEGATIVE_REPLIES if neg else POSITIVE_REPLIES)[k]
        for neg, k in zip(negative.tolist(), rng.integers(0, 4, replied.size).tolist(), strict=True)
    ]
    message_ids, cols = run.system("EmailMessage", replied.size, m_time, owner=False)
    cols.update(
        {
            "Subject": Same("Re: Your order"),
            "TextBody": body,
            "FromAddress": [people.email[i] for i in replied.tolist()],
            "ToAddress": Same("support@shop.example.com"),
            "Incoming": Same(1),
            "MessageDate": cols["CreatedDate"],
            "Status": Same("1"),
            "RelatedToId": [contact_ids[i] for i in replied.tolist()],
        }
    )
    yield from batches("EmailMessage", cols, replied.size)
    run.truth.write(
        ReplyTruth(
            message_id=message_ids,
            contact_id=[contact_ids[i] for i in replied.tolist()],
            tone=["negative" if x else "positive" for x in negative.tolist()],
        )
    )

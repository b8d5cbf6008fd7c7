"""A synthetic store with known ground truth, streamed into localorg.

Every model the connector ships (BTYD purchase predictions, Gamma-Gamma spend, lead conversion,
best channel, best send hour) is scored against people whose behaviour follows known processes,
so the truth is known exactly. All rates are per day; all times are UTC. Each module holds one
process and says which in its docstring:

  params     sizes, rates and shares; BG/NBD E[X(t)] and the calibration of ``alpha``
  people     customers: BG/NBD purchases and dropout, names and emails, Accounts and Contacts
  orders     products, Orders and OrderItems (Gamma-Gamma spend), refunds, who an Order names
  leads      Leads: propensity, engagement before conversion, converted Leads
  events     marketing clicks by channel and hour of week, web browsing, lead engagement
  service    Tasks and EmailMessage replies with a tone
  truth      the truth files, one dataclass per file
  generator  the driver: the order of the parts, chunk by chunk
  run, frame, words   what the parts share: the random streams and ids, columns to batches,
             the word lists

Outputs: :func:`generate` yields ``(object_name, rows)`` batches in storage form, references
first (the one forward reference is Account.PersonContactId, created with its Contact as in
Salesforce), and writes ``truth/customers.csv``, ``truth/leads.csv``, ``truth/replies.csv``,
``truth/params.json`` and ``events.jsonl`` into ``out_dir``. The same seed and size give the
same bytes (``tests/localorg/test_seed_identity.py``).
"""

from __future__ import annotations

from localorg.seed.generator import generate
from localorg.seed.params import (
    BATCH_ROWS,
    SIZES,
    Population,
    SeedSize,
    calibrate,
    expected_repeat_purchases,
)

__all__ = [
    "BATCH_ROWS",
    "SIZES",
    "Population",
    "SeedSize",
    "calibrate",
    "expected_repeat_purchases",
    "generate",
]

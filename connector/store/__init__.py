"""The connector's state: the only code that writes SQL.

One facade, :class:`Store`, with a repository per area (``store.records``, ``store.outbox``,
``store.runs``, ``store.events``, ``store.scoring``, ``store.loyalty``); each repository's module
lists its tables. ``schema.py`` holds every table's schema as its migrations; ``sqlite.py`` holds
what only SQLite says (opening, PRAGMAs, its errors turned into :class:`~connector.errors.Busy`
and :class:`~connector.errors.StoreError`), so a PostgreSQL backend can stand beside it.

The store imports nothing of the connector but :mod:`connector.errors` and its own modules
(``tests/test_store_boundaries.py``): the domain maps onto the store's own row types.
"""

from __future__ import annotations

from connector.store.events import StoredDelivery
from connector.store.facade import Store, open_shared
from connector.store.outbox import PendingWrite, dumps, loads_many
from connector.store.scoring import StoredModel

__all__ = [
    "PendingWrite",
    "Store",
    "StoredDelivery",
    "StoredModel",
    "dumps",
    "loads_many",
    "open_shared",
]

"""The connector's state in SQLite (WAL), through sqlite-utils: the only code that writes SQL.

Tables:

- ``sf_<Object>``: pulled Salesforce records, one row per Id, deletes kept (``IsDeleted``);
  columns typed from describe (``columns.py``), booleans as 0/1.
- ``watermarks``: per object, the SystemModstamp up to which the org has been read.
- ``events``: the append-only behavioural event log, idempotent on (source, delivery_id).
- ``written_values``: the last value successfully written per (object, record, field): the
  baseline every diff compares against, so a re-run with no new data writes nothing.
- ``outbox``: changed values waiting to be written; survives crashes and carries retryable
  failures to the next run.
- ``runs`` and ``value_log``: what each run did, every value it wrote (old, new, status, error).
- ``deliveries``, ``shop_orders``, ``shop_refunds``, ``dirty_people``, ``webhook_rejections``:
  the webhook and events API intake and the real-time path (``connector.store.deliveries``).
"""

from __future__ import annotations

from connector.store.db import Store

__all__ = ["Store"]

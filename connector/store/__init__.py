"""The connector's state in SQLite (WAL), through sqlite-utils: the only code that writes SQL.

Tables:

- ``sf_<Object>``: pulled Salesforce records, one row per Id, deletes kept (``IsDeleted``);
  columns typed from describe (``columns.py``), booleans as 0/1.
- ``watermarks``: per object, the SystemModstamp up to which the org has been read.
- ``events``: the append-only behavioural event log, idempotent on (source, delivery_id).
- ``written_values``: the last value successfully written per (object, record, field): the
  baseline every diff compares against, so a re-run with no new data writes nothing.
- ``outbox``: changed values waiting to be written; survives crashes and carries retryable
  failures to the next run. Status ``pending`` (to send), ``in_flight`` (sent by ``sent_run``,
  answer not recorded yet: a run that dies leaves these, and the next reads the org before
  sending them again), ``carried`` (retryable failure, sent next run), ``failed`` (refused;
  waits for a new value or ``sync --retry-failed``).
- ``runs`` and ``value_log``: what each run did (with its process id and host, so a run that
  died is found and marked ``crashed``), every value it wrote (old, new, status ``written``,
  ``verified`` when found already in the org after a crash, ``carried`` or ``failed``, error).
- ``deliveries``, ``shop_orders``, ``shop_refunds``, ``dirty_people``, ``webhook_rejections``:
  the webhook and events API intake and the real-time path (``connector.store.deliveries``).
"""

from __future__ import annotations

from connector.store.db import Store

__all__ = ["Store"]

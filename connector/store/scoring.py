"""Scoring state in the store: fitted model parameters (JSON) and fired moments.

Kept beside :class:`~connector.store.db.Store` (whose migration ``_v3`` makes the tables) so the
scoring glue never writes SQL itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from connector.store.db import Store


class StoredModel(NamedTuple):
    """A fitted model's parameters as stored."""

    name: str
    fitted_at: datetime
    params: str
    record: dict[str, Any]


def save_model(store: Store, name: str, params: str, record: dict[str, Any]) -> None:
    """Store (or replace) the fitted parameters of model ``name`` and what its fit measured."""
    store.db.execute(
        "INSERT OR REPLACE INTO model_params (name, fitted_at, params, record) VALUES (?, ?, ?, ?)",
        [name, datetime.now(UTC).isoformat(), params, json.dumps(record, default=str)],
    )


def load_model(store: Store, name: str) -> StoredModel | None:
    """The stored parameters of model ``name``, or None before its first fit."""
    row = store.db.execute(
        "SELECT name, fitted_at, params, record FROM model_params WHERE name = ?", [name]
    ).fetchone()
    if row is None:
        return None
    return StoredModel(row[0], datetime.fromisoformat(row[1]), row[2], json.loads(row[3] or "{}"))


def fired(store: Store, moment: str, object_name: str) -> set[str]:
    """Record ids the moment has fired for and that were not re-armed since."""
    rows = store.db.execute(
        "SELECT record_id FROM moments WHERE moment = ? AND object = ?", [moment, object_name]
    ).fetchall()
    return {r[0] for r in rows}


def mark_fired(
    store: Store, moment: str, object_name: str, values: Iterable[tuple[str, float]]
) -> None:
    """Remember that the moment fired for these (record id, score) pairs."""
    at = datetime.now(UTC).isoformat()
    with store.transaction():
        store.db.conn.executemany(
            "INSERT OR REPLACE INTO moments (moment, object, record_id, value, fired_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(moment, object_name, rid, value, at) for rid, value in values],
        )


def rearm(store: Store, moment: str, object_name: str, record_ids: Iterable[str]) -> None:
    """Forget that the moment fired for these records: their next crossing fires again."""
    with store.transaction():
        store.db.conn.executemany(
            "DELETE FROM moments WHERE moment = ? AND object = ? AND record_id = ?",
            [(moment, object_name, rid) for rid in record_ids],
        )

"""Scoring state: fitted model parameters (JSON) and fired moments: :class:`ScoringRepository`.

Tables (migration v5): ``model_params`` (one row per model name: when it was fitted, its
parameters as JSON, what its fit measured) and ``moments`` (which records a moment, such as
intent turning hot, has fired for, so it fires once per crossing).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlite_utils

from connector.store.backend import transaction


class StoredModel(NamedTuple):
    """A fitted model's parameters as stored."""

    name: str
    fitted_at: datetime
    params: str
    record: dict[str, Any]


class ScoringRepository:
    """Fitted model parameters and fired moments (``store.scoring``)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def save_model(self, name: str, params: str, record: dict[str, Any]) -> None:
        """Store (or replace) the fitted parameters of model ``name`` and what its fit measured."""
        self.db.execute(
            "INSERT INTO model_params (name, fitted_at, params, record) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET fitted_at = excluded.fitted_at, "
            "params = excluded.params, record = excluded.record",
            [name, datetime.now(UTC).isoformat(), params, json.dumps(record, default=str)],
        )

    def fitted(self) -> dict[str, str]:
        """When each stored model was fitted (name -> ISO time): a refit anywhere (a sync, the
        retrain job) changes it, which a run computing only changed people must notice."""
        rows = self.db.execute("SELECT name, fitted_at FROM model_params ORDER BY name")
        return {str(r[0]): str(r[1]) for r in rows.fetchall()}

    def load_model(self, name: str) -> StoredModel | None:
        """The stored parameters of model ``name``, or None before its first fit."""
        row = self.db.execute(
            "SELECT name, fitted_at, params, record FROM model_params WHERE name = ?", [name]
        ).fetchone()
        if row is None:
            return None
        return StoredModel(
            row[0], datetime.fromisoformat(row[1]), row[2], json.loads(row[3] or "{}")
        )

    def fired(self, moment: str, object_name: str) -> set[str]:
        """Record ids the moment has fired for and that were not re-armed since."""
        rows = self.db.execute(
            "SELECT record_id FROM moments WHERE moment = ? AND object = ?", [moment, object_name]
        ).fetchall()
        return {r[0] for r in rows}

    def mark_fired(
        self, moment: str, object_name: str, values: Iterable[tuple[str, float]]
    ) -> None:
        """Remember that the moment fired for these (record id, score) pairs."""
        at = datetime.now(UTC).isoformat()
        with transaction(self.db.conn):
            self.db.conn.executemany(
                "INSERT INTO moments (moment, object, record_id, value, fired_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (moment, object, record_id) "
                "DO UPDATE SET value = excluded.value, fired_at = excluded.fired_at",
                [(moment, object_name, rid, value, at) for rid, value in values],
            )

    def rearm(self, moment: str, object_name: str, record_ids: Iterable[str]) -> None:
        """Forget that the moment fired for these records: their next crossing fires again."""
        with transaction(self.db.conn):
            self.db.conn.executemany(
                "DELETE FROM moments WHERE moment = ? AND object = ? AND record_id = ?",
                [(moment, object_name, rid) for rid in record_ids],
            )

"""Scoring state: fitted model parameters (JSON) and fired moments: :class:`ScoringRepository`.

Tables (migration v5): ``model_params`` (one row per model name: when it was fitted, its
parameters as JSON, what its fit measured) and ``moments`` (which records a moment, such as
intent turning hot, has fired for, so it fires once per crossing); (v19) ``order_risk``: each
Order's risk score once computed, frozen, and the held scores of shop orders (issue 24).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pandas as pd
import sqlite_utils

from connector.store.backend import read_frame, rows_in, transaction


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

    # ------------------------------------------------------------------ order risk (issue 24)
    def order_risk(self, order_ids: Sequence[str] | None = None) -> pd.DataFrame:
        """The kept risk of these orders (every order's with ``None``): ``order_id, score,
        reasons, held, scored_at``. A held row is a shop order's, scored before any Salesforce
        Order named it."""
        columns = "order_id, score, reasons, held, scored_at"
        if order_ids is None:
            return read_frame(f"SELECT {columns} FROM order_risk", self.db.conn)
        ids = sorted(set(order_ids))
        # the rows of every chunk, then one frame: a frame per chunk of 500 (120 for the
        # 60,000 orders of a 1% change's sync on the medium seed) and their concat cost more
        # than the lookups
        # the primary key serves each chunk
        rows = rows_in(self.db.conn, f"SELECT {columns} FROM order_risk WHERE order_id", ids)
        # object columns (every column is NOT NULL), as the concat with an empty frame gave
        # them before
        return pd.DataFrame(rows, columns=columns.split(", "), dtype=object)

    def held_order_risk(self) -> pd.DataFrame:
        """The held rows (shop orders no Salesforce Order names yet), as :meth:`order_risk`."""
        return read_frame(
            "SELECT order_id, score, reasons, held, scored_at FROM order_risk WHERE held = 1",
            self.db.conn,
        )

    def keep_order_risk(
        self, rows: Iterable[tuple[str, int, str, bool]], run_id: int | None, at: str
    ) -> int:
        """Keep each (order id, score, reasons, held) not kept yet; a kept score is never
        replaced (it is frozen). Returns how many were new."""
        todo = [(o, int(s), str(r), int(bool(h)), at, run_id) for o, s, r, h in rows]
        if not todo:
            return 0
        with transaction(self.db.conn):
            before = self.db.conn.total_changes
            self.db.conn.executemany(
                "INSERT INTO order_risk (order_id, score, reasons, held, scored_at, run_id) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO NOTHING",
                todo,
            )
            return int(self.db.conn.total_changes - before)

    def adopt_held_risk(self, pairs: Iterable[tuple[str, str]], run_id: int | None) -> int:
        """Each (shop order id, Salesforce Order Id): the Order takes the shop order's held
        score (unless it has one) and the held row goes. Returns how many were adopted."""
        done = 0
        with transaction(self.db.conn):
            for shop_id, order_id in pairs:
                cur = self.db.conn.execute(
                    "INSERT INTO order_risk (order_id, score, reasons, held, scored_at, run_id) "
                    "SELECT ?, score, reasons, 0, scored_at, ? FROM order_risk "
                    "WHERE order_id = ? AND held = 1 ON CONFLICT (order_id) DO NOTHING",
                    [order_id, run_id, shop_id],
                )
                done += max(cur.rowcount, 0)
                self.db.conn.execute(
                    "DELETE FROM order_risk WHERE order_id = ? AND held = 1", [shop_id]
                )
        return done

    def drop_held_risk(self, order_ids: Iterable[str]) -> int:
        """Forget these held rows (past their age limit); returns how many went."""
        ids = sorted(set(order_ids))
        gone = 0
        with transaction(self.db.conn):
            for order_id in ids:
                cur = self.db.conn.execute(
                    "DELETE FROM order_risk WHERE order_id = ? AND held = 1", [order_id]
                )
                gone += max(cur.rowcount, 0)
        return gone

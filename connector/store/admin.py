"""The admin page's state: failed sign-ins, for its lockout (:class:`AdminRepository`).

Table (migration ``_v14_admin_sign_in``): ``admin_sign_in_failures`` (account, client address,
when). Kept in the database, not in a web worker's memory, so every gunicorn worker counts the
same failures: a guesser whose requests are spread over the workers is locked out all the same.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlite_utils

from connector.store.sqlite import transaction


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds")


class AdminRepository:
    """Failed admin sign-ins per (account, address) (``store.admin``)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def record_failure(self, account: str, address: str, at: datetime) -> None:
        """Count one failed sign-in of ``account`` from ``address``."""
        with transaction(self.db.conn):
            self.db.conn.execute(
                "INSERT INTO admin_sign_in_failures (account, address, at) VALUES (?, ?, ?)",
                (account, address, _stamp(at)),
            )

    def failures_since(self, account: str, address: str, since: datetime) -> int:
        """Failed sign-ins of ``account`` from ``address`` at or after ``since``."""
        row = self.db.conn.execute(
            "SELECT COUNT(*) FROM admin_sign_in_failures WHERE account = ? AND address = ? "
            "AND at >= ?",
            (account, address, _stamp(since)),
        ).fetchone()
        return int(row[0])

    def clear_failures(self, account: str, address: str, before: datetime) -> None:
        """Forget the failures of ``account`` from ``address`` (a good sign-in), and every
        failure older than ``before`` (outside any lockout window: the table stays small)."""
        with transaction(self.db.conn):
            self.db.conn.execute(
                "DELETE FROM admin_sign_in_failures WHERE (account = ? AND address = ?) OR at < ?",
                (account, address, _stamp(before)),
            )

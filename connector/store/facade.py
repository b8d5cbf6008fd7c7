"""The :class:`Store`: one database, one repository per area."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from connector.errors import ConfigError
from connector.store import postgres, sqlite
from connector.store.admin import AdminRepository
from connector.store.backend import open_database, set_fsync, transaction
from connector.store.events import EventsRepository
from connector.store.loyalty import LoyaltyRepository
from connector.store.outbox import OutboxRepository
from connector.store.records import RecordsRepository
from connector.store.runs import RunsRepository
from connector.store.schema import migrate
from connector.store.scoring import ScoringRepository


class Store:
    """The connector's database: open it, then use its repositories.

    - ``records``: pulled Salesforce records, watermarks, sync state and the inputs generation
    - ``outbox``: the outbox, the written-value baseline, the value log, in-flight writes
    - ``runs``: run records and the run lock
    - ``events``: the event log, webhook deliveries, shop orders and refunds, dirty people
    - ``scoring``: fitted model parameters and fired moments
    - ``loyalty``: the points journal, vouchers, notified tiers, mirror state
    - ``admin``: the admin page's failed sign-ins (its lockout)

    Opening applies the migrations the database has not seen.
    """

    def __init__(self, path: Path | str) -> None:
        self.url = str(path) if postgres.is_url(path) else None  # PostgreSQL (DATABASE_URL)
        self.path = Path(path) if self.url is None else Path("postgresql")
        #: Where the database is, for messages: the file, or the URL without its password.
        self.label = str(self.path) if self.url is None else postgres.redacted(self.url)
        self.db = open_database(path if self.url else self.path)  # the store's modules only
        in_memory = str(path) == ":memory:" or self.url is not None
        self.records = RecordsRepository(self.db)
        self.outbox = OutboxRepository(self.db)
        self.runs = RunsRepository(self.db, None if in_memory else self.path)
        self.events = EventsRepository(self.db)
        self.scoring = ScoringRepository(self.db)
        self.loyalty = LoyaltyRepository(self.db)
        self.admin = AdminRepository(self.db)
        self.migrate()

    def migrate(self) -> int:
        """Apply the migrations this database has not seen; returns its schema version."""
        return migrate(self.db)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction across repositories: everything inside lands, or nothing does."""
        with transaction(self.db.conn):
            yield

    def fsync_every_commit(self, on: bool) -> None:
        """Sync every commit to disk (a commit survives power loss, at a cost per commit), or
        only at checkpoints (a commit survives any crash of the process)."""
        set_fsync(self.db, on)

    def backup(self, target: Path) -> None:
        """Copy the SQLite database into the new file ``target``: one consistent moment, taken
        while other processes go on writing (:func:`connector.store.sqlite.backup`).
        PostgreSQL: a :class:`ConfigError` that gives the ``pg_dump`` recipe."""
        if self.url is not None:
            raise ConfigError(PG_BACKUP)
        sqlite.backup(self.db.conn, target)

    def restore(self, source: Path) -> int:
        """Replace this database's content with the backup ``source``, holding the run lock (no
        sync runs meanwhile), then bring it up to this version's schema; returns the backup's
        schema version. PostgreSQL: a :class:`ConfigError` with the ``pg_restore`` recipe."""
        if self.url is not None:
            raise ConfigError(PG_RESTORE)
        with self.runs.lock():
            version = sqlite.restore(self.db.conn, source)
            self.migrate()
        return version

    def notice_schema(self) -> None:
        """Before a run: on PostgreSQL, see what another process changed of the tables since
        this one last looked (a worker's pass reads the column a sync's pull added); SQLite
        reads its schema fresh each time."""
        if self.url is not None:
            cast(postgres.PgConnection, self.db.conn).notice_schema()

    def holds_data(self) -> bool:
        """True when the database holds runs or loyalty entries (a restore would replace them)."""
        for table in ("runs", "loyalty_journal"):
            if self.db.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
                return True
        return False

    def close(self) -> None:
        """Close the connection."""
        self.db.conn.close()


#: What ``backup`` and ``restore`` say on PostgreSQL: its own tools do it (README, "Where the
#: database lives"); ``-Fc`` is the custom format pg_restore reads.
PG_BACKUP = (
    "the database is PostgreSQL (DATABASE_URL): back it up with its own tool, "
    'pg_dump -Fc --no-owner -f PATH "$DATABASE_URL" (README: Where the database lives)'
)
PG_RESTORE = (
    "the database is PostgreSQL (DATABASE_URL): restore with its own tool, "
    'pg_restore --clean --if-exists --no-owner -d "$DATABASE_URL" PATH '
    "(README: Where the database lives)"
)


def open_shared(database: Path | str) -> Store:
    """Open the store with other processes kept out meanwhile: two processes creating a fresh
    database at once (the WAL switch, the migrations) can refuse each other with "database is
    locked" before the busy timeout applies (seen with gunicorn's two workers starting).
    PostgreSQL: the migrations take an advisory lock of their own (``schema.migrate``)."""
    if postgres.is_url(database):
        return Store(database)
    database = Path(database)
    database.parent.mkdir(parents=True, exist_ok=True)
    with database.with_name(database.name + ".open.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            return Store(database)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

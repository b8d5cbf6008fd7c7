"""Every table's schema, as the migrations that made it, and the inputs generation.

The migrations are the schema's history: append only, never edited once released (a database
is upgraded by running the ones it has not seen, each in its own transaction). They name their
columns themselves, so no domain constant can rewrite one. SQLite-specific: the PostgreSQL
backend (issue 20) brings its own schema for the same tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import sqlite_utils

from connector.store.backend import is_postgres, transaction
from connector.store.postgres import advisory
from connector.store.sqlite import now

Migration = Callable[[sqlite_utils.Database], None]


def _v1(db: sqlite_utils.Database) -> None:
    db.table("watermarks").create({"object": str, "modstamp": str, "updated_at": str}, pk="object")
    db.table("events").create(
        {
            "source": str,
            "delivery_id": str,
            "type": str,
            "name": str,
            "occurred_at": str,
            "email": str,
            "contact_id": str,
            "lead_id": str,
            "anonymous_id": str,
            "properties": str,
            "received_at": str,
        },
        pk=("source", "delivery_id"),
    )
    db.table("events").create_index(["email"])
    db.table("written_values").create(
        {
            "object": str,
            "record_id": str,
            "field": str,
            "value": str,
            "run_id": int,
            "written_at": str,
        },
        pk=("object", "record_id", "field"),
    )
    db.table("outbox").create(
        {
            "object": str,
            "record_id": str,
            "field": str,
            "value": str,
            "run_id": int,
            "attempts": int,
            "status": str,
            "error": str,
        },
        pk=("object", "record_id", "field"),
    )
    db.table("runs").create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "status": str,
            "mode": str,
            "stats": str,
        },
        pk="id",
    )
    db.table("value_log").create(
        {
            "run_id": int,
            "object": str,
            "record_id": str,
            "field": str,
            "old": str,
            "new": str,
            "status": str,
            "error": str,
            "at": str,
        },
    )
    db.table("value_log").create_index(["run_id"])
    db.table("value_log").create_index(["object", "record_id"])


def _v2(db: sqlite_utils.Database) -> None:
    # The compute step reads events by name (clicks, opens); without this it scans the log.
    db.table("events").create_index(["name"])


def _v3_run_process_and_in_flight(db: sqlite_utils.Database) -> None:
    # A run records its process, so the next run can tell which one died and say so; an outbox
    # row records the run that sent it (status 'in_flight' until its answer is recorded), so a
    # run killed mid-push leaves behind exactly the writes whose outcome it never learnt.
    db.table("runs").add_column("pid", int)
    db.table("runs").add_column("host", str)
    db.table("outbox").add_column("sent_run", int)


#: The journal's columns as migration v4 made them, frozen here: the loyalty domain's entry
#: (``connector.loyalty.ledger.JOURNAL_COLUMNS``) maps onto them, and a column the domain adds
#: takes a migration of its own, never an edit of this one.
_V4_JOURNAL_COLUMNS = (
    "key",
    "program",
    "member",
    "kind",
    "currency",
    "points",
    "at",
    "lot",
    "expires_at",
    "available_at",
    "source_type",
    "source_id",
    "rule_id",
    "rule",
    "partner",
    "brand",
    "reason",
)


def _v4_loyalty(db: sqlite_utils.Database) -> None:
    # The loyalty journal (append-only; ``key`` is the idempotency key, unique), the tier each
    # member was last told, and issued vouchers.
    columns: dict[str, Any] = {c: str for c in _V4_JOURNAL_COLUMNS}
    columns["points"] = int
    db.table("loyalty_journal").create({"seq": int, **columns}, pk="seq")
    db.table("loyalty_journal").create_index(["key"], unique=True)
    db.table("loyalty_journal").create_index(["program", "member"])
    db.table("loyalty_journal").create_index(["program", "kind"])
    db.table("loyalty_tiers").create(
        {"program": str, "member": str, "tier": str, "since": str, "notified_run": int},
        pk=("program", "member"),
    )
    db.table("loyalty_vouchers").create(
        {
            "code": str,
            "program": str,
            "member": str,
            "voucher_id": str,
            "kind": str,
            "value": float,
            "issued_at": str,
            "expires_at": str,
            "uses_left": int,
            "redemption_key": str,
        },
        pk="code",
    )
    db.table("loyalty_vouchers").create_index(["program", "member"])


def _v5_scoring(db: sqlite_utils.Database) -> None:
    # Scoring state (scoring.py): fitted model parameters as JSON, and which
    # people a moment (intent turned hot) has fired for, so it fires once per crossing.
    db.table("model_params").create(
        {"name": str, "fitted_at": str, "params": str, "record": str}, pk="name"
    )
    db.table("moments").create(
        {"moment": str, "object": str, "record_id": str, "value": float, "fired_at": str},
        pk=("moment", "object", "record_id"),
    )


def _v6_deliveries(db: sqlite_utils.Database) -> None:
    # The webhook and events API intake and the real-time path (``events.py``).
    db.execute(
        "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, source TEXT NOT NULL, "
        "key TEXT NOT NULL, topic TEXT, shop TEXT, received_at TEXT, headers TEXT, body BLOB, "
        "status TEXT NOT NULL DEFAULT 'stored', error TEXT, email TEXT, "
        "duplicates INTEGER NOT NULL DEFAULT 0, UNIQUE (source, key))"
    )
    # The worker's scan for work: only the few rows not yet normalised are in this index.
    db.execute("CREATE INDEX deliveries_pending ON deliveries (id) WHERE status = 'stored'")
    db.execute("CREATE INDEX deliveries_email ON deliveries (email)")
    db.execute("CREATE INDEX deliveries_shop ON deliveries (shop)")
    db.execute(
        "CREATE TABLE shop_orders (platform TEXT NOT NULL, order_id TEXT NOT NULL, "
        "reference TEXT, platform_order_id TEXT, shop TEXT, email TEXT, placed_at TEXT, "
        "updated_at TEXT, total REAL, currency TEXT, cancelled INTEGER NOT NULL DEFAULT 0, "
        "stale INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (platform, order_id))"
    )
    db.execute("CREATE INDEX shop_orders_email ON shop_orders (email)")
    db.execute(
        "CREATE TABLE shop_refunds (platform TEXT NOT NULL, refund_id TEXT NOT NULL, "
        "order_id TEXT NOT NULL, amount REAL NOT NULL, refunded_at TEXT, "
        "PRIMARY KEY (platform, refund_id))"
    )
    db.execute("CREATE INDEX shop_refunds_order ON shop_refunds (platform, order_id)")
    db.execute("CREATE TABLE dirty_people (email TEXT PRIMARY KEY, marked_at TEXT NOT NULL)")
    db.execute(
        "CREATE TABLE webhook_rejections (source TEXT NOT NULL, reason TEXT NOT NULL, "
        "count INTEGER NOT NULL DEFAULT 0, last_at TEXT, PRIMARY KEY (source, reason))"
    )


def _v7_sync_state(db: sqlite_utils.Database) -> None:
    # Small named facts a run leaves for the next: the inputs generation, what the last compute
    # saw, the spans of our own writes not yet swept for echoes (connector/sync/echo.py).
    db.table("sync_state").create({"key": str, "value": str}, pk="key")


# Inputs of the compute step that other processes write (the web worker's shop orders and
# refunds, a privacy redaction's deleted events): each change moves the inputs generation, so
# the next sync computes instead of skipping (sync/inputs.py). Triggers, not calls: every
# writer of these tables is covered, present and future. (The lead model's parameters are
# written by the sync itself too, so its refits outside a sync say so themselves:
# ``connector.sync.intent.retrain_now``.)
_INPUT_TABLES = ("shop_orders", "shop_refunds", "events")


def _v8_input_triggers(db: sqlite_utils.Database) -> None:
    # The row exists from here on, so the triggers only update it: an INSERT inside a trigger
    # would take the conflict policy of the statement that fired it (an upsert: an error).
    db.execute("INSERT OR IGNORE INTO sync_state (key, value) VALUES ('inputs_generation', '0')")
    if is_postgres(db):
        _v8_input_triggers_pg(db)
        return
    for table in _INPUT_TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            if table == "events" and event != "DELETE":
                continue  # appends already move it (EventsRepository.append)
            db.execute(
                f"CREATE TRIGGER inputs_{table}_{event.lower()} AFTER {event} ON {table} BEGIN "
                "UPDATE sync_state SET value = CAST(value AS INTEGER) + 1 "
                "WHERE key = 'inputs_generation'; END"
            )


def _v8_input_triggers_pg(db: sqlite_utils.Database) -> None:
    # PostgreSQL's triggers call a function (CREATE TRIGGER ... EXECUTE FUNCTION); one row
    # bumps once, as SQLite's FOR EACH ROW triggers above do.
    db.execute(
        "CREATE FUNCTION l2l_bump_inputs() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE sync_state SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) "
        "WHERE key = 'inputs_generation'; RETURN NULL; END $$"
    )
    for table in _INPUT_TABLES:
        for event in ("INSERT", "UPDATE", "DELETE"):
            if table == "events" and event != "DELETE":
                continue
            db.execute(
                f"CREATE TRIGGER inputs_{table}_{event.lower()} AFTER {event} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION l2l_bump_inputs()"
            )


def _v9_voucher_uses(db: sqlite_utils.Database) -> None:
    # The uses of voucher codes, one row per ``Idempotency-Key``: a repeated key answers the
    # outcome recorded here. Promotion vouchers are issued once per (promotion, order).
    db.table("loyalty_voucher_uses").create(
        {"key": str, "code": str, "status": int, "outcome": str, "at": str}, pk="key"
    )
    db.table("loyalty_vouchers").add_column("source_key", str)
    db.table("loyalty_vouchers").create_index(["source_key"], unique=True)


def _v10_mirror_retry(db: sqlite_utils.Database) -> None:
    # Journal entries the Loyalty Management mirror could not save, sent again by the next run
    # (connector/sync/loyalty_mirror.py); ``error`` is Salesforce's reason.
    db.table("loyalty_mirror_retry").create(
        {"program": str, "key": str, "error": str}, pk=("program", "key")
    )


def _v11_events_by_anonymous_id(db: sqlite_utils.Database) -> None:
    # A real-time pass reads its people's events by email and by the anonymous ids they share.
    db.table("events").create_index(["anonymous_id"], if_not_exists=True)


def _v12_delivery_content_key(db: sqlite_utils.Database) -> None:
    # ``content_key`` and its unique index: a body resent under fresh headers is a duplicate.
    # Stored rows get theirs, computed as the webhooks compute it (topic, shop, SHA-256 of the
    # body; frozen here, as a migration must not move with the domain), except a replay stored
    # before the key existed: it keeps none, so the index holds.
    db.execute("ALTER TABLE deliveries ADD COLUMN content_key TEXT")
    seen: set[tuple[str, str]] = set()
    keys = []
    for row_id, source, topic, shop, body in db.execute(
        "SELECT id, source, topic, shop, body FROM deliveries ORDER BY id"
    ).fetchall():
        digest = hashlib.sha256(bytes(body or b"")).hexdigest()
        content = f"{topic or ''}|{shop or ''}|{digest}"
        if (source, content) not in seen:
            seen.add((source, content))
            keys.append((content, row_id))
    db.conn.executemany("UPDATE deliveries SET content_key = ? WHERE id = ?", keys)
    db.execute("CREATE UNIQUE INDEX deliveries_content ON deliveries (source, content_key)")


def _v13_journal_token(db: sqlite_utils.Database) -> None:
    # The loyalty API token (its name) that booked a journal entry: its daily accrual cap
    # counts by it, and the journal says who booked what.
    if "token" not in db.table("loyalty_journal").columns_dict:
        db.table("loyalty_journal").add_column("token", str)


def _v14_admin_sign_in(db: sqlite_utils.Database) -> None:
    # The admin page's lockout counts failed sign-ins per account and client address.
    db.table("admin_sign_in_failures").create({"account": str, "address": str, "at": str})
    db.table("admin_sign_in_failures").create_index(["account", "address", "at"])


def _v15_journal_indexes_for_reads(db: sqlite_utils.Database) -> None:
    # Issue 19: the journal keeps only the indexes its reads use. (program, kind) served no
    # read (totals, currencies and the token cap scan the program's entries anyway, nearly all
    # of them accruals) and cost each appended entry a B-tree insert: appending 678,110
    # entries took 19.2 s of CPU with it, 17.0 s without (SQLite's default page cache,
    # measured alone; bench/bookkeeping.py times it with the page cache of store/sqlite.py).
    # The token cap's read gets a partial index instead: only the loyalty API's entries carry
    # a token, so a sync's bulk append never touches it.
    db.execute("DROP INDEX IF EXISTS idx_loyalty_journal_program_kind")
    db.execute(
        "CREATE INDEX IF NOT EXISTS loyalty_journal_token ON loyalty_journal "
        "(program, token, at) WHERE token IS NOT NULL"
    )


# Append only: a released database is upgraded by running the migrations it has not seen.
# The admin page's totals (issue 21), so a page reads a few rows, not the whole journal (47 s
# for the loyalty page on the medium seed before). They were kept by the journal's writer in
# each chunk's transaction, which made the sync's append of 300,000 entries 1.43 times slower
# (16.0 s -> 22.9 s; a per-row trigger before that: 2.7 times). Now the reader catches them up
# (``AdminRepository.catch_up``): from the position they were added up to (``sync_state``
# ``admin_sums_seq``, migration ``_v18_admin_sums_position``) to the newest entry, in chunks.


#: The ``sync_state`` key of the last journal ``seq`` the admin page's totals include.
SUMS_POSITION = "admin_sums_seq"


def add_journal_sums(conn: Any, after_seq: int, upto_seq: int | None = None) -> None:
    """Add the journal entries booked after ``after_seq`` (up to ``upto_seq`` included, if
    given) to the admin page's totals (inside the caller's transaction): points per (program,
    currency, kind, rule, partner), per member (points and cashback balances, first entry) and
    per day of booking. Entries are only ever appended, and writers take the write lock one at
    a time, so a ``seq`` is never committed below one already seen: "booked after" is
    ``seq > after_seq``."""
    upto = upto_seq if upto_seq is not None else 2**62
    conn.execute(
        "INSERT INTO loyalty_sums (program, currency, kind, rule_id, partner, points, entries) "
        "SELECT program, currency, kind, COALESCE(rule_id, ''), COALESCE(partner, ''), "
        "SUM(points), COUNT(*) FROM loyalty_journal WHERE seq > ? AND seq <= ? "
        "GROUP BY 1, 2, 3, 4, 5 "
        "ON CONFLICT (program, currency, kind, rule_id, partner) DO UPDATE SET "
        "points = loyalty_sums.points + excluded.points, "
        "entries = loyalty_sums.entries + excluded.entries",
        [after_seq, upto],
    )
    conn.execute(
        "INSERT INTO loyalty_member_sums (program, member, points, cashback, first_at) "
        "SELECT program, member, SUM(CASE WHEN currency = 'points' THEN points ELSE 0 END), "
        "SUM(CASE WHEN currency = 'cashback' THEN points ELSE 0 END), MIN(at) "
        "FROM loyalty_journal WHERE seq > ? AND seq <= ? GROUP BY 1, 2 "
        "ON CONFLICT (program, member) DO UPDATE SET "
        "points = loyalty_member_sums.points + excluded.points, "
        "cashback = loyalty_member_sums.cashback + excluded.cashback, "
        "first_at = CASE WHEN excluded.first_at < loyalty_member_sums.first_at "
        "THEN excluded.first_at ELSE loyalty_member_sums.first_at END",
        [after_seq, upto],
    )
    conn.execute(
        "INSERT INTO loyalty_days (program, currency, day, points) "
        "SELECT program, currency, substr(at, 1, 10), SUM(points) FROM loyalty_journal "
        "WHERE seq > ? AND seq <= ? GROUP BY 1, 2, 3 "
        "ON CONFLICT (program, currency, day) DO UPDATE SET "
        "points = loyalty_days.points + excluded.points",
        [after_seq, upto],
    )


def _v16_admin_summaries(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE loyalty_sums (program TEXT NOT NULL, currency TEXT NOT NULL, "
        "kind TEXT NOT NULL, rule_id TEXT NOT NULL, partner TEXT NOT NULL, "
        "points INTEGER NOT NULL, entries INTEGER NOT NULL, "
        "PRIMARY KEY (program, currency, kind, rule_id, partner))"
    )
    db.execute(
        "CREATE TABLE loyalty_member_sums (program TEXT NOT NULL, member TEXT NOT NULL, "
        "points INTEGER NOT NULL, cashback INTEGER NOT NULL, first_at TEXT, "
        "PRIMARY KEY (program, member))"
    )
    db.execute(
        "CREATE TABLE loyalty_days (program TEXT NOT NULL, currency TEXT NOT NULL, "
        "day TEXT NOT NULL, points INTEGER NOT NULL, PRIMARY KEY (program, currency, day))"
    )
    # An existing journal is added up once, here (then caught up from the position of v18).
    add_journal_sums(db.conn, 0)
    # Distributions of written values per field (the scores page, the KPI funnel): this index
    # covers (object, field) -> value, record, so a field's values are read without the table
    # (without record_id, the funnel's revenue split fetched 50,000 rows: 330 ms -> 51 ms).
    db.execute(
        "CREATE INDEX written_values_by_field ON written_values (object, field, value, record_id)"
    )
    # Members per tier: the tier each member was last told (what Salesforce shows).
    db.execute("CREATE INDEX loyalty_tiers_by_tier ON loyalty_tiers (program, tier)")


def _v17_outbox_in_flight(db: sqlite_utils.Database) -> None:
    # A push batch settles its rows still in flight for its run (outbox.record_results): this
    # partial index holds only those, so PostgreSQL finds them without reading the outbox
    # (a first sync's 74,865 queued values on the small seed: a sequential scan per batch
    # of 400 records).
    db.execute("CREATE INDEX outbox_in_flight ON outbox (sent_run) WHERE status = 'in_flight'")


def _v18_admin_sums_position(db: sqlite_utils.Database) -> None:
    # Until now the journal's writer kept the totals whole: they include every entry so far.
    db.conn.execute(
        "INSERT INTO sync_state (key, value) SELECT ?, CAST(COALESCE(MAX(seq), 0) AS TEXT) "
        "FROM loyalty_journal WHERE true ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [SUMS_POSITION],
    )


def _v19_order_risk(db: sqlite_utils.Database) -> None:
    # Issue 24: each Order's risk score and reasons, kept once computed (frozen: a later run or
    # real-time pass never scores it again), and the scores of shop orders no Salesforce Order
    # names yet (``held = 1``, keyed ``<platform>:<order id>``) until the Order that names
    # them adopts the score. The held rows are few: a partial index finds them.
    db.execute(
        "CREATE TABLE order_risk (order_id TEXT PRIMARY KEY, score INTEGER NOT NULL, "
        "reasons TEXT NOT NULL, held INTEGER NOT NULL, scored_at TEXT NOT NULL, run_id INTEGER)"
    )
    db.execute("CREATE INDEX order_risk_held ON order_risk (scored_at) WHERE held = 1")


def _v20_admin_expiring(db: sqlite_utils.Database) -> None:
    # The loyalty page's points expiring per month (issue 21): what each member's lots still
    # hold, per month of expiry in the program's time zone. Kept by the admin catch-up
    # (``AdminRepository.catch_up_expiring``) from its own position per program, recomputing
    # only the members whose entries were booked since; empty here, so the first read builds
    # it from the whole journal once.
    db.execute(
        "CREATE TABLE loyalty_expiring (program TEXT NOT NULL, member TEXT NOT NULL, "
        "month TEXT NOT NULL, points INTEGER NOT NULL, PRIMARY KEY (program, member, month))"
    )


MIGRATIONS: list[Migration] = [
    _v1,
    _v2,
    _v3_run_process_and_in_flight,
    _v4_loyalty,
    _v5_scoring,
    _v6_deliveries,
    _v7_sync_state,
    _v8_input_triggers,
    _v9_voucher_uses,
    _v10_mirror_retry,
    _v11_events_by_anonymous_id,
    _v12_delivery_content_key,
    _v13_journal_token,
    # the admin page (issue 21): one self-contained block, renumber freely at merge
    _v14_admin_sign_in,
    _v15_journal_indexes_for_reads,
    _v16_admin_summaries,
    _v17_outbox_in_flight,
    _v18_admin_sums_position,
    _v19_order_risk,
    _v20_admin_expiring,
]


#: The ``sync_state`` key of the inputs generation: a counter that moves whenever the compute
#: step's inputs change (the triggers of v8 and the writers that call :func:`bump_generation`).
GENERATION = "inputs_generation"


def bump_generation(db: sqlite_utils.Database) -> None:
    """Move the inputs generation (inside the caller's transaction, if any)."""
    db.conn.execute(
        "INSERT INTO sync_state (key, value) VALUES (?, '1') ON CONFLICT (key) "
        "DO UPDATE SET value = CAST(CAST(sync_state.value AS INTEGER) + 1 AS TEXT)",
        [GENERATION],
    )


#: The session-level advisory lock PostgreSQL's migrations hold (``open_shared``'s file lock).
MIGRATION_LOCK_KEY = 0x4C324C4D  # "L2LM"


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this database has not seen; returns its schema version."""
    if not is_postgres(db):
        return _migrate(db)
    # Several processes starting at once on a fresh database would race to create the same
    # tables (a unique violation in PostgreSQL's catalog): one migrates, the others wait.
    db.conn.execute(advisory("pg_advisory_lock"), [MIGRATION_LOCK_KEY])
    try:
        return _migrate(db)
    finally:
        db.conn.execute(advisory("pg_advisory_unlock"), [MIGRATION_LOCK_KEY])


def _migrate(db: sqlite_utils.Database) -> int:
    db.table("_migrations").create(
        {"version": int, "applied_at": str}, pk="version", if_not_exists=True
    )
    done = {row["version"] for row in db.table("_migrations").rows}
    for version, migration in enumerate(MIGRATIONS, start=1):
        if version in done:
            continue
        with transaction(db.conn):
            migration(db)
            db.table("_migrations").insert({"version": version, "applied_at": now()})
    return len(MIGRATIONS)

"""The ledger survives its host: ``lead2loyalty backup`` / ``restore`` (SQLite's online backup
API), ``doctor``'s warning for a database on a temporary place, and PostgreSQL's own tools.

A backup taken while the web worker writes (deliveries stored, normalised and booked, each in
its own transactions) is one consistent moment: every order in its journal is booked whole,
and the balance is the journal's sum. A sync after a restore books only what the backup held
unbooked, never an order twice. The same on PostgreSQL with the README's pg_dump recipe.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner, Result

from connector.cli import main
from connector.doctor import ephemeral_reason
from connector.store import Store
from connector.sync.realtime import normalise_pending
from connector.webhooks.base import Delivery
from tests.backends import postgres_schema, server_url, sqlite_only
from tests.support import SHOP_LEDGER_ADA, SHOP_LEDGER_EMAIL, ada_journal, book_shop_orders
from tests.webhooks.helpers import SHOP, encode, fixture

ADA = SHOP_LEDGER_ADA
SQLITE_BACKUP = sqlite_only("the online backup of a SQLite file (PostgreSQL: the pg_dump tests)")
PER_ORDER = 129 + 50  # the fixture's 129.60 at 1 point per unit (floor), and the threshold's 50


def _deliver(store: Store, n: int) -> None:
    order = fixture("shopify_orders_create.json")
    order.update(id=7_000_000 + n, name=f"#B{n}")
    store.events.store_delivery(
        Delivery("shopify", f"b{n}", "orders/create", SHOP, {}, encode(order))
    )


def _book(store: Store) -> int:
    """The sync's loyalty step over the store; returns how many entries it booked."""
    return book_shop_orders(store)


def _ledger(store: Store) -> tuple[int, dict[Any, int]]:
    """(Ada's balance, points per booked order) from the journal."""
    mine = ada_journal(store)
    return int(mine["points"].sum()), {
        k: int(v) for k, v in mine.groupby("source_id")["points"].sum().items()
    }


def _cli(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def live(env: Path) -> Iterator[Store]:
    """The CLI's SQLite database (``env``), with Ada's contact pulled."""
    store = Store(env)
    store.records.upsert("Contact", [{"Id": ADA, "Email": SHOP_LEDGER_EMAIL}])
    yield store
    store.close()


@SQLITE_BACKUP
def test_a_backup_taken_while_the_worker_writes_restores_a_whole_ledger(
    live: Store, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = threading.Event()
    delivered: list[int] = []
    failures: list[BaseException] = []

    def worker() -> None:  # the web worker's writes, in its own connection
        store = Store(env)
        try:
            n = 0
            while not stop.is_set() or n < 4:
                _deliver(store, n)
                assert normalise_pending(store) == (1, 0)
                _book(store)
                delivered.append(n)
                n += 1
        except BaseException as exc:
            failures.append(exc)
        finally:
            store.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        while len(delivered) < 2 and thread.is_alive():
            threading.Event().wait(0.01)
        backup = tmp_path / "backups" / "mid-load.sqlite"
        taken = _cli("backup", str(backup))
    finally:
        stop.set()
        thread.join(120)
    assert not failures, failures
    assert taken.exit_code == 0, taken.output
    assert _cli("backup", str(backup)).exit_code == 1  # never overwrites a backup

    restored = tmp_path / "restored.sqlite"
    monkeypatch.setenv("L2L_DATABASE", str(restored))
    result = _cli("restore", str(backup))
    assert result.exit_code == 0, result.output
    store = Store(restored)
    try:
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        balance, per_order = _ledger(store)
        assert set(per_order.values()) <= {PER_ORDER}  # every booked order booked whole
        assert balance == PER_ORDER * len(per_order)  # the balance is the journal's sum
        stored = store.db.execute("SELECT COUNT(*) FROM shop_orders").fetchone()[0]
        assert len(per_order) <= stored <= len(delivered)
        # A sync after the restore books what the backup held unbooked, and nothing twice.
        _book(store)
        balance, per_order = _ledger(store)
        assert set(per_order.values()) == {PER_ORDER}
        assert balance == PER_ORDER * stored
        assert _book(store) == 0
        assert _ledger(store)[0] == balance
    finally:
        store.close()
    # Restoring over a database that holds a ledger takes --replace.
    refused = _cli("restore", str(backup))
    assert refused.exit_code == 1
    assert "--replace" in refused.stderr
    assert _cli("restore", "--replace", str(backup)).exit_code == 0


@SQLITE_BACKUP
def test_a_restore_of_a_quiet_ledger_then_a_sync_changes_no_balance(
    live: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        _deliver(live, n)
    normalise_pending(live)
    assert _book(live) > 0
    before = _ledger(live)
    assert _cli("backup", str(tmp_path / "b.sqlite")).exit_code == 0
    monkeypatch.setenv("L2L_DATABASE", str(tmp_path / "new.sqlite"))
    assert _cli("restore", str(tmp_path / "b.sqlite")).exit_code == 0
    store = Store(tmp_path / "new.sqlite")
    try:
        assert _ledger(store) == before
        assert _book(store) == 0
        assert _ledger(store) == before
    finally:
        store.close()


@SQLITE_BACKUP
def test_restore_refuses_a_file_that_is_not_a_backup(env: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 100)
    result = _cli("restore", str(notes))
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not a lead2loyalty backup" in result.stderr


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_on_postgresql_the_commands_give_the_pg_tools_recipe(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    with postgres_schema() as url:
        monkeypatch.delenv("L2L_DATABASE", raising=False)
        monkeypatch.setenv("DATABASE_URL", url)
        target = tmp_path / "dump.bin"
        target.write_bytes(b"")
        result = _cli(command, str(target))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert ("pg_dump -Fc" if command == "backup" else "pg_restore --clean") in lines[0]


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not on PATH")
def test_the_readmes_pg_dump_recipe_restores_the_ledger(tmp_path: Path) -> None:
    dump = tmp_path / "l2l.dump"
    with postgres_schema() as url:
        schema = url.split("search_path%3D", 1)[1].split("&", 1)[0]
        store = Store(url)
        store.records.upsert("Contact", [{"Id": ADA, "Email": SHOP_LEDGER_EMAIL}])
        for n in range(2):
            _deliver(store, n)
        normalise_pending(store)
        assert _book(store) > 0
        before = _ledger(store)
        store.close()
        # The README's recipe (pg_dump -Fc --no-owner; pg_restore --clean --if-exists
        # --no-owner), limited to the test's schema with -n.
        base = server_url()
        subprocess.run(
            ["pg_dump", "-Fc", "--no-owner", "-n", schema, "-f", str(dump), base], check=True
        )
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")  # the host is gone
        subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", base, str(dump)],
            check=True,
        )
        store = Store(url)
        try:
            assert _ledger(store) == before
            assert _book(store) == 0  # a sync after the restore books nothing twice
            assert _ledger(store) == before
        finally:
            store.close()


@pytest.mark.parametrize(
    ("database", "env", "mounts", "warned"),
    [
        ("/var/lib/l2l/l2l.sqlite", {}, [("/", "ext4")], None),
        ("/tmp/l2l.sqlite", {}, [("/", "ext4")], "/tmp is a temporary folder"),
        ("/var/tmp/x/l2l.sqlite", {}, [], "/var/tmp is a temporary folder"),
        ("/scratch/l2l.sqlite", {"TMPDIR": "/scratch"}, [], "/scratch is a temporary folder"),
        ("/run/l2l/l2l.sqlite", {}, [("/", "ext4"), ("/run", "tmpfs")], "/run is a tmpfs mount"),
        ("/data/l2l.sqlite", {}, [("/", "tmpfs"), ("/data", "ext4")], None),  # a volume
        ("/app/l2l.sqlite", {"DYNO": "web.1"}, [("/", "ext4")], "Heroku dyno (DYNO=web.1)"),
    ],
)
def test_doctor_knows_a_temporary_or_ephemeral_place(
    database: str, env: dict[str, str], mounts: list[tuple[str, str]], warned: str | None
) -> None:
    reason = ephemeral_reason(Path(database), env, mounts)
    if warned is None:
        assert reason is None
    else:
        assert reason is not None
        assert warned in reason

"""Echoes of our own write-back, and the compute step skipped when nothing new came in.

What Salesforce does on every save (``LastModifiedById``, ``SystemModstamp``; "System Fields",
SOAP API Developer Guide) is what localorg does: tests/localorg covers that; here the engine
must neither pay for its echoes nor lose a change an echo hides (connector/sync/echo.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connector.sync import SyncEngine, SyncOptions
from connector.sync.echo import MARGIN
from connector.sync.incremental import Touched
from localorg.org import LocalOrg
from localorg.server import Running
from localorg.store import format_datetime
from tests.support import (
    RFM_PLAIN_FIELDS,
    deployed_engine,
    field_values,
    load_rows,
    localorg_settings,
    rfm_mappings,
    seed,
)

SPAN_MARGIN = MARGIN.total_seconds() + 1.1  # a span ends this long after its push, rounded up
# the default objects, Product2 (the recommendations' catalogue, models/orders.yaml) and what
# people wrote (models/texts.yaml is on by default)
OBJECTS = (
    "Account",
    "Contact",
    "Lead",
    "Order",
    "OrderItem",
    "Product2",
    "EmailMessage",
    "Task",
    "Case",
)


class Clock:
    """The engine's clock: real time plus a shift the test moves."""

    def __init__(self) -> None:
        self.shift = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.shift


def _age_everything(org: LocalOrg) -> None:
    """Stamp every seeded row an hour ago, so no pull window's lookback reaches it again."""
    old = format_datetime(datetime.now(UTC) - timedelta(hours=1))
    with org.store.transaction() as conn:
        for name in OBJECTS:
            conn.execute(f'UPDATE "{name}" SET "SystemModstamp" = ?', (old,))


def _engine(
    org: LocalOrg, server: Running, tmp_path: Path, clock: Clock, **options: Any
) -> SyncEngine:
    mappings = rfm_mappings(tmp_path / "mappings", RFM_PLAIN_FIELDS, objects=("Contact",))
    # No lookback: a span is swept only once no incremental window can reach it, and these
    # tests cannot wait the default five minutes for that.
    settings = localorg_settings(
        org, server, tmp_path, mappings_dir=mappings, pull_lookback_seconds=0
    )
    return deployed_engine(settings, clock=clock, **options)


def _new_order(org: LocalOrg, contact_id: str) -> None:
    """An order for ``contact_id`` stamped now, then a wait until the pull window (whole
    seconds, no lookback here) can hold it."""
    account = org.store.execute('SELECT "Id" FROM "Account"')[0][0]
    row = {
        "AccountId": account,
        "BillToContactId": contact_id,
        "Status": "Activated",
        "EffectiveDate": "2026-02-01",
        "TotalAmount": 30.0,
        "SystemModstamp": format_datetime(datetime.now(UTC)),
    }
    load_rows(org, "Order", [row])
    time.sleep(1.1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_our_own_echo_is_not_read_and_marks_nobody_dirty(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, clock: Clock, sf: Any
) -> None:
    ids = seed(org, 30, [("2026-01-10", 10.0)])
    _age_everything(org)
    engine = _engine(org, localorg_server, tmp_path, clock)
    first = engine.run()
    assert first.writes["succeeded"] == 30
    since = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    echoes = sf.query_all(f"SELECT Id FROM Contact WHERE SystemModstamp >= {since}")
    assert echoes["totalSize"] == 30  # every contact we wrote is in the next window...
    second = engine.run()
    assert {o: c["pulled"] for o, c in second.objects.items()} == dict.fromkeys(OBJECTS, 0)
    assert second.compute == "skipped"  # ...and costs neither a read nor a compute
    assert second.writes["succeeded"] == 0
    assert second.api_calls["total"] == len(OBJECTS)  # one query per object, nothing else
    # An hour later the sweep reads the echoes once: equal but for bookkeeping, so no change.
    time.sleep(SPAN_MARGIN)
    engine.run()  # moves the window past the span's end
    day = clock().date()
    clock.shift = timedelta(minutes=61)
    swept = engine.run()
    assert swept.objects["Contact"]["echoes_swept"] == 30
    assert swept.objects["Contact"]["changed"] == 0
    if clock().date() == day:
        assert swept.compute == "skipped"
    else:  # run between 23:00 and midnight UTC: the new day alone computes everyone
        assert "new UTC day" in swept.scope["why"], swept.scope
    # nor does it name anybody the next compute must recompute (on the medium seed the sweep
    # once named every written Contact and Lead, and the next sync computed the whole org)
    assert Touched.load(engine.store) == Touched()
    assert engine.echoes.spans("Contact") == []
    after = engine.run()
    assert after.objects["Contact"]["pulled"] == 0
    assert "echoes_swept" not in after.objects["Contact"]
    assert set(field_values(org, ids, RFM_PLAIN_FIELDS).values()) == {(1, 10.0, "2026-01-10", 10.0)}


def test_an_admin_change_our_write_hid_is_read_by_the_sweep(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, clock: Clock
) -> None:
    ids = seed(org, 4, [("2026-01-10", 10.0)])
    _age_everything(org)
    admin = org.store.add_user("admin@localorg.test", "Admin")
    target = ids[2]
    edits: list[str] = []

    def between_pull_and_push(message: str) -> None:
        # Once the second run has pulled Contacts and before it writes them, an admin edits
        # the very contact it is about to write: our save then shows only us and our stamp.
        if armed and not edits and message.startswith("pull OrderItem"):
            org.store.update("Contact", target, {"Email": "moved@example.com"}, user_id=admin)
            edits.append(target)

    armed = False
    engine = _engine(org, localorg_server, tmp_path, clock, progress=between_pull_and_push)
    engine.run()
    _new_order(org, target)
    armed = True
    second = engine.run()
    assert edits == [target]
    assert second.writes["succeeded"] == 1  # we wrote the contact after the admin did
    saved = org.store.get("Contact", target, ["Email", "LastModifiedById"])
    assert saved is not None
    assert saved["Email"] == "moved@example.com"
    assert saved["LastModifiedById"] == org.store.integration_user_id

    def stored_email() -> str:
        frame = engine.store.records.frame("Contact", ["Id", "Email"])
        return str(frame.set_index("Id").loc[target, "Email"])

    time.sleep(SPAN_MARGIN)
    hidden = engine.run()  # inside the sweep period the change is not read yet...
    assert hidden.objects["Contact"]["changed"] == 0
    assert stored_email() == "c2@example.com"
    clock.shift = timedelta(minutes=61)
    swept = engine.run()  # ...and the sweep reads it: a real change, so the compute runs
    assert swept.objects["Contact"]["changed"] == 1
    assert swept.compute == "ran"
    assert stored_email() == "moved@example.com"


def test_an_admin_change_outside_our_writes_is_read_at_once(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, clock: Clock
) -> None:
    ids = seed(org, 4, [("2026-01-10", 10.0)])
    _age_everything(org)
    engine = _engine(org, localorg_server, tmp_path, clock)
    engine.run()
    admin = org.store.add_user("admin@localorg.test", "Admin")
    # Inside our push's span, but saved by someone else: not an echo.
    org.store.update("Contact", ids[1], {"Email": "new@example.com"}, user_id=admin)
    # A save by the integration user outside any push (another tool sharing it) is read too.
    time.sleep(SPAN_MARGIN)
    org.store.update("Contact", ids[3], {"Email": "tool@example.com"})
    time.sleep(1.1)  # the pull window ends on the last whole second
    report = engine.run()
    assert report.objects["Contact"]["pulled"] == 2
    assert report.objects["Contact"]["changed"] == 2
    assert report.compute == "ran"


def test_compute_runs_on_new_data_a_new_day_or_new_settings_and_skips_otherwise(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, clock: Clock
) -> None:
    ids = seed(org, 3, [("2026-01-10", 10.0)])
    _age_everything(org)
    engine = _engine(org, localorg_server, tmp_path, clock)
    assert engine.run().compute == "ran"
    assert engine.run().compute == "skipped"
    assert engine.run(SyncOptions(dry_run=True)).compute == "ran"  # a plan always computes
    assert engine.run(SyncOptions(retry_failed=True)).compute == "ran"
    assert engine.run().compute == "skipped"
    # A new record: computed, and its person's values written.
    _new_order(org, ids[0])
    new_order = engine.run()
    assert new_order.compute == "ran"
    assert new_order.writes["succeeded"] == 1
    assert engine.run().compute == "skipped"
    # A new event in the log (a webhook, an import).
    engine.store.events.append(
        [
            {
                "source": "test",
                "delivery_id": "d1",
                "type": "track",
                "name": "Product Viewed",
                "occurred_at": "2026-02-02T10:00:00+00:00",
                "email": "c1@example.com",
                "properties": "{}",
            }
        ]
    )
    assert engine.run().compute == "ran"
    assert engine.run().compute == "skipped"
    # The day turns.
    clock.shift = timedelta(days=1)
    assert engine.run().compute == "ran"
    assert engine.run().compute == "skipped"
    # The mappings change (a new engine reads them, as the next clock tick would).
    settings = engine.settings
    (settings.mappings_dir / "contact.yaml").write_text(
        (settings.mappings_dir / "contact.yaml").read_text(encoding="utf-8") + "\n",
        encoding="utf-8",
    )
    again = deployed_engine(settings, clock=clock)
    assert again.run().compute == "ran"
    assert again.run().compute == "skipped"

"""Real-time passes side by side on PostgreSQL (``RunsRepository.people_lock``): a pass computes
the dirty people no other pass holds and leaves the others' marks for later; two passes at once
split the people between them, and each value is written once. Real store, real localorg, real
engine; PostgreSQL only (the SQLite path is one worker with the run lock, tests/webhooks/
test_realtime.py)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from connector.config import Settings
from connector.store import Store
from connector.store.runs import person_key
from connector.sync import SyncEngine
from connector.sync.realtime import PassReport, RealtimeWorker, normalise_pending
from connector.webhooks import shopify
from localorg.org import LocalOrg
from tests.support import field_values
from tests.webhooks.helpers import SHOPIFY_SECRETS, encode, shopify_headers
from tests.webhooks.test_queue import queued
from tests.webhooks.test_realtime import COUNT, REVENUE, _order_for

__all__ = ["queued"]  # the fixture, imported for its name


def _deliver(engine: SyncEngine, contacts: list[str], number: int) -> None:
    """One stored order of 10.50 for each contact (c<i>@example.com), normalised: marked dirty."""
    for i in range(len(contacts)):
        body = encode(_order_for(f"c{i}@example.com", number + i, f"#{number + i}", "10.50"))
        delivery = shopify.receive(
            shopify_headers(body, "orders/create"), body, SHOPIFY_SECRETS, datetime.now(UTC), 3600
        )
        assert engine.store.events.store_delivery(delivery)
    assert normalise_pending(engine.store) == (len(contacts), 0)


def _written(engine: SyncEngine, contacts: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {c: [] for c in contacts}
    for row in engine.store.outbox.value_log():
        if row["record_id"] in out and row["field"] == COUNT and row["status"] == "written":
            out[row["record_id"]].append(row["new"])
    return out


def test_a_pass_leaves_the_people_another_pass_holds_for_the_next(
    org: LocalOrg, queued: tuple[Settings, SyncEngine, list[str], dict[str, str]]
) -> None:
    settings, engine, contacts, _ = queued
    url = settings.store_location
    assert isinstance(url, str)
    _deliver(engine, contacts, 61_000)
    other = Store(url)  # another worker, computing the first contact
    worker = RealtimeWorker(settings)
    try:
        with other.runs.people_lock([person_key("Contact", contacts[0])]):
            first = worker.recompute_pass()
        assert (first.dirty, first.people, first.left) == (4, 3, 1)
        assert first.run is not None
        assert first.run["status"] == "succeeded"
        values = field_values(org, contacts, [COUNT, REVENUE])
        assert values[contacts[0]] == (1, 100.0)  # not this pass's: its mark stays
        assert all(values[c] == (2, 110.5) for c in contacts[1:])
        assert [e for e, _ in engine.store.events.dirty_people()] == ["c0@example.com"]
        second = worker.recompute_pass()  # released: the next pass does it
        assert (second.dirty, second.people, second.left) == (1, 1, 0)
        assert field_values(org, contacts, [COUNT, REVENUE]) == {c: (2, 110.5) for c in contacts}
    finally:
        other.close()
        worker.close()
    assert _written(engine, contacts) == {c: ["1", "2"] for c in contacts}  # each once


def test_two_passes_at_once_split_the_people_and_write_each_value_once(
    org: LocalOrg, queued: tuple[Settings, SyncEngine, list[str], dict[str, str]]
) -> None:
    settings, engine, contacts, _ = queued
    _deliver(engine, contacts, 62_000)
    workers = [RealtimeWorker(settings), RealtimeWorker(settings)]
    reports: list[PassReport] = []
    start = threading.Barrier(2)

    def run(worker: RealtimeWorker) -> None:
        start.wait(10)
        reports.append(worker.recompute_pass())

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for _ in range(3):  # what a pass left (held by the other) is done by a later one
            if not engine.store.events.dirty_people():
                break
            reports.append(workers[0].recompute_pass())
    finally:
        for w in workers:
            w.close()
    assert sum(r.people for r in reports) == len(contacts)  # every person once, by one pass
    assert all(r.run is None or r.run["status"] == "succeeded" for r in reports)
    assert field_values(org, contacts, [COUNT, REVENUE]) == {c: (2, 110.5) for c in contacts}
    assert _written(engine, contacts) == {c: ["1", "2"] for c in contacts}

"""A push batch's outcome is recorded by record and set-based (``store.outbox``): the values
marked in flight for a written record become the baseline and are logged with their old value;
a value queued again since (a newer one, waiting) is not taken for the one that was sent."""

from __future__ import annotations

from pathlib import Path

from connector.store import Store
from tests.backends import store_location


def test_written_records_settle_their_in_flight_values_only(tmp_path: Path) -> None:
    store = Store(store_location(tmp_path))
    try:
        outbox = store.outbox
        first = store.runs.start("incremental")
        outbox.enqueue(first, [("Contact", "a", "F", 1.0), ("Contact", "a", "G", "x")])
        outbox.mark_in_flight(first, [("Contact", "a")])
        outbox.record_results(first, outbox.in_flight(), [], [])
        assert outbox.written_values() == {
            ("Contact", "a", "F"): "1.0",
            ("Contact", "a", "G"): '"x"',
        }
        run = store.runs.start("incremental")
        outbox.enqueue(
            run,
            [("Contact", "a", "F", 2.0), ("Contact", "b", "F", 3.0), ("Lead", "c", "F", 4.0)],
        )
        sent = outbox.pending()
        outbox.mark_in_flight(run, [("Contact", "a"), ("Contact", "b")])  # not the Lead
        outbox.enqueue(run, [("Contact", "b", "F", 5.0)])  # queued again after the send
        written = [w for w in sent if w.object == "Contact"]
        outbox.record_results(run, written, [], [])
        assert outbox.written_values() == {
            ("Contact", "a", "F"): "2.0",
            ("Contact", "a", "G"): '"x"',
        }
        assert outbox.values() == {
            ("Contact", "b", "F"): ("5.0", "pending"),
            ("Lead", "c", "F"): ("4.0", "pending"),
        }
        log = [(r["record_id"], r["old"], r["new"], r["status"]) for r in outbox.value_log(run)]
        assert log == [("a", "1.0", "2.0", "written")]
    finally:
        store.close()

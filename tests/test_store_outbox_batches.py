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


def test_a_batch_reads_the_values_pending_reads_for_its_records(tmp_path: Path) -> None:
    """A push decides its batches on the record ids (pending_records) and reads a batch's
    values when its turn comes (pending_of): the same writes pending() gives for them."""
    store = Store(store_location(tmp_path))
    try:
        outbox = store.outbox
        run = store.runs.start("full")
        outbox.enqueue(
            run,
            [
                ("Contact", "b", "G", "y"),
                ("Contact", "a", "F", 1.0),
                ("Contact", "b", "F", None),
                ("Lead", "l", "F", 2),
                ("Contact", "c", "F", [1, 2]),
            ],
        )
        outbox.mark_in_flight(run, [("Contact", "c")])  # sent: no longer pending
        assert outbox.pending_records() == {"Contact": ["a", "b"], "Lead": ["l"]}
        assert outbox.pending_records({("Lead", "l"), ("Contact", "c")}) == {"Lead": ["l"]}
        batch = outbox.pending_of("Contact", ["b", "c"])
        assert batch == [
            w for w in outbox.pending() if w.object == "Contact" and w.record_id == "b"
        ]
        assert [(w.field, w.value) for w in batch] == [("F", None), ("G", "y")]
        assert outbox.pending_of("Contact", []) == []
    finally:
        store.close()

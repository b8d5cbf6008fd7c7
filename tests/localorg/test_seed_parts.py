"""The seed generator's parts on their own: columns to batches, time formats, group helpers,
the random streams, the event log's JSON, the truth tables, the BG/NBD simulation and the
calibration. tests/localorg/test_seed.py checks the whole store; this checks each piece."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from localorg.seed.events import EventLog, TrackEvents
from localorg.seed.frame import (
    Same,
    batches,
    dates,
    datetimes,
    event_timestamps,
    group_starts,
    hex_ids,
    within,
)
from localorg.seed.params import BATCH_ROWS, SIZES, SeedSize, calibrate, expected_repeat_purchases
from localorg.seed.people import _simulate
from localorg.seed.run import Counts, stream
from localorg.seed.truth import CustomerTruth, LeadTruth, ReplyTruth, TruthFiles

NOON = datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=UTC).timestamp()


# ---------------------------------------------------------------------- frame
def test_batches_split_at_the_batch_size_and_repeat_same_columns() -> None:
    n = BATCH_ROWS + 3
    out = list(batches("Task", {"Id": [str(i) for i in range(n)], "IsDeleted": Same(0)}, n))
    assert [(obj, len(rows)) for obj, rows in out] == [("Task", BATCH_ROWS), ("Task", 3)]
    assert out[1][1][-1] == {"Id": str(n - 1), "IsDeleted": 0}
    assert list(out[0][1][0]) == ["Id", "IsDeleted"]
    assert list(batches("Task", {"Id": []}, 0)) == []


def test_time_texts() -> None:
    secs = np.array([NOON, 0.0])
    assert datetimes(secs) == ["2026-03-01T12:00:00.000+0000", "1970-01-01T00:00:00.000+0000"]
    assert dates(secs) == ["2026-03-01", "1970-01-01"]
    assert event_timestamps(secs) == ["2026-03-01T12:00:00.250Z", "1970-01-01T00:00:00.000Z"]
    # a moment just before a whole second stays in the second it is in
    assert datetimes(np.array([math.floor(NOON) - 0.001])) == ["2026-03-01T11:59:59.000+0000"]


@given(st.lists(st.integers(min_value=0, max_value=5), max_size=30))
def test_group_positions(counts: list[int]) -> None:
    arr = np.array(counts, dtype="int64")
    starts = group_starts(arr) if counts else np.array([], dtype="int64")
    pos = within(arr) if counts else np.array([], dtype="int64")
    expected_pos = [j for c in counts for j in range(c)]
    assert pos.tolist() == expected_pos
    assert starts.tolist() == [sum(counts[:i]) for i in range(len(counts))]


def test_hex_ids_are_32_hex_digits_and_follow_the_stream() -> None:
    ids = hex_ids(np.random.default_rng(1), 50)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == 50
    assert hex_ids(np.random.default_rng(1), 50) == ids


def test_each_part_and_chunk_has_its_own_stream() -> None:
    first = stream(7, "customers", 0).random(3).tolist()
    assert stream(7, "customers", 0).random(3).tolist() == first
    for other in (stream(7, "customers", 1), stream(7, "leads", 0), stream(8, "customers", 0)):
        assert other.random(3).tolist() != first


# ---------------------------------------------------------------------- events
def _log() -> tuple[EventLog, io.StringIO, Counts]:
    out, counts = io.StringIO(), Counts()
    return EventLog(out, 3, counts), out, counts


def test_the_event_log_numbers_messages_across_writes_and_counts_them() -> None:
    log, out, counts = _log()
    ev = TrackEvents()
    ev.add(
        np.array([NOON]),
        ["Email Clicked"],
        anon=["a1"],
        user=[None],
        email=["x@example.com"],
        props=[{"channel": "email", "campaign_id": "cmp-email-1"}],
    )
    ev.add(
        np.array([NOON + 1]),
        ["Product Viewed"],
        anon=["a2"],
        user=["cust_0000001"],
        email=[None],
        props=[{"channel": "web", "product_id": "SKU-1", "price": 25.4}],
    )
    log.write_tracks(ev)
    log.write_identifies(np.array([NOON]), ["a1"], [None], ["x@example.com"])
    log.write_tracks(TrackEvents())  # nothing collected: nothing written
    lines = out.getvalue().splitlines()
    assert [json.loads(line)["messageId"] for line in lines] == [
        "seed3-0000000000",
        "seed3-0000000001",
        "seed3-0000000002",
    ]
    assert lines[0] == (
        '{"type":"track","messageId":"seed3-0000000000","timestamp":"2026-03-01T12:00:00.250Z",'
        '"userId":null,"anonymousId":"a1","event":"Email Clicked",'
        '"properties":{"channel":"email","campaign_id":"cmp-email-1"},'
        '"context":{"traits":{"email":"x@example.com"}}}'
    )
    second = json.loads(lines[1])
    assert second["context"] == {}
    assert second["userId"] == "cust_0000001"
    assert second["properties"]["price"] == 25.4
    assert json.loads(lines[2]) == {
        "type": "identify",
        "messageId": "seed3-0000000002",
        "timestamp": "2026-03-01T12:00:00.250Z",
        "userId": None,
        "anonymousId": "a1",
        "traits": {"email": "x@example.com"},
    }
    assert dict(counts) == {"events": 2, "identifies": 1}


def test_event_text_is_escaped_as_json() -> None:
    # The f-strings this replaced would have written a broken line for these values.
    log, out, _ = _log()
    odd = 'o"brien\\x@example.com'
    log.write_identifies(np.array([NOON]), ["a\n1"], ["ü-1"], [odd])
    [line] = out.getvalue().splitlines()
    event = json.loads(line)
    assert (event["anonymousId"], event["userId"], event["traits"]["email"]) == ("a\n1", "ü-1", odd)


# ---------------------------------------------------------------------- truth
def test_truth_headers_are_the_files_columns() -> None:
    assert CustomerTruth.header()[:4] == ["contact_id", "email", "lambda", "p"]
    assert len(CustomerTruth.header()) == 21
    assert LeadTruth.header() == [
        "lead_id",
        "email",
        "propensity",
        "converted",
        "converts_in_holdout",
        "conversion_time",
        "conversion_date",
        "contact_id",
    ]
    assert ReplyTruth.header() == ["message_id", "contact_id", "tone"]


def test_truth_files_have_headers_and_append_chunks(tmp_path: Path) -> None:
    with TruthFiles(tmp_path / "truth") as truth:
        truth.write(ReplyTruth(message_id=["m1"], contact_id=["c1"], tone=["negative"]))
        truth.write(ReplyTruth(message_id=["m2", "m3"], contact_id=["c2", "c3"], tone=["a", "b"]))
    with (tmp_path / "truth" / "replies.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["message_id"] for r in rows] == ["m1", "m2", "m3"]
    assert (tmp_path / "truth" / "leads.csv").read_bytes() == (
        b"lead_id,email,propensity,converted,converts_in_holdout,conversion_time,"
        b"conversion_date,contact_id\r\n"
    )


def test_a_truth_table_refuses_columns_of_different_lengths() -> None:
    table = ReplyTruth(message_id=["m1", "m2"], contact_id=["c1"], tone=["x", "y"])
    with pytest.raises(ValueError, match="shorter"):
        list(table.rows())


# ---------------------------------------------------------------------- BG/NBD
def test_simulated_purchases_are_ordered_inside_each_life() -> None:
    rng = np.random.default_rng(5)
    n = 400
    lam = rng.gamma(0.8, 1 / 10, n)
    p = rng.beta(0.85, 4.5, n)
    birth = rng.uniform(0, 500 * 86_400.0, n)
    end = 700 * 86_400.0
    owner, times, count, dropped = _simulate(rng, lam, p, birth, end)
    assert owner.size == times.size == int(count.sum())
    assert np.all(times >= birth[owner])
    assert np.all(times <= end)
    for i in range(n):
        mine = times[owner == i]
        assert np.all(np.diff(mine) >= 0)
    assert dropped.dtype == bool


def test_calibration_meets_the_size_order_count() -> None:
    spec = SeedSize("t", leads=10, contacts=1_000, orders=6_000)
    pop = calibrate(spec)
    grid = (np.arange(400) + 0.5) / 400 * 1_000.0
    mean = expected_repeat_purchases(grid, pop.r, pop.alpha, pop.a, pop.b).mean()
    assert 1 + mean == pytest.approx(6_000 / 1_000 / 1.03, rel=1e-6)
    assert calibrate(SIZES["small"]).alpha != pop.alpha


def test_expected_repeat_purchases_start_at_zero_and_grow() -> None:
    t = np.array([0.0, 10.0, 100.0, 1000.0])
    values = expected_repeat_purchases(t, 0.8, 40.0, 0.85, 4.5)
    assert values[0] == 0.0
    assert np.all(np.diff(values) > 0)
    assert not math.isnan(float(values[-1]))

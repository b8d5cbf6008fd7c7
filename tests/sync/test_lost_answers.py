"""Writes whose answer was lost after Salesforce applied them: saved once, never resent blindly.

localorg's ``fail_nth=<kind>:<n>:after`` carries a call out and answers 503 in its place, as when
a connection drops on the way back; ``fail_nth=<kind>:<n>`` refuses the call before it does
anything, which the client cannot tell apart from the first. localorg's save log counts every
save of a record (tests/localorg/test_save_log.py): a write resent blindly saves it twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from connector.salesforce.client import _never_sent
from connector.sync import SyncEngine
from localorg.org import LocalOrg
from localorg.server import Running
from tests.support import (
    RFM_PLAIN_FIELDS,
    deployed_engine,
    field_values,
    localorg_settings,
    rfm_mappings,
    seed,
)

FIELDS = RFM_PLAIN_FIELDS
WANTED = (2, 30.0, "2026-02-11", 15.0)


def _engine(org: LocalOrg, server: Running, tmp_path: Path, **extra: Any) -> SyncEngine:
    mappings = rfm_mappings(tmp_path / "mappings", FIELDS, objects=("Contact",))
    return deployed_engine(localorg_settings(org, server, tmp_path, mappings_dir=mappings, **extra))


def _ingest_jobs(org: LocalOrg) -> int:
    from localorg.bulk import IngestJob, jobs_of

    return sum(isinstance(j, IngestJob) for j in jobs_of(org).all())


@pytest.mark.parametrize("when", ["after", "before"])
def test_lost_collection_answer_saves_each_record_once(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, when: str
) -> None:
    """A 503 to the collection update: applied (``after``) or not (``before``), the client
    cannot tell, so it resends nothing; the next run reads the records back and sends only
    what the org does not hold."""
    engine = _engine(org, localorg_server, tmp_path)
    ids = seed(org, 5, [("2026-01-10", 10.0), ("2026-02-11", 20.0)])
    org.faults.configure("fail_nth=composite:1" + (":after" if when == "after" else ""))
    first = engine.run()
    org.faults.configure("")
    assert org.wait_idle()
    assert first.status == "partial", first.errors  # never succeeded while unverified
    assert any("sent without an answer (SERVER_UNAVAILABLE)" in e for e in first.errors)
    assert org.calls_by_kind.get("composite") == 1  # not retried by the client
    assert engine.store.outbox.counts() == {"in_flight": 5 * len(FIELDS)}
    saved = dict.fromkeys(ids, 1) if when == "after" else {}
    assert org.store.saves("Contact") == saved

    queries = org.calls_by_kind.get("query", 0)
    second = engine.run()
    assert second.status == "succeeded", second.errors
    assert org.calls_by_kind.get("query", 0) == queries + 1  # one read-back of 5 records
    assert second.writes.verified == (5 if when == "after" else 0)
    assert second.writes.succeeded == (0 if when == "after" else 5)
    assert org.store.saves("Contact") == dict.fromkeys(ids, 1)  # each record saved once
    assert all(v == WANTED for v in field_values(org, ids, FIELDS).values())
    assert engine.store.outbox.counts() == {}


@pytest.mark.parametrize(
    ("nth", "step"),
    [(1, "create"), (3, "close"), (4, "first poll")],
)
def test_lost_bulk_job_answer_finds_the_job_not_a_second(
    org: LocalOrg, localorg_server: Running, tmp_path: Path, nth: int, step: str
) -> None:
    """Bulk API 2.0 calls in order: create (1), upload (2), close (3), poll (4...). A lost
    answer to the create finds the Open job in Get All Jobs; to the close reads the job's
    state; to a poll polls again. One job, each record saved once, in the same run."""
    engine = _engine(org, localorg_server, tmp_path, push_bulk_threshold=2)
    ids = seed(org, 4, [("2026-01-10", 10.0), ("2026-02-11", 20.0)])
    org.faults.configure(f"fail_nth=jobs:{nth}:after")
    report = engine.run()
    org.faults.configure("")
    assert org.wait_idle()
    assert report.status == "succeeded", (step, report.errors)
    assert _ingest_jobs(org) == 1, step
    assert org.store.saves("Contact") == dict.fromkeys(ids, 1), step
    assert all(v == WANTED for v in field_values(org, ids, FIELDS).values())


def test_lost_bulk_upload_answer_aborts_the_job_and_sends_once_later(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """The upload is never repeated into the same job (its rows would be saved twice): the
    job, still Open and so never processed, is aborted and the rows carried to the next run."""
    from localorg.bulk import jobs_of

    engine = _engine(org, localorg_server, tmp_path, push_bulk_threshold=2)
    ids = seed(org, 4, [("2026-01-10", 10.0)])
    org.faults.configure("fail_nth=jobs:2:after")
    first = engine.run()
    org.faults.configure("")
    assert first.status == "partial", first.errors
    assert [j.state for j in jobs_of(org).all()] == ["Aborted"]
    assert org.store.saves("Contact") == {}
    second = engine.run()
    assert org.wait_idle()
    assert second.status == "succeeded", second.errors
    assert org.store.saves("Contact") == dict.fromkeys(ids, 1)


def test_lost_bulk_results_leave_the_rows_in_flight_and_read_them_back(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    """Every poll of a closed job failing: the job saves its rows whatever we hear, so they
    stay in flight and the next run reads them back rather than sending them again."""
    engine = _engine(org, localorg_server, tmp_path, push_bulk_threshold=2, max_retries=0)
    ids = seed(org, 4, [("2026-01-10", 10.0)])
    org.faults.configure("fail_nth=jobs:4")  # the first poll refused, and no retry allowed
    first = engine.run()
    org.faults.configure("")
    assert org.wait_idle()
    assert first.status == "partial", first.errors
    assert engine.store.outbox.counts() == {"in_flight": 4 * len(FIELDS)}
    second = engine.run()
    assert second.status == "succeeded", second.errors
    assert second.writes.verified == 4
    assert _ingest_jobs(org) == 1
    assert org.store.saves("Contact") == dict.fromkeys(ids, 1)


def test_only_a_request_that_never_left_counts_as_unsent() -> None:
    refused = requests.ConnectionError(
        MaxRetryError(None, "/", NewConnectionError(None, "refused"))  # type: ignore[arg-type]
    )
    reset = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError()))
    assert _never_sent(refused)
    assert _never_sent(requests.ConnectTimeout())
    assert not _never_sent(reset)
    assert not _never_sent(requests.ReadTimeout())

"""Bulk API 2.0 error paths: refused jobs, job states Salesforce refuses, CSV the job cannot
read, and rows that fail alone — each answered in Salesforce's shape and code.

Sources (Bulk API 2.0 and Bulk API Developer Guide):
- "Errors" (codes InvalidJob, InvalidJobState, InvalidBatch, ClientInputError) —
  https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/bulk_api_2_0_errors.htm
- "Job States" — https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_bulk_v2/bulk_api_2_job_states.htm
- "Upload Job Data" (PUT text/csv to an Open job, 150 MB) —
  https://developer.salesforce.com/docs/platform/api-asynch/guide/upload-job-data.md
- "Upload Complete" (PATCH state UploadComplete: no more data can be added) —
  https://developer.salesforce.com/docs/atlas.en-us.api_asynch.meta/api_asynch/close_job.htm
- "Delete a Job" (only in UploadComplete, JobComplete, Aborted or Failed) —
  https://developer.salesforce.com/docs/atlas.en-us.252.0.api_asynch.meta/api_asynch/delete_job.htm
- "Prepare CSV Files" (one header row, line ending as declared, UTF-8) and "Relationship Fields
  in a Header Row" — same guide.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
from simple_salesforce import Salesforce

from localorg.org import LocalOrg
from localorg.schema import FieldInfo
from tests.localorg.errorshape import Api, error_of

INGEST = "jobs/ingest"
QUERY = "jobs/query"


def _open(api: Api, **body: Any) -> str:
    """A new Open ingest job's id."""
    response = api.call("POST", INGEST, json={"object": "Contact", "operation": "insert", **body})
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["state"] == "Open"
    return str(info["id"])


def _upload(api: Api, job: str, data: bytes) -> None:
    response = api.call("PUT", f"{INGEST}/{job}/batches", data=data, content_type="text/csv")
    assert response.status_code == 201, response.text


def _close(api: Api, job: str) -> dict[str, Any]:
    response = api.call("PATCH", f"{INGEST}/{job}", json={"state": "UploadComplete"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def _finish(api: Api, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120  # generous: a loaded machine is slow, never wrong
    while time.monotonic() < deadline:
        info: dict[str, Any] = api.call("GET", path).json()
        if info["state"] in ("JobComplete", "Failed", "Aborted"):
            return info
        time.sleep(0.02)
    raise AssertionError(f"{path} did not finish")


def _run(api: Api, data: bytes, **body: Any) -> tuple[str, dict[str, Any]]:
    job = _open(api, **body)
    _upload(api, job, data)
    _close(api, job)
    return job, _finish(api, f"{INGEST}/{job}")


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _failed(api: Api, job: str) -> list[dict[str, str]]:
    response = api.call("GET", f"{INGEST}/{job}/failedResults")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    return _csv(response.text)


# ---------------------------------------------------------------------- creating jobs
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"object": "Contact", "operation": "insert", "contentType": "JSON"}, "INVALIDJOB"),
        ({"object": "Contact", "operation": "insert", "columnDelimiter": "COLON"}, "INVALIDJOB"),
        ({"object": "Contact"}, "INVALIDJOB"),
        ({"operation": "insert"}, "INVALIDENTITY"),
        ({"object": "Contact", "operation": "upsert"}, "INVALIDJOB"),
        ({"object": "Contact", "operation": "upsert", "externalIdFieldName": "Nope"}, "INVALIDJOB"),
    ],
)
def test_an_ingest_job_salesforce_would_not_create_is_refused(
    api: Api, body: dict[str, str], code: str
) -> None:
    error_of(api.call("POST", INGEST, json=body), 400, code)
    assert api.call("GET", INGEST).json()["records"] == []


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]", b""])
def test_a_job_body_that_is_not_a_json_object_is_a_parser_error(api: Api, data: bytes) -> None:
    for path in (INGEST, QUERY):
        error_of(
            api.call("POST", path, data=data, content_type="application/json"),
            400,
            "JSON_PARSER_ERROR",
        )


def test_upsert_on_an_external_id_the_user_cannot_see_is_refused(api: Api, org: LocalOrg) -> None:
    # A custom field without a permission set is invisible to the API user.
    org.store.add_custom_field(
        "Contact",
        FieldInfo(
            "Hidden_Key__c",
            "string",
            length=20,
            custom=True,
            external_id=True,
            protected=True,
        ),
    )
    body = {"object": "Contact", "operation": "upsert", "externalIdFieldName": "Hidden_Key__c"}
    error = error_of(api.call("POST", INGEST, json=body), 400, "INVALIDJOB")
    assert "Hidden_Key__c" in error["message"]


# ---------------------------------------------------------------------- job states
def test_unknown_jobs_are_not_found_on_every_resource(api: Api) -> None:
    unknown = "7505g00000000zzAAA"
    for method, path in (
        ("GET", f"{INGEST}/{unknown}"),
        ("PATCH", f"{INGEST}/{unknown}"),
        ("DELETE", f"{INGEST}/{unknown}"),
        ("PUT", f"{INGEST}/{unknown}/batches"),
        ("GET", f"{INGEST}/{unknown}/successfulResults"),
        ("GET", f"{QUERY}/{unknown}"),
        ("DELETE", f"{QUERY}/{unknown}"),
        ("GET", f"{QUERY}/{unknown}/results"),
    ):
        error_of(api.call(method, path, json={"state": "Aborted"}), 404, "NOT_FOUND")


def test_an_ingest_job_is_not_a_query_job(api: Api) -> None:
    job = _open(api)
    error_of(api.call("GET", f"{QUERY}/{job}"), 404, "NOT_FOUND")
    assert api.call("GET", f"{INGEST}/{job[:15]}").json()["id"] == job  # 15 characters work


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None])
def test_job_data_is_uploaded_as_text_csv(api: Api, content_type: str | None) -> None:
    job = _open(api)
    response = api.call(
        "PUT", f"{INGEST}/{job}/batches", data=b"LastName\nA\n", content_type=content_type
    )
    error_of(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    _upload(api, job, b"LastName\nB\n")  # text/csv is taken
    _close(api, job)
    assert _finish(api, f"{INGEST}/{job}")["numberRecordsProcessed"] == 1


def test_a_closed_job_takes_no_more_data_and_cannot_be_closed_again(api: Api) -> None:
    job = _open(api)
    _upload(api, job, b"LastName\nA\n")
    _close(api, job)
    error_of(
        api.call("PUT", f"{INGEST}/{job}/batches", data=b"LastName\nB\n", content_type="text/csv"),
        400,
        "INVALIDJOBSTATE",
    )
    error_of(
        api.call("PATCH", f"{INGEST}/{job}", json={"state": "UploadComplete"}),
        400,
        "INVALIDJOBSTATE",
    )
    done = _finish(api, f"{INGEST}/{job}")
    assert (done["state"], done["numberRecordsProcessed"]) == ("JobComplete", 1)


@pytest.mark.parametrize("state", ["JobComplete", "InProgress", "Open", "Failed", None, "aborted"])
def test_a_client_can_only_close_or_abort_a_job(api: Api, state: str | None) -> None:
    job = _open(api)
    error_of(api.call("PATCH", f"{INGEST}/{job}", json={"state": state}), 400, "INVALIDJOBSTATE")
    assert api.call("GET", f"{INGEST}/{job}").json()["state"] == "Open"


def test_a_finished_job_can_no_longer_be_aborted(api: Api) -> None:
    job, done = _run(api, b"LastName\nA\n")
    assert done["state"] == "JobComplete"
    error_of(
        api.call("PATCH", f"{INGEST}/{job}", json={"state": "Aborted"}), 400, "INVALIDJOBSTATE"
    )
    assert api.call("GET", f"{INGEST}/{job}").json()["state"] == "JobComplete"


def test_an_aborted_job_cannot_be_closed_and_processes_nothing(api: Api, org: LocalOrg) -> None:
    job = _open(api)
    _upload(api, job, b"LastName\nA\n")
    assert (
        api.call("PATCH", f"{INGEST}/{job}", json={"state": "Aborted"}).json()["state"] == "Aborted"
    )
    error_of(
        api.call("PATCH", f"{INGEST}/{job}", json={"state": "UploadComplete"}),
        400,
        "INVALIDJOBSTATE",
    )
    error_of(
        api.call("PATCH", f"{INGEST}/{job}", json={"state": "Aborted"}), 400, "INVALIDJOBSTATE"
    )
    assert org.store.count("Contact") == 0


def test_an_open_job_cannot_be_deleted(api: Api) -> None:
    # "To be deleted, a job must have a state of UploadComplete, JobComplete, Aborted, or Failed."
    job = _open(api)
    error_of(api.call("DELETE", f"{INGEST}/{job}"), 400, "INVALIDJOBSTATE")
    assert api.call("GET", f"{INGEST}/{job}").status_code == 200


@pytest.mark.parametrize("outcome", ["JobComplete", "Failed", "Aborted"])
def test_a_job_that_ended_can_be_deleted_once(api: Api, outcome: str) -> None:
    data = {"JobComplete": b"LastName\nA\n", "Failed": b"Nope\nA\n", "Aborted": b"LastName\nA\n"}
    job = _open(api)
    _upload(api, job, data[outcome])
    if outcome == "Aborted":
        api.call("PATCH", f"{INGEST}/{job}", json={"state": "Aborted"})
    else:
        _close(api, job)
    assert _finish(api, f"{INGEST}/{job}")["state"] == outcome
    assert api.call("DELETE", f"{INGEST}/{job}").status_code == 204
    error_of(api.call("GET", f"{INGEST}/{job}"), 404, "NOT_FOUND")
    error_of(api.call("DELETE", f"{INGEST}/{job}"), 404, "NOT_FOUND")


def test_results_wait_for_the_job_and_name_a_known_kind(api: Api) -> None:
    job = _open(api)
    for kind in ("successfulResults", "failedResults"):
        error_of(api.call("GET", f"{INGEST}/{job}/{kind}"), 400, "INVALIDJOBSTATE")
    # unprocessed records are there to read at any time (empty while nothing failed)
    assert api.call("GET", f"{INGEST}/{job}/unprocessedrecords").status_code == 200
    error_of(api.call("GET", f"{INGEST}/{job}/allResults"), 404, "NOT_FOUND")


# ---------------------------------------------------------------------- CSV the job cannot read
# Unprocessed records give back what was sent: as uploaded when the data could not be read as
# CSV, as CSV rows when it was read but a column cannot be loaded.
@pytest.mark.parametrize(
    ("data", "body", "message", "unprocessed"),
    [
        (
            "LastName\nMüller\n".encode("latin-1"),
            {},
            "ClientInputError : the CSV data is not UTF-8",
            None,
        ),
        (
            b"LastName\r\nA\r\n",
            {},
            "LineEnding is invalid on user data. Current LineEnding setting is LF",
            None,
        ),
        (b"LastName\nA\n", {"lineEnding": "CRLF"}, "Current LineEnding setting is CRLF", None),
        (
            b"LastName,Title\nA,B,C\n",
            {},
            "InvalidBatch : row 2 has 3 cells but the header has 2",
            None,
        ),
        (
            b"LastName,lastname\nA,B\n",
            {},
            "InvalidBatch : Duplicate field name : LastName",
            b'"LastName","lastname"\n"A","B"\n',
        ),
        (
            b"LastName,Shoe_Size__c\nA,9\n",
            {},
            "InvalidBatch : Field name not found : Shoe_Size__c",
            b'"LastName","Shoe_Size__c"\n"A","9"\n',
        ),
    ],
)
def test_a_file_the_job_cannot_read_fails_the_job_and_loses_nothing(
    api: Api,
    org: LocalOrg,
    data: bytes,
    body: dict[str, str],
    message: str,
    unprocessed: bytes | None,
) -> None:
    job, done = _run(api, data, **body)
    assert done["state"] == "Failed", done
    assert message in done["errorMessage"]
    assert done["numberRecordsProcessed"] == 0
    assert org.store.count("Contact") == 0
    back = api.call("GET", f"{INGEST}/{job}/unprocessedrecords")
    assert back.status_code == 200
    assert back.content == (data if unprocessed is None else unprocessed)


@pytest.mark.parametrize(("operation", "header"), [("update", "LastName"), ("delete", "LastName")])
def test_an_update_or_delete_without_an_id_column_fails_the_job(
    api: Api, operation: str, header: str
) -> None:
    _job, done = _run(api, f"{header}\nA\n".encode(), operation=operation)
    assert done["state"] == "Failed"
    assert f"the {operation} operation needs a 'Id' column" in done["errorMessage"]


def test_every_upload_of_a_job_needs_the_same_header(api: Api, org: LocalOrg) -> None:
    job = _open(api)
    _upload(api, job, b"LastName\nA\n")
    _upload(api, job, b"LastName,Title\nB,C\n")
    _close(api, job)
    done = _finish(api, f"{INGEST}/{job}")
    assert done["state"] == "Failed"
    assert "upload 2 has another header than the first" in done["errorMessage"]
    assert org.store.count("Contact") == 0
    # nothing was processed, so everything uploaded can be read back to resubmit it
    unprocessed = api.call("GET", f"{INGEST}/{job}/unprocessedrecords")
    assert unprocessed.content == b"LastName\nA\nLastName,Title\nB,C\n"


def test_a_delimiter_and_crlf_as_declared_are_read(api: Api, org: LocalOrg) -> None:
    _job, done = _run(
        api, b"LastName;Title\r\nA;B\r\n", columnDelimiter="SEMICOLON", lineEnding="CRLF"
    )
    assert (done["state"], done["numberRecordsProcessed"], done["numberRecordsFailed"]) == (
        "JobComplete",
        1,
        0,
    )
    [row] = org.store.execute('SELECT "LastName", "Title" FROM "Contact"')
    assert row == ("A", "B")


def test_an_empty_upload_completes_with_nothing_processed(api: Api) -> None:
    _job, done = _run(api, b"")
    assert (done["state"], done["numberRecordsProcessed"]) == ("JobComplete", 0)


# ---------------------------------------------------------------------- rows that fail alone
def test_rows_without_a_usable_id_fail_alone(api: Api, sf: Salesforce) -> None:
    kept = sf.Contact.create({"LastName": "Kept"})["id"]
    data = f"Id,Title\n,No id\nnot-an-id,Bad\n{kept},Boss\n{kept},Again\n".encode()
    job, done = _run(api, data, operation="update")
    assert (done["numberRecordsProcessed"], done["numberRecordsFailed"]) == (4, 3)
    failed = {row["Title"]: row for row in _failed(api, job)}
    assert failed["No id"]["sf__Error"].startswith("MISSING_ARGUMENT:Id not specified")
    assert failed["Bad"]["sf__Error"].startswith("MALFORMED_ID:")
    assert failed["Bad"]["sf__Id"] == "not-an-id"
    assert failed["Again"]["sf__Error"].startswith(
        f"DUPLICATE_VALUE:Duplicate id specified: {kept}"
    )
    assert sf.Contact.get(kept)["Title"] == "Boss"


def test_deleting_unknown_deleted_and_repeated_ids_fails_per_row(api: Api, sf: Salesforce) -> None:
    live = sf.Contact.create({"LastName": "Live"})["id"]
    gone = sf.Contact.create({"LastName": "Gone"})["id"]
    sf.Contact.delete(gone)
    unknown = "0035g00000000zzAAA"
    data = f"Id\n{live}\n{gone}\n{unknown}\n{live}\n".encode()
    job, done = _run(api, data, operation="delete")
    assert (done["numberRecordsProcessed"], done["numberRecordsFailed"]) == (4, 3)
    errors = [(row["sf__Id"], row["sf__Error"].split(":")[0]) for row in _failed(api, job)]
    assert errors == [
        (gone, "ENTITY_IS_DELETED"),
        (unknown, "INVALID_CROSS_REFERENCE_KEY"),
        (live, "INVALID_CROSS_REFERENCE_KEY"),
    ]


def test_upsert_rows_without_a_key_or_with_two_matches_fail_alone(
    api: Api, sf: Salesforce, org: LocalOrg
) -> None:
    org.store.add_custom_field(
        "Contact", FieldInfo("Shop_Key__c", "string", length=20, custom=True, external_id=True)
    )
    sf.Contact.create({"LastName": "One", "Shop_Key__c": "twin"})
    sf.Contact.create({"LastName": "Two", "Shop_Key__c": "twin"})
    data = b"Shop_Key__c,LastName\n,Keyless\ntwin,Twin\nnew,New\n"
    job, done = _run(api, data, operation="upsert", externalIdFieldName="Shop_Key__c")
    assert (done["numberRecordsProcessed"], done["numberRecordsFailed"]) == (3, 2)
    failed = {row["LastName"]: row["sf__Error"] for row in _failed(api, job)}
    assert failed["Keyless"].startswith("MISSING_ARGUMENT:Shop_Key__c not specified")
    assert failed["Twin"].startswith("DUPLICATE_EXTERNAL_ID:")
    assert org.store.count("Contact") == 3


def test_a_bad_cell_fails_its_row_with_the_field_named(api: Api) -> None:
    data = (
        b"LastName,Email,HasOptedOutOfEmail\nA,not-an-email,false\nB,b@example.com,maybe\nC,,true\n"
    )
    job, done = _run(api, data)
    assert (done["numberRecordsProcessed"], done["numberRecordsFailed"]) == (3, 2)
    failed = {row["LastName"]: row["sf__Error"] for row in _failed(api, job)}
    assert failed["A"].startswith("INVALID_EMAIL_ADDRESS:")
    assert failed["A"].endswith(":Email --")
    assert failed["B"].startswith("JSON_PARSER_ERROR:")


# ---------------------------------------------------------------------- query jobs
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"operation": "insert", "query": "SELECT Id FROM Contact"}, "INVALIDJOB"),
        ({"operation": "query", "query": "  "}, "MALFORMED_QUERY"),
        (
            {"operation": "query", "query": "SELECT Id FROM Contact", "lineEnding": "CR"},
            "INVALIDJOB",
        ),
        ({"operation": "query", "query": "SELECT Id FROM Spaceship__c"}, "INVALID_TYPE"),
        ({"operation": "query", "query": "SELECT COUNT() FROM Contact"}, "API_ERROR"),
    ],
)
def test_a_query_job_salesforce_would_not_run_is_refused(
    api: Api, body: dict[str, str], code: str
) -> None:
    error_of(api.call("POST", QUERY, json=body), 400, code)
    assert api.call("GET", QUERY).json()["records"] == []


def test_query_results_refuse_bad_paging_and_finished_jobs_refuse_abort(
    api: Api, sf: Salesforce
) -> None:
    sf.Contact.create({"LastName": "A"})
    info = api.call("POST", QUERY, json={"operation": "query", "query": "SELECT Id FROM Contact"})
    job = info.json()["id"]
    assert _finish(api, f"{QUERY}/{job}")["state"] == "JobComplete"
    for page in ("0", "-5", "ten"):
        error_of(
            api.call("GET", f"{QUERY}/{job}/results", params={"maxRecords": page}),
            400,
            "INVALIDJOB",
        )
    error_of(
        api.call("GET", f"{QUERY}/{job}/results", params={"locator": "!!"}), 400, "INVALID_LOCATOR"
    )
    error_of(api.call("PATCH", f"{QUERY}/{job}", json={"state": "Aborted"}), 400, "INVALIDJOBSTATE")
    error_of(
        api.call("PATCH", f"{QUERY}/{job}", json={"state": "UploadComplete"}),
        400,
        "INVALIDJOBSTATE",
    )
    assert api.call("DELETE", f"{QUERY}/{job}").status_code == 204
    error_of(api.call("GET", f"{QUERY}/{job}"), 404, "NOT_FOUND")

"""Contract tests: localorg's responses against Salesforce's documented response shapes.

Each fixture in tests/fixtures/salesforce/ keeps the keys and JSON value types of a body
Salesforce documents (sources in that folder's README). A localorg response must carry every
documented key with a value of the documented type; extra keys are allowed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce

from localorg.org import LocalOrg
from tests.conftest import REPO, get_token

FIXTURES = REPO / "tests" / "fixtures" / "salesforce"
DATA = "/services/data/v59.0"


def documented(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


def assert_shape(actual: Any, expected: Any, path: str = "$") -> None:
    """`actual` has every key of `expected`, recursively, with the same JSON type.

    Extra keys are allowed; a list's elements each match the documented first element;
    a documented null matches anything.
    """
    if expected is None:
        return
    kind = _json_type(expected)
    assert _json_type(actual) == kind, f"{path}: expected {kind}, got {actual!r}"
    if isinstance(expected, dict):
        missing = sorted(set(expected) - set(actual))
        assert not missing, f"{path}: missing documented keys {missing}"
        for key, value in expected.items():
            assert_shape(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list) and expected:
        for index, item in enumerate(actual):
            assert_shape(item, expected[0], f"{path}[{index}]")


def _bearer(http: requests.Session, org: LocalOrg) -> dict[str, str]:
    return {"Authorization": f"Bearer {get_token(http, org)['access_token']}"}


def _contacts(n: int) -> list[dict[str, Any]]:
    return [{"attributes": {"type": "Contact"}, "LastName": f"C{i}"} for i in range(n)]


# ------------------------------------------------------------------ the helper itself
def test_assert_shape_rejects_missing_keys_and_wrong_types() -> None:
    assert_shape({"a": 1, "b": [{"c": "x"}], "extra": True}, {"a": 2.5, "b": [{"c": "y"}]})
    assert_shape({"a": "anything"}, {"a": None})
    with pytest.raises(AssertionError, match="missing documented keys"):
        assert_shape({"a": 1}, {"a": 1, "b": 2})
    with pytest.raises(AssertionError, match=r"\$\.a: expected number"):
        assert_shape({"a": "1"}, {"a": 1})
    with pytest.raises(AssertionError, match="expected number"):
        assert_shape(True, 1)
    with pytest.raises(AssertionError, match=r"\$\[1\]\.c"):
        assert_shape([{"c": "x"}, {"c": 3}], [{"c": "y"}])


def test_fixtures_are_all_covered() -> None:
    used = {
        "query_response.json",
        "create_record_response.json",
        "sobject_collections_response.json",
        "error_response.json",
        "limits_response.json",
        "versions_response.json",
        "oauth_token_response.json",
        "bulk2_ingest_job_response.json",
    }
    assert {p.name for p in FIXTURES.glob("*.json")} == used


# ------------------------------------------------------------------ REST API
def test_query_response_matches_documented_shape(sf: Salesforce) -> None:
    for start in (0, 200):
        records = _contacts(201)[start : start + 200]
        sf.restful("composite/sobjects", method="POST", json={"records": records})
    page = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=200"})
    assert page["done"] is False
    assert_shape(page, documented("query_response.json"))

    last = sf.query_more(page["nextRecordsUrl"], identifier_is_url=True)
    assert last["done"] is True
    # The last page has no nextRecordsUrl: "done" is true, so nothing is left to fetch.
    final = {k: v for k, v in documented("query_response.json").items() if k != "nextRecordsUrl"}
    assert "nextRecordsUrl" not in last
    assert_shape(last, final)


def test_create_record_response_matches_documented_shape(sf: Salesforce) -> None:
    created = sf.Contact.create({"LastName": "Shape"})
    assert_shape(dict(created), documented("create_record_response.json"))


def test_sobject_collections_response_matches_documented_shape(sf: Salesforce) -> None:
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={
            "allOrNone": False,
            "records": [*_contacts(1), {"attributes": {"type": "Contact"}}],
        },
    )
    assert [r["success"] for r in results] == [True, False]
    assert isinstance(results[0]["id"], str)
    assert results[1]["errors"], "a failed record carries at least one error"
    assert_shape(results, documented("sobject_collections_response.json"))


def test_error_response_matches_documented_shape(http: requests.Session, org: LocalOrg) -> None:
    response = http.get(
        org.instance_url + f"{DATA}/sobjects/Contact/001000000000000AAA",
        headers=_bearer(http, org),
    )
    assert response.status_code == 404
    assert_shape(response.json(), documented("error_response.json"))


def test_limits_response_matches_documented_shape(sf: Salesforce) -> None:
    assert_shape(sf.restful("limits/"), documented("limits_response.json"))


def test_versions_response_matches_documented_shape(http: requests.Session, org: LocalOrg) -> None:
    response = http.get(org.instance_url + "/services/data/")
    assert response.status_code == 200
    versions = response.json()
    assert versions, "at least one version is listed"
    assert_shape(versions, documented("versions_response.json"))


# ------------------------------------------------------------------ OAuth
def test_oauth_token_response_matches_documented_shape(
    http: requests.Session, org: LocalOrg
) -> None:
    assert_shape(get_token(http, org), documented("oauth_token_response.json"))


# ------------------------------------------------------------------ Bulk API 2.0
def test_bulk_ingest_job_info_matches_documented_shape(
    http: requests.Session, org: LocalOrg
) -> None:
    response = http.post(
        org.instance_url + f"{DATA}/jobs/ingest",
        json={"object": "Contact", "operation": "insert", "contentType": "CSV", "lineEnding": "LF"},
        headers=_bearer(http, org),
    )
    assert response.ok, response.text
    job = response.json()
    assert_shape(job, documented("bulk2_ingest_job_response.json"))

    status = http.get(
        org.instance_url + f"{DATA}/jobs/ingest/{job['id']}", headers=_bearer(http, org)
    )
    assert status.ok, status.text
    assert_shape(status.json(), documented("bulk2_ingest_job_response.json"))

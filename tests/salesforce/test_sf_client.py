"""The typed client against localorg over HTTPS: paging, writes, errors, retries, quota."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from connector.config import Settings
from connector.salesforce import (
    FatalError,
    QuotaExhausted,
    RetryableError,
    RowResult,
    SalesforceClient,
    parse_limit_info,
)
from localorg.flows import FlowEngine
from localorg.org import LocalOrg
from localorg.store import format_datetime

from .conftest import Sleeps

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _load_contacts(org: LocalOrg, count: int, start: datetime, step: timedelta) -> list[str]:
    rows: list[dict[str, Any]] = []
    for i in range(count):
        stamp = format_datetime(start + i * step)
        rows.append(
            {
                "Id": org.store.ids.new("Contact"),
                "IsDeleted": 0,
                "LastName": f"C{i:05d}",
                "Email": f"c{i}@example.com",
                "CreatedDate": stamp,
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
            }
        )
    org.store.load_rows("Contact", rows)
    return [r["Id"] for r in rows]


def _create_contacts(client: SalesforceClient, count: int) -> list[str]:
    return [str(client.create("Contact", {"LastName": f"N{i}"})["id"]) for i in range(count)]


# ---------------------------------------------------------------------- queries
def test_query_window_pages_every_row_once(client: SalesforceClient, org: LocalOrg) -> None:
    ids = _load_contacts(org, 4500, T0, timedelta(seconds=1))
    # Rows on both sides of the window must stay out.
    _load_contacts(org, 3, T0 - timedelta(hours=1), timedelta(seconds=1))
    _load_contacts(org, 3, T0 + timedelta(hours=5), timedelta(seconds=1))
    until = T0 + timedelta(seconds=4500)
    pages = list(client.query_window("Contact", ["Id", "LastName", "SystemModstamp"], T0, until))
    assert [len(p) for p in pages] == [2000, 2000, 500]
    got = [r["Id"] for p in pages for r in p]
    assert got == ids
    assert "attributes" not in pages[0][0]
    assert client.calls["query"] == 1
    assert client.calls["query_more"] == 2
    assert client.count_window("Contact", T0, until) == 4500
    assert client.count_window("Contact", None, until) == 4503


def test_query_window_returns_deleted_rows(client: SalesforceClient, org: LocalOrg) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    keep, gone = _create_contacts(client, 2)
    org.store.delete("Contact", gone)
    until = datetime.now(UTC) + timedelta(minutes=1)
    rows = [r for p in client.query_window("Contact", ["Id", "IsDeleted"], since, until) for r in p]
    assert {r["Id"]: r["IsDeleted"] for r in rows} == {keep: False, gone: True}
    assert [r["Id"] for r in client.query("SELECT Id FROM Contact")] == [keep]
    quoted = client.query("SELECT Id FROM Contact WHERE LastName = {name}", name="N0' OR ''='")
    assert quoted == []
    assert client.query("SELECT Id FROM Contact WHERE Id = {}", keep) == [{"Id": keep}]


def test_query_window_refuses_naive_datetimes(client: SalesforceClient) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next(client.query_window("Contact", ["Id"], None, datetime(2026, 1, 1)))
    with pytest.raises(ValueError, match="not a Salesforce field name"):
        next(client.query_window("Contact", ["Id, (SELECT Id FROM x)"], None, T0))


def test_malformed_query_is_fatal_with_its_code(client: SalesforceClient) -> None:
    with pytest.raises(FatalError) as info:
        client.query("SELECT Nope FROM Contact")
    assert info.value.error_code == "INVALID_FIELD"
    assert "Nope" not in str(info.value)


def test_describe_is_cached(client: SalesforceClient) -> None:
    first = client.describe("Lead")
    assert client.describe("Lead") is first
    assert client.calls["describe"] == 1
    assert "Lead" in {o["name"] for o in client.describe_global()["sobjects"]}


# ---------------------------------------------------------------------- sessions, retries
def test_expired_session_signs_in_again_transparently(
    client: SalesforceClient, org: LocalOrg
) -> None:
    assert client.calls["auth"] == 1
    org.expire_sessions()
    assert client.limits()["DailyApiRequests"]["Max"] > 0
    assert client.calls["auth"] == 2
    assert client.calls["limits"] == 2  # the refused call and its replay


def test_server_unavailable_is_retried_then_raised(
    client: SalesforceClient, org: LocalOrg, sleeps: Sleeps
) -> None:
    org.faults.configure("SERVER_UNAVAILABLE=1")
    with pytest.raises(RetryableError) as info:
        client.limits()
    assert info.value.error_code == "SERVER_UNAVAILABLE"
    # Full jitter (connector/backoff.py): uniform in [0, base * 2**attempt); random 0.5 is half.
    assert sleeps == pytest.approx([0.05, 0.1, 0.2])
    assert client.calls["limits"] == 4  # max_retries=3 after the first attempt


def test_intermittent_server_unavailable_eventually_succeeds(
    make_settings: Callable[..., Settings], org: LocalOrg, sleeps: Sleeps
) -> None:
    client = SalesforceClient.from_settings(
        make_settings(max_retries=12), sleep=sleeps, random=lambda: 0.0
    )
    ids = _create_contacts(client, 5)
    org.faults.configure("SERVER_UNAVAILABLE=0.5,seed=1")
    for _ in range(4):
        assert len(client.query("SELECT Id FROM Contact")) == 5
    assert sleeps  # some calls failed and were retried
    org.faults.configure("")
    assert len(ids) == 5


def test_unreachable_org_is_retryable(
    make_settings: Callable[..., Settings], sleeps: Sleeps
) -> None:
    client = SalesforceClient.from_settings(make_settings(), sleep=sleeps, random=lambda: 0.5)
    client._sf.sf_instance = "127.0.0.1:9"  # type: ignore[union-attr]  # nothing listens
    client._sf.base_url = "https://127.0.0.1:9/services/data/v59.0/"  # type: ignore[union-attr]
    with pytest.raises(RetryableError, match="no answer"):
        client.limits()
    assert len(sleeps) == 3


# ---------------------------------------------------------------------- collections
def test_update_collection_reports_lock_errors_as_retryable(
    client: SalesforceClient, org: LocalOrg
) -> None:
    ids = _load_contacts(org, 120, T0, timedelta(seconds=1))
    org.faults.configure("UNABLE_TO_LOCK_ROW=0.3,seed=1")
    results = client.update_collection("Contact", [{"Id": i, "Title": "Hot"} for i in ids])
    org.faults.configure("")
    assert [r.record_id for r in results] == ids
    locked = [r for r in results if not r.success]
    assert 10 < len(locked) < 70
    assert all(r.retryable and r.error_code == "UNABLE_TO_LOCK_ROW" for r in locked)
    titles = {r["Id"]: r["Title"] for r in client.query("SELECT Id, Title FROM Contact")}
    for result in results:
        assert titles[result.record_id] == ("Hot" if result.success else None)


def test_update_collection_row_errors_are_not_retryable(client: SalesforceClient) -> None:
    (contact,) = _create_contacts(client, 1)
    results = client.update_collection(
        "Contact", [{"Id": contact, "Email": "not an email"}, {"Id": contact, "Title": "T"}]
    )
    assert results[0] == RowResult(contact, False, "INVALID_EMAIL_ADDRESS", results[0].message)
    assert not results[0].retryable
    assert results[1].success


def test_update_collection_sends_auto_assign_false(client: SalesforceClient) -> None:
    (contact,) = _create_contacts(client, 1)
    seen: list[requests.PreparedRequest] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        seen.append(response.request)

    client.session.hooks["response"].append(hook)
    client.update_collection("Contact", [{"Id": contact, "Title": "x"}])
    (request,) = seen
    assert request.method == "PATCH"
    assert request.url is not None
    assert request.url.endswith("/composite/sobjects")
    assert request.headers["Sforce-Auto-Assign"] == "FALSE"


def test_update_collection_refuses_more_than_200(client: SalesforceClient) -> None:
    with pytest.raises(ValueError, match="at most 200"):
        client.update_collection("Contact", [{"Id": "003"}] * 201)
    assert client.calls["collection_update"] == 0


def test_update_records_writes_records_of_two_objects_in_one_call(
    client: SalesforceClient, org: LocalOrg
) -> None:
    (contact,) = _create_contacts(client, 1)
    account = client.create("Account", {"Name": "Acme"})["id"]
    results = client.update_records(
        [("Contact", {"Id": contact, "Title": "T"}), ("Account", {"Id": account, "Name": "A2"})]
    )
    assert [(r.record_id, r.success) for r in results] == [(contact, True), (account, True)]
    assert client.calls["collection_update"] == 1
    assert client.query("SELECT Title FROM Contact")[0]["Title"] == "T"
    assert client.query("SELECT Name FROM Account")[0]["Name"] == "A2"


def test_update_records_refuses_more_than_10_runs_of_one_object(client: SalesforceClient) -> None:
    records = [("Contact" if i % 2 else "Account", {"Id": f"00{i}"}) for i in range(11)]
    with pytest.raises(ValueError, match="at most 10 runs"):
        client.update_records(records)
    assert client.calls["collection_update"] == 0


# ---------------------------------------------------------------------- quota
def test_quota_share_stops_before_the_sixth_call(
    client: SalesforceClient, org: LocalOrg, make_settings: Callable[..., Settings]
) -> None:
    org.reset_limits(daily_limit=10)
    guarded = SalesforceClient.from_settings(make_settings(quota_share=0.5))
    for _ in range(5):
        guarded.limits()
    with pytest.raises(QuotaExhausted, match="L2L_QUOTA_SHARE"):
        guarded.limits()
    assert org.api_calls == 5
    assert guarded.usage is not None
    assert (guarded.usage.used, guarded.usage.max) == (5, 10)


def test_request_limit_exceeded_is_quota_exhausted(
    client: SalesforceClient, org: LocalOrg, sleeps: Sleeps
) -> None:
    org.faults.configure("REQUEST_LIMIT_EXCEEDED=1")
    with pytest.raises(QuotaExhausted) as info:
        client.limits()
    assert info.value.error_code == "REQUEST_LIMIT_EXCEEDED"
    assert sleeps == []  # never retried


def test_limit_info_parsing_tolerates_extra_parts() -> None:
    usage = parse_limit_info("api-usage=25/15000; per-app-api-usage=17/250(appName=sample)")
    assert usage is not None
    assert (usage.used, usage.max) == (25, 15000)
    usage = parse_limit_info("per-app-api-usage=17/250(appName=x); api-usage=3/9")
    assert usage is not None
    assert (usage.used, usage.max) == (3, 9)
    assert parse_limit_info("api-bursts=1/2") is None


# ---------------------------------------------------------------------- tooling, flows
def test_create_tooling_field_and_invoke_flow(client: SalesforceClient, org: LocalOrg) -> None:
    created = client.create_tooling(
        "CustomField",
        {
            "FullName": "Contact.L2L_Tier__c",
            "Metadata": {"label": "Tier", "type": "Text", "length": 20},
        },
    )
    assert created["success"] is True
    assert client.calls["tooling"] == 1
    org.store.flows = FlowEngine(
        {
            "autolaunched": [
                {
                    "name": "Tier_Up",
                    "inputs": ["recordId", "tier"],
                    "actions": [{"create_task": {"Subject": "Tier {tier}"}}],
                }
            ]
        }
    )
    (contact,) = _create_contacts(client, 1)
    results = client.invoke_flow("Tier_Up", [{"recordId": contact, "tier": "Gold"}])
    assert results[0]["isSuccess"] is True
    assert client.calls["flow"] == 1
    with pytest.raises(FatalError) as info:
        client.invoke_flow("Nope", [{}])
    assert info.value.error_code == "NOT_FOUND"

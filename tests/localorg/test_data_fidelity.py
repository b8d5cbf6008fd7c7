"""localorg's data behaviours, each as Salesforce documents it (source named per test).

Driven over real HTTPS with unmodified simple-salesforce, like the connector drives a real org.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from localorg.org import LocalOrg
from tests.support import load_rows

WAIT = 0.05


def _converted_lead(org: LocalOrg) -> str:
    account = load_rows(org, "Account", [{"Name": "Acme"}])[0]
    contact = load_rows(org, "Contact", [{"LastName": "Ada", "AccountId": account}])[0]
    return load_rows(
        org,
        "Lead",
        [
            {
                "LastName": "Ada",
                "Company": "Acme",
                "Status": "Closed - Converted",
                "IsConverted": 1,
                "ConvertedContactId": contact,
                "ConvertedAccountId": account,
            }
        ],
    )[0]


# ---------------------------------------------------------------------- converted Leads
# Source: simple-salesforce issue #341 "CANNOT_UPDATE_CONVERTED_LEAD when trying to update a
# lead"; gravityplus/Gravity-Forms-Salesforce #342 (statusCode CANNOT_UPDATE_CONVERTED_LEAD,
# message "cannot reference converted lead"); mautic #6560 ("the lead record ... becomes read
# only"). Every write path refuses, the record stays as it was.
def test_converted_lead_refuses_a_rest_update(sf: Salesforce, org: LocalOrg) -> None:
    lead = _converted_lead(org)
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.update(lead, {"Title": "CEO"})
    [error] = caught.value.content
    assert error["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert error["message"] == "cannot reference converted lead"
    assert sf.Lead.get(lead)["Title"] is None


def test_converted_lead_refuses_a_collection_update_per_record(
    sf: Salesforce, org: LocalOrg
) -> None:
    lead = _converted_lead(org)
    live = sf.Lead.create({"LastName": "Bo", "Company": "Acme"})["id"]
    results = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                {"attributes": {"type": "Lead"}, "id": i, "Title": "CEO"} for i in (lead, live)
            ],
        },
    )
    assert results[0]["success"] is False
    assert results[0]["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert results[1]["success"] is True
    assert sf.Lead.get(lead)["Title"] is None
    assert sf.Lead.get(live)["Title"] == "CEO"


def test_converted_lead_refuses_a_bulk_update_row(sf: Salesforce, org: LocalOrg) -> None:
    lead = _converted_lead(org)
    live = sf.Lead.create({"LastName": "Bo", "Company": "Acme"})["id"]
    [result] = sf.bulk2.Lead.update(
        records=[{"Id": lead, "Title": "CEO"}, {"Id": live, "Title": "CEO"}], wait=WAIT
    )
    assert result["numberRecordsFailed"] == 1
    [bad] = _rows(sf.bulk2.Lead.get_failed_records(result["job_id"]))
    assert bad["sf__Id"] == lead
    assert bad["sf__Error"].startswith(
        "CANNOT_UPDATE_CONVERTED_LEAD:cannot reference converted lead"
    )
    assert sf.Lead.get(lead)["Title"] is None


def _rows(text: str) -> list[dict[str, Any]]:
    return list(csv.DictReader(io.StringIO(text)))

"""Raw HTTPS calls to localorg and Salesforce's error shape, for the error-path tests.

Salesforce answers a refused REST or Bulk API 2.0 call with a JSON list of errors, each with
``message`` and ``errorCode`` (REST API Developer Guide, "Status Codes and Error Responses" —
https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm ; the
shape is pinned in tests/fixtures/salesforce/error_response.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from simple_salesforce import Salesforce


@dataclass
class Api:
    """An authenticated raw client of one org's REST and Bulk API 2.0 resources."""

    http: requests.Session
    sf: Salesforce

    def url(self, path: str) -> str:
        """``path`` under ``/services/data/vXX.X/`` (a full URL is kept as it is)."""
        return path if path.startswith("https://") else self.sf.base_url + path.lstrip("/")

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        content_type: str | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        """One request with the session's bearer token."""
        headers = {"Authorization": f"Bearer {self.sf.session_id}"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        return self.http.request(
            method, self.url(path), json=json, data=data, headers=headers, params=params
        )


def error_of(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    """Assert ``response`` is Salesforce's one-error answer with ``status`` and ``code``."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, list), body
    assert len(body) == 1, body
    [error] = body
    assert error["errorCode"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error.get("fields", []), list)
    return dict(error)


def item_errors(result: dict[str, Any]) -> list[str]:
    """The ``statusCode`` of each error of one sObject Collections result (a SaveResult)."""
    assert result["success"] is False, result
    assert set(result) >= {"id", "success", "errors"}
    for error in result["errors"]:
        assert set(error) == {"statusCode", "message", "fields"}, error
        assert isinstance(error["fields"], list)
    return [error["statusCode"] for error in result["errors"]]

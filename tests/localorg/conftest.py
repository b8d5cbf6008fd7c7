"""Fixtures of the localorg tests."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce import Salesforce

from tests.localorg.errorshape import Api


@pytest.fixture
def api(http: requests.Session, sf: Salesforce) -> Api:
    """Raw authenticated calls to the fresh org (for bodies simple-salesforce cannot send)."""
    return Api(http, sf)

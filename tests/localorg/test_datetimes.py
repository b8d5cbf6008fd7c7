"""The storage datetime form, spelled once in localorg.datetimes and used by every writer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from localorg.datetimes import format_datetime, format_midnight, format_whole_seconds
from localorg.seed.frame import datetimes
from localorg.soql import SoqlError, _normalise_datetime
from localorg.store import format_datetime as store_format_datetime
from localorg.store import parse_datetime

MOMENTS = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
)


def test_the_store_writes_through_the_one_definition() -> None:
    assert store_format_datetime is format_datetime


def test_salesforce_form_utc_milliseconds_and_zone() -> None:
    moment = datetime(2026, 1, 2, 4, 4, 5, 678_901, tzinfo=timezone(timedelta(hours=1)))
    assert format_datetime(moment) == "2026-01-02T03:04:05.678+0000"


@given(MOMENTS)
def test_round_trips_through_the_parser_to_the_millisecond(moment: datetime) -> None:
    text = format_datetime(moment)
    assert parse_datetime(text) == moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@given(MOMENTS)
def test_the_seed_fast_path_writes_the_same_text(moment: datetime) -> None:
    whole = moment.replace(microsecond=0)
    # The seed's times are float epoch seconds; a fraction well inside the second stays
    # exact at any year here (a float has no room for microseconds in year 2500).
    seconds = float(int(whole.timestamp())) + moment.microsecond / 2_000_000
    fast = datetimes(np.array([seconds]))[0]
    assert fast == format_datetime(whole)
    assert format_whole_seconds([whole.strftime("%Y-%m-%dT%H:%M:%S")]) == [fast]


def test_midnight_of_a_day() -> None:
    assert format_midnight(date(2024, 2, 29)) == "2024-02-29T00:00:00.000+0000"


def test_soql_literals_normalise_to_the_storage_form() -> None:
    assert _normalise_datetime("2024-01-31T10:30:00+01:00") == "2024-01-31T09:30:00.000+0000"
    assert _normalise_datetime("2024-01-31T09:30:00.250Z") == "2024-01-31T09:30:00.250+0000"
    with pytest.raises(SoqlError, match="invalid datetime literal"):
        _normalise_datetime("2024-13-31T09:30:00Z")

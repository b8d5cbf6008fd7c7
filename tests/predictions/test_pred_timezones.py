"""Local send time: each person's zone by the documented rule, hours counted on their clock."""

from __future__ import annotations

import pandas as pd

from connector.predictions import best_send_hour
from connector.predictions.outputs import send_time_label
from connector.predictions.timezones import person_zones


def test_zone_rule_mapped_field_then_address_then_utc():
    people = pd.DataFrame(
        {
            "MailingCountry": ["United Kingdom", "US", "United States", "United States", "FR",
                               None, "Germany"],
            "MailingState": [None, "TX", "california", None, None, None, None],
            "Zone__c": [None, None, None, None, None, "Asia/Tokyo", "Not/AZone"],
        }
    )  # fmt: skip
    zones = person_zones(people, zone_column="Zone__c")
    assert zones.tolist() == [
        "Europe/London",
        "America/Chicago",  # Texas: most of its people live on Central time
        "America/Los_Angeles",
        "UTC",  # a country of several zones without a state is not guessed
        "Europe/Paris",
        "Asia/Tokyo",  # the mapped field wins
        "Europe/Berlin",  # an unknown zone name in the field is ignored
    ]


def _opens(person: str, stamps: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"person_id": person, "occurred_at": pd.to_datetime(stamps, utc=True)})


def test_best_hour_is_on_the_persons_clock_across_daylight_saving():
    # 09:00 in New York every Monday: 14:00 UTC in winter, 13:00 UTC in summer
    winter = ["2026-01-05T14:00Z", "2026-01-12T14:00Z", "2026-01-19T14:00Z"]
    summer = ["2026-07-06T13:00Z", "2026-07-13T13:00Z", "2026-07-20T13:00Z", "2026-07-27T13:00Z"]
    events = _opens("p1", winter + summer)
    zones = pd.Series({"p1": "America/New_York"})
    local = best_send_hour(events, min_events=5, zones=zones).loc["p1"]
    assert (local["best_weekday"], local["best_hour"], local["zone"]) == (0, 9, "America/New_York")
    assert send_time_label(int(local["best_hour_of_week"]), local["zone"]) == (
        "Mon 09:00 America/New_York"
    )
    # on the UTC clock the same habit splits over two hours, and the field says UTC
    utc = best_send_hour(events, min_events=5).loc["p1"]
    assert (utc["best_hour"], utc["zone"]) == (13, "UTC")

"""Local send time: each person's zone by the documented rule, hours counted on their clock."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from pydantic import ValidationError

from connector.events.generic import normalise_message
from connector.predictions import PredictionsConfig, best_send_hour
from connector.predictions.outputs import send_time_label
from connector.predictions.timezones import event_zones, local_hour_of_week, person_zones


def test_zone_rule_events_then_address_then_mapped_field_then_default():
    people = pd.DataFrame(
        {
            "MailingCountry": ["United Kingdom", "US", "United States", "United States", "FR",
                               None, "Germany", "Germany", None],
            "MailingState": [None, "TX", "california", None, None, None, None, None, None],
            "Zone__c": [None, None, None, None, None, "Asia/Tokyo", "Not/AZone", "Asia/Tokyo",
                        None],
        },
        index=[f"p{i}" for i in range(9)],
    )  # fmt: skip
    told = pd.Series({"p0": "America/New_York", "p4": "UTC+05:30"})
    zones = person_zones(people, zone_column="Zone__c", events_zones=told, default_zone="UTC")
    assert zones.tolist() == [
        "America/New_York",  # the events' clock beats the mailing address
        "America/Chicago",  # Texas: most of its people live on Central time
        "America/Los_Angeles",
        "UTC",  # a country of several zones without a state is not guessed
        "UTC+05:30",  # an offset from the events beats the address too
        "Asia/Tokyo",  # no address: the mapped field
        "Europe/Berlin",  # an unknown zone name in the field is ignored
        "Europe/Berlin",  # the address beats the mapped field
        "UTC",  # nothing known: the default
    ]
    assert person_zones(people, default_zone="Europe/Paris").iloc[-1] == "Europe/Paris"
    with pytest.raises(ValueError, match="Mars/Olympus"):
        person_zones(people, default_zone="Mars/Olympus")


def test_event_zones_a_name_beats_an_offset_and_the_most_frequent_wins():
    events = pd.DataFrame(
        {
            "person_id": ["a", "a", "a", "b", "b", "b", "c", "d", "e"],
            "_timezone": ["Europe/Berlin", "Europe/Berlin", "Asia/Tokyo", None, None, None,
                          "Not/AZone", None, None],
            "_utc_offset": [60, 60, 540, -300, -300, -240, 120, 9999, None],
        }
    )  # fmt: skip
    zones = event_zones(events)
    assert zones.to_dict() == {
        "a": "Europe/Berlin",  # two of three events named Berlin
        "b": "UTC-05:00",  # no name: the most frequent offset
        "c": "UTC+02:00",  # an unknown name is ignored, the offset stays
    }  # d: an offset no place has; e: nothing told


def test_a_fixed_offset_zone_counts_hours_on_that_clock():
    when = pd.Series(pd.to_datetime(["2026-01-05T03:30Z", "2026-01-05T23:00Z"], utc=True))
    hours = local_hour_of_week(when, pd.Series(["UTC+05:30", "UTC-05:00"]))
    assert hours.tolist() == [9, 18]  # Monday 09:00 in India, Monday 18:00 in New York (winter)


def test_the_intake_keeps_the_senders_clock():
    base = {"type": "track", "messageId": "m1", "event": "Email Opened", "userId": "u1"}
    told = normalise_message(
        {**base, "timestamp": "2026-01-05T10:00:00+01:00",
         "context": {"timezone": "Europe/Berlin"}, "properties": {"x": 1}},
        "api",
    )  # fmt: skip
    assert told["occurred_at"] == "2026-01-05T09:00:00.000+00:00"
    kept = json.loads(told["properties"])
    assert kept == {"x": 1, "_timezone": "Europe/Berlin", "_utc_offset": 60}
    silent = normalise_message({**base, "timestamp": "2026-01-05T09:00:00Z"}, "api")
    assert json.loads(silent["properties"]) == {}  # a UTC timestamp says nothing of the person


def test_the_default_zone_setting_refuses_an_unknown_zone():
    assert PredictionsConfig(default_zone="Europe/Berlin").default_zone == "Europe/Berlin"
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        PredictionsConfig(default_zone="Mars/Olympus")


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


def test_a_mapped_zone_field_is_pulled_and_read_after_the_address() -> None:
    from connector.sync.predict import contact_fields, contact_zones, with_zone_field
    from connector.sync.streams import STREAMS

    config = PredictionsConfig(zone_field="Time_Zone__c", default_zone="Europe/Paris")
    stream = with_zone_field(STREAMS["Contact"], config)
    assert "Time_Zone__c" in stream.fields
    assert "Time_Zone__c" in stream.optional
    assert with_zone_field(STREAMS["Lead"], config) == STREAMS["Lead"]
    assert with_zone_field(STREAMS["Contact"], PredictionsConfig()) == STREAMS["Contact"]
    assert contact_fields(config) == ("MailingCountry", "MailingState", "Time_Zone__c")
    contacts = pd.DataFrame(
        {
            "Id": ["c1", "c2", "c3", "c4"],
            "MailingCountry": ["Japan", None, None, None],
            "MailingState": [None, None, None, None],
            "Time_Zone__c": ["America/Denver", "America/Denver", None, None],
        }
    )
    events = pd.DataFrame({"person_id": ["c4"], "_timezone": ["Asia/Singapore"]})
    zones = contact_zones(contacts, events, config.default_zone, config.zone_field)
    assert zones.to_dict() == {
        "c1": "Asia/Tokyo",  # the address beats the mapped field
        "c2": "America/Denver",  # no address: the mapped field
        "c3": "Europe/Paris",  # nothing: the org's default zone
        "c4": "Asia/Singapore",  # the events' clock first
    }
    with pytest.raises(ValidationError):
        PredictionsConfig(zone_field="Time Zone; DROP")

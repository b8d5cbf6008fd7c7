"""The intent score is decayed as of the start of the UTC day (connector/sync/intent.py,
``intent_values``), as the predictions are: a person recomputed later in the day, touched by a
record that changes nothing of theirs (a Task a Flow made), gets the values the morning's run
wrote. A demo's second sync once rewrote one Contact's score and reasons for that reason alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from connector.mapping import load_yaml_model
from connector.scoring import IntentConfig
from connector.sync.intent import intent_values

REPO = Path(__file__).resolve().parents[2]
LEAD = "00Q000000000001AAA"
MORNING = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def _config() -> IntentConfig:
    return load_yaml_model(REPO / "models" / "intent.yaml", IntentConfig)


def _events(*moments: datetime, name: str = "Product Viewed") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "object": "Lead",
            "record_id": LEAD,
            "name": name,
            "occurred_at": [m.isoformat() for m in moments],
            "properties": json.dumps({}),
        }
    )


def _score(events: pd.DataFrame, now: datetime) -> tuple[float, str]:
    values, _ = intent_values(events, now, _config())
    row = values.loc[("Lead", LEAD)]
    return float(row["intent.score"]), str(row["intent.reasons"])


def test_a_recompute_later_the_same_day_writes_the_same_values() -> None:
    # 240 Leads, each with six checkouts at its own age, one hour apart: decayed as of the moment
    # of the run, some of their rounded scores and reasons would move between 08:00 and 23:59
    ages = range(1, 241)
    events = pd.concat(
        [
            _events(
                *(MORNING - timedelta(hours=age + k) for k in range(6)), name="Checkout Started"
            ).assign(record_id=f"00Q{age:015d}")
            for age in ages
        ],
        ignore_index=True,
    )
    config = _config()
    morning, _ = intent_values(events, MORNING, config)
    evening, _ = intent_values(events, MORNING.replace(hour=23, minute=59), config)
    assert morning["intent.score"].nunique() > 3  # the ages spread the scores
    pd.testing.assert_frame_equal(evening, morning)
    # days later the same events have decayed: the values move with the day
    later, _ = intent_values(events, MORNING + timedelta(days=6), config)
    assert later["intent.score"].sum() < morning["intent.score"].sum()


def test_todays_events_count_in_full_and_events_after_now_not_at_all() -> None:
    before = _events(MORNING - timedelta(days=3))
    base = _score(before, MORNING)[0]
    # an event an hour ago weighs as much as one at midnight: both are today
    fresh = _score(pd.concat([before, _events(MORNING - timedelta(hours=1))]), MORNING)[0]
    early = _score(pd.concat([before, _events(MORNING.replace(hour=0))]), MORNING)[0]
    assert fresh == early > base
    # an event stamped after now (a clock ahead) is not counted yet
    ahead = _score(pd.concat([before, _events(MORNING + timedelta(hours=2))]), MORNING)[0]
    assert ahead == base


def test_an_open_leads_conversion_features_hold_through_the_day() -> None:
    # The conversion score of an open Lead reads its behaviour as of the same day's start: the
    # intent and signal features a scoring run computes at 08:00 and at 23:59 are the same.
    from connector.scoring.config import LeadConversionConfig
    from connector.sync.intent import lead_frame

    ids = [f"00Q{age:015d}" for age in range(1, 121)]
    events = pd.concat(
        [
            _events(
                *(MORNING - timedelta(hours=age + k) for k in range(4)), name="Checkout Started"
            ).assign(email=f"lead{age}@example.com")
            for age in range(1, len(ids) + 1)
        ],
        ignore_index=True,
    ).drop(columns=["object", "record_id"])
    leads = pd.DataFrame(
        {
            "Id": ids,
            "Email": [f"lead{age}@example.com" for age in range(1, len(ids) + 1)],
            "CreatedDate": (MORNING - timedelta(days=30)).isoformat(),
            "IsConverted": False,
            "ConvertedDate": None,
        }
    )
    config = LeadConversionConfig(categorical=["LeadSource"], behaviour=True)

    def features(now: datetime) -> pd.DataFrame:
        frame, numeric, _ = lead_frame(leads, events, now, _config(), config)
        return frame[["intent", *numeric]]

    morning = features(MORNING)
    assert morning["intent"].nunique() > 3
    assert morning.shape[1] > 1
    pd.testing.assert_frame_equal(features(MORNING.replace(hour=23, minute=59)), morning)
    assert features(MORNING + timedelta(days=6)).iloc[:, 1:].sum().sum() < (
        morning.iloc[:, 1:].sum().sum()
    )

"""From scored messages to values: a Case's suggested priority, the events the intent score
reads, a person's last intent (pure, on hand-made frames)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd

from connector.mapping.loader import load_yaml_model
from connector.texts.message_intents import IntentMatcher
from connector.texts.scored import (
    NEGATIVE_EVENT,
    case_values,
    person_values,
    score_messages,
    text_events,
)
from connector.texts.sentiment import LexiconSentiment, default_model
from connector.texts.text_config import TextsConfig
from tests.support import REPO

CONFIG = load_yaml_model(REPO / "models" / "texts.yaml", TextsConfig)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _messages() -> pd.DataFrame:
    rows = [
        ("m1", "Case", "Contact", "003A", "500A", 1, "Cancel my order, this is a disgrace!"),
        ("m2", "Case", "Contact", "003B", "500B", 2, "How do I change my delivery address?"),
        ("m3", "EmailMessage", "Lead", "00QA", None, 3, "Can we get a quote for 500 seats?"),
        ("m4", "EmailMessage", "Lead", "00QA", None, 1, "Thanks, lovely to hear from you!"),
        ("m5", "EmailMessage", None, None, None, 1, "Please unsubscribe me."),
        ("m6", "Task", "Contact", "003B", None, 0, ""),
    ]
    return pd.DataFrame(
        [
            {
                "message_id": m,
                "source": source,
                "object": obj,
                "record_id": rid,
                "case_id": case,
                "at": NOW - timedelta(days=days),
                "text": text,
            }
            for m, source, obj, rid, case, days, text in rows
        ]
    )


def _scored(model: object = None) -> pd.DataFrame:
    return score_messages(
        _messages(),
        CONFIG,
        model or default_model(),
        IntentMatcher(CONFIG),  # type: ignore[arg-type]
    )


def test_cases_get_sentiment_intent_and_a_priority() -> None:
    out = case_values(_scored(), CONFIG)
    angry, question = out.loc[("Case", "500A")], out.loc[("Case", "500B")]
    assert angry["texts.case_sentiment"] <= CONFIG.sentiment.negative_at
    assert angry["texts.case_priority"] == "High"  # negative, and a cancellation
    assert question["texts.case_intent"] == "Support question"
    assert question["texts.case_priority"] == "Medium"  # what the support intent suggests


def test_events_for_the_intent_score_and_nobody_elses() -> None:
    scored = _scored()
    events = text_events(scored, CONFIG)
    named = set(zip(events["record_id"], events["name"], strict=True))
    assert ("00QA", "Reply Asked For Quote") in named
    assert ("003A", "Reply Asked To Cancel") in named
    assert ("003A", NEGATIVE_EVENT) in named
    # the unsubscribe of nobody known adds no event; the empty note scores 0, no intent
    assert not events["name"].eq("Reply Asked To Unsubscribe").any()
    empty = scored.set_index("message_id").loc["m6"]
    assert empty["score"] == 0.0
    assert pd.isna(empty["intent"])
    assert all(json.loads(p)["message_id"] for p in events["properties"])
    pd.to_datetime(events["occurred_at"], utc=True, format="ISO8601")  # ISO text, as stored


def test_person_values_take_the_newest_message_and_the_last_intent() -> None:
    out = person_values(_scored(LexiconSentiment()), CONFIG, NOW)
    lead = out.loc[("Lead", "00QA")]
    assert lead["texts.last_reply_label"] == "Positive"  # m4, the newest
    assert lead["texts.last_intent"] == "Pricing or quote request"  # m3: m4 has no intent
    assert lead["texts.last_intent_phrase"] == "Can we get a quote for 500 seats?"
    assert lead["texts.sentiment_trend"] in ("Improving", "Steady")
    assert ("Lead", None) not in out.index

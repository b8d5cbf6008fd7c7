"""Quoted history and signatures come off before scoring; a person's sentiment follows their
newest messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from connector.texts.clean import message_text, strip_reply
from connector.texts.people import person_sentiment

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "own"),
    [
        (
            "Can we get a quote for 500 seats?\n\n"
            "On Mon, 3 Jun 2026 at 10:02, Shop <s@x.com> wrote:\n"
            "> Thanks for your order! We love our customers.",
            "Can we get a quote for 500 seats?",
        ),
        (
            "Cancel my order.\n-----Original Message-----\nFrom: Shop\nGreat news!",
            "Cancel my order.",
        ),
        (
            "Terrible service.\nFrom: Shop <s@x.com>\nSent: Monday\nWe are delighted",
            "Terrible service.",
        ),
        ("Love it, thanks!\n\nSent from my iPhone", "Love it, thanks!"),
        ("It broke after a day.\n-- \nJane Doe\nHappy Customer Inc.", "It broke after a day."),
        (
            "Please call me about the renewal.\nBest regards,\nJane Doe\n"
            "Head of Purchasing\n+1 555 0100",
            "Please call me about the renewal.",
        ),
        ("Thanks\nbut the box was empty and I want my money back for order 1234 today", None),
        ("> only quoted text", ""),
        (None, ""),
    ],
)
def test_strip_reply(body: str | None, own: str | None) -> None:
    expected = own if own is not None else " ".join((body or "").split())
    assert strip_reply(body) == expected


def test_message_text_joins_subject_and_body() -> None:
    assert message_text("Cancel my order", "Now please.") == "Cancel my order. Now please."
    # a reply's subject is the subject of what it answers: not the person's words
    assert message_text("Re: Fwd: Your order", "Now please.") == "Now please."
    assert message_text("Re: Cancel my order", "") == "Cancel my order"
    assert message_text("Re: ", "Hello") == "Hello"
    assert message_text("Why?", None) == "Why?"


def _messages(rows: list[tuple[str, str, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "person_id": person,
                "message_id": mid,
                "at": AS_OF - timedelta(days=days),
                "score": score,
                "label": "positive" if score > 0 else "negative",
            }
            for person, mid, days, score in rows
        ]
    )


def test_person_sentiment_weights_recent_messages_and_tells_the_trend() -> None:
    frame = _messages(
        [
            ("a", "m1", 60.0, 0.9),
            ("a", "m2", 1.0, -0.8),  # newest: an angry reply after a happy one
            ("b", "m3", 2.0, 0.5),
            ("c", "m4", 10.0, -0.5),
            ("c", "m5", 9.0, -0.4),
        ]
    )
    out = person_sentiment(frame, AS_OF, half_life_days=30.0)
    # weights 0.5**2 and 0.5**(1/30): the recent reply dominates
    w_old, w_new = 0.25, 0.5 ** (1 / 30)
    assert out.loc["a", "sentiment"] == pytest.approx((0.9 * w_old - 0.8 * w_new) / (w_old + w_new))
    assert out.loc["a", "last_message_id"] == "m2"
    assert out.loc["a", "trend"] == "worsening"
    assert out.loc["b", "trend"] == "new"
    assert out.loc["c", "trend"] == "steady"
    assert out.loc["b", "messages"] == 1


def test_only_the_newest_n_count() -> None:
    frame = _messages([("a", f"m{i}", float(i), -1.0 if i > 2 else 1.0) for i in range(10)])
    out = person_sentiment(frame, AS_OF, keep=3)
    assert out.loc["a", "sentiment"] == pytest.approx(1.0)
    assert out.loc["a", "messages"] == 3
    assert person_sentiment(frame.iloc[:0], AS_OF).empty

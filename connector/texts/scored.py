"""From messages of resolved people to values on their records and events for the intent score.

Pure functions over a messages frame with columns ``message_id``, ``source`` (EmailMessage,
Task, Case or event), ``object`` / ``record_id`` (the person: Contact or Lead; missing when
nobody is known), ``case_id`` (the Case a message belongs to, if any), ``at`` (aware UTC) and
``text`` (already stripped of quoted history and signatures: ``connector.texts.clean``).

Rules:

1. ``score_messages``: every message gets ``score`` in [-1, 1] and ``label`` from the sentiment
   model, and its intents (``connector.texts.message_intents``): ``intents`` (names, most
   confident first), ``intent`` / ``intent_label`` / ``phrase`` / ``confidence`` of the first.
   An empty text scores 0, neutral, no intent. ``entities``: the order numbers, amounts and
   product names (of the org's catalogue) it names, as one line (``entities_text``), or None.
2. ``person_values``: per person, the newest ``keep_per_person`` messages
   (``connector.texts.people``): ``texts.sentiment`` (recency-weighted), ``texts.sentiment_trend``,
   the newest message's ``texts.last_reply_sentiment`` / ``texts.last_reply_label``, and the newest
   message with an intent gives ``texts.last_intent`` and ``texts.last_intent_phrase``, and the
   newest message naming an order, amount or product gives ``texts.last_message_entities``.
3. ``case_values``: per Case, its newest message (the Case's own text or an email on it):
   ``texts.case_sentiment``, ``texts.case_intent``, ``texts.case_entities`` (what that message
   names) and ``texts.case_priority``: the highest
   priority its intents suggest, raised to High when the message is negative (at or below
   ``negative_at``) and to at least Medium when it is negative at all.
4. ``text_events``: each message of a person adds one event per intent (the intent's ``event``
   name) and ``Reply Negative`` when it scores at or below ``negative_at``, at the message's
   time, with ``{"text_intent": name, "phrase": ...}`` as properties: what the intent score's
   signals read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import numpy as np
import pandas as pd

from connector.texts.message_intents import IntentMatcher, entities, entities_text
from connector.texts.people import person_sentiment
from connector.texts.text_config import TextsConfig

NEGATIVE_EVENT = "Reply Negative"
_PRIORITY = {"Low": 0, "Medium": 1, "High": 2}
_PRIORITY_NAMES = ("Low", "Medium", "High")
MESSAGE_COLUMNS = ("message_id", "source", "object", "record_id", "case_id", "at", "text")


class Scorer(Protocol):
    """A sentiment model: scores and labels of texts."""

    def score(self, texts: list[str]) -> np.ndarray: ...  # type: ignore[type-arg]

    def predict(self, texts: list[str]) -> list[str]: ...


def score_messages(
    messages: pd.DataFrame,
    config: TextsConfig,
    model: Scorer,
    matcher: IntentMatcher,
    products: Sequence[str] = (),
) -> pd.DataFrame:
    """``messages`` with ``score``, ``label``, ``intents``, ``intent``, ``intent_label``,
    ``phrase``, ``confidence`` and ``entities`` (rule 1); ``products``: the names the org
    sells."""
    out = messages.copy()
    texts = out["text"].fillna("").astype(str).tolist()
    filled = [i for i, text in enumerate(texts) if text.strip()]
    score = np.zeros(len(texts))
    label = ["neutral"] * len(texts)
    matches: list[list[object]] = [[] for _ in texts]
    if filled:
        chosen = [texts[i] for i in filled]
        proba_scores = np.asarray(model.score(chosen), dtype=np.float64)
        labels = model.predict(chosen)
        found = matcher.match(chosen)
        for j, i in enumerate(filled):
            score[i] = float(np.clip(proba_scores[j], -1.0, 1.0))
            label[i] = labels[j]
            matches[i] = list(found[j])
    out["score"] = score
    out["label"] = label
    out["intents"] = [[m.name for m in found_m] for found_m in matches]  # type: ignore[attr-defined]
    first = [found_m[0] if found_m else None for found_m in matches]
    out["intent"] = [m.name if m else None for m in first]  # type: ignore[attr-defined]
    out["intent_label"] = [m.label if m else None for m in first]  # type: ignore[attr-defined]
    out["phrase"] = [m.phrase if m else None for m in first]  # type: ignore[attr-defined]
    out["confidence"] = [m.confidence if m else None for m in first]  # type: ignore[attr-defined]
    out["entities"] = [entities_text(entities(text, products)) for text in texts]
    return out


def _index(objects: pd.Series, ids: pd.Series) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays(
        [objects.astype(str).tolist(), ids.astype(str).tolist()], names=["object", "record_id"]
    )


def person_values(scored: pd.DataFrame, config: TextsConfig, now: datetime) -> pd.DataFrame:
    """Values per person, indexed (object, record_id) (rule 2)."""
    columns = [
        "texts.sentiment",
        "texts.sentiment_trend",
        "texts.last_reply_sentiment",
        "texts.last_reply_label",
        "texts.last_intent",
        "texts.last_intent_phrase",
        "texts.last_message_entities",
    ]
    own = scored[scored["record_id"].notna() & scored["object"].notna()]
    if own.empty:
        return pd.DataFrame(columns=columns, index=_index(pd.Series([]), pd.Series([])))
    settings = config.sentiment
    keyed = own.assign(person_id=own["object"].astype(str) + "\x1f" + own["record_id"].astype(str))
    people = person_sentiment(
        keyed[["person_id", "message_id", "at", "score", "label"]],
        now,
        half_life_days=settings.half_life_days,
        keep=settings.keep_per_person,
        trend_step=settings.trend_step,
    )
    with_intent = keyed[keyed["intent"].notna()].sort_values(
        ["person_id", "at", "message_id"], ascending=[True, False, False], kind="mergesort"
    )
    last_intent = with_intent.drop_duplicates("person_id").set_index("person_id")
    with_entities = keyed[keyed["entities"].notna()].sort_values(
        ["person_id", "at", "message_id"], ascending=[True, False, False], kind="mergesort"
    )
    last_named = with_entities.drop_duplicates("person_id").set_index("person_id")
    split = people.index.to_series().str.split("\x1f", n=1, expand=True)
    out = pd.DataFrame(
        {
            "texts.sentiment": people["sentiment"].round(2).to_numpy(),
            "texts.sentiment_trend": people["trend"].str.capitalize().to_numpy(),
            "texts.last_reply_sentiment": people["last_score"].round(2).to_numpy(),
            "texts.last_reply_label": people["last_label"].str.capitalize().to_numpy(),
            "texts.last_intent": last_intent["intent_label"].reindex(people.index).to_numpy(),
            "texts.last_intent_phrase": last_intent["phrase"].reindex(people.index).to_numpy(),
            "texts.last_message_entities": last_named["entities"].reindex(people.index).to_numpy(),
        },
        index=_index(split[0], split[1]),
    )
    return out


def case_values(scored: pd.DataFrame, config: TextsConfig) -> pd.DataFrame:
    """Values per Case, indexed ("Case", case id) (rule 3)."""
    columns = [
        "texts.case_sentiment",
        "texts.case_intent",
        "texts.case_priority",
        "texts.case_entities",
    ]
    on_case = scored[scored["case_id"].notna()].sort_values(
        ["case_id", "at", "message_id"], ascending=[True, False, False], kind="mergesort"
    )
    newest = on_case.drop_duplicates("case_id")
    if newest.empty:
        return pd.DataFrame(columns=columns, index=_index(pd.Series([]), pd.Series([])))
    by_name = {intent.name: intent.priority for intent in config.intents}
    negative_at = config.sentiment.negative_at
    priority: list[str] = []
    for intents, score in zip(newest["intents"], newest["score"], strict=True):
        level = max((_PRIORITY[by_name[name]] for name in intents), default=0)
        if score <= negative_at:
            level = 2
        elif score < 0:
            level = max(level, 1)
        priority.append(_PRIORITY_NAMES[level])
    return pd.DataFrame(
        {
            "texts.case_sentiment": newest["score"].round(2).to_numpy(),
            "texts.case_intent": newest["intent_label"].to_numpy(),
            "texts.case_priority": priority,
            "texts.case_entities": newest["entities"].to_numpy(),
        },
        index=_index(pd.Series(["Case"] * len(newest)), newest["case_id"]),
    )


def text_events(scored: pd.DataFrame, config: TextsConfig) -> pd.DataFrame:
    """Events for the intent score (rule 4): object, record_id, name, occurred_at, properties."""
    event_of = {intent.name: intent.event for intent in config.intents}
    rows: list[dict[str, object]] = []
    own = scored[scored["record_id"].notna() & scored["object"].notna()]
    for row in own.itertuples(index=False):
        names = [(event_of[name], name) for name in row.intents]
        if row.score <= config.sentiment.negative_at:
            names.append((NEGATIVE_EVENT, "negative"))
        for event, name in names:
            rows.append(
                {
                    "object": row.object,
                    "record_id": row.record_id,
                    "name": event,
                    # as the event log holds them: ISO 8601 text and JSON text
                    "occurred_at": pd.Timestamp(row.at).isoformat(),
                    "properties": json.dumps({"text_intent": name, "message_id": row.message_id}),
                }
            )
    return pd.DataFrame(rows, columns=["object", "record_id", "name", "occurred_at", "properties"])

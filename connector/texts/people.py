"""Per person: what the newest messages say, weighted by recency, and which way it is going.

Rules (pure, vectorised over a frame of scored messages):

1. Only each person's newest ``keep`` messages count (older ones are history the rep has seen).
2. A message ``d`` days old weighs ``0.5 ** (d / half_life_days)``; the person's sentiment is the
   weighted mean of their messages' scores, in [-1, 1].
3. ``last_*`` are those of the newest message (ties on time: the larger message id, so a re-run
   picks the same one).
4. Trend compares the newest score with the weighted mean of the earlier kept ones:
   ``improving`` when it is higher by more than ``trend_step``, ``worsening`` when lower by more,
   ``steady`` between; ``new`` for a person with one message.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

TRENDS: tuple[str, ...] = ("improving", "steady", "worsening", "new")


def newest(messages: pd.DataFrame, keep: int) -> pd.DataFrame:
    """Each person's newest ``keep`` messages (columns ``person_id``, ``at``, ``message_id``),
    newest first within a person."""
    ordered = messages.sort_values(
        ["person_id", "at", "message_id"], ascending=[True, False, False], kind="mergesort"
    )
    return ordered[ordered.groupby("person_id", sort=False).cumcount() < keep]


def person_sentiment(
    messages: pd.DataFrame,
    as_of: datetime,
    *,
    half_life_days: float = 30.0,
    keep: int = 20,
    trend_step: float = 0.3,
) -> pd.DataFrame:
    """One row per person (index ``person_id``): ``sentiment``, ``last_score``, ``last_label``,
    ``last_at``, ``last_message_id``, ``messages``, ``trend``. Input columns: ``person_id``,
    ``message_id``, ``at`` (aware UTC), ``score``, ``label``."""
    columns = ["sentiment", "last_score", "last_label", "last_at", "last_message_id"]
    if messages.empty:
        return pd.DataFrame(columns=[*columns, "messages", "trend"]).rename_axis("person_id")
    kept = newest(messages, keep).copy()
    age = (pd.Timestamp(as_of) - pd.to_datetime(kept["at"], utc=True)).dt.total_seconds()
    kept["w"] = np.power(0.5, np.clip(age.to_numpy() / 86_400.0, 0.0, None) / half_life_days)
    kept["ws"] = kept["w"] * kept["score"]
    kept["rank"] = kept.groupby("person_id", sort=False).cumcount()
    groups = kept.groupby("person_id", sort=True)
    out = pd.DataFrame({"sentiment": groups["ws"].sum() / groups["w"].sum()})
    first = kept[kept["rank"] == 0].set_index("person_id")
    out["last_score"] = first["score"]
    out["last_label"] = first["label"]
    out["last_at"] = first["at"]
    out["last_message_id"] = first["message_id"]
    out["messages"] = groups.size()
    earlier = kept[kept["rank"] > 0].groupby("person_id")
    before = earlier["ws"].sum() / earlier["w"].sum()
    change = out["last_score"] - before.reindex(out.index)
    out["trend"] = np.select(
        [change.isna(), change > trend_step, change < -trend_step],
        ["new", "improving", "worsening"],
        default="steady",
    )
    out["sentiment"] = out["sentiment"].clip(-1.0, 1.0)
    return out

"""The recommendations' JSON per person, built in one pass over the ranked picks, against the
per-person groupby it replaced (the same text for every person, whatever the row order)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.sync.orders_intel import _kept_rows, _ranked_json

PEOPLE = st.sampled_from(["Contact:003B", "Contact:003A", "Lead:00QA", "Contact:003C"])
PICKS = st.tuples(
    PEOPLE,
    st.sampled_from(["01tA", "01tB", "01tC"]),
    st.integers(1, 5),
    st.floats(0, 1, allow_nan=False),
    st.text(max_size=8),
)


def grouped(ranked: pd.DataFrame) -> pd.Series:
    """What the sync built before: a groupby apply per person."""
    return ranked.groupby("person", sort=True).apply(
        lambda g: json.dumps(
            [
                {"product": p, "rank": int(r), "score": float(s), "why": w}
                for p, r, s, w in zip(g["item"], g["rank"], g["score"], g["why"], strict=True)
            ]
        ),
        include_groups=False,
    )


@settings(deadline=None)
@given(st.lists(PICKS, min_size=1, max_size=30))
def test_one_pass_json_equals_the_groupby_per_person(rows: list[Any]) -> None:
    ranked = pd.DataFrame(rows, columns=["person", "item", "rank", "score", "why"])
    mine = _ranked_json(ranked)
    theirs = grouped(ranked)
    assert list(mine.index) == list(theirs.index)
    assert mine.tolist() == theirs.tolist()


def test_a_person_with_one_pick_and_people_out_of_order() -> None:
    ranked = pd.DataFrame(
        {
            "person": ["Contact:2", "Contact:1", "Contact:2"],
            "item": ["01tB", "01tA", "01tC"],
            "rank": [1, 1, 2],
            "score": [0.5, 0.25, 0.0],
            "why": ["bought with A", "popular", "popular"],
        }
    )
    out = _ranked_json(ranked)
    assert list(out.index) == ["Contact:1", "Contact:2"]
    assert json.loads(out["Contact:2"]) == [
        {"product": "01tB", "rank": 1, "score": 0.5, "why": "bought with A"},
        {"product": "01tC", "rank": 2, "score": 0.0, "why": "popular"},
    ]


def test_kept_rows_are_the_scores_as_the_store_keeps_them() -> None:
    scores = pd.DataFrame(
        {"score": [97, 3], "reasons": ["new email domain", ""], "flagged": [True, False]},
        index=pd.Index(["801A", "801B"]),
    )
    assert _kept_rows(scores, held=False) == [
        ("801A", 97, "new email domain", False),
        ("801B", 3, "", False),
    ]
    assert _kept_rows(scores.iloc[0:0], held=True) == []

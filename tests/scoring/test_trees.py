"""A gradient boosting winner persisted as JSON (its tree arrays, no pickle) predicts exactly
what the fitted scikit-learn model does, so the sync can write the score evaluate chose."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from connector.scoring.conversion import LeadConversionModel
from connector.scoring.selection import ConversionScorer, fit_candidate


def table(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Leads whose conversion depends on a category (with blanks and a long tail) and on a
    number (with gaps), in a way no straight line follows (a bump in the middle)."""
    rng = np.random.default_rng(seed)
    source = rng.choice(["Web", "Partner", "Ads", "Event", None], n, p=[0.3, 0.2, 0.2, 0.2, 0.1])
    industry = rng.choice([f"industry {k}" for k in range(40)], n)
    visits = rng.gamma(2.0, 2.0, n)
    visits[rng.random(n) < 0.1] = np.nan
    effect = np.select([source == "Web", source == "Partner"], [1.0, 0.5], -0.5)
    bump = np.where(np.abs(np.nan_to_num(visits, nan=0.0) - 4.0) < 2.0, 1.2, -0.4)
    won = rng.random(n) < 1.0 / (1.0 + np.exp(-(effect + bump - 0.5)))
    frame = pd.DataFrame({"LeadSource": source, "Industry": industry, "visits": visits})
    return frame, won.astype(np.int64)


@pytest.fixture(scope="module")
def boosting_scorer() -> tuple[ConversionScorer, pd.DataFrame]:
    frame, y = table(1500, seed=3)
    categorical, numeric = ["LeadSource", "Industry"], ["visits"]
    winner = fit_candidate("gradient_boosting", frame, y, categorical, numeric)
    logistic = LeadConversionModel().fit(frame, y, categorical, numeric)
    scorer = ConversionScorer(
        logistic, "gradient_boosting", winner.model, winner.slope, winner.intercept
    )
    return scorer, frame


def test_boosting_round_trips_through_json_with_identical_predictions(boosting_scorer) -> None:
    scorer, _ = boosting_scorer
    # new rows: categories never seen at fit time, blanks, missing numbers, numbers outside
    # the fitted range
    fresh, _ = table(2000, seed=4)
    fresh.loc[::7, "LeadSource"] = "Trade show"
    fresh.loc[::11, "Industry"] = None
    fresh.loc[::13, "visits"] = 1e6
    text = scorer.to_json()
    again = ConversionScorer.from_json(text)
    assert again.learner == "gradient_boosting"
    assert "trees" in json.loads(text)["boosting"]
    ours = scorer.predict_proba(fresh)
    theirs = again.predict_proba(fresh)
    # the same sums in the same order: equal to the last bit, not merely close
    np.testing.assert_array_equal(theirs, ours)
    # and the raw trees agree with scikit-learn's own predict_proba, row by row
    fitted, saved = scorer.boosting, again.boosting
    assert fitted is not None
    assert saved is not None
    np.testing.assert_array_equal(saved.predict_proba(fresh), fitted.predict_proba(fresh)[:, 1])
    # a calibrated probability that ranks: the rows that convert more often score higher
    assert np.unique(ours).size > 20


def test_winner_beats_a_line_where_the_shape_is_not_a_line(boosting_scorer) -> None:
    from sklearn.metrics import roc_auc_score

    scorer, _ = boosting_scorer
    fresh, y = table(3000, seed=5)
    boosted = roc_auc_score(y, scorer.predict_proba(fresh))
    line = roc_auc_score(y, scorer.logistic.predict_proba(fresh))
    assert boosted > line + 0.02


def test_a_stored_bare_logistic_model_loads_as_it_was_written() -> None:
    frame, y = table(600, seed=6)
    logistic = LeadConversionModel().fit(frame, y, ["LeadSource"], ["visits"])
    loaded = ConversionScorer.from_json(logistic.to_json())
    assert loaded.learner == "logistic"
    np.testing.assert_allclose(loaded.predict_proba(frame), logistic.predict_proba(frame))


def test_a_scorer_without_its_model_or_foreign_json_is_refused() -> None:
    frame, y = table(300, seed=7)
    logistic = LeadConversionModel().fit(frame, y, ["LeadSource"], [])
    with pytest.raises(ValueError, match="needs its model"):
        ConversionScorer(logistic, "gradient_boosting")
    with pytest.raises(ValueError, match="not a ConversionScorer"):
        ConversionScorer.from_json(json.dumps({"model": "Pickle"}))

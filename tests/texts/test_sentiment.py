"""The sentiment models on public rated text (the VADER authors' sets, tests/fixtures/texts):
the shipped default beats the lexicon on held-out tweets and product reviews; admins'
corrections move it where they say and little elsewhere; its JSON round-trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.texts.evaluate import compare, report
from connector.texts.sentiment import (
    LABELS,
    LexiconSentiment,
    LinearSentiment,
    default_model,
    sentiment_model,
)
from connector.texts.training import read_rated
from tests.support import REPO

RATED = REPO / "tests" / "fixtures" / "texts"


@pytest.fixture(scope="module")
def rated():  # type: ignore[no-untyped-def]
    return read_rated(RATED)


@pytest.mark.parametrize("name", ["vader_tweets", "vader_amazon_reviews"])
def test_default_beats_vader_on_held_out_rows(rated, name: str) -> None:  # type: ignore[no-untyped-def]
    held_out = rated[(rated["set"] == name) & (rated["split"] == "test")]
    assert len(held_out) > 1000
    out = compare(
        held_out["text"].tolist(), held_out["label"].tolist(), [default_model(), LexiconSentiment()]
    )
    assert out["linear"]["macro_f1"] > out["vader"]["macro_f1"]
    # and by a margin worth a default (measured 0.06-0.07)
    assert out["linear"]["macro_f1"] - out["vader"]["macro_f1"] > 0.03


def test_scores_are_bounded_and_ordered() -> None:
    texts = [
        "Thanks so much, everything arrived early and it is perfect!",
        "The parcel arrived on Tuesday.",
        "Terrible. The refund still has not arrived and nobody answers.",
    ]
    for model in (default_model(), LexiconSentiment()):
        scores = model.score(texts)
        assert np.all(scores >= -1.0)
        assert np.all(scores <= 1.0)
        assert scores[0] > scores[1] > scores[2]
        assert model.predict(texts)[0] == "positive"
        assert model.predict(texts)[2] == "negative"


def test_report_counts_the_confusion_by_hand() -> None:
    truth = ["negative", "negative", "neutral", "positive", "positive", "positive"]
    predicted = ["negative", "positive", "neutral", "positive", "neutral", "positive"]
    out = report(truth, predicted)
    assert out["confusion"]["matrix"] == [[1, 0, 1], [0, 1, 0], [0, 1, 2]]
    assert out["per_class"]["positive"]["precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert out["per_class"]["positive"]["recall"] == pytest.approx(2 / 3, abs=1e-4)
    # F1: negative 2/3, neutral 2/3, positive 2/3
    assert out["macro_f1"] == pytest.approx(2 / 3, abs=1e-4)


def test_corrections_move_the_model_where_they_say(rated) -> None:  # type: ignore[no-untyped-def]
    model = default_model()
    held_out = rated[rated["split"] == "test"]
    texts, truth = held_out["text"].tolist(), held_out["label"].tolist()
    before = report(truth, model.predict(texts))["macro_f1"]
    # a shop's own complaints, which public rated text calls neutral
    corrected = [
        "Where is my parcel? Order 1001 still not here.",
        "Still waiting for my order 2231, it has been two weeks.",
        "My order 3344 has not shipped yet.",
        "Order 5521 never arrived.",
        "Still no tracking number for order 6102.",
    ]
    unseen = ["Where is my order 7788? Still not here.", "My parcel 4420 has not arrived yet."]
    assert "neutral" in model.predict(unseen)
    fixed = model.corrected(corrected, ["negative"] * len(corrected))
    assert fixed.predict(corrected) == ["negative"] * len(corrected)
    assert fixed.predict(unseen) == ["negative"] * len(unseen)
    assert report(truth, fixed.predict(texts))["macro_f1"] > before - 0.01
    assert model.predict(unseen) != fixed.predict(unseen)  # the shipped model is untouched


def test_json_round_trip_predicts_the_same(rated) -> None:  # type: ignore[no-untyped-def]
    train = rated[rated["split"] == "train"].iloc[:400]
    model = LinearSentiment(char_features=500).fit(train["text"].tolist(), train["label"].tolist())
    again = LinearSentiment.from_dict(json.loads(json.dumps(model.to_dict())))
    sample = rated[rated["split"] == "test"]["text"].iloc[:200].tolist()
    assert again.predict(sample) == model.predict(sample)
    assert np.allclose(again.score(sample), model.score(sample), atol=1e-4)


def test_unknown_labels_and_models_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown sentiment labels"):
        LinearSentiment().fit(["good", "bad"], ["good", "bad"])
    with pytest.raises(ValueError, match="use 'linear' or 'vader'"):
        sentiment_model("bert")
    assert sentiment_model("vader").name == "vader"
    assert list(LABELS) == ["negative", "neutral", "positive"]


def test_evaluate_texts_prints_both_models_side_by_side(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = RATED / "vader_amazon_reviews.csv"
    result = CliRunner().invoke(main, ["evaluate", "texts", "--csv", str(source), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)["sets"]["vader_amazon_reviews"]
    assert out["linear"]["rows"] == out["vader"]["rows"] == 1104  # the test split only
    text = CliRunner().invoke(main, ["evaluate", "texts", "--csv", str(source)])
    assert "macro-F1" in text.output
    assert "linear" in text.output
    assert "vader" in text.output

    bad = tmp_path / "bad.csv"
    bad.write_text("body,tone\nlovely,great\n", encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["evaluate", "texts", "--csv", str(bad), "--text-column", "body", "--label-column", "tone"],
    )
    assert result.exit_code == 1
    assert "'great'" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1

"""Intents refined by a classifier once labelled messages exist, and the LSA embedding option,
on messages labelled for this project (tests/fixtures/intents, written from templates; the
test rows' phrasings are never in the train rows nor among models/texts.yaml's examples)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.errors import ConfigError
from connector.mapping.loader import load_yaml_model
from connector.reports.texts import (
    evaluate_intents_command,
    fit_intent_classifier,
    labelled_intents_csv,
)
from connector.texts.embedding import LsaEmbedding, shipped_embedding
from connector.texts.intent_classifier import IntentClassifier
from connector.texts.message_intents import IntentMatcher
from connector.texts.text_config import TextsConfig
from tests.support import REPO

CONFIG = load_yaml_model(REPO / "models" / "texts.yaml", TextsConfig)
WRITTEN = REPO / "tests" / "fixtures" / "intents" / "intents_written.csv"
NAMES = [intent.name for intent in CONFIG.intents]


@pytest.fixture(scope="module")
def written() -> tuple[list[str], list[list[str]], list[str]]:
    return labelled_intents_csv(WRITTEN, CONFIG, "text", "intents")


def test_the_fixture_is_what_its_script_writes() -> None:
    from tests.fixtures.intents.make_intents import rows

    frame = pd.read_csv(WRITTEN, dtype=str, keep_default_na=False)
    assert frame.to_dict("records") == rows()
    train = set(frame[frame["split"] == "train"]["text"])
    assert not train & set(frame[frame["split"] == "test"]["text"])
    examples = {e for intent in CONFIG.intents for e in intent.examples}
    assert not examples & set(frame["text"])


def test_the_classifier_beats_zero_shot_on_held_out_phrasings() -> None:
    out = evaluate_intents_command(CONFIG, [WRITTEN], "text", "intents", "test")
    result = out["sets"]["intents_written intents"]
    print({name: r["macro_f1"] for name, r in result.items()})
    assert result["ngrams"]["rows"] == 162
    # measured: classifier 0.647, n-grams 0.517, LSA 0.377
    assert result["classifier"]["macro_f1"] > result["ngrams"]["macro_f1"] + 0.05
    assert result["classifier"]["exact"] > result["ngrams"]["exact"]
    # which is why n-grams stay the default similarity
    assert result["ngrams"]["macro_f1"] > result["lsa"]["macro_f1"]


def test_evaluate_texts_prints_the_methods_side_by_side() -> None:
    result = CliRunner().invoke(
        main, ["evaluate", "texts", "--intents-csv", str(WRITTEN)], env={"L2L_MODELS_DIR": ""}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "intents_written intents: 162 texts (intents)"
    assert lines[1].split() == ["metric", "ngrams", "lsa", "classifier"]
    assert lines[2].startswith("  macro-F1")
    cells = [float(x) for x in lines[2].split()[1:]]
    assert cells[2] > cells[0] > cells[1]


def test_few_labels_leave_an_intent_zero_shot(written) -> None:  # type: ignore[no-untyped-def]
    texts, labels, _ = written
    # keep only 5 labelled messages of "meeting": under min_labels (20), zero-shot decides it
    kept: list[int] = []
    meetings = 0
    for i, row in enumerate(labels):
        if "meeting" in row:
            meetings += 1
            if meetings > 5:
                continue
        kept.append(i)
    fitted = fit_intent_classifier(CONFIG, [texts[i] for i in kept], [labels[i] for i in kept])
    assert fitted.counts_["meeting"] == 5
    assert "meeting" not in fitted.intents_
    assert "pricing" in fitted.intents_
    matcher = IntentMatcher(CONFIG, fitted)
    assert "meeting" not in matcher.learnt()
    zero_shot = IntentMatcher(CONFIG)
    text = "Could we book a demo for our team on Thursday?"
    assert [m.name for m in matcher.match([text])[0]] == [
        m.name for m in zero_shot.match([text])[0]
    ]


def test_a_learnt_intent_names_its_phrase_and_round_trips_as_json(written) -> None:  # type: ignore[no-untyped-def]
    texts, labels, splits = written
    train = [i for i, s in enumerate(splits) if s == "train"]
    fitted = fit_intent_classifier(CONFIG, [texts[i] for i in train], [labels[i] for i in train])
    again = IntentClassifier.from_dict(json.loads(json.dumps(fitted.to_dict())))
    message = "Hello team, thanks for the call. Is the router cheaper if we pay yearly? Best, Sam"
    for model in (fitted, again):
        (found,) = IntentMatcher(CONFIG, model).match([message])
        assert [m.name for m in found][:1] == ["pricing"]
        assert found[0].phrase == "Is the router cheaper if we pay yearly?"
        assert CONFIG.learn.at <= found[0].confidence <= 1.0
    prior = IntentMatcher(CONFIG).message_similarities(texts[:50])
    assert np.allclose(fitted.proba(texts[:50], prior), again.proba(texts[:50], prior), atol=1e-4)


def test_a_classifier_of_another_catalog_is_not_used(written) -> None:  # type: ignore[no-untyped-def]
    texts, labels, _ = written
    fitted = fit_intent_classifier(CONFIG, texts, labels)
    fewer = CONFIG.model_copy(update={"intents": CONFIG.intents[:-1]})
    assert IntentMatcher(fewer, fitted).learnt() == []


def test_a_bad_label_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text("text,intents\nhello,none\nrefund me,Refund\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        labelled_intents_csv(bad, CONFIG, "text", "intents")
    assert "labels.csv:3" in str(caught.value)
    assert "'refund'" in str(caught.value)
    good = tmp_path / "good.csv"
    good.write_text(
        "text,intents\nhello,none\nrefund me,Cancellation or refund;complaint\n", encoding="utf-8"
    )
    _, labels, _ = labelled_intents_csv(good, CONFIG, "text", "intents")
    assert labels == [[], ["cancellation", "complaint"]]


def test_the_lsa_embedding_learns_what_words_go_together() -> None:
    corpus = [
        "refund my money please",
        "i want a refund of my money",
        "money back refund now",
        "the demo call was great",
        "book a demo call",
        "a call for the demo",
    ] * 3
    model = LsaEmbedding(dimensions=2, min_df=1).fit(corpus)
    vectors = model.embed(["refund", "money", "demo", "unseenword"])
    assert vectors[0] @ vectors[1] > 0.9  # never in one text together here, yet close
    assert vectors[0] @ vectors[2] < 0.5
    assert not vectors[3].any()  # words the corpus never saw: the zero vector
    again = LsaEmbedding.from_dict(json.loads(json.dumps(model.to_dict())))
    assert np.allclose(again.embed(["refund money"]), model.embed(["refund money"]), atol=1e-2)


def test_the_shipped_embedding_loads_with_its_provenance() -> None:
    shipped = shipped_embedding()
    assert shipped.components_.shape == (64, len(shipped.vocabulary_))
    assert "refund" in shipped.vocabulary_
    data = json.loads((REPO / "connector" / "texts" / "lsa_embedding.json").read_text())
    assert "VADER" in data["source"]
    lsa = CONFIG.model_copy(update={"similarity": "lsa"})
    (found,) = IntentMatcher(lsa, embedding=shipped).match(["I want a refund for my order."])
    assert "cancellation" in [m.name for m in found]


def test_fit_texts_from_a_csv_and_its_clear_errors(env: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    models = Path("models")
    models.mkdir()
    (models / "texts.yaml").write_text(
        (REPO / "models" / "texts.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    monkeypatch.setenv("L2L_MODELS_DIR", str(models.resolve()))
    runner = CliRunner()
    empty = runner.invoke(main, ["fit", "texts"])
    assert empty.exit_code != 0
    assert "no labelled messages" in empty.output
    assert "Traceback" not in empty.output
    bad = Path("bad.csv")
    bad.write_text("text,intents\nrefund me,refunds\n", encoding="utf-8")
    wrong = runner.invoke(main, ["fit", "texts", "--csv", str(bad)])
    assert wrong.exit_code != 0
    assert "bad.csv:2" in wrong.output
    assert "Traceback" not in wrong.output
    done = runner.invoke(main, ["fit", "texts", "--csv", str(WRITTEN)])
    assert done.exit_code == 0, done.output
    assert "486 labelled messages" in done.output
    assert "pricing" in done.output
    assert "learnt" in done.output
    held = next(line for line in done.output.splitlines() if line.startswith("held-out fifth"))
    zero_shot, learnt = (float(x.strip(",")) for x in held.split()[-3::2])
    assert learnt > zero_shot  # the same rows are held out every time
    written = json.loads((models / "texts.intents.json").read_text(encoding="utf-8"))
    assert written["intents"] == NAMES  # every intent has over 20 labels in the set

"""Intents learnt from labelled messages: once an admin has labelled enough messages of an
intent (the ``L2L_Intent_Override__c`` picklist on EmailMessage and Case, or a labelled CSV
given to ``lead2loyalty fit texts``), a classifier decides that intent instead of the zero-shot
similarity to its examples (``connector.texts.message_intents``).

How (pure; ``fit`` once, then ``proba`` on any number of texts):

1. Features: TF-IDF of word uni/bigrams and of character 2-5-grams within words (the zero-shot
   matcher's features, so "cancelled"/"cancel" and typos still meet), learnt from the labelled
   texts, and the zero-shot similarity of the text to each intent's examples (times
   ``prior_scale``): the classifier refines zero-shot rather than starting from nothing, so a
   phrasing none of the labelled messages used is still found through the examples.
2. One logistic regression per intent, one-vs-rest (a message may have several intents, or
   none: a labelled message with no intent is a negative for every intent), only for intents
   with at least ``min_labels`` labelled messages; the others stay zero-shot.
3. A message has a learnt intent when its probability is at least ``at``; the phrase is its
   sentence with the highest probability of that intent.

The learnt values (vocabularies, idf weights, coefficients) are JSON (``to_dict``), never a
pickle; ``fit texts`` writes them to ``models/texts.intents.json`` and ``doctor`` names them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from connector.errors import ConfigError
from connector.texts.sentiment import head_from_dict, head_to_dict

Float = npt.NDArray[np.float64]
#: Where ``fit texts`` writes the learnt intents, beside models/texts.yaml.
CLASSIFIER_FILE = "texts.intents.json"
KIND = "intent_classifier"


class IntentClassifier:
    """One-vs-rest logistic heads over word and character TF-IDF, for the intents with enough
    labels. Learnt: ``intents_`` (the learnt intents' names), ``counts_`` (labelled messages per
    intent, learnt or not), ``rows_``, vocabularies, idf weights, ``coef_`` (intents x
    features) and ``intercept_``."""

    name = "classifier"

    def __init__(
        self, C: float = 1.0, min_labels: int = 20, at: float = 0.5, prior_scale: float = 5.0
    ) -> None:
        self.C = C
        self.min_labels = min_labels
        self.at = at
        self.prior_scale = prior_scale

    def _word(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, vocabulary=vocabulary, dtype=np.float64
        )

    def _char(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 5),
            min_df=1 if vocabulary is not None else 2,
            sublinear_tf=True,
            vocabulary=vocabulary,
            dtype=np.float64,
        )

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[Sequence[str]],
        intents: Sequence[str],
        prior: Float,
        examples: Sequence[tuple[str, str]] = (),
        example_prior: Float | None = None,
    ) -> IntentClassifier:
        """Learn from ``texts`` and their intents (names of ``intents``; empty: none);
        ``prior``: the zero-shot similarity of each text to each of ``intents``, (n, intents).
        ``examples`` ((text, intent) of models/texts.yaml) and their ``example_prior`` join
        the training rows, so an intent's head also learns what the other intents look like
        (a handful of labels, all of one intent, would otherwise teach "everything is it"),
        but they do not count towards ``min_labels``."""
        if len(texts) != len(labels) or prior.shape != (len(texts), len(intents)):
            raise ValueError("one list of intents and one row of similarities per text")
        self.catalog_ = [str(name) for name in intents]
        unknown = sorted({name for row in labels for name in row} - set(intents))
        if unknown:
            raise ValueError(f"unknown intents {unknown}; the catalog has {list(intents)}")
        self.counts_ = {name: sum(name in row for row in labels) for name in intents}
        self.rows_ = len(texts)
        self.intents_ = [
            name
            for name in intents
            if self.min_labels <= self.counts_[name] < len(texts)  # both classes present
        ]
        self.word_vocabulary_: dict[str, int] = {}
        self.char_vocabulary_: dict[str, int] = {}
        self.word_idf_ = np.zeros(0)
        self.char_idf_ = np.zeros(0)
        self.coef_ = np.zeros((0, 0))
        self.intercept_ = np.zeros(0)
        if not self.intents_:
            return self
        if examples:
            texts = [*texts, *(text for text, _ in examples)]
            labels = [*labels, *([name] for _, name in examples)]
            prior = np.vstack([prior, np.asarray(example_prior, dtype=np.float64)])
        word = self._word().fit(texts)
        char = self._char().fit(texts)
        self.word_vocabulary_ = {str(k): int(v) for k, v in word.vocabulary_.items()}
        self.word_idf_ = np.asarray(word.idf_, dtype=np.float64)
        self.char_vocabulary_ = {str(k): int(v) for k, v in char.vocabulary_.items()}
        self.char_idf_ = np.asarray(char.idf_, dtype=np.float64)
        x = self.features(texts, prior)
        coef, intercept = [], []
        for name in self.intents_:
            y = np.array([name in row for row in labels], dtype=int)
            head = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced").fit(x, y)
            coef.append(head.coef_[0])
            intercept.append(float(head.intercept_[0]))
        self.coef_ = np.asarray(coef, dtype=np.float64)
        self.intercept_ = np.asarray(intercept, dtype=np.float64)
        return self

    def features(self, texts: Sequence[str], prior: Float) -> sp.csr_matrix:
        """Word TF-IDF | character TF-IDF | zero-shot similarities x ``prior_scale``."""
        word = self._word(self.word_vocabulary_)
        word.idf_ = self.word_idf_
        char = self._char(self.char_vocabulary_)
        char.idf_ = self.char_idf_
        dense = sp.csr_matrix(np.asarray(prior, dtype=np.float64) * self.prior_scale)
        return sp.hstack([word.transform(texts), char.transform(texts), dense], format="csr")

    def proba(self, texts: Sequence[str], prior: Float) -> Float:
        """P(intent) per text, columns in ``intents_`` order, shape (n, learnt intents);
        ``prior`` as for ``fit``, columns in ``catalog_`` order."""
        if not texts or not self.intents_:
            return np.zeros((len(texts), len(self.intents_)))
        logits = np.asarray(self.features(texts, prior) @ self.coef_.T, dtype=np.float64)
        return np.asarray(1.0 / (1.0 + np.exp(-(logits + self.intercept_))), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters and learnt values (floats to 6 significant digits)."""
        return {
            "model": KIND,
            "params": {
                "C": self.C,
                "min_labels": self.min_labels,
                "at": self.at,
                "prior_scale": self.prior_scale,
            },
            "rows": self.rows_,
            "catalog": self.catalog_,
            "counts": self.counts_,
            "intents": self.intents_,
            **head_to_dict(self),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IntentClassifier:
        """The classifier ``to_dict`` wrote."""
        if data.get("model") != KIND:
            raise ValueError(f"not an intent classifier (model is {data.get('model')!r})")
        model = cls(**data["params"])
        model.rows_ = int(data["rows"])
        model.catalog_ = [str(name) for name in data["catalog"]]
        model.counts_ = {str(k): int(v) for k, v in data["counts"].items()}
        model.intents_ = [str(name) for name in data["intents"]]
        head_from_dict(model, data)
        n_features = len(model.word_vocabulary_) + len(model.char_vocabulary_) + len(model.catalog_)
        model.coef_ = model.coef_.reshape(len(model.intents_), n_features if model.intents_ else 0)
        return model


def load_intent_classifier(models_dir: Path) -> IntentClassifier | None:
    """The classifier ``fit texts`` wrote into ``models_dir`` (None: none was fitted); a file
    that cannot be read is a ConfigError naming it."""
    path = Path(models_dir) / CLASSIFIER_FILE
    if not path.exists():
        return None
    try:
        return IntentClassifier.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not an intent classifier fit texts wrote ({type(exc).__name__}); "
            "run `lead2loyalty fit texts` again or delete the file"
        ) from None

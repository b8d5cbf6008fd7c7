"""Sentiment of one message: a label (negative / neutral / positive) and a score in [-1, 1].

Two models, one contract (``predict`` labels, ``score`` numbers, both over a list of texts):

- ``LexiconSentiment``: VADER (Hutto & Gilbert, ICWSM-14; the ``vaderSentiment`` package, which
  ships its lexicon). The score is VADER's ``compound``; the label follows the thresholds the
  package's README recommends: positive at compound >= 0.05, negative at <= -0.05, neutral between.
  It needs no training and is the fallback.
- ``LinearSentiment``, the default: a multinomial logistic head over TF-IDF word uni/bigrams, TF-IDF
  character 2-4-grams within words (misspellings, "sooo", emoticons) and VADER's four scores
  (compound, pos, neg, neu) as dense features. The score is P(positive) - P(negative). Its learned
  parameters (vocabularies, idf weights, coefficients) are package data in JSON
  (``sentiment_model.json``, written by ``connector.texts.training``), never a pickle; loading
  needs no download.

Measured on the held-out 30% of the VADER authors' rated sets (tests/fixtures/texts, trained on
the other 70% only; ``lead2loyalty evaluate texts``): see ``training.py`` for the figures.

Admin corrections (``L2L_Sentiment_Override__c``) refine the shipped head without its training data:
``LinearSentiment.corrected`` minimises the log loss on the corrected messages plus
``0.5 * ||W - W_shipped||^2`` over the weights of the words and character n-grams those messages
contain (the shipped weights are the prior, in the scale of scikit-learn's L2 term), so corrections
move the model where they say and little elsewhere: 20 corrected held-out sentences all flipped,
the other 2,321 lost 0.004 macro-F1 (tests/texts/test_sentiment.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

Float = npt.NDArray[np.float64]

LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")
#: vaderSentiment README, "About the Scoring": compound >= 0.05 positive, <= -0.05 negative.
VADER_THRESHOLD = 0.05
DEFAULT_MODEL = "sentiment_model.json"


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def vader_features(texts: Sequence[str]) -> Float:
    """VADER's (compound, pos, neg, neu) per text, shape (n, 4)."""
    analyzer = _analyzer()
    rows = [analyzer.polarity_scores(text) for text in texts]
    return np.array(
        [[row["compound"], row["pos"], row["neg"], row["neu"]] for row in rows], dtype=np.float64
    ).reshape(len(rows), 4)


def labels_from_scores(scores: Float, threshold: float) -> list[str]:
    """negative / neutral / positive from scores in [-1, 1]: at or beyond +-threshold."""
    return [
        LABELS[2] if value >= threshold else LABELS[0] if value <= -threshold else LABELS[1]
        for value in scores.tolist()
    ]


class LexiconSentiment:
    """VADER: compound score, labels at +-``threshold`` (0.05 as its authors recommend)."""

    name = "vader"

    def __init__(self, threshold: float = VADER_THRESHOLD) -> None:
        self.threshold = threshold

    def score(self, texts: Sequence[str]) -> Float:
        """VADER's compound score per text, in [-1, 1]."""
        return vader_features(texts)[:, 0]

    def predict(self, texts: Sequence[str]) -> list[str]:
        """A label per text."""
        return labels_from_scores(self.score(texts), self.threshold)


class LinearSentiment:
    """TF-IDF words + characters + VADER's scores -> multinomial logistic regression.

    Parameters: ``C`` (inverse L2 strength, as scikit-learn's), ``vader_scale`` (VADER's four
    scores are multiplied by it, so the L2 penalty does not drown them), ``word_min_df`` and
    ``char_features`` (vocabulary sizes). Learned: ``word_vocabulary_``, ``word_idf_``,
    ``char_vocabulary_``, ``char_idf_``, ``coef_`` (3 x features, rows in ``LABELS`` order),
    ``intercept_``.
    """

    name = "linear"

    def __init__(
        self,
        C: float = 3.0,
        vader_scale: float = 3.0,
        word_min_df: int = 2,
        char_features: int = 8000,
    ) -> None:
        self.C = C
        self.vader_scale = vader_scale
        self.word_min_df = word_min_df
        self.char_features = char_features

    # the two vectorizers, configured identically for fit and for a model loaded from JSON
    def _word(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            ngram_range=(1, 2),
            min_df=self.word_min_df,
            sublinear_tf=True,
            vocabulary=vocabulary,
            dtype=np.float64,
        )

    def _char(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 4),
            min_df=3,
            max_features=None if vocabulary is not None else self.char_features,
            sublinear_tf=True,
            vocabulary=vocabulary,
            dtype=np.float64,
        )

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> LinearSentiment:
        """Learn vocabularies, idf weights and the logistic head from labelled texts."""
        unknown = sorted(set(labels) - set(LABELS))
        if unknown:
            raise ValueError(f"unknown sentiment labels {unknown}; use {list(LABELS)}")
        word = self._word().fit(texts)
        char = self._char().fit(texts)
        self.word_vocabulary_ = {str(k): int(v) for k, v in word.vocabulary_.items()}
        self.word_idf_ = np.asarray(word.idf_, dtype=np.float64)
        self.char_vocabulary_ = {str(k): int(v) for k, v in char.vocabulary_.items()}
        self.char_idf_ = np.asarray(char.idf_, dtype=np.float64)
        head = LogisticRegression(C=self.C, max_iter=3000)
        head.fit(self.features(texts), np.array([LABELS.index(label) for label in labels]))
        self.coef_ = np.asarray(head.coef_, dtype=np.float64)
        self.intercept_ = np.asarray(head.intercept_, dtype=np.float64)
        return self

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The design matrix: word TF-IDF | char TF-IDF | VADER scores x vader_scale."""
        word = self._word(self.word_vocabulary_)
        word.idf_ = self.word_idf_
        char = self._char(self.char_vocabulary_)
        char.idf_ = self.char_idf_
        dense = sp.csr_matrix(vader_features(texts) * self.vader_scale)
        return sp.hstack([word.transform(texts), char.transform(texts), dense], format="csr")

    def predict_proba(self, texts: Sequence[str]) -> Float:
        """P(label) per text, columns in ``LABELS`` order."""
        if not texts:
            return np.zeros((0, 3))
        logits = self.features(texts) @ self.coef_.T + self.intercept_
        return _softmax(np.asarray(logits, dtype=np.float64))

    def score(self, texts: Sequence[str]) -> Float:
        """P(positive) - P(negative), in [-1, 1]."""
        proba = self.predict_proba(texts)
        return proba[:, 2] - proba[:, 0]

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label per text."""
        return [LABELS[i] for i in self.predict_proba(texts).argmax(axis=1).tolist()]

    def corrected(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        weight: float = 1.0,
        anchor: float = 1.0,
    ) -> LinearSentiment:
        """A copy refined by admins' corrections: minimises ``C * weight * logloss(corrections)
        + 0.5 * anchor * ||W - W_self||^2`` over the coefficients of the text features the
        corrections contain (vocabularies, intercepts and VADER's columns unchanged)."""
        if not texts:
            return self
        x = self.features(texts)
        # only the text features the corrections contain move: the intercepts and VADER's
        # dense columns are shared by every message, and moving them for a handful of
        # corrections cost 0.10 macro-F1 on held-out rated text (measured, 20 corrections)
        n_text = len(self.word_vocabulary_) + len(self.char_vocabulary_)
        active = np.unique(x[:, :n_text].nonzero()[1])
        x_active = x[:, active]
        fixed_logits = np.asarray(
            x[:, n_text:] @ self.coef_[:, n_text:].T + self.intercept_, dtype=np.float64
        )
        onehot = np.eye(3)[np.array([LABELS.index(label) for label in labels])]
        prior = self.coef_[:, active]
        scale = self.C * weight

        def objective(flat: Float) -> tuple[float, Float]:
            w = flat.reshape(prior.shape)
            proba = _softmax(np.asarray(x_active @ w.T, dtype=np.float64) + fixed_logits)
            loss = -float(np.sum(onehot * np.log(np.clip(proba, 1e-12, None))))
            grad = np.asarray((x_active.T @ (proba - onehot)).T, dtype=np.float64)
            delta = w - prior
            penalty = 0.5 * anchor * float(np.sum(delta**2))
            return scale * loss + penalty, (scale * grad + anchor * delta).ravel()

        result = minimize(objective, prior.ravel(), jac=True, method="L-BFGS-B")
        coef = self.coef_.copy()
        coef[:, active] = np.asarray(result.x, dtype=np.float64).reshape(prior.shape)
        model = LinearSentiment(self.C, self.vader_scale, self.word_min_df, self.char_features)
        model.word_vocabulary_ = self.word_vocabulary_
        model.word_idf_ = self.word_idf_
        model.char_vocabulary_ = self.char_vocabulary_
        model.char_idf_ = self.char_idf_
        model.coef_ = coef
        model.intercept_ = self.intercept_
        return model

    def to_dict(self) -> dict[str, Any]:
        """Parameters and learned values as JSON-ready data (vocabularies as index-ordered lists;
        floats rounded to 6 significant digits, which moves no held-out label)."""
        return {
            "model": self.name,
            "labels": list(LABELS),
            "params": {
                "C": self.C,
                "vader_scale": self.vader_scale,
                "word_min_df": self.word_min_df,
                "char_features": self.char_features,
            },
            **head_to_dict(self),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearSentiment:
        """The model ``to_dict`` wrote."""
        if data.get("model") != cls.name or data.get("labels") != list(LABELS):
            raise ValueError("not a linear sentiment model of labels negative/neutral/positive")
        model = cls(**data["params"])
        head_from_dict(model, data)
        return model


def _softmax(logits: Float) -> Float:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)


def _ordered(vocabulary: dict[str, int]) -> list[str]:
    return [term for term, _ in sorted(vocabulary.items(), key=lambda item: item[1])]


def _rounded(values: Float) -> list[float]:
    return [float(f"{value:.6g}") for value in np.asarray(values).tolist()]


def head_to_dict(model: Any) -> dict[str, Any]:
    """The JSON form of a linear head over word and character TF-IDF (this model's and the
    learnt intents', ``intent_classifier.py``): vocabularies as index-ordered lists, floats to
    6 significant digits."""
    return {
        "word_vocabulary": _ordered(model.word_vocabulary_),
        "word_idf": _rounded(model.word_idf_),
        "char_vocabulary": _ordered(model.char_vocabulary_),
        "char_idf": _rounded(model.char_idf_),
        "coef": [_rounded(row) for row in model.coef_],
        "intercept": _rounded(model.intercept_),
    }


def head_from_dict(model: Any, data: dict[str, Any]) -> None:
    """Set on ``model`` the head :func:`head_to_dict` wrote (``coef_`` as the rows it holds)."""
    model.word_vocabulary_ = {term: i for i, term in enumerate(data["word_vocabulary"])}
    model.word_idf_ = np.array(data["word_idf"], dtype=np.float64)
    model.char_vocabulary_ = {term: i for i, term in enumerate(data["char_vocabulary"])}
    model.char_idf_ = np.array(data["char_idf"], dtype=np.float64)
    model.coef_ = np.array(data["coef"], dtype=np.float64)
    model.intercept_ = np.array(data["intercept"], dtype=np.float64)


@cache
def default_model() -> LinearSentiment:
    """The shipped default (package data ``sentiment_model.json``), loaded once."""
    text = resources.files("connector.texts").joinpath(DEFAULT_MODEL).read_text(encoding="utf-8")
    return LinearSentiment.from_dict(json.loads(text))


def sentiment_model(name: str = "linear") -> LexiconSentiment | LinearSentiment:
    """A sentiment model by name: ``linear`` (the default) or ``vader`` (the lexicon)."""
    if name == "vader":
        return LexiconSentiment()
    if name == "linear":
        return default_model()
    raise ValueError(f"unknown sentiment model {name!r}; use 'linear' or 'vader'")

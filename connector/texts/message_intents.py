"""What a message is about: intents of ``models/texts.yaml`` matched zero-shot from their
examples, several per message, each with a confidence and the phrase that matched.

How (pure; fitted once per config, then applied to any number of messages):

1. Every example and every sentence of a message becomes a TF-IDF vector of character 2-5-grams
   within words (robust to typos, plurals, "cancelled"/"cancel"), L2-normalised; the idf comes
   from the examples.
2. A sentence's similarity to an intent is its best cosine with one of the intent's examples;
   a message's confidence for the intent is its best sentence's; that sentence is the phrase.
3. The message has every intent whose confidence is at least ``threshold``, most confident first.

Cheap entities are pulled beside it (``entities``): order numbers, amounts, product names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from connector.texts.text_config import TextsConfig

_SENTENCES = re.compile(r"(?<=[.!?;])\s+|\n+")
_ORDER = re.compile(
    r"\b(?:order|invoice|ref(?:erence)?|#)\s*(?:no\.?|number|nr\.?|#)?\s*:?\s*"
    r"#?([A-Z]{0,3}-?\d{3,12})\b",
    re.IGNORECASE,
)
_AMOUNT = re.compile(
    r"(?:(?P<cur>[$€£])\s?(?P<a>\d[\d,]*(?:\.\d{1,2})?)"
    r"|(?P<b>\d[\d,]*(?:\.\d{1,2})?)\s?(?P<code>USD|EUR|GBP|dollars|euros|pounds)\b)",
    re.IGNORECASE,
)
_CURRENCY = {"$": "USD", "€": "EUR", "£": "GBP", "dollars": "USD", "euros": "EUR", "pounds": "GBP"}


@dataclass(frozen=True)
class IntentMatch:
    """One intent of one message."""

    name: str
    label: str
    confidence: float
    phrase: str


@dataclass(frozen=True)
class Entities:
    """What a message names: order numbers, amounts (value, ISO currency), products."""

    orders: tuple[str, ...] = ()
    amounts: tuple[tuple[float, str], ...] = ()
    products: tuple[str, ...] = ()


@dataclass
class IntentMatcher:
    """Intents of ``config``, fitted from their examples at construction."""

    config: TextsConfig
    _vectorizer: TfidfVectorizer = field(init=False, repr=False)
    _examples: np.ndarray = field(init=False, repr=False)
    _owner: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        texts = [example for intent in self.config.intents for example in intent.examples]
        self._owner = np.array(
            [i for i, intent in enumerate(self.config.intents) for _ in intent.examples]
        )
        self._vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, lowercase=True
        )
        self._examples = self._vectorizer.fit_transform(texts).T.tocsc()

    def similarities(self, sentences: Sequence[str]) -> np.ndarray:
        """Best cosine of each sentence with each intent's examples, shape (n, intents)."""
        n_intents = len(self.config.intents)
        if not sentences:
            return np.zeros((0, n_intents))
        cosine = np.asarray((self._vectorizer.transform(sentences) @ self._examples).todense())
        best = np.zeros((len(sentences), n_intents))
        for i in range(n_intents):
            best[:, i] = cosine[:, self._owner == i].max(axis=1)
        return best

    def match(self, texts: Sequence[str]) -> list[list[IntentMatch]]:
        """Per message, the intents at or above the threshold, most confident first."""
        pieces: list[str] = []
        owner: list[int] = []
        for m, text in enumerate(texts):
            for sentence in _SENTENCES.split(text):
                if sentence.strip():
                    pieces.append(sentence.strip())
                    owner.append(m)
        sims = self.similarities(pieces)
        out: list[list[IntentMatch]] = [[] for _ in texts]
        best: dict[tuple[int, int], tuple[float, str]] = {}
        for row, m in enumerate(owner):
            for i in np.flatnonzero(sims[row] >= self.config.threshold).tolist():
                score = float(sims[row, i])
                if score > best.get((m, i), (-1.0, ""))[0]:
                    best[(m, i)] = (score, pieces[row])
        for (m, i), (score, phrase) in best.items():
            intent = self.config.intents[i]
            out[m].append(IntentMatch(intent.name, intent.label, round(score, 3), phrase))
        for matches in out:
            matches.sort(key=lambda match: (-match.confidence, match.name))
        return out


def entities(text: str, products: Sequence[str] = ()) -> Entities:
    """Order numbers, amounts and product names (whole words, any case) named in ``text``."""
    orders = tuple(dict.fromkeys(m.group(1).upper() for m in _ORDER.finditer(text)))
    amounts: list[tuple[float, str]] = []
    for m in _AMOUNT.finditer(text):
        raw = m.group("a") or m.group("b")
        symbol = m.group("cur") or m.group("code")
        currency = _CURRENCY.get(symbol.lower() if symbol.isalpha() else symbol, symbol.upper())
        amounts.append((float(raw.replace(",", "")), currency))
    lowered = text.lower()
    named = tuple(
        name
        for name in products
        if name and re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", lowered)
    )
    return Entities(orders, tuple(amounts), named)

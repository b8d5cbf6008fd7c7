"""What a message is about: intents of ``models/texts.yaml`` matched zero-shot from their
examples, several per message, each with a confidence and the phrase that matched.

How (pure; fitted once per config, then applied to any number of messages):

1. Every example and every sentence of a message becomes a TF-IDF vector of character 2-5-grams
   within words (robust to typos, plurals, "cancelled"/"cancel"), L2-normalised; the idf comes
   from the examples.
2. A sentence's similarity to an intent is its best cosine with one of the intent's examples;
   a message's confidence for the intent is its best sentence's; that sentence is the phrase.
3. The message has every intent whose confidence is at least ``threshold``, most confident first.
   With ``similarity: lsa`` the vectors are the shipped LSA embedding's
   (``connector.texts.embedding``) and the bar is ``lsa_threshold``.
4. An intent the admin's labels taught (``classifier``, ``connector.texts.intent_classifier``)
   is decided by its classifier instead: the message has it when its probability is at least
   ``learn.at`` of models/texts.yaml (read at each run, no refit needed); the confidence is that
   probability and the phrase the message's sentence most probably of that intent.

Cheap entities are pulled beside it (``entities``): order numbers, amounts, product names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from connector.texts.embedding import LsaEmbedding
from connector.texts.intent_classifier import IntentClassifier
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
    classifier: IntentClassifier | None = None
    embedding: LsaEmbedding | None = None
    _vectorizer: TfidfVectorizer = field(init=False, repr=False)
    _examples: np.ndarray = field(init=False, repr=False)
    _embedded: np.ndarray = field(init=False, repr=False)
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
        if self.embedding is not None:
            self._embedded = self.embedding.embed(texts).T

    def similarities(self, sentences: Sequence[str]) -> np.ndarray:
        """Best cosine of each sentence with each intent's examples, shape (n, intents)."""
        n_intents = len(self.config.intents)
        if not sentences:
            return np.zeros((0, n_intents))
        if self.embedding is not None:
            cosine = np.clip(self.embedding.embed(sentences) @ self._embedded, 0.0, 1.0)
        else:
            cosine = np.asarray((self._vectorizer.transform(sentences) @ self._examples).todense())
        best = np.zeros((len(sentences), n_intents))
        for i in range(n_intents):
            best[:, i] = cosine[:, self._owner == i].max(axis=1)
        return best

    def split(self, texts: Sequence[str]) -> tuple[list[str], list[int]]:
        """Every non-empty sentence of ``texts`` and the index of the text it came from."""
        pieces: list[str] = []
        owner: list[int] = []
        for m, text in enumerate(texts):
            for sentence in _SENTENCES.split(text):
                if sentence.strip():
                    pieces.append(sentence.strip())
                    owner.append(m)
        return pieces, owner

    def message_similarities(self, texts: Sequence[str]) -> np.ndarray:
        """Each text's best sentence similarity to each intent, shape (n, intents): the
        zero-shot confidence, and what a learnt classifier starts from."""
        pieces, owner = self.split(texts)
        return _per_message(self.similarities(pieces), owner, len(texts))

    def learnt(self) -> list[str]:
        """The intents the classifier decides (it must know the catalog, in order)."""
        names = [intent.name for intent in self.config.intents]
        if self.classifier is None or self.classifier.catalog_ != names:
            return []
        return list(self.classifier.intents_)

    def match(self, texts: Sequence[str]) -> list[list[IntentMatch]]:
        """Per message, the intents at or above the threshold, most confident first."""
        pieces, owner = self.split(texts)
        sims = self.similarities(pieces)
        out: list[list[IntentMatch]] = [[] for _ in texts]
        best: dict[tuple[int, int], tuple[float, str]] = {}
        names = [intent.name for intent in self.config.intents]
        learnt = self.learnt()
        zero_shot = np.array([name not in learnt for name in names], dtype=bool)
        at = self.config.threshold if self.embedding is None else self.config.lsa_threshold
        for row, m in enumerate(owner):
            for i in np.flatnonzero((sims[row] >= at) & zero_shot).tolist():
                score = float(sims[row, i])
                if score > best.get((m, i), (-1.0, ""))[0]:
                    best[(m, i)] = (score, pieces[row])
        if learnt:
            best.update(self._learnt(texts, pieces, owner, sims, learnt))
        for (m, i), (score, phrase) in best.items():
            intent = self.config.intents[i]
            out[m].append(IntentMatch(intent.name, intent.label, round(score, 3), phrase))
        for matches in out:
            matches.sort(key=lambda match: (-match.confidence, match.name))
        return out

    def _learnt(
        self,
        texts: Sequence[str],
        pieces: list[str],
        owner: list[int],
        sims: np.ndarray,
        learnt: list[str],
    ) -> dict[tuple[int, int], tuple[float, str]]:
        # rule 4: the message's probability decides; its likeliest sentence is the phrase
        assert self.classifier is not None
        names = [intent.name for intent in self.config.intents]
        whole = self.classifier.proba(list(texts), _per_message(sims, owner, len(texts)))
        parts = self.classifier.proba(pieces, sims)
        owners = np.asarray(owner)
        found: dict[tuple[int, int], tuple[float, str]] = {}
        for m, i in zip(*np.nonzero(whole >= self.config.learn.at), strict=True):
            rows = np.flatnonzero(owners == m)
            phrase = pieces[rows[int(parts[rows, i].argmax())]] if rows.size else texts[m]
            found[(int(m), names.index(learnt[i]))] = (float(whole[m, i]), phrase)
        return found


def _per_message(sims: np.ndarray, owner: list[int], n: int) -> np.ndarray:
    # the best sentence's similarity per message and intent (0 for a message without sentences)
    out = np.zeros((n, sims.shape[1]))
    if len(owner):
        np.maximum.at(out, np.asarray(owner), sims)
    return out


def entities(text: str, products: Sequence[str] = ()) -> Entities:
    """Order numbers, amounts and product names (whole words, any case, punctuation between
    words ignored) named in ``text``; products in the order ``products`` lists them."""
    orders = tuple(dict.fromkeys(m.group(1).upper() for m in _ORDER.finditer(text)))
    amounts: list[tuple[float, str]] = []
    for m in _AMOUNT.finditer(text):
        raw = m.group("a") or m.group("b")
        symbol = m.group("cur") or m.group("code")
        currency = _CURRENCY.get(symbol.lower() if symbol.isalpha() else symbol, symbol.upper())
        amounts.append((float(raw.replace(",", "")), currency))
    named: tuple[str, ...] = ()
    if products:
        index, longest = _catalogue(tuple(products))
        words = _WORDS.findall(text.lower())
        found: set[int] = set()
        for start in range(len(words)):
            for size in range(1, min(longest, len(words) - start) + 1):
                at = index.get(tuple(words[start : start + size]))
                if at is not None:
                    found.add(at)
        named = tuple(products[i] for i in sorted(found))
    return Entities(orders, tuple(amounts), named)


_WORDS = re.compile(r"\w+")


@cache
def _catalogue(products: tuple[str, ...]) -> tuple[dict[tuple[str, ...], int], int]:
    # each product name as its lower-cased words -> its first position; the most words of one
    index: dict[tuple[str, ...], int] = {}
    for i, name in enumerate(products):
        words = tuple(_WORDS.findall(name.lower()))
        if words:
            index.setdefault(words, i)
    return index, max((len(k) for k in index), default=0)


def entities_text(found: Entities) -> str | None:
    """What ``entities`` found as one line for a record, e.g. ``Order A-12345; 1,089.90 USD;
    Product Blue Mug`` (None when nothing was named)."""
    parts: list[str] = []
    if found.orders:
        parts.append(("Orders " if len(found.orders) > 1 else "Order ") + ", ".join(found.orders))
    parts += [f"{value:,.2f} {currency}" for value, currency in found.amounts]
    if found.products:
        label = "Products " if len(found.products) > 1 else "Product "
        parts.append(label + ", ".join(found.products))
    return "; ".join(parts) or None

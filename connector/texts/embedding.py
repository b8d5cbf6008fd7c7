"""A small sentence embedding shipped with the package: latent semantic analysis (LSA) over
public rated text, for zero-shot intents by embedding similarity (``similarity: lsa`` in
models/texts.yaml).

Why LSA: no package on the registry ships sentence-embedding weights inside its wheel (the
sentence-transformers and model2vec families load theirs from a model hub at run time, which
these machines cannot reach and the connector must not do), so the embedding is built here.

How (``python -m connector.texts.embedding tests/fixtures/texts OUT.json`` wrote the shipped
``lsa_embedding.json``):

1. The corpus: every sentence of the VADER authors' rated sets in tests/fixtures/texts (tweets
   and Amazon review snippets, MIT licence; provenance in that folder's PROVENANCE.md), train and
   test rows alike (no labels are used: the embedding learns which words occur together).
2. TF-IDF of lower-cased words (min_df 3, sublinear tf), then a truncated SVD (scikit-learn's
   ``TruncatedSVD``, randomized, seed 23) to ``dimensions`` components.
3. A text's embedding: its TF-IDF row times the components, L2-normalised. Words the corpus
   never saw add nothing; a text of unseen words only is the zero vector (similarity 0).

The vocabulary, idf weights and components are package data in JSON (``lsa_embedding.json``),
never a pickle.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

Float = npt.NDArray[np.float64]
EMBEDDING_FILE = "lsa_embedding.json"
KIND = "lsa"


class LsaEmbedding:
    """TF-IDF words -> ``dimensions`` LSA components, L2-normalised."""

    def __init__(self, dimensions: int = 64, min_df: int = 3) -> None:
        self.dimensions = dimensions
        self.min_df = min_df

    def _vectorizer(self, vocabulary: dict[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            min_df=1 if vocabulary is not None else self.min_df,
            sublinear_tf=True,
            vocabulary=vocabulary,
            dtype=np.float64,
        )

    def fit(self, corpus: Sequence[str], seed: int = 23) -> LsaEmbedding:
        """Learn the vocabulary, idf weights and components from ``corpus``."""
        vectorizer = self._vectorizer().fit(corpus)
        matrix = vectorizer.transform(corpus)
        svd = TruncatedSVD(self.dimensions, algorithm="randomized", n_iter=7, random_state=seed)
        svd.fit(matrix)
        self.vocabulary_ = {str(k): int(v) for k, v in vectorizer.vocabulary_.items()}
        self.idf_ = np.asarray(vectorizer.idf_, dtype=np.float64)
        self.components_ = np.asarray(svd.components_, dtype=np.float64)
        return self

    def embed(self, texts: Sequence[str]) -> Float:
        """One L2-normalised row per text, shape (n, dimensions)."""
        if not texts:
            return np.zeros((0, self.components_.shape[0]))
        vectorizer = self._vectorizer(self.vocabulary_)
        vectorizer.idf_ = self.idf_
        rows = np.asarray(vectorizer.transform(texts) @ self.components_.T, dtype=np.float64)
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        out: Float = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (components to 3 significant digits: cosines move in the 3rd decimal)."""
        return {
            "model": KIND,
            "params": {"dimensions": self.dimensions, "min_df": self.min_df},
            "source": "tests/fixtures/texts (VADER authors' rated tweets and Amazon review "
            "snippets, MIT licence; see PROVENANCE.md there)",
            "vocabulary": [t for t, _ in sorted(self.vocabulary_.items(), key=lambda kv: kv[1])],
            "idf": [float(f"{v:.5g}") for v in self.idf_.tolist()],
            "components": [[float(f"{v:.3g}") for v in row] for row in self.components_.tolist()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LsaEmbedding:
        """The embedding ``to_dict`` wrote."""
        if data.get("model") != KIND:
            raise ValueError(f"not an LSA embedding (model is {data.get('model')!r})")
        model = cls(**data["params"])
        model.vocabulary_ = {term: i for i, term in enumerate(data["vocabulary"])}
        model.idf_ = np.array(data["idf"], dtype=np.float64)
        model.components_ = np.array(data["components"], dtype=np.float64)
        return model


@cache
def shipped_embedding() -> LsaEmbedding:
    """The shipped embedding (package data ``lsa_embedding.json``), loaded once."""
    text = resources.files("connector.texts").joinpath(EMBEDDING_FILE).read_text(encoding="utf-8")
    return LsaEmbedding.from_dict(json.loads(text))


def main(argv: list[str] | None = None) -> int:
    """Fit on every ``text`` of the CSVs in argv[0] and write the JSON to argv[1]."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: python -m connector.texts.embedding RATED_FOLDER OUT.json [DIMENSIONS]")
        return 2
    import pandas as pd

    frames = [pd.read_csv(p, keep_default_na=False) for p in sorted(Path(args[0]).glob("*.csv"))]
    corpus = pd.concat(frames)["text"].astype(str).tolist()
    model = (LsaEmbedding(int(args[2])) if len(args) == 3 else LsaEmbedding()).fit(corpus)
    Path(args[1]).write_text(json.dumps(model.to_dict(), separators=(",", ":")) + "\n")
    print(f"wrote {args[1]}: {len(model.vocabulary_)} words x {model.dimensions} dimensions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

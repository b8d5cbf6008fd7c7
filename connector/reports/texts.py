"""What ``evaluate texts`` computes: each sentiment model's macro-F1, per-class precision and
recall and confusion matrix on labelled texts, the default beside the lexicon baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from connector.errors import ConfigError
from connector.texts.evaluate import SentimentModel, compare
from connector.texts.sentiment import LABELS, LexiconSentiment, default_model

#: Spellings of the three labels a rated file may use.
LABEL_WORDS: dict[str, str] = {
    **{label: label for label in LABELS},
    "neg": "negative",
    "-1": "negative",
    "neu": "neutral",
    "0": "neutral",
    "pos": "positive",
    "1": "positive",
    "+1": "positive",
}


def labelled_csv(
    path: Path, text_column: str, label_column: str, split_column: str, split: str
) -> tuple[list[str], list[str]]:
    """Texts and normalised labels of one CSV; rows of another split are left out when the file
    has ``split_column`` (so rows a model was trained on are never scored)."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: cannot read it as CSV ({reason})") from None
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{path}: no column {', '.join(missing)}; it has {', '.join(frame.columns)} "
            "(choose with --text-column / --label-column)"
        )
    if split_column in frame.columns:
        frame = frame[frame[split_column] == split]
    labels = frame[label_column].str.strip().str.lower().map(LABEL_WORDS)
    bad = frame[label_column][labels.isna()]
    if not bad.empty:
        raise ConfigError(
            f"{path}: label {bad.iloc[0]!r} in column {label_column} is not one of "
            "negative/neutral/positive (or neg/neu/pos, -1/0/1)"
        )
    if frame.empty:
        raise ConfigError(f"{path}: no rows to score (split column {split_column} = {split})")
    return frame[text_column].tolist(), labels.tolist()


def evaluate_texts_command(
    files: list[Path], text_column: str, label_column: str, split_column: str, split: str
) -> dict[str, Any]:
    """Per file: ``compare`` of the default model and VADER, JSON-ready."""
    models: list[SentimentModel] = [default_model(), LexiconSentiment()]
    out: dict[str, Any] = {"models": [m.name for m in models], "sets": {}}
    for path in files:
        texts, labels = labelled_csv(path, text_column, label_column, split_column, split)
        out["sets"][path.stem] = compare(texts, labels, models)
    return out

"""What ``evaluate texts`` computes: each sentiment model's macro-F1, per-class precision and
recall and confusion matrix on labelled texts, the default beside the lexicon baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from connector.config import Settings
from connector.errors import ConfigError
from connector.store import Store
from connector.texts.clean import message_text
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


def synced_replies(settings: Settings, truth: Path) -> tuple[list[str], list[str]]:
    """The synced EmailMessages named in a seed's ``truth/replies.csv`` (``message_id``,
    ``tone``) as (cleaned text, tone): how well the models recover the seed's tones."""
    try:
        tones = pd.read_csv(truth, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{truth}: cannot read it as CSV ({type(exc).__name__})") from None
    if not {"message_id", "tone"} <= set(tones.columns):
        raise ConfigError(f"{truth}: needs the columns message_id and tone (truth/replies.csv)")
    emails = Store(settings.store_location).records.frame(
        "EmailMessage", ["Id", "Subject", "TextBody"]
    )
    joined = tones.merge(emails, left_on="message_id", right_on="Id", how="inner")
    if joined.empty:
        raise ConfigError(
            f"{settings.database} holds none of the messages in {truth}: run `lead2loyalty "
            "sync` against the seeded org first (with models/texts.yaml enabled)"
        )
    texts = [message_text(s, b) for s, b in zip(joined["Subject"], joined["TextBody"], strict=True)]
    return texts, joined["tone"].str.lower().map(LABEL_WORDS).fillna("neutral").tolist()


def evaluate_synced_command(settings: Settings, truth: Path) -> dict[str, Any]:
    """``compare`` of both models on the synced replies against the seed's tones."""
    models: list[SentimentModel] = [default_model(), LexiconSentiment()]
    texts, labels = synced_replies(settings, truth)
    return {
        "models": [m.name for m in models],
        "sets": {"synced replies": compare(texts, labels, models)},
    }

"""What ``evaluate texts`` computes: each sentiment model's macro-F1, per-class precision and
recall and confusion matrix on labelled texts, the default beside the lexicon baseline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from connector.config import Settings
from connector.errors import ConfigError
from connector.store import Store
from connector.texts.clean import message_text
from connector.texts.embedding import shipped_embedding
from connector.texts.evaluate import SentimentModel, compare, intent_report
from connector.texts.intent_classifier import CLASSIFIER_FILE, IntentClassifier
from connector.texts.message_intents import IntentMatcher
from connector.texts.sentiment import LABELS, LexiconSentiment, default_model
from connector.texts.text_config import TextsConfig

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


def labelled_intents_csv(
    path: Path, config: TextsConfig, text_column: str, intents_column: str
) -> tuple[list[str], list[list[str]], list[str]]:
    """Texts, their intents and their split (``""`` without a split column) of a labelled CSV:
    intents by name or label, several joined by ``;``, empty or ``none`` for none."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: cannot read it as CSV ({reason})") from None
    missing = [c for c in (text_column, intents_column) if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{path}: no column {', '.join(missing)}; it has {', '.join(frame.columns)} "
            "(choose with --text-column / --intents-column)"
        )
    known = {intent.name.lower(): intent.name for intent in config.intents}
    known.update({intent.label.lower(): intent.name for intent in config.intents})
    labels: list[list[str]] = []
    for row, cell in enumerate(frame[intents_column].tolist(), start=2):
        names = [part.strip().lower() for part in cell.split(";") if part.strip()]
        names = [n for n in names if n != "none"]
        bad = [n for n in names if n not in known]
        if bad:
            raise ConfigError(
                f"{path}:{row}: intent {bad[0]!r} is not in models/texts.yaml (names: "
                f"{', '.join(i.name for i in config.intents)}; or their labels, or none)"
            )
        labels.append(list(dict.fromkeys(known[n] for n in names)))
    split = frame["split"].tolist() if "split" in frame.columns else [""] * len(frame)
    return frame[text_column].tolist(), labels, split


def intents_compared(
    config: TextsConfig, texts: list[str], labels: list[list[str]], fitted: IntentClassifier | None
) -> dict[str, Any]:
    """``intent_report`` of zero-shot (n-grams, and the LSA embedding) and, when given, of the
    learnt classifier on the same texts."""
    names = [intent.name for intent in config.intents]
    methods: dict[str, IntentMatcher] = {
        "ngrams": IntentMatcher(config.model_copy(update={"similarity": "ngrams"})),
        "lsa": IntentMatcher(
            config.model_copy(update={"similarity": "lsa"}), embedding=shipped_embedding()
        ),
    }
    if fitted is not None:
        methods["classifier"] = IntentMatcher(config, fitted, methods[config.similarity].embedding)
    out: dict[str, Any] = {}
    for name, matcher in methods.items():
        predicted = [[m.name for m in found] for found in matcher.match(texts)]
        out[name] = intent_report(labels, predicted, names)
    return out


def fit_intent_classifier(
    config: TextsConfig, texts: list[str], labels: list[list[str]]
) -> IntentClassifier:
    """The classifier of ``config.learn`` fitted on ``texts``, starting from zero-shot."""
    zero_shot = IntentMatcher(
        config, embedding=shipped_embedding() if config.similarity == "lsa" else None
    )
    examples = [(text, intent.name) for intent in config.intents for text in intent.examples]
    return IntentClassifier(min_labels=config.learn.min_labels, at=config.learn.at).fit(
        texts,
        labels,
        [i.name for i in config.intents],
        zero_shot.message_similarities(texts),
        examples,
        zero_shot.message_similarities([text for text, _ in examples]),
    )


def evaluate_intents_command(
    config: TextsConfig, files: list[Path], text_column: str, intents_column: str, split: str
) -> dict[str, Any]:
    """Per labelled file: zero-shot beside a classifier fitted on the file's other rows (those
    whose split is not ``split``), scored on the ``split`` rows; a file without a split
    column is scored whole, zero-shot only."""
    sets: dict[str, Any] = {}
    for path in files:
        texts, labels, splits = labelled_intents_csv(path, config, text_column, intents_column)
        held = [i for i, s in enumerate(splits) if s == split] if any(splits) else []
        train = [i for i, s in enumerate(splits) if s != split] if held else []
        fitted = None
        if train:
            fitted = fit_intent_classifier(
                config, [texts[i] for i in train], [labels[i] for i in train]
            )
        rows = held or list(range(len(texts)))
        sets[f"{path.stem} intents"] = intents_compared(
            config, [texts[i] for i in rows], [labels[i] for i in rows], fitted
        )
    return {"sets": sets}


def fit_texts_command(
    settings: Settings, files: list[Path], text_column: str, intents_column: str
) -> dict[str, Any]:
    """Learn intents from the admin's labels (``L2L_Intent_Override__c`` on the synced
    EmailMessages and Cases) and labelled CSVs; write models/texts.intents.json."""
    from connector.sync.intent import load_scoring
    from connector.sync.texts_stage import CASE_COLUMNS, EMAIL_COLUMNS, TextRecords, intent_labels

    config = load_scoring(settings).texts
    if config is None:
        raise ConfigError(
            f"{settings.models_dir / 'texts.yaml'} is missing or has enabled: false; intents "
            "are learnt for the catalog it names"
        )
    texts: list[str] = []
    labels: list[list[str]] = []
    sources: dict[str, int] = {}
    for path in files:
        more, their, _ = labelled_intents_csv(path, config, text_column, intents_column)
        texts += more
        labels += their
        sources[str(path)] = len(more)
    store = Store(settings.store_location)
    try:
        records = TextRecords(
            emails=store.records.frame("EmailMessage", list(EMAIL_COLUMNS)),
            tasks=pd.DataFrame(),
            cases=store.records.frame("Case", list(CASE_COLUMNS)),
        )
    finally:
        store.close()
    more, their = intent_labels(records, config)
    texts += more
    labels += their
    sources["L2L_Intent_Override__c"] = len(more)
    if not texts:
        raise ConfigError(
            "no labelled messages: set L2L_Intent_Override__c on EmailMessages or Cases and "
            "sync, or give --csv FILE with a text and an intents column"
        )
    check = held_out_check(config, texts, labels)
    fitted = fit_intent_classifier(config, texts, labels)
    path = settings.models_dir / CLASSIFIER_FILE
    path.write_text(json.dumps(fitted.to_dict(), separators=(",", ":")) + "\n", encoding="utf-8")
    return {
        "written": str(path),
        "rows": len(texts),
        "sources": sources,
        "min_labels": config.learn.min_labels,
        "learnt": fitted.intents_,
        "counts": fitted.counts_,
        "zero_shot": [i.name for i in config.intents if i.name not in fitted.intents_],
        "held_out": check,
    }


#: Fewer labelled messages than this: no held-out check (a fifth would be too few to judge).
HELD_OUT_MIN = 50


def held_out_check(
    config: TextsConfig, texts: list[str], labels: list[list[str]]
) -> dict[str, Any] | None:
    """Macro-F1 of zero-shot and of a classifier fitted on the other rows, on the fifth of the
    labelled messages whose text hashes to 0 mod 5 (the same rows every time); None below
    ``HELD_OUT_MIN`` messages."""
    import hashlib

    if len(texts) < HELD_OUT_MIN:
        return None
    held = [int(hashlib.sha256(t.encode()).hexdigest(), 16) % 5 == 0 for t in texts]
    train = [i for i, h in enumerate(held) if not h]
    test = [i for i, h in enumerate(held) if h]
    if not test or not train:
        return None
    fitted = fit_intent_classifier(config, [texts[i] for i in train], [labels[i] for i in train])
    found = intents_compared(config, [texts[i] for i in test], [labels[i] for i in test], fitted)
    return {
        "rows": len(test),
        "zero_shot": found[config.similarity]["macro_f1"],
        "learnt": found["classifier"]["macro_f1"],
    }


def evaluate_cases_command(settings: Settings, truth: Path) -> dict[str, Any]:
    """The synced Cases named in a seed's ``truth/cases.csv`` (``case_id``, ``tone``,
    ``intent``): both sentiment models against the tones, and the intents (zero-shot, and the
    learnt classifier when ``fit texts`` wrote one) against the intents."""
    from connector.sync.intent import load_scoring

    try:
        known = pd.read_csv(truth, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{truth}: cannot read it as CSV ({type(exc).__name__})") from None
    if not {"case_id", "tone", "intent"} <= set(known.columns):
        raise ConfigError(f"{truth}: needs the columns case_id, tone and intent (truth/cases.csv)")
    scoring = load_scoring(settings)
    if scoring.texts is None:
        raise ConfigError(f"{settings.models_dir / 'texts.yaml'} is missing or has enabled: false")
    store = Store(settings.store_location)
    try:
        cases = store.records.frame("Case", ["Id", "Subject", "Description"])
    finally:
        store.close()
    joined = known.merge(cases, left_on="case_id", right_on="Id", how="inner")
    if joined.empty:
        raise ConfigError(
            f"{settings.database} holds none of the Cases in {truth}: run `lead2loyalty sync` "
            "against the seeded org first (with models/texts.yaml enabled)"
        )
    texts = [
        message_text(s, b) for s, b in zip(joined["Subject"], joined["Description"], strict=True)
    ]
    tones = joined["tone"].str.lower().map(LABEL_WORDS).fillna("neutral").tolist()
    models: list[SentimentModel] = [default_model(), LexiconSentiment()]
    intents = [[name] if name else [] for name in joined["intent"].str.strip()]
    return {
        "models": [m.name for m in models],
        "sets": {
            "synced cases": compare(texts, tones, models),
            "synced cases intents": intents_compared(
                scoring.texts, texts, intents, scoring.text_intents
            ),
        },
    }

"""How well a sentiment model recovers labelled texts: macro-F1, per-class precision / recall /
F1, and the confusion matrix (rows: the truth, columns: the prediction), beside the lexicon.

Pure: texts and labels in, plain data out; ``render`` turns it into the lines the CLI prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from connector.texts.sentiment import LABELS


class SentimentModel(Protocol):
    """What ``compare`` needs of a model."""

    name: str

    def predict(self, texts: Sequence[str]) -> list[str]: ...


def report(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Macro-F1 (the mean F1 of the labels the truth holds: a set without neutral texts is not
    marked down for a neutral class it lacks), per-class P/R/F1/support, the confusion matrix."""
    labels = list(LABELS)
    precision, recall, f1, support = precision_recall_fscore_support(
        list(truth), list(predicted), labels=labels, zero_division=0
    )
    matrix = confusion_matrix(list(truth), list(predicted), labels=labels)
    return {
        "rows": len(truth),
        "macro_f1": round(float(np.mean(f1[support > 0])) if support.any() else 0.0, 4),
        "accuracy": round(float(np.trace(matrix) / max(1, matrix.sum())), 4),
        "per_class": {
            label: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, label in enumerate(labels)
        },
        "confusion": {"labels": labels, "matrix": matrix.astype(int).tolist()},
    }


def compare(
    texts: Sequence[str], truth: Sequence[str], models: Sequence[SentimentModel]
) -> dict[str, Any]:
    """``report`` for each model on the same texts, keyed by the model's name."""
    unknown = sorted(set(truth) - set(LABELS))
    if unknown:
        raise ValueError(f"labels {unknown} are not sentiment labels; use {list(LABELS)}")
    return {model.name: report(truth, model.predict(texts)) for model in models}


def render(title: str, results: dict[str, Any]) -> list[str]:
    """Side-by-side lines: macro-F1 and per-class P/R for each model, then each confusion."""
    names = list(results)
    lines = [f"{title}: {next(iter(results.values()))['rows'] if results else 0} texts"]
    lines.append("  " + "metric".ljust(20) + "".join(name.rjust(10) for name in names))
    lines.append(
        "  " + "macro-F1".ljust(20) + "".join(f"{results[n]['macro_f1']:10.3f}" for n in names)
    )
    lines.append(
        "  " + "accuracy".ljust(20) + "".join(f"{results[n]['accuracy']:10.3f}" for n in names)
    )
    for label in LABELS:
        for metric in ("precision", "recall"):
            cells = "".join(f"{results[n]['per_class'][label][metric]:10.3f}" for n in names)
            lines.append("  " + f"{label} {metric[0].upper()}".ljust(20) + cells)
    for name in names:
        lines.append(f"  confusion ({name}; rows truth, columns predicted: neg neu pos)")
        for label, row in zip(LABELS, results[name]["confusion"]["matrix"], strict=True):
            lines.append("    " + label.ljust(10) + "".join(f"{cell:7d}" for cell in row))
    return lines


def intent_report(
    truth: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], intents: Sequence[str]
) -> dict[str, Any]:
    """Multi-label scores of intents: macro-F1 (the mean F1 of the intents the truth holds),
    per-intent precision / recall / F1 / support, and the share of messages whose set of
    intents is exactly right (a message with none included)."""
    names = list(intents)
    y_true = np.array([[name in row for name in names] for row in truth], dtype=bool)
    y_pred = np.array([[name in row for name in names] for row in predicted], dtype=bool)
    y_true = y_true.reshape(len(truth), len(names))
    y_pred = y_pred.reshape(len(predicted), len(names))
    tp = (y_true & y_pred).sum(axis=0)
    precision = np.divide(tp, y_pred.sum(axis=0), out=np.zeros(len(names)), where=y_pred.any(0))
    support = y_true.sum(axis=0)
    recall = np.divide(tp, support, out=np.zeros(len(names)), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros(len(names)), where=total > 0)
    return {
        "rows": len(truth),
        "macro_f1": round(float(np.mean(f1[support > 0])) if support.any() else 0.0, 4),
        "exact": round(float((y_true == y_pred).all(axis=1).mean()) if len(truth) else 0.0, 4),
        "per_intent": {
            name: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, name in enumerate(names)
        },
    }


def render_intents(title: str, results: dict[str, Any]) -> list[str]:
    """Side-by-side lines of ``intent_report`` per method: macro-F1, exact sets, per-intent F1."""
    names = list(results)
    first: dict[str, Any] = next(iter(results.values()), {"rows": 0, "per_intent": {}})
    lines = [f"{title}: {first['rows']} texts (intents)"]
    lines.append("  " + "metric".ljust(20) + "".join(name.rjust(12) for name in names))
    for metric in ("macro_f1", "exact"):
        label = "macro-F1" if metric == "macro_f1" else "exact set"
        cells = "".join(f"{results[n][metric]:12.3f}" for n in names)
        lines.append("  " + label.ljust(20) + cells)
    for intent in first["per_intent"]:
        cells = "".join(f"{results[n]['per_intent'][intent]['f1']:12.3f}" for n in names)
        lines.append("  " + f"{intent} F1".ljust(20) + cells)
    return lines

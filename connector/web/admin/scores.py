"""Scores: how the values the connector writes are spread (intent, conversion, CLV, churn,
segments), conversion per intent band, the hottest Leads with their reasons, and each fitted
model's health in plain words.

Every distribution is of the values as last written to Salesforce (what reps see), read from
the written-value baseline: a page costs one indexed read per field, not a recompute.
"""

from __future__ import annotations

import json
from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue

from connector.web import intake
from connector.web.admin.blueprint import bp
from connector.web.admin.cache import kept
from connector.web.admin.mappings import mapped_field

#: (title, object, computed value, what it says): the distributions the page draws.
SHOWN = (
    (
        "Intent score of Leads",
        "Lead",
        "intent.score",
        "0 to 5 from recent behaviour; 4 and up is hot.",
    ),
    (
        "Intent score of Contacts",
        "Contact",
        "intent.score",
        "The same score for people who are Contacts.",
    ),
    (
        "Lead conversion score",
        "Lead",
        "conversion.score",
        "The learned chance (in percent) that the Lead converts.",
    ),
    (
        "Predicted customer lifetime value",
        "Contact",
        "predictions.clv",
        "What a customer is expected to spend over the horizon (BG/NBD with Gamma-Gamma).",
    ),
    (
        "Churn risk",
        "Contact",
        "predictions.churn_risk",
        "How likely a customer has stopped buying.",
    ),
    ("Segment", "Contact", "predictions.segment_name", "The customer's RFM segment."),
)
BINS = 10
#: A field with more distinct values than this is drawn as a histogram of ranges.
DISTINCT = 12


def distribution(obj: str, field: str) -> list[tuple[str, int]]:
    """(label, records) bars: one per value, or ranges when the values are many numbers."""
    store = intake.store()
    counts = store.admin.written_counts(obj, field, DISTINCT + 1)
    numeric = all(_number(v) is not None or v == "null" for v, _ in counts)
    if len(counts) <= DISTINCT or not numeric:
        return [(_label(v), n) for v, n in counts[:DISTINCT]]
    low, width, bars = store.admin.written_histogram(obj, field, BINS)
    return [
        (f"{low + i * width:,.1f} to {low + (i + 1) * width:,.1f}", n) for i, n in enumerate(bars)
    ]


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _label(text: str) -> str:
    """A stored value (JSON text) as a reader expects it."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return "(empty)" if value is None else str(value)


def _bars(rows: list[tuple[str, int]]) -> list[dict[str, Any]]:
    widest = max((n for _, n in rows), default=0) or 1
    return [
        {"label": label, "count": n, "width": round(60 * n / widest, 1), "y": 24 * i}
        for i, (label, n) in enumerate(rows)
    ]


@bp.get("/scores")
def scores() -> ResponseReturnValue:
    """Distributions, conversion per intent band, the hottest Leads, model health. The
    figures read from written values are kept until a run writes (:mod:`.cache`)."""
    fields = tuple(mapped_field(obj, value) for _, obj, value, _ in SHOWN)
    intent = mapped_field("Lead", "intent.score")
    reasons = mapped_field("Lead", "intent.reasons")
    charts, hottest, bands = kept(
        "scores", lambda: _written_figures(fields, intent, reasons), fields, intent, reasons
    )
    models = [
        {**m, "facts": _facts(m["record"]), "health": health(m["record"])}
        for m in intake.store().admin.fitted_models()
    ]
    return render_template(
        "admin/scores.html", charts=charts, hottest=hottest, models=models, bands=bands
    )


def _written_figures(
    fields: tuple[str | None, ...], intent: str | None, reasons: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(charts, hottest Leads, conversion per intent band) from the written values."""
    charts = [
        {
            "title": title,
            "field": f"{obj}.{field}",
            "means": means,
            "bars": _bars(distribution(obj, field)),
        }
        for (title, obj, _, means), field in zip(SHOWN, fields, strict=True)
        if field is not None
    ]
    hottest = (
        [
            {"record": r, "score": _label(v), "reasons": _label(b) if b else ""}
            for r, v, b in intake.store().admin.top_written("Lead", intent, reasons)
        ]
        if intent
        else []
    )
    bands = intake.store().admin.conversion_by_band(intent) if intent else []
    return charts, hottest, bands


#: Holdout AUC from which a model's ranking is called good, useful, weak (below: no better
#: than a coin much). The usual reading of ROC AUC (0.5 is chance, 1 a perfect ranking).
AUC_WORDS = ((0.8, "ranks well"), (0.7, "is useful"), (0.6, "is weak"))


def health(record: dict[str, Any]) -> str:
    """A model's fit record (``model_params``) said in plain words: how it was made and, when
    it was measured on held-out people, how well it ranks them."""
    method = str(record.get("method") or "").strip()
    said = [f"Made by: {method}." if method else "How it was made is not recorded."]
    auc = record.get("holdout_auc")
    if isinstance(auc, int | float):
        word = next((w for edge, w in AUC_WORDS if auc >= edge), "is barely better than chance")
        rows = record.get("holdout_rows")
        on = f" on {rows:,} held-out rows" if isinstance(rows, int) else ""
        said.append(
            f"Holdout AUC {auc:.2f}{on}: it {word} (0.5 is a coin toss, 1.0 a perfect order)."
        )
    else:
        said.append("Not measured on held-out people, so how well it ranks is not known.")
    return " ".join(said)


def _facts(record: dict[str, Any]) -> list[tuple[str, str]]:
    """A fit's record as (what, value) lines: its plain figures, nested ones flattened."""
    out: list[tuple[str, str]] = []
    for key, value in record.items():
        if isinstance(value, dict):
            out.extend((f"{key} {k}", _plain(v)) for k, v in value.items() if _simple(v))
        elif _simple(value):
            out.append((key.replace("_", " "), _plain(value)))
    return out[:20]


def _simple(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _plain(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)

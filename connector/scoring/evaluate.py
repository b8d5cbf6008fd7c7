"""How good a score is at ranking who converts: AUC, rate per band, lift of the top decile;
and the lead conversion pipeline evaluated on any table (time split or 5-fold CV).

Pure functions over arrays and DataFrames; reading files is the caller's job.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from connector.errors import ConfigError
from connector.scoring.conversion import LeadConversionModel

TRUE_WORDS = {"1", "true", "yes", "y", "t", "1.0"}
FALSE_WORDS = {"0", "false", "no", "n", "f", "0.0"}


def auc(label: npt.ArrayLike, score: npt.ArrayLike) -> float | None:
    """Area under the ROC curve (ties count half); None with one class only."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(label, dtype=int)
    if y.min(initial=0) == y.max(initial=0):
        return None
    return round(float(roc_auc_score(y, np.asarray(score, dtype=float))), 4)


def lift_top_decile(label: npt.ArrayLike, score: npt.ArrayLike) -> float | None:
    """The conversion rate of the 10% highest scores over the overall rate (ties in score
    share their rate: the top decile takes the tied group's average)."""
    y = np.asarray(label, dtype=float)
    s = np.asarray(score, dtype=float)
    if not y.size or y.sum() == 0:
        return None
    n = max(1, round(y.size * 0.1))
    threshold = np.sort(s)[::-1][n - 1]
    above = s > threshold
    tied = s == threshold
    take_tied = n - int(above.sum())
    converted = y[above].sum() + (y[tied].mean() * take_tied if take_tied else 0.0)
    return round(float(converted / n) / float(y.mean()), 3)


def bands(label: npt.ArrayLike, score: npt.ArrayLike, edges: list[float]) -> list[dict[str, Any]]:
    """Rows, conversions and rate per band ``[edges[i], edges[i+1])`` (the last band includes
    its upper edge)."""
    y = np.asarray(label, dtype=float)
    s = np.asarray(score, dtype=float)
    out = []
    for i, (lo, hi) in enumerate(itertools.pairwise(edges)):
        last = i == len(edges) - 2
        inside = (s >= lo) & ((s <= hi) if last else (s < hi))
        rows = int(inside.sum())
        hits = int(y[inside].sum())
        out.append(
            {
                "band": f"{lo:g}-{hi:g}",
                "rows": rows,
                "converted": hits,
                "rate": round(hits / rows, 4) if rows else None,
            }
        )
    return out


def monotonic(rows: list[dict[str, Any]], min_rows: int = 1) -> bool:
    """Whether the rate never falls from one band to the next (bands with fewer than
    ``min_rows`` rows are skipped)."""
    rates = [b["rate"] for b in rows if b["rows"] >= min_rows and b["rate"] is not None]
    return all(a <= b for a, b in itertools.pairwise(rates))


def score_report(label: npt.ArrayLike, score: npt.ArrayLike, edges: list[float]) -> dict[str, Any]:
    """AUC, bands, lift of the top decile of one score."""
    y = np.asarray(label, dtype=int)
    by_band = bands(y, score, edges)
    return {
        "auc": auc(y, score),
        "lift_top_decile": lift_top_decile(y, score),
        "bands": by_band,
        "monotonic": monotonic(by_band),
    }


# ---------------------------------------------------------------------- any table
def parse_label(column: pd.Series, positive: str | None) -> npt.NDArray[np.int64]:
    """A label column as 0/1: 0/1, true/false or yes/no, or equal to ``positive``."""
    text = column.astype("string").str.strip().str.lower()
    if positive is not None:
        chosen: npt.NDArray[np.int64] = (
            (text == positive.strip().lower()).fillna(False).to_numpy(dtype=np.int64)
        )
        return chosen
    values = set(text.dropna().unique())
    if values <= TRUE_WORDS | FALSE_WORDS and values & TRUE_WORDS and values & FALSE_WORDS:
        parsed: npt.NDArray[np.int64] = text.isin(TRUE_WORDS).to_numpy(dtype=np.int64)
        return parsed
    shown = ", ".join(sorted(str(v) for v in values)[:5])
    raise ConfigError(
        f"label values ({shown}) are not 0/1, true/false or yes/no; "
        "say which value is the positive one with --positive VALUE"
    )


def column_kinds(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(categorical, numeric) columns: a column is numeric when 95% of its filled cells read
    as numbers, else categorical."""
    categorical: list[str] = []
    numeric: list[str] = []
    for c in frame.columns:
        filled = frame[c].dropna()
        if not len(filled):
            continue
        as_number = pd.to_numeric(filled, errors="coerce")
        (numeric if as_number.notna().mean() >= 0.95 else categorical).append(str(c))
    return categorical, numeric


def evaluate_table(
    frame: pd.DataFrame,
    label_column: str,
    *,
    time_column: str | None = None,
    positive: str | None = None,
    regularization: float = 1.0,
    holdout_share: float = 0.25,
) -> dict[str, Any]:
    """The lead conversion pipeline on any table: every column but the label (and the time
    column) is a feature, except those the leakage check refuses
    (:func:`~connector.scoring.selection.post_outcome_columns`: values that exist only after
    the outcome), reported under ``refused`` with the reason.

    Two calibrated learners compete (:mod:`connector.scoring.selection`): a regularised
    logistic model and gradient boosting. With a time column: both are cross-validated in time
    order on the earliest rows, the winner by mean AUC, then each is fitted on those rows and
    tested on the latest ``holdout_share``; the headline AUC is the winner's on that holdout.
    Without: stratified 5-fold cross-validation, the headline the winner's out-of-fold AUC.
    ``candidates`` reports both (cross-validated AUC and Brier score, and holdout AUC)."""
    from connector.scoring.selection import fit_candidate, post_outcome_columns, select_model

    for name in (label_column, time_column):
        if name is not None and name not in frame:
            raise ConfigError(f"no column '{name}'; the columns are: {', '.join(map(str, frame))}")
    y = parse_label(frame[label_column], positive)
    if y.sum() < 2 or (1 - y).sum() < 2:
        raise ConfigError("the label needs at least two positive and two negative rows")
    features = frame.drop(columns=[c for c in (label_column, time_column) if c])
    refused = post_outcome_columns(features, y, [str(c) for c in features.columns])
    features = features.drop(columns=list(refused))
    categorical, numeric = column_kinds(features)
    data = features.copy()
    for c in numeric:
        data[c] = pd.to_numeric(data[c], errors="coerce")
    out: dict[str, Any] = {"rows": len(frame), "positives": int(y.sum())}
    if time_column is not None:
        when = pd.to_datetime(frame[time_column], utc=True, errors="coerce", format="mixed")
        if when.isna().all():
            raise ConfigError(f"--time-column {time_column}: no cell reads as a date or time")
        order = np.argsort(when.fillna(when.min()).to_numpy(), kind="stable")
        cut = int(len(order) * (1.0 - holdout_share))
        train, test = order[:cut], order[cut:]
        if len(set(y[train])) < 2 or len(set(y[test])) < 2:
            raise ConfigError("the time split leaves one class only on one side; use more rows")
        chosen = select_model(
            data.iloc[train],
            y[train],
            categorical,
            numeric,
            in_time_order=True,
            regularization=regularization,
        )
        held: dict[str, Any] = {}
        for name in chosen["candidates"]:
            model = fit_candidate(
                name, data.iloc[train], y[train], categorical, numeric, regularization
            )
            held[name] = model.predict_proba(data.iloc[test])
            chosen["candidates"][name]["holdout_auc"] = auc(y[test], held[name])
        scores, evaluated = held[chosen["winner"]], test
        out["method"] = (
            f"time split on {time_column}: train {len(train):,} (time-ordered cross-validation "
            f"chooses the learner), test {len(test):,}"
        )
    else:
        chosen = select_model(
            data, y, categorical, numeric, in_time_order=False, regularization=regularization
        )
        scores, evaluated = chosen["scores"][chosen["winner"]], np.arange(len(y))
        out["method"] = "stratified 5-fold cross-validation"
    final = LeadConversionModel(regularization).fit(data, y, categorical, numeric)
    truth = y[evaluated]
    out.update(
        {
            "auc": auc(truth, scores),
            "model": chosen["winner"],
            "candidates": chosen["candidates"],
            "lift_top_decile": lift_top_decile(truth, scores),
            "bands": decile_bands(truth, scores),
            "top_factors": final.top_factors(10),
            "categorical": categorical,
            "numeric": numeric,
            "refused": refused,
        }
    )
    return out


def decile_bands(label: npt.ArrayLike, score: npt.ArrayLike) -> list[dict[str, Any]]:
    """Conversion rate per score decile, highest scores first."""
    y = np.asarray(label, dtype=float)
    s = np.asarray(score, dtype=float)
    order = np.argsort(-s, kind="stable")
    out = []
    for k, chunk in enumerate(np.array_split(order, 10), start=1):
        if not chunk.size:
            continue
        out.append(
            {
                "decile": k,
                "rows": int(chunk.size),
                "converted": int(y[chunk].sum()),
                "rate": round(float(y[chunk].mean()), 4),
                "min_score": round(float(s[chunk].min()), 4),
            }
        )
    return out

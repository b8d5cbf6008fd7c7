"""Backtest the transaction models on a store's own orders: calibrate, then score a holdout.

This is how an admin (or a test) checks that the models fit a store before trusting them:
``evaluate_orders`` fits each model on the calibration window and compares its predictions with
what customers actually did in the holdout window. Reading the CSV and drawing the plot live
here, not in the models, which stay I/O-free.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

from connector.predictions.btyd import MODELS, TransactionModel
from connector.predictions.learned import BuyAgainModel
from connector.predictions.rfm import (
    ORDER_COLUMNS,
    UNIT_DAYS,
    TimeUnit,
    calibration_and_holdout_summary,
)

FloatArray = npt.NDArray[np.float64]

# Fewer customers than this in the calibration window cannot support a four-parameter fit
# or a decile calibration table; say so instead of failing inside the optimiser or qcut.
MIN_CUSTOMERS = 10


def read_orders_csv(path: str | Path) -> pd.DataFrame:
    """Read an orders CSV with columns customer_id, ordered_at (ISO 8601), amount.

    Times without an offset are taken as UTC; a UTF-8 byte order mark (as spreadsheet exports
    write) is skipped. Raises ValueError naming missing columns, a file without orders, or the
    line numbers (1 = header) of rows whose time or amount cannot be parsed or is negative.
    """
    p = Path(path)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
    except UnicodeDecodeError:
        raise ValueError(f"{p}: not UTF-8 text; save the CSV as UTF-8") from None
    missing = [c for c in ORDER_COLUMNS if c not in header]
    if missing:
        raise ValueError(f"{p}: missing column(s) {missing}; need {', '.join(ORDER_COLUMNS)}")
    try:
        raw = pd.read_csv(
            p,
            dtype={"customer_id": str, "ordered_at": str, "amount": str},
            encoding="utf-8-sig",
        )
    except UnicodeDecodeError:
        raise ValueError(f"{p}: not UTF-8 text; save the CSV as UTF-8") from None
    if raw.empty:
        raise ValueError(f"{p}: no orders below the header line; nothing to evaluate")
    when = pd.to_datetime(raw["ordered_at"], utc=True, errors="coerce", format="ISO8601")
    amount = pd.to_numeric(raw["amount"], errors="coerce")
    bad_rows = raw["customer_id"].isna() | when.isna() | amount.isna()
    if bad_rows.any():
        lines = (np.flatnonzero(bad_rows.to_numpy()) + 2).tolist()
        shown = ", ".join(map(str, lines[:10])) + (" ..." if len(lines) > 10 else "")
        raise ValueError(
            f"{p}: {len(lines)} bad row(s) (empty customer_id, unparseable ordered_at or "
            f"amount) at line(s) {shown}"
        )
    negative = (amount < 0).to_numpy()
    if negative.any():
        lines = (np.flatnonzero(negative) + 2).tolist()
        shown = ", ".join(map(str, lines[:10])) + (" ..." if len(lines) > 10 else "")
        raise ValueError(
            f"{p}: {len(lines)} negative amount(s) at line(s) {shown}; list refunds as "
            "their own reduced order amounts, not as negative orders"
        )
    return pd.DataFrame({"customer_id": raw["customer_id"], "ordered_at": when, "amount": amount})


def _safe(value: float) -> float | None:
    # JSON has no NaN; report "not computable" as null
    return float(value) if math.isfinite(value) else None


def _calibration_table(prob: FloatArray, bought: FloatArray) -> list[dict[str, float | None]]:
    frame = pd.DataFrame({"p": prob, "y": bought})
    frame["decile"] = pd.qcut(frame["p"].rank(method="first"), 10, labels=False)
    grouped = frame.groupby("decile").agg(
        n=("y", "size"), mean_predicted=("p", "mean"), share_bought=("y", "mean")
    )
    return [
        {
            "decile": float(i) + 1.0,
            "n": float(row.n),
            "mean_predicted": _safe(float(row.mean_predicted)),
            "share_bought": _safe(float(row.share_bought)),
        }
        for i, row in zip(grouped.index, grouped.itertuples(), strict=True)
    ]


def _probability_scores(prob: FloatArray, bought: FloatArray) -> dict[str, Any]:
    both_classes = 0.0 < bought.mean() < 1.0
    return {
        "auc_buy_again": _safe(float(roc_auc_score(bought, prob))) if both_classes else None,
        "brier_buy_again": float(brier_score_loss(bought, prob)),
        "calibration": _calibration_table(prob, bought),
    }


def score_learned(
    orders: pd.DataFrame,
    calibration_end: pd.Timestamp,
    model: TransactionModel,
    model_name: str,
    summary: pd.DataFrame,
    time_unit: TimeUnit,
) -> dict[str, Any]:
    """Holdout scores of the learned buy-again layer (:mod:`connector.predictions.learned`)
    over ``model``, trained only on orders up to ``calibration_end``."""
    layer = BuyAgainModel(model=model_name, time_unit=time_unit).fit(orders, calibration_end)
    out: dict[str, Any] = {"base": model_name, "training_rows": layer.n_rows_}
    if not layer.fitted:
        return out | {"method": f"btyd: {layer.fallback_reason_}"}
    days = float(summary["holdout_duration"].iloc[0]) * UNIT_DAYS[time_unit]
    prob = layer.apply(model, summary, (days,))[days]
    bought = (summary["holdout_frequency"].to_numpy() > 0).astype(np.float64)
    return out | {
        "method": "learned",
        "training_cuts": layer.cuts_,
        "training_positives": layer.n_positives_,
        **_probability_scores(prob, bought),
    }


def score_holdout(model: TransactionModel, summary: pd.DataFrame) -> dict[str, Any]:
    """Holdout metrics of a fitted model on a calibration/holdout summary."""
    x = summary["frequency"].to_numpy(dtype=np.float64)
    t_x = summary["recency"].to_numpy(dtype=np.float64)
    age = summary["T"].to_numpy(dtype=np.float64)
    duration = float(summary["holdout_duration"].iloc[0])
    actual = summary["holdout_frequency"].to_numpy(dtype=np.float64)
    predicted = model.conditional_expected_number_of_purchases_up_to_time(duration, x, t_x, age)
    prob = model.probability_of_purchase_within(duration, x, t_x, age)
    bought = (actual > 0).astype(np.float64)
    # cumulative repeat purchases at holdout end, as in FHL05 fig. 3: each customer's
    # unconditional E[X(age at holdout end)] vs calibration + holdout repeats actually made
    cum_pred = float(np.sum(model.expected_number_of_purchases_up_to_time(age + duration)))
    cum_actual = float(np.sum(x + actual))
    corr = float(np.corrcoef(predicted, actual)[0, 1]) if np.std(actual) > 0 else float("nan")
    return {
        "mae": float(np.mean(np.abs(predicted - actual))),
        "correlation": _safe(corr),
        "cumulative_predicted": cum_pred,
        "cumulative_actual": cum_actual,
        "cumulative_error": _safe((cum_pred - cum_actual) / cum_actual) if cum_actual else None,
        "holdout_total_predicted": float(predicted.sum()),
        "holdout_total_actual": float(actual.sum()),
        **_probability_scores(prob, bought),
    }


def evaluate_orders(
    orders: pd.DataFrame,
    calibration_end: datetime | pd.Timestamp,
    holdout_end: datetime | pd.Timestamp,
    time_unit: TimeUnit = "week",
    models: tuple[str, ...] = ("bg_nbd", "mbg_nbd", "pareto_nbd"),
    penalizer_coef: float = 0.0,
) -> dict[str, Any]:
    """Fit each model on the calibration window and score it on the holdout; JSON-ready.

    Returns ``{"customers", "calibration_end", "holdout_end", "time_unit", "models": {name:
    {"params", "log_likelihood", "holdout": {...}, "learned": {...}}}}``; the log-likelihood is
    in ``time_unit`` on the calibration summary. ``learned`` scores the learned buy-again layer
    over that model on the same holdout (AUC, Brier, decile table), beside the model's own
    figures, or says why it fell back to the model. A model that fails to fit reports
    ``{"error": message}``.
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(MODELS)}")
    summary = calibration_and_holdout_summary(orders, calibration_end, holdout_end, time_unit)
    if len(summary) < MIN_CUSTOMERS:
        raise ValueError(
            f"{len(summary)} customer(s) ordered before the calibration end; evaluating needs "
            f"at least {MIN_CUSTOMERS}: move --calibration-end later or give more orders"
        )
    report: dict[str, Any] = {
        "customers": len(summary),
        "calibration_end": pd.Timestamp(calibration_end).isoformat(),
        "holdout_end": pd.Timestamp(holdout_end).isoformat(),
        "time_unit": time_unit,
        "models": {},
    }
    for name in models:
        try:
            fitted = MODELS[name](penalizer_coef=penalizer_coef).fit(
                summary["frequency"], summary["recency"], summary["T"]
            )
        except (RuntimeError, ValueError) as exc:
            report["models"][name] = {"error": str(exc)}
            continue
        report["models"][name] = {
            "params": fitted.params_,
            "log_likelihood": fitted.log_likelihood_,
            "holdout": score_holdout(fitted, summary),
            "learned": score_learned(
                orders, pd.Timestamp(calibration_end), fitted, name, summary, time_unit
            ),
        }
    return report


def plot_calibration_by_frequency(
    model: TransactionModel, summary: pd.DataFrame, path: str | Path, max_frequency: int = 7
) -> Path:
    """Write a PNG of mean predicted vs actual holdout purchases by calibration frequency
    0..``max_frequency``+ (FHL05 fig. 4), the standard eyeball check of a BTYD fit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = summary["frequency"].to_numpy(dtype=np.float64)
    duration = float(summary["holdout_duration"].iloc[0])
    predicted = model.conditional_expected_number_of_purchases_up_to_time(
        duration, x, summary["recency"].to_numpy(), summary["T"].to_numpy()
    )
    frame = pd.DataFrame(
        {
            "bucket": np.minimum(x, max_frequency).astype(int),
            "predicted": predicted,
            "actual": summary["holdout_frequency"].to_numpy(dtype=np.float64),
        }
    )
    means = frame.groupby("bucket")[["predicted", "actual"]].mean()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(means.index, means["actual"], "o-", label="actual")
    ax.plot(means.index, means["predicted"], "s--", label=type(model).__name__)
    labels = [str(i) for i in means.index]
    if labels and means.index[-1] == max_frequency:
        labels[-1] = f"{max_frequency}+"
    ax.set_xticks(list(means.index), labels)
    ax.set_xlabel("repeat purchases in calibration")
    ax.set_ylabel(f"mean purchases in holdout ({duration:g} units)")
    ax.legend()
    ax.set_title("Conditional expectations: predicted vs actual")
    out = Path(path)
    fig.savefig(out, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return out

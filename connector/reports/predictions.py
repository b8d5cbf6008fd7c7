"""What ``evaluate predictions`` and ``report predictions`` compute from files or the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from connector.config import Settings
from connector.errors import ConfigError
from connector.predictions import org_summary, predict_people
from connector.predictions.evaluate import evaluate_orders, read_orders_csv
from connector.predictions.outputs import SEGMENT_NAMES
from connector.store import Store
from connector.sync.order_merge import orders_frame
from connector.sync.predict import purchases
from connector.sync.resolve import ORDER_COLUMNS, with_contacts


def stored_purchases(settings: Settings) -> pd.DataFrame:
    """Purchase orders of the last sync, resolved to Contacts (``customer_id, ordered_at,
    amount``)."""
    store = Store(settings.store_location)
    orders = orders_frame(
        store, list(ORDER_COLUMNS), reference_field=settings.order_reference_field
    )
    frame = purchases(
        with_contacts(
            orders,
            store.records.frame("Account", ["Id", "PersonContactId"]),
            store.records.frame("Contact", ["Id"]),
        )
    )
    if frame.empty:
        raise ConfigError(
            f"{settings.database_label} holds no orders yet: run `lead2loyalty sync` "
            "first, or pass --orders FILE.csv"
        )
    return frame


def evaluate_command(
    settings: Settings,
    orders_file: Path | None,
    calibration_end: datetime | None,
    holdout_end: datetime | None,
    time_unit: str,
    plot: Path | None,
) -> dict[str, Any]:
    """Calibration/holdout scores of every transaction model, JSON-ready."""
    if orders_file is not None:
        try:
            orders = read_orders_csv(orders_file)
        except (OSError, ValueError) as exc:
            raise ConfigError(str(exc)) from None
    else:
        orders = stored_purchases(settings)
    end = (
        holdout_end.replace(tzinfo=UTC)
        if holdout_end
        else datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    start = calibration_end.replace(tzinfo=UTC) if calibration_end else end - timedelta(days=180)
    if start >= end:
        raise ConfigError("--calibration-end must be before --holdout-end")
    first = pd.Timestamp(orders["ordered_at"].min())
    if pd.Timestamp(start) <= first:
        raise ConfigError(
            f"--calibration-end {start:%Y-%m-%d} is before the first order "
            f"({first:%Y-%m-%d}): nothing to fit on"
        )
    unit: Literal["day", "week"] = "day" if time_unit == "day" else "week"
    try:
        out = evaluate_orders(orders, start, end, unit)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if plot is not None:
        from connector.predictions import BetaGeoFitter, calibration_and_holdout_summary
        from connector.predictions.evaluate import plot_calibration_by_frequency

        summary = calibration_and_holdout_summary(orders, start, end, unit)
        model = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
        plot_calibration_by_frequency(model, summary, plot)
        out["plot"] = str(plot)
    return out


def report_command(settings: Settings) -> dict[str, Any]:
    """Org-wide averages of the predictions on the stored orders, and people per segment."""
    from connector.sync import load_predictions_config

    now = datetime.now(UTC)
    people = predict_people(stored_purchases(settings), now, load_predictions_config(settings))
    return {
        "method": str(people["method"].iloc[0]),
        "org": org_summary(people, now),
        "segments": segment_counts(people),
    }


def segment_counts(people: pd.DataFrame) -> list[dict[str, Any]]:
    """People per purchase x churn cell, every one of the 16 (empty cells count 0), P4 first."""
    counts = people["segment"].value_counts()
    return [
        {
            "segment": f"P{p}-C{c}",
            "name": SEGMENT_NAMES[(p, c)],
            "people": int(counts.get(f"P{p}-C{c}", 0)),
        }
        for p in range(4, 0, -1)
        for c in range(1, 5)
    ]

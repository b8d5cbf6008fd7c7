"""What ``evaluate intent``, ``fit intent`` and ``evaluate lead-conversion`` compute from the
store or a file.

Intent is judged on history: everyone is scored as of a cut-off date using only events before
it, then the horizon after it says who converted (Leads: ConvertedDate) or ordered (Contacts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from connector.config import Settings
from connector.errors import ConfigError
from connector.scoring import IntentConfig
from connector.scoring.evaluate import evaluate_table, score_report
from connector.scoring.intent import score_people, summit_scores
from connector.store import Store
from connector.sync.intent import (
    LEAD_BASE,
    ScoringSetup,
    event_names,
    fit_columns,
    fit_conversion,
    lead_columns,
    lead_frame,
    load_scoring,
    order_events,
    resolve_leads,
    seconds,
    totals_of,
)
from connector.sync.resolve import ORDER_COLUMNS, email_index, resolve_events, with_contacts

BAND_EDGES = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


@dataclass
class Population:
    """Everyone scored as of the cut-off: decayed signals, scores and who converted after."""

    object: str
    record_ids: list[str]
    signals: np.ndarray[Any, np.dtype[np.float64]]  # people x signals, decayed values
    score: np.ndarray[Any, np.dtype[np.float64]]
    summit: np.ndarray[Any, np.dtype[np.float64]]
    label: np.ndarray[Any, np.dtype[np.int64]]


def _intent_setup(settings: Settings) -> tuple[Store, ScoringSetup, IntentConfig]:
    setup = load_scoring(settings)
    if setup.intent is None:
        raise ConfigError(
            f"{settings.models_dir / 'intent.yaml'} does not exist; the intent score is off"
        )
    store = Store(settings.store_location)
    if not store.records.count("Lead") and not store.records.count("Contact"):
        raise ConfigError(f"{settings.database_label} holds no Leads or Contacts: run a sync first")
    return store, setup, setup.intent


def populations(
    store: Store, config: IntentConfig, as_of: datetime, horizon_days: int
) -> list[Population]:
    """Leads and Contacts as of ``as_of``, with their label over the next ``horizon_days``."""
    cut = as_of.timestamp()
    end = (as_of + timedelta(days=horizon_days)).timestamp()
    events = store.events.frame(event_names(config))
    leads = store.records.frame("Lead", list(LEAD_BASE))
    contacts = store.records.frame("Contact", ["Id", "Email", "AccountId", "CreatedDate"])
    orders = store.records.frame("Order", list(ORDER_COLUMNS))
    accounts = store.records.frame("Account", ["Id", "PersonContactId"])
    out = []
    # Leads open at the cut-off; converted within the horizon is the label.
    created = seconds(leads["CreatedDate"])
    converted_at = np.where(leads["IsConverted"].eq(True), seconds(leads["ConvertedDate"]), np.nan)
    with np.errstate(invalid="ignore"):
        open_then = (created < cut) & ~(converted_at < cut)
        lead_label = (converted_at >= cut) & (converted_at < end)
    lead_ids = leads["Id"].astype(str).to_numpy()
    lead_events = resolve_leads(events, leads)
    out.append(
        _population("Lead", lead_ids[open_then], lead_label[open_then], lead_events, config, cut)
    )
    # Contacts that existed at the cut-off; an order within the horizon is the label.
    made = seconds(contacts["CreatedDate"])
    exists = ~(made >= cut)
    resolved = resolve_events(events, email_index(contacts, leads))
    resolved = resolved[resolved["object"] == "Contact"]
    bought = order_events(with_contacts(orders, accounts, contacts))
    when = seconds(bought["occurred_at"])
    ordered = bought[
        (bought["name"] == "Order Completed").to_numpy() & (when >= cut) & (when < end)
    ]
    contact_ids = contacts["Id"].astype(str).to_numpy()
    contact_label = pd.Index(contact_ids).isin(ordered["record_id"].astype(str).unique())
    frames = [resolved[["object", "record_id", "name", "occurred_at", "properties"]]]
    if config.orders_from_salesforce:
        frames.append(bought)
    contact_events = pd.concat(frames, ignore_index=True)
    out.append(
        _population(
            "Contact", contact_ids[exists], contact_label[exists], contact_events, config, cut
        )
    )
    return out


def _population(
    obj: str,
    ids: np.ndarray[Any, np.dtype[Any]],
    label: np.ndarray[Any, np.dtype[Any]],
    events: pd.DataFrame,
    config: IntentConfig,
    cut: float,
) -> Population:
    n, k = len(ids), len(config.signals)
    signals = np.zeros((n, k))
    score = np.zeros(n)
    summit = np.zeros(n)
    events = events[events["record_id"].astype(str).isin(set(ids.tolist()))]
    if len(events):
        people, totals = totals_of(events, config, cut)
        where = pd.Index(ids).get_indexer(people.record_ids)
        scored, _ = score_people(totals, config, len(people))
        score[where] = scored
        signals[where] = totals.dense(len(people), k)
        _, raw = totals_of(events, config, cut, no_caps=True)
        web = np.array([s.web for s in config.signals])
        active = np.zeros(len(people), dtype=bool)
        active[raw.person[web[raw.signal]]] = True
        summit[where] = summit_scores(raw, config, len(people), active)
    return Population(obj, ids.tolist(), signals, score, summit, label.astype(np.int64))


def _cut(as_of: datetime | None, horizon_days: int, store: Store) -> datetime:
    if as_of is not None:
        return as_of.replace(tzinfo=UTC) if as_of.tzinfo is None else as_of
    latest = store.events.frame([]).get("occurred_at")  # identifies only: cheap
    moment = datetime.now(UTC)
    if latest is not None and len(latest):
        last = pd.to_datetime(latest, utc=True, errors="coerce", format="mixed").max()
        if pd.notna(last):
            moment = min(moment, last.to_pydatetime())
    return (moment - timedelta(days=horizon_days)).replace(microsecond=0)


def evaluate_intent_command(
    settings: Settings, as_of: datetime | None, horizon_days: int, png: Path | None
) -> dict[str, Any]:
    """Intent and Summit's formula judged on who converted (Leads) or ordered (Contacts)."""
    store, _, config = _intent_setup(settings)
    cut = _cut(as_of, horizon_days, store)
    out: dict[str, Any] = {"as_of": cut.isoformat(), "horizon_days": horizon_days}
    for pop in populations(store, config, cut, horizon_days):
        out[pop.object] = {
            "rows": len(pop.record_ids),
            "converted": int(pop.label.sum()),
            "intent": score_report(pop.label, pop.score, BAND_EDGES),
            "summit": score_report(pop.label, pop.summit, BAND_EDGES),
        }
    if png is not None:
        _chart(out, png)
        out["png"] = str(png)
    return out


def _chart(out: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, obj in zip(axes, ("Lead", "Contact"), strict=True):
        for name, style in (("intent", "-o"), ("summit", "--s")):
            rows = out[obj][name]["bands"]
            ax.plot(
                [b["band"] for b in rows],
                [float("nan") if b["rate"] is None else b["rate"] * 100 for b in rows],  # gaps
                style,
                label=f"{name} (AUC {out[obj][name]['auc']})",
            )
        ax.set_title(f"{obj}s: converted within {out['horizon_days']} days")
        ax.set_xlabel("score band")
        ax.set_ylabel("rate (%)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def fit_intent_command(
    settings: Settings, as_of: datetime | None, horizon_days: int, regularization: float
) -> dict[str, Any]:
    """Learn signal weights from the org's history (regularised logistic regression over the
    decayed signal values as of the cut-off, each weight keeping its configured sign:
    :mod:`connector.scoring.weights`) and write ``models/intent.suggested.yaml``; ``warnings``
    names the collinear signals."""
    from connector.scoring.weights import collinear_signals, sign_bounded_logistic

    store, _, config = _intent_setup(settings)
    cut = _cut(as_of, horizon_days, store)
    pops = populations(store, config, cut, horizon_days)
    x = np.vstack([p.signals for p in pops])
    y = np.concatenate([p.label for p in pops])
    if y.sum() < 10 or (1 - y).sum() < 10:
        raise ConfigError(
            f"only {int(y.sum())} people converted or ordered within {horizon_days} days after "
            f"{cut:%Y-%m-%d}: pick an earlier --as-of or a longer --horizon-days"
        )
    used: np.ndarray[Any, np.dtype[np.bool_]] = np.asarray(x.any(axis=0), dtype=bool)
    # A column per population (Lead, Contact) takes up their different base rates (a Lead
    # converting is rarer than a Contact ordering), so the signals' weights do not.
    kinds = np.concatenate([np.full(len(p.label), i) for i, p in enumerate(pops)])
    design = np.hstack([x[:, used], np.eye(len(pops))[kinds]])
    # each weight keeps the sign the admin gave its signal (a return counts against)
    signs = [1.0 if s.weight >= 0 else -1.0 for s, u in zip(config.signals, used, strict=True) if u]
    fitted = sign_bounded_logistic(design, y, signs + [0.0] * len(pops), regularization)
    coef = np.zeros(len(config.signals))
    coef[used] = fitted[: int(used.sum())]
    names = [s.name for s in config.signals]
    warnings = [
        f"{a} and {b} move together (correlation {pair['correlation']:.2f}): they share one "
        f"effect and the split of weight between them is arbitrary; consider keeping one"
        for pair in collinear_signals(x, names)
        for a, b in [pair["signals"]]
    ]
    # Lift within each population, pooled: conversions among people with the signal over
    # what their population's base rate would give them.
    rates = np.array([p.label.mean() if len(p.label) else 0.0 for p in pops])[kinds]
    # Points per log-odds unit: the full scale spans 4 units (from the base rate to ~50x odds).
    per_unit = config.scale / 4.0
    signals = []
    for j, s in enumerate(config.signals):
        has: np.ndarray[Any, np.dtype[np.bool_]] = np.asarray(x[:, j] > 0)
        expected = float(rates[has].sum())
        lift = float(y[has].sum()) / expected if expected > 0 else None
        weight = round(float(coef[j]) * per_unit, 3) if used[j] else s.weight
        signals.append(
            {
                "name": s.name,
                "current_weight": s.weight,
                "suggested_weight": weight,
                "coefficient": round(float(coef[j]), 4),
                "people_with_signal": int(has.sum()),
                "lift": round(lift, 3) if lift is not None else None,
            }
        )
    path = settings.models_dir / "intent.suggested.yaml"
    path.write_text(
        _suggested_yaml(settings.models_dir / "intent.yaml", signals, warnings), encoding="utf-8"
    )
    return {
        "as_of": cut.isoformat(),
        "horizon_days": horizon_days,
        "people": len(y),
        "converted": int(y.sum()),
        "signals": signals,
        "warnings": warnings,
        "written": str(path),
    }


def _suggested_yaml(current: Path, signals: list[dict[str, Any]], warnings: list[str]) -> str:
    """The current intent.yaml with each signal's weight replaced by the suggestion and its
    lift written beside it (comments and everything else kept), the warnings on top."""
    by_name = {s["name"]: s for s in signals}
    lines = current.read_text(encoding="utf-8").splitlines()
    out = [
        "# Suggested by `lead2loyalty fit intent`: review, then rename to intent.yaml.",
        "# Each weight is the learnt log-odds coefficient x scale / 4; lift is the conversion",
        "# rate of people with the signal over everyone's. Each weight keeps the sign intent.yaml",
        "# gives it (evidence for or against buying): the fit bounds it at 0.",
        *(f"# warning: {w}" for w in warnings),
    ]
    name: str | None = None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("- name:"):
            name = stripped.split(":", 1)[1].strip()
        if stripped.startswith("weight:") and name in by_name:
            s = by_name[name]
            indent = line[: len(line) - len(line.lstrip())]
            lift = "n/a" if s["lift"] is None else f"{s['lift']:.2f}"
            line = (
                f"{indent}weight: {s['suggested_weight']}   # was {s['current_weight']}; "
                f"lift {lift}, {s['people_with_signal']:,} people"
            )
        out.append(line)
    return "\n".join(out) + "\n"


def evaluate_conversion_command(
    settings: Settings,
    leads_file: Path | None,
    label: str | None,
    time_column: str | None,
    positive: str | None,
) -> dict[str, Any]:
    """The lead conversion pipeline on a CSV, or on the synced Leads against two baselines
    (the intent score alone, LeadSource alone) on a time-split holdout."""
    if leads_file is not None:
        if label is None:
            raise ConfigError("--label COLUMN is required with --leads")
        try:
            frame = pd.read_csv(leads_file, dtype=str, keep_default_na=True)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{leads_file}: cannot read it as CSV ({exc})") from None
        return evaluate_table(frame, label, time_column=time_column, positive=positive)
    setup = load_scoring(settings)
    if setup.conversion is None:
        raise ConfigError(f"{settings.models_dir / 'lead_conversion.yaml'} is missing or disabled")
    store = Store(settings.store_location)
    leads = store.records.frame("Lead", lead_columns(setup.conversion))
    if len(leads) < 20:
        raise ConfigError(f"{settings.database_label} holds {len(leads)} Leads: run a sync first")
    events = store.events.frame(event_names(setup.intent)) if setup.intent else pd.DataFrame()
    now = datetime.now(UTC)
    frame, numeric, labels = lead_frame(
        leads, events, now, setup.intent, setup.conversion, training=True
    )
    ordered = frame.sort_values("created", kind="stable")
    cut = int(len(ordered) * (1.0 - setup.conversion.holdout_share))
    train, test = ordered.iloc[:cut], ordered.iloc[cut:]
    if train["label"].nunique() < 2 or test["label"].nunique() < 2:
        raise ConfigError("the time split leaves one class only on one side; more Leads needed")
    from connector.scoring.conversion import LeadConversionModel
    from connector.scoring.evaluate import auc, decile_bands, lift_top_decile
    from connector.scoring.selection import fit_candidate, post_outcome_columns, select_model

    cfg = setup.conversion
    # Point in time: behaviour is counted as of each Lead's decision time (lead_frame); a
    # field whose values exist only after the outcome is found from the data and left out.
    refused = post_outcome_columns(train, train["label"], fit_columns(train, cfg))
    categorical = [c for c in fit_columns(train, cfg) if c not in refused]
    chosen = select_model(
        train,
        train["label"].to_numpy(),
        categorical,
        numeric,
        in_time_order=True,
        regularization=cfg.regularization,
    )
    y = test["label"].to_numpy()
    held = {}
    for name in chosen["candidates"]:
        model = fit_candidate(
            name, train, train["label"].to_numpy(), categorical, numeric, cfg.regularization
        )
        held[name] = model.predict_proba(test)
        chosen["candidates"][name]["holdout_auc"] = auc(y, held[name])
    learned = held[chosen["winner"]]
    source_only = LeadConversionModel(cfg.regularization).fit(
        train, train["label"], ["LeadSource"], []
    )
    final, _ = fit_conversion(frame.drop(columns=list(refused)), numeric, labels, cfg)
    return {
        "rows": len(frame),
        "positives": int(frame["label"].sum()),
        "method": (
            f"time split on CreatedDate: train {len(train):,} (time-ordered cross-validation "
            f"chooses the learner), test {len(test):,}"
        ),
        "auc": auc(y, learned),
        "model": chosen["winner"],
        "candidates": chosen["candidates"],
        "refused": refused,
        "lift_top_decile": lift_top_decile(y, learned),
        "bands": decile_bands(y, learned),
        "baselines": {
            "intent_score": auc(y, test["intent"]),
            "lead_source_only": auc(y, source_only.predict_proba(test)),
        },
        "top_factors": final.logistic.top_factors(10),
    }

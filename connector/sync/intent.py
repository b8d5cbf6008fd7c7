"""The scoring part of the compute step, and its moments: stored records and events in,
per-Lead and per-Contact intent and conversion values out.

Glue like ``sync/predict.py``: it resolves events and orders to people, turns them into the
arrays the pure models in ``connector.scoring`` take, and shapes their results as the engine's
frames (indexed by object and record id, one column per value key). Store access goes through
``connector.store``; Salesforce through the client the engine hands in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from connector.config import Settings
from connector.errors import MappingError
from connector.mapping import load_yaml_model
from connector.mapping.values import keys_of
from connector.scoring import IntentConfig, LeadConversionConfig
from connector.scoring.conversion import (
    BLANK,
    LeadConversionModel,
    factors_text,
    gate,
    lead_features,
    score_1_99,
)
from connector.scoring.intent import (
    SignalTotals,
    caps,
    decayed_signals,
    half_lives,
    machine_events,
    score_people,
    signal_index,
)
from connector.scoring.moments import crossings
from connector.scoring.reasons import all_reasons
from connector.scoring.selection import ConversionScorer
from connector.store import Store, StoredModel
from connector.sync.effects import Effects, MomentCall
from connector.sync.resolve import Resolved, event_emails, normalise_email
from connector.sync.streams import Stream
from connector.texts.intent_classifier import IntentClassifier, load_intent_classifier
from connector.texts.text_config import TextsConfig

log = logging.getLogger(__name__)
M = TypeVar("M", IntentConfig, LeadConversionConfig, TextsConfig)

INTENT_KEYS = keys_of("intent")
CONVERSION_KEYS = keys_of("conversion")
MODEL_NAME = "lead_conversion"
#: Lead fields the scoring steps read whatever the model settings (LeadSource: the
#: evaluation's source-only baseline).
LEAD_BASE = (
    "Id",
    "Email",
    "IsConverted",
    "ConvertedContactId",
    "ConvertedDate",
    "CreatedDate",
    "LeadSource",
)


def lead_columns(conversion: LeadConversionConfig | None) -> list[str]:
    """The stored Lead fields to read: :data:`LEAD_BASE` and the conversion model's
    ``categorical`` fields (models/lead_conversion.yaml)."""
    return list(dict.fromkeys([*LEAD_BASE, *(conversion.categorical if conversion else ())]))


def with_lead_fields(stream: Stream, setup: ScoringSetup | None) -> Stream:
    """The Lead stream with the conversion model's ``categorical`` fields added (other streams
    as they are), so a field an admin names there is pulled; one the org lacks is dropped after
    describe like any other."""
    conversion = setup.conversion if setup is not None else None
    if stream.object_name != "Lead" or conversion is None:
        return stream
    extra = [f for f in conversion.categorical if f not in stream.fields]
    if not extra:
        return stream
    return replace(stream, fields=(*stream.fields, *extra), optional=(*stream.optional, *extra))


CAMPAIGN = "Campaign"  # the first form or campaign a Lead came through (from its events)
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


@dataclass(frozen=True)
class ScoringSetup:
    """The scoring models' settings, as the engine receives them (None: not configured)."""

    intent: IntentConfig | None = None
    conversion: LeadConversionConfig | None = None
    texts: TextsConfig | None = None
    #: the intents ``fit texts`` learnt (models/texts.intents.json), when texts are on
    text_intents: IntentClassifier | None = None


def load_scoring(settings: Settings) -> ScoringSetup:
    """``models/intent.yaml`` and ``models/lead_conversion.yaml`` validated (every problem of
    both files as file:line); a file that does not exist switches its model off."""
    problems: list[str] = []

    def load(name: str, model: type[M]) -> M | None:
        path = settings.models_dir / name
        if not path.exists():
            return None
        try:
            return load_yaml_model(path, model)
        except MappingError as exc:
            problems.extend(exc.problems)
            return None

    intent = load("intent.yaml", IntentConfig)
    conversion = load("lead_conversion.yaml", LeadConversionConfig)
    texts = load("texts.yaml", TextsConfig)
    if problems:
        raise MappingError(problems)
    if conversion is not None and not conversion.enabled:
        conversion = None
    if texts is not None and not texts.enabled:
        texts = None
    learnt = load_intent_classifier(settings.models_dir) if texts is not None else None
    return ScoringSetup(intent, conversion, texts, learnt)


def event_names(config: IntentConfig) -> list[str]:
    """Every event name the intent score reads (signals and email sends)."""
    names = {e for s in config.signals for e in s.events}
    return sorted(names | set(config.machine_opens.send_events))


def seconds(values: pd.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Stored ISO 8601 times (or dates) as epoch seconds (NaN where unreadable)."""
    moments = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    out: np.ndarray[Any, np.dtype[np.float64]] = (
        (moments - _EPOCH).dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)
    )
    return out


# ---------------------------------------------------------------------- resolution
def resolve_leads(events: pd.DataFrame, leads: pd.DataFrame) -> pd.DataFrame:
    """Events of every Lead by its own email, converted or not (what a Lead did before it
    converted: the lead model's training history)."""
    if not len(events) or not len(leads):
        return events.iloc[:0].assign(object="Lead", record_id=pd.Series(dtype=object))
    by_email = (
        pd.DataFrame({"email": normalise_email(leads["Email"]), "record_id": leads["Id"]})
        .dropna()
        .drop_duplicates("email")
        .set_index("email")["record_id"]
    )
    out = events.assign(object="Lead", record_id=event_emails(events).map(by_email))
    return out.dropna(subset=["record_id"])


def order_events(orders: pd.DataFrame) -> pd.DataFrame:
    """Resolved orders (with ``contact_id``) as 'Order Completed' events of their Contact
    (reduction orders as 'Order Refunded')."""
    if not len(orders):
        return pd.DataFrame(columns=["object", "record_id", "name", "occurred_at", "properties"])
    when = orders.get("ActivatedDate")
    stamp = when.where(when.notna(), orders["EffectiveDate"]) if when is not None else None
    refund = orders.get("IsReductionOrder", pd.Series(None, index=orders.index)).eq(True)
    frame = pd.DataFrame(
        {
            "object": "Contact",
            "record_id": orders["contact_id"],
            "name": np.where(refund, "Order Refunded", "Order Completed"),
            "occurred_at": stamp if stamp is not None else orders["EffectiveDate"],
            "properties": "{}",
        }
    )
    return frame.dropna(subset=["record_id", "occurred_at"])


def intent_events(resolved: Resolved, config: IntentConfig) -> pd.DataFrame:
    """The events the intent score reads, of resolved people: its signals' events and the
    identifies (``object``, ``record_id``, ``name``, ``occurred_at``, ``properties``), plus the
    orders as order events when ``orders_from_salesforce`` (each order once: the Resolve step
    dropped the order events the orders stand for)."""
    events = resolved.events
    wanted = events["name"].isin([*event_names(config), "identify"]) & events["object"].notna()
    frames = [events.loc[wanted, ["object", "record_id", "name", "occurred_at", "properties"]]]
    if config.orders_from_salesforce:
        frames.append(order_events(resolved.orders))
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


# ---------------------------------------------------------------------- arrays
@dataclass(frozen=True)
class People:
    """The people scored: position i is (objects[i], record_ids[i])."""

    objects: np.ndarray[Any, np.dtype[Any]]
    record_ids: np.ndarray[Any, np.dtype[Any]]

    def __len__(self) -> int:
        return len(self.record_ids)

    def index(self) -> pd.MultiIndex:
        """The engine's frame index for these people."""
        return pd.MultiIndex.from_arrays(
            [self.objects.astype(object), self.record_ids.astype(object)],
            names=["object", "record_id"],
        )


def totals_of(
    resolved: pd.DataFrame,
    config: IntentConfig,
    now: float | pd.Series,
    *,
    no_caps: bool = False,
    decay_from: float | None = None,
) -> tuple[People, SignalTotals]:
    """Decayed signal values per person of ``resolved`` events (object, record_id, name,
    occurred_at, properties) as of ``now`` (epoch seconds, or per record id).

    ``decay_from`` (epoch seconds): events up to ``now`` count, but their ages are measured
    from the earlier of ``now`` and ``decay_from``, and an event after that weighs in full (the
    day's start: :func:`intent_values`, and an open Lead's conversion score)."""
    keys = resolved["object"].astype(str) + "\x1f" + resolved["record_id"].astype(str)
    codes, uniques = pd.factorize(keys, sort=True)
    split = pd.Series(uniques, dtype=object).str.split("\x1f", n=1, expand=True)
    people = People(
        split[0].to_numpy(dtype=object) if len(uniques) else np.array([], dtype=object),
        split[1].to_numpy(dtype=object) if len(uniques) else np.array([], dtype=object),
    )
    person = codes.astype(np.int64)
    signal = signal_index(config, resolved["name"].to_numpy())
    t = seconds(resolved["occurred_at"])
    multiplier = _multiplier(resolved, person, signal, t, config)
    if isinstance(now, pd.Series):
        ref: float | np.ndarray[Any, np.dtype[np.float64]] = now.reindex(
            people.record_ids
        ).to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        ref = float(now)
    if decay_from is not None:
        # after the multiplier, which reads the events' own times (seconds from send to open);
        # per person, the decay starts at the earlier of their ``now`` and ``decay_from`` (a
        # person without a ``now``, NaN, keeps it and their events' times)
        if isinstance(ref, np.ndarray):
            signal = np.where(t > ref[person], -1, signal)
            ref = np.minimum(ref, decay_from)
            t = np.fmin(t, ref[person])
        else:
            signal = np.where(t > ref, -1, signal)
            ref = min(ref, decay_from)
            t = np.minimum(t, ref)
    cap = np.zeros(len(config.signals), dtype=np.int64) if no_caps else caps(config)
    totals = decayed_signals(person, signal, t, ref, half_lives(config), cap, multiplier)
    return people, totals


def _maybe_machine(
    resolved: pd.DataFrame,
    kind: np.ndarray[Any, np.dtype[Any]],
    mail: np.ndarray[Any, np.dtype[np.int64]],
    person: np.ndarray[Any, np.dtype[np.int64]],
    t: np.ndarray[Any, np.dtype[np.float64]],
    mo: Any,
) -> bool:
    """Whether any machine open or click can be there, without parsing properties: it needs a
    send to compare opens with, a sent_at, or a burst of clicks by one person. (Parsing the
    properties of every email event costs seconds on a million of them.)"""
    if (kind[mail] == "send").any():
        return True
    if resolved["properties"].iloc[mail].astype("string").str.contains('"sent_at"').any():
        return True
    nan = np.full(mail.size, np.nan)
    rough = machine_events(
        kind[mail], person[mail], t[mail], nan, 0.0, mo.clicks_at_once, mo.click_window_seconds
    )
    return bool(rough.any())


def _multiplier(
    resolved: pd.DataFrame,
    person: np.ndarray[Any, np.dtype[np.int64]],
    signal: np.ndarray[Any, np.dtype[np.int64]],
    t: np.ndarray[Any, np.dtype[np.float64]],
    config: IntentConfig,
) -> np.ndarray[Any, np.dtype[np.float64]] | None:
    """Per-event weight: machine email opens/clicks discounted, value properties applied."""
    out: np.ndarray[Any, np.dtype[np.float64]] | None = None
    names = resolved["name"]
    mo = config.machine_opens
    kind = np.select(
        [
            names.isin(mo.send_events).to_numpy(),
            names.isin(mo.open_events).to_numpy(),
            names.isin(mo.click_events).to_numpy(),
        ],
        ["send", "open", "click"],
        default="",
    )
    mail = np.flatnonzero(kind != "")
    if mail.size and _maybe_machine(resolved, kind, mail, person, t, mo):
        props = resolved["properties"].iloc[mail].astype("string")
        key = props.str.extract(r'"(?:email_id|message_id|campaign_id)": ?"([^"]*)"')[0]
        sent_at = seconds(props.str.extract(r'"sent_at": ?"([^"]*)"')[0])
        # One group per person and email; events naming no email group per person.
        group_key = pd.Series(person[mail]).astype(str) + "|" + key.fillna("").to_numpy()
        group = pd.factorize(group_key)[0].astype(np.int64)
        machine = machine_events(
            kind[mail],
            group,
            t[mail],
            sent_at,
            mo.open_within_seconds,
            mo.clicks_at_once,
            mo.click_window_seconds,
        )
        if machine.any():
            out = np.ones(len(resolved))
            out[mail[machine]] = mo.counts_as
    for i, s in enumerate(config.signals):
        if s.value_property is None:
            continue
        rows = np.flatnonzero(signal == i)
        if not rows.size:
            continue
        text = resolved["properties"].iloc[rows].astype("string")
        pattern = rf'"{s.value_property}": ?"?(-?[0-9.]+)'
        value = pd.to_numeric(text.str.extract(pattern)[0], errors="coerce").to_numpy()
        scaled = np.clip(np.nan_to_num(value / s.value_unit, nan=1.0), 0.0, 10.0)
        out = np.ones(len(resolved)) if out is None else out
        out[rows] *= scaled
    return out


# ---------------------------------------------------------------------- intent
def intent_values(
    people_events: pd.DataFrame, now: datetime, config: IntentConfig
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Intent score and reasons per Lead and Contact with events (:func:`intent_events`),
    indexed by object and record id, and what the run records."""
    if people_events.empty:
        empty = pd.DataFrame(
            columns=list(INTENT_KEYS), index=People(np.array([]), np.array([])).index()
        )
        return empty, {"method": "none: no events", "people": 0}
    # Decayed as of the start of ``now``'s UTC day, as the predictions are (and the reasons'
    # ages count whole UTC days): a person recomputed later in the day, touched by a record
    # that changes nothing of theirs (a Task a Flow made), gets the values the morning's run
    # wrote, so a rerun within the day writes nothing unless an input changed. Today's events
    # weigh in full.
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    people, totals = totals_of(people_events, config, now.timestamp(), decay_from=day.timestamp())
    score, _ = score_people(totals, config, len(people))
    reasons = all_reasons(totals, config, score, range(len(people)))
    out = pd.DataFrame(
        {
            "intent.score": score,
            "intent.reasons": [reasons[i] for i in range(len(people))],
        },
        index=people.index(),
    )
    record = {
        "method": f"decayed signals: {len(people):,} people, {int((score >= 4.0).sum()):,} at 4+",
        "people": len(people),
        "leads": int((people.objects == "Lead").sum()),
        "contacts": int((people.objects == "Contact").sum()),
        "hot": int((score >= 4.0).sum()),
        "mean": round(float(score.mean()), 3) if len(score) else 0.0,
    }
    return out, record


# ---------------------------------------------------------------------- lead conversion
def lead_frame(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    now: datetime,
    intent: IntentConfig | None,
    conversion: LeadConversionConfig,
    *,
    training: bool = False,
) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    """One row per Lead (indexed by Id): fit features, behaviour features as of each Lead's
    decision time, ``label`` (converted), ``created``, ``asof`` (that time, epoch seconds) and
    ``intent`` (the intent score as of that time). Returns (frame, numeric columns, labels).

    The decision time of a converted Lead is its ConvertedDate (a date: the day's start, so
    nothing of the conversion day counts). An open Lead is scored as of ``now``; to learn from
    it (``training``), it is taken at the age converted Leads typically decide at (their median
    days from CreatedDate to ConvertedDate; ``now`` if sooner), so both classes are measured
    alike. Measured at ``now``, an open Lead's old activity has decayed to nothing while a
    converted Lead's is fresh, and behaviour then separates the classes by when it was measured,
    not by what the Lead did (on a synthetic history: each signal alone at AUC 1.000)."""
    leads = leads.drop_duplicates("Id").set_index("Id", drop=False)
    frame = lead_features(leads, conversion.categorical)
    converted = leads["IsConverted"].eq(True)
    frame["label"] = converted.astype(int).to_numpy()
    frame["created"] = seconds(leads["CreatedDate"])
    decided = pd.Series(seconds(leads["ConvertedDate"]), index=leads.index)
    asof = pd.Series(now.timestamp(), index=leads.index, dtype=float)
    if training:
        created = pd.Series(frame["created"].to_numpy(dtype=float), index=leads.index)
        age = (decided - created)[converted & decided.notna() & created.notna()]
        if len(age):
            typical = created + float(age.clip(lower=0).median())
            asof = typical.where(typical.notna() & (typical < asof), asof)
    asof = decided.where(converted & decided.notna(), asof)
    frame["asof"] = asof
    numeric: list[str] = []
    labels: dict[str, str] = {}
    frame["intent"] = 0.0
    if intent is not None:
        resolved = resolve_leads(events, leads)
        if len(resolved):
            # Scored (not training), open Leads' behaviour decays as of the start of ``now``'s
            # UTC day, as their intent does: a Lead recomputed later the same day gets the
            # morning's score. Converted Leads are taken at a day's start already.
            day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            decay_from = None if training else day.timestamp()
            people, totals = totals_of(resolved, intent, asof, decay_from=decay_from)
            position = pd.Index(people.record_ids)
            dense = totals.dense(len(people), len(intent.signals))
            score, _ = score_people(totals, intent, len(people))
            frame["intent"] = pd.Series(score, index=position).reindex(frame.index).fillna(0.0)
            if conversion.behaviour:
                for j, s in enumerate(intent.signals):
                    if not dense[:, j].any():
                        continue
                    column = pd.Series(np.log1p(dense[:, j]), index=position)
                    frame[s.name] = column.reindex(frame.index).fillna(0.0)
                    numeric.append(s.name)
                    labels[s.name] = s.label
            frame[CAMPAIGN] = _first_campaign(resolved, intent, asof).reindex(frame.index)
            frame[CAMPAIGN] = frame[CAMPAIGN].fillna(BLANK)
    return frame, numeric, labels


def _first_campaign(resolved: pd.DataFrame, intent: IntentConfig, asof: pd.Series) -> pd.Series:
    """Per Lead, the form or campaign of its first form submission before its decision time
    (``form``, ``campaign_id``, ``utm_campaign`` or ``campaign`` property)."""
    forms = [e for s in intent.signals if s.name == "forms" for e in s.events]
    rows = resolved[resolved["name"].isin(forms)]
    if not len(rows):
        return pd.Series(dtype=object)
    when = seconds(rows["occurred_at"])
    rows = rows.assign(t=when)[when <= asof.reindex(rows["record_id"]).to_numpy()]
    first = rows.sort_values("t", kind="stable").drop_duplicates("record_id")
    found = (
        first["properties"]
        .astype("string")
        .str.extract(r'"(?:form|campaign_id|utm_campaign|campaign)": ?"([^"]{1,60})"')[0]
    )
    return pd.Series(found.to_numpy(dtype=object), index=first["record_id"].to_numpy())


def fit_columns(frame: pd.DataFrame, conversion: LeadConversionConfig) -> list[str]:
    """The categorical columns a fit reads: the configured Lead fields, plus the first form or
    campaign when events carry one."""
    extra = [CAMPAIGN] if CAMPAIGN in frame and conversion.behaviour else []
    return [*conversion.categorical, *extra]


def fit_conversion(
    frame: pd.DataFrame,
    numeric: list[str],
    labels: dict[str, str],
    conversion: LeadConversionConfig,
) -> tuple[ConversionScorer, dict[str, Any]]:
    """Fit on every Lead; measure on a time split first (train on the Leads created before the
    cut-off, test on the later ones). A Lead field whose values exist only after the outcome
    (:func:`~connector.scoring.selection.post_outcome_columns`) is left out, and the record
    says which and why.

    The learner is the one ``evaluate lead-conversion`` would pick: time-ordered
    cross-validation between the logistic model and gradient boosting
    (:func:`~connector.scoring.selection.select_model`); the scorer writes the winner's
    calibrated probability and keeps the logistic model for the factors. The record names the
    learner (``learner``) and each candidate's cross-validated AUC (``candidates``)."""
    from sklearn.metrics import roc_auc_score

    from connector.scoring.selection import fit_candidate, post_outcome_columns, select_model

    # Behaviour is counted up to each Lead's decision time by construction (lead_frame); a
    # field's history is not in the store, so the data must show it was there before.
    refused = post_outcome_columns(frame, frame["label"], fit_columns(frame, conversion))
    frame = frame.drop(columns=list(refused))
    ordered = frame.sort_values("created", kind="stable")
    cut = int(len(ordered) * (1.0 - conversion.holdout_share))
    train, test = ordered.iloc[:cut], ordered.iloc[cut:]
    record: dict[str, Any] = {"rows": len(frame), "positives": int(frame["label"].sum())}
    if refused:
        record["refused"] = refused
    categorical = [c for c in fit_columns(frame, conversion) if c not in refused]
    y = ordered["label"].to_numpy(dtype=np.int64)
    chosen = select_model(
        ordered,
        y,
        categorical,
        numeric,
        in_time_order=True,
        regularization=conversion.regularization,
    )
    learner = str(chosen["winner"])
    record["learner"] = learner
    record["candidates"] = chosen["candidates"]
    if train["label"].nunique() == 2 and test["label"].nunique() == 2:
        probe = fit_candidate(
            learner,
            train,
            train["label"].to_numpy(dtype=np.int64),
            categorical,
            numeric,
            conversion.regularization,
        )
        record["holdout_auc"] = round(
            float(roc_auc_score(test["label"], probe.predict_proba(test))), 4
        )
        record["holdout_rows"] = len(test)
    logistic = LeadConversionModel(conversion.regularization).fit(
        frame, frame["label"], categorical, numeric, labels
    )
    winner = fit_candidate(learner, ordered, y, categorical, numeric, conversion.regularization)
    boosting = winner.model if learner == "gradient_boosting" else None
    scorer = ConversionScorer(logistic, learner, boosting, winner.slope, winner.intercept)
    record["top_factors"] = logistic.top_factors(8)
    return scorer, record


def conversion_values(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    now: datetime,
    intent: IntentConfig | None,
    conversion: LeadConversionConfig,
    stored: StoredModel | None,
) -> tuple[pd.DataFrame, dict[str, Any], tuple[str, dict[str, Any]] | None]:
    """Conversion score, probability and factors per open Lead with the stored model, or with
    one fitted now when none is stored yet and the gate passes (pure: the fitted model comes
    back as (parameters, record) for the Effects step to store)."""
    empty = pd.DataFrame(
        columns=list(CONVERSION_KEYS), index=People(np.array([]), np.array([])).index()
    )
    if not len(leads):
        return empty, {"method": "none: no Leads"}, None
    frame, numeric, labels = lead_frame(leads, events, now, intent, conversion)
    fitted_now: tuple[str, dict[str, Any]] | None = None
    if stored is None:
        passes, why, counts = gate(
            leads["CreatedDate"], leads["ConvertedDate"], now, conversion.gate
        )
        if not passes:
            return empty, {"method": f"not written: {why}", "gate": counts}, None
        learn, numeric, labels = lead_frame(leads, events, now, intent, conversion, training=True)
        model, fitted = fit_conversion(learn, numeric, labels, conversion)
        fitted_now = (model.to_json(), {**fitted, "gate": counts})
        fitted_at = now
    else:
        model = ConversionScorer.from_json(stored.params)
        fitted, fitted_at = stored.record, stored.fitted_at
    open_leads = frame[frame["label"] == 0]
    probability = model.predict_proba(open_leads)
    factors = model.logistic.factors(open_leads, conversion.factors_top)
    out = pd.DataFrame(
        {
            "conversion.score": score_1_99(probability),
            "conversion.probability": probability.round(4),
            "conversion.factors": [factors_text(f) for f in factors],
        },
        index=People(
            np.full(len(open_leads), "Lead", dtype=object), open_leads.index.to_numpy(dtype=object)
        ).index(),
    )
    record = {
        "method": "learned",
        "leads_scored": len(out),
        "fitted_at": fitted_at.isoformat(),
        "holdout_auc": fitted.get("holdout_auc"),
        "learner": model.learner,
    }
    return out, record, fitted_now


def retrain(store: Store, setup: ScoringSetup, now: datetime) -> dict[str, Any]:
    """Refit the lead conversion model on the stored Leads and events (the clock's job); below
    the gate nothing is stored and the record says why."""
    if setup.conversion is None:
        return {"method": "none: models/lead_conversion.yaml is missing or disabled"}
    leads = store.records.frame("Lead", lead_columns(setup.conversion))
    passes, why, counts = gate(
        leads["CreatedDate"], leads["ConvertedDate"], now, setup.conversion.gate
    )
    if not passes:
        return {"method": f"not fitted: {why}", "gate": counts}
    events = store.events.frame(event_names(setup.intent)) if setup.intent else _no_events()
    frame, numeric, labels = lead_frame(
        leads, events, now, setup.intent, setup.conversion, training=True
    )
    model, record = fit_conversion(frame, numeric, labels, setup.conversion)
    store.scoring.save_model(MODEL_NAME, model.to_json(), {**record, "gate": counts})
    return {"method": "fitted", **record}


def _no_events() -> pd.DataFrame:
    return pd.DataFrame(columns=["name", "occurred_at", "email", "anonymous_id", "properties"])


def retrain_job() -> dict[str, Any]:
    """The clock's retraining job (``connector.sync.intent:retrain_job``)."""
    from connector.config import load_settings

    settings = load_settings()
    record = retrain_now(Store(settings.store_location), load_scoring(settings), datetime.now(UTC))
    log.info("lead conversion retrain: %s", record.get("method"))
    return record


def retrain_now(store: Store, setup: ScoringSetup, now: datetime) -> dict[str, Any]:
    """A refit outside a sync (the clock, ``fit lead-conversion``): new parameters move the
    inputs generation, so the next sync rescores instead of skipping its compute step."""
    record = retrain(store, setup, now)
    store.records.bump_generation()
    return record


# ---------------------------------------------------------------------- the compute step
@dataclass(frozen=True)
class ScoringInputs:
    """What the scoring part of the compute step reads of the store besides the resolved
    people (:func:`load_inputs`): the stored lead model and each moment's fired people."""

    model: StoredModel | None
    fired: dict[tuple[str, str], set[str]]  # (moment, object) -> record ids


def load_inputs(store: Store, setup: ScoringSetup) -> ScoringInputs:
    """Read what :func:`scoring_values` needs of the store."""
    model = store.scoring.load_model(MODEL_NAME) if setup.conversion is not None else None
    fired = {
        (m.name, obj): store.scoring.fired(m.name, obj)
        for m in (setup.intent.moments if setup.intent is not None else ())
        if m.enabled
        for obj in m.objects
    }
    return ScoringInputs(model, fired)


def scoring_values(
    resolved: Resolved, setup: ScoringSetup, inputs: ScoringInputs
) -> tuple[list[pd.DataFrame], dict[str, dict[str, Any]], Effects]:
    """The scoring frames of the compute step, what each model did, and the effects planned:
    a lead model fitted now (stored after the push) and the intent moments' Flow calls (pure).

    In a run of some people the frames hold only them; the lead model then needs a stored fit
    (a run of some people never fits: it scores against the last full run's model)."""
    frames: list[pd.DataFrame] = []
    records: dict[str, dict[str, Any]] = {}
    effects = Effects()
    if setup.intent is not None:
        values, record = intent_values(
            intent_events(resolved, setup.intent), resolved.now, setup.intent
        )
        values = values[resolved.wants(values.index)]
        records["intent"] = record
        frames.append(values)
    if setup.conversion is not None:
        leads = resolved.leads
        if resolved.people is not None:  # a stored model scores just these Leads
            leads = leads[
                leads["Id"].astype(str).isin([r for o, r in resolved.people if o == "Lead"])
            ]
        if resolved.people is not None and inputs.model is None:
            records["lead_conversion"] = {"method": "not fitted yet: the next full run fits it"}
        else:
            values, record, fitted = conversion_values(
                leads, resolved.events, resolved.now, setup.intent, setup.conversion, inputs.model
            )
            if fitted is not None:
                effects.models[MODEL_NAME] = fitted
            records["lead_conversion"] = record
            frames.append(values[resolved.wants(values.index)])
    if setup.intent is not None and frames:
        moments, record = plan_moments(frames[0], setup.intent, inputs.fired, resolved)
        effects.extend(moments)
        if record:
            records["moments"] = record
    return frames, records, effects


# ---------------------------------------------------------------------- moments
def plan_moments(
    computed: pd.DataFrame,
    config: IntentConfig,
    fired: dict[tuple[str, str], set[str]],
    resolved: Resolved,
) -> tuple[Effects, dict[str, Any]]:
    """Each enabled moment's Flow call for every person who crossed its line since they were
    last told, once per crossing, and the people it re-arms (pure). The Effects step remembers
    a person only once the Flow ran for them, so a refused call comes again next run.

    In a run of some people only they are compared: the others' scores were not computed."""
    effects = Effects()
    record: dict[str, Any] = {}
    if "intent.score" not in computed:
        return effects, record
    scores = computed["intent.score"].dropna()
    reasons = computed.get("intent.reasons", None)
    for moment in config.moments:
        if not moment.enabled:
            continue
        for obj in moment.objects:
            if obj not in scores.index.get_level_values(0):
                now_scores: dict[str, float] = {}
            else:
                now_scores = scores.xs(obj, level=0).astype(float).to_dict()
            before = fired.get((moment.name, obj), set())
            if resolved.people is not None:
                before = {rid for rid in before if (obj, rid) in resolved.people}
            change = crossings(now_scores, before, moment.threshold, moment.rearm)
            if change.rearm:
                effects.rearm.append((moment.name, obj, list(change.rearm)))
            effects.calls.extend(
                MomentCall(
                    moment=moment.name,
                    flow=moment.flow,
                    inputs={
                        "recordId": rid,
                        "objectName": obj,
                        "intentScore": now_scores[rid],
                        "intentReasons": (
                            str(reasons.get((obj, rid)) or "") if reasons is not None else ""
                        ),
                    },
                    kind="intent",
                    scope=(moment.name, obj),
                    key=rid,
                    value=now_scores[rid],
                )
                for rid in change.fire
            )
            entry = record.setdefault(moment.name, {"fired": 0, "rearmed": 0, "crossed": 0})
            entry["crossed"] += len(change.fire)
            entry["rearmed"] += len(change.rearm)
    return effects, record


def moments_method(record: dict[str, Any]) -> str:
    """One line of what the moments did, for the run report."""
    return ", ".join(
        f"{name} fired {v['fired']:,} (re-armed {v['rearmed']:,})"
        for name, v in record.items()
        if isinstance(v, dict)
    )


def as_of_default(now: datetime, horizon_days: int) -> datetime:
    """The default cut-off of ``evaluate intent`` and ``fit intent``: a horizon before now."""
    return now - timedelta(days=horizon_days)

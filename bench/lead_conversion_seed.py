"""The lead conversion learners against the seeded store's known propensity.

Generates a localorg seed (the generator consumed directly, no server), reads its Leads and
events.jsonl through the intake's normaliser, and builds the conversion frame twice: with open
Leads taken as of now (the old rule, the baseline) and as of the age converted Leads decide at
(``lead_frame(training=True)``). For each: the features the leakage check refuses, both
calibrated learners' cross-validated and holdout AUC, the intent score alone, and the Spearman
correlation of the chosen learner's score on open Leads with the generator's true propensity.

    .venv/bin/python bench/lead_conversion_seed.py --size small [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from scipy.stats import spearmanr

from connector.events.generic import normalise_message
from connector.mapping.loader import load_yaml_model
from connector.scoring.config import IntentConfig, LeadConversionConfig
from connector.scoring.evaluate import auc
from connector.scoring.selection import fit_candidate, post_outcome_columns, select_model
from connector.sync.intent import fit_columns, lead_frame
from localorg.ids import IdFactory
from localorg.seed import SIZES, generate

NOW = datetime(2026, 6, 1, tzinfo=UTC)
OWNER = "005000000000001AAA"
REPO = Path(__file__).resolve().parent.parent


def measure(
    leads: pd.DataFrame,
    events: pd.DataFrame,
    truth: pd.DataFrame,
    intent: IntentConfig,
    conversion: LeadConversionConfig,
    *,
    training: bool,
) -> dict[str, Any]:
    """One rule's figures (see the module docstring)."""
    frame, numeric, _ = lead_frame(leads, events, NOW, intent, conversion, training=training)
    ordered = frame.sort_values("created", kind="stable")
    cut = int(len(ordered) * (1.0 - conversion.holdout_share))
    train, test = ordered.iloc[:cut], ordered.iloc[cut:]
    categorical = fit_columns(train, conversion)
    refused = post_outcome_columns(train, train["label"], categorical)
    categorical = [c for c in categorical if c not in refused]
    y_train = train["label"].to_numpy()
    chosen = select_model(train, y_train, categorical, numeric, in_time_order=True)
    y = test["label"].to_numpy()
    holdout = {
        name: auc(y, fit_candidate(name, train, y_train, categorical, numeric).predict_proba(test))
        for name in chosen["candidates"]
    }
    model = fit_candidate(chosen["winner"], frame, frame["label"].to_numpy(), categorical, numeric)
    scored, _, _ = lead_frame(leads, events, NOW, intent, conversion)  # open Leads, as of now
    open_leads = scored[scored["label"] == 0]
    propensity = truth.reindex(open_leads.index)["propensity"].to_numpy()
    return {
        "refused": sorted(refused),
        "cv_auc": {k: v["auc"] for k, v in chosen["candidates"].items()},
        "holdout_auc": holdout,
        "winner": chosen["winner"],
        "intent_alone_auc": auc(y, test["intent"]),
        "spearman_open_leads": round(
            float(spearmanr(model.predict_proba(open_leads), propensity).statistic), 3
        ),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seed", type=int, default=7, help="rng_seed of the generator")
    args = parser.parse_args(argv)
    intent = load_yaml_model(REPO / "models" / "intent.yaml", IntentConfig)
    conversion = load_yaml_model(REPO / "models" / "lead_conversion.yaml", LeadConversionConfig)
    with tempfile.TemporaryDirectory(prefix="l2l-seed-") as tmp:
        out_dir = Path(tmp)
        rows: list[dict[str, Any]] = []
        for obj, batch in generate(
            args.size, out_dir, IdFactory(), owner_id=OWNER, now=NOW, rng_seed=args.seed
        ):
            if obj == "Lead":
                rows += batch
        truth = pd.read_csv(out_dir / "truth" / "leads.csv").set_index("lead_id")
        with (out_dir / "events.jsonl").open(encoding="utf-8") as fh:
            events = pd.DataFrame([normalise_message(json.loads(line), "seed") for line in fh])
    leads = pd.DataFrame(rows)
    figures: dict[str, Any] = {}
    for label, training in (("as of now (baseline)", False), ("at the decision age", True)):
        start = time.perf_counter()
        figures[label] = measure(leads, events, truth, intent, conversion, training=training)
        figures[label]["seconds"] = round(time.perf_counter() - start, 1)
    print(f"{len(leads):,} Leads, {len(events):,} events, seed size {args.size}")
    base = figures["as of now (baseline)"]["spearman_open_leads"]
    for label, row in figures.items():
        print(f"{label}:")
        for key, value in row.items():
            print(f"  {key}: {value}")
        print(f"  Spearman / baseline's: {row['spearman_open_leads'] / base:.2f}")


if __name__ == "__main__":
    main()

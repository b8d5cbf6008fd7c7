"""Score the prediction models against the seeded store's known truth.

Generates a localorg seed (no Salesforce server: the generator is consumed directly), builds the
orders table, streams the click/open events from events.jsonl, and prints the BG/NBD and
Gamma-Gamma parameters (truth vs fitted), holdout AUC / Brier / decile calibration, expected
purchases vs truth, and best-channel / best-send-hour accuracy against their baselines.

    .venv/bin/python bench/predictions_seed.py --size medium [--seed 7] [--out DIR]
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

from connector.predictions.truth import (
    engagement_events,
    orders_from_batches,
    score_channels_and_hours,
    score_transactions,
)
from localorg.ids import IdFactory
from localorg.seed import SIZES, generate

NOW = datetime(2024, 6, 1, tzinfo=UTC)
OWNER = "005000000000001AAA"


def _params_table(title: str, truth: dict[str, float], *fits: tuple[str, dict[str, float]]) -> str:
    head = f"  {'':8}{'truth':>12}" + "".join(f"{name:>14}{'rel err':>9}" for name, _ in fits)
    lines = [title, head]
    for k, v in truth.items():
        row = f"  {k:8}{v:12.4f}"
        for _, fit in fits:
            row += f"{fit[k]:14.4f}{(fit[k] - v) / v:+9.1%}"
        lines.append(row)
    return "\n".join(lines)


def report(tx: dict[str, Any], ch: dict[str, Any]) -> str:
    """The printed report of :func:`score_transactions` and :func:`score_channels_and_hours`."""
    bg, gg, ho = tx["bgnbd"], tx["gamma_gamma"], tx["holdout"]
    out = [
        f"customers {tx['customers']:,}  orders (no refunds) {tx['orders']:,}  "
        f"customers with same-day repeats merged {tx['same_day_merged_share']:.1%}",
        "",
        _params_table(
            "BG/NBD (per day)",
            bg["truth"],
            ("from orders", bg["fitted"]),
            ("exact x,t_x,T", bg["fitted_on_exact_rft"]),
        ),
        "",
        _params_table(
            f"Gamma-Gamma ({gg['repeat_buyers']:,} repeat buyers)",
            gg["truth"],
            ("fitted", gg["fitted"]),
        ),
        f"  population mean spend: truth {gg['true_mean_spend']:.2f}  "
        f"fitted {gg['fitted_mean_spend']:.2f}",
        "",
        f"Holdout {ho['days']:.0f} days, P(>=1 order) from predict_people ({ho['method']})",
        f"  base rate {ho['base_rate']:.3f}  mean predicted {ho['mean_predicted']:.3f}",
        f"  AUC   {ho['auc']:.4f}   (true parameters: {ho['auc_true_params']:.4f})",
        f"  Brier {ho['brier']:.4f}   (true parameters: {ho['brier_true_params']:.4f}; "
        f"base rate only: {ho['brier_base_rate']:.4f})",
        "  decile         n   mean predicted   observed",
    ]
    for dec, row in ho["calibration"].iterrows():
        out.append(
            f"  {dec:>6} {row['n']:>9.0f} {row['mean_predicted']:>16.3f} {row['observed']:>10.3f}"
        )
    out += [
        "  expected purchases (fitted BG/NBD, conditional on history):",
        f"    vs truth expected_holdout: corr {ho['corr_expected_vs_true_expected']:.3f}  "
        f"MAE {ho['mae_expected_vs_true_expected']:.3f}",
        f"    vs truth n_orders_holdout: corr {ho['corr_expected_vs_actual']:.3f}  "
        f"MAE {ho['mae_expected_vs_actual']:.3f}",
        f"    totals: predicted {ho['total_expected']:,.0f}  truth expected "
        f"{ho['total_true_expected']:,.0f}  actual {ho['total_actual']:,.0f}",
        "",
        f"Best channel ({ch['clicks']:,} clicks; converted = order within 7 days after)",
        "  org click->order rate: "
        + "  ".join(f"{k} {v:.3f}" for k, v in sorted(ch["click_conversion_rate"].items())),
        f"  people with >= 5 clicks: {ch['channel_people']:,}",
        f"  accuracy {ch['channel_accuracy']:.3f}  vs chance (always "
        f"{ch['channel_chance_label']}) {ch['channel_chance']:.3f}",
        "",
        f"Best send hour ({ch['hour_people']:,} people with engagement, "
        f"{ch['hour_personal']:,} with a personal hour)",
        f"  within +-2 h of truth: {ch['hour_accuracy']:.3f} all, "
        f"{ch['hour_accuracy_personal']:.3f} personal; exact hour {ch['hour_exact']:.3f}",
        f"  org-fallback baseline {ch['hour_fallback_accuracy']:.3f}  "
        f"(uniform chance {ch['hour_chance']:.3f})",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="medium")
    parser.add_argument("--seed", type=int, default=7, help="rng_seed of the generator")
    parser.add_argument("--out", type=Path, help="keep the seed's files here (default: temp)")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="l2l-seed-") as tmp:
        out_dir = args.out or Path(tmp)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        batches = generate(
            args.size, out_dir, IdFactory(), owner_id=OWNER, now=NOW, rng_seed=args.seed
        )
        orders = orders_from_batches(batches)
        timings["generate + orders table"] = time.perf_counter() - start
        customers = pd.read_csv(out_dir / "truth" / "customers.csv")
        params = json.loads((out_dir / "truth" / "params.json").read_text(encoding="utf-8"))

        start = time.perf_counter()
        with (out_dir / "events.jsonl").open(encoding="utf-8") as fh:
            events = engagement_events(fh)
        timings["stream events.jsonl"] = time.perf_counter() - start

        start = time.perf_counter()
        tx = score_transactions(orders, customers, params)
        timings["fit BG/NBD x2 + Gamma-Gamma + predict_people"] = time.perf_counter() - start

        start = time.perf_counter()
        ch = score_channels_and_hours(events, orders, customers)
        timings["best_channel + best_send_hour"] = time.perf_counter() - start

    if args.json:
        tx["holdout"]["calibration"] = tx["holdout"]["calibration"].reset_index().to_dict("records")
        print(json.dumps({"transactions": tx, "channels": ch, "timings_s": timings}, indent=2))
        return
    print(f"seed size {args.size}, rng_seed {args.seed}, now {NOW.isoformat()}")
    print(report(tx, ch))
    print("\nTimings")
    for name, secs in timings.items():
        print(f"  {name:<48}{secs:8.2f} s")


if __name__ == "__main__":
    main()

"""What orders tell (issue 24) on a seeded store: the three models' times and their figures.

Generates a seed (the generator consumed directly, no Salesforce server), then times each step
on all its orders (risk: IsolationForest over every order; fulfilment: per Account and per
Contact; recommendations: fit and the top 5 for every buyer) beside a baseline measured in the
same run (a pandas group-by of the orders' amounts per person, the cheapest per-person pass),
and prints the Done-when figures of issue 24 against the planted truth:

- risk: flagged share, precision and recall against truth/frauds.csv;
- fulfilment: degrading Accounts caught within 3 orders of the change, false flags;
- recommendations: hit rate at 5 (and 10) on a time split, over popularity's.

    .venv/bin/python bench/orders.py --size medium [--seed 7]

Measured here (2 shared cores, load 8-10; issue 24 asks each step under 60 s on large):

- medium (304,627 Orders): risk 9.25 s, fulfilment 2.74 s (47.8 s before the CUSUM was
  vectorised), recommendations 6.86 s; peak memory 1.0 GB; figures as before (risk precision
  0.657 / recall 0.840 at 1.00% flagged).
- large (3,020,358 Orders, 5,202,880 items, generated in 447 s): risk 36.92 s, fulfilment
  23.06 s, recommendations (633,918 buyers) 43.69 s, baseline group-by 0.985 s; peak memory
  8.4 GB; risk precision 0.681 / recall 0.888 at 1.01% flagged, fulfilment Accounts 92.3%
  within 3 orders and 0.55% false flags (Contacts 84.5%, 0.79%), hit rate @5 0.295 vs
  popularity 0.088 (x3.36). 12 min 16 s wall in all.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from connector.orders_intel import evaluate as figures
from connector.orders_intel.fulfilment import FulfilmentConfig, trends
from connector.orders_intel.recommend import RecommendConfig, fit, interactions, recommend
from connector.orders_intel.risk import RiskConfig, score_orders
from localorg.ids import IdFactory
from localorg.seed import generate

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
OWNER = "005000000000001AAA"


def _timed(step: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = step()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        # a frame per batch, concatenated once: holding 3 million Orders as dicts (the large
        # seed) would take several times the memory of the frames
        parts: dict[str, list[pd.DataFrame]] = {"Order": [], "OrderItem": []}
        (_, seconds) = _timed(
            lambda: [
                parts[obj].append(pd.DataFrame(batch))
                for obj, batch in generate(
                    args.size, out, IdFactory(), owner_id=OWNER, now=NOW, rng_seed=args.seed
                )
                if obj in parts
            ]
        )
        orders = pd.concat(parts.pop("Order"), ignore_index=True)
        items = pd.concat(parts.pop("OrderItem"), ignore_index=True)
        truth = {
            name: pd.read_csv(out / "truth" / name, dtype=str)
            for name in ("frauds.csv", "fulfilment.csv")
        }
    print(f"seed {args.size}: {len(orders):,} Orders, {len(items):,} items ({seconds:.0f} s)")

    person = figures.order_person(orders)
    _, baseline = _timed(
        lambda: pd.to_numeric(orders["TotalAmount"]).groupby(person.to_numpy()).sum()
    )

    risk, t_risk = _timed(lambda: score_orders(figures.risk_input(orders), RiskConfig()))
    flagged = risk.scores.index[risk.scores["flagged"]]
    r = figures.risk_figures(flagged, truth["frauds.csv"]["order_id"], len(risk.scores))

    def both() -> tuple[Any, Any]:
        cfg = FulfilmentConfig()
        by_account = trends(figures.fulfilment_input(orders, orders["AccountId"]), cfg)
        by_contact = trends(figures.fulfilment_input(orders, person), cfg)
        return by_account, by_contact

    (by_account, by_contact), t_ful = _timed(both)
    changes = truth["fulfilment.csv"]
    f_acc = figures.fulfilment_figures(
        by_account.history, dict(zip(changes["account_id"], changes["change_date"], strict=True))
    )
    f_con = figures.fulfilment_figures(
        by_contact.history, dict(zip(changes["contact_id"], changes["change_date"], strict=True))
    )

    buys = orders[orders["IsReductionOrder"] == 0].assign(person=person)
    joined = items.merge(buys, left_on="OrderId", right_on="Id")
    lines = pd.DataFrame(
        {"person": joined["person"], "item": joined["Product2Id"], "day": joined["EffectiveDate"]}
    )

    def offers() -> pd.DataFrame:
        cfg = RecommendConfig()
        data = interactions(lines, None, cfg)
        return recommend(fit(data, cfg), data, cfg)

    ranked, t_rec = _timed(offers)
    cut = pd.to_datetime(lines["day"]).quantile(0.8).normalize()
    split = {k: figures.recommendation_split(lines, cut, k) for k in (5, 10)}

    print(f"\nbaseline (amount per person, group-by): {baseline:.3f} s")
    for name, secs, n in (
        ("risk (all orders)", t_risk, len(risk.scores)),
        ("fulfilment (accounts + contacts)", t_ful, len(orders)),
        ("recommendations (fit + top 5 each)", t_rec, ranked["person"].nunique()),
    ):
        print(f"  {name:36} {secs:7.2f} s  x{secs / baseline:8.0f} baseline  ({n:,} rows)")
    print(
        f"\nrisk: {r['flagged']:,} of {r['orders']:,} flagged ({r['flagged_share']:.2%}), "
        f"precision {r['precision']:.3f}, recall {r['recall']:.3f} "
        f"({r['frauds']:,} planted; Done when: <= 1%, >= 0.6, >= 0.6)"
    )
    for label, f in (("accounts", f_acc), ("contacts", f_con)):
        print(
            f"fulfilment {label}: {f['detection_rate']:.1%} of {f['degrading']:,} caught within 3 "
            f"orders ({f['mean_orders_to_detect']} on average), {f['false_flag_rate']:.2%} of "
            f"{f['others']:,} others ever flagged (Done when: >= 80%, <= 5%)"
        )
    for k, s in split.items():
        m, p = s["model"], s["popularity"]
        print(
            f"recommendations @{k}: {s['people']:,} people after {cut.date()}, hit rate "
            f"{m[f'hit_rate@{k}']:.3f} vs popularity {p[f'hit_rate@{k}']:.3f} (x{s['ratio']}), "
            f"NDCG {m[f'ndcg@{k}']:.3f} vs {p[f'ndcg@{k}']:.3f}"
            + (" (Done when: x1.5 at 5)" if k == 5 else "")
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(f"peak memory {peak:.1f} GB")


if __name__ == "__main__":
    main()

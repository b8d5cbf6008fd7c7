"""Benchmark: fit + predict BTYD outputs for 1,000,000 synthetic customers.

Prints wall times per stage and the ratio against the same prediction work done by a per-row
Python loop, measured in the same run on a subsample and extrapolated (said so in the output).

    .venv/bin/python bench/predictions.py [--customers 1000000] [--loop-sample 20000]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd
from scipy import special
from threadpoolctl import threadpool_info, threadpool_limits

from connector.predictions import BetaGeoFitter, GammaGammaFitter, predict_people
from connector.predictions.config import PredictionsConfig
from connector.predictions.simulate import (
    orders_from_summary,
    simulate_bg_nbd,
    simulate_gamma_gamma,
)

TRUE_BG = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 3.0}
TRUE_GG = {"p": 6.0, "q": 4.0, "gamma": 15.0}
MONTHS, DISCOUNT, UNIT_DAYS = 12, 0.01, 7.0


def predict_vectorised(bg, gg, x, t_x, T, m):
    """The per-customer outputs predict_people computes from fitted models."""
    out = {
        "p_alive": bg.conditional_probability_alive(x, t_x, T),
        "p_buy_30d": bg.probability_of_purchase_within(30 / UNIT_DAYS, x, t_x, T),
        "p_buy_90d": bg.probability_of_purchase_within(90 / UNIT_DAYS, x, t_x, T),
        "next_order_weeks": bg.median_time_to_next_purchase(365 / UNIT_DAYS, x, t_x, T),
        "clv": gg.customer_lifetime_value(bg, x, t_x, T, m, MONTHS, DISCOUNT, UNIT_DAYS),
    }
    out["churn_risk"] = 1.0 - out["p_buy_90d"]
    return out


def predict_loop(bg, gg, x, t_x, T, m):
    """The same formulas, one customer at a time in plain Python (the baseline)."""
    r, alpha, a, b = (bg.params_[k] for k in ("r", "alpha", "a", "b"))
    p, q, v = (gg.params_[k] for k in ("p", "q", "gamma"))
    rows = []
    for xi, ti, Ti, mi in zip(x.tolist(), t_x.tolist(), T.tolist(), m.tolist(), strict=True):
        if xi > 0:
            odds = a / (b + xi - 1) * ((alpha + Ti) / (alpha + ti)) ** (r + xi)
            pa = 1.0 / (1.0 + odds)
        else:
            pa = 1.0

        def p_buy(t, xi=xi, Ti=Ti, pa=pa):
            return pa * (1.0 - ((alpha + Ti) / (alpha + Ti + t)) ** (r + xi))

        def cond_exp(t, xi=xi, Ti=Ti, pa=pa):
            z = t / (alpha + Ti + t)
            tail = (1 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, a + b + xi - 1, z)
            return (a + b + xi - 1) / (a - 1) * (1 - tail) * pa

        q_w = ((alpha + Ti) / (alpha + Ti + 365 / UNIT_DAYS)) ** (r + xi)
        nxt = (alpha + Ti) * math.expm1(-math.log((1 + q_w) / 2) / (r + xi))
        spend = p * (v + xi * mi) / (p * xi + q - 1)
        clv, prev = 0.0, 0.0
        for month in range(1, MONTHS + 1):
            cum = cond_exp(month * (365.25 / 12) / UNIT_DAYS)
            clv += spend * (cum - prev) / (1 + DISCOUNT) ** month
            prev = cum
        p90 = p_buy(90 / UNIT_DAYS)
        rows.append((pa, p_buy(30 / UNIT_DAYS), p90, nxt, clv, 1 - p90))
    return rows


def threadpool_info_threads() -> str:
    """The BLAS libraries loaded and their default thread counts, e.g. ``openblas: 2``."""
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return ", ".join(f"{p['internal_api']}: {p['num_threads']}" for p in pools) or "no BLAS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--loop-sample", type=int, default=20_000)
    parser.add_argument("--skip-pipeline", action="store_true", help="skip predict_people stage")
    args = parser.parse_args()
    n = args.customers
    rng = np.random.default_rng(2024)

    t0 = time.perf_counter()
    # ages in whole days up to two years, as a store's customer base would have
    ages = np.floor(rng.uniform(1, 730, size=n)) / UNIT_DAYS
    x, t_x, T = simulate_bg_nbd(rng, ages, **TRUE_BG)
    t_x = np.minimum(np.round(t_x * UNIT_DAYS) / UNIT_DAYS, T)
    t_x = np.where(x > 0, np.maximum(t_x, 1 / UNIT_DAYS), 0.0)
    m = simulate_gamma_gamma(rng, x, **TRUE_GG)
    t_gen = time.perf_counter() - t0

    t0 = time.perf_counter()
    bg = BetaGeoFitter().fit(x, t_x, T)
    t_fit_bg = time.perf_counter() - t0
    t0 = time.perf_counter()
    gg = GammaGammaFitter().fit(x, m)
    t_fit_gg = time.perf_counter() - t0
    # The same fits with the BLAS threads left at their default (the fits pin them to one).
    t_fit_threads = []
    for _ in range(3):
        with threadpool_limits(limits=None):
            t0 = time.perf_counter()
            BetaGeoFitter.fit.__wrapped__(BetaGeoFitter(), x, t_x, T)  # type: ignore[attr-defined]
            t_fit_threads.append(time.perf_counter() - t0)
    t_fit_pinned = []
    for _ in range(3):
        t0 = time.perf_counter()
        BetaGeoFitter().fit(x, t_x, T)
        t_fit_pinned.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    vec = predict_vectorised(bg, gg, x, t_x, T, m)
    t_pred = time.perf_counter() - t0

    k = min(args.loop_sample, n)
    t0 = time.perf_counter()
    rows = predict_loop(bg, gg, x[:k], t_x[:k], T[:k], m[:k])
    t_loop_sample = time.perf_counter() - t0
    t_loop = t_loop_sample * n / k
    loop = np.array(rows)
    cols = ["p_alive", "p_buy_30d", "p_buy_90d", "next_order_weeks", "clv", "churn_risk"]
    worst = max(
        float(np.max(np.abs(loop[:, i] - vec[c][:k]) / np.maximum(1.0, np.abs(loop[:, i]))))
        for i, c in enumerate(cols)
    )

    print(f"customers                      {n:>12,}")
    print(f"generate (vectorised)          {t_gen:10.2f} s")
    print(f"fit BG/NBD                     {t_fit_bg:10.2f} s   {bg}")
    print(
        f"  BG/NBD fit x3, one BLAS thread {', '.join(f'{t:.2f}' for t in t_fit_pinned)} s; "
        f"default threads ({threadpool_info_threads()}) "
        f"{', '.join(f'{t:.2f}' for t in t_fit_threads)} s"
    )
    print(f"fit Gamma-Gamma                {t_fit_gg:10.2f} s   {gg.params_}")
    print(
        f"predict (vectorised)           {t_pred:10.2f} s   p_alive, p_buy 30/90d, churn, "
        f"next order, 12-month CLV"
    )
    fit_predict = t_fit_bg + t_fit_gg + t_pred
    print(f"fit (BG/NBD + Gamma-Gamma)     {t_fit_bg + t_fit_gg:10.2f} s")
    print(f"predict                        {t_pred:10.2f} s")
    print(f"fit + predict                  {fit_predict:10.2f} s   (target < 30 s)")
    print(
        f"per-row Python loop (predict)  {t_loop:10.2f} s   EXTRAPOLATED, not measured on "
        f"{n:,}: {k:,} rows timed at {t_loop_sample:.2f} s, times {n / k:.0f}"
    )
    print(f"speed-up, predict vs loop      {t_loop / t_pred:10.1f} x   (against the extrapolation)")
    print(f"max relative difference loop vs vectorised on the sample: {worst:.2e}")
    print(f"true BG/NBD {TRUE_BG}; true Gamma-Gamma {TRUE_GG}")

    if not args.skip_pipeline:
        end = pd.Timestamp("2026-01-01", tz="UTC")
        t0 = time.perf_counter()
        orders = orders_from_summary(rng, x, t_x, T, end)
        t_orders = time.perf_counter() - t0
        t0 = time.perf_counter()
        people = predict_people(orders, end, PredictionsConfig(max_days_since_last_order=None))
        t_pipe = time.perf_counter() - t0
        print(f"orders table built             {t_orders:10.2f} s   {len(orders):,} orders")
        print(
            f"predict_people (orders -> all outputs incl. RFM, fits, segments) "
            f"{t_pipe:.2f} s for {len(people):,} people, method={people['method'].iloc[0]}"
        )


if __name__ == "__main__":
    main()

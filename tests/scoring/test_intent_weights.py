"""Suggested intent weights: each keeps its configured sign, and collinear signals are named."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from connector.scoring.weights import collinear_signals, sign_bounded_logistic


def _data(seed: int = 3, n: int = 4000):
    rng = np.random.default_rng(seed)
    visits = rng.poisson(2.0, n).astype(float)
    carts = rng.poisson(1.0, n).astype(float)
    # checkouts follow cart adds closely: the pair carries one effect
    checkouts = carts + (rng.random(n) < 0.1)
    # in-sample, the pair's effect splits +/- (as cart adds and checkouts did: -0.169)
    logit = -2.0 + 0.4 * visits + 1.0 * carts - 0.3 * checkouts
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(float)
    x = np.column_stack([visits, carts, checkouts])
    return np.hstack([x, np.ones((n, 1))]), y


def test_matches_scikit_learn_where_no_bound_binds():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 3))
    y = (rng.random(2000) < 1 / (1 + np.exp(-(x @ [0.5, 1.0, 0.2] - 0.3)))).astype(float)
    design = np.hstack([x, np.ones((2000, 1))])
    ours = sign_bounded_logistic(design, y, [1, 1, 1, 0], regularization=0.5)
    theirs = LogisticRegression(C=0.5, fit_intercept=False, max_iter=5000).fit(design, y)
    np.testing.assert_allclose(ours, theirs.coef_[0], atol=1e-4)


def test_collinear_signals_get_no_negative_weight():
    design, y = _data()
    free = LogisticRegression(C=1.0, fit_intercept=False, max_iter=5000).fit(design, y)
    assert free.coef_[0][:3].min() < 0  # the unconstrained fit splits the pair +/-
    bounded = sign_bounded_logistic(design, y, [1, 1, 1, 0], regularization=1.0)
    assert bounded[:3].min() >= 0.0
    assert bounded[0] > 0.2  # visits keep their own effect
    assert bounded[3] < 0  # the base-rate column stays free
    # a signal configured as evidence against stays at or below 0
    against = sign_bounded_logistic(design, y, [1, 1, -1, 0], regularization=1.0)
    assert against[2] <= 0.0


def test_the_collinear_pair_is_named():
    design, _ = _data()
    pairs = collinear_signals(design[:, :3], ["visits", "cart_adds", "checkouts"])
    assert [p["signals"] for p in pairs] == [["cart_adds", "checkouts"]]
    assert pairs[0]["correlation"] > 0.9
    # constant and independent columns are never named
    assert collinear_signals(np.column_stack([np.ones(10), np.arange(10.0)]), ["a", "b"]) == []

"""The shared maximum-likelihood search: L-BFGS-B, and Nelder-Mead when L-BFGS-B fails."""

from __future__ import annotations

import numpy as np

from connector.predictions.optimise import NOT_FINITE, converged, minimise

TARGET = np.array([1.5, -0.5])


def _bowl(theta: np.ndarray) -> float:
    return float(np.sum((theta - TARGET) ** 2))


def test_a_good_gradient_converges_with_lbfgsb() -> None:
    res = minimise(lambda th: (_bowl(th), 2 * (th - TARGET)), np.zeros(2))
    assert converged(res)
    np.testing.assert_allclose(res.x, TARGET, atol=1e-6)
    assert hasattr(res, "hess_inv")  # L-BFGS-B's own result, no fallback ran


def test_a_wrong_gradient_fails_lbfgsb_and_nelder_mead_finds_the_minimum() -> None:
    # The gradient points uphill: L-BFGS-B's line search cannot go anywhere.
    res = minimise(lambda th: (_bowl(th), -2 * (th - TARGET)), np.zeros(2))
    np.testing.assert_allclose(res.x, TARGET, atol=1e-4)
    assert res.fun < 1e-8
    assert hasattr(res, "final_simplex")  # Nelder-Mead's result was kept


def test_nowhere_finite_stays_not_finite() -> None:
    res = minimise(lambda th: (1e100, np.zeros(2)), np.zeros(2))
    assert not converged(res)
    assert res.fun >= NOT_FINITE

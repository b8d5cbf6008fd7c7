"""Signal weights learnt from history: a logistic regression whose signal weights keep the sign
the admin gave them, and the collinear signals whose split of one effect is arbitrary.

Why bounded: an intent signal (a visit, a cart add) is evidence *for* buying, a return evidence
against; an unconstrained fit on two signals that move together (cart adds and checkouts) hands
one a positive weight and the other a negative one, which an admin would read as "a checkout
makes a buyer less likely". The fit minimises the same objective as scikit-learn's
``LogisticRegression(C, fit_intercept=False)``, ``C * sum(log-loss) + ||w||^2 / 2``, with
L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995, the bounded L-BFGS that scipy ships) and per column the
bound its sign asks for: ``w_j >= 0`` for +1, ``w_j <= 0`` for -1, free for 0 (the columns that
hold one base rate per population).

Collinearity: two signals whose values correlate above ``threshold`` across people carry one
effect between them; the fit can put it on either, so the warning names both and says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import expit, log_expit

FloatArray = npt.NDArray[np.float64]


def sign_bounded_logistic(
    design: npt.ArrayLike, y: npt.ArrayLike, signs: npt.ArrayLike, regularization: float = 1.0
) -> FloatArray:
    """Coefficients of an L2-regularised logistic regression without intercept, each column's
    coefficient bounded by its entry of ``signs`` (+1: >= 0, -1: <= 0, 0: free)."""
    X = np.asarray(design, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    sign = 2.0 * t - 1.0

    def objective(w: FloatArray) -> tuple[float, FloatArray]:
        z = X @ w
        loss = -float(np.sum(log_expit(sign * z)))
        grad_z = expit(z) - t
        value = regularization * loss + 0.5 * float(w @ w)
        return value, regularization * (X.T @ grad_z) + w

    limits = {1: (0.0, None), -1: (None, 0.0), 0: (None, None)}
    bounds = [limits[int(np.sign(v))] for v in np.asarray(signs, dtype=np.float64)]
    res = minimize(
        objective,
        np.zeros(X.shape[1]),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 5000},
    )
    return np.asarray(res.x, dtype=np.float64)


def collinear_signals(
    values: npt.ArrayLike, names: list[str], threshold: float = 0.8
) -> list[dict[str, Any]]:
    """Pairs of signal columns whose Pearson correlation exceeds ``threshold``, strongest first:
    ``{"signals": [a, b], "correlation": r}``. Constant columns are never collinear."""
    X = np.asarray(values, dtype=np.float64)
    varies = X.std(axis=0) > 0
    idx = np.flatnonzero(varies)
    if idx.size < 2:
        return []
    corr = np.atleast_2d(np.corrcoef(X[:, idx], rowvar=False))
    pairs = []
    for a in range(idx.size):
        for b in range(a + 1, idx.size):
            if corr[a, b] > threshold:
                pairs.append(
                    {
                        "signals": [names[idx[a]], names[idx[b]]],
                        "correlation": round(float(corr[a, b]), 3),
                    }
                )
    return sorted(pairs, key=lambda p: -float(p["correlation"]))

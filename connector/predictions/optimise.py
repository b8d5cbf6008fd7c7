"""The maximum-likelihood search every model fit shares: L-BFGS-B, then Nelder-Mead if it fails.

The models minimise a mean negative log-likelihood over log-parameters (so they stay positive)
and return ``1e100`` where the likelihood is not finite. L-BFGS-B with the analytic gradient is
fast; when it stops without converging, a capped Nelder-Mead restarts from where it stopped and
the better of the two is kept. One function, so every model searches (and could be pinned to
one BLAS thread) the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize

FloatArray = npt.NDArray[np.float64]
#: Where an objective says "not finite here"; a result at or above it is no fit.
NOT_FINITE = 1e99


def converged(res: optimize.OptimizeResult) -> bool:
    """True when ``res`` is a usable optimum."""
    # L-BFGS-B can stop "abnormally" in the line search when the mean log-likelihood is flat to
    # rounding; a tiny gradient means it is at the optimum anyway
    if not np.isfinite(res.fun) or res.fun >= NOT_FINITE:
        return False
    jac = np.asarray(getattr(res, "jac", np.inf), dtype=np.float64)
    return bool(res.success) or bool(np.max(np.abs(jac)) < 1e-6)


def minimise(
    objective: Callable[[FloatArray], Any], theta0: FloatArray, *, jac: Any = True
) -> optimize.OptimizeResult:
    """Minimise ``objective`` from ``theta0``: L-BFGS-B, then Nelder-Mead if that fails.

    ``jac=True`` means ``objective`` returns ``(value, gradient)``; otherwise ``jac`` is the
    gradient function (or None). The caller checks the result's ``fun`` against
    :data:`NOT_FINITE` and raises its own error.
    """
    res = optimize.minimize(
        objective,
        theta0,
        method="L-BFGS-B",
        jac=jac,
        options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9},
    )
    if converged(res):
        return res
    scalar = (lambda th: objective(th)[0]) if jac is True else objective
    fallback = optimize.minimize(
        scalar,
        # restart from where L-BFGS-B stopped if that is a real point
        res.x if np.isfinite(res.fun) and res.fun < NOT_FINITE else theta0,
        method="Nelder-Mead",
        # capped: each step is a full pass over the data
        options={"maxiter": 2000, "xatol": 1e-9, "fatol": 1e-12, "adaptive": True},
    )
    # keep whichever optimiser got further; a "failed" L-BFGS-B is often still close
    if not np.isfinite(res.fun) or fallback.fun <= res.fun:
        return fallback
    return res

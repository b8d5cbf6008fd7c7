"""Buy-till-you-die transaction models: BG/NBD, MBG/NBD and Pareto/NBD.

Each fitter estimates how often a customer buys and how likely they are to have quietly stopped,
from three numbers per customer (see :mod:`connector.predictions.rfm`):

- ``x``   repeat purchases in the calibration window (same-day orders merged),
- ``t_x`` time of the last purchase, measured from the first purchase,
- ``T``   age: time from the first purchase to the end of the window.

The code follows the papers' equations, cited next to each formula:

- FHL05: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
  Pareto/NBD Model", Marketing Science 24(2); and the companion note FHL08 "Computing P(alive)
  using the BG/NBD model".
- BAT07: Batislam, Denizel & Filiztekin (2007), "Empirical validation and comparison of models for
  customer base analysis" (MBG/NBD), IJRM 24.
- FH05P: Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD Model and Related
  Expressions" (after Schmittlein, Morrison & Colombo 1987).

Models are pure: arrays in, arrays out; no I/O. Parameters persist as JSON (``to_json``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special

from connector.predictions.optimise import minimise
from connector.predictions.persist import ParamsJSON
from connector.predictions.threads import one_blas_thread

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike

# Gauss-Legendre nodes on [0, 1]; used where a posterior expectation has no closed form.
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(24)
_GL_NODES = (_GL_NODES + 1.0) / 2.0
_GL_WEIGHTS = _GL_WEIGHTS / 2.0


def _hyp2f1(a: float, b: float, c: ArrayLike, z: ArrayLike) -> FloatArray:
    """scipy's hyp2f1 evaluated once per distinct (c, z) pair.

    It is the costliest call here (~0.5 us each) and c depends only on x, z only on T (and t):
    a customer base has far fewer distinct (x, T) pairs than customers.
    """
    cc, zz = np.broadcast_arrays(_f(c), _f(z))
    if cc.size < 20_000:
        return np.asarray(special.hyp2f1(a, b, cc, zz), dtype=np.float64)
    c_codes, c_uniq = pd.factorize(cc.ravel())
    z_codes, z_uniq = pd.factorize(zz.ravel())
    pair_codes, pairs = pd.factorize(c_codes.astype(np.int64) * len(z_uniq) + z_codes)
    if len(pairs) > cc.size // 2:
        return np.asarray(special.hyp2f1(a, b, cc, zz), dtype=np.float64)
    pairs = np.asarray(pairs, dtype=np.int64)
    values = special.hyp2f1(a, b, c_uniq[pairs // len(z_uniq)], z_uniq[pairs % len(z_uniq)])
    return np.asarray(values[pair_codes].reshape(cc.shape), dtype=np.float64)


def _f(a: ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def _validate_rft(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    x, t_x, age = np.broadcast_arrays(_f(frequency), _f(recency), _f(T))
    problems = []
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(t_x)) and np.all(np.isfinite(age))):
        problems.append("values must be finite")
    elif np.any(x < 0) or np.any(x != np.floor(x)):
        problems.append("frequency must be a non-negative whole number")
    elif np.any(t_x < 0) or np.any(t_x > age + 1e-9):
        problems.append("recency must satisfy 0 <= recency <= T")
    elif np.any((x == 0) & (t_x != 0)):
        problems.append("recency must be 0 when frequency is 0")
    if problems:
        raise ValueError(f"invalid RFM input: {problems[0]}; build it with rfm.summary_from_orders")
    return x.astype(np.float64), np.minimum(t_x, age).astype(np.float64), age.astype(np.float64)


def aggregate_rows(
    x: FloatArray, t_x: FloatArray, T: FloatArray, weights: FloatArray | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Collapse identical (x, t_x, T) rows into one row with a weight.

    The likelihood only depends on these three numbers, so customers sharing them contribute the
    same term; evaluating it once per distinct row makes fitting scale with distinct histories.
    """
    w = np.ones_like(x) if weights is None else _f(weights)
    # hash-based grouping: far faster than np.unique(axis=0) on millions of rows
    frame = pd.DataFrame({"x": x, "t_x": t_x, "T": T, "w": w})
    grouped = frame.groupby(["x", "t_x", "T"], sort=False)["w"].sum().reset_index()
    return (
        grouped["x"].to_numpy(np.float64),
        grouped["t_x"].to_numpy(np.float64),
        grouped["T"].to_numpy(np.float64),
        grouped["w"].to_numpy(np.float64),
    )


class _BaseFitter(ParamsJSON):
    """Shared fitting, persistence and probability plumbing for the BTYD models."""

    _param_names: ClassVar[tuple[str, ...]] = ()
    _initial: ClassVar[tuple[float, ...]] = ()

    # -- to be provided by each model -------------------------------------------------------
    def _loglik(self, p: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        raise NotImplementedError

    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(customer is still active at T | x, t_x, T)."""
        raise NotImplementedError

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[purchases in (T, T + t] | x, t_x, T]."""
        raise NotImplementedError

    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in their first t time units."""
        raise NotImplementedError

    def probability_of_purchase_within(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(at least one purchase in (T, T + t] | x, t_x, T)."""
        raise NotImplementedError

    # -- fitting ----------------------------------------------------------------------------
    @one_blas_thread
    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> Self:
        """Estimate the population parameters by maximum likelihood.

        Works on log-parameters (so they stay positive), aggregates identical rows into weights,
        runs L-BFGS-B and falls back to Nelder-Mead if it fails. ``penalizer_coef`` adds
        ``penalizer_coef * sum(params**2)`` to the mean negative log-likelihood (an L2 shrink
        that helps small or degenerate datasets).
        """
        x, t_x, age = _validate_rft(frequency, recency, T)
        w_in = None if weights is None else np.broadcast_to(_f(weights), x.shape)
        if x.size == 0:
            raise ValueError("cannot fit on zero customers; gate() the data first")
        ux, ut, uT, w = aggregate_rows(
            x.ravel(), t_x.ravel(), age.ravel(), None if w_in is None else w_in.ravel()
        )
        n = float(w.sum())

        objective, jac = self._objective(ux, ut, uT, w)
        theta0 = np.log(np.asarray(self._initial, dtype=np.float64))
        res = minimise(objective, theta0, jac=jac)
        if not np.isfinite(res.fun) or res.fun >= 1e99:
            raise RuntimeError(
                f"{type(self).__name__} did not converge; try penalizer_coef=0.001 or more data"
            )
        p_hat = np.exp(np.asarray(res.x, dtype=np.float64))
        self.params_ = {k: float(v) for k, v in zip(self._param_names, p_hat, strict=True)}
        with np.errstate(all="ignore"):
            self.log_likelihood_ = float(np.dot(w, self._loglik(p_hat, ux, ut, uT)))
        self.n_customers_ = n
        return self

    def _objective(
        self, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray
    ) -> tuple[Any, Any]:
        # mean negative log-likelihood (+ L2 penalty) on log-parameters, numerical gradient
        n = float(w.sum())

        def objective(theta: FloatArray) -> float:
            p = np.exp(theta)
            with np.errstate(all="ignore"):
                ll = float(np.dot(w, self._loglik(p, x, t_x, T)))
            value = -ll / n + self.penalizer_coef * float(np.sum(p**2))
            # the optimiser probes extreme points; a big finite value steers it back
            return value if np.isfinite(value) else 1e100

        return objective, "3-point"

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Per-customer log-likelihood at the fitted parameters."""
        x, t_x, age = _validate_rft(frequency, recency, T)
        return self._loglik(self._p(), x, t_x, age)

    def _p(self) -> FloatArray:
        self._require_fitted()
        return np.array([self.params_[k] for k in self._param_names], dtype=np.float64)

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return f"{type(self).__name__}({inner})"
        return f"{type(self).__name__}(penalizer_coef={self.penalizer_coef})"

    # -- next purchase timing ---------------------------------------------------------------
    def median_time_to_next_purchase(
        self, window: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Median wait to the next purchase, given one happens within ``window`` time units.

        Generic version: vectorised bisection on P(purchase within t) (50 halvings); models
        with a faster route override it, and tests use this as the reference.
        """
        x, t_x, age = _validate_rft(frequency, recency, T)
        target = self.probability_of_purchase_within(window, x, t_x, age) / 2.0
        lo = np.zeros_like(x)
        hi = np.full_like(x, float(window))
        for _ in range(50):
            mid = (lo + hi) / 2.0
            below = self.probability_of_purchase_within(mid, x, t_x, age) < target
            lo = np.where(below, mid, lo)
            hi = np.where(below, hi, mid)
        return np.asarray((lo + hi) / 2.0, dtype=np.float64)


def _gamma_no_purchase(
    alpha: float, r: float, x: FloatArray, T: FloatArray, t: FloatArray
) -> FloatArray:
    # E[exp(-lambda t)] under the posterior lambda ~ Gamma(r + x, alpha + T)
    return np.asarray(np.exp(-(r + x) * np.log1p(t / (alpha + T))), dtype=np.float64)


class BetaGeoFitter(_BaseFitter):
    """BG/NBD (FHL05): Poisson purchases at rate lambda ~ Gamma(r, alpha); after each repeat
    purchase the customer drops out with probability p ~ Beta(a, b)."""

    _param_names = ("r", "alpha", "a", "b")
    _initial = (1.0, 1.0, 1.0, 1.0)

    # The likelihood is G(x) * [B(a + sa, b + x + sb) / B(a, b) * (alpha + T)^-(r+x)
    #                        + B(a + da, b + x + db) / B(a, b) * (alpha + t_x)^-(r+x)]
    # with G(x) = Gamma(r+x) alpha^r / Gamma(r). BG/NBD (FHL05 eq. 6): (sa, sb) = (0, 0),
    # (da, db) = (1, -1) and the second term only when x > 0. MBG/NBD (BAT07): (0, 1), (1, 0),
    # second term for everyone (dropout possible right after the first purchase).
    _alive_shift: ClassVar[tuple[float, float]] = (0.0, 0.0)
    _dead_shift: ClassVar[tuple[float, float]] = (1.0, -1.0)
    _dead_needs_repeat: ClassVar[bool] = True

    def _terms(
        self,
        p: FloatArray,
        x: FloatArray,
        t_x: FloatArray,
        T: FloatArray,
        x_unique: tuple[FloatArray, npt.NDArray[np.intp]] | None = None,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        r, alpha, a, b = p
        (sa, sb), (da, db) = self._alive_shift, self._dead_shift
        # x-only terms are costly (gammaln/betaln) and x takes few values: compute per distinct x
        xu, inv = x_unique if x_unique is not None else np.unique(x, return_inverse=True)
        lg_T, lg_tx = np.log(alpha + T), np.log(alpha + t_x)
        head = (special.gammaln(r + xu) - special.gammaln(r) + r * np.log(alpha))[inv]
        log_alive = (special.betaln(a + sa, b + xu + sb) - special.betaln(a, b))[inv] - (
            r + x
        ) * lg_T
        with np.errstate(divide="ignore", invalid="ignore"):
            dead_beta = special.betaln(a + da, np.maximum(b + xu + db, 1e-300)) - special.betaln(
                a, b
            )
            if self._dead_needs_repeat:
                dead_beta = np.where(xu > 0, dead_beta, -np.inf)
            log_dead = dead_beta[inv] - (r + x) * lg_tx
        return head, log_alive, log_dead, lg_T, lg_tx

    def _loglik(self, p: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        head, log_alive, log_dead, _, _ = self._terms(p, x, t_x, T)
        return np.asarray(head + np.logaddexp(log_alive, log_dead), dtype=np.float64)

    def _objective(
        self, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray
    ) -> tuple[Any, Any]:
        # analytic gradient: one pass per L-BFGS-B step instead of 2k+1 (it matters at 1M rows)
        n = float(w.sum())
        (sa, sb), (da, db) = self._alive_shift, self._dead_shift
        xu, inv = np.unique(x, return_inverse=True)
        psi = special.digamma
        k = xu.size
        w_per_x = np.bincount(inv, weights=w, minlength=k)
        wrx = w * x
        dead_exists = xu > 0 if self._dead_needs_repeat else np.ones(k, dtype=bool)

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            p = np.exp(theta)
            r, alpha, a, b = p
            with np.errstate(all="ignore"):
                head, log_alive, log_dead, lg_T, lg_tx = self._terms(p, x, t_x, T, (xu, inv))
                lse = np.logaddexp(log_alive, log_dead)
                share_alive = np.exp(log_alive - lse)  # posterior weight of the "alive" branch
                w_alive = w * share_alive
                w_dead = w - w_alive
                ll = float(np.dot(w, head + lse))
                # x-only derivatives are summed per distinct x (bincount), then dotted
                alive_per_x = np.bincount(inv, weights=w_alive, minlength=k)
                dead_per_x = w_per_x - alive_per_x
                d_beta_ab = psi(a + b)
                g_r = (
                    float(np.dot(w_per_x, psi(r + xu) - psi(r)))
                    + n * np.log(alpha)
                    - np.dot(w_alive, lg_T)
                    - np.dot(w_dead, lg_tx)
                )
                g_alpha = (
                    n * r / alpha
                    - np.dot(r * w_alive + wrx * share_alive, np.exp(-lg_T))
                    - np.dot(r * w_dead + wrx * (1.0 - share_alive), np.exp(-lg_tx))
                )
                ab = a + b + xu
                da_alive = psi(a + sa) - psi(ab + sa + sb) - psi(a) + d_beta_ab
                db_alive = psi(b + xu + sb) - psi(ab + sa + sb) - psi(b) + d_beta_ab
                da_dead = psi(a + da) - psi(ab + da + db) - psi(a) + d_beta_ab
                db_dead = (
                    psi(np.maximum(b + xu + db, 1e-300)) - psi(ab + da + db) - psi(b) + d_beta_ab
                )
                # the dead branch is absent (weight 0) for BG/NBD at x = 0
                dead_per_x = np.where(dead_exists & (dead_per_x > 0), dead_per_x, 0.0)
                g_a = np.dot(alive_per_x, da_alive) + np.dot(dead_per_x, np.nan_to_num(da_dead))
                g_b = np.dot(alive_per_x, db_alive) + np.dot(dead_per_x, np.nan_to_num(db_dead))
                grad_ll = np.array([g_r, g_alpha, g_a, g_b]) * p  # chain rule to log-params
            value = -ll / n + self.penalizer_coef * float(np.sum(p**2))
            grad = -grad_ll / n + self.penalizer_coef * 2.0 * p**2
            if not (np.isfinite(value) and np.all(np.isfinite(grad))):
                return 1e100, np.zeros(4)
            return value, grad

        return objective, True

    def _alive_probability(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, a, b = self._p()
        # P(alive) = 1 / (1 + dead term / alive term) (FHL08; BAT07). The Beta ratio is
        # B(a+1, c) / B(a, c+1) = a / c with c = b + x - 1 (BG) or b + x (MBG). Computed as a
        # logistic of the log-odds so that large x with small t_x cannot overflow.
        c = b + x + self._dead_shift[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds = (
                np.log(a)
                - np.log(np.maximum(c, 1e-300))
                + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
            )
        if self._dead_needs_repeat:
            log_odds = np.where(x > 0, log_odds, -np.inf)
        return np.asarray(special.expit(-log_odds), dtype=np.float64)

    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(alive | x, t_x, T) (FHL08); 1 for customers with no repeat purchase."""
        x, t_x, age = _validate_rft(frequency, recency, T)
        return self._alive_probability(x, t_x, age)

    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] (FHL05 eq. 9), with 2F1 Euler-transformed to avoid overflow."""
        r, alpha, a, b = self._p()
        tt = _f(t)
        z = tt / (alpha + tt)
        # (alpha/(alpha+t))^r 2F1(r, b; a+b-1; z) == (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b-1; z)
        tail = np.exp((a - 1) * np.log1p(-z)) * _hyp2f1(a + b - 1 - r, a - 1, a + b - 1, z)
        return np.asarray((a + b - 1) / (a - 1) * (1.0 - tail), dtype=np.float64)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T] (FHL05 eq. 10)."""
        r, alpha, a, b = self._p()
        x, t_x, age = _validate_rft(frequency, recency, T)
        tt = _f(t)
        z = tt / (alpha + age + tt)
        # ((a+T)/(a+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) rewritten by Euler's transform as
        # (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z): no overflow for large x.
        tail = np.exp((a - 1) * np.log1p(-z)) * _hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        alive_part = (a + b + x - 1) / (a - 1) * (1.0 - tail)
        return np.asarray(alive_part * self._alive_probability(x, t_x, age), dtype=np.float64)

    def probability_of_purchase_within(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(>= 1 purchase in (T, T+t] | x, t_x, T).

        In BG/NBD dropout only happens right after a purchase, so an active customer's next
        purchase arrives at rate lambda regardless of p; given alive, lambda's posterior is
        Gamma(r + x, alpha + T). Hence P = P(alive) * (1 - ((alpha+T)/(alpha+T+t))^(r+x)).
        """
        r, alpha, _a, _b = self._p()
        x, t_x, age = _validate_rft(frequency, recency, T)
        none = _gamma_no_purchase(alpha, r, x, age, _f(t))
        return np.asarray(self.conditional_probability_alive(x, t_x, age) * (1.0 - none))

    def median_time_to_next_purchase(
        self, window: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Closed form: solve 1 - q(t) = (1 - q(window)) / 2 with q the no-purchase term."""
        r, alpha, _a, _b = self._p()
        x, _t_x, age = _validate_rft(frequency, recency, T)
        q_w = _gamma_no_purchase(alpha, r, x, age, np.full_like(x, window))
        return np.asarray(
            (alpha + age) * np.expm1(-np.log((1.0 + q_w) / 2.0) / (r + x)), dtype=np.float64
        )


class ModifiedBetaGeoFitter(BetaGeoFitter):
    """MBG/NBD (BAT07): as BG/NBD, but a customer may also drop out right after the first
    purchase, so one-time buyers are not assumed alive."""

    _alive_shift = (0.0, 1.0)
    _dead_shift = (1.0, 0.0)
    _dead_needs_repeat = False

    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(alive | x, t_x, T) (BAT07); below 1 for one-time buyers too."""
        x, t_x, age = _validate_rft(frequency, recency, T)
        return self._alive_probability(x, t_x, age)

    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] (BAT07): b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]."""
        r, alpha, a, b = self._p()
        tt = _f(t)
        z = tt / (alpha + tt)
        # Euler: (1-z)^r 2F1(r, b+1; a+b; z) == (1-z)^(a-1) 2F1(a+b-r, a-1; a+b; z)
        tail = np.exp((a - 1) * np.log1p(-z)) * _hyp2f1(a + b - r, a - 1, a + b, z)
        return np.asarray(b / (a - 1) * (1.0 - tail), dtype=np.float64)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T] (BAT07): given alive, p ~ Beta(a, b+x+1), lambda ~
        Gamma(r+x, alpha+T), and the future is a BG process."""
        r, alpha, a, b = self._p()
        x, t_x, age = _validate_rft(frequency, recency, T)
        tt = _f(t)
        z = tt / (alpha + age + tt)
        # Euler transform of ((a+T)/(a+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; z)
        tail = np.exp((a - 1) * np.log1p(-z)) * _hyp2f1(a + b - r, a - 1, a + b + x, z)
        alive_part = (a + b + x) / (a - 1) * (1.0 - tail)
        return np.asarray(alive_part * self._alive_probability(x, t_x, age), dtype=np.float64)


class ParetoNBDFitter(_BaseFitter):
    """Pareto/NBD (FH05P): Poisson purchases at rate lambda ~ Gamma(r, alpha) while alive; an
    exponential lifetime with rate mu ~ Gamma(s, beta)."""

    _param_names = ("r", "alpha", "s", "beta")
    _initial = (1.0, 1.0, 1.0, 1.0)

    @staticmethod
    def _log_a0(p: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        """log A0 of the FH05P likelihood (sec. 3); -inf where t_x == T (A0 is then exactly 0)."""
        r, alpha, s, beta = p
        rsx = r + s + x
        if alpha >= beta:
            base_tx, base_T, diff, b_par = alpha + t_x, alpha + T, alpha - beta, s + 1.0
        else:
            base_tx, base_T, diff, b_par = beta + t_x, beta + T, beta - alpha, r + x

        def log_term(base: FloatArray) -> FloatArray:
            z = diff / base
            # Euler: 2F1(rsx, b; rsx+1; z) = (1-z)^(1-b) 2F1(1, rsx+1-b; rsx+1; z). The right-hand
            # series has positive terms and converges at z -> 1, where the left one overflows.
            log_f = (1.0 - b_par) * np.log1p(-z) + np.log(
                special.hyp2f1(1.0, rsx + 1.0 - b_par, rsx + 1.0, z)
            )
            return np.asarray(log_f - rsx * np.log(base), dtype=np.float64)

        l_tx = log_term(base_tx)
        l_T = log_term(base_T)
        equal = t_x >= T
        d = np.where(equal, -1.0, l_T - l_tx)
        with np.errstate(divide="ignore"):
            out = np.where(equal, -np.inf, l_tx + np.log(-np.expm1(np.minimum(d, -1e-300))))
        return np.asarray(out, dtype=np.float64)

    def _loglik(self, p: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
        r, alpha, s, beta = p
        # FH05P sec. 3: L = G(r+x) a^r b^s / G(r) * [ (a+T)^-(r+x) (b+T)^-s + s/(r+s+x) A0 ]
        head = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        dead = np.log(s) - np.log(r + s + x) + self._log_a0(p, x, t_x, T)
        return np.asarray(head + np.logaddexp(alive, dead), dtype=np.float64)

    def conditional_probability_alive(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(alive | x, t_x, T) (FH05P sec. 5): 1 / (1 + s/(r+s+x) (a+T)^(r+x) (b+T)^s A0)."""
        p = self._p()
        r, alpha, s, beta = p
        x, t_x, age = _validate_rft(frequency, recency, T)
        log_odds = (
            np.log(s)
            - np.log(r + s + x)
            + (r + x) * np.log(alpha + age)
            + s * np.log(beta + age)
            + self._log_a0(p, x, t_x, age)
        )
        return np.asarray(special.expit(-log_odds), dtype=np.float64)

    @staticmethod
    def _integrated_survival(s: float, base: FloatArray, t: FloatArray) -> FloatArray:
        # int_0^t (base/(base+u))^s du = base/(1-s) [(1+t/base)^(1-s) - 1]; log limit at s = 1
        lg = np.log1p(t / base)
        if abs(1.0 - s) < 1e-10:
            return np.asarray(base * lg, dtype=np.float64)
        return np.asarray(base / (1.0 - s) * np.expm1((1.0 - s) * lg), dtype=np.float64)

    def expected_number_of_purchases_up_to_time(self, t: ArrayLike) -> FloatArray:
        """E[X(t)] (FH05P sec. 4): r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]."""
        r, alpha, s, beta = self._p()
        return np.asarray(
            r / alpha * self._integrated_survival(s, np.full_like(_f(t), beta), _f(t))
        )

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T] (FH05P sec. 6)."""
        r, alpha, s, beta = self._p()
        x, t_x, age = _validate_rft(frequency, recency, T)
        surv = self._integrated_survival(s, beta + age, _f(t))
        pa = self.conditional_probability_alive(x, t_x, age)
        return np.asarray((r + x) / (alpha + age) * surv * pa, dtype=np.float64)

    def probability_of_purchase_within(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """P(>= 1 purchase in (T, T+t] | x, t_x, T).

        Given alive at T, lambda ~ Gamma(r+x, alpha+T) and mu ~ Gamma(s, beta+T) independently;
        for fixed rates P(>=1) = int_0^t lambda e^{-(lambda+mu)u} du, so after integrating the
        rates out: int_0^t E[lambda e^{-lambda u}] E[e^{-mu u}] du. Substituting
        v = 1 - (1+u/(alpha+T))^-(r+x) turns it into int_0^{v(t)} (1+u(v)/(beta+T))^-s dv, a
        smooth bounded integrand that Gauss-Legendre handles with a few nodes.
        """
        r, alpha, s, beta = self._p()
        x, t_x, age = _validate_rft(frequency, recency, T)
        k = r + x
        a_t = alpha + age
        v_max = 1.0 - _gamma_no_purchase(alpha, r, x, age, _f(t))
        v = v_max[..., None] * _GL_NODES
        u = a_t[..., None] * np.expm1(-np.log1p(-v) / k[..., None])
        integrand = np.exp(-s * np.log1p(u / (beta + age)[..., None]))
        integral = v_max * (integrand @ _GL_WEIGHTS)
        return np.asarray(self.conditional_probability_alive(x, t_x, age) * integral)

    def median_time_to_next_purchase(
        self, window: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Median wait to the next purchase, given one happens within ``window`` time units.

        In the v-substitution of :meth:`probability_of_purchase_within` the CDF is a running
        integral of one smooth function, so one cumulative trapezoid per customer gives the
        whole curve (instead of a quadrature per grid point); the half-way v maps back to t.
        Customers are processed in chunks to bound memory.
        """
        r, alpha, s, beta = self._p()
        x, _t_x, age = _validate_rft(frequency, recency, T)
        shape = x.shape
        x, age = x.ravel(), age.ravel()
        out = np.empty_like(x)
        grid = np.linspace(0.0, 1.0, 97)
        for start in range(0, x.size, 50_000):
            sl = slice(start, start + 50_000)
            k, a_t, b_t = (
                (r + x[sl])[:, None],
                (alpha + age[sl])[:, None],
                (beta + age[sl])[:, None],
            )
            v_max = -np.expm1(-k * np.log1p(window / a_t))
            v = v_max * grid
            with np.errstate(divide="ignore"):  # v = 1 (certain purchase) maps to u = inf
                u = a_t * np.expm1(-np.log1p(-v) / k)
            g = np.exp(-s * np.log1p(u / b_t))
            steps = (g[:, 1:] + g[:, :-1]) / 2.0 * (v[:, 1:] - v[:, :-1])
            cum = np.concatenate([np.zeros((g.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1)
            target = cum[:, -1:] / 2.0
            idx = np.clip(np.argmax(cum >= target, axis=1), 1, grid.size - 1)
            rows = np.arange(idx.size)
            c_lo, c_hi = cum[rows, idx - 1], cum[rows, idx]
            v_lo, v_hi = v[rows, idx - 1], v[rows, idx]
            with np.errstate(invalid="ignore", divide="ignore"):
                frac = np.where(c_hi > c_lo, (target[:, 0] - c_lo) / (c_hi - c_lo), 0.0)
            v_half = v_lo + frac * (v_hi - v_lo)
            out[sl] = a_t[:, 0] * np.expm1(-np.log1p(-v_half) / k[:, 0])
        return out.reshape(shape)


MODELS: dict[str, type[_BaseFitter]] = {
    "bg_nbd": BetaGeoFitter,
    "mbg_nbd": ModifiedBetaGeoFitter,
    "pareto_nbd": ParetoNBDFitter,
}
TransactionModel = _BaseFitter

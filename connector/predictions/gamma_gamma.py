"""Gamma-Gamma spend model and customer lifetime value.

Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value" (FH13): each transaction value
z ~ Gamma(p, nu), with nu ~ Gamma(q, gamma) across customers. It is fitted on repeat customers'
mean repeat-transaction value (m_x, "zbar") and is combined with a BTYD transaction model to
value future purchases. Pure: arrays in, arrays out, no I/O.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
from scipy import special

from connector.predictions.btyd import TransactionModel
from connector.predictions.optimise import minimise
from connector.predictions.persist import ParamsJSON
from connector.predictions.threads import one_blas_thread

FloatArray = npt.NDArray[np.float64]

#: Days in an average month; CLV steps in calendar months.
DAYS_PER_MONTH = 365.25 / 12.0


class GammaGammaFitter(ParamsJSON):
    """Gamma-Gamma model of average transaction value (FH13)."""

    _param_names = ("p", "q", "gamma")

    @staticmethod
    def _loglik(params: FloatArray, x: FloatArray, m: FloatArray) -> FloatArray:
        p, q, v = params  # v is the paper's gamma (the scale of the nu distribution)
        # FH13, marginal density of the mean spend: f(m_x | p, q, gamma, x) =
        #   G(px+q) / (G(px) G(q)) * gamma^q * m_x^(px-1) * x^(px) / (gamma + m_x x)^(px+q)
        px = p * x
        return np.asarray(
            special.gammaln(px + q)
            - special.gammaln(px)
            - special.gammaln(q)
            + q * np.log(v)
            + (px - 1.0) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(v + m * x),
            dtype=np.float64,
        )

    @one_blas_thread
    def fit(
        self,
        frequency: npt.ArrayLike,
        monetary_value: npt.ArrayLike,
        weights: npt.ArrayLike | None = None,
    ) -> Self:
        """Estimate (p, q, gamma) from repeat customers (frequency > 0, monetary_value > 0).

        Customers without repeat purchases carry no information on spend variation and are
        dropped here, as in FH13.
        """
        x = np.asarray(frequency, dtype=np.float64).ravel()
        m = np.asarray(monetary_value, dtype=np.float64).ravel()
        w = np.ones_like(x) if weights is None else np.asarray(weights, np.float64).ravel()
        keep = (x > 0) & (m > 0) & np.isfinite(m)
        x, m, w = x[keep], m[keep], w[keep]
        if x.size < 3:
            raise ValueError("Gamma-Gamma needs at least 3 repeat customers with positive spend")
        n = float(w.sum())
        # x takes few distinct values: gammaln/digamma per distinct x; logs of data once
        xu, inv = np.unique(x, return_inverse=True)
        log_m, log_x = np.log(m), np.log(x)
        wx = w * x
        sum_w_log_m_x = float(np.dot(wx, log_m + log_x))
        sum_w_log_m = float(np.dot(w, log_m))
        psi = special.digamma

        def objective(theta: FloatArray) -> tuple[float, FloatArray]:
            par = np.exp(theta)
            p, q, v = par
            with np.errstate(all="ignore"):
                pxu = p * xu
                log_vmx = np.log(v + m * x)
                px_q = p * x + q
                ll = (
                    float(np.dot(w, (special.gammaln(pxu + q) - special.gammaln(pxu))[inv]))
                    - n * float(special.gammaln(q))
                    + n * q * np.log(v)
                    + p * sum_w_log_m_x
                    - sum_w_log_m
                    - float(np.dot(w, px_q * log_vmx))
                )
                # gradient of that density (see _loglik) summed over customers
                d_gam = (psi(pxu + q) - psi(pxu))[inv]
                g_p = float(np.dot(wx, d_gam - log_vmx)) + sum_w_log_m_x
                g_q = (
                    float(np.dot(w, psi(pxu + q)[inv] - log_vmx))
                    - n * float(psi(q))
                    + n * np.log(v)
                )
                g_v = n * q / v - float(np.dot(w, px_q / (v + m * x)))
                grad_ll = np.array([g_p, g_q, g_v]) * par  # chain rule to log-params
            value = -ll / n + self.penalizer_coef * float(np.sum(par**2))
            grad = -grad_ll / n + self.penalizer_coef * 2.0 * par**2
            if not (np.isfinite(value) and np.all(np.isfinite(grad))):
                return 1e100, np.zeros(3)
            return float(value), grad

        theta0 = np.log(np.array([1.0, 1.0, max(float(np.mean(m)), 1e-6)]))
        res = minimise(objective, theta0)
        if res.fun >= 1e99:
            raise RuntimeError("GammaGammaFitter did not converge; try penalizer_coef=0.001")
        par = np.exp(np.asarray(res.x, dtype=np.float64))
        self.params_ = dict(zip(self._param_names, map(float, par), strict=True))
        with np.errstate(all="ignore"):
            # the direct formula, independent of the optimiser's rearranged sum
            self.log_likelihood_ = float(np.dot(w, self._loglik(par, x, m)))
        self.n_customers_ = n
        return self

    def _par(self) -> tuple[float, float, float]:
        self._require_fitted()
        return self.params_["p"], self.params_["q"], self.params_["gamma"]

    def conditional_expected_average_profit(
        self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
    ) -> FloatArray:
        """E[M | p, q, gamma, m_x, x], the posterior mean spend per transaction (FH13).

        A weighted average of the population mean p*gamma/(q-1) and the customer's own mean m_x,
        the weight growing with x; customers with x = 0 get the population mean. Requires q > 1
        (a finite population mean)."""
        p, q, v = self._par()
        if q <= 1.0:
            raise ValueError(
                f"Gamma-Gamma q={q:.3g} <= 1 gives an infinite mean spend; refit with a penalizer"
            )
        x = np.asarray(frequency, dtype=np.float64)
        m = np.nan_to_num(np.asarray(monetary_value, dtype=np.float64))
        return np.asarray(p * (v + x * m) / (p * x + q - 1.0), dtype=np.float64)

    def customer_lifetime_value(
        self,
        transaction_model: TransactionModel,
        frequency: npt.ArrayLike,
        recency: npt.ArrayLike,
        T: npt.ArrayLike,
        monetary_value: npt.ArrayLike,
        time_months: int = 12,
        discount_rate_monthly: float = 0.01,
        freq_unit_days: float = 7.0,
        margin: float = 1.0,
    ) -> FloatArray:
        """Discounted expected value of the next ``time_months`` months, per customer.

        sum_{i=1..months} margin * E[M] * (E[Y(month i)] - E[Y(month i-1)]) / (1+d)^i, with E[Y]
        the transaction model's conditional expectation (time in its unit of ``freq_unit_days``
        days). Months are steps, not customers: the loop is over the horizon only.
        """
        spend = margin * self.conditional_expected_average_profit(frequency, monetary_value)
        return discounted_value(
            transaction_model,
            spend,
            frequency,
            recency,
            T,
            time_months,
            discount_rate_monthly,
            freq_unit_days,
        )


def discounted_value(
    transaction_model: TransactionModel,
    value_per_purchase: npt.ArrayLike,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    time_months: int = 12,
    discount_rate_monthly: float = 0.01,
    freq_unit_days: float = 7.0,
) -> FloatArray:
    """sum_{i=1..months} value * (E[Y(month i)] - E[Y(month i-1)]) / (1+d)^i per customer.

    E[Y] is the transaction model's conditional expectation, with time in units of
    ``freq_unit_days`` days. The loop runs over the months of the horizon, not over customers.
    """
    value = np.asarray(value_per_purchase, dtype=np.float64)
    clv = np.zeros(np.broadcast(value, np.asarray(frequency)).shape, dtype=np.float64)
    previous = np.zeros_like(clv)
    for month in range(1, time_months + 1):
        t = month * DAYS_PER_MONTH / freq_unit_days
        cum = transaction_model.conditional_expected_number_of_purchases_up_to_time(
            t, frequency, recency, T
        )
        clv += value * (cum - previous) / (1.0 + discount_rate_monthly) ** month
        previous = cum
    return clv

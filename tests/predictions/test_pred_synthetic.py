"""Fits recover known parameters from simulated populations (seeded)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from connector.predictions import (
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)
from connector.predictions.simulate import simulate_bg_nbd, simulate_gamma_gamma

TRUE_BG = {"r": 0.5, "alpha": 5.0, "a": 0.8, "b": 3.0}


@pytest.fixture(scope="module")
def bg_population():
    rng = np.random.default_rng(20240601)
    ages = rng.uniform(26.0, 78.0, size=5000)
    return simulate_bg_nbd(rng, ages, **TRUE_BG)


def test_bg_nbd_recovers_simulated_parameters(bg_population):
    model = BetaGeoFitter().fit(*bg_population)
    # r and alpha are tightly identified; a and b (dropout) less so with 5,000 customers
    assert model.params_["r"] == pytest.approx(TRUE_BG["r"], rel=0.10)
    assert model.params_["alpha"] == pytest.approx(TRUE_BG["alpha"], rel=0.15)
    assert model.params_["a"] == pytest.approx(TRUE_BG["a"], rel=0.25)
    assert model.params_["b"] == pytest.approx(TRUE_BG["b"], rel=0.35)
    # and the fit is at least as likely as the truth (it is the maximum)
    truth = BetaGeoFitter.from_params(**TRUE_BG)
    assert model.log_likelihood_ >= truth.log_likelihood(*bg_population).sum() - 1e-6


def test_bg_nbd_predicts_population_mean(bg_population):
    x, _t_x, ages = bg_population
    model = BetaGeoFitter().fit(*bg_population)
    predicted = model.expected_number_of_purchases_up_to_time(ages).sum()
    assert predicted == pytest.approx(x.sum(), rel=0.03)


def test_gamma_gamma_recovers_simulated_parameters():
    rng = np.random.default_rng(7)
    frequency = rng.integers(1, 12, size=5000).astype(float)
    truth = {"p": 6.0, "q": 4.0, "gamma": 15.0}
    spend = simulate_gamma_gamma(rng, frequency, **truth)
    model = GammaGammaFitter().fit(frequency, spend)
    assert model.params_["p"] == pytest.approx(truth["p"], rel=0.10)
    assert model.params_["q"] == pytest.approx(truth["q"], rel=0.15)
    assert model.params_["gamma"] == pytest.approx(truth["gamma"], rel=0.20)
    # the implied population mean spend p*v/(q-1) is what CLV uses; it should be close
    implied = model.params_["p"] * model.params_["gamma"] / (model.params_["q"] - 1)
    assert implied == pytest.approx(6.0 * 15.0 / 3.0, rel=0.05)


@pytest.mark.parametrize("cls", [BetaGeoFitter, ModifiedBetaGeoFitter])
def test_analytic_gradient_matches_finite_differences(cls, bg_population):
    x, t_x, ages = bg_population
    objective, jac = cls()._objective(x[:500], t_x[:500], ages[:500], np.ones(500))
    assert jac is True
    theta = np.log([0.7, 3.0, 1.2, 2.0])
    numeric = optimize.approx_fprime(theta, lambda th: objective(th)[0], 1e-7)
    np.testing.assert_allclose(objective(theta)[1], numeric, rtol=1e-4, atol=1e-6)


def test_weights_equal_repeated_rows(bg_population):
    x, t_x, ages = (a[:300] for a in bg_population)
    doubled = BetaGeoFitter().fit(np.tile(x, 2), np.tile(t_x, 2), np.tile(ages, 2))
    weighted = BetaGeoFitter().fit(x, t_x, ages, weights=np.full(300, 2.0))
    for name in TRUE_BG:
        assert weighted.params_[name] == pytest.approx(doubled.params_[name], rel=1e-5)


@pytest.mark.parametrize("cls", [BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter])
def test_json_round_trip(cls, bg_population):
    model = cls().fit(*(a[:800] for a in bg_population))
    again = cls.from_json(model.to_json())
    assert again.params_ == model.params_
    np.testing.assert_allclose(
        again.conditional_probability_alive(3, 10.0, 30.0),
        model.conditional_probability_alive(3, 10.0, 30.0),
    )
    with pytest.raises(ValueError, match="not a"):
        GammaGammaFitter.from_json(model.to_json())


def test_penalizer_shrinks_parameters(bg_population):
    plain = BetaGeoFitter().fit(*bg_population)
    shrunk = BetaGeoFitter(penalizer_coef=0.1).fit(*bg_population)
    assert sum(v**2 for v in shrunk.params_.values()) < sum(v**2 for v in plain.params_.values())


def test_unfitted_model_says_what_to_do():
    with pytest.raises(RuntimeError, match=r"call fit\(\) first"):
        BetaGeoFitter().conditional_probability_alive(1, 1.0, 2.0)


def test_invalid_rfm_rejected():
    with pytest.raises(ValueError, match="recency"):
        BetaGeoFitter().fit([1, 2], [5.0, 1.0], [4.0, 3.0])
    with pytest.raises(ValueError, match="whole number"):
        BetaGeoFitter().fit([1.5], [1.0], [4.0])


def test_gamma_gamma_analytic_gradient_matches_finite_differences(monkeypatch):
    rng = np.random.default_rng(11)
    frequency = rng.integers(1, 8, size=400).astype(float)
    spend = simulate_gamma_gamma(rng, frequency, p=6.0, q=4.0, gamma=15.0)
    captured = {}

    def spy(fun, x0, **kwargs):
        captured["fun"] = fun
        return optimize.OptimizeResult(x=x0, fun=fun(x0)[0], success=True)

    with monkeypatch.context() as patched:
        patched.setattr(optimize, "minimize", spy)
        GammaGammaFitter().fit(frequency, spend)
    objective = captured["fun"]
    theta = np.log([3.0, 2.5, 10.0])
    numeric = optimize.approx_fprime(theta, lambda th: objective(th)[0], 1e-7)
    np.testing.assert_allclose(objective(theta)[1], numeric, rtol=1e-4, atol=1e-6)


def test_nelder_mead_fallback_when_lbfgsb_fails(monkeypatch, bg_population):
    real_minimize = optimize.minimize
    methods = []

    def failing_lbfgsb(fun, x0, method=None, **kwargs):
        methods.append(method)
        result = real_minimize(fun, x0, method=method, **kwargs)
        if method == "L-BFGS-B":  # a genuine failure: not converged, gradient far from 0
            result.success = False
            result.jac = np.ones_like(result.x)
        return result

    monkeypatch.setattr(optimize, "minimize", failing_lbfgsb)
    model = BetaGeoFitter().fit(*bg_population)
    assert methods == ["L-BFGS-B", "Nelder-Mead"]
    reference = BetaGeoFitter()
    monkeypatch.setattr(optimize, "minimize", real_minimize)
    reference.fit(*bg_population)
    assert model.log_likelihood_ == pytest.approx(reference.log_likelihood_, abs=1e-3)

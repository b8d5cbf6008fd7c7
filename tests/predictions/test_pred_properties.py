"""Property tests: probabilities stay in [0, 1] and expectations grow with the horizon."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.predictions import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

MODELS = [
    BetaGeoFitter.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426),
    ModifiedBetaGeoFitter.from_params(r=0.525, alpha=6.183, a=0.891, b=1.614),
    ParetoNBDFitter.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669),
    # s > 1 and alpha < beta exercise the other branches of the Pareto/NBD formulas
    ParetoNBDFitter.from_params(r=2.0, alpha=3.0, s=1.7, beta=25.0),
]


@st.composite
def histories(draw):
    T = draw(st.floats(0.0, 500.0))
    x = draw(st.integers(0, 300))
    t_x = 0.0 if x == 0 else draw(st.floats(0.0, T))
    return float(x), t_x, T


@settings(max_examples=150, deadline=None)
@given(
    model_index=st.integers(0, len(MODELS) - 1),
    history=histories(),
    t1=st.floats(0.0, 200.0),
    dt=st.floats(0.0, 200.0),
)
def test_probabilities_bounded_and_expectations_monotone(model_index, history, t1, dt):
    model = MODELS[model_index]
    x, t_x, T = history
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # underflow is benign
        p_alive = float(model.conditional_probability_alive(x, t_x, T))
        p1 = float(model.probability_of_purchase_within(t1, x, t_x, T))
        p2 = float(model.probability_of_purchase_within(t1 + dt, x, t_x, T))
    assert 0.0 <= p_alive <= 1.0
    assert 0.0 <= p1 <= p2 + 1e-12 <= 1.0 + 1e-12
    assert p2 <= p_alive + 1e-12  # a dead customer never buys
    e1 = float(model.conditional_expected_number_of_purchases_up_to_time(t1, x, t_x, T))
    e2 = float(model.conditional_expected_number_of_purchases_up_to_time(t1 + dt, x, t_x, T))
    assert np.isfinite(e1)
    assert 0.0 <= e1 <= e2 + 1e-9 * max(1.0, e2)
    u1 = float(model.expected_number_of_purchases_up_to_time(t1))
    u2 = float(model.expected_number_of_purchases_up_to_time(t1 + dt))
    assert 0.0 <= u1 <= u2 + 1e-9 * max(1.0, u2)


@settings(max_examples=60, deadline=None)
@given(model_index=st.integers(0, len(MODELS) - 1), history=histories())
def test_more_recent_purchase_means_more_likely_alive(model_index, history):
    model = MODELS[model_index]
    x, t_x, T = history
    if x == 0:
        return
    later = min(T, t_x + (T - t_x) / 2)
    assert model.conditional_probability_alive(x, later, T) >= (
        model.conditional_probability_alive(x, t_x, T) - 1e-12
    )


def test_next_purchase_median_shortcuts_match_bisection_reference():
    from connector.predictions.btyd import _BaseFitter

    rng = np.random.default_rng(5)
    T = rng.uniform(0.5, 300, 1500)
    x = rng.integers(0, 100, 1500).astype(float)
    t_x = np.where(x > 0, T * rng.uniform(size=1500), 0.0)
    for model, rtol in [(MODELS[0], 1e-9), (MODELS[1], 1e-9), (MODELS[2], 0.01), (MODELS[3], 0.01)]:
        fast = model.median_time_to_next_purchase(52.0, x, t_x, T)
        reference = _BaseFitter.median_time_to_next_purchase(model, 52.0, x, t_x, T)
        np.testing.assert_allclose(fast, reference, rtol=rtol, atol=0.01)
        # the median wait makes P(purchase by then) half of P(purchase within the window)
        half = model.probability_of_purchase_within(fast, x, t_x, T)
        whole = model.probability_of_purchase_within(52.0, x, t_x, T)
        np.testing.assert_allclose(half, whole / 2, rtol=0.01, atol=1e-4)


def test_pareto_nbd_at_t_x_equal_to_T_is_the_limit_from_below():
    """t_x == T (the last purchase on the observation day) takes an explicit branch of the
    likelihood (A0 = 0); it must agree with histories that approach it, not jump."""
    from connector.predictions.btyd import ParetoNBDFitter

    model = ParetoNBDFitter.from_params(r=0.55, alpha=10.58, s=0.61, beta=11.67)  # CDNOW, weeks
    x = np.array([1.0, 2.0, 7.0])
    T = np.array([30.0, 30.0, 30.0])
    at = {
        "ll": model.log_likelihood(x, T, T),
        "alive": model.conditional_probability_alive(x, T, T),
        "expected": model.conditional_expected_number_of_purchases_up_to_time(10.0, x, T, T),
    }
    near = {
        "ll": model.log_likelihood(x, T - 1e-7, T),
        "alive": model.conditional_probability_alive(x, T - 1e-7, T),
        "expected": model.conditional_expected_number_of_purchases_up_to_time(10.0, x, T - 1e-7, T),
    }
    for name in at:
        assert np.all(np.isfinite(at[name])), name
        np.testing.assert_allclose(at[name], near[name], rtol=1e-5, err_msg=name)
    assert np.all(at["alive"] == 1.0)  # bought on the last day: certainly alive

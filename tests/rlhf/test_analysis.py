import math

import numpy as np
import pytest

from qstar.core.errors import ConfigError
from qstar.rlhf.analysis import curve, detect, fit_form, peak_step, smooth


@pytest.mark.parametrize("form,alpha,beta,peak", [("bon", 1.2, 0.4, 1.5), ("rl", 0.9, 0.6, math.exp(0.9 / 0.6 - 1))])
def test_fit_recovers_known_alpha_beta(form, alpha, beta, peak):
    rng = np.random.default_rng(0)
    d = np.linspace(0.05, 4, 200)
    y = curve(form, d, alpha, beta) + rng.normal(0, 0.02, d.shape)
    f = fit_form(form, d, y)
    assert f.alpha == pytest.approx(alpha, abs=0.03) and f.beta == pytest.approx(beta, abs=0.03)
    assert f.peak_d == pytest.approx(peak, rel=0.05) and f.r2 > 0.95
    assert f.predict(np.array([peak]))[0] == pytest.approx(f.peak_gain, rel=0.05)


def test_fit_without_a_peak_and_bad_input():
    d = np.linspace(0.1, 2, 20)
    assert fit_form("bon", d, 0.5 * d + 0.1 * d * d).peak_d is None  # convex: beta < 0, no interior peak
    with pytest.raises(ConfigError):
        fit_form("ppo", d, d)
    with pytest.raises(ConfigError):
        fit_form("rl", [0.0, 1.0], [0.0, 1.0])


def test_smooth_and_peak():
    assert list(smooth([1, 2, 3, 4], 2)) == [1, 1.5, 2.5, 3.5]
    assert peak_step([0, 1, 2, 5, 2, 1, 0], 3) == 3


def test_detector_on_synthetic_curves():
    steps = np.arange(200)
    rng = np.random.default_rng(1)
    proxy = np.sqrt(steps) + rng.normal(0, 0.05, 200)  # rises throughout
    agreement = np.where(steps < 80, 0.8, 0.8 - 0.004 * (steps - 80)) + rng.normal(0, 0.02, 200)
    fired = detect(proxy, agreement, window=10, drop=0.1)
    assert fired is not None and 80 < fired < 125
    assert detect(proxy, np.full(200, 0.8) + rng.normal(0, 0.02, 200), 10, 0.1) is None  # agreement holds
    flat = np.concatenate([np.sqrt(steps[:80]), np.full(120, math.sqrt(79))])
    assert detect(flat, agreement, 10, 0.1) is None  # the proxy stopped rising: nothing to stop
    score = np.where(steps < 100, 5.0, 5.0 - 0.05 * (steps - 100))
    hit = detect(proxy, score, 10, drop=0.05, relative=True)
    assert hit is not None and 100 < hit < 120

"""Over-optimization curves: the published functional forms, their fit and peak, and a gold-free detector.

With ``d = sqrt(KL(π ‖ π0))`` and ``R(d)`` the reward gained over the initial policy (Gao et al. 2022):

- best-of-N: ``R(d) = d (α − β d)``, peak at ``d* = α / (2β)``;
- RL: ``R(d) = d (α − β log d)``, peak at ``d* = exp(α/β − 1)``.

Both are linear in (α, β), so ordinary least squares fits them exactly (``numpy.linalg.lstsq``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal, Sequence

import numpy as np

from qstar.core.errors import check

Form = Literal["bon", "rl"]


@dataclass(frozen=True)
class Fit:
    form: Form
    alpha: float
    beta: float
    r2: float
    peak_d: float | None  # None when the fitted curve has no interior maximum (β <= 0)
    peak_gain: float | None  # R(peak_d)
    points: int

    def predict(self, d: np.ndarray) -> np.ndarray:
        return curve(self.form, np.asarray(d, float), self.alpha, self.beta)

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def curve(form: Form, d: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    d = np.asarray(d, float)
    if form == "bon":
        return d * (alpha - beta * d)
    safe = np.where(d > 0, d, 1.0)
    return np.where(d > 0, d * (alpha - beta * np.log(safe)), 0.0)


def fit_form(form: Form, d: Sequence[float], gain: Sequence[float]) -> Fit:
    """Least-squares α, β of ``form`` to points (d, gain). ``gain`` is the reward minus its value at d = 0."""
    check(form in ("bon", "rl"), f"form must be 'bon' or 'rl', got {form!r}")
    d, y = np.asarray(d, float), np.asarray(gain, float)
    keep = np.isfinite(d) & np.isfinite(y) & (d > 0)
    d, y = d[keep], y[keep]
    check(len(d) >= 2, "need at least two points with d > 0 to fit")
    X = np.stack([d, -d * d if form == "bon" else -d * np.log(d)], axis=1)
    (alpha, beta), *_ = np.linalg.lstsq(X, y, rcond=None)
    pred = X @ np.array([alpha, beta])
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - pred) ** 2).sum()) / ss if ss > 0 else float("nan")
    peak = None
    if beta > 0:
        peak = float(alpha / (2 * beta) if form == "bon" else math.exp(min(alpha / beta - 1, 50.0)))
    gain_at = float(curve(form, np.array([peak]), alpha, beta)[0]) if peak is not None else None
    return Fit(form, float(alpha), float(beta), r2, peak, gain_at, int(len(d)))


def smooth(x: Sequence[float], window: int) -> np.ndarray:
    """Trailing moving average (uses only the past, as a stopping rule must): [1, 2, 3, 4], 2 -> [1, 1.5, 2.5, 3.5]."""
    x = np.asarray(x, float)
    c = np.cumsum(np.insert(x, 0, 0.0))
    i = np.arange(1, len(x) + 1)
    lo = np.maximum(i - window, 0)
    return (c[i] - c[lo]) / (i - lo)


def detect(proxy: Sequence[float], signal: Sequence[float], window: int = 10, drop: float = 0.1,
           relative: bool = False) -> int | None:
    """First step at which hacking is declared from gold-free signals, or None.

    Fires at step t when the proxy is still rising (its trailing mean over the last ``window`` steps is
    above the one before that) while ``signal`` — e.g. the agreement of two independently trained
    reward models, or the second model's score — has fallen ``drop`` below its best trailing mean so
    far (``relative``: ``drop`` is a share of that best's magnitude)."""
    p, s = smooth(proxy, window), smooth(signal, window)
    best = -np.inf
    for t in range(len(p)):
        best = max(best, s[t])
        if t < 2 * window:
            continue
        margin = drop * abs(best) if relative else drop
        rising = p[t] - p[t - window] > 1e-9 * max(1.0, abs(p[t]))
        if rising and s[t] < best - margin:
            return t
    return None


def peak_step(values: Sequence[float], window: int = 10) -> int:
    """Step of the maximum of the centred moving average (a hindsight quantity, for scoring detectors)."""
    x = np.asarray(values, float)
    k = np.ones(window) / window
    pad = np.pad(x, (window // 2, window - 1 - window // 2), mode="edge")
    return int(np.argmax(np.convolve(pad, k, mode="valid")))

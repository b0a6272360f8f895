"""Tasks for the low-rank RNN: input s(t), target y*(t) and loss weights on an Euler grid.

Time grid (conventions §10): step k = 0..K−1 feeds s_k and produces the state x_{k+1}; the
output y_k is read from x_{k+1} and compared with the target at t_k = k·dt. The loss is

    L = Σ_{b,k} W_bk (y_bk − y*_bk)²,

with W = dt / B (time-integrated MSE, averaged over the B trials) for the impulse-response tasks,
and W = M / Σ M (masked mean square error) for the flip-flop task.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import FLTheoryInputError, finite_array, positive, positive_int


@dataclass(frozen=True)
class Task:
    """Inputs, targets and weights, each ``[B, K]`` (float64 numpy), plus the Euler step."""

    name: str
    inputs: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    dt: float
    tau: float = 1.0

    def __post_init__(self):
        shape = np.shape(self.inputs)
        finite_array("inputs", self.inputs, ndim=2)
        finite_array("targets", self.targets, shape=shape)
        w = finite_array("weights", self.weights, shape=shape)
        if np.any(w < 0) or not np.any(w > 0):
            raise FLTheoryInputError("weights: must be >= 0 with at least one positive entry")
        positive("dt", self.dt)
        positive("tau", self.tau)

    @property
    def n_trials(self) -> int:
        return self.inputs.shape[0]

    @property
    def n_steps(self) -> int:
        return self.inputs.shape[1]

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.n_steps) * self.dt

    def with_targets(self, targets, name: str | None = None) -> "Task":
        return Task(name or self.name, self.inputs, np.asarray(targets, float), self.weights, self.dt, self.tau)


def _grid(dt, T):
    dt = positive("dt", dt)
    T = positive("T", T)
    K = int(round(T / dt))
    if K < 2:
        raise FLTheoryInputError(f"T: must span at least 2 steps of dt={dt}, got T={T}")
    return dt, K


def impulse_response(decay: float = 0.2, dt: float = 0.05, T: float = 20.0, tau: float = 1.0) -> Task:
    """Linear filter task: input impulse 1/dt at t=0, target y*(t) = e^{−decay·t}."""
    decay = positive("decay", decay, allow_zero=True)
    dt, K = _grid(dt, T)
    s = np.zeros((1, K))
    s[0, 0] = 1.0 / dt
    t = np.arange(K) * dt
    return Task(f"impulse(c={decay:g})", s, np.exp(-decay * t)[None], np.full((1, K), dt), dt, tau)


def damped_oscillation(decay: float = 0.3, omega: float = 2.0, dt: float = 0.05, T: float = 20.0,
                       tau: float = 1.0) -> Task:
    """Rank-2 task: impulse 1/dt at t=0, target y*(t) = e^{−decay·t} cos(ω t)."""
    decay = positive("decay", decay, allow_zero=True)
    omega = positive("omega", omega, allow_zero=True)
    dt, K = _grid(dt, T)
    s = np.zeros((1, K))
    s[0, 0] = 1.0 / dt
    t = np.arange(K) * dt
    y = (np.exp(-decay * t) * np.cos(omega * t))[None]
    return Task(f"oscillation(c={decay:g},w={omega:g})", s, y, np.full((1, K), dt), dt, tau)


def flip_flop(n_trials: int = 10, dt: float = 0.025, T: float = 20.0, seed: int = 0, pulse: float = 0.5,
              wait: tuple[float, float] = (4.0, 10.0), delay: float = 2.0, first: float = 0.5,
              target_amp: float = 0.5, tau: float = 1.0) -> Task:
    """Flip-flop (memory of the sign of the last pulse), a fixed batch of ``n_trials`` trials.

    The first ±1 pulse (duration ``pulse``) starts at ``first``; each later pulse starts a wait
    drawn from U(wait) after the end of the previous post-pulse ``delay``. The target is
    ``target_amp · sign(last pulse)`` (0 before the first pulse); the mask excludes everything
    before the first pulse, each pulse and the ``delay`` after it. Loss: masked MSE.
    """
    n_trials = positive_int("n_trials", n_trials)
    dt, K = _grid(dt, T)
    positive("pulse", pulse)
    positive("delay", delay, allow_zero=True)
    lo, hi = (positive("wait", w) for w in wait)
    if hi < lo:
        raise FLTheoryInputError(f"wait: expected (low, high) with low <= high, got {wait}")
    rng = np.random.default_rng(seed)
    s = np.zeros((n_trials, K))
    y = np.zeros((n_trials, K))
    mask = np.zeros((n_trials, K))
    n_pulse, n_delay = max(1, int(round(pulse / dt))), int(round(delay / dt))
    for b in range(n_trials):
        start = int(round(first / dt))
        while start < K:
            sign = rng.choice([-1.0, 1.0])
            stop = min(start + n_pulse, K)
            s[b, start:stop] = sign
            y[b, start:] = target_amp * sign
            free = min(stop + n_delay, K)
            nxt = free + int(round(rng.uniform(lo, hi) / dt))
            mask[b, free:min(nxt, K)] = 1.0
            start = nxt
    if mask.sum() == 0:
        raise FLTheoryInputError("T: too short for any supervised flip-flop step")
    return Task("flipflop", s, y, mask / mask.sum(), dt, tau)

"""Sequential tasks: an input at every step, targets on a chosen subset of steps (the mask)."""
from __future__ import annotations

import numpy as np

from .._validate import FLTheoryInputError, choice, positive, positive_int
from .base import Task, register_task

TEACHERS = ("lds", "lds_time_varying", "running_sum", "delayed_copy", "flipflop")
MASKS = ("all", "every_other", "first_last", "random", "last")


def make_mask(mask, T: int, P: int, fraction: float = 0.5, rng=None) -> np.ndarray:
    """Supervision mask ``M[P, T]`` shared by all patterns.

    ``mask``: ``all``; ``every_other`` (steps 1, 3, 5, … in 1-based time, always including the last);
    ``first_last``; ``last``; ``random`` (a ``fraction`` of steps, at least one, drawn with ``rng``);
    or an explicit list of 0-based supervised steps.
    """
    steps = np.zeros(T)
    if isinstance(mask, str):
        choice("mask", mask, MASKS)
        if mask == "all":
            steps[:] = 1
        elif mask == "every_other":
            steps[(T - 1) % 2::2] = 1
        elif mask == "first_last":
            steps[[0, T - 1]] = 1
        elif mask == "last":
            steps[T - 1] = 1
        else:
            fraction = positive("mask_fraction", fraction)
            if fraction > 1:
                raise FLTheoryInputError(f"mask_fraction: must be <= 1, got {fraction}")
            n = max(1, int(round(fraction * T)))
            rng = np.random.default_rng(0) if rng is None else rng
            steps[rng.choice(T, size=n, replace=False)] = 1
    else:
        idx = [int(s) for s in mask]
        if not idx or min(idx) < 0 or max(idx) >= T:
            raise FLTheoryInputError(f"mask: steps must be a non-empty list within [0, {T}), got {mask}")
        steps[idx] = 1
    return np.broadcast_to(steps, (P, T)).copy()


def _orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def _teacher_outputs(teacher, x, rng, n_state, rho, delay, T):
    P, _, D = x.shape
    if teacher in ("lds", "lds_time_varying"):
        # h_1 = B x_1, h_t = A h_{t-1} + B x_t, y_t = c·h_t; time-varying: A_t, B_t, c_t per step.
        varying = teacher == "lds_time_varying"
        n_mats = T if varying else 1
        A = [rho * _orthogonal(rng, n_state) for _ in range(n_mats)]
        B = [rng.standard_normal((n_state, D)) / np.sqrt(D) for _ in range(n_mats)]
        c = [rng.standard_normal(n_state) / np.sqrt(n_state) for _ in range(n_mats)]
        h = np.zeros((P, n_state))
        y = np.zeros((P, T))
        for t in range(T):
            k = t if varying else 0
            h = h @ A[k].T + x[:, t] @ B[k].T
            y[:, t] = h @ c[k]
        return y
    # scalar stream: the input itself (D = 1) or a fixed projection s_t = u·x_t/√D of a D-dim input
    u = np.ones(D) if D == 1 else rng.standard_normal(D)
    s = x @ u / np.sqrt(D)
    if teacher == "running_sum":
        return np.cumsum(s, axis=1) / np.sqrt(np.arange(1, T + 1))
    if teacher == "delayed_copy":
        y = np.zeros((P, T))
        y[:, delay:] = s[:, : T - delay]
        return y
    # flipflop: target = sign of the last non-zero pulse so far (0 before the first pulse)
    y = np.zeros((P, T))
    state = np.zeros(P)
    for t in range(T):
        state = np.where(s[:, t] != 0, np.sign(s[:, t]), state)
        y[:, t] = state
    return y


@register_task("sequential")
def sequential_task(teacher: str = "lds", P: int = 16, P_test: int = 64, T: int = 6, D: int = 4,
                    mask="every_other", mask_fraction: float = 0.5, signal: float = 1.0,
                    n_state: int = 4, rho: float = 0.8, delay: int = 1, pulse_prob: float = 0.3,
                    seed: int = 0) -> Task:
    """Sequential task with inputs at every step; ``mask`` selects the supervised steps.

    Teachers: ``lds`` (time-invariant linear dynamical system with state dimension ``n_state`` and
    spectral radius ``rho``), ``lds_time_varying`` (a control: new A_t, B_t, c_t each step),
    ``running_sum`` and ``delayed_copy`` of a scalar stream s_t (the input itself for D = 1, else a fixed
    random projection s_t = u·x_t/√D, so kernels stay non-singular when D ≥ P), ``flipflop`` (±1 pulses
    with probability ``pulse_prob``, D = 1). Targets are scaled by ``signal``. Test errors are evaluated on
    every step (``M_test`` = 1).
    """
    choice("teacher", teacher, TEACHERS)
    P, P_test, T, D = (positive_int(n, v) for n, v in (("P", P), ("P_test", P_test), ("T", T), ("D", D)))
    signal = positive("signal", signal, allow_zero=True)
    if teacher == "flipflop" and D != 1:
        raise FLTheoryInputError(f"D: teacher {teacher!r} uses a scalar input stream, so D must be 1, got {D}")
    if teacher == "delayed_copy":
        positive_int("delay", delay)
        if delay >= T:
            raise FLTheoryInputError(f"delay: must be < T = {T}, got {delay}")
    positive_int("n_state", n_state)
    rho = positive("rho", rho)
    rng = np.random.default_rng(seed)
    n = P + P_test
    if teacher == "flipflop":
        pulses = rng.random((n, T)) < positive("pulse_prob", pulse_prob)
        x = (pulses * rng.choice([-1.0, 1.0], size=(n, T)))[:, :, None]
    else:
        x = rng.standard_normal((n, T, D))
    y = signal * _teacher_outputs(teacher, x, rng, n_state, rho, delay, T)
    M = make_mask(mask, T, P, fraction=mask_fraction, rng=rng)
    mask_cfg = mask if isinstance(mask, str) else [int(s) for s in mask]
    config = dict(kind="sequential", teacher=teacher, P=P, P_test=P_test, T=T, D=D, mask=mask_cfg,
                  mask_fraction=mask_fraction, signal=signal, n_state=n_state, rho=rho, delay=delay,
                  pulse_prob=pulse_prob, seed=seed)
    return Task(x[:P], y[:P, :, None], M, x[P:], y[P:, :, None], np.ones((P_test, T)), config=config)

"""Tasks for the low-rank RNN: input s(t), target y*(t) and loss weights on an Euler grid.

Time grid (conventions §10): step k = 0..K−1 feeds s_k and takes the state x_k to x_{k+1}. The
output y_k is compared with the target at t_k = k·dt and is read, depending on ``readout``
(:data:`READOUTS`), from

- ``"next"`` (default): the updated state x_{k+1} (κ_{k+1} in the overlap model);
- ``"current"`` (Ger & Barak's convention): the state x_k at the same step (κ_k), so y_0 = 0.

Hence y_k(current) = y_{k−1}(next) for k ≥ 1. The loss is

    L = Σ_{b,k} W_bk (y_bk − y*_bk)²,

with W = dt / B (time-integrated MSE, averaged over the B trials) for the impulse-response and
teacher–student tasks, and W = M / Σ M (masked mean square error) for flip-flop and decision making.

Fresh batches: a task built with ``fresh_batches=True`` (flip-flop) carries a seeded generator
``epoch_batch(e)`` of the batch used at epoch e; its own arrays are the batch of epoch 0. Both the
full network (:func:`.network.train_network`) and the overlap dynamics
(:func:`.dynamics.overlap_dynamics`) then descend the loss of batch e at epoch e.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import numpy as np

from .._validate import FLTheoryInputError, choice, finite_array, positive, positive_int

READOUTS = ("next", "current")
"""Readout conventions: y_k from x_{k+1} (``"next"``, default) or from x_k (``"current"``, the paper's)."""


def check_readout(readout) -> str:
    """Validate the ``readout`` option (one of :data:`READOUTS`)."""
    return choice("readout", readout, READOUTS)


# The functional form keeps the field types as objects: under ``from __future__ import annotations``
# the class form would leave them as strings that pdoc cannot resolve in the generated __new__.
Batch = NamedTuple("Batch", [("inputs", np.ndarray), ("targets", np.ndarray), ("weights", np.ndarray)])
Batch.__doc__ = """One epoch's training data of a :class:`Task`: ``inputs`` s(t), ``targets`` y*(t) and loss
``weights`` W(t), each [B, K] (stacked over epochs, [n, B, K], by :meth:`Task.batches`)."""


@dataclass(frozen=True)
class Task:
    """Inputs, targets and weights, each ``[B, K]`` (float64 numpy), plus the Euler step."""

    name: str
    inputs: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    dt: float
    tau: float = 1.0
    epoch_batch: Callable[[int], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
    """Optional: e ↦ (inputs, targets, weights) of epoch e (fresh batches); ``None`` = a fixed batch."""
    meta: dict = field(default_factory=dict)
    """Task-specific extras (e.g. the teacher's Gram matrix of :func:`teacher_student`)."""

    def __post_init__(self):
        shape = np.shape(self.inputs)
        finite_array("inputs", self.inputs, ndim=2)
        finite_array("targets", self.targets, shape=shape)
        w = finite_array("weights", self.weights, shape=shape)
        if np.any(w < 0) or not np.any(w > 0):
            raise FLTheoryInputError("weights: must be >= 0 with at least one positive entry")
        positive("dt", self.dt)
        positive("tau", self.tau)
        if self.epoch_batch is not None and not callable(self.epoch_batch):
            raise FLTheoryInputError(f"epoch_batch: expected a callable e -> (inputs, targets, weights), "
                                     f"got {self.epoch_batch!r}")

    @property
    def n_trials(self) -> int:
        return self.inputs.shape[0]

    @property
    def n_steps(self) -> int:
        return self.inputs.shape[1]

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.n_steps) * self.dt

    @property
    def fresh(self) -> bool:
        """True if every epoch draws its own batch (:attr:`epoch_batch`)."""
        return self.epoch_batch is not None

    def batch(self, epoch: int) -> Batch:
        """The :class:`Batch` (inputs, targets, weights) used at ``epoch``: the fixed arrays, or
        ``epoch_batch(epoch)``."""
        if self.epoch_batch is None:
            return Batch(self.inputs, self.targets, self.weights)
        epoch = positive_int("epoch", epoch, minimum=0)
        inputs, targets, weights = (finite_array("epoch_batch", a) for a in self.epoch_batch(epoch))
        if not (inputs.shape == targets.shape == weights.shape == self.inputs.shape):
            raise FLTheoryInputError(f"epoch_batch: batch of epoch {epoch} has shapes {inputs.shape}, "
                                     f"{targets.shape}, {weights.shape}; expected {self.inputs.shape}")
        return Batch(inputs, targets, weights)

    def batches(self, start: int, n: int) -> Batch:
        """Batches of epochs ``start .. start+n−1`` stacked: a :class:`Batch` of three arrays [n, B, K]."""
        parts = [self.batch(e) for e in range(start, start + n)]
        return Batch(*(np.stack([p[i] for p in parts]) for i in range(3)))

    def with_targets(self, targets, name: str | None = None) -> "Task":
        if self.fresh:
            raise FLTheoryInputError("targets: cannot replace the targets of a task with fresh batches per epoch")
        return Task(name or self.name, self.inputs, np.asarray(targets, float), self.weights, self.dt, self.tau,
                    meta=dict(self.meta))


def _steps(name: str, value, dt: float, allow_zero: bool = False) -> int:
    """Number of Euler steps in a duration that must lie on the grid: ``value`` = integer × ``dt``."""
    value = positive(name, value, allow_zero=allow_zero)
    ratio = value / dt
    k = int(round(ratio))
    if abs(ratio - k) > 1e-6:
        raise FLTheoryInputError(f"{name}: must be an integer multiple of dt = {dt:g} (the time grid), "
                                 f"got {name} = {value:g} = {ratio:.6g} dt")
    return k


def _grid(dt, T):
    dt = positive("dt", dt)
    K = _steps("T", T, dt)
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


def _flip_flop_batch(rng, n_trials, K, dt, n_first, n_pulse, n_delay, lo, hi, target_amp):
    s = np.zeros((n_trials, K))
    y = np.zeros((n_trials, K))
    mask = np.zeros((n_trials, K))
    for b in range(n_trials):
        start = n_first
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
    return s, y, mask / mask.sum()


def flip_flop(n_trials: int = 10, dt: float = 0.025, T: float = 20.0, seed: int = 0, pulse: float = 0.5,
              wait: tuple[float, float] = (4.0, 10.0), delay: float = 2.0, first: float = 0.5,
              target_amp: float = 0.5, tau: float = 1.0, fresh_batches: bool = False) -> Task:
    """Flip-flop (memory of the sign of the last pulse), a batch of ``n_trials`` trials.

    The first ±1 pulse (duration ``pulse``) starts at ``first``; each later pulse starts a wait
    drawn from U(wait) after the end of the previous post-pulse ``delay``. The target is
    ``target_amp · sign(last pulse)`` (0 before the first pulse); the mask excludes everything
    before the first pulse, each pulse and the ``delay`` after it. Loss: masked MSE.

    ``fresh_batches=False`` (default): one fixed batch drawn with ``np.random.default_rng(seed)``.
    ``fresh_batches=True``: epoch e trains on its own batch, drawn with
    ``np.random.default_rng([seed, e])`` (deterministic, reproducible per epoch; see
    :attr:`Task.epoch_batch`); the task's own arrays are the batch of epoch 0.
    """
    n_trials = positive_int("n_trials", n_trials)
    seed = positive_int("seed", seed, minimum=0)
    dt, K = _grid(dt, T)
    positive("pulse", pulse)
    positive("delay", delay, allow_zero=True)
    positive("first", first, allow_zero=True)
    if not isinstance(wait, (tuple, list)) or len(wait) != 2:
        raise FLTheoryInputError(f"wait: expected (low, high), got {wait!r}")
    lo, hi = (positive("wait", w) for w in wait)
    if hi < lo:
        raise FLTheoryInputError(f"wait: expected (low, high) with low <= high, got {wait}")
    n_pulse, n_delay = max(1, int(round(pulse / dt))), int(round(delay / dt))
    args = (n_trials, K, dt, int(round(first / dt)), n_pulse, n_delay, lo, hi, target_amp)
    if not fresh_batches:
        s, y, w = _flip_flop_batch(np.random.default_rng(seed), *args)
        return Task("flipflop", s, y, w, dt, tau)

    def epoch_batch(epoch: int):
        return _flip_flop_batch(np.random.default_rng([seed, int(epoch)]), *args)

    s, y, w = epoch_batch(0)
    return Task("flipflop(fresh)", s, y, w, dt, tau, epoch_batch=epoch_batch, meta={"seed": seed})


def decision_making(n_trials: int = 12, coherences=(-0.4, -0.2, -0.1, 0.1, 0.2, 0.4), noise: float = 0.1,
                    dt: float = 0.05, fixation: float = 0.5, stimulus: float = 4.0, delay: float = 0.5,
                    decision: float = 1.0, target_amp: float = 1.0, seed: int = 0, tau: float = 1.0) -> Task:
    """Perceptual decision making (random-dots style, as in Mastrogiuseppe & Ostojic 2018, Dubreuil et al. 2022).

    A trial is ``fixation`` | ``stimulus`` | ``delay`` | ``decision`` (T = their sum; each must be a
    multiple of ``dt``). Trial b has mean coherence c_b (cycling through ``coherences``, so each is
    used equally often) and input

        s_k = c_b + noise · ξ_bk / √dt     in the stimulus window, 0 elsewhere,

    with ξ_bk ~ N(0, 1) i.i.d. (``np.random.default_rng(seed)``): Euler–Maruyama white noise of
    intensity noise², so the evidence ∫ s dt over the window has sd noise·√stimulus whatever dt.
    The target is ``target_amp · sign(c_b)`` in the decision window, which alone carries loss
    weight (masked MSE, W = M / Σ M). The noise of each trial is drawn once (a fixed batch), so the
    overlap dynamics stay a deterministic ODE.
    """
    n_trials = positive_int("n_trials", n_trials)
    seed = positive_int("seed", seed, minimum=0)
    c = finite_array("coherences", coherences, ndim=1)
    if c.size == 0 or np.any(c == 0):
        raise FLTheoryInputError(f"coherences: need a non-empty list of nonzero values (the target is sign(c)), "
                                 f"got {list(c)}")
    noise = positive("noise", noise, allow_zero=True)
    dt = positive("dt", dt)
    n_fix = _steps("fixation", fixation, dt, allow_zero=True)
    n_stim = _steps("stimulus", stimulus, dt)
    n_delay = _steps("delay", delay, dt, allow_zero=True)
    n_dec = _steps("decision", decision, dt)
    target_amp = positive("target_amp", target_amp)
    K = n_fix + n_stim + n_delay + n_dec
    coh = c[np.arange(n_trials) % c.size]
    rng = np.random.default_rng(seed)
    s = np.zeros((n_trials, K))
    stim = slice(n_fix, n_fix + n_stim)
    s[:, stim] = coh[:, None] + noise * rng.standard_normal((n_trials, n_stim)) / np.sqrt(dt)
    y = np.zeros((n_trials, K))
    mask = np.zeros((n_trials, K))
    y[:, K - n_dec:] = target_amp * np.sign(coh)[:, None]
    mask[:, K - n_dec:] = 1.0
    return Task(f"decision(noise={noise:g})", s, y, mask / mask.sum(), dt, tau,
                meta={"coherence": coh, "stimulus": (n_fix * dt, (n_fix + n_stim) * dt),
                      "decision": ((K - n_dec) * dt, K * dt)})


def random_teacher_gram(rank: int = 1, seed: int = 0, radius: float = 0.8) -> np.ndarray:
    """A random teacher's overlaps: Σ* = WᵀW/n with W (n × n) i.i.d. N(0, 1), n = 2 + 2r.

    All overlaps are O(1) (diagonal ≈ 1, off-diagonal ~ N(0, 1/n)), so the teacher has a real
    readout (σ_zm, σ_zu) and recurrence (σ_vu). If the recurrent block σ_{v,u} (r × r) has an
    eigenvalue with real part above ``radius`` (< 1: the linear teacher decays), the v's are
    rescaled to bring it to ``radius``. Drawn with ``np.random.default_rng(seed)``.
    """
    from .overlaps import Layout

    layout = Layout(rank)
    seed = positive_int("seed", seed, minimum=0)
    radius = positive("radius", radius)
    if radius >= 1:
        raise FLTheoryInputError(f"radius: must be < 1 (a stable linear teacher), got {radius}")
    W = np.random.default_rng(seed).standard_normal((layout.n, layout.n))
    S = W.T @ W / layout.n
    lead = np.linalg.eigvals(S[np.ix_(layout.v_idx, layout.u_idx)]).real.max()
    if lead > radius:
        d = np.ones(layout.n)
        d[layout.v_idx] = radius / lead
        S = d[:, None] * S * d[None, :]
    return S


def teacher_student(rank: int = 1, phi="linear", n_trials: int = 8, noise: float = 0.5, dt: float = 0.05,
                    T: float = 10.0, teacher=None, teacher_N: int = 500, readout: str = "next", seed: int = 0,
                    tau: float = 1.0) -> Task:
    """Teacher–student regression with noisy inputs; the teacher is a low-rank RNN of the same class.

    Inputs (each trial its own fixed draw, ``np.random.default_rng([seed, 1])``): the impulse 1/dt at
    t = 0 of :func:`impulse_response` plus white noise of intensity noise², i.e.
    ``noise · ξ_bk / √dt`` at every Euler step. Targets: the output of a fixed rank-``rank`` RNN
    with activation ``phi`` and readout convention ``readout`` (:data:`READOUTS`; train the student
    with the same one) on these inputs. Its vectors have width ``teacher_N`` and Gram matrix
    exactly ``teacher`` (default :func:`random_teacher_gram` ``(rank, seed)``; vectors from
    ``jax.random.PRNGKey(seed)``). For φ = linear the task is exactly realisable at any student
    width (loss 0 at Σ = Σ*). Loss weights W = dt/B. ``meta`` holds ``teacher_gram``.
    """
    import jax

    from .gain import get_lowrank_activation
    from .network import network_rollout, vectors_with_gram
    from .overlaps import Layout, check_gram

    layout = Layout(rank)
    act = get_lowrank_activation(phi)
    n_trials = positive_int("n_trials", n_trials)
    seed = positive_int("seed", seed, minimum=0)
    noise = positive("noise", noise, allow_zero=True)
    readout = check_readout(readout)
    dt, K = _grid(dt, T)
    tau = positive("tau", tau)
    teacher_N = positive_int("teacher_N", teacher_N, minimum=layout.n)
    S_t = random_teacher_gram(rank, seed) if teacher is None else check_gram("teacher", teacher, layout)
    rng = np.random.default_rng([seed, 1])
    s = noise * rng.standard_normal((n_trials, K)) / np.sqrt(dt)
    s[:, 0] += 1.0 / dt
    vecs = vectors_with_gram(jax.random.PRNGKey(seed), teacher_N, S_t, layout)
    y = np.asarray(network_rollout(vecs, s, act, dt, tau, readout=readout))
    return Task(f"teacher(r={rank},{act.name},noise={noise:g})", s, y, np.full((n_trials, K), dt / n_trials), dt,
                tau, meta={"teacher_gram": np.asarray(S_t), "teacher_N": teacher_N, "rank": rank, "phi": act.name,
                           "readout": readout, "noise": noise})

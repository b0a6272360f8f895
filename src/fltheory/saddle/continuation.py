"""Continuation in the learning signal: follow a branch of saddle points, and the broken branch.

The learning signal is the target scale s (``task.Y = s·y₀``). :func:`follow_branch` solves at
increasing s, each Newton solve started from the previous solution, with automatic step halving
when Newton fails. :func:`broken_branch` seeds the symmetry-broken (cross-time correlated) RNN branch
from a block-diagonal solution by a perturbation of the lag-1 blocks and follows it; for linear φ,
where those seeds find nothing above a bifurcation of the block-diagonal branch, it locates the
bifurcation (:func:`bisect_flip`) and switches branches there along the critical mode
(:func:`switch_branch`), then continues to the requested signal.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

from .._validate import ConvergenceError, FLTheoryInputError
from . import linear_rnn
from .rnn import problem_from_task, solve
from .solution import Solution

_PARAMS = ("g2", "gu2", "gw2", "kappa")


def follow_branch(make_task: Callable[[float], object], signals: Sequence[float], init: Solution | None = None,
                  max_halvings: int = 6, **solve_kw) -> list[Solution]:
    """Solve at every signal in ``signals`` (in the given order), continuing from the previous solution.

    ``make_task(signal)`` builds the task. The first point is solved from scratch (with homotopy) unless
    ``init`` is given. When Newton fails on a step lo → s, the step is halved (lo → lo + (s − lo)/2,
    then a quarter, …); each converged intermediate point becomes the new start and the remaining step
    is tried whole again. After ``max_halvings`` failed attempts at one requested signal,
    ConvergenceError is raised. No solve is repeated from the same start to the same target.
    """
    signals = [float(s) for s in signals]
    if not signals:
        raise FLTheoryInputError("signals: expected at least one value")
    out = []
    prev, prev_s = init, None
    kw = dict(solve_kw)
    for s in signals:
        if prev is None:
            sol = solve(make_task(s), init=None, **{**kw, "homotopy": True})
        else:
            sol = _continue_to(make_task, prev, prev_s, s, max_halvings, kw)
        out.append(sol)
        prev, prev_s = sol, s
    return out


def _continue_to(make_task, prev: Solution, lo: float | None, s: float, max_halvings: int, kw: dict) -> Solution:
    """Newton from ``prev`` (at signal ``lo``) to ``s`` with step halving (see :func:`follow_branch`)."""
    target, failures = s, 0
    while True:
        try:
            sol = solve(make_task(target), init=prev, **{**kw, "homotopy": False})
        except ConvergenceError:
            failures += 1
            if lo is None or failures > max_halvings:
                where = "" if lo is None else f" after {failures - 1} step halvings (last step {lo:g} → {target:g})"
                raise ConvergenceError(f"follow_branch: lost the branch at signal {s:g}{where}; remedies: a finer "
                                       "signal grid or a larger max_halvings") from None
            target = 0.5 * (lo + target)
            continue
        if target == s:
            return sol
        prev, lo, target = sol, target, s


def lag_perturbation(sol: Solution, eps: float, lag: int = 1, direction=None) -> tuple[np.ndarray, np.ndarray]:
    """(C, Ĉ) of ``sol`` with ε·(C_tt^{1/2} u)(C_{t+lag}^{1/2} u)ᵀ added on the lag blocks (symmetry-breaking
    seed). ``direction`` u over patterns defaults to all ones; the targets are a good choice."""
    T, P = sol.T, sol.P
    C = sol.C.copy()
    Chat = sol.Chat.copy()
    u = np.ones(P) if direction is None else np.asarray(direction, float)
    u = u / np.linalg.norm(u) * np.sqrt(P)
    for t in range(T - lag):
        a, b = slice(t * P, (t + 1) * P), slice((t + lag) * P, (t + lag + 1) * P)
        va = np.sqrt(np.diag(C[a, a])) * u
        vb = np.sqrt(np.diag(C[b, b])) * u
        C[a, b] += eps * np.outer(va, vb)
        C[b, a] += eps * np.outer(vb, va)
    if np.min(np.linalg.eigvalsh(C)) <= 0:  # keep the seed positive definite
        return lag_perturbation(sol, eps / 2, lag, direction) if eps > 1e-6 else (sol.C.copy(), Chat)
    return C, Chat


def broken_branch(make_task: Callable[[float], object], signals: Sequence[float], symmetric: Sequence[Solution],
                  eps: float = 0.3, min_order: float = 1e-4, **solve_kw) -> list[Solution | None]:
    """Follow the RNN branch with cross-time correlations, where it exists.

    At each signal the candidates are the continuation of the previous broken solution and solves
    seeded from the symmetric solution ``symmetric[i]`` perturbed on the lag-1 blocks by ``eps``
    (along the targets, then uniformly); the candidate with the largest action is kept. For linear φ,
    when none of them leaves the block-diagonal branch although that branch has passed a bifurcation
    (the sign of det J of the reduced equations differs from the lazy limit's), the bifurcation is
    located, the branch switched there and continued to the signal (:func:`switch_branch`): far above
    the transition the lag-1 seeds can miss the branch. A result whose lag-1 order parameter is below
    ``min_order`` has fallen back onto the block-diagonal branch and is reported as ``None`` (no broken
    branch found there).
    """
    out: list[Solution | None] = []
    prev, prev_s = None, None
    flip = _FlipTracker(make_task, solve_kw)
    for s, sym in zip(signals, symmetric):
        s = float(s)
        cands = []
        if prev is not None:  # continue along the broken branch, bisecting the step if needed
            c = _continue(make_task, prev, prev_s, s, min_order, solve_kw)
            if c is not None:
                cands.append(c)
        task = make_task(s)
        ydir = (task.Y[:, :, 0] * task.M).sum(1)  # targets of the training patterns
        seeds = [lag_perturbation(sym, e, direction=d) for d in (ydir, None) for e in (eps, 3 * eps)]
        for seed in seeds:
            if len(cands) >= 2:
                break
            try:
                cand = solve(task, arch="rnn", init=seed, homotopy=False, **solve_kw)
            except (ConvergenceError, np.linalg.LinAlgError):
                continue
            if cand.order_parameter() > min_order:
                cands.append(cand)
        if not cands and flip.passed(s, sym):
            c = flip.switch_to(s, min_order)
            if c is not None:
                cands.append(c)
        # several broken saddles may coexist: keep the dominant one (largest action)
        sol = max(cands, key=lambda c: c.action) if cands else None
        out.append(sol)
        prev, prev_s = sol, s
    return out


class FlipBracket(NamedTuple):
    """A bracket [lo, hi] of signals around a bifurcation (:func:`bisect_flip`) and the branch's
    solution at ``lo`` (unpacks as ``lo, hi, solution``)."""

    lo: float
    hi: float
    solution: Solution


def bisect_flip(make_task: Callable[[float], object], lo: float, hi: float, sol_lo: Solution, rtol: float = 1e-3,
                **solve_kw) -> FlipBracket:
    """Bisect the signal bracket [lo, hi] of a sign change of det J of the reduced linear-RNN equations
    along a branch (``sol_lo``: the branch's solution at ``lo``; :func:`.linear_rnn.jacobian_sign`) to
    relative width ``rtol``. Returns a :class:`FlipBracket` (lo, hi, solution at lo)."""
    sign_lo = _jacobian_sign(make_task, lo, sol_lo, solve_kw)
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        s_mid = solve(make_task(mid), arch="rnn", init=sol_lo, homotopy=False, **solve_kw)
        if _jacobian_sign(make_task, mid, s_mid, solve_kw) == sign_lo:
            lo, sol_lo = mid, s_mid
        else:
            hi = mid
    return FlipBracket(lo, hi, sol_lo)


def switch_branch(make_task: Callable[[float], object], y_lo: float, sol_lo: Solution, at: float,
                  min_order: float = 1e-4, **solve_kw) -> list[Solution]:
    """Branch switching at a bifurcation just above ``y_lo`` (``sol_lo`` the block-diagonal solution there):
    Newton at signal ``at`` from seeds along the critical eigenvector of the reduced equations
    (:func:`.linear_rnn.branch_seeds`). Returns the solutions that left the block-diagonal branch."""
    prob = _rnn_problem(make_task, y_lo, solve_kw)
    task, out = make_task(at), []
    for seed in linear_rnn.branch_seeds(prob, sol_lo.C, sol_lo.Chat):
        try:
            c = solve(task, arch="rnn", init=seed, homotopy=False, **solve_kw)
        except (ConvergenceError, np.linalg.LinAlgError, FLTheoryInputError):
            continue
        if c.order_parameter() > min_order:
            out.append(c)
    return out


def _rnn_problem(make_task, s, solve_kw):
    return problem_from_task(make_task(s), "rnn", **{k: solve_kw[k] for k in _PARAMS if k in solve_kw})


def _jacobian_sign(make_task, s, sol, solve_kw) -> float:
    return linear_rnn.jacobian_sign(_rnn_problem(make_task, s, solve_kw), sol.C, sol.Chat)


class _FlipTracker:
    """For :func:`broken_branch` (linear φ only): has the block-diagonal branch passed a bifurcation by
    signal s, and the branch switch there. Tracks the last signal whose det J sign is the lazy one."""

    def __init__(self, make_task, solve_kw):
        self.make_task, self.kw = make_task, solve_kw
        self.on = solve_kw.get("phi", "linear") == "linear"
        self.lazy_sign = self.lo = self.sol_lo = None

    def passed(self, s: float, sym: Solution) -> bool:
        if not self.on:
            return False
        try:
            if self.lazy_sign is None:
                s0 = 1e-3 * s
                self.sol_lo = solve(self.make_task(s0), arch="rnn", **self.kw)
                self.lo, self.lazy_sign = s0, _jacobian_sign(self.make_task, s0, self.sol_lo, self.kw)
            sign = _jacobian_sign(self.make_task, s, sym, self.kw)
        except (ValueError, ConvergenceError):  # the reduction does not apply, or no lazy solution
            self.on = False
            return False
        if sign == self.lazy_sign:
            self.lo, self.sol_lo = s, sym
            return False
        return True

    def switch_to(self, s: float, min_order: float) -> Solution | None:
        """Locate the flip in (lo, s), switch branches at 1.05·y_c and continue to s."""
        try:
            lo, hi, sol_lo = bisect_flip(self.make_task, self.lo, s, self.sol_lo, rtol=1e-2, **self.kw)
        except ConvergenceError:
            return None
        near = min(1.05 * 0.5 * (lo + hi), s)
        cands = switch_branch(self.make_task, lo, sol_lo, near, min_order, **self.kw)
        if not cands:
            return None
        best = max(cands, key=lambda c: c.action)
        return best if near == s else _continue(self.make_task, best, near, s, min_order, self.kw)


def _continue(make_task, prev, prev_s, s, min_order, solve_kw, depth: int = 4):
    # A too-long step either fails or lands Newton on the block-diagonal saddle (q = 0): both mean
    # "step too long", so halve it (up to ``depth`` times: a branch that really ends in between is
    # given up, and the caller's seeds from the block-diagonal solution are tried next).
    try:
        cand = solve(make_task(s), arch="rnn", init=prev, homotopy=False, **solve_kw)
        if cand.order_parameter() > min_order:
            return cand
    except (ConvergenceError, np.linalg.LinAlgError):
        pass
    if depth == 0:
        return None
    mid = 0.5 * (prev_s + s)
    half = _continue(make_task, prev, prev_s, mid, min_order, solve_kw, depth - 1)
    if half is None:
        return None
    return _continue(make_task, half, mid, s, min_order, solve_kw, depth - 1)

__all__ = ["FlipBracket", "bisect_flip", "broken_branch", "follow_branch", "lag_perturbation", "switch_branch"]

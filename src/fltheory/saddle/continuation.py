"""Continuation in the learning signal: follow a branch of saddle points, and the broken branch.

The learning signal is the target scale s (``task.Y = s·y₀``). :func:`follow_branch` solves at
increasing s, each Newton solve started from the previous solution, with automatic step halving
when Newton fails. :func:`broken_branch` seeds the symmetry-broken (cross-time correlated) RNN branch
from a block-diagonal solution by a perturbation of the lag-1 blocks and follows it.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .._validate import ConvergenceError, FLTheoryInputError
from .rnn import solve
from .solution import Solution


def follow_branch(make_task: Callable[[float], object], signals: Sequence[float], init: Solution | None = None,
                  max_halvings: int = 6, **solve_kw) -> list[Solution]:
    """Solve at every signal in ``signals`` (in the given order), continuing from the previous solution.

    ``make_task(signal)`` builds the task. If Newton fails at a point, intermediate signals are
    inserted (up to ``max_halvings`` bisections); if it still fails, ConvergenceError is raised.
    """
    signals = [float(s) for s in signals]
    if not signals:
        raise FLTheoryInputError("signals: expected at least one value")
    out = []
    prev, prev_s = init, None
    kw = dict(solve_kw)
    kw.setdefault("homotopy", prev is None)
    for s in signals:
        sol = None
        lo = prev_s
        for k in range(max_halvings + 1):
            try:
                if prev is None:
                    sol = solve(make_task(s), init=None, **{**kw, "homotopy": True})
                else:
                    sol = solve(make_task(s), init=prev, **{**kw, "homotopy": False})
                break
            except ConvergenceError:
                if prev is None or lo is None:
                    raise
                # bisect: walk to the midpoint first
                mid = 0.5 * (lo + s)
                try:
                    prev = solve(make_task(mid), init=prev, **{**kw, "homotopy": False})
                    lo = mid
                except ConvergenceError:
                    pass
        if sol is None:
            raise ConvergenceError(f"follow_branch: lost the branch at signal {s:g}")
        out.append(sol)
        prev, prev_s = sol, s
    return out


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
    (along the targets, then uniformly); the candidate with the largest action is kept. A
    result whose lag-1 order parameter is below ``min_order`` has fallen back onto the
    block-diagonal branch and is reported as ``None`` (no broken branch found there).
    """
    out: list[Solution | None] = []
    prev, prev_s = None, None
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
        # several broken saddles may coexist: keep the dominant one (largest action)
        sol = max(cands, key=lambda c: c.action) if cands else None
        out.append(sol)
        prev, prev_s = sol, s
    return out

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

__all__ = ["broken_branch", "follow_branch", "lag_perturbation"]

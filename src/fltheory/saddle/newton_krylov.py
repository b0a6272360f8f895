"""Matrix-free Newton–Krylov for F(x) = 0: Jacobian-vector products by forward-mode autodiff, GMRES.

No Jacobian is ever formed: each GMRES step costs one ``jvp`` (for the saddle point: O(n³) for linear φ,
O(n_mc·n²) for importance-sampled φ), and the Krylov basis costs ``restart`` vectors of the unknowns'
size. Globalised by backtracking on ‖F‖₂, with a stall test so that a hopeless run stops early and
the caller can fall back to continuation (docs/theory/unified.md §8).

GMRES is written here (Arnoldi with CGS2 on a numpy basis, Givens rotations) rather than taken from
``jax.scipy.sparse.linalg`` or ``lineax``: on CPU both ran the jitted ``jvp`` inside an XLA while-loop
300× slower than the same ``jvp`` called from Python (measured at n = 300: 11 s for 17 steps of a
0.04 s matvec). Here every matvec is one call of a jitted function and the orthogonalisation is four
BLAS calls, so the cost is the matvecs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np


def gmres(matvec: Callable, b, rtol: float, restart: int, max_restarts: int = 3):
    """Solve A x = b to ‖Ax − b‖ ≤ rtol‖b‖ (restarted GMRES, x₀ = 0). Returns (x, matvecs, rel. residual).

    The Krylov basis is one preallocated numpy array ``[restart + 1, len(b)]``, orthogonalised by
    classical Gram–Schmidt with one re-orthogonalisation (CGS2: four BLAS-2 passes a step, as stable
    as modified Gram–Schmidt), and the least-squares problem is updated by Givens rotations, so a step
    costs one matvec plus O(restart·len(b)) flops in a few BLAS calls — no per-vector dispatch.
    """
    b = np.asarray(b, dtype=np.float64)
    N = b.size
    bnorm = float(np.linalg.norm(b))
    x = np.zeros(N)
    if bnorm == 0.0:
        return jnp.asarray(x), 0, 0.0
    total = 0
    rel = 1.0
    r = b
    V = np.empty((restart + 1, N))
    for _ in range(max_restarts + 1):
        beta = float(np.linalg.norm(r))
        V[0] = r / beta
        Hm = np.zeros((restart + 1, restart))
        cs, sn = np.zeros(restart), np.zeros(restart)
        g = np.zeros(restart + 1)
        g[0] = beta
        k = 0
        for j in range(restart):
            w = np.array(matvec(jnp.asarray(V[j])), dtype=np.float64)
            total += 1
            Vj = V[: j + 1]
            h = Vj @ w
            w -= Vj.T @ h
            h2 = Vj @ w
            w -= Vj.T @ h2
            h += h2
            hn = float(np.linalg.norm(w))
            col = np.concatenate([h, [hn]])
            for i in range(j):  # apply the previous rotations to the new column
                a, c = col[i], col[i + 1]
                col[i], col[i + 1] = cs[i] * a + sn[i] * c, -sn[i] * a + cs[i] * c
            den = float(np.hypot(col[j], col[j + 1]))
            cs[j], sn[j] = (1.0, 0.0) if den == 0.0 else (col[j] / den, col[j + 1] / den)
            col[j], col[j + 1] = den, 0.0
            g[j + 1] = -sn[j] * g[j]
            g[j] = cs[j] * g[j]
            Hm[: j + 2, j] = col
            k = j + 1
            rel = abs(g[j + 1]) / bnorm
            if rel <= rtol or hn <= 1e-14 * beta or not np.isfinite(rel):
                break
            V[j + 1] = w / hn
        if k:
            R = Hm[:k, :k]
            if np.all(np.isfinite(R)) and np.all(np.abs(np.diag(R)) > 0):
                yk = np.linalg.solve(np.triu(R), g[:k])
                x = x + V[:k].T @ yk
        if rel <= rtol or not np.isfinite(rel):
            break
        r = b - np.asarray(matvec(jnp.asarray(x)), dtype=np.float64)
        total += 1
    return jnp.asarray(x), total, rel


@dataclass
class NewtonRecord:
    converged: bool
    iterations: int
    matvecs: int
    history: list = field(default_factory=list)
    reason: str = ""


def _stop(rec: NewtonRecord, res: float, tol: float, it: int, max_iter: int, stall: int) -> bool:
    """Sets ``rec`` and returns True where the iteration ends (not finite, converged, cap, stalled)."""
    rec.iterations = it
    if not np.isfinite(res):
        rec.reason = "not finite"
    elif res < tol:
        rec.converged = True
    elif it == max_iter:
        rec.reason = "max_iter"
    elif len(rec.history) > stall and res > 0.5 * rec.history[-1 - stall]:
        rec.reason = "stalled"
    else:
        return False
    return True


def _krylov_step(jvp: Callable, x, r, eta: float, restart: int, max_restarts: int, Minv):
    """(d, jvps): GMRES on J d = −r to the forcing term ``eta``, right-preconditioned by ``Minv``."""
    if Minv is None:
        d, k, _ = gmres(lambda v: jvp(x, v), -r, eta, restart, max_restarts)
        return d, k
    u, k, _ = gmres(lambda v: jvp(x, Minv(v)), -r, eta, restart, max_restarts)
    return Minv(u), k


def _backtrack(F: Callable, measure: Callable, x, d, f0: float):
    """Armijo backtracking on ‖F‖₂ along d, halving down to 2⁻¹⁰: (x, F(x), measure, α) or None."""
    alpha = 1.0
    while alpha >= 2.0**-10:
        xn = x + alpha * d
        rn = F(xn)
        fn = float(jnp.linalg.norm(rn))
        if np.isfinite(fn) and fn <= (1.0 - 1e-4 * alpha) * f0:
            mn = measure(xn, rn)
            if np.isfinite(mn):
                return xn, rn, mn, alpha
        alpha *= 0.5
    return None


def newton_krylov(F: Callable, jvp: Callable, x0, measure: Callable, tol: float, max_iter: int,
                  restart: int, max_restarts: int = 3, stall: int = 6,
                  preconditioner: Callable | None = None, direct: Callable | None = None,
                  eta_min: float = 1e-10) -> tuple:
    """Newton's method on F(x) = 0 for a flat vector x, each step solved by GMRES with ``jvp``.

    ``preconditioner(x)``, if given, returns a map u ↦ M⁻¹u with M ≈ J(x); GMRES then solves the
    right-preconditioned system J M⁻¹ u = −F and the step is M⁻¹u (the residual GMRES reports is the
    true one).

    ``direct(x, r)``, if given, returns ``(d, jvps)``: the Newton step d = −J(x)⁻¹r itself (a small system
    whose Jacobian is formed densely from ``jvps`` Jacobian-vector products), or None to fall back to
    GMRES at that step.

    ``eta_min`` bounds the GMRES forcing term from below: with an approximate Jacobian (``jvp`` of a
    cheaper estimate of F) solving each step more tightly than the Jacobian's own error buys nothing, and
    the iteration converges linearly at a rate of about max(eta_min, that error).

    ``measure(x, r)`` is the convergence measure (the solver's relative residual; inf when x is not
    admissible). A step is accepted when it lowers ‖F‖₂ (Armijo, halving down to 2⁻¹⁰); the run stops
    as *stalled* when ``stall`` iterations did not halve the measure.
    Returns ``(x, NewtonRecord)``.
    """
    x = x0
    r = F(x)
    res = measure(x, r)
    rec = NewtonRecord(False, 0, 0, [res])
    f_prev = None
    for it in range(max_iter + 1):
        if _stop(rec, res, tol, it, max_iter, stall):
            return x, rec
        f0 = float(jnp.linalg.norm(r))
        # forcing term (Eisenstat–Walker, choice 2): loose far from the root, tight near it
        eta = 0.1 if f_prev is None else float(np.clip(0.9 * (f0 / f_prev) ** 2, 1e-10, 0.1))
        eta = max(min(eta, max(res, 1e-10)), eta_min)
        k = None
        step = None if direct is None else direct(x, r)
        d = None
        Minv = None if preconditioner is None or step is not None else preconditioner(x)
        if step is not None:
            d, k = step
        else:
            d, k = _krylov_step(jvp, x, r, eta, restart, max_restarts, Minv)
        if k is not None:
            rec.matvecs += k
        found = _backtrack(F, measure, x, d, f0)
        if found is None:
            rec.reason = "line search failed"
            return x, rec
        f_prev = f0
        xn, rn, mn, _ = found
        x, r, res = xn, rn, mn
        rec.history.append(res)
    return x, rec


def ramp(solve_at: Callable, x0, log: Callable = lambda s: None, first: float = 0.25, min_step: float = 1e-4,
         predict: bool = True):
    """Homotopy in a parameter λ: 0 → 1 with an adaptive step. ``solve_at(λ, x)`` runs Newton at λ from
    ``x`` (``x0`` for the first step, which callers may build for λ) and returns ``(x, NewtonRecord)``.
    A converged step grows the next one by 1.5 (at most 0.5), a failed one shrinks it by 4, down to
    ``min_step``. Returns ``(x, reached λ = 1, iterations, matvecs, history)``.

    ``predict``: once two points of the path are known, each step starts from the secant predictor
    x_k + (λ − λ_k)/(λ_k − λ_{k−1})·(x_k − x_{k−1}) (x may be any pytree of arrays) instead of x_k, so
    Newton corrects an O(Δλ²) error rather than an O(Δλ) one; a step whose Newton fails from the
    predictor is retried once from x_k before the step is shrunk."""
    lam, dlam, x = 0.0, first, x0
    iters = mv = 0
    hist: list = []
    prev = None                       # (λ_{k−1}, x_{k−1})
    while lam < 1.0:
        nxt = min(1.0, lam + dlam)
        rec = None
        if predict and prev is not None and x is not None:
            w = (nxt - lam) / (lam - prev[0])
            start = jax.tree_util.tree_map(lambda a, b: a + w * (a - b), x, prev[1])
            xn, rec = solve_at(nxt, start)
            iters += rec.iterations
            mv += rec.matvecs
        if rec is None or not rec.converged:
            xn, rec = solve_at(nxt, x)
            iters += rec.iterations
            mv += rec.matvecs
        if rec.converged:
            prev = (lam, x) if x is not None else None
            x, lam = xn, nxt
            hist += rec.history
            dlam = min(0.5, dlam * 1.5)
            log(f"homotopy λ = {lam:.3g}: {rec.iterations} Newton steps")
        else:
            dlam /= 4
            if dlam < min_step:
                return x, False, iters, mv, hist
    return x, True, iters, mv, hist


def anderson_newton(F: Callable, jvp: Callable, x0, measure: Callable, tol: float, max_iter: int,
                    restart: int, eta: float, memory: int = 8, max_restarts: int = 3, stall: int = 6,
                    preconditioner: Callable | None = None) -> tuple:
    """Newton with an approximate Jacobian, accelerated by Anderson mixing (type II) of its steps.

    ``jvp`` is the Jacobian of a cheaper estimate of F (fewer Monte-Carlo draws), so the plain iteration
    x ← x + d, d = −J̃⁻¹F(x) (GMRES to the forcing term ``eta``), converges only linearly, at the rate of
    the Jacobian's error ‖I − J̃⁻¹J‖. That iteration is a contractive fixed-point map g(x) = x + d(x);
    Anderson mixing over the last ``memory`` steps extrapolates it from its secant information, which
    costs no further F or jvp evaluations (Walker & Ni, SIAM J. Numer. Anal. 49, 2011: on a linear
    problem it is GMRES on J̃⁻¹J). Safeguard: a mixed point that does not lower ‖F‖₂ is replaced by the
    plain step with backtracking, and the history is cleared.

    Returns ``(x, NewtonRecord)`` like :func:`newton_krylov`; ``measure`` and ``stall`` as there.
    """
    x = x0
    r = F(x)
    res = measure(x, r)
    rec = NewtonRecord(False, 0, 0, [res])
    xs, ds = [], []
    for it in range(max_iter + 1):
        if _stop(rec, res, tol, it, max_iter, stall):
            return x, rec
        f0 = float(jnp.linalg.norm(r))
        d, k = _krylov_step(jvp, x, r, eta, restart, max_restarts,
                            None if preconditioner is None else preconditioner(x))
        rec.matvecs += k
        xs.append(np.asarray(x))
        ds.append(np.asarray(d))
        del xs[:-(memory + 1)], ds[:-(memory + 1)]
        xn = None
        if len(xs) > 1:
            dD = np.stack([ds[i + 1] - ds[i] for i in range(len(ds) - 1)], 1)
            dX = np.stack([xs[i + 1] - xs[i] for i in range(len(xs) - 1)], 1)
            gam = np.linalg.lstsq(dD, ds[-1], rcond=1e-12)[0]
            xn = jnp.asarray(xs[-1] + ds[-1] - (dX + dD) @ gam)
            rn = F(xn)
            fn = float(jnp.linalg.norm(rn))
            mn = measure(xn, rn) if np.isfinite(fn) and fn < f0 else float("inf")
            if not np.isfinite(mn):
                xn = None
                xs, ds = xs[-1:], ds[-1:]
        if xn is None:  # plain step with backtracking
            found = _backtrack(F, measure, x, d, f0)
            if found is None:
                rec.reason = "line search failed"
                return x, rec
            xn, rn, mn, alpha = found
            if alpha < 1.0:
                xs, ds = [], []
        x, r, res = xn, rn, mn
        rec.history.append(res)
    return x, rec

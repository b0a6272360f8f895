"""Langevin referee for the saddle-point theory: per-chain kernels, predictor and W spectrum.

Unlike :func:`fltheory.sampling.sample_posterior` (which averages C over chains), this keeps one
time-averaged kernel per chain: above the transition the RNN posterior has two symmetric modes
(W → −W, h_t → (−1)^t h_t) and each chain settles in one, so cross-time blocks average to zero over
chains while every chain has |C_{t,t+1}| > 0. Sign-invariant observables (the order parameter of
:func:`fltheory.saddle.order_parameter`, |λ| of the outlier) are computed per chain, then averaged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import positive, positive_int
from ..models import RecurrentNet
from ..priors import Priors, resolve_priors
from ..sampling.posterior import default_burn_in, default_step_size, sample_posterior
from ..saddle.solution import order_parameter


@dataclass(frozen=True)
class ChainResults:
    C_chains: np.ndarray      # [chains, T·n, T·n] per-chain posterior-mean kernel, n = P + P_test (train first)
    f_test_chains: np.ndarray  # [chains, P_test, T, O]
    f_train_chains: np.ndarray
    eig_abs_max: np.ndarray   # [chains] largest |eigenvalue| of W/√N at the last sample (RNN), else nan
    eigvals: np.ndarray | None  # [chains, N] complex (RNN), else None
    N: int
    step_size: float
    n_steps: int
    final_params: dict | None = None  # last state of every chain (leading chain axis): a warm start

    def train_kernel_chains(self, P: int, P_test: int, T: int) -> np.ndarray:
        n = P + P_test
        tr = np.array([t * n + mu for t in range(T) for mu in range(P)])
        return self.C_chains[:, tr][:, :, tr]

    def order_parameter(self, P, P_test, T, lag: int = 1):
        """Mean and s.e. over chains of the sign-invariant lag order parameter on training patterns."""
        q = np.array([order_parameter(C, T, P, lag) for C in self.train_kernel_chains(P, P_test, T)])
        return float(q.mean()), float(q.std(ddof=1) / np.sqrt(len(q))) if len(q) > 1 else float("nan")

    def test_error(self, task) -> float:
        f = self.f_test_chains.mean(0)
        sq = np.sum((f - task.Y_test) ** 2, axis=-1)
        return float((sq * task.M_test).sum() / task.M_test.sum())


def simulate(task, arch: str = "rnn", phi="linear", N: int = 256, g2: float | None = None, gu2: float | None = None,
             gw2: float | None = None, kappa: float | None = None, n_chains: int = 8, n_samples: int = 100,
             thin: int | None = None, burn_in: int | None = None, step_size: float | None = None,
             seed: int = 0, progress: bool = False, relaxation_times: float = 3.0,
             init_params=None, priors: Priors | None = None) -> ChainResults:
    """Langevin-sample the muP posterior (:func:`fltheory.sampling.sample_posterior`, conventions §5–§6)
    and keep per-chain averages and the final spectrum of W/√N per chain (RNN).

    Step size, burn-in and thinning default to the sampler's (``relaxation_times`` prior relaxation
    times σ²_max of burn-in, default 3; samples over two more; the step is capped for stability above
    the transition). Above the RNN transition the chains start in the symmetric (prior) state and must
    escape it (spontaneous W → −W symmetry breaking), and the cross-time kernels then relax slowly: on the
    T = 3 chain pass ``relaxation_times=30`` (linear) or ``400`` (erf) at N = 128–512
    (docs/theory/unified.md §3.1, §3.5).
    ``init_params`` (with a leading chain axis, e.g. ``final_params`` of an earlier run) replaces the
    prior start (a chain continued in segments: pass the previous run's ``final_params``).
    Priors: ``priors=fltheory.Priors(g2, gu2, gw2, kappa)`` or the four names (default 1), not both.
    """
    N = positive_int("N", N)
    g2, gu2, gw2, kappa = resolve_priors(priors, g2=g2, gu2=gu2, gw2=gw2, kappa=kappa)
    relaxation_times = positive("relaxation_times", relaxation_times)
    net = RecurrentNet(N=N, D=task.D, T=task.T, O=task.O, phi=phi, tied=arch == "rnn", parametrization="mup",
                       g2=g2, gu2=gu2, gw2=gw2)
    if burn_in is None:
        eta = default_step_size(net, task, kappa) if step_size is None else step_size
        burn_in = default_burn_in(net, eta, relaxation_times=relaxation_times)
    sim = sample_posterior(net, task, kappa=kappa, n_samples=n_samples, thin=thin, burn_in=burn_in,
                           n_chains=positive_int("n_chains", n_chains), step_size=step_size, seed=seed,
                           progress=progress, init_params=init_params)
    P = task.P
    if net.tied:
        ev = np.asarray(sim.weight_eigenvalues(net))
        eabs = np.abs(ev).max(axis=1)
    else:
        ev, eabs = None, np.full(n_chains, np.nan)
    return ChainResults(C_chains=sim.C_chains, f_test_chains=sim.f_chains[:, P:], f_train_chains=sim.f_chains[:, :P],
                        eig_abs_max=eabs, eigvals=ev, N=N, step_size=sim.step_size, n_steps=sim.n_steps,
                        final_params=sim.final_params)


__all__ = ["ChainResults", "simulate"]

"""The referees of the package: which simulation checks which theory (:data:`REFEREES`), and the
Langevin referee of the saddle-point theory (:func:`simulate`).

:data:`REFEREES` is the one place that names, for every theory, the simulation that referees it and the
experiment where the two meet (docs/architecture.md, "Referees"); :func:`referee` looks one up and
:meth:`Referee.load` imports its callables. The code of most referees stays in its own package (the
two-layer SGLD in ``two_layer.sgld``, the full low-rank network in ``lowrank.network``, the ResNet's GD
in ``depth.training``); this module owns only the saddle's:

:func:`simulate` keeps per-chain kernels, predictor and W spectrum. Unlike :func:`fltheory.sampling.sample_posterior` (which averages C over chains), this keeps one
time-averaged kernel per chain: above the transition the RNN posterior has two symmetric modes
(W → −W, h_t → (−1)^t h_t) and each chain settles in one, so cross-time blocks average to zero over
chains while every chain has |C_{t,t+1}| > 0. Sign-invariant observables (the order parameter of
:func:`fltheory.saddle.order_parameter`, |λ| of the outlier) are computed per chain, then averaged.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .._validate import choice, positive, positive_int
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


class Referee(NamedTuple):
    """One theory and the simulation that checks it; each field a dotted name below ``fltheory``."""

    theory: str       #: the theory's entry point, e.g. ``"saddle.solve"``
    simulation: str   #: the simulation that referees it (a finite network, sampled or trained)
    comparison: str   #: where the two meet: the experiment (function or module) that runs both
    what: str         #: what is compared, in words

    def load(self) -> dict:
        """``{"theory": obj, "simulation": obj, "comparison": obj}``: the named objects, imported."""
        return {k: _resolve(getattr(self, k)) for k in ("theory", "simulation", "comparison")}


#: Every theory of the package and its referee (docs/architecture.md, "Referees").
REFEREES: dict[str, Referee] = {
    "saddle": Referee("saddle.solve", "experiments.simulate.simulate", "experiments.phase.phase_point",
                      "DNN/RNN saddle point (conventions §7) vs Langevin per chain: order parameter, W outlier, "
                      "test error; also experiments.sequential. Its 1/N correction (Solution.finite_width) is "
                      "refereed by the exact width-N chain saddle.exact_chain in experiments.finite_size"),
    "nngp": Referee("kernels.nngp_kernels", "sampling.sample_posterior", "experiments.kernel_check.kernel_check",
                    "infinite-width (lazy) kernels vs the Langevin posterior kernels at width N"),
    "two_layer": Referee("two_layer.solve_mean_field", "two_layer.sgld.run_sgld",
                         "experiments.learning_curve.learning_curve_point",
                         "two-layer mean field / NNGP vs SGLD: m_S and test MSE vs P"),
    "lowrank": Referee("lowrank.overlap_dynamics", "lowrank.network.train_network", "lowrank.compare.compare",
                       "closed overlap ODE vs the full N-dimensional low-rank RNN under GD"),
    "depth": Referee("depth.depth_ode_kernel", "depth.training.train", "depth.experiments",
                     "depth-ODE kernel vs GD of the depth-muP ResNet, reused vs decoupled backward weights"),
}


def _resolve(dotted: str):
    """The object named ``dotted`` below ``fltheory``: the longest importable module prefix, then
    attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module("fltheory." + ".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(f"fltheory.{dotted}")


def referee(theory: str) -> Referee:
    """The :class:`Referee` of ``theory`` (a key of :data:`REFEREES`); an unknown name is one error
    naming ``theory``."""
    return REFEREES[choice("theory", theory, tuple(REFEREES))]


__all__ = ["REFEREES", "ChainResults", "Referee", "referee", "simulate"]

"""Wall time: 30-point linear phase diagram from the theory vs Langevin reaching the same observables.

Measured in one run (T = 3, P = 1 linear chain, κ = 0.1):
1. theory: 30 signals, RNN (block-diagonal + broken branch) and DNN;
2. Langevin: one broken-phase point (y = 5) at N = 128, 8 chains, run until the per-chain kernels are
   within 5 % of the theory (checked), and that cost × 30 points.
Usage: python benchmarks/theory_vs_simulation.py
"""
import time

import numpy as np

import fltheory  # noqa: F401
from fltheory.experiments.simulate import simulate
from fltheory.saddle import broken_branch, follow_branch
from fltheory.tasks import Task

KAPPA = 0.1


def chain_task(y, T=3):
    X = np.zeros((1, T, 4))
    X[0, 0, 0] = 2.0
    Y = np.zeros((1, T, 1))
    Y[0, -1, 0] = y
    M = np.zeros((1, T))
    M[0, -1] = 1
    return Task(X, Y, M, X.copy(), Y.copy(), M.copy())


def main():
    ys = np.linspace(0.5, 6.0, 30)
    follow_branch(chain_task, ys[:2], kappa=KAPPA)  # compile once (not timed: a one-off per shape)
    follow_branch(chain_task, ys[:2], kappa=KAPPA, arch="dnn")
    t0 = time.perf_counter()
    sym = follow_branch(chain_task, ys, kappa=KAPPA)
    br = broken_branch(chain_task, ys, sym, kappa=KAPPA)
    follow_branch(chain_task, ys, kappa=KAPPA, arch="dnn")
    t_theory = time.perf_counter() - t0
    j = int(np.argmin(np.abs(ys - 5.0)))
    ref = br[j]
    t0 = time.perf_counter()
    r = simulate(chain_task(ys[j]), "rnn", "linear", N=128, kappa=KAPPA, n_chains=8, n_samples=100, thin=100,
                 burn_in=20000, step_size=6e-4, seed=1)
    t_sim = time.perf_counter() - t0
    iu = np.triu_indices(3)
    Cs = np.abs(r.train_kernel_chains(1, 1, 3)).mean(0)
    rel = np.max(np.abs(Cs[iu] - np.abs(ref.C)[iu]) / np.abs(ref.C)[iu])
    print(f"theory, 30-point linear diagram (RNN both branches + DNN): {t_theory:.2f} s")
    print(f"Langevin, one point (N=128, 8 chains, 30000 steps): {t_sim:.1f} s; max rel. kernel error {rel:.3f}"
          f" ({'within' if rel < 0.05 else 'NOT within'} 5 %)")
    print(f"Langevin, 30 points (extrapolated x30): {30 * t_sim:.0f} s")
    print(f"ratio simulation/theory: {30 * t_sim / t_theory:.0f}x")


if __name__ == "__main__":
    main()

"""Wall time: 30-point linear phase diagram from the theory vs Langevin reaching the same observables.

Measured in one run (T = 3, P = 1 linear chain, κ = 0.1):
1. theory: 30 signals, RNN (block-diagonal + broken branch) and DNN;
2. Langevin: one broken-phase point (y = 5), 8 chains, sampler defaults with 30 relaxation times of
   burn-in (symmetry breaking, tests/saddle/test_saddle_langevin.py), at N = 128, then N = 256, 512 until every
   observable (q, predictor f, all |C| blocks incl. cross-time, outlier |λ|) is within 5 % of the
   theory; the time of all runs needed (the cheapest width that succeeds, plus the failed smaller
   ones) × 30 points is compared with the theory.
Usage: python benchmarks/theory_vs_simulation.py
"""
import time

import numpy as np

import fltheory  # noqa: F401
from fltheory.experiments.simulate import simulate
from fltheory.saddle import broken_branch, follow_branch

KAPPA = 0.1


from fltheory.saddle.linear_chain import chain_task  # noqa: E402



def main():
    ys = np.linspace(0.5, 6.0, 30)
    follow_branch(chain_task, ys[:2], kappa=KAPPA)  # compile once (not timed: a one-off per shape)
    follow_branch(chain_task, ys[:2], kappa=KAPPA, arch="dnn")
    t0 = time.perf_counter()
    sym = follow_branch(chain_task, ys, kappa=KAPPA)
    br = broken_branch(chain_task, ys, sym, kappa=KAPPA)
    follow_branch(chain_task, ys, kappa=KAPPA, arch="dnn")
    t_theory = time.perf_counter() - t0
    print(f"theory, 30-point linear diagram (RNN both branches + DNN): {t_theory:.2f} s", flush=True)
    j = int(np.argmin(np.abs(ys - 5.0)))
    ref = br[j]
    refs = dict(q=ref.order_parameter(), f=float(ref.prediction.f_test[0, -1, 0]),
                lam=float(abs(ref.weight_outliers()[0])))
    iu = np.triu_indices(3)
    t_sim = 0.0
    for N in (128, 256, 512):
        t0 = time.perf_counter()
        r = simulate(chain_task(ys[j]), "rnn", "linear", N=N, kappa=KAPPA, n_chains=8, n_samples=100,
                     relaxation_times=30.0, seed=0)
        dt = time.perf_counter() - t0
        t_sim += dt
        Cs = np.abs(r.train_kernel_chains(1, 1, 3)).mean(0)
        errs = dict(C=float(np.max(np.abs(Cs[iu] - np.abs(ref.C)[iu]) / np.abs(ref.C)[iu])),
                    q=abs(r.order_parameter(1, 1, 3)[0] / refs["q"] - 1),
                    f=abs(float(r.f_test_chains[:, 0, -1, 0].mean()) / refs["f"] - 1),
                    lam=abs(float(np.median(r.eig_abs_max)) / refs["lam"] - 1))
        ok = max(errs.values()) < 0.05
        print(f"Langevin N={N} (8 chains, {r.n_steps} steps): {dt:.1f} s; relative errors "
              + ", ".join(f"{k} {v:.3f}" for k, v in errs.items()) + f" -> {'within' if ok else 'NOT within'} 5 %",
              flush=True)
        if ok:
            break
    print(f"Langevin, 30 points (x30 of all runs needed{'' if ok else ', still NOT within 5 %'}): {30 * t_sim:.0f} s")
    print(f"ratio simulation/theory: {30 * t_sim / t_theory:.0f}x")


if __name__ == "__main__":
    main()

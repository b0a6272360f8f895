"""Wall time of the theory against the Langevin simulation that reaches the same observables (issue #12).

Equal footing:
- the same task and branches on both sides: the default phase-diagram task (P = 4, T = 3, D = 6,
  κ = 0.1), RNN and DNN. The theory runs the 30-signal diagram (RNN block-diagonal and broken
  branches, DNN; ``fltheory.experiments.phase.theory_sweep``); the simulation runs the RNN and the
  DNN at one signal above the transition, and its time is multiplied by 30;
- every timing is a cold run in a fresh process: JIT compilation is counted on both sides, the
  import of the package on neither; the median over ``--repeats`` such runs is reported;
- "reaches the same observables": at N = 128, then 256, 512, until every observable is within 5 % of
  the theory. Above the RNN transition each chain settles in one of the W → −W modes, so the RNN is
  compared on sign-invariant per-chain observables of the chains that broke the symmetry (|λ|max
  of W/√N beyond the midpoint between the bulk edge g and the predicted outlier): the outlier |λ|,
  q (lag 1), the Frobenius norm of every kernel block ‖C_ts‖ (t ≤ s) and the relative test error
  (f is sign-invariant, all chains). The DNN: its same-time blocks ‖C_tt‖ and its test error.
  The time of every width tried (the failed smaller ones too) is counted.

Usage: python benchmarks/theory_vs_simulation.py [--phi linear|erf] [--repeats 3] [--signal 3.0]
erf: n_mc = 16384 and 48 relaxation times of burn-in for the RNN (docs/theory/unified.md §3.6).
"""
import argparse
import json
import subprocess
import sys
import time

import numpy as np

SIGNALS = np.linspace(0.25, 6.0, 30)
TOL = 0.05


def _block_norms(C, T, P):
    from fltheory.kernels.layout import blocks

    B = blocks(np.asarray(C), T, P)
    return np.array([np.linalg.norm(B[t, s]) for t in range(T) for s in range(t, T)])


def worker_theory(args):
    from fltheory.experiments.phase import DEFAULT_TASK, _outlier, theory_sweep

    kw = dict(phi=args.phi, n_mc=16384) if args.phi != "linear" else dict(phi="linear")
    t0 = time.perf_counter()
    th = theory_sweep(SIGNALS, **kw)
    wall = time.perf_counter() - t0
    j = int(np.argmin(np.abs(SIGNALS - args.signal)))
    T, P = DEFAULT_TASK["T"], DEFAULT_TASK["P"]
    sol_r = th["solutions"]["broken"][j] or th["solutions"]["sym"][j]
    sol_d = th["solutions"]["dnn"][j]
    return dict(wall=wall, signal=float(SIGNALS[j]), q=float(th["q_rnn"][j]), outlier=_outlier(sol_r),
                err_rnn=float(th["err_rnn"][j]), err_dnn=float(th["err_dnn"][j]),
                C_rnn=_block_norms(sol_r.C, T, P).tolist(), C_dnn=_block_norms(sol_d.C, T, P).tolist())


def worker_sim(args):
    from fltheory.experiments.phase import DEFAULT_TASK, _rel_error, make_task_fn
    from fltheory.experiments.simulate import simulate
    from fltheory.saddle.solution import order_parameter

    task = make_task_fn()(args.signal)
    T, P, Pt = task.T, task.P, task.P_test
    out = {}
    t0 = time.perf_counter()
    for arch, rt in (("rnn", args.relaxation_times), ("dnn", 4.0)):
        r = simulate(task, arch, args.phi, N=args.N, kappa=0.1, n_chains=4, n_samples=50,
                     relaxation_times=rt, seed=0)
        Cs = r.train_kernel_chains(P, Pt, T)
        out[arch] = dict(C=[_block_norms(C, T, P).tolist() for C in Cs],
                         q=[order_parameter(C, T, P, 1) for C in Cs],
                         eig=np.nan_to_num(r.eig_abs_max).tolist(), err=_rel_error(r.test_error(task), task),
                         n_steps=int(r.n_steps))
    out["wall"] = time.perf_counter() - t0
    assert DEFAULT_TASK["T"] == T
    return out


def run_worker(argv, repeats):
    """Median wall time over ``repeats`` cold runs in fresh processes, and the last run's observables."""
    runs = []
    for _ in range(repeats):
        p = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True)
        if p.returncode:
            sys.exit(f"worker {argv} failed:\n{p.stderr[-3000:]}")
        runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
    out = runs[-1]
    out["walls"] = [r["wall"] for r in runs]
    out["wall"] = float(np.median(out["walls"]))
    return out


def compare(th, sim):
    """Relative errors of every observable (RNN: broken chains only, when the theory has an outlier)."""
    rnn, dnn = sim["rnn"], sim["dnn"]
    eig = np.array(rnn["eig"])
    errs = {}
    if np.isfinite(th["outlier"]):
        broken = eig > 0.5 * (1.0 + th["outlier"])  # bulk edge g = 1 (g2 = 1)
        if not broken.any():
            return {"broken chains": 0}, "no chain broke the symmetry"
        errs["outlier"] = abs(eig[broken].mean() / th["outlier"] - 1)
    else:
        broken = np.ones(len(eig), bool)
    errs["q"] = abs(np.mean(np.array(rnn["q"])[broken]) / th["q"] - 1) if th["q"] > 0.05 else 0.0
    Cr = np.array(rnn["C"])[broken].mean(0)
    errs["C_rnn"] = float(np.max(np.abs(Cr / np.array(th["C_rnn"]) - 1)))
    errs["err_rnn"] = abs(rnn["err"] / th["err_rnn"] - 1)
    same = [k for k, (t, s) in enumerate((t, s) for t in range(3) for s in range(t, 3)) if t == s]
    Cd = np.array(dnn["C"]).mean(0)[same]
    errs["C_dnn"] = float(np.max(np.abs(Cd / np.array(th["C_dnn"])[same] - 1)))
    errs["err_dnn"] = abs(dnn["err"] / th["err_dnn"] - 1)
    return errs, f"{int(broken.sum())}/{len(eig)} chains broke the symmetry"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phi", default="linear", choices=("linear", "erf"))
    ap.add_argument("--repeats", type=int, default=3, help="cold runs per side (median); default 3")
    ap.add_argument("--sim-repeats", type=int, default=1, help="cold Langevin runs per width (median)")
    ap.add_argument("--signal", type=float, default=3.0)
    ap.add_argument("--relaxation-times", type=float, default=None, help="RNN burn-in (default 30 linear, 48 erf)")
    ap.add_argument("--widths", default="128,256,512")
    ap.add_argument("--worker", choices=("theory", "sim"), help=argparse.SUPPRESS)
    ap.add_argument("--N", type=int, default=128, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.relaxation_times is None:
        args.relaxation_times = 48.0 if args.phi == "erf" else 30.0
    if args.worker:
        import fltheory  # noqa: F401  (import outside the timed part)

        print(json.dumps(worker_theory(args) if args.worker == "theory" else worker_sim(args)))
        return
    common = ["--phi", args.phi, "--signal", str(args.signal), "--relaxation-times", str(args.relaxation_times)]
    th = run_worker(["--worker", "theory", *common], args.repeats)
    print(f"theory, 30-signal {args.phi} diagram (RNN both branches + DNN), cold incl. compile: median "
          f"{th['wall']:.1f} s of {len(th['walls'])} runs ({', '.join(f'{w:.1f}' for w in th['walls'])})")
    print(f"theory at signal {th['signal']:.3f}: q {th['q']:.3f}, outlier {th['outlier']:.3f}, "
          f"relative test error RNN {th['err_rnn']:.3f} DNN {th['err_dnn']:.3f}", flush=True)
    t_sim, ok = 0.0, False
    for N in (int(w) for w in args.widths.split(",")):
        sim = run_worker(["--worker", "sim", "--N", str(N), *common], args.sim_repeats)
        t_sim += sim["wall"]
        errs, note = compare(th, sim)
        ok = len(errs) > 1 and max(errs.values()) < TOL
        print(f"Langevin N={N} (RNN {sim['rnn']['n_steps']} + DNN {sim['dnn']['n_steps']} steps, 4 chains each): "
              f"{sim['wall']:.1f} s; {note}; relative errors "
              + ", ".join(f"{k} {v:.3f}" for k, v in errs.items())
              + f" -> {'within' if ok else 'NOT within'} {TOL:.0%}", flush=True)
        if ok:
            break
    total = 30 * t_sim
    print(f"Langevin, 30 signals (x30 of every width tried{'' if ok else ', still NOT within 5 %'}): {total:.0f} s")
    print(f"ratio simulation / theory: {total / th['wall']:.0f}x")


if __name__ == "__main__":
    main()

"""Cost of the 1/N correction against a plain saddle-point solve of the same problem (issue #13).

Each size runs in a fresh subprocess: a cold `solve` (compile included, what a user pays once), then a
cold `Solution.finite_width(N, method=...)` on its solution. Methods: ``dense`` (the m×m Hessian, its
inverse and m third-order directional derivatives: O(m²) memory) and ``hutchinson`` (matrix-free:
Hessian-vector products, GMRES solves, deflated Rademacher probes for the traces: O(n_probes·m)
memory; docs/theory/finite_width.md §2.4). Printed per size: n = T·P, the number m of (C, Ĉ)
coordinates, the memory estimate, both cold wall times, their ratio (the issue's target: ≤ 3), the
times of a second call of each in the same process and their ratio (what jax caches across calls is
reused: the solver's compiled programs are; the correction jits closures over the problem and compiles
again), for
``hutchinson`` the median relative s.e. of the probed C₁ (what the probes buy), and at the end the
fitted exponents of the times in m.

A size whose memory estimate (``finite_width.memory_estimate``) exceeds 80 % of the available memory
is refused before its subprocess starts.

Task: linear endpoint task, signal 1, κ = 0.1, D = 16, g's = 1 (the phase-diagram task at P = 4, T = 3).

Usage: python benchmarks/finite_width_cost.py [--arch rnn|dnn] [--sizes 3x2,3x4,3x8,4x8]
       [--method dense|hutchinson|both] [--n-probes 64]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

CASE = r"""
import json, sys, time, warnings
import numpy as np
import fltheory
from fltheory.tasks import endpoint_task
from fltheory.saddle import solve
T, P, arch, method, n_probes = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
task = endpoint_task(P=P, P_test=2, T=T, D=16, signal=1.0, seed=0)
t = time.perf_counter(); sol = solve(task, arch=arch, kappa=0.1); t_solve = time.perf_counter() - t
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    t = time.perf_counter()
    fw = sol.finite_width(256, method=method, n_probes=n_probes)
    t_fw = time.perf_counter() - t
    # a second call of each in this process: what jax caches across calls is reused
    t = time.perf_counter(); sol = solve(task, arch=arch, kappa=0.1); w_solve = time.perf_counter() - t
    t = time.perf_counter(); sol.finite_width(256, method=method, n_probes=n_probes); w_fw = time.perf_counter() - t
nz = np.abs(fw.C_first) > 1e-9 * np.max(np.abs(fw.C_first))
rse = float(np.median(fw.C_first_se[nz] / np.abs(fw.C_first[nz]))) if method == "hutchinson" else 0.0
print(json.dumps(dict(solve=t_solve, correction=t_fw, warm_solve=w_solve, warm_correction=w_fw,
                      rel=fw.relative_correction, rse=rse)))
"""


def _m(T, P, arch):
    n = T * P
    return n, (n * (n + 1) if arch == "rnn" else T * P * (P + 1))


def main() -> None:
    from fltheory._resources import available_memory, fmt_bytes
    from fltheory.saddle.finite_width import memory_estimate

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="rnn", choices=("rnn", "dnn"))
    ap.add_argument("--sizes", default="3x2,3x4,3x8,4x8", help="TxP list")
    ap.add_argument("--method", default="both", choices=("dense", "hutchinson", "both"))
    ap.add_argument("--n-probes", type=int, default=64)
    args = ap.parse_args()
    methods = ("dense", "hutchinson") if args.method == "both" else (args.method,)
    rows = {k: [] for k in methods}
    print(f"{'method':>10} {'n':>4} {'m':>6} {'memory':>10} {'solve [s]':>10} {'correction [s]':>15} {'ratio':>6} "
          f"{'2nd solve [s]':>13} {'2nd corr. [s]':>13} {'2nd ratio':>9} {'probe s.e.':>10}")
    for tp in args.sizes.split(","):
        T, P = (int(v) for v in tp.split("x"))
        n, m = _m(T, P, args.arch)
        for method in methods:
            need = memory_estimate(m, n, method, args.n_probes)
            if need > 0.8 * available_memory():
                print(f"{method:>10} {n:4d} {m:6d} {fmt_bytes(need):>10}  refused: more than 80 % of the "
                      f"{fmt_bytes(available_memory())} available", flush=True)
                continue
            out = subprocess.run([sys.executable, "-c", CASE, str(T), str(P), args.arch, method, str(args.n_probes)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{method:>10} {n:4d} {m:6d} failed: {out.stderr.strip().splitlines()[-1]}", flush=True)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r.update(n=n, m=m)
            rows[method].append(r)
            rse = f"{r['rse']:10.2f}" if method == "hutchinson" else f"{'—':>10}"
            print(f"{method:>10} {n:4d} {m:6d} {fmt_bytes(need):>10} {r['solve']:10.2f} {r['correction']:15.2f} "
                  f"{r['correction'] / r['solve']:6.2f} {r['warm_solve']:13.2f} {r['warm_correction']:13.2f} "
                  f"{r['warm_correction'] / r['warm_solve']:9.1f} {rse}",
                  flush=True)
    for method, rs in rows.items():
        if len(rs) >= 2:
            m = np.log([r["m"] for r in rs])
            for key in ("solve", "correction"):
                k = np.polyfit(m, np.log([r[key] for r in rs]), 1)[0]
                print(f"{method}: exponent of the {key} time in m: {k:.2f}")


if __name__ == "__main__":
    main()

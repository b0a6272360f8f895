"""Cost of the 1/N correction against a plain saddle-point solve of the same problem (issue #13).

Each size runs in a fresh subprocess: a cold `solve` (compile included, what a user pays once), then a
cold `Solution.finite_width(N, method=...)` on its solution. Methods: ``dense`` (the m×m Hessian, its
inverse and m third-order directional derivatives: O(m²) memory) and ``hutchinson`` (matrix-free:
Hessian-vector products, GMRES solves, deflated Rademacher probes for the traces: O(n_probes·m)
memory; docs/theory/finite_width.md §2.4). Then, in the same process, a second `solve` and a second
`finite_width` on *another* problem of the same shapes (other inputs, targets and κ: a sweep's next
point). The correction's compiled pieces are module-level jitted functions of the problem (a pytree), so
the second call compiles nothing; the column ``2nd compiles`` counts JAX backend compilations during it.
Printed per size: n = T·P, the number m of (C, Ĉ) coordinates, the memory estimate, the CPU times
(``time.process_time``: the machine may be shared; wall times in ``--json``) of the cold solve and
correction and their ratio (the issue's target: ≤ 3), the same for the second calls, for ``hutchinson``
the median relative s.e. of the probed C₁ (what the probes buy), and at the end the fitted exponents of
the cold CPU times in m.

A size whose memory estimate (``finite_width.memory_estimate``) exceeds 80 % of the available memory
is refused before its subprocess starts.

Task: endpoint task, signal 1, κ = 0.1, D = 16, g's = 1 (the phase-diagram task at P = 4, T = 3); the
second problem: signal 0.8, seed 1, κ = 0.12. φ linear (closed-form action) or erf (importance-sampled
ln Z₁: 1 + mc_splits = 5 expansions per call on two draw-set sizes).

Usage: python benchmarks/finite_width_cost.py [--arch rnn|dnn] [--sizes 3x2,3x4,3x8,4x8]
       [--method dense|hutchinson|both] [--n-probes 64] [--phi linear|erf] [--n-draws 131072] [--json]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

CASE = r"""
import json, sys, time, warnings
import jax
import numpy as np
import fltheory
from fltheory.tasks import endpoint_task
from fltheory.saddle import solve
T, P, arch, method, n_probes = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
phi, n_draws = sys.argv[6], int(sys.argv[7])
kw = dict(method=method, n_probes=n_probes) | (dict(n_draws=n_draws) if phi != "linear" else {})
compiles = [0]
jax.monitoring.register_event_duration_secs_listener(
    lambda ev, d, **k: compiles.__setitem__(0, compiles[0] + (ev == "/jax/core/compile/backend_compile_duration")))


def timed(f):
    c, w = time.process_time(), time.perf_counter()
    out = f()
    return out, time.process_time() - c, time.perf_counter() - w


task = endpoint_task(P=P, P_test=2, T=T, D=16, signal=1.0, seed=0)
task2 = endpoint_task(P=P, P_test=2, T=T, D=16, signal=0.8, seed=1)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    sol, c_solve, w_solve = timed(lambda: solve(task, arch=arch, phi=phi, kappa=0.1))
    fw, c_fw, w_fw = timed(lambda: sol.finite_width(256, **kw))
    # a second call of each in this process, on another problem of the same shapes
    sol2, c_solve2, w_solve2 = timed(lambda: solve(task2, arch=arch, phi=phi, kappa=0.12))
    n0 = compiles[0]
    _, c_fw2, w_fw2 = timed(lambda: sol2.finite_width(256, **kw))
    n2 = compiles[0] - n0
nz = np.abs(fw.C_first) > 1e-9 * np.max(np.abs(fw.C_first))
rse = float(np.median(fw.C_first_se[nz] / np.abs(fw.C_first[nz]))) if method == "hutchinson" else 0.0
print(json.dumps(dict(solve=c_solve, correction=c_fw, warm_solve=c_solve2, warm_correction=c_fw2,
                      wall=dict(solve=w_solve, correction=w_fw, warm_solve=w_solve2, warm_correction=w_fw2),
                      compiles2=n2, rel=fw.relative_correction, rse=rse)))
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
    ap.add_argument("--phi", default="linear", choices=("linear", "erf"))
    ap.add_argument("--n-draws", type=int, default=2**17, help="importance-sampling draws (erf)")
    ap.add_argument("--json", action="store_true", help="also print each size's raw record (wall times too)")
    args = ap.parse_args()
    methods = ("dense", "hutchinson") if args.method == "both" else (args.method,)
    rows = {k: [] for k in methods}
    print(f"CPU seconds (time.process_time), phi = {args.phi}")
    print(f"{'method':>10} {'n':>4} {'m':>6} {'memory':>10} {'solve [s]':>10} {'correction [s]':>15} {'ratio':>6} "
          f"{'2nd solve [s]':>13} {'2nd corr. [s]':>13} {'2nd ratio':>9} {'2nd compiles':>12} {'probe s.e.':>10}")
    for tp in args.sizes.split(","):
        T, P = (int(v) for v in tp.split("x"))
        n, m = _m(T, P, args.arch)
        for method in methods:
            need = memory_estimate(m, n, method, args.n_probes)
            if need > 0.8 * available_memory():
                print(f"{method:>10} {n:4d} {m:6d} {fmt_bytes(need):>10}  refused: more than 80 % of the "
                      f"{fmt_bytes(available_memory())} available", flush=True)
                continue
            out = subprocess.run([sys.executable, "-c", CASE, str(T), str(P), args.arch, method, str(args.n_probes),
                                  args.phi, str(args.n_draws)], capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{method:>10} {n:4d} {m:6d} failed: {out.stderr.strip().splitlines()[-1]}", flush=True)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r.update(n=n, m=m)
            rows[method].append(r)
            rse = f"{r['rse']:10.2f}" if method == "hutchinson" else f"{'—':>10}"
            print(f"{method:>10} {n:4d} {m:6d} {fmt_bytes(need):>10} {r['solve']:10.2f} {r['correction']:15.2f} "
                  f"{r['correction'] / r['solve']:6.2f} {r['warm_solve']:13.2f} {r['warm_correction']:13.2f} "
                  f"{r['warm_correction'] / max(r['warm_solve'], 1e-9):9.1f} {r['compiles2']:12d} {rse}",
                  flush=True)
            if args.json:
                print(json.dumps(r), flush=True)
    for method, rs in rows.items():
        if len(rs) >= 2:
            m = np.log([r["m"] for r in rs])
            for key in ("solve", "correction"):
                k = np.polyfit(m, np.log([r[key] for r in rs]), 1)[0]
                print(f"{method}: exponent of the cold {key} CPU time in m: {k:.2f}")


if __name__ == "__main__":
    main()

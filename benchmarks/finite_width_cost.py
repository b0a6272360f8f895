"""Cost of the 1/N correction against a plain saddle-point solve of the same problem (issue #13).

Each size runs in a fresh subprocess: a cold `solve` (compile included, what a user pays once), then a
cold `Solution.finite_width(N)` on its solution. Printed: n = T·P, the number m of (C, Ĉ)
coordinates the expansion works in, both wall times, their ratio (the issue's target: ≤ 3), and the
fitted exponents of both times in m.

Task: linear endpoint task, signal 1, κ = 0.1, D = 16, g's = 1 (the phase-diagram task at P = 4, T = 3).

Usage: python benchmarks/finite_width_cost.py [--arch rnn|dnn] [--sizes 3x2,3x4,3x8,4x8]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

CASE = r"""
import json, sys, time
import fltheory
from fltheory.tasks import endpoint_task
from fltheory.saddle import solve
T, P, arch = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
task = endpoint_task(P=P, P_test=2, T=T, D=16, signal=1.0, seed=0)
t = time.perf_counter(); sol = solve(task, arch=arch, kappa=0.1); t_solve = time.perf_counter() - t
t = time.perf_counter(); fw = sol.finite_width(256); t_fw = time.perf_counter() - t
n = T * P
m = n * (n + 1) if arch == "rnn" else T * P * (P + 1)
print(json.dumps(dict(n=n, m=m, solve=t_solve, correction=t_fw, rel=fw.relative_correction)))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="rnn", choices=("rnn", "dnn"))
    ap.add_argument("--sizes", default="3x2,3x4,3x8,4x8", help="TxP list")
    args = ap.parse_args()
    rows = []
    print(f"{'n':>4} {'m':>6} {'solve [s]':>10} {'correction [s]':>15} {'ratio':>6}")
    for tp in args.sizes.split(","):
        T, P = (int(v) for v in tp.split("x"))
        out = subprocess.run([sys.executable, "-c", CASE, str(T), str(P), args.arch], capture_output=True,
                             text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"{r['n']:4d} {r['m']:6d} {r['solve']:10.2f} {r['correction']:15.2f} {r['correction'] / r['solve']:6.2f}",
              flush=True)
    m = np.array([r["m"] for r in rows], float)
    if len(rows) >= 2:
        for key in ("solve", "correction"):
            k = np.polyfit(np.log(m), np.log([r[key] for r in rows]), 1)[0]
            print(f"exponent of the {key} time in m: {k:.2f}")


if __name__ == "__main__":
    main()

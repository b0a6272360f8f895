"""Cost of the saddle-point solver against the problem size n = T·P (issue #12).

Each case runs in a fresh subprocess, so its wall time includes JIT compilation (what a user pays
for one solve) and its peak memory (ru_maxrss) is its own. Columns: n, arch, φ, n_mc, wall time,
peak memory, Newton iterations, Jacobian-vector products, residual, and — where the previous
dense-Hessian solver still runs (n ≤ 24) — the ratio of its wall time to the new one's. The time
exponent is fitted over the linear-RNN rows (log wall vs log n).

Task: endpoint task, signal 1, κ = 0.1, D = max(P, 16), g's = 1 (one row: the sequential LDS task with
every other step supervised, D = 8); a case is stopped after ``--limit`` seconds and reported as such.
The method column says which solver ran (``newton(reduced)``: the linear RNN's low-rank coordinates,
docs/theory/unified.md §3).

The ``cpu s`` column is the case's own CPU time (user + system, including the import): on a machine
shared with other jobs it approximates the single-core wall time on an idle one, which ``wall s`` does
not (the load average at the start is printed).

Usage: python benchmarks/saddle_scaling.py [--quick | --erf | --case T P ARCH ...] [--limit 300]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np

CASE = r"""
import ctypes, json, resource, signal, sys, time
try:  # die with the benchmark process, however it is killed (Linux PR_SET_PDEATHSIG)
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)
except (OSError, AttributeError):
    pass
import fltheory
from fltheory.tasks import endpoint_task
from fltheory.saddle import solve
T, P, arch, phi, n_mc, dense, kind = sys.argv[1:8]
T, P, n_mc, dense = int(T), int(P), int(n_mc), dense == "1"
if kind == "endpoint":
    task = endpoint_task(P=P, P_test=4, T=T, D=max(P, 16), signal=1.0, seed=0)
else:  # sequential LDS task, every other step supervised
    from fltheory.tasks import sequential_task
    task = sequential_task(teacher="lds", P=P, P_test=4, T=T, D=8, n_state=2, rho=0.9, mask="every_other", seed=0)
t0 = time.perf_counter()
if dense:
    from fltheory.saddle._dense_reference import dense_newton_solve
    _, _, ok = dense_newton_solve(task, arch=arch, phi=phi, kappa=0.1, n_mc=n_mc)
    out = dict(wall=time.perf_counter() - t0, ok=bool(ok))
else:
    sol = solve(task, arch=arch, phi=phi, kappa=0.1, n_mc=n_mc)
    d = sol.diagnostics
    out = dict(wall=time.perf_counter() - t0, ok=d.converged, it=d.iterations, mv=d.matvecs,
               res=d.residual, mc=d.mc_error, method=d.method)
ru = resource.getrusage(resource.RUSAGE_SELF)
out["rss"] = ru.ru_maxrss * 1024
out["cpu"] = ru.ru_utime + ru.ru_stime  # includes the import; on a shared machine the honest cost
print("RESULT " + json.dumps(out))
"""


def _child_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run(T, P, arch, phi, n_mc, dense, limit, kind="endpoint"):
    t0, c0 = time.perf_counter(), _child_cpu()
    try:
        p = subprocess.run([sys.executable, "-c", CASE, str(T), str(P), arch, phi, str(n_mc), "1" if dense else "0",
                            kind],
                           capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:  # the killed case is reaped by subprocess.run: its CPU time is counted
        return dict(ok=False, wall=time.perf_counter() - t0, cpu=_child_cpu() - c0, note=f"stopped after {limit} s")
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    err = (p.stderr.strip().splitlines() or ["?"])[-1]
    return dict(ok=False, wall=time.perf_counter() - t0, cpu=_child_cpu() - c0, note=err[:90])


def main():
    # SIGTERM → SystemExit, so subprocess.run kills the running case on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="only the small sizes")
    ap.add_argument("--limit", type=float, default=300.0, help="seconds per case")
    ap.add_argument("--erf", action="store_true", help="only the erf rows (n_mc = 16384, no dense ratio)")
    ap.add_argument("--case", nargs=3, metavar=("T", "P", "ARCH"), action="append",
                    help="run only these erf cases (n_mc = 16384), e.g. --case 10 10 rnn --case 10 100 dnn")
    a = ap.parse_args()
    E, S = "endpoint", "sequential"
    cases = [(3, 4, "rnn", "linear", 1, E), (6, 4, "rnn", "linear", 1, E), (10, 5, "rnn", "linear", 1, E),
             (10, 10, "rnn", "linear", 1, E), (10, 20, "rnn", "linear", 1, E)]
    if not a.quick:
        cases += [(10, 40, "rnn", "linear", 1, E), (10, 100, "rnn", "linear", 1, E), (20, 20, "rnn", "linear", 1, S)]
    cases += [(10, 100, "dnn", "linear", 1, E), (3, 4, "rnn", "erf", 4096, E), (6, 4, "rnn", "erf", 4096, E)]
    if not a.quick:
        cases += [(10, 10, "rnn", "erf", 16384, E), (10, 100, "dnn", "erf", 16384, E)]
    if a.erf:
        cases = [(3, 4, "rnn", "erf", 16384, E), (6, 4, "rnn", "erf", 16384, E), (10, 4, "rnn", "erf", 16384, E),
                 (10, 10, "rnn", "erf", 16384, E), (10, 10, "dnn", "erf", 16384, E),
                 (10, 100, "dnn", "erf", 16384, E)]
    if a.case:
        cases = [(int(T), int(P), arch, "erf", 16384, E) for T, P, arch in a.case]
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"{'n':>5} {'task':>4} {'arch':>4} {'phi':>6} {'n_mc':>6} {'wall s':>8} {'cpu s':>7} {'peak GB':>8} "
          f"{'iters':>5} {'jvps':>6} {'residual':>9} {'mc err':>7} {'old/new':>8}  method / note", flush=True)
    lin = []
    for T, P, arch, phi, n_mc, kind in cases:
        n = T * P
        r = run(T, P, arch, phi, n_mc, False, a.limit, kind)
        ratio = ""
        if n <= 24 and not a.erf:
            d = run(T, P, arch, phi, n_mc, True, a.limit)
            ratio = f"{d['wall'] / r['wall']:.1f}" if d.get("ok") and r.get("ok") else "-"
        if r.get("ok") and arch == "rnn" and phi == "linear" and kind == E:
            lin.append((n, r["wall"]))
        print(f"{n:>5} {kind[:4]:>4} {arch:>4} {phi:>6} {n_mc:>6} {r['wall']:>8.1f} {r.get('cpu', float('nan')):>7.1f} "
              f"{r.get('rss', float('nan')) / 2**30:>8.2f} {r.get('it', '-'):>5} {r.get('mv', '-'):>6} "
              f"{r.get('res', float('nan')):>9.1e} {r.get('mc', float('nan')):>7.2%} {ratio:>8}  "
              f"{r.get('method', '')} {r.get('note', '')}", flush=True)
    if len(lin) >= 3:
        n, w = np.array(lin).T
        big = n >= 50
        sel = big if big.sum() >= 2 else np.ones_like(big)
        slope = np.polyfit(np.log(n[sel]), np.log(w[sel]), 1)[0]
        print(f"time exponent, linear RNN endpoint (n ≥ {int(n[sel].min())}): wall ∝ n^{slope:.2f}")


if __name__ == "__main__":
    main()

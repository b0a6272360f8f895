"""The per-entry reliability criterion of the 1/N correction against the exact width-N posterior
(docs/theory/finite_width.md §2.5): RNN chain, T = 3, κ = 0.1, the six entries of C at N = 64…1024, for
signals given as multiples of y_c (default 0.8,1.1,1.4,2.0). Prints every entry (saddle-point and
corrected error, the referee's quadrature error, the estimated second-order error, the flag) and the
summary: entries the correction made worse and how many of them are flagged, false alarms, and the
ratio of actual to estimated error. Writes nothing. Several minutes per signal on 2 cores.

    python benchmarks/finite_width_entries.py 0.8,1.1,1.4,2.0
"""
import sys
import time
import warnings

import numpy as np
import fltheory
from fltheory.saddle import follow_branch, broken_branch
from fltheory.saddle.exact_chain import exact_chain_moments
from fltheory.saddle.linear_chain import chain_task, critical_signal_T3
warnings.simplefilter("ignore")
K = 0.1; yc = critical_signal_T3(kappa=K)
names = ["C11", "C12", "C13", "C22", "C23", "C33"]
iu = np.triu_indices(3)
rows = []
for r in [float(a) for a in (sys.argv[1] if len(sys.argv) > 1 else "0.8,1.1,1.4,2.0").split(",")]:
    y = r * yc
    ys = np.linspace(0.5, y, 12)
    sym = follow_branch(chain_task, ys, kappa=K, arch="rnn")
    broken = r > 1
    sol = broken_branch(chain_task, ys, sym, kappa=K)[-1] if broken else sym[-1]
    fw = sol.finite_width(128)
    for N, order in [(64, 10), (128, 8), (256, 8), (512, 8), (1024, 8)]:
        t = time.time()
        ref = exact_chain_moments(y, N, T=3, init_C=sol.C, kappa=K, order=order)
        C, se = (ref.C_folded, ref.C_folded_se) if broken else (ref.C, ref.C_se)
        a = fw.at(N)
        e0 = np.abs(C - a.C_leading)[iu]; e1 = np.abs(C - a.C)[iu]
        est = a.C_error_estimate[iu]; rel = a.C_entry_relative[iu]; ok = a.C_entry_reliable[iu]; first = np.abs(a.C_first[iu]) / N
        for j, nm in enumerate(names):
            rows.append(dict(r=r, N=N, entry=nm, e0=e0[j], e1=e1[j], se=se[iu][j], est=est[j], first=first[j], rel=rel[j], ok=bool(ok[j]), Gi=a.ginzburg))
            print(f"{r} {N:5d} {nm} saddle {e0[j]:.2e} corr {e1[j]:.2e} (quad {se[iu][j]:.0e}) est2 {est[j]:.2e} first {first[j]:.2e} rel {rel[j]:.3f} ok {int(ok[j])} Gi {a.ginzburg:.2f}", flush=True)

# ---- summary ----
rows = [x for x in rows if x["e0"] > 1e-10]          # drop the entries that vanish by symmetry (odd lags below y_c)
worse = [x for x in rows if x["e1"] > x["e0"]]
better = [x for x in rows if x["e1"] + 4 * x["se"] < 0.5 * (x["e0"] - 4 * x["se"])]
print("entries", len(rows), "clearly worse", len(worse), "flagged among them", sum(not x["ok"] for x in worse))
print("  missed:", [(x["r"], x["N"], x["entry"]) for x in worse if x["ok"]])
print("helped >=2x", len(better), "flagged among them (false alarms)", sum(not x["ok"] for x in better))
print("passed", sum(x["ok"] for x in rows), "of which helped>=2x", sum(x["ok"] for x in better))
for r in sorted(set(x["r"] for x in rows)):
    for N in sorted(set(x["N"] for x in rows)):
        sel = [x for x in rows if x["r"] == r and x["N"] == N]
        if not sel: continue
        w = [x["entry"] for x in sel if x in worse]; f = [x["entry"] for x in sel if not x["ok"]]
        print(r, N, "Gi %.2f" % sel[0]["Gi"], "worse", w, "flagged", f)
# error estimate vs actual corrected error, where the referee resolves it
res = [(x["e1"], x["est"]) for x in rows if x["e1"] > 4 * x["se"]]
ratio = np.array([e / s for e, s in res])
print("actual/estimated error: n", len(ratio), "median %.2f" % np.median(ratio), "10-90%%: %.2f %.2f" % tuple(np.percentile(ratio, [10, 90])), "frac actual<=est %.2f" % np.mean(ratio <= 1))

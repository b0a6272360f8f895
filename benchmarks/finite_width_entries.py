"""The per-entry reliability criterion of the 1/N correction against the exact width-N posterior
(docs/theory/finite_width.md §2.5): RNN chain, T = 3, κ = 0.1, the six entries of C at N = 64…1024, for
signals given as multiples of y_c (default 0.8,1.1,1.4,2.0). Prints every entry (saddle-point and
corrected error, the referee's quadrature error, the estimated second-order error, the flag) and the
summary: entries the correction made worse and how many of them are flagged, false alarms, and the
ratio of actual to estimated error. Writes nothing. Several minutes per signal on 2 cores.

    python benchmarks/finite_width_entries.py 0.8,1.1,1.4,2.0

``--phase ARCH SIGNAL WIDTHS [BURN_RT SAMPLE_RT OUT.npz]``: the same criterion on the default P = 4 phase
task (linear, symmetric branch), against the Metropolis-adjusted network sampler (16 chains, float64,
the default step; BURN_RT/SAMPLE_RT relaxation times of burn-in/sampling, default 12 and 16). Per
entry of the training kernel it stores the MALA mean and s.e., the saddle point, the corrected value,
`C_error_estimate` and the flag (OUT.npz, default /tmp/fw_entries_phase.npz), and prints: entries
flagged against entries the correction makes worse by more than 2 s.e., and χ² of the corrected theory
over all entries, over the unflagged ones, and with `C_error_estimate` added in quadrature to the s.e.

    python benchmarks/finite_width_entries.py --phase rnn 1.0 128
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


def phase(arch, s, Ns, burn_rt=12.0, sample_rt=16.0, out="/tmp/fw_entries_phase.npz"):
    """The per-entry criterion on the P = 4 phase task against MALA (module docstring)."""
    import jax.numpy as jnp
    from fltheory.experiments.phase import make_task_fn
    from fltheory.models import RecurrentNet
    from fltheory.sampling import sample_posterior
    from fltheory.sampling.posterior import default_burn_in, default_step_size

    fn = make_task_fn(); task = fn(s)
    sol = follow_branch(fn, np.linspace(0.25, s, 6), arch=arch, kappa=K)[-1]
    P, T, n = task.P, task.T, task.P + task.P_test
    tr = [t * n + mu for t in range(T) for mu in range(P)]
    iu, ju = np.triu_indices(T * P)
    if arch == "dnn":                      # the DNN's cross-time entries are 0 at every N
        keep = (iu // P) == (ju // P); iu, ju = iu[keep], ju[keep]
    fw0 = sol.finite_width(Ns[0])
    store = {}
    for N in Ns:
        t0 = time.time()
        fw = fw0.at(N)
        net = RecurrentNet(N=N, D=task.D, T=T, phi="linear", tied=arch == "rnn")
        eta = default_step_size(net, task, K)
        burn = default_burn_in(net, eta, relaxation_times=burn_rt)
        thin = max(1, default_burn_in(net, eta, relaxation_times=sample_rt) // 200)
        sim = sample_posterior(net, task, kappa=K, n_samples=200, thin=thin, burn_in=burn, n_chains=16,
                               step_size=eta, seed=0, progress=False, sampler="mala", dtype=jnp.float64)
        Cch = sim.C_chains[:, tr][:, :, tr]
        m = Cch.mean(0)[iu, ju]; se = (Cch.std(0, ddof=1) / np.sqrt(Cch.shape[0]))[iu, ju]
        c0 = np.asarray(sol.C)[iu, ju]; c1 = np.asarray(fw.C)[iu, ju]
        est = np.asarray(fw.C_error_estimate)[iu, ju]; ok = np.asarray(fw.C_entry_reliable)[iu, ju]
        z0 = (m - c0) / se; z1 = (m - c1) / se
        worse = np.abs(m - c1) - np.abs(m - c0) > 2 * se          # the correction hurts, resolved
        better = np.abs(m - c0) - np.abs(m - c1) > 2 * se         # the correction helps, resolved
        off = np.abs(z1) > 3                                       # corrected theory off by > 3 s.e.
        zq = (m - c1) / np.hypot(se, est)
        hm, hs = sim.q_drift()
        print(f"{arch} s={s} N={N}: {len(m)} entries, {sim.n_steps} steps, acc {sim.acceptance:.2f}, "
              f"hops {int(np.sum(sim.mode_hops_chains))}, q drift {hm:.3f}+-{hs:.3f}, Gi {fw.ginzburg:.2f}, "
              f"{time.time() - t0:.0f}s", flush=True)
        print(f"  chi2 saddle {np.sum(z0**2):.0f}  corrected {np.sum(z1**2):.0f}  "
              f"corrected unflagged {np.sum(z1[ok]**2):.0f}/{int(ok.sum())}  "
              f"corrected with estimate in quadrature {np.sum(zq**2):.0f}/{len(m)}", flush=True)
        print(f"  flagged {int((~ok).sum())}; worse by > 2 s.e. {int(worse.sum())}, of which flagged "
              f"{int((worse & ~ok).sum())}; better by > 2 s.e. {int(better.sum())}, of which flagged "
              f"{int((better & ~ok).sum())}; |z corrected| > 3: {int(off.sum())}, of which flagged "
              f"{int((off & ~ok).sum())}", flush=True)
        for k in range(len(m)):
            t1, m1, t2, m2 = iu[k] // P + 1, iu[k] % P + 1, ju[k] // P + 1, ju[k] % P + 1
            print(f"  C[t{t1}p{m1},t{t2}p{m2}] mala {m[k]: .4f}+-{se[k]:.4f} saddle {c0[k]: .4f} "
                  f"corr {c1[k]: .4f} z0 {z0[k]: 5.1f} z1 {z1[k]: 5.1f} est {est[k]:.1e} ok {int(ok[k])}"
                  f"{' WORSE' if worse[k] else ''}{' better' if better[k] else ''}", flush=True)
        store.update({f"{k}_{N}": v for k, v in dict(mean=m, se=se, saddle=c0, corrected=c1, estimate=est,
                                                     reliable=ok, iu=iu, ju=ju, chains=Cch).items()})
        store[f"meta_{N}"] = np.array([sim.n_steps, sim.acceptance, hm, hs, fw.ginzburg, eta])
        np.savez(out, **store)


if len(sys.argv) > 1 and sys.argv[1] == "--phase":
    a = sys.argv[2:]
    phase(a[0], float(a[1]), [int(x) for x in a[2].split(",")],
          *(float(x) for x in a[3:5]), *(a[5:6]))
    sys.exit(0)
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

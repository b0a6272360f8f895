"""Does the erf overlap-theory error shrink with N? (issue #16) Seeds × widths, a table and two fits.

    python benchmarks/lowrank_erf_scaling.py                            # N = 600 2400 9600, seeds 0-4, 300 epochs
    python benchmarks/lowrank_erf_scaling.py --N 600 2400 --seeds 8     # other widths / more seeds
    python benchmarks/lowrank_erf_scaling.py --json erf.jsonl         # also save the per-seed rows (appended
                                                                        # as they come, so a long run can be resumed)
    python benchmarks/lowrank_erf_scaling.py --from-json erf.jsonl    # the table and fits only, no training

Task: erf perceptual decision making (`lowrank_task("decision")`, the `benchmarks/lowrank_ode.py --task decision`
setting: rank 1, η = 5e-2, readout "next", full-batch GD with vector step N·η). For each width N and seed s the full
network is trained from ``init_vectors(PRNGKey(s), N)`` and the theory — the exact overlap image of the same GD
(``overlap_dynamics(method="gd")``: no integrator error, so what remains is the Gaussian closure of §2) — is
iterated from the network's own initial overlaps Σ₀. Per run (L = loss per epoch, ΔL = L_net − L_theory):

- ``max|dL|``: max over epochs of |ΔL| (the number `lowrank_ode.py` prints);
- ``t_th``, ``t_net``: the escape time, the (linearly interpolated) epoch at which L first falls below
  ``--level`` (default 0.5; the loss starts at ≈ 1 and falls to ≈ 1e-3 in the escape from the initial saddle);
  ``dt_esc = t_net − t_th``;
- ``|dL|@t_th``: |ΔL| at the theory's escape time; ``|dL|@end``: |ΔL| at the last epoch;
- ``aligned``: max over epochs of |L_net(e + dt_esc) − L_theory(e)| (L_net interpolated), i.e. the error once the
  network's escape is shifted onto the theory's: what is left is the error in the *shape* of the loss curve;
- ``relv0``: ‖ΔΣ_net − ΔΣ_th‖ / ‖ΔΣ_th‖ of the first epoch's overlap step (Frobenius), the closure error of
  the initial velocity, and ``relv0_rec`` the same on the recurrent overlaps σ_vm, σ_vu alone, whose O(N^{-1/2})
  values seed the escape;
- at the end of training: ``ratio@end`` = L_net/L_theory, and (diagnostics) ``net/closure`` = L_net/L(Σ_net), the
  closure's loss at the network's *own* overlaps, ``gauss/closure`` = the same for fresh Gaussian vectors with
  exactly Σ_net (``vectors_with_gram``), and ``kurt_end``, each trained vector's excess kurtosis: a trained
  network far below L(Σ_net) while the Gaussian one matches it is the non-Gaussian closure error.

The table gives mean ± s.e. over seeds per N. For each observable the means are fitted, weighted by 1/s.e.²,
by ``a + b·N^{-1}`` and by ``a + b·N^{-1/2}`` (a, b ± s.e., χ² with n_N − 2 dof), and by the one-parameter
``b·N^{-p}`` (no floor) and ``a`` (floor only), whose χ² (n_N − 1 dof) say which description the data allow.
CPU time (``time.process_time``, one core with the thread settings below) is printed per run; run with
OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1, XLA_FLAGS="--xla_cpu_multi_thread_eigen=false
intra_op_parallelism_threads=1". Results and their reading: docs/theory/lowrank.md §4b.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

OBSERVABLES = ("max|dL|", "|dL|@t_th", "|dL|@end", "aligned", "dt_esc", "relv0", "relv0_rec")
FIT_OBSERVABLES = ("max|dL|", "|dL|@t_th", "|dL|@end", "ratio@end", "aligned", "|dt_esc|", "relv0", "relv0_rec")


def crossing(loss: np.ndarray, level: float) -> float:
    """First epoch (linear interpolation between epochs) at which ``loss`` falls below ``level``; NaN if never."""
    below = np.nonzero(loss < level)[0]
    if below.size == 0 or below[0] == 0:
        return float("nan")
    k = int(below[0])
    l0, l1 = loss[k - 1], loss[k]
    return float(k - 1 + (l0 - level) / (l0 - l1))


def aligned_error(L_net: np.ndarray, L_th: np.ndarray, shift: float) -> float:
    """max_e |L_net(e + shift) − L_th(e)| over the epochs e with e + shift inside the run (L_net interpolated)."""
    e = np.arange(L_th.size, dtype=float)
    ok = (e + shift >= 0) & (e + shift <= L_net.size - 1)
    return float(np.max(np.abs(np.interp(e[ok] + shift, np.arange(L_net.size), L_net) - L_th[ok])))


def observables(L_net, L_th, S_net, S_th, level: float, rec_idx) -> dict:
    """The per-run observables of the module docstring from the two loss curves and overlap trajectories."""
    L_net, L_th = np.asarray(L_net), np.asarray(L_th)
    d = L_net - L_th
    t_th, t_net = crossing(L_th, level), crossing(L_net, level)
    shift = t_net - t_th
    at_th = float(abs(np.interp(t_th, np.arange(L_net.size), L_net) - level)) if math.isfinite(t_th) else float("nan")
    v_net, v_th = S_net[1] - S_net[0], S_th[1] - S_th[0]
    i, j = rec_idx
    return {"max|dL|": float(np.abs(d).max()), "t_th": t_th, "t_net": t_net, "dt_esc": shift,
            "|dL|@t_th": at_th, "|dL|@end": float(abs(d[-1])),
            "aligned": aligned_error(L_net, L_th, shift) if math.isfinite(shift) else float("nan"),
            "relv0": float(np.linalg.norm(v_net - v_th) / np.linalg.norm(v_th)),
            "relv0_rec": float(np.linalg.norm(v_net[i, j] - v_th[i, j]) / np.linalg.norm(v_th[i, j])),
            "L_end_net": float(L_net[-1]), "L_end_th": float(L_th[-1]), "L0": float(L_net[0])}


def run_one(N: int, seed: int, epochs: int, eta: float, level: float, diagnose: bool = True) -> dict:
    """Train the width-N network (seed) and iterate the overlap GD map from its Σ₀; the observables + CPU times.

    ``diagnose``: also ``L_end_closure`` (the closure's loss L(Σ) at the trained network's Σ), ``L_end_gauss``
    (the loss of fresh Gaussian vectors with exactly that Σ) and ``kurt_end`` (excess kurtosis of each trained
    vector's entries)."""
    import jax

    import fltheory  # noqa: F401  (float64)
    from fltheory.lowrank import (Layout, get_lowrank_activation, init_vectors, make_overlap_loss, network_loss,
                                  overlap_dynamics, train_network, vectors_with_gram)
    from fltheory.lowrank.compare import lowrank_task

    layout = Layout(1)
    task = lowrank_task("decision")
    act = get_lowrank_activation("erf")
    v0 = init_vectors(jax.random.PRNGKey(seed), N, layout)
    c0 = time.process_time()
    net = train_network(v0, task, act, epochs, "gd", eta=eta, chunk=epochs)
    c1 = time.process_time()
    th = overlap_dynamics(np.asarray(v0.gram()), task, 1, act, eta, epochs, method="gd")
    c2 = time.process_time()
    names = layout.names  # [m, u, v, z]
    iv, im, iu = names.index("v"), names.index("m"), names.index("u")
    rec = (np.array([iv, iv]), np.array([im, iu]))
    out = observables(net["loss"], th.loss, net["gram"], th.gram, level, rec)
    out.update({"N": N, "seed": seed, "epochs": epochs, "eta": eta, "level": level,
                "cpu_net": c1 - c0, "cpu_theory": c2 - c1})
    if diagnose:
        # where the end-of-training gap comes from: the closure L(Σ) and fresh Gaussian vectors with exactly the
        # trained network's Σ, against the trained network's own loss, and the entries' excess kurtosis
        S_end = np.asarray(net["gram"][-1])
        out["L_end_closure"] = float(make_overlap_loss(task, layout, act)(S_end))
        fresh = vectors_with_gram(jax.random.PRNGKey(10_000 + seed), N, S_end, layout)
        out["L_end_gauss"] = float(network_loss(fresh, task, act))
        X = np.asarray(net["vectors"].stacked())
        kurt = ((X - X.mean(0)) ** 4).mean(0) / X.var(0) ** 2 - 3.0
        out["kurt_end"] = dict(zip(names, map(float, kurt)))
    return out


def with_derived(r: dict) -> dict:
    """Adds ``ratio@end`` = L_net/L_theory at the last epoch (and, with the diagnostics, ``gauss/closure`` =
    L_end_gauss/L_end_closure and ``net/closure`` = L_end_net/L_end_closure)."""
    r = dict(r)
    r["ratio@end"] = r["L_end_net"] / r["L_end_th"]
    if "L_end_closure" in r:
        r["gauss/closure"] = r["L_end_gauss"] / r["L_end_closure"]
        r["net/closure"] = r["L_end_net"] / r["L_end_closure"]
    return r


def summarize(rows: list[dict]) -> dict:
    """{N: {observable: (mean, s.e., n)}} over seeds (s.e. = sd/√n, sd with ddof = 1); |dt_esc| also included."""
    out = {}
    rows = [with_derived(r) for r in rows]
    for N in sorted({r["N"] for r in rows}):
        rs = [r for r in rows if r["N"] == N]
        stats = {}
        for k in (*OBSERVABLES, "t_th", "t_net", "cpu_net", "ratio@end", "gauss/closure", "net/closure"):
            x = np.array([r.get(k, np.nan) for r in rs], dtype=float)
            x = x[np.isfinite(x)]
            stats[k] = (float(x.mean()) if x.size else float("nan"),
                        float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else float("nan"), int(x.size))
        x = np.abs(np.array([r["dt_esc"] for r in rs], dtype=float))
        x = x[np.isfinite(x)]
        stats["|dt_esc|"] = (float(x.mean()), float(x.std(ddof=1) / math.sqrt(x.size)), int(x.size))
        sd = np.array([r["dt_esc"] for r in rs], dtype=float)
        stats["sd(dt_esc)"] = (float(np.nanstd(sd, ddof=1)), float("nan"), int(np.isfinite(sd).sum()))
        for k in ("max|dL|", "aligned"):
            stats[f"median {k}"] = (float(np.nanmedian([r[k] for r in rs])), float("nan"), len(rs))
        out[N] = stats
    return out


def wls(x: np.ndarray, y: np.ndarray, s: np.ndarray, columns: list) -> dict:
    """Weighted least squares y ≈ Σ_c p_c·column_c(x) with weights 1/s²: parameters, their s.e., χ², dof."""
    A = np.stack([c(x) for c in columns], axis=1) / s[:, None]
    b = y / s
    p, *_ = np.linalg.lstsq(A, b, rcond=None)
    cov = np.linalg.inv(A.T @ A)
    chi2 = float(np.sum((A @ p - b) ** 2))
    return {"p": p.tolist(), "se": np.sqrt(np.diag(cov)).tolist(), "chi2": chi2, "dof": int(len(y) - len(columns))}


def fits(summary: dict, key: str) -> dict:
    """The four fits of the docstring for one observable (needs ≥ 2 widths; the two-parameter ones ≥ 3 for a χ²)."""
    Ns = np.array(sorted(summary), dtype=float)
    y = np.array([summary[int(N)][key][0] for N in Ns])
    s = np.array([summary[int(N)][key][1] for N in Ns])
    one = lambda x: np.ones_like(x)  # noqa: E731
    out = {}
    for p in (1.0, 0.5):
        xp = lambda x, p=p: x ** (-p)  # noqa: E731
        if Ns.size >= 2:
            out[f"a + b N^-{p:g}"] = wls(Ns, y, s, [one, xp])
        out[f"b N^-{p:g}"] = wls(Ns, y, s, [xp])
    out["a"] = wls(Ns, y, s, [one])
    return out


def chi2_p(chi2: float, dof: int) -> float:
    """Upper tail P(χ²_dof > chi2) (dof ≥ 1), by the regularised gamma function (jax.scipy, no SciPy needed)."""
    if dof < 1:
        return float("nan")
    from jax.scipy.special import gammaincc

    return float(gammaincc(dof / 2.0, chi2 / 2.0))


def report(rows: list[dict]) -> str:
    summ = summarize(rows)
    lines = []
    head = (["N", "seeds", "t_th", "t_net", "sd(dt_esc)"] + list(OBSERVABLES)
            + ["median max|dL|", "median aligned", "cpu_net s"])
    lines.append(" | ".join(head))
    for N, st in summ.items():
        cells = [str(N), str(st["max|dL|"][2]), f"{st['t_th'][0]:.1f}±{st['t_th'][1]:.1f}",
                 f"{st['t_net'][0]:.1f}±{st['t_net'][1]:.1f}", f"{st['sd(dt_esc)'][0]:.2f}"]
        cells += [f"{st[k][0]:.4f}±{st[k][1]:.4f}" for k in OBSERVABLES]
        cells += [f"{st['median max|dL|'][0]:.4f}", f"{st['median aligned'][0]:.4f}", f"{st['cpu_net'][0]:.1f}"]
        lines.append(" | ".join(cells))
    lines.append("end of training: N | L_net/L_theory | L_net/L(Sigma_net) | L_gauss(Sigma_net)/L(Sigma_net) "
                 "(mean ± s.e. over seeds; the last two only for rows with the diagnostics)")
    for N, st in summ.items():
        lines.append(f"  {N} | " + " | ".join(f"{st[k][0]:.3f}±{st[k][1]:.3f} (n={st[k][2]})"
                                              for k in ("ratio@end", "net/closure", "gauss/closure")))
    if len(summ) >= 2:
        lines.append("fits of the means (weights 1/s.e.^2): a ± s.e., b ± s.e., chi2/dof (p)")
        for key in FIT_OBSERVABLES:
            for name, f in fits(summ, key).items():
                par = ", ".join(f"{'ab'[i] if name.startswith('a +') else ('a' if name == 'a' else 'b')}"
                                f" = {v:.4g} ± {e:.2g}" for i, (v, e) in enumerate(zip(f["p"], f["se"])))
                lines.append(f"  {key:10s} {name:12s} {par:40s} chi2 = {f['chi2']:.2f}/{f['dof']}"
                             f" (p = {chi2_p(f['chi2'], f['dof']):.3g})")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", type=int, nargs="+", default=[600, 2400, 9600])
    ap.add_argument("--seeds", type=int, default=5, help="seeds 0 .. seeds-1 at every N")
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--eta", type=float, default=5e-2)
    ap.add_argument("--level", type=float, default=0.5, help="loss level that defines the escape time")
    ap.add_argument("--json", type=Path, default=None, help="append each run's row here (JSON lines); runs already "
                                                            "there (same N, seed, epochs, eta, level) are not redone")
    ap.add_argument("--from-json", type=Path, default=None, help="only print the table and fits of these rows")
    args = ap.parse_args()
    if args.from_json is not None:
        rows = [json.loads(s) for s in args.from_json.read_text().splitlines() if s.strip()]
        print(report(rows))
        return 0
    rows = []
    if args.json is not None and args.json.exists():
        rows = [json.loads(s) for s in args.json.read_text().splitlines() if s.strip()]
        rows = [r for r in rows if r["epochs"] == args.epochs and r["eta"] == args.eta and r["level"] == args.level]
    for N in args.N:
        for seed in range(args.seeds):
            if any(r["N"] == N and r["seed"] == seed for r in rows):
                continue
            r = run_one(N, seed, args.epochs, args.eta, args.level)
            rows.append(r)
            if args.json is not None:
                with args.json.open("a") as fh:
                    fh.write(json.dumps(r) + "\n")
            print(f"N = {N:5d} seed {seed}: max|dL| = {r['max|dL|']:.4f}, t_th = {r['t_th']:.1f}, "
                  f"t_net = {r['t_net']:.1f}, aligned = {r['aligned']:.4f}, |dL|@end = {r['|dL|@end']:.2e}, "
                  f"relv0 = {r['relv0']:.3f} (rec {r['relv0_rec']:.3f}); CPU network {r['cpu_net']:.1f} s, "
                  f"theory {r['cpu_theory']:.1f} s", flush=True)
    rows = [r for r in rows if r["N"] in args.N and r["seed"] < args.seeds]
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

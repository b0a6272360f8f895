"""Figures of the depth experiments (matplotlib, Agg backend): issue #7 and issue #15 (gap scaling, Fig. 2)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_kernel(ds, path: Path) -> Path:
    """Left: error vs L (Euler discretisation, and seed-mean empirical vs ODE with MC band).
    Right: mean-squared error of a single network's kernel vs N (slope −1 guide)."""
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    L = ds.L.values
    ax[0].loglog(L, ds.disc_err, "o-", label="recursion (N=∞) vs ODE")
    ax[0].errorbar(L, ds.total_err, yerr=ds.mc_err, fmt="s", label=f"mean of {ds.n_seeds} nets (N={ds.N_for_L}) vs ODE")
    ax[0].loglog(L, ds.mc_err, "k:", label="Monte Carlo s.e.")
    ax[0].loglog(L, float(ds.disc_err[0]) * L[0] / L, "k--", lw=0.8, label="∝ 1/L")
    ax[0].set(xlabel="depth L", ylabel="relative error of Σ at t=1", title=f"{ds.phi}, a={ds.a}")
    ax[0].legend(fontsize=7)
    N = ds.N.values
    ax[1].errorbar(N, ds.mse_N, yerr=ds.mse_N_se, fmt="o-", label=f"L={ds.L_for_N}")
    ax[1].loglog(N, float(ds.mse_N[0]) * N[0] / N, "k--", lw=0.8, label="∝ 1/N")
    ax[1].set(xscale="log", yscale="log", xlabel="width N", ylabel="E‖Σ_emp − Σ_rec‖² / ‖Σ_rec‖²",
              title=f"slope {ds.slope_mse_vs_N:.2f}")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_gap(ds, path: Path, step: int | None = None) -> Path:
    """Top: train loss curves (reused solid, decoupled dashed) per architecture and L.
    Bottom: gap loss(decoupled) − loss(reused) at ``step`` vs L (points: simulation ± s.e.;
    line: infinite-width first-order theory)."""
    step = int(ds.step.values[-1]) if step is None else step
    archs = list(ds.arch.values)
    fig, ax = plt.subplots(2, len(archs), figsize=(4 * len(archs), 7), squeeze=False)
    cmap = plt.get_cmap("viridis")
    for i, arch in enumerate(archs):
        for j, L in enumerate(ds.L.values):
            col = cmap(j / max(1, len(ds.L) - 1))
            for mode, ls in (("reused", "-"), ("decoupled", "--")):
                y = ds.train_loss.sel(arch=arch, L=L, mode=mode).mean("seed")
                ax[0, i].plot(ds.step, y, ls, color=col, label=f"L={L}" if mode == "reused" else None)
        ax[0, i].set(title=f"{arch}: solid reused Wᵀ, dashed decoupled W̃ᵀ", xlabel="GD step", ylabel="train loss")
        ax[0, i].legend(fontsize=7)
        for split, mk in (("train", "o"), ("test", "s")):
            g = ds[f"{split}_gap"].sel(arch=arch, step=step)
            se = ds[f"{split}_gap_se"].sel(arch=arch, step=step)
            ax[1, i].errorbar(ds.L, g, yerr=se, fmt=mk, label=f"{split} (sim, N={ds.N})")
            th = ds[f"theory_{split}_gap"].sel(arch=arch, step=step)
            # the frozen-kernel theory diverges when η₀·λ_max(K)/P > 2 (deep DNN / muP ResNet): hide it
            ok = abs(ds[f"theory_{split}_loss"].sel(arch=arch, step=step)).max("mode") < 10.0
            th = th.where(ok)
            ax[1, i].plot(ds.L, th, "-" if split == "train" else ":", color="k", lw=0.8,
                          label=f"{split} (N=∞ linearised)")
        ax[1, i].axhline(0, color="grey", lw=0.5)
        ax[1, i].set(xscale="log", xlabel="depth L", ylabel=f"loss gap at step {step}")
        ax[1, i].set_xticks(ds.L.values, [str(v) for v in ds.L.values])
        ax[1, i].minorticks_off()
        ax[1, i].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


_COV_LABELS = {"min_eig": "min eigenvalue, feature–gradient covariance",
               "min_eig_normalised": "min eigenvalue, feature–gradient correlation"}


def plot_covariance(ds, path: Path) -> Path:
    """Smallest eigenvalue of the feature–gradient correlation matrix vs GD step (mean ± spread)."""
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for k, var in enumerate(("min_eig", "min_eig_normalised")):
        for mode, ls in (("reused", "-"), ("decoupled", "--")):
            for t in ds.t.values:
                y = ds[var].sel(mode=mode, t=t)
                m, lo, hi = y.mean("seed"), y.min("seed"), y.max("seed")
                line, = ax[k].plot(ds.step, m, ls, label=f"{mode} backward, depth t={t:.2f}")
                ax[k].fill_between(ds.step, lo, hi, color=line.get_color(), alpha=0.15)
        ax[k].set(xlabel="GD step", ylabel=_COV_LABELS[var], yscale="log",
                  title=f"{ds.arch}, N={ds.N}, L={ds.L}")
        ax[k].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


_MODE_COLOURS = {"reused": "C0", "decoupled": "C3"}


def plot_fig2(ds, path: Path) -> Path:
    """The Fig. 2 analogue: one row per architecture, one column per depth L: train (solid) and test
    (dashed) loss against GD step, reused (blue) vs decoupled (red) backward weights, seed mean ±
    s.e. bands. Last column: the test-loss gap (decoupled − reused) at the last step against L."""
    archs, Ls = list(ds.arch.values), list(ds.L.values)
    fig, ax = plt.subplots(len(archs), len(Ls) + 1, figsize=(3.2 * (len(Ls) + 1), 2.8 * len(archs)),
                           squeeze=False, sharex="col")
    step = ds.step.values
    for i, arch in enumerate(archs):
        for j, L in enumerate(Ls):
            a_ = ax[i, j]
            for mode, col in _MODE_COLOURS.items():
                for split, ls in (("train", "-"), ("test", "--")):
                    m = ds[f"{split}_loss_mean"].sel(arch=arch, L=L, mode=mode).values
                    se = ds[f"{split}_loss_se"].sel(arch=arch, L=L, mode=mode).values
                    a_.plot(step, m, ls, color=col, lw=1.2, label=f"{split}, {mode}")
                    a_.fill_between(step, m - se, m + se, color=col, alpha=0.2, lw=0)
            a_.set(title=f"{arch}, L={L}", ylabel="loss" if j == 0 else None,
                   xlabel="GD step" if i == len(archs) - 1 else None)
            if i == 0 and j == 0:
                a_.legend(fontsize=6)
        g = ax[i, -1]
        for split, mk in (("train", "o"), ("test", "s")):
            gap = ds[f"{split}_gap"].sel(arch=arch).isel(step=-1)
            se = ds[f"{split}_gap_se"].sel(arch=arch).isel(step=-1)
            g.errorbar(Ls, gap, yerr=se, fmt=mk + "-", ms=4, capsize=2, label=split)
        g.axhline(0, color="grey", lw=0.5)
        g.set(xscale="log", title=f"{arch}: gap at step {int(step[-1])}", ylabel="loss(dec) − loss(reu)",
              xlabel="depth L" if i == len(archs) - 1 else None)
        g.set_xticks(Ls, [str(v) for v in Ls])
        g.minorticks_off()
        g.legend(fontsize=6)
    fig.suptitle(f"digits, N={ds.N}, η₀={ds.lr}, {ds.phi}, {ds.sizes['seed']} seeds (mean ± s.e.)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_gap_scaling(ds, path: Path, step: int | None = None) -> Path:
    """Part 3 of issue #15. Top row: train-loss gap (left) and feature gap (right) at ``step``
    against N, one line per (arch, L_for_N), seed mean ± s.e. Bottom row: the same against L at
    width N_for_L; and the train-loss gap against GD step at the largest N (log-log)."""
    step = int(ds.step.values[-1]) if step is None else int(step)
    fig, ax = plt.subplots(2, 3, figsize=(14, 8))
    n = ds.sizes["seed"] ** 0.5
    mk = dict(zip(ds.arch.values, "osD"))
    for k, (var, lab) in enumerate((("gapN_train", "train-loss gap"), ("fgapN", "feature gap"))):
        for arch in ds.arch.values:
            for Lf in ds.L_for_N.values:
                x = ds[var].sel(arch=arch, L_for_N=Lf, step=step)
                ax[0, k].errorbar(ds.N, x.mean("seed"), yerr=x.std("seed", ddof=1) / n, fmt=mk[arch] + "-",
                                  capsize=2, label=f"{arch}, L={Lf}")
        ax[0, k].set(xscale="log", yscale="symlog" if k == 0 else "log", xlabel="width N",
                     ylabel=f"{lab} at step {step}")
        ax[0, k].set_xticks(ds.N.values, [str(v) for v in ds.N.values])
        ax[0, k].minorticks_off()
        ax[0, k].legend(fontsize=6)
    for k, (var, lab) in enumerate((("gapL_train", "train-loss gap"), ("fgapL", "feature gap"))):
        for arch in ds.arch.values:
            x = ds[var].sel(arch=arch, step=step)
            ax[1, k].errorbar(ds.L, x.mean("seed"), yerr=x.std("seed", ddof=1) / n, fmt=mk[arch] + "-",
                              capsize=2, label=arch)
        ax[1, k].set(xscale="log", yscale="symlog" if k == 0 else "log", xlabel=f"depth L (N={ds.N_for_L})",
                     ylabel=f"{lab} at step {step}")
        ax[1, k].set_xticks(ds.L.values, [str(v) for v in ds.L.values])
        ax[1, k].minorticks_off()
        ax[1, k].legend(fontsize=6)
    s = ds.step.values[1:]
    for r, (var, lab) in enumerate((("gapN_train", "train-loss gap"), ("fgapN", "feature gap"))):
        for arch in ds.arch.values:
            for Lf in ds.L_for_N.values:
                m = ds[var].sel(arch=arch, L_for_N=Lf).isel(N=-1).mean("seed").values[1:]
                ax[r, 2].plot(s, np.where(m > 0, m, np.nan), label=f"{arch}, L={Lf}")
        ax[r, 2].set(xscale="log", yscale="log", xlabel="GD step", ylabel=f"{lab} (N={int(ds.N[-1])})")
        ax[r, 2].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


_NFD_OBS = (("", "predictor Δf(k)"), ("_loss", "train-loss trajectory"), ("_kernel", "final-layer kernel Φ"))


def plot_nfd_convergence(ds, path: Path) -> Path:
    """Issue #15 part 2: finite depth-muP ResNet → NFD. Left: relative squared error against the NFD
    scheme of the same depth vs width N (seed mean ± s.e.) for the predictor, the loss trajectory and
    the final-layer kernel, with a ∝ 1/N guide. Right: the infinite-width depth-L schemes against the
    extrapolated NFD vs L (squared error, so a 1/L deviation is a ∝ 1/L² line), and the finite network
    at width N_for_L (predictor), which sits on its width floor."""
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    N, L = ds.N.values, ds.L.values
    for (suf, lab), mk in zip(_NFD_OBS, "osD"):
        y = ds[f"err_N{suf}"].values
        ax[0].errorbar(N, y, yerr=ds[f"err_N{suf}_se"].values, fmt=mk + "-", capsize=2,
                       label=f"{lab}: slope {ds.attrs[f'slope_N{suf}']:.2f} ± {ds.attrs[f'slope_N{suf}_se']:.2f}")
    y0 = float(ds.err_N.values[0])
    ax[0].plot(N, y0 * N[0] / N, "k--", lw=0.8, label="∝ 1/N")
    ax[0].set(xscale="log", yscale="log", xlabel=f"width N (L = {ds.L_for_N})",
              ylabel="relative squared error vs NFD (same L)", title=f"{ds.n_seeds} seeds, {ds.steps} GD steps")
    ax[0].set_xticks(N, [str(v) for v in N])
    ax[0].minorticks_off()
    ax[0].legend(fontsize=7)
    for (suf, lab), mk in zip(_NFD_OBS, "osD"):
        y = ds[f"err_L{suf}"].values
        se = ds[f"err_L{suf}_se"].values if f"err_L{suf}_se" in ds else None
        sl, sle = ds.attrs[f"slope_L{suf}"], ds.attrs[f"slope_L{suf}_se"]
        ax[1].errorbar(L, y, yerr=se, fmt=mk + "-", capsize=2,
                       label=f"N=∞ scheme, {lab}: deviation slope {sl:.2f} ± {sle:.2f}")
    ax[1].errorbar(L, ds.err_net_L.values, yerr=ds.err_net_L_se.values, fmt="x:", color="grey", capsize=2,
                   label=f"network N={ds.N_for_L}, predictor ({ds.n_seeds}-seed mean)")
    y0 = float(ds.err_L.values[0])
    ax[1].plot(L, y0 * (L[0] / L) ** 2, "k--", lw=0.8, label="∝ 1/L² (deviation ∝ 1/L)")
    ax[1].set(xscale="log", yscale="log", xlabel="depth L", ylabel="relative squared error vs NFD (L → ∞)",
              title=f"NFD: M={ds.n_particles} × {ds.replicas} replicas, reference L={ds.L_nfd} (Richardson)")
    ax[1].set_xticks(L, [str(v) for v in L])
    ax[1].minorticks_off()
    ax[1].legend(fontsize=6)
    fig.suptitle(f"finite depth-muP ResNet → NFD ({ds.phi}, η₀={ds.lr}, P={ds.P}+{ds.P_test} test)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)

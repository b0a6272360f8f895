"""Figures of the three depth experiments (matplotlib, Agg backend)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


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

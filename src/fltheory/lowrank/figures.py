"""Figures for :func:`fltheory.lowrank.compare` (simulation solid, theory dashed)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot_compare(ds: xr.Dataset, path: Path) -> Path:
    """Six panels: loss; visible overlaps; invisible overlaps; final output; conserved quantity;
    |theory − simulation| per epoch. Writes a PNG at ``path``."""
    ep = ds["epoch"].values
    x = np.maximum(ep, 1)
    fig, axes = plt.subplots(2, 3, figsize=(16, 9))
    ax = axes[0, 0]
    ax.plot(x, ds["loss_net"], "k-", lw=2, label="full network (GD)")
    ax.plot(x, ds["loss_theory"], "r--", lw=1.5, label=f"overlap ODE ({ds.attrs['method']})")
    if "loss_naive" in ds:
        ax.plot(x, ds["loss_naive"], "b:", lw=1.5, label="naive visible-only descent")
    if "loss_adam" in ds:
        ax.plot(x, ds["loss_adam"], "g-", alpha=0.5, label="full network (Adam)")
    ax.set(xscale="log", yscale="log", xlabel="epoch", ylabel="loss", title="(a) loss")
    ax.legend(fontsize=8)
    vis = ds["visible"].values
    labels = ds["overlap"].values
    for k, (mask, title) in enumerate([(vis, "(b) loss-visible overlaps"), (~vis, "(c) loss-invisible overlaps")]):
        ax = axes[0, 1 + k]
        for j in np.flatnonzero(mask):
            line, = ax.plot(x, ds["sigma_net"][:, j], "-", lw=1.5, label=f"σ[{labels[j]}]")
            ax.plot(x, ds["sigma_theory"][:, j], "--", color=line.get_color(), lw=1.5)
            if "sigma_naive" in ds and mask is vis:
                ax.plot(x, ds["sigma_naive"][:, j], ":", color=line.get_color(), lw=1)
        ax.set(xscale="log", xlabel="epoch", ylabel="overlap", title=title + " (solid: sim, dashed: ODE)")
        ax.legend(fontsize=7, ncol=2)
    ax = axes[1, 0]
    t = ds["time"].values
    ax.plot(t, ds["target"][0], "k-", lw=3, alpha=0.3, label="target")
    ax.plot(t, ds["y_net"][0], "k-", lw=1.5, label="full network")
    ax.plot(t, ds["y_theory"][0], "r--", lw=1.5, label="effective RNN (ODE end point)")
    if "y_naive" in ds:
        ax.plot(t, ds["y_naive"][0], "b:", lw=1.5, label="naive end point")
    ax.set(xlabel="t", ylabel="y (trial 0)", title="(d) final output")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    c0 = float(ds["conserved_net"][0])
    ax.plot(x, ds["conserved_net"] - c0, "k-", label="full network (GD)")
    ax.plot(x, ds["conserved_theory"] - c0, "r--", label="overlap ODE")
    if "conserved_adam" in ds:
        ax.plot(x, ds["conserved_adam"] - c0, "g-", label="full network (Adam)")
    ax.set(xscale="log", xlabel="epoch", ylabel="C(t) − C(0)",
           title="(e) C = σ_zz + σ_vv − σ_mm − σ_uu")
    ax.legend(fontsize=8)
    ax = axes[1, 2]
    d = np.abs(ds["sigma_theory"].values - ds["sigma_net"].values)
    ax.plot(x, d[:, vis].max(1), "r-", label="ODE, visible")
    if (~vis).any():
        ax.plot(x, d[:, ~vis].max(1), "r--", label="ODE, invisible")
    if "sigma_naive" in ds:
        dn = np.abs(ds["sigma_naive"].values - ds["sigma_net"].values)
        ax.plot(x, dn[:, vis].max(1), "b:", label="naive, visible")
    ax.set(xscale="log", yscale="log", xlabel="epoch", ylabel="max |σ_theory − σ_sim|", title="(f) error")
    ax.legend(fontsize=8)
    a = ds.attrs
    fig.suptitle(f"low-rank RNN, task {a['task']}, rank {a['rank']}, φ={a['phi']}, N={a['N']}, η={a['eta']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_memory(result: dict, path: Path) -> Path:
    """Decoding accuracies and the invisible overlaps of the two histories."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    names = ["visible", "invisible", "all"]
    ax.bar(names, [result[f"accuracy_{n}"] for n in names], color=["tab:blue", "tab:red", "gray"])
    ax.axhline(0.5, color="k", ls="--", lw=1)
    ax.set(ylim=(0, 1), ylabel="CV accuracy", title="decoding A-only vs A→B→A")
    ax = axes[1]
    X, y, vis, labels = result["X"], result["y"], result["visible"], result["labels"]
    cols = np.flatnonzero(~vis)
    for c, name in [(0, "A only"), (1, "A→B→A")]:
        ax.plot(np.arange(len(cols)) + 0.15 * c, X[y == c][:, cols].T, "o", ms=2,
                color="tab:blue" if c == 0 else "tab:red", alpha=0.4)
    ax.set_xticks(np.arange(len(cols)), [labels[j] for j in cols])
    ax.set(ylabel="final overlap", title="invisible overlaps (blue: A only, red: A→B→A)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)

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


def plot_twins(ds: xr.Dataset, path: Path) -> Path:
    """One row per task: (a) loss of both twins, (b) their separation in the visible overlaps and the
    loss, (c) the visible overlaps that separate most. Full networks solid, overlap ODE dashed."""
    tasks = ds["task"].values
    fig, axes = plt.subplots(len(tasks), 3, figsize=(16, 3.6 * len(tasks)), squeeze=False)
    x = ds["epoch"].values + 1  # log axis: epoch 0 (the twins' equal start) at x = 1
    colors = {"a": "tab:blue", "b": "tab:red"}
    labels = ds["overlap"].values
    vis = ds["visible"].values.astype(bool)
    for row, name in zip(axes, tasks):
        d = ds.sel(task=name)
        ax = row[0]
        for tw in ("a", "b"):
            ax.plot(x, d["loss_net"].sel(twin=tw), "-", color=colors[tw], lw=1.8, label=f"twin {tw}, network")
            ax.plot(x, d["loss_theory"].sel(twin=tw), "--", color="k" if tw == "a" else "tab:orange", lw=1.2,
                    label=f"twin {tw}, overlap ODE")
        ax.set(xscale="log", yscale="log", xlabel="epoch + 1", ylabel="loss", title=f"{name}: loss of the twins")
        ax.legend(fontsize=7)
        ax = row[1]
        ax.plot(x, d["visible_gap_net"], "k-", lw=1.8, label="max |Δσ_visible|, network")
        ax.plot(x, d["visible_gap_theory"], "r--", lw=1.2, label="max |Δσ_visible|, overlap ODE")
        ax.plot(x, d["loss_gap_net"], "-", color="tab:green", lw=1.8, label="|ΔL|, network")
        ax.plot(x, d["loss_gap_theory"], ":", color="tab:olive", lw=1.5, label="|ΔL|, overlap ODE")
        ax.set(xscale="log", yscale="log", xlabel="epoch + 1", ylabel="twin a − twin b",
               title="separation (0 at epoch 0: equal visible overlaps)")
        ax.legend(fontsize=7)
        ax = row[2]
        sep = np.abs(d["sigma_net"].sel(twin="a").values - d["sigma_net"].sel(twin="b").values).max(0)
        for j in np.flatnonzero(vis)[np.argsort(-sep[vis])[:3]]:
            line, = ax.plot(x, d["sigma_net"].sel(twin="a")[:, j], "-", lw=1.5, label=f"σ[{labels[j]}]")
            ax.plot(x, d["sigma_net"].sel(twin="b")[:, j], "-.", color=line.get_color(), lw=1.5)
            for tw in ("a", "b"):
                ax.plot(x, d["sigma_theory"].sel(twin=tw)[:, j], "--", color="k", lw=0.8)
        ax.set(xscale="log", xlabel="epoch + 1", ylabel="visible overlap",
               title="visible overlaps (solid a, dash-dot b; black dashed: ODE)")
        ax.legend(fontsize=7)
    a = ds.attrs
    fig.suptitle(f"twins: equal visible, different invisible overlaps ({a['partner']}); rank {a['rank']}, "
                 f"φ={a['phi']}, N={a['N']}, η={a['eta']}, readout {a['readout']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_optimizers(ds: xr.Dataset, path: Path) -> Path:
    """(a) loss, (b) |C − C(0)| per epoch (GD closed form dashed), (c) GD's final drift against η."""
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    x = ds["epoch"].values + 1  # log axis: epoch 0 at x = 1
    names = [str(o) for o in ds["optimizer"].values]
    gd_colors = iter(plt.cm.viridis(np.linspace(0.15, 0.85, max(1, sum(n.startswith("gd") for n in names)))))
    for name in names:
        d = ds.sel(optimizer=name)
        color = "k" if name.startswith("flow") else ("tab:red" if name.startswith("adam") else next(gd_colors))
        line, = axes[0].plot(x, d["loss"], "-", color=color, lw=1.2, label=name)
        drift = np.abs(d["drift"].values)
        axes[1].plot(x[1:], np.maximum(drift[1:], 1e-17), "-", color=line.get_color(), lw=1.5, label=name)
        if np.isfinite(d["drift_closed_form"].values).all():
            axes[1].plot(x[1:], np.maximum(np.abs(d["drift_closed_form"].values[1:]), 1e-17), "--", color="k", lw=0.8)
    axes[0].set(xscale="log", yscale="log", xlabel="epoch + 1", ylabel="loss", title="(a) loss")
    axes[0].legend(fontsize=8)
    axes[1].set(xscale="log", yscale="log", xlabel="epoch + 1", ylabel="|C(epoch) − C(0)|",
                title="(b) drift of C = σ_zz + σ_vv − σ_mm − σ_uu (dashed: Σ 4η² tr(JGΣG))")
    axes[1].legend(fontsize=8)
    gd = [n for n in names if n.startswith("gd")]
    eta = ds["step_size"].sel(optimizer=gd).values
    final = np.abs(ds["drift"].sel(optimizer=gd).values).max(axis=1)
    closed = np.abs(ds["drift_closed_form"].sel(optimizer=gd).values).max(axis=1)
    axes[2].plot(eta, final, "o", ms=8, label="GD (overlap map = network)")
    axes[2].plot(eta, closed, "kx", ms=8, label="closed form")
    axes[2].plot(eta, closed[0] * (eta / eta[0]) ** 2, "k:", lw=1, label="∝ η²")
    axes[2].set(xscale="log", yscale="log", xlabel="η", ylabel="max |C − C(0)| over the run",
                title="(c) GD drift vs step size")
    axes[2].legend(fontsize=8)
    a = ds.attrs
    fig.suptitle(f"conservation law under flow, GD and Adam: task {a['task']}, linear, N={a['N']}, "
                 f"{a['epochs']} epochs, readout {a['readout']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_memory_map(ds: xr.Dataset, path: Path) -> Path:
    """Decoding accuracy (± s.e.) against the final phase's noise, one panel per feature set, one line per
    B-phase length; the grey band is chance ± 2 s.e."""
    feats = [str(f) for f in ds["features"].values]
    fig, axes = plt.subplots(1, len(feats), figsize=(5 * len(feats), 4), sharey=True, squeeze=False)
    noise = ds["noise"].values
    for ax, f in zip(axes[0], feats):
        for e in ds["b_epochs"].values:
            d = ds.sel(features=f, b_epochs=e)
            ax.errorbar(noise, d["accuracy"], yerr=d["accuracy_se"], marker="o", capsize=3,
                        label=f"B phase {e} epochs")
        c = 2 * ds.attrs["chance_se"]
        ax.axhspan(0.5 - c, 0.5 + c, color="0.85", zorder=0, label="chance ± 2 s.e.")
        ax.set(xlabel="target noise of the final A phase", title=f"{f} overlaps", ylim=(0.2, 1.02))
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel("CV accuracy, A only vs A→B→A")
    a = ds.attrs
    fig.suptitle(f"memory of the training history: {a['n_networks']} networks per history, N={a['N']}, "
                 f"η={a['eta']}, A phases {a['a_epochs']} epochs, final phase {a['final_epochs']}, "
                 f"readout {a['readout']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_memory_protocol(ds: xr.Dataset, path: Path) -> Path:
    """A :func:`.memory.memory_protocol_dataset`: (a) decoding accuracy per feature set with its
    Clopper–Pearson interval, (b) mean invisible overlaps of the two histories during training (phase
    boundaries dotted), (c) the drift of the conserved matrix K (Frobenius norm) per network."""
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.2))
    ax = axes[0]
    feats = [str(f) for f in ds["features"].values]
    acc = ds["accuracy"].values
    err = np.array([acc - ds["ci_low"].values, ds["ci_high"].values - acc])
    ax.bar(feats, acc, yerr=np.nan_to_num(err), capsize=4,
           color=["tab:blue", "tab:red", "tab:purple", "tab:green", "gray"][:len(feats)])
    ax.axhline(0.5, color="k", ls="--", lw=1)
    ax.set(ylim=(0, 1.05), ylabel=f"CV accuracy ({int(100 * ds.attrs['level'])} % CI)",
           title=f"(a) decoding {ds.attrs['histories']}")
    ax.tick_params(axis="x", labelsize=8)
    ax = axes[1]
    vis = ds["visible"].values.astype(bool)
    labels = ds["overlap"].values
    x = ds["epoch"].values
    colors = ["tab:blue", "tab:red"]
    for h in range(2):
        for c, j in enumerate(np.flatnonzero(~vis)):
            ax.plot(x, ds["mean_sigma"].values[h, :, j], color=colors[h], alpha=0.4 + 0.1 * c, lw=1,
                    label=f"{ds['schedule_name'].values[h]}" if c == 0 else None)
    for b in ds.attrs["boundaries_1"][1:-1]:
        ax.axvline(b, color="0.6", ls=":", lw=1)
    ax.set(xlabel="epoch", ylabel="mean invisible overlap", title="(b) invisible overlaps (" +
           ", ".join(str(labels[j]) for j in np.flatnonzero(~vis)) + ")")
    ax.legend(fontsize=8)
    ax = axes[2]
    kn = np.linalg.norm(ds["K_drift"].values, axis=(1, 2))
    y = ds["history"].values
    for h in range(2):
        ax.plot(np.flatnonzero(y == h), kn[y == h], "o", ms=3, color=colors[h], label=ds["schedule_name"].values[h])
    ax.set(xlabel="network", ylabel="‖K − J‖ (initial-vector coordinates)",
           title="(c) drift of the conserved K (discrete GD)")
    ax.legend(fontsize=8)
    a = ds.attrs
    fig.suptitle(f"memory protocol: {a['n_networks']} networks per history, N={a['N']}, η={a['eta']}, phases "
                 f"{a['phase_epochs']} epochs, final noisy phase {a['final_epochs']} (noise {a['noise']}), "
                 f"readout {a['readout']}" + (", balanced init" if a.get("balanced") else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_memory_grid(ds: xr.Dataset, path: Path) -> Path:
    """A :func:`.memory.memory_map` dataset: accuracy (Clopper–Pearson interval) against η, one panel per
    feature set, one line per (noise, phase length)."""
    feats = [str(f) for f in ds["features"].values]
    fig, axes = plt.subplots(1, len(feats), figsize=(4.2 * len(feats), 4), sharey=True, squeeze=False)
    eta = ds["eta"].values
    for ax, f in zip(axes[0], feats):
        for noise in ds["noise"].values:
            for e in ds["phase_epochs"].values:
                d = ds.sel(features=f, noise=noise, phase_epochs=e)
                acc = d["accuracy"].values
                if not np.isfinite(acc).any():
                    continue
                err = np.nan_to_num(np.array([acc - d["ci_low"].values, d["ci_high"].values - acc]))
                ax.errorbar(eta, acc, yerr=err, marker="o", capsize=3, label=f"noise {noise:g}, phases {e}")
        ax.axhline(0.5, color="k", ls="--", lw=1)
        ax.set(xscale="log", xlabel="learning rate η", ylim=(0.2, 1.02),
               title="K drift" if f == "K" else f"{f} overlaps")
        ax.set_xticks(eta, [f"{e:g}" for e in eta])
        ax.minorticks_off()
    axes[0, 0].set_ylabel("CV accuracy, A only vs A-B-A-B-A")
    axes[0, -1].legend(fontsize=7)
    a = ds.attrs
    fig.suptitle(f"regime map of memory: {a['n_networks']} networks per history, N={a['N']}, decay B "
                 f"{a['decay_b']}, final phase {a['final_factor']}× the phase length, readout {a['readout']}"
                 + (", balanced init" if a.get("balanced") else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)

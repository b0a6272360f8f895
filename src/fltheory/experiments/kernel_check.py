"""Finite-width posterior kernels of an RNN and a DNN against their infinite-width (NNGP) kernels.

The first half of ``fltheory demo``: Langevin-sample both networks on an endpoint task in the lazy
regime (κ ≫ signal²), measure C = φ(h)φ(h)ᵀ/N over all (t, s) blocks, and compare with the NNGP
recursion (conventions §4). Writes a netCDF dataset, a PNG and a markdown table.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from ..io import save_dataset
from ..kernels import nngp_kernels, nngp_predict
from ..kernels.layout import blocks
from ..models import RecurrentNet
from ..sampling import sample_posterior
from ..tasks import endpoint_task


def kernel_check(out_dir: Path, N: int = 256, phi: str = "erf", kappa: float = 10.0, T: int = 4,
                 P: int = 8, P_test: int = 8, D: int = 16, n_samples: int = 100, n_chains: int = 4,
                 seed: int = 0, progress: bool = True) -> tuple[xr.Dataset, list[Path]]:
    """Run the check; returns the dataset and the paths written under ``out_dir``."""
    task = endpoint_task(P=P, P_test=P_test, T=T, D=D, teacher="linear", seed=seed)
    X_all = np.concatenate([task.X, task.X_test])
    n = P + P_test
    data = {}
    rows = []
    for arch, tied in (("rnn", True), ("dnn", False)):
        theory = nngp_kernels(X_all, phi=phi, tied=tied).C
        net = RecurrentNet(N=N, D=D, T=T, phi=phi, tied=tied)
        sim = sample_posterior(net, task, kappa=kappa, n_samples=n_samples, thin=50, burn_in=1000,
                               n_chains=n_chains, seed=seed, progress=progress)
        gp = nngp_predict(task, phi=phi, kappa=kappa, tied=tied)
        data[f"C_theory_{arch}"] = (("row", "col"), theory)
        data[f"C_sim_{arch}"] = (("row", "col"), sim.C_mean)
        data[f"C_sem_{arch}"] = (("row", "col"), sim.C_sem)
        diff = sim.C_mean - theory
        rows.append(dict(arch=arch.upper(), rms=np.sqrt(np.mean(diff**2)), max=np.abs(diff).max(),
                         sem=np.median(sim.C_sem), err_sim=sim.test_error(task), err_gp=gp.error))
    ds = xr.Dataset(data, coords={"row": np.arange(T * n), "col": np.arange(T * n)},
                    attrs=dict(N=N, phi=phi, kappa=kappa, T=T, P=P, P_test=P_test, D=D,
                               layout="time-major (t*(P+P_test)+mu), train patterns first"))
    out_dir = Path(out_dir)
    paths = [save_dataset(ds, out_dir / "kernel_check.nc")]
    paths.append(_figure(ds, T, n, out_dir / "kernel_check.png"))
    table = out_dir / "kernel_check.md"
    lines = [f"Posterior kernels at N={N} vs NNGP ({phi}, endpoint task, κ={kappa}, P={P}, T={T})", "",
             "| arch | rms ΔC | max ΔC | median SEM | test err (Langevin) | test err (GP) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['arch']} | {r['rms']:.2e} | {r['max']:.2e} | {r['sem']:.1e} | {r['err_sim']:.4f} | "
              f"{r['err_gp']:.4f} |" for r in rows]
    table.write_text("\n".join(lines) + "\n")
    paths.append(table)
    return ds, paths


def _figure(ds, T, n, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5))
    for i, arch in enumerate(("rnn", "dnn")):
        th, sim = ds[f"C_theory_{arch}"].values, ds[f"C_sim_{arch}"].values
        vmax = np.abs(th).max()
        for j, (mat, title) in enumerate(((th, "NNGP C"), (sim, "Langevin C"))):
            ax = axes[i, j]
            ax.imshow(mat, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_title(f"{arch.upper()}: {title}")
            for k in range(1, T):
                ax.axhline(k * n - 0.5, color="k", lw=0.5)
                ax.axvline(k * n - 0.5, color="k", lw=0.5)
            ax.set_xticks([(k + 0.5) * n for k in range(T)], [f"t={k + 1}" for k in range(T)])
            ax.set_yticks([(k + 0.5) * n for k in range(T)], [f"t={k + 1}" for k in range(T)])
        ax = axes[i, 2]
        ax.errorbar(th.ravel(), sim.ravel(), yerr=ds[f"C_sem_{arch}"].values.ravel(), fmt=".", ms=2,
                    alpha=0.5)
        lim = [th.min(), th.max()]
        ax.plot(lim, lim, "k--", lw=1)
        ax.set_xlabel("NNGP C"), ax.set_ylabel("Langevin C")
        ax.set_title(f"{arch.upper()}: entries (all t, s blocks)")
    fig.suptitle(f"Posterior kernels at N={ds.attrs['N']} vs infinite width "
                 f"({ds.attrs['phi']}, κ={ds.attrs['kappa']}); blocks are time steps")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

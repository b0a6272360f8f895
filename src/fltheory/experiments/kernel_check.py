"""Finite-width posterior kernels of an RNN and a DNN against their infinite-width (NNGP) kernels.

The first half of ``fltheory demo``: Langevin-sample both networks on an endpoint task in the lazy
regime (κ ≫ signal²), measure C = φ(h)φ(h)ᵀ/N over all (t, s) blocks, and compare with the NNGP
recursion (conventions §4). Writes a netCDF dataset, a PNG and a markdown table.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .._validate import positive_int
from ..io import describe, ensure_dir, save_dataset
from ..kernels import nngp_kernels, nngp_predict
from ..kernels.layout import KERNEL_DIMS, kernel_dataarray, merge_time
from ..models import RecurrentNet
from ..priors import Priors, as_priors
from ..sampling import sample_posterior
from ..sampling.posterior import check_posterior_memory
from ..tasks import endpoint_task


#: The lazy-regime temperature of the check (κ ≫ signal², so the posterior kernel is the prior's).
DEFAULT_KAPPA = 10.0


def kernel_check(out_dir: Path, N: int = 256, phi: str = "erf", kappa: float | None = None, T: int = 4,
                 P: int = 8, P_test: int = 8, D: int = 16, n_samples: int = 100, n_chains: int = 4,
                 seed: int = 0, progress: bool = True, *, priors: Priors | None = None
                 ) -> tuple[xr.Dataset, list[Path]]:
    """Run the check; returns the dataset and the paths written under ``out_dir``.

    Priors: ``priors=fltheory.Priors(g2, gu2, gw2, kappa)``, one object for the NNGP kernels, the GP
    predictor, the network and its sampler; or ``kappa`` alone (default :data:`DEFAULT_KAPPA` = 10,
    weight priors 1). Both at once is one error naming ``priors``.

    Kernels are stored over dims ``(t, mu, s, nu)`` (conventions §8): ``C_theory_rnn[t, mu, s, nu]`` is
    the NNGP kernel between pattern μ at step t and pattern ν at step s; t, s = 1..T, μ, ν = 0..P+P_test−1
    with the P training patterns first. ``fltheory.kernels.merge_time`` gives the T·n × T·n time-major
    matrix back.
    """
    priors = as_priors(priors, Priors(kappa=DEFAULT_KAPPA), kappa=kappa)
    kappa = priors.kappa
    N, n_samples, n_chains = (positive_int(k, v) for k, v in (("N", N), ("n_samples", n_samples),
                                                                ("n_chains", n_chains)))
    task = endpoint_task(P=P, P_test=P_test, T=T, D=D, teacher="linear", seed=seed)
    X_all = np.concatenate([task.X, task.X_test])
    n = P + P_test
    for tied in (True, False):  # refuse a width that cannot fit before sampling anything
        check_posterior_memory(RecurrentNet(N=N, D=D, T=T, phi=phi, tied=tied, priors=priors), n, n_chains,
                               n_samples)
    data = {}
    rows = []
    for arch, tied in (("rnn", True), ("dnn", False)):
        theory = nngp_kernels(X_all, phi=phi, tied=tied, priors=priors).C
        net = RecurrentNet(N=N, D=D, T=T, phi=phi, tied=tied, priors=priors)
        sim = sample_posterior(net, task, priors=priors, n_samples=n_samples, thin=50, burn_in=1000,
                               n_chains=n_chains, seed=seed, progress=progress)
        gp = nngp_predict(task, phi=phi, tied=tied, priors=priors)
        data[f"C_theory_{arch}"] = kernel_dataarray(theory, T, n)
        data[f"C_sim_{arch}"] = kernel_dataarray(sim.C_mean, T, n)
        data[f"C_sem_{arch}"] = kernel_dataarray(sim.C_sem, T, n)
        diff = sim.C_mean - theory
        rows.append(dict(arch=arch, rms=np.sqrt(np.mean(diff**2)), max=np.abs(diff).max(),
                         sem=np.median(sim.C_sem), err_sim=sim.test_error(task), err_gp=gp.error))
    ds = xr.Dataset(data)
    ds = ds.assign_coords(arch=[r["arch"] for r in rows])
    for key, var in (("rms", "rms_dC"), ("max", "max_dC"), ("sem", "median_sem"), ("err_sim", "test_error_sim"),
                     ("err_gp", "test_error_gp")):
        ds[var] = ("arch", np.array([float(r[key]) for r in rows]))
    ds.attrs.update(N=N, phi=phi, kappa=float(kappa), g2=priors.g2, gu2=priors.gu2, gw2=priors.gw2, T=T, P=P, P_test=P_test, D=D, n_samples=n_samples,
                    n_chains=n_chains, thin=50, burn_in=1000, seed=seed, task="endpoint, linear teacher",
                    parametrization=net.parametrization,
                    layout="kernels K[t, mu, s, nu]: pattern mu at step t vs pattern nu at step s; t, s = 1..T; "
                           "mu, nu < P training, >= P test; T*n x T*n time-major matrix (row (t-1)*n + mu, "
                           "n = P + P_test): fltheory.kernels.merge_time (conventions §1, §8)")
    _describe(ds)
    out_dir = ensure_dir(out_dir)
    paths = [save_dataset(ds, out_dir / "kernel_check.nc")]
    paths.append(_figure(ds, out_dir / "kernel_check.png"))
    table = out_dir / "kernel_check.md"
    lines = [f"Posterior kernels at N={N} vs NNGP ({phi}, endpoint task, κ={kappa}, P={P}, T={T})", "",
             "| arch | rms ΔC | max ΔC | median SEM | test err (Langevin) | test err (GP) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['arch'].upper()} | {r['rms']:.2e} | {r['max']:.2e} | {r['sem']:.1e} | {r['err_sim']:.4f} | "
              f"{r['err_gp']:.4f} |" for r in rows]
    table.write_text("\n".join(lines) + "\n")
    paths.append(table)
    return ds, paths


def _describe(ds):
    meta = {
        "t": ("time step t of the row (1..T)", "1"),
        "s": ("time step s of the column (1..T)", "1"),
        "mu": ("pattern index mu of the row (0..P-1 train, P..P+P_test-1 test)", "1"),
        "nu": ("pattern index nu of the column (0..P-1 train, P..P+P_test-1 test)", "1"),
        "arch": ("architecture: rnn (tied weights) or dnn (untied)", None),
        "rms_dC": ("rms over all entries of C_sim - C_theory", "1"),
        "max_dC": ("max over all entries of |C_sim - C_theory|", "1"),
        "median_sem": ("median standard error of C_sim over entries", "1"),
        "test_error_sim": ("test MSE of the Langevin posterior-mean predictor", "1"),
        "test_error_gp": ("test MSE of the infinite-width GP (kernel ridge) predictor", "1"),
    }
    for arch in ("rnn", "dnn"):
        A = arch.upper()
        meta[f"C_theory_{arch}"] = (f"{A} infinite-width (NNGP) kernel C[(t,mu),(s,nu)] = E phi(h_t^mu) phi(h_s^nu)",
                                    "1")
        meta[f"C_sim_{arch}"] = (f"{A} Langevin posterior mean of phi(h_t^mu).phi(h_s^nu)/N at width N", "1")
        meta[f"C_sem_{arch}"] = (f"{A} standard error of C_sim over samples and chains", "1")
    describe(ds, meta)


def kernel_figure(ds):
    """The figure of :func:`kernel_check` (returned, not saved): per architecture the NNGP and Langevin
    kernels as (t, μ) × (s, ν) heatmaps in the time-major layout (colourbar each; ticks at the time-block
    boundaries) and a scatter of all entries."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    T, n, P = ds.sizes["t"], ds.sizes["mu"], int(ds.attrs["P"])
    fig, axes = plt.subplots(2, 3, figsize=(13.5, 8))
    for i, arch in enumerate(("rnn", "dnn")):
        th, sim, sem = (merge_time(ds[f"{k}_{arch}"].transpose(*KERNEL_DIMS).values)
                        for k in ("C_theory", "C_sim", "C_sem"))
        vmax = np.abs(th).max()
        for j, (mat, title) in enumerate(((th, "NNGP C"), (sim, f"Langevin C (N={ds.attrs['N']})"))):
            ax = axes[i, j]
            im = ax.imshow(mat, cmap="RdBu_r", vmin=-vmax, vmax=vmax, interpolation="nearest")
            fig.colorbar(im, ax=ax, shrink=0.85, label="C[(t, μ), (s, ν)]")
            ax.set_title(f"{arch.upper()}: {title}")
            for k in range(1, T):
                ax.axhline(k * n - 0.5, color="k", lw=0.6)
                ax.axvline(k * n - 0.5, color="k", lw=0.6)
            centres = [(k + 0.5) * n - 0.5 for k in range(T)]
            edges = [k * n - 0.5 for k in range(T + 1)]
            ax.set_xticks(centres, [f"s={k + 1}" for k in range(T)])
            ax.set_yticks(centres, [f"t={k + 1}" for k in range(T)])
            ax.set_xticks(edges, minor=True)
            ax.set_yticks(edges, minor=True)
            ax.tick_params(which="major", length=0)
            ax.tick_params(which="minor", length=5)
            ax.set_xlabel("column (s, ν), time-major: (s−1)·n + ν")
            ax.set_ylabel("row (t, μ), time-major: (t−1)·n + μ")
        ax = axes[i, 2]
        ax.errorbar(th.ravel(), sim.ravel(), yerr=sem.ravel(), fmt=".", ms=2, alpha=0.5)
        lim = [th.min(), th.max()]
        ax.plot(lim, lim, "k--", lw=1)
        ax.set_xlabel("NNGP C"), ax.set_ylabel("Langevin C")
        ax.set_title(f"{arch.upper()}: entries (all t, s blocks)")
    fig.suptitle(f"Posterior kernels at N={ds.attrs['N']} vs infinite width ({ds.attrs['phi']}, "
                 f"κ={ds.attrs['kappa']}); blocks = time steps, n = {n} patterns per block "
                 f"(μ < {P} train, then test)")
    fig.tight_layout()
    return fig


def _figure(ds, path):
    import matplotlib.pyplot as plt

    fig = kernel_figure(ds)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

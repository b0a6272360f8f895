"""Sequential tasks: weight sharing interpolates the time steps that carry no target (issue #4).

Theory: the saddle point of issue #3 (:func:`fltheory.saddle.solve`) on a masked sequential task —
no new equations, the supervised set S is read from ``task.M``. Simulation: Langevin sampling of the
same RNN / DNN (:func:`fltheory.sampling.sample_posterior`). Both give the posterior-mean output at
every step of the test sequences; errors are reported per step, and split into supervised
("sup") and unsupervised ("unsup") steps. Errors are relative: MSE / mean(y²) at that step, so
1 is the error of predicting 0 (the prior mean).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import xarray as xr
from rich.progress import Progress

from .._validate import FLTheoryInputError, choice, positive, positive_int
from ..activations import get_activation
from ..io import ensure_dir, save_dataset
from ..models import RecurrentNet
from ..priors import Priors, as_priors
from ..sampling import sample_posterior
from ..saddle import solve
from ..sweep.registry import declare
from ..tasks import sequential_task

ARCHS = ("rnn", "dnn")
DEFAULTS = dict(phi="linear", kappa=0.05, g2=0.5, gu2=1.0, gw2=1.0)
#: The priors of the sequential experiments (``DEFAULTS`` without ``phi``): the default of every entry
#: point here that takes ``priors=`` or the four names.
DEFAULT_PRIORS = Priors(g2=0.5, gu2=1.0, gw2=1.0, kappa=0.05)
TASK_DEFAULTS = dict(teacher="lds", P=4, P_test=64, T=6, D=6, mask="every_other", n_state=2, rho=0.9)


def relative_step_errors(f_test, task) -> np.ndarray:
    """Per-step relative test error ``[T]``: mean (f − y)² / mean y² over test sequences."""
    sq = np.sum((np.asarray(f_test) - task.Y_test) ** 2, axis=-1).mean(0)
    power = np.sum(task.Y_test**2, axis=-1).mean(0)
    # a step whose target is identically 0 (e.g. the first `delay` steps of a delayed copy) has no
    # relative error: NaN, skipped by the averages below
    return np.where(power > 0, sq / np.where(power > 0, power, 1.0), np.nan)


def step_error_sem(samples, task) -> np.ndarray:
    """Jackknife standard error ``[T]`` over chains of :func:`relative_step_errors` of the
    posterior-mean prediction. ``samples``: the :class:`~fltheory.sampling.PosteriorSamples` of
    :func:`simulation`. The error is a nonlinear function of the chain average, so leave-one-chain-out
    replicates, not the spread of per-chain errors, give its standard error. It has n_chains − 1
    degrees of freedom: compare with a Student-t quantile, not a normal one."""
    f = np.asarray(samples.f_chains)[:, task.P:]
    n = f.shape[0]
    if n < 2:
        raise FLTheoryInputError(f"n_chains: a standard error needs at least 2 chains, got {n}")
    reps = np.stack([relative_step_errors(np.delete(f, c, axis=0).mean(0), task) for c in range(n)])
    return np.sqrt((n - 1) / n * np.sum((reps - reps.mean(0)) ** 2, axis=0))


def split_errors(per_step, task) -> dict:
    sup = task.M[0].astype(bool)
    mean = lambda v: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
    out = {"err_sup": mean(per_step[sup])}
    out["err_unsup"] = mean(per_step[~sup]) if (~sup).any() else float("nan")
    return out


def theory(task, arch: str, phi="linear", kappa=None, g2=None, gu2=None, gw2=None, init=None, *,
           priors: Priors | None = None):
    """Saddle-point prediction on ``task``; returns (per-step relative errors, Solution).

    Priors: ``priors=fltheory.Priors(...)`` or the four names (defaults :data:`DEFAULT_PRIORS`:
    g2 = 0.5, gu2 = gw2 = 1, κ = 0.05), not both (one error naming ``priors``)."""
    pr = as_priors(priors, DEFAULT_PRIORS, g2=g2, gu2=gu2, gw2=gw2, kappa=kappa)
    sol = solve(task, arch=arch, phi=phi, priors=pr, init=init)
    return relative_step_errors(sol.prediction.f_test, task), sol


def simulation(task, arch: str, N: int, phi="linear", kappa=None, g2=None, gu2=None, gw2=None,
               n_chains: int = 4, n_samples: int = 100, thin: int | None = None, burn_in: int | None = None, seed: int = 0,
               progress: bool = False, *, priors: Priors | None = None):
    """Langevin posterior-mean prediction; returns (per-step relative errors, PosteriorSamples).

    Priors as in :func:`theory` (the same object, for the network and its sampler)."""
    pr = as_priors(priors, DEFAULT_PRIORS, g2=g2, gu2=gu2, gw2=gw2, kappa=kappa)
    net = RecurrentNet(N=N, D=task.D, T=task.T, phi=phi, tied=arch == "rnn", priors=pr)
    sim = sample_posterior(net, task, priors=pr, n_samples=n_samples, thin=thin, burn_in=burn_in,
                           n_chains=n_chains, seed=seed, progress=progress)
    return relative_step_errors(sim.f_test_mean, task), sim


SEQUENTIAL_OUTPUTS = {
    "err_sup": "theory: relative error, supervised steps",
    "err_unsup": "theory: relative error, unsupervised steps",
    "per_step": "theory: relative error per step",
    "sim_err_sup": "Langevin: relative error, supervised steps",
    "sim_err_unsup": "Langevin: relative error, unsupervised steps",
    "sim_per_step": "Langevin: relative error per step",
}


def check_sequential(*, arch, N, teacher, mask, mask_fraction, P, T, D, P_test, phi, kappa=None, g2=None,
                     gu2=None, gw2=None, n_samples, **_) -> None:
    """Parameters of :func:`sequential_point`."""
    from ..tasks.sequential import MASKS, TEACHERS

    choice("arch", arch, ("rnn", "dnn"))
    positive_int("N", N, minimum=0)
    choice("teacher", teacher, TEACHERS)
    for name, value in (("P", P), ("P_test", P_test), ("T", T), ("D", D)):
        positive_int(name, value)
    if teacher == "flipflop" and D != 1:
        raise FLTheoryInputError(f"D: teacher {teacher!r} uses a scalar input stream, so D must be 1, got {D}")
    if teacher == "delayed_copy" and T < 2:
        raise FLTheoryInputError(f"T: teacher 'delayed_copy' (delay 1) needs T >= 2, got {T}")
    if isinstance(mask, str):
        choice("mask", mask, MASKS)
        if mask == "random":
            if positive("mask_fraction", mask_fraction) > 1:
                raise FLTheoryInputError(f"mask_fraction: must be <= 1, got {mask_fraction}")
    elif (not isinstance(mask, (list, tuple)) or not mask
          or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < T for s in mask)):
        raise FLTheoryInputError(f"mask: steps must be a non-empty list of integers within [0, {T}), got {mask!r}")
    get_activation(phi, "phi")
    for name, value in (("kappa", kappa), ("g2", g2), ("gu2", gu2), ("gw2", gw2)):
        if value is not None:  # None: the default of DEFAULT_PRIORS (or priors=)
            positive(name, value)
    if N > 0:
        positive_int("n_samples", n_samples)


@declare(outputs=SEQUENTIAL_OUTPUTS, validate=check_sequential)
def sequential_point(*, arch: str, N: int = 0, seed: int = 0, teacher: str = "lds", mask: str = "every_other",
                     mask_fraction: float = 0.5, P: int = 4, T: int = 4, D: int = 6, P_test: int = 64,
                     phi: str = "linear", kappa: float | None = None, g2: float | None = None,
                     gu2: float | None = None, gw2: float | None = None, n_samples: int = 50, task_seed: int = 0,
                     priors: Priors | None = None) -> dict:
    """One sweep point: relative test errors on supervised / unsupervised steps, theory and simulation.

    Priors: the four names (defaults :data:`DEFAULT_PRIORS`: g2 = 0.5, κ = 0.05, gu2 = gw2 = 1) or, from
    Python, ``priors`` (not both: one error naming ``priors``).

    Always returns the saddle-point theory (``err_sup``, ``err_unsup``, ``per_step``); with ``N > 0``
    also a Langevin simulation at width N, chain seed ``seed`` (``sim_err_sup``, ``sim_err_unsup``,
    ``sim_per_step``).
    """
    task = sequential_task(teacher=teacher, P=P, P_test=P_test, T=T, D=D, mask=mask,
                           mask_fraction=mask_fraction, n_state=2, rho=0.9, seed=task_seed)
    kw = dict(phi=phi, priors=as_priors(priors, DEFAULT_PRIORS, g2=g2, gu2=gu2, gw2=gw2, kappa=kappa))
    per_step = theory(task, arch, **kw)[0]
    out = {**split_errors(per_step, task), "per_step": per_step}
    if N > 0:
        sim = simulation(task, arch, N, seed=seed, n_samples=n_samples, **kw)[0]
        out.update({f"sim_{k}": v for k, v in split_errors(sim, task).items()}, sim_per_step=sim)
    return out


def _grid(xname, xs, make_task, widths, sim_kw, theory_kw, progress, label):
    """Theory (all xs) and Langevin (all xs × widths) for RNN and DNN -> Dataset over (x, arch)."""
    T = make_task(xs[0]).T
    data = {k: np.full((len(xs), 2, T), np.nan) for k in ("theory",)}
    data.update({f"sim_N{N}": np.full((len(xs), 2, T), np.nan) for N in widths})
    masks = np.zeros((len(xs), T))
    total = len(xs) * 2 * (1 + len(widths))
    with Progress(disable=not progress, transient=True) as bar:
        job = bar.add_task(label, total=total)
        for i, x in enumerate(xs):
            task = make_task(x)
            masks[i] = task.M[0]
            for a, arch in enumerate(ARCHS):
                data["theory"][i, a] = theory(task, arch, **theory_kw)[0]
                bar.advance(job)
                for N in widths:
                    data[f"sim_N{N}"][i, a] = simulation(task, arch, N, **theory_kw, **sim_kw)[0]
                    bar.advance(job)
    coords = {xname: list(xs), "arch": list(ARCHS), "step": np.arange(1, T + 1)}
    ds = xr.Dataset({k: ((xname, "arch", "step"), v) for k, v in data.items()}, coords=coords)
    ds["supervised"] = ((xname, "step"), masks)
    for k in list(data):
        sup = ds["supervised"] > 0
        ds[f"{k}_unsup"] = ds[k].where(~sup).mean("step")
        ds[f"{k}_sup"] = ds[k].where(sup).mean("step")
    return _describe_grid(ds, xname, list(data))


_X_NAMES = {"fraction": ("fraction of supervised time steps", "1"),
            "P": ("number of training sequences P", "1"),
            "teacher": ("teacher (sequence-generating process)", None)}


def _describe_grid(ds, xname, keys):
    """``long_name``/``units`` of a :func:`_grid` dataset (in place). Errors are relative: MSE / mean y²."""
    from ..io import describe

    meta = {xname: _X_NAMES.get(xname, (xname, "1")),
            "arch": ("architecture (rnn: tied weights, dnn: untied)", None),
            "step": ("time step t (1..T)", "1"),
            "supervised": ("1 where the step carries a training target, else 0", "1")}
    for k in keys:
        who = "saddle-point theory" if k == "theory" else f"Langevin posterior mean at width N={k[len('sim_N'):]}"
        meta[k] = (f"relative test error per step (MSE / mean y^2), {who}", "1")
        meta[f"{k}_unsup"] = (f"mean relative test error over unsupervised steps, {who}", "1")
        meta[f"{k}_sup"] = (f"mean relative test error over supervised steps, {who}", "1")
    return describe(ds, meta)


def sequential_experiments(out_dir: Path, widths: Sequence[int] = (128,), small: bool = True,
                           progress: bool = True, seed: int = 0, *, priors: Priors | None = None,
                           phi: str = "linear") -> tuple[dict, list[Path]]:
    """All four issue-#4 experiments; writes one netCDF per experiment and one PNG with four panels.

    ``small`` (default, minutes on 2 cores): P=4, T=6, D=6. ``small=False``: P=8, D=12, more points.
    ``priors``: one :class:`fltheory.Priors` for the theory and the networks (default
    :data:`DEFAULT_PRIORS`); ``phi`` the activation (default linear, exact theory).
    """
    out_dir = Path(out_dir)
    widths = tuple(positive_int("widths", w) for w in widths)
    pr = as_priors(priors, DEFAULT_PRIORS)
    get_activation(phi, "phi")
    tkw = dict(TASK_DEFAULTS) if small else dict(TASK_DEFAULTS, P=8, D=12)
    theory_kw = dict(phi=phi, **pr.as_dict())
    sim_kw = dict(n_chains=4, n_samples=50 if small else 200, seed=seed, progress=False)
    T = tkw["T"]
    fractions = [1 / 3, 1 / 2, 1.0] if small else [1 / 6, 1 / 3, 1 / 2, 2 / 3, 5 / 6, 1.0]
    Ps = [2, 4, 6] if small else [2, 4, 8, 12]
    teachers = ["lds", "lds_time_varying", "running_sum", "delayed_copy"]
    results = {}

    def frac_task(fr):
        steps = np.unique(np.round(np.linspace(T - 1, 0, max(1, round(fr * T)))).astype(int))
        return sequential_task(**dict(tkw, mask=sorted(steps.tolist())), seed=seed)

    results["fraction"] = _grid("fraction", fractions, frac_task, widths, sim_kw, theory_kw, progress,
                                "unsupervised error vs supervised fraction")
    results["learning_curve"] = _grid("P", Ps, lambda P: sequential_task(**dict(tkw, P=P), seed=seed),
                                      widths, sim_kw, theory_kw, progress, "learning curve")
    results["teachers"] = _grid(
        "teacher", teachers,
        lambda name: sequential_task(**dict(tkw, teacher=name), seed=seed),
        widths, sim_kw, theory_kw, progress, "teachers")
    swept = {"fraction": "mask", "learning_curve": "P", "teachers": "teacher"}  # a dim, not an attr
    for name, ds in results.items():
        ds.attrs.update({f"task_{k}": v for k, v in tkw.items() if k != swept[name]}, **theory_kw,
                        n_chains=sim_kw["n_chains"], n_samples=sim_kw["n_samples"], seed=seed,
                        parametrization="mup")
    ensure_dir(out_dir)
    paths = [save_dataset(ds, out_dir / f"sequential_{name}.nc") for name, ds in results.items()]
    paths.append(_figure(results, widths, out_dir / "sequential.png"))
    return results, paths


def _figure(results, widths, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"rnn": "C0", "dnn": "C3"}
    markers = ["o", "s", "^"]
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.2))

    def lines(ax, ds, x, var):
        xs = ds[x].values
        for arch in ARCHS:
            ax.plot(xs, ds[f"theory_{var}"].sel(arch=arch), "-", color=colors[arch], label=f"{arch.upper()} theory")
            for m, N in zip(markers, widths):
                ax.plot(xs, ds[f"sim_N{N}_{var}"].sel(arch=arch), m, color=colors[arch], mfc="none",
                        label=f"{arch.upper()} Langevin N={N}")

    ds = results["fraction"]
    lines(axes[0], ds, "fraction", "unsup")
    axes[0].set(xlabel="fraction of supervised steps", ylabel="relative error on unsupervised steps",
                title="(a) interpolation of unsupervised steps")
    ds = results["learning_curve"]
    lines(axes[1], ds, "P", "unsup")
    axes[1].set(xlabel="training sequences P", ylabel="relative error on unsupervised steps",
                title="(b) learning curve", xscale="log")
    ds = results["fraction"].sel(fraction=0.5, method="nearest")
    steps = ds["step"].values
    for arch in ARCHS:
        axes[2].plot(steps, ds["theory"].sel(arch=arch), "-", color=colors[arch], label=f"{arch.upper()} theory")
        for m, N in zip(markers, widths):
            axes[2].plot(steps, ds[f"sim_N{N}"].sel(arch=arch), m, color=colors[arch], mfc="none")
    for s in steps[ds["supervised"].values > 0]:
        axes[2].axvspan(s - 0.4, s + 0.4, color="0.9", zorder=0)
    axes[2].set(xlabel="time step (shaded: supervised)", ylabel="relative test error",
                title="(c) per-step error profile")
    ds = results["teachers"]
    x = np.arange(ds.sizes["teacher"])
    for j, arch in enumerate(ARCHS):
        axes[3].bar(x + (j - 0.5) * 0.38, ds["theory_unsup"].sel(arch=arch), 0.38, color=colors[arch],
                    alpha=0.6, label=f"{arch.upper()} theory")
        for m, N in zip(markers, widths):
            axes[3].plot(x + (j - 0.5) * 0.38, ds[f"sim_N{N}_unsup"].sel(arch=arch), m, color="k", mfc="none")
    axes[3].set_xticks(x, [t.replace("_", "\n") for t in ds["teacher"].values])
    axes[3].set(ylabel="relative error on unsupervised steps", title="(d) teachers (time-varying = control)")
    for ax in axes:
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

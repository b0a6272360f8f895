"""Phase diagram of the endpoint task: RNN vs DNN, theory lines and Langevin points (issue #3).

Control parameter: the learning signal s (target scale of :func:`fltheory.tasks.endpoint_task`).
For each s the theory gives

- the DNN solution and the RNN block-diagonal solution (identical: conventions §7);
- the RNN symmetry-broken solution where it exists; the physical RNN solution is the branch with
  the larger action S (log-evidence per neuron) — checked against Langevin (docs/theory/unified.md);
- observables: order parameter q (normalised lag-1 cross-time kernel), predicted outlier |λ| of
  W/√N (NaN when there is none), test error (relative to the mean squared test target).

Langevin points (two widths) measure the same observables per chain.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .._validate import (ConvergenceError, FLTheoryInputError, choice, finite_array, positive, positive_int,
                         summarise_mc_warnings)
from ..activations import get_activation
from ..priors import Priors, as_priors
from ..saddle import broken_branch, follow_branch
from ..saddle.continuation import bisect_flip, switch_branch
from ..saddle.solution import Solution
from ..sweep.registry import declare
from ..tasks import endpoint_task

#: Defaults of the phase-diagram task (small, so that Langevin can referee every point).
DEFAULT_TASK = dict(P=4, P_test=16, T=3, D=6, teacher="linear", inputs="gaussian", seed=0)
DEFAULT_THEORY = dict(phi="linear", g2=1.0, gu2=1.0, gw2=1.0, kappa=0.1)
#: The priors of ``DEFAULT_THEORY`` as one object (κ = 0.1): the default of every ``priors=`` here.
DEFAULT_PRIORS = Priors(g2=1.0, gu2=1.0, gw2=1.0, kappa=0.1)
_PRIOR_NAMES = ("g2", "gu2", "gw2", "kappa")


def _theory_kw(priors: Priors | None, theory_kw: dict) -> dict:
    """The resolved theory options: ``DEFAULT_THEORY`` updated by ``theory_kw``, the four prior names
    taken from ``priors`` when given (then a prior name in ``theory_kw`` as well is one error naming
    ``priors``), else from ``theory_kw`` over :data:`DEFAULT_PRIORS`, each validated by name.

    The one place this module resolves priors: every entry point calls it at its boundary, and passing
    its result on (``**kw``) resolves to the same dict again."""
    rest = {k: v for k, v in theory_kw.items() if k not in _PRIOR_NAMES}
    named = {k: theory_kw[k] for k in _PRIOR_NAMES if k in theory_kw}
    if priors is None and not named:
        return {**DEFAULT_THEORY, **rest}  # nothing to resolve: the defaults, untouched
    pr = as_priors(priors, DEFAULT_PRIORS, **named)
    return {**DEFAULT_THEORY, **rest, **pr.as_dict()}


def make_task_fn(**task_kw):
    cfg = {**DEFAULT_TASK, **task_kw}
    return lambda s: endpoint_task(signal=float(s), **cfg)


def _rel_error(sol_or_err, task) -> float:
    err = sol_or_err if isinstance(sol_or_err, float) else sol_or_err.prediction.error
    ms = float(np.sum(task.Y_test**2 * task.M_test[..., None]) / task.M_test.sum())
    return err / ms if ms > 0 else err


def _outlier(sol: Solution | None) -> float:
    """|λ| of the largest predicted outlier of W/√N; NaN when there is none (or no solution)."""
    if sol is None:
        return float("nan")
    lam = sol.weight_outliers()
    return float(np.abs(lam[0])) if len(lam) else float("nan")


def theory_sweep(signals: Sequence[float], task_kw: dict | None = None, *, priors: Priors | None = None,
                 **theory_kw) -> dict:
    """Theory at every signal for the DNN, the RNN block-diagonal branch and the RNN broken branch.

    Priors: ``priors=fltheory.Priors(...)`` or the names ``g2``, ``gu2``, ``gw2``, ``kappa`` in
    ``theory_kw`` (defaults :data:`DEFAULT_PRIORS`), not both (one error naming ``priors``).

    Returns a dict of arrays over ``signals``: ``q_rnn`` (physical RNN branch), ``q_broken`` (nan where
    the broken branch does not exist), ``S_sym``, ``S_broken``, ``outlier_rnn`` (nan where W/√N has no
    outlier, i.e. below the transition, or where the physical branch is unresolved), ``err_rnn``,
    ``err_dnn``, ``err_broken`` (relative test errors), and ``solutions`` (the Solution objects).
    """
    kw = _theory_kw(priors, theory_kw)
    make_task = make_task_fn(**(task_kw or {}))
    signals = np.asarray(signals, float)
    order = np.argsort(signals)
    s_sorted = signals[order]
    with summarise_mc_warnings(f"theory sweep over {len(signals)} signals"):
        sym = follow_branch(make_task, s_sorted, arch="rnn", **kw)
        dnn = follow_branch(make_task, s_sorted, arch="dnn", **kw)
        br = broken_branch(make_task, s_sorted, sym, **kw)
    # Gaps: a signal where no broken seed converged although the broken branch exists on both sides.
    # Retry with other seed amplitudes; if still none, the physical branch is unresolved there (nan),
    # never silently the block-diagonal one.
    found = np.array([b is not None for b in br])
    unresolved = np.zeros(len(br), bool)
    for j in np.where(~found)[0]:
        if found[:j].any() and found[j + 1:].any():
            for eps in (0.1, 0.6, 1.0):
                with summarise_mc_warnings(f"broken-branch retry at signal {s_sorted[j]:.3g}"):
                    retry = broken_branch(make_task, s_sorted[j:j + 1], sym[j:j + 1], eps=eps, **kw)[0]
                if retry is not None:
                    br[j] = retry
                    break
            unresolved[j] = br[j] is None
    out = {k: np.full(len(signals), np.nan) for k in
           ("q_rnn", "q_broken", "S_sym", "S_broken", "outlier_rnn", "err_rnn", "err_dnn", "err_broken",
            "q_dnn", "S_dnn", "mc_error_rnn", "mc_error_dnn")}
    sols = {"sym": [None] * len(signals), "dnn": [None] * len(signals), "broken": [None] * len(signals)}
    for j, i in enumerate(order):
        task = make_task(s_sorted[j])
        s_, d_, b_ = sym[j], dnn[j], br[j]
        sols["sym"][i], sols["dnn"][i], sols["broken"][i] = s_, d_, b_
        phys = b_ if (b_ is not None and b_.action > s_.action) else s_
        out["q_dnn"][i] = d_.order_parameter()
        out["S_sym"][i] = s_.action
        out["S_dnn"][i] = d_.action
        out["err_dnn"][i] = _rel_error(d_, task)
        out["mc_error_dnn"][i] = d_.diagnostics.mc_error
        if unresolved[j]:
            continue  # physical RNN branch unknown here: q_rnn, outlier_rnn, err_rnn stay nan
        out["q_rnn"][i] = phys.order_parameter()
        out["mc_error_rnn"][i] = phys.diagnostics.mc_error
        out["outlier_rnn"][i] = _outlier(phys)
        out["err_rnn"][i] = _rel_error(phys, task)
        if b_ is not None:
            out["q_broken"][i] = b_.order_parameter()
            out["S_broken"][i] = b_.action
            out["err_broken"][i] = _rel_error(b_, task)
    out["solutions"] = sols
    return out


def simulation_point(signal: float, arch: str, N: int, seed: int = 0, task_kw: dict | None = None,
                     sim_kw: dict | None = None, *, priors: Priors | None = None, **theory_kw) -> dict:
    """Langevin observables at one signal: q (mean, s.e. over chains), |λ|max of W/√N, relative test error.

    Priors as in :func:`theory_sweep` (the same object for the network and its sampler)."""
    from .simulate import simulate

    kw = _theory_kw(priors, theory_kw)
    task = make_task_fn(**(task_kw or {}))(signal)
    # Step, burn-in and thinning: the sampler defaults (conventions §6; η capped by the data curvature
    # and the learning amplification), burn-in in prior relaxation times σ² (the kernels relax on the
    # prior time scale whatever η is). Above the RNN transition the chains must also break the
    # W → −W symmetry from the prior state, which takes O(10) relaxation times (docs/theory/unified.md §3).
    sk = dict(n_chains=4, n_samples=50, relaxation_times=12.0 if arch == "rnn" else 4.0)
    sk.update(sim_kw or {})
    r = simulate(task, arch, kw["phi"], N=N, priors=Priors(**{k: kw[k] for k in _PRIOR_NAMES}), seed=seed, **sk)
    q, q_se = r.order_parameter(task.P, task.P_test, task.T)
    # s.e. of the relative test error: spread of the per-chain errors / √chains
    sq = np.sum((r.f_test_chains - task.Y_test) ** 2, axis=-1)
    err_c = np.array([_rel_error(float((s_ * task.M_test).sum() / task.M_test.sum()), task) for s_ in sq])
    err_se = float(err_c.std(ddof=1) / np.sqrt(len(err_c))) if len(err_c) > 1 else float("nan")
    return dict(q=q, q_se=q_se, eig_abs_max=float(np.mean(r.eig_abs_max)),
                eig_abs_max_se=float(np.std(r.eig_abs_max, ddof=1) / np.sqrt(len(r.eig_abs_max))),
                err=_rel_error(r.test_error(task), task), err_se=err_se, result=r)


PHASE_OUTPUTS = {
    "q_theory": "order parameter q, theory",
    "outlier_theory": "outlier |λ| of W/√N, theory",
    "err_theory": "relative test error, theory",
    "action": "action S (log-evidence per neuron)",
    "q_sim": "order parameter q, Langevin",
    "q_sim_se": "s.e. of q, Langevin",
    "eig_sim": "largest |λ| of W/√N, Langevin",
    "err_sim": "relative test error, Langevin",
}


def check_phase(*, signal, arch, N, n_chains, relaxation_times, **kw) -> None:
    """Parameters of :func:`phase_point`: the endpoint task (P, P_test, T,
    D, teacher, inputs), the theory (phi, g2, gu2, gw2, kappa) and the Langevin run. Other keyword
    arguments go to the saddle-point solver and are left to it."""
    choice("arch", arch, ("rnn", "dnn"))
    positive("signal", signal, allow_zero=True)
    for name in ("P", "P_test", "T", "D"):
        if name in kw:
            positive_int(name, kw[name])
    if "teacher" in kw:
        choice("teacher", kw["teacher"], ("linear", "erf_net"))
    if "inputs" in kw:
        choice("inputs", kw["inputs"], ("gaussian", "orthogonal"))
    if "phi" in kw:
        get_activation(kw["phi"], "phi")
    for name in ("g2", "gu2", "gw2", "kappa"):
        if name in kw:
            positive(name, kw[name])
    if isinstance(N, bool) or not isinstance(N, int) or N < 0:
        raise FLTheoryInputError(f"N: expected an integer >= 0 (0: theory only), got {N!r}")
    if N > 0:
        positive_int("n_chains", n_chains)
        positive("relaxation_times", relaxation_times, allow_zero=True)


@declare(outputs=PHASE_OUTPUTS, validate=check_phase)
def phase_point(*, signal: float, arch: str, N: int = 0, seed: int = 0, n_chains: int = 4,
                relaxation_times: float = 0.0, priors: Priors | None = None, **kw) -> dict[str, float]:
    """Sweep point function (issue #8): theory (and Langevin if ``N > 0``) at one signal.

    Returns ``q_theory``, ``outlier_theory`` (NaN when W/√N has no outlier: below the transition and
    always for the DNN), ``err_theory``, ``action`` (and ``q_sim``, ``q_sim_se``,
    ``eig_sim``, ``err_sim`` when N > 0). For ``arch='rnn'`` the theory is the physical branch
    (larger action). ``kw`` may hold task options (P, P_test, T, D, teacher, inputs) and theory
    options (phi, g2, gu2, gw2, kappa); the task seed is ``seed``. Langevin: ``n_chains`` chains,
    burn-in ``relaxation_times`` prior relaxation times (0: the :func:`simulation_point` default).
    ``priors``: a :class:`fltheory.Priors` instead of the four names (Python callers; not both, one error
    naming ``priors``), as in :func:`theory_sweep`.
    """
    choice("arch", arch, ("rnn", "dnn"))
    positive("signal", signal, allow_zero=True)
    task_kw = {k: kw.pop(k) for k in list(kw) if k in ("P", "P_test", "T", "D", "teacher", "inputs")}
    task_kw["seed"] = int(seed)
    theory_kw = _theory_kw(priors, kw)
    grid = np.linspace(0.0, float(signal), 5)[1:] if signal > 0 else np.array([0.0])
    if arch == "rnn":
        th = theory_sweep(grid, task_kw=task_kw, **theory_kw)
        out = dict(q_theory=float(th["q_rnn"][-1]), outlier_theory=float(th["outlier_rnn"][-1]),
                   err_theory=float(th["err_rnn"][-1]),
                   action=float(np.nanmax([th["S_sym"][-1], th["S_broken"][-1]])))
    else:  # the DNN has no broken branch (conventions §7): one continuation suffices
        make_task = make_task_fn(**task_kw)
        d_ = follow_branch(make_task, grid, arch="dnn", **theory_kw)[-1]
        out = dict(q_theory=d_.order_parameter(), outlier_theory=float("nan"),
                   err_theory=_rel_error(d_, make_task(grid[-1])), action=float(d_.action))
    if N and int(N) > 0:
        sim_kw = dict(n_chains=positive_int("n_chains", n_chains))
        if positive("relaxation_times", relaxation_times, allow_zero=True) > 0:
            sim_kw["relaxation_times"] = float(relaxation_times)
        sim = simulation_point(float(signal), arch, positive_int("N", int(N)), seed=int(seed), task_kw=task_kw,
                               sim_kw=sim_kw, **theory_kw)
        out.update(q_sim=sim["q"], q_sim_se=sim["q_se"], eig_sim=sim["eig_abs_max"], err_sim=sim["err"])
    return out


def phase_diagram(signals: Sequence[float] | None = None, widths: Sequence[int] = (128, 512),
                  sim_signals: Sequence[float] | None = None, task_kw: dict | None = None,
                  sim_kw: dict | None = None, seed: int = 0, progress: bool = True, *,
                  priors: Priors | None = None, **theory_kw):
    """Theory sweep (RNN & DNN) + Langevin points at ``widths``; returns an xarray Dataset.

    Priors: ``priors=fltheory.Priors(...)`` (one object for the theory and the Langevin networks) or
    the names ``g2``, ``gu2``, ``gw2``, ``kappa`` (defaults :data:`DEFAULT_PRIORS`), not both (one error
    naming ``priors``, before anything runs). Other ``theory_kw`` (``phi``, solver options) go to the
    saddle-point solver."""
    import xarray as xr
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    theory_kw = _theory_kw(priors, theory_kw)

    signals = np.linspace(0.25, 6.0, 24) if signals is None else finite_array("signals", signals, ndim=1)
    if np.any(signals < 0):
        raise FLTheoryInputError(f"signals: must be >= 0, got min {signals.min()}")
    widths = [positive_int("widths", w) for w in widths]
    if sim_signals is not None:
        sim_signals = [positive("sim_signals", s, allow_zero=True) for s in sim_signals]
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), disable=not progress,
                  transient=True) as bar:
        bar.add_task(f"theory: RNN and DNN branches at {len(signals)} signals", total=None)
        th = theory_sweep(signals, task_kw=task_kw, **theory_kw)
    if progress:
        from ..io import console

        console.print(f"theory: RNN and DNN branches at {len(signals)} signals done")
    data = {k: ("signal", v) for k, v in th.items() if k != "solutions"}
    ds = xr.Dataset(data, coords={"signal": signals})
    sim_signals = [] if sim_signals is None else list(sim_signals)
    if sim_signals and widths:
        shape = (len(widths), 2, len(sim_signals))
        arrs = {k: np.full(shape, np.nan) for k in ("q_sim", "q_sim_se", "eig_sim", "eig_sim_se", "err_sim",
                                                    "err_sim_se")}
        with Progress(disable=not progress) as bar:
            job = bar.add_task("Langevin points", total=int(np.prod(shape)))
            for a, N in enumerate(widths):
                for b, arch in enumerate(("rnn", "dnn")):
                    for c, s in enumerate(sim_signals):
                        r = simulation_point(s, arch, int(N), seed=seed, task_kw=task_kw, sim_kw=sim_kw,
                                             **theory_kw)
                        arrs["q_sim"][a, b, c], arrs["q_sim_se"][a, b, c] = r["q"], r["q_se"]
                        arrs["eig_sim"][a, b, c] = r["eig_abs_max"]
                        arrs["eig_sim_se"][a, b, c] = r["eig_abs_max_se"]
                        arrs["err_sim"][a, b, c] = r["err"]
                        arrs["err_sim_se"][a, b, c] = r["err_se"]
                        bar.advance(job)
        for k, v in arrs.items():
            ds[k] = (("width", "arch", "sim_signal"), v)
        ds = ds.assign_coords(width=list(widths), arch=["rnn", "dnn"], sim_signal=sim_signals)
    cfg = {**DEFAULT_TASK, **(task_kw or {})}
    ds.attrs.update({f"task_{k}": v for k, v in cfg.items()})
    ds.attrs.update(theory_kw)  # resolved: DEFAULT_THEORY updated by the options and priors
    ds.attrs["seed"] = int(seed)
    ds.attrs["description"] = ("Endpoint task phase diagram: q = normalised lag-1 cross-time kernel, "
                               "outlier = |λ| of W/√N outside the disk of radius g (NaN: none), "
                               "err = test MSE / mean squared target. See docs/theory/unified.md.")
    return describe_phase(ds)


def describe_phase(ds):
    """``long_name``/``units`` of every variable of a :func:`phase_diagram` dataset (in place)."""
    from ..io import describe

    unit = "1"  # every observable here is dimensionless
    return describe(ds, {
        "signal": ("learning signal (target scale of the endpoint task)", unit),
        "q_rnn": ("order parameter q (lag-1), RNN theory, physical branch (largest action)", unit),
        "q_dnn": ("order parameter q (lag-1), DNN theory", unit),
        "q_broken": ("order parameter q (lag-1), RNN symmetry-broken branch (NaN: no such branch)", unit),
        "S_sym": ("action S per neuron, RNN block-diagonal branch (= DNN)", unit),
        "S_dnn": ("action S per neuron, DNN", unit),
        "S_broken": ("action S per neuron, RNN symmetry-broken branch (NaN: no such branch)", unit),
        "outlier_rnn": ("|lambda| of the outlier of W/sqrt(N) outside the bulk disk of radius g, RNN theory "
                        "(NaN: no outlier)", unit),
        "err_rnn": ("relative test error (MSE / mean squared target), RNN theory", unit),
        "err_dnn": ("relative test error (MSE / mean squared target), DNN theory", unit),
        "err_broken": ("relative test error, RNN symmetry-broken branch (NaN: no such branch)", unit),
        "mc_error_rnn": ("Monte-Carlo error of C, RNN physical branch (max s.e. of an entry / max|C|; NaN for "
                         "linear phi, which is exact)", unit),
        "mc_error_dnn": ("Monte-Carlo error of C, DNN (as mc_error_rnn)", unit),
        "width": ("network width N of the Langevin runs", unit),
        "arch": ("architecture (rnn: tied weights, dnn: untied)", None),
        "sim_signal": ("learning signal of the Langevin points", unit),
        "q_sim": ("order parameter q (lag-1), Langevin, mean over chains", unit),
        "q_sim_se": ("standard error over chains of q_sim", unit),
        "eig_sim": ("largest |eigenvalue| of W/sqrt(N), Langevin, mean over chains (RNN; NaN for the DNN)",
                    unit),
        "eig_sim_se": ("standard error over chains of eig_sim", unit),
        "err_sim": ("relative test error (MSE / mean squared target), Langevin", unit),
        "err_sim_se": ("standard error over chains of err_sim", unit),
    })


def plot_phase(ds, path: Path) -> Path:
    """Three panels: order parameter, outlier, test error vs signal; lines theory, markers Langevin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(13, 3.8))
    s = ds.signal.values
    ax[0].plot(s, ds.q_rnn, "C0-", label="RNN theory")
    ax[0].plot(s, ds.q_dnn, "C1--", label="DNN theory")
    ax[0].set_ylabel("order parameter q (lag-1)")
    g = float(ds.attrs.get("g2", 1.0)) ** 0.5
    ax[1].plot(s, ds.outlier_rnn, "C0-", label="RNN theory: outlier |λ| (none below y_c)")
    ax[1].axhline(g, color="gray", lw=0.8, ls=":", label="bulk edge g")
    ax[1].set_ylabel("|λ|max of W/√N")
    ax[2].plot(s, ds.err_rnn, "C0-", label="RNN theory")
    ax[2].plot(s, ds.err_dnn, "C1--", label="DNN theory")
    ax[2].set_ylabel("test error / mean y²")
    if "q_sim" in ds:
        markers = ["o", "s", "^", "D"]
        for a, N in enumerate(ds.width.values):
            for b, arch in enumerate(ds.arch.values):
                col = "C0" if arch == "rnn" else "C1"
                kw = dict(color=col, marker=markers[a % 4], ls="none", mfc="none" if a == 0 else col,
                          label=f"{arch.upper()} Langevin N={N}")
                x = ds.sim_signal.values
                ax[0].errorbar(x, ds.q_sim[a, b], yerr=ds.q_sim_se[a, b], **kw)
                if arch == "rnn":
                    ax[1].errorbar(x, ds.eig_sim[a, b], yerr=ds.eig_sim_se[a, b], **kw)
                err_se = ds.err_sim_se[a, b] if "err_sim_se" in ds else None
                ax[2].errorbar(x, ds.err_sim[a, b], yerr=err_se, **kw)
    for a_ in ax:
        a_.set_xlabel("signal (target scale)")
        a_.legend(fontsize=7)
    fig.suptitle("Endpoint task: RNN vs DNN feature learning (lines: theory, markers: Langevin)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def _cell(x, fmt: str = ".4f", none: str = "nan") -> str:
    x = float(x)
    return none if np.isnan(x) else format(x, fmt)


def write_table(ds, path: Path) -> Path:
    """Markdown table of the theory (and simulation) observables.

    "—" marks what does not exist (no W outlier, no broken branch, no W spectrum for the DNN); "nan"
    marks what was not resolved (the physical RNN branch at that signal).
    """
    lines = ["| signal | q RNN | q DNN | outlier RNN | err RNN | err DNN | S sym | S broken |",
             "|---|---|---|---|---|---|---|---|"]
    for i, s in enumerate(ds.signal.values):
        resolved = not np.isnan(float(ds.q_rnn[i]))
        lines.append(f"| {s:.3g} | {_cell(ds.q_rnn[i])} | {_cell(ds.q_dnn[i])} | "
                     f"{_cell(ds.outlier_rnn[i], none='—' if resolved else 'nan')} | {_cell(ds.err_rnn[i])} | "
                     f"{_cell(ds.err_dnn[i])} | {_cell(ds.S_sym[i], '.5f')} | {_cell(ds.S_broken[i], '.5f', '—')} |")
    if "q_sim" in ds:
        lines += ["", "| width | arch | signal | q (±s.e.) | abs-lambda-max (±s.e.) | err (±s.e.) |",
                  "|---|---|---|---|---|---|"]
        for a, N in enumerate(ds.width.values):
            for b, arch in enumerate(ds.arch.values):
                for c, s in enumerate(ds.sim_signal.values):
                    eig = "—" if np.isnan(float(ds.eig_sim[a, b, c])) else \
                        f"{_cell(ds.eig_sim[a, b, c])} ± {_cell(ds.eig_sim_se[a, b, c])}"
                    lines.append(f"| {N} | {arch} | {s:.3g} | {_cell(ds.q_sim[a, b, c])} ± "
                                 f"{_cell(ds.q_sim_se[a, b, c])} | {eig} | {_cell(ds.err_sim[a, b, c])} ± "
                                 f"{_cell(ds.err_sim_se[a, b, c])} |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def run_phase_diagram(out_dir: Path, signals=None, widths=(128, 512), sim_signals=None, *,
                      priors: Priors | None = None, **kw) -> list[Path]:
    """Compute, save (netCDF + PNG + markdown table) and return the written paths.

    ``priors``: a :class:`fltheory.Priors`, or the four names in ``kw`` (not both), as in
    :func:`phase_diagram`."""
    from ..io import ensure_dir, save_dataset

    ds = phase_diagram(signals=signals, widths=widths, sim_signals=sim_signals, priors=priors, **kw)
    out_dir = ensure_dir(out_dir)  # only now: a bad input leaves no folder behind
    return [save_dataset(ds, out_dir / "phase_diagram.nc"), plot_phase(ds, out_dir / "phase_diagram.png"),
            write_table(ds, out_dir / "phase_diagram.md")]


def phase_demo(out_dir, small: bool = True) -> list[Path]:
    """Demo for ``fltheory demo``: linear theory for RNN & DNN (20 signals) + Langevin points.

    ``small=True``: N = 64 and 128, signals 1.0 (below y_c ≈ 1.7) and 3.0 (above), 4 chains, sampler defaults
    (about 2–3 minutes on 2 idle CPU cores). ``small=False``: N = 128 and 512 at four signals.
    """
    signals = np.linspace(0.25, 6.0, 20)
    if small:
        return run_phase_diagram(Path(out_dir), signals=signals, widths=(64, 128), sim_signals=[1.0, 3.0])
    return run_phase_diagram(Path(out_dir), signals=signals, widths=(128, 512), sim_signals=[1.0, 2.0, 3.0, 4.0])


__all__ = ["phase_demo", "phase_diagram", "phase_point", "plot_phase", "run_phase_diagram", "simulation_point",
           "theory_sweep"]


def critical_signal(task_kw: dict | None = None, y_max: float = 6.0, n_grid: int = 12, rtol: float = 1e-3,
                    *, priors: Priors | None = None, **theory_kw) -> dict:
    """The RNN transition y_c of a linear endpoint task, located as a bifurcation of the block-diagonal
    branch, and the order parameter just above it.

    The block-diagonal (symmetric) RNN branch is followed on a grid of ``n_grid`` signals up to ``y_max``;
    the sign of det J of the linear RNN's reduced equations (:func:`fltheory.saddle.linear_rnn.jacobian_sign`)
    flips where a real eigenvalue crosses 0, and the bracket is bisected to relative width ``rtol``. Only a
    flip whose critical mode is odd in the time lag (:func:`~fltheory.saddle.linear_rnn.critical_mode_odd_fraction`
    > ½: the W → −W pitchfork) is taken as y_c; at an even one (a bifurcation inside the symmetric
    subspace, e.g. T = 6, P = 4 at y = 0.807) the branch is followed on. The broken
    branch is then seeded at 1.25·y_c and its q and action reported, which confirms that the zero of
    det J is the symmetry-breaking transition and not a fold. Returns ``dict(y_c, q_above, dS_above)``
    (y_c = nan when det J keeps its sign up to ``y_max``, or the block-diagonal branch is lost first).
    Priors as in :func:`theory_sweep`.
    """
    from ..saddle import linear_rnn, problem_from_task, solve

    kw = _theory_kw(priors, theory_kw)
    if kw["phi"] != "linear":
        raise FLTheoryInputError("phi: critical_signal needs phi='linear' (the reduced linear-RNN equations)")
    positive("y_max", y_max)
    positive_int("n_grid", n_grid, minimum=2)
    positive("rtol", rtol)
    make_task = make_task_fn(**(task_kw or {}))
    pkw = {k: kw[k] for k in ("g2", "gu2", "gw2", "kappa")}

    def sign(sol, s):
        prob = problem_from_task(make_task(s), "rnn", **pkw)
        if not linear_rnn.applies(prob):
            raise FLTheoryInputError("task: critical_signal needs T·k < T·P (more than one pattern)")
        return linear_rnn.jacobian_sign(prob, sol.C, sol.Chat)

    # a near-lazy reference point first (y_c can lie below the first grid point on long chains), then
    # the block-diagonal branch up to the first sign flip only (beyond it, it may fold or end)
    grid = np.concatenate([[0.02 * y_max / n_grid], np.linspace(y_max / n_grid, y_max, n_grid)])
    prev, prev_sign, prev_y, found = None, None, None, None
    for y in grid:
        try:
            cur = follow_branch(make_task, [y], init=prev, arch="rnn", **kw)[0]
        except ConvergenceError:
            break  # the branch is lost before a pitchfork: y_c not located (nan)
        sg = sign(cur, y)
        if prev is not None and sg != prev_sign:
            lo, hi, s_lo = bisect_flip(make_task, prev_y, y, prev, rtol=rtol, **kw)
            # only a flip whose critical mode is odd in the lag (W → −W) is the pitchfork; an even one is
            # a bifurcation inside the symmetric subspace: keep following the branch past it
            prob_lo = problem_from_task(make_task(lo), "rnn", **pkw)
            if linear_rnn.critical_mode_odd_fraction(prob_lo, s_lo.C, s_lo.Chat) > 0.5:
                found = (lo, hi, s_lo)
                break
        prev, prev_sign, prev_y = cur, sg, y
    if found is None:
        return dict(y_c=float("nan"), q_above=float("nan"), dS_above=float("nan"))
    lo, hi, s_lo = found
    y_c = 0.5 * (lo + hi)
    # switch branches just above y_c (small pitchfork amplitude) along the critical mode, then
    # continue to 1.25·y_c; the generic seeds of broken_branch are the fallback
    near, above = 1.05 * y_c, 1.25 * y_c
    cands = switch_branch(make_task, lo, s_lo, near, **kw)
    s_sym = solve(make_task(above), arch="rnn", init=s_lo, homotopy=False, **kw)
    br = None
    if cands:
        try:
            br = follow_branch(make_task, [above], init=max(cands, key=lambda c: c.action), arch="rnn", **kw)[0]
        except ConvergenceError:
            br = None
    if br is None or br.order_parameter() <= 1e-4:
        br = max((b for b in broken_branch(make_task, [above], [s_sym], **kw) if b is not None),
                 key=lambda c: c.action, default=None)
    if br is None:  # not confirmed (not "no branch"): nan
        return dict(y_c=y_c, q_above=float("nan"), dS_above=float("nan"))
    return dict(y_c=y_c, q_above=br.order_parameter(), dS_above=br.action - s_sym.action)


TRANSITION_OUTPUTS = {
    "y_c": "critical signal y_c",
    "q_above": "order parameter q at 1.25 y_c",
}


def check_transition(*, T, P, D, kappa=None, y_max, n_grid, **_) -> None:
    """Parameters of :func:`transition_point` (``critical_signal``'s checks)."""
    for name, value in (("T", T), ("P", P), ("D", D)):
        positive_int(name, value)
    if kappa is not None:
        positive("kappa", kappa)
    positive("y_max", y_max)
    positive_int("n_grid", n_grid, minimum=2)


@declare(outputs=TRANSITION_OUTPUTS, validate=check_transition)
def transition_point(*, T: int = 3, P: int = 4, D: int = 6, kappa: float | None = None, y_max: float = 6.0,
                     n_grid: int = 12, task_seed: int = 0, priors: Priors | None = None) -> dict:
    """Sweep point: y_c and the order parameter at 1.25·y_c of the linear endpoint task (P, T) drawn with
    ``task_seed`` (the same inputs and teacher at every point of a sweep), see :func:`critical_signal`.
    Priors: ``kappa`` (default 0.1; the other priors 1) or, from Python, ``priors`` (not both)."""
    pkw = {"kappa": kappa} if kappa is not None else {}
    out = critical_signal(dict(T=T, P=P, D=D, P_test=4, seed=task_seed), y_max=y_max, n_grid=n_grid, priors=priors,
                          **pkw)
    return dict(y_c=out["y_c"], q_above=out["q_above"])

"""``fltheory finite-size``: the width-N posterior of the linear T = 3 chain against the saddle point and
its 1/N correction (issue #13; docs/theory/finite_width.md).

For each architecture and learning signal y/y_c, at each width N:

- ``exact``: the posterior means at width N (:func:`~fltheory.saddle.exact_chain.exact_chain_moments`,
  exact up to a reported quadrature error; broken phase: the sign-invariant kernel of one mode);
- ``theory``: the saddle point (N = ∞) of the dominant branch (the broken one above the RNN transition);
- ``corrected``: saddle point + first-order 1/N correction (:meth:`Solution.finite_width`), NaN where
  the expansion is singular, with ``reliable = 0`` where it warns (N too small for the distance to y_c:
  a relative correction above 0.25 or a Ginzburg number ``ginzburg`` above 1, :class:`FiniteWidth`);
  per entry, ``C13_reliable``/``C33_reliable`` and ``C13_error_estimate``/``C33_error_estimate``, the
  per-entry criterion and the estimated second-order error of the corrected entry
  (:attr:`FiniteWidth.C_entry_reliable`, docs/theory/finite_width.md §2.5);
- an extrapolation of the exact values to N = ∞: a + b/N, a + b/√N or a + b/N + c/N², whichever fits
  best (the sign-invariant q of the symmetric phase approaches 0 like 1/√N: noise, not order), flagged
  ``extrapolation_trusted`` only where the 1/N expansion is reliable at every width used (close to
  y_c the widths are not yet asymptotic and no low-order fit can know it).

Observables: q (instantaneous sign-invariant lag-1 order parameter), C₁₃ (the lag-2 kernel, which the
RNN's shared weights correlate at finite N even below the transition), C₃₃ and the predictor f.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .._validate import FLTheoryInputError, choice, positive, positive_int

OBSERVABLES = ("q", "C13", "C33", "f")
DEFAULT_Y_RATIOS = (0.8, 1.1, 1.4, 2.0)
DEFAULT_WIDTHS = (64, 128, 256, 512, 1024)


def _observe_solution(C, f, q):
    C = np.asarray(C)
    return {"q": q, "C13": C[0, 2], "C33": C[2, 2], "f": float(np.ravel(f)[0])}


def _theory(y, arch, kappa):
    from ..saddle import broken_branch, follow_branch
    from ..saddle.linear_chain import chain_task

    ys = np.linspace(min(0.5, y), y, 12)
    sym = follow_branch(chain_task, ys, kappa=kappa, arch=arch)
    if arch == "rnn":
        br = broken_branch(chain_task, ys, sym, kappa=kappa)[-1]
        if br is not None and br.action > sym[-1].action:
            return br, True
    return sym[-1], False


def extrapolate(Ns, values):
    """Least-squares fits a + b/N, a + b/√N and (with ≥ 4 widths) a + b/N + c/N²; returns (a, s.e. of a,
    form) of the fit with the smallest residual variance per degree of freedom. The s.e. is the fit's
    own: it does not know about terms the form lacks (see ``extrapolation_trusted``)."""
    Ns = np.asarray(Ns, float)
    v = np.asarray(values, float)
    best = None
    forms = [("1/N", [1.0 / Ns]), ("1/sqrt(N)", [1.0 / np.sqrt(Ns)])]
    if len(Ns) >= 4:
        forms.append(("1/N+1/N^2", [1.0 / Ns, 1.0 / Ns**2]))
    for form, cols in forms:
        X = np.stack([np.ones_like(Ns), *cols], 1)
        coef, *_ = np.linalg.lstsq(X, v, rcond=None)
        res = v - X @ coef
        dof = max(len(v) - X.shape[1], 1)
        s2 = float(res @ res) / dof
        se = float(np.sqrt(s2 * np.linalg.inv(X.T @ X)[0, 0]))
        if best is None or s2 < best[3]:
            best = (float(coef[0]), se, form, s2)
    return best[:3]


def finite_size_study(out: str | Path | None = None, y_ratios=DEFAULT_Y_RATIOS, widths=DEFAULT_WIDTHS,
                      archs=("rnn", "dnn"), kappa: float = 0.1, order: int = 8, grid_points: int = 9,
                      progress: bool = True):
    """Run the study (module docstring); with ``out``, write ``finite_size.nc`` and ``finite_size.png``.

    ``grid_points`` learning signals between 0.5 y_c and 2.5 y_c give the finite-N rounding of the RNN
    transition (q against y/y_c at three of the widths); 0 skips it. Returns ``(dataset, paths)``.
    """
    import xarray as xr
    from rich.progress import Progress

    from ..saddle.exact_chain import exact_chain_moments
    from ..saddle.finite_width import FiniteWidthWarning
    from ..saddle.linear_chain import critical_signal_T3

    kappa = positive("kappa", kappa)
    y_ratios = [positive("y_ratio", float(r)) for r in y_ratios]
    widths = sorted(positive_int("widths", int(n), minimum=8) for n in widths)
    if len(widths) < 3:
        raise FLTheoryInputError(f"widths: need at least 3 widths for the N → ∞ extrapolation, got {widths}")
    if not y_ratios:
        raise FLTheoryInputError("y_ratio: give at least one learning signal")
    archs = [choice("arch", a, ("rnn", "dnn")) for a in archs]
    order = positive_int("order", order, minimum=4)
    grid_points = positive_int("grid_points", grid_points, minimum=0)
    y_c = critical_signal_T3(kappa=kappa)

    shape = (len(archs), len(y_ratios), len(widths))
    data = {f"{o}_{k}": np.full(shape, np.nan) for o in OBSERVABLES for k in ("exact", "corrected")}
    data.update({f"{o}_quad_err": np.full(shape, np.nan) for o in OBSERVABLES})
    data["reliable"] = np.zeros(shape)
    data["ginzburg"] = np.full(shape, np.nan)
    for o in ("C13", "C33"):      # the per-entry criterion (docs/theory/finite_width.md §2.5)
        data[f"{o}_reliable"] = np.zeros(shape)
        data[f"{o}_error_estimate"] = np.full(shape, np.nan)
    th = {o: np.full(shape[:2], np.nan) for o in OBSERVABLES}
    ext = {f"{o}_{k}": np.full(shape[:2], np.nan) for o in OBSERVABLES for k in ("extrapolated", "extrapolated_se")}
    forms = np.full(shape[:2] + (len(OBSERVABLES),), "", dtype=object)
    broken = np.zeros(shape[:2])
    grid = np.linspace(0.5, 2.5, grid_points) if grid_points else np.zeros(0)
    grid_N = [widths[0], widths[len(widths) // 2], widths[-1]]
    q_grid = np.full((len(grid), len(grid_N)), np.nan)
    q_grid_th = np.full(len(grid), np.nan)
    total = len(archs) * len(y_ratios) * len(widths) + len(grid) * len(grid_N)

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("finite-size (exact posterior)", total=total)
        for a, arch in enumerate(archs):
            for i, r in enumerate(y_ratios):
                y = r * y_c
                sol, br = _theory(y, arch, kappa)
                broken[a, i] = br
                t0 = _observe_solution(sol.C, _f_star(sol), sol.order_parameter())
                for o in OBSERVABLES:
                    th[o][a, i] = t0[o]
                fw = None
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", FiniteWidthWarning)
                        fw = sol.finite_width(widths[0])
                except FLTheoryInputError:
                    pass                                   # singular at the transition: no expansion
                for j, N in enumerate(widths):
                    ref = exact_chain_moments(y, N, T=3, arch=arch, init_C=sol.C, kappa=kappa, order=order)
                    C, Ce = (ref.C_folded, ref.C_folded_se) if br else (ref.C, ref.C_se)
                    ex = _observe_solution(C, ref.f, ref.q)
                    err = {"q": ref.q_se, "C13": Ce[0, 2], "C33": Ce[2, 2], "f": ref.f_se}
                    for o in OBSERVABLES:
                        data[f"{o}_exact"][a, i, j] = ex[o]
                        data[f"{o}_quad_err"][a, i, j] = err[o]
                    if fw is not None:
                        fwN = fw.at(N)
                        data["reliable"][a, i, j] = float(fwN.reliable)
                        data["ginzburg"][a, i, j] = fwN.ginzburg
                        for o, (r_, c_) in (("C13", (0, 2)), ("C33", (2, 2))):
                            data[f"{o}_reliable"][a, i, j] = float(fwN.C_entry_reliable[r_, c_])
                            data[f"{o}_error_estimate"][a, i, j] = fwN.C_error_estimate[r_, c_]
                        co = _observe_solution(fwN.C, fwN.f, fwN.q)
                        for o in OBSERVABLES:
                            data[f"{o}_corrected"][a, i, j] = co[o]
                    bar.advance(task)
                for k, o in enumerate(OBSERVABLES):
                    aa, se, form = extrapolate(widths, data[f"{o}_exact"][a, i])
                    ext[f"{o}_extrapolated"][a, i], ext[f"{o}_extrapolated_se"][a, i] = aa, se
                    forms[a, i, k] = form
        if len(grid):
            for g, r in enumerate(grid):
                sol, br = _theory(r * y_c, "rnn", kappa)
                q_grid_th[g] = sol.order_parameter()
                for j, N in enumerate(grid_N):
                    ref = exact_chain_moments(r * y_c, N, T=3, init_C=sol.C, kappa=kappa, order=order)
                    q_grid[g, j] = ref.q
                    bar.advance(task)

    coords = dict(arch=list(archs), y_ratio=y_ratios, N=widths)
    ds = xr.Dataset({k: (("arch", "y_ratio", "N"), v) for k, v in data.items()}, coords=coords)
    for o in OBSERVABLES:
        ds[f"{o}_theory"] = (("arch", "y_ratio"), th[o])
        for k in ("extrapolated", "extrapolated_se"):
            ds[f"{o}_{k}"] = (("arch", "y_ratio"), ext[f"{o}_{k}"])
        ds[f"{o}_fit_form"] = (("arch", "y_ratio"), forms[..., OBSERVABLES.index(o)].astype(str))
    ds["broken"] = (("arch", "y_ratio"), broken)
    # the 1/N expansion holds at every width used: only then is the N → ∞ fit in its asymptotic regime
    ds["extrapolation_trusted"] = ds["reliable"].min("N")
    if len(grid):
        ds = ds.assign_coords(y_grid=grid, N_grid=grid_N)
        ds["q_grid_exact"] = (("y_grid", "N_grid"), q_grid)
        ds["q_grid_theory"] = (("y_grid",), q_grid_th)
    ds.attrs.update(kappa=kappa, T=3, y_c=y_c, quadrature_order=order,
                    task="linear one-pattern endpoint chain (fltheory.saddle.linear_chain.chain_task)")
    paths = []
    if out is not None:
        from ..io import ensure_dir, save_dataset

        d = ensure_dir(out)
        paths.append(save_dataset(ds, d / "finite_size.nc"))
        paths.append(plot_finite_size(ds, d / "finite_size.png"))
    return ds, paths


def _f_star(sol):
    """The saddle point's predictor at the supervised step, g_w²c_TT y/(g_w²c_TT + κ) (one pattern)."""
    C = np.asarray(sol.C)
    T = sol.T
    gw2, kappa = sol.params["gw2"], sol.params["kappa"]
    y = float(np.asarray(sol.problem.y).ravel()[0])
    c = gw2 * C[T - 1, T - 1]
    return c / (c + kappa) * y




def plot_finite_size(ds, path: Path) -> Path:
    """q and C₁₃ against N (exact, theory, corrected), the error of theory and corrected theory on
    log–log axes, and the finite-N rounding of the RNN transition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 2, figsize=(10, 8))
    Ns = ds.N.values
    colors = plt.cm.viridis(np.linspace(0, 0.9, ds.sizes["y_ratio"]))
    rnn = ds.sel(arch="rnn") if "rnn" in ds.arch.values else ds.isel(arch=0)
    for i, r in enumerate(ds.y_ratio.values):
        s = rnn.sel(y_ratio=r)
        c = colors[i]
        ok = s["reliable"].values > 0          # the expansion warns (N too small this close to y_c)
        for k, o in enumerate(("q", "C13")):
            ax[0, k].plot(Ns, s[f"{o}_exact"], "o", color=c, label=f"y/y_c = {r:g}")
            ax[0, k].plot(Ns, np.where(ok, s[f"{o}_corrected"], np.nan), "-", color=c)
            ax[0, k].axhline(float(s[f"{o}_theory"]), ls=":", color=c)
        e0 = np.abs(s["C33_exact"] - s["C33_theory"])
        e1 = np.abs(s["C33_exact"] - s["C33_corrected"])
        ax[1, 0].loglog(Ns, e0, "o:", color=c, label=f"y/y_c = {r:g}")
        ax[1, 0].loglog(Ns, np.where(ok, e1, np.nan), "s-", color=c)
    for k, o in enumerate(("q (lag 1, sign-invariant)", "C13 (lag 2)")):
        ax[0, k].set_xscale("log")
        ax[0, k].set_xlabel("width N")
        ax[0, k].set_title(f"RNN {o}\nexact (o), N = ∞ (dotted), 1/N-corrected where reliable (line)",
                           fontsize=9)
    ax[0, 0].legend(fontsize=8)
    ax[1, 0].set_xlabel("width N")
    ax[1, 0].set_title("RNN |C33 error|: saddle point (o, dotted) vs corrected (s)", fontsize=9)
    ref = np.asarray(Ns, float)
    ax[1, 0].loglog(ref, ref[0] / ref * 1e-2, "k--", lw=0.8, label="∝ 1/N")
    ax[1, 0].loglog(ref, (ref[0] / ref) ** 2 * 1e-3, "k-.", lw=0.8, label="∝ 1/N²")
    ax[1, 0].legend(fontsize=8)
    if "y_grid" in ds.coords:
        for j, N in enumerate(ds.N_grid.values):
            ax[1, 1].plot(ds.y_grid, ds.q_grid_exact[:, j], "o-", ms=3, label=f"exact, N = {N}")
        ax[1, 1].plot(ds.y_grid, ds.q_grid_theory, "k-", label="saddle point (N = ∞)")
        ax[1, 1].axvline(1.0, color="gray", lw=0.6)
        ax[1, 1].set_xlabel("y / y_c")
        ax[1, 1].set_ylabel("q")
        ax[1, 1].set_title("finite-N rounding of the RNN transition", fontsize=9)
        ax[1, 1].legend(fontsize=8)
    else:
        ax[1, 1].axis("off")
    fig.suptitle(f"Linear T = 3 chain, κ = {ds.attrs['kappa']:g}: width-N posterior vs theory", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)

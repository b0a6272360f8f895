"""Draw the figure declared in a spec (matplotlib, Agg): theory lines, simulation markers.

- ``x``: a sweep axis (or a zipped parameter) on the horizontal axis;
- ``hue``: one colour per value of another axis;
- ``theory`` variables: lines (averaged over ``seed`` if present);
- ``simulation`` variables: markers at the mean over ``seed`` with error bars (``error``:
  standard error of the mean ``sem`` (default), standard deviation ``std`` or ``none``);
- every other dimension must be fixed by ``select`` (or have length 1).

Legends and the default y label use each variable's ``long_name`` (the label the point function
declares for that output, see :mod:`fltheory.sweep.registry`), else its name.

Written as ``<stem>.png`` and ``<stem>.pdf``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from .spec import SEED_DIM, FigureSpec, SpecError  # noqa: E402

_MARKERS = "osD^vP*X"
_STYLES = ["-", "--", ":", "-."]


def _dim_of(ds: xr.Dataset, name: str) -> str:
    return name if name in ds.dims else ds[name].dims[0]


def _prepare(ds: xr.Dataset, fig: FigureSpec) -> xr.Dataset:
    for i, var in enumerate(fig.theory):
        if var not in ds.data_vars:
            raise SpecError(f"figure.theory[{i}]", f"no variable {var!r} in the results; have {sorted(ds.data_vars)}")
    for i, var in enumerate(fig.simulation):
        if var not in ds.data_vars:
            raise SpecError(f"figure.simulation[{i}]",
                            f"no variable {var!r} in the results; have {sorted(ds.data_vars)}")
    try:
        ds = ds.sel(fig.select)
    except (KeyError, ValueError) as exc:
        raise SpecError("figure.select", f"cannot select {fig.select}: {exc}") from None
    keep = {_dim_of(ds, fig.x)} | ({_dim_of(ds, fig.hue)} if fig.hue else set()) | {SEED_DIM}
    for var in fig.theory + fig.simulation:
        for d in ds[var].dims:
            if d not in keep and ds.sizes[d] != 1:
                raise SpecError("figure.select", f"variable {var!r} has dimension {d!r} of length {ds.sizes[d]}; "
                                f"fix it with figure.select.{d}: <value>")
    # squeeze length-1 dimensions that are not plotted (the x axis may legitimately have one value)
    return ds.squeeze([d for d in ds.dims if d not in keep and ds.sizes[d] == 1], drop=False)


def _var_label(ds: xr.Dataset, var: str) -> str:
    """A variable's declared label (``long_name``), else its name."""
    return str(ds[var].attrs.get("long_name") or var)


def _label(v) -> str:
    v = v.item() if hasattr(v, "item") else v
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def plot_figure(ds: xr.Dataset, fig: FigureSpec, out_dir: str | Path, stem: str = "figure") -> list[Path]:
    """Draw ``fig`` from ``ds`` and write ``<out_dir>/<stem>.png`` and ``.pdf``; return the paths."""
    ds = _prepare(ds, fig)
    xdim = _dim_of(ds, fig.x)
    hdim = _dim_of(ds, fig.hue) if fig.hue else None
    hue_vals = list(range(ds.sizes[hdim])) if hdim else [None]
    colors = plt.get_cmap("viridis" if len(hue_vals) > 10 else "tab10")
    f, ax = plt.subplots(figsize=(6.0, 4.2), constrained_layout=True)
    for h, hi in enumerate(hue_vals):
        sub = ds.isel({hdim: hi}) if hdim else ds
        color = colors(h / max(len(hue_vals) - 1, 1)) if len(hue_vals) > 10 else colors(h % 10)
        hue_label = f"{fig.hue}={_label(sub[fig.hue].values)}" if hdim else ""
        x = np.asarray(sub[fig.x].values)
        order = np.argsort(x, kind="stable")
        for k, var in enumerate(fig.theory):
            da = sub[var]
            y = da.mean(SEED_DIM) if SEED_DIM in da.dims else da
            y = np.asarray(y.transpose(xdim).values)[order] if xdim in y.dims else np.full(len(x), float(y))
            ax.plot(x[order], y, _STYLES[k % len(_STYLES)], color=color,
                    label=", ".join(s for s in (_var_label(ds, var), hue_label) if s))
        for k, var in enumerate(fig.simulation):
            da = sub[var]
            if SEED_DIM in da.dims:
                n = da.count(SEED_DIM)
                mean = da.mean(SEED_DIM)
                sd = da.std(SEED_DIM, ddof=1) if da.sizes[SEED_DIM] > 1 else xr.zeros_like(mean)
                err = {"sem": sd / np.sqrt(n), "std": sd, "none": None}[fig.error]
            else:
                mean, err = da, None
            mean = np.asarray(mean.transpose(xdim).values)[order]
            yerr = None if err is None else np.asarray(err.transpose(xdim).values)[order]
            ax.errorbar(x[order], mean, yerr=yerr, fmt=_MARKERS[k % len(_MARKERS)], color=color, capsize=3,
                        markersize=5, linestyle="none",
                        label=", ".join(s for s in (_var_label(ds, var), hue_label) if s))
    if fig.logx:
        ax.set_xscale("log")
    if fig.logy:
        ax.set_yscale("log")
    ax.set_xlabel(fig.xlabel or fig.x)
    ax.set_ylabel(fig.ylabel or ", ".join(dict.fromkeys(_var_label(ds, v) for v in fig.theory + fig.simulation)))
    ax.set_title(fig.title or ds.attrs.get("spec_name", ""))
    ax.legend(fontsize=7, frameon=False)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    f.savefig(paths[0], dpi=150)
    f.savefig(paths[1])
    plt.close(f)
    return paths

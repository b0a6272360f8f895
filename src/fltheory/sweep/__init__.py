"""Experiment engine: declarative sweeps, a resumable result store, local/Dask execution, figures.

Quick use::

    from fltheory.sweep import load_spec, run_sweep, plot_figure
    res = run_sweep("spec.yaml")              # or a dict; resumes from ./fltheory-out/sweep/<name>/
    res.dataset                               # xarray.Dataset: axes -> dims, observables -> variables

Modules: ``spec`` (pydantic validation), ``registry`` (function names, :func:`declare` for their
outputs and parameter checks), ``hashing`` (keys, seeds), ``store`` (atomic point files),
``executors`` (serial / spawn pool / Dask), ``runner`` (the loop and dataset assembly), ``figures``
(matplotlib). The engine imports no domain code: the point functions live with their experiments
(``fltheory.experiments``) and are imported by name when a spec asks for them. See
docs/experiments.md and docs/architecture.md.
"""
from .registry import PointInfo, declare, register
from .runner import SweepError, SweepResult, assemble, load_results, run_sweep, sweep_dir
from .spec import SpecError, SweepSpec, load_spec


def plot_figure(ds, fig, out_dir, stem: str = "figure"):
    """Lazy wrapper of :func:`fltheory.sweep.figures.plot_figure` (imports matplotlib on use)."""
    from .figures import plot_figure as _plot

    return _plot(ds, fig, out_dir, stem)


def packaged_specs() -> dict[str, object]:
    """Name -> path (importlib Traversable) of the spec files shipped in ``fltheory/specs/``."""
    from importlib.resources import files

    root = files("fltheory") / "specs"
    if not root.is_dir():
        return {}
    return {p.name[: -len(".yaml")]: p for p in sorted(root.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".yaml")}


__all__ = ["register", "declare", "PointInfo", "load_spec", "run_sweep", "assemble", "load_results", "sweep_dir", "plot_figure",
           "packaged_specs", "SweepSpec", "SweepResult", "SpecError", "SweepError"]

"""Run a sweep: skip finished points, farm out the rest, store each as it lands, assemble.

:func:`run_sweep` is the whole engine; the ``fltheory sweep`` command is a thin wrapper.
"""
from __future__ import annotations

import json
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr
from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)
from rich.table import Table

from .. import __version__
from ..io import output_dir, save_dataset
from .executors import make_executor
from .spec import SEED_DIM, SpecError, SweepSpec, load_spec
from .store import PointRecord, Store


class SweepError(RuntimeError):
    """The results of a sweep cannot be assembled (e.g. an observable changes shape)."""


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns."""

    dataset: xr.Dataset
    path: Path  # results.nc
    store: Store
    n_points: int
    n_reused: int
    n_computed: int
    failures: list[dict] = field(default_factory=list)


def sweep_dir(spec: SweepSpec, out: str | Path | None = None, command: str = "sweep") -> Path:
    """``out`` if given, else ``./fltheory-out/<command>/<spec name>/``: checked (an unusable path is an
    error naming ``out``), created by the store when the first point is written."""
    return output_dir(f"{command}/{spec.name}", out)


def _versions() -> dict[str, str]:
    """Package and dependency versions (:func:`fltheory.io.provenance_attrs` without the creation date:
    a resumed sweep must assemble the same dataset as an uninterrupted one)."""
    from ..io import provenance_attrs

    return {k: v for k, v in provenance_attrs().items() if k != "date_created"}


def assemble(spec: SweepSpec, records: dict[str, PointRecord], failed_keys: set[str] | None = None) -> xr.Dataset:
    """Build the Dataset: sweep axes (and ``seed``) as dims, observables as variables.

    Missing or failed points are NaN; the boolean variable ``failed`` marks failures. Array
    observables get dims ``<var>_dim0, ...`` unless the function returned a named DataArray.
    Integer/boolean observables are stored as float64 so that missing points can be NaN. A
    declared output's label (:attr:`SweepSpec.outputs`) becomes its ``long_name`` attribute.
    """
    failed_keys = failed_keys or set()
    points = spec.points()
    dims = spec.dims()
    shape = tuple(dims.values())
    info: dict[str, tuple] = {}
    for p in points:
        rec = records.get(p.key)
        if rec is None:
            continue
        for var, a in rec.values.items():
            vdims = rec.dims.get(var) or [f"{var}_dim{i}" for i in range(a.ndim)]
            if var not in info:
                info[var] = (list(vdims), a.shape, a.dtype, rec.coords.get(var, {}), p)
            else:
                d0, s0, dt0, _, p0 = info[var]
                if list(vdims) != d0 or a.shape != s0:
                    raise SweepError(
                        f"observable {var!r} has dims {list(vdims)} shape {a.shape} at point {p.params} "
                        f"but dims {d0} shape {s0} at point {p0.params}; observables must have the same "
                        "shape at every point"
                    )
                info[var] = (d0, s0, np.result_type(dt0, a.dtype), info[var][3], p0)
    data_vars = {}
    for var, (vdims, vshape, dtype, _, _) in info.items():
        dtype = np.complex128 if np.dtype(dtype).kind == "c" else np.float64
        arr = np.full(shape + tuple(vshape), np.nan, dtype=dtype)
        for p in points:
            rec = records.get(p.key)
            if rec is not None and var in rec.values:
                arr[p.index] = rec.values[var]
        data_vars[var] = (list(dims) + vdims, arr)
    failed = np.zeros(shape, dtype=bool)
    for p in points:
        if p.key in failed_keys:
            failed[p.index] = True
    data_vars["failed"] = (list(dims), failed)
    coords = {name: (dim, np.asarray(vals)) for name, (dim, vals) in spec.coords().items()}
    for var, (_, _, _, vcoords, _) in info.items():
        for c, vals in vcoords.items():
            coords.setdefault(c, (c, vals))
    attrs = {"spec_name": spec.name, "description": spec.description, "function": spec.function_path,
             "spec": spec.to_json(), **_versions()}
    ds = xr.Dataset(data_vars, coords=coords, attrs=attrs)
    for var, label in (spec.outputs or {}).items():
        if var in ds.data_vars:
            ds[var].attrs["long_name"] = label
    ds["failed"].attrs["long_name"] = "point failed"
    return ds


def _task(spec: SweepSpec, p, reserved: list[str]) -> dict:
    return {"key": p.key, "function": spec.function_path, "params": p.params,
            "seed": p.seed if spec.accepts_seed else None, "reserved": reserved}


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("[cyan]{task.fields[running]} running[/] [red]{task.fields[failed]} failed[/]"),
        TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
        console=console, disable=not enabled, transient=False,
    )


def run_sweep(spec: SweepSpec | dict | str | Path, out: str | Path | None = None, *, executor: str = "local",
              workers: int | None = None, scheduler: str | None = None, processes: bool = True,
              profile: str | None = None, progress: bool = True, summary: bool | None = None,
              console: Console | None = None) -> SweepResult:
    """Run (or resume) a sweep and return the assembled result.

    ``spec``: a :class:`SweepSpec`, a dict, a YAML path or YAML text (validated before any work).
    ``out``: the store directory (default ``./fltheory-out/sweep/<name>/``). Points already in the
    store are reused; failed and missing points are (re)computed. ``executor``: ``local`` (spawn
    process pool, default), ``serial`` or ``dask``; ``scheduler`` (an address) implies ``dask``;
    without it ``dask`` starts a loopback ``LocalCluster`` of ``workers`` workers
    (``processes=False``: threads in this process). ``progress``: show the progress bar;
    ``summary`` (default: ``progress``): print the counts and a table of failed points.
    """
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec, profile=profile)
    console = console or Console(stderr=True)
    store = Store(sweep_dir(spec, out))
    store.write_spec(spec.to_yaml())
    points = spec.points()
    records: dict[str, PointRecord] = {}
    todo = []
    for p in points:
        rec = store.load_point(p.key)
        if rec is None:
            todo.append(p)
        else:
            records[p.key] = rec
    if store.corrupt:
        console.print(f"[yellow]{len(store.corrupt)} corrupt point file(s) removed; recomputing them")
    n_reused = len(records)
    reserved = sorted(set(spec.coords()) | set(spec.dims()) | {"failed"})
    failures: list[dict] = []
    failed_keys: set[str] = set()

    def handle(p, res: dict):
        if res.get("ok"):
            rec = PointRecord(p.key, res["values"], res["dims"], res.get("coords", {}),
                              {"params": p.params, "replicate": p.replicate, "seed": p.seed,
                               "version": __version__, "function": spec.function_path,
                               "elapsed": res.get("elapsed", 0.0)})
            store.write_point(rec)
            records[p.key] = rec
        else:
            info = {"key": p.key, "params": p.params, "replicate": p.replicate, "seed": p.seed,
                    "error": res.get("error", "?"), "traceback": res.get("traceback", "")}
            store.write_failure(p.key, info)
            failures.append(info)
            failed_keys.add(p.key)

    if todo:
        ex = make_executor(executor, workers=workers, scheduler=scheduler, processes=processes, n_tasks=len(todo))
        pending: dict = {}
        queue = iter(todo)
        desc = f"{spec.name} ({ex.name}" + (f", {n_reused} reused)" if n_reused else ")")
        try:
            with _progress(console, progress) as bar:
                task_id = bar.add_task(desc, total=len(todo), running=0, failed=0)
                while True:
                    while len(pending) < ex.capacity:
                        p = next(queue, None)
                        if p is None:
                            break
                        pending[ex.submit(_task(spec, p, reserved))] = p
                    if not pending:
                        break
                    done, _ = ex.wait(list(pending), timeout=0.25)
                    broken = False
                    for fut in done:
                        p = pending.pop(fut)
                        try:
                            res = fut.result()
                        except BrokenProcessPool as exc:
                            broken = True
                            res = {"ok": False, "error": f"worker process died: {exc}", "traceback": ""}
                        except Exception as exc:  # noqa: BLE001 - infrastructure failure of one task
                            res = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": ""}
                        handle(p, res)
                        bar.advance(task_id)
                    if broken:
                        ex.recover()
                    bar.update(task_id, running=len(pending), failed=len(failures))
        except BaseException:  # Ctrl-C etc.: finished points are already stored; do not wait
            ex.close(wait=False)
            raise
        ex.close()

    ds = assemble(spec, records, failed_keys)
    path = save_dataset(ds, store.results_path)
    result = SweepResult(ds, path, store, len(points), n_reused, len(todo), failures)
    if progress if summary is None else summary:
        print_summary(result, console)
    return result


def print_summary(result: SweepResult, console: Console) -> None:
    """One line of counts, then a table of failed points (parameters and error)."""
    ok = result.n_points - len(result.failures)
    console.print(f"{result.n_points} points: {result.n_reused} reused, {result.n_computed} computed, "
                  f"{len(result.failures)} failed ({ok} available)")
    if result.failures:
        table = Table(title="failed points (tracebacks in failures/)", show_lines=False)
        table.add_column("key")
        table.add_column("parameters")
        table.add_column("error", style="red")
        for f in result.failures:
            table.add_row(f["key"][:12], json.dumps(f["params"], sort_keys=True), f["error"])
        console.print(table)


def load_results(spec: SweepSpec, out: str | Path | None = None, command: str = "sweep") -> xr.Dataset:
    """The results of ``spec``: ``results.nc`` if it matches the spec, else assembled from the
    point files (a partial sweep gives NaN where points are missing)."""
    root = Path(out) if out is not None else Path.cwd() / "fltheory-out" / command / spec.name
    nc = root / "results.nc"
    if nc.exists():
        ds = xr.load_dataset(nc, engine="h5netcdf")
        if ds.attrs.get("spec") == spec.to_json() and ds.attrs.get("fltheory_version") == __version__:
            return ds
    if not (root / "points").is_dir():
        raise SpecError("spec", f"no results for {spec.name!r} in {root}; run `fltheory sweep` first")
    store = Store(root)
    records = {p.key: r for p in spec.points() if (r := store.load_point(p.key)) is not None}
    if not records:
        raise SpecError("spec", f"no finished points for {spec.name!r} in {root}; run `fltheory sweep` first")
    failed = {p.key for p in spec.points() if p.key not in records and store.failure_path(p.key).exists()}
    return assemble(spec, records, failed)


__all__ = ["SweepResult", "SweepError", "run_sweep", "assemble", "load_results", "sweep_dir", "SEED_DIM"]

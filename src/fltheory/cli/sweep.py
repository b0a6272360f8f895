"""``fltheory sweep``, ``fltheory plot`` and ``fltheory reproduce`` (the experiment engine, issue #8)."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Optional

import typer

from ..io import console, report_written

_OUT = typer.Option(None, "--out", help="Result directory (default ./fltheory-out/<command>/<spec name>/).")
_PROFILE = typer.Option(None, "--profile", help="Apply a named profile of the spec (e.g. `full`).")
_EXECUTOR = typer.Option("local", "--executor", help="local (spawn process pool), serial, or dask.")
_DASK = typer.Option(False, "--dask", help="Start a loopback Dask LocalCluster of --workers workers.")
_SCHED = typer.Option(None, "--scheduler", help="Address of an existing Dask scheduler, e.g. tcp://host:8786.")
_WORKERS = typer.Option(None, "--workers", min=1, help="Local pool size / LocalCluster workers.")
_PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show the progress bar and summary.")


def _run(spec, out: Path | None, command: str, executor: str, dask: bool, scheduler: str | None,
         workers: int | None, progress: bool, plot: bool) -> None:
    from ..sweep import run_sweep, sweep_dir

    root = sweep_dir(spec, out, command=command)
    res = run_sweep(spec, root, executor="dask" if dask else executor, workers=workers, scheduler=scheduler,
                    progress=progress, summary=True, console=console)
    written = [res.path]
    if plot and spec.figure is not None:
        from ..sweep.figures import plot_figure

        written += plot_figure(res.dataset, spec.figure, root)
    report_written(written)
    if res.failures:
        console.print(f"[red]{len(res.failures)} point(s) failed; tracebacks in {res.store.failures_dir}")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep_cmd(
        spec: Path = typer.Argument(..., help="Sweep spec (YAML)."),
        out: Optional[Path] = _OUT, profile: Optional[str] = _PROFILE, executor: str = _EXECUTOR,
        dask: bool = _DASK, scheduler: Optional[str] = _SCHED, workers: Optional[int] = _WORKERS,
        progress: bool = _PROGRESS,
        plot: bool = typer.Option(True, "--plot/--no-plot", help="Draw the declared figure at the end."),
    ) -> None:
        """Run (or resume) a declarative sweep; results in ./fltheory-out/sweep/<name>/results.nc."""
        from ..sweep import load_spec

        _run(load_spec(spec, profile=profile), out, "sweep", executor, dask, scheduler, workers, progress, plot)

    @app.command("plot")
    def plot_cmd(
        spec: Path = typer.Argument(..., help="Sweep spec (YAML) whose results to draw."),
        out: Optional[Path] = _OUT, profile: Optional[str] = _PROFILE,
    ) -> None:
        """Draw the spec's declared figure (PNG + PDF) from its results (partial sweeps too)."""
        from ..sweep import SpecError, load_results, load_spec, sweep_dir
        from ..sweep.figures import plot_figure

        s = load_spec(spec, profile=profile)
        if s.figure is None:
            raise SpecError("figure", "the spec declares no figure")
        ds = load_results(s, out)
        report_written(plot_figure(ds, s.figure, sweep_dir(s, out)))

    @app.command("reproduce")
    def reproduce_cmd(
        name: Optional[str] = typer.Argument(None, help="Packaged spec name; omit to list them."),
        out: Optional[Path] = _OUT, profile: Optional[str] = _PROFILE, executor: str = _EXECUTOR,
        dask: bool = _DASK, scheduler: Optional[str] = _SCHED, workers: Optional[int] = _WORKERS,
        progress: bool = _PROGRESS,
    ) -> None:
        """Run a packaged paper-figure spec (small by default; `--profile full` for the paper size)."""
        from ..sweep import SpecError, load_spec, packaged_specs

        specs = packaged_specs()
        if name is None:
            for n, path in specs.items():
                s = load_spec(path.read_text())
                console.print(f"{n}: {textwrap.shorten(s.description, width=110, placeholder=' …')}",
                              soft_wrap=True)
            return
        if name not in specs:
            raise SpecError("name", f"no packaged spec {name!r}; choose one of {sorted(specs)}")
        _run(load_spec(specs[name].read_text(), profile=profile), out, "reproduce", executor, dask, scheduler,
             workers, progress, True)

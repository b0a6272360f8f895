"""``fltheory lowrank``: low-rank RNN learning dynamics in overlap space (issues #6, #16).

One command, ``--task`` picks the experiment: a theory-vs-network comparison on one task (impulse,
oscillation, flipflop, decision, teacher), the A→B→A memory decoding (memory) or the twins (twins).
Every option is validated before anything is computed or created (conventions §8).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

COMPARE_TASKS = ("impulse", "oscillation", "flipflop", "decision", "teacher")
CLI_TASKS = COMPARE_TASKS + ("memory", "memory-map", "twins", "optimizers")
# per-task defaults: rank, phi, N, eta, epochs
DEFAULTS = {"impulse": (1, "linear", 500, 5e-3, 2000), "oscillation": (2, "linear", 500, 5e-3, 10000),
            "flipflop": (1, "erf", 600, 5e-2, 2000), "decision": (1, "erf", 600, 5e-2, 1000),
            "teacher": (1, "erf", 600, 5e-2, 1000), "memory": (1, "linear", 500, 1e-2, 0),
            "memory-map": (1, "linear", 500, 1e-2, 0),
            "twins": (1, "erf", 600, 0.1, 300), "optimizers": (1, "linear", 500, 5e-3, 1000)}


def _parse_list(name: str, text: str, options) -> list[str]:
    from .._validate import FLTheoryInputError, choice

    items = [s.strip() for s in text.split(",") if s.strip()]
    if not items:
        raise FLTheoryInputError(f"{name}: expected a comma-separated list from {list(options)}, got {text!r}")
    return [choice(name, s, options) for s in items]


def _parse_floats(name: str, text: str) -> list[float]:
    from .._validate import FLTheoryInputError, positive

    try:
        values = [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise FLTheoryInputError(f"{name}: expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise FLTheoryInputError(f"{name}: expected at least one value, got {text!r}")
    return [positive(name, v) for v in values]


def register(app: typer.Typer) -> None:
    @app.command("lowrank")
    def lowrank(
        task: str = typer.Option("impulse", help="impulse | oscillation | flipflop | decision | teacher "
                                                 "(network vs overlap ODE) | memory (A only vs A-B-A-B-A decoding) | "
                                                 "memory-map (its accuracy vs η, noise, phase length) | twins | "
                                                 "optimizers (conservation law under flow, GD, Adam)"),
        rank: Optional[int] = typer.Option(None, help="1 or 2  (default: 2 for oscillation, else 1)"),
        phi: Optional[str] = typer.Option(None, help="linear | erf  (default: erf for flipflop, decision, "
                                                     "teacher, twins; else linear)"),
        n: Optional[int] = typer.Option(None, "--N", help="width  (default: 500; 600 for flipflop, decision, "
                                                          "teacher, twins)"),
        eta: Optional[float] = typer.Option(None, help="overlap learning rate (vector GD step N·η)  "
                                                       "(default: 5e-3; 5e-2 for flipflop, decision, teacher; "
                                                       "0.1 for twins; 1e-2 for memory; memory-map: the grid "
                                                       "5e-3,1e-2 unless given)"),
        epochs: Optional[int] = typer.Option(None, help="epochs  (default: 2000; 10000 for oscillation; 1000 "
                                                        "for decision, teacher, optimizers; 300 for twins; "
                                                        "memory: 300 epochs per phase, final noisy phase 2x; "
                                                        "memory-map: the grid 100,300 unless given)"),
        readout: str = typer.Option("next", help="next: y_k from x_{k+1} | current: y_k from x_k (the paper's; "
                                                 "conventions §10)"),
        noise: Optional[float] = typer.Option(None, help="decision, teacher: input noise; memory: target noise "
                                                         "of the final phase  (default: 0.1, 0.5, 0.1)"),
        fresh_batches: bool = typer.Option(False, "--fresh-batches",
                                           help="flipflop: a fresh batch every epoch (the paper's protocol)"),
        twin_tasks: str = typer.Option("decision,teacher",
                                       help="twins: comma-separated tasks from flipflop, decision, teacher, "
                                            "impulse"),
        gd_etas: str = typer.Option("5e-3,2e-2,4e-2", help="optimizers: comma-separated GD step sizes η (the "
                                                           "gradient flow uses the first)"),
        adam_lr: float = typer.Option(1e-3, help="Adam learning rate for the conservation panel (0: skip; "
                                                 "optimizers: must be > 0)"),
        method: str = typer.Option("flow", help="flow (gradient-flow ODE) | gd (exact overlap map)"),
        seed: int = typer.Option(0, help="PRNG seed"),
        n_networks: int = typer.Option(40, help="memory task: networks per history"),
        balanced: bool = typer.Option(False, "--balanced", help="memory, memory-map: balanced initialisation "
                                                                "(K = 0; docs/theory/lowrank.md §5)"),
        out: Optional[Path] = typer.Option(None, help="output directory (default ./fltheory-out/lowrank)"),
    ) -> None:
        """Full low-rank RNN vs the closed overlap ODE vs naive visible-only descent on one task, the
        A→B→A memory decoding (--task memory) or twins with equal visible and different invisible
        overlaps (--task twins). Writes a netCDF dataset and a PNG, and prints their paths."""
        from .. import io
        from .._validate import FLTheoryInputError, choice, positive, positive_int
        from ..lowrank.gain import get_lowrank_activation
        from ..lowrank.overlaps import Layout
        from ..lowrank.tasks import check_readout

        # --- every option is checked before anything is computed or created -------------------------
        choice("task", task, CLI_TASKS)
        readout = check_readout(readout)
        choice("method", method, ("flow", "gd"))
        r0, p0, n0, e0, ep0 = DEFAULTS[task]
        eta_given = eta is not None
        pick = lambda given, default: default if given is None else given  # noqa: E731
        rank, phi, n, eta = pick(rank, r0), pick(phi, p0), pick(n, n0), pick(eta, e0)
        layout = Layout(rank)
        act = get_lowrank_activation(phi)
        positive_int("N", n, minimum=layout.n)
        positive("eta", eta)
        seed = positive_int("seed", seed, minimum=0)
        if epochs is not None:
            positive_int("epochs", epochs)
        if adam_lr < 0:
            raise FLTheoryInputError(f"adam_lr: must be >= 0 (0 skips Adam), got {adam_lr}")
        if noise is not None:
            if task not in ("decision", "teacher", "memory"):
                raise FLTheoryInputError(f"noise: only the decision, teacher and memory tasks take a noise level, "
                                         f"not {task}")
            positive("noise", noise, allow_zero=True)
        if fresh_batches and task != "flipflop":
            raise FLTheoryInputError(f"fresh_batches: only the flipflop task draws a fresh batch per epoch, "
                                     f"not {task}")
        if task.startswith("memory") and rank != 1:
            raise FLTheoryInputError("rank: the memory experiment is rank 1")
        if balanced and not task.startswith("memory"):
            raise FLTheoryInputError(f"balanced: only the memory tasks take a balanced initialisation, not {task}")
        if task.startswith("memory"):
            positive_int("n_networks", n_networks, minimum=5)
        if task.startswith("memory") and not act.linear:
            raise FLTheoryInputError("phi: the memory experiment replays the exact linear overlap map; use linear")
        if task == "twins":
            from ..lowrank.twins import TWIN_TASKS

            tasks = _parse_list("twin_tasks", twin_tasks, TWIN_TASKS)
        if task == "optimizers":
            if not act.linear:
                raise FLTheoryInputError("phi: the conservation law holds for linear φ only; use linear")
            if adam_lr <= 0:
                raise FLTheoryInputError(f"adam_lr: the optimizers comparison needs an Adam rate > 0, got {adam_lr}")
            etas = _parse_floats("gd_etas", gd_etas)
        outdir = io.output_dir("lowrank", out)
        stem = f"lowrank_{task.replace('-', '_')}" + ("_current" if readout == "current" else "")

        if task == "memory":
            if balanced:
                stem += "_balanced"
            _memory(io, outdir, stem, n_networks=n_networks, N=n, eta=eta, seed=seed, readout=readout,
                    noise=0.1 if noise is None else noise, balanced=balanced,
                    **({} if epochs is None else {"phase_epochs": epochs, "final_epochs": 2 * epochs}))
            return
        if task == "memory-map":
            if balanced:
                stem += "_balanced"
            _memory_map(io, outdir, stem, n_networks=n_networks, N=n, seed=seed, readout=readout, balanced=balanced,
                        **({"etas": (eta,)} if eta_given else {}),
                        **({} if epochs is None else {"phase_epochs": (epochs,)}))
            return
        if task == "optimizers":
            _optimizers(io, outdir, stem, rank=rank, N=n, etas=etas, adam_lr=adam_lr, epochs=pick(epochs, ep0),
                        seed=seed, readout=readout)
            return
        if task == "twins":
            _twins(io, outdir, stem, tasks=tasks, rank=rank, phi=act, N=n, eta=eta, epochs=pick(epochs, ep0),
                   seed=seed, method=method, readout=readout)
            return

        from ..lowrank.compare import lowrank_task

        kw = {}
        if task == "flipflop":
            kw["fresh_batches"] = fresh_batches
        if task in ("decision", "teacher") and noise is not None:
            kw["noise"] = noise
        if task == "teacher":
            kw.update(rank=rank, phi=act, readout=readout, seed=seed)
        built = lowrank_task(task, **kw)
        _compare(io, outdir, stem, built, rank=rank, phi=act, N=n, eta=eta, epochs=pick(epochs, ep0), seed=seed,
                 adam_lr=adam_lr or None, method=method, readout=readout)


def _progress_bar():
    from rich.progress import Progress

    bar = Progress()
    ids = {}

    def progress(stage, done, total):
        if stage not in ids:
            ids[stage] = bar.add_task(stage, total=total)
        bar.update(ids[stage], completed=done)

    return bar, progress


def _compare(io, outdir, stem, task, **kw):
    from ..lowrank import compare
    from ..lowrank.compare import overlap_errors
    from ..lowrank.figures import plot_compare

    bar, progress = _progress_bar()
    with bar:
        ds = compare(task, progress=progress, **kw)
    io.ensure_dir(outdir)
    paths = [io.save_dataset(ds, outdir / f"{stem}.nc"), plot_compare(ds, outdir / f"{stem}.png")]
    e = overlap_errors(ds)
    msg = f"overlap ODE vs network: max |Δσ| = {e['max']:.3g}, rms = {e['rms']:.3g}"
    if "sigma_naive" in ds:
        msg += f"; naive: max |Δσ| = {overlap_errors(ds, 'naive')['max']:.3g}"
    io.console.print(msg)
    io.report_written(paths)


def _memory(io, outdir, stem, **kw):
    import numpy as np
    from rich.progress import Progress

    from ..lowrank.figures import plot_memory_protocol
    from ..lowrank.memory import MEMORY_FEATURES, memory_protocol, memory_protocol_dataset

    with Progress(transient=True) as bar:
        bar.add_task("A only vs A-B-A-B-A (overlap space, vmapped)", total=None)
        res = memory_protocol(**kw)
    ds = memory_protocol_dataset(res)
    io.ensure_dir(outdir)
    paths = [io.save_dataset(ds, outdir / f"{stem}.nc"), plot_memory_protocol(ds, outdir / f"{stem}.png")]
    io.console.print(f"decoding accuracy over {res['n']} held-out networks (95 % Clopper-Pearson interval; "
                     "chance 0.5):", highlight=False)
    for f in MEMORY_FEATURES:
        if np.isfinite(res[f"accuracy_{f}"]):
            lo, hi = res[f"ci_{f}"]
            io.console.print(f"  {f}: {res[f'accuracy_{f}']:.3f} ({lo:.3f} .. {hi:.3f}), p = {res[f'p_{f}']:.2g}",
                             highlight=False)
    io.report_written(paths)


def _twins(io, outdir, stem, **kw):
    from ..lowrank.figures import plot_twins
    from ..lowrank.twins import twin_errors, twins

    bar, progress = _progress_bar()
    with bar:
        ds = twins(progress=lambda stage, done, total: progress("twins", done, total), **kw)
    io.ensure_dir(outdir)
    paths = [io.save_dataset(ds, outdir / f"{stem}.nc"), plot_twins(ds, outdir / f"{stem}.png")]
    for name, e in twin_errors(ds).items():
        io.console.print(f"{name}: twins' output gap at init {e['output_gap0_net']:.2g}; max separation "
                         f"|ΔL| {e['loss_gap_net']:.3g} (ODE {e['loss_gap_theory']:.3g}), visible |Δσ| "
                         f"{e['visible_gap_net']:.3g} (ODE {e['visible_gap_theory']:.3g}); ODE vs network "
                         f"rms |Δσ| {e['rms']:.3g}", highlight=False)
    io.report_written(paths)


def _optimizers(io, outdir, stem, **kw):
    from ..lowrank.figures import plot_optimizers
    from ..lowrank.optimizers import optimizer_comparison

    bar, progress = _progress_bar()
    with bar:
        ds = optimizer_comparison(progress=lambda stage, done, total: progress("optimizers", done, total), **kw)
    io.ensure_dir(outdir)
    paths = [io.save_dataset(ds, outdir / f"{stem}.nc"), plot_optimizers(ds, outdir / f"{stem}.png")]
    for name in ds["optimizer"].values:
        d = ds.sel(optimizer=name)
        io.console.print(f"{name}: final loss {float(d['loss'][-1]):.3g}, max |C − C(0)| "
                         f"{float(abs(d['drift']).max()):.3g}", highlight=False)
    io.report_written(paths)


def _memory_map(io, outdir, stem, **kw):
    from ..lowrank.figures import plot_memory_grid
    from ..lowrank.memory import memory_map

    bar, progress = _progress_bar()
    with bar:
        ds = memory_map(progress=lambda done, total: progress("memory regime map", done, total), **kw)
    io.ensure_dir(outdir)
    paths = [io.save_dataset(ds, outdir / f"{stem}.nc"), plot_memory_grid(ds, outdir / f"{stem}.png")]
    for eta in ds["eta"].values:
        for noise in ds["noise"].values:
            for e in ds["phase_epochs"].values:
                d = ds.sel(eta=eta, noise=noise, phase_epochs=e)
                io.console.print(f"eta {eta:g}, noise {noise:g}, phases {e}: " + ", ".join(
                    f"{f} {float(d['accuracy'].sel(features=f)):.3f} ({float(d['ci_low'].sel(features=f)):.2f}.."
                    f"{float(d['ci_high'].sel(features=f)):.2f})" for f in ("visible", "invisible", "invisible|visible")),
                    highlight=False)
    io.report_written(paths)

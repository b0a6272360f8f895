"""``fltheory lowrank``: low-rank RNN learning dynamics in overlap space (issues #6, #16).

One command, ``--task`` picks the experiment: a theory-vs-network comparison on one task (impulse,
oscillation, flipflop, decision, teacher), the A-B-A-B-A memory decoding (memory, memory-map), the twins
(twins) or the optimisers (optimizers). This module only parses the options and calls
:func:`fltheory.experiments.lowrank.lowrank_experiment`, which checks every value before anything is
computed or created (conventions §8), runs the experiment and writes its dataset and figure.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def _parse_list(text: str) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]`` (the values are checked by the experiment)."""
    return [s.strip() for s in text.split(",") if s.strip()]


def _parse_floats(name: str, text: str) -> list[float]:
    """``"1e-3,2e-3"`` -> floats; a non-number is an error naming ``name`` (ranges: the experiment)."""
    from .._validate import FLTheoryInputError

    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise FLTheoryInputError(f"{name}: expected comma-separated numbers, got {text!r}") from None


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
        from ..experiments.lowrank import lowrank_experiment

        # parse the list options here; lowrank_experiment checks every value before computing or creating
        tasks = _parse_list(twin_tasks)
        etas = _parse_floats("gd_etas", gd_etas)
        outdir = io.output_dir("lowrank", out)
        bar, progress = _progress_bar()
        with bar:
            _, paths, summary = lowrank_experiment(
                task, outdir, rank=rank, phi=phi, N=n, eta=eta, epochs=epochs, readout=readout, noise=noise,
                fresh_batches=fresh_batches, twin_tasks=tasks, gd_etas=etas, adam_lr=adam_lr, method=method,
                seed=seed, n_networks=n_networks, balanced=balanced, progress=progress)
        for line in summary:
            io.console.print(line, highlight=False, markup=False)
        io.report_written(paths)


def _progress_bar():
    from rich.progress import Progress

    bar = Progress()
    ids = {}

    def progress(stage, done, total):
        if stage not in ids:
            ids[stage] = bar.add_task(stage, total=total)
        bar.update(ids[stage], completed=done, total=total)

    return bar, progress

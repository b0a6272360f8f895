"""``fltheory lowrank``: low-rank RNN learning dynamics in overlap space (issue #6)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("lowrank")
    def lowrank(
        task: str = typer.Option("impulse", help="impulse | oscillation | flipflop | memory"),
        rank: Optional[int] = typer.Option(None, help="1 or 2  [default: 2 for oscillation, else 1]"),
        phi: Optional[str] = typer.Option(None, help="linear | erf  [default: erf for flipflop, else linear]"),
        n: Optional[int] = typer.Option(None, "--N", help="width  [default: 500; 600 for flipflop]"),
        eta: Optional[float] = typer.Option(None, help="overlap learning rate (vector GD step N·η)  "
                                                       "[default: 5e-3; 5e-2 for flipflop]"),
        epochs: Optional[int] = typer.Option(None, help="epochs  [default: 2000; 10000 for oscillation]"),
        adam_lr: float = typer.Option(1e-3, help="Adam learning rate for the conservation panel (0: skip)"),
        method: str = typer.Option("flow", help="flow (gradient-flow ODE) | gd (exact overlap map)"),
        seed: int = typer.Option(0, help="PRNG seed"),
        n_networks: int = typer.Option(40, help="memory task: networks per history"),
        out: Optional[Path] = typer.Option(None, help="output directory (default ./fltheory-out/lowrank)"),
    ) -> None:
        """Full low-rank RNN vs the closed overlap ODE vs naive visible-only descent (or the A→B→A
        memory decoding with --task memory). Writes a netCDF dataset and a PNG."""
        from rich.progress import Progress

        from .. import io
        from .._validate import FLTheoryInputError
        from ..lowrank import compare, decode_history, memory_dataset
        from ..lowrank.figures import plot_compare, plot_memory

        outdir = io.output_dir("lowrank", out)
        if task == "memory":
            with Progress(transient=True) as bar:
                bar.add_task("A-only vs A→B→A (overlap space, vmapped)", total=None)
                res = decode_history(n_networks=n_networks, N=500 if n is None else n,
                                     eta=5e-3 if eta is None else eta, seed=seed)
            ds = memory_dataset(res)
            io.ensure_dir(outdir)
            paths = [io.save_dataset(ds, outdir / "lowrank_memory.nc"), plot_memory(res, outdir / "lowrank_memory.png")]
            io.console.print(f"decoding accuracy: visible {res['accuracy_visible']:.3f}, "
                             f"invisible {res['accuracy_invisible']:.3f}, all {res['accuracy_all']:.3f}")
            io.report_written(paths)
            return
        defaults = {"impulse": (1, "linear", 500, 5e-3, 2000), "oscillation": (2, "linear", 500, 5e-3, 10000),
                    "flipflop": (1, "erf", 600, 5e-2, 2000)}
        if task not in defaults:
            raise FLTheoryInputError(f"task: unknown {task!r}; choose impulse, oscillation, flipflop or memory")
        r0, p0, n0, e0, ep0 = defaults[task]
        pick = lambda given, default: default if given is None else given  # noqa: E731
        rank, phi, n, eta, epochs = pick(rank, r0), pick(phi, p0), pick(n, n0), pick(eta, e0), pick(epochs, ep0)
        with Progress() as bar:
            ids = {}

            def progress(stage, done, total):
                if stage not in ids:
                    ids[stage] = bar.add_task(stage, total=total)
                bar.update(ids[stage], completed=done)

            ds = compare(task, rank=rank, phi=phi, N=n, eta=eta, epochs=epochs, seed=seed,
                         adam_lr=adam_lr or None, method=method, progress=progress)
        stem = f"lowrank_{task}"
        io.ensure_dir(outdir)
        paths = [io.save_dataset(ds, outdir / f"{stem}.nc"), plot_compare(ds, outdir / f"{stem}.png")]
        from ..lowrank.compare import overlap_errors

        e = overlap_errors(ds)
        msg = f"overlap ODE vs network: max |Δσ| = {e['max']:.3g}, rms = {e['rms']:.3g}"
        if "sigma_naive" in ds:
            msg += f"; naive: max |Δσ| = {overlap_errors(ds, 'naive')['max']:.3g}"
        io.console.print(msg)
        io.report_written(paths)

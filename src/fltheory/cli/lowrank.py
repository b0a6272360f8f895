"""``fltheory lowrank``: low-rank RNN learning dynamics in overlap space (issue #6)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("lowrank")
    def lowrank(
        task: str = typer.Option("impulse", help="impulse | oscillation | flipflop | memory"),
        rank: int = typer.Option(0, help="1 or 2 (default: 2 for oscillation, else 1)"),
        phi: str = typer.Option("", help="linear | erf (default: erf for flipflop, else linear)"),
        n: int = typer.Option(0, "--N", help="width (default 500; 600 for flipflop)"),
        eta: float = typer.Option(0.0, help="overlap learning rate (vector GD step N·η); default per task"),
        epochs: int = typer.Option(0, help="epochs (default 2000; 10000 for oscillation)"),
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
        from ..lowrank import compare, decode_history
        from ..lowrank.figures import plot_compare, plot_memory

        outdir = io.output_dir("lowrank", out)
        if task == "memory":
            import xarray as xr

            with Progress(transient=True) as bar:
                bar.add_task("A-only vs A→B→A (overlap space, vmapped)", total=None)
                res = decode_history(n_networks=n_networks, N=n or 500, eta=eta or 5e-3, seed=seed)
            ds = xr.Dataset(
                {"final_overlaps": (("network", "overlap"), res["X"]), "history": ("network", res["y"]),
                 "visible": ("overlap", res["visible"])},
                coords={"overlap": list(res["labels"])},
                attrs={k: res[k] for k in ("accuracy_visible", "accuracy_invisible", "accuracy_all")},
            )
            paths = [io.save_dataset(ds, outdir / "lowrank_memory.nc"), plot_memory(res, outdir / "lowrank_memory.png")]
            io.console.print(f"decoding accuracy: visible {res['accuracy_visible']:.3f}, "
                             f"invisible {res['accuracy_invisible']:.3f}, all {res['accuracy_all']:.3f}")
            io.report_written(paths)
            return
        defaults = {"impulse": (1, "linear", 500, 5e-3, 2000), "oscillation": (2, "linear", 500, 5e-3, 10000),
                    "flipflop": (1, "erf", 600, 5e-2, 2000)}
        if task not in defaults:
            raise typer.BadParameter(f"task: unknown {task!r}; choose impulse, oscillation, flipflop or memory")
        r0, p0, n0, e0, ep0 = defaults[task]
        rank, phi, n, eta, epochs = rank or r0, phi or p0, n or n0, eta or e0, epochs or ep0
        with Progress() as bar:
            ids = {}

            def progress(stage, done, total):
                if stage not in ids:
                    ids[stage] = bar.add_task(stage, total=total)
                bar.update(ids[stage], completed=done)

            ds = compare(task, rank=rank, phi=phi, N=n, eta=eta, epochs=epochs, seed=seed,
                         adam_lr=adam_lr or None, method=method, progress=progress)
        stem = f"lowrank_{task}"
        paths = [io.save_dataset(ds, outdir / f"{stem}.nc"), plot_compare(ds, outdir / f"{stem}.png")]
        from ..lowrank.compare import overlap_errors

        e = overlap_errors(ds)
        msg = f"overlap ODE vs network: max |Δσ| = {e['max']:.3g}, rms = {e['rms']:.3g}"
        if "sigma_naive" in ds:
            msg += f"; naive: max |Δσ| = {overlap_errors(ds, 'naive')['max']:.3g}"
        io.console.print(msg)
        io.report_written(paths)

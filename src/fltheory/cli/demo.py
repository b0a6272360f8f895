"""``fltheory demo``: the main job on its built-in default (≤ 5 min on 2 CPU cores)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..io import console, output_dir, report_written


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(out: Optional[Path] = typer.Option(None, help="Output directory (default ./fltheory-out/demo)."),
             N: int = typer.Option(256, help="Width of the sampled networks."),
             seed: int = typer.Option(0, help="Seed for the task and the chains.")):
        """Sample small RNN and DNN posteriors, compare with infinite-width kernels, write figure + table."""
        from ..experiments.kernel_check import kernel_check

        out_dir = output_dir("demo", out)
        console.print("[bold]1/1[/] posterior kernels vs NNGP (RNN and DNN, endpoint task)")
        _, paths = kernel_check(out_dir, N=N, seed=seed)
        console.print(paths[-1].read_text())
        report_written(paths)

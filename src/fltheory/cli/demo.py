"""``fltheory demo``: the main job on its built-in default (≤ 3 min on 2 idle CPU cores)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..io import console, output_dir, report_written


def register(app: typer.Typer) -> None:
    @app.command()
    def demo(out: Optional[Path] = typer.Option(None, help="Output directory (default ./fltheory-out/demo)."),
             N: int = typer.Option(128, help="Width of the networks of the kernel check."),
             seed: int = typer.Option(0, help="Seed for the task and the chains.")):
        """Sample small RNN and DNN posteriors and compare with infinite-width kernels; then the RNN/DNN
        phase transition on an endpoint task (theory lines, Langevin points). Figures + tables."""
        from ..experiments.kernel_check import kernel_check
        from ..experiments.phase import phase_demo

        out_dir = output_dir("demo", out)  # created by the first writer, after the inputs are checked
        console.print("[bold]1/2[/] posterior kernels vs NNGP (RNN and DNN, endpoint task, lazy regime)")
        _, paths = kernel_check(out_dir, N=N, n_samples=50, seed=seed)  # 50 samples × 4 chains: s.e. ≈ 2e-3
        console.print(paths[-1].read_text())
        console.print("[bold]2/2[/] phase transition: RNN vs DNN order parameter, W outlier, test error")
        phase_paths = phase_demo(out_dir, small=True)
        for p in phase_paths:
            if p.suffix == ".md":
                console.print(p.read_text())
        report_written(paths + list(phase_paths))

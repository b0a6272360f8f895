"""``fltheory sequential``: RNN vs DNN interpolation of unsupervised time steps (issue #4)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..io import output_dir, report_written


def register(app: typer.Typer) -> None:
    @app.command()
    def sequential(out: Optional[Path] = typer.Option(None, help="Output directory (default ./fltheory-out/sequential)."),
                   widths: List[int] = typer.Option([128], "--width", help="Langevin widths (repeatable)."),
                   full: bool = typer.Option(False, help="Larger task (P=8, D=12) and more points."),
                   seed: int = typer.Option(0, help="Seed of the tasks and chains."),
                   kappa: float = typer.Option(0.05, help="temperature κ (conventions §5)"),
                   g2: float = typer.Option(0.5, "--g2", help="prior variance g² of the recurrent/hidden weights "
                                            "(conventions §3)"),
                   gu2: float = typer.Option(1.0, "--gu2", help="prior variance of the input weights (conventions §3)"),
                   gw2: float = typer.Option(1.0, "--gw2", help="prior variance of the readout weights "
                                             "(conventions §3)")):
        """Theory lines and Langevin points: unsupervised-step error vs supervised fraction and vs P,
        the per-step error profile, and time-invariant vs time-varying teachers."""
        from ..experiments.sequential import sequential_experiments
        from ..priors import Priors

        priors = Priors(g2=g2, gu2=gu2, gw2=gw2, kappa=kappa)  # the one prior object, checked before any work
        _, paths = sequential_experiments(output_dir("sequential", out), widths=tuple(widths),
                                          small=not full, seed=seed, priors=priors)
        report_written(paths)

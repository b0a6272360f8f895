"""``fltheory phase-diagram``: RNN vs DNN phase diagram of the endpoint task (issue #3)."""
from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("phase-diagram")
    def phase_diagram_cmd(
        smin: float = typer.Option(0.25, help="smallest signal (target scale)"),
        smax: float = typer.Option(6.0, help="largest signal"),
        n: int = typer.Option(24, help="number of theory points"),
        widths: str = typer.Option("128,512", help="Langevin widths, comma separated ('' for theory only)"),
        sim_signals: str = typer.Option("1.0,4.0", help="signals with Langevin points, comma separated"),
        kappa: float = typer.Option(0.1, help="temperature κ (conventions §5)"),
        phi: str = typer.Option("linear", help="activation (linear is exact; erf uses importance sampling)"),
        P: int = typer.Option(4, help="training patterns"),
        T: int = typer.Option(3, help="time steps / depth"),
        seed: int = typer.Option(0),
        out: Optional[str] = typer.Option(None, help="output directory"),
    ):
        """Sweep the signal for RNN and DNN: order parameter, W outlier, test error (theory + Langevin)."""
        import numpy as np

        from ..experiments.phase import run_phase_diagram
        from ..io import output_dir, report_written

        d = output_dir("phase-diagram", out)
        w = tuple(int(x) for x in widths.split(",") if x.strip())
        ss = [float(x) for x in sim_signals.split(",") if x.strip()]
        paths = run_phase_diagram(d, signals=np.linspace(smin, smax, n), widths=w, sim_signals=ss,
                                  task_kw=dict(P=P, T=T, seed=seed), kappa=kappa, phi=phi, seed=seed)
        report_written(paths)

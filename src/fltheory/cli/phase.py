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
        g2: float = typer.Option(1.0, "--g2", help="prior variance g² of the recurrent/hidden weights W "
                                 "(conventions §3; the bulk of W/√N fills the disk of radius g)"),
        gu2: float = typer.Option(1.0, "--gu2", help="prior variance of the input weights U (conventions §3)"),
        gw2: float = typer.Option(1.0, "--gw2", help="prior variance of the readout weights w (conventions §3)"),
        phi: str = typer.Option("linear", help="activation (linear is exact; erf uses importance sampling)"),
        n_mc: int = typer.Option(4096, "--n-mc", help="importance draws per solve, nonlinear phi only (the "
                                 "Monte-Carlo error of C falls like 1/sqrt(n_mc))"),
        P: int = typer.Option(4, help="training patterns"),
        T: int = typer.Option(3, help="time steps / depth"),
        seed: int = typer.Option(0, help="seed of the task and the Langevin chains"),
        relaxation_times: float = typer.Option(0.0, "--relaxation-times", help="Langevin burn-in in prior "
                                               "relaxation times (0: the default, 12 RNN / 4 DNN; erf above "
                                               "y_c needs ~50 for the chains to break the W -> -W symmetry)"),
        out: Optional[str] = typer.Option(None, help="output directory"),
    ):
        """Sweep the signal for RNN and DNN: order parameter, W outlier, test error (theory + Langevin)."""
        from ..experiments.phase import run_phase_diagram
        from ..io import output_dir, report_written

        from .._validate import positive, positive_int
        from ..priors import Priors

        priors = Priors(g2=g2, gu2=gu2, gw2=gw2, kappa=kappa)  # the one prior object, checked here
        positive_int("n-mc", n_mc)
        positive("relaxation-times", relaxation_times, allow_zero=True)
        w = _numbers("widths", widths, int)
        ss = _numbers("sim-signals", sim_signals, float)
        d = output_dir("phase-diagram", out)
        paths = run_phase_diagram(d, signals=_signal_grid(smin, smax, n), widths=w, sim_signals=ss,
                                  task_kw=dict(P=P, T=T, seed=seed), **priors.as_dict(), phi=phi, seed=seed,
                                  sim_kw={"relaxation_times": relaxation_times} if relaxation_times > 0 else None,
                                  **({} if phi == "linear" else {"n_mc": n_mc}))
        report_written(paths)


def _numbers(name: str, text: str, kind):
    """Parse a comma-separated list; one error naming the option on a bad entry."""
    from .._validate import FLTheoryInputError

    try:
        return [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise FLTheoryInputError(f"{name}: expected comma-separated {kind.__name__} values, got {text!r}") from None


def _signal_grid(smin: float, smax: float, n: int):
    import numpy as np

    from .._validate import FLTheoryInputError, positive, positive_int

    smin, smax = positive("smin", smin, allow_zero=True), positive("smax", smax)
    positive_int("n", n, minimum=2)
    if smax <= smin:
        raise FLTheoryInputError(f"smax: must be > smin = {smin}, got {smax}")
    return np.linspace(smin, smax, n)

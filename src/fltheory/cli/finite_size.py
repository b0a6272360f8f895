"""``fltheory finite-size``: the width-N posterior of the linear T = 3 chain against the saddle point and
its 1/N correction (issue #13)."""
from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    @app.command("finite-size")
    def finite_size_cmd(
        y_ratios: str = typer.Option("0.8,1.1,1.4,2.0", "--y-ratios", help="learning signals y/y_c, comma separated"),
        widths: str = typer.Option("64,128,256,512,1024", help="widths N, comma separated (at least 3)"),
        kappa: float = typer.Option(0.1, help="temperature κ (conventions §5)"),
        order: int = typer.Option(8, help="Gauss-Hermite nodes per axis of the exact posterior (its error is reported)"),
        grid_points: int = typer.Option(9, "--grid-points", help="signals in [0.5, 2.5] y_c for the rounding "
                                        "of the RNN transition (0: skip)"),
        out: Optional[str] = typer.Option(None, help="output directory (default ./fltheory-out/finite-size)"),
    ):
        """Exact width-N means (q, C13, C33, f) of the linear chain vs the saddle point and its 1/N
        correction, the N -> infinity extrapolation, and the finite-N rounding of the RNN transition."""
        from ..experiments.finite_size import finite_size_study
        from ..io import output_dir, report_written
        from ..priors import Priors
        from .phase import _numbers

        # The linear T = 3 chain of this study has unit weight priors (g2 = gu2 = gw2 = 1); only κ is free.
        priors = Priors(kappa=kappa)
        ys = _numbers("y-ratios", y_ratios, float)
        ns = _numbers("widths", widths, int)
        ds, paths = finite_size_study(output_dir("finite-size", out), y_ratios=ys, widths=ns, kappa=priors.kappa,
                                      order=order, grid_points=grid_points)
        _summary(ds)
        report_written(paths)


def _summary(ds) -> None:
    from ..io import console

    for arch in ds.arch.values:
        for r in ds.y_ratio.values:
            s = ds.sel(arch=arch, y_ratio=r)
            console.print(
                f"{arch} y/y_c={r:g}: q theory {float(s.q_theory):.4f}, N->inf fit {float(s.q_extrapolated):.4f} "
                f"± {float(s.q_extrapolated_se):.4f} ({s.q_fit_form.item()}); C33 theory {float(s.C33_theory):.3f}, "
                f"fit {float(s.C33_extrapolated):.3f} ± {float(s.C33_extrapolated_se):.3f}"
                + ("" if float(s.extrapolation_trusted) else " (widths not asymptotic: fit not trusted)"),
                highlight=False)

"""The common convergence record of every theory solve (issue #18: one result protocol).

Every solver returns a result object with its observables and a ``diagnostics`` attribute of this
type: :class:`fltheory.saddle.Solution`, :class:`fltheory.two_layer.MFResult` and
:class:`fltheory.depth.DepthKernel` and :class:`fltheory.lowrank.OverlapTrajectory`. Failure
policy: raise :class:`~fltheory.ConvergenceError` by default; ``throw=False`` returns the result with
``diagnostics.converged = False`` and a :class:`~fltheory.ConvergenceWarning`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Diagnostics:
    """Convergence record of one theory solve: the common ``diagnostics`` of every result.

    The first fields are shared by every solver; the rest are filled where they apply (NaN/0
    otherwise). A result is never returned unconverged unless the caller asked for it
    (``throw=False``), and then ``converged`` is False.
    """

    converged: bool
    iterations: int              # solver iterations (saddle: Newton steps of all stages)
    residual: float              # the solver's stopping measure (saddle: relative |saddle-point equations|)
    method: str                  # e.g. "newton-krylov+homotopy", "mala-fixed-point(ard)"
    history: tuple = ()          # residual (saddle) or main order parameter (mean field) per iteration
    ess: float = float("nan")    # smallest effective sample size of an importance estimate
    mc_error: float = float("nan")      # relative Monte-Carlo s.e. of the main observable (saddle: max s.e.(C)/max|C|)
    matvecs: int = 0             # Jacobian-vector products (GMRES steps)
    wall_time: float = float("nan")     # seconds in the solver proper
    mcmc_error: float = float("nan")    # max s.e. of ⟨φφᵀ⟩ from the HMC re-measurement (mcmc_check)
    mcmc_residual: float = float("nan")  # max |C − ⟨φφᵀ⟩_HMC| at the solution
    mcmc_zscore: float = float("nan")   # max |C − ⟨φφᵀ⟩_HMC| / s.e.
    mcmc_acceptance: float = float("nan")


__all__ = ["Diagnostics"]

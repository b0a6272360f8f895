"""The :class:`Solution` of the saddle-point equations and the observables derived from it."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..diagnostics import Diagnostics
from ..kernels.gp import KernelPrediction
from ..kernels.layout import blocks


@dataclass(frozen=True)
class Solution:
    """A saddle point of the action (conventions §7), on train+test patterns.

    ``C``/``Chat``/``K`` are over the training entries (n = T·P, time-major). ``C_all`` is over
    train+test patterns (T·(P+P_test), patterns ordered train then test within each time step),
    the layout of :func:`fltheory.kernels.predict_with_kernel`. ``phih`` is ⟨φ(h) hᵀ⟩ on the
    training entries (used for the weight-spectrum outlier). ``action`` is S at the saddle (the
    log-evidence per neuron, up to O(1/N) and constants common to all branches).
    """

    arch: str
    phi: str
    C: np.ndarray
    Chat: np.ndarray
    K: np.ndarray
    C_all: np.ndarray
    phih: np.ndarray
    action: float
    prediction: KernelPrediction | None
    diagnostics: Diagnostics
    T: int
    P: int
    P_test: int
    params: dict = field(default_factory=dict)
    problem: object = field(default=None, repr=False)  # the SaddleProblem solved (training entries)

    def finite_width(self, N: int, **kw):
        """Observables at width ``N`` to first order in 1/N (docs/theory/finite_width.md):
        see :func:`fltheory.saddle.finite_width.finite_width_correction`."""
        from .finite_width import finite_width_correction
        return finite_width_correction(self, N, **kw)

    # --- observables -------------------------------------------------------------------------
    def blocks(self, which: str = "C") -> np.ndarray:
        """``[T, T, P, P]`` view of ``C`` (or ``Chat``/``K``) on the training patterns."""
        return blocks(getattr(self, which), self.T, self.P)

    def order_parameter(self, lag: int = 1) -> float:
        """Cross-time order parameter (sign-invariant), averaged over t:

            q_lag = mean_t ‖C_{t,t+lag}‖_F / √(‖C_tt‖_F ‖C_{t+lag,t+lag}‖_F)

        on the training patterns. 0 on the block-diagonal (DNN-like) branch.
        """
        return order_parameter(self.C, self.T, self.P, lag)

    def weight_outliers(self, g2: float | None = None) -> np.ndarray:
        """Predicted eigenvalues of W/√N outside the bulk disk of radius g (endpoint tasks).

        Given the hidden states, the posterior of J = W/√N is J₀ + (H' − J₀Φ)(ΦᵀΦ)⁻¹Φᵀ with J₀ a fresh
        prior draw, Φ = [φ(h_1) … φ(h_{T−1})] and H' = [h_2 … h_T] (all training patterns). At large N
        its outliers are the eigenvalues of M = C_{<T}⁻¹ ⟨φ_{<T} h_{>1}ᵀ⟩ of modulus > g
        (docs/theory/unified.md §5). Returned sorted by decreasing modulus.
        """
        g = np.sqrt(self.params.get("g2", 1.0) if g2 is None else g2)
        lam = outlier_matrix_eigs(self.C, self.phih, self.T, self.P)
        lam = lam[np.argsort(-np.abs(lam))]
        return lam[np.abs(lam) > g * (1 + 1e-9)]


def order_parameter(C, T: int, P: int, lag: int = 1) -> float:
    """q_lag of :meth:`Solution.order_parameter` for any time-major ``C[T·P, T·P]``."""
    B = blocks(np.asarray(C), T, P)
    if T <= lag:
        return 0.0
    vals = []
    for t in range(T - lag):
        num = np.linalg.norm(B[t, t + lag])
        den = np.sqrt(np.linalg.norm(B[t, t]) * np.linalg.norm(B[t + lag, t + lag]))
        vals.append(num / den if den > 0 else 0.0)
    return float(np.mean(vals))


def outlier_matrix_eigs(C, phih, T: int, P: int) -> np.ndarray:
    """Eigenvalues of M = C_{<T}⁻¹ ⟨φ_{<T} h_{>1}ᵀ⟩ (the low-rank part of the posterior W/√N)."""
    if T < 2:
        return np.zeros(0)
    m = (T - 1) * P
    C = np.asarray(C)
    phih = np.asarray(phih)
    Cp = C[:m, :m]
    B = phih[:m, P:]
    return np.linalg.eigvals(np.linalg.solve(Cp, B))

"""Automatic relevance determination (ARD) of the input coordinates (docs/theory/two_layer.md §4).

Each input coordinate j carries its own prior precision ρ_j, shared by all N neurons
(w_ij ~ N(0, 1/ρ_j) in the units of conventions §9), with a Gamma(a₀, b₀) hyper-prior
(shape a₀, rate b₀). Given the mean-field single-neuron second moments ⟨w_j²⟩, the N neurons are
i.i.d., so the posterior of ρ_j is Gamma(a₀ + N/2, b₀ + N⟨w_j²⟩/2) and its mean is the update

    ρ_j ← (a₀ + N/2) / (b₀ + N⟨w_j²⟩/2)        (→ 1/⟨w_j²⟩ for N ≫ a₀, b₀/⟨w_j²⟩).

Relevant coordinates gain variance (ρ_j falls), which strengthens the neuron's signal J_S(w),
which raises ⟨w_j²⟩ again: the self-reinforcing input feature selection.
"""
from __future__ import annotations

import numpy as np

from .._validate import FLTheoryInputError, positive, positive_int


def ard_update(w2, N: int, a0: float, b0: float) -> np.ndarray:
    """The Gamma-posterior mean ρ_j = (a₀ + N/2)/(b₀ + N⟨w_j²⟩/2), elementwise in ``w2``."""
    N = positive_int("N", N)
    a0 = positive("a0", a0)   # a proper Gamma(a₀, b₀) hyper-prior: both > 0
    b0 = positive("b0", b0)
    w2 = np.asarray(w2, dtype=float)
    if np.any(w2 < 0) or not np.all(np.isfinite(w2)):
        raise FLTheoryInputError("w2: second moments must be finite and >= 0")
    return (a0 + N / 2.0) / (b0 + N * w2 / 2.0)


def symmetrize_groups(values, relevant) -> np.ndarray:
    """Replace ``values[j]`` by its group mean over j ∈ S (``relevant``) and over j ∉ S.

    The population mean-field theory of a target that depends on S only is invariant under
    permutations inside S and inside its complement, so its fixed point has this form; averaging
    removes Monte-Carlo noise that would otherwise break the symmetry.
    """
    v = np.array(values, dtype=float)
    mask = np.zeros(v.shape[-1], bool)
    mask[list(relevant)] = True
    out = v.copy()
    out[..., mask] = v[..., mask].mean(-1, keepdims=True)
    if (~mask).any():
        out[..., ~mask] = v[..., ~mask].mean(-1, keepdims=True)
    return out


def relevance_ratio(rho, relevant) -> float:
    """mean_{j∉S} ρ_j / mean_{j∈S} ρ_j: > 1 when relevant coordinates carry more weight variance."""
    rho = np.asarray(rho, dtype=float)
    mask = np.zeros(rho.shape[-1], bool)
    mask[list(relevant)] = True
    return float(rho[~mask].mean() / rho[mask].mean())

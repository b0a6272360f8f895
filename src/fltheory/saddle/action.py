"""Pieces of the saddle-point action N·S[C, Ĉ] shared by the RNN and the DNN (conventions §7).

Index set: the training entries (t, μ), time-major (row t·P + μ, conventions §1), n = T·P.

    S[C, Ĉ] = tr(Ĉ C) + ln Z₁[K(C), Ĉ] − ½ y_Sᵀ (Σ_SS(C) + κ I)⁻¹ y_S

    K(C)      = g² shift(C) + g_u² X Xᵀ/D       (RNN: every (t, s) block; DNN: δ_ts ⊙ ·)
    shift(C)[(t,μ),(s,ν)] = C[(t−1,μ),(s−1,ν)],  0 if t = 1 or s = 1
    Σ(C)      = g_w² C (RNN, shared readout)  or  g_w² δ_ts ⊙ C (DNN, per-step readouts)
    Z₁        = E_{h ~ N(0, K)} exp(−φ(h)ᵀ Ĉ φ(h))

The saddle-point equations are ∂S/∂Ĉ = 0 ⇔ C = ⟨φφᵀ⟩ (tilted single-neuron measure) and
∂S/∂C = 0 ⇔ Ĉ = −g² shiftᵀ(∂ln Z₁/∂K) − ½ g_w² a aᵀ on S, a = (Σ_SS + κ)⁻¹ y_S.
Derivation: docs/theory/unified.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..kernels.layout import time_diagonal_mask, time_major


@jax.tree_util.register_pytree_node_class
@dataclass(frozen=True)
class SaddleProblem:
    """Everything the action needs, as float64 arrays over the n = T·P training entries."""

    G: np.ndarray          # [n, n] input Gram x_t^μ·x_s^ν / D (time-major)
    sup: np.ndarray        # [n] bool, supervised entries (from task.M)
    y: np.ndarray          # [n_sup, O] targets on the supervised entries
    T: int
    P: int
    tied: bool
    g2: float
    gu2: float
    gw2: float
    kappa: float

    @property
    def n(self) -> int:
        return self.T * self.P

    # A pytree (issue #13), so that jitted functions can take the problem as an argument and compile once
    # per problem structure: the numbers (G, y, g², g_u², g_w², κ) are leaves, the structure (T, P, tied and
    # the supervised mask ``sup``, which fixes the shapes) is static. ``sup`` travels as a tuple (hashable)
    # and comes back as the same bool array.
    def tree_flatten(self):
        return ((self.G, self.y, self.g2, self.gu2, self.gw2, self.kappa),
                (self.T, self.P, self.tied, np.shape(self.sup), tuple(bool(v) for v in np.ravel(self.sup))))

    @classmethod
    def tree_unflatten(cls, aux, leaves):
        T, P, tied, sup_shape, sup = aux
        obj = object.__new__(cls)   # no __init__: leaves may be tracers or placeholders inside jax transforms
        for name, v in zip(("G", "y", "g2", "gu2", "gw2", "kappa"), leaves):
            object.__setattr__(obj, name, v)
        for name, v in (("sup", np.array(sup, dtype=bool).reshape(sup_shape)), ("T", T), ("P", P), ("tied", tied)):
            object.__setattr__(obj, name, v)
        return obj

    @property
    def time_mask(self) -> np.ndarray:
        return time_diagonal_mask(self.T, self.P)


def problem_from_arrays(X, Y, M, tied: bool, g2: float, gu2: float, gw2: float, kappa: float) -> SaddleProblem:
    """Build the problem from ``X[P,T,D]``, ``Y[P,T,O]``, ``M[P,T]`` (the supervised set S is M)."""
    X = np.asarray(X, float)
    P, T, D = X.shape
    Xt = time_major(X)
    G = Xt @ Xt.T / D
    sup = time_major(np.asarray(M)).astype(bool)
    y = time_major(np.asarray(Y, float))[sup]
    return SaddleProblem(G=G, sup=sup, y=y, T=T, P=P, tied=bool(tied), g2=float(g2), gu2=float(gu2),
                         gw2=float(gw2), kappa=float(kappa))


def shift(C, T: int, P: int):
    """shift(C)[(t,μ),(s,ν)] = C[(t−1,μ),(s−1,ν)], zero on the first row/column block."""
    n = T * P
    out = jnp.zeros((n, n), dtype=C.dtype)
    return out.at[P:, P:].set(C[: n - P, : n - P])


def shift_adjoint(Gam, T: int, P: int):
    """Adjoint of :func:`shift`: shiftᵀ(Γ)[(t−1),(s−1)] = Γ[t, s]; zero on the last block."""
    n = T * P
    out = jnp.zeros((n, n), dtype=Gam.dtype)
    return out.at[: n - P, : n - P].set(Gam[P:, P:])


def pre_kernel(C, prob: SaddleProblem):
    """K(C) = g² shift(C) + g_u² G, masked to δ_ts for the DNN (conventions §4)."""
    K = prob.g2 * shift(C, prob.T, prob.P) + prob.gu2 * jnp.asarray(prob.G)
    return K if prob.tied else K * jnp.asarray(prob.time_mask)


def output_cov(C, prob: SaddleProblem):
    """Σ = g_w² C (RNN) or g_w² δ_ts ⊙ C (DNN): the output kernel (kernels.output_kernel)."""
    return prob.gw2 * (C if prob.tied else C * jnp.asarray(prob.time_mask))


def readout_term(C, prob: SaddleProblem):
    """−½ y_Sᵀ (Σ_SS + κ I)⁻¹ y_S (summed over output dimensions)."""
    sup = np.flatnonzero(prob.sup)
    Sig = output_cov(C, prob)[np.ix_(sup, sup)]
    A = Sig + prob.kappa * jnp.eye(len(sup))
    a = jnp.linalg.solve(A, jnp.asarray(prob.y))
    return -0.5 * jnp.sum(jnp.asarray(prob.y) * a)


def readout_vector(C, prob: SaddleProblem):
    """a = (Σ_SS + κ)⁻¹ y_S, ``[n_sup, O]``."""
    sup = np.flatnonzero(prob.sup)
    Sig = output_cov(C, prob)[np.ix_(sup, sup)]
    return jnp.linalg.solve(Sig + prob.kappa * jnp.eye(len(sup)), jnp.asarray(prob.y))


def ln_z1_gaussian(K, Chat):
    """ln Z₁ for φ = identity: −½ ln det(I + 2KĈ) (requires K⁻¹ + 2Ĉ ≻ 0)."""
    n = K.shape[0]
    sign, logdet = jnp.linalg.slogdet(jnp.eye(n) + 2.0 * K @ Chat)
    return jnp.where(sign > 0, -0.5 * logdet, jnp.nan)


def tilted_cov_gaussian(K, Chat):
    """⟨hhᵀ⟩ = (K⁻¹ + 2Ĉ)⁻¹ = K (I + 2ĈK)⁻¹, written without K⁻¹ (K may be singular)."""
    n = K.shape[0]
    C = jnp.linalg.solve((jnp.eye(n) + 2.0 * Chat @ K).T, K.T).T
    return 0.5 * (C + C.T)

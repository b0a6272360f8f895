"""Overlap (Gram-matrix) bookkeeping for a rank-r RNN with vectors m, u_1..u_r, v_1..v_r, z.

The vectors are stacked as the columns of V (N × n, n = 2 + 2r) in the fixed order
``[m, u_1..u_r, v_1..v_r, z]`` and the order parameters are the overlaps

    Σ = VᵀV / N,      σ_ab = aᵀb / N,

i.e. n(n+1)/2 distinct numbers: 10 for rank 1, 21 for rank 2 (conventions §10).

The vectors split into an *input side* B = [m, u_1..u_r] (the state lives in span B) and an
*output side* A = [v_1..v_r, z] (they only ever appear in inner products with the state).
Which overlaps the loss can see follows from this split alone:

- A–B block (σ_zm, σ_zu, σ_vm, σ_vu, ...): always loss-visible;
- B–B block (σ_mm, σ_mu, σ_uu, ...): visible only for a nonlinear φ (through the variance Δ);
- A–A block (σ_zv, σ_vv, σ_zz, ...): never visible.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import jax.numpy as jnp
import numpy as np

from .._validate import FLTheoryInputError, finite_array


@dataclass(frozen=True)
class Layout:
    """Index bookkeeping for rank ``rank`` (1 or 2)."""

    rank: int

    def __post_init__(self):
        if isinstance(self.rank, bool) or not isinstance(self.rank, (int, np.integer)) or self.rank not in (1, 2):
            raise FLTheoryInputError(f"rank: must be 1 or 2, got {self.rank!r}")

    @property
    def n(self) -> int:
        """Number of vectors, 2 + 2r."""
        return 2 + 2 * self.rank

    @cached_property
    def names(self) -> tuple[str, ...]:
        r = self.rank
        if r == 1:
            return ("m", "u", "v", "z")
        return ("m", *[f"u{i + 1}" for i in range(r)], *[f"v{i + 1}" for i in range(r)], "z")

    # index sets -------------------------------------------------------------------------
    @property
    def input_side(self) -> np.ndarray:
        """Indices of B = [m, u_1..u_r] (the state is κ_m m + Σ κ_u u)."""
        return np.arange(0, self.rank + 1)

    @property
    def u_idx(self) -> np.ndarray:
        return np.arange(1, self.rank + 1)

    @property
    def v_idx(self) -> np.ndarray:
        return np.arange(self.rank + 1, 2 * self.rank + 1)

    @property
    def z_idx(self) -> int:
        return 2 * self.rank + 1

    @property
    def output_side(self) -> np.ndarray:
        """Indices of A = [v_1..v_r, z]."""
        return np.arange(self.rank + 1, self.n)

    # pairs --------------------------------------------------------------------------------
    @cached_property
    def pairs(self) -> tuple[tuple[int, int], ...]:
        """Distinct overlaps (i ≤ j), row-major upper triangle."""
        return tuple((i, j) for i in range(self.n) for j in range(i, self.n))

    @cached_property
    def labels(self) -> tuple[str, ...]:
        """Overlap labels ``"a.b"`` (e.g. ``"m.u"``, ``"v.z"``), aligned with :attr:`pairs`."""
        return tuple(f"{self.names[i]}.{self.names[j]}" for i, j in self.pairs)

    def visible_matrix(self, linear: bool) -> np.ndarray:
        """Boolean n × n mask of loss-visible entries (see module docstring)."""
        side = np.zeros(self.n, dtype=int)  # 0 = input side B, 1 = output side A
        side[self.output_side] = 1
        cross = side[:, None] != side[None, :]
        bb = (side[:, None] == 0) & (side[None, :] == 0)
        return cross | (bb & (not linear))

    def visible(self, linear: bool) -> np.ndarray:
        """Boolean mask over :attr:`pairs`: True where the overlap is loss-visible."""
        vm = self.visible_matrix(linear)
        return np.array([vm[i, j] for i, j in self.pairs])

    @cached_property
    def conserved_signs(self) -> np.ndarray:
        """Diagonal J with +1 on A = [v, z] and −1 on B = [m, u]: C = tr(J Σ)."""
        j = -np.ones(self.n)
        j[self.output_side] = 1.0
        return j

    # conversions --------------------------------------------------------------------------
    def flatten(self, S):
        """Σ[..., n, n] → overlaps[..., n(n+1)/2] in the order of :attr:`pairs`."""
        i, j = np.array(self.pairs).T
        return S[..., i, j]

    def unflatten(self, sigma):
        """overlaps[..., n(n+1)/2] → symmetric Σ[..., n, n]."""
        sigma = jnp.asarray(sigma)
        i, j = np.array(self.pairs).T
        S = jnp.zeros(sigma.shape[:-1] + (self.n, self.n), dtype=sigma.dtype)
        S = S.at[..., i, j].set(sigma)
        return S.at[..., j, i].set(sigma)


def gram(V) -> jnp.ndarray:
    """Σ = VᵀV/N for vectors stacked as columns of V (N × n)."""
    V = jnp.asarray(V)
    return V.T @ V / V.shape[0]


def conserved_quantity(S, layout: Layout):
    """C = tr(J Σ) = σ_zz + Σ_r σ_{v_r v_r} − σ_mm − Σ_r σ_{u_r u_r} (any leading batch dims).

    It is (1/N) tr of the N × N matrix zzᵀ + VVᵀ − mmᵀ − UUᵀ, which gradient flow conserves
    whenever the loss depends on the vectors only through the A–B overlaps (linear φ).
    """
    S = jnp.asarray(S)
    return jnp.einsum("...ii,i->...", S, jnp.asarray(layout.conserved_signs))


def check_gram(name: str, S, layout: Layout) -> np.ndarray:
    """Validate a Gram matrix: shape (n, n), finite, symmetric, positive semi-definite."""
    S = finite_array(name, S, shape=(layout.n, layout.n))
    if not np.allclose(S, S.T, atol=1e-10 * max(1.0, np.abs(S).max())):
        raise FLTheoryInputError(f"{name}: overlap matrix must be symmetric")
    if np.linalg.eigvalsh(S).min() < -1e-9 * max(1.0, np.abs(S).max()):
        raise FLTheoryInputError(f"{name}: overlap matrix must be positive semi-definite (a Gram matrix)")
    return S

"""Overlaps of a single neuron with the basis functions of the target (conventions §9).

A neuron with first-layer weights ``w[d]`` computes φ(h), h = w·x/√d. The mean-field theory
(docs/theory/two_layer.md) needs, for a *population* of inputs x, its overlaps

    J_A(w) = E_x[φ(h) χ_A(x)],        Σ(w) = E_x[φ(h)²],

with an orthonormal family of basis functions χ_A. Two families are implemented:

- **Boolean cube** x ∈ {±1}^d, Walsh functions χ_A(x) = Π_{j∈A} x_j (:class:`ParityOverlaps`).
  The coordinates in E = ∪(tracked sets) are enumerated exactly (2^|E| patterns); the remaining
  d − |E| coordinates enter only through h_⊥ = w_⊥·x_⊥/√d, a weighted Rademacher sum that is
  replaced by a Gaussian N(0, ‖w_⊥‖²/d) (central limit theorem, ``method="clt"``, the default:
  cost O(2^|E| + d) per neuron). ``method="exact"`` enumerates the whole cube (2^d points; d ≤ 16)
  and is used to measure the CLT error (tests/two_layer/test_two_layer_features.py).
- **Gaussian inputs** x ~ N(0, I_d), single-index teacher y = He_q(v·x)/√q!, basis = normalised
  Hermite polynomials He_n(u)/√n! of u = v·x, n = 0..n_max (:class:`SingleIndexOverlaps`). Exact:
  (h, u) is a Gaussian pair with correlation ρ = w·v/‖w‖, so J_n = ρ^n E_z[φ(σ_h z) He_n(z)]/√n!.

Also here: the exact eigenvalues λ_k of the NNGP kernel on the Boolean cube
(:func:`cube_kernel_eigenvalue`), i.e. λ_A = E_{w~prior}[J_A(w)²] for |A| = k.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from .._validate import FLTheoryInputError, positive, positive_int
from ..activations import get_activation
from ..gaussian import gaussian_mean, hermite_projections, phiphi

_SQRT2PI = math.sqrt(2.0 * math.pi)
_GH_ORDER = 48  # Gauss–Hermite nodes (fltheory.gaussian) for the non-relu overlaps


def all_patterns(n: int) -> np.ndarray:
    """All 2^n points of {±1}^n, shape ``[2^n, n]`` (row r: bit j of r set ↔ x_j = −1)."""
    r = np.arange(2**n)[:, None]
    return 1.0 - 2.0 * ((r >> np.arange(n)[None, :]) & 1)


def check_cube(name: str, X) -> np.ndarray:
    """``X`` as a float ``[n, d]`` array of points of the Boolean cube {±1}^d (parity inputs), else
    one :class:`FLTheoryInputError` naming ``name`` and the first offending entry."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise FLTheoryInputError(f"{name}: expected an [n, d] array of ±1 inputs, got shape {X.shape}")
    bad = np.argwhere(np.abs(X) != 1.0)
    if len(bad):
        i, j = (int(v) for v in bad[0])
        raise FLTheoryInputError(f"{name}: parity inputs must be in {{-1, +1}}, got {float(X[i, j])} at [{i}, {j}] "
                                 f"({len(bad)} non-Boolean entries)")
    return X


def walsh(X, A) -> np.ndarray:
    """χ_A(x) = Π_{j∈A} x_j for the rows of ``X[n, d]`` ∈ {±1}^d (χ_∅ = 1); other inputs are an error."""
    X = check_cube("X", X)
    return np.prod(X[:, list(A)], axis=1) if len(A) else np.ones(X.shape[0])


def subsets_up_to(d: int, k: int):
    """All subsets A ⊆ {0..d−1} with 1 ≤ |A| ≤ k, as tuples."""
    return [A for r in range(1, k + 1) for A in itertools.combinations(range(d), r)]


def _relu_moments(mu, s):
    """E[relu(μ + s z)], E[relu(μ + s z)²] for z ~ N(0, 1), s > 0."""
    t = mu / s
    Phi, pdf = ndtr(t), jnp.exp(-0.5 * t**2) / _SQRT2PI
    m1 = mu * Phi + s * pdf
    m2 = (mu**2 + s**2) * Phi + mu * s * pdf
    return m1, m2


def _first_two_powers(act):
    def f(x):
        v = act(x)
        return v, v**2
    return f


def _quad_moments(act, mu, s):
    """E[φ(μ + s z)], E[φ(μ + s z)²] for z ~ N(0, 1) (Gauss–Hermite, :mod:`fltheory.gaussian`)."""
    return gaussian_mean(_first_two_powers(act), mu, s, order=_GH_ORDER)


def cube_kernel_eigenvalue(k: int, d: int, sw2: float = 1.0, phi="relu") -> float:
    """Exact eigenvalue λ_k of the NNGP kernel on {±1}^d for Walsh functions of degree k.

    For w ~ N(0, sw2·I) the pair (h(x), h(x')) is exactly Gaussian with covariance sw2·q,
    q = x·x'/d, so K(x, x') = E_w[φ(h)φ(h')] depends on the Hamming distance t only and

        λ_k = 2^{−d} Σ_t K(1 − 2t/d) Σ_j (−1)^j C(k, j) C(d−k, t−j)       (Krawtchouk sum).

    λ_k = E_w[J_A(w)²] for every |A| = k and E_w[J_A J_B] = 0 for A ≠ B.
    """
    d = positive_int("d", d)
    k = positive_int("k", k, minimum=0)
    sw2 = positive("sw2", sw2)
    if k > d:
        raise FLTheoryInputError(f"k: must be <= d = {d}, got {k}")
    t = np.arange(d + 1)
    q = 1.0 - 2.0 * t / d
    K = np.asarray(phiphi(phi, sw2 * np.ones_like(q), sw2 * q, sw2 * np.ones_like(q)))
    kraw = np.array([sum((-1) ** j * math.comb(k, j) * math.comb(d - k, tt - j)
                         for j in range(0, min(k, tt) + 1) if tt - j <= d - k) for tt in t], float)
    return float(np.sum(K * kraw) / 2.0**d)



def _check_relevant(relevant, d) -> tuple:
    """The relevant coordinates as a tuple of distinct ints in [0, d); errors name ``d``/``relevant``."""
    positive_int("d", d)
    S = tuple(int(j) for j in relevant)
    if len(set(S)) != len(S) or not S or min(S) < 0 or max(S) >= d:
        raise FLTheoryInputError(f"relevant: expected distinct coordinates in [0, {d}), got {relevant}")
    return S

@dataclass(frozen=True)
class ParityOverlaps:
    """Walsh overlaps on the Boolean cube for the target y = χ_S(x) (k-sparse parity).

    ``tracked`` are extra (off-target) sets whose m_A is reported as a diagnostic.
    """

    d: int
    relevant: tuple
    phi: str = "relu"
    method: str = "clt"
    tracked: tuple = ()
    # derived from the fields above, so left out of ==/hash: equal models hash alike (mean_field caches on them)
    _E: tuple = field(init=False, repr=False, compare=False)
    _patterns: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "relevant", _check_relevant(self.relevant, self.d))
        tracked = tuple(tuple(int(j) for j in A) for A in self.tracked)
        object.__setattr__(self, "tracked", tracked)
        if self.method not in ("clt", "exact"):
            raise FLTheoryInputError(f"method: unknown value {self.method!r}; choose one of ['clt', 'exact']")
        if self.method == "exact" and self.d > 16:
            raise FLTheoryInputError(f"method: 'exact' enumerates 2^d points and needs d <= 16, got d = {self.d}")
        E = tuple(sorted(set(self.relevant).union(*[set(A) for A in tracked]))) if self.method == "clt" else tuple(range(self.d))
        object.__setattr__(self, "_E", E)
        object.__setattr__(self, "_patterns", all_patterns(len(E)))
        get_activation(self.phi)

    @property
    def basis(self) -> list[tuple]:
        return [self.relevant]

    @property
    def target_coefficients(self) -> np.ndarray:
        return np.ones(1)

    target_norm2 = 1.0

    def _chi(self, A):
        pos = [self._E.index(j) for j in A]
        return jnp.asarray(np.prod(self._patterns[:, pos], axis=1) if pos else np.ones(len(self._patterns)))

    def overlaps(self, w):
        """(J[n_basis + n_tracked], Σ) for one neuron ``w[d]`` (J: target set first, then tracked)."""
        act = get_activation(self.phi)
        E = jnp.asarray(self._E)
        wE = w[E]
        mu = jnp.asarray(self._patterns) @ wE / jnp.sqrt(self.d)
        if self.method == "exact":
            v = act(mu)
            m1, m2 = v, v**2
        else:
            s2 = (jnp.sum(w**2) - jnp.sum(wE**2)) / self.d
            s = jnp.sqrt(s2 + 1e-12)
            s = jnp.broadcast_to(s, mu.shape)
            m1, m2 = _relu_moments(mu, s) if act.closed_form == "relu" else _quad_moments(act, mu, s)
        J = jnp.stack([jnp.mean(m1 * self._chi(A)) for A in (*self.basis, *self.tracked)])
        return J, jnp.mean(m2)


def _hermite_relu_coeffs(n_max: int) -> np.ndarray:
    """r_n = E[relu(z) He_n(z)], z ~ N(0,1): r_0 = 1/√(2π), r_1 = 1/2, r_n = He_{n−2}(0)/√(2π)."""
    r = np.zeros(n_max + 1)
    r[0] = 1.0 / _SQRT2PI
    if n_max >= 1:
        r[1] = 0.5
    for n in range(2, n_max + 1):
        m = n - 2
        he0 = 0.0 if m % 2 else (-1.0) ** (m // 2) * math.prod(range(1, m, 2)) if m else 1.0
        r[n] = he0 / _SQRT2PI
    return r


@dataclass(frozen=True)
class SingleIndexOverlaps:
    """Hermite overlaps for Gaussian inputs and a single-index teacher y = He_q(v·x)/√q!.

    The teacher direction v is uniform on ``relevant`` (‖v‖ = 1). Basis: He_n(u)/√n!, n = 0..n_max.
    """

    d: int
    relevant: tuple
    degree: int = 2
    n_max: int = 6
    phi: str = "relu"

    def __post_init__(self):
        object.__setattr__(self, "relevant", _check_relevant(self.relevant, self.d))
        positive_int("degree", self.degree)
        if positive_int("n_max", self.n_max) < self.degree:
            raise FLTheoryInputError(f"n_max: must be >= degree = {self.degree}, got {self.n_max}")
        get_activation(self.phi)

    tracked = ()
    target_norm2 = 1.0

    @property
    def v(self) -> np.ndarray:
        v = np.zeros(self.d)
        v[list(self.relevant)] = 1.0 / math.sqrt(len(self.relevant))
        return v

    @property
    def basis(self) -> list[str]:
        return [f"He{n}" for n in range(self.n_max + 1)]

    @property
    def target_coefficients(self) -> np.ndarray:
        c = np.zeros(self.n_max + 1)
        c[self.degree] = 1.0
        return c

    def overlaps(self, w):
        act = get_activation(self.phi)
        n = np.arange(self.n_max + 1)
        norm = jnp.sqrt(jnp.sum(w**2) + 1e-12)
        rho = jnp.dot(w, jnp.asarray(self.v)) / norm
        s = norm / jnp.sqrt(self.d)
        if act.closed_form == "relu":
            base = s * jnp.asarray(_hermite_relu_coeffs(self.n_max))
            sig = s**2 / 2.0
        else:
            base = hermite_projections(act, s, self.n_max, order=_GH_ORDER)
            sig = gaussian_mean(lambda x: act(x) ** 2, 0.0, s, order=_GH_ORDER)
        fact = np.sqrt([math.factorial(i) for i in n])
        return rho ** jnp.asarray(n) * base / jnp.asarray(fact), sig

    def sample_inputs(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((n, self.d))

    def target(self, X) -> np.ndarray:
        u = np.asarray(X) @ self.v
        return np.polynomial.hermite_e.hermeval(u, np.eye(self.degree + 1)[self.degree]) / math.sqrt(
            math.factorial(self.degree))

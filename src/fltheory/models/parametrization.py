"""Readout exponent γ and inverse temperature β for each parametrization (conventions §2, §5)."""
from __future__ import annotations

from .._validate import choice, positive

PARAMETRIZATIONS = ("mup", "ntk", "standard")


def readout_exponent(parametrization: str) -> float:
    """γ in f = w·φ(h)/N^γ: 1 for ``mup``, 1/2 for ``ntk``/``standard``."""
    choice("parametrization", parametrization, PARAMETRIZATIONS)
    return 1.0 if parametrization == "mup" else 0.5


def inverse_temperature(parametrization: str, N: int, kappa: float) -> float:
    """β = N^{2γ−1}/κ: N/κ in muP, 1/κ for ntk/standard (conventions §5)."""
    kappa = positive("kappa", kappa)
    gamma = readout_exponent(parametrization)
    return float(N) ** (2.0 * gamma - 1.0) / kappa

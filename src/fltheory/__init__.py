"""fltheory: theory of feature learning in deep and recurrent networks, checked against simulation.

Importing fltheory enables JAX float64 (``jax_enable_x64``): theory code runs in float64; the
samplers choose their own dtype (float32 by default, see docs/conventions.md).
"""
import jax as _jax

_jax.config.update("jax_enable_x64", True)

from ._validate import (ConvergenceError, ConvergenceWarning, FLTheoryInputError,  # noqa: E402
                        MonteCarloWarning)
from .activations import get_activation  # noqa: E402
from .diagnostics import Diagnostics  # noqa: E402
from .priors import Priors  # noqa: E402

__version__ = "0.1.0"

__all__ = ["ConvergenceError", "ConvergenceWarning", "Diagnostics", "FLTheoryInputError", "MonteCarloWarning",
           "Priors", "get_activation", "__version__"]

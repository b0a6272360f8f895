"""Pure-JAX models as ``(init, apply)`` pairs over parameter pytrees (conventions §2–§3)."""
from .recurrent import RecurrentNet, rnn_cell
from .two_layer import TwoLayerNet

__all__ = ["RecurrentNet", "TwoLayerNet", "rnn_cell"]

"""Experiments that pair a theory with its simulation (one module per figure)."""

__all__ = ["kernel_check", "learning_curve", "phase", "sequential", "simulate"]

"""Experiments that pair a theory with its simulation (one module per figure)."""

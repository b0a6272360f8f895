"""Infinite-width kernels and kernel-regression predictors (conventions §4–§5)."""
from .gp import KernelPrediction, gp_posterior, predict_with_kernel
from .layout import blocks, output_kernel, time_major
from .nngp import NNGPKernels, nngp_kernels, nngp_predict

__all__ = [
    "KernelPrediction",
    "NNGPKernels",
    "blocks",
    "gp_posterior",
    "nngp_kernels",
    "nngp_predict",
    "output_kernel",
    "predict_with_kernel",
    "time_major",
]

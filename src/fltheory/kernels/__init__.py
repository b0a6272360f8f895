"""Infinite-width kernels and kernel-regression predictors (conventions §4–§5)."""
from .gp import KernelPrediction, gp_posterior, predict_with_kernel
from .layout import KERNEL_DIMS, blocks, kernel_dataarray, merge_time, output_kernel, split_time, time_major
from .nngp import NNGPKernels, nngp_kernels, nngp_predict

__all__ = [
    "KERNEL_DIMS",
    "KernelPrediction",
    "NNGPKernels",
    "blocks",
    "gp_posterior",
    "kernel_dataarray",
    "merge_time",
    "nngp_kernels",
    "nngp_predict",
    "output_kernel",
    "predict_with_kernel",
    "split_time",
    "time_major",
]

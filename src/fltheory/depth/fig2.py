"""The seed paper's Fig. 2 on real data (issue #15, part 4): train/test loss against GD steps for the
vanilla DNN, the muP ResNet and the depth-muP ResNet, with reused vs independently initialised
("decoupled") backward weights, on scikit-learn's 8×8 digits.

Data (:func:`digits_task`): ``sklearn.datasets.load_digits`` (1797 images, D = 64 pixels, ships
with scikit-learn, never downloaded). A fixed split — a permutation drawn from ``split_seed`` —
gives ``P`` training and ``P_test`` test images. Pixels are standardised with the *training* mean
and standard deviation (pixels constant on the training split, always 0 at the border, stay 0), so
‖x‖²/D ≈ the fraction of varying pixels (≈ 0.85), close to the teacher task's 1.

Readout: the network has one scalar output (conventions §11), so the task is a binary regression,
y = +1 for the digits 5–9 and −1 for 0–4, with the loss (1/2P) Σ_μ (f_μ − y_μ)² of
:mod:`fltheory.depth.training`. (A one-vs-rest readout would need ten networks per point; the
binary split uses all ten classes and keeps the model of §11 unchanged.)

Training: full-batch GD with the muP learning rate η₀ (conventions §11), both modes side by side
from the same forward initialisation (:func:`fltheory.depth.experiments.train_pairs`), seeds
batched. Profiles (:data:`PROFILES`): ``small`` (the default; a smoke test of seconds of run time),
``medium`` and ``full`` (the issue's sizes: N = 128, L ∈ {2, 4, 8, 16}, 5 seeds).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from .._validate import FLTheoryInputError, choice, positive, positive_int
from ..io import describe
from ..tasks import Task
from .data import RegressionTask
from .experiments import DEFAULT_A, _ints, _seed, _seed_keys, branch_multipliers, train_pairs
from .model import ARCHS, MODES, ResNetConfig

#: Number of images in ``load_digits``.
N_DIGITS = 1797

#: Sizes per profile; explicit arguments override them.
PROFILES = {
    "small": dict(archs=ARCHS, Ls=(2,), N=16, n_seeds=2, steps=5, P=64, P_test=64),  # one compiled loop
    "medium": dict(archs=ARCHS, Ls=(2, 4, 8, 16), N=128, n_seeds=5, steps=100, P=256, P_test=256),
    "full": dict(archs=ARCHS, Ls=(2, 4, 8, 16), N=128, n_seeds=5, steps=400, P=512, P_test=512),
}


@lru_cache(maxsize=1)
def _digits():
    from sklearn.datasets import load_digits

    X, labels = load_digits(return_X_y=True)
    return np.asarray(X, np.float64), np.asarray(labels)


def digits_task(P: int = 512, P_test: int = 512, split_seed: int = 0) -> RegressionTask:
    """The fixed train/test split of the digits with targets ±1 (5–9 vs 0–4); module docstring."""
    P, P_test = positive_int("P", P), positive_int("P_test", P_test)
    if P + P_test > N_DIGITS:
        raise FLTheoryInputError(f"P: P + P_test = {P + P_test} exceeds the {N_DIGITS} digit images; "
                                 "reduce P or P_test")
    split_seed = _seed(split_seed, minimum=0)
    X, labels = _digits()
    perm = np.random.default_rng(split_seed).permutation(N_DIGITS)
    tr, te = perm[:P], perm[P:P + P_test]
    mu, sd = X[tr].mean(0), X[tr].std(0)
    sd = np.where(sd > 0, sd, 1.0)
    Z = (X - mu) / sd
    y = np.where(labels >= 5, 1.0, -1.0)
    return RegressionTask.from_task(Task.from_static(Z[tr], y[tr], Z[te], y[te]))


def resolve_profile(profile: str = "small", **overrides) -> dict:
    """The sizes of ``profile`` with every non-``None`` override applied."""
    choice("profile", profile, tuple(PROFILES))
    return {**PROFILES[profile], **{k: v for k, v in overrides.items() if v is not None}}


def fig2_experiment(profile: str = "small", archs: Sequence[str] | None = None, Ls: Sequence[int] | None = None,
                    N: int | None = None, n_seeds: int | None = None, steps: int | None = None,
                    P: int | None = None, P_test: int | None = None, lr: float = 0.05, phi: str = "erf",
                    a: dict | float | None = None, split_seed: int = 0, seed: int = 0, n_probe: int = 16,
                    progress: Callable[[], None] | None = None) -> xr.Dataset:
    """Train/test loss vs GD step on the digits for every (arch, L, mode, seed) (module docstring).

    Sizes come from ``profile`` unless given. ``a``: branch multiplier per architecture (defaults
    :data:`~fltheory.depth.experiments.DEFAULT_A`; one number sets all). Returns an
    ``xarray.Dataset`` with ``train_loss``/``test_loss[arch, L, mode, seed, step]``, their seed
    means and standard errors, the gaps loss(decoupled) − loss(reused) with s.e. (``train_gap``,
    ``test_gap``, ``*_se``) and the feature gap (final-layer kernel distance). A ``lr`` at which
    a network diverges raises one error naming ``lr`` and the remedy.
    """
    cfg_ = resolve_profile(profile, archs=archs, Ls=Ls, N=N, n_seeds=n_seeds, steps=steps, P=P, P_test=P_test)
    archs = cfg_["archs"]
    archs = (archs,) if isinstance(archs, str) else tuple(archs)
    if not archs:
        raise FLTheoryInputError("archs: must not be empty")
    archs = tuple(choice("archs", x, ARCHS) for x in archs)
    Ls = _ints("Ls", cfg_["Ls"])
    N = positive_int("N", cfg_["N"])
    n_seeds = positive_int("n_seeds", cfg_["n_seeds"], minimum=2)
    steps = positive_int("steps", cfg_["steps"])
    lr, seed, n_probe = positive("lr", lr), _seed(seed), positive_int("n_probe", n_probe, minimum=2)
    a = branch_multipliers(a, archs)
    task = digits_task(cfg_["P"], cfg_["P_test"], split_seed)
    D = task.X.shape[1]
    cfgs = {(arch, L): ResNetConfig(N=N, L=L, D=D, phi=phi, arch=arch, a=a[arch]) for arch in archs for L in Ls}
    shape = (len(archs), len(Ls), len(MODES), n_seeds, steps + 1)
    loss = {k: np.zeros(shape) for k in ("train", "test")}
    fgap = np.zeros((len(archs), len(Ls), n_seeds, steps + 1))
    tick = progress or (lambda: None)
    keys = _seed_keys(40_000 * (seed + 1), n_seeds)
    for i, arch in enumerate(archs):
        for j, L in enumerate(Ls):
            h = train_pairs(cfgs[arch, L], task.X, task.y, task.X_test, task.y_test, keys, steps, lr, n_probe)
            loss["train"][i, j] = np.moveaxis(h["train_loss"], 0, 1)
            loss["test"][i, j] = np.moveaxis(h["test_loss"], 0, 1)
            fgap[i, j] = h["feature_gap"]
            tick()
    dims = ("arch", "L", "mode", "seed", "step")
    ds = xr.Dataset(
        {"train_loss": (dims, loss["train"]), "test_loss": (dims, loss["test"]),
         "feature_gap": (("arch", "L", "seed", "step"), fgap)},
        coords={"arch": list(archs), "L": list(Ls), "mode": list(MODES), "seed": np.arange(n_seeds),
                "step": np.arange(steps + 1)},
        attrs={"profile": profile, "N": N, "lr": lr, "phi": phi, "P": int(task.X.shape[0]),
               "P_test": int(task.X_test.shape[0]), "D": D, "seed": seed, "split_seed": split_seed,
               "n_probe": n_probe, "data": "sklearn load_digits, y = +1 (digits 5-9) / -1 (0-4), "
                                         "pixels standardised on the training split",
               "description": "Fig. 2 analogue: reused vs decoupled backward weights on digits "
                              "(docs/theory/depth.md)"},
    )
    ds["a"] = ("arch", np.array([float(a[k]) for k in archs]))
    sq = np.sqrt(n_seeds)
    for split in ("train", "test"):
        v = ds[f"{split}_loss"]
        ds[f"{split}_loss_mean"] = v.mean("seed")
        ds[f"{split}_loss_se"] = v.std("seed", ddof=1) / sq
        d = v.sel(mode="decoupled") - v.sel(mode="reused")
        ds[f"{split}_gap"] = d.mean("seed")
        ds[f"{split}_gap_se"] = d.std("seed", ddof=1) / sq
    ds["feature_gap_mean"] = ds.feature_gap.mean("seed")
    ds["feature_gap_se"] = ds.feature_gap.std("seed", ddof=1) / sq
    meta = {"arch": ("architecture", None), "L": ("depth L (number of residual blocks)", "1"),
            "mode": ("backward pass: reused (true backprop through W^T) or decoupled (independent W~(0))", None),
            "seed": ("initialisation seed", "1"), "step": ("GD step", "1"),
            "a": ("branch multiplier a of the architecture", "1"),
            "feature_gap": ("||Phi_dec - Phi_reu||_F / ||Phi_reu||_F, final-layer kernel on n_probe test digits", "1"),
            "feature_gap_mean": ("seed mean of feature_gap", "1"),
            "feature_gap_se": ("standard error over seeds of feature_gap", "1")}
    for split in ("train", "test"):
        meta[f"{split}_loss"] = (f"{split} loss (1/2P) sum (f - y)^2 on the digits", "1")
        meta[f"{split}_loss_mean"] = (f"seed mean of {split}_loss", "1")
        meta[f"{split}_loss_se"] = (f"standard error over seeds of {split}_loss", "1")
        meta[f"{split}_gap"] = (f"{split} loss(decoupled) - loss(reused), seed mean", "1")
        meta[f"{split}_gap_se"] = (f"standard error over seeds of {split}_gap", "1")
    return describe(ds, meta)


def fig2_summary(ds: xr.Dataset) -> list[str]:
    """One line per architecture: the test-loss gap at the last step against L (mean ± s.e.), and
    relative to the reused network's test-loss decrease."""
    lines = []
    for arch in ds.arch.values:
        parts = []
        for L in ds.L.values:
            g = float(ds.test_gap.sel(arch=arch, L=L).isel(step=-1))
            se = float(ds.test_gap_se.sel(arch=arch, L=L).isel(step=-1))
            m = ds.test_loss_mean.sel(arch=arch, L=L, mode="reused")
            drop = float(m.isel(step=0) - m.isel(step=-1))
            parts.append(f"L={L}: {g:+.4f} +- {se:.4f} ({g / drop:+.2f} of the drop)" if drop > 0
                         else f"L={L}: {g:+.4f} +- {se:.4f}")
        lines.append(f"{arch}: test gap at step {int(ds.step[-1])}: " + ", ".join(parts))
    return lines


def check_fig2_point(*, arch, L, N, steps, lr, P, P_test, **_) -> None:
    """Parameters of one sweep point (used by the ``depth-fig2`` reproduce spec)."""
    choice("arch", arch, ARCHS)
    positive_int("L", L)
    positive_int("N", N)
    positive_int("steps", steps)
    positive("lr", lr)
    P, P_test = positive_int("P", P), positive_int("P_test", P_test)
    if P + P_test > N_DIGITS:
        raise FLTheoryInputError(f"P: P + P_test = {P + P_test} exceeds the {N_DIGITS} digit images; "
                                 "reduce P or P_test")


def fig2_point(*, arch: str = "depth_mup", L: int = 4, N: int = 128, steps: int = 100, lr: float = 0.05,
               P: int = 256, P_test: int = 256, phi: str = "erf", seed: int = 0) -> dict:
    """One (arch, L, seed) of the Fig. 2 analogue: final losses of both modes and their gaps."""
    check_fig2_point(arch=arch, L=L, N=N, steps=steps, lr=lr, P=P, P_test=P_test)
    task = digits_task(P, P_test)
    cfg = ResNetConfig(N=N, L=L, D=task.X.shape[1], phi=phi, arch=arch, a=DEFAULT_A[arch])
    key = jnp.stack([jax.random.fold_in(jax.random.PRNGKey(_seed(seed) % (2**31)), 0)])
    h = train_pairs(cfg, task.X, task.y, task.X_test, task.y_test, key, steps, lr)
    out = {}
    for split in ("train", "test"):
        r, d = (float(h[f"{split}_loss"][0, m, -1]) for m in range(2))
        out[f"{split}_loss_reused"], out[f"{split}_loss_decoupled"], out[f"{split}_gap"] = r, d, d - r
    out["feature_gap"] = float(h["feature_gap"][0, -1])
    return out


FIG2_OUTPUTS = {
    "train_loss_reused": "train loss, reused backward weights",
    "train_loss_decoupled": "train loss, decoupled backward weights",
    "test_loss_reused": "test loss, reused backward weights",
    "test_loss_decoupled": "test loss, decoupled backward weights",
    "train_gap": "train loss gap (decoupled − reused)",
    "test_gap": "test loss gap (decoupled − reused)",
    "feature_gap": "final-layer kernel distance (decoupled vs reused)",
}

"""The ``depth-gap`` sweep point: reused vs decoupled backward weights at one depth (issue #7)."""
from __future__ import annotations

from .._validate import choice, positive, positive_int
from ..sweep.registry import declare


DEPTH_GAP_OUTPUTS = {
    "gap": "train-loss gap (decoupled − reused), finite N",
    "gap_se": "s.e. of the train-loss gap",
    "theory_gap": "train-loss gap, linearised theory (N = ∞)",
}


def check_depth_gap(*, arch, L, N, steps, lr, n_seeds, **_) -> None:
    """Parameters of :func:`depth_gap_point` (``gap_experiment``'s checks)."""
    from ..depth.model import ARCHS

    choice("arch", arch, ARCHS)
    positive_int("L", L)
    positive_int("N", N)
    positive_int("steps", steps)
    positive("lr", lr)
    positive_int("n_seeds", n_seeds, minimum=2)


@declare(outputs=DEPTH_GAP_OUTPUTS, validate=check_depth_gap)
def depth_gap_point(*, arch: str = "depth_mup", L: int = 4, N: int = 128, steps: int = 20,
                    lr: float = 0.05, n_seeds: int = 2, seed: int = 0) -> dict:
    """Train-loss gap between decoupled and reused backward weights at depth L (issue #7)."""
    from ..depth.experiments import gap_experiment

    check_depth_gap(arch=arch, L=L, N=N, steps=steps, lr=lr, n_seeds=n_seeds)
    ds = gap_experiment(archs=(arch,), Ls=(L,), N=N, n_seeds=n_seeds, steps=steps, lr=lr, seed=seed)
    last = dict(arch=arch, L=L, step=steps)
    return {
        "gap": float(ds["train_gap"].sel(**last)),
        "gap_se": float(ds["train_gap_se"].sel(**last)),
        "theory_gap": float(ds["theory_train_gap"].sel(**last)),
    }

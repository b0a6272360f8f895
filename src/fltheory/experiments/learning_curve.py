"""Issue #5 experiment ``learning-curve``: test MSE vs P for SGLD, NNGP, MF and MF-ARD.

Methods (``method=``): ``sgld`` (the network), ``nngp`` (kernel ridge regression), ``mf`` / ``mf_ard``
(population mean field, docs/theory/two_layer.md §3, §4) and ``mf_emp`` / ``mf_ard_emp`` (the
training-set mean field of issue #14, §3b, on the very data SGLD sees; ``readout=independent``
(default, §3b) or ``joint`` (§3c)).

One point (:func:`learning_curve_point`, the sweep-engine entry) runs one method at one training
set size P and seed; :func:`run_learning_curve` loops over P, seeds and methods and adds the P–κ²
phase diagram of the plain-MF order parameter m_S; :func:`plot_learning_curve` draws the figure.
Scalings: conventions §9; theory: docs/theory/two_layer.md.

Order parameters returned by every method (keys of the point dict):

- ``test_mse``: test error of the posterior-mean predictor (theory: population error; SGLD and
  NNGP: on held-out test inputs that are not in the training set);
- ``m_target``: coefficient of ⟨f⟩ on the target (χ_S, or He_q(v·x)/√q!);
- ``m_off``: largest |m_A| over off-target sets (SGLD/NNGP: all 1 ≤ |A| ≤ k on the test set, whose
  noise floor is ≈ √(2 ln #A / P_test); MF: the tracked set S with one coordinate swapped, which
  is 0 by symmetry);
- ``w2_relevant`` / ``w2_irrelevant``: ⟨w_j²⟩ averaged over j ∈ S / j ∉ S;
- ``rho_relevant`` / ``rho_irrelevant`` / ``rho_ratio``: ARD precisions and their ratio
  (irrelevant / relevant); for SGLD and plain MF, the ARD update evaluated at their ⟨w_j²⟩.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np

from .._validate import FLTheoryInputError, choice, positive, positive_int
from ..models.parametrization import readout_exponent
from ..priors import Priors, two_layer_priors
from ..two_layer.ard import ard_update, relevance_ratio
from ..two_layer.empirical import check_hyperprior, solve_empirical_mf
from ..two_layer.features import ParityOverlaps, SingleIndexOverlaps, subsets_up_to, walsh
from ..two_layer.mean_field import solve_mean_field
from ..two_layer.nngp import nngp_regression
from ..two_layer.sgld import READOUT_UPDATES, run_sgld
from ..sweep.registry import declare

METHODS = ("sgld", "nngp", "mf", "mf_ard", "mf_emp", "mf_ard_emp")
#: the training-set (empirical) mean-field methods (issue #14, docs/theory/two_layer.md §3b, §3c)
EMPIRICAL_METHODS = ("mf_emp", "mf_ard_emp")
READOUTS = ("independent", "joint")
TASKS = ("parity", "single_index")


@dataclass(frozen=True)
class LearningCurveConfig:
    """All knobs of the experiment (defaults: the ``default`` size)."""

    task: str = "parity"
    d: int = 16
    k: int = 4                  # parity order |S|, or support size of v (single index)
    degree: int = 2             # Hermite degree of the single-index link
    N: int = 128
    kappa2: float = 0.1
    parametrization: str = "ntk"
    sw2: float = 1.0
    sa2: float = 1.0
    phi: str = "relu"
    a0: float = 1.0
    b0: float = 1.0
    P_test: int = 2048
    # SGLD
    sgld_chains: int = 4
    burn_in: int = 10000
    n_samples: int = 50
    thin: int = 100
    step_scale: float = 0.05
    # SGLD readout update: joint Langevin (default) or an exact Gibbs draw of a | w every ``gibbs_every``
    # Langevin steps of w (needed at N ≥ 256, where the collective readout mode is too stiff: two_layer.md §6b)
    sgld_readout: str = "langevin"
    gibbs_every: int = 1
    # MF
    mf_chains: int = 512
    steps_per_iter: int = 25
    max_iter: int = 200
    overlaps: str = "clt"
    # training-set MF (mf_emp, mf_ard_emp): readouts factorised per neuron (§3b) or integrated out jointly (§3c)
    readout: str = "independent"

    def __post_init__(self):
        choice("task", self.task, TASKS)
        positive_int("d", self.d)
        positive_int("k", self.k)
        if self.k > self.d:
            raise FLTheoryInputError(f"k: must be <= d = {self.d}, got {self.k}")
        positive_int("N", self.N)
        positive("kappa2", self.kappa2)
        check_hyperprior(self.a0, self.b0)   # a proper Gamma(a0, b0) hyper-prior: "a0: must be > 0, ..."
        choice("readout", self.readout, READOUTS)
        choice("sgld_readout", self.sgld_readout, READOUT_UPDATES)
        positive_int("gibbs_every", self.gibbs_every)
        readout_exponent(self.parametrization)
        if self.task == "parity" and self.phi == "relu" and self.k % 2 == 1 and self.k >= 3:
            raise FLTheoryInputError(
                f"k: odd parity of order {self.k} >= 3 is orthogonal to every bias-free relu neuron "
                "(relu(h) = h/2 + |h|/2 has Walsh weight on degree 1 and even degrees only); use even k")

    @property
    def gamma(self) -> float:
        return readout_exponent(self.parametrization)

    @property
    def relevant(self) -> tuple:
        return tuple(range(self.k))

    def model(self):
        if self.task == "parity":
            off = tuple(range(self.k - 1)) + (self.k,) if self.d > self.k else ()
            return ParityOverlaps(self.d, self.relevant, phi=self.phi, method=self.overlaps,
                                  tracked=(off,) if off else ())
        return SingleIndexOverlaps(self.d, self.relevant, degree=self.degree, n_max=max(self.degree + 2, 4),
                                   phi=self.phi)


#: training-set sizes of the learning curve per size preset (``run_learning_curve(None, size=…)``)
DEFAULT_PS = {"small": [50, 100, 200, 400], "default": [100, 200, 400, 800, 1600],
              "full": [500, 1000, 2000, 4000, 8000]}

SIZES = {
    "small": dict(d=12, k=4, N=64, kappa2=0.1, P_test=1024, mf_chains=256, burn_in=8000, n_samples=40),
    "default": dict(),
    "full": dict(d=35, k=4, N=512, kappa2=0.1, P_test=4096, burn_in=40000, n_samples=100,
                 mf_chains=1024, steps_per_iter=50),
}


def make_data(cfg: LearningCurveConfig, P: int, seed: int):
    """Training set of size P and a test set of inputs *not* in the training set (cube, d ≤ 30)."""
    rng = np.random.default_rng(seed)
    if cfg.task == "parity":
        X = rng.choice([-1.0, 1.0], size=(P, cfg.d))
        Xt = rng.choice([-1.0, 1.0], size=(cfg.P_test + P, cfg.d))
        if cfg.d <= 30:
            code = lambda A: ((A > 0).astype(np.int64) << np.arange(cfg.d)).sum(1)  # noqa: E731
            Xt = Xt[~np.isin(code(Xt), code(X))]
        Xt = Xt[: cfg.P_test]
        S = list(cfg.relevant)
        return X, np.prod(X[:, S], 1), Xt, np.prod(Xt[:, S], 1)
    model = cfg.model()
    X, Xt = model.sample_inputs(P, rng), model.sample_inputs(cfg.P_test, rng)
    return X, model.target(X), Xt, model.target(Xt)


def _coefficients(cfg, f, Xt):
    """(m_target, m_off) of a predictor f on the test inputs."""
    if cfg.task == "parity":
        m_t = float(np.mean(f * walsh(Xt, cfg.relevant)))
        sets = subsets_up_to(cfg.d, cfg.k) if math.comb(cfg.d, cfg.k) <= 20000 else []
        offs = [abs(float(np.mean(f * walsh(Xt, A)))) for A in sets if tuple(A) != cfg.relevant]
        return m_t, max(offs) if offs else float("nan")
    model = cfg.model()
    u = Xt @ model.v
    from numpy.polynomial.hermite_e import hermeval
    coef = [float(np.mean(f * hermeval(u, np.eye(n + 1)[n]))) / math.sqrt(math.factorial(n))
            for n in range(model.n_max + 1)]
    off = max(abs(c) for n, c in enumerate(coef) if n != cfg.degree)
    return coef[cfg.degree], off


def _w2_summary(cfg, w2, rho):
    mask = np.zeros(cfg.d, bool)
    mask[list(cfg.relevant)] = True
    irr = (~mask).any()
    return dict(w2_relevant=float(w2[mask].mean()),
                w2_irrelevant=float(w2[~mask].mean()) if irr else float("nan"),
                rho_relevant=float(rho[mask].mean()),
                rho_irrelevant=float(rho[~mask].mean()) if irr else float("nan"),
                rho_ratio=relevance_ratio(rho, cfg.relevant) if irr else float("nan"))


LEARNING_CURVE_OUTPUTS = {
    "test_mse": "test MSE",
    "test_mse_se": "s.e. of the test MSE",
    "m_target": "coefficient on the target m_S",
    "m_off": "largest off-target coefficient",
    "w2_relevant": "⟨w²⟩ on relevant inputs",
    "w2_irrelevant": "⟨w²⟩ on irrelevant inputs",
    "rho_relevant": "ARD precision, relevant inputs",
    "rho_irrelevant": "ARD precision, irrelevant inputs",
    "rho_ratio": "ARD precision ratio (irrelevant / relevant)",
    "converged": "converged (1) or not (0)",
    "m_target_se": "Monte-Carlo s.e. of m_S (SGLD: chain spread; MF: fixed-point iterates; NNGP: 0)",
    "train_mse": "training MSE (training-set MF)",
    "n_iter": "fixed-point iterations (training-set MF)",
}


def _config(size: str, priors: Priors | None, kw: dict) -> LearningCurveConfig:
    """The :class:`LearningCurveConfig` of ``size`` updated by ``kw``; with ``priors``, its ``sw2``, ``sa2``,
    ``kappa2`` are the priors in the two-layer names (:meth:`fltheory.Priors.two_layer` at the config's N
    and γ; they replace the preset's), and one of those names in ``kw`` as well is one error naming
    ``priors``."""
    unknown = set(kw) - set(LearningCurveConfig.__dataclass_fields__)
    if unknown:
        raise FLTheoryInputError(f"{sorted(unknown)[0]}: unknown parameter of learning_curve_point")
    if priors is None:
        return LearningCurveConfig(**{**SIZES[size], **kw})
    named = {k: kw.pop(k, None) for k in ("sw2", "sa2", "kappa2")}
    cfg = LearningCurveConfig(**{**SIZES[size], **kw})
    sw2, sa2, kappa2 = two_layer_priors(priors, **named, N=cfg.N, gamma=cfg.gamma)
    return replace(cfg, sw2=sw2, sa2=sa2, kappa2=kappa2)


def check_learning_curve(*, P, method, priors=None, **kw) -> None:
    """Parameters of :func:`learning_curve_point`: its own first
    steps, up to building (and so validating) the :class:`LearningCurveConfig`."""
    positive_int("P", P)
    choice("method", method, METHODS)
    size = kw.pop("size", "default")
    choice("size", size, tuple(SIZES))
    kw.pop("progress", None)
    try:
        _config(size, priors, kw)
    except TypeError as exc:  # e.g. a wrongly typed field the dataclass cannot compare
        raise FLTheoryInputError(f"invalid LearningCurveConfig ({exc})") from None


@declare(outputs=LEARNING_CURVE_OUTPUTS, validate=check_learning_curve)
def learning_curve_point(*, P: int, method: str, seed: int = 0, priors: Priors | None = None,
                         **kw) -> dict[str, float]:
    """One point of the learning curve: ``method`` ∈ :data:`METHODS` at training size P.

    ``kw`` are fields of :class:`LearningCurveConfig` (plus ``size`` = small|default|full for the
    presets). Returns floats: test_mse, m_target, m_off, w2_relevant, w2_irrelevant, rho_relevant,
    rho_irrelevant, rho_ratio, converged (MF: 1/0; others 1), test_mse_se and m_target_se (SGLD: chain
    spread; MF: Monte-Carlo error; 0 for the exact NNGP).

    ``mf_emp`` / ``mf_ard_emp`` solve the training-set MF / MF-ARD (``readout`` = independent |
    joint) on the data of :func:`make_data` with the same ``seed`` as SGLD; their ``m_target`` and
    ``test_mse`` are measured on the same held-out inputs with the estimator used for SGLD. Extra
    outputs: ``m_target_se`` (Monte Carlo, from the spread of the last fixed-point iterates),
    ``train_mse``, ``n_iter``.

    Priors: the two-layer names ``sw2``, ``sa2``, ``kappa2`` in ``kw`` (conventions §9), or from Python
    ``priors`` (a :class:`fltheory.Priors`, translated at the config's N and γ; not both).
    """
    P = positive_int("P", P)
    method = choice("method", method, METHODS)
    size = kw.pop("size", "default")
    choice("size", size, tuple(SIZES))
    progress = kw.pop("progress", False)
    cfg = _config(size, priors, kw)
    nan = float("nan")
    if method in ("mf", "mf_ard"):
        res = solve_mean_field(cfg.model(), P=P, kappa2=cfg.kappa2, N=cfg.N, gamma=cfg.gamma, sa2=cfg.sa2,
                               sw2=cfg.sw2, ard=(method == "mf_ard"), a0=cfg.a0, b0=cfg.b0,
                               n_chains=cfg.mf_chains, steps_per_iter=cfg.steps_per_iter,
                               max_iter=cfg.max_iter, seed=seed, throw=False)  # `converged` is an output
        rho = res.rho if method == "mf_ard" else ard_update(res.w2, cfg.N, cfg.a0, cfg.b0)
        if cfg.task == "parity":
            m_t = res.m_target
        else:
            m_t = float(res.m[cfg.degree])
        off = (float(np.max(np.abs(res.m_tracked))) if len(res.m_tracked) else
               float(np.max(np.abs(np.delete(res.m, cfg.degree)))) if cfg.task != "parity" else nan)
        return dict(test_mse=res.test_mse, test_mse_se=2.0 * abs(1.0 - m_t) * float(res.m_se[0]),
                    m_target=m_t, m_target_se=float(res.m_se[0]), m_off=off, converged=float(res.converged),
                    **_w2_summary(cfg, res.w2, rho))
    X, Y, Xt, Yt = make_data(cfg, P, seed)
    if method in EMPIRICAL_METHODS:
        return _empirical_point(cfg, method, seed, X, Y, Xt, Yt)
    if method == "nngp":
        f = nngp_regression(X, Y, Xt, kappa2=cfg.kappa2, sw2=cfg.sw2, sa2=cfg.sa2, N=cfg.N, gamma=cfg.gamma,
                         phi=cfg.phi)
        m_t, off = _coefficients(cfg, f, Xt)
        w2 = np.full(cfg.d, cfg.sw2)
        return dict(test_mse=float(np.mean((f - Yt) ** 2)), test_mse_se=0.0,  # exact (no sampling)
                    m_target=m_t, m_target_se=0.0, m_off=off,
                    converged=1.0, **_w2_summary(cfg, w2, ard_update(w2, cfg.N, cfg.a0, cfg.b0)))
    res = run_sgld(X, Y, Xt, Yt, N=cfg.N, kappa2=cfg.kappa2, parametrization=cfg.parametrization,
                   sw2=cfg.sw2, sa2=cfg.sa2, phi=cfg.phi, n_chains=cfg.sgld_chains, burn_in=cfg.burn_in,
                   n_samples=cfg.n_samples, thin=cfg.thin, step_scale=cfg.step_scale, a0=cfg.a0, b0=cfg.b0,
                   readout_update=cfg.sgld_readout, gibbs_every=cfg.gibbs_every, seed=seed, progress=progress)
    m_t, off = _coefficients(cfg, res.f_test_mean, Xt)
    n_ch = len(res.test_mse_chains)
    se = float(np.std(res.test_mse_chains, ddof=1) / np.sqrt(n_ch)) if n_ch > 1 else nan
    m_ch = [_coefficients(cfg, f, Xt)[0] for f in res.f_test_chains]      # m_S of each chain's predictor
    m_se = float(np.std(m_ch, ddof=1) / np.sqrt(n_ch)) if n_ch > 1 else nan
    return dict(test_mse=res.test_mse, test_mse_se=se, m_target=m_t, m_target_se=m_se, m_off=off, converged=1.0,
                **_w2_summary(cfg, res.w2, res.rho))


def _empirical_point(cfg, method, seed, X, Y, Xt, Yt) -> dict[str, float]:
    """``mf_emp`` / ``mf_ard_emp``: the training-set MF / MF-ARD (§3b, §3c) on the data SGLD sees."""
    ard = method == "mf_ard_emp"
    res = solve_empirical_mf(X, Y, N=cfg.N, kappa2=cfg.kappa2, gamma=cfg.gamma, sa2=cfg.sa2, sw2=cfg.sw2,
                             phi=cfg.phi, ard=ard, a0=cfg.a0, b0=cfg.b0, X_test=Xt, relevant=cfg.relevant,
                             n_chains=cfg.mf_chains, steps_per_iter=cfg.steps_per_iter, max_iter=cfg.max_iter,
                             seed=seed, readout=cfg.readout, throw=False)  # `converged` is an output
    m_t, off = _coefficients(cfg, res.f_test, Xt)
    rho = res.rho if ard else ard_update(res.w2, cfg.N, cfg.a0, cfg.b0)
    # Monte-Carlo error of m_S: the test predictor is linear in the training residual, so its
    # spread is that of the training-set overlap q = ⟨f⟩·y/‖y‖² over the last iterates
    q = np.array(res.diagnostics.history[-20:])
    m_se = float(q.std() / np.sqrt(len(q)))
    return dict(test_mse=float(np.mean((res.f_test - Yt) ** 2)), test_mse_se=2.0 * abs(1.0 - m_t) * m_se,
                m_target=m_t, m_off=off, m_target_se=m_se, train_mse=float(np.mean((res.f_train - Y) ** 2)),
                converged=float(res.converged), n_iter=float(res.n_iter), **_w2_summary(cfg, res.w2, rho))


OBSERVABLES = ("test_mse", "test_mse_se", "m_target", "m_off", "w2_relevant", "w2_irrelevant",
               "rho_relevant", "rho_irrelevant", "rho_ratio", "converged")


def run_learning_curve(Ps, *, seeds=(0,), methods=METHODS, phase_P=None, phase_kappa2=None,
                       size: str = "default", progress: bool = True, **kw):
    """Learning curves for ``methods`` over ``Ps`` × ``seeds`` and the MF P–κ² phase diagram.

    ``Ps=None``: the preset's training-set sizes, :data:`DEFAULT_PS` ``[size]``.

    Returns an :class:`xarray.Dataset` with variables ``OBSERVABLES`` on dims (level, P, seed)
    (``level`` = the method name; not called ``method`` because ``DataArray.sel(method=...)`` is
    taken by xarray)
    and ``phase_m_target`` on (phase_kappa2, phase_P) (plain MF, seed 0). ``phase_P`` /
    ``phase_kappa2`` default to ``Ps`` and κ² × {¼, ½, 1, 2, 4}; pass ``phase_P=()`` to skip.
    """
    import xarray as xr
    from rich.progress import Progress

    if Ps is None:
        Ps = DEFAULT_PS[choice("size", size, tuple(SIZES))]
    Ps = [positive_int("P", int(p)) for p in Ps]   # named as the point parameter (and the CLI option)
    seeds = [int(s) for s in seeds]
    methods = [choice("methods", m, METHODS) for m in methods]
    cfg = LearningCurveConfig(**{**SIZES[choice("size", size, tuple(SIZES))], **kw})
    phase_P = list(Ps) if phase_P is None else [int(p) for p in phase_P]
    phase_k = ([cfg.kappa2 * f for f in (0.25, 0.5, 1.0, 2.0, 4.0)] if phase_kappa2 is None
               else [positive("phase_kappa2", k) for k in phase_kappa2])
    base = asdict(cfg)
    data = {o: np.full((len(methods), len(Ps), len(seeds)), np.nan) for o in OBSERVABLES}
    phase = np.full((len(phase_k), len(phase_P)), np.nan)
    total = len(methods) * len(Ps) * len(seeds) + (len(phase_k) * len(phase_P) if phase_P else 0)
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("learning-curve", total=total)
        for i, m in enumerate(methods):
            for j, P in enumerate(Ps):
                for s, seed in enumerate(seeds):
                    bar.update(task, description=f"{m} P={P} seed={seed}")
                    out = learning_curve_point(P=P, method=m, seed=seed, **base)
                    for o in OBSERVABLES:
                        data[o][i, j, s] = out[o]
                    bar.advance(task)
        for a, k2 in enumerate(phase_k if phase_P else []):
            for b, P in enumerate(phase_P):
                bar.update(task, description=f"phase κ²={k2:.3g} P={P}")
                phase[a, b] = learning_curve_point(P=P, method="mf", seed=0, **{**base, "kappa2": k2})["m_target"]
                bar.advance(task)
    ds = xr.Dataset(
        {o: (("level", "P", "seed"), data[o]) for o in OBSERVABLES},
        coords=dict(level=methods, P=Ps, seed=seeds),
    )
    if phase_P:
        ds["phase_m_target"] = (("phase_kappa2", "phase_P"), phase)
        ds = ds.assign_coords(phase_kappa2=phase_k, phase_P=phase_P)
    ds.attrs.update(base)  # numbers stay numbers (save_dataset stores booleans as 0/1)
    ds.attrs["gamma"] = cfg.gamma
    ds.attrs["relevant"] = [int(j) for j in cfg.relevant]
    return describe_learning_curve(ds)


#: m_S level that defines the learning onset P_c (issue #14)
ONSET_LEVEL = 0.25


def onset_P(Ps, m, level: float = ONSET_LEVEL) -> float:
    """Onset P_c: the P where ``m`` (m_S on the grid ``Ps``, increasing P) first crosses ``level``,
    linear in log P between the two grid points; ``inf`` if it never does, ``Ps[0]`` if it starts above."""
    Ps, m = np.asarray(Ps, float), np.asarray(m, float)
    for i in range(1, len(Ps)):
        if m[i - 1] < level <= m[i]:
            return float(np.exp(np.interp(level, m[i - 1: i + 1], np.log(Ps[i - 1: i + 1]))))
    return float("inf") if m[0] < level else float(Ps[0])


def onsets_vs_d(ds, level: float = ONSET_LEVEL):
    """Onset P_c vs d per method from a sweep over (d, P, method) of :func:`learning_curve_point`
    (e.g. ``fltheory reproduce parity-full``: ``results.nc``); m_S is averaged over ``seed``.

    Returns a Dataset with ``onset`` on (method, d) (inf: no crossing on the P grid) and ``slope``
    on (method), the least-squares slope of log P_c vs log d over the finite onsets (NaN with
    fewer than two): ≈ 1 is the O(d) sample-complexity penalty of MF, ≈ 0 its removal.
    """
    import xarray as xr

    m = ds["m_target"]
    m = m.mean("seed") if "seed" in m.dims else m
    m = m.transpose("method", "d", "P")
    Ps, dvals = m["P"].values, m["d"].values.astype(float)
    onset = np.array([[onset_P(Ps, m.values[i, j], level) for j in range(len(dvals))]
                      for i in range(m.sizes["method"])])
    slope = np.full(len(onset), np.nan)
    for i, row in enumerate(onset):
        ok = np.isfinite(row)
        if ok.sum() >= 2:
            slope[i] = np.polyfit(np.log(dvals[ok]), np.log(row[ok]), 1)[0]
    out = xr.Dataset({"onset": (("method", "d"), onset), "slope": (("method",), slope)},
                     coords=dict(method=m["method"].values, d=m["d"].values))
    out["onset"].attrs.update(long_name=f"onset P_c (m_S first reaches {level})", units="1")
    out["slope"].attrs.update(long_name="slope of log P_c vs log d", units="1")
    return out


def describe_learning_curve(ds):
    """``long_name``/``units`` of every variable of a :func:`run_learning_curve` dataset (in place)."""
    from ..io import describe

    return describe(ds, {
        "level": ("method: sgld (simulation), nngp (kernel ridge), mf (mean field), mf_ard (MF with ARD), "
                  "mf_emp / mf_ard_emp (training-set MF / MF-ARD)", None),
        "P": ("training set size P", "1"),
        "seed": ("seed of data and chains", "1"),
        "test_mse": ("test MSE of the posterior-mean predictor", "1"),
        "test_mse_se": ("standard error of test_mse (SGLD: over chains; MF: Monte Carlo; NNGP: 0, exact)", "1"),
        "m_target_se": ("Monte-Carlo standard error of m_target (SGLD: chain spread; MF: iterates; NNGP: 0)", "1"),
        "train_mse": ("training MSE of the posterior-mean predictor", "1"),
        "n_iter": ("fixed-point iterations of the training-set MF", "1"),
        "m_target": ("coefficient m_S of the posterior mean on the target function", "1"),
        "m_off": ("largest |m_A| over off-target functions A", "1"),
        "w2_relevant": ("<w_j^2> averaged over relevant input coordinates j in S", "1"),
        "w2_irrelevant": ("<w_j^2> averaged over irrelevant input coordinates j not in S", "1"),
        "rho_relevant": ("ARD precision rho_j averaged over relevant coordinates", "1"),
        "rho_irrelevant": ("ARD precision rho_j averaged over irrelevant coordinates", "1"),
        "rho_ratio": ("ARD relevance ratio rho_irrelevant / rho_relevant", "1"),
        "converged": ("1 if the MF fixed point converged (always 1 for sgld and nngp)", "1"),
        "phase_kappa2": ("noise variance kappa^2 of the phase diagram", "1"),
        "phase_P": ("training set size P of the phase diagram", "1"),
        "phase_m_target": ("target coefficient m_S of plain MF (seed 0) on the P-kappa^2 grid", "1"),
    })


def plot_learning_curve(ds, path):
    """Three panels: test MSE vs P (SGLD points, NNGP, MF, MF-ARD lines), m_S vs P, P–κ² phase diagram."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ncol = 3 if "phase_m_target" in ds else 2
    fig, axes = plt.subplots(1, ncol, figsize=(5 * ncol, 4))
    style = dict(sgld=dict(ls="none", marker="o", color="k", label="SGLD"),
                 nngp=dict(ls="-", color="tab:gray", label="NNGP (KRR)"),
                 mf=dict(ls="-", color="tab:blue", label="MF"),
                 mf_ard=dict(ls="-", color="tab:red", label="MF-ARD"),
                 mf_emp=dict(ls="--", marker="s", ms=4, color="tab:blue", label="MF (training set)"),
                 mf_ard_emp=dict(ls="--", marker="s", ms=4, color="tab:red", label="MF-ARD (training set)"))
    P = ds["P"].values
    for m in ds["level"].values:
        mse = ds["test_mse"].sel(level=m)
        mean, sem = mse.mean("seed").values, mse.std("seed").values / np.sqrt(max(ds.sizes["seed"], 1))
        st = style.get(str(m), dict(label=str(m)))
        axes[0].errorbar(P, mean, yerr=sem if ds.sizes["seed"] > 1 else None, **st)
        axes[1].plot(P, ds["m_target"].sel(level=m).mean("seed").values, **st)
    axes[0].set(xscale="log", xlabel="training set size P", ylabel="test MSE",
                title=f"{ds.attrs.get('task')} d={ds.attrs.get('d')} k={ds.attrs.get('k')} N={ds.attrs.get('N')} "
                      f"κ²={ds.attrs.get('kappa2')}")
    axes[1].set(xscale="log", xlabel="training set size P", ylabel="target coefficient m_S",
                title="target coefficient m_S of ⟨f⟩")
    axes[0].legend()
    for ax in axes[:2]:
        ax.set_xticks(P, [str(p) for p in P])
        ax.minorticks_off()
    if ncol == 3:
        ph = ds["phase_m_target"]
        im = axes[2].pcolormesh(ds["phase_P"].values, ds["phase_kappa2"].values, ph.values, shading="nearest",
                                vmin=0, vmax=1, cmap="viridis")
        axes[2].set(xscale="log", yscale="log", xlabel="training set size P", ylabel="noise variance κ²",
                    title="MF phase diagram: m_S")
        axes[2].set_xticks(ds["phase_P"].values, [str(p) for p in ds["phase_P"].values])
        axes[2].set_yticks(ds["phase_kappa2"].values, [f"{k:.3g}" for k in ds["phase_kappa2"].values])
        axes[2].minorticks_off()
        fig.colorbar(im, ax=axes[2], label="target coefficient m_S (plain MF)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


__all__ = ["EMPIRICAL_METHODS", "LearningCurveConfig", "METHODS", "OBSERVABLES", "ONSET_LEVEL", "SIZES",
           "learning_curve_point", "make_data", "onset_P", "onsets_vs_d", "plot_learning_curve", "run_learning_curve"]

"""The one prior vocabulary of the package (docs/conventions.md §3 and its shared-vocabulary table).

Every theory and every simulation that has Gaussian weight priors and a posterior temperature takes a
:class:`Priors`. Modules whose papers write the same quantities under other names (the two-layer network
of conventions §9: ``sw2``, ``sa2``, ``kappa2``) translate from it in one place, here, so a user states
the priors once and passes the same object to the theory and to its simulation::

    >>> from fltheory import Priors
    >>> pr = Priors(gu2=2.0, gw2=0.5, kappa=0.1)
    >>> pr.two_layer(N=64, gamma=0.5)          # conventions §9 names, NTK scaling (γ = ½)
    {'sw2': 2.0, 'sa2': 0.5, 'kappa2': 0.1}
    >>> pr.two_layer(N=64, gamma=1.0)["kappa2"]  # muP: κ² = κ / N^{2γ−1}
    0.0015625
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ._validate import FLTheoryInputError, positive


@dataclass(frozen=True)
class Priors:
    """Prior variances and temperature in the shared names (conventions §3, §5).

    ``g2``: hidden/recurrent weights, ``J_ij ~ N(0, g2)`` (read through 1/√N);
    ``gu2``: input weights (read through 1/√D);
    ``gw2``: readout weights (muP readout 1/N, conventions §2);
    ``kappa``: the temperature κ of conventions §5, β = N^{2γ−1}/κ.

    Each is validated on construction (a positive finite number), so a bad prior fails once, naming
    its field, before anything is built.
    """

    g2: float = 1.0
    gu2: float = 1.0
    gw2: float = 1.0
    kappa: float = 1.0

    def __post_init__(self):
        for name in ("g2", "gu2", "gw2", "kappa"):
            object.__setattr__(self, name, positive(name, getattr(self, name)))

    def as_dict(self) -> dict:
        """``{g2, gu2, gw2, kappa}``: keyword arguments of the DNN/RNN theory and sampler (§3–§7)."""
        return asdict(self)

    def two_layer(self, N: int, gamma: float = 0.5) -> dict:
        """The same priors in the two-layer module's names (conventions §9): ``sw2 = gu2``,
        ``sa2 = gw2`` and the noise variance ``kappa2 = κ / N^{2γ−1}``."""
        N = int(N)
        if N < 1:
            raise FLTheoryInputError(f"N: must be a positive integer, got {N}")
        return {"sw2": self.gu2, "sa2": self.gw2, "kappa2": self.kappa / float(N) ** (2.0 * float(gamma) - 1.0)}

    @classmethod
    def from_two_layer(cls, *, sw2: float = 1.0, sa2: float = 1.0, kappa2: float, N: int,
                       gamma: float = 0.5) -> "Priors":
        """The inverse of :meth:`two_layer` (``g2`` keeps its default: the two-layer net has no hidden
        layer)."""
        return cls(gu2=sw2, gw2=sa2, kappa=positive("kappa2", kappa2) * float(N) ** (2.0 * float(gamma) - 1.0))


def _checked(priors) -> Priors:
    """``priors`` if it is a :class:`Priors`, else one error naming ``priors``."""
    if not isinstance(priors, Priors):
        raise FLTheoryInputError(f"priors: expected a fltheory.Priors, got {type(priors).__name__}")
    return priors


def _not_both(**given) -> None:
    """One error naming ``priors`` when any of the module's own names was passed beside it."""
    names = [n for n, v in given.items() if v is not None]
    if names:
        raise FLTheoryInputError(f"priors: pass either priors or {', '.join(names)}, not both")


def two_layer_priors(priors: Priors | None, *, sw2, sa2, kappa2, N: int, gamma: float) -> tuple[float, float, float]:
    """(sw2, sa2, kappa2) for a two-layer entry point that takes either ``priors`` or its own names.

    Passing both is ambiguous and fails naming ``priors``; with neither, ``sw2``/``sa2`` default to 1
    and ``kappa2`` is required."""
    if priors is not None:
        priors = _checked(priors)
        _not_both(sw2=sw2, sa2=sa2, kappa2=kappa2)
        t = priors.two_layer(N, gamma)
        return t["sw2"], t["sa2"], t["kappa2"]
    if kappa2 is None:
        raise FLTheoryInputError("kappa2: required (the noise variance, conventions §9), or pass priors=Priors(kappa=...)")
    return (positive("sw2", 1.0 if sw2 is None else sw2), positive("sa2", 1.0 if sa2 is None else sa2),
            positive("kappa2", kappa2))


def depth_priors(priors: Priors | None, *, gu2=None, gw2=None) -> tuple:
    """(gu2, gw2) for a depth-muP ResNet entry point (conventions §11) that takes either ``priors`` or
    its own ``gu2``/``gw2`` (each defaulting to 1; a value given is returned as given, unconverted).

    The depth module has no temperature (it trains by gradient descent), so ``priors.kappa`` is unused.
    Its hidden weights are N(0, 1) entries scaled by the branch multiplier ``a`` (a multiplier, not a
    prior variance: under training the two differ), so a ``priors.g2`` other than 1 is one error naming
    ``priors`` rather than a silently ignored variance. Both ``priors`` and a name fail naming ``priors``."""
    if priors is None:
        return (1.0 if gu2 is None else gu2), (1.0 if gw2 is None else gw2)
    priors = _checked(priors)
    _not_both(gu2=gu2, gw2=gw2)
    if priors.g2 != 1.0:
        raise FLTheoryInputError(f"priors: g2 = {priors.g2:g}, but the depth-muP ResNet's hidden weights are "
                                 "N(0, 1) scaled by the branch multiplier a (conventions §11); set the hidden "
                                 "scale with a=... and leave g2 at 1")
    return priors.gu2, priors.gw2


def resolve_priors(priors: Priors | None, **named) -> tuple[float, ...]:
    """The shared names (``g2``, ``gu2``, ``gw2``, ``kappa``, in the order given) for an entry point that
    takes either ``priors`` or the names themselves (each defaulting to 1). Both at once fails naming
    ``priors``."""
    if priors is not None:
        priors = _checked(priors)
        _not_both(**named)
        return tuple(getattr(priors, n) for n in named)
    return tuple(positive(n, 1.0 if v is None else v) for n, v in named.items())


def as_priors(priors: Priors | None, default: Priors | None = None, **named) -> Priors:
    """One :class:`Priors` for an entry point that takes either ``priors`` or some of the shared names
    (``g2``, ``gu2``, ``gw2``, ``kappa``; ``None`` = not given).

    With ``priors``, any name given beside it is one error naming ``priors``; without it, each field is
    the name's value if given, else ``default``'s (the entry point's own defaults, e.g. a lazy-regime
    κ = 10), each validated by name::

        >>> as_priors(None, Priors(kappa=10.0), g2=0.5, kappa=None)
        Priors(g2=0.5, gu2=1.0, gw2=1.0, kappa=10.0)
    """
    if priors is not None:
        priors = _checked(priors)
        _not_both(**named)
        return priors
    base = (default or Priors()).as_dict()
    unknown = sorted(set(named) - set(base))
    if unknown:
        raise TypeError(f"as_priors: not a field of Priors: {', '.join(unknown)}")
    return Priors(**{**base, **{k: v for k, v in named.items() if v is not None}})


def sampler_kappa(priors: Priors | None, kappa, net) -> float:
    """κ for a sampler of ``net`` (a network that carries its own ``g2``/``gu2``/``gw2``) given either
    ``priors`` or ``kappa``.

    With ``priors``, the network's weight priors must be the ones it states (build the network with
    ``RecurrentNet(..., priors=priors)``): a sampler never silently overrides the prior of the network
    it samples, so a disagreement is one error naming ``priors``. Without it, ``kappa`` is required."""
    if priors is None:
        if kappa is None:
            raise FLTheoryInputError("kappa: required (the temperature, conventions §5), or pass "
                                     "priors=Priors(kappa=...)")
        return positive("kappa", kappa)
    priors = _checked(priors)
    _not_both(kappa=kappa)
    clash = [f"{n} = {getattr(priors, n):g} but the network has {getattr(net, n):g}"
             for n in ("g2", "gu2", "gw2") if float(getattr(net, n)) != getattr(priors, n)]
    if clash:
        raise FLTheoryInputError(f"priors: {'; '.join(clash)}; build the network with "
                                 "RecurrentNet(..., priors=priors)")
    return priors.kappa


__all__ = ["Priors", "as_priors", "depth_priors", "resolve_priors", "sampler_kappa", "two_layer_priors"]

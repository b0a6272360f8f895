"""The sweep spec: what to compute, on which grid, and how to draw it (validated with pydantic).

A spec is a YAML file or a Python dict::

    name: nngp-depth                     # store directory name
    description: ...
    function: nngp-depth                 # registered name, or "package.module:function"
    fixed: {P: 64, D: 16, phi: erf}      # keyword arguments common to every point
    axes:                                # one dimension each, in this order
      depth: [1, 2, 4, 8]                # a grid axis: list of values
      g2: {geomspace: [0.5, 8.0, 5]}     # also {linspace: [a, b, n]}, {range: [a, b(, step)]}
      size: {zip: {P: [32, 64], D: [8, 16]}}   # zipped parameters share one dimension "size"
    seeds: 4                             # replicates: a dimension "seed" (or a list of ints)
    seed_by: [P, D]                      # optional: the seed hashes only these parameters
    figure: {x: depth, hue: g2, theory: [gp_test_error], simulation: [rf_test_error]}
    profiles:                            # named overrides, e.g. `--profile full`
      full: {fixed: {P: 256}, seeds: 16}

Every error is raised *before any work starts* as one :class:`SpecError` whose message begins
with the offending field (``axes.depth: ...``, ``fixed.P: ...``). Parameters are checked against
the point function's signature and type annotations (``inspect`` + ``typing.get_type_hints``):
unknown function, missing or unknown parameter, wrong type, empty axis. When the function declares
them (:class:`~fltheory.sweep.registry.PointInfo`), its ``validate`` callable is run on the
parameters of every grid point (out-of-range values: ``axes.g2[0]: ...``), and the figure's
variables are checked against its declared ``outputs``.
"""
from __future__ import annotations

import copy
import difflib
import inspect
import itertools
import json
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, ValidationError, field_validator
from pydantic import model_validator

from .. import __version__
from .._validate import FLTheoryInputError
from . import registry
from .hashing import canonical, point_key, point_seed

SEED_DIM = "seed"


class SpecError(FLTheoryInputError):
    """An invalid sweep spec. ``field`` is the dotted path of the offending field."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class _FieldError(ValueError):
    """Raised inside pydantic validators; carries the full field path to the translator."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


# --------------------------------------------------------------------------------------------
# YAML: PyYAML (YAML 1.1) reads "1e-3" as a string; accept it as a float like YAML 1.2 does.
class _Loader(yaml.SafeLoader):
    pass


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _yaml_load(text: str, source: str):
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise SpecError("", f"{source}: invalid YAML ({exc})") from None


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Axis:
    """One sweep dimension. A grid axis has one parameter (named like the axis); a zip axis
    has several parameters whose value lists share the dimension."""

    name: str
    params: dict[str, list]
    zipped: bool

    def __len__(self) -> int:
        return len(next(iter(self.params.values())))

    def field(self, param: str) -> str:
        return f"axes.{self.name}.zip.{param}" if self.zipped else f"axes.{self.name}"


@dataclass(frozen=True)
class Point:
    """One grid point: where it goes (``index``), what is passed (``params``, ``seed``) and its key."""

    index: tuple[int, ...]
    params: dict
    replicate: int | None
    seed: int
    key: str


_SCALAR = (bool, int, float, str)


def _as_list(field: str, raw, what: str) -> list:
    if isinstance(raw, np.ndarray):
        raw = raw.tolist()
    if not isinstance(raw, (list, tuple)):
        raise _FieldError(field, f"expected a list of {what}, got {raw!r}")
    return list(raw)


def _scalars(field: str, values: list) -> list:
    if len(values) == 0:
        raise _FieldError(field, "axis is empty; give at least one value")
    out = []
    for i, v in enumerate(values):
        if isinstance(v, np.generic):
            v = v.item()
        if not isinstance(v, _SCALAR):
            raise _FieldError(f"{field}[{i}]", f"axis values must be numbers, strings or booleans, got {v!r}")
        out.append(v)
    return out


def _numeric_triplet(field: str, raw, kind: str):
    vals = _as_list(field, raw, "[start, stop, num]")
    if len(vals) != 3 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        raise _FieldError(field, f"{kind} expects three numbers [start, stop, num], got {raw!r}")
    if not isinstance(vals[2], int) or vals[2] < 1:
        raise _FieldError(field, f"{kind}: num must be an integer >= 1, got {vals[2]!r}")
    return vals


def _clean(v) -> float:
    """Round a generated grid value to 12 significant digits (geomspace gives 3.999999999999999)."""
    return float(f"{float(v):.12g}")


def _parse_axis(name: str, raw) -> Axis:
    field = f"axes.{name}"
    if raw is None:
        raise _FieldError(field, "axis is empty; give at least one value")
    if isinstance(raw, (list, tuple, np.ndarray)):
        return Axis(name, {name: _scalars(field, _as_list(field, raw, "values"))}, zipped=False)
    if not isinstance(raw, dict) or len(raw) != 1:
        raise _FieldError(
            field,
            "expected a list of values or one of {values: [...]}, {zip: {param: [...], ...}}, "
            f"{{linspace: [a, b, n]}}, {{geomspace: [a, b, n]}}, {{range: [a, b, step]}}; got {raw!r}",
        )
    (kind, arg), = raw.items()
    sub = f"{field}.{kind}"
    if kind == "values":
        return Axis(name, {name: _scalars(sub, _as_list(sub, arg, "values"))}, zipped=False)
    if kind == "linspace":
        a, b, n = _numeric_triplet(sub, arg, "linspace")
        return Axis(name, {name: [_clean(v) for v in np.linspace(a, b, n)]}, zipped=False)
    if kind == "geomspace":
        a, b, n = _numeric_triplet(sub, arg, "geomspace")
        if a <= 0 or b <= 0:
            raise _FieldError(sub, f"geomspace needs positive start and stop, got {arg!r}")
        return Axis(name, {name: [_clean(v) for v in np.geomspace(a, b, n)]}, zipped=False)
    if kind == "range":
        vals = _as_list(sub, arg, "integers [start, stop(, step)]")
        if not 2 <= len(vals) <= 3 or not all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            raise _FieldError(sub, f"range expects integers [start, stop] or [start, stop, step], got {arg!r}")
        return Axis(name, {name: _scalars(sub, list(range(*vals)))}, zipped=False)
    if kind == "zip":
        if not isinstance(arg, dict) or not arg:
            raise _FieldError(sub, f"expected a mapping {{param: [values], ...}} with at least one entry, got {arg!r}")
        params = {}
        for p, vals in arg.items():
            params[str(p)] = _scalars(f"{sub}.{p}", _as_list(f"{sub}.{p}", vals, "values"))
        lengths = {p: len(v) for p, v in params.items()}
        if len(set(lengths.values())) != 1:
            raise _FieldError(sub, f"zipped lists must have the same length, got lengths {lengths}")
        return Axis(name, params, zipped=True)
    raise _FieldError(field, f"unknown axis form {kind!r}; use values, zip, linspace, geomspace or range")


# --------------------------------------------------------------------------------------------
class FigureSpec(BaseModel):
    """The declared figure: ``x`` axis, ``hue`` (one colour per value), ``theory`` variables drawn
    as lines and ``simulation`` variables as markers with error bars over the ``seed`` dimension.
    ``select`` picks one value of every other dimension."""

    model_config = ConfigDict(extra="forbid")

    x: str
    hue: str | None = None
    theory: list[str] = Field(default_factory=list)
    simulation: list[str] = Field(default_factory=list)
    select: dict[str, Any] = Field(default_factory=dict)
    error: Literal["sem", "std", "none"] = "sem"
    logx: bool = False
    logy: bool = False
    xlabel: str | None = None
    ylabel: str | None = None
    title: str | None = None

    @model_validator(mode="after")
    def _some_variable(self):
        if not self.theory and not self.simulation:
            raise _FieldError("figure", "declare at least one variable under `theory` or `simulation`")
        return self


class SweepSpec(BaseModel):
    """A validated sweep. Build it with :func:`load_spec` (YAML path, YAML text or dict)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = ""
    function: str
    fixed: dict[str, Any] = Field(default_factory=dict)
    axes: dict[str, Any] = Field(default_factory=dict)
    seeds: Any = None
    seed_by: list[str] | None = None
    figure: FigureSpec | None = None
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)

    _axes: list[Axis] = PrivateAttr(default_factory=list)
    _fixed: dict = PrivateAttr(default_factory=dict)
    _replicates: list[int] | None = PrivateAttr(default=None)
    _fn: Callable | None = PrivateAttr(default=None)
    _fn_path: str = PrivateAttr(default="")
    _accepts_seed: bool = PrivateAttr(default=False)
    _defaults: dict = PrivateAttr(default_factory=dict)
    _info: registry.PointInfo = PrivateAttr(default_factory=registry.PointInfo)

    @field_validator("function", mode="before")
    @classmethod
    def _function_str(cls, v):
        if not isinstance(v, str) or not v.strip():
            raise _FieldError("function", f"expected a registered name or 'package.module:function', got {v!r}")
        return v.strip()

    @field_validator("axes", mode="before")
    @classmethod
    def _axes_mapping(cls, v):
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise _FieldError("axes", f"expected a mapping {{axis name: values}}, got {v!r}")
        return v

    @field_validator("fixed", mode="before")
    @classmethod
    def _fixed_mapping(cls, v):
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise _FieldError("fixed", f"expected a mapping {{parameter: value}}, got {v!r}")
        return v

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, v):
        if v is None:
            return None
        if isinstance(v, int) and not isinstance(v, bool):
            if v < 1:
                raise _FieldError("seeds", f"number of seeds must be >= 1, got {v}")
            return v
        if isinstance(v, (list, tuple)):
            if len(v) == 0:
                raise _FieldError("seeds", "seed list is empty; give at least one replicate id")
            if not all(isinstance(s, int) and not isinstance(s, bool) for s in v):
                raise _FieldError("seeds", f"expected a list of integers, got {v!r}")
            if len(set(v)) != len(v):
                raise _FieldError("seeds", f"replicate ids must be distinct, got {v!r}")
            return list(v)
        raise _FieldError("seeds", f"expected a number of replicates or a list of integer ids, got {v!r}")

    @model_validator(mode="after")
    def _check(self):
        self._axes = [_parse_axis(str(n), raw) for n, raw in self.axes.items()]
        self._replicates = (
            None if self.seeds is None else (list(range(self.seeds)) if isinstance(self.seeds, int) else self.seeds)
        )
        self._check_names()
        self._check_function()
        self._check_seed_by()
        if self.figure is not None:
            self._check_figure()
        self._check_values()
        return self

    # -- checks ---------------------------------------------------------------------------
    def _check_names(self):
        if "seed" in self.fixed:
            raise _FieldError("fixed.seed", "seeds come from the point hash; set replicates with `seeds:`")
        owner: dict[str, str] = {p: f"fixed.{p}" for p in self.fixed}
        dims = set()
        for ax in self._axes:
            if ax.name == SEED_DIM:
                raise _FieldError(f"axes.{ax.name}", "the name 'seed' is reserved for the replicate dimension")
            dims.add(ax.name)
            for p in ax.params:
                if p == "seed":
                    raise _FieldError(ax.field(p), "seeds come from the point hash; set replicates with `seeds:`")
                if p in owner:
                    raise _FieldError(ax.field(p), f"parameter {p!r} is already set by {owner[p]}")
                owner[p] = ax.field(p)
        for ax in self._axes:  # a zipped coordinate may not clash with another dimension's name
            if ax.zipped:
                for p in ax.params:
                    if p in dims and p != ax.name:
                        raise _FieldError(ax.field(p), f"name {p!r} is also a sweep dimension")

    def _check_function(self):
        try:
            fn = registry.resolve(self.function)
            self._fn_path = self.function if ":" in self.function else registry.dotted_path(fn)
        except FLTheoryInputError as exc:
            raise _FieldError("function", str(exc).removeprefix("function: ")) from None
        self._fn = fn
        self._info = registry.point_info(self.function)
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            raise _FieldError("function", f"cannot read the signature of {self.function!r}") from None
        try:
            hints = typing.get_type_hints(fn)
        except Exception:  # unresolvable annotations: check what is readable
            hints = {n: p.annotation for n, p in sig.parameters.items() if not isinstance(p.annotation, str)}
        accepts_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        named = {
            n: p for n, p in sig.parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        }
        for n, p in sig.parameters.items():
            if p.kind is p.POSITIONAL_ONLY and p.default is p.empty:
                raise _FieldError("function", f"{self.function!r} has a positional-only parameter {n!r}; "
                                  "point functions take keyword arguments")
        self._accepts_seed = "seed" in named or accepts_kw
        if self._replicates is not None and "seed" not in named and not accepts_kw:
            raise _FieldError("seeds", f"function {self.function!r} takes no `seed` argument, so it cannot have seeds")
        fname = f"function {self.function!r}"
        self._defaults = {n: p.default for n, p in named.items() if n != "seed" and p.default is not p.empty}
        provided = {p: f"fixed.{p}" for p in self.fixed}
        for ax in self._axes:
            provided.update({p: ax.field(p) for p in ax.params})
        for p, field in provided.items():
            if p not in named and not accepts_kw:
                raise _FieldError(field, f"unknown parameter {p!r} for {fname}; it accepts {sorted(set(named) - {'seed'})}")
        for n, p in named.items():
            if n != "seed" and p.default is p.empty and n not in provided:
                raise _FieldError(
                    f"fixed.{n}",
                    f"missing required parameter {n!r} of {fname}; set it under `fixed` or sweep it under `axes`",
                )
        # types: validate (and coerce, e.g. int -> float) every value against its annotation
        fixed = {}
        for p, v in self.fixed.items():
            fixed[p] = _check_type(hints.get(p), v, f"fixed.{p}", p, fname)
        self._fixed = fixed
        axes = []
        for ax in self._axes:
            params = {
                p: [_check_type(hints.get(p), v, f"{ax.field(p)}[{i}]", p, fname) for i, v in enumerate(vals)]
                for p, vals in ax.params.items()
            }
            axes.append(Axis(ax.name, params, ax.zipped))
        self._axes = axes
        for field, value in [(f"fixed.{p}", v) for p, v in self._fixed.items()]:
            try:
                canonical(value, field)
            except FLTheoryInputError as exc:
                raise _FieldError(field, str(exc).split(": ", 1)[1]) from None

    def _check_seed_by(self):
        if self.seed_by is None:
            return
        params = set(self._fixed) | {p for ax in self._axes for p in ax.params}
        for i, p in enumerate(self.seed_by):
            if p not in params:
                raise _FieldError(f"seed_by[{i}]", f"{p!r} is not a parameter of this sweep; have {sorted(params)}")

    def _check_figure(self):
        fig = self.figure
        dims = [ax.name for ax in self._axes] + ([SEED_DIM] if self._replicates is not None else [])
        zip_coords = {p: ax.name for ax in self._axes if ax.zipped for p in ax.params}
        names = [d for d in dims if d != SEED_DIM] + [p for p in zip_coords if p not in dims]
        for field, value in (("figure.x", fig.x), ("figure.hue", fig.hue)):
            if value is not None and value not in names:
                raise _FieldError(field, f"{value!r} is not a sweep axis or zipped parameter; choose one of {names}")
        if fig.hue is not None and zip_coords.get(fig.hue, fig.hue) == zip_coords.get(fig.x, fig.x):
            raise _FieldError("figure.hue", f"{fig.hue!r} lies on the same dimension as figure.x")
        for d in fig.select:
            if d not in dims or d == SEED_DIM:
                raise _FieldError(f"figure.select.{d}", f"{d!r} is not a sweep dimension; choose from {dims}")
        outputs = self._info.outputs
        if outputs is None:  # undeclared: the variables are checked when the figure is drawn
            return
        for kind in ("theory", "simulation"):
            for i, var in enumerate(getattr(fig, kind)):
                if var not in outputs:
                    close = difflib.get_close_matches(var, list(outputs), n=1)
                    hint = f"did you mean {close[0]!r}? " if close else ""
                    raise _FieldError(f"figure.{kind}[{i}]",
                                      f"{var!r} is not an output of function {self.function!r}; {hint}"
                                      f"its outputs are {sorted(outputs)}")

    def _check_values(self):
        """Run the function's declared ``validate`` on every grid point's parameters (over its
        defaults; seeds do not matter), without computing. The first error is reported at the
        spec field that sets the parameter it names."""
        try:
            validate = self._info.validator()
        except FLTheoryInputError as exc:  # a declared validator path that does not import
            raise _FieldError("function", f"its declared validate: {str(exc).removeprefix('function: ')}") from None
        if validate is None:
            return
        fname = f"function {self.function!r}"
        for idx in itertools.product(*(range(len(ax)) for ax in self._axes)):
            params = {**self._defaults, **self._fixed}
            fields = {p: f"fixed.{p}" for p in self._fixed}
            at = {}
            for ax, i in zip(self._axes, idx):
                for p, vals in ax.params.items():
                    params[p] = at[p] = vals[i]
                    fields[p] = f"{ax.field(p)}[{i}]"
            try:
                validate(**copy.deepcopy(params))
            except (ValueError, TypeError) as exc:  # FLTheoryInputError is a ValueError
                name, sep, msg = str(exc).partition(": ")
                where = f" at {at}" if at else ""
                if sep and name in fields:
                    # an axis field names its point itself; a fixed value that fails only further along
                    # the grid fails together with the axis values there
                    if not (fields[name].startswith("fixed.") and any(idx)):
                        where = ""
                    raise _FieldError(fields[name], f"invalid value for parameter {name!r} of {fname}{where}: "
                                      f"{msg}") from None
                if sep and name in params:
                    raise _FieldError(f"fixed.{name}", f"the default {params[name]!r} of parameter {name!r} "
                                      f"of {fname} is invalid{where}: {msg}; set {name} under `fixed`") from None
                raise _FieldError("axes" if at else "fixed",
                                  f"{fname} rejects the parameters{where}: {exc}") from None

    # -- derived --------------------------------------------------------------------------
    @property
    def axis_list(self) -> list[Axis]:
        return list(self._axes)

    @property
    def replicates(self) -> list[int] | None:
        return None if self._replicates is None else list(self._replicates)

    @property
    def function_path(self) -> str:
        """Dotted path imported by worker processes."""
        return self._fn_path

    @property
    def accepts_seed(self) -> bool:
        return self._accepts_seed

    @property
    def outputs(self) -> dict[str, str] | None:
        """The point function's declared outputs {name: label}, or ``None`` if it declares none."""
        return None if self._info.outputs is None else dict(self._info.outputs)

    def resolved_fixed(self) -> dict:
        return dict(self._fixed)

    def dims(self) -> dict[str, int]:
        """Sweep dimensions in order (axes, then ``seed``) and their sizes."""
        out = {ax.name: len(ax) for ax in self._axes}
        if self._replicates is not None:
            out[SEED_DIM] = len(self._replicates)
        return out

    def coords(self) -> dict[str, tuple[str, list]]:
        """Coordinate name -> (dimension, values)."""
        out = {}
        for ax in self._axes:
            for p, vals in ax.params.items():
                out[p] = (ax.name, list(vals))
        if self._replicates is not None:
            out[SEED_DIM] = (SEED_DIM, list(self._replicates))
        return out

    def points(self, version: str = __version__) -> list[Point]:
        """Every grid point in C order of :meth:`dims`."""
        reps = self._replicates if self._replicates is not None else [None]
        ranges = [range(len(ax)) for ax in self._axes] + [range(len(reps))]
        out = []
        for idx in itertools.product(*ranges):
            params = dict(self._fixed)
            for ax, i in zip(self._axes, idx):
                params.update({p: vals[i] for p, vals in ax.params.items()})
            rep = reps[idx[-1]]
            index = tuple(idx) if self._replicates is not None else tuple(idx[:-1])
            seeded = params if self.seed_by is None else {p: params[p] for p in self.seed_by}
            seed = point_seed(seeded, rep)
            out.append(Point(index, params, rep, seed, point_key(self._fn_path, params, rep, seed, version)))
        return out

    def to_dict(self) -> dict:
        """The spec as plain data (profiles already applied)."""
        return self.model_dump(mode="json", exclude_defaults=False)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _type_name(ann) -> str:
    return getattr(ann, "__name__", None) if isinstance(ann, type) else str(ann).replace("typing.", "")


def _check_type(ann, value, field: str, param: str, fname: str):
    """Validate ``value`` against annotation ``ann`` in pydantic strict mode (JSON semantics, so a
    list is accepted for a tuple and an int for a float, but "3" is not an int)."""
    if ann is None or ann is inspect.Parameter.empty or ann is Any:
        return value
    try:
        ta = TypeAdapter(ann)
    except Exception:  # annotation pydantic cannot check (e.g. np.ndarray): leave to the function
        return value
    try:
        try:
            text = json.dumps(canonical(value))
        except (FLTheoryInputError, TypeError, ValueError):
            return ta.validate_python(value, strict=True)
        out = ta.validate_json(text, strict=True)
    except ValidationError:
        raise _FieldError(
            field, f"wrong type for parameter {param!r} of {fname}: expected {_type_name(ann)}, "
            f"got {value!r} ({type(value).__name__})"
        ) from None
    return list(out) if isinstance(out, tuple) else out


# --------------------------------------------------------------------------------------------
def _apply_profile(raw: dict, profile: str) -> dict:
    profiles = raw.get("profiles") or {}
    if not isinstance(profiles, dict) or profile not in profiles:
        have = sorted(profiles) if isinstance(profiles, dict) else []
        raise SpecError("profile", f"unknown profile {profile!r}; the spec defines {have}")
    overlay = profiles[profile] or {}
    if not isinstance(overlay, dict):
        raise SpecError(f"profiles.{profile}", f"expected a mapping of overrides, got {overlay!r}")
    out = copy.deepcopy(raw)
    for key, val in overlay.items():
        if key in ("fixed", "axes", "figure") and isinstance(val, dict) and isinstance(out.get(key), dict):
            merged = dict(out[key])
            for k, v in val.items():
                if v is None and key != "figure":
                    merged.pop(k, None)
                else:
                    merged[k] = v
            out[key] = merged
        else:
            out[key] = val
    if "name" not in overlay and isinstance(out.get("name"), str):
        out["name"] = f"{out['name']}-{profile}"
    return out


def _translate(exc: ValidationError) -> SpecError:
    err = exc.errors()[0]
    orig = (err.get("ctx") or {}).get("error")
    if isinstance(orig, _FieldError):
        return SpecError(orig.field, orig.message)
    loc = ".".join(str(x) for x in err["loc"]) or "spec"
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
        parent = ".".join(str(x) for x in err["loc"][:-1])
        allowed = FigureSpec.model_fields if parent == "figure" else SweepSpec.model_fields
        msg += f"; allowed fields are {list(allowed)}"
    elif err["type"] == "missing":
        msg = "required field is missing"
    return SpecError(loc, msg)


def load_spec(source: str | Path | dict, profile: str | None = None) -> SweepSpec:
    """Read and validate a spec from a YAML file, YAML text or a dict; apply ``profile``.

    Raises :class:`SpecError` (a ``ValueError``) naming the offending field.
    """
    if isinstance(source, dict):
        raw = copy.deepcopy(source)
    else:
        text_source = str(source)
        path = Path(text_source)
        if "\n" not in text_source and path.suffix in (".yaml", ".yml", ".json"):
            if not path.is_file():
                raise SpecError("spec", f"file not found: {path}")
            raw = _yaml_load(path.read_text(), str(path))
        else:
            raw = _yaml_load(text_source, "spec text")
    if not isinstance(raw, dict):
        raise SpecError("spec", f"expected a mapping at the top level, got {type(raw).__name__}")
    if profile is not None:
        raw = _apply_profile(raw, profile)
    try:
        return SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise _translate(exc) from None

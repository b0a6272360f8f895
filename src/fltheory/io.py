"""Where commands write: ``./fltheory-out/<command>/`` by default, or ``--out DIR`` (conventions §8)."""
from __future__ import annotations

import os
from pathlib import Path

from rich.console import Console

console = Console()


def output_dir(command: str, out: str | Path | None = None, name: str = "out") -> Path:
    """The output directory of ``command`` (``out``, else ``./fltheory-out/<command>``), checked but
    **not created**: a command validates all its inputs first and creates it with :func:`ensure_dir`
    only then, so a bad input leaves nothing behind. Raises FLTheoryInputError naming ``name`` when the
    path is an existing file, lies under a file, or is not writable."""
    path = Path(out).expanduser() if out is not None else Path.cwd() / "fltheory-out" / command
    check_writable_dir(name, path)
    return path


def check_writable_dir(name: str, path: str | Path) -> Path:
    """Check that ``path`` is, or can be created as, a writable directory (creates nothing)."""
    from ._validate import FLTheoryInputError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise FLTheoryInputError(f"{name}: {path} exists and is not a directory")
    anc = path
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise FLTheoryInputError(f"{name}: cannot create {path}: {anc} is not a directory")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise FLTheoryInputError(f"{name}: cannot write in {anc} (permission denied)")
    return path


def ensure_dir(path: str | Path, name: str = "out") -> Path:
    """Create ``path`` (and parents) if needed; return it. An OS error names ``name``."""
    from ._validate import FLTheoryInputError

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FLTheoryInputError(f"{name}: cannot create {path} ({exc.strerror or exc})") from None
    return path


def report_written(paths) -> None:
    """Print every written path, one per line."""
    for p in paths:  # one line per path, never wrapped (paths are copied from the terminal)
        console.print(f"wrote {p}", soft_wrap=True, highlight=False, markup=False)


def save_dataset(ds, path: Path) -> Path:
    """Save an xarray Dataset as netCDF (h5netcdf), atomically (temp file + rename); conventions §8.

    Before writing, ``ds`` is updated *in place* (so the returned file and the object agree):

    - attributes that netCDF cannot hold are made storable: booleans become 0/1, ``None`` is dropped
      (global, variable and coordinate attributes); numbers are never turned into strings;
    - when ``ds`` carries no ``fltheory_version`` yet, the provenance attributes of
      :func:`provenance_attrs` are added (the sweep engine writes its own and is left alone).

    Variable metadata (``long_name``, ``units``) is the caller's job: see :func:`describe`.
    """
    path = Path(path)
    _storable_attrs(ds.attrs)
    for var in ds.variables.values():
        _storable_attrs(var.attrs)
    if "fltheory_version" not in ds.attrs:
        ds.attrs.update(provenance_attrs())
    tmp = path.with_suffix(path.suffix + ".tmp")
    ds.to_netcdf(tmp, engine="h5netcdf")
    tmp.replace(path)
    return path


def describe(ds, meta: dict):
    """Set ``long_name`` and ``units`` on the variables and coordinates of ``ds`` (in place); returns ``ds``.

    ``meta`` maps a name to ``(long_name, units)``; ``units="1"`` for dimensionless numbers (CF), and
    ``units=""`` (or ``None``: no ``units`` attribute) only for labels such as string coordinates.
    Names absent from ``ds`` are skipped (optional outputs). Call it last: most xarray operations drop
    attributes.
    """
    for name, (long_name, units) in meta.items():
        if name in ds.variables:
            attrs = ds.variables[name].attrs
            attrs["long_name"] = long_name
            if units is None:
                attrs.pop("units", None)
            else:
                attrs["units"] = units
    return ds


def provenance_attrs() -> dict:
    """Package and dependency versions and the creation time (UTC, ISO 8601) of a written file."""
    import datetime
    import platform
    from importlib import metadata

    from . import __version__

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"fltheory_version": __version__, "python_version": platform.python_version(),
            "numpy_version": version("numpy"), "jax_version": version("jax"),
            "xarray_version": version("xarray"),
            "date_created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _storable_attrs(attrs: dict) -> None:
    """netCDF attributes in place: bool → 0/1 (also in lists), None → dropped; numbers stay numbers."""
    import numpy as np

    for key in list(attrs):
        v = attrs[key]
        if v is None:
            del attrs[key]
        elif isinstance(v, (bool, np.bool_)):
            attrs[key] = int(v)
        elif isinstance(v, (list, tuple)) and any(isinstance(x, (bool, np.bool_)) for x in v):
            attrs[key] = [int(x) if isinstance(x, (bool, np.bool_)) else x for x in v]

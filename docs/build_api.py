"""Build the API reference (HTML) from the docstrings with pdoc; any pdoc warning is an error.

    python docs/build_api.py [OUT]     # default ./fltheory-out/api/ ; open OUT/index.html

The test suite runs this (tests/docs/test_docs_api.py), so a broken docstring or annotation fails CI.
"""
from __future__ import annotations

import pkgutil
import sys
import warnings
from pathlib import Path


def modules() -> list[str]:
    """The top-level package and each of its subpackages (their ``__all__`` is the public API)."""
    import fltheory

    return ["fltheory"] + sorted(m.name for m in pkgutil.iter_modules(fltheory.__path__, "fltheory.") if m.ispkg)


def build(out: Path) -> list[str]:
    """Render the reference into ``out``; return the warnings pdoc raised (empty on success)."""
    import pdoc

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pdoc.pdoc(*modules(), output_directory=Path(out))
    return [f"{w.category.__name__}: {w.message}" for w in caught]


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path.cwd() / "fltheory-out" / "api"
    problems = build(out)
    for p in problems:
        print(f"error: api-docs: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"wrote {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

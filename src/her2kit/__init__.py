"""her2kit: open, guideline-faithful HER2 testing for breast cancer.

Decision support, never a diagnosis: every result names the guideline version
that decided it, and a pathologist reviews and signs out.

Importing the package does no work: ``__version__`` is read from the installed
metadata the first time it is asked for.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module 'her2kit' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("her2kit")
    except PackageNotFoundError:  # running from a source tree without installation
        value = "0+unknown"
    globals()["__version__"] = value
    return value

"""her2kit: open, guideline-faithful HER2 testing for breast cancer.

Decision support, never a diagnosis: every result names the guideline version
that decided it, and a pathologist reviews and signs out.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("her2kit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"

__all__ = ["__version__"]

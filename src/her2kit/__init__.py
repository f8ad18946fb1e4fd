"""her2kit: open, guideline-faithful HER2 testing for breast cancer.

Decision support, never a diagnosis: every result names the guideline version
that decided it, and a pathologist reviews and signs out.

Importing the package does no work: ``__version__`` is read from the installed
metadata the first time it is asked for.

Glossary: one name per concept, in IHC and ISH alike
----------------------------------------------------
pixel_size_um
    µm per pixel of an image (never ``px`` or ``p`` for it). ``mpp`` appears only as
    the command line's ``--mpp`` and the pipeline keyword carrying it: a pixel size the
    caller gave, recorded with the source ``"--mpp"``.
dab_od, hematoxylin_od
    A stain's amount in base-10 optical density (one OD rule, :mod:`her2kit.imaging.color.od`).
labels, nuclei_labels, cell_labels
    Instance label images: int32, 0 = background, objects numbered from 1. Every nucleus
    segmenter returns :class:`~her2kit.imaging.segment.nuclei.NucleusDetection`.
guideline
    The guideline version that decides (a name such as ``"asco-cap-2018"`` or a
    :class:`~her2kit.guideline.versions.GuidelineVersion`); results and documents record
    it under the same name, with ``guideline_title``.
seed, rng
    ``seed`` is the integer a caller passes; ``rng`` the ``numpy.random.Generator`` made
    from it once and passed on to the generators' stages (:mod:`her2kit.synthetic`).
Suffixes
    ``_um`` / ``_um2`` µm / µm², ``_px`` pixels (``shape_px``, ``coords_px``), ``_rc``
    (row, col) coordinates in pixels, ``_od`` base-10 OD, ``_pct`` percent 0-100 (a
    ``_fraction`` is 0-1), ``_deg`` degrees, ``_s`` seconds, ``_bytes`` bytes. A name
    without a unit suffix is unitless or says its unit in its docstring.
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

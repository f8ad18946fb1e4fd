"""The stain table: OD colour vectors of every absorber her2kit separates, with sources.

One table of published (R, G, B) OD rows, :data:`PUBLISHED_OD_RGB`, and the two forms the
code uses, derived from it:

- :data:`HEMATOXYLIN_OD_RGB`, :data:`DAB_OD_RGB`: the rows as published (not normalised;
  the H-DAB code normalises them when it builds a stain matrix), read-only float64 arrays.
- :data:`STAIN_VECTORS`: every stain normalised to unit length, as tuples (the ISH code).

Both forms hold the same published numbers; the H-DAB matrix and the ISH solve use the
same hematoxylin and DAB directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

__all__ = [
    "CISH_STAINS",
    "DAB_OD_RGB",
    "DUAL_ISH_STAINS",
    "HEMATOXYLIN_OD_RGB",
    "PUBLISHED_OD_RGB",
    "STAIN_VECTORS",
    "unit_vector",
]

# OD rows (R, G, B) as published.
# Hematoxylin and DAB: Ruifrok A.C., Johnston D.A. "Quantification of histochemical
# staining by color deconvolution." Anal Quant Cytol Histol 23(4):291-299 (2001), Table 1
# (H DAB); the same rows as scikit-image's ``rgb_from_hdx`` (skimage/color/colorconv.py).
# Fast red: the same paper's "FastRed" vector as shipped in the ImageJ Colour
# Deconvolution plugin ("FastRed FastBlue DAB"); the red chromogen of Ventana's INFORM
# Dual ISH (CEP17) is an alkaline-phosphatase fast red of this kind.
# Silver: metallic silver absorbs broadly across the visible range, so a neutral
# (equal-OD) vector is used; this is our assumption, not a published measurement, and is
# why the ISH vectors can be overridden.
PUBLISHED_OD_RGB: Mapping[str, tuple[float, float, float]] = MappingProxyType(
    {
        "hematoxylin": (0.650, 0.704, 0.286),
        "dab": (0.268, 0.570, 0.776),
        "fast_red": (0.214, 0.851, 0.478),
        "silver": (1.0, 1.0, 1.0),
    }
)


def _readonly(v: tuple[float, float, float]) -> np.ndarray:
    a = np.array(v, dtype=np.float64)
    a.setflags(write=False)
    return a


def unit_vector(v) -> tuple[float, float, float]:
    """Return the (R, G, B) OD vector ``v`` scaled to unit length, as a tuple of floats."""
    a = np.asarray(v, dtype=float)
    a = a / np.linalg.norm(a)
    return (float(a[0]), float(a[1]), float(a[2]))


#: H-DAB rows as published (unit length up to rounding); read-only.
HEMATOXYLIN_OD_RGB = _readonly(PUBLISHED_OD_RGB["hematoxylin"])
DAB_OD_RGB = _readonly(PUBLISHED_OD_RGB["dab"])

#: Every stain as a unit OD vector (R, G, B), by name.
STAIN_VECTORS: Mapping[str, tuple[float, float, float]] = MappingProxyType(
    {name: unit_vector(v) for name, v in PUBLISHED_OD_RGB.items()}
)

#: Dual ISH, Ventana convention: black silver dots = HER2, red dots = CEP17.
DUAL_ISH_STAINS: Mapping[str, str] = MappingProxyType(
    {"nuclei": "hematoxylin", "her2": "silver", "cep17": "fast_red"}
)
#: Single-probe CISH (SPoT-Light): brown DAB dots = HER2.
CISH_STAINS: Mapping[str, str] = MappingProxyType({"nuclei": "hematoxylin", "her2": "dab"})

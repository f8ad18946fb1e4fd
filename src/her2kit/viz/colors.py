"""Colour tables shared by the overlays and the exports (a plain, immutable table).

The per-cell membrane class colours are used by :func:`her2kit.viz.ihc.render_overlay`
and passed by the pipeline to :func:`her2kit.io.export.cells_geojson`, so a cell has the
same colour in the PNG overlay and in QuPath.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["CLASS_COLORS"]

# One colour per class, chosen to read on brown/blue tissue and to be told apart by
# common colour-vision deficiencies (Okabe-Ito palette order).
CLASS_COLORS: Mapping[str, tuple[int, int, int]] = MappingProxyType({
    "complete_intense": (213, 94, 0),  # vermillion
    "complete_weak_moderate": (230, 159, 0),  # orange
    "incomplete_moderate_intense": (204, 121, 167),  # reddish purple
    "incomplete_faint": (240, 228, 66),  # yellow
    "none": (86, 180, 233),  # sky blue
})

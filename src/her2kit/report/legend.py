"""The overlay legends, drawn by the PDF and the HTML next to each overlay at print size.

The overlays carry a small legend inside the image (in pixels), unreadable once the image
is scaled to the page; the report prints its own legend in the page's body type. report/
may not import viz/ (layer contract), so the colours are restated here;
tests/report/test_layout_report.py checks they equal ``her2kit.viz.colors.CLASS_COLORS``
and the ISH overlay's colours.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from her2kit.report.evidence import ImageEvidence

__all__ = ["IHC_LEGEND", "ISH_LEGEND", "overlay_caption", "overlay_legend"]

RGB = tuple[int, int, int]

# (evidence key, words, colour): the IHC overlay's cell outline colours.
IHC_LEGEND: tuple[tuple[str, str, RGB], ...] = (
    ("complete_intense", "complete, intense membrane", (213, 94, 0)),
    ("complete_weak_moderate", "complete, weak to moderate", (230, 159, 0)),
    ("incomplete_moderate_intense", "incomplete, moderate to intense", (204, 121, 167)),
    ("incomplete_faint", "incomplete, faint", (240, 228, 66)),
    ("none", "no staining", (86, 180, 233)),
    ("not_counted", "not counted (outside the tumour outline or rejected)", (128, 128, 128)),
)

# The ISH overlay: nucleus outlines, one ring per signal, a ring per cluster.
ISH_LEGEND: Mapping[str, tuple[tuple[str, RGB], ...]] = MappingProxyType({
    "fish": (("HER2 signal (ring)", (255, 60, 60)), ("CEP17 signal (ring)", (60, 255, 60))),
    "brightfield": (("HER2 signal (ring)", (255, 140, 0)),
                    ("CEP17 signal (ring)", (0, 190, 255))),
    "common": (("counted nucleus (outline)", (255, 230, 0)),
               ("nucleus not counted (dashed outline)", (150, 150, 150)),
               ("signal cluster, with its estimated copies (xN)", (255, 0, 255))),
})


def overlay_legend(im: ImageEvidence) -> list[tuple[RGB, str]]:
    """(colour, words) for the overlay of one image-analysis result, in reading order."""
    if im.kind in ("score-ihc", "score-slide"):
        pct = im.evidence.get("percent_all") or {}
        return [(rgb, f"{words}: {pct[key]:.1f}% of cells" if key in pct else words)
                for key, words, rgb in IHC_LEGEND]
    probes = ISH_LEGEND["fish" if im.assay in (None, "fish") else "brightfield"]
    return [(rgb, words) for words, rgb in (*probes, *ISH_LEGEND["common"])]


def overlay_caption(im: ImageEvidence, overlay: str | Path) -> str:
    """What an overlay shows, for the line under it."""
    what = {"count-ish": "nuclei and the HER2 and CEP17 signals counted",
            "score-ihc": "each cell's membrane class", "score-slide": "each cell's membrane class"}
    return (f"Overlay of {Path(im.image or im.path).name} ({im.kind}): {what[im.kind]}. "
            f"File: {Path(overlay).name}.")

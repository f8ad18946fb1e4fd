"""An RGB overlay of cell outlines coloured by membrane class, with legend and percentages."""

from __future__ import annotations

import numpy as np
from skimage.segmentation import find_boundaries

from her2kit.imaging._validate import check_rgb_image
from her2kit.imaging.ihc.membrane import MEMBRANE_CLASSES
from her2kit.viz.colors import CLASS_COLORS

__all__ = ["CLASS_COLORS", "render_overlay"]

def render_overlay(rgb, result, *, legend: bool = True, outline_px: int = 1) -> np.ndarray:
    """Draw each cell's outline in its class colour, with a legend of percentages.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        The image that was scored.
    result : IhcImageResult
        From :func:`her2kit.imaging.ihc.score.score_ihc_image` on ``rgb``.
    legend : bool, optional
        Draw a legend box (class, colour, percentage of counted cells) at the top left.
    outline_px : int, optional
        Outline thickness in pixels (1–5).

    Returns
    -------
    ndarray of uint8, shape (rows, cols, 3)
        A new image; ``rgb`` is not modified. Cells not counted (outside the ROI, or
        taken for red blood cells) are drawn in grey.
    """
    img = check_rgb_image(rgb, name="rgb").copy()
    cells = result.cell_labels
    n = int(cells.max()) if cells.size else 0
    palette = np.zeros((n + 1, 3), np.uint8)
    if n:
        names = np.asarray(result.cells.class_name)
        for k, color in CLASS_COLORS.items():
            palette[1:][names == k] = color
        palette[1:][~np.asarray(result.cells.counted)] = (128, 128, 128)
    edge = find_boundaries(cells, mode="inner") & (cells > 0)
    if outline_px > 1:
        from scipy import ndimage as ndi

        edge = ndi.binary_dilation(edge, iterations=min(4, outline_px - 1)) & (cells > 0)
    img[edge] = palette[cells[edge]]
    if legend:
        _draw_legend(img, result)
    return img


def _draw_legend(img: np.ndarray, result) -> None:
    from PIL import Image, ImageDraw

    pil = Image.fromarray(img)
    draw = ImageDraw.Draw(pil)
    lines = [(k, f"{k.replace('_', ' ')}: {result.percent_all[k]:.1f}%") for k in MEMBRANE_CLASSES]
    header = f"{result.n_cells_counted} cells counted, H-score {result.h_score:.0f}"
    row_h = 12
    width = 6 + 7 * max(len(header), *(len(t) for _, t in lines)) + 14
    height = row_h * (len(lines) + 1) + 8
    width, height = min(width, img.shape[1]), min(height, img.shape[0])
    draw.rectangle([0, 0, width, height], fill=(255, 255, 255))
    draw.text((4, 2), header, fill=(0, 0, 0))
    for i, (k, text) in enumerate(lines, start=1):
        y = 2 + i * row_h
        draw.rectangle([4, y + 2, 12, y + 10], fill=CLASS_COLORS[k], outline=(0, 0, 0))
        draw.text((16, y), text, fill=(0, 0, 0))
    img[...] = np.asarray(pil)

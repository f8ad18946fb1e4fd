"""A low-resolution heatmap of a slide's local HER2 IHC score over its thumbnail.

Each block of the slide (e.g. 0.5 mm) with enough tumour cells is tinted by its local
IHC score; the tint's opacity grows with the block's cell density, so that sparse
regions stay readable under it. A legend (score colours, block size, density) sits at
the right of the image. The four score colours are samples of the viridis map
(perceptually ordered, readable with the common colour-vision deficiencies): 0 yellow
→ 3+ dark purple.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np

from her2kit.imaging._validate import check_rgb_image

__all__ = ["SCORE_COLORS", "render_slide_heatmap"]

#: Colour of each local IHC score (viridis at 1.0, 0.75, 0.5, 0.25, 0.0); "0+" is the
#: guideline's 0 with faint membrane staining (ultralow).
SCORE_COLORS: Mapping[str, tuple[int, int, int]] = MappingProxyType({
    "0": (253, 231, 37),
    "0+": (144, 215, 67),
    "1+": (33, 145, 140),
    "2+": (59, 82, 139),
    "3+": (68, 1, 84),
})


def _block_image(score_idx: np.ndarray, density: np.ndarray, shape: tuple[int, int],
                 block_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Per thumbnail pixel: its block's score index (-1: none) and opacity (0–1)."""
    rows = np.minimum((np.arange(shape[0]) / block_px).astype(int), score_idx.shape[0] - 1)
    cols = np.minimum((np.arange(shape[1]) / block_px).astype(int), score_idx.shape[1] - 1)
    idx = score_idx[rows][:, cols]
    d = density[rows][:, cols]
    top = float(np.percentile(density[score_idx >= 0], 95)) if (score_idx >= 0).any() else 1.0
    alpha = np.where(idx >= 0, 0.3 + 0.35 * np.clip(d / max(top, 1e-9), 0, 1), 0.0)
    return idx, alpha.astype(np.float32)


def render_slide_heatmap(thumbnail_rgb, score_idx, density, *, block_px: float,
                         scores: Sequence[str] = tuple(SCORE_COLORS), title: str = "",
                         block_label: str = "", density_label: str = "") -> np.ndarray:
    """Tint each block of a thumbnail by its local IHC score, and add a legend.

    Parameters
    ----------
    thumbnail_rgb : ndarray of uint8, shape (rows, cols, 3)
        The slide at low resolution.
    score_idx : ndarray of int, shape (block_rows, block_cols)
        Index into ``scores`` of each block's local score; -1 for a block without enough
        cells (not tinted).
    density : ndarray of float, shape (block_rows, block_cols)
        Cells per mm² of each block (sets the tint's opacity).
    block_px : float
        Thumbnail pixels per block side.
    scores : sequence of str, optional
        The score names, in the order of ``score_idx`` (keys of :data:`SCORE_COLORS`).
    title, block_label, density_label : str, optional
        Legend text.

    Returns
    -------
    ndarray of uint8, shape (rows, cols + legend width, 3)
    """
    img = check_rgb_image(thumbnail_rgb, name="thumbnail_rgb")
    idx = np.asarray(score_idx, dtype=int)
    dens = np.asarray(density, dtype=float)
    if idx.shape != dens.shape or idx.ndim != 2:
        raise ValueError(f"score_idx and density must be 2-D of one shape, got {idx.shape} "
                         f"and {dens.shape}")
    pix_idx, alpha = _block_image(idx, dens, img.shape[:2], float(block_px))
    palette = np.array([SCORE_COLORS[s] for s in scores] + [(0, 0, 0)], np.float32)
    tint = palette[pix_idx]  # -1 picks the last row, which alpha 0 hides
    out = img.astype(np.float32) * (1 - alpha[..., None]) + tint * alpha[..., None]
    # Block edges, one pixel, so that neighbouring blocks of one score stay countable.
    edge = np.zeros(img.shape[:2], bool)
    edge[np.unique(np.floor(np.arange(1, idx.shape[0]) * block_px).astype(int)
                   .clip(0, img.shape[0] - 1)), :] = True
    edge[:, np.unique(np.floor(np.arange(1, idx.shape[1]) * block_px).astype(int)
                      .clip(0, img.shape[1] - 1))] = True
    out[edge & (alpha > 0)] *= 0.85
    return _with_legend(out.round().astype(np.uint8), scores, title, block_label,
                        density_label)


def _with_legend(img: np.ndarray, scores: Sequence[str], title: str, block_label: str,
                 density_label: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    lines = [title, block_label, density_label]
    width = max(150, 7 * max(len(t) for t in lines) + 16)
    height = max(img.shape[0], 20 + 16 * (len(scores) + 4))
    canvas = Image.new("RGB", (img.shape[1] + width, height), (255, 255, 255))
    canvas.paste(Image.fromarray(img), (0, 0))
    draw = ImageDraw.Draw(canvas)
    x0 = img.shape[1] + 8
    draw.text((x0, 6), title, fill=(0, 0, 0))
    draw.text((x0, 22), "local IHC score", fill=(0, 0, 0))
    for i, s in enumerate(scores):
        y = 40 + 16 * i
        draw.rectangle([x0, y, x0 + 14, y + 12], fill=SCORE_COLORS[s], outline=(0, 0, 0))
        draw.text((x0 + 20, y), f"IHC {s}", fill=(0, 0, 0))
    y = 40 + 16 * len(scores) + 6
    draw.text((x0, y), block_label, fill=(0, 0, 0))
    draw.text((x0, y + 16), density_label, fill=(0, 0, 0))
    return np.asarray(canvas)

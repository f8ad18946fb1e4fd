"""Cells approximated as nuclei expanded within a Voronoi limit (QuPath's cell model).

The cell geometry is computed on the coarse grid of :mod:`her2kit.imaging.filters`
(:func:`~her2kit.imaging.filters.block_factor`, ~1 µm per pixel).
"""

from __future__ import annotations

import math

import numpy as np

from her2kit.errors import ImageInputError
from her2kit.imaging._validate import check_pixel_size, check_positive

__all__ = ["expand_nuclei"]


def _neighbour_extreme(lab: np.ndarray, diagonal: bool, op, fill) -> np.ndarray:
    """``op`` (np.maximum / np.minimum) of the 4 (or 8) neighbours; ``fill`` outside."""
    out = np.full_like(lab, fill)
    op(out[1:], lab[:-1], out=out[1:])
    op(out[:-1], lab[1:], out=out[:-1])
    op(out[:, 1:], lab[:, :-1], out=out[:, 1:])
    op(out[:, :-1], lab[:, 1:], out=out[:, :-1])
    if diagonal:
        op(out[1:, 1:], lab[:-1, :-1], out=out[1:, 1:])
        op(out[1:, :-1], lab[:-1, 1:], out=out[1:, :-1])
        op(out[:-1, 1:], lab[1:, :-1], out=out[:-1, 1:])
        op(out[:-1, :-1], lab[1:, 1:], out=out[:-1, :-1])
    return out


def _disc_dilate(mask: np.ndarray, radius_px: float) -> np.ndarray:
    """Pixels within ``radius_px`` (Euclidean, centre to centre) of a set pixel.

    The disc is cut into rows: for each row offset ``dy`` the mask dilated horizontally by
    ``floor(sqrt(r² - dy²))`` is shifted by ``dy`` and OR-ed in; the horizontal dilations
    are built incrementally, so the cost is a few boolean passes per pixel of radius.
    """
    r = math.floor(radius_px)
    rows, cols = mask.shape
    horiz = [mask]
    for w in range(1, r + 1):
        h = horiz[-1].copy()
        h[:, w:] |= mask[:, :-w] if w < cols else False
        h[:, :-w] |= mask[:, w:] if w < cols else False
        horiz.append(h)
    out = mask.copy()
    for dy in range(-r, r + 1):
        w = math.floor(math.sqrt(max(0.0, radius_px * radius_px - dy * dy)))
        h = horiz[w]
        if dy == 0:
            out |= h
        elif abs(dy) < rows:
            if dy > 0:
                out[dy:] |= h[:-dy]
            else:
                out[:dy] |= h[-dy:]
    return out


def expand_nuclei(nuclei_labels, *, pixel_size_um: float, expansion_um: float = 4.0) -> np.ndarray:
    """Grow each nucleus into a cell, stopping halfway to its neighbours.

    Parameters
    ----------
    nuclei_labels : ndarray of int, shape (rows, cols)
        Nucleus instance labels (0 = background).
    pixel_size_um : float
        µm per pixel of ``nuclei_labels``.
    expansion_um : float, optional
        Largest distance a cell extends beyond its nucleus (µm). QuPath's default cell
        expansion is 5 µm; 4 µm suits packed breast carcinoma cells (cell diameter
        ≈ 12–18 µm with an 8 µm nucleus).

    Returns
    -------
    ndarray of int32, shape (rows, cols)
        Cell labels; cell ``k`` contains nucleus ``k``. Between two nuclei the boundary
        lies where the fronts growing from both meet (a Voronoi limit on the nucleus
        edges), so cells never overlap.

    Notes
    -----
    The extent is exact: the pixels within ``expansion_um`` (Euclidean) of a nucleus
    pixel. They are shared out by a race of fronts from every nucleus, each step giving
    an unlabelled pixel the label of a labelled neighbour, alternating 8- and
    4-neighbour steps (an octagonal distance within ~8 % of the Euclidean one); a pixel
    that two fronts reach in the same step goes to the nearer nucleus centroid. This
    replaces :func:`skimage.segmentation.expand_labels` (an exact Euclidean feature
    transform), which was the most expensive step of the pipeline; the partition differs
    from it on ~1 % of the pixels, all on cell-cell boundaries. Keeping the extent exact
    matters: an octagonal extent (12 % more area) let cells take stroma and fell per-cell
    accuracy at 1 µm/px from 0.70 to 0.43 on synthetic regions.

    References
    ----------
    Bankhead P. et al. "QuPath: Open source software for digital pathology image
    analysis." Sci Rep 7:16878 (2017) (cell expansion in ``WatershedCellDetection``).
    Rosenfeld A., Pfaltz J.L. "Distance functions on digital pictures." Pattern
    Recognition 1:33-61 (1968) (octagonal distance from alternating neighbourhoods).
    """
    labels = np.asarray(nuclei_labels)
    if labels.ndim != 2 or labels.dtype.kind not in "ui":
        raise ImageInputError(
            f"expected a 2-D integer label image, got shape {labels.shape} dtype {labels.dtype}",
            field="nuclei_labels",
        )
    pixel_size_um = check_pixel_size(pixel_size_um)
    d = check_positive(expansion_um, name="expansion_um", unit="µm")
    lab = labels.astype(np.int32, copy=True)
    if not lab.any():
        return lab
    # Nucleus centroids, to settle pixels that two fronts reach in the same step.
    flat = np.flatnonzero(lab.ravel())
    fl = lab.ravel()[flat]
    cols = lab.shape[1]
    cnt = np.maximum(np.bincount(fl), 1)
    cent_r = np.bincount(fl, weights=flat // cols) / cnt
    cent_c = np.bincount(fl, weights=flat % cols) / cnt
    big = np.iinfo(np.int32).max
    reach = _disc_dilate(lab > 0, d / pixel_size_um)
    for step in range(math.ceil(d / pixel_size_um)):
        empty = (lab == 0) & reach
        if not empty.any():
            break
        diagonal = step % 2 == 0
        hi = _neighbour_extreme(lab, diagonal, np.maximum, 0)
        np.copyto(lab, hi, where=empty)
        # Where the fronts of two cells meet, the pixel goes to the nearer nucleus
        # centroid, so that neither cell takes the other's membrane (a boundary biased
        # by one pixel toward the smaller label would, at ~1 µm/px).
        lo = _neighbour_extreme(np.where(lab == 0, big, lab), diagonal, np.minimum, big)
        tie = np.flatnonzero((empty & (hi > 0) & (lo < hi)).ravel())
        if tie.size:
            a, b = hi.ravel()[tie], lo.ravel()[tie]
            r, c = tie // cols, tie % cols
            da = (r - cent_r[a]) ** 2 + (c - cent_c[a]) ** 2
            db = (r - cent_r[b]) ** 2 + (c - cent_c[b]) ** 2
            lab.ravel()[tie] = np.where(db < da, b, a)
    return lab

"""Polygon rasterisation by scanlines: cost grows with rows × edge crossings, not with
bounding-box pixels × vertices.

:func:`polygon_mask` gives the pixels of :func:`skimage.draw.polygon` (the pixel centre
``(r, c)`` inside the ring, or on its boundary: an edge or a vertex), computed row by row
from the edges that cross each row instead of testing every pixel of the bounding box
against every edge. For coordinates that are integers, halves or other short binary
fractions the two agree pixel for pixel; for arbitrary floats they can differ only on a
pixel centre within rounding error (~1e-12 px) of an edge, where skimage's O'Rourke
test and the scanline intersection round differently.
"""

from __future__ import annotations

import numpy as np

from her2kit.errors import Her2kitInputError

__all__ = ["MAX_POLYGON_CROSSINGS", "polygon_crossings", "polygon_mask"]

#: Most (row, edge) crossings one ring may have inside the image: each costs a few bytes
#: and a few ns; a 100,000-vertex whole-slide outline over 20,000 rows has ~40,000, a
#: pathological zigzag of a million edges spanning every row would have billions.
MAX_POLYGON_CROSSINGS = 50_000_000


def _edges(rows: np.ndarray, cols: np.ndarray):
    """(y_i, x_i, y_j, x_j) of each edge, j the vertex before i (the ring closes itself)."""
    return rows, cols, np.roll(rows, 1), np.roll(cols, 1)


def _row_spans(yi, yj, r0: int, r1: int, *, lower_closed: bool):
    """First and last image row (clipped to ``r0``..``r1``) each edge crosses, under the
    half-open rule: ``lo <= y < hi`` (``lower_closed``) or ``lo < y <= hi``."""
    lo, hi = np.minimum(yi, yj), np.maximum(yi, yj)
    if lower_closed:
        first, last = np.ceil(lo), np.ceil(hi) - 1
    else:
        first, last = np.floor(lo) + 1, np.floor(hi)
    return np.maximum(first, r0).astype(np.int64), np.minimum(last, r1).astype(np.int64)


def polygon_crossings(rows, cols, shape: tuple[int, int]) -> int:
    """Number of (image row, edge) crossings :func:`polygon_mask` would visit."""
    r = np.asarray(rows, dtype=np.float64).ravel()
    first, last = _row_spans(r, np.roll(r, 1), 0, int(shape[0]) - 1, lower_closed=True)
    return int(np.maximum(last - first + 1, 0).sum())


def _crossings(yi, xi, yj, xj, r0: int, r1: int, *, lower_closed: bool):
    """(row, x) of every crossing of a horizontal image row by an edge."""
    first, last = _row_spans(yi, yj, r0, r1, lower_closed=lower_closed)
    counts = np.maximum(last - first + 1, 0)
    edge = np.repeat(np.arange(len(yi)), counts)
    start = np.cumsum(counts) - counts
    y = (first[edge] + np.arange(counts.sum()) - start[edge]).astype(np.float64)
    # The intersection as skimage's crossing test writes it (same operations, same order).
    x = (xj[edge] - xi[edge]) * (y - yi[edge]) / (yj[edge] - yi[edge]) + xi[edge]
    return y.astype(np.int64), x


def _add_spans(diff: np.ndarray, y, start, stop, r0: int, c0: int) -> None:
    """Mark columns ``start <= c < stop`` of each row ``y`` in a difference array."""
    w = diff.shape[1] - 1
    start = np.clip(start - c0, 0, w)
    stop = np.clip(stop - c0, 0, w)
    keep = stop > start
    np.add.at(diff, (y[keep] - r0, start[keep]), 1)
    np.add.at(diff, (y[keep] - r0, stop[keep]), -1)


def _parity_spans(y, x, *, right: bool):
    """Pixel spans where the number of crossings on the right (``x > c``) or on the left
    (``x < c``) is odd: between crossings 0-1, 2-3, ... of each row, sorted by x."""
    order = np.lexsort((x, y))
    y, x = y[order], x[order]
    a, b = x[0::2], x[1::2]
    if right:  # a <= c < b
        return y[0::2], np.ceil(a).astype(np.int64), np.ceil(b).astype(np.int64)
    return y[0::2], np.floor(a).astype(np.int64) + 1, np.floor(b).astype(np.int64) + 1


def polygon_mask(rows, cols, shape: tuple[int, int], *, max_crossings: int
                 = MAX_POLYGON_CROSSINGS) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """Pixels of a polygon ring, by scanlines (the pixels of :func:`skimage.draw.polygon`).

    Parameters
    ----------
    rows, cols : array_like of float, shape (n,)
        Vertex coordinates, px (row = y down, col = x right); the ring closes itself (a
        repeated first vertex is allowed).
    shape : tuple of int
        (rows, cols) of the image; the result is clipped to it.
    max_crossings : int, optional
        Refuse rings crossing more (image row, edge) pairs than this.

    Returns
    -------
    (window, mask) or None
        ``window`` is a (row slice, col slice) of the image and ``mask`` a boolean array
        of its shape: pixel ``(r, c)`` is True when its centre lies inside the ring or on
        its boundary. None when the ring has no pixel in the image.

    Raises
    ------
    Her2kitInputError
        More crossings than ``max_crossings``.

    Notes
    -----
    On row ``y`` a pixel centre ``c`` is inside when an odd number of edges crosses the
    row to its right under the rule ``lo <= y < hi``, or to its left under ``lo < y <=
    hi``; the two counts differ in parity exactly on the boundary (O'Rourke's test), so
    their union is the closed polygon; vertices at pixel centres are added. Each parity
    gives disjoint spans between sorted crossings, summed into a difference array.
    """
    r = np.asarray(rows, dtype=np.float64).ravel()
    c = np.asarray(cols, dtype=np.float64).ravel()
    n_rows, n_cols = int(shape[0]), int(shape[1])
    r0, r1 = max(0, int(np.floor(r.min()))), min(n_rows - 1, int(np.ceil(r.max())))
    c0, c1 = max(0, int(np.floor(c.min()))), min(n_cols - 1, int(np.ceil(c.max())))
    if r0 > r1 or c0 > c1:
        return None
    n = polygon_crossings(r, c, shape)
    if n > max_crossings:
        raise Her2kitInputError(f"the polygon crosses image rows {n} times, more than the "
                                f"limit {max_crossings} (simplify the outline)", field="roi")
    yi, xi, yj, xj = _edges(r, c)
    diff = np.zeros((r1 - r0 + 1, c1 - c0 + 2), np.int8)
    for lower_closed in (True, False):
        y, x = _crossings(yi, xi, yj, xj, r0, r1, lower_closed=lower_closed)
        if len(y):
            _add_spans(diff, *_parity_spans(y, x, right=lower_closed), r0, c0)
    mask = np.cumsum(diff[:, :-1], axis=1, dtype=np.int8) > 0
    on_grid = (r == np.round(r)) & (c == np.round(c))
    vr, vc = r[on_grid].astype(np.int64) - r0, c[on_grid].astype(np.int64) - c0
    inside = (vr >= 0) & (vr < mask.shape[0]) & (vc >= 0) & (vc < mask.shape[1])
    mask[vr[inside], vc[inside]] = True
    return (slice(r0, r1 + 1), slice(c0, c1 + 1)), mask

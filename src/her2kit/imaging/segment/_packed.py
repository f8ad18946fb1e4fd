"""Per-object image operations computed on the objects' boxes packed into one image.

Each helper gives the whole-image operation's result bit for bit (each docstring says
why), at the cost of the nuclei's boxes instead of the whole field; the ISH nucleus
segmentation (:mod:`her2kit.imaging.segment.ish_nuclei`), probe backgrounds and focus
scores use them. ``tests/imaging/ish/test_packing.py`` checks each against the
whole-image call.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import h_maxima

from her2kit.imaging.filters import running_1d_valid, smooth


def _odd(n: float) -> int:
    k = max(1, round(n))
    return k if k % 2 else k + 1


def _resample(a: np.ndarray, f_from: int, f_to: int, shape) -> np.ndarray:
    """Nearest-neighbour resampling of a grid of ``f_from`` blocks to one of ``f_to``
    blocks of a full-resolution ``shape`` (block centres' nearest source block)."""
    if f_from == f_to:
        return a
    rows = -(-shape[0] // f_to)
    cols = -(-shape[1] // f_to)
    ri = np.minimum((np.arange(rows) * f_to + f_to // 2) // f_from, a.shape[0] - 1)
    ci = np.minimum((np.arange(cols) * f_to + f_to // 2) // f_from, a.shape[1] - 1)
    return a[np.ix_(ri, ci)]


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.binary_fill_holes(mask)``: background regions (4-connected) that
    do not reach the image edge become foreground; by one labelling of the background."""
    bg, n = ndi.label(~mask)
    if n == 0:
        return mask.copy()
    edge = np.zeros(n + 1, bool)
    for side in (bg[0], bg[-1], bg[:, 0], bg[:, -1]):
        edge[side] = True
    edge[0] = True  # label 0 = the mask itself
    return mask | ~edge[bg]


def _shelf(sizes, gap: int):
    """Top-left corners of boxes of ``sizes`` [(rows, cols)] packed in shelves, each
    followed by ``gap`` empty rows/columns (and ``gap`` before the first), and the
    canvas shape."""
    total = sum((h + gap) * (w + gap) for h, w in sizes)
    width = max(max(w for _, w in sizes), int(np.sqrt(total))) + 2 * gap
    place = [(0, 0)] * len(sizes)
    x = y = shelf = 0
    # Tallest first, so that each shelf holds boxes of similar height.
    for i in sorted(range(len(sizes)), key=lambda j: -sizes[j][0]):
        h, w = sizes[i]
        if x + w + gap > width:
            y += shelf + gap
            x = shelf = 0
        place[i] = (y + gap, x + gap)
        x += w + gap
        shelf = max(shelf, h)
    return place, (y + shelf + 2 * gap, width + gap)


def _box_size(b) -> tuple[int, int]:
    return b[0].stop - b[0].start, b[1].stop - b[1].start


def _h_maxima_packed(dist: np.ndarray, h: float, mask: np.ndarray | None = None) -> np.ndarray:
    """``skimage.morphology.h_maxima(dist, h)`` for a non-negative ``dist``, computed on
    the positive pixels only (bool).

    Each 8-connected region of ``dist > 0`` is cropped (other regions in its box zeroed)
    and the crops are packed side by side, with a zero pixel between them, into one
    image for a single ``h_maxima``. Identical to the full-image call: a path from one
    region to another crosses a zero, which caps what it can carry at 0, and every
    region is still present; in the packed image the zeros connect all regions just
    as the background does in the full one. The reconstruction's sort then covers the
    nuclei's boxes instead of the whole field.
    """
    if not float(dist.max(initial=0.0)) >= h:
        return h_maxima(dist, h).astype(bool)
    if mask is not None:
        # Cheaper still: the mask's regions only (``dist`` taken as 0 outside). A path
        # leaving the mask carries at most ``leak`` (the largest value outside), so the
        # seeds agree wherever ``dist >= h + leak``; below, restricting can only add
        # seeds (fewer paths), so if it finds none there the result is the same.
        leak = float(dist.max(where=~mask, initial=0.0))
        if leak < h:
            out = _h_maxima_packed(np.where(mask, dist, 0), h)
            tol = 4 * np.finfo(dist.dtype).resolution * max(1.0, float(dist.max()))
            if not (out & (dist < h + leak + tol)).any():
                return out
    reg, _ = ndi.label(dist > 0, structure=np.ones((3, 3), bool))
    boxes = ndi.find_objects(reg)
    place, shape = _shelf([_box_size(b) for b in boxes], 1)
    packed = np.zeros(shape, dist.dtype)
    dst = []
    for k, (b, (py, px_)) in enumerate(zip(boxes, place, strict=True), start=1):
        bh, bw = _box_size(b)
        d = (slice(py, py + bh), slice(px_, px_ + bw))
        packed[d] = np.where(reg[b] == k, dist[b], 0)
        dst.append(d)
    hm = h_maxima(packed, h).astype(bool)
    out = np.zeros(dist.shape, bool)
    for k, (b, d) in enumerate(zip(boxes, dst, strict=True), start=1):
        out[b] |= hm[d] & (reg[b] == k)
    return out


def _edt_packed(lab: np.ndarray, boxes) -> np.ndarray:
    """``distance_transform_edt(lab > 0)`` (float32) from the 4-connected components
    ``lab`` and their boxes (None entries skipped, their pixels treated as background).

    Each component is cropped with a one-pixel ring and the crops packed into one
    image (those touching the image edge, where the outside is not background, are
    transformed one by one). Identical to the full-image transform: every pixel
    nearer than a pixel's nearest background pixel lies in its own component (a
    digital disk is 4-connected), so that background pixel lies in the ringed box,
    and no pixel of another crop is nearer.
    """
    out = np.zeros(lab.shape, np.float32)
    items = []
    rows, cols = lab.shape
    for k, b in enumerate(boxes, start=1):
        if b is None:
            continue
        r0, c0 = max(b[0].start - 1, 0), max(b[1].start - 1, 0)
        r1, c1 = min(b[0].stop + 1, rows), min(b[1].stop + 1, cols)
        ring = (slice(r0, r1), slice(c0, c1))
        if b[0].start == 0 or b[1].start == 0 or b[0].stop == rows or b[1].stop == cols:
            # At the image edge the outside is not background: not packed.
            own = lab[ring] == k
            out[ring][own] = ndi.distance_transform_edt(own)[own]
            continue
        items.append((k, ring))
    if not items:
        return out
    place, shape = _shelf([_box_size(b) for _, b in items], 1)
    packed = np.zeros(shape, bool)
    dst = []
    for (k, b), (py, px_) in zip(items, place, strict=True):
        bh, bw = _box_size(b)
        d = (slice(py, py + bh), slice(px_, px_ + bw))
        packed[d] |= lab[b] == k
        dst.append(d)
    edt = ndi.distance_transform_edt(packed).astype(np.float32)
    for (k, b), d in zip(items, dst, strict=True):
        own = lab[b] == k
        out[b][own] = edt[d][own]
    return out


def _smooth_boxes(image: np.ndarray, sigma_px: float, boxes) -> np.ndarray:
    """``smooth(image, sigma_px)`` inside ``boxes`` (slices of ``image``), 0 elsewhere.

    The boxes, each with the filter's reach around it (from a reflected pad, scipy's
    edge mode), are packed into one image and smoothed at once: a box's values only
    read its own crop, so they equal the full-image filter's.
    """
    s = float(sigma_px)
    reach = int(4.0 * s + 0.5) if s >= 0.95 else 1
    rows, cols = image.shape
    out = np.zeros(image.shape, np.float32)
    if not boxes:
        return out
    if s < 0.95 and any(b[0].start < 1 or b[1].start < 1 or b[0].stop > rows - 1
                        or b[1].stop > cols - 1 for b in boxes):
        # The 3-tap path adds the reflected edge in another order (last-bit
        # differences at the image edge): filter the whole image instead.
        full = smooth(image, s)
        for b in boxes:
            out[b] = full[b]
        return out
    place, shape = _shelf([(b[0].stop - b[0].start + 2 * reach, b[1].stop - b[1].start + 2 * reach)
                           for b in boxes], 0)
    packed = np.zeros(shape, np.float32)
    for b, (py, px_) in zip(boxes, place, strict=True):
        r0, r1 = b[0].start - reach, b[0].stop + reach
        c0, c1 = b[1].start - reach, b[1].stop + reach
        crop = image[max(r0, 0) : min(r1, rows), max(c0, 0) : min(c1, cols)]
        if r0 < 0 or c0 < 0 or r1 > rows or c1 > cols:
            # Reflected at the image edge (scipy's "reflect"), as a padded image would be.
            crop = np.pad(crop, ((max(-r0, 0), max(r1 - rows, 0)),
                                 (max(-c0, 0), max(c1 - cols, 0))), mode="symmetric")
        packed[py : py + r1 - r0, px_ : px_ + c1 - c0] = crop
    sm = smooth(packed, s)
    for b, (py, px_) in zip(boxes, place, strict=True):
        bh, bw = _box_size(b)
        out[b] = sm[py + reach : py + reach + bh, px_ + reach : px_ + reach + bw]
    return out


def _grey_opening(a: np.ndarray, k: int) -> np.ndarray:
    """``scipy.ndimage.grey_opening(a, size=(k, k))`` (edges reflected) for odd ``k``,
    by running minima then maxima of array slices: identical, several times faster."""
    r = k // 2
    if k % 2 == 0 or min(a.shape) <= k:
        return ndi.grey_opening(a, size=(k, k))
    e = np.pad(a, r, mode="symmetric")  # scipy's "reflect"
    e = running_1d_valid(running_1d_valid(e, 0, k, np.minimum), 1, k, np.minimum)
    e = np.pad(e, r, mode="symmetric")
    return running_1d_valid(running_1d_valid(e, 0, k, np.maximum), 1, k, np.maximum)


def _upsample(a: np.ndarray, f: int, shape) -> np.ndarray:
    """Repeat each grid value into an ``f x f`` block, cropped to ``shape`` (float32)."""
    if f == 1:
        return a
    big = np.broadcast_to(a[:, None, :, None], (a.shape[0], f, a.shape[1], f))
    return np.ascontiguousarray(big.reshape(a.shape[0] * f, a.shape[1] * f)[: shape[0],
                                                                              : shape[1]])


def _pad_to(a: np.ndarray, shape) -> np.ndarray:
    if a.shape == tuple(shape):
        return a
    out = np.zeros(shape, a.dtype)
    out[: a.shape[0], : a.shape[1]] = a
    return out

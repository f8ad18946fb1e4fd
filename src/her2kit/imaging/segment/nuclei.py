"""Nucleus detection on the hematoxylin optical-density channel.

Sizes are in µm and converted to pixels with the image's pixel size, so one parameter set
works at 0.25, 0.5 and 1 µm/px.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.segmentation import watershed

from her2kit.errors import ImageInputError
from her2kit.imaging._validate import check_pixel_size, check_positive
from her2kit.imaging.filters import smooth
from her2kit.imaging.segment._packed import _fill_holes

__all__ = [
    "NUCLEAR_IMAGE_KINDS",
    "InstanceMatch",
    "NucleusDetection",
    "detect_nuclei",
    "match_instances",
    "um_to_px",
]

# Bounds on the automatic (Otsu) threshold, base-10 hematoxylin OD. Below 0.08 the
# "nuclei" would be cytoplasm or stroma tint; above 0.40 pale nuclei of a light
# counterstain would be lost. The value used is returned as evidence.
MIN_THRESHOLD_OD = 0.08
MAX_THRESHOLD_OD = 0.40


def um_to_px(length_um: float, pixel_size_um: float) -> float:
    """Convert a length in µm to pixels (float)."""
    return float(length_um) / float(pixel_size_um)


#: What a nucleus segmenter thresholded: a stain amount in base-10 OD (IHC and
#: brightfield ISH hematoxylin) or a fluorescence intensity (FISH DAPI).
NUCLEAR_IMAGE_KINDS = ("hematoxylin_od", "dapi_intensity")


@dataclass(frozen=True, eq=False)
class NucleusDetection:
    """Nuclei found in one image: the result type of every her2kit nucleus segmenter.

    IHC (:func:`detect_nuclei`, hematoxylin OD) and ISH
    (:func:`~her2kit.imaging.segment.ish_nuclei.segment_ish_nuclei`, DAPI for FISH or the
    hematoxylin amount for brightfield ISH) both return it, so that the per-nucleus
    steps downstream read one type.

    Attributes
    ----------
    labels : ndarray of int32, shape (rows, cols)
        Instance labels, 0 = background, 1..n_nuclei, on the grid of ``pixel_size_um``
        (which may be coarser than the input image's). Consecutive from
        :func:`detect_nuclei`; the ISH segmenter can leave an id empty (area 0).
    n_nuclei : int
        Number of nuclei.
    threshold : float
        Foreground threshold used on the smoothed nuclear image, in its units (base-10 OD
        for ``"hematoxylin_od"``, the image's intensity units for ``"dapi_intensity"``).
    threshold_source : str
        How the threshold was chosen. :func:`detect_nuclei`: ``"otsu"``,
        ``"otsu-clipped"`` (Otsu fell outside [0.08, 0.40] OD and was clipped) or
        ``"given"``; other segmenters may add their own values.
    pixel_size_um : float
        µm per pixel of ``labels``.
    nucleus_diameter_um : float or None
        Expected nucleus diameter the seeds were spaced for (µm); None when the
        segmenter splits nuclei without one.
    image_kind : {"hematoxylin_od", "dapi_intensity"}, optional
        What was thresholded (:data:`NUCLEAR_IMAGE_KINDS`).
    parameters : Mapping, optional
        Further settings the segmenter used, by name (for the evidence in reports).
    """

    labels: np.ndarray
    n_nuclei: int
    threshold: float
    threshold_source: str
    pixel_size_um: float
    nucleus_diameter_um: float | None
    image_kind: str = "hematoxylin_od"
    parameters: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def threshold_od(self) -> float:
        """The threshold in base-10 OD; NaN when the nuclear image was not an OD amount."""
        return self.threshold if self.image_kind == "hematoxylin_od" else float("nan")

    @property
    def areas_um2(self) -> np.ndarray:
        """Area of nuclei 1..n_nuclei (µm²), float64, shape (n_nuclei,)."""
        counts = np.bincount(self.labels.ravel(), minlength=self.n_nuclei + 1)
        return counts[1 : self.n_nuclei + 1] * (self.pixel_size_um * self.pixel_size_um)

    @property
    def centroids_rc(self) -> np.ndarray:
        """Centroid (row, col) of nuclei 1..n_nuclei in pixels of ``labels``, shape (n, 2)."""
        n = self.n_nuclei
        flat = np.flatnonzero(self.labels.ravel())
        lab = self.labels.ravel()[flat]
        cols = self.labels.shape[1]
        cnt = np.maximum(np.bincount(lab, minlength=n + 1)[1 : n + 1], 1)
        r = np.bincount(lab, weights=flat // cols, minlength=n + 1)[1 : n + 1] / cnt
        c = np.bincount(lab, weights=flat % cols, minlength=n + 1)[1 : n + 1] / cnt
        return np.stack([r, c], axis=1)


def detect_nuclei(
    hematoxylin_od,
    *,
    pixel_size_um: float,
    nucleus_diameter_um: float = 8.0,
    min_area_um2: float = 12.0,
    threshold_od: float | None = None,
    smooth_sigma_um: float = 0.5,
    threshold_exclude=None,
    max_hole_um2: float | None = None,
    tie_break: bool = False,
) -> NucleusDetection:
    """Detect and split nuclei on a hematoxylin OD image.

    Parameters
    ----------
    hematoxylin_od : ndarray of float, shape (rows, cols)
        Hematoxylin amount, base-10 OD (e.g. ``separate_stains(rgb).hematoxylin_od``).
    pixel_size_um : float
        µm per pixel.
    nucleus_diameter_um : float, optional
        Typical nucleus diameter (µm); seeds closer than ~0.4 of it merge. 8 µm suits
        breast carcinoma (tumour nuclei are 6–12 µm across).
    min_area_um2 : float, optional
        Objects smaller than this (µm²) are dropped as debris (12 µm² ≈ a 4 µm disc).
    threshold_od : float, optional
        Foreground threshold on the smoothed hematoxylin OD. Default: Otsu's threshold
        over stained pixels, clipped to [0.08, 0.40] OD.
    smooth_sigma_um : float, optional
        SD of the Gaussian applied first (µm), to merge chromatin texture.
    threshold_exclude : ndarray of bool, shape (rows, cols), optional
        Pixels left out when choosing the automatic threshold, e.g. strongly DAB-stained
        pixels, whose hematoxylin value is unreliable (stain cross-talk) and whose
        number would otherwise pull Otsu's threshold up.
    max_hole_um2 : float, optional
        Fill only holes of the foreground up to this area (µm²). Default: every hole. A
        hole's extent is then bounded, so the mask at a pixel depends only on pixels
        nearby (a whole slide scored in tiles gives the same nuclei whatever the tiling;
        a background channel snaking between touching nuclei can otherwise be a hole in
        one tile and reach the edge of another).
    tie_break : bool, optional
        Break the watershed's ties by the smoothed hematoxylin (see :func:`_flood_image`),
        so that the split of touching nuclei does not depend on the image's extent.

    Returns
    -------
    NucleusDetection
        Labels and the evidence (threshold used).

    Notes
    -----
    1. Smooth the hematoxylin OD (Gaussian, ``smooth_sigma_um``).
    2. Threshold (Otsu on pixels above 0.03 OD, clipped), fill holes, drop small objects.
    3. Distance of each foreground pixel to the background (octagonal chamfer distance
       from alternating 4/8-neighbour erosions, lightly smoothed); its local maxima at
       least 0.4 × diameter apart seed a marker-controlled watershed on the negative
       distance, which splits touching nuclei at their neck. Every component gets a seed.

    The cost grows with the number of pixels:
    :func:`her2kit.imaging.ihc.score.score_ihc_image` calls it on a ~1 µm/px block mean
    of the hematoxylin (8 px per nucleus diameter is enough to split nuclei), not on a
    0.25 µm/px original.
    """
    h = np.asarray(hematoxylin_od)
    if h.ndim != 2:
        raise ImageInputError(
            f"expected a 2-D hematoxylin OD image, got shape {h.shape}", field="hematoxylin_od"
        )
    pixel_size_um = check_pixel_size(pixel_size_um)
    diam_um = check_positive(nucleus_diameter_um, name="nucleus_diameter_um", unit="µm")
    h = h.astype(np.float32, copy=False)
    sigma = max(0.5, smooth_sigma_um / pixel_size_um)
    hs = smooth(h, sigma)
    if threshold_od is None:
        step = max(1, hs.size // 250_000)
        sample = hs.ravel()[::step]
        keep = sample > 0.03
        if threshold_exclude is not None:
            excl = np.asarray(threshold_exclude, dtype=bool)
            if excl.shape != h.shape:
                raise ImageInputError(
                    f"expected shape {h.shape}, got {excl.shape}", field="threshold_exclude"
                )
            keep &= ~excl.ravel()[::step]
        sample = sample[keep]
        otsu = float(threshold_otsu(sample)) if sample.size > 10 and np.ptp(sample) > 0 else 1.0
        thr = float(np.clip(otsu, MIN_THRESHOLD_OD, MAX_THRESHOLD_OD))
        source = "otsu" if thr == otsu else "otsu-clipped"
    else:
        thr, source = float(threshold_od), "given"
    if max_hole_um2 is None:
        mask = _fill_holes(hs > thr)
    else:
        mask = _fill_small_holes(hs > thr, max(0, int(max_hole_um2 / pixel_size_um**2)))
    min_area_px = max(3, int(min_area_um2 / (pixel_size_um * pixel_size_um)))
    comp, n_comp = ndi.label(mask)
    if n_comp == 0:
        empty = np.zeros(h.shape, np.int32)
        return NucleusDetection(empty, 0, thr, source, pixel_size_um, diam_um)
    sizes = np.bincount(comp.ravel())
    small = sizes < min_area_px
    small[0] = True
    mask &= ~small[comp]
    comp[~mask] = 0
    dist = _chamfer_distance(mask, max_steps=math.ceil(0.75 * diam_um / pixel_size_um))
    # A light smoothing of the distance map removes the ridge noise of ragged outlines
    # that would otherwise seed one nucleus twice.
    dist_s = smooth(dist, max(0.5, 0.08 * diam_um / pixel_size_um))
    min_dist = max(1, math.floor(0.4 * diam_um / pixel_size_um))
    # Seeds: local maxima of the distance map over a (2·min_dist+1)² window. A maximum
    # filter is separable and fast; connected maxima (plateaus) are one seed.
    peak = (dist_s >= _box_max(dist_s, min_dist)) & (dist_s > 0.5)
    markers, n_markers = ndi.label(peak)
    # Components without a seed (too thin for the distance map) still get one.
    seeded = np.zeros(n_comp + 1, bool)
    seeded[comp[peak]] = True
    seeded[0] = True
    missing = np.flatnonzero(~seeded & ~small)
    if missing.size:
        # The highest-distance pixel of each unseeded component: sort its pixels by
        # (component, distance) and take the last of each run (ndi.maximum_position
        # would argsort the whole image).
        is_missing = np.zeros(n_comp + 1, bool)
        is_missing[missing] = True
        pix = np.flatnonzero(is_missing[comp].ravel())
        lab = comp.ravel()[pix]
        order = np.lexsort((dist.ravel()[pix], lab))
        last = order[np.r_[lab[order][1:] != lab[order][:-1], True]]
        markers.ravel()[pix[last]] = n_markers + np.arange(1, last.size + 1)
    labels = watershed(_flood_image(dist_s, hs, tie_break), markers,
                       mask=mask).astype(np.int32)
    # Drop split fragments below the size floor and renumber 1..n.
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_area_px
    keep[0] = False
    remap = np.zeros(sizes.size, np.int32)
    remap[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    labels = remap[labels]
    return NucleusDetection(labels, int(keep.sum()), thr, source, pixel_size_um, diam_um)


def _flood_image(dist_s: np.ndarray, hs: np.ndarray, tie_break: bool) -> np.ndarray:
    """The watershed's relief: the negative distance map, and with ``tie_break`` minus a
    small multiple of the smoothed hematoxylin. The watershed floods equal levels in the
    order their pixels were queued, which depends on the whole image; the chamfer
    distance has many equal levels, so without a tie-break the split of a nucleus can
    change with the image's extent (a tile of a slide)."""
    if not tie_break:
        return -dist_s
    return -dist_s - np.float32(1e-3) * np.clip(hs, 0, 10)


def _fill_small_holes(mask: np.ndarray, max_px: int) -> np.ndarray:
    """Fill the background regions (4-connected) of at most ``max_px`` pixels that do not
    reach the image edge."""
    bg, n = ndi.label(~mask)
    if n == 0:
        return mask.copy()
    fill = np.bincount(bg.ravel(), minlength=n + 1) <= max_px
    for side in (bg[0], bg[-1], bg[:, 0], bg[:, -1]):
        fill[side] = False
    fill[0] = False  # label 0 = the mask itself
    return mask | fill[bg]


def _erode(m: np.ndarray, diagonal: bool) -> np.ndarray:
    """Binary erosion by the 4- (or 8-) neighbourhood; outside the image counts as set."""
    out = m.copy()
    out[1:] &= m[:-1]
    out[:-1] &= m[1:]
    out[:, 1:] &= m[:, :-1]
    out[:, :-1] &= m[:, 1:]
    if diagonal:
        out[1:, 1:] &= m[:-1, :-1]
        out[1:, :-1] &= m[:-1, 1:]
        out[:-1, 1:] &= m[1:, :-1]
        out[:-1, :-1] &= m[1:, 1:]
    return out


def _chamfer_distance(mask: np.ndarray, *, max_steps: int) -> np.ndarray:
    """Distance (px) from each foreground pixel to the background, octagonal metric.

    The sum of successive erosions, alternating 4- and 8-neighbourhoods (within ~8 % of
    the Euclidean distance), capped at ``max_steps``. For splitting nuclei only the
    position of the maxima and the necks matters, and a few boolean erosions cost a small
    fraction of :func:`scipy.ndimage.distance_transform_edt`.
    """
    dist = mask.astype(np.float32)
    cur = mask
    for step in range(max(1, int(max_steps))):
        cur = _erode(cur, diagonal=step % 2 == 1)
        if not cur.any():
            break
        dist += cur
    return dist


def _box_max(a: np.ndarray, r: int) -> np.ndarray:
    """Maximum over a (2r+1)² window (edges: the window is cut), by separable doubling."""
    out = a
    for axis in (0, 1):
        src = np.moveaxis(out, axis, 0)
        res = src.copy()
        # After shifting by 1, 2, 4, ... the running max covers a window of width 2^k;
        # the last shift is clipped so that the window is exactly 2r + 1 wide.
        fwd = src.copy()
        reach = 0
        while reach < r:
            s = min(reach + 1, r - reach)
            nxt = fwd.copy()
            np.maximum(nxt[:-s], fwd[s:], out=nxt[:-s])
            fwd = nxt
            reach += s
        bwd = src.copy()
        reach = 0
        while reach < r:
            s = min(reach + 1, r - reach)
            nxt = bwd.copy()
            np.maximum(nxt[s:], bwd[:-s], out=nxt[s:])
            bwd = nxt
            reach += s
        np.maximum(fwd, bwd, out=res)
        out = np.moveaxis(res, 0, axis)
    return out


@dataclass(frozen=True, eq=False)
class InstanceMatch:
    """One-to-one matching of predicted to true instances at an IoU threshold.

    Attributes
    ----------
    true_ids, pred_ids : ndarray of int
        Matched label pairs (same length).
    iou : ndarray of float
        IoU of each pair.
    n_true, n_pred, tp, fp, fn : int
        Counts.
    precision, recall, f1 : float
        Detection scores (0–1); 0 when undefined.
    """

    true_ids: np.ndarray
    pred_ids: np.ndarray
    iou: np.ndarray
    n_true: int
    n_pred: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


def match_instances(true_labels, pred_labels, *, iou_threshold: float = 0.5) -> InstanceMatch:
    """Match two label images one-to-one by intersection over union.

    Parameters
    ----------
    true_labels, pred_labels : ndarray of int, same shape
        Instance labels, 0 = background.
    iou_threshold : float, optional
        Pairs with IoU above this match. At ≥ 0.5 a match is necessarily unique.

    Returns
    -------
    InstanceMatch
        Matched pairs and precision, recall, F1.
    """
    t = np.asarray(true_labels).ravel().astype(np.int64)
    p = np.asarray(pred_labels).ravel().astype(np.int64)
    if t.shape != p.shape:
        raise ImageInputError(
            f"label shapes differ: {np.shape(true_labels)} vs {np.shape(pred_labels)}"
        )
    t_ids = np.unique(t[t > 0])
    p_ids = np.unique(p[p > 0])
    area_t = np.bincount(t)
    area_p = np.bincount(p)
    both = (t > 0) & (p > 0)
    pair = t[both] * (int(p.max()) + 1) + p[both]
    keys, inter = np.unique(pair, return_counts=True)
    kt, kp = keys // (int(p.max()) + 1), keys % (int(p.max()) + 1)
    iou = inter / (area_t[kt] + area_p[kp] - inter)
    ok = iou > iou_threshold
    if iou_threshold < 0.5:
        # Greedy one-to-one assignment by decreasing IoU when matches may be ambiguous.
        order = np.argsort(-iou)
        used_t, used_p, sel = set(), set(), np.zeros(iou.size, bool)
        for i in order[ok[order]]:
            if kt[i] not in used_t and kp[i] not in used_p:
                used_t.add(kt[i])
                used_p.add(kp[i])
                sel[i] = True
        ok = sel
    tp = int(ok.sum())
    n_true, n_pred = len(t_ids), len(p_ids)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * tp / (n_true + n_pred) if (n_true + n_pred) else 0.0
    return InstanceMatch(
        kt[ok], kp[ok], iou[ok], n_true, n_pred, tp, n_pred - tp, n_true - tp, precision, recall, f1
    )

"""Which ISH nuclei are counted: whole, inside the ROI, of plausible size and shape, in focus.

:func:`select_nuclei_stage` gives every segmented nucleus its counts and either
"counted" or the first exclusion reason (:data:`EXCLUSION_REASONS`). Shape is measured
on the outline grid (convex-hull solidity, bounded first by an octagon so that most
nuclei skip the hull); focus is a band-pass texture score relative to the field's
median.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from her2kit.imaging.filters import block_factor, block_mean, smooth
from her2kit.imaging.ish.results import NucleusRecord
from her2kit.imaging.ish.signals import SignalsStage, _per_nucleus
from her2kit.imaging.segment._packed import _resample, _smooth_boxes
from her2kit.imaging.segment.ish_nuclei import NucleusGeometry

__all__ = [
    "EXCLUSION_REASONS",
    "FOCUS_GRID_UM",
    "OVERSIZE_FACTOR",
    "NucleusSelection",
    "SelectionOptions",
    "select_nuclei_stage",
]

#: The exclusion reasons, in the order they are tested (the first that applies is kept).
EXCLUSION_REASONS = (
    "touches_image_edge",
    "outside_roi",
    "too_small",
    "oversized_or_overlapping",
    "out_of_focus",
    "no_cep17_signal",
)

#: A nucleus larger than this multiple of the field's median area (of whole nuclei of
#: plausible size, when at least 5) is taken for two overlapping or merged nuclei.
OVERSIZE_FACTOR = 2.2

#: The focus band-pass runs on block means about this fine (µm per grid pixel).
FOCUS_GRID_UM = 0.4


def _focus_scores(nuclear, geo: NucleusGeometry, n, pixel_size_um, *, grid=None):
    """Band-pass texture / mean intensity inside each nucleus' interior (unitless).

    Computed on block means of ~0.4 µm (the block mean is the fine end of the band,
    about the 0.15 µm Gaussian of a full-resolution version) minus their 0.8 µm
    Gaussian; the interior is the nucleus less its outer 1 µm (the rim, a step in
    intensity, is the strongest band-pass feature in focus or not).
    """
    ff = block_factor(pixel_size_um, FOCUS_GRID_UM)
    pf = ff * pixel_size_um
    s_fine = np.sqrt(max(0.0, 0.15**2 - (ff * ff - 1) / 12.0 * pixel_size_um * pixel_size_um)) / pf
    # Distance to the background on the segmentation grid, from the grid pixel's edge.
    interior = (geo.edge_dist - 0.5) * (geo.factor * pixel_size_um) > 1.0
    lab = _resample(np.where(interior, geo.coarse, 0), geo.factor, ff, nuclear.shape).ravel()
    if grid is not None and ff == geo.factor and geo.boxes is not None:
        # The segmentation's block means, filtered in the nuclei's boxes only (exact
        # there, and the interiors lie inside them).
        img = grid
        band = _smooth_boxes(img, s_fine, geo.boxes) - _smooth_boxes(img, 0.8 / pf, geo.boxes)
        on = np.flatnonzero(lab != 0)
        ids = lab[on]
        cnt = np.bincount(ids, minlength=n + 1).astype(float)
        s2 = np.bincount(ids, weights=np.square(band.ravel()[on]), minlength=n + 1)
        mean = np.bincount(ids, weights=img.ravel()[on], minlength=n + 1)
    else:
        img = block_mean(nuclear, ff)
        band = smooth(img, s_fine) - smooth(img, 0.8 / pf)
        cnt = np.bincount(lab, minlength=n + 1).astype(float)
        s2 = np.bincount(lab, weights=(band * band).ravel(), minlength=n + 1)
        mean = np.bincount(lab, weights=img.ravel(), minlength=n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rms = np.sqrt(s2 / cnt)
        score = rms / (mean / cnt)
    score[cnt < 5 / (ff * ff)] = np.nan
    return score[: n + 1]


def _centroids_solidity(
    geo: NucleusGeometry, n: int, *, min_solidity: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroids (full-resolution px), solidity (area / convex-hull area) and pixel
    count per label, on the outline grid (``geo.fine``).

    The hull is that of the boundary cells' centres (:class:`scipy.spatial.ConvexHull`)
    grown by half a cell, so that a digitised disc or rectangle has solidity ~1
    (capped at 1) however coarse the grid. With ``min_solidity``, a label whose
    solidity is certainly at least that (its bounding octagon, which contains the
    hull, already leaves it that solid) gets that lower bound instead of the exact
    value: only the comparison with ``min_solidity`` uses it, and the hull, a
    per-label Qhull call, is skipped for most nuclei.
    """
    from scipy.spatial import ConvexHull, QhullError

    lab = geo.fine
    f = geo.fine_factor
    cols = lab.shape[1]
    on = np.flatnonzero(lab)
    ids = lab.ravel()[on]
    cnt = np.bincount(ids, minlength=n + 1)[: n + 1].astype(float)
    r = on // cols
    c = on - r * cols
    with np.errstate(divide="ignore", invalid="ignore"):
        cr = np.bincount(ids, weights=r, minlength=n + 1)[: n + 1] / cnt
        cc = np.bincount(ids, weights=c, minlength=n + 1)[: n + 1] / cnt
    cent = np.column_stack([cr * f + (f - 1) / 2.0, cc * f + (f - 1) / 2.0])
    solidity = np.ones(n + 1)
    # Boundary cells only (a cell with a 4-neighbour of another label, or on the image
    # edge) carry the hull; tested at the labelled cells only.
    flat = lab.ravel()
    rows = lab.shape[0]
    inner = (r > 0) & (r < rows - 1) & (c > 0) & (c < cols - 1)
    ii = on[inner]
    iid = ids[inner]
    inner[inner] = ((flat[ii - 1] == iid) & (flat[ii + 1] == iid) & (flat[ii - cols] == iid)
                    & (flat[ii + cols] == iid))
    b = on[~inner]
    bid = ids[~inner]
    order = np.argsort(bid, kind="stable")
    b, bid = b[order], bid[order]
    br = b // cols
    bc = b - br * cols
    starts = np.searchsorted(bid, np.arange(n + 2))
    need = np.diff(starts)[1:] >= 3  # labels 1..n with a non-degenerate point set
    if min_solidity is not None and need.any():
        sure = _octagon_solidity_bound(br, bc, bid, starts, cnt) >= min_solidity
        solidity[1:][need & sure] = min_solidity
        need &= ~sure
    for i in np.flatnonzero(need) + 1:
        s0, s1 = starts[i], starts[i + 1]
        try:
            hull = ConvexHull(np.column_stack([br[s0:s1], bc[s0:s1]]).astype(float))
        except QhullError:  # cells on one line: degenerate hull, convex
            continue
        # Hull of the cell centres grown by half a cell (Minkowski sum with a disc of
        # radius 1/2: area + perimeter / 2 + pi / 4), which a digitised disc fills.
        hull_area = hull.volume + 0.5 * hull.area + np.pi / 4.0
        solidity[i] = min(1.0, cnt[i] / hull_area)
    return cent, solidity, cnt


def _octagon_solidity_bound(br, bc, bid, starts, cnt) -> np.ndarray:
    """Per label 1..n: ``cnt / area`` of the bounding octagon of its boundary cells'
    centres (extremes of r, c, r + c and r - c) grown by half a cell, a lower bound of
    the hull solidity of :func:`_centroids_solidity` (the octagon contains the hull).

    The octagon is the bounding box less four corner triangles; the cut at a corner
    is set by the extreme of r + c or r - c there, and two cuts along one side never
    overlap (the extreme point on that side lies between them), so the area is
    ``W H - sum(t^2) / 2`` and the perimeter ``2 (W + H) - (2 - sqrt 2) sum(t)``.
    Labels with fewer than 3 boundary cells get 0.
    """
    n = starts.size - 2
    out = np.zeros(n)
    has = np.diff(starts)[1:] > 0
    if not has.any():
        return out
    seg = starts[1:-1][has]
    s = br + bc
    d = br - bc
    r0, r1 = np.minimum.reduceat(br, seg), np.maximum.reduceat(br, seg)
    c0, c1 = np.minimum.reduceat(bc, seg), np.maximum.reduceat(bc, seg)
    s0, s1 = np.minimum.reduceat(s, seg), np.maximum.reduceat(s, seg)
    d0, d1 = np.minimum.reduceat(d, seg), np.maximum.reduceat(d, seg)
    h = (r1 - r0).astype(float)
    w = (c1 - c0).astype(float)
    t = np.stack([s0 - (r0 + c0), (r1 + c1) - s1, d0 - (r0 - c1), (r1 - c0) - d1]).astype(float)
    area = w * h - 0.5 * np.square(t).sum(axis=0)
    perim = 2.0 * (w + h) - (2.0 - np.sqrt(2.0)) * t.sum(axis=0)
    grown = area + 0.5 * perim + np.pi / 4.0
    out[has] = cnt[1:][has] / grown
    return out


@dataclass(frozen=True)
class SelectionOptions:
    """Which nuclei are counted (:func:`select_nuclei_stage`).

    Attributes
    ----------
    min_area_um2, max_area_um2 : float
        Plausible nucleus area range, µm². Nuclei above ``max_area_um2`` or above
        ``OVERSIZE_FACTOR`` x the field's median area are overlapping/merged.
    min_solidity : float
        Area / convex-hull area below which a nucleus is an overlap (0-1).
    focus_min_ratio : float
        A nucleus whose focus score is below this fraction of the field's median is
        ``out_of_focus`` (0-1).
    """

    min_area_um2: float = 15.0
    max_area_um2: float = 250.0
    min_solidity: float = 0.9
    focus_min_ratio: float = 0.4


@dataclass(frozen=True)
class NucleusSelection:
    """The result of :func:`select_nuclei_stage`.

    Attributes
    ----------
    nuclei : tuple of NucleusRecord
        Every segmented nucleus, in id order, counted or with its exclusion reason.
    median_focus : float or None
        Median focus score of the whole nuclei of plausible size (None under 3).
    median_area_um2 : float or None
        Their median area, µm² (None under 5).
    """

    nuclei: tuple[NucleusRecord, ...]
    median_focus: float | None
    median_area_um2: float | None


def select_nuclei_stage(
    nuclear: np.ndarray,
    geometry: NucleusGeometry,
    signals: SignalsStage,
    *,
    pixel_size_um: float,
    options: SelectionOptions,
    roi_mask: np.ndarray | None = None,
    focus_on_grid: bool = False,
) -> NucleusSelection:
    """Stage 3 of the ISH counter: each nucleus counted or excluded, as a technologist would.

    A nucleus is counted only when it is whole (not cut by the image edge), inside the
    ROI, of plausible size, not an overlap/merge (too large or not convex), in focus,
    and, for dual-probe assays, with at least one CEP17 signal. The first failing
    reason of :data:`EXCLUSION_REASONS` is recorded.

    Parameters
    ----------
    nuclear : (rows, cols) ndarray
        DAPI or hematoxylin amount (for the focus score).
    geometry : NucleusGeometry
    signals : SignalsStage
        The probes' signals (per-nucleus counts and clusters).
    pixel_size_um : float
        µm per pixel.
    options : SelectionOptions
    roi_mask : (rows, cols) bool ndarray, optional
        Invasive tumour; a nucleus less than half inside is ``outside_roi``.
    focus_on_grid : bool, optional
        Measure focus on the segmentation's block means (FISH, when segmented here).

    Returns
    -------
    NucleusSelection
    """
    geo, o = geometry, options
    labels = geo.labels
    n = int(labels.max())
    her2, cep17 = signals.her2, signals.cep17
    h_cnt, h_ncl, h_cp = _per_nucleus(her2, n)
    c_cnt = _per_nucleus(cep17, n)[0] if cep17 is not None else np.zeros(n + 1, int)
    cent, solidity, fine_px = _centroids_solidity(geo, n, min_solidity=o.min_solidity)
    if geo.fine_factor == 1:  # the outline grid is the full resolution: same counts
        areas = fine_px * pixel_size_um * pixel_size_um
    else:
        on = np.flatnonzero(labels)
        areas = (np.bincount(labels.ravel()[on], minlength=n + 1)[: n + 1]
                 * pixel_size_um * pixel_size_um)
    present = np.flatnonzero(areas > 0)
    present = present[present > 0]
    edge = np.zeros(n + 1, bool)
    edge[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = True
    focus = _focus_scores(nuclear, geo, n, pixel_size_um, grid=geo.grid if focus_on_grid else None)
    in_roi = None
    if roi_mask is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            in_roi = np.bincount(labels.ravel(), weights=roi_mask.ravel(), minlength=n + 1)[
                : n + 1] / (areas / (pixel_size_um * pixel_size_um))
    interior_ok = [i for i in present if not edge[i] and areas[i] >= o.min_area_um2]
    med_area = float(np.median(areas[interior_ok])) if len(interior_ok) >= 5 else None
    f_ok = focus[interior_ok] if interior_ok else np.array([])
    f_ok = f_ok[np.isfinite(f_ok)]
    med_focus = float(np.median(f_ok)) if f_ok.size >= 3 else None
    records = []
    for i in present:
        i = int(i)
        if edge[i]:
            reason = "touches_image_edge"
        elif in_roi is not None and in_roi[i] < 0.5:
            reason = "outside_roi"
        else:
            reason = _shape_focus_signal_reason(
                areas[i], solidity[i], focus[i], c_cnt[i] if cep17 is not None else None,
                med_area=med_area, med_focus=med_focus, options=o)
        r, c = cent[i]
        records.append(NucleusRecord(
            i, float(r), float(c), float(areas[i]), int(h_cnt[i]), int(c_cnt[i]),
            int(h_ncl[i]), int(h_cp[i]), reason == "", reason,
            float(focus[i]) if np.isfinite(focus[i]) else 0.0,
        ))
    return NucleusSelection(tuple(records), med_focus, med_area)


def _shape_focus_signal_reason(area, solidity, focus, cep17, *, med_area, med_focus,
                               options: SelectionOptions) -> str:
    """The exclusion reason of a whole nucleus inside the ROI (``""`` = counted)."""
    if area < options.min_area_um2:
        return "too_small"
    if (
        area > options.max_area_um2
        or (med_area is not None and area > OVERSIZE_FACTOR * med_area)
        or solidity < options.min_solidity
    ):
        return "oversized_or_overlapping"
    if med_focus is not None and not focus >= options.focus_min_ratio * med_focus:
        return "out_of_focus"
    if cep17 is not None and cep17 == 0:
        return "no_cep17_signal"
    return ""

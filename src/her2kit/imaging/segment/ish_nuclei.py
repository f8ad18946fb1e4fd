"""Nuclei of ISH images: DAPI (FISH) or the hematoxylin amount (brightfield ISH).

The nuclear stain is smoothed, thresholded (Otsu, or a fraction of it), holes filled,
and touching nuclei split by a watershed on the distance transform seeded at its
h-maxima. It runs on block means of ~0.4 µm (:data:`GEOMETRY_GRID_UM`); FISH outlines
are then redrawn at ~0.4 µm and the labels repeated back to full resolution.
Brightfield nuclei are segmented after a median that removes the chromogen dots and a
local background subtraction, at a threshold below Otsu's, and split at the valleys of
the amount (:class:`SegmentationOptions`).

:func:`segment_ish_nuclei` returns a :class:`~her2kit.imaging.segment.nuclei.NucleusDetection`,
the result type of the IHC segmenter too. :func:`segment_nuclei_stage` is the counting
stage: its :class:`NucleusGeometry` (not exported) also keeps the coarse and fine grids
that signal assignment and nucleus selection measure on.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.segmentation import watershed

from her2kit.errors import ImageInputError
from her2kit.imaging._validate import check_choice, check_pixel_size, check_positive
from her2kit.imaging.filters import block_factor, block_mean, smooth, upsample_labels
from her2kit.imaging.segment._packed import (
    _box_size,
    _edt_packed,
    _fill_holes,
    _grey_opening,
    _h_maxima_packed,
    _odd,
    _pad_to,
    _resample,
    _shelf,
    _smooth_boxes,
)
from her2kit.imaging.segment.nuclei import NUCLEAR_IMAGE_KINDS, NucleusDetection

__all__ = [
    "GEOMETRY_GRID_UM",
    "SegmentationOptions",
    "segment_ish_nuclei",
    "segment_nuclei_stage",
]

#: Nuclei are segmented on a grid of block means about this fine (µm). 0.8 µm was faster
#: but merged touching nuclei on the real FISH photographs (FISH1–5 counted 28/16/21/44/50
#: nuclei at 0.8 µm, 38/19/27/49/55 at 0.4 µm, 39/20/30/49/59 at full resolution, at
#: 0.5/0.6/0.3 s, 0.65/0.6/0.3 s and 2.7/2.6/0.8 s per image): 0.4 µm keeps the nuclei at
#: nearly the speed of 0.8 µm.
GEOMETRY_GRID_UM = 0.4

#: Joined-pair split (:func:`_split_joined`): both concavities at least this deep, µm
#: (the staircase outline of a 0.4 µm grid makes dents of ~0.4-0.55 µm; 0.5-0.75 the
#: same on FISH1/FISH2, 0.9 lost three splits) ...
JOINED_MIN_DEPTH_UM = 0.6
#: ... the cut no longer than this x the smaller piece's equivalent diameter: the
#: hand-counted pairs of FISH2 overlap with necks of 1.0-1.4 (1.2: two of them stay
#: joined; 1.4 and 1.6 the same on FISH1/FISH2) ...
JOINED_MAX_NECK = 1.5
#: ... and each piece at least this fraction of the field's median nucleus area.
JOINED_MIN_PIECE = 0.35


def _grid_factor(pixel_size_um: float, grid_um: float | None) -> int:
    return 1 if grid_um is None else block_factor(pixel_size_um, grid_um)


@dataclass(frozen=True, eq=False)
class NucleusGeometry:
    """Nuclei on the segmentation grid (``factor`` px blocks) and at full resolution.

    The result of :func:`segment_nuclei_stage`, internal to the ISH counter (the public
    result of a segmenter is :class:`~her2kit.imaging.segment.nuclei.NucleusDetection`);
    the selection measures areas, convexity and focus on its grids.
    """

    labels: np.ndarray  # full resolution, int32
    coarse: np.ndarray  # grid labels, int32
    factor: int
    edge_dist: np.ndarray  # grid: distance (grid px) from a nucleus pixel to background
    threshold: float
    fine: np.ndarray  # labels on the (finer) outline grid, int32
    fine_factor: int
    grid: np.ndarray | None = None  # block means of the segmented image (``factor``)
    boxes: tuple | None = None  # grid boxes (slices) of the nuclei's connected regions
    joined_splits: int = 0  # joined pairs cut in two (:func:`_split_joined`)


@dataclass(frozen=True)
class SegmentationOptions:
    """How ISH nuclei are segmented (:func:`segment_nuclei_stage`).

    Attributes
    ----------
    min_area_um2 : float
        Objects under half this area are dropped as debris, µm².
    smooth_um : float
        Gaussian smoothing s.d. before thresholding, µm (removes chromatin texture).
    split_h_um : float
        Minimum height, µm, of a distance-transform peak over the saddle to its
        neighbour for two touching nuclei to be split.
    grid_um : float or None
        Segment on block means about this coarse, µm per grid pixel; None = full
        resolution.
    despeckle_um : float
        Width of a median filter on the grid, µm (0 = off): removes chromogen dots
        narrower than half of it.
    background_um : float
        Width of the local background (a grey opening smoothed by a mean as wide)
        subtracted before thresholding, µm (0 = off).
    threshold_factor : float
        Foreground threshold = this x Otsu's threshold (unitless).
    core_fraction : float
        Split touching nuclei at the valleys of the amount: cores above this fraction
        of the local maximum seed the watershed (0-1; 0 = by shape only).
    core_window_um : float
        Width of that local maximum filter, µm (about one nucleus diameter).
    closing_um : float
        Width of a grey closing applied to the image first, µm (0 = off): fills the
        holes chromogen dots leave in the hematoxylin amount.
    core_below_solidity : float or None
        Split at the valleys (``core_fraction``) only the foreground regions less
        solid than this (area / convex-hull area): a convex region is one nucleus
        and keeps its shape split. None = every region (brightfield).
    joined_factor : float
        A nucleus larger than this x the field's median nucleus area and less solid
        than ``joined_below_solidity`` is cut in two when its distance transform has
        two nucleus-sized peaks (0 = off; :func:`_split_joined`).
    joined_below_solidity : float
        That solidity bound (0-1).
    """

    min_area_um2: float = 15.0
    smooth_um: float = 0.5
    split_h_um: float = 0.5
    grid_um: float | None = GEOMETRY_GRID_UM
    despeckle_um: float = 0.0
    background_um: float = 0.0
    threshold_factor: float = 1.0
    core_fraction: float = 0.0
    core_window_um: float = 9.0
    closing_um: float = 0.0
    core_below_solidity: float | None = None
    joined_factor: float = 0.0
    joined_below_solidity: float = 0.95


def _segment(image, *, pixel_size_um, smooth_um, min_area_um2, split_h_um, threshold,
             grid_um=GEOMETRY_GRID_UM, despeckle_um=0.0, background_um=0.0,
             threshold_factor=1.0, core_fraction=0.0, core_window_um=9.0,
             core_below_solidity=None, joined_factor=0.0,
             joined_below_solidity=0.95) -> NucleusGeometry:
    """Nuclei of ``image`` (see :func:`segment_ish_nuclei`).

    ``despeckle_um`` (µm, 0 = off): a median filter this wide on the grid first, which
    removes chromogen dots narrower than half of it. ``background_um`` (µm, 0 = off):
    then subtract the local background, a grey opening this wide smoothed by a mean
    as wide. ``threshold_factor`` multiplies the Otsu threshold. With either filter
    on, outlines stay on the segmentation grid (not redrawn at full resolution,
    which has neither filter).

    ``core_fraction`` (0 = off): touching nuclei are split at the valleys of the
    amount instead of by shape alone. Each nucleus's core is where the smoothed
    amount exceeds this fraction of its local maximum (a max filter
    ``core_window_um`` wide, about one nucleus diameter, so that every pixel of a
    nucleus sees its own peak); the cores, split further by shape where they still
    touch, seed a watershed of the amount inside the foreground mask, so the
    outlines keep the (lower) global threshold's extent.
    """
    full = np.asarray(image, np.float32)
    f = _grid_factor(pixel_size_um, grid_um)
    pg = f * pixel_size_um  # µm per grid px
    grid = block_mean(full, f)
    seg = grid
    filtered = despeckle_um > 0 or background_um > 0
    if despeckle_um > 0:
        seg = ndi.median_filter(seg, size=_odd(despeckle_um / pg))
    if background_um > 0:
        k = _odd(background_um / pg)
        seg = seg - ndi.uniform_filter(_grey_opening(seg, k), k)
    # A block mean already smooths by ~f/sqrt(12) px; smooth by the rest of smooth_um.
    rest = np.sqrt(max(0.0, smooth_um**2 - (f * f - 1) / 12.0 * pixel_size_um * pixel_size_um)) / pg
    sm = smooth(seg, rest)

    def empty(thr):
        z = np.zeros(grid.shape, np.int32)
        return NucleusGeometry(upsample_labels(z, f, full.shape), z, f, np.zeros(grid.shape,
                         np.float32), thr, z, f)

    if float(sm.max()) == float(sm.min()):
        return empty(float("nan"))
    thr = (float(threshold_otsu(sm)) * threshold_factor if threshold is None
           else float(threshold))
    mask = _fill_holes(sm > thr)
    lab, n = ndi.label(mask)
    if n == 0:
        return empty(thr)
    # Counted over the mask's pixels only: a bincount over the whole label image
    # (mostly zeros, cast to intp) costs several times more. sizes[0] is unused.
    sizes = np.bincount(lab[mask], minlength=n + 1)
    small = sizes < 0.5 * min_area_um2 / pg**2  # debris; too_small nuclei are kept & excluded
    small[0] = False
    mask &= ~small[lab]
    # Per-object work runs on the objects' boxes packed together (exact; see helpers).
    boxes = [None if small[k] else bx for k, bx in enumerate(ndi.find_objects(lab), start=1)]
    edge_dist = _edt_packed(lab, boxes)
    # Smoothed by 0.5 µm, but at least one grid pixel: on a coarse grid the staircase
    # outline makes the distance noisy by ~half a grid pixel, the size of split_h.
    s_dist = max(0.5 / pg, 1.0) if f > 1 else 0.5 / pg
    # 0 outside the nuclei's boxes grown by the filter's reach (exactly, as a
    # Gaussian of zeros), so smoothed there only.
    reach = (int(4.0 * s_dist + 0.5) if s_dist >= 0.95 else 1) + 1
    dist = _smooth_boxes(edge_dist, s_dist, [
        (slice(max(bx[0].start - reach, 0), min(bx[0].stop + reach, mask.shape[0])),
         slice(max(bx[1].start - reach, 0), min(bx[1].stop + reach, mask.shape[1])))
        for bx in boxes if bx is not None])
    # h-maxima: one seed per region whose distance peak rises split_h above the
    # saddle to its neighbour: touching round nuclei split, a single ellipse does not.
    # Taken inside the mask only (the smoothed distance leaks past the outline): each
    # foreground region is its own landscape, as the watershed below uses it, and the
    # packed h-maxima then runs once; with the leak, the low split height (0.25 µm)
    # failed _h_maxima_packed's shortcut and it ran twice (+35 % count_fish CPU).
    # Same labels on FISH1/FISH2 and the ish_speed fields (issue 11).
    seeds, _ = ndi.label(_h_maxima_packed(np.where(mask, dist, 0), split_h_um / pg))
    labels = _watershed_labels(sm, mask, lab, boxes, dist, seeds, pg=pg, s_dist=s_dist,
                               split_h_um=split_h_um, core_fraction=core_fraction,
                               core_window_um=core_window_um,
                               core_below_solidity=core_below_solidity)
    n_split = 0
    if joined_factor > 0:
        before = int(labels.max())
        labels = _split_joined(labels, pg=pg, min_area_um2=min_area_um2,
                               factor=joined_factor, below_solidity=joined_below_solidity)
        n_split = int(labels.max()) - before
    if filtered:
        fine, ff = labels, f
    else:
        fine, ff = _refine_outlines(full, labels, edge_dist, f=f, pixel_size_um=pixel_size_um,
                                    smooth_um=smooth_um,
                                    threshold=thr, boxes=[bx for bx in boxes if bx is not None])
    # At ff == 1 the outline grid is the full resolution: share the array (no copy).
    full_labels = fine if fine.shape == full.shape else upsample_labels(fine, ff, full.shape)
    return NucleusGeometry(full_labels, labels, f, edge_dist, thr, fine, ff,
                     grid, tuple(bx for bx in boxes if bx is not None), n_split)


def _watershed_labels(sm, mask, lab, boxes, dist, seeds, *, pg, s_dist, split_h_um,
                      core_fraction, core_window_um, core_below_solidity) -> np.ndarray:
    """The grid labels of :func:`_segment`: a watershed of the distance from the shape
    seeds, or of the amount from the valley cores (``core_fraction``)."""
    if core_fraction > 0 and core_below_solidity is not None:
        # Only the concave regions are split at valleys, each in its own box: the
        # convex ones keep the shape split, and the work stays near those few.
        labels = watershed(-dist, seeds, mask=mask).astype(np.int32)
        labels = _split_concave_at_valleys(
            labels, sm, lab, boxes, _concave_regions(lab, boxes, core_below_solidity),
            seeds, fraction=core_fraction, window=_odd(core_window_um / pg), s_dist=s_dist,
            h=split_h_um / pg)
    elif core_fraction > 0:
        seeds = _core_seeds(sm, mask, lab, seeds, fraction=core_fraction,
                            window=_odd(core_window_um / pg), s_dist=s_dist,
                            h=split_h_um / pg)
        labels = watershed(-sm, seeds, mask=mask).astype(np.int32)
    else:
        labels = watershed(-dist, seeds, mask=mask).astype(np.int32)
    return labels


def _split_joined(labels, *, pg, min_area_um2, factor, below_solidity) -> np.ndarray:
    """``labels`` (grid) with each joined pair cut in two, as a technologist splits
    touching nuclei.

    A label is a candidate when its area exceeds ``factor`` x the field's median
    nucleus area (labels of at least ``min_area_um2``) and its solidity is below
    ``below_solidity``: two nuclei side by side, joined by a neck too wide for the
    distance transform to have two peaks (so neither the shape split nor the valley
    split cut it; FISH1/FISH2 of the hand reference). It is cut along the line between
    the apexes of its two deepest concavities (the deepest points of the convex hull
    minus the region) when both are at least ``JOINED_MIN_DEPTH_UM`` deep, the cut is
    shorter than ``JOINED_MAX_NECK`` x the smaller piece's diameter, and each piece
    holds at least ``JOINED_MIN_PIECE`` of the median area.
    """
    from skimage.draw import line
    from skimage.morphology import convex_hull_image

    n = int(labels.max())
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    ok = areas[1:] >= min_area_um2 / pg**2
    if ok.sum() < 5:
        return labels
    med = float(np.median(areas[1:][ok]))
    big = set(np.flatnonzero(areas > factor * med).tolist()) - {0}
    if not big:
        return labels
    found = ndi.find_objects(labels)
    concave = _concave_regions(labels, [found[k - 1] if k in big else None
                                        for k in range(1, n + 1)], below_solidity)
    out, nxt = labels, n + 1
    for k in sorted(big):
        if not concave[k]:
            continue
        bx = tuple(slice(max(b.start - 1, 0), b.stop + 1) for b in found[k - 1])
        m = labels[bx] == k
        hull = convex_hull_image(m)
        dl, nd = ndi.label(hull & ~m)
        if nd < 2:
            continue
        depth = ndi.distance_transform_edt(hull)
        idx = np.arange(1, nd + 1)
        dmax = np.asarray(ndi.maximum(depth, dl, idx))
        two = np.argsort(-dmax)[:2]
        if dmax[two[1]] < JOINED_MIN_DEPTH_UM / pg:
            continue
        (r0, c0), (r1, c1) = (ndi.maximum_position(depth, dl, idx[j]) for j in two)
        cut = np.zeros(m.shape, bool)
        cut[line(int(r0), int(c0), int(r1), int(c1))] = True
        pieces, npc = ndi.label(m & ~cut)
        if npc < 2:
            continue
        sizes = np.bincount(pieces.ravel())[1:]
        first, second = np.argsort(-sizes)[:2] + 1
        small = min(sizes[first - 1], sizes[second - 1])
        neck = np.hypot(r1 - r0, c1 - c0)
        if small < JOINED_MIN_PIECE * med or neck > JOINED_MAX_NECK * 2 * np.sqrt(small / np.pi):
            continue
        # The cut line and crumbs go to the nearer piece (a watershed of the distance
        # to the background from the two pieces).
        markers = np.where(np.isin(pieces, (first, second)), pieces, 0)
        sub = watershed(-ndi.distance_transform_edt(m), markers, mask=m)
        view = out[bx]
        view[sub == second] = nxt
        nxt += 1
    return out

def _split_concave_at_valleys(labels, sm, lab, boxes, concave, shape_seeds, *, fraction,
                              window, s_dist, h) -> np.ndarray:
    """``labels`` with each concave foreground region re-split by :func:`_core_seeds`
    and a watershed of the amount, computed in the region's box (grown by half the
    maximum filter's window, so that the filter sees the same neighbourhood)."""
    out = labels
    nxt = int(labels.max()) + 1
    pad = window // 2 + 1
    for k in np.flatnonzero(concave):
        bx = boxes[k - 1]
        big = tuple(slice(max(b.start - pad, 0), min(b.stop + pad, n))
                    for b, n in zip(bx, lab.shape, strict=True))
        region = lab[big] == k
        sub_sm = sm[big]
        seeds = _core_seeds(sub_sm, region, region.astype(np.int32),
                            np.where(region, shape_seeds[big], 0), fraction=fraction,
                            window=window, s_dist=s_dist, h=h)
        sub = watershed(-sub_sm, seeds, mask=region).astype(np.int32)
        ids = np.unique(sub[sub > 0])
        relabel = np.zeros(int(sub.max()) + 1, np.int32)
        relabel[ids] = np.arange(nxt, nxt + ids.size, dtype=np.int32)
        nxt += ids.size
        view = out[big]
        view[region] = relabel[sub[region]]
    # Consecutive labels again (the re-split regions' old labels are gone).
    present = np.bincount(out.ravel(), minlength=nxt) > 0
    present[0] = False
    lut = np.zeros(present.size, np.int32)
    lut[present] = np.arange(1, int(present.sum()) + 1, dtype=np.int32)
    return lut[out]


def _concave_regions(lab: np.ndarray, boxes, below: float) -> np.ndarray:
    """Per label of ``lab`` (index 0 = background, False): solidity below ``below``.

    Solidity = area / hull area of the cells' centres grown by half a cell (as the
    nucleus selection measures it), so that a digitised disc has ~1.
    """
    from scipy.spatial import ConvexHull, QhullError

    out = np.zeros(len(boxes) + 1, bool)
    for k, bx in enumerate(boxes, start=1):
        if bx is None:
            continue
        pts = np.argwhere(lab[bx] == k).astype(float)
        try:
            hull = ConvexHull(pts)
        except QhullError:  # cells on one line: convex
            continue
        out[k] = len(pts) / (hull.volume + 0.5 * hull.area + np.pi / 4.0) < below
    return out


def _core_seeds(sm, mask, lab, shape_seeds, *, fraction, window, s_dist, h) -> np.ndarray:
    """Watershed markers (labelled cores) for :func:`_segment`'s ``core_fraction``.

    A blurred nucleus's edge lies near half its own height above the background,
    whatever that height is; a global threshold low enough for pale nuclei bridges
    the shallow valleys between dark touching ones. Thresholding each pixel against
    ``fraction`` of the largest amount within ``window`` (a nucleus diameter) cuts
    those bridges. Cores that still touch are split like the full mask (h-maxima of
    their smoothed distance transform); a foreground region left without a core
    (a pale nucleus beside a dark one) keeps its shape seeds, so no region loses
    its nucleus.
    """
    core = mask & (sm > fraction * ndi.maximum_filter(sm, size=window))
    cd = smooth(ndi.distance_transform_edt(core).astype(np.float32), s_dist)
    cd[~core] = 0
    cseeds, _ = ndi.label(_h_maxima_packed(cd, h) & core)
    cores = watershed(-cd, cseeds, mask=core)
    has_core = np.zeros(int(lab.max()) + 1, bool)
    has_core[lab[cores > 0]] = True
    orphan = (shape_seeds > 0) & ~has_core[lab]
    out = cores.astype(np.int32)
    extra, _ = ndi.label(orphan)
    out[orphan] = extra[orphan] + int(out.max())
    return out


def _refine_outlines(full, labels, edge_dist, *, f, pixel_size_um, smooth_um, threshold,
                     boxes=None):
    """Outlines redrawn on a grid twice as fine (when ``f`` is even): in the outermost
    ring of grid cells only the fine cells above the threshold stay, and fine cells
    above it just outside take their neighbour's label. Areas and convexity are then
    measured to ~0.4 µm instead of the segmentation grid's ~0.8 µm."""
    if f % 2 or f < 2:
        return labels, f
    ff = f // 2
    grid = full if ff == 1 else block_mean(full, ff)
    rest = (np.sqrt(max(0.0, smooth_um**2 - (ff * ff - 1) / 12.0 * pixel_size_um * pixel_size_um))
            / (ff * pixel_size_um))
    if boxes is None:
        fg = smooth(grid, rest) > threshold
        return _refine_step(_resample(labels, f, ff, full.shape),
                            _resample(edge_dist > 1.0, f, ff, full.shape), fg), ff
    # Only the fine cells within one cell of a nucleus change or are read: the nuclei's
    # boxes (``f // ff`` = 2 fine cells per grid cell) with two cells around them are
    # packed (a zero between them, as the image edge has) and refined at once; the
    # cells of each box and one around it are exact and copied back.
    rows, cols = grid.shape
    cb = [
        (slice(max(2 * b[0].start - 2, 0), min(2 * b[0].stop + 2, rows)),
         slice(max(2 * b[1].start - 2, 0), min(2 * b[1].stop + 2, cols)))
        for b in boxes
    ]
    out = np.zeros(grid.shape, np.int32)
    if not cb:
        return out, ff
    sm = _smooth_boxes(grid, rest, cb)
    place, shape = _shelf([_box_size(b) for b in cb], 1)
    c_lab = np.zeros(shape, np.int32)
    c_big = np.zeros(shape, bool)
    c_fg = np.zeros(shape, bool)
    big = edge_dist > 1.0
    dst = []
    for b, (py, px_) in zip(cb, place, strict=True):
        ri = np.minimum((np.arange(b[0].start, b[0].stop) * ff + ff // 2) // f, labels.shape[0] - 1)
        ci = np.minimum((np.arange(b[1].start, b[1].stop) * ff + ff // 2) // f, labels.shape[1] - 1)
        d = (slice(py, py + ri.size), slice(px_, px_ + ci.size))
        ix = np.ix_(ri, ci)
        c_lab[d] = labels[ix]
        c_big[d] = big[ix]
        c_fg[d] = sm[b] > threshold
        dst.append(d)
    res = _refine_step(c_lab, c_big, c_fg)
    for b, d in zip(cb, dst, strict=True):
        t0 = 1 if b[0].start > 0 else 0
        l0 = 1 if b[1].start > 0 else 0
        t1 = 1 if b[0].stop < rows else 0
        l1 = 1 if b[1].stop < cols else 0
        src = res[d][t0 : res[d].shape[0] - t1, l0 : res[d].shape[1] - l1]
        tgt = out[b[0].start + t0 : b[0].stop - t1, b[1].start + l0 : b[1].stop - l1]
        np.copyto(tgt, src, where=src > 0)
    return out, ff


def _refine_step(lab: np.ndarray, big: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """Fine labels: kept where the grid cell is deep inside (``big``) or the fine cell
    is foreground, and foreground cells next to a label take the largest neighbour."""
    lab = np.where(big | fg, lab, 0)
    nb = np.zeros_like(lab)
    np.maximum(nb[1:], lab[:-1], out=nb[1:])
    np.maximum(nb[:-1], lab[1:], out=nb[:-1])
    np.maximum(nb[:, 1:], lab[:, :-1], out=nb[:, 1:])
    np.maximum(nb[:, :-1], lab[:, 1:], out=nb[:, :-1])
    grow = fg & (lab == 0)
    lab[grow] = nb[grow]
    return lab


def _geometry_from_labels(labels: np.ndarray, pixel_size_um: float) -> NucleusGeometry:
    """A user's full-resolution labels, with their segmentation-grid version."""
    f = _grid_factor(pixel_size_um, GEOMETRY_GRID_UM)
    coarse = np.ascontiguousarray(labels[f // 2 :: f, f // 2 :: f]) if f > 1 else labels
    coarse = _pad_to(coarse, (-(-labels.shape[0] // f), -(-labels.shape[1] // f)))
    edge_dist = ndi.distance_transform_edt(coarse > 0).astype(np.float32)
    return NucleusGeometry(labels, coarse, f, edge_dist, float("nan"), labels, 1)


def segment_ish_nuclei(
    image: np.ndarray,
    *,
    pixel_size_um: float,
    smooth_um: float = 0.5,
    min_area_um2: float = 15.0,
    split_h_um: float = 0.5,
    threshold: float | None = None,
    grid_um: float | None = GEOMETRY_GRID_UM,
    image_kind: str = "dapi_intensity",
) -> NucleusDetection:
    """Segment nuclei on DAPI (FISH) or hematoxylin amount (brightfield ISH).

    Parameters
    ----------
    image : (rows, cols) ndarray
        Nuclear stain, bright nuclei on a dark background (DAPI intensity, or the
        hematoxylin amount from :func:`~her2kit.imaging.color.ish.separate_ish_stains`).
    pixel_size_um : float
        µm per pixel.
    smooth_um : float, optional
        Gaussian smoothing s.d. before thresholding, µm (removes chromatin texture).
    min_area_um2 : float, optional
        Objects under half this area are dropped as debris, µm².
    split_h_um : float, optional
        Minimum height, µm, of a distance-transform peak over the saddle to its
        neighbour for two touching nuclei to be split.
    threshold : float, optional
        Fixed foreground threshold on the smoothed image; Otsu when None.
    grid_um : float or None, optional
        Segment on block means about this coarse (µm per grid pixel, an integer
        number of pixels per block; :func:`~her2kit.imaging.filters.block_factor`)
        and repeat the labels back to full resolution; None segments at full
        resolution. Outlines are then exact to about half a grid pixel.
    image_kind : {"dapi_intensity", "hematoxylin_od"}, optional
        What ``image`` is (recorded in the result; the algorithm is the same).

    Returns
    -------
    NucleusDetection
        ``labels`` (int32, full resolution, 0 = background) with ids 1..``n_nuclei``
        (an id can be left empty when the outlines are redrawn on the finer grid: its
        area is then 0); ``threshold`` on the smoothed image in its units (NaN for a
        flat image), ``threshold_source`` ``"otsu"`` or ``"given"``,
        ``nucleus_diameter_um`` None (nuclei are split by shape, not by a diameter);
        ``parameters`` the settings above and the grid's block size ``grid_factor``.
    """
    pixel_size_um = check_pixel_size(pixel_size_um)
    if grid_um is not None:
        check_positive(grid_um, name="grid_um", unit="µm")
    check_choice(image_kind, NUCLEAR_IMAGE_KINDS, name="image_kind")
    geo = _segment(
        image,
        pixel_size_um=pixel_size_um,
        smooth_um=smooth_um,
        min_area_um2=min_area_um2,
        split_h_um=split_h_um,
        threshold=threshold,
        grid_um=grid_um,
    )
    return NucleusDetection(
        labels=geo.labels,
        n_nuclei=int(geo.labels.max()),
        threshold=geo.threshold,
        threshold_source="otsu" if threshold is None else "given",
        pixel_size_um=pixel_size_um,
        nucleus_diameter_um=None,
        image_kind=image_kind,
        parameters=MappingProxyType({
            "smooth_um": smooth_um, "min_area_um2": min_area_um2, "split_h_um": split_h_um,
            "grid_um": grid_um, "grid_factor": geo.factor}),
    )


def segment_nuclei_stage(
    nuclear: np.ndarray,
    *,
    pixel_size_um: float,
    options: SegmentationOptions,
    nuclei_labels: np.ndarray | None = None,
) -> NucleusGeometry:
    """Stage 1 of the ISH counter: the nuclei, on the segmentation grid and at full size.

    Parameters
    ----------
    nuclear : (rows, cols) ndarray
        DAPI intensity or hematoxylin amount (OD), bright nuclei on a dark background.
    pixel_size_um : float
        µm per pixel (checked by the caller).
    options : SegmentationOptions
    nuclei_labels : (rows, cols) int ndarray, optional
        The user's nuclei instead of a segmentation.

    Returns
    -------
    NucleusGeometry
        ``threshold`` is NaN for user labels.

    Raises
    ------
    ImageInputError
        ``nuclei_labels`` not integer or of another shape than ``nuclear``.
    """
    if nuclei_labels is not None:
        labels = np.asarray(nuclei_labels)
        if labels.shape != nuclear.shape or labels.dtype.kind not in "ui":
            raise ImageInputError(
                f"expected integer labels of shape {nuclear.shape}", field="nuclei_labels"
            )
        return _geometry_from_labels(labels.astype(np.int32), pixel_size_um)
    seg_image = nuclear
    if options.closing_um > 0:
        # Chromogen dots over a nucleus leave dark-stain holes (or bumps) in the
        # hematoxylin amount; a grey closing a little wider than a dot fills
        # them so that dotted nuclei stay whole and convex.
        seg_image = ndi.grey_closing(np.asarray(nuclear, np.float32),
                                     size=_odd(options.closing_um / pixel_size_um))
    o = options
    return _segment(seg_image, pixel_size_um=pixel_size_um, min_area_um2=o.min_area_um2,
                    threshold=None,
                    smooth_um=o.smooth_um, split_h_um=o.split_h_um, grid_um=o.grid_um,
                    despeckle_um=o.despeckle_um, background_um=o.background_um,
                    threshold_factor=o.threshold_factor, core_fraction=o.core_fraction,
                    core_window_um=o.core_window_um, core_below_solidity=o.core_below_solidity,
                    joined_factor=o.joined_factor, joined_below_solidity=o.joined_below_solidity)

"""Per-nucleus HER2 / CEP17 signal counting for FISH, Dual ISH and single-probe CISH images.

Pipeline (:func:`count_fish`, :func:`count_brightfield_ish`)
------------------------------------------------------------
1. Nuclei: DAPI (FISH) or the hematoxylin amount (brightfield) is smoothed,
   thresholded (Otsu), holes filled, and touching nuclei split by a watershed on
   the distance transform seeded at its h-maxima (:func:`segment_ish_nuclei`).
   For FISH this runs on block means of ~0.4 µm (``GEOMETRY_GRID_UM``), the
   outlines are redrawn at ~0.4 µm and the labels repeated back to full
   resolution. Brightfield nuclei are segmented on a ~0.4 µm grid after a
   median that removes the chromogen dots and a local background subtraction,
   at a threshold below Otsu's (pale nuclei; see :func:`count_brightfield_ish`).
2. Selection, as a technologist would: a nucleus is counted only when it is
   whole (not cut by the image edge), inside the ROI, of plausible size, not an
   overlap/merge (too large or not convex), in focus, and, for dual-probe
   assays, with at least one CEP17 signal. The first failing reason is recorded.
3. Signals: :func:`her2kit.imaging.spots.detect_spots` on each probe channel, the
   noise measured inside the nuclei.
4. Clusters: the probe channel minus a morphological background (grey opening
   wider than a cluster) is thresholded at half the typical signal height (FISH:
   the median detection; brightfield: the dominant height of the clear signals
   inside nuclei, as faint smudges and texture would otherwise set it);
   connected regions whose area is at least ``CLUSTER_AREA_FACTOR`` single
   signals and whose integrated intensity is at least 3 single signals are
   clusters. Their copies = integrated intensity / median integrated intensity
   of single signals (never fewer than the maxima inside), as ASCO/CAP allows
   cluster estimation. Clusters are flagged in the table.
5. Per-nucleus counts, means, ratio, quality flags and a heterogeneity check.

The ISH group is *not* decided here: :attr:`IshImageResult.guideline_input`
is the ``ish`` block that :mod:`her2kit.guideline` takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging._validate import check_choice, check_pixel_size, check_positive
from her2kit.imaging.color.ish import (
    estimate_background_rgb,
    estimate_ish_stains,
    separate_ish_stains,
)
from her2kit.imaging.color.stains import CISH_STAINS, DUAL_ISH_STAINS, STAIN_VECTORS
from her2kit.imaging.filters import block_factor, block_mean, smooth, upsample_labels
from her2kit.imaging.ish.channels import FishImage, check_brightfield_rgb
from her2kit.imaging.ish.spots import (
    DEFAULT_K_MAD,
    THRESHOLD_METHODS,
    SpotDetection,
    detect_spots,
    log_filter,
    running_1d_valid,
)

__all__ = [
    "CLUSTER_AREA_FACTOR",
    "EXCLUSION_REASONS",
    "MIN_NUCLEI",
    "ClusterRecord",
    "Heterogeneity",
    "IshFieldsResult",
    "IshImageResult",
    "NucleusRecord",
    "ProbeSignals",
    "count_brightfield_ish",
    "count_fish",
    "pool_fields",
    "segment_ish_nuclei",
]

#: ASCO/CAP 2018: at least 20 nuclei are counted (Wolff et al., J Clin Oncol 2018;36:2105).
MIN_NUCLEI = 20
#: ASCO/CAP 2018 heterogeneity: a distinct amplified population > 10 % of tumour cells.
HETEROGENEITY_FRACTION = 0.10
#: ASCO/CAP 2018 rejection criterion read as: > 25 % of signals weak/unscorable.
WEAK_SIGNAL_FRACTION = 0.25
#: A signal whose LoG response is below this multiple of the threshold is "weak".
WEAK_SIGNAL_FACTOR = 1.5
#: Signals over cytoplasm / outside nuclei above this share are flagged (ASCO/CAP: > 10 %).
OUTSIDE_SIGNAL_FRACTION = 0.10
#: High background: median signal height above background below this fraction
#: of the nuclear background level (signals barely distinguishable by eye).
HIGH_BACKGROUND_RATIO = 0.5
#: A bright region is a cluster candidate from this many single-signal areas on.
CLUSTER_AREA_FACTOR = 2.0
#: ... and when its integrated intensity is at least this many single signals.
CLUSTER_MIN_COPIES = 3.0

#: Bandwidth (decades) of the log-height density whose mode is the typical
#: single brightfield dot (``single_signal_reference="clear-mode"``): 0.1 decade
#: (26 %) is wider than the 20 % spread of single signals, narrower than the
#: factor ~2 between a single dot and two overlapping ones.
REFERENCE_MODE_BANDWIDTH = 0.1

#: How the typical single signal is found (``single_signal_reference`` of
#: :func:`count_brightfield_ish`; FISH always uses ``"median"``).
SINGLE_SIGNAL_REFERENCES = ("clear-mode", "median")

#: Silver and hematoxylin closer in OD direction than this (degrees) are not
#: separated by one 3-stain solve; see :func:`count_brightfield_ish`.
MIN_NUCLEI_SILVER_ANGLE_DEG = 15.0

#: The exclusion reasons, in the order they are tested (the first that applies is kept).
EXCLUSION_REASONS = (
    "touches_image_edge",
    "outside_roi",
    "too_small",
    "oversized_or_overlapping",
    "out_of_focus",
    "no_cep17_signal",
)


@dataclass(frozen=True)
class NucleusRecord:
    """One row of the per-nucleus table.

    Attributes
    ----------
    nucleus_id : int
        Label in :attr:`IshImageResult.labels`.
    row, col : float
        Centroid, px.
    area_um2 : float
        Area, µm².
    her2, cep17 : int
        Copies counted (cluster estimates included); CEP17 is 0 for single probe.
    her2_clusters : int
        HER2 clusters in the nucleus.
    cluster_copies : int
        HER2 copies attributed to those clusters (estimated, included in ``her2``).
    included : bool
        Counted towards the means.
    exclusion_reason : str
        ``""`` when included, else one of :data:`EXCLUSION_REASONS`.
    focus : float
        Focus score: band-pass DAPI/hematoxylin texture over mean intensity (unitless).
    """

    nucleus_id: int
    row: float
    col: float
    area_um2: float
    her2: int
    cep17: int
    her2_clusters: int
    cluster_copies: int
    included: bool
    exclusion_reason: str
    focus: float


@dataclass(frozen=True)
class ClusterRecord:
    """A bright region counted as several copies.

    Attributes
    ----------
    probe : str
        ``"her2"`` or ``"cep17"``.
    row, col : float
        Intensity-weighted centre, px.
    nucleus_id : int
        0 when outside every nucleus.
    area_um2 : float
        Area above the cluster mask threshold, µm².
    integrated_intensity : float
        Background-subtracted intensity summed over the region (image units x px).
    copies : int
        Estimated copies: ``round(integrated_intensity / single_signal_intensity)``,
        at least the number of maxima inside.
    maxima : int
        Detected spot maxima inside the region.
    """

    probe: str
    row: float
    col: float
    nucleus_id: int
    area_um2: float
    integrated_intensity: float
    copies: int
    maxima: int


@dataclass(frozen=True, eq=False)
class ProbeSignals:
    """All signals of one probe with the evidence used to count them.

    Attributes
    ----------
    probe : str
    detection : SpotDetection
        Raw detections (threshold, noise, LoG responses).
    nucleus_id : (n,) ndarray of int32
        Nucleus of each detection (0 = outside nuclei).
    in_cluster : (n,) ndarray of bool
        Detection lies inside a cluster (its count is replaced by the cluster's).
    clusters : tuple of ClusterRecord
    single_signal_intensity : float or None
        Median integrated intensity of isolated single signals (image units x px),
        the cluster reference; None when fewer than 3 isolated signals exist.
    single_signal_area_um2 : float or None
        Median area of isolated single signals above the mask threshold, µm².
    mask_threshold : float or None
        Background-subtracted intensity threshold of the cluster mask (image units).
    """

    probe: str
    detection: SpotDetection
    nucleus_id: np.ndarray
    in_cluster: np.ndarray
    clusters: tuple[ClusterRecord, ...]
    single_signal_intensity: float | None
    single_signal_area_um2: float | None
    mask_threshold: float | None


@dataclass(frozen=True)
class Heterogeneity:
    """A distinct population of nuclei with higher counts.

    A nucleus is "high" when HER2 >= 6, or (dual probe) HER2/CEP17 >= 2.0 with
    HER2 >= 4. ``flagged`` when the high share is above 10 % (ASCO/CAP) but
    not (nearly) all nuclei, i.e. 10 % < share <= 90 %.

    Attributes
    ----------
    n_high : int
    fraction_high : float
        Share of counted nuclei that are high (0-1).
    her2_mean_high, cep17_mean_high : float or None
        Means over the high nuclei.
    ratio_high : float or None
        HER2/CEP17 of the high nuclei (dual probe).
    flagged : bool
    """

    n_high: int
    fraction_high: float
    her2_mean_high: float | None
    cep17_mean_high: float | None
    ratio_high: float | None
    flagged: bool


@dataclass(frozen=True, eq=False)
class IshImageResult:
    """Counts of one ISH image, with the evidence behind them.

    Attributes
    ----------
    assay : str
        ``"fish"``, ``"dual-ish"`` or ``"cish"``.
    probe : str
        ``"dual"`` (HER2 + CEP17) or ``"single"`` (HER2 only).
    nuclei : tuple of NucleusRecord
        Every segmented nucleus, counted or not.
    labels : (rows, cols) ndarray of int32
        Nucleus label image.
    her2, cep17 : ProbeSignals or None
        Signals of each probe (``cep17`` None for single probe).
    n_counted : int
    her2_mean, cep17_mean : float or None
        Mean copies per counted nucleus (None when none counted / single probe).
    ratio : float or None
        ``her2_mean / cep17_mean`` (dual probe, cep17_mean > 0).
    quality_flags : tuple of str
        Any of ``too_few_nuclei``, ``weak_signals``, ``high_background``,
        ``signals_outside_nuclei``, ``no_single_signal_reference``.
    heterogeneity : Heterogeneity or None
        None when no nucleus was counted.
    pixel_size_um : float
    parameters : mapping
        Every parameter used, automatic thresholds included.
    """

    assay: str
    probe: str
    nuclei: tuple[NucleusRecord, ...]
    labels: np.ndarray
    her2: ProbeSignals
    cep17: ProbeSignals | None
    n_counted: int
    her2_mean: float | None
    cep17_mean: float | None
    ratio: float | None
    quality_flags: tuple[str, ...]
    heterogeneity: Heterogeneity | None
    pixel_size_um: float
    parameters: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def counted(self) -> tuple[NucleusRecord, ...]:
        """The included nuclei, in id order."""
        return tuple(n for n in self.nuclei if n.included)

    @property
    def nuclei_counts(self) -> list[list[int]]:
        """``[[her2, cep17], ...]`` per counted nucleus (the guideline's dual-probe input)."""
        return [[n.her2, n.cep17] for n in self.counted]

    @property
    def guideline_input(self) -> dict:
        """The ``ish`` block for :mod:`her2kit.guideline`.

        Dual probe: ``{"probe": "dual", "nuclei": [[h, c], ...]}``; single probe:
        ``{"probe": "single", "cells_counted": n, "her2_mean": x}``.
        """
        if self.probe == "dual":
            return {"probe": "dual", "nuclei": self.nuclei_counts}
        return {
            "probe": "single",
            "cells_counted": self.n_counted,
            "her2_mean": self.her2_mean if self.her2_mean is not None else 0.0,
        }

    def table(self) -> list[dict]:
        """The per-nucleus table as a list of dicts (CSV-ready, one per nucleus)."""
        return [
            {
                "id": n.nucleus_id,
                "centroid_row_px": round(n.row, 1),
                "centroid_col_px": round(n.col, 1),
                "area_um2": round(n.area_um2, 2),
                "her2": n.her2,
                "cep17": n.cep17,
                "her2_clusters": n.her2_clusters,
                "cluster_copies": n.cluster_copies,
                "included": n.included,
                "exclusion_reason": n.exclusion_reason,
            }
            for n in self.nuclei
        ]


# --------------------------------------------------------------------------- nuclei
def _odd(n: float) -> int:
    k = max(1, round(n))
    return k if k % 2 else k + 1


#: Nuclei are segmented on a grid of block means about this fine (µm). 0.8 µm was faster
#: but merged touching nuclei on the real FISH photographs (FISH1–5 counted 28/16/21/44/50
#: nuclei at 0.8 µm, 38/19/27/49/55 at 0.4 µm, 39/20/30/49/59 at full resolution, at
#: 0.5/0.6/0.3 s, 0.65/0.6/0.3 s and 2.7/2.6/0.8 s per image): 0.4 µm keeps the nuclei at
#: nearly the speed of 0.8 µm.
GEOMETRY_GRID_UM = 0.4


def _grid_factor(px: float, grid_um: float | None) -> int:
    return 1 if grid_um is None else block_factor(px, grid_um)


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


@dataclass(frozen=True, eq=False)
class _Geometry:
    """Nuclei on the segmentation grid (``factor`` px blocks) and at full resolution."""

    labels: np.ndarray  # full resolution, int32
    coarse: np.ndarray  # grid labels, int32
    factor: int
    edge_dist: np.ndarray  # grid: distance (grid px) from a nucleus pixel to background
    threshold: float
    fine: np.ndarray  # labels on the (finer) outline grid, int32
    fine_factor: int
    grid: np.ndarray | None = None  # block means of the segmented image (``factor``)
    boxes: tuple | None = None  # grid boxes (slices) of the nuclei's connected regions


def _segment(image, *, pixel_size_um, smooth_um, min_area_um2, split_h_um, threshold,
             grid_um=GEOMETRY_GRID_UM, despeckle_um=0.0, background_um=0.0,
             threshold_factor=1.0, core_fraction=0.0, core_window_um=9.0) -> _Geometry:
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
    px = pixel_size_um
    full = np.asarray(image, np.float32)
    f = _grid_factor(px, grid_um)
    pg = f * px  # µm per grid px
    grid = block_mean(full, f)
    seg = grid
    filtered = despeckle_um > 0 or background_um > 0
    if despeckle_um > 0:
        seg = ndi.median_filter(seg, size=_odd(despeckle_um / pg))
    if background_um > 0:
        k = _odd(background_um / pg)
        seg = seg - ndi.uniform_filter(_grey_opening(seg, k), k)
    # A block mean already smooths by ~f/sqrt(12) px; smooth by the rest of smooth_um.
    rest = np.sqrt(max(0.0, smooth_um**2 - (f * f - 1) / 12.0 * px * px)) / pg
    sm = smooth(seg, rest)

    def empty(thr):
        z = np.zeros(grid.shape, np.int32)
        return _Geometry(upsample_labels(z, f, full.shape), z, f, np.zeros(grid.shape,
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
    seeds, _ = ndi.label(_h_maxima_packed(dist, split_h_um / pg, mask))
    if core_fraction > 0:
        seeds = _core_seeds(sm, mask, lab, seeds, fraction=core_fraction,
                            window=_odd(core_window_um / pg), s_dist=s_dist, h=split_h_um / pg)
        labels = watershed(-sm, seeds, mask=mask).astype(np.int32)
    else:
        labels = watershed(-dist, seeds, mask=mask).astype(np.int32)
    if filtered:
        fine, ff = labels, f
    else:
        fine, ff = _refine_outlines(full, labels, edge_dist, f=f, px=px, smooth_um=smooth_um,
                                    threshold=thr, boxes=[bx for bx in boxes if bx is not None])
    # At ff == 1 the outline grid is the full resolution: share the array (no copy).
    full_labels = fine if fine.shape == full.shape else upsample_labels(fine, ff, full.shape)
    return _Geometry(full_labels, labels, f, edge_dist, thr, fine, ff,
                     grid, tuple(bx for bx in boxes if bx is not None))


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
    cseeds, _ = ndi.label(h_maxima(cd, h).astype(bool) & core)
    cores = watershed(-cd, cseeds, mask=core)
    has_core = np.zeros(int(lab.max()) + 1, bool)
    has_core[lab[cores > 0]] = True
    orphan = (shape_seeds > 0) & ~has_core[lab]
    out = cores.astype(np.int32)
    extra, _ = ndi.label(orphan)
    out[orphan] = extra[orphan] + int(out.max())
    return out


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


def _refine_outlines(full, labels, edge_dist, *, f, px, smooth_um, threshold, boxes=None):
    """Outlines redrawn on a grid twice as fine (when ``f`` is even): in the outermost
    ring of grid cells only the fine cells above the threshold stay, and fine cells
    above it just outside take their neighbour's label. Areas and convexity are then
    measured to ~0.4 µm instead of the segmentation grid's ~0.8 µm."""
    if f % 2 or f < 2:
        return labels, f
    ff = f // 2
    grid = full if ff == 1 else block_mean(full, ff)
    rest = np.sqrt(max(0.0, smooth_um**2 - (ff * ff - 1) / 12.0 * px * px)) / (ff * px)
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


def _geometry_from_labels(labels: np.ndarray, px: float) -> _Geometry:
    """A user's full-resolution labels, with their segmentation-grid version."""
    f = _grid_factor(px, GEOMETRY_GRID_UM)
    coarse = np.ascontiguousarray(labels[f // 2 :: f, f // 2 :: f]) if f > 1 else labels
    coarse = _pad_to(coarse, (-(-labels.shape[0] // f), -(-labels.shape[1] // f)))
    edge_dist = ndi.distance_transform_edt(coarse > 0).astype(np.float32)
    return _Geometry(labels, coarse, f, edge_dist, float("nan"), labels, 1)


def _pad_to(a: np.ndarray, shape) -> np.ndarray:
    if a.shape == tuple(shape):
        return a
    out = np.zeros(shape, a.dtype)
    out[: a.shape[0], : a.shape[1]] = a
    return out


def segment_ish_nuclei(
    image: np.ndarray,
    *,
    pixel_size_um: float,
    smooth_um: float = 0.5,
    min_area_um2: float = 15.0,
    split_h_um: float = 0.5,
    threshold: float | None = None,
    grid_um: float | None = GEOMETRY_GRID_UM,
) -> np.ndarray:
    """Segment nuclei on DAPI (FISH) or hematoxylin amount (brightfield ISH).

    Parameters
    ----------
    image : (rows, cols) ndarray
        Nuclear stain, bright nuclei on a dark background (DAPI intensity, or the
        hematoxylin amount from :func:`~her2kit.imaging.ish_stains.separate_ish_stains`).
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
        number of pixels per block; :func:`~her2kit.imaging.cells.block_factor`)
        and repeat the labels back to full resolution; None segments at full
        resolution. Outlines are then exact to about half a grid pixel.

    Returns
    -------
    labels : (rows, cols) ndarray of int32
        0 = background, 1..n nuclei.
    """
    px = check_pixel_size(pixel_size_um)
    if grid_um is not None:
        check_positive(grid_um, name="grid_um", unit="µm")
    geo = _segment(
        image,
        pixel_size_um=px,
        smooth_um=smooth_um,
        min_area_um2=min_area_um2,
        split_h_um=split_h_um,
        threshold=threshold,
        grid_um=grid_um,
    )
    return geo.labels


#: The focus band-pass runs on block means about this fine (µm per grid pixel).
FOCUS_GRID_UM = 0.4


def _focus_scores(nuclear, geo: _Geometry, n, px, *, grid=None):
    """Band-pass texture / mean intensity inside each nucleus' interior (unitless).

    Computed on block means of ~0.4 µm (the block mean is the fine end of the band,
    about the 0.15 µm Gaussian of a full-resolution version) minus their 0.8 µm
    Gaussian; the interior is the nucleus less its outer 1 µm (the rim, a step in
    intensity, is the strongest band-pass feature in focus or not).
    """
    ff = block_factor(px, FOCUS_GRID_UM)
    pf = ff * px
    s_fine = np.sqrt(max(0.0, 0.15**2 - (ff * ff - 1) / 12.0 * px * px)) / pf
    # Distance to the background on the segmentation grid, from the grid pixel's edge.
    interior = (geo.edge_dist - 0.5) * (geo.factor * px) > 1.0
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


# --------------------------------------------------------------------------- signals
def _detect(ch, *, px, spot_sigma_um, threshold, k_mad, threshold_method, noise_mask):
    return detect_spots(
        ch,
        pixel_size_um=px,
        spot_sigma_um=spot_sigma_um,
        threshold=threshold,
        k_mad=k_mad,
        threshold_method=threshold_method,
        noise_mask=noise_mask,
        filtered=log_filter(ch, sigma_px=spot_sigma_um / px),
    )


def _subset(det: SpotDetection, keep: np.ndarray) -> SpotDetection:
    """The detections where ``keep`` is True, with the same evidence."""
    return SpotDetection(
        det.coords_px[keep],
        det.response[keep],
        det.threshold,
        det.threshold_method,
        det.noise_sigma,
        det.k_mad,
        det.sigma_px,
        det.min_distance_px,
        det.floor,
        det.valley_dip,
    )


def _resolve_crosstalk(
    her2: SpotDetection, cep17: SpotDetection, radius_px: float
) -> tuple[SpotDetection, SpotDetection, int]:
    """One spot, one colour: of a HER2 and a CEP17 detection closer than ``radius_px``
    keep the one that is stronger relative to its own threshold.

    A bright signal of one probe bleeds into the other channel (filter
    cross-talk, and in RGB composites also saturation and JPEG colour
    subsampling), where it passes the threshold as a weaker twin at the same
    place; a technologist calls it by its dominant colour. Returns the filtered
    detections and the number dropped.
    """
    if her2.n == 0 or cep17.n == 0 or not radius_px > 0:
        return her2, cep17, 0
    from scipy.spatial import cKDTree

    pairs = cKDTree(her2.coords_px).query_ball_tree(cKDTree(cep17.coords_px), r=radius_px)
    keep_h = np.ones(her2.n, bool)
    keep_c = np.ones(cep17.n, bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_h = her2.response / np.float32(her2.threshold)
        rel_c = cep17.response / np.float32(cep17.threshold)
    for i, js in enumerate(pairs):
        for j in js:
            if rel_h[i] >= rel_c[j]:
                keep_c[j] = False
            else:
                keep_h[i] = False
    dropped = int((~keep_h).sum() + (~keep_c).sum())
    if dropped == 0:
        return her2, cep17, 0
    return _subset(her2, keep_h), _subset(cep17, keep_c), dropped


def _probe_signals(
    channel,
    labels,
    *,
    probe,
    px,
    spot_sigma_um,
    threshold,
    k_mad,
    threshold_method,
    noise_mask,
    cluster_max_um,
    det=None,
    bg=None,
    reference="median",
) -> ProbeSignals:
    """Detections of one probe, their nuclei, and clusters with copy estimates.

    ``reference`` sets the typical single-signal height: the cluster mask is
    thresholded at half of it, which in turn sets the single-signal reference
    (``i1``, ``a1``). ``"median"`` = the median height of all detections (FISH;
    no cluster extent bound); ``"clear-mode"`` = the dominant mode
    (:func:`_dominant_mode`) of the heights of the clear signals inside nuclei
    (LoG response at least ``WEAK_SIGNAL_FACTOR`` x the threshold), and a
    region wider than a ``cluster_max_um`` disc is not a cluster (brightfield;
    see :func:`count_brightfield_ish`).
    """
    ch = np.asarray(channel, np.float32)
    sigma_px = spot_sigma_um / px
    if det is None:
        det = _detect(
            ch,
            px=px,
            spot_sigma_um=spot_sigma_um,
            threshold=threshold,
            k_mad=k_mad,
            threshold_method=threshold_method,
            noise_mask=noise_mask,
        )
    rr = np.clip(np.rint(det.coords_px[:, 0]).astype(int), 0, ch.shape[0] - 1)
    cc = np.clip(np.rint(det.coords_px[:, 1]).astype(int), 0, ch.shape[1] - 1)
    nid = labels[rr, cc].astype(np.int32)
    in_cluster = np.zeros(det.n, bool)
    empty = ProbeSignals(probe, det, nid, in_cluster, (), None, None, None)
    if det.n == 0:
        return empty
    # Background: grey opening with a square wider than any cluster, then smoothed;
    # what remains is signal above the local (nuclear) background.
    if bg is None:
        bg = _background(ch, labels, px=px, cluster_max_um=cluster_max_um, sigma_px=sigma_px)
    _, sm = _top_smooth(ch, bg, 0.5 * sigma_px, keep_top=False)
    heights = sm[rr, cc]
    clear_mode = reference == "clear-mode"
    if clear_mode:
        # Real brightfield fields add many faint detections to the in-focus dots
        # (pink haze and small pale red smudges, hematoxylin texture and JPEG
        # blocks in the silver amount, specks outside nuclei). The median height
        # then sits among them, the mask at half of it spreads over dot halos and
        # texture, the median "single" region is a faint smudge and every real dot
        # reads as a 5-15 copy cluster (PCM_fish_dish DISH1). The typical single
        # dot is taken from the clear signals inside nuclei instead (not "weak" by
        # the quality-flag rule), as the most common height among them: the few
        # clusters (or brightest dots) do not move a mode.
        clear = (nid > 0) & (det.response >= WEAK_SIGNAL_FACTOR * np.float32(det.threshold))
        mask_thr = 0.5 * _dominant_mode(heights[clear] if clear.sum() >= 3 else heights)
    else:
        mask_thr = 0.5 * float(np.median(heights))
    if not mask_thr > 0:
        return empty
    fg = sm > mask_thr
    comp, ncomp = ndi.label(fg)
    spot_comp = comp[rr, cc]
    cols = comp.shape[1]
    on = np.flatnonzero(fg)  # a boolean's nonzero is several times faster than a label's
    comp_on = comp.ravel()[on]
    area = np.bincount(comp_on, minlength=ncomp + 1).astype(float)
    maxima = np.bincount(spot_comp, minlength=ncomp + 1)
    # Integrate over the region grown by ~2 sigma (the Gaussian tails) without
    # growing into a neighbouring region (a square dilation; where two regions'
    # growths meet the higher label takes the pixel).
    grown = _grow_labels(comp, max(1, round(2.0 * sigma_px)), on=on)
    g_on = np.flatnonzero(grown != 0)
    integ = np.bincount(grown.ravel()[g_on], weights=np.maximum(_top_at(ch, bg, g_on), 0),
                        minlength=ncomp + 1)
    # Only regions inside nuclei take part: outside, detections are mostly
    # cytoplasmic/background specks that would drag the single-signal reference
    # down and turn every real signal into a "cluster".
    comp_nid = np.zeros(ncomp + 1, np.int32)
    comp_nid[spot_comp] = nid
    inside = comp_nid > 0
    one = (maxima == 1) & inside
    one[0] = False
    if one.sum() < 3:
        return ProbeSignals(probe, det, nid, in_cluster, (), None, None, float(mask_thr))
    a1 = float(np.median(area[one]))
    single = one & (area <= 2.0 * a1)
    i1 = float(np.median(integ[single]))
    est = integ / i1
    is_cluster = (
        inside
        & (area >= CLUSTER_AREA_FACTOR * a1)
        # Brightfield: a region larger than the largest cluster expected is
        # nuclear texture (dark hematoxylin in the silver amount) above the mask,
        # not a cluster; its maxima count one each.
        & ((area * px * px <= np.pi * (0.5 * cluster_max_um) ** 2) | (not clear_mode))
        & (est >= CLUSTER_MIN_COPIES)
        & (est >= maxima + 1)
    )
    is_cluster[0] = False
    clusters = []
    cl_ids = np.flatnonzero(is_cluster)
    if cl_ids.size:
        wsum = np.maximum(sm.ravel()[on], 0).astype(np.float64)
        wtot = np.bincount(comp_on, weights=wsum, minlength=ncomp + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            com_r = np.bincount(comp_on, weights=wsum * (on // cols), minlength=ncomp + 1) / wtot
            com_c = np.bincount(comp_on, weights=wsum * (on % cols), minlength=ncomp + 1) / wtot
        for cid in cl_ids:
            r, c = float(com_r[cid]), float(com_c[cid])
            copies = int(max(maxima[cid], round(float(est[cid]))))
            ri, ci = round(r), round(c)
            clusters.append(
                ClusterRecord(
                    probe,
                    r,
                    c,
                    int(labels[ri, ci]),
                    float(area[cid] * px * px),
                    float(integ[cid]),
                    copies,
                    int(maxima[cid]),
                )
            )
        in_cluster = is_cluster[spot_comp]
    return ProbeSignals(
        probe, det, nid, in_cluster, tuple(clusters), i1, float(a1 * px * px), float(mask_thr)
    )


def _dominant_mode(values: np.ndarray,
                   bandwidth_decades: float = REFERENCE_MODE_BANDWIDTH) -> float:
    """The highest-density value of the positive ``values`` on a log scale (same units).

    A Gaussian kernel density of ``log10(values)`` with ``bandwidth_decades``
    bandwidth, evaluated on a grid a quarter bandwidth fine; the median when
    fewer than 3 values are positive (NaN when none is).
    """
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size < 3:
        return float(np.median(v)) if v.size else float("nan")
    lv = np.log10(v)
    step = bandwidth_decades / 4.0
    grid = np.arange(lv.min() - 2 * bandwidth_decades, lv.max() + 2 * bandwidth_decades + step,
                     step)
    dens = np.exp(-0.5 * ((grid[:, None] - lv[None, :]) / bandwidth_decades) ** 2).sum(axis=1)
    return float(10 ** grid[int(np.argmax(dens))])


def _top_at(ch, bg: _Background, idx: np.ndarray) -> np.ndarray:
    """``(ch - bg.full - bg.offset).ravel()[idx]`` (same float32 operations, identical)."""
    r, c = np.divmod(idx, ch.shape[1])
    f = bg.factor
    t = ch[r, c] - bg.coarse[r // f, c // f]
    t -= np.float32(bg.offset)
    return t


def _top_smooth(ch, bg: _Background, s: float, step: int = 64, keep_top: bool = True):
    """``top = ch - bg.full - bg.offset`` and ``smooth(top, s)``, in strips of rows.

    ``keep_top=False`` returns ``None`` for ``top`` where it need not be built whole
    (:func:`_top_at` gives its values where needed).

    For the 3-tap kernel (``0.3 <= s < 0.95``) each strip carries one row of context on
    each side, so every value is computed by the same float32 operations as on the whole
    image (identical result) while the passes stay in cache; otherwise whole-image.
    """
    off = np.float32(bg.offset)
    rows = ch.shape[0]
    if not (0.3 <= s < 0.95) or rows < 2:
        top = ch - bg.full
        top -= off
        return top, smooth(top, s)
    top = np.empty(ch.shape, np.float32) if keep_top else None
    sm = np.empty(ch.shape, np.float32)
    for i0 in range(0, rows, step):
        i1 = min(rows, i0 + step)
        a0, a1 = max(0, i0 - 1), min(rows, i1 + 1)
        t = ch[a0:a1] - bg.rows(a0, a1)
        t -= off
        k0 = i0 - a0
        if keep_top:
            top[i0:i1] = t[k0 : k0 + i1 - i0]
        sm[i0:i1] = smooth(t, s)[k0 : k0 + i1 - i0]
    return top, sm


def _grow_labels(comp: np.ndarray, r: int, on: np.ndarray | None = None) -> np.ndarray:
    """Labels grown into unlabelled pixels within a ``(2r+1)``-px square (max label wins).

    Same as ``where(comp > 0, comp, maximum_filter(comp, 2r+1, mode="nearest"))``, but
    computed from the labelled pixels only: the square maximum is separable, so the
    labelled pixels are scattered along the rows (each offset's targets are distinct,
    so one gather/scatter per offset), then the pixels so reached along the columns.
    """
    rows, cols = comp.shape
    flat = comp.ravel()
    if on is None:  # else the caller's flat indices of the labelled pixels
        on = np.flatnonzero(flat != 0)
    if on.size == 0:
        return np.zeros(comp.shape, comp.dtype)

    def scatter(src, val, steps, lo_ok, hi_ok):
        dst = np.zeros(flat.size, comp.dtype)
        dst[src] = val
        for d, step in steps:
            ok = lo_ok(d) & hi_ok(d)
            idx = src[ok] + step
            dst[idx] = np.maximum(dst[idx], val[ok])
        return dst

    lab = flat[on]
    cc = on % cols
    ds = [d for d in range(-r, r + 1) if d]
    h = scatter(on, lab, [(d, d) for d in ds], lambda d: cc >= -d, lambda d: cc < cols - d)
    h_on = np.flatnonzero(h != 0)
    hr = h_on // cols
    out = scatter(h_on, h[h_on], [(d, d * cols) for d in ds], lambda d: hr >= -d,
                  lambda d: hr < rows - d)
    out[on] = lab
    return out.reshape(comp.shape)


@dataclass(frozen=True, eq=False)
class _Background:
    coarse: np.ndarray  # on the block grid
    factor: int
    offset: float  # median of (channel - background) over the nuclei
    shape: tuple[int, int]  # full-resolution shape

    @property
    def full(self) -> np.ndarray:
        """Full-resolution background, float32 (each grid value repeated into its block)."""
        return _upsample(self.coarse, self.factor, self.shape)

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """``full[r0:r1]`` without building ``full``."""
        f = self.factor
        r1 = min(r1, self.shape[0])
        r0 = min(r0, r1)
        if f == 1:
            return self.coarse[r0:r1]
        g0, g1 = r0 // f, -(-r1 // f)
        blk = np.repeat(self.coarse[g0:g1], f, axis=0)[r0 - g0 * f : r1 - g0 * f]
        return np.repeat(blk, f, axis=1)[:, : self.shape[1]]


def _background(ch, labels, *, px, cluster_max_um, sigma_px) -> _Background:
    """Local background of a probe channel, unbiased by noise (image units).

    A grey opening (minimum then maximum over a square ``w`` px wide, wider than
    any cluster) removes the signals, then a ``w``-wide mean smooths it. It runs on
    block means of about ``w / 5`` px, which also keep the minimum from following
    the low noise tail (the full-resolution version smoothed with the spot sigma
    first), and the result is repeated back to full resolution. ``offset`` is the
    median of channel minus background over the nuclei (mostly background pixels),
    to subtract so that background integrates to ~0.
    """
    w = _odd(max(2 * cluster_max_um / px, 6 * sigma_px))
    f = max(1, w // 5)
    k = _odd(w / f)
    grid = block_mean(ch, f)
    bg = ndi.uniform_filter(_grey_opening(grid, k), k)
    lab = np.ascontiguousarray(labels[f // 2 :: f, f // 2 :: f])
    lab = lab[: grid.shape[0], : grid.shape[1]]
    where = _pad_to(lab, grid.shape) > 0
    diff = grid - bg
    offset = float(np.median(diff[where] if where.any() else diff))
    return _Background(bg, f, offset, tuple(ch.shape))


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


def _per_nucleus(sig: ProbeSignals, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts, cluster numbers and cluster copies per label 0..n."""
    singles = np.bincount(sig.nucleus_id[~sig.in_cluster], minlength=n + 1)[: n + 1]
    n_cl = np.zeros(n + 1, int)
    cp = np.zeros(n + 1, int)
    for c in sig.clusters:
        n_cl[c.nucleus_id] += 1
        cp[c.nucleus_id] += c.copies
    return singles + cp, n_cl, cp


# --------------------------------------------------------------------------- pipeline
def _count(
    nuclear,
    her2_ch,
    cep17_ch,
    *,
    assay,
    px,
    roi_mask,
    spot_sigma_um,
    k_mad,
    threshold_method,
    threshold_her2,
    threshold_cep17,
    min_area_um2,
    max_area_um2,
    min_solidity,
    focus_min_ratio,
    cluster_max_um,
    nuclei_labels,
    params,
    crosstalk_radius_um=0.0,
    grid_um=None,
    seg_options=None,
    single_signal_reference="median",
) -> IshImageResult:
    shape = nuclear.shape
    if roi_mask is not None:
        roi_mask = np.asarray(roi_mask)
        if roi_mask.shape != shape:
            raise ImageInputError(f"expected shape {shape}, got {roi_mask.shape}", field="roi_mask")
        roi_mask = roi_mask.astype(bool)
    if nuclei_labels is None:
        seg_image = nuclear
        if assay != "fish" and not (seg_options or {}).get("despeckle_um", 0) > 0:
            # Chromogen dots over a nucleus leave dark-stain holes (or bumps) in the
            # hematoxylin amount; a grey closing a little wider than a dot fills
            # them so that dotted nuclei stay whole and convex. (The despeckle
            # median does this instead when on: a closing also bridges the gaps
            # between dense silver dots, and amplified nuclei turn silver-bright.)
            seg_image = ndi.grey_closing(
                np.asarray(nuclear, np.float32), size=_odd(6 * spot_sigma_um / px)
            )
        opts = dict(
            # Hematoxylin amounts of brightfield images are noisier (pale nuclei,
            # JPEG) than DAPI: smooth more.
            smooth_um=0.5 if assay == "fish" else 1.0,
            split_h_um=0.5,
            grid_um=grid_um,
        )
        opts.update(seg_options or {})
        geo = _segment(seg_image, pixel_size_um=px, min_area_um2=min_area_um2, threshold=None,
                       **opts)
    else:
        labels = np.asarray(nuclei_labels)
        if labels.shape != shape or labels.dtype.kind not in "ui":
            raise ImageInputError(
                f"expected integer labels of shape {shape}", field="nuclei_labels"
            )
        geo = _geometry_from_labels(labels.astype(np.int32), px)
    labels, nuc_thr = geo.labels, geo.threshold
    n = int(labels.max())
    # Noise is measured in nuclear interiors: counting happens there, and the
    # nucleus rim (a step in autofluorescence) would inflate the estimate. The
    # distance is the grid's, from the grid pixel's outer edge.
    interior = _upsample((geo.edge_dist - 0.5) * (geo.factor * px) > 2.0 * spot_sigma_um,
                         geo.factor, shape)
    noise_mask = interior if interior.sum() > 100 else "foreground"
    common = dict(
        px=px,
        spot_sigma_um=spot_sigma_um,
        k_mad=k_mad,
        threshold_method=threshold_method,
        noise_mask=noise_mask,
        cluster_max_um=cluster_max_um,
    )
    n_crosstalk = 0
    det_h = det_c = None
    if assay == "fish" and crosstalk_radius_um > 0:
        det_args = {k: common[k] for k in ("px", "spot_sigma_um", "k_mad", "threshold_method",
                                           "noise_mask")}
        det_h = _detect(np.asarray(her2_ch, np.float32), threshold=threshold_her2, **det_args)
        det_c = _detect(np.asarray(cep17_ch, np.float32), threshold=threshold_cep17, **det_args)
        det_h, det_c, n_crosstalk = _resolve_crosstalk(det_h, det_c, crosstalk_radius_um / px)
    her2_ch = np.asarray(her2_ch, np.float32)
    bg_her2 = _background(her2_ch, labels, px=px, cluster_max_um=cluster_max_um,
                          sigma_px=spot_sigma_um / px)
    ref = single_signal_reference  # count_fish: always "median"
    her2 = _probe_signals(
        her2_ch, labels, probe="her2", threshold=threshold_her2, det=det_h, bg=bg_her2,
        reference=ref, **common
    )
    cep17 = None
    if cep17_ch is not None:
        cep17 = _probe_signals(
            cep17_ch, labels, probe="cep17", threshold=threshold_cep17, det=det_c,
            reference=ref, **common
        )
    if cep17 is not None and assay == "dual-ish":
        cep17 = _drop_colour_leaks(cep17, her2_ch, cep17_ch)
    h_cnt, h_ncl, h_cp = _per_nucleus(her2, n)
    c_cnt = _per_nucleus(cep17, n)[0] if cep17 is not None else np.zeros(n + 1, int)

    # ---- selection
    cent, solidity, fine_px = _centroids_solidity(geo, n, min_solidity=min_solidity)
    if geo.fine_factor == 1:  # the outline grid is the full resolution: same counts
        areas = fine_px * px * px
    else:
        on = np.flatnonzero(labels)
        areas = np.bincount(labels.ravel()[on], minlength=n + 1)[: n + 1] * px * px
    present = np.flatnonzero(areas > 0)
    present = present[present > 0]
    edge = np.zeros(n + 1, bool)
    edge[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = True
    focus = _focus_scores(nuclear, geo, n, px,
                          grid=geo.grid if assay == "fish" and nuclei_labels is None else None)
    in_roi = None
    if roi_mask is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            in_roi = np.bincount(labels.ravel(), weights=roi_mask.ravel(), minlength=n + 1)[
                : n + 1] / (areas / (px * px))
    interior_ok = [i for i in present if not edge[i] and areas[i] >= min_area_um2]
    med_area = float(np.median(areas[interior_ok])) if len(interior_ok) >= 5 else None
    f_ok = focus[interior_ok] if interior_ok else np.array([])
    f_ok = f_ok[np.isfinite(f_ok)]
    med_focus = float(np.median(f_ok)) if f_ok.size >= 3 else None
    records = []
    for i in present:
        i = int(i)
        reason = ""
        if edge[i]:
            reason = "touches_image_edge"
        elif in_roi is not None and in_roi[i] < 0.5:
            reason = "outside_roi"
        elif areas[i] < min_area_um2:
            reason = "too_small"
        elif (
            areas[i] > max_area_um2
            or (med_area is not None and areas[i] > 2.2 * med_area)
            or solidity[i] < min_solidity
        ):
            reason = "oversized_or_overlapping"
        elif med_focus is not None and not focus[i] >= focus_min_ratio * med_focus:
            reason = "out_of_focus"
        elif cep17 is not None and c_cnt[i] == 0:
            reason = "no_cep17_signal"
        r, c = cent[i]
        records.append(
            NucleusRecord(
                i,
                float(r),
                float(c),
                float(areas[i]),
                int(h_cnt[i]),
                int(c_cnt[i]),
                int(h_ncl[i]),
                int(h_cp[i]),
                reason == "",
                reason,
                float(focus[i]) if np.isfinite(focus[i]) else 0.0,
            )
        )
    counted = [r for r in records if r.included]
    nc = len(counted)
    her2_mean = float(np.mean([r.her2 for r in counted])) if nc else None
    cep17_mean = float(np.mean([r.cep17 for r in counted])) if nc and cep17 is not None else None
    ratio = her2_mean / cep17_mean if cep17_mean else None

    # ---- quality flags
    flags = []
    if nc < MIN_NUCLEI:
        flags.append("too_few_nuclei")
    counted_ids = np.array([r.nucleus_id for r in counted], int)
    probes = [s for s in (her2, cep17) if s is not None]
    resp = np.concatenate(
        [s.detection.response[np.isin(s.nucleus_id, counted_ids)] for s in probes]
    )
    weak = np.concatenate(
        [
            s.detection.response[np.isin(s.nucleus_id, counted_ids)]
            < WEAK_SIGNAL_FACTOR * s.detection.threshold
            for s in probes
        ]
    )
    if resp.size and weak.mean() > WEAK_SIGNAL_FRACTION:
        flags.append("weak_signals")
    n_all = sum(s.detection.n for s in probes)
    n_out = sum(int((s.nucleus_id == 0).sum()) for s in probes)
    if n_all and n_out / n_all > OUTSIDE_SIGNAL_FRACTION:
        flags.append("signals_outside_nuclei")
    if any(s.single_signal_intensity is None and s.detection.n for s in probes):
        flags.append("no_single_signal_reference")
    if _high_background(her2_ch, her2, labels, bg_her2):
        flags.append("high_background")

    het = _heterogeneity(counted, dual=cep17 is not None)
    parameters = dict(params)
    parameters.update(
        nuclei_threshold=nuc_thr,
        her2_threshold=her2.detection.threshold,
        her2_threshold_method=her2.detection.threshold_method,
        her2_noise_sigma=her2.detection.noise_sigma,
        her2_threshold_floor=her2.detection.floor,
        her2_valley_dip=her2.detection.valley_dip,
        her2_single_signal_intensity=her2.single_signal_intensity,
        cep17_threshold=None if cep17 is None else cep17.detection.threshold,
        cep17_threshold_method=None if cep17 is None else cep17.detection.threshold_method,
        cep17_noise_sigma=None if cep17 is None else cep17.detection.noise_sigma,
        cep17_threshold_floor=None if cep17 is None else cep17.detection.floor,
        cep17_valley_dip=None if cep17 is None else cep17.detection.valley_dip,
        cep17_single_signal_intensity=None if cep17 is None else cep17.single_signal_intensity,
        crosstalk_dropped=n_crosstalk,
        median_focus=med_focus,
        median_nucleus_area_um2=med_area,
    )
    return IshImageResult(
        assay=assay,
        probe="dual" if cep17 is not None else "single",
        nuclei=tuple(records),
        labels=labels,
        her2=her2,
        cep17=cep17,
        n_counted=nc,
        her2_mean=her2_mean,
        cep17_mean=cep17_mean,
        ratio=ratio,
        quality_flags=tuple(flags),
        heterogeneity=het,
        pixel_size_um=px,
        parameters=MappingProxyType(parameters),
    )


def _drop_colour_leaks(cep17: ProbeSignals, her2_amount, cep17_amount) -> ProbeSignals:
    """Drop red (CEP17) detections that are really dark silver dots.

    Dense silver (HER2) dots and clusters saturate the camera, Beer-Lambert stops
    being linear there and part of their optical density leaks into the red
    amount. A technologist calls a dot by its dominant colour, so a CEP17
    detection where the silver amount exceeds the red amount is dropped.
    """
    det = cep17.detection
    if det.n == 0:
        return cep17
    rr = np.rint(det.coords_px[:, 0]).astype(int)
    cc = np.rint(det.coords_px[:, 1]).astype(int)
    keep = np.asarray(cep17_amount)[rr, cc] >= np.asarray(her2_amount)[rr, cc]
    if keep.all():
        return cep17
    det2 = _subset(det, keep)
    return ProbeSignals(
        cep17.probe,
        det2,
        cep17.nucleus_id[keep],
        cep17.in_cluster[keep],
        cep17.clusters,
        cep17.single_signal_intensity,
        cep17.single_signal_area_um2,
        cep17.mask_threshold,
    )


def _high_background(channel, sig, labels, bg: _Background | None) -> bool:
    """Median signal height over background < HIGH_BACKGROUND_RATIO x nuclear background."""
    if sig.detection.n == 0 or not (labels > 0).any() or bg is None:
        return False
    ch = np.asarray(channel, np.float32)
    rr = np.rint(sig.detection.coords_px[:, 0]).astype(int)
    cc = np.rint(sig.detection.coords_px[:, 1]).astype(int)
    f = bg.factor
    height = float(np.median(ch[rr, cc] - bg.coarse[rr // f, cc // f]))  # = bg.full[rr, cc]
    lab = _pad_to(np.ascontiguousarray(labels[f // 2 :: f, f // 2 :: f])[
        : bg.coarse.shape[0], : bg.coarse.shape[1]], bg.coarse.shape)
    nuc = bg.coarse[lab > 0]
    level = float(np.median(nuc if nuc.size else bg.full[labels > 0]))
    return level > 0 and height < HIGH_BACKGROUND_RATIO * level


def _centroids_solidity(
    geo: _Geometry, n: int, *, min_solidity: float | None = None
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


def _heterogeneity(counted, *, dual: bool) -> Heterogeneity | None:
    if not counted:
        return None
    h = np.array([r.her2 for r in counted], float)
    c = np.array([r.cep17 for r in counted], float)
    high = h >= 6
    if dual:
        with np.errstate(divide="ignore", invalid="ignore"):
            high |= (h >= 4) & (c > 0) & (h / np.where(c > 0, c, 1) >= 2.0)
    nh = int(high.sum())
    frac = nh / len(counted)
    hm = float(h[high].mean()) if nh else None
    cm = float(c[high].mean()) if nh and dual else None
    return Heterogeneity(
        n_high=nh,
        fraction_high=frac,
        her2_mean_high=hm,
        cep17_mean_high=cm,
        ratio_high=(hm / cm) if (cm and hm is not None) else None,
        flagged=HETEROGENEITY_FRACTION < frac <= 0.9,
    )


def _shared_options(
    *,
    spot_sigma_um,
    k_mad,
    threshold_method,
    min_area_um2,
    max_area_um2,
    min_solidity,
    focus_min_ratio,
    cluster_max_um,
) -> dict:
    """Check the options every counter shares; return them, in the order ``params`` lists."""
    check_positive(spot_sigma_um, name="spot_sigma_um", unit="µm")
    check_positive(k_mad, name="k_mad", unit="noise s.d.")
    check_choice(threshold_method, THRESHOLD_METHODS, name="threshold_method")
    check_positive(min_area_um2, name="min_area_um2", unit="µm²")
    check_positive(max_area_um2, name="max_area_um2", unit="µm²")
    check_positive(cluster_max_um, name="cluster_max_um", unit="µm")
    if not 0 <= float(min_solidity) <= 1:
        raise Her2kitInputError(f"expected 0-1, got {min_solidity!r}", field="min_solidity")
    if not 0 <= float(focus_min_ratio) <= 1:
        raise Her2kitInputError(f"expected 0-1, got {focus_min_ratio!r}", field="focus_min_ratio")
    return dict(
        spot_sigma_um=spot_sigma_um,
        k_mad=k_mad,
        threshold_method=threshold_method,
        min_area_um2=min_area_um2,
        max_area_um2=max_area_um2,
        min_solidity=min_solidity,
        focus_min_ratio=focus_min_ratio,
        cluster_max_um=cluster_max_um,
    )


def count_fish(
    fish: FishImage,
    *,
    pixel_size_um: float | None = None,
    spot_sigma_um: float = 0.25,
    k_mad: float = DEFAULT_K_MAD,
    threshold_method: str = "valley",
    threshold_her2: float | None = None,
    threshold_cep17: float | None = None,
    roi_mask: np.ndarray | None = None,
    min_area_um2: float = 15.0,
    max_area_um2: float = 250.0,
    min_solidity: float = 0.9,
    focus_min_ratio: float = 0.4,
    cluster_max_um: float = 2.0,
    nuclei_labels: np.ndarray | None = None,
    crosstalk_radius_um: float = 0.3,
    segmentation_grid_um: float | None = GEOMETRY_GRID_UM,
) -> IshImageResult:
    """Count HER2 and CEP17 signals per nucleus in a FISH image.

    Parameters
    ----------
    fish : FishImage
        From :mod:`her2kit.io.fish` (z-stacks already max-projected).
    pixel_size_um : float, optional
        µm per pixel; required when ``fish.pixel_size_um`` is None, and overrides it.
    spot_sigma_um : float, optional
        Gaussian s.d. of one signal as imaged, µm (FISH signals in tissue typically
        appear 0.5-1 µm across, s.d. ~0.2-0.3 µm).
    k_mad : float, optional
        Floor of the automatic spot threshold in robust noise s.d. (see
        :mod:`her2kit.imaging.ish.spots`).
    threshold_method : {"valley", "mad"}, optional
        Automatic threshold per probe: ``"valley"`` raises the ``k_mad`` floor to
        the valley between nuclear texture maxima and signal maxima inside the
        nuclei when their heights show two populations (real tissue), else keeps
        the floor; ``"mad"`` always uses the floor. The threshold chosen, the
        floor and the valley depth are in ``parameters``.
    threshold_her2, threshold_cep17 : float, optional
        Fixed LoG-response thresholds overriding the automatic ones (image units).
    roi_mask : (rows, cols) bool ndarray, optional
        Invasive-tumour region; nuclei with less than half their area inside are
        excluded as ``outside_roi``.
    min_area_um2, max_area_um2 : float, optional
        Plausible nucleus area range, µm². Nuclei above ``max_area_um2`` or above
        2.2x the field's median area are excluded as overlapping/merged.
    min_solidity : float, optional
        Area / convex-hull area below which a nucleus is an overlap (0-1).
    focus_min_ratio : float, optional
        A nucleus whose focus score is below this fraction of the field's median
        is ``out_of_focus``.
    cluster_max_um : float, optional
        Largest cluster extent expected, µm (sets the background-estimation window).
    nuclei_labels : (rows, cols) int ndarray, optional
        Use these nuclei instead of segmenting DAPI (e.g. from StarDist).
    crosstalk_radius_um : float, optional
        A HER2 and a CEP17 detection closer than this are one signal seen in
        both channels (bleed-through, saturated RGB composites); only the one
        stronger relative to its threshold is kept. 0 disables the rule. The
        number dropped is ``parameters["crosstalk_dropped"]``.
    segmentation_grid_um : float or None, optional
        DAPI is segmented on block means about this coarse, µm (see
        :func:`segment_ish_nuclei`); None segments at full resolution (slower:
        ~2 s more per 2048² field, and finer splitting of touching nuclei).

    Returns
    -------
    IshImageResult
        ``.guideline_input`` is ``{"probe": "dual", "nuclei": [[h, c], ...]}``.

    Raises
    ------
    Her2kitInputError
        No pixel size; bad options.
    ImageInputError
        ROI or labels of the wrong shape.
    """
    if not isinstance(fish, FishImage):
        raise ImageInputError(
            f"expected a FishImage (see her2kit.io.fish), got {type(fish).__name__}",
            field="fish",
        )
    px = check_pixel_size(pixel_size_um if pixel_size_um is not None else fish.pixel_size_um)
    shared = _shared_options(
        spot_sigma_um=spot_sigma_um,
        k_mad=k_mad,
        threshold_method=threshold_method,
        min_area_um2=min_area_um2,
        max_area_um2=max_area_um2,
        min_solidity=min_solidity,
        focus_min_ratio=focus_min_ratio,
        cluster_max_um=cluster_max_um,
    )
    params = dict(
        assay="fish",
        pixel_size_um=px,
        **shared,
        z_planes=fish.z_planes,
        z_projection=fish.projection,
        crosstalk_radius_um=float(crosstalk_radius_um),
        segmentation_grid_um=segmentation_grid_um,
    )
    if segmentation_grid_um is not None:
        check_positive(segmentation_grid_um, name="segmentation_grid_um", unit="µm")
    return _count(
        fish.dapi,
        fish.her2,
        fish.cep17,
        assay="fish",
        px=px,
        roi_mask=roi_mask,
        threshold_her2=threshold_her2,
        threshold_cep17=threshold_cep17,
        nuclei_labels=nuclei_labels,
        params=params,
        crosstalk_radius_um=float(crosstalk_radius_um),
        grid_um=segmentation_grid_um,
        **shared,
    )


def _stain_vector(stain) -> tuple[float, float, float]:
    if isinstance(stain, str):
        if stain not in STAIN_VECTORS:
            raise ImageInputError(
                f"unknown stain {stain!r}; known: {sorted(STAIN_VECTORS)}", field="stains"
            )
        return STAIN_VECTORS[stain]
    v = np.asarray(stain, dtype=float)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) == 0:
        raise ImageInputError("stain vectors must be 3 finite OD values", field="stains")
    v = v / np.linalg.norm(v)
    return (float(v[0]), float(v[1]), float(v[2]))


def count_brightfield_ish(
    rgb: np.ndarray,
    *,
    assay: str,
    pixel_size_um: float,
    stains: Mapping[str, str | tuple[float, float, float]] | None = None,
    background_rgb: tuple[float, float, float] | str = "auto",
    estimate_stains: bool = True,
    spot_sigma_um: float = 0.3,
    k_mad: float = DEFAULT_K_MAD,
    threshold_method: str = "valley",
    threshold_her2: float | None = None,
    threshold_cep17: float | None = None,
    roi_mask: np.ndarray | None = None,
    min_area_um2: float = 15.0,
    max_area_um2: float = 250.0,
    min_solidity: float = 0.9,
    focus_min_ratio: float = 0.4,
    cluster_max_um: float = 2.0,
    nuclei_labels: np.ndarray | None = None,
    segmentation_grid_um: float | None = GEOMETRY_GRID_UM,
    nuclei_despeckle_um: float = 2.0,
    nuclei_background_um: float = 18.0,
    nuclei_threshold_factor: float = 0.65,
    nuclei_split_h_um: float = 0.25,
    nuclei_core_fraction: float = 0.5,
    nuclei_core_window_um: float = 9.0,
    single_signal_reference: str = "clear-mode",
) -> IshImageResult:
    """Count signals per nucleus in a brightfield Dual ISH or single-probe CISH image.

    Parameters
    ----------
    rgb : (rows, cols, 3) ndarray of uint8
        Brightfield image.
    assay : {"dual-ish", "cish"}
        Dual ISH (HER2 + CEP17) or single-probe CISH (HER2 only).
    pixel_size_um : float
        µm per pixel.
    stains : mapping, optional
        Role (``nuclei``, ``her2``, ``cep17``) to stain name or OD vector. Default
        :data:`~her2kit.imaging.ish_stains.DUAL_ISH_STAINS` (black silver = HER2,
        red = CEP17, Ventana convention) or
        :data:`~her2kit.imaging.ish_stains.CISH_STAINS`. Swap ``her2``/``cep17``
        here for a kit with the other convention; it is never guessed.
    background_rgb : tuple of 3 float or "auto", optional
        Clear-glass RGB (0-255), the Beer-Lambert ``I0``. ``"auto"`` (default)
        takes the median colour of the brightest 5 % of pixels
        (:func:`~her2kit.imaging.ish_stains.estimate_background_rgb`): microscope
        images are rarely white-balanced, and a too-bright ``I0`` adds a grey,
        silver-like OD everywhere. Recorded in ``parameters``.
    estimate_stains : bool, optional
        Adapt the named stain vectors to this image
        (:func:`~her2kit.imaging.ish_stains.estimate_ish_stains`: red by
        clustering OD directions, silver from the darkest non-red pixels,
        hematoxylin from the rest; each kept within 25 degrees of its reference).
        The vectors used are ``parameters["stain_vectors"]``. When silver and
        hematoxylin come out less than ``MIN_NUCLEI_SILVER_ANGLE_DEG`` apart,
        the signals come from a {silver, red} solve
        (``parameters["stain_separation"]``). Dual ISH nuclei always come from
        the {hematoxylin, red} solve (hematoxylin plus red amount).
    spot_sigma_um : float, optional
        Gaussian s.d. of one dot, µm.
    k_mad, threshold_method, threshold_her2, threshold_cep17, roi_mask, min_area_um2, max_area_um2,
    min_solidity, focus_min_ratio, cluster_max_um, nuclei_labels
        As in :func:`count_fish`. Thresholds are in stain-amount (OD) units.
    segmentation_grid_um : float or None, optional
        The hematoxylin amount is segmented on block means about this coarse, µm
        (default ~0.4 µm, ~20 grid pixels across a 9 µm nucleus); None segments at
        full resolution.
    nuclei_despeckle_um : float, optional
        Width of a median filter on that grid, µm (default 2 µm): removes the
        chromogen dots (< 1 µm) that remain in the hematoxylin amount, so that
        they neither hold the threshold up (silver) nor punch holes (red). 0 = off.
    nuclei_background_um : float, optional
        The local background, a grey opening this wide (µm; default 18 µm, about
        two nucleus diameters) smoothed by a mean as wide, is subtracted before
        thresholding: pale nuclei sit on unevenly lit, tinted cytoplasm and
        stroma. 0 = off.
    nuclei_threshold_factor : float, optional
        Foreground threshold = this x Otsu's threshold of the background-subtracted
        amount (default 0.65). Otsu alone splits pale from dark nuclei when both
        occur (real Dual ISH fields), dropping the pale ones; 0.65 was chosen on the
        REF_DISH outlines of the PCM_fish_dish fields (benchmarks/README.md).
    nuclei_split_h_um : float, optional
        Height, µm, of a distance-transform peak over the saddle to its
        neighbour above which touching nuclei are split (default 0.25 µm; FISH
        uses 0.5 µm): a lower foreground threshold joins pale nuclei by wider necks.
    nuclei_core_fraction : float, optional
        Touching nuclei are split at the valleys of the hematoxylin amount
        (default 0.5; 0 = by shape only): the cores where the amount exceeds this
        fraction of its maximum within ``nuclei_core_window_um`` seed a watershed
        of the amount inside the foreground. A blurred nucleus's edge lies near
        half its own height, so dark touching nuclei that the low threshold above
        joins (most lost REF_DISH nuclei, benchmarks/README.md) separate, while
        outlines keep that threshold's extent.
    nuclei_core_window_um : float, optional
        Width of that maximum filter, µm (default 9 µm, about one nucleus
        diameter: every pixel of a nucleus sees its own peak).
    single_signal_reference : {"clear-mode", "median"}, optional
        How the typical single dot, against which clusters are estimated, is
        found. ``"clear-mode"`` (default): the most common peak height (log-scale
        density mode, :data:`REFERENCE_MODE_BANDWIDTH`) among the clear signals
        inside nuclei (LoG response >= ``WEAK_SIGNAL_FACTOR`` x threshold), and a
        bright region wider than a ``cluster_max_um`` disc is texture, not a
        cluster. Real fields carry many faint detections (red haze, hematoxylin
        texture in the silver amount); with ``"median"`` (the FISH rule: the
        median height of all detections) they set the reference and single dots
        were estimated as 4-15 copy clusters on the PCM_fish_dish fields. The
        mask threshold (half that height) and the single-signal intensity and
        area are in :attr:`IshImageResult.her2` / ``.cep17``.

    Returns
    -------
    IshImageResult
        Dual ISH: ``.guideline_input`` is the dual-probe block; CISH: the
        single-probe block ``{"probe": "single", "cells_counted": n, "her2_mean": x}``.

    Raises
    ------
    ImageInputError
        Not uint8 RGB; a fluorescence image; stains missing a role.
    Her2kitInputError
        Unknown assay; bad options.
    """
    if assay not in ("dual-ish", "cish"):
        raise Her2kitInputError(f"expected 'dual-ish' or 'cish', got {assay!r}", field="assay")
    px = check_pixel_size(pixel_size_um)
    shared = _shared_options(
        spot_sigma_um=spot_sigma_um,
        k_mad=k_mad,
        threshold_method=threshold_method,
        min_area_um2=min_area_um2,
        max_area_um2=max_area_um2,
        min_solidity=min_solidity,
        focus_min_ratio=focus_min_ratio,
        cluster_max_um=cluster_max_um,
    )
    if segmentation_grid_um is not None:
        check_positive(segmentation_grid_um, name="segmentation_grid_um", unit="µm")
    for name, v in (("nuclei_despeckle_um", nuclei_despeckle_um),
                    ("nuclei_background_um", nuclei_background_um)):
        if not float(v) >= 0:
            raise Her2kitInputError(f"expected >= 0 µm, got {v!r}", field=name)
    check_positive(nuclei_threshold_factor, name="nuclei_threshold_factor", unit="x Otsu")
    check_positive(nuclei_split_h_um, name="nuclei_split_h_um", unit="µm")
    if not 0 <= nuclei_core_fraction < 1:
        raise Her2kitInputError(f"expected 0 <= value < 1, got {nuclei_core_fraction}",
                                field="nuclei_core_fraction")
    check_positive(nuclei_core_window_um, name="nuclei_core_window_um", unit="µm")
    check_choice(single_signal_reference, SINGLE_SIGNAL_REFERENCES,
                 name="single_signal_reference")
    rgb = check_brightfield_rgb(rgb)
    stains = (
        dict(stains)
        if stains is not None
        else dict(DUAL_ISH_STAINS if assay == "dual-ish" else CISH_STAINS)
    )
    need = {"nuclei", "her2"} | ({"cep17"} if assay == "dual-ish" else set())
    if set(stains) != need:
        raise ImageInputError(
            f"stains must name exactly {sorted(need)} for {assay}, got {sorted(stains)}",
            field="stains",
        )
    if isinstance(background_rgb, str):
        if background_rgb != "auto":
            raise Her2kitInputError(
                f"expected 'auto' or 3 values, got {background_rgb!r}", field="background_rgb"
            )
        background_rgb = estimate_background_rgb(rgb)
    vectors = {k: _stain_vector(v) for k, v in stains.items()}
    if estimate_stains:
        vectors = estimate_ish_stains(rgb, stains=stains, background_rgb=background_rgb)
    split = False
    if assay == "cish":
        # Two stains leave one OD direction unused; a residual (cross product) third
        # vector absorbs what neither explains instead of leaking it into DAB.
        resid = np.cross(vectors["nuclei"], vectors["her2"])
        amounts = separate_ish_stains(rgb, stains={**vectors, "_residual": tuple(resid)},
                                      background_rgb=background_rgb, clip=False)
        amounts["nuclei"] = np.maximum(amounts["nuclei"], 0.0)
    else:
        cos_hs = float(np.dot(vectors["nuclei"], vectors["her2"]))
        split = cos_hs > np.cos(np.deg2rad(MIN_NUCLEI_SILVER_ANGLE_DEG))
        # Nuclei always come from a {hematoxylin, red} solve: silver dots lie inside
        # nuclei, so their OD in the nuclear amount does no harm (the despeckle
        # filter removes them), while a 3-stain solve with silver and hematoxylin
        # < ~20 degrees apart (the reference vectors are 19 degrees apart) turns the
        # nuclear amount into noise: on real fields with 16 degrees it was lower in
        # the nuclei than around them. The red amount is added too: CEP17 dots lie
        # in the nuclei, and where hematoxylin is pale a red dot near the rim would
        # otherwise cut a notch that leaves the dot outside its nucleus.
        nuc = separate_ish_stains(
            rgb, stains={"nuclei": vectors["nuclei"], "cep17": vectors["cep17"]},
            background_rgb=background_rgb,
        )
        nuc["nuclei"] = nuc["nuclei"] + nuc["cep17"]
        if split:
            # Silver and hematoxylin nearly share a hue here: a 3-stain solve would
            # amplify noise without separating them. Solve twice with 2 stains:
            # {silver, red} for the signals (hematoxylin lands in the silver amount
            # as a smooth nuclear background that the LoG filter and the local
            # background subtraction remove) and {hematoxylin, red} for the nuclei
            # (silver dots add to the nuclear amount instead of punching holes).
            sig = separate_ish_stains(
                rgb, stains={"her2": vectors["her2"], "cep17": vectors["cep17"]},
                background_rgb=background_rgb, clip=False,
            )
            amounts = {"nuclei": nuc["nuclei"], **sig}
        else:
            amounts = separate_ish_stains(
                rgb, stains=vectors, background_rgb=background_rgb, clip=False
            )
            amounts["nuclei"] = nuc["nuclei"]
    # Segmentation settings, passed to _segment and recorded as nuclei_<name>.
    seg_options = dict(
        despeckle_um=float(nuclei_despeckle_um),
        background_um=float(nuclei_background_um),
        threshold_factor=float(nuclei_threshold_factor),
        split_h_um=float(nuclei_split_h_um),
        core_fraction=float(nuclei_core_fraction),
        core_window_um=float(nuclei_core_window_um),
    )
    params = dict(
        assay=assay,
        pixel_size_um=px,
        **shared,
        stains={k: (v if isinstance(v, str) else tuple(v)) for k, v in stains.items()},
        stain_vectors={k: tuple(round(float(x), 4) for x in v) for k, v in vectors.items()},
        stains_estimated=bool(estimate_stains),
        stain_separation="two 2-stain solves" if split else "one solve",
        background_rgb=tuple(float(v) for v in background_rgb),
        segmentation_grid_um=segmentation_grid_um,
        **{f"nuclei_{k}": v for k, v in seg_options.items()},
        single_signal_reference=single_signal_reference,
    )
    return _count(
        amounts["nuclei"],
        amounts["her2"],
        amounts.get("cep17") if assay == "dual-ish" else None,
        assay=assay,
        px=px,
        roi_mask=roi_mask,
        threshold_her2=threshold_her2,
        threshold_cep17=threshold_cep17,
        nuclei_labels=nuclei_labels,
        params=params,
        grid_um=segmentation_grid_um,
        seg_options=seg_options,
        single_signal_reference=single_signal_reference,
        **shared,
    )


# --------------------------------------------------------------------------- several fields
@dataclass(frozen=True, eq=False)
class IshFieldsResult:
    """Counts pooled over several fields of one slide, as a technologist counts them.

    The counted nuclei of every field are one population: means, ratio, group and
    heterogeneity are over all of them, and ``too_few_nuclei`` is judged on the pooled
    count. Each field keeps its own result (thresholds, flags, exclusions) in ``fields``.

    Attributes
    ----------
    fields : tuple of IshImageResult
        One per field, in the order given.
    names : tuple of str
        A name per field (e.g. the file name), same order.
    assay, probe : str
        As in :class:`IshImageResult` (the same for every field).
    n_counted : int
        Nuclei counted over all fields.
    her2_mean, cep17_mean, ratio : float or None
        Over all counted nuclei (as in :class:`IshImageResult`).
    quality_flags : tuple of str
        ``too_few_nuclei`` when fewer than :data:`MIN_NUCLEI` are counted in all; any
        other flag raised in a field, once.
    heterogeneity : Heterogeneity or None
        Over all counted nuclei.
    """

    fields: tuple[IshImageResult, ...]
    names: tuple[str, ...]
    assay: str
    probe: str
    n_counted: int
    her2_mean: float | None
    cep17_mean: float | None
    ratio: float | None
    quality_flags: tuple[str, ...]
    heterogeneity: Heterogeneity | None

    @property
    def counted(self) -> tuple[NucleusRecord, ...]:
        """The included nuclei of all fields, field by field."""
        return tuple(n for f in self.fields for n in f.counted)

    @property
    def nuclei(self) -> tuple[NucleusRecord, ...]:
        """Every segmented nucleus of all fields, field by field."""
        return tuple(n for f in self.fields for n in f.nuclei)

    @property
    def guideline_input(self) -> dict:
        """The ``ish`` block for :mod:`her2kit.guideline` over all counted nuclei."""
        if self.probe == "dual":
            return {"probe": "dual", "nuclei": [[n.her2, n.cep17] for n in self.counted]}
        return {
            "probe": "single",
            "cells_counted": self.n_counted,
            "her2_mean": self.her2_mean if self.her2_mean is not None else 0.0,
        }

    def table(self) -> list[dict]:
        """The per-nucleus table of all fields, with a leading ``field`` column (its name)."""
        return [{"field": name, **row} for name, f in zip(self.names, self.fields, strict=True)
                for row in f.table()]


def pool_fields(results: Sequence[IshImageResult], names: Sequence[str]) -> IshFieldsResult:
    """Pool the counted nuclei of several fields of one slide into one count.

    ASCO/CAP asks for at least 20 countable nuclei, which one high-magnification field
    often does not hold (a 100x brightfield field is ~100 µm wide); technologists count
    across fields. Each field must be counted with the same assay.

    Parameters
    ----------
    results : sequence of IshImageResult
        The fields' results (:func:`count_fish` or :func:`count_brightfield_ish`).
    names : sequence of str
        A distinct name per field (the file names), for the table and the evidence.

    Returns
    -------
    IshFieldsResult

    Raises
    ------
    Her2kitInputError
        No fields, names not matching, or fields of different assays.
    """
    results = tuple(results)
    names = tuple(str(n) for n in names)
    if not results:
        raise Her2kitInputError("no fields to pool", field="fields")
    if len(names) != len(results) or len(set(names)) != len(names):
        raise Her2kitInputError("give one distinct name per field", field="names")
    assays = {r.assay for r in results}
    if len(assays) != 1:
        raise Her2kitInputError(f"fields of different assays: {sorted(assays)}", field="fields")
    probe = results[0].probe
    counted = [n for r in results for n in r.counted]
    nc = len(counted)
    her2_mean = float(np.mean([n.her2 for n in counted])) if nc else None
    cep17_mean = (float(np.mean([n.cep17 for n in counted])) if nc and probe == "dual"
                  else None)
    flags = ["too_few_nuclei"] if nc < MIN_NUCLEI else []
    for r in results:
        flags += [f for f in r.quality_flags if f != "too_few_nuclei" and f not in flags]
    return IshFieldsResult(
        fields=results,
        names=names,
        assay=results[0].assay,
        probe=probe,
        n_counted=nc,
        her2_mean=her2_mean,
        cep17_mean=cep17_mean,
        ratio=her2_mean / cep17_mean if cep17_mean else None,
        quality_flags=tuple(flags),
        heterogeneity=_heterogeneity(counted, dual=probe == "dual"),
    )

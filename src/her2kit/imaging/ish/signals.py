"""Probe signals of ISH images: detection, crosstalk, local background, clusters.

1. :func:`~her2kit.imaging.ish.spots.detect_spots` on each probe channel, the noise
   measured inside the nuclei; FISH detections seen in both channels are kept in the
   stronger one only (:func:`_resolve_crosstalk`).
2. Clusters: the probe channel minus a morphological background (grey opening wider
   than a cluster) is thresholded at half the typical signal height (FISH: the median
   detection; brightfield: the dominant height of the clear signals inside nuclei, as
   faint smudges and texture would otherwise set it); connected regions whose area is
   at least ``CLUSTER_AREA_FACTOR`` single signals and whose integrated intensity is at
   least ``CLUSTER_MIN_COPIES`` single signals are clusters. Their copies = integrated
   intensity / median integrated intensity of single signals (never fewer than the
   maxima inside), as ASCO/CAP allows cluster estimation.
3. Quality measures (:func:`signal_quality_stage`): the share of weak signals and of
   signals outside nuclei, and the image flags that need no guideline.

The constants here are calibrated on the synthetic and real fields (not guideline
numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
from scipy import ndimage as ndi

from her2kit.imaging.filters import block_mean, smooth
from her2kit.imaging.ish.results import ClusterRecord, ProbeSignals
from her2kit.imaging.ish.silver import LOCAL_MIN_PX, at_field_threshold, local_silver
from her2kit.imaging.ish.spots import DEFAULT_K_MAD, SpotDetection, detect_spots, log_filter
from her2kit.imaging.segment._packed import _grey_opening, _odd, _pad_to, _upsample
from her2kit.imaging.segment.ish_nuclei import NucleusGeometry

__all__ = [
    "CLEAR_MIN_SHARE",
    "CLUSTER_AREA_FACTOR",
    "CLUSTER_MIN_COPIES",
    "CLUSTER_MIN_COPIES_BRIGHTFIELD",
    "DENSE_OVERLAP_FACTOR",
    "DENSE_SILVER_SHARE",
    "DENSE_SILVER_SHARE_DEFAULT",
    "HIGH_BACKGROUND_RATIO",
    "JPEG_MERGED_PEAK_FACTOR",
    "LOCAL_MIN_PX",
    "LOCAL_THRESHOLD_MAX",
    "LOWEST_MODE_SHARE",
    "PILED_PEAK_FACTOR",
    "PLATEAU_AREA_PER_PEAK",
    "REFERENCE_MODE_BANDWIDTH",
    "SILVER_IN_RED_MAX_SHARE",
    "SINGLE_SIGNAL_REFERENCES",
    "WEAK_SIGNAL_FACTOR",
    "SignalOptions",
    "SignalQuality",
    "SignalsStage",
    "probe_signals_stage",
    "signal_quality_stage",
    "twin_red_reference",
    "weak_reference",
]

#: A signal whose LoG response is below this multiple of the threshold is "weak".
WEAK_SIGNAL_FACTOR = 1.5


#: High background: median signal height above background below this fraction
#: of the nuclear background level (signals barely distinguishable by eye).
HIGH_BACKGROUND_RATIO = 0.5


#: A bright region is a cluster candidate from this many single-signal areas on.
CLUSTER_AREA_FACTOR = 2.0


#: ... and when its integrated intensity is at least this many single signals.
CLUSTER_MIN_COPIES = 3.0


#: Dual ISH silver: a dense (opaque) candidate region is a cluster from this many single
#: signals on (FISH, red, CISH and regions that are not dense keep
#: :data:`CLUSTER_MIN_COPIES`). Three partly merged silver copies read 2.2-2.9 single
#: dots (their half-height masks overlap; the single dot is the 75th percentile of the
#: isolated ones): at 3.0 the generated 3-copy aggregates of moderate amplification
#: counted 1 each (benchmarks/ish_amp.py, issue 11 branch amp). 2.5 also made two
#: touching dark single dots of one maximum (2.61) a 3-copy cluster on the realistic
#: group4 field (seed 1); 2.75 keeps them 1.
CLUSTER_MIN_COPIES_BRIGHTFIELD = 2.75


#: Dual ISH: a silver cluster whose area holds at least this much red per unit of silver
#: (amounts from the pixels' colour alone, ``count._colour_od``; means over a disc of the
#: cluster's area) is the dark core of a red aggregate, not HER2 copies: it counts its
#: silver maxima only. Measured (lead, 2026-12-01): on the tuning field DISH3 at 0.25
#: µm/px two silver clusters read 3.85 (a red aggregate with a small silver dot, 5 copies
#: before) and 0.70 (32 copies, an edge nucleus); every other silver cluster of DISH1 /
#: DISH3 at 0.065 and 0.25 µm/px (lossless and JPEG 80) reads at most 0.20, those of the
#: generated amplified fields (seeds 1-3, both cluster shapes, 0.065 / 0.25 / 0.25 + JPEG
#: 80, 18 counts, 655 clusters) at most 0.21.
SILVER_IN_RED_MAX_SHARE = 0.5


#: Dual ISH silver: a cluster candidate of one maximum that is not dense is one dot on a
#: plateau of nuclear texture, not a cluster, when its mask area (in single-dot areas)
#: is more than this many times its peak (in single-dot heights: the dominant height,
#: twice the mask threshold). Copies merged into one maximum pile up, so their peak
#: rises with their area (a dark single dot's area grows only with the log of its
#: amount); a dot whose half-height mask spreads over hematoxylin texture keeps a
#: single dot's peak over many single areas, and the texture's amount made it 3-5
#: copies. Dense (opaque) silver is exempt: its clipped peak says nothing of its area.
#: Measured (issue 11, branch dish3clust): on the tuning field DISH3 at 0.25 µm/px the
#: four such "clusters" (3-5 copies each: a faint dot in a texture patch, a nucleus's
#: dark rim) read 6.3-11.0 and DISH1 at 0.065 µm/px two (a single dark dot, a diffuse
#: texture patch; 6 and 5 copies) 5.3 and 10.0, while every generated true cluster of
#: one maximum (benchmarks/ish_amp.py, seeds 1-3, both shapes, 0.065 / 0.25 / 0.25 +
#: JPEG 80: 1234, 34 of them not dense) reads at most 4.49 (not dense: 3.98).
PLATEAU_AREA_PER_PEAK = 5.0


#: Dual ISH silver (``silver_piled_peak``): a region of one maximum whose peak (the
#: smoothed top-hat amount) is at least this many typical single-dot heights (twice the
#: mask threshold) holds copies piled up on each other, and may be a cluster from
#: ``silver_dense_min_copies`` single dots as dense (opaque) silver may: the stack's
#: amount is clipped like dense silver's, though no pixel need be opaque. The same
#: factor as :data:`JPEG_MERGED_PEAK_FACTOR`, the peak that tells merged copies from
#: single dots (single dots of the tuning fields q90 0.9 / 1.28 typical heights).
#: Measured (branch redclust): on the realistic generator's amplified fields after JPEG
#: 80 at 0.25 µm/px (benchmarks/ish_amp.py, seeds 1-3) +12 silver clusters within 30 %
#: and HER2 error 1-2 points lower in 5 of 8 rows; lossless rows unchanged. On the
#: non-amplified tuning fields it fixes no nucleus (DISH3's black aggregate at (142, 175),
#: 2.76 single dots, peak 2.72, is a red-share case, :data:`SILVER_IN_RED_MAX_SHARE`)
#: and reads two dark single dots as 3-copy clusters (DISH3 at 0.15 µm/px, and at 0.25
#: after JPEG 80: hand 3 / 4, counted 6 / 6).
PILED_PEAK_FACTOR = 1.5


#: Dual ISH silver: the clear signals set the typical single dot only while they are at
#: least this share of the detections inside nuclei; below it (a JPEG-raised threshold
#: leaves only the dense aggregates of an amplified field clear: 12 of 82 detections,
#: and every aggregate then read as one "single" dot) all the detections inside nuclei
#: do. The real tuning fields hold 0.48-0.75 clear, the generated ones 0.66-0.92.
CLEAR_MIN_SHARE = 0.3


#: Dual ISH silver: the typical single dot is the lowest peak of the clear heights'
#: density that reaches this share of its highest peak (not the highest one): in a
#: moderately amplified field after JPEG the aggregates (31 clear, twice a dot's height)
#: outnumbered the clear single dots (21) and every aggregate read one "single" dot.
LOWEST_MODE_SHARE = 0.5


#: Dual ISH silver in a JPEG-degraded field (``silver_jpeg_merged_peak``): a region of one
#: maximum whose peak height (the smoothed top-hat amount, as the mask) exceeds this
#: multiple of the typical single dot's height (twice the mask threshold) is several
#: copies merged into one maximum, and is left out of the single-dot references (area
#: ``a1``, amount ``i1``). JPEG quantizes the fine detail that keeps the 2-4 copies of a
#: small aggregate (0.3 µm apart) apart at 0.25 µm/px, while their summed height stays:
#: on the realistic generator's moderate amplification (benchmarks/ish_amp.py, mod-3.4
#: aggregates, seed 1) merged 3-copy aggregates were 3 of the 58 "single" regions
#: lossless, 8 of 61 at quality 80 and 15 of 66 at 70; ``a1`` rose 4 -> 5-7 px, ``i1``
#: 2.55 -> 3.3-4.9, and the cluster copies of seeds 1-3 fell 147 -> 103 (210-216 true).
#: Measured peak / typical height: single dots q90 1.02-1.32 (generated, JPEG 70-90) and
#: 0.84-1.26 (the tuning fields DISH1 / DISH3, lossless and JPEG 70-90); merged 3-copy
#: aggregates median 1.47-2.59, q10 1.27-2.14 (1.11 / 0.94 where the typical height was
#: itself read from aggregates, seed 3 at quality 70). 1.3 / 1.4 / 1.5 / 1.75 / 2.0: mean
#: |HER2 error| of 12 JPEG rows (mod-2.7 / mod-3.4, both shapes, quality 70 / 80 / 90,
#: seeds 1-3) 17 / 19 / 21 / 24 / 25 % (29 % without), DISH3 at JPEG 80 found ratio 1.22
#: / 1.22 / 1.16 / 1.13 / 1.13 (1.13 without, 1.11 by hand; before branch redjpeg, with
#: it 0.96 without, 0.98 with 1.5): 1.5, above every field's single dots.
JPEG_MERGED_PEAK_FACTOR = 1.5


#: Dual ISH: a silver region is dense (opaque) silver when at least this share of
#: its mask pixels is opaque (dark in every colour channel, see
#: ``BrightfieldIshOptions.silver_opaque_transmittance``): then it may be as wide as
#: ``silver_dense_cluster_max_um``. A quarter: the opaque core of a blurred dense
#: aggregate fills most of its half-height mask, while a single dot's core pixel or
#: JPEG speckle in a texture region is a few px of hundreds.
DENSE_SILVER_SHARE = 0.1


#: Dual ISH (``BrightfieldIshOptions`` defaults since issue 11, branch clusters): the
#: dense-silver share of regions within the ``cluster_max_um`` disc (wider ones keep
#: ``DENSE_SILVER_SHARE``): the realistic generator's 4-5 copy aggregates hold 12-13 %
#: opaque px on average (seeds 1000-1002), about half of them below 0.1, and were then
#: not dense: their clipped amount read 2-3 copies (18 of 48 not reported as clusters).
#: Touching dark single dots that pass it are kept from the area credit by the
#: per-maximum rule (``silver_dense_per_maximum``).
DENSE_SILVER_SHARE_DEFAULT = 0.05
#: ... and the area credit's overlap factor: the half-height mask of a dense aggregate
#: counts overlapping copies once, so its area over the single dot's reads 0.75-0.8
#: of the copies on the realistic generator (4-10 copies, seeds 1000-1002, mean of
#: area / a1 / copies). The area beyond the first ``CLUSTER_AREA_FACTOR`` single
#: areas is multiplied by it (two dots side by side barely overlap: x 1.25 on the
#: whole area made a 3-single-area region of one maximum in a default-generator
#: nucleus without clusters read 4). 1.25 chosen on
#: those fields (1.0 / 1.15 / 1.25 / 1.35: 78 / 84 / 84 / 82 % of the aggregates
#: within 30 %). Not measurable on the real tuning fields (DISH1 / DISH3 hold 4 /
#: 187 opaque px and no dense region; their counts are unchanged by it).
DENSE_OVERLAP_FACTOR = 1.25


#: Dual ISH per-nucleus silver threshold (``silver_local_k``) before branch silverdots:
#: at most this multiple of the field's automatic threshold (never below it; k = 4
#: took HER2 within ±1 on DISH1/DISH3 from 82 to 91 %). Now the options
#: ``silver_local_min_factor`` / ``silver_local_max_factor``
#: (:mod:`her2kit.imaging.ish.silver`); this is their pre-silverdots upper bound.
LOCAL_THRESHOLD_MAX = 1.2


#: Bandwidth (decades) of the log-height density whose mode is the typical
#: single brightfield dot (``single_signal_reference="clear-mode"``): 0.1 decade
#: (26 %) is wider than the 20 % spread of single signals, narrower than the
#: factor ~2 between a single dot and two overlapping ones.
REFERENCE_MODE_BANDWIDTH = 0.1


#: How the typical single signal is found (``single_signal_reference`` of
#: :func:`count_brightfield_ish`; FISH always uses ``"median"``).
SINGLE_SIGNAL_REFERENCES = ("clear-mode", "median")
#: Default LoG spot scale, µm (a diffraction-limited ISH dot), and the largest cluster
#: extent expected, µm: shared by :class:`SignalOptions` and the counters' options.
DEFAULT_SPOT_SIGMA_UM = 0.25
DEFAULT_CLUSTER_MAX_UM = 2.0


def _detect(ch, *, pixel_size_um, spot_sigma_um, threshold, k_mad, threshold_method, noise_mask):
    return detect_spots(
        ch,
        pixel_size_um=pixel_size_um,
        spot_sigma_um=spot_sigma_um,
        threshold=threshold,
        k_mad=k_mad,
        threshold_method=threshold_method,
        noise_mask=noise_mask,
        filtered=log_filter(ch, sigma_px=spot_sigma_um / pixel_size_um),
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


def _drop_diffuse_both(her2_channel, cep17_channel, det_h, det_c, *, pixel_size_um,
                       spot_sigma_um, width_factors):
    """Both probes' detections without their diffuse blobs, and the number dropped."""
    from her2kit.imaging.ish.diffuse import drop_diffuse

    out, dropped = [], 0
    for ch, det, wf in ((her2_channel, det_h, width_factors[0]),
                        (cep17_channel, det_c, width_factors[1])):
        if not wf > 0:
            out.append(det)
            continue
        keep, _ = drop_diffuse(np.asarray(ch, np.float32), det, pixel_size_um=pixel_size_um,
                               spot_sigma_um=spot_sigma_um, width_factor=wf)
        out.append(det if keep.all() else _subset(det, keep))
        dropped += int((~keep).sum())
    return out[0], out[1], dropped


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
    pixel_size_um,
    spot_sigma_um,
    threshold,
    k_mad,
    threshold_method,
    noise_mask,
    cluster_max_um,
    det=None,
    bg=None,
    reference="median",
    single_percentile=50.0,
    opaque=None,
    dense_cluster_max_um=None,
    doublet_min_ratio=0.0,
    dense_share=DENSE_SILVER_SHARE,
    dense_area_factor=1.0,
    dense_per_maximum=False,
    dense_min_copies=CLUSTER_MIN_COPIES_BRIGHTFIELD,
    merged_peak=0.0,
    plateau_area_per_peak=0.0,
    piled_peak=0.0,
    maxima_area_cap=False,
) -> ProbeSignals:
    """Detections of one probe, their nuclei, and clusters with copy estimates.

    ``reference`` sets the typical single-signal height: the cluster mask is
    thresholded at half of it, which in turn sets the single-signal reference
    (``i1``, ``a1``). ``"median"`` = the median height of all detections (FISH;
    no cluster extent bound); ``"clear-mode"`` = the dominant mode
    (:func:`_dominant_mode`) of the heights of the clear signals inside nuclei
    (LoG response at least ``WEAK_SIGNAL_FACTOR`` x the threshold), and a
    region wider than a ``cluster_max_um`` disc is not a cluster (brightfield;
    see :func:`~her2kit.imaging.ish.count.count_brightfield_ish`).

    ``opaque`` (bool array, optional): pixels of opaque (dense) silver, whose amount
    is clipped; cluster candidates are credited for them (:func:`_dense_credit`) and a
    region mostly opaque may be as wide as ``dense_cluster_max_um``.

    ``doublet_min_ratio`` (> 1, optional): a detection whose half-maximum region is
    elongated at least this much (major / minor s.d.) is two touching signals
    (:func:`~her2kit.imaging.ish.doublets.split_doublets`); 0 = off.

    ``merged_peak`` (> 0, Dual ISH silver only): regions of one maximum whose peak
    exceeds this x the typical single height are left out of the single-dot
    references (:data:`JPEG_MERGED_PEAK_FACTOR`; 0 = off).
    ``plateau_area_per_peak`` (> 0, with ``opaque``): see :data:`PLATEAU_AREA_PER_PEAK`.
    ``piled_peak`` (> 0, with ``opaque``): see :data:`PILED_PEAK_FACTOR`.
    ``maxima_area_cap``: a region outside clusters counts at most ``ceil(area / a1)``
    of its maxima (:func:`_cap_maxima`).
    """
    ch = np.asarray(channel, np.float32)
    sigma_px = spot_sigma_um / pixel_size_um
    if det is None:
        det = _detect(ch, pixel_size_um=pixel_size_um, spot_sigma_um=spot_sigma_um,
                      threshold=threshold, k_mad=k_mad, threshold_method=threshold_method,
                      noise_mask=noise_mask)
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
        bg = _background(ch, labels, pixel_size_um=pixel_size_um,
                         cluster_max_um=cluster_max_um, sigma_px=sigma_px)
    _, sm = _top_smooth(ch, bg, 0.5 * sigma_px, keep_top=False)
    clear_mode = reference == "clear-mode"
    # Dual ISH silver (the opaque mask is given for it only): the rules of branch amp.
    silver = clear_mode and opaque is not None
    mask_thr = _mask_threshold(sm[rr, cc], nid, det, clear_mode=clear_mode,
                               min_clear_share=CLEAR_MIN_SHARE if silver else 0.0,
                               lowest_share=LOWEST_MODE_SHARE if silver else None)
    if not mask_thr > 0:
        return empty
    reg = _regions(ch, bg, sm, mask_thr, rr, cc, nid, sigma_px)
    one = (reg.maxima == 1) & reg.inside
    one[0] = False
    if one.sum() < 3:
        det, nid, in_cluster = _split_doublets(det, in_cluster, reg, sm, labels, sigma_px,
                                               doublet_min_ratio)
        return ProbeSignals(probe, det, nid, in_cluster, (), None, None, float(mask_thr))
    # Region peaks in single-dot heights, for the merged-copies and plateau rules.
    peak = (_region_peaks(reg, sm) / (2.0 * mask_thr) if silver and (
        merged_peak > 0 or plateau_area_per_peak > 0 or piled_peak > 0) else None)
    merged = 0
    if silver and merged_peak > 0:
        one, merged = _without_merged(one, peak, merged_peak)
    a1 = float(np.median(reg.area[one]))
    single = one & (reg.area <= 2.0 * a1)
    # The median (default) keeps the pre-issue-11 numbers bit for bit.
    i1 = float(np.median(reg.integ[single]) if single_percentile == 50.0
               else np.percentile(reg.integ[single], single_percentile))
    dense = None
    if opaque is not None:
        compact_px = np.pi * (0.5 * cluster_max_um / pixel_size_um) ** 2
        reg, dense = _dense_credit(reg, np.asarray(opaque, bool), a1, i1,
                                   share=dense_share, area_factor=dense_area_factor,
                                   per_maximum=dense_per_maximum, compact_px=compact_px)
    is_cluster = _is_cluster(reg, a1, i1, pixel_size_um=pixel_size_um,
                             cluster_max_um=cluster_max_um, clear_mode=clear_mode,
                             dense=dense, dense_cluster_max_um=dense_cluster_max_um,
                             min_copies=dense_min_copies if silver else CLUSTER_MIN_COPIES,
                             peak=peak, plateau_area_per_peak=plateau_area_per_peak,
                             piled_peak=piled_peak)
    clusters = _cluster_records(reg, is_cluster, i1, sm, labels, probe=probe,
                                pixel_size_um=pixel_size_um)
    if clusters:
        in_cluster = is_cluster[reg.spot_comp]
    n_det = det.n
    if maxima_area_cap:
        det, nid, in_cluster, reg = _cap_maxima(det, nid, in_cluster, reg, is_cluster, a1)
    # Doublets last, outside clusters: a cluster's copies come from its amount.
    det, nid, in_cluster = _split_doublets(det, in_cluster, reg, sm, labels, sigma_px,
                                           doublet_min_ratio)
    return ProbeSignals(
        probe, det, nid, in_cluster, clusters, i1,
        float(a1 * pixel_size_um * pixel_size_um), float(mask_thr), merged, n_det - det.n,
    )


def _without_merged(one: np.ndarray, peak: np.ndarray, max_peak: float
                    ) -> tuple[np.ndarray, int]:
    """``one`` (regions of one maximum inside nuclei) without those whose ``peak`` (per
    region, in single-dot heights) exceeds ``max_peak`` (merged copies,
    :data:`JPEG_MERGED_PEAK_FACTOR`), and how many were left out; ``one`` unchanged when
    fewer than 3 would remain."""
    keep = one & (peak <= max_peak)
    if keep.sum() < 3:
        return one, 0
    return keep, int(one.sum() - keep.sum())


def _split_doublets(det: SpotDetection, in_cluster, reg: _Regions, sm, labels, sigma_px,
                    min_ratio):
    """``det`` with its touching doublets as two detections each, and the detections'
    nuclei and cluster flags (``min_ratio`` <= 1: unchanged).

    Only a detection alone in its cluster-mask region and not in a cluster is tested:
    in crowded (amplified) regions the copies come from the amount, and a neighbour's
    halo would stretch the moments.
    """
    if not min_ratio > 1:
        return det, _labels_at(labels, det.coords_px), in_cluster
    from her2kit.imaging.ish.doublets import split_doublets

    free = ~in_cluster & (reg.maxima[reg.spot_comp] == 1)
    coords, resp, k = split_doublets(det.coords_px, det.response, sm, sigma_px=sigma_px,
                                     min_ratio=min_ratio, test=free)
    if k == 0:
        return det, _labels_at(labels, det.coords_px), in_cluster
    # Split detections are never in a cluster (``free``); the others keep their flag,
    # matched by position (the split pair moved off the original centre).
    flags = np.zeros(len(coords), bool)
    if in_cluster.any():
        from scipy.spatial import cKDTree

        dist, _ = cKDTree(det.coords_px[in_cluster]).query(coords)
        flags = dist == 0
    det = SpotDetection(coords, resp, det.threshold, det.threshold_method,
                        det.noise_sigma, det.k_mad, det.sigma_px, det.min_distance_px,
                        det.floor, det.valley_dip)
    return det, _labels_at(labels, det.coords_px), flags


def _labels_at(labels: np.ndarray, coords_px: np.ndarray) -> np.ndarray:
    """The label under each (row, col) centre, int32 (centres rounded, clipped)."""
    rr = np.clip(np.rint(coords_px[:, 0]).astype(int), 0, labels.shape[0] - 1)
    cc = np.clip(np.rint(coords_px[:, 1]).astype(int), 0, labels.shape[1] - 1)
    return labels[rr, cc].astype(np.int32)


def _mask_threshold(heights, nid, det: SpotDetection, *, clear_mode: bool,
                    min_clear_share: float = 0.0, lowest_share: float | None = None) -> float:
    """The cluster mask threshold: half the typical single-signal height (image units);
    ``min_clear_share``: see :data:`CLEAR_MIN_SHARE`, ``lowest_share``:
    :data:`LOWEST_MODE_SHARE`."""
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
        inside = nid > 0
        clear = inside & (det.response >= WEAK_SIGNAL_FACTOR * np.float32(det.threshold))
        if clear.sum() >= 3 and clear.sum() >= min_clear_share * inside.sum():
            return 0.5 * _dominant_mode(heights[clear], lowest_share=lowest_share)
        return 0.5 * _dominant_mode(heights[inside] if inside.sum() >= 3 else heights,
                                    lowest_share=lowest_share)
    return 0.5 * float(np.median(heights))


class _Regions(NamedTuple):
    """Connected regions of the cluster mask (index 0 = background)."""

    comp: np.ndarray  # region labels
    ncomp: int
    on: np.ndarray  # flat indices of the mask's pixels
    comp_on: np.ndarray  # their region labels
    spot_comp: np.ndarray  # region of each detection
    area: np.ndarray  # px per region, float
    maxima: np.ndarray  # detections per region
    integ: np.ndarray  # background-subtracted intensity summed over the grown region
    inside: np.ndarray  # region holds a detection inside a nucleus


def _regions(ch, bg, sm, mask_thr, rr, cc, nid, sigma_px) -> _Regions:
    """The regions of ``sm > mask_thr`` with their areas, maxima and integrated intensity."""
    fg = sm > mask_thr
    comp, ncomp = ndi.label(fg)
    spot_comp = comp[rr, cc]
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
    return _Regions(comp, ncomp, on, comp_on, spot_comp, area, maxima, integ, inside)


def _is_cluster(reg: _Regions, a1, i1, *, pixel_size_um, cluster_max_um, clear_mode,
                dense=None, dense_cluster_max_um=None,
                min_copies: float = CLUSTER_MIN_COPIES, peak=None,
                plateau_area_per_peak: float = 0.0, piled_peak: float = 0.0) -> np.ndarray:
    """Per region: a cluster (large enough, at least ``min_copies`` single signals bright,
    more copies than maxima).

    ``dense`` (bool per region, optional): opaque silver regions, which may extend to
    ``dense_cluster_max_um`` instead of ``cluster_max_um``. ``peak`` (per region, in
    single-signal heights) with ``dense`` and ``plateau_area_per_peak`` > 0: a region of
    one maximum, not dense, whose area is more than ``plateau_area_per_peak`` x ``peak``
    single areas is not a cluster (:data:`PLATEAU_AREA_PER_PEAK`). ``peak`` with
    ``dense`` and ``piled_peak`` > 0: a region of one maximum whose peak is at least
    ``piled_peak`` may be a cluster from ``min_copies`` as dense ones
    (:data:`PILED_PEAK_FACTOR`).
    """
    est = reg.integ / i1
    low_ok = True if dense is None else dense
    if peak is not None and dense is not None and piled_peak > 0:
        # Copies piled up in one maximum: the amount of the stack is clipped as dense
        # silver's is (its peak says so even where no pixel is opaque).
        low_ok = dense | ((reg.maxima == 1) & (peak >= piled_peak))
    area = reg.area
    area_um2 = area * pixel_size_um * pixel_size_um
    fits = area_um2 <= np.pi * (0.5 * cluster_max_um) ** 2
    if dense is not None and dense_cluster_max_um is not None:
        # Opaque silver is never hematoxylin texture (which transmits blue), so a
        # dense aggregate is a cluster up to the wider extent.
        fits = fits | (dense & (area_um2 <= np.pi * (0.5 * dense_cluster_max_um) ** 2))
    is_cluster = (
        reg.inside
        & (area >= CLUSTER_AREA_FACTOR * a1)
        # Brightfield: a region larger than the largest cluster expected is
        # nuclear texture (dark hematoxylin in the silver amount) above the mask,
        # not a cluster; its maxima count one each.
        & (fits | (not clear_mode))
        # Below CLUSTER_MIN_COPIES only dense (opaque) silver: on the real tuning field
        # DISH3 dark nuclear texture and red aggregates' silver leakage hold regions of
        # 2.5-3 single dots too.
        & ((est >= CLUSTER_MIN_COPIES) | ((est >= min_copies) & low_ok))
        & (est >= reg.maxima + 1)
    )
    if peak is not None and dense is not None and plateau_area_per_peak > 0:
        # One dot on a texture plateau: its area is the plateau's, its peak a dot's.
        is_cluster &= dense | (reg.maxima != 1) | (area <= plateau_area_per_peak * a1 * peak)
    is_cluster[0] = False
    return is_cluster


def _cap_maxima(det: SpotDetection, nid, in_cluster, reg: _Regions, is_cluster, a1: float):
    """Outside clusters, a region counts at most ``ceil(area / a1)`` of its maxima.

    A region can hold no more separate dots than single dots' areas fit in it, rounded
    up: two maxima in a region smaller than one single dot are one dot whose top the
    LoG split (noise on a dense dot's flat top, or its halo's shoulder), while two
    touching dots cover two single areas. The strongest maxima (LoG response) are kept.
    Returns the detections, their nuclei, cluster flags and the regions (``spot_comp``
    and ``maxima`` updated), unchanged when no region is over its cap.
    """
    cap = np.ceil(reg.area / a1) if a1 > 0 else reg.maxima.astype(float)
    over = (reg.maxima > cap) & ~is_cluster
    over[0] = False
    if not over.any():
        return det, nid, in_cluster, reg
    # Rank each detection within its region, strongest first (ties in detection order).
    order = np.lexsort((-det.response, reg.spot_comp))
    comp_sorted = reg.spot_comp[order]
    first = np.searchsorted(comp_sorted, comp_sorted, side="left")
    rank = np.arange(det.n) - first
    keep = np.ones(det.n, bool)
    keep[order] = ~(over[comp_sorted] & (rank >= cap[comp_sorted]))
    spot_comp = reg.spot_comp[keep]
    reg = reg._replace(spot_comp=spot_comp,
                       maxima=np.bincount(spot_comp, minlength=reg.ncomp + 1))
    return _subset(det, keep), nid[keep], in_cluster[keep], reg


def _region_peaks(reg: _Regions, sm: np.ndarray) -> np.ndarray:
    """The highest ``sm`` value of each region (index 0 = background: 0), float64."""
    peak = np.zeros(reg.ncomp + 1)
    np.maximum.at(peak, reg.comp_on, sm.ravel()[reg.on])
    return peak


def _dense_share(reg: _Regions, opaque: np.ndarray, share: float) -> np.ndarray:
    """Per region: True where at least ``share`` of its mask px are opaque."""
    fg = reg.comp.ravel()
    idx = np.flatnonzero(opaque.ravel() & (fg != 0))
    n_opq = np.bincount(fg[idx], minlength=reg.ncomp + 1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        dense = n_opq / reg.area >= share
    dense[0] = False
    return dense


def _dense_credit(reg: _Regions, opaque: np.ndarray, a1: float, i1: float, *,
                  share: float = DENSE_SILVER_SHARE, area_factor: float = 1.0,
                  per_maximum: bool = False, compact_px: float | None = None
                  ) -> tuple[_Regions, np.ndarray]:
    """Dense silver regions, and their copies from area where the amount saturates.

    Dense silver is opaque: the camera records a floor of light through it, so its
    amount is clipped and the integrated amount of a large aggregate reads a fraction
    of its copies (one or two "signals" for a black cluster several µm wide). A
    region is dense when at least ``share`` of its mask pixels are opaque (default
    :data:`DENSE_SILVER_SHARE`); its integrated amount is then raised to at least
    the area's single dots (``i1`` each): copies from the area over
    the single dot's where the amount saturates, from the integrated amount over the
    single dot's elsewhere. ``area_factor`` > 1 credits the copies that overlap inside
    the aggregate (its half-height mask counts overlapping dots once): the area
    beyond ``CLUSTER_AREA_FACTOR`` single areas counts ``area_factor`` x (see
    :data:`DENSE_OVERLAP_FACTOR`). ``per_maximum``: only regions wider than
    ``CLUSTER_AREA_FACTOR`` single areas per maximum are credited. With
    ``compact_px`` and ``share`` below :data:`DENSE_SILVER_SHARE`, a region wider
    than ``compact_px`` needs :data:`DENSE_SILVER_SHARE` to be dense. The
    single-dot reference is left as measured. Returns the regions with the raised
    ``integ`` and the dense flag per region.
    """
    dense = _dense_share(reg, opaque, share)
    if share < DENSE_SILVER_SHARE and compact_px is not None:
        # Below DENSE_SILVER_SHARE only compact regions (within the cluster_max_um
        # disc) are dense: on DISH3 a red aggregate around a black core is a silver
        # region of 15-22 single areas with 6-8 % opaque px (the core ~1 single area);
        # credited from its area it read 19-27 copies.
        dense &= (reg.area <= compact_px) | _dense_share(reg, opaque, DENSE_SILVER_SHARE)
    if not dense.any() or not (a1 > 0 and i1 > 0):
        return reg, dense
    credit = dense
    if per_maximum:
        # Two dark single dots whose half-height masks touch (each with its opaque
        # centre) are a region of 2 maxima and ~3.6 single areas: credited from
        # their area they read 4 copies, a false cluster. An aggregate has more
        # area per maximum than single dots do (``CLUSTER_AREA_FACTOR`` each).
        credit = dense & (reg.area > CLUSTER_AREA_FACTOR * a1 * reg.maxima)
    # Overlap hides copies in proportion to the aggregate beyond a pair: the first
    # CLUSTER_AREA_FACTOR single areas (two dots side by side barely overlap) are
    # taken as they are, the rest x ``area_factor``.
    n_area = reg.area / a1
    by_area = i1 * (n_area + (area_factor - 1.0) * np.maximum(n_area - CLUSTER_AREA_FACTOR, 0))
    integ = np.where(credit, np.maximum(reg.integ, by_area), reg.integ)
    return reg._replace(integ=integ), dense


def _cluster_records(reg: _Regions, is_cluster, i1, sm, labels, *, probe, pixel_size_um
                     ) -> tuple[ClusterRecord, ...]:
    """One record per cluster region: centre, nucleus, area, intensity and copies."""
    cl_ids = np.flatnonzero(is_cluster)
    if not cl_ids.size:
        return ()
    est = reg.integ / i1
    on, comp_on, ncomp = reg.on, reg.comp_on, reg.ncomp
    cols = reg.comp.shape[1]
    wsum = np.maximum(sm.ravel()[on], 0).astype(np.float64)
    wtot = np.bincount(comp_on, weights=wsum, minlength=ncomp + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        com_r = np.bincount(comp_on, weights=wsum * (on // cols), minlength=ncomp + 1) / wtot
        com_c = np.bincount(comp_on, weights=wsum * (on % cols), minlength=ncomp + 1) / wtot
    clusters = []
    for cid in cl_ids:
        r, c = float(com_r[cid]), float(com_c[cid])
        copies = int(max(reg.maxima[cid], round(float(est[cid]))))
        ri, ci = round(r), round(c)
        clusters.append(
            ClusterRecord(
                probe,
                r,
                c,
                int(labels[ri, ci]),
                float(reg.area[cid] * pixel_size_um * pixel_size_um),
                float(reg.integ[cid]),
                copies,
                int(reg.maxima[cid]),
            )
        )
    return tuple(clusters)


def _dominant_mode(values: np.ndarray,
                   bandwidth_decades: float = REFERENCE_MODE_BANDWIDTH,
                   lowest_share: float | None = None) -> float:
    """The highest-density value of the positive ``values`` on a log scale (same units).

    A Gaussian kernel density of ``log10(values)`` with ``bandwidth_decades``
    bandwidth, evaluated on a grid a quarter bandwidth fine; the median when
    fewer than 3 values are positive (NaN when none is). With ``lowest_share`` (0-1):
    the lowest density peak at least this share of the highest instead.
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
    if lowest_share is None:
        return float(10 ** grid[int(np.argmax(dens))])
    pad = np.concatenate([[-np.inf], dens, [-np.inf]])
    peak = (dens >= pad[:-2]) & (dens > pad[2:]) & (dens >= lowest_share * dens.max())
    return float(10 ** grid[int(np.flatnonzero(peak)[0])])


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


def _background(ch, labels, *, pixel_size_um, cluster_max_um, sigma_px) -> _Background:
    """Local background of a probe channel, unbiased by noise (image units).

    A grey opening (minimum then maximum over a square ``w`` px wide, wider than
    any cluster) removes the signals, then a ``w``-wide mean smooths it. It runs on
    block means of about ``w / 5`` px, which also keep the minimum from following
    the low noise tail (the full-resolution version smoothed with the spot sigma
    first), and the result is repeated back to full resolution. ``offset`` is the
    median of channel minus background over the nuclei (mostly background pixels),
    to subtract so that background integrates to ~0.
    """
    w = _odd(max(2 * cluster_max_um / pixel_size_um, 6 * sigma_px))
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


def _per_nucleus(sig: ProbeSignals, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts, cluster numbers and cluster copies per label 0..n."""
    singles = np.bincount(sig.nucleus_id[~sig.in_cluster], minlength=n + 1)[: n + 1]
    n_cl = np.zeros(n + 1, int)
    cp = np.zeros(n + 1, int)
    for c in sig.clusters:
        n_cl[c.nucleus_id] += 1
        cp[c.nucleus_id] += c.copies
    return singles + cp, n_cl, cp


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
    return replace(cep17, detection=_subset(det, keep), nucleus_id=cep17.nucleus_id[keep],
                   in_cluster=cep17.in_cluster[keep])


def _drop_silver_twins(her2: ProbeSignals, cep17: ProbeSignals, radius_px: float, *,
                       red_typical: float | None = None) -> tuple[ProbeSignals, int]:
    """Drop red (CEP17) detections that are a silver dot's faint twin in the red amount.

    Silver is nearly neutral, so part of a silver dot's optical density lands in the
    red amount, where it passes the red threshold as a weak dot at the same place
    (hand-counted reference, tests/data/ish_reference: up to 2 such twins per DISH1
    nucleus, red LoG response 0.12-0.25 against 0.7-1.4 for the red dots counted by
    eye, 2-5 px from the silver dot). Of a silver and a red detection closer than
    ``radius_px`` the red one is dropped when its response, relative to the median
    response of the red detections inside nuclei, is below the silver one's
    relative to the silver median: a technologist calls the dot by the colour it
    shows most strongly. Clusters are left as they are. ``red_typical`` (LoG
    response, OD) replaces that red median (:func:`twin_red_reference`). Returns the
    CEP17 signals and the number dropped.
    """
    dh, dc = her2.detection, cep17.detection
    if dh.n == 0 or dc.n == 0 or not radius_px > 0:
        return cep17, 0
    from scipy.spatial import cKDTree

    rel_h = dh.response / np.float32(_typical_response(her2))
    rel_c = dc.response / np.float32(_typical_response(cep17) if red_typical is None
                                     else red_typical)
    keep = np.ones(dc.n, bool)
    for i, js in enumerate(cKDTree(dh.coords_px).query_ball_tree(cKDTree(dc.coords_px),
                                                                 r=radius_px)):
        for j in js:
            if rel_c[j] < rel_h[i]:
                keep[j] = False
    return _keep_signals(cep17, keep)


def _typical_response(sig: ProbeSignals, q: float = 50.0) -> float:
    """The ``q``-th percentile LoG response of a probe's detections inside nuclei."""
    r = sig.detection.response[sig.nucleus_id > 0]
    return float(np.percentile(r if r.size else sig.detection.response, q))


def twin_red_reference(cep17: ProbeSignals, min_relative: float) -> float | None:
    """The typical red dot for the silver-twin rule: the median LoG response of the red
    detections inside nuclei at or above the red floor (``min_relative`` x their 75th
    percentile, :func:`_drop_faint_red`), i.e. of the red dots that can be counted.

    The median of every red detection inside nuclei (the rule before, and the result
    here with ``min_relative`` 0) depends on how far the automatic red threshold
    reaches into the haze, which depends on the sampling: finely sampled, the LoG noise
    falls and the valley threshold drops below the haze (hand-counted reference DISH1 at
    its native 0.065 µm/px: red threshold 0.11 OD, 58 % of the red detections in nuclei
    below 0.3 x the 90th percentile, the median of all 0.34 OD, of the rest 1.07; at
    0.15-0.25 µm/px the threshold is 0.38-0.48 OD and none is). The median then sat
    among the haze, every red detection beside a silver dot looked strong relative to
    it and the silver dots' red twins were kept as CEP17 signals (DISH1 native: 5 hand
    nuclei +1 or +2 CEP17). Above the floor lie the countable red dots whatever the
    sampling (this reference: DISH1 1.05 / 0.70 OD at 0.065 / 0.25 µm/px).

    Parameters
    ----------
    cep17 : ProbeSignals
        The red signals before the twin rule.
    min_relative : float
        The red floor, x the 75th percentile (``red_min_relative``; <= 0: every
        detection).

    Returns
    -------
    float or None
        LoG response, OD; None when no red detection lies inside a nucleus.
    """
    r = cep17.detection.response[cep17.nucleus_id > 0]
    if r.size == 0:
        return None
    if min_relative > 0:
        r = r[r >= np.float32(min_relative * np.percentile(r, 75.0))]
    return float(np.median(r))


def _keep_signals(sig: ProbeSignals, keep: np.ndarray) -> tuple[ProbeSignals, int]:
    """``sig`` restricted to the detections in ``keep`` and the number dropped."""
    dropped = int((~keep).sum())
    if dropped == 0:
        return sig, 0
    return replace(sig, detection=_subset(sig.detection, keep), nucleus_id=sig.nucleus_id[keep],
                   in_cluster=sig.in_cluster[keep]), dropped


def _drop_faint_red(cep17: ProbeSignals, min_relative: float) -> tuple[ProbeSignals, int]:
    """Drop red detections fainter than ``min_relative`` x the strong red dots' response.

    The strong red dots' response is the 75th percentile of the red detections
    inside nuclei. Red haze, the shoulder of a red dot's halo and the red twins of
    silver dots pass the automatic red threshold as weak detections that a
    technologist does not count (DISH1, tests/data/ish_reference). Detections in
    clusters are kept (their copies come from the cluster).
    """
    det = cep17.detection
    if det.n == 0 or not min_relative > 0:
        return cep17, 0
    floor = np.float32(min_relative * _typical_response(cep17, 75.0))
    return _keep_signals(cep17, (det.response >= floor) | cep17.in_cluster)


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


@dataclass(frozen=True)
class SignalOptions:
    """How probe signals are detected and clusters estimated (:func:`probe_signals_stage`).

    Attributes
    ----------
    spot_sigma_um : float
        Gaussian s.d. of one signal as imaged, µm.
    k_mad : float
        Floor of the automatic spot threshold, robust noise s.d. of the LoG response.
    threshold_method : {"valley", "mad"}
        Automatic threshold per probe (:func:`~her2kit.imaging.ish.spots.detect_spots`).
    threshold_her2, threshold_cep17 : float or None
        Fixed LoG-response thresholds (image units: intensity, or stain amount in OD);
        None = automatic.
    cluster_max_um : float
        Largest cluster extent expected, µm (sets the background window).
    crosstalk_radius_um : float
        FISH: a HER2 and a CEP17 detection closer than this, µm, are one signal seen
        in both channels (0 = off).
    single_signal_reference : {"clear-mode", "median"}
        How the typical single signal is found (:data:`SINGLE_SIGNAL_REFERENCES`).
    silver_twin_radius_um : float
        Dual ISH: a red detection closer than this, µm, to a silver detection and
        weaker relative to its probe's typical dot is the silver dot's twin in the
        red amount and is dropped (:func:`_drop_silver_twins`; 0 = off).
    silver_in_red_max_share : float
        Dual ISH with ``red``: a silver cluster whose area holds at least this much red
        amount per unit of silver counts its maxima only (:data:`SILVER_IN_RED_MAX_SHARE`;
        0 = off).
    red_min_relative : float
        Dual ISH: red detections below this fraction of the strong red dots'
        response are dropped (:func:`_drop_faint_red`; 0 = off).
    red_twin_above_floor : bool
        Dual ISH: the silver-twin rule measures red detections against the red dots
        above that floor (:func:`twin_red_reference`), not against every red
        detection (False, the rule before branch native).
    cep17_cluster_max_um : float or None
        Largest CEP17 cluster extent, µm, when it differs from ``cluster_max_um``
        (None = the same): red aggregates are wider than silver ones and the red
        amount holds no hematoxylin texture to confuse with them.
    diffuse_width_factor_her2, diffuse_width_factor_cep17 : float
        FISH: weak detections wider than this x the channel's clear dots are texture
        or haze, not dots, and are dropped (:func:`~her2kit.imaging.ish.diffuse.drop_diffuse`;
        0 = off), per probe.
    silver_single_percentile, red_single_percentile : float
        Percentile (0-100) of the isolated single dots' integrated intensity used as
        each probe's single-signal reference (50 = the median).
    silver_dense_cluster_max_um : float or None
        Largest dense (opaque) silver cluster, µm; with ``her2_opaque`` given to
        :func:`probe_signals_stage` (None = no dense clusters).
    silver_local_k : float
        Dual ISH: per-nucleus silver threshold, x the nucleus's LoG MAD
        (:func:`~her2kit.imaging.ish.silver.local_silver`; 0 = off).
    silver_local_min_factor, silver_local_max_factor : float
        Dual ISH: that threshold's bounds, x the field's automatic threshold.
    silver_local_valley : bool
        Dual ISH: lower ``silver_local_k`` to the field's clear valley between texture
        and dots (:func:`~her2kit.imaging.ish.silver.field_k`).
    silver_dot_fwhm_um : float
        Dual ISH: the single silver dot's FWHM, µm, for the pixel-size correction of
        that threshold (:func:`~her2kit.imaging.ish.silver.pixel_size_factor`; 0 = off).
    silver_texture_exclude_um : float
        Dual ISH: the nucleus's texture s.d. is measured again at least this far (µm)
        from the dots its first threshold kept (:func:`~her2kit.imaging.ish.silver.
        local_silver`; 0 = off).
    doublet_ratio_her2, doublet_ratio_cep17 : float
        A detection whose half-maximum region's major / minor s.d. is at least this
        is two touching signals, per probe
        (:func:`~her2kit.imaging.ish.doublets.split_doublets`; 0 = off).
    silver_dense_share : float
        Share of a silver region's mask px that must be opaque for it to be dense.
    silver_dense_area_factor : float
        Dense regions' copies are at least this x their area over the single dot's
        (1 = area alone).
    silver_dense_per_maximum : bool
        Credit a dense region from its area only where it is wider than
        ``CLUSTER_AREA_FACTOR`` single areas per maximum.
    silver_dense_min_copies : float
        Dual ISH (with ``her2_opaque``): a dense silver region is a cluster from this
        many single dots on (:data:`CLUSTER_MIN_COPIES_BRIGHTFIELD`; others from
        :data:`CLUSTER_MIN_COPIES`).
    silver_merged_peak : float
        Dual ISH (with ``her2_opaque``): one-maximum silver regions whose peak exceeds
        this x the typical single height are left out of the single-dot references
        (:data:`JPEG_MERGED_PEAK_FACTOR`; 0 = off). The counter sets it for
        JPEG-degraded fields only.
    silver_plateau_area_per_peak : float
        Dual ISH (with ``her2_opaque``): a silver candidate of one maximum, not dense,
        wider than this x its peak single areas is one dot on texture, not a cluster
        (:data:`PLATEAU_AREA_PER_PEAK`; 0 = off).
    silver_piled_peak : float
        Dual ISH (with ``her2_opaque``): a silver region of one maximum whose peak is
        at least this many single-dot heights may be a cluster from
        ``silver_dense_min_copies`` (:data:`PILED_PEAK_FACTOR`; 0 = off).
    maxima_area_cap : bool
        Dual ISH: a silver or red region outside clusters counts at most
        ``ceil(area / single area)`` of its maxima (:func:`_cap_maxima`; False = off).
    red : RedOptions or None
        Dual ISH with ``single_signal_reference="clear-mode"``: the red signals come
        from :func:`~her2kit.imaging.ish.red.red_stage` with these options
        (:class:`~her2kit.imaging.ish.red.RedOptions`); None = the shared probe path.
    bleed_margin : float
        FISH: a detection co-located with the other probe's is its bleed-through twin
        when at most this x the field's measured bleed-through share of it
        (:func:`~her2kit.imaging.ish.fishdots.resolve_bleed`; 0 = the threshold-relative
        rule of :func:`_resolve_crosstalk`).
    faint_fraction_her2, faint_fraction_cep17 : float
        FISH: the valley threshold is at most this x the median dot's response, per
        probe (:func:`~her2kit.imaging.ish.fishdots.cap_threshold`; 0 = off).
    faint_local_k : float
        FISH: a detection between the cap and the valley is kept only when at least
        this many robust s.d. above its own nucleus's texture
        (:func:`~her2kit.imaging.ish.fishdots.local_contrast`; 0 = no such check).
    faint_width_factor : float
        FISH: ... and only when its apparent s.d. is at most this x the median of the
        detections above the valley (:func:`~her2kit.imaging.ish.fishdots.faint_dots`;
        0 = no such check).
    faint_check_fraction : float
        FISH: those two checks also apply to every detection below this x the median
        detection (automatic thresholds only; 0 = only to what the cap let in).
    granule_factor : float
        FISH: a co-located HER2 + CEP17 pair whose DAPI response exceeds this x the
        field's DAPI share at its dots is an autofluorescent granule and both are
        dropped (:func:`~her2kit.imaging.ish.fishdots.granules`; 0 = off; needs
        ``bleed_margin`` > 0 and the ``nuclear`` channel).
    """

    spot_sigma_um: float = DEFAULT_SPOT_SIGMA_UM
    k_mad: float = DEFAULT_K_MAD
    threshold_method: str = "valley"
    threshold_her2: float | None = None
    threshold_cep17: float | None = None
    cluster_max_um: float = DEFAULT_CLUSTER_MAX_UM
    crosstalk_radius_um: float = 0.0
    single_signal_reference: str = "median"
    silver_twin_radius_um: float = 0.0
    silver_in_red_max_share: float = 0.0
    red_min_relative: float = 0.0
    red_twin_above_floor: bool = False
    silver_single_percentile: float = 50.0
    cep17_cluster_max_um: float | None = None
    diffuse_width_factor_her2: float = 0.0
    diffuse_width_factor_cep17: float = 0.0
    red_single_percentile: float = 50.0
    silver_dense_cluster_max_um: float | None = None
    silver_local_k: float = 0.0
    silver_local_min_factor: float = 1.0
    silver_local_max_factor: float = LOCAL_THRESHOLD_MAX
    silver_local_valley: bool = False
    silver_dot_fwhm_um: float = 0.0
    silver_texture_exclude_um: float = 0.0
    doublet_ratio_her2: float = 0.0
    doublet_ratio_cep17: float = 0.0
    silver_dense_share: float = DENSE_SILVER_SHARE
    silver_dense_area_factor: float = 1.0
    silver_dense_per_maximum: bool = False
    silver_dense_min_copies: float = CLUSTER_MIN_COPIES_BRIGHTFIELD
    silver_merged_peak: float = 0.0
    silver_plateau_area_per_peak: float = 0.0
    silver_piled_peak: float = 0.0
    maxima_area_cap: bool = False
    # her2kit.imaging.ish.red.RedOptions: the Dual ISH red path (with "clear-mode").
    red: object | None = None
    bleed_margin: float = 0.0
    faint_fraction_her2: float = 0.0
    faint_fraction_cep17: float = 0.0
    faint_local_k: float = 0.0
    faint_width_factor: float = 0.0
    faint_check_fraction: float = 0.0
    granule_factor: float = 0.0


@dataclass(frozen=True, eq=False)
class SignalsStage:
    """The result of :func:`probe_signals_stage`.

    Attributes
    ----------
    her2, cep17 : ProbeSignals or None
        ``cep17`` None for single probe.
    her2_background : _Background or None
        The HER2 channel's local background (for the high-background check).
    her2_channel : (rows, cols) ndarray of float32
        The HER2 channel as measured.
    crosstalk_dropped : int
        Detections dropped as another probe's bleed-through.
    texture_dropped : int
        Dual ISH: silver detections below their nucleus's texture threshold
        (``SignalOptions.silver_local_k``).
    faint_kept : int
        Dual ISH: silver detections below the field's threshold kept by their
        nucleus's (``SignalOptions.silver_local_min_factor`` < 1).
    local_k_used : float or None
        Dual ISH: the multiple of each nucleus's texture s.d. applied (None = off).
    red_faint_threshold : float or None
        Dual ISH with ``SignalOptions.red``: the faint red dots' LoG threshold, OD
        (:func:`~her2kit.imaging.ish.red.add_faint_red`; None = off).
    red_faint_added : int
        ... and how many faint red dots it added.
    silver_clusters_in_red : int
        Dual ISH with ``SignalOptions.red``: silver clusters counted by their maxima
        only, being the dark core of a red aggregate (:data:`SILVER_IN_RED_MAX_SHARE`).
    red_twin_reference : float or None
        Dual ISH: the typical red dot's LoG response (OD) the silver-twin rule measured
        red detections against (:func:`twin_red_reference`); None = no rule / no red.
    fish_evidence : dict or None
        FISH: the automatic choices of :func:`~her2kit.imaging.ish.fishdots.fish_detections`
        (bleed-through shares, threshold caps, twins and granules dropped); None otherwise.
    """

    her2: ProbeSignals
    cep17: ProbeSignals | None
    her2_background: _Background | None
    her2_channel: np.ndarray
    crosstalk_dropped: int
    texture_dropped: int = 0
    faint_kept: int = 0
    local_k_used: float | None = None
    red_faint_threshold: float | None = None
    red_faint_added: int = 0
    silver_clusters_in_red: int = 0
    red_twin_reference: float | None = None
    fish_evidence: dict | None = None


def probe_signals_stage(
    her2_channel: np.ndarray,
    cep17_channel: np.ndarray | None,
    geometry: NucleusGeometry,
    *,
    assay: str,
    pixel_size_um: float,
    options: SignalOptions,
    her2_opaque: np.ndarray | None = None,
    nuclear: np.ndarray | None = None,
    colour_od: tuple[np.ndarray, np.ndarray] | None = None,
) -> SignalsStage:
    """Stage 2 of the ISH counter: the signals of each probe, their nuclei and clusters.

    Parameters
    ----------
    her2_channel, cep17_channel : (rows, cols) ndarray
        Probe intensities (FISH) or stain amounts (brightfield, OD); ``cep17_channel``
        None for single probe.
    geometry : NucleusGeometry
        From :func:`~her2kit.imaging.segment.ish_nuclei.segment_nuclei_stage`.
    her2_opaque : (rows, cols) bool ndarray, optional
        Brightfield: pixels where the HER2 chromogen is opaque (its amount clipped);
        see :func:`_dense_credit`. None = no saturation handling.
    nuclear : (rows, cols) ndarray, optional
        FISH: the DAPI channel, for the granule rule (``options.granule_factor``).
    colour_od : (silver, red) pair of (rows, cols) ndarrays, optional
        Dual ISH: silver and red amounts read from the pixels' colour alone (OD), for
        the silver-in-red rule (``options.silver_in_red_max_share``); None = off.
    assay : {"fish", "dual-ish", "cish"}
        FISH resolves crosstalk between the channels; Dual ISH drops red detections
        that are really dark silver dots.
    pixel_size_um : float
        µm per pixel.
    options : SignalOptions

    Returns
    -------
    SignalsStage
    """
    o = options
    labels = geometry.labels
    # Noise is measured in nuclear interiors: counting happens there, and the
    # nucleus rim (a step in autofluorescence) would inflate the estimate. The
    # distance is the grid's, from the grid pixel's outer edge.
    interior = _upsample((geometry.edge_dist - 0.5) * (geometry.factor * pixel_size_um)
                         > 2.0 * o.spot_sigma_um, geometry.factor, labels.shape)
    noise_mask = interior if interior.sum() > 100 else "foreground"
    common = dict(pixel_size_um=pixel_size_um, spot_sigma_um=o.spot_sigma_um, k_mad=o.k_mad,
                  threshold_method=o.threshold_method, noise_mask=noise_mask)
    n_crosstalk = 0
    det_h = det_c = None
    fish_evidence = None
    if assay == "fish" and o.crosstalk_radius_um > 0:
        from her2kit.imaging.ish.fishdots import fish_detections

        det_h, det_c, n_crosstalk, fish_evidence = fish_detections(
            her2_channel, cep17_channel, o, common, labels=labels, interior=interior,
            dapi=nuclear)
    her2_ch = np.asarray(her2_channel, np.float32)
    n_texture = n_faint_kept = 0
    k_used = None
    if assay == "dual-ish" and o.silver_local_k > 0 and o.threshold_her2 is None:
        det_h, n_texture, n_faint_kept, k_used = local_silver(
            her2_ch, labels, interior, k=o.silver_local_k,
            min_factor=o.silver_local_min_factor, max_factor=o.silver_local_max_factor,
            valley=o.silver_local_valley, dot_fwhm_um=o.silver_dot_fwhm_um,
            exclude_um=o.silver_texture_exclude_um, **common)
    bg_her2 = _background(her2_ch, labels, pixel_size_um=pixel_size_um,
                          cluster_max_um=o.cluster_max_um,
                          sigma_px=o.spot_sigma_um / pixel_size_um)
    faint_h = faint_c = None
    if fish_evidence is not None:
        from her2kit.imaging.ish.fishdots import merge_faint, split_faint

        det_h, faint_h = split_faint(det_h, fish_evidence["her2_threshold_valley"])
        det_c, faint_c = split_faint(det_c, fish_evidence["cep17_threshold_valley"])
    ref = o.single_signal_reference
    her2 = _probe_signals(her2_ch, labels, probe="her2", threshold=o.threshold_her2, det=det_h,
                          bg=bg_her2, reference=ref, cluster_max_um=o.cluster_max_um,
                          single_percentile=o.silver_single_percentile, opaque=her2_opaque,
                          dense_cluster_max_um=o.silver_dense_cluster_max_um,
                          doublet_min_ratio=o.doublet_ratio_her2,
                          dense_share=o.silver_dense_share,
                          dense_area_factor=o.silver_dense_area_factor,
                          dense_per_maximum=o.silver_dense_per_maximum,
                          dense_min_copies=o.silver_dense_min_copies,
                          merged_peak=o.silver_merged_peak,
                          plateau_area_per_peak=o.silver_plateau_area_per_peak,
                          piled_peak=o.silver_piled_peak,
                          maxima_area_cap=o.maxima_area_cap and assay == "dual-ish", **common)
    cep17 = None
    if (cep17_channel is not None and assay == "dual-ish" and o.red is not None
            and ref == "clear-mode"):
        return _red_path(cep17_channel, her2, her2_ch, labels, o, common, bg_her2,
                         n_crosstalk, n_texture, n_faint_kept, k_used, colour_od=colour_od)
    if cep17_channel is not None:
        cep17 = _probe_signals(cep17_channel, labels, probe="cep17",
                               threshold=o.threshold_cep17, det=det_c, reference=ref,
                               cluster_max_um=(o.cluster_max_um if o.cep17_cluster_max_um is None
                                               else o.cep17_cluster_max_um),
                               single_percentile=o.red_single_percentile,
                               doublet_min_ratio=o.doublet_ratio_cep17, **common)
    if fish_evidence is not None:
        her2 = merge_faint(her2, faint_h, labels, pixel_size_um=pixel_size_um)
        cep17 = merge_faint(cep17, faint_c, labels, pixel_size_um=pixel_size_um)
    twin_ref = None
    if cep17 is not None and assay == "dual-ish":
        cep17 = _drop_colour_leaks(cep17, her2_ch, cep17_channel)
        cep17, n_twins, twin_ref = _twin_and_floor_rules(at_field_threshold(her2), cep17, o,
                                                         pixel_size_um)
        n_crosstalk += n_twins
    return SignalsStage(her2, cep17, bg_her2, her2_ch, n_crosstalk, n_texture,
                        faint_kept=n_faint_kept, local_k_used=k_used,
                        red_twin_reference=twin_ref, fish_evidence=fish_evidence)


def _twin_and_floor_rules(her2: ProbeSignals, cep17: ProbeSignals, o: SignalOptions,
                          pixel_size_um: float) -> tuple[ProbeSignals, int, float | None]:
    """The silver-twin rule, then the red floor: (red signals, how many dropped, the
    typical red response the twin rule used, :attr:`SignalsStage.red_twin_reference`)."""
    if not o.silver_twin_radius_um > 0:
        twin_ref = None
    else:
        twin_ref = twin_red_reference(cep17, o.red_min_relative if o.red_twin_above_floor
                                      else 0.0)
    cep17, n_twins = _drop_silver_twins(
        her2, cep17, o.silver_twin_radius_um / pixel_size_um,
        red_typical=twin_ref if o.red_twin_above_floor else None)
    cep17, n_faint = _drop_faint_red(cep17, o.red_min_relative)
    return cep17, n_twins + n_faint, twin_ref


def red_share_at_clusters(clusters, silver_amount: np.ndarray, red_amount: np.ndarray, *,
                          pixel_size_um: float) -> np.ndarray:
    """Per cluster: the mean red amount over the mean silver amount in a disc of the
    cluster's area around its centre (both OD; 0 where the silver mean is not positive).

    Parameters
    ----------
    clusters : sequence of ClusterRecord
    silver_amount, red_amount : (rows, cols) ndarray
        The Dual ISH stain amounts, OD.
    pixel_size_um : float
        µm per pixel.

    Returns
    -------
    (n,) ndarray of float64
    """
    out = np.zeros(len(clusters))
    rows, cols = silver_amount.shape
    for i, c in enumerate(clusters):
        r = max(1.0, float(np.sqrt(c.area_um2 / np.pi)) / pixel_size_um)
        r0, r1 = max(0, int(c.row - r)), min(rows, int(c.row + r) + 2)
        c0, c1 = max(0, int(c.col - r)), min(cols, int(c.col + r) + 2)
        yy, xx = np.ogrid[r0:r1, c0:c1]
        disc = (yy - c.row) ** 2 + (xx - c.col) ** 2 <= r * r
        silver = float(silver_amount[r0:r1, c0:c1][disc].mean()) if disc.any() else 0.0
        red = float(red_amount[r0:r1, c0:c1][disc].mean()) if disc.any() else 0.0
        out[i] = red / silver if silver > 0 else 0.0
    return out


def _silver_clusters_in_red(her2: ProbeSignals, silver_amount, red_amount, *,
                            pixel_size_um: float, max_share: float
                            ) -> tuple[ProbeSignals, int]:
    """Silver clusters in red aggregates (:data:`SILVER_IN_RED_MAX_SHARE`) count their
    maxima only; returns the signals and how many clusters were so counted."""
    if not her2.clusters or not max_share > 0:
        return her2, 0
    share = red_share_at_clusters(her2.clusters, silver_amount, red_amount,
                                  pixel_size_um=pixel_size_um)
    red = share >= max_share
    if not red.any():
        return her2, 0
    clusters = tuple(replace(c, copies=int(c.maxima)) if in_red else c
                     for c, in_red in zip(her2.clusters, red, strict=True))
    return replace(her2, clusters=clusters), int(red.sum())


def _red_path(cep17_channel, her2, her2_ch, labels, o, common, bg_her2, n_crosstalk,
              n_texture, n_faint_kept=0, k_used=None, colour_od=None) -> SignalsStage:
    """Dual ISH with ``SignalOptions.red``: the red signals by :mod:`~her2kit.imaging.ish.red`."""
    from her2kit.imaging.ish.red import red_stage

    red_ch = np.asarray(cep17_channel, np.float32)
    dropped = [0, None]
    # The red rules see the silver at the field's threshold only, as when they were
    # chosen: faint silver kept by a nucleus's own threshold would otherwise pull red
    # dots out as silver twins.
    her2_all, her2 = her2, at_field_threshold(her2)

    def strong_rules(cep17):
        cep17 = _drop_colour_leaks(cep17, her2_ch, cep17_channel)
        cep17, dropped[0], dropped[1] = _twin_and_floor_rules(her2, cep17, o,
                                                              common["pixel_size_um"])
        return cep17

    res = red_stage(red_ch, her2_ch, her2, labels,
                    pixel_size_um=common["pixel_size_um"],
                    spot_sigma_um=o.spot_sigma_um,
                    cluster_max_um=(o.cluster_max_um if o.cep17_cluster_max_um is None
                                    else o.cep17_cluster_max_um),
                    options=o.red, strong_rules=strong_rules, threshold=o.threshold_cep17,
                    k_mad=o.k_mad, threshold_method=o.threshold_method,
                    noise_mask=common["noise_mask"])
    n_in_red = 0
    if colour_od is not None:
        her2_all, n_in_red = _silver_clusters_in_red(
            her2_all, *colour_od, pixel_size_um=common["pixel_size_um"],
            max_share=o.silver_in_red_max_share)
    return SignalsStage(her2_all, res.signals, bg_her2, her2_ch, n_crosstalk + dropped[0],
                        n_texture, faint_kept=n_faint_kept, local_k_used=k_used,
                        red_faint_threshold=res.threshold, red_faint_added=res.added,
                        silver_clusters_in_red=n_in_red, red_twin_reference=dropped[1])


@dataclass(frozen=True)
class SignalQuality:
    """The result of :func:`signal_quality_stage`: measured, not judged.

    Attributes
    ----------
    weak_signal_fraction : float or None
        Share of the signals in counted nuclei whose LoG response is below
        :data:`WEAK_SIGNAL_FACTOR` x the threshold that admitted them (0-1; None when
        there are none): for Dual ISH red with faint dots added, the lower of the
        detection and the faint threshold (:func:`weak_reference`).
    outside_signal_fraction : float or None
        Share of all detections outside every nucleus (0-1; None when nothing was
        detected).
    image_flags : tuple of str
        ``no_single_signal_reference`` (a probe has signals but fewer than 3
        isolated ones inside nuclei), ``high_background``, in this order.
    """

    weak_signal_fraction: float | None
    outside_signal_fraction: float | None
    image_flags: tuple[str, ...]


def weak_reference(signals: SignalsStage, probe: str) -> float | None:
    """The LoG response (image units) a ``probe`` signal is weak below, over
    :data:`WEAK_SIGNAL_FACTOR`: the threshold that admitted the probe's dots.

    For Dual ISH red with faint dots (:func:`~her2kit.imaging.ish.red.add_faint_red`)
    that is the lower of the detection threshold and the faint one. The detection
    threshold alone is the valley between the red maxima's populations, which moves
    with the sampling: on the tuning field DISH1 0.11 OD at 0.065 and 0.10 µm/px, 0.38-
    0.48 OD from 0.15 µm/px on (the faint threshold 0.21 -> 0.16), which put half the
    signals below 1.5 x it (weak share 0.24 at 0.065 µm/px, 0.52 at 0.25; 0.35 with
    this reference, the rest the silver's; DISH3 0.26 / 0.26 -> 0.20 / 0.23).
    """
    sig = signals.her2 if probe == "her2" else signals.cep17
    if sig is None:
        return None
    thr = float(sig.detection.threshold)
    if probe == "cep17" and signals.red_faint_threshold is not None:
        thr = min(thr, float(signals.red_faint_threshold))
    return thr


def signal_quality_stage(signals: SignalsStage, counted_ids, labels) -> SignalQuality:
    """Stage 4 of the ISH counter: the quality measures of the signals.

    Parameters
    ----------
    signals : SignalsStage
    counted_ids : sequence of int
        Labels of the counted nuclei.
    labels : (rows, cols) ndarray of int32
        Nucleus labels.

    Returns
    -------
    SignalQuality
        The guideline's limits on them (>25 % weak, >10 % outside nuclei) are applied
        by :func:`her2kit.guideline.ish_quality.ish_count_flags`.
    """
    counted_ids = np.array(counted_ids, int)
    probes = [s for s in (signals.her2, signals.cep17) if s is not None]
    resp = np.concatenate(
        [s.detection.response[np.isin(s.nucleus_id, counted_ids)] for s in probes]
    )
    weak = np.concatenate(
        [
            s.detection.response[np.isin(s.nucleus_id, counted_ids)]
            < WEAK_SIGNAL_FACTOR * weak_reference(signals, name)
            for s, name in zip(probes, ("her2", "cep17"), strict=False)
        ]
    )
    n_all = sum(s.detection.n for s in probes)
    n_out = sum(int((s.nucleus_id == 0).sum()) for s in probes)
    flags = []
    if any(s.single_signal_intensity is None and s.detection.n for s in probes):
        flags.append("no_single_signal_reference")
    if _high_background(signals.her2_channel, signals.her2, labels, signals.her2_background):
        flags.append("high_background")
    return SignalQuality(
        weak_signal_fraction=float(weak.mean()) if resp.size else None,
        outside_signal_fraction=n_out / n_all if n_all else None,
        image_flags=tuple(flags),
    )

"""The red (CEP17) signals of brightfield Dual ISH: single-dot reference and faint dots.

Red chromogen dots differ from silver ones in two ways that matter for counting:

- **Their amount saturates.** The camera clips where a red dot is dense (the red
  amount of in-focus dots on the PCM_fish_dish fields peaks at 2.6-2.7 OD whatever
  their size), so the integrated amount of an isolated dot grows with its area, and
  the isolated "single" regions range from faint smudges of a few px to 250 px dots.
  Their median then sits among the smudges and a red aggregate reads twice the copies
  a technologist estimates (DISH3 of tests/data/ish_reference: 10 where 5 are
  counted). :func:`red_single_reference` takes the single dot from the *clear*
  isolated dots only (peak within ``clear_height`` of the field's dominant red dot
  height) and as the dominant mode of their integrated amount, not a percentile.
- **Faint dots are real.** Red intensity varies with the kit and the counterstain;
  pale red dots inside dark nuclei sit below the field's automatic threshold
  (valley between texture and the strong dots) or below ``red_min_relative`` x the
  strong dots, which exist to drop red haze and the red twins of silver dots.
  :func:`add_faint_red` adds them back from a lower threshold set per field from the
  red amount's noise inside nuclei, kept only where the colour deconvolution says red
  and not silver (the silver amount's LoG at the dot is at most ``max_silver`` x the
  red one) and away from every silver detection, kept red dot and red cluster.

Both are plain functions over the stain amounts (OD) of
:func:`~her2kit.imaging.ish.count.count_brightfield_ish`; their settings are
``BrightfieldIshOptions.red_*`` and are recorded in the result's ``parameters``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from her2kit.imaging.ish.results import ProbeSignals
from her2kit.imaging.ish.spots import SpotDetection, detect_spots, log_filter

__all__ = [
    "RED_REFERENCES",
    "FaintRed",
    "RedOptions",
    "add_faint_red",
    "red_probe_signals",
    "red_rounded_clusters",
    "red_single_reference",
    "red_stage",
]

#: How the single red dot is found (``BrightfieldIshOptions.red_single_reference``):
#: ``"clear-mode"`` = :func:`red_single_reference`; ``"percentile"`` = the
#: ``red_single_percentile`` of every isolated single (the rule before branch reddots).
RED_REFERENCES = ("clear-mode", "percentile")


@dataclass(frozen=True)
class RedOptions:
    """The red-path settings of :func:`red_stage` (``BrightfieldIshOptions.red_*``).

    Attributes
    ----------
    single_reference : {"clear-mode", "percentile"}
        How the single red dot is found (:data:`RED_REFERENCES`).
    single_percentile : float
        Percentile (0-100) for ``"percentile"``.
    clear_height : float
        Clear singles peak at least this fraction (0-1) of the dominant red height.
    mode_bandwidth_decades : float
        Bandwidth of the log-scale density of the clear singles' amount, decades.
    faint_k : float
        Faint red threshold, x the red LoG noise s.d. inside nuclei (0 = no faint dots).
    faint_min_relative : float
        ... at least this fraction of the strong red dots' LoG response.
    faint_max_silver : float
        A faint candidate is red when the silver LoG at it is at most this x its red LoG.
    silver_radius_um : float
        Faint candidates closer than this to a silver detection are not added, µm.
    faint_colour_leak : bool
        A faint candidate where the silver amount exceeds the red one is not added
        (the strong dots' colour-leak rule; False = the rule before branch redclust).
    maxima_area_cap : bool
        A red region outside clusters counts at most ``ceil(area / single area)`` of its
        maxima (:func:`~her2kit.imaging.ish.signals._cap_maxima`).
    rounded_copies : bool
        A red region counts its amount's copies rounded (:func:`red_rounded_clusters`;
        False = the rule before branch redclust: from 3 single dots' amount).
    """

    single_reference: str = "percentile"
    single_percentile: float = 50.0
    clear_height: float = 0.9
    mode_bandwidth_decades: float = 0.1
    faint_k: float = 0.0
    faint_min_relative: float = 0.1
    faint_max_silver: float = 0.0
    silver_radius_um: float = 0.5
    faint_colour_leak: bool = False
    maxima_area_cap: bool = False
    rounded_copies: bool = False


def red_stage(red_amount: np.ndarray, silver_amount: np.ndarray, her2: ProbeSignals,
              labels: np.ndarray, *, pixel_size_um: float, spot_sigma_um: float,
              cluster_max_um: float, options: RedOptions, strong_rules,
              det: SpotDetection | None = None, **detect_kw) -> FaintRed:
    """The red (CEP17) signals of a Dual ISH field: clusters, strong rules, faint dots.

    ``strong_rules`` (a callable on the :class:`ProbeSignals`, returning them) applies
    the rules that drop colour leaks, silver twins and faint haze before the faint
    dots are added (:func:`add_faint_red`). The red detections are ``det``, or
    :func:`~her2kit.imaging.ish.spots.detect_spots` with ``detect_kw`` (threshold,
    k_mad, threshold_method, noise_mask) on the same LoG response the faint dots use.
    Returns the signals, the faint threshold (LoG response, OD; None when off) and how
    many faint dots were added.
    """
    o = options
    red_filtered = log_filter(np.asarray(red_amount, np.float32),
                              sigma_px=spot_sigma_um / pixel_size_um)
    if det is None:
        det = detect_spots(red_amount, pixel_size_um=pixel_size_um,
                           spot_sigma_um=spot_sigma_um, filtered=red_filtered,
                           **detect_kw)
    cep17 = red_probe_signals(red_amount, labels, pixel_size_um=pixel_size_um,
                              spot_sigma_um=spot_sigma_um, cluster_max_um=cluster_max_um,
                              det=det, reference=o.single_reference,
                              percentile=o.single_percentile, clear_height=o.clear_height,
                              bandwidth_decades=o.mode_bandwidth_decades,
                              maxima_area_cap=o.maxima_area_cap,
                              rounded_copies=o.rounded_copies)
    cep17 = strong_rules(cep17)
    return add_faint_red(cep17, red_amount, silver_amount, her2, labels,
                         pixel_size_um=pixel_size_um, spot_sigma_um=spot_sigma_um,
                         k_noise=o.faint_k, min_relative=o.faint_min_relative,
                         max_silver=o.faint_max_silver,
                         silver_radius_px=o.silver_radius_um / pixel_size_um,
                         red_filtered=red_filtered, colour_leak=o.faint_colour_leak)


def red_probe_signals(channel: np.ndarray, labels: np.ndarray, *, pixel_size_um: float,
                      spot_sigma_um: float, cluster_max_um: float, det: SpotDetection,
                      reference: str, percentile: float, clear_height: float,
                      bandwidth_decades: float, maxima_area_cap: bool = False,
                      rounded_copies: bool = False) -> ProbeSignals:
    """The red detections, their nuclei and red clusters with copy estimates.

    As :func:`~her2kit.imaging.ish.signals.probe_signals_stage` does for a probe with
    ``single_signal_reference="clear-mode"`` (cluster mask at half the dominant height
    of the clear red dots, regions up to a ``cluster_max_um`` disc), except the single
    red dot: with ``reference="clear-mode"`` its integrated amount and area come from
    :func:`red_single_reference`, so a region is a cluster only when it is at least
    ``CLUSTER_AREA_FACTOR`` clear single areas and its amount at least
    ``CLUSTER_MIN_COPIES`` clear singles; ``"percentile"`` takes the ``percentile``
    (0-100) of every isolated single's amount and their median area.

    Parameters
    ----------
    channel : (rows, cols) ndarray
        The red stain amount, OD.
    labels : (rows, cols) int ndarray
        Nucleus labels.
    pixel_size_um, spot_sigma_um, cluster_max_um : float
        µm per pixel, the LoG spot s.d. (µm) and the largest red cluster (µm).
    det : SpotDetection
        The red detections.
    reference : {"clear-mode", "percentile"}
    percentile, clear_height, bandwidth_decades : float
        See :func:`red_single_reference` (``percentile`` for ``"percentile"``).
    maxima_area_cap : bool
        A region outside clusters counts at most ``ceil(area / a1)`` of its maxima
        (:func:`~her2kit.imaging.ish.signals._cap_maxima`).
    rounded_copies : bool
        Regions of :func:`red_rounded_clusters` are clusters too.

    Returns
    -------
    ProbeSignals
        ``single_signal_intensity`` / ``single_signal_area_um2`` are the reference
        used (None when fewer than 3 isolated singles, or clear singles, exist).
    """
    from her2kit.imaging.ish import signals as sg

    ch = np.asarray(channel, np.float32)
    sigma_px = spot_sigma_um / pixel_size_um
    rr, cc = _pixel(det.coords_px, ch.shape)
    nid = labels[rr, cc].astype(np.int32)
    in_cluster = np.zeros(det.n, bool)
    empty = ProbeSignals("cep17", det, nid, in_cluster, (), None, None, None)
    if det.n == 0:
        return empty
    bg = sg._background(ch, labels, pixel_size_um=pixel_size_um,
                        cluster_max_um=cluster_max_um, sigma_px=sigma_px)
    _, sm = sg._top_smooth(ch, bg, 0.5 * sigma_px, keep_top=False)
    mask_thr = sg._mask_threshold(sm[rr, cc], nid, det, clear_mode=True)
    if not mask_thr > 0:
        return empty
    reg = sg._regions(ch, bg, sm, mask_thr, rr, cc, nid, sigma_px)
    one = (reg.maxima == 1) & reg.inside
    one[0] = False
    ref = None
    if one.sum() >= 3:
        single = one & (reg.area <= 2.0 * float(np.median(reg.area[one])))
        if reference == "percentile":
            # The median at 50 keeps the counts before branch reddots bit for bit.
            i1 = float(np.median(reg.integ[single]) if percentile == 50.0
                       else np.percentile(reg.integ[single], percentile))
            ref = (i1, float(np.median(reg.area[one])))
        else:
            peak = np.zeros(reg.ncomp + 1)
            np.maximum.at(peak, reg.comp_on, sm.ravel()[reg.on])
            ref = red_single_reference(reg.integ, reg.area, peak, single,
                                       dominant_height=2.0 * mask_thr,
                                       clear_height=clear_height,
                                       bandwidth_decades=bandwidth_decades)
    if ref is None:
        return ProbeSignals("cep17", det, nid, in_cluster, (), None, None, float(mask_thr))
    i1, a1 = ref
    is_cluster = sg._is_cluster(reg, a1, i1, pixel_size_um=pixel_size_um,
                                cluster_max_um=cluster_max_um, clear_mode=True)
    extra = np.zeros_like(is_cluster)
    if rounded_copies:
        extra = ~is_cluster & red_rounded_clusters(
            reg.integ / i1, reg.area / a1, reg.maxima, reg.inside,
            fits=reg.area * pixel_size_um ** 2 <= np.pi * (0.5 * cluster_max_um) ** 2)
        is_cluster = is_cluster | extra
    clusters = sg._cluster_records(reg, is_cluster, i1, sm, labels, probe="cep17",
                                   pixel_size_um=pixel_size_um)
    if extra.any():
        # Below the shared rule the amount says one copy more than the maxima, no more.
        ids = np.flatnonzero(is_cluster)
        clusters = tuple(replace(c, copies=c.maxima + 1) if extra[k] else c
                         for c, k in zip(clusters, ids, strict=True))
    if clusters:
        in_cluster = is_cluster[reg.spot_comp]
    n_det = det.n
    if maxima_area_cap:
        det, nid, in_cluster, _ = sg._cap_maxima(det, nid, in_cluster, reg, is_cluster, a1)
    return ProbeSignals("cep17", det, nid, in_cluster, clusters, i1,
                        float(a1 * pixel_size_um * pixel_size_um), float(mask_thr),
                        maxima_capped=n_det - det.n)


def red_rounded_clusters(copies: np.ndarray, areas: np.ndarray, maxima: np.ndarray,
                         inside: np.ndarray, *, fits: np.ndarray) -> np.ndarray:
    """Red regions that hold more copies than maxima by their amount, rounded.

    A red dot is one signal unless its size or integrated amount says otherwise (issue
    11). The shared cluster rule asks for at least ``CLUSTER_MIN_COPIES`` (3) single
    dots' amount as well as one copy more than maxima; the floor is there for silver
    (dark hematoxylin texture and red leakage make silver regions of 2.5-3 single dots
    on the tuning field DISH3). Red has no such texture, and two merged red dots (one
    maximum: red saturates, so their tops flatten into one) read 2-2.4 single dots'
    amount over 2.3-3.2 single areas and counted 1. Here a region of at least
    ``CLUSTER_AREA_FACTOR`` single areas whose amount is at least one copy more than
    its maxima (``copies >= maxima + 1``, the shared rule without the floor) is a
    cluster; it counts one copy more than its maxima (regions that the shared rule
    makes clusters keep their rounded amount): on the realistic generator's group5
    field (seed 1) at 0.25 µm/px a true pair read 2.54 single dots and 3 copies when
    rounded.

    Parameters
    ----------
    copies, areas : (n_regions + 1,) ndarray of float
        Per region (index 0 = background): integrated red amount over the single
        dot's, and area over the single dot's.
    maxima : (n_regions + 1,) ndarray of int
        Red detections per region.
    inside, fits : (n_regions + 1,) ndarray of bool
        The region holds a detection inside a nucleus; it fits the red cluster extent.

    Returns
    -------
    (n_regions + 1,) ndarray of bool
    """
    from her2kit.imaging.ish.signals import CLUSTER_AREA_FACTOR

    out = inside & fits & (areas >= CLUSTER_AREA_FACTOR) & (copies >= maxima + 1)
    out[0] = False
    return out


def red_single_reference(integ: np.ndarray, area: np.ndarray, peak: np.ndarray,
                         single: np.ndarray, *, dominant_height: float,
                         clear_height: float, bandwidth_decades: float
                         ) -> tuple[float, float] | None:
    """The single red dot's integrated amount and area from the clear isolated dots.

    Parameters
    ----------
    integ, area, peak : (n_regions + 1,) ndarray of float
        Per cluster-mask region (index 0 = background): background-subtracted red
        amount summed over the grown region (OD x px), area (px) and highest smoothed
        amount (OD).
    single : (n_regions + 1,) ndarray of bool
        Isolated single regions (one maximum, inside a nucleus, at most 2 x the median
        one-maximum area).
    dominant_height : float
        The field's dominant red dot height, OD (twice the cluster mask threshold).
    clear_height : float
        A single is clear when its peak is at least this fraction of
        ``dominant_height`` (0-1; 0 = every single).
    bandwidth_decades : float
        Bandwidth of the log-scale density whose mode is taken, decades.

    Returns
    -------
    (float, float) or None
        The mode of the clear singles' integrated amount (OD x px) and their median
        area (px); None when fewer than 3 singles are clear.
    """
    clear = single & (peak >= clear_height * dominant_height)
    if clear.sum() < 3:
        return None
    from her2kit.imaging.ish.signals import _dominant_mode

    return (_dominant_mode(integ[clear], bandwidth_decades), float(np.median(area[clear])))


class FaintRed(NamedTuple):
    """What :func:`add_faint_red` did: the signals, its threshold and the dots added."""

    signals: ProbeSignals
    threshold: float | None  # LoG response, OD; None = off or nothing to measure against
    added: int


def add_faint_red(cep17: ProbeSignals, red_amount: np.ndarray, silver_amount: np.ndarray,
                  her2: ProbeSignals, labels: np.ndarray, *, pixel_size_um: float,
                  spot_sigma_um: float, k_noise: float, min_relative: float,
                  max_silver: float, silver_radius_px: float,
                  red_filtered: np.ndarray | None = None, colour_leak: bool = False
                  ) -> FaintRed:
    """Add the faint red dots inside nuclei that the strong-dot thresholds left out.

    Parameters
    ----------
    cep17 : ProbeSignals
        The red signals after the strong-dot rules (automatic threshold, colour leaks,
        silver twins, ``red_min_relative``).
    red_amount, silver_amount : (rows, cols) ndarray
        The red and silver stain amounts, OD (from the same colour deconvolution).
    her2 : ProbeSignals
        The silver signals (faint red candidates near one of them are not added).
    labels : (rows, cols) int ndarray
        Nucleus labels (only candidates inside a nucleus are added).
    pixel_size_um, spot_sigma_um : float
        µm per pixel and the LoG spot s.d., µm.
    k_noise : float
        The faint threshold is this x the red detection's robust noise s.d. (the MAD
        of the red amount's LoG response inside nuclear interiors); <= 0 = off.
    min_relative : float
        ... and never below this fraction of the strong red dots' response (75th
        percentile of the red detections inside nuclei).
    max_silver : float
        A candidate is red when the silver amount's LoG response at it is at most
        this x its red response (strong red dots: about -0.2; a silver dot's red
        twin or grey haze: +0.3 to +1).
    silver_radius_px : float
        Candidates closer than this to a silver detection are not added, px.
    red_filtered : (rows, cols) ndarray of float32, optional
        The red amount's LoG response at ``spot_sigma_um`` when already computed.
    colour_leak : bool
        A candidate where the silver amount exceeds the red amount is not added: a
        technologist calls a dot by its dominant colour, as the strong red dots are
        called (``signals._drop_colour_leaks``). The LoG test above looks at the
        silver's shape only; a small silver dot beside a silver detection (just beyond
        ``silver_radius_px``) can be flat in the silver LoG and still hold more silver
        than red (DISH3 of tests/data/ish_reference: red 0.43 OD, silver 0.47 OD).

    Returns
    -------
    FaintRed
        ``signals`` with the faint dots appended (never in a cluster), the threshold
        used (None when off) and how many were added.
    """
    det = cep17.detection
    inside = cep17.nucleus_id > 0
    if not k_noise > 0 or det.n == 0 or not inside.any():
        return FaintRed(cep17, None, 0)
    strong = float(np.percentile(det.response[inside], 75.0))
    thr = max(float(k_noise) * float(det.noise_sigma), min_relative * strong)
    red = np.asarray(red_amount, np.float32)
    sigma_px = spot_sigma_um / pixel_size_um
    if red_filtered is None:
        red_filtered = log_filter(red, sigma_px=sigma_px)
    cand = detect_spots(red, pixel_size_um=pixel_size_um, spot_sigma_um=spot_sigma_um,
                        threshold=thr, noise_mask=None, filtered=red_filtered)
    keep = _faint_candidates(cand, cep17, her2, labels, silver_amount, sigma_px=sigma_px,
                             pixel_size_um=pixel_size_um,
                             max_silver=max_silver, silver_radius_px=silver_radius_px,
                             red_amount=red if colour_leak else None)
    n_add = int(keep.sum())
    if n_add == 0:
        return FaintRed(cep17, thr, 0)
    coords = np.concatenate([det.coords_px, cand.coords_px[keep]])
    resp = np.concatenate([det.response, cand.response[keep]]).astype(det.response.dtype)
    det2 = SpotDetection(coords, resp, det.threshold, det.threshold_method, det.noise_sigma,
                         det.k_mad, det.sigma_px, det.min_distance_px, det.floor,
                         det.valley_dip)
    rr, cc = _pixel(cand.coords_px[keep], labels.shape)
    nid = np.concatenate([cep17.nucleus_id, labels[rr, cc].astype(np.int32)])
    flags = np.concatenate([cep17.in_cluster, np.zeros(n_add, bool)])
    out = replace(cep17, detection=det2, nucleus_id=nid, in_cluster=flags)
    return FaintRed(out, thr, n_add)


def _pixel(coords_px: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    rr = np.clip(np.rint(coords_px[:, 0]).astype(int), 0, shape[0] - 1)
    cc = np.clip(np.rint(coords_px[:, 1]).astype(int), 0, shape[1] - 1)
    return rr, cc


def _faint_candidates(cand: SpotDetection, cep17: ProbeSignals, her2: ProbeSignals, labels,
                      silver_amount, *, sigma_px, pixel_size_um, max_silver, silver_radius_px,
                      red_amount=None) -> np.ndarray:
    """Which low-threshold red maxima are new faint red dots (bool per candidate);
    with ``red_amount``, not where the silver amount exceeds the red one."""
    if cand.n == 0:
        return np.zeros(0, bool)
    from scipy.spatial import cKDTree

    rr, cc = _pixel(cand.coords_px, labels.shape)
    keep = labels[rr, cc] > 0
    det = cep17.detection
    if det.n:
        # Not a kept red dot again, nor its halo's shoulder (within 2 spot spacings).
        dist, _ = cKDTree(det.coords_px).query(cand.coords_px)
        keep &= dist > 2 * det.min_distance_px
    if her2.detection.n and silver_radius_px > 0:
        dist, _ = cKDTree(her2.detection.coords_px).query(cand.coords_px)
        keep &= dist > silver_radius_px
    if cep17.clusters:
        # Inside a red cluster the copies come from its amount: no candidate within
        # a disc of the cluster's area, one spot spacing wider.
        cen = np.array([[c.row, c.col] for c in cep17.clusters])
        rad = np.sqrt(np.array([c.area_um2 for c in cep17.clusters]) / np.pi) / pixel_size_um
        d = np.hypot(*(cand.coords_px[:, None, :] - cen[None, :, :]).transpose(2, 0, 1))
        keep &= (d > rad[None, :] + det.min_distance_px).all(axis=1)
    if keep.any():
        idx = np.flatnonzero(keep)
        sil = _log_at(np.asarray(silver_amount, np.float32), rr[idx], cc[idx], sigma_px)
        keep[idx] = sil <= max_silver * cand.response[idx]
    if red_amount is not None and keep.any():
        idx = np.flatnonzero(keep)
        keep[idx] = red_amount[rr[idx], cc[idx]] >= np.asarray(silver_amount)[rr[idx], cc[idx]]
    return keep


def _log_at(image: np.ndarray, rr: np.ndarray, cc: np.ndarray, sigma_px: float) -> np.ndarray:
    """The LoG response at a few pixels, each from a window 5 sigma around it.

    The filter's kernel falls below 1e-5 of its centre weight beyond 5 sigma, so the
    window's value equals the whole image's (reflected edges aside) at a fraction of
    the cost of filtering the whole field for a few dozen candidates.
    """
    h = int(np.ceil(5.0 * sigma_px)) + 2
    out = np.empty(len(rr), np.float32)
    rows, cols = image.shape
    for k, (r, c) in enumerate(zip(rr, cc, strict=True)):
        r0, c0 = max(r - h, 0), max(c - h, 0)
        win = image[r0:min(r + h + 1, rows), c0:min(c + h + 1, cols)]
        out[k] = log_filter(win, sigma_px=sigma_px)[r - r0, c - c0]
    return out

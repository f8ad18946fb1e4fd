"""FISH dots: faint dots in dim fields, bleed-through and granules, measured per field.

:func:`fish_detections` runs the FISH probes' detection in this order (every choice in
its evidence, recorded in the result's ``parameters``):

1. Threshold: the valley of :func:`~her2kit.imaging.ish.spots.detect_spots`, capped at
   a share of the field's median dot and never below the MAD noise floor
   (:func:`cap_threshold`); what the cap lets in, and every detection below a share of
   the median one, must stand out of its nucleus's texture and be dot-shaped
   (:func:`faint_dots`, :func:`local_contrast`). Faint dots count as single signals only
   (:func:`split_faint`, :func:`merge_faint`).
2. Diffuse blobs (:mod:`her2kit.imaging.ish.diffuse`).
3. Bleed-through and autofluorescent granules (below).

A bright dot of one probe also shows in the other probe's channel (filter cross-talk;
in RGB composites also saturation and JPEG colour subsampling), where it passes that
channel's threshold as a weaker twin at the same place. How much of one channel lands
in the other is a property of the field's filters, camera and composite, so it is
measured on the field itself (:func:`bleed_coefficient`): the other channel's LoG
response at the clear dots of one channel, as a share of theirs (median). A detection
co-located with a dot of the other probe is its bleed-through twin when its response
is at most ``margin`` x that share of the partner's (:func:`resolve_bleed`); a
co-located pair that bleed-through does not explain is two signals (a red dot beside a
green one, as the hand reference counts it).

The rule before (:func:`~her2kit.imaging.ish.signals._resolve_crosstalk`, kept when
``FishOptions.bleed_margin`` is 0) kept the detection stronger relative to its own
channel's threshold, so lowering one threshold handed the twins to that channel.
"""

from __future__ import annotations

import numpy as np

from her2kit.imaging.ish.spots import SpotDetection

__all__ = [
    "BLEED_CLEAR_FACTOR",
    "BLEED_MAX",
    "BLEED_MIN_DOTS",
    "GRANULE_MIN_SHARE",
    "bleed_coefficient",
    "cap_threshold",
    "faint_dots",
    "fish_detections",
    "granules",
    "local_contrast",
    "merge_faint",
    "resolve_bleed",
    "split_faint",
]

#: Dots at least this x their channel's threshold measure the bleed-through (a faint
#: dot's twin would be lost in the other channel's noise).
BLEED_CLEAR_FACTOR = 2.0
#: Bleed-through share is bounded to 0 .. this (a larger "share" means the two channels
#: show the same structures, e.g. autofluorescence, not filter cross-talk).
BLEED_MAX = 0.6
#: Fewer clear dots than this measure nothing (share None: the old rule decides).
BLEED_MIN_DOTS = 10
#: Lowest DAPI share assumed at a probe dot by :func:`granules` (unitless).
GRANULE_MIN_SHARE = 0.05


def _at(filtered: np.ndarray, coords_px: np.ndarray) -> np.ndarray:
    r = np.clip(np.rint(coords_px[:, 0]).astype(int), 0, filtered.shape[0] - 1)
    c = np.clip(np.rint(coords_px[:, 1]).astype(int), 0, filtered.shape[1] - 1)
    return filtered[r, c].astype(np.float64)


def bleed_coefficient(source: SpotDetection, target_filtered: np.ndarray) -> float | None:
    """Share of one probe's dots that shows in the other probe's channel.

    Parameters
    ----------
    source : SpotDetection
        One channel's detections.
    target_filtered : (rows, cols) ndarray
        The other channel's LoG response (:func:`~her2kit.imaging.ish.spots.log_filter`,
        the same sigma).

    Returns
    -------
    float or None
        Median of ``target / source`` LoG response at the source's clear dots (at least
        :data:`BLEED_CLEAR_FACTOR` x its threshold), unitless, clipped to
        0 - :data:`BLEED_MAX`; only dots brighter in their own channel (ratio < 1) are
        used, since a dot brighter in the other channel is that channel's dot and this
        one its twin. None with fewer than :data:`BLEED_MIN_DOTS` such dots.
    """
    if source.n == 0:
        return None
    clear = source.response >= BLEED_CLEAR_FACTOR * source.threshold
    if clear.sum() < BLEED_MIN_DOTS:
        return None
    own = source.response[clear].astype(np.float64)
    ratio = _at(np.asarray(target_filtered), source.coords_px[clear]) / own
    ratio = ratio[ratio < 1.0]
    if ratio.size < BLEED_MIN_DOTS:
        return None
    return float(np.clip(np.median(ratio), 0.0, BLEED_MAX))


def resolve_bleed(her2: SpotDetection, cep17: SpotDetection, *, bleed_cep17_to_her2: float,
                  bleed_her2_to_cep17: float, radius_px: float, margin: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Which detections to keep: co-located twins that bleed-through explains are dropped.

    Parameters
    ----------
    her2, cep17 : SpotDetection
        Both probes' detections.
    bleed_cep17_to_her2, bleed_her2_to_cep17 : float
        Measured shares (:func:`bleed_coefficient`), unitless.
    radius_px : float
        Detections closer than this, px, are co-located.
    margin : float
        A detection is a twin when its response is at most ``margin`` x the share x its
        partner's response (unitless, > 0; ``margin`` x share is capped at 1).

    Returns
    -------
    keep_her2, keep_cep17 : ndarray of bool
    both : (k, 2) ndarray of int
        The co-located pairs (HER2 index, CEP17 index) that bleed-through does not
        explain (both kept).
    """
    keep_h = np.ones(her2.n, bool)
    keep_c = np.ones(cep17.n, bool)
    both = []
    if her2.n == 0 or cep17.n == 0 or not radius_px > 0:
        return keep_h, keep_c, np.zeros((0, 2), int)
    from scipy.spatial import cKDTree

    pairs = cKDTree(her2.coords_px).query_ball_tree(cKDTree(cep17.coords_px), r=radius_px)
    rh = her2.response.astype(np.float64)
    rc = cep17.response.astype(np.float64)
    # A twin is never brighter than its source: the margin's share is at most 1.
    to_h = min(1.0, margin * bleed_cep17_to_her2)
    to_c = min(1.0, margin * bleed_her2_to_cep17)
    for i, js in enumerate(pairs):
        for j in js:
            if rh[i] <= to_h * rc[j]:
                keep_h[i] = False
            elif rc[j] <= to_c * rh[i]:
                keep_c[j] = False
            else:
                both.append((i, j))
    return keep_h, keep_c, np.array(both, int).reshape(-1, 2)


def granules(her2: SpotDetection, cep17: SpotDetection, both: np.ndarray,
             dapi_filtered: np.ndarray, *, factor: float) -> np.ndarray:
    """Which of the co-located pairs ``both`` are autofluorescent granules.

    A granule (lipofuscin, a fluorescent crystal) is bright in every channel, the
    nuclear stain's included, while a probe dot shows in the DAPI channel only by
    bleed-through. The DAPI channel's share at the field's clear dots is measured as the
    bleed-through shares are (:func:`bleed_coefficient`, both probes' dots pooled by
    their median); a pair in which both probes are at least their channel's median dot
    and whose DAPI LoG response is more than ``factor`` x that share of the brighter
    probe's response is a granule.

    Parameters
    ----------
    her2, cep17 : SpotDetection
    both : (k, 2) ndarray of int
        From :func:`resolve_bleed`.
    dapi_filtered : (rows, cols) ndarray
        The DAPI channel's LoG response (the probes' sigma).
    factor : float
        Unitless, > 0.

    Returns
    -------
    (k,) ndarray of bool
        True = granule (both detections to be dropped). All False when the DAPI share
        cannot be measured (too few clear dots).
    """
    k = both.shape[0]
    if k == 0:
        return np.zeros(0, bool)
    shares = [b for b in (bleed_coefficient(her2, dapi_filtered),
                          bleed_coefficient(cep17, dapi_filtered)) if b is not None]
    if not shares:
        return np.zeros(k, bool)
    # Floor the share: DAPI texture alone gives a few % at any dot.
    share = max(float(np.median(shares)), GRANULE_MIN_SHARE)
    rh = her2.response[both[:, 0]].astype(np.float64)
    rc = cep17.response[both[:, 1]].astype(np.float64)
    # Bright in both probes: each at least its channel's median dot (a dot of one
    # probe with a weak twin in the other is not white).
    bright = (rh >= np.median(her2.response)) & (rc >= np.median(cep17.response))
    dapi = _at(np.asarray(dapi_filtered), her2.coords_px[both[:, 0]])
    return bright & (dapi > factor * share * np.maximum(rh, rc))


def cap_threshold(image: np.ndarray, det: SpotDetection, *, filtered: np.ndarray,
                  pixel_size_um: float, spot_sigma_um: float, noise_mask, fraction: float
                  ) -> tuple[SpotDetection, float | None]:
    """``det`` with its valley threshold lowered to ``fraction`` x its median dot.

    The valley (:func:`~her2kit.imaging.ish.spots.valley_threshold`) separates the
    texture maxima from the signal mode by height alone; where the signal mode lies
    close above it (a dim field) the faint half of the real dots falls below. A dot
    ``fraction`` as bright as the field's median dot is still a dot, so the threshold
    is at most that, and never below the noise floor (``det.floor``).

    Parameters
    ----------
    image : (rows, cols) ndarray
        The probe channel.
    det : SpotDetection
        Its detections with an automatic ``"valley"`` threshold (others are returned
        unchanged).
    filtered : (rows, cols) ndarray
        The channel's LoG response (as ``det``).
    pixel_size_um, spot_sigma_um : float
        µm per pixel; the detection scale, µm.
    noise_mask
        As given to :func:`~her2kit.imaging.ish.spots.detect_spots`.
    fraction : float
        Cap, share of the median response of the valley's detections (0-1; 0 = off).

    Returns
    -------
    det : SpotDetection
        Re-thresholded (same evidence, ``threshold_method`` ``"valley"``) when the cap
        is below the valley.
    cap : float or None
        The cap, image intensity units (None when not applied: off, no valley, no dots).
    """
    from her2kit.imaging.ish.spots import detect_spots

    if not fraction > 0 or det.threshold_method != "valley" or det.n == 0:
        return det, None
    cap = max(float(det.floor), fraction * float(np.median(det.response)))
    if not cap < det.threshold:
        return det, cap
    low = detect_spots(image, pixel_size_um=pixel_size_um, spot_sigma_um=spot_sigma_um,
                       threshold=cap, k_mad=det.k_mad, noise_mask=noise_mask,
                       filtered=filtered)
    return SpotDetection(low.coords_px, low.response, cap, det.threshold_method,
                         det.noise_sigma, det.k_mad, det.sigma_px, det.min_distance_px,
                         det.floor, det.valley_dip), cap


def fish_detections(her2_channel: np.ndarray, cep17_channel: np.ndarray, options, common: dict,
                    *, labels: np.ndarray, interior: np.ndarray,
                    dapi: np.ndarray | None = None
                    ) -> tuple[SpotDetection, SpotDetection, int, dict]:
    """Both FISH probes' detections: thresholds (capped), diffuse blobs, bleed-through.

    Parameters
    ----------
    her2_channel, cep17_channel : (rows, cols) ndarray
        Probe intensities.
    options : SignalOptions
        ``threshold_*``, ``faint_fraction_*``, ``faint_local_k``, ``faint_width_factor``,
        ``diffuse_width_factor_*``, ``crosstalk_radius_um``, ``bleed_margin`` and
        ``granule_factor`` are used.
    common : dict
        ``pixel_size_um``, ``spot_sigma_um``, ``k_mad``, ``threshold_method`` and
        ``noise_mask`` of :func:`~her2kit.imaging.ish.spots.detect_spots`.
    labels, interior : (rows, cols) ndarray
        Nucleus labels and nuclear interiors (for :func:`local_contrast`).
    dapi : (rows, cols) ndarray, optional
        The DAPI channel (for :func:`granules`; None = no granule rule).

    Returns
    -------
    her2, cep17 : SpotDetection
    dropped : int
        Detections dropped as diffuse blobs or as the other probe's twins.
    evidence : dict
        ``her2_threshold_valley`` / ``cep17_threshold_valley`` (the valley before the
        cap), ``her2_threshold_cap`` / ``cep17_threshold_cap`` (None = not applied),
        ``bleed_cep17_to_her2`` / ``bleed_her2_to_cep17`` (measured shares, None = too
        few dots), ``bleed_rule`` (``"measured"``, or ``"relative"`` when off or
        unmeasured), ``bleed_twins_dropped``, ``granules_dropped`` (detections) and
        ``her2_faint_dropped`` / ``cep17_faint_dropped`` (detections between the cap
        and the valley that :func:`faint_dots` rejects).

    Notes
    -----
    Order: threshold (valley, capped, local check), diffuse blobs, bleed-through
    shares (measured on the detections so far), twins, granules.
    """
    from her2kit.imaging.ish.signals import _drop_diffuse_both, _resolve_crosstalk, _subset
    from her2kit.imaging.ish.spots import detect_spots, log_filter

    o = options
    px, sigma_um = common["pixel_size_um"], common["spot_sigma_um"]
    ev: dict = {}
    dets, filt = [], []
    for name, ch, thr, frac in (("her2", her2_channel, o.threshold_her2, o.faint_fraction_her2),
                                ("cep17", cep17_channel, o.threshold_cep17,
                                 o.faint_fraction_cep17)):
        ch = np.asarray(ch, np.float32)
        f = log_filter(ch, sigma_px=sigma_um / px)
        det = detect_spots(ch, threshold=thr, filtered=f, **common)
        ev[f"{name}_threshold_valley"] = (float(det.threshold)
                                          if det.threshold_method == "valley" else None)
        det, cap = cap_threshold(ch, det, filtered=f, pixel_size_um=px, spot_sigma_um=sigma_um,
                                 noise_mask=common["noise_mask"], fraction=frac)
        ev[f"{name}_threshold_cap"] = cap
        ev[f"{name}_faint_dropped"] = 0
        valley = ev[f"{name}_threshold_valley"]
        # Checked: what the cap let in, and (automatic thresholds) every detection
        # below faint_check_fraction x the median one, e.g. texture at the noise floor
        # of a field without a valley.
        top = valley if cap is not None and cap < valley else 0.0
        if valley is not None and det.n and o.faint_check_fraction > 0:
            top = max(top, o.faint_check_fraction * float(np.median(det.response)))
        ev[f"{name}_faint_checked_below"] = top or None
        if top:
            keep = faint_dots(ch, f, det, valley=top, labels=labels, interior=interior,
                              pixel_size_um=px, spot_sigma_um=sigma_um,
                              local_k=o.faint_local_k, width_factor=o.faint_width_factor)
            ev[f"{name}_faint_dropped"] = int((~keep).sum())
            det = _subset(det, keep)
        dets.append(det)
        filt.append(f)
    det_h, det_c, dropped = _drop_diffuse_both(
        her2_channel, cep17_channel, dets[0], dets[1], pixel_size_um=px,
        spot_sigma_um=sigma_um,
        width_factors=(o.diffuse_width_factor_her2, o.diffuse_width_factor_cep17))
    b_ch = bleed_coefficient(det_c, filt[0])
    b_hc = bleed_coefficient(det_h, filt[1])
    ev.update(bleed_cep17_to_her2=b_ch, bleed_her2_to_cep17=b_hc)
    radius_px = o.crosstalk_radius_um / px
    if o.bleed_margin > 0 and b_ch is not None and b_hc is not None:
        keep_h, keep_c, both = resolve_bleed(det_h, det_c, bleed_cep17_to_her2=b_ch,
                                             bleed_her2_to_cep17=b_hc, radius_px=radius_px,
                                             margin=o.bleed_margin)
        n_twins = int((~keep_h).sum() + (~keep_c).sum())
        if dapi is not None and o.granule_factor > 0 and both.shape[0]:
            gran = granules(det_h, det_c, both, log_filter(np.asarray(dapi, np.float32),
                                                           sigma_px=sigma_um / px),
                            factor=o.granule_factor)
            keep_h[both[gran, 0]] = False
            keep_c[both[gran, 1]] = False
        ev["granules_dropped"] = int((~keep_h).sum() + (~keep_c).sum()) - n_twins
        dropped += ev["granules_dropped"]
        det_h, det_c = _subset(det_h, keep_h), _subset(det_c, keep_c)
        ev["bleed_rule"] = "measured"
    else:
        det_h, det_c, n_twins = _resolve_crosstalk(det_h, det_c, radius_px)
        ev["bleed_rule"] = "relative"
        ev["granules_dropped"] = 0
    ev["bleed_twins_dropped"] = n_twins
    return det_h, det_c, dropped + n_twins, ev


def faint_dots(channel: np.ndarray, filtered: np.ndarray, det: SpotDetection, *,
               valley: float, labels: np.ndarray, interior: np.ndarray,
               pixel_size_um: float, spot_sigma_um: float, local_k: float,
               width_factor: float) -> np.ndarray:
    """Which detections to keep of those the cap let in (response below ``valley``).

    A faint detection is a dot when it stands out of its own nucleus's texture
    (:func:`local_contrast` at least ``local_k``) and is dot-shaped: its apparent s.d.
    (:func:`~her2kit.imaging.ish.quality.dot_width_um`) at most ``width_factor`` x the
    median of the detections above the valley (haze, out-of-focus cells and
    autofluorescent smudges are wider; the cluster estimator would read them as many
    copies). Detections above the valley are always kept.

    Parameters
    ----------
    channel, filtered : (rows, cols) ndarray
        The probe channel and its LoG response.
    det : SpotDetection
        The capped detections.
    valley : float
        The valley threshold, image intensity units.
    labels, interior : (rows, cols) ndarray
        Nucleus labels and nuclear interiors.
    pixel_size_um, spot_sigma_um : float
        µm per pixel; the detection scale, µm.
    local_k : float
        Robust s.d. over the nucleus's texture (0 = no such check).
    width_factor : float
        Unitless (0 = no width check).

    Returns
    -------
    (n,) ndarray of bool
    """
    from her2kit.imaging.ish.quality import dot_width_um

    band = det.response < valley
    keep = np.ones(det.n, bool)
    if not band.any():
        return keep
    ok = np.ones(int(band.sum()), bool)
    if local_k > 0:
        ok &= local_contrast(filtered, labels, interior, det.coords_px[band]) >= local_k
    if width_factor > 0 and (~band).sum() >= BLEED_MIN_DOTS:
        width = dot_width_um(channel, det.coords_px, det.response, pixel_size_um=pixel_size_um,
                             spot_sigma_um=spot_sigma_um)
        clear = ~band & np.isfinite(width)
        if clear.sum() >= BLEED_MIN_DOTS:
            ok &= width[band] <= width_factor * float(np.median(width[clear]))
    keep[np.flatnonzero(band)[~ok]] = False
    return keep


def local_contrast(filtered: np.ndarray, labels: np.ndarray, interior: np.ndarray,
                   coords_px: np.ndarray, *, stride: int = 2) -> np.ndarray:
    """Each detection's LoG response over its own nucleus's texture, in robust s.d.

    Parameters
    ----------
    filtered : (rows, cols) ndarray
        The probe channel's LoG response.
    labels : (rows, cols) int ndarray
        Nucleus labels (0 = background).
    interior : (rows, cols) bool ndarray
        Nuclear interiors (where the texture is measured).
    coords_px : (n, 2) ndarray
        Detection centres, px.
    stride : int, optional
        The texture is sampled every ``stride`` px along each axis (speed; the median
        and MAD of a smooth response change little).

    Returns
    -------
    (n,) ndarray of float
        ``(response - median) / (1.4826 MAD)`` over the interior of the detection's
        nucleus; inf outside nuclei or where a nucleus has under 20 samples or no spread
        (no texture to tell a dot from).
    """
    n = coords_px.shape[0]
    out = np.full(n, np.inf)
    if n == 0:
        return out
    lab = labels[::stride, ::stride]
    sel = interior[::stride, ::stride] & (lab > 0)
    ids = lab[sel].astype(np.int64)
    vals = np.asarray(filtered, np.float64)[::stride, ::stride][sel]
    nid = labels[np.clip(np.rint(coords_px[:, 0]).astype(int), 0, labels.shape[0] - 1),
                 np.clip(np.rint(coords_px[:, 1]).astype(int), 0, labels.shape[1] - 1)]
    want = np.unique(nid[nid > 0])
    if ids.size == 0 or want.size == 0:
        return out
    m = np.isin(ids, want)
    ids, vals = ids[m], vals[m]
    order = np.lexsort((vals, ids))
    ids, vals = ids[order], vals[order]
    starts = np.searchsorted(ids, want)
    ends = np.searchsorted(ids, want, side="right")
    med = np.full(want.size, np.nan)
    sd = np.full(want.size, np.nan)
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        if b - a >= 20:
            v = vals[a:b]
            med[k] = v[(b - a) // 2]
            sd[k] = 1.4826 * float(np.median(np.abs(v - med[k])))
    pos = np.searchsorted(want, nid)
    inside = nid > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        resp = _at(np.asarray(filtered), coords_px)
        z = (resp - med[np.clip(pos, 0, want.size - 1)]) / sd[np.clip(pos, 0, want.size - 1)]
    ok = inside & np.isfinite(z)
    out[ok] = z[ok]
    return out


def split_faint(det: SpotDetection, valley: float | None
                ) -> tuple[SpotDetection, SpotDetection | None]:
    """The detections at or above ``valley`` and those below it (None when none).

    The cluster estimator (:func:`~her2kit.imaging.ish.signals.probe_signals_stage`)
    takes its single-signal reference and cluster mask from the median detection;
    faint dots let in by the cap would lower both and turn wide faint blobs into
    many-copy clusters, so it sees the valley's detections only and the faint ones are
    added back as single signals (:func:`merge_faint`).
    """
    from her2kit.imaging.ish.signals import _subset

    if valley is None or det.n == 0:
        return det, None
    band = det.response < valley
    if not band.any():
        return det, None
    return _subset(det, ~band), _subset(det, band)


def merge_faint(sig, faint: SpotDetection | None, labels: np.ndarray, *,
                pixel_size_um: float):
    """``sig`` with the faint detections added as single signals.

    Parameters
    ----------
    sig : ProbeSignals
        One probe's signals from the valley's detections.
    faint : SpotDetection or None
        The detections below the valley (:func:`split_faint`).
    labels : (rows, cols) int ndarray
        Nucleus labels.
    pixel_size_um : float
        µm per pixel.

    Returns
    -------
    ProbeSignals
        A faint detection inside a cluster (within its equivalent radius plus two
        detection sigmas of its centre) is left out: the cluster's copies count it.
    """
    from her2kit.imaging.ish.results import ProbeSignals

    if faint is None or faint.n == 0:
        return sig
    keep = np.ones(faint.n, bool)
    for c in sig.clusters:
        r_px = np.sqrt(c.area_um2 / np.pi) / pixel_size_um + 2.0 * faint.sigma_px
        keep &= np.hypot(faint.coords_px[:, 0] - c.row, faint.coords_px[:, 1] - c.col) > r_px
    det = sig.detection
    coords = np.concatenate([det.coords_px, faint.coords_px[keep]])
    resp = np.concatenate([det.response, faint.response[keep]])
    nid = labels[np.clip(np.rint(coords[:, 0]).astype(int), 0, labels.shape[0] - 1),
                 np.clip(np.rint(coords[:, 1]).astype(int), 0, labels.shape[1] - 1)]
    merged = SpotDetection(coords, resp.astype(np.float32), det.threshold, det.threshold_method,
                           det.noise_sigma, det.k_mad, det.sigma_px, det.min_distance_px,
                           det.floor, det.valley_dip)
    in_cluster = np.concatenate([sig.in_cluster, np.zeros(int(keep.sum()), bool)])
    return ProbeSignals(sig.probe, merged, nid.astype(np.int32), in_cluster, sig.clusters,
                        sig.single_signal_intensity, sig.single_signal_area_um2,
                        sig.mask_threshold)

"""Dual ISH black silver (HER2) dots: detection against each nucleus's own texture.

Silver is close to hematoxylin in hue (on the shared PCM_fish_dish fields its local OD
contrast is bluish-black, not neutral), so in the {silver, red} amount a nucleus's dark
chromatin texture looks like faint silver, and how dark a silver dot is varies from one
field, kit and camera to the next (DISH4/DISH5 of tests/data/ish_reference: small grey
dots). A field-wide threshold then fits neither: it is too high for the pale grey dots
of a smooth nucleus and too low for the texture of a coarse one. Here each nucleus sets
its own threshold from its own texture: ``k`` x the robust s.d. (MAD) of the silver
amount's LoG response over its interior, which does not depend on how dark the dots are.

Measured on the tuning fields DISH1/DISH3 of the hand reference (tests/data/ish_reference;
benchmarks/README.md, branch silverdots): ranking the LoG maxima (0.2 µm) of every
hand-counted nucleus without clusters by response over that nucleus's MAD, the one cut
that best separates the dots counted by eye from texture is 5.58 x on DISH1 and 5.60 x on
DISH3, while the best field-wide cut of the counter's response (0.3 µm) differs 2 x
between the fields (0.08 vs 0.15 OD). With the counter's LoG, 5.25-5.5 x is best on both:
:data:`SILVER_LOCAL_K` 5.5, the field's automatic threshold only a loose bound
(:data:`SILVER_LOCAL_MIN_FACTOR`, :data:`SILVER_LOCAL_MAX_FACTOR`).

That multiple was chosen at 0.065 µm/px. Sampled coarser, a dot's LoG peak falls more
than the texture s.d. (DISH1 / DISH3 downscaled to 0.25 µm/px: dots x 0.76 / 0.80,
texture x 0.92 / 0.93), and 5.5 x lost the faint grey dots (HER2 within ±1 28 of 38
nuclei, 36 at 0.065). :func:`pixel_size_factor` models both from physical sizes (a
:data:`SILVER_DOT_FWHM_UM` dot and a fine white texture, OD averaged over square
pixels, through the detections' own filter) and scales the multiple and its bounds by
it: 0.85 at 0.25 µm/px, 34 of 38 there, nothing changed at 0.065 (branch silver025).

The MAD over a nucleus's interior counts its dots as texture too, and a nucleus full of
signals has a wider MAD than its texture alone (branch abundant): on generated fields
the dots widen it by 5 % with HER2 ~2 / CEP17 ~2 and by 16 % with HER2 ~5 / CEP17 ~7
(measured against the MAD away from every true dot), on the tuning fields by 1 % (DISH1)
and 10 % (DISH3, crowded; median over nuclei, pixels beyond 1 µm of the kept dots).
``exclude_um`` (:data:`SILVER_TEXTURE_EXCLUDE_UM` when turned on; off by default)
measures it a second time away from the dots the first pass kept.
"""

from __future__ import annotations

import numpy as np

from her2kit.imaging.ish.results import ProbeSignals
from her2kit.imaging.ish.spots import (
    VALLEY_MAX_DIP,
    SpotDetection,
    detect_spots,
    log_filter,
    valley_threshold,
)

__all__ = [
    "LOCAL_MIN_PX",
    "SILVER_DOT_FWHM_UM",
    "SILVER_LOCAL_K",
    "SILVER_LOCAL_K_PIXEL_SIZE_UM",
    "SILVER_LOCAL_MAX_FACTOR",
    "SILVER_LOCAL_MIN_FACTOR",
    "SILVER_TEXTURE_EXCLUDE_UM",
    "SILVER_VALLEY_MIN_K",
    "at_field_threshold",
    "field_k",
    "local_silver",
    "nucleus_texture_sd",
    "pixel_size_factor",
]

#: Default ``silver_local_k`` (x the nucleus's LoG MAD). Chosen on DISH1/DISH3 with
#: the bounds below: HER2 within ±1 of 38 tuning nuclei without clusters 84 / 92 / 95 /
#: 95 / 89 / 84 % at k 4.0 (bounds 0.5-1.2) / 5.0 / 5.25 / 5.5 / 5.75 / 6.0 (0.3-1.5).
SILVER_LOCAL_K = 5.5
#: Default ``silver_local_min_factor``: a nucleus's threshold may fall to this x the
#: field's automatic threshold (1.0 before branch silverdots, when pale grey dots in
#: smooth nuclei could not pass). 0.3 and 0.5 count the tuning fields alike (95 %);
#: 0.3 leaves more room for fields whose dots are paler than the tuning fields'.
SILVER_LOCAL_MIN_FACTOR = 0.3
#: Default ``silver_local_max_factor``: ... and rise to at most this x it (1.2 before
#: branch silverdots): a nucleus with dense dots has a high MAD of its own. 1.2 and
#: 1.5 give 95 % on the tuning fields, 1.5 the found DISH3 ratio 1.18 (1.11 by hand;
#: 1.25 at 1.2); without a cap (1000) 92 %.
SILVER_LOCAL_MAX_FACTOR = 1.5
#: Default ``silver_local_valley`` search floor: the valley between texture and dots is
#: looked for above this many texture s.d. (:func:`field_k`); below it lie the
#: texture maxima of every field measured (DISH1/DISH3 and the generators: most
#: maxima inside nuclei are 2-3 x).
SILVER_VALLEY_MIN_K = 3.0
#: Default ``silver_dot_fwhm_um``: the single silver dot's size (FWHM, µm) that
#: :func:`pixel_size_factor` models. Measured on the tuning fields (benchmarks/README.md,
#: branch silverdots and the realism table): the counted single dots' FWHM q50 0.41 µm
#: (q10-q90 0.23-0.62), the fields' median silver FWHM 0.374 (DISH1) / 0.359 (DISH3).
SILVER_DOT_FWHM_UM = 0.4
#: Radius (µm) around each kept dot left out when a nucleus's texture s.d. is measured the
#: second time (``BrightfieldIshOptions.silver_texture_exclude_um``, off by default; this
#: is the value chosen on the tuning fields DISH1 / DISH3 for turning it on).
SILVER_TEXTURE_EXCLUDE_UM = 0.8
#: The pixel size (µm/px) at which :data:`SILVER_LOCAL_K` and its bounds were chosen: the
#: tuning fields' native sampling (ASSUMED 0.065 µm/px, benchmarks/ish_accuracy.py).
SILVER_LOCAL_K_PIXEL_SIZE_UM = 0.065
#: Sub-pixel positions per axis over which a dot's sampled response is averaged (a
#: quarter of the pixel by symmetry; 4 x 4 = 8 x 8 over the whole pixel).
_PHASES = 4
#: A nucleus's own threshold needs at least this many interior px (a robust MAD);
#: smaller nuclei keep the field's.
LOCAL_MIN_PX = 50


def _subset(det: SpotDetection, keep: np.ndarray) -> SpotDetection:
    """The detections where ``keep`` is True, with the same evidence."""
    return SpotDetection(det.coords_px[keep], det.response[keep], det.threshold,
                         det.threshold_method, det.noise_sigma, det.k_mad, det.sigma_px,
                         det.min_distance_px, det.floor, det.valley_dip)


def nucleus_texture_sd(filtered: np.ndarray, labels: np.ndarray, interior: np.ndarray
                       ) -> np.ndarray:
    """Each nucleus's texture: the robust s.d. of the silver LoG response in its interior.

    Parameters
    ----------
    filtered : (rows, cols) ndarray
        LoG response of the silver amount (OD).
    labels : (rows, cols) ndarray of int
        Nucleus labels (0 = background).
    interior : (rows, cols) bool ndarray
        Pixels far enough from a nucleus's rim to measure its texture.

    Returns
    -------
    (labels.max() + 1,) ndarray of float
        1.4826 x the median absolute deviation per label, OD; NaN at index 0 and for
        nuclei with fewer than :data:`LOCAL_MIN_PX` interior px.
    """
    n = int(labels.max())
    sd = np.full(n + 1, np.nan)
    where = (labels > 0) & interior
    lab, val = labels[where], filtered[where].astype(np.float64)
    order = np.argsort(lab, kind="stable")
    lab, val = lab[order], val[order]
    starts = np.searchsorted(lab, np.arange(n + 2))
    for i in range(1, n + 1):
        v = val[starts[i]:starts[i + 1]]
        if v.size >= LOCAL_MIN_PX:
            sd[i] = 1.4826 * float(np.median(np.abs(v - np.median(v))))
    return sd


def _dot_response(pixel_size_um: float, spot_sigma_um: float, dot_fwhm_um: float) -> float:
    """Mean LoG response at its sampled maximum of a Gaussian dot of peak 1 whose OD is
    averaged over square pixels (a camera's), over sub-pixel positions."""
    from scipy.special import erf

    p, sd = float(pixel_size_um), float(dot_fwhm_um) / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    half = int(np.ceil(4.0 * (sd + spot_sigma_um) / p)) + 2
    x = np.arange(-half, half + 1) * p
    phases = (np.arange(_PHASES) + 0.5) / (2 * _PHASES)  # in [0, 0.5) px
    prof = [0.5 * (erf((x - d * p + p / 2) / (np.sqrt(2.0) * sd))
                   - erf((x - d * p - p / 2) / (np.sqrt(2.0) * sd)))
            * np.sqrt(2.0 * np.pi) * sd / p for d in phases]
    out = [log_filter(np.outer(a, b), sigma_px=spot_sigma_um / p)[half - 1:half + 2,
                                                                 half - 1:half + 2].max()
           for a in prof for b in prof]
    return float(np.mean(out))


def _texture_gain(pixel_size_um: float, spot_sigma_um: float) -> float:
    """LoG s.d. of a fine, white texture whose OD is averaged over square pixels, relative
    units: pixel values are independent with variance ∝ 1 / px area, so the s.d. is the
    filter's L2 norm over the pixel size."""
    s_px = spot_sigma_um / pixel_size_um
    half = int(np.ceil(6.0 * s_px)) + 3
    delta = np.zeros((2 * half + 1, 2 * half + 1))
    delta[half, half] = 1.0
    h = log_filter(delta, sigma_px=s_px).astype(np.float64)
    return float(np.sqrt(np.sum(h * h))) / float(pixel_size_um)


def pixel_size_factor(pixel_size_um: float, *, spot_sigma_um: float, dot_fwhm_um: float,
                      reference_um: float = SILVER_LOCAL_K_PIXEL_SIZE_UM) -> float:
    """How a single silver dot's LoG response over the texture s.d. scales with sampling.

    A dot of ``dot_fwhm_um`` sampled at ``pixel_size_um`` (OD averaged over each square
    pixel, the dot anywhere within its pixel) gives a lower response at its sampled
    maximum than finely sampled, while a nucleus's texture s.d. falls less: the
    threshold ``k`` x texture s.d. chosen at ``reference_um`` holds the same dots at
    ``pixel_size_um`` when multiplied by this. Modelled with the detections' own filter
    (:func:`~her2kit.imaging.ish.spots.log_filter` at ``spot_sigma_um``); the texture
    as fine and white at the filter's scale.

    Parameters
    ----------
    pixel_size_um : float
        µm per pixel of the field counted.
    spot_sigma_um : float
        The LoG scale, µm.
    dot_fwhm_um : float
        The single dot's FWHM, µm (<= 0: 1.0, no correction).
    reference_um : float, optional
        The pixel size at which the multiple was chosen, µm/px.

    Returns
    -------
    float
        (dot response / texture s.d.) at ``pixel_size_um`` over the same at
        ``reference_um``: 1.0 at the reference. At the default 0.3 µm LoG and 0.4 µm dot,
        from 0.065 µm/px: 0.98 at 0.10, 0.95 at 0.15, 0.90 at 0.20, 0.85 at 0.25. Measured
        on the tuning fields DISH1 / DISH3 downscaled to 0.25 µm/px (the native LoG
        maxima of >= 4.5 x texture s.d. matched within 0.3 µm): dot response x 0.76 /
        0.80 (median; modelled 0.79), texture s.d. x 0.92 / 0.93 (modelled 0.92), response
        over s.d. x 0.84 / 0.82.
    """
    if not float(dot_fwhm_um) > 0:
        return 1.0

    def ratio(p):
        return (_dot_response(p, spot_sigma_um, dot_fwhm_um)
                / _texture_gain(p, spot_sigma_um))

    return ratio(float(pixel_size_um)) / ratio(float(reference_um))


def field_k(z: np.ndarray, k: float) -> float:
    """The field's texture multiple: ``k``, or lower where the field shows a clear valley.

    Parameters
    ----------
    z : (n,) ndarray
        LoG maxima inside nuclei over their nucleus's texture s.d.
        (:func:`nucleus_texture_sd`).
    k : float
        The multiple chosen on the real tuning fields (``silver_local_k``).

    Returns
    -------
    float
        The valley between the texture maxima and the first clear mode of dots above
        :data:`SILVER_VALLEY_MIN_K` (:func:`~her2kit.imaging.ish.spots.valley_threshold`,
        density dip <= :data:`~her2kit.imaging.ish.spots.VALLEY_MAX_DIP`) when it lies
        below ``k``, else ``k``. Where dots stand apart from the texture (generated
        fields: dots from 3.5 x, texture below 3 x) all of them are kept; where they
        merge into it (the real tuning fields: dip 0.93-0.96) the measured ``k`` holds.
    """
    thr, dip = valley_threshold(z, floor=SILVER_VALLEY_MIN_K)
    if dip is None or dip > VALLEY_MAX_DIP:
        return float(k)
    return float(min(k, thr))


def local_silver(ch, labels, interior, *, k, pixel_size_um, spot_sigma_um, k_mad,
                 threshold_method, noise_mask, min_factor=1.0, max_factor=1.2,
                 valley=False, dot_fwhm_um=0.0, exclude_um=0.0
                 ) -> tuple[SpotDetection, int, int, float]:
    """Silver detections against each nucleus's own texture (:func:`nucleus_texture_sd`).

    A detection in a nucleus is kept when its LoG response is at least ``k`` x that
    nucleus's texture s.d., kept between ``min_factor`` and ``max_factor`` x the
    field's automatic threshold; detections outside nuclei and in nuclei too small to
    measure are held to the field's threshold.

    Parameters
    ----------
    ch : (rows, cols) ndarray of float32
        Silver (HER2) amount, OD.
    labels, interior
        As in :func:`nucleus_texture_sd`.
    k : float
        Multiple of the nucleus's texture s.d.
    min_factor, max_factor : float
        Bounds, x the field's threshold. The defaults (1.0 / 1.2, with
        ``valley=False``) are the rule before branch silverdots; the counters pass
        ``BrightfieldIshOptions.silver_local_min_factor`` / ``_max_factor`` /
        ``silver_local_valley``.
    valley : bool
        Lower ``k`` to the field's valley between texture and dots (:func:`field_k`).
    dot_fwhm_um : float
        The single dot's FWHM, µm: ``k`` and the bounds are multiplied by
        :func:`pixel_size_factor` (0.85 at 0.25 µm/px with a 0.4 µm dot and the 0.3 µm
        LoG), so that the dots passing at the pixel size ``k`` was chosen at pass at
        this one. 0 (default) = no correction, the rule before branch silver025; the
        counters pass ``BrightfieldIshOptions.silver_dot_fwhm_um``.
    exclude_um : float
        > 0: after the first pass, each nucleus's texture s.d. is measured again over its
        interior more than this far (µm) from the detections that pass kept (where at
        least :data:`LOCAL_MIN_PX` px are left; else the first value stands), and the
        thresholds (and the valley's ``k``) are set again from it. 0 (default) = one
        pass, the rule before branch abundant; the counters pass
        ``BrightfieldIshOptions.silver_texture_exclude_um``.
    pixel_size_um, spot_sigma_um, k_mad, threshold_method, noise_mask
        As in :func:`~her2kit.imaging.ish.spots.detect_spots` (the field's threshold).

    Returns
    -------
    detection : SpotDetection
        The detections kept; its ``threshold`` stays the field's.
    dropped : int
        Detections above the field's threshold dropped by their nucleus's.
    faint_kept : int
        Detections below the field's threshold kept by their nucleus's (0 when
        ``min_factor`` >= 1).
    k_used : float
        The multiple applied (``k`` x :func:`pixel_size_factor`, or the field's valley
        below it).
    """
    gain = pixel_size_factor(pixel_size_um, spot_sigma_um=spot_sigma_um,
                             dot_fwhm_um=dot_fwhm_um)
    k, min_factor, max_factor = gain * k, gain * min_factor, gain * max_factor
    filtered = log_filter(ch, sigma_px=spot_sigma_um / pixel_size_um)
    det = detect_spots(ch, pixel_size_um=pixel_size_um, spot_sigma_um=spot_sigma_um,
                       k_mad=k_mad, threshold_method=threshold_method,
                       noise_mask=noise_mask, filtered=filtered)
    field_thr = float(det.threshold)
    if min_factor < 1 and field_thr > 0 and np.isfinite(field_thr):
        # Candidates down to the lowest threshold a nucleus may get; the evidence
        # (threshold, noise, floor, valley) stays the field's.
        low = detect_spots(ch, pixel_size_um=pixel_size_um, spot_sigma_um=spot_sigma_um,
                           threshold=min_factor * field_thr, filtered=filtered)
        det = SpotDetection(low.coords_px, low.response, det.threshold, det.threshold_method,
                            det.noise_sigma, det.k_mad, det.sigma_px, det.min_distance_px,
                            det.floor, det.valley_dip)
    rr = np.clip(np.rint(det.coords_px[:, 0]).astype(int), 0, ch.shape[0] - 1)
    cc = np.clip(np.rint(det.coords_px[:, 1]).astype(int), 0, ch.shape[1] - 1)
    bounds = (min_factor * field_thr, max_factor * field_thr)

    def thresholds(sd):
        return _nucleus_thresholds(det, filtered, labels, sd, sd[labels[rr, cc]], k=k,
                                   valley=valley, bounds=bounds, field_thr=field_thr)

    sd = nucleus_texture_sd(filtered, labels, interior)
    thr, k_used = thresholds(sd)
    if exclude_um > 0 and det.n:
        # The dots themselves widen a nucleus's MAD, the more so the more dots it holds
        # (issue 11, branch abundant): measure the texture again away from the dots the
        # first pass kept, where enough interior is left (else as it was).
        dot_free = interior & ~_near(det.coords_px[det.response >= thr], ch.shape,
                                     exclude_um / pixel_size_um)
        again = nucleus_texture_sd(filtered, labels, dot_free)
        thr, k_used = thresholds(np.where(np.isnan(again), sd, again))
    keep = det.response >= thr
    above = det.response > field_thr
    return (_subset(det, keep), int((~keep & above).sum()), int((keep & ~above).sum()),
            k_used)


def _nucleus_thresholds(det, filtered, labels, sd, sd_at, *, k, valley, bounds, field_thr
                        ) -> tuple[np.ndarray, float]:
    """Each detection's threshold (``k`` x its nucleus's texture s.d. within ``bounds``, the
    field's where unmeasured) and the multiple used (``k`` or the field's valley)."""
    measured = np.isfinite(sd_at)
    k_used = float(k)
    if valley and measured.any():
        # The valley needs the maxima below the field's threshold too (the texture
        # tail): candidates down to SILVER_VALLEY_MIN_K x each nucleus's s.d.
        z = _texture_maxima(filtered, labels, sd, min_distance_px=det.min_distance_px)
        k_used = field_k(z, k)
    with np.errstate(invalid="ignore"):
        local = np.clip(k_used * sd_at, *bounds)
    return np.where(measured, local, field_thr), k_used


def _near(coords_px: np.ndarray, shape, radius_px: float) -> np.ndarray:
    """Pixels within ``radius_px`` of any of ``coords_px`` (bool, ``shape``)."""
    from her2kit.imaging.segment.cells import _disc_dilate

    pts = np.zeros(shape, bool)
    rc = np.rint(np.asarray(coords_px, float).reshape(-1, 2)).astype(int)
    inside = (rc >= 0).all(axis=1) & (rc[:, 0] < shape[0]) & (rc[:, 1] < shape[1])
    pts[rc[inside, 0], rc[inside, 1]] = True
    return _disc_dilate(pts, radius_px)


def _texture_maxima(filtered, labels, sd, *, min_distance_px) -> np.ndarray:
    """LoG maxima inside measured nuclei over their nucleus's texture s.d. (from 2 x)."""
    from scipy import ndimage as ndi

    sd_px = np.where(labels > 0, sd[labels], np.nan)
    with np.errstate(invalid="ignore"):
        # A nucleus without texture (s.d. 0, e.g. a flat generated one) has no z-scores.
        cand = (sd_px > 0) & (filtered > 2.0 * sd_px)
    win = ndi.maximum_filter(filtered, size=2 * int(min_distance_px) + 1, mode="nearest")
    peaks = cand & (filtered == win)
    return (filtered[peaks] / sd_px[peaks]).astype(np.float64)


def at_field_threshold(her2: ProbeSignals) -> ProbeSignals:
    """The silver signals at or above the field's threshold (the faint ones kept by
    their nucleus's threshold left out), for the red rules that compare with silver.

    The red twin rule (:func:`~her2kit.imaging.ish.signals._drop_silver_twins`) was
    chosen with silver detections at or above the field's threshold, and its typical
    silver response is their median; fed the faint grey dots kept since branch
    silverdots, that median falls and red dots beside a silver dot (HER2 and CEP17
    lie on the same chromosome) would lose to it. Red counts stay independent of how
    low the silver threshold goes.
    """
    det = her2.detection
    keep = det.response >= np.float32(det.threshold)
    if keep.all():
        return her2
    return ProbeSignals(her2.probe, _subset(det, keep), her2.nucleus_id[keep],
                        her2.in_cluster[keep], her2.clusters, her2.single_signal_intensity,
                        her2.single_signal_area_um2, her2.mask_threshold)

"""The pixel size of a brightfield image estimated from the size of its nuclei.

A microscope-camera photo often records no pixel size. Nuclei are the one ruler every
tissue section carries: :func:`estimate_pixel_size` detects them with
:func:`~her2kit.imaging.segment.nuclei.detect_nuclei` at a ladder of provisional pixel
sizes and finds where the median equivalent diameter of the well-shaped nuclei, in µm
under that provisional size, equals a reference nucleus diameter. It returns the
estimate with an interval and the reasons to refuse it when the interval is too wide
(too few nuclei, nuclei too small in pixels, or a detector that does not respond to the
assumed scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from her2kit.errors import ImageInputError
from her2kit.imaging._validate import check_positive
from her2kit.imaging.segment.nuclei import detect_nuclei

__all__ = [
    "MAX_RELATIVE_UNCERTAINTY",
    "MIN_NUCLEUS_DIAMETER_PX",
    "MIN_WELL_SHAPED_NUCLEI",
    "REFERENCE_NUCLEUS_DIAMETER_UM",
    "REFERENCE_SPREAD_FACTOR",
    "PixelSizeEstimate",
    "estimate_pixel_size",
    "nucleus_shapes",
]

# The reference: the median equivalent diameter of the profiles of nuclei in a section
# of breast tissue (carcinoma, lymphocytes, stroma mixed), 7.0 µm. UNCONFIRMED: neither
# ../shared/guideline-facts.md nor ../shared/landscape.md gives a nucleus size. It is
# the usual textbook figure (small lymphocyte nuclei ≈ 6-7 µm; breast carcinoma nuclei
# 6-12 µm, the detector's own default of 8 µm) reduced for sectioning: a random plane
# through a sphere of diameter D cuts a disc of mean diameter π/4·D, so 9 µm nuclei show
# ≈ 7.1 µm profiles. Checked, not fitted, on the shared images with a known or assumed
# pixel size (benchmarks/README.md, "--mpp auto").
REFERENCE_NUCLEUS_DIAMETER_UM = 7.0
# The reference's own spread between images (a factor, one "sigma" each way): grade,
# tumour type and the share of lymphocytes move the median profile by about a quarter
# (UNCONFIRMED, the same sources; the shared images' first crossings spread ±20-25 %).
REFERENCE_SPREAD_FACTOR = 1.25
# Refuse when the interval's geometric half-width exceeds this (0.40: the estimate is
# known to better than ×/÷ 1.4, the spread of the reference alone gives 0.25 where the
# detector follows the scale one-to-one).
MAX_RELATIVE_UNCERTAINTY = 0.40
# Refuse with fewer well-shaped nuclei than this at the estimate (the median of fewer
# is dominated by the few cells that happen to be in the field).
MIN_WELL_SHAPED_NUCLEI = 30
# Refuse when the nuclei are narrower than this in pixels: their outline is then a few
# blurred pixels, and the equivalent diameter no longer scales with the nucleus.
MIN_NUCLEUS_DIAMETER_PX = 6.0
# The ladder of provisional pixel sizes (µm/px): 0.1 to 2.0 in steps of 2^(1/4).
_LADDER_UM = tuple(0.1 * 2.0 ** (k / 4) for k in range(0, 18))
# Well-shaped: minor/major axis ratio of the moment ellipse, and area over the moment
# ellipse's area (a merged pair of nuclei has ratio ≈ 0.45, a ragged fragment a low fill).
_MIN_AXIS_RATIO = 0.6
_MIN_FILL = 0.85
_MIN_MEASURED = 10  # fewer well-shaped nuclei at one rung: that rung gives no diameter


@dataclass(frozen=True)
class PixelSizeEstimate:
    """A pixel size estimated from nucleus sizes, with its interval and the evidence.

    Attributes
    ----------
    pixel_size_um : float or None
        The estimate (µm per pixel); None when no rung of the ladder reached the reference.
    low_um, high_um : float or None
        The interval: where the median diameter reaches the reference divided and
        multiplied by :data:`REFERENCE_SPREAD_FACTOR` (None when not reached).
    relative_uncertainty : float
        Geometric half-width of the interval, ``sqrt(high / low) - 1``, combined with the
        median's sampling error; ``inf`` without an interval.
    median_diameter_px : float
        Median equivalent diameter of the well-shaped nuclei at the estimate (px; NaN
        without one).
    n_well_shaped : int
        Well-shaped nuclei measured at the estimate.
    reference_diameter_um : float
        The reference diameter used (µm).
    reference_spread_factor : float
        Its spread (a factor).
    reason : str or None
        Why the estimate is too uncertain to use; None when it may be used.
    """

    pixel_size_um: float | None
    low_um: float | None
    high_um: float | None
    relative_uncertainty: float
    median_diameter_px: float
    n_well_shaped: int
    reference_diameter_um: float
    reference_spread_factor: float
    reason: str | None

    @property
    def usable(self) -> bool:
        """True when the estimate may be used (no refusal reason)."""
        return self.reason is None

    def as_dict(self) -> dict:
        """The evidence as plain JSON-ready values."""
        def num(v):
            return None if v is None or not math.isfinite(v) else round(float(v), 4)

        return {"pixel_size_um": num(self.pixel_size_um), "low_um": num(self.low_um),
                "high_um": num(self.high_um),
                "relative_uncertainty": num(self.relative_uncertainty),
                "median_diameter_px": num(self.median_diameter_px),
                "n_well_shaped_nuclei": self.n_well_shaped,
                "reference_diameter_um": self.reference_diameter_um,
                "reference_spread_factor": self.reference_spread_factor,
                "reason": self.reason}


def nucleus_shapes(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Equivalent diameter (px) and a well-shaped flag for labels 1..n.

    Well-shaped: not touching the image edge, moment-ellipse axis ratio ≥ 0.6 and area
    ≥ 0.85 of the moment ellipse's (one whole nucleus, not a merged pair or a fragment).

    Returns
    -------
    diameter_px : ndarray of float64, shape (n,)
        ``sqrt(4 · area / π)``.
    well_shaped : ndarray of bool, shape (n,)
    """
    rr, cc = np.nonzero(labels)
    lab = labels[rr, cc]
    cnt = np.bincount(lab, minlength=n + 1).astype(np.float64)
    safe = np.maximum(cnt, 1.0)
    mr = np.bincount(lab, rr, n + 1) / safe
    mc = np.bincount(lab, cc, n + 1) / safe
    dr, dc = rr - mr[lab], cc - mc[lab]
    srr = np.bincount(lab, dr * dr, n + 1) / safe + 1 / 12  # + a pixel's own spread
    scc = np.bincount(lab, dc * dc, n + 1) / safe + 1 / 12
    src = np.bincount(lab, dr * dc, n + 1) / safe
    half_tr, det = (srr + scc) / 2, srr * scc - src * src
    disc = np.sqrt(np.maximum(half_tr * half_tr - det, 0.0))
    major, minor = half_tr + disc, np.maximum(half_tr - disc, 1e-12)
    ratio = np.sqrt(minor / major)
    fill = cnt / (4 * np.pi * np.sqrt(major * minor))
    edge = np.zeros(n + 1, bool)
    for side in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        edge[side] = True
    good = ~edge & (ratio >= _MIN_AXIS_RATIO) & (fill >= _MIN_FILL)
    return np.sqrt(4 * cnt / np.pi)[1:], good[1:]


def _rung(h: np.ndarray, p: float) -> tuple[float, int, float]:
    """(median diameter µm, number of well-shaped nuclei, its sampling SD in log) at
    provisional pixel size ``p``; NaN diameter with too few."""
    det = detect_nuclei(h, pixel_size_um=p)
    d, good = nucleus_shapes(det.labels, det.n_nuclei)
    d = d[good]
    if d.size < _MIN_MEASURED:
        return float("nan"), int(d.size), float("inf")
    med = float(np.median(d))
    # SE of a median ≈ 1.2533 · σ / √n, σ from the MAD of log diameters.
    mad = float(np.median(np.abs(np.log(d) - math.log(med))))
    return med * p, int(d.size), 1.2533 * 1.4826 * mad / math.sqrt(d.size)


def _first_crossing(ladder, values, target: float) -> float | None:
    """The smallest provisional size where the curve rises through ``target`` (linear in
    log-log between the two rungs), or None."""
    for i in range(1, len(ladder)):
        a, b = values[i - 1], values[i]
        if math.isfinite(a) and math.isfinite(b) and a < target <= b:
            t = (math.log(target) - math.log(a)) / (math.log(b) - math.log(a))
            return math.exp(math.log(ladder[i - 1]) + t * (math.log(ladder[i])
                                                           - math.log(ladder[i - 1])))
    return None


def estimate_pixel_size(
    hematoxylin_od,
    *,
    reference_diameter_um: float = REFERENCE_NUCLEUS_DIAMETER_UM,
    reference_spread_factor: float = REFERENCE_SPREAD_FACTOR,
    max_relative_uncertainty: float = MAX_RELATIVE_UNCERTAINTY,
    max_side_px: int = 1536,
) -> PixelSizeEstimate:
    """Estimate the pixel size (µm/px) of an image from the size of its nuclei.

    Parameters
    ----------
    hematoxylin_od : ndarray of float, shape (rows, cols)
        Hematoxylin amount, base-10 OD (H-DAB or H&E separated with the standard vectors).
    reference_diameter_um : float, optional
        Median equivalent diameter of nucleus profiles (µm),
        :data:`REFERENCE_NUCLEUS_DIAMETER_UM` (an assumption: see there).
    reference_spread_factor : float, optional
        Its between-image spread, a factor > 1 (:data:`REFERENCE_SPREAD_FACTOR`).
    max_relative_uncertainty : float, optional
        Refuse above this geometric half-width (:data:`MAX_RELATIVE_UNCERTAINTY`).
    max_side_px : int, optional
        Only the central window of at most this many pixels a side is analysed (time).

    Returns
    -------
    PixelSizeEstimate
        The estimate, its interval and evidence; ``reason`` says why it is refused
        (check :attr:`PixelSizeEstimate.usable`).

    Raises
    ------
    ImageInputError
        Not a 2-D array.

    Notes
    -----
    The detector's size parameters are in µm, so under a provisional pixel size ``p``
    the nuclei it returns measure ``d_px`` pixels; ``d_px · p`` rises with ``p`` while
    ``p`` is below the true size (the nuclei are found whole) and falls above it (the
    nuclei are split). The estimate is the first rung-interpolated ``p`` where
    ``d_px · p`` rises through the reference; the interval the same for the reference
    ÷ and × its spread, so a detector that follows the assumed scale (a flat curve)
    gives a wide interval and a refusal. Sampling error of the median (≈ 1.25 · σ/√n)
    is added in quadrature, in log.
    """
    h = np.asarray(hematoxylin_od)
    if h.ndim != 2:
        raise ImageInputError(f"expected a 2-D hematoxylin OD image, got shape {h.shape}",
                              field="hematoxylin_od")
    ref = check_positive(reference_diameter_um, name="reference_diameter_um", unit="µm")
    spread = float(reference_spread_factor)
    if not spread > 1:
        raise ImageInputError(f"expected a factor > 1, got {reference_spread_factor}",
                              field="reference_spread_factor")
    r0, c0 = (max(0, (s - max_side_px) // 2) for s in h.shape)
    h = h[r0:r0 + max_side_px, c0:c0 + max_side_px].astype(np.float32, copy=False)
    curve, counts, errors = [], [], []
    for p in _LADDER_UM:
        d_um, n, err = _rung(h, p)
        curve.append(d_um)
        counts.append(n)
        errors.append(err)
        if _first_crossing(_LADDER_UM[:len(curve)], curve, ref * spread) is not None:
            break  # the interval is closed: larger rungs cannot change it
    return _summarise(curve, counts, errors, ref, spread, max_relative_uncertainty)


def _summarise(curve, counts, errors, ref, spread, limit) -> PixelSizeEstimate:
    """The estimate, interval and refusal reason from the ladder's curve."""
    ladder = _LADDER_UM[:len(curve)]
    est = _first_crossing(ladder, curve, ref)
    lo = _first_crossing(ladder, curve, ref / spread)
    hi = _first_crossing(ladder, curve, ref * spread)
    if est is None:
        return PixelSizeEstimate(None, lo, hi, math.inf, math.nan, max(counts, default=0),
                                 ref, spread, "no nucleus size matched the reference "
                                 f"{ref:g} µm at any pixel size from {_LADDER_UM[0]:g} to "
                                 f"{_LADDER_UM[-1]:.2g} µm/px (too few or no nuclei)")
    i = min(range(len(ladder)), key=lambda k: abs(math.log(ladder[k] / est)))
    n, d_px = counts[i], ref / est
    sampling = errors[i] if math.isfinite(errors[i]) else 1.0
    width = math.inf if lo is None or hi is None else math.sqrt(hi / lo) - 1
    rel = math.expm1(math.hypot(math.log1p(width), sampling)) if math.isfinite(width) \
        else math.inf
    reason = None
    if n < MIN_WELL_SHAPED_NUCLEI:
        reason = f"only {n} well-shaped nuclei (need ≥ {MIN_WELL_SHAPED_NUCLEI})"
    elif d_px < MIN_NUCLEUS_DIAMETER_PX:
        reason = (f"nuclei only {d_px:.1f} px across (need ≥ {MIN_NUCLEUS_DIAMETER_PX:g} "
                  "px to measure them)")
    elif not math.isfinite(rel):
        side = "lower" if lo is None else "upper"
        reason = (f"the {side} end of the interval was not reached (reference ÷/× "
                  f"{spread:g}): the nucleus sizes do not fix the scale")
    elif rel > limit:
        reason = (f"±{100 * rel:.0f}% (limit ±{100 * limit:.0f}%): the nucleus sizes do "
                  "not fix the scale")
    return PixelSizeEstimate(est, lo, hi, rel, d_px, n, ref, spread, reason)

"""H-DAB colour deconvolution in base-10 optical density.

Units
-----
Optical density (OD) is base 10, from :mod:`her2kit.imaging.color.od` with the IHC floor
(:data:`~her2kit.imaging.color.od.IHC_DARKEST_INTENSITY`: a pixel value of 0 is read as
0.5, so OD ≤ log10(510) ≈ 2.71). Stain amounts returned by :func:`separate_stains` are in
the same unit: the OD that stain alone contributes along its unit-length colour vector.
This differs from :func:`skimage.color.rgb2hed`, whose output is ``OD10 / 6`` (it divides
``ln(rgb)`` by ``ln(1e-6)``); her2kit's DAB thresholds are in plain base-10 OD, comparable
with QuPath's "DAB OD". The stain vectors come from :mod:`her2kit.imaging.color.stains`.

Speed: OD is read from a 256-entry float32 lookup table per channel, folded with the
inverse stain matrix, so each output pixel costs three table look-ups and two additions;
there is no per-pixel logarithm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from her2kit.errors import Her2kitInputError
from her2kit.imaging._validate import check_rgb_image
from her2kit.imaging.color.od import (
    IHC_DARKEST_INTENSITY,
    check_background_rgb,
    od_lookup_table,
)
from her2kit.imaging.color.stains import DAB_OD_RGB, HEMATOXYLIN_OD_RGB

__all__ = [
    "STANDARD_HDAB_MATRIX",
    "StainSeparation",
    "StainVectorEstimate",
    "estimate_stain_vectors",
    "separate_stains",
    "stain_matrix_from_vectors",
]

# Macenko estimation defaults. Macenko et al. 2009 drop pixels with OD below 0.15 as
# background; we use 0.30 because in HER2 images the DAB is in thin membranes whose
# low-OD pixels are noisy H-DAB mixtures, and on synthetic regions (8° stain jitter,
# JPEG) 0.30 halved the mean DAB angle error (5.2° -> 3.1°). Pixels above 2.5 are
# near-black and carry no colour. The 1st/99th percentile angles are the extremes
# (Macenko's alpha = 1).
_MACENKO_MIN_OD = 0.30
_MACENKO_MAX_OD = 2.5
_MACENKO_ALPHA_PCT = 1.0
_MACENKO_MAX_PIXELS = 200_000


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    n = float(np.linalg.norm(v))
    if not math.isfinite(n) or n == 0:
        raise Her2kitInputError(f"stain vector {v.tolist()} has zero or non-finite length")
    return v / n


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    cos = float(np.clip(np.dot(_unit(a), _unit(b)), -1.0, 1.0))
    return math.degrees(math.acos(cos))


def stain_matrix_from_vectors(hematoxylin_od_rgb, dab_od_rgb) -> np.ndarray:
    """Return the 3x3 stain matrix with rows hematoxylin, DAB and a residual.

    Parameters
    ----------
    hematoxylin_od_rgb, dab_od_rgb : array_like, shape (3,)
        OD colour vectors in (R, G, B); normalised to unit length here.

    Returns
    -------
    ndarray of float64, shape (3, 3)
        Rows: hematoxylin, DAB, residual. The residual is the unit cross product of the
        first two, so the matrix is invertible whenever the stains are not parallel
        (the construction scikit-image uses for ``rgb_from_hdx``).

    Raises
    ------
    Her2kitInputError
        A vector with negative or non-finite entries, or two nearly parallel vectors.
    """
    h = _unit(hematoxylin_od_rgb)
    d = _unit(dab_od_rgb)
    for name, v in (("hematoxylin_od_rgb", h), ("dab_od_rgb", d)):
        if v.shape != (3,) or np.any(v < -1e-6):
            raise Her2kitInputError(
                f"expected 3 non-negative OD components, got {np.round(v, 4).tolist()}",
                field=name,
            )
    if _angle_deg(h, d) < 2.0:
        raise Her2kitInputError(
            f"hematoxylin and DAB vectors are {(_angle_deg(h, d)):.1f}° apart; "
            "need at least 2° to separate them"
        )
    r = np.cross(h, d)
    return np.stack([h, d, r / np.linalg.norm(r)])


# The default matrix: Ruifrok & Johnston H-DAB plus the cross-product residual.
STANDARD_HDAB_MATRIX = stain_matrix_from_vectors(HEMATOXYLIN_OD_RGB, DAB_OD_RGB)
STANDARD_HDAB_MATRIX.setflags(write=False)


def _ihc_od_table(background_rgb) -> np.ndarray:
    """The (3, 256) float32 OD table of the H-DAB code (IHC floor, float64 arithmetic)."""
    return od_lookup_table(background_rgb, darkest_intensity=IHC_DARKEST_INTENSITY)


@dataclass(frozen=True, eq=False)
class StainVectorEstimate:
    """Stain vectors chosen for one image, with the evidence for the choice.

    Attributes
    ----------
    stain_matrix : ndarray of float64, shape (3, 3)
        Rows hematoxylin, DAB, residual (unit OD vectors in R, G, B).
    estimated : bool
        True when the vectors were estimated from this image; False when the standard
        Ruifrok & Johnston vectors were used.
    fallback_reason : str or None
        Why the estimate was rejected (None when ``estimated`` or not attempted).
    hematoxylin_angle_deg, dab_angle_deg : float
        Angle between the estimated and the standard vector (NaN when not estimated).
    n_pixels : int
        Stained pixels the estimate used.
    """

    stain_matrix: np.ndarray
    estimated: bool
    fallback_reason: str | None
    hematoxylin_angle_deg: float
    dab_angle_deg: float
    n_pixels: int


def estimate_stain_vectors(
    rgb,
    *,
    background_rgb=(255, 255, 255),
    max_hematoxylin_angle_deg: float = 15.0,
    max_dab_angle_deg: float = 20.0,
    min_pixels: int = 2000,
    min_dab_fraction: float = 0.01,
) -> StainVectorEstimate:
    """Estimate H-DAB vectors with Macenko's method, bounded to sane angles.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        Brightfield H-DAB image.
    background_rgb : float or sequence of 3 floats, optional
        Background intensity ``I0`` per channel.
    max_hematoxylin_angle_deg, max_dab_angle_deg : float, optional
        Largest accepted angle (degrees) between an estimated vector and the standard
        Ruifrok & Johnston vector. Beyond it the estimate is taken to have locked onto
        something else (background tint, pigment, a missing stain) and is rejected.
    min_pixels : int, optional
        Fewest stained pixels (OD norm 0.30–2.5) needed to try an estimate.
    min_dab_fraction : float, optional
        Fewest stained pixels, as a fraction, that must be DAB-dominant under the standard
        vectors. A HER2 0 image has almost no DAB, and Macenko's second extreme would
        then be noise; the standard vectors are safer.

    Returns
    -------
    StainVectorEstimate
        The matrix to use and whether it was estimated or is the standard one.

    Notes
    -----
    Steps (Macenko et al. 2009): keep stained pixels; take the plane of the two largest
    principal axes of their OD; project; take the 1st and 99th percentile angles in the
    plane as the two pure stains; call the one nearer the standard hematoxylin vector
    hematoxylin. At most 200 000 pixels (an even stride) are used so that the cost is
    bounded on large images.

    References
    ----------
    Macenko M. et al. "A method for normalizing histology slides for quantitative
    analysis." ISBI 2009, 1107-1110.
    """
    rgb = check_rgb_image(rgb, name="rgb")
    flat = rgb.reshape(-1, 3)
    stride = max(1, flat.shape[0] // _MACENKO_MAX_PIXELS)
    lut = _ihc_od_table(background_rgb)
    sample = flat[::stride]
    # Squared OD norm from a table of squares first, so that only the stained pixels
    # are converted to OD vectors.
    sq = lut * lut
    norm2 = np.take(sq[0], sample[:, 0])
    norm2 += np.take(sq[1], sample[:, 1])
    norm2 += np.take(sq[2], sample[:, 2])
    stained = sample[(norm2 > _MACENKO_MIN_OD**2) & (norm2 < _MACENKO_MAX_OD**2)]
    od = np.empty((stained.shape[0], 3), np.float64)
    for c in range(3):
        od[:, c] = np.take(lut[c], stained[:, c])
    n = od.shape[0]
    nan = float("nan")

    def fallback(reason: str, h_ang=nan, d_ang=nan) -> StainVectorEstimate:
        return StainVectorEstimate(STANDARD_HDAB_MATRIX, False, reason, h_ang, d_ang, n)

    if n < min_pixels:
        return fallback(f"only {n} stained pixels sampled, need {min_pixels}")
    dab_share = float(np.mean((od @ np.linalg.inv(STANDARD_HDAB_MATRIX))[:, 1] > 0.15))
    if dab_share < min_dab_fraction:
        return fallback(
            f"too little DAB to estimate ({100 * dab_share:.2f}% of stained pixels, "
            f"need {100 * min_dab_fraction:g}%)"
        )
    # Principal plane through the origin (OD mixtures are linear, so the stains span a
    # plane through 0; the second moment, not the covariance, is the right matrix).
    _, eigvecs = np.linalg.eigh(od.T @ od / n)
    plane = eigvecs[:, [2, 1]]
    plane *= np.where(plane.sum(axis=0) < 0, -1.0, 1.0)  # first axis points into +OD
    proj = od @ plane
    phi = np.arctan2(proj[:, 1], proj[:, 0])
    lo, hi = np.percentile(phi, [_MACENKO_ALPHA_PCT, 100 - _MACENKO_ALPHA_PCT])
    v1 = plane @ np.array([math.cos(lo), math.sin(lo)])
    v2 = plane @ np.array([math.cos(hi), math.sin(hi)])
    v1 = np.abs(v1) if v1.sum() < 0 and np.all(v1 <= 1e-9) else v1
    v2 = np.abs(v2) if v2.sum() < 0 and np.all(v2 <= 1e-9) else v2
    if _angle_deg(v1, HEMATOXYLIN_OD_RGB) + _angle_deg(v2, DAB_OD_RGB) <= _angle_deg(
        v2, HEMATOXYLIN_OD_RGB
    ) + _angle_deg(v1, DAB_OD_RGB):
        h_est, d_est = v1, v2
    else:
        h_est, d_est = v2, v1
    h_ang = _angle_deg(h_est, HEMATOXYLIN_OD_RGB)
    d_ang = _angle_deg(d_est, DAB_OD_RGB)
    if np.any(h_est < -0.02) or np.any(d_est < -0.02):
        return fallback("an estimated vector has a negative OD component", h_ang, d_ang)
    if h_ang > max_hematoxylin_angle_deg:
        return fallback(
            f"estimated hematoxylin is {h_ang:.1f}° from standard "
            f"(limit {max_hematoxylin_angle_deg:g}°)",
            h_ang,
            d_ang,
        )
    if d_ang > max_dab_angle_deg:
        return fallback(
            f"estimated DAB is {d_ang:.1f}° from standard (limit {max_dab_angle_deg:g}°)",
            h_ang,
            d_ang,
        )
    matrix = stain_matrix_from_vectors(np.clip(h_est, 0, None), np.clip(d_est, 0, None))
    matrix.setflags(write=False)
    return StainVectorEstimate(matrix, True, None, h_ang, d_ang, n)


@dataclass(frozen=True, eq=False)
class StainSeparation:
    """Hematoxylin and DAB amounts of one image.

    Attributes
    ----------
    hematoxylin_od, dab_od : ndarray of float32, shape (rows, cols)
        Amount of each stain in base-10 OD along its unit vector. Values can be slightly
        negative where a pixel's colour lies outside the stain plane (noise, JPEG).
    stain_matrix : ndarray of float64, shape (3, 3)
        Rows hematoxylin, DAB, residual, as used.
    background_rgb : tuple of 3 floats
        ``I0`` per channel used for the OD conversion.
    estimated : bool
        True if the vectors were estimated from this image, False if standard.
    fallback_reason : str or None
        Why estimation fell back to the standard vectors, if it did.
    """

    hematoxylin_od: np.ndarray
    dab_od: np.ndarray
    stain_matrix: np.ndarray
    background_rgb: tuple[float, float, float]
    estimated: bool
    fallback_reason: str | None


def separate_stains(
    rgb,
    *,
    stain_matrix=None,
    estimate: bool = True,
    background_rgb=(255, 255, 255),
) -> StainSeparation:
    """Separate an H-DAB brightfield image into hematoxylin and DAB optical densities.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        Brightfield image, channel last. Other dtypes and channel counts raise.
    stain_matrix : array_like, shape (2, 3) or (3, 3), optional
        Hematoxylin and DAB OD vectors (rows; a third row is ignored and rebuilt as the
        residual). When given, no estimation is done.
    estimate : bool, optional
        Estimate the vectors from the image (:func:`estimate_stain_vectors`); it falls back
        to the standard vectors, with a reason, when the estimate is out of bounds. When
        False, the standard Ruifrok & Johnston vectors are used.
    background_rgb : float or sequence of 3 floats, optional
        Background intensity ``I0`` per channel (8-bit units).

    Returns
    -------
    StainSeparation
        ``hematoxylin_od`` and ``dab_od`` (float32, base-10 OD) and the evidence.

    Raises
    ------
    ImageInputError
        Not a uint8 RGB image.

    References
    ----------
    Ruifrok A.C., Johnston D.A. Anal Quant Cytol Histol 23(4):291-299 (2001).

    Examples
    --------
    >>> import numpy as np
    >>> from her2kit.imaging.color.hdab import separate_stains
    >>> from her2kit.imaging.color.stains import DAB_OD_RGB
    >>> od = 0.5 * DAB_OD_RGB                       # pure DAB at OD 0.5
    >>> pixel = np.round(255 * 10 ** -od).astype(np.uint8)
    >>> img = np.broadcast_to(pixel, (32, 32, 3))
    >>> res = separate_stains(img, estimate=False)
    >>> round(float(res.dab_od.mean()), 2), round(float(res.hematoxylin_od.mean()), 2)
    (0.5, 0.0)
    """
    rgb = check_rgb_image(rgb, name="rgb")
    bg = check_background_rgb(background_rgb)
    if stain_matrix is not None:
        m = np.asarray(stain_matrix, dtype=np.float64)
        if m.ndim != 2 or m.shape[1] != 3 or m.shape[0] not in (2, 3):
            raise Her2kitInputError(
                f"expected shape (2, 3) or (3, 3), got {m.shape}", field="stain_matrix"
            )
        matrix = stain_matrix_from_vectors(m[0], m[1])
        estimated, reason = False, None
    elif estimate:
        est = estimate_stain_vectors(rgb, background_rgb=bg)
        matrix, estimated, reason = est.stain_matrix, est.estimated, est.fallback_reason
    else:
        matrix, estimated, reason = STANDARD_HDAB_MATRIX, False, None
    inv = np.linalg.inv(matrix)  # concentrations = OD @ inv (rows are stains)
    lut = _ihc_od_table(bg).astype(np.float64)
    # Fold the inverse matrix into the tables: table[c, k, v] = OD_c(v) * inv[c, k], and
    # pack the two stains of each entry into one complex64 (real: hematoxylin, imaginary:
    # DAB), so one gather per channel fetches both: 3 gathers and 2 additions per pixel.
    table = lut[:, None, :] * inv[:, :2, None]
    packed = (table[:, 0] + 1j * table[:, 1]).astype(np.complex64)
    out = np.take(packed[0], rgb[..., 0])
    out += np.take(packed[1], rgb[..., 1])
    out += np.take(packed[2], rgb[..., 2])
    return StainSeparation(
        hematoxylin_od=np.ascontiguousarray(out.real),
        dab_od=np.ascontiguousarray(out.imag),
        stain_matrix=matrix,
        background_rgb=(float(bg[0]), float(bg[1]), float(bg[2])),
        estimated=estimated,
        fallback_reason=reason,
    )

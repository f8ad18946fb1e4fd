"""Colour deconvolution for brightfield ISH (Dual ISH and single-probe CISH).

Brightfield in-situ hybridization puts three absorbers on a slide: hematoxylin
(nuclei), and one or two chromogens that mark the probes. Under the
Beer-Lambert law the optical density (OD, base 10) of each RGB channel is a
linear mix of the stain amounts, so the amounts are recovered by a least-squares
solve against the stain vectors below.

The stain vectors and the assays' stain roles come from
:mod:`her2kit.imaging.color.stains`; optical density from :mod:`her2kit.imaging.color.od`
with the ISH floor (:data:`~her2kit.imaging.color.od.ISH_DARKEST_INTENSITY`: a pixel
value of 0 is read as 1, so OD ≤ log10(255) ≈ 2.41) in float32 arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from her2kit.errors import ImageInputError
from her2kit.imaging.color.od import ISH_DARKEST_INTENSITY, rgb_to_od
from her2kit.imaging.color.stains import STAIN_VECTORS, unit_vector

__all__ = [
    "MAX_STAIN_ANGLE_DEG",
    "estimate_background_rgb",
    "estimate_ish_stains",
    "separate_ish_stains",
]


def _ish_od(rgb: np.ndarray, background_rgb) -> np.ndarray:
    """OD of a brightfield ISH image: the ISH checks and messages, then the ISH table.

    Returns
    -------
    od : (M, N, 3) ndarray of float32
        ``-log10(max(I, 1) / I0)``, unitless OD; 0 on clear glass, never negative.

    Raises
    ------
    ImageInputError
        If the image is not (M, N, 3) uint8, or ``background_rgb`` is not 3 values above 1.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ImageInputError(
            f"brightfield image must be (rows, cols, 3) RGB, got shape {rgb.shape}"
        )
    if rgb.dtype != np.uint8:
        # No implicit rescaling (house rule D): the caller states 8-bit data.
        raise ImageInputError(f"brightfield image must be uint8 (0-255), got dtype {rgb.dtype}")
    i0 = np.asarray(background_rgb, dtype=np.float32)
    if i0.shape != (3,) or np.any(i0 <= 1):
        raise ImageInputError(f"background_rgb must be 3 values above 1, got {background_rgb!r}")
    return rgb_to_od(
        rgb,
        background_rgb=background_rgb,
        darkest_intensity=ISH_DARKEST_INTENSITY,
        precision="float32",
    )


def separate_ish_stains(
    rgb: np.ndarray,
    *,
    stains: Mapping[str, str | tuple[float, float, float]],
    background_rgb: tuple[float, float, float] = (255, 255, 255),
    clip: bool = True,
) -> dict[str, np.ndarray]:
    """Separate a brightfield ISH image into per-stain amounts.

    Parameters
    ----------
    rgb : (M, N, 3) ndarray of uint8
        Brightfield RGB image (0-255).
    stains : mapping of str to str or 3-tuple
        Role name (e.g. ``"nuclei"``, ``"her2"``, ``"cep17"``) to a stain: a key of
        :data:`~her2kit.imaging.color.stains.STAIN_VECTORS` or an explicit (R, G, B)
        OD vector. Two or three stains; see
        :data:`~her2kit.imaging.color.stains.DUAL_ISH_STAINS` and
        :data:`~her2kit.imaging.color.stains.CISH_STAINS`.
    background_rgb : tuple of 3 float, optional
        Clear-glass intensity per channel (0-255).
    clip : bool, optional
        Clip negative amounts (noise) to 0. Keep them (False) where the noise
        of an amount is to be measured, e.g. before spot detection: clipping
        collapses the noise of a stain that is absent from most pixels.

    Returns
    -------
    amounts : dict of str to (M, N) ndarray of float32
        Stain amount per role, in OD units along the unit stain vector (base-10
        OD summed over the stain's channels divided by the vector norm).

    Raises
    ------
    ImageInputError
        Bad image; unknown stain name; fewer than 2 or more than 3 stains; stain
        vectors that are (nearly) collinear.

    Notes
    -----
    ``OD = C @ M`` with ``M`` the (n_stains, 3) matrix of unit vectors; ``C`` is
    found as ``OD @ pinv(M)``, the least-squares solution, which is exact for 3
    independent stains.
    """
    if not 2 <= len(stains) <= 3:
        raise ImageInputError(f"stains must name 2 or 3 stains, got {len(stains)}")
    vectors = []
    for role, stain in stains.items():
        if isinstance(stain, str):
            if stain not in STAIN_VECTORS:
                raise ImageInputError(
                    f"unknown stain {stain!r} for {role!r}; known: {sorted(STAIN_VECTORS)}"
                )
            vectors.append(STAIN_VECTORS[stain])
        else:
            v = np.asarray(stain, dtype=float)
            if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) == 0:
                raise ImageInputError(f"stain vector for {role!r} must be 3 finite OD values")
            vectors.append(unit_vector(tuple(v)))
    m = np.asarray(vectors, dtype=float)
    if np.linalg.cond(m) > 100:
        raise ImageInputError(f"stain vectors for {list(stains)} are nearly collinear")
    od = _ish_od(rgb, background_rgb)
    conc = od.reshape(-1, 3) @ np.linalg.pinv(m).astype(np.float32)
    if clip:
        conc = np.maximum(conc, 0.0)
    conc = conc.reshape(*od.shape[:2], len(vectors))
    return {role: np.ascontiguousarray(conc[..., i]) for i, role in enumerate(stains)}


#: Largest angle, degrees, between an estimated stain vector and its reference;
#: beyond it the reference vector is kept (the pixels assigned to that stain were
#: something else, e.g. no red dots in the field).
MAX_STAIN_ANGLE_DEG = 25.0
#: Share of a stain's pixels, the densest, that set its vector.
DENSE_FRACTION = 0.1
#: Fewest pixels a stain needs for its vector to be estimated.
MIN_STAIN_PIXELS = 50


def estimate_background_rgb(rgb: np.ndarray, *, percentile: float = 95.0):
    """Clear-glass colour of a brightfield image: the median RGB of its brightest pixels.

    Parameters
    ----------
    rgb : (M, N, 3) ndarray of uint8
    percentile : float, optional
        Pixels whose R+G+B is at or above this percentile are taken as glass.

    Returns
    -------
    tuple of 3 float
        Per-channel ``I0`` (0-255) for :func:`~her2kit.imaging.color.od.rgb_to_od`;
        microscope images are rarely white-balanced to 255, and an ``I0`` set too high adds a grey
        (silver-like) OD to every pixel.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ImageInputError(
            f"brightfield image must be (rows, cols, 3) uint8, got {rgb.shape} {rgb.dtype}"
        )
    flat = rgb.reshape(-1, 3)
    s = flat.sum(axis=1, dtype=np.int32)
    bright = flat[s >= np.percentile(s, percentile)]
    return tuple(float(max(v, 2.0)) for v in np.median(bright, axis=0))


def estimate_ish_stains(
    rgb: np.ndarray,
    *,
    stains: Mapping[str, str | tuple[float, float, float]],
    background_rgb: tuple[float, float, float],
    min_od: float = 0.15,
    iterations: int = 3,
    max_angle_deg: float = MAX_STAIN_ANGLE_DEG,
) -> dict[str, tuple[float, float, float]]:
    """Adapt named stain vectors to one image from its pixel OD directions.

    - ``"silver"`` (metallic silver, the darkest absorber on the slide): the
      mean OD direction of the darkest 0.1 % of pixels (by their smallest
      channel OD) that are not closer in direction to another stain's
      reference than ``max_angle_deg`` allows. Its hue (often slightly brown)
      lies within ~20 degrees of hematoxylin, so it is found by darkness, not
      by clustering hue.
    - every other named stain: spherical k-means over the remaining pixels with
      total OD above ``min_od``, started at the reference vectors; each vector
      becomes the OD-weighted mean direction of the densest
      :data:`DENSE_FRACTION` of its pixels (the pure stain, not faint mixtures),
      for ``iterations`` rounds.

    An estimate further than ``max_angle_deg`` from its reference, or from fewer
    than :data:`MIN_STAIN_PIXELS` pixels, is replaced by the reference; stains
    given as explicit vectors are kept as given.

    Parameters
    ----------
    rgb : (M, N, 3) ndarray of uint8
    stains : mapping of str to str or 3-tuple
        Role to reference stain (a key of
        :data:`~her2kit.imaging.color.stains.STAIN_VECTORS` or an OD vector).
    background_rgb : tuple of 3 float
        Clear-glass ``I0`` (see :func:`estimate_background_rgb`).

    Returns
    -------
    dict of str to 3-tuple of float
        Unit OD vector per role, same keys as ``stains``.
    """
    refs, named = [], []
    for role, stain in stains.items():
        if isinstance(stain, str):
            if stain not in STAIN_VECTORS:
                raise ImageInputError(
                    f"unknown stain {stain!r} for {role!r}; known: {sorted(STAIN_VECTORS)}"
                )
            refs.append(np.asarray(STAIN_VECTORS[stain], float))
            named.append(stain)
        else:
            refs.append(np.asarray(unit_vector(tuple(stain)), float))
            named.append(None)
    refs_a = np.asarray(refs)
    cur = refs_a.copy()
    cos_max = np.cos(np.deg2rad(max_angle_deg))
    od = _ish_od(rgb, background_rgb).reshape(-1, 3)
    tot = od.sum(axis=1)
    sel = np.flatnonzero(tot > min_od)
    if sel.size < MIN_STAIN_PIXELS:
        return {role: tuple(float(x) for x in a) for role, a in zip(stains, cur, strict=True)}
    # Subsample large images: the directions need thousands of pixels, not millions.
    step = sel.size // 1_000_000 + 1
    v = od[sel[::step]].astype(np.float64)
    norm = np.linalg.norm(v, axis=1)
    d = v / norm[:, None]
    use = np.ones(len(d), bool)
    for k, name in enumerate(named):
        if name != "silver":
            continue
        # Dark pixels not of another stain's hue.
        others = [j for j in range(len(refs_a)) if j != k and named[j] != "hematoxylin"]
        ok = np.ones(len(d), bool)
        for j in others:
            ok &= (d @ refs_a[j]) < (d @ refs_a[k])
        darkness = v.min(axis=1)
        if ok.sum() >= MIN_STAIN_PIXELS * 20:
            dark = ok & (darkness >= np.quantile(darkness[ok], 0.999))
            mean = (d[dark] * norm[dark, None]).sum(axis=0)
            mean /= np.linalg.norm(mean)
            if float(mean @ refs_a[k]) >= cos_max:
                cur[k] = mean
            use &= ~dark
    kidx = [k for k, name in enumerate(named) if name is not None and name != "silver"]
    for _ in range(iterations):
        nearest = np.argmax(d @ cur.T, axis=1)
        for k in kidx:
            m = (nearest == k) & use
            if m.sum() < MIN_STAIN_PIXELS:
                cur[k] = refs_a[k]
                continue
            dm, nm = d[m], norm[m]
            if named[k] != "hematoxylin":
                dense = nm >= np.quantile(nm, 1.0 - DENSE_FRACTION)
                dm, nm = dm[dense], nm[dense]
            mean = (dm * nm[:, None]).sum(axis=0)
            mean /= np.linalg.norm(mean)
            cur[k] = mean if float(mean @ refs_a[k]) >= cos_max else refs_a[k]
    return {role: tuple(float(x) for x in a) for role, a in zip(stains, cur, strict=True)}

"""The optics and camera shared by the synthetic generators: stain OD to an image.

A generator first lays out tissue and stains it, as maps of stain amount (base-10
optical density along each stain's unit vector). This module turns those maps into
what a microscope records:

Brightfield (IHC, Dual ISH, CISH)
    :func:`mix_stains` sums each stain's amount times its OD vector (R, G, B);
    :func:`transmitted_intensity` applies Beer-Lambert, ``I = I0 * 10**-OD``, under an
    incident light that may be uneven (:func:`radial_illumination`); an optional
    :func:`optical_blur`; Gaussian camera noise (:func:`camera_noise`); 8-bit
    quantisation (:func:`to_uint8`); and an optional in-memory JPEG round trip
    (:func:`jpeg_round_trip`).
Fluorescence (FISH)
    Expected photons per pixel, under a linear illumination gradient
    (:func:`linear_illumination`), then Poisson counting noise (:func:`photon_counts`).
Point sources and focus (both ISH modes)
    Probe signals are Gaussians (the PSF) splatted at sub-pixel positions
    (:func:`render_point_sources`); a nucleus out of the focal plane is blurred by a
    further :data:`DEFOCUS_SIGMA_UM` (:func:`focus_blur`).

Every function that draws random numbers takes the generator as ``rng`` and draws in
a fixed order, so a generator's output stays a pure function of its seed. The
floating-point operations are those the generators have always used, in the same
order and dtypes (float32 for IHC, float64 for ISH): images are bit-identical to the
ones made before this module existed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "DEFOCUS_SIGMA_UM",
    "camera_noise",
    "clipped_noise_mean",
    "focus_blur",
    "jitter_stain_vector",
    "jpeg_round_trip",
    "linear_illumination",
    "mix_stains",
    "optical_blur",
    "photon_counts",
    "pixel_average_factor",
    "radial_illumination",
    "render_point_sources",
    "splat",
    "to_uint8",
    "transmitted_intensity",
]

#: Extra Gaussian blur (s.d., µm) of everything in a nucleus outside the focal plane.
DEFOCUS_SIGMA_UM = 1.2


# --------------------------------------------------------------------------- stains
def jitter_stain_vector(v: np.ndarray, max_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Tilt an OD vector by a random angle of up to ``max_deg`` degrees.

    Parameters
    ----------
    v : ndarray, shape (3,)
        OD vector (R, G, B), any positive length.
    max_deg : float
        Largest tilt, degrees; 0 or less returns ``v`` normalised, drawing nothing.
    rng : numpy.random.Generator
        Source of the random axis and angle.

    Returns
    -------
    ndarray, shape (3,)
        Unit vector with every component above 0.02 (a physical stain absorbs in all
        three channels); after 100 draws that all fail, ``v`` normalised.
    """
    if max_deg <= 0:
        return v / np.linalg.norm(v)
    for _ in range(100):
        axis = rng.normal(size=3)
        axis -= axis.dot(v) * v
        axis /= np.linalg.norm(axis)
        ang = math.radians(rng.uniform(0, max_deg))
        w = v * math.cos(ang) + axis * math.sin(ang)
        if np.all(w > 0.02):
            return w / np.linalg.norm(w)
    return v / np.linalg.norm(v)


def mix_stains(amounts_and_vectors: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Sum stain amounts times their OD vectors into an OD image (Beer-Lambert mixing).

    Parameters
    ----------
    amounts_and_vectors : sequence of (ndarray (rows, cols), ndarray (3,))
        At least one pair: a stain's amount map (OD, base 10, along its unit vector)
        and its OD vector (R, G, B). The result's dtype follows them.

    Returns
    -------
    ndarray, shape (rows, cols, 3)
        Optical density per channel, base 10, the pairs added in the order given.
    """
    (amount, vector), *rest = amounts_and_vectors
    od = amount[..., None] * vector
    for amount, vector in rest:
        od = od + amount[..., None] * vector
    return od


def transmitted_intensity(od: np.ndarray, *, incident) -> np.ndarray:
    """Beer-Lambert transmission: ``incident * 10**-od``, in the dtype of ``od``.

    Parameters
    ----------
    od : ndarray, shape (rows, cols, 3)
        Optical density, base 10.
    incident : float or ndarray broadcastable to ``od``
        Incident light, 8-bit digital numbers (255 for white glass; a (rows, cols, 1)
        map for uneven illumination).

    Returns
    -------
    ndarray, shape (rows, cols, 3)
        Transmitted intensity, digital numbers (not yet rounded or clipped).
    """
    return incident * np.power(od.dtype.type(10.0), -od)


# --------------------------------------------------------------------------- illumination
def radial_illumination(
    shape: tuple[int, int], *, level: float, falloff: float, rng: np.random.Generator
) -> np.ndarray:
    """Incident light falling off linearly with the distance from a random centre.

    Parameters
    ----------
    shape : (int, int)
        Image size (rows, cols), pixels.
    level : float
        Light at the centre, 8-bit digital numbers.
    falloff : float
        Relative loss at one image diagonal from the centre (0 = flat: nothing drawn).
    rng : numpy.random.Generator
        Source of the centre (row, then column).

    Returns
    -------
    ndarray of float32, shape (rows, cols)
    """
    rows, cols = shape
    light = np.full(shape, level, np.float32)
    if falloff > 0:
        yy, xx = np.mgrid[0:rows, 0:cols]
        cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
        dist = np.hypot(yy - cy, xx - cx) / math.hypot(rows, cols)
        light *= (1.0 - falloff * dist).astype(np.float32)
    return light


def linear_illumination(shape: tuple[int, int], *, rise: float) -> np.ndarray:
    """Relative illumination rising linearly from 1 at the left edge by ``rise``.

    Returns
    -------
    ndarray of float64, shape (rows, cols)
        ``1 + rise * col / cols``.
    """
    _yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return 1.0 + rise * xx / shape[1]


# --------------------------------------------------------------------------- blur
def optical_blur(intensity: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur of each channel of a (rows, cols, 3) image (s.d. in pixels)."""
    return ndi.gaussian_filter(intensity, sigma=(sigma_px,) * 2 + (0,))


def focus_blur(
    image: np.ndarray, defocused: np.ndarray, *, sigma_um: float, pixel_size_um: float
) -> np.ndarray:
    """Blur an image by ``sigma_um``, and its defocused pixels by :data:`DEFOCUS_SIGMA_UM` more.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Stain amount or brightness, sharp.
    defocused : ndarray of bool, shape (rows, cols)
        Pixels of nuclei outside the focal plane.
    sigma_um, pixel_size_um : float
        In-focus blur s.d. (µm) and µm per pixel.

    Returns
    -------
    ndarray of float64, shape (rows, cols)
        The in-focus part blurred by ``sigma_um`` plus the defocused part blurred by
        ``hypot(sigma_um, DEFOCUS_SIGMA_UM)``.
    """
    return ndi.gaussian_filter(image * ~defocused, sigma_um / pixel_size_um) + ndi.gaussian_filter(
        image * defocused, np.hypot(sigma_um, DEFOCUS_SIGMA_UM) / pixel_size_um
    )


# --------------------------------------------------------------------------- point sources
def splat(shape, rows, cols, weights) -> np.ndarray:
    """Bilinear splat of point weights onto a grid (sub-pixel positions, total preserved).

    Parameters
    ----------
    shape : (int, int)
        Grid size (rows, cols).
    rows, cols, weights : ndarray, shape (n,)
        Point positions (pixels, may be fractional) and weights.

    Returns
    -------
    ndarray of float64, shape ``shape``
    """
    out = np.zeros(shape, np.float64)
    if len(rows) == 0:
        return out
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    fr, fc = rows - r0, cols - c0
    for dr, dc, wgt in (
        (0, 0, (1 - fr) * (1 - fc)),
        (0, 1, (1 - fr) * fc),
        (1, 0, fr * (1 - fc)),
        (1, 1, fr * fc),
    ):
        rr, cc = np.clip(r0 + dr, 0, shape[0] - 1), np.clip(c0 + dc, 0, shape[1] - 1)
        np.add.at(out, (rr, cc), weights * wgt)
    return out


def render_point_sources(
    shape: tuple[int, int],
    rows: np.ndarray,
    cols: np.ndarray,
    weights: np.ndarray,
    *,
    selected: np.ndarray,
    defocused: np.ndarray,
    dz: np.ndarray,
    sigma_px: float,
    defocus_sigma_px: float,
) -> np.ndarray:
    """Gaussian images of the selected point sources, each blurred by its focus.

    Parameters
    ----------
    shape : (int, int)
        Image size (rows, cols), pixels.
    rows, cols, weights : ndarray, shape (n,)
        Point positions (pixels) and integrated intensities.
    selected : ndarray of bool, shape (n,)
        The points to render (e.g. one probe's).
    defocused : ndarray of bool, shape (n,)
        Points in a nucleus outside the focal plane: their s.d. grows to
        ``hypot(s, defocus_sigma_px)``.
    dz : ndarray of int, shape (n,)
        Planes between each point's focal plane and the rendered one (0 in a 2-D
        field): its s.d. is ``sigma_px * sqrt(1 + dz**2)``, the energy kept.
    sigma_px, defocus_sigma_px : float
        PSF s.d. in focus and the extra defocus s.d., pixels.

    Returns
    -------
    ndarray of float64, shape ``shape``
        The sum of the Gaussians (zero outside the image: ``mode="constant"``).
    """
    img = np.zeros(shape)
    for d in np.unique(dz[selected]) if selected.any() else []:
        for oof in (False, True):
            s = selected & (dz == d) & (defocused == oof)
            if not s.any():
                continue
            sig = sigma_px * np.sqrt(1.0 + float(d) ** 2)
            if oof:
                sig = np.hypot(sig, defocus_sigma_px)
            img += ndi.gaussian_filter(
                splat(shape, rows[s], cols[s], weights[s]), sig, mode="constant"
            )
    return img


# --------------------------------------------------------------------------- pixel size
def pixel_average_factor(scale_um: float, *, pixel_size_um: float, reference_um: float) -> float:
    """How the s.d. of a random pattern, stated per pixel at ``reference_um``, changes at
    ``pixel_size_um``: a pixel averages the light over its area.

    The pattern is white noise smoothed by a Gaussian of s.d. ``scale_um`` (0 for
    per-pixel camera noise or speckle; the nucleus texture and the grain of the
    brightfield generator, the DAPI texture of FISH). A square pixel of side ``p``
    averages it like a Gaussian of variance ``p**2 / 12`` (the box's), so the pattern's
    variance goes as ``1 / (scale_um**2 + p**2 / 12)``.

    Parameters
    ----------
    scale_um : float
        Correlation scale of the pattern (Gaussian s.d.), µm, >= 0.
    pixel_size_um, reference_um : float
        The pixel size rendered and the one at which the s.d. is stated, µm/px, > 0.

    Returns
    -------
    float
        ``sqrt((scale_um**2 + reference_um**2 / 12) / (scale_um**2 + pixel_size_um**2 /
        12))``: 1 at the reference size, below 1 for coarser pixels (white noise:
        ``reference_um / pixel_size_um``, its s.d. over the square root of the pixel
        area), above 1 for finer ones.

    Examples
    --------
    >>> round(pixel_average_factor(0.0, pixel_size_um=0.26, reference_um=0.065), 4)
    0.25
    """
    s2 = float(scale_um) ** 2
    return math.sqrt((s2 + float(reference_um) ** 2 / 12.0)
                     / (s2 + float(pixel_size_um) ** 2 / 12.0))


# --------------------------------------------------------------------------- camera
def camera_noise(shape, sd_dn: float, rng: np.random.Generator, *, dtype=np.float64) -> np.ndarray:
    """Gaussian read noise, s.d. ``sd_dn`` (8-bit digital numbers), cast to ``dtype``."""
    return rng.normal(0, sd_dn, size=shape).astype(dtype, copy=False)


def clipped_noise_mean(intensity: np.ndarray, sd_dn: float, *, low: float = 0.0,
                       high: float = 255.0) -> np.ndarray:
    """Expected value of ``clip(intensity + N(0, sd_dn**2), low, high)``, per pixel.

    What pixels of a finer camera with noise ``sd_dn`` and an 8-bit range average to
    over a coarser pixel: the clipping lifts dark pixels (a dot at 3 DN with 26 DN of
    noise averages to ~12 DN) and lowers bright ones.

    Parameters
    ----------
    intensity : ndarray
        Noise-free intensity, digital numbers.
    sd_dn : float
        Noise s.d., digital numbers; 0 or less returns ``intensity`` clipped.
    low, high : float, optional
        The range the noisy values are clipped to.

    Returns
    -------
    ndarray of float64, the shape of ``intensity``

    Examples
    --------
    >>> round(float(clipped_noise_mean(np.array(0.0), 10.0)), 3)  # sd / sqrt(2 pi)
    3.989
    """
    from scipy.special import ndtr

    x = np.asarray(intensity, np.float64)
    if not sd_dn > 0:
        return np.clip(x, low, high)
    a, b = (low - x) / sd_dn, (high - x) / sd_dn
    pa, pb = ndtr(a), ndtr(b)
    dens = (np.exp(-0.5 * a * a) - np.exp(-0.5 * b * b)) / math.sqrt(2 * math.pi)
    return low * pa + high * (1.0 - pb) + x * (pb - pa) + sd_dn * dens


def to_uint8(intensity: np.ndarray) -> np.ndarray:
    """Round to the nearest digital number and clip to 0-255: an 8-bit camera image."""
    return np.clip(np.rint(intensity), 0, 255).astype(np.uint8)


def photon_counts(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Poisson-distributed photon counts of an expected-photon image, as uint16."""
    return np.clip(rng.poisson(expected), 0, 65535).astype(np.uint16)


def jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode an RGB uint8 image as JPEG at ``quality`` (1-95) in memory and decode it.

    Returns
    -------
    ndarray of uint8, shape (rows, cols, 3)
        A new, writable array with the compression artefacts.
    """
    from PIL import Image  # in-memory encode/decode only; no file is opened

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy()

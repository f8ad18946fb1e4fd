"""Tissue layout shared by the synthetic generators: random fields and elliptical nuclei.

Nuclei are ellipses that never overlap (they may touch, so nucleus splitting is
exercised). Two layouts use the same ellipse geometry (:func:`ellipse_frame`):

- :func:`hex_grid_centres` and :func:`paint_nuclei`: a jittered hexagonal grid of
  tumour cells, each nucleus painted only where no earlier one lies (IHC regions,
  where cells pack edge to edge);
- :func:`place_nuclei_without_overlap`: nuclei at random positions by rejection, with a
  one-pixel gap, allowed to run off the image edge (ISH fields, where nuclei are
  scattered and counted only when whole).

Smooth random fields give tissue structure and texture: :func:`smooth_noise` (drawn
coarse and zoomed, float32; IHC) and :func:`smooth_texture` (full resolution, float64;
ISH). They are different draws and are kept apart so every seed keeps its image.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi

from her2kit.errors import Her2kitInputError

__all__ = [
    "ellipse_frame",
    "hex_grid_centres",
    "paint_nuclei",
    "place_nuclei_without_overlap",
    "smooth_noise",
    "smooth_texture",
]


# --------------------------------------------------------------------------- random fields
def smooth_noise(shape, sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-SD Gaussian-filtered noise, drawn coarse and zoomed for speed.

    Parameters
    ----------
    shape : (int, int)
        Output size (rows, cols), pixels.
    sigma_px : float
        Spatial scale (Gaussian s.d.) of the field, pixels.
    rng : numpy.random.Generator
        Source of the white noise.

    Returns
    -------
    ndarray of float32, shape ``shape``
    """
    step = max(1, int(sigma_px / 3))
    small = rng.normal(size=(shape[0] // step + 2, shape[1] // step + 2)).astype(np.float32)
    small = ndi.gaussian_filter(small, sigma_px / step, mode="wrap")
    big = ndi.zoom(small, step, order=1)[: shape[0], : shape[1]]
    big -= big.mean()
    sd = big.std()
    return big / sd if sd > 0 else big


def smooth_texture(shape, sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-SD Gaussian-filtered noise at full resolution (float64, mean about 0)."""
    t = ndi.gaussian_filter(rng.standard_normal(shape), sigma_px)
    return t / (t.std() + 1e-12)


# --------------------------------------------------------------------------- ellipses
def ellipse_frame(rows: slice, cols: slice, r0, c0, cos_t, sin_t) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of an image window in the frame of an ellipse.

    Parameters
    ----------
    rows, cols : slice
        The window, pixels (``start:stop``).
    r0, c0 : float
        Ellipse centre, pixels.
    cos_t, sin_t : float
        Cosine and sine of the major axis' angle to the column axis. The caller computes
        them (the IHC layout with :mod:`math`, the ISH one with NumPy), so that each keeps
        its own last bits.

    Returns
    -------
    u, v : ndarray of float64, shape (window rows, window cols)
        Offsets from the centre along the major and the minor axis, pixels; a pixel is
        inside the ellipse with semi-axes (a, b) where ``(u/a)**2 + (v/b)**2 <= 1``.
    """
    y, x = np.mgrid[rows, cols]
    dy, dx = y - r0, x - c0
    u = dx * cos_t + dy * sin_t
    v = -dx * sin_t + dy * cos_t
    return u, v


def hex_grid_centres(shape: tuple[int, int], spacing_px: float, rng: np.random.Generator):
    """Centres of a hexagonal grid, each moved by up to 18 % of the spacing at random.

    Parameters
    ----------
    shape : (int, int)
        Image size (rows, cols), pixels.
    spacing_px : float
        Centre-to-centre distance, pixels.
    rng : numpy.random.Generator
        Source of the jitter (one uniform draw per coordinate of the full grid).

    Returns
    -------
    ndarray of float64, shape (n, 2)
        (row, col) of the centres that fall inside the image, pixels.
    """
    rows, cols = shape
    s = spacing_px
    dy = s * math.sqrt(3) / 2
    rr, cc = np.meshgrid(np.arange(-1, rows / dy + 1), np.arange(-1, cols / s + 1), indexing="ij")
    centres = np.stack([rr * dy, cc * s + (rr % 2) * s / 2], axis=-1).reshape(-1, 2)
    centres += rng.uniform(-0.18 * s, 0.18 * s, size=centres.shape)
    inside = (
        (centres[:, 0] >= 0)
        & (centres[:, 0] < rows)
        & (centres[:, 1] >= 0)
        & (centres[:, 1] < cols)
    )
    return centres[inside]


def paint_nuclei(shape, centres, major, minor, theta) -> np.ndarray:
    """Paint elliptical nuclei in order, each only where no earlier nucleus lies.

    A nucleus that would keep less than 60 % of its area (or under 3 pixels) is left
    out, so touching is allowed and overlap is not.

    Parameters
    ----------
    shape : (int, int)
        Image size (rows, cols), pixels.
    centres : ndarray, shape (n, 2)
        (row, col) centres, pixels.
    major, minor, theta : ndarray, shape (n,)
        Semi-axes (pixels) and angle of the major axis (radians).

    Returns
    -------
    ndarray of int32, shape ``shape``
        Labels 1..m (m <= n, in the order painted), 0 = none.
    """
    rows, cols = shape
    nuclei = np.zeros(shape, np.int32)
    label = 0
    for i in range(len(centres)):
        r0, c0 = centres[i]
        a, b, t = major[i], minor[i], theta[i]
        ext = math.ceil(a) + 1
        r_lo, r_hi = max(0, int(r0) - ext), min(rows, int(r0) + ext + 2)
        c_lo, c_hi = max(0, int(c0) - ext), min(cols, int(c0) + ext + 2)
        if r_lo >= r_hi or c_lo >= c_hi:
            continue
        u, v = ellipse_frame(slice(r_lo, r_hi), slice(c_lo, c_hi), r0, c0, math.cos(t), math.sin(t))
        inside_e = (u / a) ** 2 + (v / b) ** 2 <= 1.0
        window = nuclei[r_lo:r_hi, c_lo:c_hi]
        # Never overwrite an earlier nucleus: touching is allowed, overlap is not.
        draw = inside_e & (window == 0)
        if draw.sum() < 0.6 * inside_e.sum() or draw.sum() < 3:
            continue
        label += 1
        window[draw] = label
    return nuclei


def place_nuclei_without_overlap(
    shape: tuple[int, int],
    n: int,
    *,
    semi_axes_um: tuple[float, float],
    pixel_size_um: float,
    rng: np.random.Generator,
    gap_px: int = 1,
):
    """Place ``n`` elliptical nuclei at random, at least ``gap_px`` apart, by rejection.

    Centres may lie up to 0.4 minor semi-axes outside the frame, so some nuclei are cut
    by the edge; one mostly outside (under 30 % of its area visible) is redrawn.

    Parameters
    ----------
    shape : (int, int)
        Field size (rows, cols), pixels.
    n : int
        Nuclei wanted.
    semi_axes_um : (float, float)
        Range of both semi-axes, µm (the larger draw is the major one).
    pixel_size_um : float
        µm per pixel.
    rng : numpy.random.Generator
        Source of sizes, angles and positions.
    gap_px : int, optional
        Nuclei may touch (0-``gap_px`` px apart) but never overlap.

    Returns
    -------
    labels : ndarray of int32, shape ``shape``
        Nucleus id per pixel (1..n), 0 = background.
    params : list of (row, col, a, b, theta)
        Centre (pixels), semi-axes (pixels) and angle (radians) per nucleus.

    Raises
    ------
    Her2kitInputError
        Fewer than ``n`` fit: 400 tries per nucleus, or 2000 rejections in a row.
    """
    rows, cols = shape
    labels = np.zeros((rows, cols), np.int32)
    params = []
    tries = 0
    max_tries = 400 * max(n, 1)
    fails = 0
    # Stop early when the field is full: 2000 rejections in a row.
    while len(params) < n and tries < max_tries and fails < 2000:
        tries += 1
        fails += 1
        a_um, b_um = np.sort(rng.uniform(*semi_axes_um, size=2))[::-1]
        a, b = a_um / pixel_size_um, b_um / pixel_size_um
        theta = rng.uniform(0, np.pi)
        # Centres may sit up to 0.4 semi-axes outside the frame so some nuclei are cut.
        r0 = rng.uniform(-0.4 * b, rows + 0.4 * b)
        c0 = rng.uniform(-0.4 * b, cols + 0.4 * b)
        h = int(np.ceil(a)) + gap_px + 1
        rr0, rr1 = max(int(r0) - h, 0), min(int(r0) + h + 1, rows)
        cc0, cc1 = max(int(c0) - h, 0), min(int(c0) + h + 1, cols)
        if rr1 <= rr0 or cc1 <= cc0:
            continue
        u, v = ellipse_frame(slice(rr0, rr1), slice(cc0, cc1), r0, c0, np.cos(theta), np.sin(theta))
        inside = (u / a) ** 2 + (v / b) ** 2 <= 1.0
        if inside.sum() < 0.3 * np.pi * a * b:  # mostly outside the frame: skip
            continue
        # Grow by gap_px so nuclei may touch (0-1 px apart) but never overlap.
        grown = ((u / (a + gap_px)) ** 2 + (v / (b + gap_px)) ** 2) <= 1.0
        if np.any(labels[rr0:rr1, cc0:cc1][grown]):
            continue
        params.append((r0, c0, a, b, theta))
        fails = 0
        labels[rr0:rr1, cc0:cc1][inside] = len(params)
    if len(params) < n:
        raise Her2kitInputError(
            f"could place only {len(params)} of {n} nuclei in a {rows}x{cols} px field at "
            f"{pixel_size_um} µm/px; use a larger field or fewer nuclei",
            field="n_nuclei",
        )
    return labels, params

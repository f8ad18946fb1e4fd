"""Touching doublets: one detection that is two signals closer than the spot size.

Two FISH signals nearer than about twice the spot s.d. give the LoG one maximum, so
the detector reads one dot where a technologist, zooming in, sees an elongated "peanut"
(touching doublet) and counts two. A single in-focus dot is round: its half-maximum
region has equal second moments along every axis. A pair of equal dots ``d`` apart
adds ``d² / 4`` to the variance along the line joining them, so the ratio of the
major to the minor s.d. of the half-maximum region grows with ``d``; a blurred single
dot grows both axes alike and stays round.
"""

from __future__ import annotations

import numpy as np

# Half of the detection's own peak (background-subtracted, smoothed) bounds the region
# whose moments are measured: the dot's core, not its tails or the neighbours' halos.
_HALF = 0.5
PSF_FACTOR = 1.1


def elongation(sm: np.ndarray, coords_px: np.ndarray, *, sigma_px: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Major and minor s.d. of each detection's half-maximum region, and its major axis.

    Parameters
    ----------
    sm : (rows, cols) ndarray
        Background-subtracted, lightly smoothed probe channel (image units).
    coords_px : (n, 2) ndarray
        Detection centres, px (row, col).
    sigma_px : float
        Spot s.d., px; the window is ``±2 sigma_px`` around each centre.

    Returns
    -------
    major_px, minor_px : (n,) ndarray of float
        The region's s.d. along its major and minor axes, px (NaN where it has no
        extent).
    offset_px : (n, 2) ndarray of float
        Half the estimated separation along the major axis, px (row, col):
        ``sqrt(major² - minor²)`` for two equal dots.
    """
    n = len(coords_px)
    major, minor = np.full(n, np.nan), np.full(n, np.nan)
    offset = np.zeros((n, 2))
    if n == 0:
        return major, minor, offset
    rad = max(2, int(np.ceil(2.0 * sigma_px)))
    dy, dx = np.mgrid[-rad : rad + 1, -rad : rad + 1]
    rows, cols = sm.shape
    rr = np.clip(np.rint(coords_px[:, 0]).astype(int), rad, rows - rad - 1)
    cc = np.clip(np.rint(coords_px[:, 1]).astype(int), rad, cols - rad - 1)
    # All windows at once: (n, w, w) gather.
    win = sm[rr[:, None, None] + dy[None], cc[:, None, None] + dx[None]].astype(np.float64)
    peak = win[:, rad, rad]
    w = np.maximum(win - _HALF * peak[:, None, None], 0.0)
    _drop_neighbours(w, coords_px, rr, cc, dy, dx, rad)
    tot = w.sum(axis=(1, 2))
    ok = tot > 0
    tot = np.where(ok, tot, 1.0)
    my = (w * dy).sum(axis=(1, 2)) / tot
    mx = (w * dx).sum(axis=(1, 2)) / tot
    syy = (w * dy * dy).sum(axis=(1, 2)) / tot - my * my
    sxx = (w * dx * dx).sum(axis=(1, 2)) / tot - mx * mx
    sxy = (w * dy * dx).sum(axis=(1, 2)) / tot - my * mx
    half_tr = 0.5 * (syy + sxx)
    disc = np.sqrt(np.maximum(0.25 * (syy - sxx) ** 2 + sxy * sxy, 0.0))
    lam1, lam2 = half_tr + disc, np.maximum(half_tr - disc, 0.0)
    good = ok & (lam2 > 0)
    major[good], minor[good] = np.sqrt(lam1[good]), np.sqrt(lam2[good])
    # Major axis direction (row, col) of the 2x2 covariance.
    ang = 0.5 * np.arctan2(2.0 * sxy, syy - sxx)
    half_d = np.sqrt(np.maximum(lam1 - lam2, 0.0))
    offset[:, 0] = half_d * np.cos(ang)
    offset[:, 1] = half_d * np.sin(ang)
    offset[~good] = 0.0
    return major, minor, offset


def _drop_neighbours(w, coords_px, rr, cc, dy, dx, rad) -> None:
    """Zero the window pixels nearer to another detection than to the window's own.

    Two separately detected dots closer than the window would otherwise lend each
    other's core to the moments and both read as elongated.
    """
    from scipy.spatial import cKDTree

    tree = cKDTree(coords_px)
    for i, j in tree.query_pairs(r=2.0 * np.sqrt(2.0) * rad, output_type="ndarray"):
        for a, b in ((i, j), (j, i)):
            py, px = rr[a] + dy, cc[a] + dx  # window pixels of a
            da = (py - coords_px[a, 0]) ** 2 + (px - coords_px[a, 1]) ** 2
            db = (py - coords_px[b, 0]) ** 2 + (px - coords_px[b, 1]) ** 2
            w[a][db < da] = 0.0


def split_doublets(coords_px: np.ndarray, response: np.ndarray, sm: np.ndarray, *,
                   sigma_px: float, min_ratio: float, test: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    """Detections whose half-maximum region is elongated beyond ``min_ratio``, as two.

    Each such detection is replaced by two at ``centre ± offset`` along its major axis
    (each with the original response). Returns the new centres (sorted by row, then
    column), responses and the number of detections split. ``min_ratio`` <= 1 or not
    finite splits none. ``test`` (bool per detection, optional): only these may be
    split; all of them set the field's PSF.
    """
    if not min_ratio > 1 or len(coords_px) == 0:
        return coords_px, response, 0
    major, minor, off = elongation(sm, coords_px, sigma_px=sigma_px)
    # The field's own PSF: the median minor s.d. (a doublet's minor axis is one dot's
    # width). Noise stretches a faint single dot's half-maximum region along a random
    # axis but hardly beyond the PSF, so the major axis is also held against it.
    psf_px = float(np.nanmedian(minor)) if np.isfinite(minor).any() else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        two = ((np.nan_to_num(major / minor, nan=0.0) >= min_ratio)
               & (np.nan_to_num(major / psf_px, nan=0.0) >= PSF_FACTOR * min_ratio))
    if test is not None:
        two &= np.asarray(test, bool)
    k = int(two.sum())
    if k == 0:
        return coords_px, response, 0
    lim = np.array(sm.shape, float) - 1.0
    keep = coords_px[~two]
    a = np.clip(coords_px[two] + off[two], 0.0, lim)
    b = np.clip(coords_px[two] - off[two], 0.0, lim)
    coords = np.concatenate([keep, a, b])
    resp = np.concatenate([response[~two], response[two], response[two]])
    order = np.lexsort((coords[:, 1], coords[:, 0]))
    return coords[order], resp[order].astype(response.dtype, copy=False), k

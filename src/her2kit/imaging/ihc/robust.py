"""Measures that make the IHC scorer hold up on real scans and photos (issue 10).

Each function here replaces one assumption the per-cell scorer made on generated tissue,
and each is switched on by one :class:`~her2kit.imaging.ihc.score.IhcOptions` field, so a
result records which were used:

- :func:`estimate_white_point`: the glass level per image, instead of 255 per channel
  (``IhcOptions.white_point="auto"``).
- :func:`subtract_cell_level`: membrane DAB as contrast over the cell's own cytoplasm
  level instead of a block-minimum baseline (``membrane_baseline="cell_cytoplasm"``).
- :func:`dab_dominant`: pixels whose DAB outweighs their hematoxylin are left out of
  nucleus detection (``nucleus_dab_exclusion=True``).
- :func:`local_contrast_hematoxylin` and :func:`contrast_threshold`: nuclei from the
  hematoxylin above its local level with a threshold from the image's own distribution,
  without the absolute 0.08 OD floor (``nucleus_threshold="local_contrast"``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from her2kit.imaging._validate import check_rgb_image

__all__ = [
    "GLASS_FLAT_STD",
    "MIN_GLASS_FRACTION",
    "CounterstainReference",
    "WhitePoint",
    "cell_cytoplasm_level",
    "contrast_threshold",
    "counterstain_scale",
    "dab_dominant",
    "estimate_white_point",
    "local_contrast_hematoxylin",
    "scale_measures",
    "subtract_cell_level",
]

# Glass is bright and flat: a block of the sampled image whose luminance SD is below this
# (8-bit levels) and whose mean lies within GLASS_BAND of the brightest flat blocks.
GLASS_FLAT_STD = 3.0
GLASS_BAND = 12.0
# Fewer glass blocks than this share of the image: no usable glass (a tile inside tissue,
# a photo of a field). The white point is then the bright end of the image, an
# under-estimate of every OD, and the result says so.
MIN_GLASS_FRACTION = 0.005
# A channel at or above this level over half of the glass: clipped glass (over-exposed).
SATURATED_GLASS_LEVEL = 254.0


@dataclass(frozen=True)
class WhitePoint:
    """The background (glass) intensity of one image, per channel.

    Attributes
    ----------
    rgb : tuple of 3 float
        Intensity ``I0`` per channel (8-bit levels, 1–255) for the OD conversion.
    source : {"glass", "bright_end"}
        ``"glass"``: the median of flat bright blocks; ``"bright_end"``: no usable glass,
        the 99.5th percentile of each channel.
    glass_fraction : float
        Share of the sampled blocks taken as glass (0–1).
    flags : tuple of str
        ``"white_point_no_glass"`` (no glass: OD under-estimated, the 0 / 1+ boundary is
        unreliable) and / or ``"white_point_saturated"`` (the glass is clipped at 255:
        over-exposed, OD under-estimated, the 0 / 1+ boundary is unreliable).
    """

    rgb: tuple[float, float, float]
    source: str
    glass_fraction: float
    flags: tuple[str, ...]


def estimate_white_point(rgb, *, stride: int = 4, block: int = 8) -> WhitePoint:
    """Estimate the glass (white) level of a brightfield image from flat bright background.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        Brightfield image.
    stride : int, optional
        Every ``stride``-th pixel of rows and columns is sampled.
    block : int, optional
        Side of the blocks of sampled pixels whose flatness is judged (so ``stride × block``
        image pixels: 32 by default, 8 µm at 0.25 µm/px).

    Returns
    -------
    WhitePoint
        Per-channel white point, how it was found and the flags.

    Notes
    -----
    Blocks whose luminance SD is below :data:`GLASS_FLAT_STD` levels are flat; those
    within ``GLASS_BAND`` levels of the 99th percentile of flat-block means are glass,
    and the white point is the median of their per-channel means. Flat pale tissue is
    darker than glass by more than the band on the GEA and BCI scans. With fewer glass
    blocks than :data:`MIN_GLASS_FRACTION`, the 99.5th percentile per channel is used.
    """
    img = check_rgb_image(rgb, name="rgb")
    s = img[::stride, ::stride].astype(np.float32)
    br, bc = s.shape[0] // block, s.shape[1] // block
    if br == 0 or bc == 0:
        return _bright_end(s, 0.0)
    b = s[: br * block, : bc * block].reshape(br, block, bc, block, 3)
    mean = b.mean(axis=(1, 3)).reshape(-1, 3)
    lum_sd = b.mean(axis=4).std(axis=(1, 3)).ravel()
    lum = mean.mean(axis=1)
    flat = lum_sd < GLASS_FLAT_STD
    if not flat.any():
        return _bright_end(s, 0.0)
    top = float(np.percentile(lum[flat], 99))
    glass = flat & (lum >= top - GLASS_BAND)
    frac = float(glass.mean())
    if frac < MIN_GLASS_FRACTION:
        return _bright_end(s, frac)
    white = np.median(mean[glass], axis=0)
    flags = ()
    if np.any(white >= SATURATED_GLASS_LEVEL):
        flags = ("white_point_saturated",)
    white = np.clip(white, 1.0, 255.0)
    return WhitePoint(tuple(float(v) for v in white), "glass", frac, flags)


def _bright_end(s: np.ndarray, frac: float) -> WhitePoint:
    """No usable glass: the 99.5th percentile per channel, flagged."""
    white = np.clip(np.percentile(s.reshape(-1, 3), 99.5, axis=0), 1.0, 255.0)
    flags = ["white_point_no_glass"]
    if np.any(white >= SATURATED_GLASS_LEVEL):
        flags.append("white_point_saturated")
    return WhitePoint(tuple(float(v) for v in white), "bright_end", frac, tuple(flags))


def cell_cytoplasm_level(
    dab_grid: np.ndarray,
    cells: np.ndarray,
    exclude: np.ndarray,
    n: int,
    *,
    percentile: float = 20.0,
) -> np.ndarray:
    """Low percentile of each cell's DAB outside its nucleus zone: its cytoplasm level.

    Parameters
    ----------
    dab_grid : ndarray of float, shape (rows, cols)
        DAB OD on the label grid (block means).
    cells : ndarray of int, same shape
        Cell labels 1..n.
    exclude : ndarray of bool, same shape
        Pixels left out (the nuclei and their margin).
    n : int
        Number of cells.
    percentile : float, optional
        Percentile (0–100, nearest rank) of the cell's remaining pixels. 20: the membrane
        covers a minority of a cell's pixels, so the lower fifth is cytoplasm.

    Returns
    -------
    ndarray of float32, shape (n,)
        DAB OD; 0 for a cell with no pixel outside its nucleus zone.
    """
    sel = np.flatnonzero(((cells > 0) & ~exclude).ravel())
    lab = cells.ravel()[sel].astype(np.int64)
    val = dab_grid.ravel()[sel].astype(np.float32)
    # One float64 sort on label + squashed value (values within (0, 1) after the clip keep
    # their order inside a label), cheaper than a two-key lexsort.
    key = lab + np.clip((val.astype(np.float64) + 1.0) / 8.0, 0.0, 0.999999)
    order = np.argsort(key, kind="stable")
    lab, val = lab[order], val[order]
    cnt = np.bincount(lab, minlength=n + 1)[1 : n + 1]
    start = np.concatenate([[0], np.cumsum(cnt)[:-1]])
    rank = start + np.floor(percentile / 100.0 * np.maximum(cnt - 1, 0)).astype(np.int64)
    out = np.zeros(n, np.float32)
    has = cnt > 0
    out[has] = val[rank[has]]
    return out


def subtract_cell_level(measures, level: np.ndarray):
    """Membrane measures with each cell's ``level`` (OD) subtracted from its sector OD.

    The ridge sectors (which decide stained sectors) are unchanged: a ridge response does
    not see a flat level. Sector values are floored at 0.
    """
    sectors = np.maximum(measures.sector_dab_od - level[:, None].astype(np.float32), 0)
    k = np.sum(~np.isnan(sectors), axis=1)
    srt = np.sort(sectors, axis=1)
    s = sectors.shape[1]
    rank = np.clip(np.ceil(0.9 * k).astype(np.int64) - 1, 0, s - 1)
    p90 = np.where(k > 0, np.take_along_axis(srt, rank[:, None], axis=1)[:, 0], 0.0) if len(
        k) else np.zeros(0)
    return replace(measures, sector_dab_od=sectors.astype(np.float32),
                   ring_dab_od_p90=np.asarray(p90, np.float32))


def dab_dominant(hem: np.ndarray, dab: np.ndarray, *, min_dab_od: float = 0.12) -> np.ndarray:
    """Pixels where DAB (≥ ``min_dab_od`` OD) outweighs hematoxylin: not nuclear.

    A dark membrane's cross-talk (and JPEG chroma subsampling along thin brown lines)
    puts hematoxylin OD there; left in, such lines are outlined as nuclei.
    """
    return (dab >= min_dab_od) & (dab > hem)


def local_contrast_hematoxylin(hem: np.ndarray, *, size_px: int) -> np.ndarray:
    """Hematoxylin above its local level: a grey-level top-hat over ``size_px`` squares.

    The opening (minimum then maximum over ``size_px``², larger than a nucleus) is the
    local stroma / cytoplasm level; nuclei stand out of it whatever the counterstain's
    overall strength.
    """
    h = np.asarray(hem, np.float32)
    size = max(3, int(size_px) | 1)
    opened = ndi.grey_opening(h, size=(size, size))
    return h - opened


def contrast_threshold(contrast: np.ndarray, *, sample_mask=None, floor: float = 0.02
                       ) -> tuple[float, str]:
    """A threshold for :func:`local_contrast_hematoxylin` from the image's own values.

    Otsu's threshold over the pixels with positive contrast, floored at ``floor`` OD and
    at three robust SDs (1.4826 · MAD) of the contrast of the lower half (noise). Returns
    ``(threshold, source)`` with source ``"local-contrast-otsu"`` or
    ``"local-contrast-floor"``.
    """
    v = contrast[sample_mask] if sample_mask is not None else contrast.ravel()
    v = v[v > 0.005]
    if v.size < 20 or np.ptp(v) == 0:
        return max(floor, 0.05), "local-contrast-floor"
    step = max(1, v.size // 250_000)
    v = v[::step]
    otsu = float(threshold_otsu(v))
    low = v[v <= np.median(v)]
    noise = 3 * 1.4826 * float(np.median(np.abs(low - np.median(low)))) if low.size else 0.0
    thr = max(otsu, floor, noise)
    return thr, ("local-contrast-otsu" if thr == otsu else "local-contrast-floor")


# The counterstain reference: the median hematoxylin OD (grid block means) of the nuclei
# whose mean DAB is below REFERENCE_MAX_DAB_OD is mapped to REFERENCE_HEMATOXYLIN_OD, the
# middle of the shared scans' range (0.05-0.19 OD); the scale is bounded to SCALE_BOUNDS
# and left at 1 (flagged) with fewer than MIN_REFERENCE_NUCLEI such nuclei.
REFERENCE_HEMATOXYLIN_OD = 0.12
REFERENCE_MAX_DAB_OD = 0.10
MIN_REFERENCE_NUCLEI = 30
SCALE_BOUNDS = (1 / 3, 3.0)


@dataclass(frozen=True)
class CounterstainReference:
    """The per-image counterstain reference and the DAB scale it gives.

    Attributes
    ----------
    reference_od : float
        Median hematoxylin OD of the DAB-negative nuclei (NaN with none).
    scale : float
        Factor applied to membrane DAB OD: ``REFERENCE_HEMATOXYLIN_OD / reference_od``,
        bounded to ``SCALE_BOUNDS``; 1 when unavailable.
    n_nuclei : int
        DAB-negative nuclei used.
    flags : tuple of str
        ``"counterstain_reference_unavailable"`` (too few DAB-negative nuclei) or
        ``"counterstain_scale_bounded"``.
    """

    reference_od: float
    scale: float
    n_nuclei: int
    flags: tuple[str, ...]


def counterstain_scale(hem_grid: np.ndarray, dab_grid: np.ndarray, nuclei: np.ndarray,
                       n: int) -> CounterstainReference:
    """Scale for membrane DAB from the hematoxylin of DAB-negative nuclei (issue 10, 3).

    An exposure or tone change scales DAB and hematoxylin OD alike, so DAB divided by a
    per-image hematoxylin reference does not move with it.
    """
    if n == 0:
        return CounterstainReference(float("nan"), 1.0, 0,
                                     ("counterstain_reference_unavailable",))
    lab = nuclei.ravel()
    cnt = np.maximum(np.bincount(lab, minlength=n + 1)[1 : n + 1], 1)
    h = np.bincount(lab, weights=hem_grid.ravel(), minlength=n + 1)[1 : n + 1] / cnt
    d = np.bincount(lab, weights=dab_grid.ravel(), minlength=n + 1)[1 : n + 1] / cnt
    neg = h[d < REFERENCE_MAX_DAB_OD]
    if neg.size < MIN_REFERENCE_NUCLEI:
        return CounterstainReference(float(np.median(neg)) if neg.size else float("nan"),
                                     1.0, int(neg.size),
                                     ("counterstain_reference_unavailable",))
    ref = float(np.median(neg))
    raw = REFERENCE_HEMATOXYLIN_OD / max(ref, 1e-3)
    scale = float(np.clip(raw, *SCALE_BOUNDS))
    flags = ("counterstain_scale_bounded",) if scale != raw else ()
    return CounterstainReference(ref, scale, int(neg.size), flags)


def scale_measures(measures, scale: float):
    """Membrane measures with sector DAB and ridge OD multiplied by ``scale``."""
    if scale == 1.0:
        return measures
    k = np.float32(scale)
    ridge = measures.sector_ridge_od
    return replace(measures, sector_dab_od=measures.sector_dab_od * k,
                   ring_dab_od_p90=measures.ring_dab_od_p90 * k,
                   sector_ridge_od=None if ridge is None else ridge * k)

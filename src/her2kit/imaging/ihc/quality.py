"""Image-quality evidence of an H-DAB region and the flags raised from it.

:func:`quality_flags` measures what makes a per-cell IHC score less trustworthy (little
tissue, clipped dark pixels, blur, a pale counterstain) and :func:`check_not_blank`
refuses a tile with almost no tissue. :func:`assess_hdab_stain` and
:func:`check_hdab_stain` tell an H-DAB image from one that is not (an H&E slide; a
fluorescence image through the existing brightfield check). Each limit is a documented
module constant, and every metric is returned, so a caller can apply its own limits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from her2kit.errors import ImageInputError
from her2kit.imaging._validate import (
    IHC_DARK_BACKGROUND_LEVEL,
    IHC_DARK_BACKGROUND_STRIDE,
    IHC_RGB_WORDING,
    check_brightfield_background,
    check_rgb_image,
)
from her2kit.imaging.color.hdab import STANDARD_HDAB_MATRIX
from her2kit.imaging.color.od import IHC_DARKEST_INTENSITY, od_lookup_table
from her2kit.imaging.filters import smooth
from her2kit.imaging.ihc.robust import estimate_white_point

__all__ = [
    "BLANK_LOOK_FRACTION",
    "BLANK_TISSUE_FRACTION",
    "BLUR_EDGE_OD_PER_UM",
    "EOSIN_HUE_MIN",
    "EOSIN_MIN_FRACTION",
    "GREYSCALE_MAX_CHROMA_LEVELS",
    "LITTLE_TISSUE_FRACTION",
    "NO_DAB_HUE_FRACTION",
    "SATURATED_FRACTION",
    "STAIN_CHECK_TISSUE_OD",
    "TISSUE_MIN_OD",
    "WEAK_COUNTERSTAIN_OD",
    "DabPresence",
    "HdabStainCheck",
    "QualityFlags",
    "assess_hdab_stain",
    "check_dab_present",
    "check_hdab_stain",
    "check_not_blank",
    "count_tissue_pixels",
    "look_tissue_fraction",
    "quality_flags",
    "tissue_mask",
    "tissue_table",
]

# Quality-flag limits (documented defaults; each metric is returned so a caller can apply
# its own). Tissue = pixels with hematoxylin + DAB OD above TISSUE_MIN_OD.
TISSUE_MIN_OD = 0.1
LITTLE_TISSUE_FRACTION = 0.10  # below: "little tissue"
BLANK_TISSUE_FRACTION = 0.002  # below: the tile is refused as blank
# Below this tissue fraction, measured with the standard stain vectors on white glass
# (255) before the image is decoded whole, the image is refused as blank at once. A
# quarter of the scorer's limit: estimated stains, a per-image white point (which can only
# lower OD) or a calibration change the tissue count a little, never fourfold.
BLANK_LOOK_FRACTION = BLANK_TISSUE_FRACTION / 4
SATURATED_FRACTION = 0.01  # tissue pixels with a channel ≤ 2 (clipped dark), above: flag
BLUR_EDGE_OD_PER_UM = 0.12  # 95th pct. hematoxylin gradient (OD/µm) below: "blur"
WEAK_COUNTERSTAIN_OD = 0.15  # median hematoxylin OD in nuclei below: "weak counterstain"

# Rows of the image used for the blur metric: bands of 16 rows every 128 rows (1/8 of
# the pixels; a 95th percentile over them is as stable as over the whole tile).
_SHARPNESS_BAND_ROWS = 16
_SHARPNESS_BAND_STEP = 128


@dataclass(frozen=True)
class QualityFlags:
    """Image-quality evidence and the flags raised from it.

    Attributes
    ----------
    tissue_fraction : float
        Share of pixels that are tissue (hematoxylin + DAB OD > 0.1).
    saturated_fraction : float
        Share of tissue pixels with a channel ≤ 2 (clipped dark).
    edge_sharpness_od_per_um : float
        95th percentile of the hematoxylin OD gradient magnitude over tissue (OD per µm);
        low values mean blur.
    nucleus_hematoxylin_od : float
        Median hematoxylin OD inside detected nuclei (NaN with no nuclei).
    blur, saturation, little_tissue, weak_counterstain : bool
        Flags, from the module-level limits.
    white_point_flags : tuple of str, optional
        Flags of the per-image white point
        (:attr:`her2kit.imaging.ihc.robust.WhitePoint.flags`); empty when the white point
        was given.
    """

    tissue_fraction: float
    saturated_fraction: float
    edge_sharpness_od_per_um: float
    nucleus_hematoxylin_od: float
    blur: bool
    saturation: bool
    little_tissue: bool
    weak_counterstain: bool
    white_point_flags: tuple[str, ...] = ()

    @property
    def flags(self) -> tuple[str, ...]:
        """Names of the raised flags."""
        names = ("blur", "saturation", "little_tissue", "weak_counterstain")
        return tuple(n for n in names if getattr(self, n)) + tuple(self.white_point_flags)


def tissue_mask(hematoxylin_od: np.ndarray, dab_od: np.ndarray) -> np.ndarray:
    """Tissue pixels: hematoxylin + DAB above :data:`TISSUE_MIN_OD` (base-10 OD)."""
    return (hematoxylin_od + dab_od) > TISSUE_MIN_OD


def check_not_blank(tissue_fraction: float, *, limit: float = BLANK_TISSUE_FRACTION,
                    how: str | None = None) -> None:
    """Refuse a tile with less than ``limit`` (:data:`BLANK_TISSUE_FRACTION`) tissue.

    Parameters
    ----------
    tissue_fraction : float
        Share of tissue pixels, 0–1.
    limit : float, optional
        Smallest accepted share.
    how : str, optional
        How the share was measured, appended to the message.

    Raises
    ------
    ImageInputError
        ``tissue_fraction`` is below ``limit``.
    """
    if tissue_fraction < limit:
        raise ImageInputError(
            f"blank tile: {100 * tissue_fraction:.2f}% tissue (need ≥ "
            f"{100 * BLANK_TISSUE_FRACTION:g}%)" + (f"; {how}" if how else ""),
            field="rgb",
        )


def tissue_table(*, background_rgb=(255, 255, 255)) -> np.ndarray:
    """Each channel's share of hematoxylin + DAB OD, per 8-bit value (standard vectors).

    Returns
    -------
    ndarray of float64, shape (3, 256)
        ``table[0][r] + table[1][g] + table[2][b]`` is the hematoxylin + DAB OD of the
        pixel (r, g, b), as :func:`~her2kit.imaging.color.hdab.separate_stains` computes
        it with the standard matrix (OD is linear in the stains, so the inverse matrix
        folds into per-channel tables).
    """
    inv = np.linalg.inv(STANDARD_HDAB_MATRIX)
    lut = od_lookup_table(background_rgb, darkest_intensity=IHC_DARKEST_INTENSITY
                          ).astype(np.float64)
    return lut * (inv[:, 0] + inv[:, 1])[:, None]


def count_tissue_pixels(rgb: np.ndarray, *, table: np.ndarray) -> int:
    """Pixels of a uint8 (rows, cols, 3+) block whose hematoxylin + DAB OD exceeds
    :data:`TISSUE_MIN_OD` (the :func:`tissue_mask` rule) under ``table``
    (:func:`tissue_table`). A block whose value range cannot reach the limit (glass) is
    answered from its minimum and maximum alone."""
    lo, hi = int(rgb[..., :3].min()), int(rgb[..., :3].max())
    if sum(float(table[c, lo:hi + 1].max()) for c in range(3)) <= TISSUE_MIN_OD:
        return 0
    od = np.take(table[0], rgb[..., 0]) + np.take(table[1], rgb[..., 1])
    od += np.take(table[2], rgb[..., 2])
    return int(np.count_nonzero(od > TISSUE_MIN_OD))


def look_tissue_fraction(blocks, n_pixels: int, *, stop_above: float = BLANK_LOOK_FRACTION,
                         background_rgb=(255, 255, 255)) -> float | None:
    """Tissue share of a whole image seen block by block, stopping as soon as it is
    clearly not blank.

    Parameters
    ----------
    blocks : iterable of (ndarray of uint8, tuple of int)
        ``(block, channels)``: chunky RGB(A) blocks (rows, cols, 3+) with channels (0, 1,
        2, ...), or one channel's plane (rows, cols, 1) with ``(c,)`` (planar files).
    n_pixels : int
        Pixels of the whole image (or of the preview the blocks make up).
    stop_above : float, optional
        Stop (return None) once the tissue share reaches this.

    Returns
    -------
    float or None
        The tissue share (0–1) when it stays below ``stop_above``; None when it reaches
        it, or when planar blocks cannot exclude tissue (their channels are seen apart, so
        only each channel's value range is known).
    """
    table = tissue_table(background_rgb=background_rgb)
    found, limit = 0, stop_above * max(int(n_pixels), 1)
    lo, hi = [255] * 3, [0] * 3
    planar = False
    for block, channels in blocks:
        if len(channels) >= 3:
            found += count_tissue_pixels(block, table=table)
            if found >= limit:
                return None
        elif channels[0] < 3:
            planar, c = True, channels[0]
            lo[c], hi[c] = min(lo[c], int(block.min())), max(hi[c], int(block.max()))
    if planar and (min(hi[c] - lo[c] for c in range(3)) < 0 or sum(
            float(table[c, lo[c]:hi[c] + 1].max()) for c in range(3)) > TISSUE_MIN_OD):
        return None  # planes whose value ranges allow tissue (or a plane missing)
    return found / max(int(n_pixels), 1)


def quality_flags(
    rgb: np.ndarray,
    hematoxylin_od: np.ndarray,
    tissue: np.ndarray,
    *,
    tissue_fraction: float,
    pixel_size_um: float,
    nucleus_hematoxylin_od: float,
    n_nuclei: int,
) -> QualityFlags:
    """Measure the quality metrics of one region and raise the flags.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        The region.
    hematoxylin_od : ndarray of float32, shape (rows, cols)
        Its hematoxylin amount (base-10 OD).
    tissue : ndarray of bool, shape (rows, cols)
        :func:`tissue_mask` of the region.
    tissue_fraction : float
        ``tissue.mean()`` (0–1).
    pixel_size_um : float
        µm per pixel.
    nucleus_hematoxylin_od : float
        Median hematoxylin OD inside the detected nuclei (NaN with none).
    n_nuclei : int
        Number of detected nuclei (none: the counterstain is flagged weak).

    Returns
    -------
    QualityFlags
        Metrics and flags; the saturated share is measured on every 2nd row and column,
        the blur metric on row bands (:func:`_edge_sharpness`).
    """
    sub = (slice(None, None, 2), slice(None, None, 2))
    darkest = np.minimum(np.minimum(rgb[sub][..., 0], rgb[sub][..., 1]), rgb[sub][..., 2])
    dark = (darkest <= 2) & tissue[sub]
    saturated_fraction = float(dark.sum() / max(1, tissue[sub].sum()))
    sharp = _edge_sharpness(hematoxylin_od, tissue, pixel_size_um)
    nuc_h = nucleus_hematoxylin_od
    return QualityFlags(
        tissue_fraction=tissue_fraction,
        saturated_fraction=saturated_fraction,
        edge_sharpness_od_per_um=sharp,
        nucleus_hematoxylin_od=nuc_h,
        blur=sharp < BLUR_EDGE_OD_PER_UM,
        saturation=saturated_fraction > SATURATED_FRACTION,
        little_tissue=tissue_fraction < LITTLE_TISSUE_FRACTION,
        weak_counterstain=(not n_nuclei) or nuc_h < WEAK_COUNTERSTAIN_OD,
    )


def _edge_sharpness(hem: np.ndarray, tissue: np.ndarray, pixel_size_um: float) -> float:
    """95th percentile of the hematoxylin OD gradient (OD/µm) over tissue, in row bands."""
    rows = hem.shape[0]
    starts = range(0, max(1, rows - _SHARPNESS_BAND_ROWS + 1), _SHARPNESS_BAND_STEP)
    values = []
    for r0 in starts:
        band = hem[r0 : r0 + _SHARPNESS_BAND_ROWS]
        if band.shape[0] < 2 or band.shape[1] < 2:
            continue
        hs = smooth(band, max(0.5, 0.25 / pixel_size_um))
        gy, gx = np.gradient(hs)
        grad = np.hypot(gy, gx) / pixel_size_um
        values.append(grad[tissue[r0 : r0 + _SHARPNESS_BAND_ROWS]])
    v = np.concatenate(values) if values else np.zeros(0, np.float32)
    return float(np.percentile(v, 95)) if v.size else 0.0


# The H-DAB stain check (issue 10: an H&E image is refused, not scored). Per tissue pixel
# (summed R + G + B optical density above STAIN_CHECK_TISSUE_OD), the eosin hue is the
# green OD's excess over the larger of red and blue, as a share of the summed OD: eosin
# absorbs green only (Ruifrok & Johnston's eosin row (0.072, 0.990, 0.105): 0.76), while
# hematoxylin (0.650, 0.704, 0.286: 0.03) and DAB (0.268, 0.570, 0.776: below 0) do not
# reach EOSIN_HUE_MIN. An image whose tissue is eosin-hued in at least EOSIN_MIN_FRACTION
# of its pixels is not an H-DAB stain. Measured on the shared real images (glass white
# point, else 255): H-DAB IHC (GEA cores, BCI IHC tiles, Ki67 DeepLIIF tiles, the
# scikit-image DAB image) 0.000-0.051; H&E (BCI H&E tiles, CPM tiles, CMU-1 regions)
# 0.51-1.00. A hematoxylin-only image has no eosin hue and passes: no DAB is a score (0),
# not an error (score-ihc's check_dab_present refuses greyscale and notes "no DAB seen").
STAIN_CHECK_TISSUE_OD = 0.15
EOSIN_HUE_MIN = 0.10
EOSIN_MIN_FRACTION = 0.20
# Fewer sampled tissue pixels than this: the check does not decide (the blank-tile
# refusal, later, does).
_STAIN_CHECK_MIN_PIXELS = 100
_STAIN_CHECK_STRIDE = 4


@dataclass(frozen=True)
class HdabStainCheck:
    """Whether an RGB brightfield image is an H-DAB stain, and the evidence.

    Attributes
    ----------
    is_hdab : bool
        False when the tissue carries eosin's hue (:data:`EOSIN_MIN_FRACTION`).
    eosin_fraction : float
        Share of the sampled tissue pixels with the eosin hue (0-1).
    dab_fraction : float
        Share of the sampled tissue pixels whose blue OD is their largest (DAB's hue,
        0-1); evidence only: an IHC 0 image has almost none and is still H-DAB.
    n_tissue_pixels : int
        Sampled tissue pixels (every 4th row and column).
    white_point_source : {"glass", "255"}
        The background used for the OD: the glass level when the image has glass
        (:func:`~her2kit.imaging.ihc.robust.estimate_white_point`), else 255 (the
        bright end of an H&E field without glass is pale pink, and would cancel eosin).
    reason : str or None
        One line saying why the image is not H-DAB; None when it is.
    """

    is_hdab: bool
    eosin_fraction: float
    dab_fraction: float
    n_tissue_pixels: int
    white_point_source: str
    reason: str | None


def assess_hdab_stain(rgb) -> HdabStainCheck:
    """Measure whether a brightfield RGB image is an H-DAB stain (not H&E).

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        Brightfield image, channel last.

    Returns
    -------
    HdabStainCheck
        ``is_hdab`` False when at least :data:`EOSIN_MIN_FRACTION` of the tissue pixels
        (summed OD > :data:`STAIN_CHECK_TISSUE_OD`) have an eosin hue of at least
        :data:`EOSIN_HUE_MIN`; True otherwise, and with fewer than 100 sampled tissue
        pixels (the blank-tile refusal decides those).

    Raises
    ------
    ImageInputError
        Not a uint8 RGB image.
    """
    img = check_rgb_image(rgb, name="rgb")
    white = estimate_white_point(img)
    use_glass = white.source == "glass"
    bg = np.asarray(white.rgb if use_glass else (255.0, 255.0, 255.0), np.float32)
    s = img[::_STAIN_CHECK_STRIDE, ::_STAIN_CHECK_STRIDE].reshape(-1, 3).astype(np.float32)
    od = np.maximum(-np.log10(np.maximum(s, 1.0) / bg), 0.0)
    total = od.sum(axis=1)
    t = total > STAIN_CHECK_TISSUE_OD
    o, tot = od[t], total[t]
    n = int(t.sum())
    source = "glass" if use_glass else "255"
    if n < _STAIN_CHECK_MIN_PIXELS:
        return HdabStainCheck(True, 0.0, 0.0, n, source, None)
    eosin_hue = (o[:, 1] - np.maximum(o[:, 0], o[:, 2])) / tot
    dab_hue = o[:, 2] > np.maximum(o[:, 0], o[:, 1])
    eosin = float(np.mean(eosin_hue >= EOSIN_HUE_MIN))
    dab = float(np.mean(dab_hue))
    if eosin >= EOSIN_MIN_FRACTION:
        reason = (f"no H-DAB stain found: {100 * eosin:.0f}% of tissue pixels have eosin's "
                  f"pink hue (an H&E image?); score-ihc needs hematoxylin + DAB")
        return HdabStainCheck(False, eosin, dab, n, source, reason)
    return HdabStainCheck(True, eosin, dab, n, source, None)


def check_hdab_stain(rgb, *, name: str = "rgb") -> HdabStainCheck:
    """Refuse an image that is not an H-DAB brightfield stain; return the evidence.

    First the brightfield check of the IHC scorer (a dark background: fluorescence),
    then :func:`assess_hdab_stain` (eosin: H&E).

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        Brightfield image, channel last.
    name : str, optional
        Argument name used in the message.

    Returns
    -------
    HdabStainCheck
        The evidence of an image that passed.

    Raises
    ------
    ImageInputError
        Not uint8 RGB; a dark (fluorescence) background; an eosin-stained (H&E) image.
    """
    img = check_rgb_image(rgb, name=name)
    check_brightfield_background(img, name=name, min_median_level=IHC_DARK_BACKGROUND_LEVEL,
                                 stride=IHC_DARK_BACKGROUND_STRIDE, wording=IHC_RGB_WORDING)
    check = assess_hdab_stain(img)
    if not check.is_hdab:
        raise ImageInputError(check.reason, field=name)
    return check



# The no-DAB rules (issue 10: "an image with no DAB at all: a clear message, not a
# score"), measured on the shared real images (tests/imaging/ihc/test_no_dab.py):
# - Greyscale is refused. Tissue colour = the median, over the sampled tissue pixels, of
#   max(R, G, B) - min(R, G, B) in 8-bit levels. Real IHC 0 / 1+ images, whole and in
#   tissue-filled 1024² crops: 8-22 levels; greyscale copies with camera noise and JPEG:
#   0. The limit, 3 levels, is 2.7x below the lowest real value.
# - Hematoxylin only is NOT refused, only noted: the share of tissue pixels with DAB's hue
#   (HdabStainCheck.dab_fraction) is 1.23 % and above on whole real IHC 0 / 1+ images, but
#   0.009 % on tissue-filled crops of a real IHC 0 core (GEA 0_ccb66c10), below the 0.017 %
#   of hematoxylin-only re-renderings with noise and JPEG: a DAB-negative field and a
#   slide that never saw DAB look the same, and refusing one would refuse the other.
#   Below NO_DAB_HUE_FRACTION (0.5 %) the stain check says so ("no_dab_seen").
GREYSCALE_MAX_CHROMA_LEVELS = 3.0
NO_DAB_HUE_FRACTION = 0.005


@dataclass(frozen=True)
class DabPresence:
    """Whether an H-DAB image shows colour and DAB, and the evidence.

    Attributes
    ----------
    tissue_chroma_levels : float
        Median of max(R, G, B) - min(R, G, B) over the sampled tissue pixels (8-bit
        levels); NaN with fewer than 100 sampled tissue pixels.
    dab_fraction : float
        :attr:`HdabStainCheck.dab_fraction`.
    greyscale : bool
        ``tissue_chroma_levels`` ≤ :data:`GREYSCALE_MAX_CHROMA_LEVELS`.
    no_dab_seen : bool
        ``dab_fraction`` < :data:`NO_DAB_HUE_FRACTION` (an IHC 0 field, or no DAB applied).
    note : str or None
        What ``no_dab_seen`` means for the reader; None when DAB was seen.
    """

    tissue_chroma_levels: float
    dab_fraction: float
    greyscale: bool
    no_dab_seen: bool
    note: str | None


def check_dab_present(rgb, check: HdabStainCheck, *, name: str = "rgb") -> DabPresence:
    """Refuse a greyscale image; note an image whose tissue shows no DAB hue.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        The image :func:`check_hdab_stain` passed.
    check : HdabStainCheck
        Its evidence.
    name : str, optional
        Argument name used in the message.

    Returns
    -------
    DabPresence

    Raises
    ------
    ImageInputError
        The tissue has no colour (:data:`GREYSCALE_MAX_CHROMA_LEVELS`): a greyscale image,
        from which neither hematoxylin nor DAB can be separated.
    """
    img = check_rgb_image(rgb, name=name)
    s = img[::_STAIN_CHECK_STRIDE, ::_STAIN_CHECK_STRIDE].reshape(-1, 3)
    lut = od_lookup_table((255, 255, 255), darkest_intensity=IHC_DARKEST_INTENSITY)
    od = lut[0][s[:, 0]] + lut[1][s[:, 1]] + lut[2][s[:, 2]]
    tissue = s[od > STAIN_CHECK_TISSUE_OD].astype(np.int16)
    chroma = (float(np.median(tissue.max(axis=1) - tissue.min(axis=1)))
              if tissue.shape[0] >= _STAIN_CHECK_MIN_PIXELS else float("nan"))
    grey = chroma <= GREYSCALE_MAX_CHROMA_LEVELS
    if grey:
        raise ImageInputError(
            f"no colour in the tissue (median channel spread {chroma:g} levels, need > "
            f"{GREYSCALE_MAX_CHROMA_LEVELS:g}): a greyscale image has no hematoxylin or DAB "
            "to separate; score-ihc needs the colour image", field=name)
    none_seen = (check.n_tissue_pixels >= _STAIN_CHECK_MIN_PIXELS
                 and check.dab_fraction < NO_DAB_HUE_FRACTION)
    note = None
    if none_seen:
        note = (f"only {100 * check.dab_fraction:.2f}% of tissue pixels have DAB's hue: an "
                "IHC 0 field, or a section that never saw DAB (check the run's control)")
    return DabPresence(chroma, check.dab_fraction, grey, none_seen, note)

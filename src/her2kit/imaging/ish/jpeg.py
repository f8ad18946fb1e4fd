"""JPEG degradation of a brightfield ISH field: what the file says, what the pixels show.

A JPEG round trip stores the image in 8x8 blocks of luminance and, at the usual 4:2:0
setting, the colour (chroma) at half resolution. At 0.065 µm/px (a 100x camera) a block
is 0.5 µm and the counts are unaffected; at 0.25 µm/px (a 40x slide scanner) a block is
2 µm and the colour is sampled every 0.5 µm, about one signal dot, and on the tuning
fields of the hand reference the non-amplified Dual ISH ratios rise from 1.06-1.11 to
1.68-1.86 at quality 80 (benchmarks/README.md, "ISH from JPEG"). This module only
describes the degradation (arrays and numbers in, no file access); the io layer reads
the file's JPEG header into :class:`JpegSource`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from her2kit.errors import Her2kitInputError

__all__ = [
    "CHROMA_420_MAX_DETAIL",
    "JFIF_LUMA_WEIGHTS",
    "JPEG_BLOCKINESS_MIN",
    "JPEG_MIN_SAFE_QUALITY",
    "JPEG_SAFE_MAX_PIXEL_SIZE_UM",
    "JpegAssessment",
    "JpegSource",
    "assess_jpeg",
    "chroma_detail",
    "jpeg_blockiness",
]

#: Largest pixel size, µm/px, at which a JPEG Dual ISH field counts as well as a lossless
#: one: the shared real fields are JPEGs at (assumed) 0.065 µm/px and match the hand
#: counts; downscaled to 0.10 µm/px with a quality-80 round trip they do not (DISH1
#: found ratio 1.61 against 1.26 by hand, benchmarks/ish_scale.py --jpeg 80).
JPEG_SAFE_MAX_PIXEL_SIZE_UM = 0.08
#: Lowest JPEG quality (libjpeg scale) that, with full-resolution colour (4:4:4), kept
#: both tuning fields' ratios within 15 % of the hand counts at 0.10-0.25 µm/px except
#: one (quality 95); quality 80 at 4:4:4 did not (DISH1 1.56-1.79 against 1.26).
JPEG_MIN_SAFE_QUALITY = 95
#: Blockiness (:func:`jpeg_blockiness`) from which an array with no file information is
#: taken to come from a JPEG: the tuning fields DISH1 / DISH3 measure 1.004-1.026
#: lossless at 0.065-0.25 µm/px and 1.24-1.54 after a quality-80 round trip; quality 95
#: (1.004-1.067) is NOT recognised from the pixels (benchmarks/README.md, "ISH from JPEG").
JPEG_BLOCKINESS_MIN = 1.15

#: Largest :func:`chroma_detail` at which an array that shows JPEG blocks (no file header)
#: is taken to hold 4:2:0 colour. On the tuning fields DISH1 / DISH3 at 0.15-0.25 µm/px a
#: 4:2:0 round trip (quality 70-95) reads 0.16-0.26; 4:2:2 0.40-0.45, 4:4:4 0.47-0.85 and
#: lossless 0.40-0.86; a real Aperio RGB JPEG (CMU-1-Small-Region, 0.5 µm/px, H&E) 0.41.
#: Only arrays with JPEG blocks are asked (a lossless generated field reads 0.36, a
#: bicubic resample of a 4:2:0 JPEG 0.19-0.28 and shows no blocks: not adapted).
CHROMA_420_MAX_DETAIL = 0.33

#: JFIF luminance (Y) weights of R, G, B: what a JPEG keeps at full resolution.
JFIF_LUMA_WEIGHTS = (0.299, 0.587, 0.114)

_SUBSAMPLING = ("4:4:4", "4:2:2", "4:2:0")


@dataclass(frozen=True)
class JpegSource:
    """What a JPEG file's header says about its compression.

    Attributes
    ----------
    quality : int or None
        Quality (1-100, libjpeg scale) estimated from the luminance quantization table;
        None when the table is not a scaled standard one.
    subsampling : {"4:4:4", "4:2:2", "4:2:0"} or None
        Chroma sampling; None when unknown (not YCbCr).
    """

    quality: int | None
    subsampling: str | None

    def __post_init__(self):
        if self.quality is not None and not (isinstance(self.quality, int)
                                             and 1 <= self.quality <= 100):
            raise Her2kitInputError(f"JPEG quality must be an int 1-100 or None, got "
                                    f"{self.quality!r}", field="jpeg_source")
        if self.subsampling is not None and self.subsampling not in _SUBSAMPLING:
            raise Her2kitInputError(f"JPEG subsampling must be one of {_SUBSAMPLING} or None, "
                                    f"got {self.subsampling!r}", field="jpeg_source")


@dataclass(frozen=True)
class JpegAssessment:
    """Whether a field's counts are less reliable because of JPEG compression.

    Attributes
    ----------
    degraded : bool
        JPEG (by the file or by the pixels) at a pixel size above
        :data:`JPEG_SAFE_MAX_PIXEL_SIZE_UM`, with subsampled colour, a quality below
        :data:`JPEG_MIN_SAFE_QUALITY` or, for an array, an unknown quality.
    source : {"file", "image", "none"}
        Where the JPEG evidence came from: the file header (:class:`JpegSource`
        given), the pixels (blockiness at or above :data:`JPEG_BLOCKINESS_MIN`), or
        no sign of JPEG.
    quality : int or None
        From the file, else None.
    subsampling : str or None
        From the file; for an array with JPEG blocks "4:2:0" when its
        :func:`chroma_detail` is at most :data:`CHROMA_420_MAX_DETAIL`, else None.
    blockiness : float
        :func:`jpeg_blockiness` of the field (measured always).
    chroma_detail : float or None
        :func:`chroma_detail`, measured for arrays with JPEG blocks only.
    """

    degraded: bool
    source: str
    quality: int | None
    subsampling: str | None
    blockiness: float
    chroma_detail: float | None = None

    def parameters(self) -> dict:
        """The assessment as ``parameters`` entries (``jpeg_...``)."""
        return {"jpeg_degraded": self.degraded, "jpeg_source": self.source,
                "jpeg_quality": self.quality, "jpeg_subsampling": self.subsampling,
                "jpeg_blockiness": round(self.blockiness, 3),
                "jpeg_chroma_detail": (None if self.chroma_detail is None
                                       else round(self.chroma_detail, 3))}


def _rgb_16(rgb) -> np.ndarray:
    """``rgb`` as an array, refused unless RGB and at least 16 x 16 pixels."""
    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[-1] != 3 or min(a.shape[:2]) < 16:
        raise Her2kitInputError(f"expected an RGB image of at least 16x16 px, got shape "
                                f"{a.shape}", field="rgb")
    return a


def jpeg_blockiness(rgb: np.ndarray) -> float:
    """How much stronger luminance steps are on one 8-pixel grid than off it.

    The mean absolute difference between neighbouring pixels' luminance is taken per
    column (and row) phase modulo 8; the result is the largest phase's mean over the
    median of the eight, averaged over the two directions. JPEG quantizes each 8x8 block
    on its own, so the steps across block edges stand out (>1); a lossless image has no
    preferred phase (~1). The phase is searched, so a crop of a JPEG is measured too.

    Parameters
    ----------
    rgb : (rows, cols, 3) ndarray
        Image, any numeric dtype; at least 16 x 16 pixels.

    Returns
    -------
    float
        Dimensionless ratio, >= 1.
    """
    a = _rgb_16(rgb)
    lum = a.astype(np.float32) @ np.array(JFIF_LUMA_WEIGHTS, np.float32)
    out = []
    for d in (np.abs(np.diff(lum, axis=1)), np.abs(np.diff(lum, axis=0)).T):
        per = d.mean(axis=0)
        phase = np.array([per[k::8].mean() for k in range(8)])
        base = float(np.median(phase))
        out.append(float(phase.max()) / base if base > 0 else 1.0)
    return float(np.mean(out))


def chroma_detail(rgb: np.ndarray) -> float:
    """The finest-scale colour detail relative to the luminance's.

    The r.m.s. of each YCbCr plane minus its 3 x 3 mean: the two chroma planes' (mean
    square averaged) over the luminance's, square-rooted. Colour stored at half
    resolution (JPEG 4:2:0) and interpolated back has little detail at one pixel's
    scale while luminance keeps its own, so the ratio falls (:data:`CHROMA_420_MAX_DETAIL`).

    Parameters
    ----------
    rgb : (rows, cols, 3) ndarray
        Image, any numeric dtype; at least 16 x 16 pixels.

    Returns
    -------
    float
        Dimensionless ratio, >= 0 (0 for an image without luminance detail).
    """
    from scipy import ndimage as ndi

    x = _rgb_16(rgb).astype(np.float32)
    to_ycc = np.array([JFIF_LUMA_WEIGHTS, [-0.168736, -0.331264, 0.5],
                       [0.5, -0.418688, -0.081312]], np.float32)  # JFIF YCbCr
    ycc = x @ to_ycc.T

    def fine(c):
        return float(np.mean((c - ndi.uniform_filter(c, 3)) ** 2))

    luma = fine(ycc[..., 0])
    if luma <= 0:
        return 0.0
    return float(np.sqrt(0.5 * (fine(ycc[..., 1]) + fine(ycc[..., 2])) / luma))


def assess_jpeg(rgb: np.ndarray, *, pixel_size_um: float,
                jpeg_source: JpegSource | None = None) -> JpegAssessment:
    """Assess the JPEG degradation of a brightfield ISH field (:class:`JpegAssessment`).

    Parameters
    ----------
    rgb : (rows, cols, 3) ndarray
        The field.
    pixel_size_um : float
        µm per pixel (the degradation is judged against :data:`JPEG_SAFE_MAX_PIXEL_SIZE_UM`).
    jpeg_source : JpegSource, optional
        The file's JPEG header when the field was read from a JPEG; None for arrays
        of unknown origin (then the pixels decide, :data:`JPEG_BLOCKINESS_MIN`).
    """
    if jpeg_source is not None and not isinstance(jpeg_source, JpegSource):
        raise Her2kitInputError(f"jpeg_source must be a JpegSource or None, got "
                                f"{type(jpeg_source).__name__}", field="jpeg_source")
    b = jpeg_blockiness(rgb)
    coarse = pixel_size_um > JPEG_SAFE_MAX_PIXEL_SIZE_UM
    if jpeg_source is not None:
        lossy = (jpeg_source.subsampling != "4:4:4" or jpeg_source.quality is None
                 or jpeg_source.quality < JPEG_MIN_SAFE_QUALITY)
        return JpegAssessment(coarse and lossy, "file", jpeg_source.quality,
                              jpeg_source.subsampling, b)
    if b >= JPEG_BLOCKINESS_MIN:
        # A colourless (grey) image has no chroma to be subsampled: not asked.
        x = np.asarray(rgb, np.float32)
        coloured = max(float(np.std(x[..., 0] - x[..., 1])),
                       float(np.std(x[..., 2] - x[..., 1]))) >= 1.0
        detail = chroma_detail(rgb) if coloured else None
        sub = "4:2:0" if detail is not None and detail <= CHROMA_420_MAX_DETAIL else None
        return JpegAssessment(coarse, "image", None, sub, b, detail)
    return JpegAssessment(False, "none", None, None, b)

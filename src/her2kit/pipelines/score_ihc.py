"""The ``score-ihc`` job: one brightfield image file → IHC document and output bytes.

Called by the CLI now, and next by the whole-slide runner and the lab service: it takes
paths and options, returns a frozen :class:`ScoreIhcJob`, and neither prints, writes nor
exits. A caller-given pixel size is labelled ``--mpp`` in the document and in messages
(the CLI's flag), as the documents have always said.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from her2kit.errors import Her2kitInputError

__all__ = ["AUTO_MPP", "ScoreIhcJob", "check_mpp", "estimate_mpp", "refuse_blank_early",
           "resolve_pixel_size", "score_ihc"]

#: The ``mpp`` value that asks for the pixel size to be estimated from nucleus sizes.
AUTO_MPP = "auto"
# The pixel size the blank check validates before an ``--mpp auto`` estimate exists (the
# check uses it only to refuse an absurd value).
_PROVISIONAL_MPP = 0.5


@dataclass(frozen=True, eq=False)
class ScoreIhcJob:
    """What :func:`score_ihc` produced.

    Attributes
    ----------
    document : dict
        The ``score-ihc`` JSON document (:func:`her2kit.pipelines.ihc.ihc_document`).
    outputs : mapping of pathlib.Path to bytes
        The bytes of each requested output (overlay PNG, cell table, GeoJSON), in that
        order, keyed by the path the caller asked for; nothing is written.
    image : her2kit.io.images.LoadedImage
        The image read.
    result : her2kit.imaging.ihc.score.IhcImageResult
        The per-cell result.
    """

    document: dict[str, Any]
    outputs: Mapping[Path, bytes]
    image: Any
    result: Any


def check_mpp(mpp: float | None) -> None:
    """Refuse a caller-given pixel size that is not a finite number (NaN compares false
    with everything, so it would pass every later check unseen)."""
    if mpp is not None and not math.isfinite(mpp):
        raise Her2kitInputError(f"expected a finite number of µm per pixel, got {mpp}",
                                field="--mpp")


def resolve_pixel_size(file_um: float | None, file_source: str, mpp: float | None, *,
                       name: str) -> tuple[float, str]:
    """µm per pixel and its source: the file's, checked against ``mpp`` (1 %), else ``mpp``.

    Raises
    ------
    Her2kitInputError
        ``mpp`` is not finite or contradicts the file, or neither gives a pixel size.
    """
    check_mpp(mpp)
    if file_um is not None:
        if mpp is not None and abs(mpp - file_um) > 0.01 * file_um:
            raise Her2kitInputError(
                f"--mpp {mpp:g} contradicts the file's pixel size {file_um:g} µm", field="--mpp")
        return file_um, f"file ({file_source})"
    if mpp is not None:
        return mpp, "--mpp"
    raise Her2kitInputError(
        f"{name}: the file does not record its pixel size; give --mpp (µm per pixel)",
        field="--mpp")


def score_ihc(
    image: str | Path,
    *,
    mpp: float | str | None = None,
    roi: str | None = None,
    estimate_stains: bool,
    min_intense_pct: float = 1.0,
    guideline: str = "asco-cap-2018",
    overlay: str | Path | None = None,
    cells: str | Path | None = None,
    geojson: str | Path | None = None,
    calibration: str | Path | None = None,
    tissue: str = "breast",
) -> ScoreIhcJob:
    """Read an image, score HER2 membranes cell by cell, build the document and outputs.

    Parameters
    ----------
    image : str or Path
        RGB brightfield PNG/JPEG/TIFF (:func:`her2kit.io.images.read_image`).
    mpp : float or "auto", optional
        µm per pixel when the file does not record it (checked against it when it does);
        ``"auto"`` (:data:`AUTO_MPP`): estimated from the nucleus sizes when the file
        records none (:func:`estimate_mpp`), recorded in the document's
        ``assumptions`` and ``evidence.pixel_size_estimate``.
    roi : str, optional
        GeoJSON file of invasive tumour polygons (level-0 pixels).
    estimate_stains : bool
        Estimate stain vectors per image (the CLI's default is False: standard H-DAB).
    min_intense_pct : float, optional
        Evidence floor (%, 0–10) for the "intense complete in ≤ 10 %" 2+ pattern.
    guideline : str, optional
        Rule set name.
    overlay, cells, geojson : str or Path, optional
        Outputs to produce: overlay PNG, per-cell table (``.csv``, or Parquet for
        ``.parquet``), QuPath GeoJSON. Only the overlay's file name enters the document.
    calibration : str or Path, optional
        A ``her2kit calibrate`` file, or ``"default"`` for the one shipped with her2kit
        (fitted on the shared real images only); its thresholds for ``tissue`` and its
        real-tissue options replace the classical scorer's, and the document's
        ``evidence.calibration`` records them. None: the classical scorer.
    tissue : {"breast", "gastric"}, optional
        Which of the calibration's rule sets to use (gastric needs a calibration).

    Returns
    -------
    ScoreIhcJob

    Raises
    ------
    Her2kitInputError
        Unreadable image; not an H-DAB brightfield image (H&E, fluorescence:
        :func:`her2kit.imaging.ihc.quality.check_hdab_stain`; greyscale:
        :func:`~her2kit.imaging.ihc.quality.check_dab_present`); no or contradictory
        pixel size, an ``--mpp auto`` estimate too uncertain to use, bad ROI,
        ``min_intense_pct`` outside 0–10, unknown guideline.
    """
    from her2kit.guideline import get_guideline
    from her2kit.imaging.ihc.quality import check_dab_present, check_hdab_stain
    from her2kit.imaging.ihc.score import IhcOptions, score_ihc_image
    from her2kit.io.images import read_image, read_image_header
    from her2kit.io.roi import read_roi_mask
    from her2kit.pipelines.ihc import ihc_document

    get_guideline(guideline)
    auto = isinstance(mpp, str)
    if auto and mpp != AUTO_MPP:
        raise Her2kitInputError(f"expected a number of µm per pixel or {AUTO_MPP!r}, got "
                                f"{mpp!r}", field="--mpp")
    check_mpp(None if auto else mpp)
    header = read_image_header(image)  # every size refusal before any pixel is decoded
    auto = auto and header.pixel_size_um is None  # a recorded pixel size wins over auto
    pixel_size_um, source = (_PROVISIONAL_MPP, "") if auto else resolve_pixel_size(
        header.pixel_size_um, header.pixel_size_source, None if isinstance(mpp, str) else mpp,
        name=str(image))
    mask = read_roi_mask(roi, (header.rows, header.cols))
    options, cal_note = _calibrated_options(calibration, tissue)
    if options is None:
        options = IhcOptions(estimate_stains=estimate_stains)
    refuse_blank_early(image, header, pixel_size_um)
    loaded = read_image(image)
    # Before scoring: an H&E, fluorescence or DAB-free image is the wrong input, and a
    # score of it would be meaningless (after the header checks, so a huge file is never
    # decoded).
    stain = check_hdab_stain(loaded.image, name="rgb")
    dab = check_dab_present(loaded.image, stain, name="rgb")
    if header.look is None:
        refuse_blank_early(image, header, pixel_size_um, decoded=loaded.image)
    estimate = None
    if auto:
        estimate = estimate_mpp(loaded.image, name=str(image))
        pixel_size_um = estimate.pixel_size_um
        source = "estimated from nucleus sizes (--mpp auto)"
    result = score_ihc_image(loaded.image, pixel_size_um=pixel_size_um, roi_mask=mask,
                             options=options)
    if not 0 <= min_intense_pct <= 10:
        raise Her2kitInputError(f"expected 0–10, got {min_intense_pct:g}",
                                field="--min-intense-pct")
    doc = ihc_document(result, image=str(image), pixel_size_um=pixel_size_um,
                       pixel_size_source=source, guideline=guideline,
                       overlay=Path(overlay).name if overlay else None,
                       min_intense_pct=min_intense_pct)
    if cal_note is not None:
        doc["evidence"]["calibration"] = cal_note
    doc["stain_check"] = {"eosin_hue_pct": round(100 * stain.eosin_fraction, 2),
                          "dab_hue_pct": round(100 * stain.dab_fraction, 2),
                          "n_tissue_pixels_sampled": stain.n_tissue_pixels,
                          "white_point_source": stain.white_point_source,
                          "tissue_chroma_levels": dab.tissue_chroma_levels,
                          "no_dab_seen": dab.no_dab_seen, "note": dab.note}
    doc["assumptions"] = [] if estimate is None else [_estimate_assumption(estimate)]
    if estimate is not None:
        doc["evidence"]["pixel_size_estimate"] = estimate.as_dict()
    return ScoreIhcJob(doc, MappingProxyType(_outputs(loaded.image, result, overlay=overlay,
                                                      cells=cells, geojson=geojson)),
                       loaded, result)


def estimate_mpp(rgb, *, name: str):
    """The ``--mpp auto`` estimate of an RGB image, refused when too uncertain.

    The hematoxylin is separated with the standard H-DAB vectors and
    :func:`her2kit.imaging.segment.pixel_size.estimate_pixel_size` reads the nucleus sizes.

    Returns
    -------
    her2kit.imaging.segment.pixel_size.PixelSizeEstimate
        A usable estimate.

    Raises
    ------
    Her2kitInputError
        The estimate is too uncertain (its reason in the message).
    """
    from her2kit.imaging.color.hdab import separate_stains
    from her2kit.imaging.segment.pixel_size import estimate_pixel_size

    est = estimate_pixel_size(separate_stains(rgb, estimate=False).hematoxylin_od)
    if not est.usable:
        raise Her2kitInputError(f"{name}: cannot estimate the pixel size from the nuclei "
                                f"({est.reason}); give --mpp (µm per pixel)", field="--mpp")
    return est


def _estimate_assumption(est) -> str:
    """The document's one-line record of an ``--mpp auto`` estimate."""
    return (f"pixel size ESTIMATED: {est.pixel_size_um:.3g} µm/px "
            f"(interval {est.low_um:.3g}–{est.high_um:.3g}, ±"
            f"{100 * est.relative_uncertainty:.0f}%) from {est.n_well_shaped} well-shaped "
            f"nuclei, assuming a median nucleus profile of {est.reference_diameter_um:g} µm "
            f"(×/÷ {est.reference_spread_factor:g}); the file records none (--mpp auto)")


def refuse_blank_early(image, header, pixel_size_um: float, *, decoded=None) -> None:
    """Refuse an image with almost no tissue before the scorer's float copies are made.

    The tissue share (:func:`~her2kit.imaging.ihc.quality.look_tissue_fraction`,
    standard stain vectors) is measured on ``header.look``'s blocks (a TIFF strip by
    strip or tile by tile, every pixel; a JPEG on its 1/8-scale preview), or on the
    ``decoded`` image for other files; below
    :data:`~her2kit.imaging.ihc.quality.BLANK_LOOK_FRACTION` the image is refused as
    blank, with the scorer's message. Images the scorer would refuse for another reason
    first (not 8-bit RGB, sides under 16 px, an absurd pixel size) are left to it.

    Raises
    ------
    ImageInputError
        The image is blank.
    """
    from her2kit.imaging._validate import MIN_SIDE_PX, check_pixel_size
    from her2kit.imaging.ihc.quality import (
        BLANK_LOOK_FRACTION,
        check_not_blank,
        look_tissue_fraction,
    )
    from her2kit.io.images import iter_image_look

    if min(header.rows, header.cols) < MIN_SIDE_PX or (decoded is None and header.look is None):
        return
    if decoded is not None:
        if decoded.dtype.name != "uint8" or decoded.ndim != 3 or decoded.shape[2] not in (3, 4):
            return
        check_pixel_size(pixel_size_um)
        blocks = ((decoded[r:r + 256], (0, 1, 2)) for r in range(0, decoded.shape[0], 256))
        n, how = header.rows * header.cols, "measured before stain separation"
    elif header.look == "tiff":
        check_pixel_size(pixel_size_um)
        blocks = iter_image_look(image, header)
        n, how = header.rows * header.cols, "every pixel seen, a strip or tile at a time"
    else:  # "jpeg": one block, the preview
        check_pixel_size(pixel_size_um)
        blocks = list(iter_image_look(image, header))
        n, how = blocks[0][0].shape[0] * blocks[0][0].shape[1], "on the 1/8-scale JPEG preview"
    fraction = look_tissue_fraction(blocks, n)
    if hasattr(blocks, "close"):
        blocks.close()  # stopped early: close the file now
    if fraction is not None:
        check_not_blank(fraction, limit=BLANK_LOOK_FRACTION, how=how)


def _calibrated_options(calibration, tissue: str):
    """``(IhcOptions, evidence)`` from a calibration for ``tissue``; ``(None, None)``
    without one (the classical scorer, breast only)."""
    from her2kit.pipelines.calibrate import (
        TISSUES,
        calibration_from_dict,
        options_from_calibration,
    )

    if tissue not in TISSUES:
        raise Her2kitInputError(f"expected one of {TISSUES}, got {tissue!r}", field="--tissue")
    if calibration is None:
        if tissue != "breast":
            raise Her2kitInputError("the classical thresholds are breast ones; give "
                                    "--calibration for gastric scoring", field="--tissue")
        return None, None
    from her2kit.io.calibration import read_calibration

    source = "default" if str(calibration) == "default" else str(calibration)
    cal = calibration_from_dict(read_calibration(None if source == "default" else source))
    options = options_from_calibration(cal, tissue)
    note = {"source": source if source == "default" else Path(source).name, "tissue": tissue,
            "thresholds": options.thresholds.as_dict(), "options": dict(cal.options)}
    return options, note


def _outputs(rgb, result, *, overlay, cells, geojson) -> dict[Path, bytes]:
    """The requested output files' bytes, overlay first (the order they are listed in)."""
    from her2kit.io.export import png_bytes, table_bytes, table_format

    files: dict[Path, bytes] = {}
    if overlay is not None:
        from her2kit.viz.ihc import render_overlay

        files[Path(overlay)] = png_bytes(render_overlay(rgb, result))
    if cells is not None:
        files[Path(cells)] = table_bytes(result.cells.as_records(), fmt=table_format(cells))
    if geojson is not None:
        from her2kit.io.export import cells_geojson_bytes
        from her2kit.viz.colors import CLASS_COLORS

        files[Path(geojson)] = cells_geojson_bytes(result, class_colors=CLASS_COLORS)
    return files

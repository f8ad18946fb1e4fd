"""The ``count-ish`` job: ISH field files → one population, its document and output bytes.

Called by the CLI now, and next by the whole-slide runner and the lab service: it takes
paths, already parsed channel and stain maps and options, returns a frozen
:class:`CountIshJob`, and neither prints, writes nor exits. Several fields of one slide
are counted as one population of nuclei. A caller-given pixel size is labelled ``--mpp``
in the document and in messages (the CLI's flag), as the documents have always said.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from her2kit.errors import Her2kitInputError

__all__ = [
    "ASSAYS", "CountIshJob", "CountedField", "check_assay", "count_ish", "field_paths", "stain_map"]

ASSAYS = ("fish", "dual-ish", "cish")


@dataclass(frozen=True, eq=False)
class CountedField:
    """One field counted: its name, pixel size (µm) and its source, result, display image."""

    name: str
    pixel_size_um: float
    pixel_size_source: str
    result: Any
    image: Any


@dataclass(frozen=True, eq=False)
class CountIshJob:
    """What :func:`count_ish` produced.

    Attributes
    ----------
    document : dict
        The ``count-ish`` JSON document (:func:`her2kit.pipelines.ish.ish_document`).
    outputs : mapping of pathlib.Path to bytes
        The bytes of each requested output (overlay PNGs, one per field, then the
        per-nucleus table), keyed by path; nothing is written.
    fields : tuple of CountedField
        Each field's result and the image it was counted on.
    result : her2kit.imaging.ish.count.IshImageResult
        The field's result, or the pooled result of several fields.
    """

    document: dict[str, Any]
    outputs: Mapping[Path, bytes]
    fields: tuple[CountedField, ...]
    result: Any


def check_assay(assay: str) -> None:
    """Refuse an assay other than fish, dual-ish or cish."""
    if assay not in ASSAYS:
        raise Her2kitInputError(f"unknown assay {assay!r}; use fish, dual-ish or cish",
                                field="--assay")


def field_paths(path: str | Path | None, n: int) -> list[Path]:
    """``path`` for one field; ``<stem>-field1<suffix>`` … for several."""
    if path is None:
        return []
    p = Path(path)
    if n == 1:
        return [p]
    return [p.with_name(f"{p.stem}-field{i}{p.suffix}") for i in range(1, n + 1)]


def _need_pixel_size(pixel_size_um: float | None, name: str) -> None:
    if pixel_size_um is None:
        raise Her2kitInputError(
            f"{name}: the file does not record its pixel size; give --mpp (µm per pixel)",
            field="--mpp")


def _fish_sources(images, *, channels, channel_files, bit_depth):
    """(name, reader) per FISH field: one set of channel files, or multi-channel images.
    The readers return the files' own pixel size, checked against ``--mpp`` after."""
    from her2kit.io import fish as fish_io

    if channel_files is not None:
        return [(str(channel_files["her2"]), lambda: fish_io.read_fish_files(
            **channel_files, bit_depth=bit_depth))]
    return [(im, lambda im=im: fish_io.read_fish_image(
        im, channels=channels, bit_depth=bit_depth)) for im in images]


def _with_mpp(field_image, mpp: float | None, name: str):
    """The field with ``--mpp`` as its pixel size, refused when the file states another
    (more than 1 % apart), as score-ihc does: a wrong size moves every area cut-off."""
    import dataclasses

    from her2kit.pipelines.score_ihc import resolve_pixel_size

    if mpp is None:
        return field_image
    resolve_pixel_size(field_image.pixel_size_um, "file", mpp, name=name)
    return dataclasses.replace(field_image, pixel_size_um=mpp)


def _count_fields(images, *, assay, channels, channel_files, stains, roi, mpp, bit_depth,
                  progress) -> list[CountedField]:
    """Read, outline and count every field, in order."""
    from her2kit.imaging import ish as ish_mod
    from her2kit.io import fish as fish_io
    from her2kit.io.roi import read_roi_mask

    fields = []
    if assay == "fish":
        sources = _fish_sources(images, channels=channels, channel_files=channel_files,
                                bit_depth=bit_depth)
        for name, read in progress(sources):
            field_image = _with_mpp(read(), mpp, name)
            pixel_size_um = field_image.pixel_size_um
            _need_pixel_size(pixel_size_um, name)
            mask = read_roi_mask(roi, field_image.dapi.shape[:2])
            result = ish_mod.count_fish(field_image, pixel_size_um=pixel_size_um, roi_mask=mask)
            fields.append(CountedField(name, pixel_size_um, "--mpp" if mpp is not None else "file",
                                       result, field_image))
        return fields
    for name in progress(images):
        rgb = fish_io.read_brightfield_ish(name)
        _need_pixel_size(mpp, name)
        mask = read_roi_mask(roi, rgb.shape[:2])
        result = ish_mod.count_brightfield_ish(rgb, assay=assay, pixel_size_um=mpp,
                                               roi_mask=mask, stains=stains,
                                               jpeg_source=fish_io.read_jpeg_source(name))
        fields.append(CountedField(name, mpp, "--mpp", result, rgb))
    return fields


#: The level ISH regions of a slide are read at: signals are sub-micron dots (a Dual ISH
#: silver dot is ~0.5 µm), so only the native resolution (level 0) resolves them.
ISH_SLIDE_LEVEL = 0


def _slide_input(images: Sequence[str], assay: str, roi: str | None) -> str | None:
    """The slide among ``images``, or None for fields; refuses a slide counted without
    --roi, with other images, or as FISH."""
    from her2kit.io.slides import looks_like_slide

    slides = [im for im in images if looks_like_slide(im)]
    if not slides:
        return None
    if len(images) > 1:
        raise Her2kitInputError("count one slide at a time (its --roi regions pool into one "
                                "population), not with other images", field="IMAGE")
    if assay == "fish":
        raise Her2kitInputError(f"{slides[0]}: count-ish counts brightfield slides (dual-ish, "
                                "cish) in --roi regions; a FISH slide is not supported "
                                "(export its fields)", field="IMAGE")
    if roi is None:
        raise Her2kitInputError(f"{slides[0]}: a whole slide needs --roi (the regions to "
                                "count); whole-slide ISH counting is not supported",
                                field="--roi")
    return slides[0]


def _count_slide(path: str, *, assay, stains, roi, mpp, progress
                 ) -> tuple[list[CountedField], dict[str, Any]]:
    """Read each --roi polygon of a brightfield slide at :data:`ISH_SLIDE_LEVEL` and
    count it as one field; returns the fields and the document's ``slide`` block."""
    from her2kit.imaging import ish as ish_mod
    from her2kit.io.fish import tiff_jpeg_source
    from her2kit.io.roi import read_roi_polygons
    from her2kit.io.slides import open_slide, read_roi_region, roi_boxes
    from her2kit.settings import value

    polygons = read_roi_polygons(roi)
    fields, regions = [], []
    # A TIFF-based slide's level-0 JPEG (its 4:2:0 colour matters to Dual ISH at a
    # scanner's 0.25 µm/px); None for a DICOM folder or other compression.
    jpeg_source = tiff_jpeg_source(path) if Path(path).is_file() else None
    with open_slide(path, assume_mpp_um=mpp, assume_flag="--mpp") as slide:
        boxes = roi_boxes(slide, polygons, max_pixels=value("ish_max_field_pixels"),
                          level=ISH_SLIDE_LEVEL)
        source = "--mpp" if slide.pixel_size_assumed else "file"
        for i in progress(list(range(len(polygons)))):
            region = read_roi_region(slide, i + 1, polygons[i], boxes[i], level=ISH_SLIDE_LEVEL)
            result = ish_mod.count_brightfield_ish(
                region.rgb, assay=assay, pixel_size_um=region.pixel_size_um,
                roi_mask=region.mask, stains=stains, jpeg_source=jpeg_source)
            fields.append(CountedField(f"{path}#region{region.index}", region.pixel_size_um,
                                       source, result, region.rgb))
            regions.append({"index": region.index, "name": region.name,
                            "bbox_xy": list(region.bbox_xy),
                            "area_um2": round(float(region.mask.sum())
                                              * region.pixel_size_um ** 2, 1)})
        block = {"path": str(path), "vendor": slide.vendor,
                 "dimensions_wh": list(slide.dimensions), "level": ISH_SLIDE_LEVEL,
                 "level_pixel_size_um": slide.levels[ISH_SLIDE_LEVEL].pixel_size_um,
                 "pixel_size_source": slide.pixel_size_source,
                 "pixel_size_assumed": slide.pixel_size_assumed, "roi": str(roi),
                 "regions": regions}
    return fields, block


def count_ish(
    images: Sequence[str],
    *,
    assay: str = "fish",
    channels: Mapping[str, int | str] | None = None,
    channel_files: Mapping[str, str] | None = None,
    stains: Mapping[str, str] | None = None,
    roi: str | None = None,
    mpp: float | None = None,
    bit_depth: int | None = None,
    guideline: str = "asco-cap-2018",
    overlay: str | Path | None = None,
    nuclei: str | Path | None = None,
    progress: Callable[[list], Iterable] = iter,
) -> CountIshJob:
    """Count HER2 and CEP17 signals per nucleus over one or more fields.

    Parameters
    ----------
    images : sequence of str
        Field files: FISH TIFF/RGB composites (with ``channels``) or brightfield RGB.
        Empty for FISH given as ``channel_files``.
    assay : {"fish", "dual-ish", "cish"}
    channels : mapping, optional
        FISH: probe → channel index or colour letter (see
        :func:`her2kit.io.fish.read_fish_image`).
    channel_files : mapping, optional
        FISH: ``{"dapi": path, "her2": path, "cep17": path}``, one grey file each.
    stains : mapping, optional
        Brightfield: probe role → stain name (the kit's convention, stated).
    roi : str, optional
        GeoJSON of invasive tumour polygons (one field only). With a whole slide (see
        :func:`her2kit.io.slides.looks_like_slide`) it is required: each polygon is read
        at the native level and counted as one field (all pooled), and the document gets
        a ``slide`` block (file, vendor, level, pixel size and its source, regions).
    mpp : float, optional
        µm per pixel; brightfield fields need it; for FISH and slides it must agree
        (1 %) with the file's, when the file states one (a slide without one needs it).
    bit_depth : int, optional
        FISH camera bit depth, checked against the data.
    guideline : str, optional
        Rule set name.
    overlay, nuclei : str or Path, optional
        Outputs to produce: overlay PNG (``<stem>-fieldN`` for several fields), the
        per-nucleus table (``.csv``, or Parquet for ``.parquet``).
    progress : callable, optional
        Wraps the list of fields while they are counted (the CLI's progress bar).

    Returns
    -------
    CountIshJob

    Raises
    ------
    Her2kitInputError
        Unknown assay or guideline, unreadable field, no pixel size, bad ROI, one
        file given as two fields or two channels.
    """
    from her2kit.guideline import get_guideline
    from her2kit.imaging import ish as ish_mod
    from her2kit.io.paths import refuse_same_inputs
    from her2kit.pipelines.ish import ish_document
    from her2kit.pipelines.score_ihc import check_mpp

    get_guideline(guideline)
    check_assay(assay)
    if not images and channel_files is None:
        raise Her2kitInputError("give at least one IMAGE", field="IMAGE")
    # A field named twice (another spelling, a link, a copy) would be counted twice.
    check_mpp(mpp)
    refuse_same_inputs([("IMAGE", im) for im in images], what="field")
    if channel_files is not None:
        refuse_same_inputs([(f"--{k}", channel_files[k]) for k in ("dapi", "her2", "cep17")],
                           what="FISH channel")
    slide = _slide_input(list(images), assay, roi)
    slide_block = None
    if slide is not None:
        fields, slide_block = _count_slide(slide, assay=assay, stains=stains, roi=roi,
                                           mpp=mpp, progress=progress)
    else:
        fields = _count_fields(list(images), assay=assay, channels=channels,
                               channel_files=channel_files, stains=stains, roi=roi, mpp=mpp,
                               bit_depth=bit_depth, progress=progress)
    names = [f.name for f in fields]
    overlay_paths = field_paths(overlay, len(fields))
    if len(fields) == 1:
        result = fields[0].result
    else:
        result = ish_mod.pool_fields([f.result for f in fields], names)
    doc = ish_document(result, image=names if len(fields) > 1 else names[0], assay=assay,
                       pixel_size_um=fields[0].pixel_size_um,
                       pixel_size_source=fields[0].pixel_size_source, guideline=guideline,
                       overlay=None if overlay is None else (
                           [p.name for p in overlay_paths] if len(fields) > 1
                           else overlay_paths[0].name))
    if slide_block is not None:
        doc["slide"] = slide_block
    from her2kit.io.export import png_bytes, table_bytes, table_format

    files: dict[Path, bytes] = {}
    if overlay is not None:
        from her2kit.viz.ish import overlay_scale, render_ish_overlay

        # A coarse image's overlay is enlarged (rings and labels would hide its dots);
        # the factor is recorded so that overlay px map back to image px.
        scales = [overlay_scale(f.result.labels.shape, f.pixel_size_um) for f in fields]
        doc["overlay_scale"] = scales if len(fields) > 1 else scales[0]
        for path, f, k in zip(overlay_paths, fields, scales, strict=True):
            files[path] = png_bytes(render_ish_overlay(f.image, f.result, scale=k))
    if nuclei is not None:
        files[Path(nuclei)] = table_bytes(result.table(), fmt=table_format(nuclei))
    return CountIshJob(doc, MappingProxyType(files), tuple(fields), result)


def stain_map(text: str | None, assay: str) -> dict[str, str]:
    """Brightfield role → stain name; the kit's convention is stated, never guessed."""
    from her2kit.imaging.color.stains import CISH_STAINS, DUAL_ISH_STAINS, STAIN_VECTORS

    mapping = dict(DUAL_ISH_STAINS if assay == "dual-ish" else CISH_STAINS)
    if text is None:
        return mapping
    roles = ("her2", "cep17") if assay == "dual-ish" else ("her2",)
    given: dict[str, str] = {}
    for part in text.split(","):
        role, sep, stain = part.strip().partition("=")
        if not sep or role not in roles or stain not in STAIN_VECTORS:
            raise Her2kitInputError(
                f"expected {'/'.join(roles)}=<stain> with a stain among "
                f"{', '.join(sorted(STAIN_VECTORS))}, got {part!r}", field="--stains")
        if role in given:
            raise Her2kitInputError(f"{role} is mapped twice", field="--stains")
        given[role] = stain
    mapping.update(given)
    if len({mapping[r] for r in roles}) < len(roles):
        raise Her2kitInputError("HER2 and CEP17 need different stains", field="--stains")
    return mapping

"""Per-image HER2 IHC scoring: stains → nuclei → cells → membrane classes → percentages.

:func:`score_ihc_image` runs the whole per-cell pipeline on one RGB region and returns an
:class:`IhcImageResult` carrying the per-cell table, the percentages the guideline engine
needs (``result.percent``, ``result.to_guideline_input()``), the H-score and the evidence
(stain vectors, thresholds, nucleus threshold, quality flags). Its options are one frozen
:class:`IhcOptions`; its stages are the private functions below, each one step of the
Notes of :func:`score_ihc_image`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
from scipy import ndimage as ndi

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging._validate import (
    IHC_DARK_BACKGROUND_LEVEL,
    IHC_DARK_BACKGROUND_STRIDE,
    IHC_RGB_WORDING,
    check_brightfield_background,
    check_mask,
    check_pixel_size,
    check_positive,
    check_rgb_image,
)
from her2kit.imaging.color.hdab import StainSeparation, separate_stains
from her2kit.imaging.filters import block_factor, block_mean, upsample_labels
from her2kit.imaging.ihc.erythrocytes import (
    ERYTHROCYTE_MIN_NEUTRALITY,
    ErythrocyteCells,
    erythrocyte_cells,
    erythrocyte_mask,
    grid_od_rgb,
)
from her2kit.imaging.ihc.membrane import (
    CLASS_H_SCORE_WEIGHT,
    DEFAULT_THRESHOLDS,
    MEMBRANE_CLASSES,
    STAINED_CLASSES,
    MembraneMeasures,
    MembraneThresholds,
    classify_membranes,
    measure_membranes,
)
from her2kit.imaging.ihc.membrane_cells import membrane_cells
from her2kit.imaging.ihc.quality import (
    QualityFlags,
    check_not_blank,
    quality_flags,
    tissue_mask,
)
from her2kit.imaging.ihc.robust import (
    cell_cytoplasm_level,
    contrast_threshold,
    counterstain_scale,
    dab_dominant,
    estimate_white_point,
    local_contrast_hematoxylin,
    scale_measures,
    subtract_cell_level,
)
from her2kit.imaging.segment.cells import expand_nuclei
from her2kit.imaging.segment.nuclei import NucleusDetection, detect_nuclei

__all__ = [
    "DEFAULT_IHC_OPTIONS",
    "ROBUST_CHOICES",
    "TILE_MAX_HOLE_UM2",
    "CellTable",
    "IhcImageResult",
    "IhcOptions",
    "score_ihc_image",
]

DAB_EXCLUDE_OD = 0.25  # pixels above: not used to choose the nucleus threshold
#: Largest hole of the nucleus mask filled with ``tile_invariant`` (µm²): a 5.6 µm disc,
#: inside any tumour nucleus; a hole's extent (≤ 25 µm on the 1 µm grid) then stays
#: within a slide tile's 40 µm margin.
TILE_MAX_HOLE_UM2 = 25.0


@dataclass(frozen=True, eq=False)
class IhcOptions:
    """Algorithm options of :func:`score_ihc_image`; the defaults are the CLI's.

    Attributes
    ----------
    thresholds : MembraneThresholds, optional
        Membrane class thresholds (DAB OD, completeness %).
    stain_matrix : array_like, shape (2, 3) or (3, 3), optional
        Fixed hematoxylin and DAB OD vectors; disables estimation.
    estimate_stains : bool, optional
        Estimate stain vectors per image (bounded Macenko; falls back with a reason).
        Default False: the standard Ruifrok & Johnston vectors, as ``her2kit score-ihc``
        uses unless given ``--estimate-stains``.
    background_rgb : float or sequence of 3 floats, optional
        Background intensity ``I0`` per channel for the OD conversion (1–255).
    nucleus_diameter_um : float, optional
        Typical nucleus diameter (µm).
    cell_expansion_um : float, optional
        Cell expansion beyond the nucleus (µm).
    n_sectors : int, optional
        Angular sectors for membrane completeness.
    geometry_pixel_size_um : float, optional
        Pixel size (µm) of the grid on which nuclei and cells are found: the image is
        reduced by block means of ``round(geometry_pixel_size_um / pixel_size_um)``
        pixels (never enlarged). The membrane DAB is still read at full resolution
        (block maxima). 1 µm resolves 6–12 µm nuclei with 6–12 px and is 4× (0.5 µm/px)
        to 16× (0.25 µm/px) cheaper than the full grid; measured on synthetic regions it
        costs no per-cell accuracy (``benchmarks/README.md``).
    white_point : {"fixed", "auto"}, optional
        ``"auto"``: the glass level is estimated per image
        (:func:`~her2kit.imaging.ihc.robust.estimate_white_point`) and replaces
        ``background_rgb``; its flags join the quality flags.
    membrane_baseline : {"block_min", "cell_cytoplasm"}, optional
        ``"cell_cytoplasm"``: membrane DAB is measured over the cell's own cytoplasm level
        (:func:`~her2kit.imaging.ihc.robust.cell_cytoplasm_level`) instead of the minimum
        of 20 µm blocks.
    nucleus_dab_exclusion : bool, optional
        Leave DAB-dominant pixels out of nucleus detection
        (:func:`~her2kit.imaging.ihc.robust.dab_dominant`).
    nucleus_threshold : {"absolute", "local_contrast"}, optional
        ``"local_contrast"``: nuclei from the local-contrast hematoxylin with a
        data-driven threshold (:func:`~her2kit.imaging.ihc.robust.contrast_threshold`).
    intensity_reference : {"none", "counterstain"}, optional
        ``"counterstain"``: membrane DAB is scaled by the image's counterstain reference
        (:func:`~her2kit.imaging.ihc.robust.counterstain_scale`), so that an exposure or
        tone change, which scales DAB and hematoxylin OD alike, cancels.
    nucleus_threshold_od : float, optional
        A fixed nucleus threshold (OD, on the image ``nucleus_threshold`` names) instead of
        the one chosen per image: a whole slide fixes it once, so that every tile uses
        the same one (:func:`her2kit.imaging.ihc.tiles.fix_slide_options`).
    tile_invariant : bool, optional
        Find nuclei by local rules only: holes of the nucleus mask are filled up to
        :data:`TILE_MAX_HOLE_UM2`, and the watershed's ties are broken by the
        hematoxylin (:func:`~her2kit.imaging.segment.nuclei.detect_nuclei`'s
        ``max_hole_um2`` and ``tie_break``). A whole slide sets it, so that a cell is the
        same whatever tile it is scored in. Default False (the per-image scorer as it was).
    cell_model : {"expand", "membrane"}, optional
        ``"expand"``: nuclei grown ``cell_expansion_um`` within a Voronoi limit.
        ``"membrane"``: cells also seeded from membrane-ringed basins with no nucleus,
        all grown to the membranes (DAB ridges as dams) within ``membrane_reach_um``
        (:func:`~her2kit.imaging.ihc.membrane_cells.membrane_cells`), and nuclei whose
        mean DAB outweighs their hematoxylin dropped first (membranes outlined as nuclei).
    membrane_reach_um : float, optional
        Largest cell extent from its nucleus or marker with ``cell_model="membrane"`` (µm).
    erythrocyte_exclusion : bool, optional
        Leave out of the count every cell whose nucleus and membrane-zone DAB lie mostly
        on neutral, erythrocyte-coloured pixels (red cells in vessels, which the H-DAB
        vectors read as hematoxylin plus DAB;
        :func:`~her2kit.imaging.ihc.erythrocytes.erythrocyte_cells`).
        Excluded cells stay in the cell table with ``counted`` False. Default False.

    Notes
    -----
    Values are checked where they are used, by :func:`score_ihc_image`, with the same
    messages as before the options were grouped. Compared by identity (a stain matrix
    may be an array).
    """

    thresholds: MembraneThresholds = DEFAULT_THRESHOLDS
    stain_matrix: object = None
    estimate_stains: bool = False
    background_rgb: object = (255, 255, 255)
    nucleus_diameter_um: float = 8.0
    cell_expansion_um: float = 4.0
    n_sectors: int = 24
    geometry_pixel_size_um: float = 1.0
    white_point: str = "fixed"
    membrane_baseline: str = "block_min"
    nucleus_dab_exclusion: bool = False
    nucleus_threshold: str = "absolute"
    intensity_reference: str = "none"
    nucleus_threshold_od: float | None = None
    tile_invariant: bool = False
    cell_model: str = "expand"
    membrane_reach_um: float = 8.0
    erythrocyte_exclusion: bool = False


#: The real-tissue options of issue 10 (``her2kit.imaging.ihc.robust``), all switched on.
ROBUST_CHOICES = MappingProxyType(
    {
        "white_point": ("fixed", "auto"),
        "membrane_baseline": ("block_min", "cell_cytoplasm"),
        "nucleus_threshold": ("absolute", "local_contrast"),
        "intensity_reference": ("none", "counterstain"),
        "cell_model": ("expand", "membrane"),
    }
)


#: The default options, as one immutable instance.
DEFAULT_IHC_OPTIONS = IhcOptions()


@dataclass(frozen=True, eq=False)
class CellTable:
    """Per-cell measurements; every attribute is an array with one row per cell.

    Attributes
    ----------
    label : ndarray of int32
        Cell label in ``IhcImageResult.cell_labels`` (the nucleus has the same label).
    centroid_rc : ndarray of float64, shape (n, 2)
        Nucleus centroid (row, col) in pixels of the input image.
    area_um2, nucleus_area_um2 : ndarray of float32
        Cell and nucleus area (µm²).
    membrane_dab_od_mean : ndarray of float32
        Mean over the membrane sectors of the sector DAB signal (base-10 OD).
    membrane_dab_od_stained : ndarray of float32
        Mean DAB OD of the sectors at or above the faint level (0 if none).
    ring_dab_od_mean : ndarray of float32
        Mean DAB OD of the ring of cell pixels at the cell edge.
    completeness_pct : ndarray of float32
        Share of the circumference with membrane DAB ≥ the faint level (%).
    class_name : ndarray of str
        One of ``MEMBRANE_CLASSES``.
    counted : ndarray of bool
        Inside the ROI (every cell when no ROI was given), and not taken for red blood
        cells (``IhcOptions.erythrocyte_exclusion``).
    """

    label: np.ndarray
    centroid_rc: np.ndarray
    area_um2: np.ndarray
    nucleus_area_um2: np.ndarray
    membrane_dab_od_mean: np.ndarray
    membrane_dab_od_stained: np.ndarray
    ring_dab_od_mean: np.ndarray
    completeness_pct: np.ndarray
    class_name: np.ndarray
    counted: np.ndarray

    def __len__(self) -> int:
        return int(self.label.size)

    def as_records(self) -> list[dict[str, object]]:
        """Return one plain dict per cell (for CSV / JSON writers)."""
        out = []
        for i in range(len(self)):
            out.append(
                {
                    "label": int(self.label[i]),
                    "centroid_row_px": float(self.centroid_rc[i, 0]),
                    "centroid_col_px": float(self.centroid_rc[i, 1]),
                    "area_um2": float(self.area_um2[i]),
                    "nucleus_area_um2": float(self.nucleus_area_um2[i]),
                    "membrane_dab_od_mean": float(self.membrane_dab_od_mean[i]),
                    "membrane_dab_od_stained": float(self.membrane_dab_od_stained[i]),
                    "ring_dab_od_mean": float(self.ring_dab_od_mean[i]),
                    "completeness_pct": float(self.completeness_pct[i]),
                    "class_name": str(self.class_name[i]),
                    "counted": bool(self.counted[i]),
                }
            )
        return out


@dataclass(frozen=True, eq=False)
class IhcImageResult:
    """Result of :func:`score_ihc_image` for one image region.

    Attributes
    ----------
    cells : CellTable
        Per-cell measurements and class.
    counts : Mapping of str to int
        Counted cells per class (all five classes).
    percent_all : Mapping of str to float
        Percentage of counted cells per class (five keys, summing to 100; all 0 when no
        cell is counted).
    n_cells_detected, n_cells_counted : int
        Cells found, and cells inside the ROI.
    roi_used : bool
        False when every detected cell was counted (no ROI given).
    h_score : float
        Σ weight × % over classes (weights 3, 2, 2, 1, 0 for the classes in
        ``MEMBRANE_CLASSES`` order), 0–300.
    stain_matrix : ndarray, shape (3, 3)
        Stain vectors used (rows hematoxylin, DAB, residual; unit OD in R, G, B).
    stain_estimated : bool
        True if estimated from the image, False for the standard vectors.
    stain_fallback_reason : str or None
        Why estimation fell back to the standard vectors.
    thresholds : MembraneThresholds
        Membrane thresholds used.
    nucleus_threshold_od : float
        Hematoxylin OD threshold used for nuclei.
    quality : QualityFlags
        Image-quality metrics and flags.
    pixel_size_um : float
        µm per pixel.
    nuclei_labels, cell_labels : ndarray of int32, shape (rows, cols)
        Label images (for overlays and GeoJSON export).
    parameters : Mapping
        Algorithm parameters used.
    membrane_measures : MembraneMeasures or None
        The per-cell sector measures the classes came from (for calibration: the
        classes can be recomputed at other thresholds without re-measuring).
    """

    cells: CellTable
    counts: Mapping[str, int]
    percent_all: Mapping[str, float]
    n_cells_detected: int
    n_cells_counted: int
    roi_used: bool
    h_score: float
    stain_matrix: np.ndarray
    stain_estimated: bool
    stain_fallback_reason: str | None
    thresholds: MembraneThresholds
    nucleus_threshold_od: float
    quality: QualityFlags
    pixel_size_um: float
    nuclei_labels: np.ndarray = field(repr=False)
    cell_labels: np.ndarray = field(repr=False)
    parameters: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    membrane_measures: MembraneMeasures | None = field(default=None, repr=False)

    @property
    def percent(self) -> dict[str, float]:
        """Percentages of the four stained classes, ready for the guideline engine."""
        return {k: float(self.percent_all[k]) for k in STAINED_CLASSES}

    def to_guideline_input(self) -> dict[str, dict[str, dict[str, float]]]:
        """Return ``{"ihc": {"percent": {...}}}`` for :mod:`her2kit.guideline`."""
        return {"ihc": {"percent": self.percent}}


def score_ihc_image(
    rgb,
    *,
    pixel_size_um: float,
    roi_mask=None,
    options: IhcOptions = DEFAULT_IHC_OPTIONS,
) -> IhcImageResult:
    """Score HER2 membrane staining cell by cell on one brightfield RGB region.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
        H-DAB brightfield image, channel last.
    pixel_size_um : float
        µm per pixel (0.05–20).
    roi_mask : ndarray of bool, shape (rows, cols), optional
        Invasive tumour region; only cells whose nucleus centroid lies inside count.
        Without it every detected cell counts (``roi_used`` is False).
    options : IhcOptions, optional
        Thresholds, stain vectors, sizes and grid (:class:`IhcOptions`; by default the
        standard stain vectors, no estimation).

    Returns
    -------
    IhcImageResult
        Per-cell table, counts and percentages per class, H-score and evidence.

    Raises
    ------
    ImageInputError
        Not uint8 RGB; a blank tile (< 0.2 % tissue); a dark-background (fluorescence)
        image; an ROI mask of the wrong shape or with no pixel inside the image.
    Her2kitInputError
        Absurd pixel size or thresholds; ``options`` not an :class:`IhcOptions`.

    Notes
    -----
    1. Inputs and the dark-background refusal (:func:`_check_region`).
    2. Stain separation, :func:`~her2kit.imaging.color.hdab.separate_stains` (base-10
       OD), and the blank-tile refusal (:func:`~her2kit.imaging.ihc.quality.check_not_blank`).
    3. Nuclei, :func:`~her2kit.imaging.segment.nuclei.detect_nuclei`, on the block-mean
       hematoxylin (``geometry_pixel_size_um`` grid), and cells,
       :func:`~her2kit.imaging.segment.cells.expand_nuclei` (Voronoi-limited expansion),
       same grid (:func:`_segment_cells`).
    4. Membranes, :func:`~her2kit.imaging.ihc.membrane.measure_membranes` (full-resolution
       DAB, block maxima on the grid), and classes,
       :func:`~her2kit.imaging.ihc.membrane.classify_membranes`.
    5. The per-cell table (:func:`_cell_table`); percentages over counted cells and
       H-score = Σ weight × % (:func:`_class_percentages`).
    6. Quality flags, :func:`~her2kit.imaging.ihc.quality.quality_flags`.
    7. The evidence: parameters, stain vectors, thresholds, label images.

    The returned label images are at the input resolution (each grid pixel repeated).
    """
    rgb, pixel_size_um, roi = _check_region(rgb, pixel_size_um, roi_mask, options)
    o = options
    white = estimate_white_point(rgb) if o.white_point == "auto" else None
    stains = separate_stains(
        rgb,
        stain_matrix=o.stain_matrix,
        estimate=o.estimate_stains,
        background_rgb=white.rgb if white is not None else o.background_rgb,
    )
    hem, dab = stains.hematoxylin_od, stains.dab_od
    tissue = tissue_mask(hem, dab)
    tissue_fraction = float(tissue.mean())
    check_not_blank(tissue_fraction)
    grid = _segment_cells(hem, dab, pixel_size_um, o)
    meas = _measure(dab, grid, pixel_size_um, o)
    ref = None
    if o.intensity_reference == "counterstain":
        n_found = grid.nuclei.n_nuclei - grid.n_seeded
        found = np.where(grid.nuclei.labels <= n_found, grid.nuclei.labels, 0)
        ref = counterstain_scale(grid.hem, block_mean(dab, grid.factor), found, n_found)
        meas = scale_measures(meas, ref.scale)
    red = None
    if o.erythrocyte_exclusion:
        od_g = grid_od_rgb(rgb, grid.factor, background_rgb=stains.background_rgb)
        red = erythrocyte_cells(grid.cells, grid.nuclei.labels, _nucleus_zone(grid),
                                grid.dab, erythrocyte_mask(od_g), grid.nuclei.n_nuclei)
    classes = classify_membranes(meas, thresholds=o.thresholds)
    table = _cell_table(meas, classes, grid, roi, rgb.shape[:2], o.thresholds,
                        None if red is None else red.excluded)
    counts, percent_all, h_score = _class_percentages(classes, table.counted)
    n = grid.nuclei.n_nuclei
    nuclei_g = grid.nuclei.labels
    n_found = n - grid.n_seeded  # detected nuclei (the rest are membrane-seeded markers)
    real = (nuclei_g > 0) & (nuclei_g <= n_found)
    quality = quality_flags(
        rgb,
        hem,
        tissue,
        tissue_fraction=tissue_fraction,
        pixel_size_um=pixel_size_um,
        nucleus_hematoxylin_od=float(np.median(grid.hem[real])) if n_found else float("nan"),
        n_nuclei=n_found,
    )
    if white is not None:
        quality = replace(quality, white_point_flags=white.flags)
    if ref is not None and ref.flags:
        quality = replace(quality, white_point_flags=quality.white_point_flags + ref.flags)
    return IhcImageResult(
        cells=table,
        counts=MappingProxyType(counts),
        percent_all=MappingProxyType(percent_all),
        n_cells_detected=n,
        n_cells_counted=int(table.counted.sum()),
        roi_used=roi is not None,
        h_score=h_score,
        stain_matrix=stains.stain_matrix,
        stain_estimated=stains.estimated,
        stain_fallback_reason=stains.fallback_reason,
        thresholds=o.thresholds,
        nucleus_threshold_od=grid.nuclei.threshold_od,
        quality=quality,
        pixel_size_um=pixel_size_um,
        nuclei_labels=upsample_labels(nuclei_g, grid.factor, rgb.shape[:2]),
        cell_labels=upsample_labels(grid.cells, grid.factor, rgb.shape[:2]),
        parameters=_parameters(o, meas, stains, grid, white, ref, red),
        membrane_measures=meas,
    )


def _check_region(rgb, pixel_size_um, roi_mask, options):
    """Stage 1: the image, pixel size, ROI and options, and the dark-background refusal.

    Returns ``(rgb, pixel_size_um, roi)`` with ``roi`` a boolean mask or None.
    """
    rgb = check_rgb_image(rgb, name="rgb")
    pixel_size_um = check_pixel_size(pixel_size_um)
    if not isinstance(options, IhcOptions):
        raise Her2kitInputError(
            f"expected an IhcOptions, got {type(options).__name__}", field="options"
        )
    for name, choices in ROBUST_CHOICES.items():
        if getattr(options, name) not in choices:
            raise Her2kitInputError(
                f"expected one of {choices}, got {getattr(options, name)!r}",
                field=f"options.{name}",
            )
    t = options.nucleus_threshold_od
    if t is not None and not (isinstance(t, int | float) and 0 < t < 5):
        raise Her2kitInputError(f"expected an OD in (0, 5), got {t!r}",
                                field="options.nucleus_threshold_od")
    if not isinstance(options.erythrocyte_exclusion, bool):
        raise Her2kitInputError(f"expected True or False, got {options.erythrocyte_exclusion!r}",
                                field="options.erythrocyte_exclusion")
    if options.cell_model == "membrane":
        check_positive(options.membrane_reach_um, name="options.membrane_reach_um", unit="µm")
    roi = None
    if roi_mask is not None:
        roi = check_mask(roi_mask, rgb.shape[:2], name="roi_mask")
        if not roi.any():
            raise ImageInputError("ROI has no pixel inside the image", field="roi_mask")
    # Fluorescence or dark-field images have a dark background; OD is meaningless there.
    check_brightfield_background(
        rgb,
        name="rgb",
        min_median_level=IHC_DARK_BACKGROUND_LEVEL,
        stride=IHC_DARK_BACKGROUND_STRIDE,
        wording=IHC_RGB_WORDING,
    )
    return rgb, pixel_size_um, roi


@dataclass(frozen=True, eq=False)
class _CellGrid:
    """Nuclei and cells on the geometry grid (``factor`` input pixels per grid pixel)."""

    factor: int
    pixel_size_um: float  # µm per grid pixel
    hem: np.ndarray  # block-mean hematoxylin OD on the grid
    dab: np.ndarray  # block-mean DAB OD on the grid
    nuclei: NucleusDetection  # with cell_model "membrane", marker discs after the nuclei
    cells: np.ndarray  # cell labels on the grid, int32
    n_seeded: int = 0  # the last n_seeded labels are membrane-seeded cells (no nucleus)


def _segment_cells(hem: np.ndarray, dab: np.ndarray, pixel_size_um: float,
                   o: IhcOptions) -> _CellGrid:
    """Stage 3: nuclei on the block-mean hematoxylin, then cells, on the geometry grid."""
    f = block_factor(pixel_size_um, o.geometry_pixel_size_um)
    pg = pixel_size_um * f  # µm per grid pixel
    hem_g = block_mean(hem, f)
    dab_g = block_mean(dab, f)
    # Strongly brown pixels are left out of the nucleus threshold: their hematoxylin value
    # is mostly stain cross-talk, and many of them pull Otsu's threshold up.
    nuc_img, thr, source = hem_g, None, None
    if o.nucleus_dab_exclusion:
        nuc_img = np.where(dab_dominant(hem_g, dab_g), np.float32(0), hem_g)
    if o.nucleus_threshold == "local_contrast":
        size = round(1.5 * o.nucleus_diameter_um / pg)
        nuc_img = local_contrast_hematoxylin(nuc_img, size_px=size)
        thr, source = contrast_threshold(nuc_img, sample_mask=(hem_g + dab_g) > 0.05)
    if o.nucleus_threshold_od is not None:  # fixed once for a whole slide
        thr, source = float(o.nucleus_threshold_od), None
    det = detect_nuclei(
        nuc_img,
        pixel_size_um=pg,
        nucleus_diameter_um=o.nucleus_diameter_um,
        threshold_exclude=dab_g > DAB_EXCLUDE_OD,
        threshold_od=thr,
        max_hole_um2=TILE_MAX_HOLE_UM2 if o.tile_invariant else None,
        tie_break=bool(o.tile_invariant),
    )
    if source is not None:
        det = replace(det, threshold_source=source)
    if o.cell_model == "membrane":
        det = _drop_dab_dominant_nuclei(det, hem_g, dab_g)
        mc = membrane_cells(det.labels, dab_g, (hem_g + dab_g) > 0.1, pixel_size_um=pg,
                            reach_um=o.membrane_reach_um)
        det = replace(det, labels=mc.nuclei_labels, n_nuclei=mc.n_nuclei + mc.n_seeded)
        return _CellGrid(f, pg, hem_g, dab_g, det, mc.cell_labels, mc.n_seeded)
    cells_g = expand_nuclei(det.labels, pixel_size_um=pg, expansion_um=o.cell_expansion_um)
    return _CellGrid(f, pg, hem_g, dab_g, det, cells_g)


def _drop_dab_dominant_nuclei(det: NucleusDetection, hem_g: np.ndarray, dab_g: np.ndarray
                              ) -> NucleusDetection:
    """Nuclei whose mean DAB is above their mean hematoxylin and ≥ 0.12 OD removed,
    relabelled 1..m.

    Such objects are dark membranes (their JPEG-subsampled edges leak into the
    hematoxylin channel), or nuclei so covered by DAB that their outline is not theirs;
    the membrane seeding finds those cells again from the membrane network.
    """
    n = det.n_nuclei
    if n == 0:
        return det
    lab = det.labels.ravel()
    cnt = np.maximum(np.bincount(lab, minlength=n + 1), 1)
    h = np.bincount(lab, weights=hem_g.ravel(), minlength=n + 1) / cnt
    d = np.bincount(lab, weights=dab_g.ravel(), minlength=n + 1) / cnt
    # The pixel rule of dab_dominant (DAB above hematoxylin and ≥ 0.12 OD) on the object
    # means: a pale nucleus under faint DAB (weak counterstain, the BCI 1+ tile) is kept.
    keep = ~dab_dominant(h, d)
    keep[0] = False
    if keep[1:].all():
        return det
    new_id = np.zeros(n + 1, np.int32)
    new_id[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return replace(det, labels=new_id[det.labels], n_nuclei=int(keep.sum()))


def _measure(dab: np.ndarray, grid: _CellGrid, pixel_size_um: float, o: IhcOptions
             ) -> MembraneMeasures:
    """Stage 4: membrane measures, over the block-minimum or the cell-cytoplasm baseline."""
    cytoplasm = o.membrane_baseline == "cell_cytoplasm"
    meas = measure_membranes(
        dab,
        grid.cells,
        grid.nuclei.labels,
        pixel_size_um=pixel_size_um,
        labels_downsample=grid.factor,
        n_sectors=o.n_sectors,
        **({"baseline_block_um": None} if cytoplasm else {}),
    )
    if not cytoplasm or grid.nuclei.n_nuclei == 0:
        return meas
    level = cell_cytoplasm_level(grid.dab, grid.cells, _nucleus_zone(grid),
                                 grid.nuclei.n_nuclei)
    return subtract_cell_level(meas, level)


def _nucleus_zone(grid: _CellGrid) -> np.ndarray:
    """The same nucleus zone as the sectors use (1.5 µm margin, whole grid pixels)."""
    m = round(1.5 / grid.pixel_size_um)
    zone = grid.nuclei.labels > 0
    if m > 0:
        zone = ndi.maximum_filter(zone.view(np.uint8), size=2 * m + 1).view(bool)
    return zone


def _cell_table(
    meas: MembraneMeasures,
    classes: np.ndarray,
    grid: _CellGrid,
    roi: np.ndarray | None,
    shape: tuple[int, int],
    thresholds: MembraneThresholds,
    excluded: np.ndarray | None = None,
) -> CellTable:
    """Stage 5a: per-cell geometry by bincount over the grid (no per-cell loops);
    ``excluded`` cells (red cells) are not counted."""
    f, pg = grid.factor, grid.pixel_size_um
    nuclei_g, cells_g, n = grid.nuclei.labels, grid.cells, grid.nuclei.n_nuclei
    # Grid pixel (i, j) covers input pixels f·i .. f·i + f - 1, so its centre is at
    # f·i + (f - 1) / 2.
    area_px = np.bincount(cells_g.ravel(), minlength=n + 1)[1 : n + 1] * float(f * f)
    npix = np.flatnonzero(nuclei_g.ravel())
    nl = nuclei_g.ravel()[npix]
    gcols = nuclei_g.shape[1]
    ncount = np.bincount(nl, minlength=n + 1)[: n + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        cr = np.bincount(nl, weights=npix // gcols, minlength=n + 1)[: n + 1] / ncount
        cc = np.bincount(nl, weights=npix % gcols, minlength=n + 1)[: n + 1] / ncount
    centroid = np.stack([cr[1:], cc[1:]], axis=1) * f + (f - 1) / 2 if n else np.zeros((0, 2))
    if roi is None:
        counted = np.ones(n, bool)
    else:
        ci = np.clip(np.rint(centroid).astype(int), 0, [shape[0] - 1, shape[1] - 1])
        counted = roi[ci[:, 0], ci[:, 1]] if n else np.zeros(0, bool)
    if excluded is not None:
        counted = counted & ~excluded
    comp = meas.completeness_pct(thresholds.faint_od).astype(np.float32)
    return CellTable(
        label=meas.labels,
        centroid_rc=centroid,
        area_um2=(area_px * pg * pg / (f * f)).astype(np.float32),
        nucleus_area_um2=(ncount[1:] * pg * pg).astype(np.float32),
        membrane_dab_od_mean=meas.membrane_dab_od_mean.astype(np.float32),
        membrane_dab_od_stained=meas.stained_dab_od_mean(thresholds.faint_od).astype(np.float32),
        ring_dab_od_mean=meas.ring_dab_od_mean,
        completeness_pct=comp,
        class_name=classes,
        counted=counted,
    )


def _class_percentages(
    classes: np.ndarray, counted: np.ndarray
) -> tuple[dict[str, int], dict[str, float], float]:
    """Stage 5b: counted cells per class, their percentages and the H-score (0–300)."""
    n_counted = int(counted.sum())
    counts = {k: int(np.sum(classes[counted] == k)) for k in MEMBRANE_CLASSES}
    percent_all = {
        k: (100.0 * counts[k] / n_counted if n_counted else 0.0) for k in MEMBRANE_CLASSES
    }
    h_score = float(sum(CLASS_H_SCORE_WEIGHT[k] * percent_all[k] for k in MEMBRANE_CLASSES))
    return counts, percent_all, h_score


def _parameters(
    o: IhcOptions, meas: MembraneMeasures, stains: StainSeparation, grid: _CellGrid,
    white=None,
    ref=None,
    red: ErythrocyteCells | None = None,
) -> Mapping[str, object]:
    """Stage 7: the algorithm parameters recorded in the result (and the JSON document)."""
    robust = {}
    if (o.white_point, o.membrane_baseline, o.nucleus_dab_exclusion, o.nucleus_threshold,
            o.intensity_reference, o.cell_model, o.erythrocyte_exclusion) != (
                "fixed", "block_min", False, "absolute", "none", "expand", False):
        # Recorded only when one is switched on, so the documents of the classical
        # scorer stay as they were.
        robust = {
            "white_point": o.white_point,
            "white_point_source": white.source if white is not None else "given",
            "glass_fraction": round(white.glass_fraction, 4) if white is not None else None,
            "membrane_baseline": o.membrane_baseline,
            "nucleus_dab_exclusion": bool(o.nucleus_dab_exclusion),
            "nucleus_threshold": o.nucleus_threshold,
            "intensity_reference": o.intensity_reference,
        }
        if o.cell_model == "membrane":
            robust["cell_model"] = "membrane"
            robust["membrane_reach_um"] = float(o.membrane_reach_um)
            robust["membrane_seeded_cells"] = int(grid.n_seeded)
            n_all = grid.nuclei.n_nuclei
            robust["membrane_seeded_fraction"] = round(grid.n_seeded / n_all, 4) if n_all else 0.0
        if red is not None:
            n_all = grid.nuclei.n_nuclei
            robust["erythrocyte_exclusion"] = True
            robust["erythrocyte_min_neutrality"] = ERYTHROCYTE_MIN_NEUTRALITY
            robust["erythrocyte_cells_excluded"] = red.n_excluded
            robust["erythrocyte_cells_excluded_fraction"] = (
                round(red.n_excluded / n_all, 4) if n_all else 0.0)
        if ref is not None:
            robust["counterstain_reference_od"] = round(ref.reference_od, 4)
            robust["counterstain_scale"] = round(ref.scale, 4)
            robust["counterstain_reference_nuclei"] = ref.n_nuclei
    return MappingProxyType(
        {
            **robust,
            "nucleus_diameter_um": float(o.nucleus_diameter_um),
            "cell_expansion_um": float(o.cell_expansion_um),
            "n_sectors": int(o.n_sectors),
            "membrane_smooth_sigma_um": meas.smooth_sigma_um,
            "background_rgb": stains.background_rgb,
            "nucleus_threshold_source": grid.nuclei.threshold_source,
            "geometry_pixel_size_um": grid.pixel_size_um,
            **({"tile_invariant": True, "nucleus_max_hole_um2": TILE_MAX_HOLE_UM2}
               if o.tile_invariant else {}),
        }
    )

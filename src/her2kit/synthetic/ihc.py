"""Synthetic brightfield HER2 IHC regions with a known membrane class per cell.

The generator follows the same cell model the analysis uses (QuPath's): a cell is its
nucleus expanded by a fixed distance within a Voronoi limit, so a neighbour's membrane
never lies inside another cell. Each cell gets one of the five membrane classes of
:data:`her2kit.imaging.ihc.membrane.MEMBRANE_CLASSES`; its membrane is a ring of DAB just
inside the cell boundary, complete or in one or two arcs, at an intensity drawn from the
class's range (:data:`CLASS_DAB_OD`). Nuclei carry hematoxylin with chromatin texture,
stroma a fibrous hematoxylin tint.

Stages, in the order they draw from ``numpy.random.default_rng(seed)``:

1. class fractions (:func:`class_fractions_for_score`, when a score is given);
2. layout (:func:`_layout_cells`): tumour nests and stroma, nuclei on a jittered
   hexagonal grid (:mod:`her2kit.synthetic.tissue`), cells grown from them;
3. classes (:func:`_assign_classes`): exact quotas, in clonal patches;
4. staining (:func:`_stain_dab`, :func:`_stain_hematoxylin`): stain amounts, OD;
5. optics and camera (:func:`_optics`, with :mod:`her2kit.synthetic.optics`): stain
   vector jitter, uneven illumination, Beer-Lambert, blur, noise, JPEG;
6. truth (:func:`_truth`): the per-cell table and the result.

A seed and the options (:class:`IhcRegionOptions`) fully determine the image.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import expand_labels, find_boundaries

from her2kit.errors import Her2kitInputError
from her2kit.imaging._validate import check_pixel_size, check_positive
from her2kit.imaging.color.hdab import stain_matrix_from_vectors
from her2kit.imaging.color.stains import DAB_OD_RGB, HEMATOXYLIN_OD_RGB
from her2kit.imaging.ihc.membrane import MEMBRANE_CLASSES
from her2kit.synthetic import optics
from her2kit.synthetic.tissue import hex_grid_centres, paint_nuclei, smooth_noise

__all__ = [
    "CLASS_COMPLETENESS",
    "CLASS_DAB_OD",
    "SCORES",
    "IhcRegionOptions",
    "SyntheticIhc",
    "class_fractions_for_score",
    "generate_ihc_region",
    "render_ihc_region",
]

# Peak membrane DAB OD (base 10, before blur) drawn uniformly per cell for each class.
# The gaps between ranges are deliberate: the truth must be unambiguous for a test.
# Faint ≈ "barely perceptible", weak-moderate ≈ clearly brown but thin, intense ≈ dark
# brown "chicken wire"; values in the range QuPath users report for HER2 DAB (0.1–0.6+).
CLASS_DAB_OD: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "complete_intense": (0.60, 0.95),
        "complete_weak_moderate": (0.22, 0.38),
        "incomplete_moderate_intense": (0.28, 0.85),
        "incomplete_faint": (0.08, 0.13),
        "none": (0.0, 0.0),
    }
)
# Share of the circumference stained (fraction of the angle around the nucleus).
CLASS_COMPLETENESS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "complete_intense": (1.0, 1.0),
        "complete_weak_moderate": (1.0, 1.0),
        "incomplete_moderate_intense": (0.2, 0.5),
        "incomplete_faint": (0.2, 0.5),
        "none": (0.0, 0.0),
    }
)

SCORES = ("0", "0+", "1+", "2+", "3+")


def class_fractions_for_score(
    score: str, *, rng: np.random.Generator, near_boundary: bool = False
) -> dict[str, float]:
    """Draw class fractions (summing to 1) whose percentages give an IHC score.

    Parameters
    ----------
    score : {"0", "0+", "1+", "2+", "3+"}
        Target ASCO/CAP IHC score; "0+" is HER2-ultralow (faint incomplete staining in
        ≤ 10 % of cells, but some), "0" is null (no staining).
    rng : numpy.random.Generator
        Source of randomness.
    near_boundary : bool, optional
        Put the class that decides the score at 12–16 % (just above the 10 % cut-off;
        for "0+" at 6–9 %), instead of anywhere in its range.

    Returns
    -------
    dict of str to float
        One entry per class of ``MEMBRANE_CLASSES``.

    Notes
    -----
    Decision rule assumed (ASCO/CAP 2018/2023 breast): 3+ if complete intense > 10 %;
    2+ if complete (any intensity) or incomplete moderate-intense staining > 10 %;
    1+ if any staining > 10 %; 0+ if some faint staining ≤ 10 %; else 0.
    """
    f = dict.fromkeys(MEMBRANE_CLASSES, 0.0)
    u = rng.uniform
    if score == "3+":
        f["complete_intense"] = u(0.12, 0.16) if near_boundary else u(0.2, 0.85)
        f["complete_weak_moderate"] = u(0.0, 0.15)
        f["incomplete_faint"] = u(0.0, 0.1)
    elif score == "2+":
        f["complete_intense"] = u(0.0, 0.05)
        f["complete_weak_moderate"] = u(0.12, 0.16) if near_boundary else u(0.2, 0.6)
        f["incomplete_moderate_intense"] = u(0.0, 0.05)
        f["incomplete_faint"] = u(0.0, 0.2)
    elif score == "1+":
        f["complete_weak_moderate"] = u(0.0, 0.03)
        f["incomplete_moderate_intense"] = u(0.0, 0.03)
        f["incomplete_faint"] = u(0.12, 0.16) if near_boundary else u(0.2, 0.7)
    elif score == "0+":
        f["incomplete_faint"] = u(0.06, 0.09) if near_boundary else u(0.02, 0.08)
    elif score == "0":
        pass
    else:
        raise Her2kitInputError(f"unknown IHC score {score!r}; expected one of {SCORES}")
    f["none"] = 1.0 - sum(v for k, v in f.items() if k != "none")
    return f


@dataclass(frozen=True, eq=False)
class SyntheticIhc:
    """A generated IHC region and its truth.

    Attributes
    ----------
    image : ndarray of uint8, shape (rows, cols, 3)
        The rendered RGB brightfield image.
    pixel_size_um : float
        µm per pixel.
    nuclei_labels, cell_labels : ndarray of int32, shape (rows, cols)
        True nucleus and cell instance labels (0 = none); cell ``k`` contains nucleus
        ``k``.
    cells : Mapping of str to ndarray
        Per-cell truth, one row per label 1..n: ``label`` (int), ``centroid_rc`` (n, 2;
        nucleus centroid, pixels), ``class_name`` (str), ``dab_od`` (peak membrane OD),
        ``completeness_pct`` (stained share of the circumference, %), ``nucleus_area_um2``.
    percent : Mapping of str to float
        True percentage of cells per class (all five classes; sums to 100).
    hematoxylin_od, dab_od : ndarray of float32, shape (rows, cols)
        True stain amounts before optics (blur, noise, JPEG), base-10 OD.
    stain_matrix : ndarray, shape (3, 3)
        True (possibly jittered) stain vectors, rows hematoxylin, DAB, residual.
    params : Mapping
        The arguments the region was generated with.
    """

    image: np.ndarray
    pixel_size_um: float
    nuclei_labels: np.ndarray
    cell_labels: np.ndarray
    cells: Mapping[str, np.ndarray]
    percent: Mapping[str, float]
    hematoxylin_od: np.ndarray
    dab_od: np.ndarray
    stain_matrix: np.ndarray
    params: Mapping[str, object]


@dataclass(frozen=True)
class IhcRegionOptions:
    """Everything that, with the seed, determines a synthetic IHC region.

    Built and validated by :func:`generate_ihc_region` from its keywords (see there for
    the meaning and units of each); build one directly to keep a region's recipe or to
    call :func:`render_ihc_region`. ``shape_px`` is stored as two ints, ``pixel_size_um``
    as a float, ``class_fractions`` as a read-only mapping; the rest as given (they are
    echoed in :attr:`SyntheticIhc.params`).

    Raises
    ------
    Her2kitInputError
        Bad sizes, fractions that do not sum to 1, an unknown class or score, or neither
        or both of ``class_fractions`` and ``target_score``.
    """

    shape_px: tuple[int, int] = (512, 512)
    pixel_size_um: float = 0.5
    class_fractions: Mapping[str, float] | None = None
    target_score: str | None = None
    near_boundary: bool = False
    seed: int = 0
    cell_diameter_um: float = 15.0
    nucleus_diameter_um: tuple[float, float] = (6.5, 10.0)
    cell_expansion_um: float = 4.0
    membrane_width_um: float = 1.0
    stroma_fraction: float = 0.2
    patch_size_um: float = 60.0
    stain_jitter_deg: float = 0.0
    blur_sigma_um: float = 0.3
    noise_sd: float = 2.0
    uneven_background: float = 0.0
    jpeg_quality: int | None = None

    def __post_init__(self) -> None:
        pixel_size_um = check_pixel_size(self.pixel_size_um)
        rows, cols = (int(v) for v in self.shape_px)
        if rows < 32 or cols < 32 or rows * cols > 64e6:
            raise Her2kitInputError(
                f"expected 32–8000 px per side, got {self.shape_px}", field="shape_px"
            )
        for name in ("cell_diameter_um", "cell_expansion_um", "membrane_width_um"):
            check_positive(getattr(self, name), name=name, unit="µm")
        if not 0 <= self.stroma_fraction <= 0.9:
            raise Her2kitInputError(
                f"expected 0–0.9, got {self.stroma_fraction}", field="stroma_fraction"
            )
        given = self.class_fractions
        if (given is None) == (self.target_score is None):
            raise Her2kitInputError("give exactly one of class_fractions and target_score")
        if self.target_score is not None and self.target_score not in SCORES:
            raise Her2kitInputError(
                f"unknown IHC score {self.target_score!r}; expected one of {SCORES}"
            )
        if given is not None:
            _check_fractions(given)
            object.__setattr__(self, "class_fractions", MappingProxyType(dict(given)))
        object.__setattr__(self, "pixel_size_um", pixel_size_um)
        object.__setattr__(self, "shape_px", (rows, cols))


def _check_fractions(given: Mapping[str, float]) -> None:
    """Raise unless ``given`` has only known classes, none negative, summing to 1."""
    unknown = set(given) - set(MEMBRANE_CLASSES)
    if unknown:
        raise Her2kitInputError(
            f"unknown membrane class {sorted(unknown)[0]!r}; expected {MEMBRANE_CLASSES}",
            field="class_fractions",
        )
    fractions = {k: float(given.get(k, 0.0)) for k in MEMBRANE_CLASSES}
    total = sum(fractions.values())
    if any(v < 0 for v in fractions.values()) or abs(total - 1.0) > 1e-6:
        raise Her2kitInputError(
            f"fractions must be ≥ 0 and sum to 1, got sum {total:.4f}",
            field="class_fractions",
        )


class _Tissue(NamedTuple):
    """Layout stage output: where tumour cells are, and their labels."""

    tumour: np.ndarray  # bool (rows, cols): tumour nests (True) vs stroma
    nuclei: np.ndarray  # int32 labels 1..n
    cells: np.ndarray  # int32 labels 1..n, cell k holds nucleus k
    n: int


class _Membranes(NamedTuple):
    """Class stage output: per cell (index = label - 1) class and membrane geometry."""

    class_idx: np.ndarray  # index into MEMBRANE_CLASSES
    centroids: np.ndarray  # (n, 2) nucleus centroids, pixels
    amp: np.ndarray  # peak membrane DAB OD
    coverage: np.ndarray  # stained share of the circumference (0-1)
    arc_start: np.ndarray  # radians
    two_arcs: np.ndarray  # bool


def _class_fractions(options: IhcRegionOptions, rng: np.random.Generator) -> dict[str, float]:
    """Stage 1: the class fractions, drawn for the target score or as given."""
    if options.target_score is not None:
        return class_fractions_for_score(
            options.target_score, rng=rng, near_boundary=options.near_boundary
        )
    return {k: float(options.class_fractions.get(k, 0.0)) for k in MEMBRANE_CLASSES}


def _layout_cells(options: IhcRegionOptions, rng: np.random.Generator) -> _Tissue:
    """Stage 2: tumour nests and stroma, nuclei on a jittered hexagonal grid, cells.

    Parameters
    ----------
    options : IhcRegionOptions
        Sizes (µm) and the stroma fraction.
    rng : numpy.random.Generator
        Draws the nest field, the grid jitter, then nucleus sizes, shapes and angles.

    Returns
    -------
    _Tissue
        Tumour mask, nucleus and cell labels (a cell is its nucleus expanded by
        ``cell_expansion_um`` within a Voronoi limit, and only in tumour), cell count.
    """
    pixel_size_um = options.pixel_size_um
    shape = options.shape_px
    rows, cols = shape
    # Smooth noise thresholded into tumour nests and stroma.
    layout = smooth_noise(shape, 25.0 / pixel_size_um, rng)
    tumour = (
        layout > np.quantile(layout, options.stroma_fraction)
        if options.stroma_fraction > 0
        else np.ones(shape, bool)
    )
    centres = hex_grid_centres(shape, options.cell_diameter_um / pixel_size_um, rng)
    ci = np.clip(centres.astype(int), 0, [rows - 1, cols - 1])
    centres = centres[tumour[ci[:, 0], ci[:, 1]]]
    n = len(centres)
    dmin, dmax = (float(v) for v in options.nucleus_diameter_um)
    major = rng.uniform(dmin, dmax, n) / pixel_size_um / 2
    minor = major * rng.uniform(0.65, 1.0, n)
    theta = rng.uniform(0, math.pi, n)
    nuclei = paint_nuclei(shape, centres, major, minor, theta)
    cells = expand_labels(nuclei, distance=options.cell_expansion_um / pixel_size_um)
    cells[~(tumour | (nuclei > 0))] = 0
    return _Tissue(tumour, nuclei, cells, int(nuclei.max()) if nuclei.size else 0)


def _assign_classes(
    fractions: Mapping[str, float],
    tissue: _Tissue,
    options: IhcRegionOptions,
    rng: np.random.Generator,
) -> _Membranes:
    """Stage 3: a membrane class per cell by exact quota, in clonal patches.

    Cells take classes in the order of a smooth random field of scale
    ``patch_size_um`` (weakest class at the field's low end), or in random order when
    it is 0; then each draws its peak DAB OD, its stained share of the circumference,
    where its arc starts and whether it is two arcs.
    """
    n, nuclei, shape = tissue.n, tissue.nuclei, options.shape_px
    rows, cols = shape
    pixel_size_um = options.pixel_size_um
    counts = np.floor(np.array([fractions[k] for k in MEMBRANE_CLASSES]) * n).astype(int)
    remainder = np.array([fractions[k] for k in MEMBRANE_CLASSES]) * n - counts
    for j in np.argsort(-remainder)[: n - counts.sum()]:
        counts[j] += 1
    class_idx = np.repeat(np.arange(len(MEMBRANE_CLASSES)), counts)
    cent0 = np.array(ndi.center_of_mass(np.ones(shape), nuclei, np.arange(1, n + 1))).reshape(-1, 2)
    if options.patch_size_um > 0 and n:
        field_ = smooth_noise(shape, options.patch_size_um / pixel_size_um / 2, rng)
        ci0 = np.clip(np.rint(cent0).astype(int), 0, [rows - 1, cols - 1])
        order = np.argsort(field_[ci0[:, 0], ci0[:, 1]], kind="stable")
        # Weakest classes on the low end of the field, strongest on the high end, so a
        # patch boundary is usually between neighbouring intensity levels.
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        by_strength = np.repeat(np.array([4, 3, 2, 1, 0]), counts[[4, 3, 2, 1, 0]])
        class_idx = by_strength[rank]
    else:
        class_idx = rng.permutation(class_idx)
    lo = np.array([CLASS_DAB_OD[k][0] for k in MEMBRANE_CLASSES])
    hi = np.array([CLASS_DAB_OD[k][1] for k in MEMBRANE_CLASSES])
    amp = rng.uniform(lo[class_idx], hi[class_idx]) if n else np.zeros(0)
    clo = np.array([CLASS_COMPLETENESS[k][0] for k in MEMBRANE_CLASSES])
    chi = np.array([CLASS_COMPLETENESS[k][1] for k in MEMBRANE_CLASSES])
    coverage = rng.uniform(clo[class_idx], chi[class_idx]) if n else np.zeros(0)
    arc_start = rng.uniform(0, 2 * math.pi, n)
    two_arcs = rng.random(n) < 0.5
    return _Membranes(class_idx, cent0, amp, coverage, arc_start, two_arcs)


def _stain_dab(
    tissue: _Tissue, membranes: _Membranes, options: IhcRegionOptions, rng: np.random.Generator
) -> np.ndarray:
    """Stage 4a: DAB OD (float32): each membrane's ring, and a light cytoplasmic blush.

    The ring lies within ``membrane_width_um`` inside the cell boundary; it is stained
    over the cell's arc(s) at its peak OD with ±15 % variation along it (one normal draw
    per ring pixel).
    """
    cells, nuclei = tissue.cells, tissue.nuclei
    m = membranes
    inner = find_boundaries(cells, mode="inner") & (cells > 0)
    ring = (cells > 0) & (
        ndi.distance_transform_edt(~inner) < options.membrane_width_um / options.pixel_size_um
    )
    rr_, cc_ = np.nonzero(ring)
    lab = cells[rr_, cc_] - 1
    ang = np.arctan2(rr_ - m.centroids[lab, 0], cc_ - m.centroids[lab, 1])
    rel = np.mod(ang - m.arc_start[lab], 2 * math.pi) / (2 * math.pi)
    cov = m.coverage[lab]
    stained = np.where(m.two_arcs[lab], (rel % 0.5) < cov / 2, rel < cov)
    dab = np.zeros(options.shape_px, np.float32)
    # ±15 % variation along the membrane, as real membranes are never uniform.
    wiggle = 1.0 + 0.15 * np.clip(rng.normal(size=rr_.size), -2, 2)
    dab[rr_, cc_] = np.where(stained, m.amp[lab] * wiggle, 0.0)
    # A light cytoplasmic blush in stained cells (4 % of the membrane OD).
    cyto = (cells > 0) & ~ring & (nuclei == 0)
    cl = cells[cyto] - 1
    dab[cyto] = 0.04 * m.amp[cl] * (m.class_idx[cl] != MEMBRANE_CLASSES.index("none"))
    return dab


def _stain_hematoxylin(
    tissue: _Tissue, options: IhcRegionOptions, rng: np.random.Generator
) -> np.ndarray:
    """Stage 4b: hematoxylin OD (float32): textured nuclei, pale cytoplasm, fibrous stroma."""
    pixel_size_um = options.pixel_size_um
    shape = options.shape_px
    nuclei, cells = tissue.nuclei, tissue.cells
    hem = np.zeros(shape, np.float32)
    nuc_od = rng.uniform(0.35, 0.7, tissue.n + 1).astype(np.float32)
    texture = 1.0 + 0.18 * smooth_noise(shape, 0.6 / pixel_size_um, rng)
    nmask = nuclei > 0
    hem[nmask] = nuc_od[nuclei[nmask]] * texture[nmask]
    hem[(cells > 0) & ~nmask] = 0.05
    stroma = ~(cells > 0)
    fib = np.abs(smooth_noise(shape, 1.5 / pixel_size_um, rng))
    hem[stroma] = 0.04 + 0.07 * np.clip(fib[stroma], 0, 3)
    return hem


def _optics(
    hem: np.ndarray, dab: np.ndarray, options: IhcRegionOptions, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Stage 5: stain vectors, illumination, Beer-Lambert, blur, noise, 8 bits, JPEG.

    Returns
    -------
    image : ndarray of uint8, shape (rows, cols, 3)
    stain_matrix : ndarray, shape (3, 3)
        The (possibly jittered) stain vectors, rows hematoxylin, DAB, residual.
    """
    vh = optics.jitter_stain_vector(HEMATOXYLIN_OD_RGB.copy(), options.stain_jitter_deg, rng)
    vd = optics.jitter_stain_vector(DAB_OD_RGB.copy(), options.stain_jitter_deg, rng)
    matrix = stain_matrix_from_vectors(vh, vd)
    od = optics.mix_stains([(hem, vh.astype(np.float32)), (dab, vd.astype(np.float32))])
    light = optics.radial_illumination(
        options.shape_px, level=250.0, falloff=options.uneven_background, rng=rng
    )
    intensity = optics.transmitted_intensity(od, incident=light[..., None])
    if options.blur_sigma_um > 0:
        intensity = optics.optical_blur(intensity, options.blur_sigma_um / options.pixel_size_um)
    if options.noise_sd > 0:
        intensity += optics.camera_noise(intensity.shape, options.noise_sd, rng, dtype=np.float32)
    image = optics.to_uint8(intensity)
    if options.jpeg_quality is not None:
        image = optics.jpeg_round_trip(image, options.jpeg_quality)
    return image, matrix


def _truth(
    options: IhcRegionOptions,
    fractions: Mapping[str, float],
    tissue: _Tissue,
    membranes: _Membranes,
    stains: tuple[np.ndarray, np.ndarray],
    image: np.ndarray,
    matrix: np.ndarray,
) -> SyntheticIhc:
    """Stage 6: the per-cell truth table, true percentages and parameters; freeze arrays."""
    n, nuclei, cells = tissue.n, tissue.nuclei, tissue.cells
    pixel_size_um = options.pixel_size_um
    hem, dab = stains
    names = np.array(MEMBRANE_CLASSES)[membranes.class_idx] if n else np.array([], dtype="<U27")
    nuc_area = np.bincount(nuclei.ravel(), minlength=n + 1)[1:] * pixel_size_um * pixel_size_um
    table = MappingProxyType(
        {
            "label": np.arange(1, n + 1).astype(np.int32),
            "centroid_rc": membranes.centroids,
            "class_name": names,
            "dab_od": membranes.amp.astype(np.float32),
            "completeness_pct": (100.0 * membranes.coverage).astype(np.float32),
            "nucleus_area_um2": nuc_area.astype(np.float32),
        }
    )
    percent = MappingProxyType(
        {k: (100.0 * float(np.mean(names == k)) if n else 0.0) for k in MEMBRANE_CLASSES}
    )
    params = MappingProxyType(
        {
            "shape_px": options.shape_px,
            "pixel_size_um": pixel_size_um,
            "class_fractions": dict(fractions),
            **{
                k: getattr(options, k)
                for k in (
                    "target_score",
                    "near_boundary",
                    "seed",
                    "patch_size_um",
                    "stain_jitter_deg",
                    "blur_sigma_um",
                    "noise_sd",
                    "uneven_background",
                    "jpeg_quality",
                )
            },
        }
    )
    for arr in (image, nuclei, cells, hem, dab, matrix):
        arr.setflags(write=False)
    return SyntheticIhc(image, pixel_size_um, nuclei, cells, table, percent, hem, dab, matrix,
                        params)


def render_ihc_region(options: IhcRegionOptions) -> SyntheticIhc:
    """Render the IHC region that ``options`` describe (see :func:`generate_ihc_region`).

    Parameters
    ----------
    options : IhcRegionOptions
        The validated recipe, seed included.

    Returns
    -------
    SyntheticIhc
        The image, labels and the per-cell truth table.
    """
    rng = np.random.default_rng(options.seed)
    fractions = _class_fractions(options, rng)
    tissue = _layout_cells(options, rng)
    membranes = _assign_classes(fractions, tissue, options, rng)
    dab = _stain_dab(tissue, membranes, options, rng)
    hem = _stain_hematoxylin(tissue, options, rng)
    image, matrix = _optics(hem, dab, options, rng)
    return _truth(options, fractions, tissue, membranes, (hem, dab), image, matrix)


def generate_ihc_region(
    *,
    shape_px: tuple[int, int] = (512, 512),
    pixel_size_um: float = 0.5,
    class_fractions: Mapping[str, float] | None = None,
    target_score: str | None = None,
    near_boundary: bool = False,
    seed: int = 0,
    cell_diameter_um: float = 15.0,
    nucleus_diameter_um: tuple[float, float] = (6.5, 10.0),
    cell_expansion_um: float = 4.0,
    membrane_width_um: float = 1.0,
    stroma_fraction: float = 0.2,
    patch_size_um: float = 60.0,
    stain_jitter_deg: float = 0.0,
    blur_sigma_um: float = 0.3,
    noise_sd: float = 2.0,
    uneven_background: float = 0.0,
    jpeg_quality: int | None = None,
) -> SyntheticIhc:
    """Render a brightfield HER2 IHC region with a known membrane class per cell.

    Parameters
    ----------
    shape_px : (int, int), optional
        Image size (rows, cols) in pixels.
    pixel_size_um : float, optional
        µm per pixel (0.25 ≈ 40x, 0.5 ≈ 20x, 1.0 ≈ 10x). All sizes below are in µm and
        converted, so one parameter set renders the same tissue at any resolution.
    class_fractions : Mapping of str to float, optional
        Share of cells per membrane class (keys from ``MEMBRANE_CLASSES``, non-negative,
        summing to 1; missing keys are 0). Cells get classes by exact quota in random
        order, so the true percentages match up to one cell.
    target_score : {"0", "0+", "1+", "2+", "3+"}, optional
        Draw ``class_fractions`` for this score (see :func:`class_fractions_for_score`).
        Give exactly one of ``class_fractions`` and ``target_score``.
    near_boundary : bool, optional
        With ``target_score``: put the deciding class just above the 10 % cut-off.
    seed : int, optional
        Seed of the random generator; the output is a pure function of the arguments.
    cell_diameter_um : float, optional
        Mean centre-to-centre spacing of tumour cells (µm).
    nucleus_diameter_um : (float, float), optional
        Range of nucleus major-axis lengths (µm).
    cell_expansion_um : float, optional
        How far a cell extends beyond its nucleus where no neighbour limits it (µm).
    membrane_width_um : float, optional
        Width of the DAB membrane ring (µm).
    stroma_fraction : float, optional
        Share of the area that is stroma without tumour cells (0–0.9).
    patch_size_um : float, optional
        Spatial scale (µm) of the class patches. HER2 staining is clonal, so neighbours
        usually share a class; cells are given classes in the order of a smooth random
        field of this scale, which makes patches while keeping the quota exact. 0 gives
        classes in random order (salt and pepper), where a stained cell's membrane
        touches unstained neighbours on all sides.
    stain_jitter_deg : float, optional
        Tilt both stain vectors by up to this many degrees from the standard ones.
    blur_sigma_um : float, optional
        SD of the Gaussian optical blur (µm).
    noise_sd : float, optional
        SD of additive Gaussian noise in 8-bit units.
    uneven_background : float, optional
        Depth of a smooth illumination fall-off (0 = flat, 0.15 = corners 15 % darker).
    jpeg_quality : int, optional
        If given (1–95), JPEG-compress the image in memory at this quality.

    Returns
    -------
    SyntheticIhc
        The image, labels and the per-cell truth table.

    Notes
    -----
    The keywords are gathered into an :class:`IhcRegionOptions` (which validates them)
    and rendered by :func:`render_ihc_region`, stage by stage (see the module notes).

    Raises
    ------
    Her2kitInputError
        Bad sizes, fractions that do not sum to 1, an unknown class or score.
    """
    options = IhcRegionOptions(
        shape_px=shape_px,
        pixel_size_um=pixel_size_um,
        class_fractions=class_fractions,
        target_score=target_score,
        near_boundary=near_boundary,
        seed=seed,
        cell_diameter_um=cell_diameter_um,
        nucleus_diameter_um=nucleus_diameter_um,
        cell_expansion_um=cell_expansion_um,
        membrane_width_um=membrane_width_um,
        stroma_fraction=stroma_fraction,
        patch_size_um=patch_size_um,
        stain_jitter_deg=stain_jitter_deg,
        blur_sigma_um=blur_sigma_um,
        noise_sd=noise_sd,
        uneven_background=uneven_background,
        jpeg_quality=jpeg_quality,
    )
    return render_ihc_region(options)

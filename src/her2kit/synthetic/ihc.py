"""Synthetic brightfield HER2 IHC regions with a known membrane class per cell.

The generator follows the same cell model the analysis uses (QuPath's): a cell is its
nucleus expanded by a fixed distance within a Voronoi limit, so a neighbour's membrane
never lies inside another cell. Each cell gets one of the five membrane classes of
:data:`her2kit.imaging.membrane.MEMBRANE_CLASSES`; its membrane is a ring of DAB just
inside the cell boundary, complete or in one or two arcs, at an intensity drawn from the
class's range (:data:`CLASS_DAB_OD`). Nuclei carry hematoxylin with chromatin texture,
stroma a fibrous hematoxylin tint. Optics are applied in intensity space: optional stain
vector jitter, uneven illumination, Gaussian blur, Gaussian noise and JPEG compression.

Everything is drawn from ``numpy.random.default_rng(seed)``, so a seed and the keyword
arguments fully determine the image.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import expand_labels, find_boundaries

from her2kit.errors import Her2kitInputError
from her2kit.imaging._validate import check_pixel_size, check_positive
from her2kit.imaging.color.hdab import stain_matrix_from_vectors
from her2kit.imaging.color.stains import DAB_OD_RGB, HEMATOXYLIN_OD_RGB
from her2kit.imaging.ihc.membrane import MEMBRANE_CLASSES

__all__ = [
    "CLASS_COMPLETENESS",
    "CLASS_DAB_OD",
    "SCORES",
    "SyntheticIhc",
    "class_fractions_for_score",
    "generate_ihc_region",
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


def _rotate_toward_random(v: np.ndarray, max_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Tilt unit vector ``v`` by up to ``max_deg`` degrees, keeping it non-negative."""
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


def _smooth_noise(shape, sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-SD Gaussian-filtered noise (drawn coarse and zoomed for speed)."""
    step = max(1, int(sigma_px / 3))
    small = rng.normal(size=(shape[0] // step + 2, shape[1] // step + 2)).astype(np.float32)
    small = ndi.gaussian_filter(small, sigma_px / step, mode="wrap")
    big = ndi.zoom(small, step, order=1)[: shape[0], : shape[1]]
    big -= big.mean()
    sd = big.std()
    return big / sd if sd > 0 else big


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

    Raises
    ------
    Her2kitInputError
        Bad sizes, fractions that do not sum to 1, an unknown class or score.
    """
    p = check_pixel_size(pixel_size_um)
    rows, cols = (int(v) for v in shape_px)
    if rows < 32 or cols < 32 or rows * cols > 64e6:
        raise Her2kitInputError(f"expected 32–8000 px per side, got {shape_px}", field="shape_px")
    for name, val in (
        ("cell_diameter_um", cell_diameter_um),
        ("cell_expansion_um", cell_expansion_um),
        ("membrane_width_um", membrane_width_um),
    ):
        check_positive(val, name=name, unit="µm")
    if not 0 <= stroma_fraction <= 0.9:
        raise Her2kitInputError(f"expected 0–0.9, got {stroma_fraction}", field="stroma_fraction")
    rng = np.random.default_rng(seed)
    if (class_fractions is None) == (target_score is None):
        raise Her2kitInputError("give exactly one of class_fractions and target_score")
    if target_score is not None:
        fractions = class_fractions_for_score(target_score, rng=rng, near_boundary=near_boundary)
    else:
        unknown = set(class_fractions) - set(MEMBRANE_CLASSES)
        if unknown:
            raise Her2kitInputError(
                f"unknown membrane class {sorted(unknown)[0]!r}; expected {MEMBRANE_CLASSES}",
                field="class_fractions",
            )
        fractions = {k: float(class_fractions.get(k, 0.0)) for k in MEMBRANE_CLASSES}
        total = sum(fractions.values())
        if any(v < 0 for v in fractions.values()) or abs(total - 1.0) > 1e-6:
            raise Her2kitInputError(
                f"fractions must be ≥ 0 and sum to 1, got sum {total:.4f}",
                field="class_fractions",
            )

    shape = (rows, cols)
    # --- tissue layout: smooth noise thresholded into tumour nests and stroma ---------
    layout = _smooth_noise(shape, 25.0 / p, rng)
    tumour = (
        layout > np.quantile(layout, stroma_fraction)
        if stroma_fraction > 0
        else np.ones(shape, bool)
    )

    # --- nuclei on a jittered hexagonal grid inside tumour ----------------------------
    s = cell_diameter_um / p
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
    centres = centres[inside]
    ci = np.clip(centres.astype(int), 0, [rows - 1, cols - 1])
    centres = centres[tumour[ci[:, 0], ci[:, 1]]]
    n = len(centres)
    dmin, dmax = (float(v) for v in nucleus_diameter_um)
    major = rng.uniform(dmin, dmax, n) / p / 2
    minor = major * rng.uniform(0.65, 1.0, n)
    theta = rng.uniform(0, math.pi, n)
    nuclei = np.zeros(shape, np.int32)
    label = 0
    for i in range(n):
        r0, c0 = centres[i]
        a, b, t = major[i], minor[i], theta[i]
        ext = math.ceil(a) + 1
        r_lo, r_hi = max(0, int(r0) - ext), min(rows, int(r0) + ext + 2)
        c_lo, c_hi = max(0, int(c0) - ext), min(cols, int(c0) + ext + 2)
        if r_lo >= r_hi or c_lo >= c_hi:
            continue
        y, x = np.mgrid[r_lo:r_hi, c_lo:c_hi]
        y = y - r0
        x = x - c0
        u = x * math.cos(t) + y * math.sin(t)
        v = -x * math.sin(t) + y * math.cos(t)
        inside_e = (u / a) ** 2 + (v / b) ** 2 <= 1.0
        window = nuclei[r_lo:r_hi, c_lo:c_hi]
        # Never overwrite an earlier nucleus: touching is allowed, overlap is not.
        draw = inside_e & (window == 0)
        if draw.sum() < 0.6 * inside_e.sum() or draw.sum() < 3:
            continue
        label += 1
        window[draw] = label
    n = label
    cells = expand_labels(nuclei, distance=cell_expansion_um / p)
    cells[~(tumour | (nuclei > 0))] = 0

    # --- classes by exact quota, random order -----------------------------------------
    counts = np.floor(np.array([fractions[k] for k in MEMBRANE_CLASSES]) * n).astype(int)
    remainder = np.array([fractions[k] for k in MEMBRANE_CLASSES]) * n - counts
    for j in np.argsort(-remainder)[: n - counts.sum()]:
        counts[j] += 1
    class_idx = np.repeat(np.arange(len(MEMBRANE_CLASSES)), counts)
    cent0 = np.array(ndi.center_of_mass(np.ones(shape), nuclei, np.arange(1, n + 1))).reshape(-1, 2)
    if patch_size_um > 0 and n:
        field_ = _smooth_noise(shape, patch_size_um / p / 2, rng)
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

    # --- membrane ring just inside each cell boundary ---------------------------------
    idx = np.arange(1, n + 1)
    cent = cent0
    inner = find_boundaries(cells, mode="inner") & (cells > 0)
    ring = (cells > 0) & (ndi.distance_transform_edt(~inner) < membrane_width_um / p)
    rr_, cc_ = np.nonzero(ring)
    lab = cells[rr_, cc_] - 1
    ang = np.arctan2(rr_ - cent[lab, 0], cc_ - cent[lab, 1])
    rel = np.mod(ang - arc_start[lab], 2 * math.pi) / (2 * math.pi)
    cov = coverage[lab]
    stained = np.where(two_arcs[lab], (rel % 0.5) < cov / 2, rel < cov)
    dab = np.zeros(shape, np.float32)
    # ±15 % variation along the membrane, as real membranes are never uniform.
    wiggle = 1.0 + 0.15 * np.clip(rng.normal(size=rr_.size), -2, 2)
    dab[rr_, cc_] = np.where(stained, amp[lab] * wiggle, 0.0)
    # A light cytoplasmic blush in stained cells (4 % of the membrane OD).
    cyto = (cells > 0) & ~ring & (nuclei == 0)
    cl = cells[cyto] - 1
    dab[cyto] = 0.04 * amp[cl] * (class_idx[cl] != MEMBRANE_CLASSES.index("none"))

    # --- hematoxylin: nuclei with chromatin texture, cytoplasm, fibrous stroma --------
    hem = np.zeros(shape, np.float32)
    nuc_od = rng.uniform(0.35, 0.7, n + 1).astype(np.float32)
    texture = 1.0 + 0.18 * _smooth_noise(shape, 0.6 / p, rng)
    nmask = nuclei > 0
    hem[nmask] = nuc_od[nuclei[nmask]] * texture[nmask]
    hem[(cells > 0) & ~nmask] = 0.05
    stroma = ~(cells > 0)
    fib = np.abs(_smooth_noise(shape, 1.5 / p, rng))
    hem[stroma] = 0.04 + 0.07 * np.clip(fib[stroma], 0, 3)

    # --- optics: stain vectors, illumination, blur, noise, JPEG -----------------------
    vh = _rotate_toward_random(HEMATOXYLIN_OD_RGB.copy(), stain_jitter_deg, rng)
    vd = _rotate_toward_random(DAB_OD_RGB.copy(), stain_jitter_deg, rng)
    matrix = stain_matrix_from_vectors(vh, vd)
    od = hem[..., None] * vh.astype(np.float32) + dab[..., None] * vd.astype(np.float32)
    bg = np.full(shape, 250.0, np.float32)
    if uneven_background > 0:
        yy, xx = np.mgrid[0:rows, 0:cols]
        cy, cx = rng.uniform(0, rows), rng.uniform(0, cols)
        dist = np.hypot(yy - cy, xx - cx) / math.hypot(rows, cols)
        bg *= (1.0 - uneven_background * dist).astype(np.float32)
    intensity = bg[..., None] * np.power(np.float32(10.0), -od)
    if blur_sigma_um > 0:
        intensity = ndi.gaussian_filter(intensity, sigma=(blur_sigma_um / p,) * 2 + (0,))
    if noise_sd > 0:
        intensity += rng.normal(0, noise_sd, size=intensity.shape).astype(np.float32)
    image = np.clip(np.rint(intensity), 0, 255).astype(np.uint8)
    if jpeg_quality is not None:
        from PIL import Image  # in-memory encode/decode only; no file is opened

        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=int(jpeg_quality))
        image = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).copy()

    names = np.array(MEMBRANE_CLASSES)[class_idx] if n else np.array([], dtype="<U27")
    nuc_area = np.bincount(nuclei.ravel(), minlength=n + 1)[1:] * p * p
    table = MappingProxyType(
        {
            "label": idx.astype(np.int32),
            "centroid_rc": cent,
            "class_name": names,
            "dab_od": amp.astype(np.float32),
            "completeness_pct": (100.0 * coverage).astype(np.float32),
            "nucleus_area_um2": nuc_area.astype(np.float32),
        }
    )
    percent = MappingProxyType(
        {k: (100.0 * float(np.mean(names == k)) if n else 0.0) for k in MEMBRANE_CLASSES}
    )
    params = MappingProxyType(
        {
            "shape_px": (rows, cols),
            "pixel_size_um": p,
            "class_fractions": dict(fractions),
            "target_score": target_score,
            "near_boundary": near_boundary,
            "seed": seed,
            "patch_size_um": patch_size_um,
            "stain_jitter_deg": stain_jitter_deg,
            "blur_sigma_um": blur_sigma_um,
            "noise_sd": noise_sd,
            "uneven_background": uneven_background,
            "jpeg_quality": jpeg_quality,
        }
    )
    for arr in (image, nuclei, cells, hem, dab, matrix):
        arr.setflags(write=False)
    return SyntheticIhc(image, p, nuclei, cells, table, percent, hem, dab, matrix, params)

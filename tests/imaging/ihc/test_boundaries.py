"""IHC membrane classes and quality flags on both sides of every calibrated threshold.

Membrane classes are checked on measures built here (sector by sector, so completeness
and intensity are exact); quality flags on RGB images drawn from hematoxylin and DAB
optical densities with the standard H-DAB vectors and no stain estimation, so the
metric each flag reads is known from the construction. Expected values are the
documented defaults (MembraneThresholds: faint 0.05, moderate 0.14, intense 0.36 OD,
complete 70 %, stained 12.5 %; score.py: blur 0.12 OD/µm, weak counterstain 0.15 OD,
saturation 1 %), written as literals.
"""

from __future__ import annotations

import numpy as np
import pytest

# The entry points under test, imported in one place (re-point here when they move).
from her2kit.imaging.color.hdab import STANDARD_HDAB_MATRIX
from her2kit.imaging.ihc.membrane import MembraneMeasures, classify_membranes
from her2kit.imaging.ihc.score import IhcOptions, score_ihc_image

HEM_RGB = np.array([0.650, 0.704, 0.286])  # OD per unit hematoxylin (Ruifrok & Johnston)
DAB_RGB = np.array([0.268, 0.570, 0.776])
MODERATE = 0.25  # a sector DAB OD between moderate (0.14) and intense (0.36)
STAINED_RIDGE = 0.20  # a ridge response well above faint_od (0.05)


def _measures(rows):
    """MembraneMeasures from rows of (n_sectors, [(ridge_od, dab_od, n), ...])."""
    width = max(n for n, _ in rows)
    ridge = np.full((len(rows), width), np.nan)
    dab = np.full((len(rows), width), np.nan)
    for i, (n, parts) in enumerate(rows):
        j = 0
        for r, d, k in parts:
            ridge[i, j:j + k], dab[i, j:j + k] = r, d
            j += k
        assert j == n
    zeros = np.zeros(len(rows))
    return MembraneMeasures(labels=np.arange(1, len(rows) + 1, dtype=np.int32),
                            sector_dab_od=dab, ring_dab_od_mean=zeros, ring_dab_od_p90=zeros,
                            smooth_sigma_um=0.4, ring_width_um=1.5, sector_ridge_od=ridge)


def _stained_of(n_stained, n_sectors=100, dab=MODERATE):
    return (n_sectors, [(STAINED_RIDGE, dab, n_stained), (0.0, 0.02, n_sectors - n_stained)])


# ------------------------------------------------------------------ completeness 70 %
@pytest.mark.parametrize(("pct", "cls"), [
    (69, "incomplete_moderate_intense"), (70, "complete_weak_moderate"),
    (71, "complete_weak_moderate"), (74, "complete_weak_moderate")])
def test_membrane_complete_at_70_percent(pct, cls):
    # 100 sectors, pct of them stained at moderate OD: complete from 70 % on.
    assert classify_membranes(_measures([_stained_of(pct)])).tolist() == [cls]


# ------------------------------------------------------------ stained cell: 12.5 % sectors
@pytest.mark.parametrize(("n_stained", "cls"), [
    (2, "none"), (3, "incomplete_moderate_intense"), (4, "incomplete_moderate_intense")])
def test_membrane_needs_three_of_24_sectors(n_stained, cls):
    assert classify_membranes(_measures([_stained_of(n_stained, 24)])).tolist() == [cls]


# ------------------------------------------------------------ faint_od 0.05 (ridge response)
@pytest.mark.parametrize(("ridge", "cls"), [
    (0.045, "none"), (0.049, "none"), (0.05, "complete_weak_moderate"),
    (0.055, "complete_weak_moderate")])
def test_sector_stained_from_ridge_005(ridge, cls):
    # Every sector has the same ridge response and a moderate DAB OD: at 0.05 the whole
    # membrane is stained (complete), below it nothing is.
    rows = [(24, [(ridge, MODERATE, 24)])]
    assert classify_membranes(_measures(rows)).tolist() == [cls]


# ------------------------------------------------------ intensity: moderate 0.14, intense 0.36
@pytest.mark.parametrize(("dab", "cls"), [
    (0.13, "incomplete_faint"), (0.139, "incomplete_faint"), (0.14, "complete_weak_moderate"),
    (0.141, "complete_weak_moderate"), (0.359, "complete_weak_moderate"),
    (0.36, "complete_intense"), (0.361, "complete_intense")])
def test_complete_membrane_intensity_cuts(dab, cls):
    rows = [(24, [(STAINED_RIDGE, dab, 24)])]
    assert classify_membranes(_measures(rows)).tolist() == [cls]


@pytest.mark.parametrize(("dab", "cls"), [
    (0.139, "incomplete_faint"), (0.141, "incomplete_moderate_intense"),
    (0.361, "incomplete_moderate_intense")])
def test_incomplete_membrane_intensity_cuts(dab, cls):
    # Half the membrane stained: faint below 0.14, else the incomplete moderate-to-intense
    # (basolateral) pattern, whatever the intensity above it.
    rows = [(24, [(STAINED_RIDGE, dab, 12), (0.0, 0.02, 12)])]
    assert classify_membranes(_measures(rows)).tolist() == [cls]


# --------------------------------------------------------------------------- quality flags
def _rgb(hem_od, dab_od=None):
    dab_od = np.zeros_like(hem_od) if dab_od is None else dab_od
    od = hem_od[..., None] * HEM_RGB + dab_od[..., None] * DAB_RGB
    return np.clip(np.rint(255 * 10.0 ** -od), 0, 255).astype(np.uint8)


def _score(rgb, pixel_size_um):
    return score_ihc_image(rgb, pixel_size_um=pixel_size_um, options=IhcOptions(
                               stain_matrix=STANDARD_HDAB_MATRIX, estimate_stains=False))


def _disks(hem_od, *, n_rows, n_cols, spacing_px=20, radius_px=5, last_row=None):
    """Hematoxylin OD image with a grid of uniform nuclei (``last_row`` nuclei in the last)."""
    shape = (n_rows * spacing_px, n_cols * spacing_px)
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    hem = np.zeros(shape)
    for i in range(n_rows):
        for j in range(last_row if (last_row is not None and i == n_rows - 1) else n_cols):
            r0, c0 = (i + 0.5) * spacing_px, (j + 0.5) * spacing_px
            hem[(rr - r0) ** 2 + (cc - c0) ** 2 <= radius_px**2] = hem_od
    return hem


@pytest.mark.parametrize(("slope", "blur"), [(0.10, True), (0.11, True), (0.13, False),
                                             (0.14, False)])
def test_blur_below_012_od_per_um(slope, blur):
    # Hematoxylin in a triangle wave across the columns, 0.2 to 0.8 OD, slope `slope`
    # OD/µm at 1 µm/px: the gradient's 95th percentile is the slope itself.
    x = np.arange(256)
    period = 0.6 / slope
    hem = np.tile(0.2 + 0.6 * (1 - np.abs((x / period) % 2 - 1)), (256, 1))
    q = _score(_rgb(hem), 1.0).quality
    assert q.edge_sharpness_od_per_um == pytest.approx(slope, rel=0.03)
    assert q.blur is blur


@pytest.mark.parametrize(("hem_od", "weak"), [(0.14, True), (0.145, True), (0.155, False),
                                              (0.16, False)])
def test_weak_counterstain_below_015_od(hem_od, weak):
    res = _score(_rgb(_disks(hem_od, n_rows=5, n_cols=5, spacing_px=40)), 1.0)
    assert res.n_cells_detected == 25
    assert res.quality.nucleus_hematoxylin_od == pytest.approx(hem_od, abs=0.003)
    assert res.quality.weak_counterstain is weak


@pytest.mark.parametrize(("n_black", "flag"), [(99, False), (100, False), (101, True)])
def test_saturation_above_1_percent_of_tissue(n_black, flag):
    # 200 x 200 px of tissue at 0.5 µm/px; the flag reads every second row and column
    # (100 x 100 = 10 000 tissue pixels), n_black of which are set to black.
    hem = np.zeros((240, 240))
    hem[20:220, 20:220] = 0.5
    rgb = _rgb(hem)
    for i in range(n_black):
        rgb[20 + 2 * (i // 100), 20 + 2 * (i % 100)] = 0
    q = _score(rgb, 0.5).quality
    assert q.saturated_fraction == n_black / 10_000
    assert q.saturation is flag


# ------------------------------------------- end to end: a drawn DAB ring around each nucleus
def _ring_region(cells, *, pixel_size_um=0.5, spacing_um=20.0, nucleus_um=3.5, ring_um=7.0,
                 width_um=1.5):
    """Nuclei (0.5 OD hematoxylin, radius ``nucleus_um``) each with a DAB membrane.

    ``cells`` holds ``(dab_od, arc)``: a band ``width_um`` wide at ``ring_um`` from the
    centre, of DAB OD ``dab_od``, over the fraction ``arc`` of the circle.
    """
    sp = int(spacing_um / pixel_size_um)
    side = int(np.ceil(np.sqrt(len(cells))))
    rr, cc = np.mgrid[: side * sp, : side * sp].astype(float)
    hem, dab = np.zeros(rr.shape), np.zeros(rr.shape)
    for k, (od, arc) in enumerate(cells):
        r0, c0 = (k // side + 0.5) * sp, (k % side + 0.5) * sp
        d_um = np.hypot(rr - r0, cc - c0) * pixel_size_um
        angle = (np.degrees(np.arctan2(rr - r0, cc - c0)) + 360.0) % 360.0
        hem[d_um <= nucleus_um] = 0.5
        dab[(np.abs(d_um - ring_um) <= width_um / 2) & (angle < 360.0 * arc)] = od
    return _rgb(hem, dab)


def test_drawn_membranes_get_their_class():
    # Faint (0.08 OD) whatever the extent; complete rings below/above moderate (0.14) and
    # intense (0.36); a half ring of moderate OD is the incomplete (basolateral) pattern.
    cells = [(0.08, 1.0), (0.12, 1.0), (0.17, 1.0), (0.33, 1.0), (0.40, 1.0), (0.25, 0.5),
             (0.60, 1.0), (0.0, 1.0), (0.25, 1.0)]
    expected = ["incomplete_faint", "incomplete_faint", "complete_weak_moderate",
                "complete_weak_moderate", "complete_intense", "incomplete_moderate_intense",
                "complete_intense", "none", "complete_weak_moderate"]
    res = _score(_ring_region(cells), 0.5)
    assert res.n_cells_detected == len(cells)
    t = res.cells
    order = np.lexsort((t.centroid_rc[:, 1], np.round(t.centroid_rc[:, 0] / 40.0)))
    assert t.class_name[order].tolist() == expected
    # The membrane OD read back is the drawn one (within 5 %) for the complete rings.
    stained = t.membrane_dab_od_stained[order]
    for i, (od, arc) in enumerate(cells):
        if arc == 1.0 and od > 0:
            assert stained[i] == pytest.approx(od, rel=0.05)

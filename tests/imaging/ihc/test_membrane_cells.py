"""Membrane-seeded cells and their growth with membranes as dams (issue 10, failure mode 4).

The seeding constants are tested on hand-drawn membrane masks at 1 µm per pixel, so each
basin's area, ring and distance are counted exactly: a square ring of membrane one pixel
wide around a k x k interior gives a basin of k² µm² whose outer ring (8-neighbours) is
4k + 4 pixels. Documented limits: area 30-400 µm², ring ≥ 60 % membrane, innermost
point ≥ 5 µm from a nucleus, membrane ridge ≥ 0.06 OD.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from her2kit.imaging.ihc.membrane_cells import membrane_cells, seed_cells


def _ring(shape, top, left, rows, cols):
    """Membrane mask: a 1-px square ring around a rows x cols interior at (top, left)."""
    m = np.zeros(shape, bool)
    m[top - 1 : top + rows + 1, left - 1 : left + cols + 1] = True
    m[top : top + rows, left : left + cols] = False
    return m


def _seeded(membrane, tissue=None, nuclei=None, pixel_size_um=1.0):
    tissue = np.ones(membrane.shape, bool) if tissue is None else tissue
    nuclei = np.zeros(membrane.shape, np.int32) if nuclei is None else nuclei
    return seed_cells(membrane, tissue, nuclei, pixel_size_um=pixel_size_um).n_seeded


@pytest.mark.parametrize(("rows", "cols", "drop", "seeded"), [
    (5, 6, 0, 1),  # 30 µm²: the lower limit, included
    (5, 6, 1, 0),  # 29 µm²
    (20, 20, 0, 1),  # 400 µm²: the upper limit, included
    (21, 20, 19, 0),  # 420 - 19 = 401 µm²
])
def test_basin_area_limits(rows, cols, drop, seeded):
    shape = (40, 40)
    membrane = _ring(shape, 8, 8, rows, cols)
    tissue = np.ones(shape, bool)
    # Basin pixels removed from the tissue (the last row's first `drop` pixels), so the
    # basin is rows * cols - drop µm²; the membrane ring around it is unchanged.
    tissue[8 + rows - 1, 8 : 8 + drop] = False
    # Outside the ring: glass, so the outside is not one big basin of its own interest.
    outside = np.ones(shape, bool)
    outside[7 : 8 + rows + 1, 7 : 8 + cols + 1] = False
    tissue &= ~outside
    assert _seeded(membrane, tissue) == seeded


@pytest.mark.parametrize(("n_membrane", "seeded"), [(22, 1), (21, 0)])
def test_ring_fraction_limit(n_membrane, seeded):
    # An 8 x 8 interior has a 36-pixel outer ring: 22 / 36 = 0.611 ≥ 0.6, 21 / 36 = 0.583.
    shape = (30, 30)
    membrane = _ring(shape, 10, 10, 8, 8)
    ring = np.argwhere(membrane)
    assert len(ring) == 36
    gaps = ring[n_membrane:]
    membrane[gaps[:, 0], gaps[:, 1]] = False
    tissue = np.zeros(shape, bool)
    tissue[10:18, 10:18] = True  # the gaps are glass, so the basin does not leak out
    assert _seeded(membrane, tissue) == seeded


@pytest.mark.parametrize(("pixel_size_um", "seeded"), [(1.0, 1), (0.98, 0)])
def test_distance_to_the_nearest_nucleus(pixel_size_um, seeded):
    # 9 x 9 interior centred at (14, 14); a nucleus pixel 5 pixels to the right of the
    # centre, on the ring: 5.0 µm at 1 µm/px (seeded), 4.9 µm at 0.98 µm/px (not).
    shape = (30, 30)
    membrane = _ring(shape, 10, 10, 9, 9)
    nuclei = np.zeros(shape, np.int32)
    nuclei[14, 19] = 1
    membrane[14, 19] = False
    tissue = np.zeros(shape, bool)
    tissue[10:19, 10:19] = True
    assert _seeded(membrane, tissue, nuclei, pixel_size_um) == seeded


def test_a_basin_holding_a_nucleus_is_not_seeded():
    shape = (30, 30)
    membrane = _ring(shape, 10, 10, 9, 9)
    nuclei = np.zeros(shape, np.int32)
    nuclei[12, 12] = 1
    out = seed_cells(membrane, np.ones(shape, bool), nuclei, pixel_size_um=1.0)
    assert out.n_seeded == 0 and out.n_nuclei == 1


def _gaussian_line_image(shape, positions, axis, peak_od, sd_px=1.0):
    """DAB OD: lines with a Gaussian cross-section (SD ``sd_px``) at ``positions``."""
    coord = np.arange(shape[axis], dtype=np.float32)
    profile = np.zeros(shape[axis], np.float32)
    for p in positions:
        profile = np.maximum(profile, peak_od * np.exp(-0.5 * ((coord - p) / sd_px) ** 2))
    return np.broadcast_to(profile[:, None] if axis == 0 else profile[None, :], shape)


@pytest.mark.parametrize(("peak_od", "n_seeded"), [(0.065, 1), (0.055, 0)])
def test_membrane_ridge_level(peak_od, n_seeded):
    # Two straight membranes along rows 10 and 20 across the whole image (Gaussian
    # cross-section with SD 1 µm, on 1 µm pixels), tissue in rows 8-22, no nucleus: a
    # straight ridge reads its peak OD, so at 0.065 OD (≥ 0.06) the strip between them
    # (9 x 40 = 360 µm², ringed by the two membranes) is seeded; at 0.055 OD there is no
    # membrane and nothing is seeded. (The 2-row strips outside the membranes have glass
    # on one side: half ringed, never seeded.)
    shape = (31, 40)
    dab = np.array(_gaussian_line_image(shape, [10, 20], 0, peak_od))
    tissue = np.zeros(shape, bool)
    tissue[8:23] = True
    out = membrane_cells(np.zeros(shape, np.int32), dab, tissue, pixel_size_um=1.0)
    assert out.n_seeded == n_seeded
    assert out.n_nuclei == 0
    if n_seeded:
        assert out.seeded_fraction == 1.0
        # The marker lies in the strip, between the membranes.
        rows, _ = np.nonzero(out.nuclei_labels == 1)
        assert rows.min() > 10 and rows.max() < 20


@pytest.mark.parametrize(("peak_od", "on_membrane"), [(0.4, True), (0.125, True),
                                                    (0.115, False), (0.0, False)])
def test_growth_stops_at_a_membrane_dam(peak_od, on_membrane):
    # Two nuclei at columns 5 and 25 (midpoint 15), a membrane (SD 1 µm, peak as given)
    # at column 20: a ridge of ≥ 0.12 OD (the dam) stops the left cell's growth there, so
    # the cells meet on the membrane; a weaker one is crossed, and they meet at the
    # midpoint, as without DAB.
    shape = (21, 31)
    nuclei = np.zeros(shape, np.int32)
    nuclei[9:12, 4:7] = 1
    nuclei[9:12, 24:27] = 2
    dab = np.array(_gaussian_line_image(shape, [20], 1, peak_od))
    out = membrane_cells(nuclei, dab, np.ones(shape, bool), pixel_size_um=1.0,
                         reach_um=30.0, seed=False)
    change = int(np.flatnonzero(np.diff(out.cell_labels[10]))[0]) + 1
    if on_membrane:
        assert 19 <= change <= 21
    else:
        assert 14 <= change <= 16


def test_reach_limits_the_cell():
    shape = (41, 41)
    nuclei = np.zeros(shape, np.int32)
    nuclei[20, 20] = 1
    out = membrane_cells(nuclei, np.zeros(shape, np.float32), np.ones(shape, bool),
                         pixel_size_um=1.0, reach_um=8.0)
    rows, cols = np.nonzero(out.cell_labels == 1)
    assert np.hypot(rows - 20, cols - 20).max() <= 8.0
    assert out.cell_labels[20, 28] == 1 and out.cell_labels[20, 29] == 0


# --------------------------------------------------------------------- real image


def test_real_3plus_core_cells_follow_membranes(real_data):
    """GEA 3+ core crop (rows 2048-3072, columns 512-1536, 0.25 µm/px): with the
    membrane cell model (8 µm reach) the cell boundaries lie on brighter DAB, more cells are
    complete intense, and some cells are seeded from the membrane network."""
    from her2kit.imaging.ihc.score import IhcOptions, score_ihc_image

    core = real_data("her2_ihc_gea_tma_bozeklab") / "3_a1f1510c-b91e-4995-ba59-596ca7ebb019.jpg"
    rgb = np.ascontiguousarray(np.asarray(Image.open(core))[2048:3072, 512:1536])
    common = dict(white_point="auto", membrane_baseline="cell_cytoplasm",
                  nucleus_dab_exclusion=True, nucleus_threshold="local_contrast",
                  estimate_stains=True)
    res = {m: score_ihc_image(rgb, pixel_size_um=0.25,
                              options=IhcOptions(cell_model=m, **common))
           for m in ("expand", "membrane")}

    def boundary_dab(r):
        lab = r.cell_labels
        edge = (lab[:, 1:] != lab[:, :-1]) & (lab[:, 1:] > 0) & (lab[:, :-1] > 0)
        from her2kit.imaging.color.hdab import separate_stains

        dab = separate_stains(rgb, estimate=False).dab_od[:, 1:]
        return float(np.mean(dab[edge]))

    assert boundary_dab(res["membrane"]) > 1.3 * boundary_dab(res["expand"])
    mem = res["membrane"]
    assert mem.parameters["membrane_seeded_cells"] >= 10
    assert 0 < mem.parameters["membrane_seeded_fraction"] < 0.5
    assert mem.percent_all["complete_intense"] > res["expand"].percent_all["complete_intense"]


def test_dab_dominant_nuclei_are_dropped_before_growth():
    # Nucleus 1: mean hematoxylin 0.20, DAB 0.21 (DAB outweighs and ≥ 0.12 OD: a membrane
    # outlined as a nucleus, dropped); nucleus 2: DAB 0.19 (kept); nucleus 3: hematoxylin
    # 0.05 under faint DAB 0.11 (outweighs, but < 0.12 OD: a pale nucleus, kept); nucleus
    # 4: hematoxylin 0.05, DAB 0.121 (dropped).
    from her2kit.imaging.ihc.score import _drop_dab_dominant_nuclei
    from her2kit.imaging.segment.nuclei import NucleusDetection

    labels = np.zeros((10, 40), np.int32)
    for k in range(4):
        labels[2:5, 2 + 10 * k : 5 + 10 * k] = k + 1
    hem = np.select([labels == 1, labels == 2, labels >= 3], [0.20, 0.20, 0.05], 0.0)
    dab = np.select([labels == 1, labels == 2, labels == 3, labels == 4],
                    [0.21, 0.19, 0.11, 0.121], 0.0)
    det = NucleusDetection(labels, 4, 0.1, "given", 1.0, 8.0)
    out = _drop_dab_dominant_nuclei(det, hem.astype(np.float32), dab.astype(np.float32))
    assert out.n_nuclei == 2
    assert [int(out.labels[3, 3 + 10 * k]) for k in range(4)] == [0, 1, 2, 0]

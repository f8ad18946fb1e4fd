"""Membrane measures and per-cell classes against generated truth and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging.color.hdab import separate_stains
from her2kit.imaging.ihc.membrane import (
    MEMBRANE_CLASSES,
    MembraneMeasures,
    MembraneThresholds,
    classify_membranes,
    fit_thresholds,
    measure_membranes,
    ridge_od,
)
from her2kit.synthetic.ihc import generate_ihc_region


def _measures(sectors):
    sectors = np.asarray(sectors, np.float32)
    n = sectors.shape[0]
    z = np.zeros(n, np.float32)
    return MembraneMeasures(np.arange(1, n + 1, dtype=np.int32), sectors, z, z, 0.4, 1.5)


def test_classification_rules_on_hand_made_sectors():
    t = MembraneThresholds()
    s = 24
    rows = {
        "complete_intense": np.full(s, 0.6),
        "complete_weak_moderate": np.full(s, 0.25),
        "incomplete_moderate_intense": np.r_[np.full(10, 0.5), np.full(14, 0.01)],
        "incomplete_faint": np.r_[np.full(8, 0.10), np.full(16, 0.01)],
        "none": np.r_[np.full(2, 0.5), np.full(22, 0.01)],  # 8 % stained < 12.5 %
    }
    got = classify_membranes(_measures(np.stack(list(rows.values()))), thresholds=t)
    assert list(got) == list(rows)


def test_nan_sectors_are_left_out_of_completeness():
    v = np.full((1, 24), np.nan, np.float32)
    v[0, :12] = 0.6  # half the sectors exist (cut by the image edge), all stained
    m = _measures(v)
    assert m.completeness_pct(0.05)[0] == pytest.approx(100.0)
    assert classify_membranes(m)[0] == "complete_intense"
    empty = _measures(np.full((1, 24), np.nan))
    assert classify_membranes(empty)[0] == "none"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"faint_od": 0.3, "moderate_od": 0.2}, "faint_od ≤ moderate_od"),
        ({"complete_pct": 120}, "complete_pct ≤ 100"),
        ({"intense_od": float("nan")}, "thresholds.intense_od"),
    ],
)
def test_threshold_validation(kwargs, message):
    with pytest.raises(Her2kitInputError, match=message):
        MembraneThresholds(**kwargs)


def test_fit_thresholds_moves_to_the_controls():
    rng = np.random.default_rng(0)
    s = 24

    # Controls from a "darker" lab: intense ≥ 0.9, weak-moderate 0.45-0.6, faint 0.2-0.3.
    def cell(level, frac):
        v = np.full(s, 0.01)
        v[: int(frac * s)] = level
        return v + rng.normal(0, 0.005, s)

    rows, known = [], []
    for _ in range(30):
        rows += [cell(rng.uniform(0.9, 1.2), 1), cell(rng.uniform(0.45, 0.6), 1)]
        rows += [cell(rng.uniform(0.45, 1.0), 0.4), cell(rng.uniform(0.2, 0.3), 0.4)]
        rows += [cell(0.02, 1)]
        known += list(MEMBRANE_CLASSES)
    m = _measures(np.stack(rows))
    default_acc = np.mean(classify_membranes(m) == np.array(known))
    t = fit_thresholds(m, known)
    assert 0.6 < t.intense_od < 0.9
    assert 0.3 < t.moderate_od < 0.45
    assert np.mean(classify_membranes(m, thresholds=t) == np.array(known)) == 1.0
    assert default_acc < 0.9  # the defaults were wrong for this lab: the fit matters


def test_fit_thresholds_rejects_unknown_class():
    m = _measures(np.zeros((2, 24)))
    with pytest.raises(Her2kitInputError, match="unknown class"):
        fit_thresholds(m, ["none", "3+"])


@pytest.mark.parametrize(("pixel_size_um", "floor"), [(0.25, 0.83), (0.5, 0.83), (1.0, 0.88)])
def test_per_cell_class_accuracy_on_true_cells(pixel_size_um, floor):
    # All five classes at 20 % each in patches: the hardest mix (every class borders
    # every other). Measured over seeds 20-25 (true cell outlines, estimated stains)
    # with the calibrated defaults (faint_od 0.07, from BCI real tiles; see
    # MembraneThresholds): 0.85-0.88 at 0.25 µm/px, 0.85-0.89 at 0.5, 0.92-0.99 at 1.0.
    # Floors were 0.88 / 0.85 / 0.70 under the synthetic-only faint_od 0.05: the higher
    # real-image faint level now calls some of the faintest generated membranes (0.08 OD
    # drawn) "none" at 0.25-0.5 µm/px, and no longer calls noisy unstained one-pixel
    # membranes at 1 µm/px "faint". Other errors are cells at patch borders picking up a
    # neighbour's membrane through the blur. Floors kept unchanged when the ridge measure
    # took over the stained-sector decision (faint_od 0.05 on the ridge; test still passes).
    side = int(192 / pixel_size_um)
    s = generate_ihc_region(
        shape_px=(side, side),
        pixel_size_um=pixel_size_um,
        class_fractions=dict.fromkeys(MEMBRANE_CLASSES, 0.2),
        seed=21,
        stain_jitter_deg=5,
        noise_sd=3,
        jpeg_quality=85,
        blur_sigma_um=0.4,
    )
    dab = separate_stains(s.image).dab_od
    m = measure_membranes(dab, s.cell_labels, s.nuclei_labels, pixel_size_um=pixel_size_um)
    acc = np.mean(classify_membranes(m) == s.cells["class_name"])
    assert acc >= floor, acc


def test_measure_empty_labels():
    m = measure_membranes(
        np.zeros((32, 32)), np.zeros((32, 32), int), np.zeros((32, 32), int), pixel_size_um=0.5
    )
    assert m.sector_dab_od.shape == (0, 24)
    assert classify_membranes(m).shape == (0,)


def test_grid_labels_read_the_full_resolution_peak():
    # A 1-px membrane ring at 0.5 µm/px; labels on a 2× coarser grid. The sector maxima
    # must see the ring's full OD (block maxima), not its 2×2 block mean.
    yy, xx = np.mgrid[0:64, 0:64]
    r = np.hypot(yy - 31.5, xx - 31.5)
    dab = np.where(np.abs(r - 14) < 0.6, 0.5, 0.0).astype(np.float32)
    gy, gx = np.mgrid[0:32, 0:32]
    gr = np.hypot(gy - 15.5, gx - 15.5)
    nuclei = (gr < 4).astype(np.int32)
    cells = (gr < 9).astype(np.int32)
    m = measure_membranes(
        dab, cells, nuclei, pixel_size_um=0.5, labels_downsample=2, baseline_block_um=None
    )
    assert m.completeness_pct(0.07)[0] == pytest.approx(100.0)
    assert np.nanmin(m.sector_dab_od) > 0.3  # a block mean would give ≤ 0.25 after blur
    with pytest.raises(ImageInputError, match="labels_downsample"):
        measure_membranes(dab, cells, nuclei, pixel_size_um=0.5, labels_downsample=1)


def test_fit_thresholds_ignores_cells_without_sectors():
    rng = np.random.default_rng(3)
    rows = [np.full(24, 0.02) + rng.normal(0, 0.005, 24) for _ in range(20)]
    rows += [np.r_[np.full(8, 0.15), np.full(16, 0.02)] for _ in range(20)]
    rows += [np.full(24, np.nan)] * 5  # cut cells: no sector at all
    known = ["none"] * 20 + ["incomplete_faint"] * 20 + ["none"] * 5
    t = fit_thresholds(_measures(np.stack(rows)), known)
    assert 0.03 < t.faint_od < 0.15
    assert t.faint_od <= t.moderate_od <= t.intense_od


def test_ridge_reads_a_thin_line_as_its_od_and_flat_stain_as_zero():
    # A Gaussian line (SD 2 px = the ridge scale, peak 0.3 OD) on a 0.2 OD flat offset:
    # the ridge reads ≈ the line's peak at its centre, ≈ 0 on the flat part, and ≈ 0 two
    # SDs beside the line (where a neighbour cell's pixels would be).
    x = np.arange(64, dtype=np.float32)
    profile = 0.2 + 0.3 * np.exp(-((x - 32) ** 2) / (2 * 2.0**2))
    img = np.tile(profile, (64, 1))
    r = ridge_od(img, sigma_px=2.0)
    assert r[32, 32] == pytest.approx(0.3, abs=0.01)
    assert r[32, 5] < 0.005
    assert r[32, 36] < 0.02
    # A flat brown blush of any level reads ~0 (the sector OD would read it as signal);
    # the residue is the truncation of scipy's derivative kernels (~2e-4 OD).
    assert float(ridge_od(np.full((32, 32), 0.3, np.float32), sigma_px=1.5).max()) < 1e-3


def test_ridge_sectors_decide_stained_sectors():
    od = np.full((2, 24), 0.30, np.float32)  # all sectors brown by OD
    ridge = np.zeros((2, 24), np.float32)
    ridge[1] = 0.2  # only cell 2 has a membrane-like ridge
    z = np.zeros(2, np.float32)
    m = MembraneMeasures(np.arange(1, 3, dtype=np.int32), od, z, z, 0.4, 1.5, ridge)
    assert list(m.completeness_pct(0.05)) == [0.0, 100.0]
    assert list(classify_membranes(m)) == ["none", "complete_weak_moderate"]
    # Without ridge sectors the OD decides, as before.
    assert list(_measures(od).completeness_pct(0.05)) == [100.0, 100.0]

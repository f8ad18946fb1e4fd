"""The synthetic IHC generator: determinism, truth consistency, quotas, options."""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.imaging.ihc.membrane import MEMBRANE_CLASSES
from her2kit.synthetic.ihc import class_fractions_for_score, generate_ihc_region


def test_same_seed_same_image_other_seed_differs():
    kw = {"shape_px": (128, 160), "pixel_size_um": 0.5, "target_score": "2+", "noise_sd": 3}
    a = generate_ihc_region(seed=7, **kw)
    b = generate_ihc_region(seed=7, **kw)
    c = generate_ihc_region(seed=8, **kw)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.cells["class_name"], b.cells["class_name"])
    assert not np.array_equal(a.image, c.image)


def test_truth_table_consistent_with_labels():
    s = generate_ihc_region(shape_px=(256, 256), pixel_size_um=0.5, target_score="1+", seed=1)
    n = int(s.nuclei_labels.max())
    assert n > 50
    assert s.image.shape == (256, 256, 3) and s.image.dtype == np.uint8
    assert len(s.cells["label"]) == n == len(s.cells["class_name"])
    assert np.array_equal(np.unique(s.nuclei_labels)[1:], np.arange(1, n + 1))
    # Every nucleus lies inside the cell with the same label.
    inside = s.nuclei_labels > 0
    assert np.array_equal(s.cell_labels[inside], s.nuclei_labels[inside])
    assert sum(s.percent.values()) == pytest.approx(100.0)
    # Unstained cells have no membrane DAB; intense ones have strong DAB.
    none = s.cells["class_name"] == "none"
    assert np.all(s.cells["dab_od"][none] == 0)


def test_class_quota_is_exact_up_to_one_cell():
    fr = {"complete_intense": 0.3, "incomplete_faint": 0.25, "none": 0.45}
    s = generate_ihc_region(shape_px=(256, 256), pixel_size_um=0.5, class_fractions=fr, seed=2)
    n = len(s.cells["label"])
    for k in MEMBRANE_CLASSES:
        assert abs(s.percent[k] - 100 * fr.get(k, 0.0)) <= 100.0 / n + 1e-9


def test_membrane_dab_follows_class():
    fr = dict.fromkeys(MEMBRANE_CLASSES, 0.2)
    s = generate_ihc_region(shape_px=(256, 256), pixel_size_um=0.5, class_fractions=fr, seed=3)
    ring_max = np.zeros(len(s.cells["label"]) + 1)
    np.maximum.at(ring_max, s.cell_labels.ravel(), s.dab_od.ravel())
    names = s.cells["class_name"]
    assert (
        ring_max[1:][names == "complete_intense"].min()
        > ring_max[1:][names == "incomplete_faint"].max()
    )


@pytest.mark.parametrize("score", ["0", "0+", "1+", "2+", "3+"])
def test_near_boundary_fractions(score):
    rng = np.random.default_rng(0)
    for _ in range(20):
        f = class_fractions_for_score(score, rng=rng, near_boundary=True)
        assert sum(f.values()) == pytest.approx(1.0)
        if score == "3+":
            assert 0.12 <= f["complete_intense"] <= 0.16
        if score == "0+":
            assert 0 < f["incomplete_faint"] <= 0.09
        if score == "0":
            assert f["none"] == 1.0


def test_sizes_scale_with_pixel_size():
    a = generate_ihc_region(shape_px=(512, 512), pixel_size_um=0.25, target_score="0", seed=0)
    b = generate_ihc_region(shape_px=(128, 128), pixel_size_um=1.0, target_score="0", seed=0)
    # Same physical nucleus area (µm²) whatever the resolution, within 15 %.
    ma, mb = np.median(a.cells["nucleus_area_um2"]), np.median(b.cells["nucleus_area_um2"])
    assert abs(ma / mb - 1) < 0.15


def test_optics_options_run_and_change_the_image():
    base = {"shape_px": (128, 128), "pixel_size_um": 0.5, "target_score": "2+", "seed": 5}
    plain = generate_ihc_region(**base)
    for extra in (
        {"jpeg_quality": 60},
        {"blur_sigma_um": 1.5},
        {"uneven_background": 0.2},
        {"stain_jitter_deg": 10.0},
    ):
        other = generate_ihc_region(**base, **extra)
        assert not np.array_equal(other.image, plain.image), extra


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"class_fractions": {"none": 0.5}}, "sum to 1"),
        ({"class_fractions": {"purple": 1.0}}, "unknown membrane class"),
        ({"target_score": "4+"}, "unknown IHC score"),
        ({}, "exactly one"),
        ({"target_score": "1+", "pixel_size_um": 0}, "absurd pixel size"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(Her2kitInputError, match=message):
        generate_ihc_region(shape_px=(64, 64), **{"pixel_size_um": 0.5, **kwargs})

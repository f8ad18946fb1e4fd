"""Nucleus detection and cell expansion against generated and real truth."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from scipy import ndimage as ndi

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging.color.hdab import separate_stains
from her2kit.imaging.filters import block_max, block_mean, smooth, upsample_labels
from her2kit.imaging.segment.cells import expand_nuclei
from her2kit.imaging.segment.nuclei import NucleusDetection, detect_nuclei, match_instances
from her2kit.io.images import read_image
from her2kit.synthetic.ihc import generate_ihc_region


@pytest.mark.parametrize("pixel_size_um", [0.25, 0.5, 1.0])
def test_f1_on_synthetic_at_three_resolutions(pixel_size_um):
    # The same µm defaults at every resolution. Measured F1 0.99–1.00 (IoU 0.5) on these
    # regions (JPEG 85, 6° stain jitter, noise 3, blur 0.4 µm); floor 0.95.
    side = int(192 / pixel_size_um)
    s = generate_ihc_region(
        shape_px=(side, side),
        pixel_size_um=pixel_size_um,
        target_score="2+",
        seed=11,
        stain_jitter_deg=6,
        noise_sd=3,
        jpeg_quality=85,
        blur_sigma_um=0.4,
    )
    h = separate_stains(s.image).hematoxylin_od
    det = detect_nuclei(h, pixel_size_um=pixel_size_um)
    m = match_instances(s.nuclei_labels, det.labels)
    assert m.f1 >= 0.95, (m.precision, m.recall)
    assert det.threshold_source in ("otsu", "otsu-clipped")
    assert 0.08 <= det.threshold_od <= 0.40


def test_touching_nuclei_are_split():
    # Two 8 µm discs overlapping by 2 µm at 0.5 µm/px, drawn as one blob of H.
    yy, xx = np.mgrid[0:64, 0:80]
    a = (yy - 32) ** 2 + (xx - 28) ** 2 <= 8**2  # centres 12 px = 6 µm apart
    b = (yy - 32) ** 2 + (xx - 40) ** 2 <= 8**2
    h = np.where(a | b, 0.6, 0.02).astype(np.float32)
    assert ndi.label(a | b)[1] == 1
    det = detect_nuclei(h, pixel_size_um=0.5)
    assert det.n_nuclei == 2
    assert det.labels[32, 24] != det.labels[32, 44]


def test_empty_image_gives_empty_labels_with_shape():
    det = detect_nuclei(np.zeros((40, 50), np.float32), pixel_size_um=0.5)
    assert det.n_nuclei == 0 and det.labels.shape == (40, 50)
    assert not det.labels.any()


def test_bad_inputs():
    with pytest.raises(ImageInputError, match="2-D"):
        detect_nuclei(np.zeros((8, 8, 3)), pixel_size_um=0.5)
    with pytest.raises(Her2kitInputError, match="absurd pixel size"):
        detect_nuclei(np.zeros((32, 32)), pixel_size_um=500)
    with pytest.raises(Her2kitInputError, match="nucleus_diameter_um"):
        detect_nuclei(np.zeros((32, 32)), pixel_size_um=0.5, nucleus_diameter_um=-1)


def test_match_instances_counts():
    t = np.zeros((10, 10), int)
    t[0:4, 0:4] = 1
    t[6:9, 6:9] = 2
    p = np.zeros_like(t)
    p[0:4, 0:3] = 5  # IoU 12/16 = 0.75 with 1
    p[6:7, 6:7] = 7  # IoU 1/9 with 2
    p[0:2, 7:9] = 9  # no overlap
    m = match_instances(t, p)
    assert (m.tp, m.fp, m.fn) == (1, 2, 1)
    assert m.f1 == pytest.approx(2 / 5)
    assert list(m.true_ids) == [1] and list(m.pred_ids) == [5]


def test_expand_nuclei_voronoi_limit():
    n = np.zeros((20, 41), np.int32)
    n[10, 10] = 1
    n[10, 30] = 2
    cells = expand_nuclei(n, pixel_size_um=1.0, expansion_um=15)
    assert cells[10, 19] == 1 and cells[10, 21] == 2  # boundary halfway
    assert cells[10, 0] == 1
    lone = expand_nuclei(n, pixel_size_um=1.0, expansion_um=3)
    assert lone[10, 13] == 1 and lone[10, 14] == 0  # 3 µm limit


def _deepliif_truth(mask_rgb):
    red = (mask_rgb[..., 0] > 128) & (mask_rgb[..., 1] < 128) & (mask_rgb[..., 2] < 128)
    blue = (mask_rgb[..., 2] > 128) & (mask_rgb[..., 0] < 128) & (mask_rgb[..., 1] < 128)
    lr, nr = ndi.label(red)
    lb, _ = ndi.label(blue)
    return np.where(red, lr, 0) + np.where(blue, lb + nr, 0)


def test_real_ki67_tiles_nucleus_f1(real_data):
    folder = real_data("ki67_ihc_nuclei_deepliif")
    with open(folder / "LABELS.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    f1 = []
    for row in rows:
        # DeepLIIF layout: six copies side by side; the first 512 px are the IHC tile.
        img = np.ascontiguousarray(read_image(folder / row["file"]).image[:, :512, :3])
        truth = _deepliif_truth(read_image(folder / row["ground_truth_file"]).image)
        stains = separate_stains(img)
        # Pixel size not stated; nuclei of ~24 px median diameter suggest ~0.25-0.3 µm/px.
        det = detect_nuclei(
            stains.hematoxylin_od, pixel_size_um=0.25, threshold_exclude=stains.dab_od > 0.25
        )
        f1.append(match_instances(truth, det.labels).f1)
    # Measured: F1 0.53, 0.57, 0.33, 0.54 (mean 0.49) at IoU 0.5. Ki67-positive nuclei
    # are brown, with little hematoxylin, and are partly missed by design (HER2 needs
    # nuclei from the counterstain). Floor a little under the measured level.
    assert np.mean(f1) >= 0.42, f1
    assert min(f1) >= 0.25, f1


def test_expand_nuclei_extent_is_euclidean():
    # A lone one-pixel nucleus grows into the disc of radius 3 px, not an octagon.
    n = np.zeros((21, 21), np.int32)
    n[10, 10] = 1
    cells = expand_nuclei(n, pixel_size_um=1.0, expansion_um=3)
    yy, xx = np.mgrid[0:21, 0:21]
    assert np.array_equal(cells > 0, (yy - 10) ** 2 + (xx - 10) ** 2 <= 9)


def test_block_helpers_round_trip():
    rng = np.random.default_rng(0)
    img = rng.random((9, 10)).astype(np.float32)  # ragged: 9 and 10 are not multiples of 4
    mean = block_mean(img, 4)
    mx = block_max(img, 4)
    assert mean.shape == mx.shape == (3, 3)
    assert mean[2, 2] == pytest.approx(img[8:, 8:].mean())
    assert mx[0, 1] == img[0:4, 4:8].max()
    lab = np.arange(1, 10, dtype=np.int32).reshape(3, 3)
    up = upsample_labels(lab, 4, (9, 10))
    assert up.shape == (9, 10) and up[8, 9] == 9 and up[3, 3] == 1 and up[4, 4] == 5
    with pytest.raises(ImageInputError, match="shape"):
        upsample_labels(lab, 4, (20, 20))
    with pytest.raises(Her2kitInputError, match="factor"):
        block_mean(img, 0)


@pytest.mark.parametrize(("sigma", "max_diff"), [(0.5, 0.002), (0.8, 0.05), (1.5, 1e-6)])
def test_fast_smoothing_matches_scipy(sigma, max_diff):
    # Uniform noise is the worst case for the 3-tap kernel (it drops the ±2 taps); the
    # documented bounds are 0.001 at sigma 0.5 and 0.05 at 0.8; above 0.95, scipy itself.
    rng = np.random.default_rng(1)
    img = rng.random((40, 50)).astype(np.float32)
    ref = ndi.gaussian_filter(img, sigma)
    assert np.max(np.abs(smooth(img, sigma) - ref)) < max_diff


def test_nucleus_detection_areas_and_centroids():
    # Two squares of 6x6 and 4x5 px at 0.5 µm/px: 9 µm² and 5 µm² (0.25 µm² per pixel).
    labels = np.zeros((20, 20), np.int32)
    labels[2:8, 3:9] = 1
    labels[12:16, 10:15] = 2
    det = NucleusDetection(labels, 2, 0.2, "given", 0.5, 8.0)
    np.testing.assert_allclose(det.areas_um2, [9.0, 5.0])
    np.testing.assert_allclose(det.centroids_rc, [[4.5, 5.5], [13.5, 12.0]])
    assert det.threshold_od == 0.2 and det.image_kind == "hematoxylin_od"
    assert dict(det.parameters) == {}


def test_nucleus_detection_of_a_fluorescence_image_has_no_od_threshold():
    det = NucleusDetection(np.zeros((4, 4), np.int32), 0, 812.0, "otsu", 0.2, None,
                           image_kind="dapi_intensity")
    assert det.threshold == 812.0 and np.isnan(det.threshold_od)
    assert det.areas_um2.shape == (0,) and det.centroids_rc.shape == (0, 2)


def test_ish_segmenter_returns_the_nucleus_detection_type():
    from her2kit.imaging.segment.ish_nuclei import segment_ish_nuclei

    # Two bright discs (pixel centres within 10 px) at 0.2 µm/px on a dark field. Otsu
    # sits halfway up the smoothed edge, which lies halfway between the last pixel in
    # (10 px) and the first out (11 px): radius ~10.5 px = 2.1 µm, ~13.9 µm² each.
    rr, cc = np.mgrid[:80, :120]
    img = np.zeros((80, 120), np.float32)
    for r0, c0 in ((40, 30), (40, 90)):
        img[(rr - r0) ** 2 + (cc - c0) ** 2 <= 100] = 100.0
    det = segment_ish_nuclei(img, pixel_size_um=0.2, grid_um=None, min_area_um2=5.0)
    assert isinstance(det, NucleusDetection)
    assert det.n_nuclei == 2 and det.labels.shape == (80, 120)
    assert det.image_kind == "dapi_intensity" and np.isnan(det.threshold_od)
    assert det.threshold_source == "otsu" and det.pixel_size_um == 0.2
    assert det.nucleus_diameter_um is None and det.parameters["grid_factor"] == 1
    np.testing.assert_allclose(det.areas_um2, [13.9, 13.9], atol=0.5)
    np.testing.assert_allclose(sorted(det.centroids_rc[:, 1]), [30.0, 90.0], atol=0.5)

"""Stain separation against known vectors and optical densities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging.color.hdab import (
    STANDARD_HDAB_MATRIX,
    estimate_stain_vectors,
    separate_stains,
    stain_matrix_from_vectors,
)
from her2kit.imaging.color.od import IHC_DARKEST_INTENSITY, od_lookup_table, rgb_to_od
from her2kit.imaging.color.stains import DAB_OD_RGB, HEMATOXYLIN_OD_RGB
from her2kit.synthetic.ihc import generate_ihc_region


def _angle(a, b):
    c = np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)
    return math.degrees(math.acos(min(1.0, max(-1.0, c))))


def _render(h_od, d_od, matrix, background=255.0):
    od = h_od[..., None] * matrix[0] + d_od[..., None] * matrix[1]
    return np.clip(np.rint(background * 10.0 ** (-od)), 0, 255).astype(np.uint8)


def test_od_lookup_table_is_base10_and_clipped():
    lut = od_lookup_table((255, 240, 200), darkest_intensity=IHC_DARKEST_INTENSITY)
    assert lut.shape == (3, 256) and lut.dtype == np.float32
    # Independent values: I = I0/10 -> OD 1; I = I0 -> 0; brighter than I0 -> 0.
    assert lut[0, 255] == pytest.approx(0.0)
    assert lut[1, 24] == pytest.approx(1.0, abs=1e-6)
    assert lut[2, 20] == pytest.approx(1.0, abs=1e-6)
    assert lut[2, 255] == 0.0
    assert lut[0, 0] == pytest.approx(math.log10(255 / 0.5), rel=1e-6)


@pytest.mark.parametrize("jitter", [0.0, 12.0])
def test_separation_recovers_known_od_over_full_range(jitter):
    # A grid of H and DAB amounts spanning 0–1.5 OD each (not just the easy low range).
    rng = np.random.default_rng(3)
    h_vec = HEMATOXYLIN_OD_RGB + jitter / 100 * rng.normal(size=3)
    d_vec = DAB_OD_RGB + jitter / 100 * rng.normal(size=3)
    matrix = stain_matrix_from_vectors(np.abs(h_vec), np.abs(d_vec))
    h, d = np.meshgrid(np.linspace(0, 1.5, 64), np.linspace(0, 1.5, 64), indexing="ij")
    rgb = _render(h, d, matrix)
    res = separate_stains(rgb, stain_matrix=matrix)
    # 8-bit quantisation limits precision: |dOD| = 0.5/(I ln10) per channel, so allow
    # more where the pixel is dark (total OD up to ~3 gives I ~ 1-5).
    dark = (h + d) > 2.0
    assert np.max(np.abs(res.dab_od - d)[~dark]) < 0.03
    assert np.max(np.abs(res.hematoxylin_od - h)[~dark]) < 0.03
    assert np.median(np.abs(res.dab_od - d)[dark]) < 0.08
    assert res.dab_od.dtype == np.float32
    assert not res.estimated


def test_standard_vectors_match_ruifrok_johnston():
    assert np.allclose(
        STANDARD_HDAB_MATRIX[0], HEMATOXYLIN_OD_RGB / np.linalg.norm(HEMATOXYLIN_OD_RGB)
    )
    assert np.allclose(STANDARD_HDAB_MATRIX[1], DAB_OD_RGB / np.linalg.norm(DAB_OD_RGB))
    assert _angle(STANDARD_HDAB_MATRIX[0], [0.65, 0.704, 0.286]) < 0.01
    assert abs(np.dot(STANDARD_HDAB_MATRIX[2], STANDARD_HDAB_MATRIX[0])) < 1e-9


def test_rgb_to_od_matches_formula():
    rgb = np.array([[[255, 25, 128]]], np.uint8).repeat(16, 0).repeat(16, 1)
    od = rgb_to_od(rgb, darkest_intensity=IHC_DARKEST_INTENSITY)
    assert od[0, 0] == pytest.approx([0.0, math.log10(255 / 25), math.log10(255 / 128)], abs=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_estimation_recovers_jittered_vectors(seed):
    # Measured on these regions: H within ~3°, DAB within ~7° of the truth.
    s = generate_ihc_region(
        shape_px=(512, 512),
        pixel_size_um=0.5,
        target_score="3+",
        seed=seed,
        stain_jitter_deg=10.0,
        jpeg_quality=90,
    )
    est = estimate_stain_vectors(s.image)
    assert est.estimated, est.fallback_reason
    assert _angle(est.stain_matrix[0], s.stain_matrix[0]) < 5.0
    assert _angle(est.stain_matrix[1], s.stain_matrix[1]) < 10.0


def test_estimation_falls_back_without_dab():
    s = generate_ihc_region(shape_px=(256, 256), pixel_size_um=0.5, target_score="0", seed=4)
    res = separate_stains(s.image)
    assert not res.estimated
    assert "too little DAB" in res.fallback_reason
    assert np.array_equal(res.stain_matrix, STANDARD_HDAB_MATRIX)


def test_estimation_rejects_a_non_dab_second_stain():
    # Hematoxylin plus a purple chromogen 30° from DAB, tilted out of the H-DAB plane.
    d_u, resid = STANDARD_HDAB_MATRIX[1], STANDARD_HDAB_MATRIX[2]
    other = math.cos(math.radians(30)) * d_u + math.sin(math.radians(30)) * resid
    assert np.all(other > 0) and abs(_angle(other, d_u) - 30) < 1e-6
    matrix = stain_matrix_from_vectors(HEMATOXYLIN_OD_RGB, other)
    rng = np.random.default_rng(0)
    h = np.where(rng.random((128, 128)) < 0.5, rng.uniform(0.3, 0.8, (128, 128)), 0.0)
    d = np.where(h == 0, rng.uniform(0.3, 0.8, (128, 128)), 0.0)
    est = estimate_stain_vectors(_render(h, d, matrix))
    assert not est.estimated
    assert "DAB" in est.fallback_reason and "from standard" in est.fallback_reason


def test_parallel_vectors_refused():
    with pytest.raises(Her2kitInputError, match="apart"):
        stain_matrix_from_vectors([0.6, 0.7, 0.3], [0.6, 0.7, 0.301])


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((32, 32), np.uint8), "grayscale"),
        (np.zeros((32, 32, 4), np.uint8), "RGBA"),
        (np.zeros((32, 32, 3), np.uint16), "16-bit"),
        (np.zeros((32, 32, 3), np.float32), "uint8"),
        (np.zeros((4, 4, 3), np.uint8), "too small"),
    ],
)
def test_bad_images_refused(image, message):
    with pytest.raises(ImageInputError, match=message):
        separate_stains(image)


def test_bad_background_refused():
    with pytest.raises(Her2kitInputError, match="background_rgb"):
        od_lookup_table((0, 255, 255), darkest_intensity=IHC_DARKEST_INTENSITY)

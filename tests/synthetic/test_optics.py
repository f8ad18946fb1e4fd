"""The shared optics of the generators: Beer-Lambert, illumination, blur, points, camera."""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.synthetic import optics


def test_beer_lambert_transmission_and_mixing():
    # OD 1 passes a tenth of the light, OD 2 a hundredth; stains add in OD.
    od = np.array([[[0.0, 1.0, 2.0]]])
    got = optics.transmitted_intensity(od, incident=255.0)
    assert got[0, 0].tolist() == pytest.approx([255.0, 25.5, 2.55])
    amount_a = np.array([[0.5]])
    amount_b = np.array([[0.25]])
    mixed = optics.mix_stains([(amount_a, np.array([1.0, 0.0, 0.0])),
                               (amount_b, np.array([0.0, 2.0, 4.0]))])  # fmt: skip
    assert mixed.shape == (1, 1, 3)
    assert mixed[0, 0].tolist() == [0.5, 0.5, 1.0]


def test_transmission_keeps_float32():
    od = np.full((2, 2, 3), 0.3, np.float32)
    assert optics.transmitted_intensity(od, incident=np.float32(250.0)).dtype == np.float32


def test_to_uint8_rounds_and_clips():
    got = optics.to_uint8(np.array([-3.0, 0.4, 0.6, 2.5, 254.6, 300.0]))
    assert got.dtype == np.uint8
    assert got.tolist() == [0, 0, 1, 2, 255, 255]  # rint: halves to even


def test_splat_is_bilinear_and_keeps_the_total():
    out = optics.splat((4, 5), np.array([1.25]), np.array([2.5]), np.array([8.0]))
    assert out.sum() == pytest.approx(8.0)
    assert out[1, 2] == pytest.approx(3.0)  # 8 * 0.75 * 0.5
    assert out[1, 3] == pytest.approx(3.0)
    assert out[2, 2] == pytest.approx(1.0)  # 8 * 0.25 * 0.5
    assert out[2, 3] == pytest.approx(1.0)
    assert optics.splat((3, 3), np.zeros(0), np.zeros(0), np.zeros(0)).sum() == 0


def test_point_sources_keep_energy_and_defocus_lowers_the_peak():
    shape = (41, 41)
    rows, cols, w = np.array([20.0, 20.0]), np.array([10.0, 30.0]), np.array([100.0, 100.0])
    img = optics.render_point_sources(
        shape, rows, cols, w, selected=np.array([True, True]),
        defocused=np.array([False, True]), dz=np.zeros(2, int), sigma_px=1.5,
        defocus_sigma_px=3.0,
    )  # fmt: skip
    assert img.sum() == pytest.approx(200.0, rel=1e-3)
    assert img[20, 30] < img[20, 10] / 2
    none = optics.render_point_sources(
        shape, rows, cols, w, selected=np.zeros(2, bool), defocused=np.zeros(2, bool),
        dz=np.zeros(2, int), sigma_px=1.5, defocus_sigma_px=3.0,
    )  # fmt: skip
    assert not none.any()


def test_focus_blur_blurs_defocused_pixels_more():
    image = np.zeros((31, 62))
    image[15, 15] = image[15, 46] = 1.0
    defocused = np.zeros(image.shape, bool)
    defocused[:, 31:] = True
    out = optics.focus_blur(image, defocused, sigma_um=0.25, pixel_size_um=0.25)
    assert out[15, 46] < out[15, 15] / 4


def test_illumination():
    rng = np.random.default_rng(0)
    flat = optics.radial_illumination((4, 6), level=250.0, falloff=0.0, rng=rng)
    assert flat.dtype == np.float32 and np.all(flat == 250.0)
    # A flat field draws nothing from the generator.
    assert rng.random() == np.random.default_rng(0).random()
    uneven = optics.radial_illumination((40, 60), level=250.0, falloff=0.2, rng=rng)
    assert uneven.max() <= 250.0 and uneven.min() >= 250.0 * 0.8
    ramp = optics.linear_illumination((2, 4), rise=0.4)
    assert ramp[0].tolist() == pytest.approx([1.0, 1.1, 1.2, 1.3])


def test_stain_vector_jitter_stays_within_the_angle():
    v = np.array([0.650, 0.704, 0.286])
    unit = v / np.linalg.norm(v)
    rng = np.random.default_rng(1)
    assert optics.jitter_stain_vector(v, 0.0, rng) == pytest.approx(unit)
    for _ in range(20):
        w = optics.jitter_stain_vector(unit, 10.0, rng)
        assert np.linalg.norm(w) == pytest.approx(1.0)
        assert np.degrees(np.arccos(min(1.0, float(w @ unit)))) <= 10.0 + 1e-9
        assert np.all(w > 0.02)


def test_camera_and_photon_noise_and_jpeg():
    rng = np.random.default_rng(2)
    noise = optics.camera_noise((200, 200), 3.0, rng, dtype=np.float32)
    assert noise.dtype == np.float32 and abs(float(noise.std()) - 3.0) < 0.1
    counts = optics.photon_counts(np.full((100, 100), 400.0), rng)
    assert counts.dtype == np.uint16 and abs(float(counts.std()) - 20.0) < 1.0
    assert optics.photon_counts(np.full((2, 2), 1e6), rng).max() == 65535
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, 13:] = (200, 40, 90)  # an edge inside an 8x8 block, a saturated colour
    out = optics.jpeg_round_trip(image, 50)
    assert out.dtype == np.uint8 and out.shape == image.shape and out.flags.writeable
    assert not np.array_equal(out, image)
    assert np.abs(out.astype(int) - image).mean() < 10

"""Dual ISH from JPEG (branch jpeg): the degradation is detected, recorded and adapted to.

The real-field tests downscale a tuning field of the hand-counted reference
(tests/data/ish_reference: DISH1 / DISH3, the project's own counts, not an expert's) to
0.25 µm/px and put it through a JPEG round trip (quality 80, colour at half resolution,
4:2:0: how scanners' tiles and exported regions are usually stored), and check the
issue-11 targets literally: the ratio within 15 % of the hand ratio and on the same side
of 2.0, HER2 and CEP17 within ±1 for >= 80 % of the nuclei without clusters.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging.ish import JpegSource, count_brightfield_ish
from her2kit.imaging.ish.count import JPEG_CHROMA_SIGMA_PX, _jpeg_chroma_amounts, _stain_amounts
from her2kit.imaging.ish.jpeg import (
    CHROMA_420_MAX_DETAIL,
    JPEG_BLOCKINESS_MIN,
    JPEG_MIN_SAFE_QUALITY,
    JPEG_SAFE_MAX_PIXEL_SIZE_UM,
    assess_jpeg,
    chroma_detail,
    jpeg_blockiness,
)
from her2kit.io.fish import read_jpeg_source


def _jpeg(rgb, quality, subsampling):
    """(decoded image, header as the io layer reads it) after a JPEG round trip."""
    from benchmarks.ish_scale import jpeg_round_trip

    return jpeg_round_trip(rgb, quality, subsampling=subsampling)


def _stepped(step_ratio, size=128):
    """Grey image whose neighbouring-pixel steps are 10 grey levels, and 10 x
    ``step_ratio`` across every 8th column and row: blockiness exactly ``step_ratio``."""
    a = np.empty(size)
    a[0] = 100.0
    for j in range(size - 1):
        step = 10.0 * step_ratio if j % 8 == 7 else 10.0
        a[j + 1] = a[j] + (step if j % 2 == 0 else -step)
    lum = a[:, None] + a[None, :] - 100.0
    return np.repeat(np.clip(lum, 0, 255)[..., None], 3, axis=-1).astype(np.float32)


# --------------------------------------------------------------------------- constants
@pytest.mark.parametrize("ratio, jpeg", [(1.14, False), (1.16, True)])
def test_blockiness_boundary_decides_jpeg_for_arrays(ratio, jpeg):
    assert JPEG_BLOCKINESS_MIN == 1.15
    img = _stepped(ratio)
    assert jpeg_blockiness(img) == pytest.approx(ratio, abs=1e-4)
    a = assess_jpeg(img, pixel_size_um=0.25)
    assert a.degraded is jpeg and a.source == ("image" if jpeg else "none")
    assert a.quality is None and a.subsampling is None


@pytest.mark.parametrize("pixel_size_um, degraded", [(0.08, False), (0.0801, True)])
def test_safe_pixel_size_boundary(pixel_size_um, degraded):
    assert JPEG_SAFE_MAX_PIXEL_SIZE_UM == 0.08
    img = _stepped(1.0)
    a = assess_jpeg(img, pixel_size_um=pixel_size_um,
                    jpeg_source=JpegSource(quality=80, subsampling="4:2:0"))
    assert a.degraded is degraded and a.source == "file"


@pytest.mark.parametrize("quality, subsampling, degraded", [
    (95, "4:4:4", False), (94, "4:4:4", True), (100, "4:2:0", True), (100, "4:2:2", True),
    (None, "4:4:4", True), (95, None, True)])
def test_safe_quality_boundary_and_subsampling(quality, subsampling, degraded):
    assert JPEG_MIN_SAFE_QUALITY == 95
    a = assess_jpeg(_stepped(1.0), pixel_size_um=0.25,
                    jpeg_source=JpegSource(quality=quality, subsampling=subsampling))
    assert a.degraded is degraded
    assert a.parameters()["jpeg_quality"] == quality


def test_lossless_array_is_not_jpeg():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
    assert jpeg_blockiness(img) < 1.1
    assert not assess_jpeg(img, pixel_size_um=0.25).degraded


@pytest.mark.parametrize("bad", [dict(quality=0, subsampling=None),
                                 dict(quality=101, subsampling=None),
                                 dict(quality=80.0, subsampling=None),
                                 dict(quality=80, subsampling="4:1:1")])
def test_jpeg_source_is_validated(bad):
    with pytest.raises(Her2kitInputError):
        JpegSource(**bad)


def test_assess_refuses_other_sources_and_tiny_images():
    with pytest.raises(Her2kitInputError):
        assess_jpeg(_stepped(1.0), pixel_size_um=0.25, jpeg_source={"quality": 80})
    with pytest.raises(Her2kitInputError):
        jpeg_blockiness(np.zeros((8, 64, 3)))


# --------------------------------------------------------------------------- io
@pytest.mark.parametrize("quality", [30, 80, 95])
@pytest.mark.parametrize("subsampling, name", [(0, "4:4:4"), (1, "4:2:2"), (2, "4:2:0")])
def test_read_jpeg_source_from_file(tmp_path, quality, subsampling, name):
    rng = np.random.default_rng(0)
    p = tmp_path / "f.jpg"
    Image.fromarray(rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)).save(
        p, format="JPEG", quality=quality, subsampling=subsampling)
    assert read_jpeg_source(p) == JpegSource(quality=quality, subsampling=name)


def test_read_jpeg_source_png_and_garbage(tmp_path):
    p = tmp_path / "f.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(p)
    assert read_jpeg_source(p) is None
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageInputError, match=r"bad\.jpg"):
        read_jpeg_source(bad)


# --------------------------------------------------------------------------- adaptation
def _red_dot_field():
    """A hematoxylin nucleus (0.3 OD) with 1-px-radius fast-red dots (1.2 OD, no
    silver) on clear glass at 225, by Beer-Lambert from the published stain vectors."""
    from her2kit.imaging.color.stains import STAIN_VECTORS

    yy, xx = np.mgrid[:64, :64]
    od = np.zeros((64, 64, 3))
    od[(yy - 32) ** 2 + (xx - 32) ** 2 < 18 ** 2] += 0.3 * np.asarray(
        STAIN_VECTORS["hematoxylin"])
    for r, c in RED_DOTS:
        od[(yy - r) ** 2 + (xx - c) ** 2 < 1.1] += 1.2 * np.asarray(STAIN_VECTORS["fast_red"])
    rng = np.random.default_rng(3)
    rgb = 225.0 * np.exp(-od) + rng.normal(0, 1.0, od.shape)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


RED_DOTS = ((25, 25), (25, 40), (40, 30), (38, 43))


def test_chroma_adaptation_moves_a_4_2_0_red_dots_darkness_back_to_red():
    from her2kit.imaging.color.stains import DUAL_ISH_STAINS, STAIN_VECTORS

    assert JPEG_CHROMA_SIGMA_PX == 1.0
    img, _ = _jpeg(_red_dot_field(), 80, 2)
    vectors = {"nuclei": STAIN_VECTORS[DUAL_ISH_STAINS["nuclei"]],
               "her2": STAIN_VECTORS[DUAL_ISH_STAINS["her2"]],
               "cep17": STAIN_VECTORS[DUAL_ISH_STAINS["cep17"]]}
    kw = dict(vectors=vectors, background_rgb=(225.0, 225.0, 225.0),
              nuclei_reference=vectors["nuclei"])
    plain, _ = _stain_amounts(img, assay="dual-ish", **kw)
    adapted = _jpeg_chroma_amounts(img, plain, **kw)
    lossless, _ = _stain_amounts(_red_dot_field(), assay="dual-ish", **kw)

    def at_dots(a):
        return float(np.mean([a[rc] for rc in RED_DOTS]))

    # 4:2:0 spreads each dot's redness over 2x2 px while its darkness stays sharp: the
    # red amount at the dots falls and their cores read as silver ...
    assert at_dots(plain["her2"]) > at_dots(lossless["her2"]) + 0.1
    assert at_dots(plain["cep17"]) < 0.6 * at_dots(lossless["cep17"])
    # ... and the adaptation takes red's share at the colour's resolution out of it
    # (measured: silver 0.32 -> 0.24 OD here; -0.01 lossless).
    assert at_dots(adapted["her2"]) < 0.8 * at_dots(plain["her2"])
    assert np.array_equal(adapted["nuclei"], plain["nuclei"])


def test_flag_and_parameters_recorded_for_a_4_2_0_file_at_0_25():
    img, header = _jpeg(_red_dot_field(), 80, 2)
    res = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=0.25, jpeg_source=header)
    p = res.parameters
    assert "jpeg_degraded" in res.image_flags and res.quality_shares["jpeg_degraded"] == 1.0
    assert (p["jpeg_degraded"], p["jpeg_source"], p["jpeg_quality"], p["jpeg_subsampling"],
            p["jpeg_chroma_adapted"], p["jpeg_chroma_sigma_px"]) == (
        True, "file", 80, "4:2:0", True, 1.0)
    assert p["jpeg_chroma_spacing_um"] == 0.5
    fine = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=0.065,
                                 jpeg_source=header)
    assert "jpeg_degraded" not in fine.image_flags
    assert fine.parameters["jpeg_chroma_adapted"] is False
    full, h444 = _jpeg(_red_dot_field(), 80, 0)
    r444 = count_brightfield_ish(full, assay="dual-ish", pixel_size_um=0.25, jpeg_source=h444)
    # Degraded (quality < 95) but the colour is at full resolution: flagged, not adapted.
    assert "jpeg_degraded" in r444.image_flags
    assert r444.parameters["jpeg_chroma_adapted"] is False


@pytest.mark.parametrize("pixel_size_um, adapted", [(0.149, False), (0.15, True)])
def test_chroma_adaptation_starts_where_colour_spacing_reaches_a_dot(pixel_size_um, adapted):
    # 4:2:0 colour every 2 px >= the dot's s.d. (spot_sigma_um, 0.3 µm by default).
    img, header = _jpeg(_red_dot_field(), 80, 2)
    res = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=pixel_size_um,
                                jpeg_source=header)
    assert "jpeg_degraded" in res.image_flags
    assert res.parameters["jpeg_chroma_adapted"] is adapted


# --------------------------------------------------------------------------- real fields
def _jpeg_agreement(real_data, quality):
    """As tests/imaging/ish/test_pixel_size.py, after a JPEG round trip (4:2:0) whose
    header is passed on as ``count-ish FILE.jpg`` does."""
    from .test_pixel_size import _coarse_agreement

    return _coarse_agreement(real_data, jpeg_quality=quality)


# After merging silver025 with amp, gen025 and nuclei025 (lead, 2026-12-01): quality 80
# reads DISH1 1.39 and DISH3 1.13, quality 95 1.21 and 1.22 (1.26 and 1.11 by hand);
# branch redjpeg (CEP17 from JPEG read less low): quality 80 1.39 / 0.96, 95 1.21 / 1.20.
@pytest.mark.parametrize("quality", [80, pytest.param(95, marks=pytest.mark.xfail(
    strict=True, reason=(
        "branch dish3clust: at quality 95 DISH1 reads 1.03 (1.26 by hand; DISH3 1.13, "
        "1.05 since the 2026-12-02 merges): "
        "its 1.21 before came from one dark silver dot whose mask spread over nuclear "
        "texture, read as a 7-copy cluster (the nucleus at 87/347 of the 0.25 µm/px "
        "image, 2 HER2 by hand: 7 before, 1 now, silver_plateau_area_per_peak); HER2 "
        "reads 1.48 per found nucleus for 1.79 by hand (silver dots beside red dots "
        "missed, as the per-nucleus xfail below says)")))])
def test_tuning_fields_from_jpeg_at_0_25_keep_their_ratios(real_data, quality):
    # Issue 11's ratio target at 0.25 µm/px from a 4:2:0 JPEG: each found ratio on the
    # hand ratio's side of 2.0 (DISH1 1.26, DISH3 1.11 by hand) and within 15 % of it.
    # Before branch jpeg, quality 80: 1.86 and 1.68; quality 95: 1.42 and 1.54.
    _, _, ratios, flags = _jpeg_agreement(real_data, quality)
    assert flags == [True, True]
    for got, ref in ratios.values():
        assert (got >= 2.0) == (ref >= 2.0) and abs(got - ref) <= 0.15 * ref, ratios


@pytest.mark.xfail(strict=True, reason=(
    "branch silver025: at 0.25 µm/px from JPEG quality 80 4:2:0, HER2 within ±1 is 24 of 38 "
    "nuclei (63 %; 27 without the silver threshold's pixel-size correction, 23 before branch "
    "jpeg; 27 after the lead's merges), CEP17 30 of 38 (79 %; 33 of 38 since branch "
    "redjpeg): on DISH1 the red vector is estimated 18 degrees off the "
    "lossless one ((0.31, 0.88, 0.37) for (0.16, 0.98, 0.12)) but fits the JPEG colours "
    "(counted with the lossless vector CEP17 reads 1.13 per found nucleus, 1.35 with its "
    "own; branch redjpeg), matched silver dots read "
    "x 1.67 and 39 new silver maxima appear in nuclei (1 beside a red dot), 5 "
    "hand-counted nuclei merge into 2; DISH3 loses 47 of 145 silver dots, closer to red dots "
    "(median 1.5 µm) than those kept (2.3 µm); benchmarks/README.md, silver025"))
def test_tuning_fields_from_jpeg_at_0_25_per_nucleus_within_one(real_data):
    her2, cep17, _, _ = _jpeg_agreement(real_data, 80)
    assert her2 >= 0.8 and cep17 >= 0.8, (her2, cep17)


@pytest.mark.parametrize(("photometric", "subsampling", "name"), [
    ("ycbcr", (2, 2), "4:2:0"), ("ycbcr", (2, 1), "4:2:2"), ("ycbcr", (1, 1), "4:4:4")])
def test_tiff_jpeg_source_reads_the_frame_header(tmp_path, photometric, subsampling, name):
    import tifffile

    rng = np.random.default_rng(0)
    p = tmp_path / "region.tif"
    kw = {} if subsampling is None else {"subsampling": subsampling}
    tifffile.imwrite(p, rng.integers(0, 256, (128, 128, 3)).astype(np.uint8), tile=(64, 64),
                     photometric=photometric, compression="jpeg",
                     compressionargs={"level": 80}, **kw)
    got = read_jpeg_source(p)  # a TIFF goes through tiff_jpeg_source
    assert got is not None and got.subsampling == name
    assert got.quality in (None, 80)


def test_tiff_jpeg_source_none_for_other_compression_and_garbage(tmp_path):
    import tifffile

    from her2kit.io.fish import tiff_jpeg_source

    p = tmp_path / "lossless.tif"
    tifffile.imwrite(p, np.zeros((64, 64, 3), np.uint8), compression="zlib")
    assert read_jpeg_source(p) is None
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00garbage")
    assert tiff_jpeg_source(bad) is None


def test_tiff_jpeg_source_of_a_real_aperio_slide(real_data):
    from her2kit.io.fish import tiff_jpeg_source

    # CMU-1-Small-Region.svs: its ImageDescription says "JPEG/RGB Q=30" (no chroma
    # subsampling in an RGB JPEG).
    path = real_data("wsi_real_small") / "CMU-1-Small-Region.svs"
    assert tiff_jpeg_source(path) == JpegSource(quality=30, subsampling="4:4:4")



# ----------------------------------------------------------- 4:2:0 colour from the pixels
def _blocky_colour_noise(detail, size=128):
    """Float RGB: JPEG-like 8x8 block steps in luminance plus white YCbCr noise whose
    chroma is scaled so that :func:`chroma_detail` is exactly ``detail``."""
    rng = np.random.default_rng(4)
    y = 128 + 8 * rng.standard_normal((size, size))
    y += np.kron(rng.choice([-6.0, 6.0], (size // 8, size // 8)), np.ones((8, 8)))
    cb, cr = rng.standard_normal((2, size, size))

    def rgb(k):
        ycc = np.stack([y, k * cb, k * cr], axis=-1)
        inv = np.linalg.inv(np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5],
                                      [0.5, -0.418688, -0.081312]]))
        return (ycc @ inv.T).astype(np.float32)

    k = detail / chroma_detail(rgb(1.0))  # the detail is linear in the chroma's scale
    return rgb(k)


@pytest.mark.parametrize(("detail", "sub"), [(0.32, "4:2:0"), (0.34, None)])
def test_chroma_detail_boundary_decides_4_2_0_for_blocky_arrays(detail, sub):
    assert CHROMA_420_MAX_DETAIL == 0.33
    img = _blocky_colour_noise(detail)
    assert chroma_detail(img) == pytest.approx(detail, rel=1e-3)
    a = assess_jpeg(img, pixel_size_um=0.25)
    assert a.source == "image" and a.degraded
    assert a.subsampling == sub
    assert a.parameters()["jpeg_chroma_detail"] == pytest.approx(detail, abs=1e-3)


def test_chroma_detail_is_not_asked_without_jpeg_blocks():
    a = assess_jpeg(_stepped(1.0), pixel_size_um=0.25)
    assert a.source == "none" and a.subsampling is None and a.chroma_detail is None


@pytest.mark.parametrize(("subsampling", "expected"), [(2, "4:2:0"), (1, None), (0, None)])
def test_real_field_exported_without_its_header(real_data, subsampling, expected):
    # DISH1 at 0.25 µm/px through JPEG 80, passed as pixels (a PNG of a JPEG source):
    # measured 4:2:0 0.23, 4:2:2 0.37 and 4:4:4 0.56 (JPEG_BLOCKINESS_MIN met by all).
    from benchmarks.ish_scale import downscale

    rgb = np.asarray(Image.open(real_data("her2_fish_dish_pcm") / "DISH" / "DISH1.jpg")
                     .convert("RGB"))
    img, _ = _jpeg(downscale(rgb, 0.065 / 0.25), 80, subsampling)
    a = assess_jpeg(img, pixel_size_um=0.25)
    assert a.source == "image" and a.subsampling == expected, a


def test_real_fields_without_header_count_as_with_it(real_data):
    # The tuning fields at 0.25 µm/px from JPEG 80 4:2:0, counted from the pixels alone,
    # give the counts of the same JPEG read with its header (ratio 1.39 / 1.13 against
    # 1.26 / 1.11 by hand; 2.22 / 1.97 before the pixels were asked, benchmarks
    # ish_metamorphic "no_header").
    from benchmarks.ish_scale import downscale

    for name in ("DISH1", "DISH3"):
        rgb = np.asarray(Image.open(real_data("her2_fish_dish_pcm") / "DISH" / f"{name}.jpg")
                         .convert("RGB"))
        img, header = _jpeg(downscale(rgb, 0.065 / 0.25), 80, 2)
        bare = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=0.25)
        told = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=0.25,
                                     jpeg_source=header)
        assert bare.parameters["jpeg_chroma_adapted"] is True
        assert bare.ratio == pytest.approx(told.ratio, abs=1e-9)

"""The slide reader on every real file of ../shared/data/real/wsi_real_small and on
OME-TIFF pyramids written here.

Expected values are literals: sizes, levels and pixel sizes from the folder's SOURCE.md
and LABELS.csv; colours are 16 x 16 block means decoded independently with tifffile and
imagecodecs (not OpenSlide) from the same files.
"""

from __future__ import annotations

import hashlib
import pickle
import shutil

import numpy as np
import pytest

from her2kit.errors import ImageInputError
from her2kit.io.slides import SlideLevel, check_brightfield_slide, open_slide

pytest.importorskip("openslide")
tifffile = pytest.importorskip("tifffile")

CMU = "CMU-1-Small-Region.svs"
TCGA = "tcga-cr-7395-01a-01-ts1.svs"
NDPI = "test3-DAPI-2-(387).ndpi"
DICOM = "dicom_cmu1_small_region"

SHA256 = {
    CMU: "ed92d5a9f2e86df67640d6f92ce3e231419ce127131697fbbce42ad5e002c8a7",
    TCGA: "77da93f125bfc55570b9731af309b81904dc2648722103d7c3bf5db4f8a6a365",
    NDPI: "9294d31f304f20ef1df1e08650d3f225b8ed44db8b2dc0d52f584449f85bdca2",
}

# (name, assume, vendor, n levels, level-0 (w, h), µm/px) from SOURCE.md / LABELS.csv.
METADATA = [
    (CMU, None, "aperio", 1, (2220, 2967), 0.499),
    (TCGA, 0.25, "aperio", 2, (4443, 3567), 0.25),
    (NDPI, None, "hamamatsu", 7, (3968, 4864), 0.228),
    (DICOM, None, "dicom", 5, (2220, 2967), 0.499),
]

# 16 x 16 block means at level-0 (x, y), RGB, decoded with tifffile.
CMU_TISSUE = ((1000, 1500), (217.3, 171.8, 197.6))
CMU_GLASS = ((200, 200), (242.9, 242.0, 243.0))
NDPI_NUCLEUS = ((1000, 1500), (0.6, 0.6, 171.7))
TCGA_TISSUE = ((1500, 2500), (197.9, 81.9, 135.2))


@pytest.fixture
def wsi(real_data):
    return real_data("wsi_real_small")


def _block_mean(image: np.ndarray) -> np.ndarray:
    return image.reshape(-1, 3).mean(axis=0)


@pytest.mark.parametrize("name", sorted(SHA256))
def test_real_files_are_the_documented_ones(wsi, name):
    assert hashlib.sha256((wsi / name).read_bytes()).hexdigest() == SHA256[name]


@pytest.mark.parametrize(("name", "assume", "vendor", "n_levels", "size", "mpp"), METADATA)
def test_metadata_of_every_real_slide(wsi, name, assume, vendor, n_levels, size, mpp):
    with open_slide(wsi / name, assume_mpp_um=assume) as slide:
        assert slide.vendor == vendor
        assert len(slide.levels) == n_levels
        assert slide.dimensions == size
        assert (slide.levels[0].width, slide.levels[0].height) == size
        assert slide.pixel_size_um == pytest.approx(mpp, rel=2e-3)
        assert slide.levels[0] == SlideLevel(0, size[0], size[1], 1.0, slide.pixel_size_um)
        for lvl in slide.levels:
            assert lvl.pixel_size_um == pytest.approx(slide.pixel_size_um * lvl.downsample)
        assert slide.pixel_size_assumed is (assume is not None)
        with pytest.raises(TypeError):
            slide.properties["openslide.vendor"] = "x"


def test_ndpi_pyramid_halves_each_level(wsi):
    with open_slide(wsi / NDPI) as slide:
        assert [(lv.width, lv.height) for lv in slide.levels] == [
            (3968, 4864), (1984, 2432), (992, 1216), (496, 608), (248, 304), (124, 152),
            (62, 76)]
        assert [lv.downsample for lv in slide.levels] == [1, 2, 4, 8, 16, 32, 64]
        assert slide.pixel_size_source == "file (hamamatsu MPP)"


def test_slide_without_pixel_size_is_refused_unless_assumed(wsi):
    with pytest.raises(ImageInputError) as err:
        open_slide(wsi / TCGA)
    assert str(err.value) == (f"{wsi / TCGA}: the slide does not record its pixel size; "
                              "give --assume-mpp (µm per pixel)")
    with open_slide(wsi / TCGA, assume_mpp_um=0.5) as slide:
        assert slide.pixel_size_source == "--assume-mpp"
        assert slide.pixel_size_assumed
        assert slide.levels[1].pixel_size_um == pytest.approx(0.5 * 4443 / 2221, rel=1e-3)
        # JPEG 2000 tiles decode to the colours tifffile gives.
        (x, y), rgb = TCGA_TISSUE
        assert _block_mean(slide.read_region((x, y), (16, 16))) == pytest.approx(rgb, abs=0.2)


@pytest.mark.parametrize("bad", [0, -0.25, float("nan"), float("inf"), "abc"])
def test_assumed_pixel_size_must_be_positive(wsi, bad):
    with pytest.raises(ImageInputError, match="--assume-mpp must be a"):
        open_slide(wsi / TCGA, assume_mpp_um=bad)


def test_assumed_pixel_size_must_agree_with_the_file(wsi):
    with pytest.raises(ImageInputError, match=r"--assume-mpp 0\.25 contradicts .* \(0\.499 "):
        open_slide(wsi / CMU, assume_mpp_um=0.25)
    with open_slide(wsi / CMU, assume_mpp_um=0.503) as slide:  # within 1 %: the file's
        assert slide.pixel_size_um == 0.499
        assert not slide.pixel_size_assumed
        assert slide.pixel_size_source == "file (aperio MPP)"


@pytest.mark.parametrize(("xy", "rgb"), [CMU_TISSUE, CMU_GLASS])
def test_known_colours_of_the_svs(wsi, xy, rgb):
    with open_slide(wsi / CMU) as slide:
        region = slide.read_region(xy, (16, 16))
        assert region.shape == (16, 16, 3) and region.dtype == np.uint8
        assert region.flags.c_contiguous
        assert _block_mean(region) == pytest.approx(rgb, abs=0.2)
        # read_at at the native pixel size is the same read
        assert np.array_equal(slide.read_at(0.499, xy, (16, 16)), region)
        # two times coarser: 8 x 8 output px over the same 16 x 16 block, same mean
        coarse = slide.read_at(0.998, xy, (8, 8))
        assert coarse.shape == (8, 8, 3)
        assert _block_mean(coarse) == pytest.approx(rgb, abs=0.6)


def test_known_colour_agrees_across_the_ndpi_levels(wsi):
    (x, y), rgb = NDPI_NUCLEUS
    with open_slide(wsi / NDPI) as slide:
        assert _block_mean(slide.read_region((x, y), (16, 16))) == pytest.approx(rgb, abs=0.2)
        for level, side in ((1, 8), (2, 4)):
            got = slide.read_region((x, y), (side, side), level=level)
            assert _block_mean(got) == pytest.approx(rgb, abs=6)
            at = slide.read_at(slide.levels[level].pixel_size_um, (x, y), (side, side))
            assert np.array_equal(at, got)  # the level itself, not resampled


def test_level_for_picks_the_coarsest_level_not_coarser_than_asked(wsi):
    with open_slide(wsi / NDPI) as slide:  # 0.22818 µm/px, levels x1 .. x64
        assert slide.level_for(0.2282 * 4) == 2
        assert slide.level_for(0.90) == 1  # level 2 (0.9127) is 1.4 % coarser: too far
        assert slide.level_for(0.905) == 2  # 0.85 % coarser: within 1 %
        assert slide.level_for(0.1) == 0
        assert slide.level_for(100.0) == 6


def test_dicom_through_a_file_and_through_its_folder(wsi):
    folder = wsi / DICOM
    one_file = sorted(folder.glob("*.dcm"))[0]
    (x, y), rgb = CMU_TISSUE
    with open_slide(folder) as by_dir, open_slide(one_file) as by_file:
        assert by_dir.vendor == by_file.vendor == "dicom"
        assert by_dir.path == folder
        assert [lv.width for lv in by_dir.levels] == [2220, 1110, 555, 278, 139]
        assert by_dir.levels == by_file.levels
        a, b = by_dir.read_region((x, y), (16, 16)), by_file.read_region((x, y), (16, 16))
        assert np.array_equal(a, b)
        assert _block_mean(a) == pytest.approx(rgb, abs=1.0)  # the SVS, converted
        # read_at two and four times coarser: from level 0 (see the next test), the SVS's
        # colours
        assert _block_mean(by_dir.read_at(0.998, (x, y), (8, 8))) == pytest.approx(rgb, abs=1.5)
        assert _block_mean(by_dir.read_at(1.996, (x, y), (4, 4))) == pytest.approx(rgb, abs=1.5)


def test_dicom_levels_in_the_wrong_colour_space_are_not_used_for_reads_at_a_size(wsi):
    # wsidicomizer's added levels (1-4) hold YCbCr JPEG tiles in a series declared RGB,
    # so they decode pink and green: their mean colour is ~28/255 off level 0's.
    with open_slide(wsi / DICOM) as slide:
        assert [w.split(":")[0] for w in slide.level_warnings] == [
            "level 1", "level 2", "level 3", "level 4"]
        assert slide.level_for(0.998) == 0 and slide.level_for(8.0) == 0
        (x, y), rgb = CMU_TISSUE
        raw = _block_mean(slide.read_region((x, y), (4, 4), level=2))
        assert np.abs(raw - rgb).max() > 20  # read_region still reads the level as stored
    with open_slide(wsi / NDPI) as slide:
        assert slide.level_warnings == ()


def test_dicom_edge_tile_that_cannot_be_decoded_is_one_error_and_reads_go_on(wsi):
    # wsidicomizer wrote the last row of level 1 as 240 x 120 px tiles, which OpenSlide
    # 4.0.1 refuses ("Dimensional mismatch reading JPEG").
    with open_slide(wsi / DICOM) as slide:
        with pytest.raises(ImageInputError, match=r"cannot decode the region at .*level 1"):
            slide.read_region((0, 2900), (32, 32), level=1)
        assert slide.read_region((1000, 1500), (8, 8), level=1).shape == (8, 8, 3)
        thumb, mpp = slide.thumbnail(256)
        assert thumb.shape == (256, 192, 3)  # 2967 x 2220 over 11.59
        assert mpp == pytest.approx(0.499 * 2967 / 256)


def test_folder_that_is_not_dicom_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not a slide")
    with pytest.raises(ImageInputError) as err:
        open_slide(tmp_path)
    assert str(err.value) == (f"{tmp_path}: a folder that is not a DICOM WSI series "
                              "(no DICOM slide file in it)")


def test_broken_svs_is_refused(wsi):
    with pytest.raises(ImageInputError) as err:
        open_slide(wsi / "broken.svs")
    assert str(err.value).startswith(f"{wsi / 'broken.svs'}: not a slide")
    assert "\n" not in str(err.value)


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ImageInputError, match="no such file"):
        open_slide(tmp_path / "nothing.svs")


@pytest.mark.parametrize(("name", "keep"), [(CMU, 0.6), (CMU, 0.98), (TCGA, 0.6), (NDPI, 0.6)])
def test_truncated_slide_is_refused_or_its_lost_tiles_raise(wsi, tmp_path, name, keep):
    data = (wsi / name).read_bytes()
    cut = tmp_path / ("cut" + (wsi / name).suffix)
    cut.write_bytes(data[: int(len(data) * keep)])
    try:
        slide = open_slide(cut)
    except ImageInputError as exc:
        # the file's directories are lost (or point past its end): refused at open
        assert str(exc).startswith((f"{cut}: truncated or corrupt", f"{cut}: not a slide"))
        assert "corrupt" in str(exc) and "\n" not in str(exc)
        return
    with slide, pytest.raises(ImageInputError):
        slide.read_region((0, 0), slide.dimensions)


def test_fluorescence_slide_is_told_from_brightfield(wsi):
    with open_slide(wsi / NDPI) as fluo, open_slide(wsi / CMU) as bright:
        with pytest.raises(ImageInputError) as err:
            check_brightfield_slide(fluo)
        assert str(err.value).startswith(f"{wsi / NDPI}: median brightness ")
        assert "too dark for brightfield; is this a fluorescence image?" in str(err.value)
        check_brightfield_slide(bright)


def test_thumbnail_size_and_pixel_size(wsi):
    with open_slide(wsi / CMU) as slide:
        thumb, mpp = slide.thumbnail(512)
        assert thumb.shape == (512, 383, 3)  # 2967 x 2220 over 5.795
        assert mpp == pytest.approx(0.499 * 2967 / 512)


def test_region_outside_the_slide_is_white(wsi):
    with open_slide(wsi / CMU) as slide:
        region = slide.read_region((2200, 2950), (40, 40))
        assert (region[30:, :] == 255).all() and (region[:, 30:] == 255).all()
        assert (slide.read_region((-100, -100), (50, 50)) == 255).all()


def test_bad_reads_are_refused(wsi):
    with open_slide(wsi / NDPI) as slide:
        with pytest.raises(ImageInputError, match=r"no level 7: the slide has levels 0–6"):
            slide.read_region((0, 0), (4, 4), level=7)
        with pytest.raises(ImageInputError, match="region size must be positive"):
            slide.read_region((0, 0), (0, 4))
        with pytest.raises(ImageInputError, match="read it in tiles"):
            slide.read_region((0, 0), (30000, 30000))
        with pytest.raises(ImageInputError, match="pixel size must be a positive"):
            slide.read_at(-1.0, (0, 0), (4, 4))


def test_slide_pickles_as_its_path_and_reopens(wsi):
    with open_slide(wsi / TCGA, assume_mpp_um=0.25) as slide:
        blob = pickle.dumps(slide)
        assert len(blob) < 1000  # no pixels, no handle
        again = pickle.loads(blob)
        assert again.pixel_size_source == "--assume-mpp" and again.pixel_size_um == 0.25
        assert np.array_equal(again.read_region((1500, 2500), (16, 16)),
                              slide.read_region((1500, 2500), (16, 16)))
        again.close()


# --------------------------------------------------------------------------- OME-TIFF
def _write_ome(path, levels, *, mpp=0.25, compression="zlib", tile=64):
    with tifffile.TiffWriter(path, ome=True) as tw:
        tw.write(levels[0], tile=(tile, tile), compression=compression, photometric="rgb",
                 subifds=len(levels) - 1,
                 metadata={"axes": "YXS", "PhysicalSizeX": mpp, "PhysicalSizeY": mpp})
        for lvl in levels[1:]:
            tw.write(lvl, tile=(tile, tile), compression=compression, photometric="rgb",
                     subfiletype=1)


def test_ome_tiff_pyramid_through_tifffile(tmp_path):
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (300, 500, 3), dtype=np.uint8)
    pyramid = [base, base[::2, ::2].copy(), base[::4, ::4].copy()]
    path = tmp_path / "p.ome.tif"
    _write_ome(path, pyramid)
    with open_slide(path) as slide:
        assert slide.vendor == "ome-tiff"
        assert slide.pixel_size_um == 0.25
        assert slide.pixel_size_source == "file (OME PhysicalSizeX)"
        assert [(lv.width, lv.height, lv.downsample) for lv in slide.levels] == [
            (500, 300, 1.0), (250, 150, 2.0), (125, 75, 4.0)]
        assert np.array_equal(slide.read_region((0, 0), (500, 300)), base)
        assert np.array_equal(slide.read_region((130, 70), (60, 50), level=1),
                              pyramid[1][35:85, 65:125])
        # read_at at level 2's size reads level 2 (not level 0 averaged)
        assert np.array_equal(slide.read_at(1.0, (40, 20), (20, 10)), pyramid[2][5:15, 10:30])
        edge = slide.read_region((480, 290), (40, 20))
        assert np.array_equal(edge[:10, :20], base[290:, 480:])
        assert (edge[10:] == 255).all() and (edge[:, 20:] == 255).all()


def test_ome_tiff_jpeg_tiles_within_jpeg_tolerance(tmp_path):
    yy, xx = np.mgrid[0:256, 0:384]
    smooth = np.stack([xx % 256, yy, np.full_like(xx, 128)], -1).astype(np.uint8)
    path = tmp_path / "j.ome.tif"
    _write_ome(path, [smooth], compression="jpeg")
    with open_slide(path) as slide:
        got = slide.read_region((0, 0), (384, 256)).astype(int)
        assert np.abs(got - smooth).mean() < 2.0


def test_read_at_averages_areas_with_fractional_weights(tmp_path):
    # Columns alternate 0 and 200; a flat OME-TIFF (one level) at 0.25 µm/px.
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, 1::2] = 200
    path = tmp_path / "s.ome.tif"
    _write_ome(path, [stripes])
    with open_slide(path) as slide:
        assert (slide.read_at(0.5, (0, 0), (8, 8)) == 100).all()
        # 1.5 px per output px: [0, 1.5) = (0 + 0.5 * 200) / 1.5, [1.5, 3) the same,
        # [3, 4.5) = (200 + 0.5 * 0) / 1.5
        row = slide.read_at(0.375, (0, 0), (3, 2))[0, :, 0]
        assert row.tolist() == [67, 67, 133]
        # a fractional origin: [0.5, 2.0) = (0.5 * 0 + 200) / 1.5
        assert slide.read_at(0.375, (0.5, 0), (1, 1))[0, 0, 0] == 133


def test_ome_tiff_without_pixel_size_is_refused(tmp_path):
    path = tmp_path / "n.ome.tif"
    with tifffile.TiffWriter(path, ome=True) as tw:
        tw.write(np.zeros((32, 32, 3), np.uint8), tile=(16, 16), photometric="rgb",
                 metadata={"axes": "YXS"})
    with pytest.raises(ImageInputError, match="does not record its pixel size"):
        open_slide(path)
    with open_slide(path, assume_mpp_um=0.5) as slide:
        assert slide.pixel_size_assumed


def test_truncated_ome_tiff_tile_is_one_error(tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / "t.ome.tif"
    _write_ome(path, [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)])
    cut = tmp_path / "cut.ome.tif"
    data = path.read_bytes()
    shutil.copy(path, cut)
    cut.write_bytes(data[: len(data) - 20000])
    try:
        slide = open_slide(cut)
    except ImageInputError:
        return
    with slide, pytest.raises(ImageInputError, match=r"truncated|cannot decode"):
        slide.read_region((0, 0), (256, 256))

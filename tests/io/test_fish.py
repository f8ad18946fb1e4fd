"""Reading FISH and brightfield ISH inputs: channel maps, z-stacks, files, bad input."""

import numpy as np
import pytest
import tifffile
from PIL import Image

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging.ish.channels import (
    check_brightfield_rgb,
    fish_from_arrays,
    fish_from_rgb,
    fish_from_stack,
)
from her2kit.io.fish import read_brightfield_ish, read_fish_files, read_fish_image
from her2kit.synthetic.ish import generate_brightfield_ish_field, generate_fish_field

CH = {"dapi": 0, "her2": 1, "cep17": 2}


@pytest.fixture(scope="module")
def fish():
    return generate_fish_field(shape_px=(128, 160), n_nuclei=3, seed=1)


@pytest.fixture(scope="module")
def zfish():
    return generate_fish_field(shape_px=(128, 160), n_nuclei=3, seed=1, z_planes=3)


def test_stack_mapping_picks_the_named_channels(fish):
    swapped = fish.image[..., [2, 0, 1]]  # cep17, dapi, her2
    f = fish_from_stack(swapped, channels={"cep17": 0, "dapi": 1, "her2": 2}, pixel_size_um=0.2)
    assert np.array_equal(f.her2, fish.image[..., 1].astype(np.float32))
    assert np.array_equal(f.dapi, fish.image[..., 0].astype(np.float32))
    assert f.pixel_size_um == 0.2 and f.z_planes == 1 and f.projection == "none"


def test_z_stack_is_max_projected(zfish):
    f = fish_from_stack(zfish.image, channels=CH, z_axis=0)
    assert f.z_planes == 3 and f.projection == "max"
    assert np.array_equal(f.her2, zfish.image[..., 1].max(axis=0).astype(np.float32))


@pytest.mark.parametrize(
    ("channels", "match"),
    [
        ({"dapi": 0, "her2": 1}, "missing channel"),
        ({"dapi": 0, "her2": 1, "cep17": 1}, "more than one probe"),
        ({"dapi": 0, "her2": 1, "cep17": 2, "cy5": 3}, "unknown channel"),
        ({"dapi": 0, "her2": 1, "cep17": 5}, "out of range"),
        ([0, 1, 2], "mapping"),
    ],
)
def test_bad_channel_maps(fish, channels, match):
    with pytest.raises(Her2kitInputError, match=match):
        fish_from_stack(fish.image, channels=channels)


def test_mismatched_channel_sizes():
    a = np.ones((64, 64), np.uint16)
    a[0, 0] = 5
    with pytest.raises(ImageInputError, match="differ in size"):
        fish_from_arrays(dapi=a, her2=a, cep17=a[:60])


def test_empty_channel_and_bit_depth(fish):
    planes = {k: fish.image[..., i] for k, i in CH.items()}
    with pytest.raises(ImageInputError, match="empty"):
        fish_from_arrays(**{**planes, "cep17": np.zeros((128, 160), np.uint16)})
    big = planes["dapi"].copy()
    big[0, 0] = 5000
    with pytest.raises(ImageInputError, match="12-bit"):
        fish_from_arrays(**{**planes, "dapi": big}, bit_depth=12)


def test_brightfield_passed_as_fish_is_refused():
    bf = generate_brightfield_ish_field(shape_px=(128, 128), n_nuclei=3, seed=2).image
    with pytest.raises(ImageInputError, match="brightfield"):
        fish_from_rgb(bf, channels={"her2": "R", "cep17": "G", "dapi": "B"})
    with pytest.raises(ImageInputError, match="brightfield"):
        fish_from_stack(bf, channels=CH)


def test_fish_passed_as_brightfield_is_refused(fish):
    rgb = (fish.image[..., [1, 2, 0]] // 16).clip(0, 255).astype(np.uint8)
    with pytest.raises(ImageInputError, match="fluorescence"):
        check_brightfield_rgb(rgb)
    with pytest.raises(ImageInputError, match="uint8"):
        check_brightfield_rgb(fish.image)


def test_rgb_composite_mapping_and_errors(fish):
    rgb = (fish.image[..., [1, 2, 0]] // 16).clip(0, 255).astype(np.uint8)
    f = fish_from_rgb(rgb, channels={"her2": "red", "cep17": "G", "dapi": "b"})
    assert np.array_equal(f.cep17, rgb[..., 1].astype(np.float32))
    with pytest.raises(ImageInputError, match="not one of R, G, B"):
        fish_from_rgb(rgb, channels={"her2": "R", "cep17": "G", "dapi": "UV"})
    with pytest.raises(ImageInputError, match="two probes to one colour"):
        fish_from_rgb(rgb, channels={"her2": "R", "cep17": "red", "dapi": "B"})


def test_ome_tiff_zstack_roundtrip(tmp_path, zfish):
    path = tmp_path / "field.ome.tif"
    data = np.moveaxis(zfish.image, -1, 1)  # Z C Y X
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "ZCYX", "PhysicalSizeX": 0.2,
                                                     "PhysicalSizeXUnit": "µm"})
    f = read_fish_image(path, channels=CH)
    assert f.z_planes == 3 and f.projection == "max"
    assert f.pixel_size_um == pytest.approx(0.2)
    assert np.array_equal(f.cep17, zfish.image[..., 2].max(axis=0).astype(np.float32))


def test_separate_channel_files(tmp_path, fish):
    paths = {}
    for name, i in CH.items():
        paths[name] = tmp_path / f"{name}.tif"
        tifffile.imwrite(paths[name], fish.image[..., i])
    f = read_fish_files(**paths, pixel_size_um=0.2)
    assert np.array_equal(f.her2, fish.image[..., 1].astype(np.float32))
    tifffile.imwrite(tmp_path / "small.tif", fish.image[:100, :, 2])
    with pytest.raises(ImageInputError, match="differ in size"):
        read_fish_files(dapi=paths["dapi"], her2=paths["her2"], cep17=tmp_path / "small.tif")


def test_rgb_png_composite_and_brightfield_files(tmp_path, fish):
    rgb = (fish.image[..., [1, 2, 0]] // 16).clip(0, 255).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    f = read_fish_image(tmp_path / "c.png", channels={"her2": "R", "cep17": "G", "dapi": "B"})
    assert f.shape == (128, 160)
    with pytest.raises(ImageInputError, match="fluorescence"):
        read_brightfield_ish(tmp_path / "c.png")
    bf = generate_brightfield_ish_field(shape_px=(64, 64), n_nuclei=1, seed=0).image
    Image.fromarray(bf).save(tmp_path / "bf.png")
    assert np.array_equal(read_brightfield_ish(tmp_path / "bf.png"), bf)


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    with pytest.raises(ImageInputError, match=r"cannot read bad\.tif"):
        read_fish_image(bad, channels=CH)
    with pytest.raises(ImageInputError, match="no such file"):
        read_brightfield_ish(tmp_path / "missing.png")


def test_too_large_fields_are_refused_before_decoding(tmp_path, zfish):
    stack = tmp_path / "z.tif"
    tifffile.imwrite(stack, zfish.image.astype(np.uint16), metadata={"axes": "ZYXC"})
    plane = 128 * 160
    assert read_fish_image(stack, channels=CH, max_pixels=plane).shape == (128, 160)
    with pytest.raises(ImageInputError, match="pixels per plane, more than the limit"):
        read_fish_image(stack, channels=CH, max_pixels=plane - 1)
    # 3 planes x 3 channels = 9 samples per plane pixel pass (the limit is 10x
    # max_pixels); 4 planes x 3 channels = 12 do not.
    deep = tmp_path / "deep.tif"
    tifffile.imwrite(deep, np.concatenate([zfish.image, zfish.image[:1]]).astype(np.uint16),
                     metadata={"axes": "ZYXC"})
    with pytest.raises(ImageInputError, match="samples"):
        read_fish_image(deep, channels=CH, max_pixels=plane)
    grey = tmp_path / "g.png"
    Image.fromarray((zfish.image[0, ..., 0] // 16).astype(np.uint8)).save(grey)
    with pytest.raises(ImageInputError, match="more than the limit"):
        read_fish_files(dapi=grey, her2=grey, cep17=grey, max_pixels=plane - 1)
    bf = tmp_path / "bf.png"
    Image.fromarray(generate_brightfield_ish_field(shape_px=(64, 64), n_nuclei=1,
                                                   seed=0).image).save(bf)
    with pytest.raises(ImageInputError, match="more than the limit"):
        read_brightfield_ish(bf, max_pixels=64 * 64 - 1)
    assert read_brightfield_ish(bf, max_pixels=64 * 64).shape == (64, 64, 3)


def test_stated_bit_depth_from_ome_is_checked(tmp_path, fish):
    data = fish.image.astype(np.uint16)
    ok = tmp_path / "ok.ome.tif"
    tifffile.imwrite(ok, np.moveaxis(data, -1, 0), ome=True,
                     metadata={"axes": "CYX", "SignificantBits": 16})
    assert read_fish_image(ok, channels=CH).shape == (128, 160)
    hot = np.moveaxis(data, -1, 0).copy()
    hot[1, 5, 5] = 5000  # one HER2 pixel beyond a 12-bit camera's range
    bad = tmp_path / "bad.ome.tif"
    tifffile.imwrite(bad, hot, ome=True, metadata={"axes": "CYX", "SignificantBits": 12})
    with pytest.raises(ImageInputError, match="stated 12-bit depth"):
        read_fish_image(bad, channels=CH)
    # The caller's statement wins over the file's.
    assert read_fish_image(bad, channels=CH, bit_depth=16).shape == (128, 160)
    files = {}
    for name, ch in CH.items():
        files[name] = tmp_path / f"{name}.ome.tif"
        tifffile.imwrite(files[name], hot[ch], ome=True,
                         metadata={"axes": "YX", "SignificantBits": 12})
    with pytest.raises(ImageInputError, match="stated 12-bit depth"):
        read_fish_files(**files)
    with pytest.raises(Her2kitInputError, match="bit depth must be"):
        read_fish_image(ok, channels=CH, bit_depth=0)

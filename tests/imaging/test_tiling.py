"""Tiling geometry: analysis resolution, tissue, the tile grid, and core ownership."""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging.tiling import (
    analysis_pixel_size,
    detect_tissue,
    owned_by_core,
    tile_grid,
)


@pytest.mark.parametrize(("level0", "expected"), [(0.25, 0.5), (0.2527, 0.5), (0.5, 0.5),
                                                  (0.504, 0.5), (0.51, 0.51), (1.0, 1.0)])
def test_analysis_pixel_size(level0, expected):
    assert analysis_pixel_size(level0) == expected


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_analysis_pixel_size_refuses(bad):
    with pytest.raises(Her2kitInputError, match="positive pixel size"):
        analysis_pixel_size(bad)


def test_detect_tissue_finds_a_stained_square_not_glass_or_dust():
    thumb = np.full((100, 120, 3), 240, np.uint8)
    thumb[20:60, 30:90] = (150, 120, 160)  # tissue
    thumb[80, 10] = (100, 100, 100)  # one dark pixel: dust
    mask = detect_tissue(thumb, white_rgb=(240, 240, 240), grow_px=0)
    assert mask[20:60, 30:90].all()
    assert mask.sum() == 40 * 60
    grown = detect_tissue(thumb, white_rgb=(240, 240, 240), grow_px=1)
    assert grown.sum() == 42 * 62 - 4  # the cross-shaped dilation leaves the 4 corners
    # 0.08 OD: a channel 17 % darker than glass is tissue, 10 % darker is not
    pale = np.full((10, 10, 3), 240, np.uint8)
    pale[..., 0] = 216
    assert not detect_tissue(pale, white_rgb=(240, 240, 240)).any()
    pale[..., 0] = 195
    assert detect_tissue(pale, white_rgb=(240, 240, 240)).all()


def test_detect_tissue_refuses_non_rgb():
    with pytest.raises(ImageInputError, match="uint8 RGB"):
        detect_tissue(np.zeros((4, 4), np.uint8))


def _grid(size_wh=(5000, 3000), core_um=260.0, mask=None):
    if mask is None:
        mask = np.ones((30, 50), bool)  # 100 analysis px per mask px at 0.5 µm/px
    return tile_grid(size_wh, pixel_size_um=0.5, tissue_mask=mask, mask_pixel_size_um=50.0,
                     core_um=core_um)


def test_grid_is_aligned_to_20_um_and_overlaps_by_40_um():
    g = _grid()
    assert (g.core_px, g.overlap_px) == (520, 80)  # 260 µm = 13 blocks of 20 µm; 40 µm
    assert (g.n_rows, g.n_cols) == (6, 10)
    assert len(g.tiles) == 60
    for t in g.tiles:
        assert t.core_xy[0] % 40 == 0 and t.read_xy[0] % 40 == 0
        assert t.read_wh == (520 + 160, 520 + 160)
        assert t.read_xy == (t.core_xy[0] - 80, t.core_xy[1] - 80)
        assert t.index == t.row * g.n_cols + t.col


def test_grid_keeps_only_tiles_with_tissue():
    mask = np.zeros((30, 50), bool)
    mask[0:3, 0:3] = True  # analysis px 0–299: the first tile only
    mask[29, 49] = True  # the last mask pixel: the bottom-right tile
    g = _grid(mask=mask)
    assert [t.index for t in g.tiles] == [0, 59]


def test_every_point_is_owned_by_exactly_one_core():
    g = _grid(core_um=300.0)
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, [5000, 3000], size=(2000, 2))
    owners = np.zeros(len(xy), int)
    for t in g.tiles:
        rc = np.stack([xy[:, 1] - t.read_xy[1], xy[:, 0] - t.read_xy[0]], axis=1)
        owners += owned_by_core(rc, t)
    assert (owners == 1).all()
    # on a seam: the half-open box gives the point to the tile that starts there
    t0, t1 = g.tiles[0], g.tiles[1]
    seam = np.array([[100.0 - t0.read_xy[1], t1.core_xy[0] - t0.read_xy[0]]])
    assert not owned_by_core(seam, t0)[0]
    seam1 = np.array([[100.0 - t1.read_xy[1], t1.core_xy[0] - t1.read_xy[0]]])
    assert owned_by_core(seam1, t1)[0]

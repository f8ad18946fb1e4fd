"""Scanline polygon rasterisation (issue 13, item 18): skimage.draw.polygon's pixels, at a
cost that grows with rows x crossings instead of bounding-box pixels x vertices."""

from __future__ import annotations

import time

import numpy as np
import pytest
from skimage.draw import polygon as skimage_polygon

from her2kit.errors import Her2kitInputError
from her2kit.imaging.draw import polygon_crossings, polygon_mask


def _full(rows, cols, shape):
    mask = np.zeros(shape, bool)
    drawn = polygon_mask(rows, cols, shape)
    if drawn is not None:
        mask[drawn[0]] = drawn[1]
    return mask


def _skimage(rows, cols, shape):
    mask = np.zeros(shape, bool)
    rr, cc = skimage_polygon(rows, cols, shape=shape)
    mask[rr, cc] = True
    return mask


@pytest.mark.parametrize("kind", ["integer", "half", "two-decimals", "float"])
def test_same_pixels_as_skimage_on_random_polygons(kind):
    # skimage.draw.polygon (the rasteriser her2kit used before) is the reference: random,
    # often self-intersecting rings, partly outside the image, some explicitly closed.
    rng = np.random.default_rng({"integer": 1, "half": 2, "two-decimals": 3, "float": 4}[kind])
    for k in range(400):
        n = int(rng.integers(3, 14))
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40)))
        if kind == "integer":
            r, c = rng.integers(-5, 45, (2, n)).astype(float)
        elif kind == "half":
            r, c = rng.integers(-10, 90, (2, n)) / 2
        else:
            r, c = rng.uniform(-5, 45, (2, n))
            if kind == "two-decimals":
                r, c = np.round(r, 2), np.round(c, 2)
        if k % 3 == 0:
            r, c = np.r_[r, r[0]], np.r_[c, c[0]]
        np.testing.assert_array_equal(_full(r, c, shape), _skimage(r, c, shape))


def test_boundary_pixels_are_inside():
    # The closed square [0, 10] x [0, 10] holds 11 x 11 pixel centres, edges included
    # (skimage's convention, kept); the triangle (0,0) (0,4) (4,0) holds 1+2+3+4+5 = 15.
    assert _full([0, 0, 10, 10], [0, 10, 10, 0], (20, 20)).sum() == 121
    assert _full([0, 0, 4], [0, 4, 0], (20, 20)).sum() == 15
    assert _full([0.5, 0.5, 2.5, 2.5], [0.5, 2.5, 2.5, 0.5], (5, 5)).sum() == 4


def test_a_ring_outside_the_image_has_no_window():
    assert polygon_mask([50, 50, 60], [50, 60, 60], (10, 10)) is None
    assert not _full([-9, -9, -1], [3, 8, 8], (10, 10)).any()


def test_a_million_vertices_and_a_large_circle_are_fast():
    # Before: ~210 s for 1,000,000 vertices on 512² and ~42 s for a 2000-vertex circle on
    # 4000² (every bounding-box pixel tested against every edge). Bounds are loose for CI.
    t = np.linspace(0, 2 * np.pi, 1_000_000, endpoint=False)
    jag = np.where(np.arange(t.size) % 2 == 0, 0.7, -0.7)
    start = time.perf_counter()
    mask = _full(256 + (200 + jag) * np.sin(t), 256 + (200 + jag) * np.cos(t), (512, 512))
    assert time.perf_counter() - start < 5
    assert abs(mask.sum() - np.pi * 200 ** 2) < 0.01 * np.pi * 200 ** 2
    t = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    start = time.perf_counter()
    mask = _full(2000 + 1900 * np.sin(t), 2000 + 1900 * np.cos(t), (4000, 4000))
    assert time.perf_counter() - start < 3
    assert abs(mask.sum() - np.pi * 1900 ** 2) < 0.001 * np.pi * 1900 ** 2


def test_crossings_are_capped():
    # A zigzag of 100 edges each spanning all 1000 rows crosses them ~100,000 times.
    rows = np.tile([0.0, 999.0], 50)
    cols = np.arange(100, dtype=float)
    assert 99_000 <= polygon_crossings(rows, cols, (1000, 1000)) <= 100_000
    with pytest.raises(Her2kitInputError, match=r"rows \d+ times, more than the limit"):
        polygon_mask(rows, cols, (1000, 1000), max_crossings=10_000)

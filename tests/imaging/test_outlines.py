"""Outlines of every object of a label image at once (issue 13, item 19)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.draw import polygon as skimage_polygon

from her2kit.imaging.outlines import label_outlines


def _centres_inside(ring_xy, shape):
    # skimage's rasteriser (boundary included) is exact here: corners lie at half-integers,
    # so no pixel centre is on the ring.
    mask = np.zeros(shape, bool)
    rr, cc = skimage_polygon(ring_xy[:, 1], ring_xy[:, 0], shape=shape)
    mask[rr, cc] = True
    return mask


def test_small_image_literal_rings():
    lab = np.array([[0, 0, 0, 0, 0],
                    [0, 1, 1, 0, 0],
                    [0, 1, 2, 2, 0],
                    [0, 0, 2, 0, 3]])
    out = label_outlines(lab)
    assert out.labels.tolist() == [1, 2, 3]
    # Label 1 is an L of three pixels: six corners; 3 is one pixel at the image corner.
    assert sorted(map(tuple, out.ring(0).tolist())) == sorted(
        [(0.5, 0.5), (2.5, 0.5), (2.5, 1.5), (1.5, 1.5), (1.5, 2.5), (0.5, 2.5)])
    assert sorted(map(tuple, out.ring(2).tolist())) == [(3.5, 2.5), (3.5, 3.5), (4.5, 2.5),
                                                        (4.5, 3.5)]
    # Counter-clockwise on screen (y down): the signed shoelace area is negative.
    x, y = out.ring(0).T
    assert 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) == -3.0


def test_diagonal_pixels_are_two_parts_and_the_larger_is_kept():
    lab = np.array([[1, 0, 0],
                    [0, 1, 1]])
    out = label_outlines(lab)
    assert out.ring(0).shape == (4, 2)  # the two-pixel part, a rectangle
    assert _centres_inside(out.ring(0), lab.shape).sum() == 2


@pytest.mark.parametrize("block", [1, 2, 3])
def test_each_ring_holds_exactly_its_parts_pixels(block):
    rng = np.random.default_rng(block)
    for _ in range(60):
        h, w = rng.integers(2, 20, 2)
        small = ndi.median_filter(rng.integers(0, 5, (h, w)) * (rng.random((h, w)) < 0.85), 2)
        lab = np.repeat(np.repeat(small, block, 0), block, 1)
        lab = lab[:lab.shape[0] - int(rng.integers(0, block)) or None]
        out = label_outlines(lab, block_px=block)
        assert out.labels.tolist() == sorted(set(np.unique(lab)) - {0})
        for i, value in enumerate(out.labels):
            parts, n = ndi.label(lab == value)  # 4-connected
            filled = [ndi.binary_fill_holes(parts == k, structure=np.ones((3, 3)))
                      for k in range(1, n + 1)]
            inside = _centres_inside(out.ring(i), lab.shape)
            assert any(np.array_equal(inside, f) for f in filled)
            if block == 1:
                assert inside.sum() == max(f.sum() for f in filled)


def test_a_wrong_block_size_falls_back_to_pixels():
    lab = np.repeat(np.repeat(np.array([[1, 2], [3, 4]]), 2, 0), 2, 1)
    lab[0, 1] = 5  # not made of 2 x 2 blocks any more
    assert label_outlines(lab, block_px=2).labels.tolist() == [1, 2, 3, 4, 5]


def test_empty_image():
    out = label_outlines(np.zeros((5, 5), int))
    assert out.labels.size == 0 and out.xy.shape == (0, 2) and out.offsets.tolist() == [0]

"""The slide heatmap: blocks tinted by local score, untinted without enough cells,
legend to the right."""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.viz.slide import SCORE_COLORS, render_slide_heatmap


def test_blocks_are_tinted_by_score_and_the_legend_is_added():
    thumb = np.full((100, 100, 3), 255, np.uint8)
    idx = np.array([[0, 4], [-1, 2]])  # 0, 3+ / none, 1+
    dens = np.full((2, 2), 1000.0)
    out = render_slide_heatmap(thumb, idx, dens, block_px=50.0, title="t")
    assert out.shape[0] >= 100 and out.shape[1] > 100  # legend to the right (and below)
    top_right = out[25, 75].astype(float)
    colour = np.array(SCORE_COLORS["3+"], float)
    # the tint moves white towards the 3+ colour
    assert np.linalg.norm(top_right - colour) < np.linalg.norm(255 - colour)
    assert (out[75, 25] == 255).all()  # no local score: not tinted
    assert not np.array_equal(out[25, 25], out[75, 75])  # 0 and 1+ differ


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="one shape"):
        render_slide_heatmap(np.zeros((20, 20, 3), np.uint8), np.zeros((2, 2), int),
                             np.zeros((3, 2)), block_px=2)


def test_score_colours_are_distinct_and_ordered_by_lightness():
    lum = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b in SCORE_COLORS.values()]
    assert lum == sorted(lum, reverse=True)  # 0 lightest → 3+ darkest (viridis order)

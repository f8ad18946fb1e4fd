"""Tissue layout shared by the generators: random fields and non-overlapping nuclei."""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.synthetic import tissue


@pytest.mark.parametrize("field", [tissue.smooth_noise, tissue.smooth_texture])
def test_random_fields_have_unit_sd(field):
    out = field((64, 80), 4.0, np.random.default_rng(0))
    assert out.shape == (64, 80)
    assert abs(float(out.mean())) < 0.2
    assert float(out.std()) == pytest.approx(1.0, abs=0.05)


def test_ellipse_frame_rotates_into_the_axes():
    # A 90° ellipse: its major axis runs along the rows.
    u, v = tissue.ellipse_frame(slice(0, 3), slice(0, 3), 1.0, 1.0, 0.0, 1.0)
    assert u[2, 1] == 1.0 and v[2, 1] == 0.0  # one row below the centre: along u
    assert u[1, 2] == 0.0 and v[1, 2] == -1.0


def test_hex_grid_spacing_and_jitter():
    rng = np.random.default_rng(3)
    centres = tissue.hex_grid_centres((200, 300), 20.0, rng)
    assert centres.shape[1] == 2
    assert np.all((centres >= 0) & (centres < [200, 300]))
    # About one centre per hexagon of area s² √3/2.
    assert len(centres) == pytest.approx(200 * 300 / (20**2 * np.sqrt(3) / 2), rel=0.1)


def test_painted_nuclei_never_overlap():
    shape = (40, 40)
    centres = np.array([[20.0, 15.0], [20.0, 22.0], [20.0, 16.0]])
    major = np.array([5.0, 5.0, 5.0])
    labels = tissue.paint_nuclei(shape, centres, major, major, np.zeros(3))
    # The second touches the first and keeps most of its area; the third would lie
    # almost wholly on the first and is left out.
    assert sorted(np.unique(labels).tolist()) == [0, 1, 2]
    assert (labels == 1).sum() == pytest.approx(np.pi * 25, rel=0.15)


def test_placed_nuclei_are_separate():
    rng = np.random.default_rng(4)
    labels, params = tissue.place_nuclei_without_overlap(
        (200, 200), 8, semi_axes_um=(3.5, 5.5), pixel_size_um=0.2, rng=rng
    )
    assert len(params) == 8
    assert sorted(np.unique(labels).tolist()) == list(range(9))
    for _r0, _c0, a, b, _theta in params:
        assert a >= b and 3.5 / 0.2 <= a <= 5.5 / 0.2
    with pytest.raises(Her2kitInputError, match="could place only"):
        tissue.place_nuclei_without_overlap(
            (64, 64), 50, semi_axes_um=(3.5, 5.5), pixel_size_um=0.2, rng=rng
        )

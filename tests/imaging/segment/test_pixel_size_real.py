"""``--mpp auto`` on real images: the scanner-recorded CMU-1 pyramid and shared tiles whose
pixel size is assumed (the CPM tiles' 20x/40x from their README; weaker evidence).

Expected values come from the files (0.499 µm/px at level 0 of the CMU-1 DICOM pyramid,
doubling per level) and the CPM README's magnification, not from the estimator.
"""

from __future__ import annotations

import pytest
from benchmarks.mpp_auto import _dicom, estimate_rgb


def test_cmu1_coarse_levels_are_refused(real_data):
    real_data("wsi_real_small")
    for level in (1, 2, 3, 4):  # ~1.0, 2.0, 4.0, 8.0 µm/px: nuclei of 7 px and less
        rgb, mpp = _dicom(level)
        assert mpp == pytest.approx(0.499 * 2 ** level, rel=0.01)
        assert not estimate_rgb(rgb).usable


@pytest.mark.parametrize(("name", "assumed_um"),
                         [("image08.png", 0.25), ("image14.png", 0.25), ("image04.png", 0.5)])
def test_cpm_tiles_within_the_interval(real_data, name, assumed_um):
    from her2kit.io.images import read_image

    folder = real_data("nuclei_he_miccai_cpm_pengyzhang")
    e = estimate_rgb(read_image(folder / name).image[..., :3])
    assert e.usable, e.reason
    assert e.low_um <= assumed_um <= e.high_um
    assert 0.8 * assumed_um <= e.pixel_size_um <= 1.25 * assumed_um

"""Pinned outputs of the generators: a changed draw order or stage shows up here.

The literals were recorded from the generators as they were before they were split into
stages (commit a2b20bf); the split kept every image bit-identical. A change that moves
any of these numbers changes every synthetic benchmark and test image: it needs a
changelog line, and new literals recorded on purpose.
"""

from __future__ import annotations

import numpy as np

from her2kit.synthetic.ihc import generate_ihc_region
from her2kit.synthetic.ish import generate_brightfield_ish_field, generate_fish_field


def _channel_sums(image):
    return [int(image[..., c].astype(np.int64).sum()) for c in range(image.shape[-1])]


def test_ihc_region_pinned():
    s = generate_ihc_region(
        shape_px=(96, 128), pixel_size_um=0.5, target_score="2+", seed=3,
        stain_jitter_deg=5.0, uneven_background=0.1, jpeg_quality=80,
    )  # fmt: skip
    names = list(s.cells["class_name"])
    assert int(s.nuclei_labels.max()) == 12
    assert [names.count(k) for k in ("complete_weak_moderate", "incomplete_faint", "none")] == [
        4, 1, 7,
    ]  # fmt: skip
    assert int((s.cell_labels > 0).sum()) == 7045
    assert int((s.nuclei_labels > 0).sum()) == 2091
    assert np.round(s.cells["dab_od"][:5].astype(float), 4).tolist() == [
        0.0, 0.0, 0.0, 0.1294, 0.2578,
    ]  # fmt: skip
    assert int(s.image.astype(np.int64).sum()) == 7285767


def test_fish_field_pinned():
    f = generate_fish_field(
        shape_px=(160, 160), n_nuclei=4, scenario="amplified", seed=2, z_planes=2,
        out_of_focus_fraction=0.3,
    )  # fmt: skip
    assert f.nuclei["her2"].tolist() == [11, 20, 5, 11]
    assert f.nuclei["cep17"].tolist() == [2, 2, 2, 0]
    assert f.nuclei["n_her2_clusters"].tolist() == [1, 2, 0, 1]
    assert f.nuclei["in_focus"].tolist() == [False, True, False, True]
    assert f.signals["z"].tolist() == [
        1, 0, 1, 0, 0, 0, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
    ]  # fmt: skip
    assert int((f.labels > 0).sum()) == 5433
    assert _channel_sums(f.image) == [19135339, 3174541, 3125236]


def test_brightfield_ish_field_pinned():
    b = generate_brightfield_ish_field(
        shape_px=(128, 128), n_nuclei=3, scenario="group2", seed=4,
        dark_nucleus_fraction=0.5, stroma_gradient_od=0.1,
    )  # fmt: skip
    assert b.nuclei["her2"].tolist() == [2, 2, 4]
    assert b.nuclei["cep17"].tolist() == [0, 1, 1]
    assert int((b.labels > 0).sum()) == 4025
    assert _channel_sums(b.image) == [3278393, 3220824, 3708365]

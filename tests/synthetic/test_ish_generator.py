"""The synthetic ISH generator: determinism, truth consistency, scenarios, bad input."""

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.synthetic.ish import (
    SCENARIOS,
    generate_brightfield_ish_field,
    generate_fish_field,
)


def _group(her2: float, cep17: float) -> int:
    # ASCO/CAP 2018 dual-probe groups, written out here independently of the code.
    ratio = her2 / cep17
    if ratio >= 2.0:
        return 1 if her2 >= 4.0 else 2
    if her2 >= 6.0:
        return 3
    return 4 if her2 >= 4.0 else 5


def test_same_seed_same_field_and_different_seed_differs():
    a = generate_fish_field(shape_px=(256, 256), n_nuclei=5, seed=7)
    b = generate_fish_field(shape_px=(256, 256), n_nuclei=5, seed=7)
    c = generate_fish_field(shape_px=(256, 256), n_nuclei=5, seed=8)
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.signals, b.signals)
    assert not np.array_equal(a.image, c.image)


def test_fish_layout_and_dtype():
    f = generate_fish_field(shape_px=(200, 300), n_nuclei=4, seed=1)
    assert f.image.shape == (200, 300, 3)
    assert f.image.dtype == np.uint16
    assert f.channel_names == ("dapi", "her2", "cep17")
    assert f.labels.shape == (200, 300)
    assert f.labels.max() == 4


def test_truth_is_consistent_with_signals_and_labels():
    f = generate_fish_field(shape_px=(512, 512), n_nuclei=15, scenario="amplified", seed=2)
    s = f.signals
    # every signal lies inside its own nucleus
    r = np.rint(s["row"]).astype(int)
    c = np.rint(s["col"]).astype(int)
    assert np.all(f.labels[r, c] == s["nucleus_id"])
    for n in f.nuclei:
        mine = s[s["nucleus_id"] == n["nucleus_id"]]
        assert n["her2"] == mine["copies"][mine["probe"] == "her2"].sum()
        assert n["cep17"] == mine["copies"][mine["probe"] == "cep17"].sum()
    assert s["is_cluster"].any()
    assert np.all(s["copies"][s["is_cluster"]] >= 4)
    assert np.all(s["copies"][~s["is_cluster"]] == 1)


def test_edge_nuclei_are_marked_not_whole():
    f = generate_fish_field(shape_px=(384, 384), n_nuclei=20, seed=3)
    edge = np.unique(np.concatenate([f.labels[0], f.labels[-1], f.labels[:, 0], f.labels[:, -1]]))
    edge = edge[edge > 0]
    assert edge.size > 0
    assert not f.nuclei["whole"][edge - 1].any()
    assert f.nuclei["whole"].sum() == 20 - edge.size


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenarios_land_where_they_claim(scenario):
    f = generate_fish_field(shape_px=(720, 720), n_nuclei=40, scenario=scenario, seed=11)
    ok = f.countable
    h, c = f.nuclei["her2"][ok].mean(), f.nuclei["cep17"][ok].mean()
    if scenario.startswith("group"):
        assert _group(h, c) == int(scenario[-1])
    elif scenario == "normal":
        assert abs(h - 2) < 0.4 and abs(c - 2) < 0.4
    elif scenario == "polysomy":
        assert c >= 3.0 and h / c < 2.0
    elif scenario == "amplified":
        assert h / c >= 4.0
        assert f.nuclei["n_her2_clusters"].sum() > 0
    elif scenario == "crowded_polysomy":
        # HER2 ~5 with CEP17 ~7 (issue 11): group 4, many red dots.
        assert _group(h, c) == 4 and 6.0 <= c <= 8.0
    elif scenario == "crowded_gain":
        # HER2 ~7 with CEP17 ~4: group 3.
        assert _group(h, c) == 3 and 3.0 <= c <= 5.0
    else:
        raise AssertionError(f"no check for scenario {scenario}")


def test_custom_counts_are_rendered_exactly():
    counts = [(2, 2), (5, 1), (0, 3), (12, 2)]
    f = generate_fish_field(shape_px=(400, 400), counts=counts, seed=4, clusters=True)
    assert f.scenario == "custom"
    whole = f.nuclei["whole"]
    got = np.column_stack([f.nuclei["her2"], f.nuclei["cep17"]])
    assert np.array_equal(got[whole], np.asarray(counts)[whole])
    assert f.nuclei["n_her2_clusters"][3] >= 1


def test_z_stack_shape_and_focal_planes():
    f = generate_fish_field(shape_px=(256, 256), n_nuclei=5, seed=5, z_planes=4)
    assert f.image.shape == (4, 256, 256, 3)
    assert set(np.unique(f.signals["z"])) <= {0, 1, 2, 3}


def test_brightfield_dual_and_cish():
    d = generate_brightfield_ish_field(shape_px=(256, 256), n_nuclei=5, seed=1)
    assert d.image.dtype == np.uint8 and d.image.shape == (256, 256, 3)
    assert np.median(d.image) > 200  # bright glass
    assert (d.signals["probe"] == "cep17").any()
    c = generate_brightfield_ish_field(shape_px=(256, 256), n_nuclei=5, seed=1, assay="cish")
    assert not (c.signals["probe"] == "cep17").any()
    assert np.all(c.nuclei["cep17"] == 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scenario": "nope"}, "unknown scenario"),
        ({"counts": [(1, 2, 3)]}, "pairs"),
        ({"counts": [(-1, 2)]}, "non-negative"),
        ({"n_nuclei": 500, "shape_px": (128, 128)}, "could place only"),
        ({"shape_px": (10, 10)}, "at least 32x32"),
        ({"haze": 1.5}, "0-0.9"),
        ({"z_planes": 0}, "1-50"),
    ],
)
def test_bad_generator_arguments(kwargs, match):
    with pytest.raises(Her2kitInputError, match=match):
        generate_fish_field(**kwargs)


def test_bad_brightfield_assay():
    with pytest.raises(Her2kitInputError, match="dual-ish"):
        generate_brightfield_ish_field(assay="fish")


def test_faint_grey_silver_dots():
    # Issue 11, branch silverdots: a share of the single silver dots is rendered faint
    # (peak OD silver_faint_od_factor x); a share of 0 leaves the field bit for bit.
    from her2kit.synthetic.ish import BrightfieldIshFieldOptions, render_brightfield_ish_field

    base = dict(shape_px=(256, 256), n_nuclei=6, scenario="group4", seed=2, noise_dn=0.0)
    plain = render_brightfield_ish_field(BrightfieldIshFieldOptions(**base))
    same = render_brightfield_ish_field(BrightfieldIshFieldOptions(**base, silver_faint_share=0))
    assert np.array_equal(plain.image, same.image)
    faint = render_brightfield_ish_field(BrightfieldIshFieldOptions(
        **base, silver_faint_share=1.0, silver_faint_od_factor=0.4))
    assert np.array_equal(faint.signals, plain.signals)  # the truth does not change
    her2 = plain.signals[(plain.signals["probe"] == "her2") & ~plain.signals["is_cluster"]]
    r, c = np.rint(her2["row"]).astype(int), np.rint(her2["col"]).astype(int)

    def od(img):  # darkest channel's OD at the dot centres, over the glass
        return -np.log10(np.maximum(img[r, c].min(axis=1), 1) / 255.0)

    ratio = np.median(od(faint.image) / od(plain.image))
    # The dot's peak is 0.4 x, the nucleus under it unchanged: the total OD falls to
    # between 0.4 x and 1 x.
    assert 0.4 < ratio < 0.8, ratio
    for bad in (dict(silver_faint_share=1.5), dict(silver_faint_od_factor=0),
                dict(silver_faint_sigma_factor=6)):
        with pytest.raises(Her2kitInputError, match=next(iter(bad))):
            BrightfieldIshFieldOptions(**base, **bad)

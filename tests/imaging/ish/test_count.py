"""Per-nucleus ISH counting against generated truth: counts, clusters, selection, outputs."""


import numpy as np
import pytest

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging.ish import BrightfieldIshOptions, count_brightfield_ish, count_fish
from her2kit.imaging.ish.channels import fish_from_stack
from her2kit.imaging.ish.selection import EXCLUSION_REASONS
from her2kit.pipelines.ish import heterogeneity, quality_flags
from her2kit.synthetic.ish import generate_brightfield_ish_field, generate_fish_field
from her2kit.viz.ish import render_ish_overlay

CH = {"dapi": 0, "her2": 1, "cep17": 2}
PX = 0.2


def _fish(syn, **kw):
    z = 0 if syn.image.ndim == 4 else None
    return count_fish(fish_from_stack(syn.image, channels=CH, z_axis=z), pixel_size_um=PX, **kw)


def _truth_id(res, syn, nucleus_id):
    """Truth nucleus covering most of a detected one, if IoU > 0.5, else 0."""
    m = res.labels == nucleus_id
    hits = np.bincount(syn.labels[m])
    tid = int(np.argmax(hits))
    if tid == 0:
        return 0
    iou = hits[tid] / (m.sum() + (syn.labels == tid).sum() - hits[tid])
    return tid if iou > 0.5 else 0


def _errors(res, syn):
    """Per counted nucleus: (her2 error, cep17 error, truth row)."""
    out = []
    for n in res.counted:
        tid = _truth_id(res, syn, n.nucleus_id)
        assert tid, f"counted nucleus {n.nucleus_id} matches no true nucleus"
        t = syn.nuclei[tid - 1]
        out.append((n.her2 - t["her2"], n.cep17 - t["cep17"], t))
    return out


@pytest.fixture(scope="module")
def group4():
    syn = generate_fish_field(shape_px=(768, 768), n_nuclei=40, scenario="group4", seed=5,
                              snr=10)
    return syn, _fish(syn)


@pytest.fixture(scope="module")
def amplified():
    syn = generate_fish_field(shape_px=(768, 768), n_nuclei=40, scenario="amplified", seed=6,
                              snr=10)
    return syn, _fish(syn)


def test_counted_nuclei_are_exactly_the_countable_ones(group4):
    syn, res = group4
    counted = {_truth_id(res, syn, n.nucleus_id) for n in res.counted}
    assert counted == set(syn.nuclei["nucleus_id"][syn.countable])
    assert res.n_counted >= 20
    assert "too_few_nuclei" not in quality_flags(res)


def test_per_nucleus_count_error_outside_clusters(group4):
    """Tolerance: mean absolute error <= 0.3 copies per nucleus, per probe (issue target)."""
    syn, res = group4
    err = _errors(res, syn)
    assert np.mean([abs(e[0]) for e in err]) <= 0.3
    assert np.mean([abs(e[1]) for e in err]) <= 0.3
    truth_h = np.mean([e[2]["her2"] for e in err])
    assert res.her2_mean == pytest.approx(truth_h, abs=0.2)
    assert res.ratio == pytest.approx(res.her2_mean / res.cep17_mean)


def test_cluster_copies_within_25_percent(amplified):
    syn, res = amplified
    truth = syn.signals[syn.signals["is_cluster"]]
    found = np.array([[c.row, c.col] for c in res.her2.clusters])
    assert len(found) >= 0.9 * len(truth)
    rel = []
    for t in truth:
        d = np.hypot(found[:, 0] - t["row"], found[:, 1] - t["col"])
        j = int(np.argmin(d))
        if d[j] <= 3.0:
            rel.append(abs(res.her2.clusters[j].copies - t["copies"]) / t["copies"])
        else:
            rel.append(1.0)  # a missed cluster counts as a failure
    rel = np.asarray(rel)
    assert np.mean(rel <= 0.25) >= 0.9, rel
    # nucleus totals with clusters: within 25 % too
    err = _errors(res, syn)
    assert all(abs(e[0]) <= 0.25 * e[2]["her2"] for e in err)
    flagged = [n for n in res.counted if n.her2_clusters]
    assert flagged and all(n.cluster_copies > 0 for n in flagged)


def test_guideline_input_is_the_engine_contract(group4):
    _syn, res = group4
    gi = res.guideline_input
    assert gi["probe"] == "dual"
    assert gi["nuclei"] == [[n.her2, n.cep17] for n in res.counted]
    assert all(isinstance(v, int) for pair in gi["nuclei"] for v in pair)
    assert res.nuclei_counts == gi["nuclei"]
    rows = res.table()
    assert len(rows) == len(res.nuclei)
    assert set(rows[0]) == {"id", "centroid_row_px", "centroid_col_px", "area_um2", "her2",
                            "cep17", "her2_clusters", "cluster_copies", "included",
                            "exclusion_reason"}


def test_exclusion_reasons_edge_focus_and_cep17():
    counts = [(2, 2)] * 14 + [(3, 0)] * 4
    syn = generate_fish_field(shape_px=(640, 640), counts=counts, seed=9, snr=10,
                              out_of_focus_fraction=0.2)
    res = _fish(syn)
    by_truth = {_truth_id(res, syn, n.nucleus_id): n for n in res.nuclei}
    checked = set()
    for t in syn.nuclei:
        n = by_truth.get(int(t["nucleus_id"]))
        assert n is not None, f"true nucleus {t['nucleus_id']} not segmented"
        if not t["whole"]:
            assert n.exclusion_reason == "touches_image_edge"
        elif not t["in_focus"]:
            assert n.exclusion_reason == "out_of_focus"
        elif t["cep17"] == 0:
            assert n.exclusion_reason == "no_cep17_signal"
        else:
            assert n.included and n.exclusion_reason == ""
        checked.add(n.exclusion_reason)
    assert {"touches_image_edge", "out_of_focus", "no_cep17_signal", ""} <= checked
    assert checked <= set(EXCLUSION_REASONS) | {""}
    assert "too_few_nuclei" in quality_flags(res)


def test_exclusion_reasons_roi_and_overlap(group4):
    syn, _ = group4
    labels = syn.labels.copy()
    whole = syn.nuclei["nucleus_id"][syn.countable]
    a, b = int(whole[0]), int(whole[1])
    labels[labels == b] = a  # two nuclei merged into one object
    roi = np.zeros(labels.shape, bool)
    roi[:, : labels.shape[1] // 2] = True
    res = _fish(syn, nuclei_labels=labels, roi_mask=roi)
    rec = {n.nucleus_id: n for n in res.nuclei}
    assert rec[a].exclusion_reason in ("oversized_or_overlapping", "outside_roi")
    if rec[a].exclusion_reason == "outside_roi":
        pytest.fail("merged pair fell outside the ROI; pick another pair")
    right = [n for n in res.nuclei if n.col > labels.shape[1] * 0.6 and n.nucleus_id != a]
    assert right and all(n.exclusion_reason in ("outside_roi", "touches_image_edge")
                         for n in right)


def test_z_stack_counts_like_truth():
    syn = generate_fish_field(shape_px=(512, 512), n_nuclei=20, scenario="group4", seed=3,
                              z_planes=5, snr=10)
    res = _fish(syn)
    assert res.parameters["z_planes"] == 5 and res.parameters["z_projection"] == "max"
    err = _errors(res, syn)
    assert len(err) == syn.countable.sum()
    assert np.mean([abs(e[0]) for e in err]) <= 0.3
    assert np.mean([abs(e[1]) for e in err]) <= 0.3


def test_brightfield_dual_ish_counts():
    syn = generate_brightfield_ish_field(shape_px=(640, 640), n_nuclei=30, scenario="group1",
                                         seed=4)
    res = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=PX)
    assert res.probe == "dual" and res.parameters["stains"]["her2"] == "silver"
    # Glass estimated from the brightest pixels (white plus camera noise).
    assert all(235.0 <= v <= 255.0 for v in res.parameters["background_rgb"])
    assert res.parameters["stains_estimated"] is True
    err = _errors(res, syn)
    assert len(err) == syn.countable.sum()
    assert np.mean([abs(e[0]) for e in err]) <= 0.3
    assert np.mean([abs(e[1]) for e in err]) <= 0.3


def test_brightfield_dual_ish_on_tinted_glass_estimates_the_background():
    """A microscope that is not white-balanced: glass at ~(210, 210, 190), not 255."""
    syn = generate_brightfield_ish_field(shape_px=(640, 640), n_nuclei=30, scenario="group1",
                                         seed=4)
    tint = np.array([0.83, 0.83, 0.75])
    tinted = np.rint(syn.image * tint).astype(np.uint8)
    res = count_brightfield_ish(tinted, assay="dual-ish", pixel_size_um=PX)
    bg = np.array(res.parameters["background_rgb"])
    assert np.allclose(bg / bg.max(), tint / tint.max(), atol=0.03)
    err = _errors(res, syn)
    assert len(err) == syn.countable.sum()
    assert np.mean([abs(e[0]) for e in err]) <= 0.3
    assert np.mean([abs(e[1]) for e in err]) <= 0.3
    # The old fixed white I0 turns the tint into silver-like OD everywhere.
    white = count_brightfield_ish(tinted, assay="dual-ish", pixel_size_um=PX,
                                  options=BrightfieldIshOptions(
                                      background_rgb=(255, 255, 255), estimate_stains=False))
    assert white.parameters["background_rgb"] == (255.0, 255.0, 255.0)


def test_brightfield_cish_is_single_probe():
    syn = generate_brightfield_ish_field(shape_px=(512, 512), n_nuclei=20, scenario="group4",
                                         seed=8, assay="cish")
    res = count_brightfield_ish(syn.image, assay="cish", pixel_size_um=PX)
    assert res.cep17 is None and res.ratio is None
    gi = res.guideline_input
    assert set(gi) == {"probe", "cells_counted", "her2_mean"}
    assert gi["probe"] == "single" and gi["cells_counted"] == res.n_counted
    truth = syn.nuclei["her2"][syn.countable].mean()
    assert gi["her2_mean"] == pytest.approx(truth, abs=0.3)


def test_heterogeneity_flags_a_distinct_amplified_population():
    counts = [(2, 2)] * 14 + [(10, 2)] * 5
    syn = generate_fish_field(shape_px=(640, 640), counts=counts, seed=12, snr=12)
    res = _fish(syn)
    het = heterogeneity(res)
    frac_true = np.mean(syn.nuclei["her2"][syn.countable] >= 6)
    assert het.fraction_high == pytest.approx(frac_true, abs=0.05)
    assert het.flagged is bool(0.10 < frac_true <= 0.9)
    assert het.her2_mean_high >= 8


def test_homogeneous_normal_field_is_not_flagged():
    syn = generate_fish_field(shape_px=(640, 640), n_nuclei=30, scenario="normal", seed=13,
                              snr=12)
    res = _fish(syn)
    assert not heterogeneity(res).flagged
    assert "weak_signals" not in quality_flags(res)
    assert "high_background" not in quality_flags(res)


def test_weak_signals_are_flagged():
    syn = generate_fish_field(shape_px=(512, 512), n_nuclei=20, scenario="normal", seed=13,
                              snr=5)
    assert "weak_signals" in quality_flags(_fish(syn))


def test_overlay_marks_counted_nuclei_and_signals(group4):
    syn, res = group4
    fish = fish_from_stack(syn.image, channels=CH)
    before = syn.image.copy()
    ov = render_ish_overlay(fish, res, scale=1)
    assert ov.shape == (*syn.image.shape[:2], 3) and ov.dtype == np.uint8
    assert np.array_equal(syn.image, before)
    assert (np.all(ov == (255, 230, 0), axis=-1)).sum() > 100  # counted outlines
    r, c = np.rint(res.her2.detection.coords_px[0] + [0, 3]).astype(int)  # ring edge
    assert np.any(np.all(ov[r - 1 : r + 2, c - 1 : c + 2] == (255, 60, 60), axis=-1))
    with pytest.raises(ImageInputError, match="labels are"):
        render_ish_overlay(np.zeros((10, 10, 3), np.uint8), res)


def test_overlay_of_a_coarse_image_is_enlarged_and_its_rings_follow(group4):
    # At 0.2 µm/px the overlay is drawn at 2x (0.1 µm per display px): every pixel a 2 x 2
    # block, rings at the enlarged signal position; a bad factor is refused.
    syn, res = group4
    fish = fish_from_stack(syn.image, channels=CH)
    ov = render_ish_overlay(fish, res)
    rows, cols = syn.image.shape[:2]
    assert ov.shape == (2 * rows, 2 * cols, 3)
    y, x = res.her2.detection.coords_px[0]
    r, c = round(float(2 * y + 0.5)), round(float(2 * x + 0.5)) + 5  # ring edge: 2.5 x 2 sigma
    assert np.any(np.all(ov[r - 2 : r + 3, c - 2 : c + 3] == (255, 60, 60), axis=-1))
    for bad in (0, 1.5, True):
        with pytest.raises(ImageInputError, match="scale"):
            render_ish_overlay(fish, res, scale=bad)


@pytest.mark.parametrize(("pixel_size_um", "shape", "expected"), [
    (0.065, (1200, 1600), 1), (0.1, (100, 100), 1), (0.101, (100, 100), 2),
    (0.25, (312, 416), 3), (0.5, (100, 100), 5),
    (0.25, (2048, 2048), 3), (0.25, (3000, 3000), 2), (0.25, (7000, 7000), 1)])
def test_overlay_scale_reaches_0_1_um_within_the_pixel_budget(pixel_size_um, shape, expected):
    from her2kit.viz.ish import overlay_scale

    assert overlay_scale(shape, pixel_size_um) == expected


def test_bad_pipeline_input(group4):
    syn, _ = group4
    fish = fish_from_stack(syn.image, channels=CH)
    with pytest.raises(Her2kitInputError, match="pixel size"):
        count_fish(fish)
    with pytest.raises(ImageInputError, match="FishImage"):
        count_fish(syn.image, pixel_size_um=PX)
    with pytest.raises(ImageInputError, match="roi_mask"):
        count_fish(fish, pixel_size_um=PX, roi_mask=np.ones((5, 5), bool))
    bf = generate_brightfield_ish_field(shape_px=(64, 64), n_nuclei=1, seed=0).image
    with pytest.raises(Her2kitInputError, match="dual-ish"):
        count_brightfield_ish(bf, assay="fish", pixel_size_um=PX)
    with pytest.raises(ImageInputError, match="stains must name"):
        count_brightfield_ish(bf, assay="dual-ish", pixel_size_um=PX,
                              stains={"nuclei": "hematoxylin", "her2": "silver"})
    with pytest.raises(ImageInputError, match="fluorescence"):
        count_brightfield_ish((syn.image[..., :3] // 64).astype(np.uint8), assay="dual-ish",
                              pixel_size_um=PX)


def test_real_fish_counts_are_plausible(real_data):
    """Real HER2 FISH JPEG (PCM_fish_dish FISH1; no ground truth, SOURCE.md).

    Visually ~2 CEP17 per nucleus (2.3 by hand, tests/data/ish_reference/FISH1.csv).
    The k_mad floor alone counted 48 CEP17 per nucleus here (nuclear texture maxima);
    the valley threshold must not. Pixel size first assumed 0.133 µm from our own
    segmentation, since from the REF_FISH1 outlines 0.072 µm (benchmarks/ish_accuracy.py).
    The DAPI valley split (issue 11) cuts nuclei into pieces at the too-large 0.133,
    so there the check runs with the shape-only split it was written for.
    """
    path = real_data("her2_fish_dish_pcm") / "FISH" / "FISH1.jpg"
    from PIL import Image

    from her2kit.imaging.ish import FishOptions
    from her2kit.imaging.ish.channels import fish_from_rgb

    rgb = np.asarray(Image.open(path).convert("RGB"))
    fish = fish_from_rgb(rgb, channels={"her2": "R", "cep17": "G", "dapi": "B"})
    shape_only = FishOptions(nuclei_core_fraction=0, nuclei_split_h_um=0.5, min_solidity=0.9)
    for px, options in ((0.133, shape_only), (0.072, None)):
        res = count_fish(fish, pixel_size_um=px, options=options)
        assert res.n_counted >= 20
        assert res.parameters["cep17_threshold_method"] == "valley"
        assert res.parameters["cep17_threshold"] > 3 * res.parameters["cep17_threshold_floor"]
        assert 1.3 <= res.cep17_mean <= 3.0
        assert res.her2_mean <= 4.0


#: The brightfield nucleus settings before pale-nucleus segmentation (full-resolution
#: Otsu on the grey-closed hematoxylin amount).
_OLD_BRIGHTFIELD_NUCLEI = dict(segmentation_grid_um=None, nuclei_despeckle_um=0,
                               nuclei_background_um=0, nuclei_threshold_factor=1.0,
                               nuclei_split_h_um=0.5)


def test_brightfield_pale_nuclei_among_dark_ones_are_counted():
    """Pale nuclei (OD 0.06), 40 % of them 3x darker, on a stroma whose OD rises by 0.06
    across the field: Otsu alone splits pale from dark nuclei and loses pale ones."""
    syn = generate_brightfield_ish_field(shape_px=(640, 640), n_nuclei=30, scenario="group4",
                                         seed=5, nucleus_od=0.06, dark_nucleus_fraction=0.4,
                                         stroma_gradient_od=0.06)
    res = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=PX)
    old = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=PX,
                                options=BrightfieldIshOptions(**_OLD_BRIGHTFIELD_NUCLEI))
    n_true = int(syn.countable.sum())
    assert res.n_counted >= 0.9 * n_true
    assert res.n_counted > old.n_counted
    err = _errors(res, syn)  # every counted nucleus is one true nucleus (IoU > 0.5)
    assert np.mean([abs(e[0]) for e in err]) <= 0.3
    assert np.mean([abs(e[1]) for e in err]) <= 0.3
    p = res.parameters
    assert (p["nuclei_despeckle_um"], p["nuclei_background_um"], p["nuclei_threshold_factor"],
            p["nuclei_split_h_um"], p["segmentation_grid_um"]) == (2.0, 18.0, 0.65, 0.25, 0.4)


def test_brightfield_nucleus_options_are_checked():
    bf = generate_brightfield_ish_field(shape_px=(64, 64), n_nuclei=1, seed=0).image
    for kw in ({"nuclei_despeckle_um": -1}, {"nuclei_background_um": float("nan")},
               {"nuclei_threshold_factor": 0}, {"nuclei_split_h_um": -0.1},
               {"segmentation_grid_um": 0}):
        with pytest.raises(Her2kitInputError):
            count_brightfield_ish(bf, assay="dual-ish", pixel_size_um=PX,
                                  options=BrightfieldIshOptions(**kw))


def test_generator_defaults_unchanged_by_pale_nucleus_options():
    a = generate_brightfield_ish_field(shape_px=(128, 128), n_nuclei=3, seed=2)
    b = generate_brightfield_ish_field(shape_px=(128, 128), n_nuclei=3, seed=2, nucleus_od=0.28,
                                       dark_nucleus_fraction=0.0, stroma_od=0.03,
                                       stroma_gradient_od=0.0)
    assert np.array_equal(a.image, b.image)


def test_real_dual_ish_counts_pale_nuclei(real_data):
    """Real Dual ISH JPEG (PCM_fish_dish DISH3; no signal ground truth, SOURCE.md).

    Pixel size 0.060 µm assumed from a 9 µm median diameter of the REF_DISH3 outlines
    (benchmarks/ish_accuracy.py, section 6). The full-resolution Otsu segmentation
    counted 13 nuclei here; the pale-nucleus settings count more, of plausible size.
    """
    path = real_data("her2_fish_dish_pcm") / "DISH" / "DISH3.jpg"
    from her2kit.io.fish import read_brightfield_ish

    res = count_brightfield_ish(read_brightfield_ish(path), assay="dual-ish",
                                pixel_size_um=0.060)
    assert res.n_counted >= 16
    areas = [n.area_um2 for n in res.counted]
    assert 35 <= np.median(areas) <= 110  # a 9 µm nucleus is ~64 µm²


def test_dominant_mode_ignores_a_faint_spread_majority():
    from her2kit.imaging.ish.signals import _dominant_mode

    rng = np.random.default_rng(0)
    dots = np.exp(rng.normal(0.0, 0.1, 30))  # the in-focus dots, ~1.0
    faint = 10 ** rng.uniform(-1.0, -0.3, 40)  # a wider, more numerous faint tail
    assert np.median(np.concatenate([dots, faint])) < 0.5  # the old reference
    assert 0.85 <= _dominant_mode(np.concatenate([dots, faint])) <= 1.15
    one = np.exp(rng.normal(np.log(2.0), 0.2, 200))  # one population: mode ~ median
    assert abs(_dominant_mode(one) / np.median(one) - 1) <= 0.15
    assert _dominant_mode(np.array([2.0, 4.0])) == 3.0  # too few: the median


def test_brightfield_cluster_copies_with_clear_mode_reference():
    syn = generate_brightfield_ish_field(shape_px=(768, 768), n_nuclei=40, scenario="amplified",
                                         seed=6)
    res = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=PX)
    assert res.parameters["single_signal_reference"] == "clear-mode"
    truth = syn.signals[syn.signals["is_cluster"]]
    found = np.array([[c.row, c.col] for c in res.her2.clusters]).reshape(-1, 2)
    rel = []
    for t in truth:
        d = np.hypot(found[:, 0] - t["row"], found[:, 1] - t["col"]) if len(found) else [9.0]
        j = int(np.argmin(d))
        rel.append(abs(res.her2.clusters[j].copies - t["copies"]) / t["copies"]
                   if d[j] <= 3.0 else 1.0)
    assert len(truth) and np.mean(np.asarray(rel) <= 0.25) >= 0.9, rel
    old = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=PX,
                                options=BrightfieldIshOptions(single_signal_reference="median",
                                                              silver_single_percentile=50.0))
    assert old.parameters["single_signal_reference"] == "median"
    # One population of signals: both references give the same counts (the single
    # dot's intensity taken the same way in both, the median of isolated singles).
    mode50 = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=PX,
                                   options=BrightfieldIshOptions(silver_single_percentile=50.0))
    assert [n.her2 for n in old.counted] == [n.her2 for n in mode50.counted]
    with pytest.raises(Her2kitInputError):
        count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=PX,
                              options=BrightfieldIshOptions(single_signal_reference="mode"))


def test_real_dual_ish_single_dots_are_not_clusters(real_data):
    """Real Dual ISH JPEG (PCM_fish_dish DISH1; no signal ground truth, SOURCE.md).

    By eye the nuclei show ~1-3 black and ~1-3 red dots. With the FISH median
    reference (``"median"``) faint red smudges and hematoxylin texture in the
    silver amount set the single-signal reference and single dots became 5-15
    copy clusters (means ~8 / ~10). Pixel size 0.065 µm assumed from the REF_DISH1
    outlines (benchmarks/ish_accuracy.py, section 6). (With nuclei split at the
    valleys of the amount, ``nuclei_core_fraction``, the median reference gives
    ~5.6 red copies, more nuclei being counted; still clusters of single dots.)
    """
    path = real_data("her2_fish_dish_pcm") / "DISH" / "DISH1.jpg"
    from her2kit.io.fish import read_brightfield_ish

    rgb = read_brightfield_ish(path)
    res = count_brightfield_ish(rgb, assay="dual-ish", pixel_size_um=0.065)
    assert res.n_counted >= 15
    assert 1.0 <= res.her2_mean <= 5.0 and 1.0 <= res.cep17_mean <= 5.0
    assert len(res.cep17.clusters) <= 3
    old = count_brightfield_ish(rgb, assay="dual-ish", pixel_size_um=0.065,
                                options=BrightfieldIshOptions(single_signal_reference="median",
                                                              red_single_percentile=50))
    assert old.cep17_mean > 5.0 and len(old.cep17.clusters) > 10


def test_fields_pool_into_one_count():
    from her2kit.imaging.ish import pool_fields

    fields = [generate_fish_field(shape_px=(512, 512), n_nuclei=14, scenario="group4",
                                  seed=s, snr=10) for s in (21, 22)]
    results = [_fish(syn) for syn in fields]
    assert all(0 < r.n_counted < 20 for r in results)
    assert all("too_few_nuclei" in quality_flags(r) for r in results)
    pooled = pool_fields(results, ["a.tif", "b.tif"])
    counted = [*results[0].counted, *results[1].counted]
    assert pooled.n_counted == len(counted) == results[0].n_counted + results[1].n_counted
    assert pooled.her2_mean == pytest.approx(np.mean([n.her2 for n in counted]))
    assert pooled.cep17_mean == pytest.approx(np.mean([n.cep17 for n in counted]))
    assert pooled.ratio == pytest.approx(pooled.her2_mean / pooled.cep17_mean)
    # The 20-nucleus rule is judged on the pooled count; the fields' other flags stay.
    assert ("too_few_nuclei" in quality_flags(pooled)) == (pooled.n_counted < 20)
    others = {f for r in results for f in quality_flags(r)} - {"too_few_nuclei"}
    assert others <= set(quality_flags(pooled))
    assert pooled.guideline_input == {"probe": "dual",
                                      "nuclei": [[n.her2, n.cep17] for n in counted]}
    table = pooled.table()
    assert len(table) == len(results[0].nuclei) + len(results[1].nuclei)
    assert [r["field"] for r in table] == (["a.tif"] * len(results[0].nuclei)
                                           + ["b.tif"] * len(results[1].nuclei))
    # One field pooled is that field.
    one = pool_fields(results[:1], ["a.tif"])
    assert (one.n_counted, one.her2_mean) == (results[0].n_counted, results[0].her2_mean)


def test_pooling_bad_input(group4):
    from her2kit.imaging.ish import pool_fields

    res = group4[1]
    cish = count_brightfield_ish(generate_brightfield_ish_field(
        shape_px=(256, 256), n_nuclei=3, seed=1, assay="cish").image, assay="cish",
        pixel_size_um=PX)
    with pytest.raises(Her2kitInputError, match="no fields"):
        pool_fields([], [])
    with pytest.raises(Her2kitInputError, match="distinct name"):
        pool_fields([res, res], ["a", "a"])
    with pytest.raises(Her2kitInputError, match="distinct name"):
        pool_fields([res], ["a", "b"])
    with pytest.raises(Her2kitInputError, match="different assays"):
        pool_fields([res, cish], ["a", "b"])
    single = pool_fields([cish, cish], ["c1", "c2"])
    assert single.guideline_input["probe"] == "single"
    assert single.guideline_input["cells_counted"] == 2 * cish.n_counted


def test_touching_dark_nuclei_split_at_valleys_of_the_amount():
    from her2kit.imaging.segment.nuclei import match_instances

    # 140 dark nuclei in a 154 µm field: many touch. By shape alone some pairs stay
    # joined (seed 2: 8 of 140 true nuclei unmatched); the cores split them.
    syn = generate_brightfield_ish_field(shape_px=(768, 768), pixel_size_um=PX, n_nuclei=140,
                                         seed=2, dark_nucleus_fraction=1.0)
    shape_only = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=PX,
                                       options=BrightfieldIshOptions(nuclei_core_fraction=0.0))
    cores = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=PX)
    m0 = match_instances(syn.labels, shape_only.labels)
    m1 = match_instances(syn.labels, cores.labels)
    assert cores.parameters["nuclei_core_fraction"] == 0.5
    assert m0.fn >= 4
    assert m1.f1 >= 0.99 and m1.fn < m0.fn and m1.fp <= m0.fp
    with pytest.raises(Her2kitInputError, match="nuclei_core_fraction"):
        count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=PX,
                              options=BrightfieldIshOptions(nuclei_core_fraction=1.0))

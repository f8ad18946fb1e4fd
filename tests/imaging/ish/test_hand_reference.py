"""The Dual ISH and FISH counters against the project's hand-counted reference (issue 11).

tests/data/ish_reference holds counts made by eye on enlarged crops of the
PCM_fish_dish Dual ISH and FISH fields (README.md there; the project's own counts, not
an expert's). DISH1 and DISH3, FISH1 and FISH2 were used to choose the options;
DISH2, DISH4, DISH5, FISH3, FISH4 and FISH5 are held back. The thresholds below are the
issue's targets (80 % of the nuclei without clusters within ±1 signal; ratio within
15 % and on the same side of 2.0),
not numbers read from the counter. The matching is written here again, apart from
benchmarks/ish_reference.py, so that the benchmark's rules are checked too.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from her2kit.imaging.ish import count_brightfield_ish
from her2kit.io.fish import read_brightfield_ish

REF = Path(__file__).resolve().parents[2] / "data" / "ish_reference"
TUNING, HELD_BACK = ("DISH1", "DISH3"), ("DISH2", "DISH4", "DISH5")
FISH_TUNING, FISH_HELD_BACK = ("FISH1", "FISH2"), ("FISH3", "FISH4", "FISH5")
# Field sizes (rows, cols) from SOURCE.md of the PCM_fish_dish folder.
SHAPES = {**{f"DISH{i}": (1200, 1600) for i in range(1, 6)},
          **{f"FISH{i}": (1536, 2040) for i in (1, 2, 3)},
          **{f"FISH{i}": (1024, 1360) for i in (4, 5)}}
PIXEL_SIZE_UM = 0.065  # ASSUMED (benchmarks/ish_accuracy.py, _ref_px of REF_DISH)


def _rows(field):
    with open(REF / f"{field}.csv", newline="") as fh:
        return [{k: int(v) for k, v in r.items()} for r in csv.DictReader(fh)]


def test_reference_tables_are_well_formed():
    fields = TUNING + HELD_BACK + FISH_TUNING + FISH_HELD_BACK
    assert sorted(p.stem for p in REF.glob("*.csv")) == sorted(fields)
    readme = (REF / "README.md").read_text()
    assert "not an expert" in readme and "before any counter output" in readme
    n = {"DISH": 0, "FISH": 0}
    for field in fields:
        rows = _rows(field)
        n[field[:4]] += len(rows)
        assert len(rows) >= (12 if field.startswith("DISH") else 15), field
        n_rows, n_cols = SHAPES[field]
        for r in rows:
            assert 0 <= r["row"] < n_rows and 0 <= r["col"] < n_cols, (field, r)
            assert 0 <= r["her2"] <= 30 and 0 <= r["cep17"] <= 30 and r["cluster"] in (0, 1)
        centres = np.array([[r["row"], r["col"]] for r in rows], float)
        d = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
        assert (d + 1e3 * np.eye(len(rows))).min() >= 40, field  # no nucleus twice
    assert n["DISH"] >= 90 and n["FISH"] >= 60


# FISH µm/px ASSUMED as in benchmarks/ish_accuracy.py (from the REF_FISH outlines).
FISH_PIXEL_SIZE_UM = {"FISH1": 0.072, "FISH2": 0.066, "FISH3": 0.054, "FISH4": 0.131,
                      "FISH5": 0.109}


def _count(real_data, field, options=None):
    folder = real_data("her2_fish_dish_pcm")
    if field.startswith("FISH"):
        from PIL import Image

        from her2kit.imaging.ish import count_fish
        from her2kit.imaging.ish.channels import fish_from_rgb

        rgb = np.asarray(Image.open(folder / "FISH" / f"{field}.jpg").convert("RGB"))
        fish = fish_from_rgb(rgb, channels={"her2": "R", "cep17": "G", "dapi": "B"})
        return count_fish(fish, pixel_size_um=FISH_PIXEL_SIZE_UM[field], options=options)
    return count_brightfield_ish(read_brightfield_ish(folder / "DISH" / f"{field}.jpg"),
                                 assay="dual-ish", pixel_size_um=PIXEL_SIZE_UM,
                                 options=options)


def _agreement(real_data, fields, options=None):
    plain = her2_ok = cep17_ok = 0
    ratios = {}
    for field in fields:
        res = _count(real_data, field, options)
        by_id = {n.nucleus_id: n for n in res.nuclei}
        got, ref = [], []
        for r in _rows(field):
            n = by_id.get(int(res.labels[r["row"], r["col"]]))
            if n is None:
                continue
            got.append((n.her2, n.cep17))
            ref.append((r["her2"], r["cep17"]))
            if not r["cluster"]:
                plain += 1
                her2_ok += abs(n.her2 - r["her2"]) <= 1
                cep17_ok += abs(n.cep17 - r["cep17"]) <= 1
        g, t = np.mean(got, axis=0), np.mean([(r["her2"], r["cep17"]) for r in _rows(field)],
                                             axis=0)
        ratios[field] = (g[0] / g[1], t[0] / t[1])
    return her2_ok / plain, cep17_ok / plain, ratios


def _ratio_ok(got, ref):
    return (got >= 2.0) == (ref >= 2.0) and abs(got - ref) <= 0.15 * ref


def test_tuning_fields_per_nucleus_within_one(real_data):
    her2, cep17, ratios = _agreement(real_data, TUNING)
    assert her2 >= 0.8 and cep17 >= 0.8, (her2, cep17)
    assert _ratio_ok(*ratios["DISH1"]), ratios


def test_fish_tuning_fields_per_nucleus_within_one(real_data):
    # FISH1 / FISH2 by hand: ratios 1.17 / 1.07 (tests/data/ish_reference). With the
    # joined-pair split (FishOptions.nuclei_joined_factor) >= 90 % (84 / 89 % without).
    her2, cep17, _ = _agreement(real_data, FISH_TUNING)
    assert her2 >= 0.9 and cep17 >= 0.9, (her2, cep17)
    found = counted = 0
    for field in FISH_TUNING:
        res = _count(real_data, field)
        assert res.ratio < 2.0, field
        by_id = {n.nucleus_id: n for n in res.nuclei}
        for r in _rows(field):
            n = by_id.get(int(res.labels[r["row"], r["col"]]))
            found += n is not None
            counted += n is not None and n.included
    # Every hand-counted nucleus is one a technologist counts: keep >= 80 % of them.
    assert counted >= 0.8 * found, (counted, found)


def test_fish_tuning_found_ratios_within_15_percent(real_data):
    # Issue 11, branch fishdoublet: touching red doublets of FISH1 read as one dot
    # (found ratio 0.98 against 1.17 by hand, outside 15 %); elongated detections
    # counted as two (FishOptions.doublet_ratio_her2 1.7) bring both tuning fields
    # within 15 % of the hand ratios (FISH1 1.17, FISH2 1.07).
    from her2kit.imaging.ish import FishOptions

    her2, cep17, ratios = _agreement(real_data, FISH_TUNING)
    assert all(_ratio_ok(*v) for v in ratios.values()), ratios
    _, _, off = _agreement(real_data, ("FISH1",),
                           FishOptions(doublet_ratio_her2=0))
    assert not _ratio_ok(*off["FISH1"]), off
    # Per nucleus not worse than without the split.
    assert her2 >= 0.9 and cep17 >= 0.9, (her2, cep17)


def test_fish5_field_ratio_on_the_right_side_of_2(real_data):
    # Held back; the issue's group target: FISH5's hand ratio 1.40 is not within 10 %
    # of 2.0, so the counter's own field ratio must be below 2.0 too.
    assert _count(real_data, "FISH5").ratio < 2.0


def test_fish_held_back_fields_per_nucleus_within_one(real_data):
    # The issue's per-nucleus target on the held-back FISH part (FISH3, FISH4, FISH5).
    # Met since branch fishfaint (HER2 53 of 66, CEP17 59 of 66, held back run once;
    # a strict xfail before, at 52 of 66).
    her2, cep17, _ = _agreement(real_data, FISH_HELD_BACK)
    assert her2 >= 0.8 and cep17 >= 0.8, (her2, cep17)


@pytest.mark.xfail(strict=True, reason="issue 11 open: FISH3's HER2 is over-counted (found "
                   "HER2 6.86 vs 3.91 by hand, ratio 2.32 vs 1.72, field ratio 2.12) and "
                   "FISH5's green dots are under-counted (found ratio 2.19 vs 1.40); only "
                   "FISH4 within 15 % (branch fishfaint; 2.67 / 4.54 for FISH3 / FISH5 "
                   "before it); benchmarks/README.md")
def test_fish_held_back_field_ratios_meet_issue_targets(real_data):
    _, _, ratios = _agreement(real_data, FISH_HELD_BACK)
    assert all(_ratio_ok(*v) for v in ratios.values()), ratios


def test_held_back_fields_cep17_within_one(real_data):
    _, cep17, _ = _agreement(real_data, HELD_BACK)
    assert cep17 >= 0.8, cep17


@pytest.mark.xfail(strict=True, reason="issue 11 open: held-back HER2 within ±1 67 %, "
                   "CEP17 87 %, cluster nuclei 0/3, found ratios 0/3 (DISH2 1.20 vs 1.43 "
                   "by hand, DISH4 1.86 vs 2.13, DISH5 0.09 vs 0.68: its small grey silver "
                   "dots still missed, found HER2 0.62 vs 4.85); held back run once after "
                   "the 2026-12-02 merges; benchmarks/README.md")
def test_held_back_fields_meet_issue_targets(real_data):
    her2, cep17, ratios = _agreement(real_data, HELD_BACK)
    assert her2 >= 0.8 and cep17 >= 0.8
    assert all(_ratio_ok(*v) for v in ratios.values()), ratios


def test_issue_11_options_off_give_the_earlier_counts(real_data):
    # The earlier counts of DISH1 at 0.065 µm/px: tests/data/golden/dish-real-1 before
    # issue 11 (26 nuclei counted, HER2 60 / 26, CEP17 57 / 26).
    from her2kit.imaging.ish import BrightfieldIshOptions

    rgb = read_brightfield_ish(real_data("her2_fish_dish_pcm") / "DISH" / "DISH1.jpg")
    old = BrightfieldIshOptions(silver_twin_radius_um=0, red_min_relative=0,
                                silver_single_percentile=50, min_solidity=0.9,
                                red_cluster_max_um=2.0, red_single_percentile=50,
                                silver_opaque_transmittance=0, silver_local_k=0,
                                red_single_reference="percentile", red_faint_k=0,
                                maxima_area_cap=False, red_rounded_copies=False)
    res = count_brightfield_ish(rgb, assay="dual-ish", pixel_size_um=PIXEL_SIZE_UM,
                                options=old)
    assert res.n_counted == 26
    assert res.her2_mean == pytest.approx(60 / 26) and res.cep17_mean == pytest.approx(57 / 26)


def test_issue_11_options_are_validated():
    from her2kit.errors import Her2kitInputError
    from her2kit.imaging.ish import BrightfieldIshOptions

    for bad in (dict(silver_twin_radius_um=-0.1), dict(red_min_relative=-1),
                dict(silver_single_percentile=101)):
        with pytest.raises(Her2kitInputError, match=next(iter(bad))):
            BrightfieldIshOptions(**bad)


def test_texture_threshold_on_the_tuning_fields(real_data):
    # Issue 11, branch dishclust: the per-nucleus silver threshold (silver_local_k 4)
    # drops hematoxylin texture in coarse DISH3 nuclei (7 "signals" where 3 are
    # counted by eye): HER2 within ±1 91 % of the 33 tuning nuclei, 82 % without.
    from her2kit.imaging.ish import BrightfieldIshOptions

    her2, _, _ = _agreement(real_data, TUNING)
    assert her2 >= 0.88, her2
    off, _, _ = _agreement(real_data, TUNING, BrightfieldIshOptions(silver_local_k=0))
    assert off < 0.88, off


def test_dish3_red_aggregates_are_not_doubled(real_data):
    # DISH3's two red aggregates at (142, 175) and (475, 650): 5 CEP17 copies each by
    # hand. Against the median single red dot (red_single_reference "percentile" at 50,
    # the default before branch reddots) they read 10; against the 75th percentile
    # within 40 % of the hand count; against the clear single dots' mode (the default
    # since branch reddots) 8 at most.
    from her2kit.imaging.ish import BrightfieldIshOptions

    def cep17(options=None):
        res = _count(real_data, "DISH3", options)
        by_id = {n.nucleus_id: n for n in res.nuclei}
        return [by_id[int(res.labels[r, c])].cep17 for r, c in ((142, 175), (475, 650))]

    assert all(c <= 7 for c in cep17(BrightfieldIshOptions(red_single_reference="percentile",
                                                           red_single_percentile=75)))
    old = cep17(BrightfieldIshOptions(red_single_reference="percentile"))
    assert all(c >= 9 for c in old), old
    new = cep17()
    assert all(c <= 8 for c in new), new


def test_stain_vectors_and_white_point_are_recorded_within_bounds(real_data):
    # Per-field white point and chromogen vectors (issue 11): recorded, each vector
    # within the estimator's 25 degree bound of its published reference.
    for field in TUNING:
        p = _count(real_data, field).parameters
        assert set(p["stain_vectors"]) == set(p["stain_angles_deg"]) == {"nuclei", "her2",
                                                                         "cep17"}
        assert all(0 <= a <= 25.0 for a in p["stain_angles_deg"].values()), p
        assert all(150 <= v <= 255 for v in p["background_rgb"]), p["background_rgb"]
        for key in ("silver_opaque_transmittance", "silver_dense_cluster_max_um",
                    "her2_opaque_px", "silver_local_k", "her2_texture_dropped",
                    "red_single_percentile"):
            assert key in p, key


def test_silver_texture_rule_of_branch_silverdots_on_the_tuning_fields(real_data):
    # Issue 11, branch silverdots: each nucleus's silver threshold 5.5 x its own texture
    # s.d., between 0.3 and 1.5 x the field's (chosen on DISH1/DISH3 only): HER2 within
    # ±1 of the 38 tuning nuclei without clusters 36 (95 %); with the rule before
    # (k 4, 1.0-1.2 x) 34 (89 %), with k 5.0 35 (92 %).
    from her2kit.imaging.ish import BrightfieldIshOptions

    her2, _, ratios = _agreement(real_data, TUNING)
    assert her2 >= 0.94, her2
    assert all(_ratio_ok(*v) for v in ratios.values()), ratios
    before = BrightfieldIshOptions(silver_local_k=4.0, silver_local_min_factor=1.0,
                                   silver_local_max_factor=1.2, silver_local_valley=False)
    old, _, _ = _agreement(real_data, TUNING, before)
    assert old < 0.94, old
    k5, _, _ = _agreement(real_data, TUNING, BrightfieldIshOptions(silver_local_k=5.0))
    assert k5 < 0.94, k5
    p = _count(real_data, "DISH3").parameters
    assert p["her2_local_k_used"] == 5.5 and p["her2_faint_kept"] > 0
    assert (p["silver_local_min_factor"], p["silver_local_max_factor"],
            p["silver_local_valley"]) == (0.3, 1.5, True)


def test_faint_red_dots_on_the_tuning_fields(real_data):
    # Issue 11, branch reddots: DISH3's CEP17 misses were all under-counts of pale red
    # dots in dark nuclei (5 of 16 nuclei off by 2-3). The faint red dots
    # (BrightfieldIshOptions.red_faint_*) take CEP17 within ±1 from 84 to 87 % of the 38
    # tuning nuclei and DISH3's found ratio within 15 % of the hand count (1.11); without
    # them (red_faint_k 0) DISH3's ratio is 1.39.
    from her2kit.imaging.ish import BrightfieldIshOptions

    _, cep17, ratios = _agreement(real_data, TUNING)
    assert cep17 >= 0.86, cep17
    assert _ratio_ok(*ratios["DISH1"]) and _ratio_ok(*ratios["DISH3"]), ratios
    # Measured with branch redclust's merged-red-dots rule off, as when chosen: with it
    # on, faint dots off read 89 % and DISH3 1.21 (the pairs it counts 2 make up for
    # pale dots missed).
    _, off, off_ratios = _agreement(real_data, TUNING, BrightfieldIshOptions(
        red_faint_k=0, red_rounded_copies=False))
    assert off < 0.86 and not _ratio_ok(*off_ratios["DISH3"]), (off, off_ratios)


def test_silver_texture_away_from_dots_on_the_tuning_fields(real_data):
    # Issue 11, branch abundant (opt-in): each nucleus's texture s.d. measured again
    # beyond 0.8 µm of the dots its first threshold kept. Chosen on DISH1/DISH3 only. After
    # the merge with branches native and redclust (lead, 2026-12-02): at 0.8 µm HER2 within
    # ±1 of the 38 tuning nuclei without clusters stays 36 (as without the option) and both
    # found ratios stay within 15 % (DISH3 1.16 vs 1.11 by hand); at 1.0 µm HER2 falls to 35
    # (DISH3 1.22; before that merge DISH3 read 1.30 there and left the 15 %).
    from her2kit.imaging.ish import BrightfieldIshOptions

    on = BrightfieldIshOptions(silver_texture_exclude_um=0.8)
    her2, _, ratios = _agreement(real_data, TUNING, on)
    assert round(her2 * 38) == 36 and all(_ratio_ok(*v) for v in ratios.values()), (her2,
                                                                                   ratios)
    assert _count(real_data, "DISH1", on).parameters["silver_texture_exclude_um"] == 0.8
    assert _count(real_data, "DISH1").parameters["silver_texture_exclude_um"] == 0.0
    wide_her2, _, _ = _agreement(real_data, TUNING,
                                 BrightfieldIshOptions(silver_texture_exclude_um=1.0))
    assert round(wide_her2 * 38) < 36, wide_her2


def test_redclust_rules_on_the_tuning_fields(real_data):
    # Issue 11, branch redclust: two merged red dots (one maximum, 2.2-2.4 single dots'
    # amount) count 2 (red_rounded_copies): CEP17 within ±1 of the 38 tuning nuclei 35
    # (92 %), 34 (89 %) without (after the merge with branch native; 34 and 33 before
    # it); DISH3's nucleus at (475, 650) holds a silver region
    # smaller than one single dot with two maxima (maxima_area_cap): HER2 5 (4 by
    # hand), 6 without; the faint red dot on a small silver dot of (200, 1367) is not
    # added (red_faint_colour_leak): CEP17 5, 6 without.
    from her2kit.imaging.ish import BrightfieldIshOptions

    _, cep17, ratios = _agreement(real_data, TUNING)
    assert round(cep17 * 38) >= 35, cep17
    assert _ratio_ok(*ratios["DISH1"]) and _ratio_ok(*ratios["DISH3"]), ratios
    _, off, _ = _agreement(real_data, TUNING, BrightfieldIshOptions(red_rounded_copies=False))
    assert round(off * 38) < round(cep17 * 38), (off, cep17)

    def counts(options=None):
        res = _count(real_data, "DISH3", options)
        by_id = {n.nucleus_id: n for n in res.nuclei}
        return [(by_id[int(res.labels[r, c])].her2, by_id[int(res.labels[r, c])].cep17)
                for r, c in ((475, 650), (200, 1367))]

    (h1, _), (_, c2) = counts()
    assert (h1, c2) == (5, 5)
    assert counts(BrightfieldIshOptions(maxima_area_cap=False))[0][0] == 6
    assert counts(BrightfieldIshOptions(red_faint_colour_leak=False))[1][1] == 6

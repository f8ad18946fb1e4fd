"""ISH: Groups 1–5 at every edge, single-probe calls, rounding, counts and rejection."""

from __future__ import annotations

import pytest

from her2kit.errors import Her2kitInputError
from her2kit.guideline import IshInput, dual_probe_group, ish_result, single_probe_call

# ASCO/CAP 2018 Fig. 3 [S1 p.9]: (ratio, mean HER2 signals/cell) → group.
GROUP_ROWS = [
    (2.0, 4.0, 1), (2.0, 10.0, 1), (5.0, 4.0, 1),
    (2.0, 3.99, 2), (3.0, 2.0, 2),
    (1.99, 6.0, 3), (1.0, 6.0, 3), (1.99, 12.0, 3),
    (1.99, 5.99, 4), (1.99, 4.0, 4), (1.5, 5.0, 4),
    (1.99, 3.99, 5), (1.0, 2.0, 5), (0.5, 0.0, 5),
]


@pytest.mark.parametrize(("ratio", "her2", "group"), GROUP_ROWS)
def test_dual_probe_group_table(ratio, her2, group):
    assert dual_probe_group(ratio, her2) == group


@pytest.mark.parametrize(("ratio", "her2", "group"), GROUP_ROWS)
def test_group_from_reported_means(ratio, her2, group):
    cep17 = 2.0
    # Means chosen so the reported ratio is exactly `ratio`; pass the ratio explicitly.
    r = ish_result(IshInput(probe="dual", cells_counted=20, her2_mean=her2,
                            cep17_mean=her2 / ratio if her2 else cep17, ratio=ratio)
                   if her2 else
                   IshInput(probe="dual", cells_counted=20, her2_mean=0.0, cep17_mean=cep17))
    assert r.group == group
    assert r.call == {1: "positive", 5: "negative"}.get(group, "needs_workup")


@pytest.mark.parametrize(
    ("her2", "call"),
    [(6.0, "positive"), (9.0, "positive"), (5.99, "needs_workup"), (4.0, "needs_workup"),
     (3.99, "negative"), (0.0, "negative")],
)
def test_single_probe_table(her2, call):
    assert single_probe_call(her2) == call
    r = ish_result(IshInput(probe="single", cells_counted=20, her2_mean=her2))
    assert r.call == call and r.group is None and r.ratio is None


def test_ratio_is_rounded_half_up_before_the_group_is_decided():
    # 399/200 = 1.995: binary-float round() gives 1.99 (Group 5); half-up gives 2.00 (Group 2).
    nuclei = [[4, 2]] * 99 + [[3, 2]]
    r = ish_result(IshInput(probe="dual", nuclei=nuclei))
    assert (r.ratio, r.her2_mean, r.cep17_mean, r.group) == (2.0, 3.99, 2.0, 2)
    assert any("rounded half-up" in line for line in r.rationale)


def test_mean_her2_is_rounded_half_up_before_the_group_is_decided():
    r = ish_result(IshInput(probe="dual", cells_counted=20, her2_mean=3.995, cep17_mean=1.0))
    assert r.her2_mean == 4.0 and r.group == 1


def test_ratio_is_of_sums_not_mean_of_per_cell_ratios():
    nuclei = [[8, 2]] * 10 + [[2, 4]] * 10  # per-cell ratios average 2.25; sums give 1.67
    r = ish_result(IshInput(probe="dual", nuclei=nuclei))
    assert r.ratio == 1.67 and r.her2_mean == 5.0 and r.group == 4


def test_per_nucleus_and_means_give_the_same_result():
    nuclei = [[5, 2]] * 12 + [[3, 2]] * 8
    a = ish_result(IshInput(probe="dual", nuclei=nuclei))
    b = ish_result(IshInput(probe="dual", cells_counted=20, her2_mean=4.2, cep17_mean=2.0))
    assert (a.group, a.ratio, a.her2_mean) == (b.group, b.ratio, b.her2_mean) == (1, 2.1, 4.2)


@pytest.mark.parametrize("n", [0, 1, 19])
def test_fewer_than_20_nuclei_is_not_a_valid_count(n):
    with pytest.raises(Her2kitInputError, match=r"ish\.(nuclei|cells_counted).*at least 20"):
        ish_result(IshInput(probe="dual", nuclei=[[2, 2]] * n))


def test_twenty_nuclei_is_enough():
    assert ish_result(IshInput(probe="dual", nuclei=[[2, 2]] * 20)).group == 5


def test_too_few_cells_can_be_an_indeterminate_finding_for_image_analysis():
    r = ish_result(IshInput(probe="dual", nuclei=[[9, 2]] * 12), too_few_cells="indeterminate")
    assert r.group is None and r.call == "indeterminate" and r.cells_counted == 12
    assert "only 12 nuclei" in r.rejected_because[0]


def test_cells_counted_below_20_with_means_is_refused():
    with pytest.raises(Her2kitInputError, match=r"ish\.cells_counted"):
        ish_result(IshInput(probe="dual", cells_counted=19, her2_mean=3, cep17_mean=2))


def test_cep17_zero_in_a_nucleus_is_refused():
    with pytest.raises(Her2kitInputError, match=r"ish\.nuclei\[3\]\[1\]: CEP17 count is 0"):
        ish_result(IshInput(probe="dual", nuclei=[[2, 2]] * 3 + [[2, 0]] + [[2, 2]] * 20))


def test_mean_cep17_zero_is_refused():
    with pytest.raises(Her2kitInputError, match=r"ish\.cep17_mean"):
        ish_result(IshInput(probe="dual", cells_counted=20, her2_mean=3, cep17_mean=0.0))


def test_wrong_shape_nucleus_is_refused():
    with pytest.raises(Her2kitInputError, match=r"ish\.nuclei\[0\]: expected \[her2, cep17\]"):
        ish_result(IshInput(probe="dual", nuclei=[[2]] + [[2, 2]] * 20))


@pytest.mark.parametrize("ratio", [2.19, 2.2, 2.12, 2.27])
def test_reported_ratio_consistent_with_rounded_means_is_accepted(ratio):
    # 4.6 and 2.1 stand for [4.55, 4.65) and [2.05, 2.15): ratio 2.116–2.268.
    r = ish_result(IshInput(probe="dual", cells_counted=20, her2_mean=4.6, cep17_mean=2.1,
                            ratio=ratio))
    assert r.ratio == ratio


@pytest.mark.parametrize("ratio", [2.6, 1.9, 2.0])
def test_reported_ratio_that_contradicts_the_means_is_refused(ratio):
    with pytest.raises(Her2kitInputError, match=r"ish\.ratio: ratio .* contradicts the means"):
        ish_result(IshInput(probe="dual", cells_counted=20, her2_mean=4.6, cep17_mean=2.1,
                            ratio=ratio))


def test_reported_ratio_that_contradicts_the_counts_is_refused():
    with pytest.raises(Her2kitInputError, match=r"contradicts the counts, which give 2\.50"):
        ish_result(IshInput(probe="dual", nuclei=[[5, 2]] * 20, ratio=2.4))
    assert ish_result(IshInput(probe="dual", nuclei=[[5, 2]] * 20, ratio=2.5)).ratio == 2.5


@pytest.mark.parametrize(
    ("qc", "rejected"),
    [
        ({"weak_signals_pct": 25}, False), ({"weak_signals_pct": 25.1}, True),
        ({"cytoplasmic_signals_pct": 10}, False), ({"cytoplasmic_signals_pct": 10.1}, True),
        ({"invasive_tumour_areas_counted": 2}, False),
        ({"invasive_tumour_areas_counted": 1}, True),
        ({"controls_as_expected": False}, True), ({"poor_nuclear_resolution": True}, True),
        ({"strong_autofluorescence": True}, True), ({}, False),
    ],
)
def test_ish_rejection_criteria(qc, rejected):
    r = ish_result(IshInput.model_validate(
        {"probe": "dual", "cells_counted": 20, "her2_mean": 8, "cep17_mean": 2, "qc": qc}))
    assert (r.call == "indeterminate") is rejected
    assert (r.group is None) is rejected


@pytest.mark.parametrize(
    ("ratio", "her2", "call"),
    [(2.0, 3.0, "positive"), (1.5, 6.0, "positive"), (1.99, 5.99, "equivocal"),
     (1.5, 4.0, "equivocal"), (1.5, 3.99, "negative")],
)
def test_2013_dual_probe_calls(ratio, her2, call):
    r = ish_result(IshInput(probe="dual", cells_counted=20, her2_mean=her2,
                            cep17_mean=her2 / ratio, ratio=ratio), guideline="asco-cap-2013")
    assert r.call == call and r.group is None


def test_2013_single_probe_middle_zone_is_equivocal():
    assert single_probe_call(5.0, guideline="asco-cap-2013") == "equivocal"

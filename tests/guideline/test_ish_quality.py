"""The guideline's reading of ISH counts, on each side of every limit.

Limits from ASCO/CAP 2018 [S1 p.4] (shared/guideline-facts.md §3): at least 20 nuclei;
reject above 25 % weak signals and above 10 % signals over cytoplasm; heterogeneity is a
second population above 10 % of the cells. The per-nucleus "high" reading (HER2 >= 6, or
HER2 >= 4 with ratio >= 2.0) and the 90 % upper bound are her2kit's.
"""

import pytest

from her2kit.guideline.ish_quality import ish_count_flags, ish_heterogeneity


@pytest.mark.parametrize(("n", "flagged"), [(19, True), (20, False), (21, False)])
def test_too_few_nuclei_below_20(n, flagged):
    flags = ish_count_flags(n, weak_signal_fraction=None, outside_signal_fraction=None)
    assert ("too_few_nuclei" in flags) is flagged


@pytest.mark.parametrize(("weak", "flagged"), [(0.24, False), (0.25, False), (0.26, True)])
def test_weak_signals_above_25_pct(weak, flagged):
    flags = ish_count_flags(30, weak_signal_fraction=weak, outside_signal_fraction=0.0)
    assert flags == (("weak_signals",) if flagged else ())


@pytest.mark.parametrize(("out", "flagged"), [(0.09, False), (0.10, False), (0.11, True)])
def test_signals_outside_nuclei_above_10_pct(out, flagged):
    flags = ish_count_flags(30, weak_signal_fraction=0.0, outside_signal_fraction=out)
    assert flags == (("signals_outside_nuclei",) if flagged else ())


def test_flags_keep_their_order():
    assert ish_count_flags(3, weak_signal_fraction=0.5, outside_signal_fraction=0.5) == (
        "too_few_nuclei", "weak_signals", "signals_outside_nuclei")


@pytest.mark.parametrize(("n_high", "flagged"), [(9, False), (10, False), (11, True),
                                                 (89, True), (90, True), (91, False)])
def test_heterogeneity_between_10_and_90_pct(n_high, flagged):
    nuclei = [[8, 2]] * n_high + [[2, 2]] * (100 - n_high)
    het = ish_heterogeneity(nuclei, dual=True)
    assert het.n_high == n_high
    assert het.fraction_high == n_high / 100
    assert het.flagged is flagged


def test_high_nucleus_rule():
    # dual: HER2 >= 6, or HER2 >= 4 with HER2/CEP17 >= 2.0
    nuclei = [[6, 5], [4, 2], [5, 3], [3, 1], [4, 0], [2, 2]]
    het = ish_heterogeneity(nuclei, dual=True)
    assert het.n_high == 2
    assert (het.her2_mean_high, het.cep17_mean_high, het.ratio_high) == (5.0, 3.5, 5.0 / 3.5)
    single = ish_heterogeneity(nuclei, dual=False)  # HER2 >= 6 only, no CEP17 means
    assert (single.n_high, single.her2_mean_high, single.cep17_mean_high,
            single.ratio_high) == (1, 6.0, None, None)


def test_no_counted_nuclei_no_heterogeneity():
    assert ish_heterogeneity([], dual=True) is None
    het = ish_heterogeneity([[2, 2]] * 5, dual=True)
    assert (het.n_high, het.fraction_high, het.her2_mean_high, het.flagged) == (0, 0.0, None,
                                                                                False)

"""AJCC 8th anatomic stage groups: every row of the table."""

from __future__ import annotations

import pytest

from her2kit.report.stage import anatomic_stage

ROWS = [
    ("Tis", "N0", "M0", "0"),
    ("T1c", "N0", "M0", "IA"), ("T1mi", "N0(i+)", "M0", "IA"),
    ("T0", "N1mi", "M0", "IB"), ("T1b", "N1mi", "M0", "IB"),
    ("T0", "N1", "M0", "IIA"), ("T1a", "N1a", "M0", "IIA"), ("T2", "N0", "M0", "IIA"),
    ("T2", "N1b", "M0", "IIB"), ("T3", "N0", "M0", "IIB"), ("T2", "N1mi", "M0", "IIB"),
    ("T0", "N2", "M0", "IIIA"), ("T1", "N2a", "M0", "IIIA"), ("T2", "N2b", "M0", "IIIA"),
    ("T3", "N1", "M0", "IIIA"), ("T3", "N2", "M0", "IIIA"),
    ("T4b", "N0", "M0", "IIIB"), ("T4d", "N1", "M0", "IIIB"), ("T4", "N2", "M0", "IIIB"),
    ("T1", "N3a", "M0", "IIIC"), ("T4", "N3c", "M0", "IIIC"),
    ("T1", "N0", "M1", "IV"), ("T4", "N3", "M1", "IV"), ("T2", "N1", "cM0(i+)", "IIB"),
]


@pytest.mark.parametrize(("t", "n", "m", "group"), ROWS)
def test_anatomic_stage_table(t, n, m, group):
    assert anatomic_stage(t, n, m).group == group


@pytest.mark.parametrize(("t", "n", "m"), [("TX", "N0", "M0"), ("T1", "NX", "M0"),
                                           (None, "N0", "M0"), ("T1", None, None)])
def test_not_computed_says_why(t, n, m):
    s = anatomic_stage(t, n, m)
    assert s.group is None and s.reason
    assert s.prognostic_stage is None and "not computed" in s.prognostic_note

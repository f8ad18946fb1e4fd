"""Golden per-cell and per-nucleus outputs: recompute each case and compare exactly.

The cases and the way their files are made live in scripts/update_golden.py; the
checked-in files are in tests/data/golden/. A difference fails with the first changed
lines; if the change is intended, run ``scripts/update_golden.py`` and add a line to
tests/data/golden/CHANGELOG.md.
"""

from __future__ import annotations

import difflib
import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "data" / "golden"


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "her2kit_update_golden", REPO / "scripts" / "update_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


UPDATE = _load_script()


@pytest.mark.parametrize("case", UPDATE.CASES, ids=[c.name for c in UPDATE.CASES])
def test_golden_outputs_unchanged(case, real_data):
    folder = real_data(case.real) if case.real is not None else None
    for name, text in UPDATE.produce(case, folder).items():
        expected = (GOLDEN / name).read_text(encoding="utf-8")
        if text != expected:
            diff = "".join(list(difflib.unified_diff(
                expected.splitlines(True), text.splitlines(True), f"golden/{name}",
                "recomputed", n=0))[:40])
            pytest.fail(f"{name} changed (scripts/update_golden.py rewrites it; add a line "
                        f"to tests/data/golden/CHANGELOG.md):\n{diff}")


def test_every_golden_file_has_a_case_and_a_changelog_line():
    made = {f"{c.name}.{'cells' if c.kind == 'ihc' else 'nuclei'}.csv" for c in UPDATE.CASES}
    made |= {f"{c.name}.summary.json" for c in UPDATE.CASES}
    present = {p.name for p in GOLDEN.iterdir() if p.name != "CHANGELOG.md"}
    assert present == made
    changelog = (GOLDEN / "CHANGELOG.md").read_text(encoding="utf-8")
    for c in UPDATE.CASES:
        assert c.name in changelog, f"no CHANGELOG.md line names {c.name}"

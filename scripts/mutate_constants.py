"""Mutate named thresholds one at a time and check that a test turns red.

Usage (from the repository root; ``make test`` does not run this)::

    PYTHONPATH=$PWD/src .venv/bin/python scripts/mutate_constants.py            # every row
    PYTHONPATH=$PWD/src .venv/bin/python scripts/mutate_constants.py complete_pct K_MAD
    PYTHONPATH=$PWD/src .venv/bin/python scripts/mutate_constants.py --list

Each row of :data:`MUTANTS` names a file, a piece of its text that must occur exactly
once, the text that replaces it and the tests to run. For each row the tree (src/,
tests/, pyproject.toml and the other tracked top-level files) is copied into a temporary
folder next to a link to ../shared, the text is replaced *in the copy*, and the listed
tests run there with ``pytest -x -q``. The working tree is never modified. A mutant is
"killed" when the tests fail, "survived" when they pass; "error" means the mutant could
not be made (text not found or found twice: re-point the row) or pytest could not run.
The unmutated tests run first (in the same kind of copy); if they fail, nothing is
reported. Exit status: 0 when every selected mutant is killed, 1 otherwise.

When a constant moves (the refactor moves MIN_NUCLEI and the heterogeneity numbers into
guideline/), change its row's file and text; nothing else here knows where it lives.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]


class Mutant(NamedTuple):
    name: str  # constant or dataclass field, as a reader looks for it
    path: str  # file, relative to the repository root
    original: str  # text that must occur exactly once in the file
    mutant: str  # replacement
    tests: tuple[str, ...]  # test files or folders (src/ folders: their doctests)


IHC_B = "tests/imaging/ihc/test_boundaries.py"
STAIN_B = "tests/imaging/ihc/test_stain_check.py"
MCELLS = "src/her2kit/imaging/ihc/membrane_cells.py"
MCELLS_T = "tests/imaging/ihc/test_membrane_cells.py"
ISH_B = "tests/imaging/ish/test_boundaries.py"
SEG_B = "tests/imaging/segment/test_boundaries.py"
PIPE_B = "tests/pipelines/test_boundaries.py"
GUIDE = ("tests/guideline", "src/her2kit/guideline")
MEMBRANE = "src/her2kit/imaging/ihc/membrane.py"
SIGNALS = "src/her2kit/imaging/ish/signals.py"
QUALITY = "src/her2kit/imaging/ihc/quality.py"
ISH_QUALITY = "src/her2kit/guideline/ish_quality.py"
ISH_Q_TESTS = (ISH_B, "tests/guideline/test_ish_quality.py")
SPOTS = "src/her2kit/imaging/ish/spots.py"
NUCLEI = "src/her2kit/imaging/segment/nuclei.py"
PIPE_IHC = "src/her2kit/pipelines/ihc.py"
VERSIONS = "src/her2kit/guideline/versions.py"
COUNT = "src/her2kit/imaging/ish/count.py"
HAND = "tests/imaging/ish/test_hand_reference.py"
ISH_COUNT_T = "tests/imaging/ish/test_count.py"
_FISH_SEG = ("    min_solidity: float = 0.85\n    nuclei_split_h_um: float = 0.25\n"
             "    nuclei_core_fraction: float = 0.65\n")

# ------------------------------------------------------------------------- DATA TABLE
MUTANTS: tuple[Mutant, ...] = (
    # IHC membrane classes (MembraneThresholds fields)
    Mutant("MembraneThresholds.faint_od", MEMBRANE, "faint_od: float = 0.05",
           "faint_od: float = 0.06", (IHC_B,)),
    Mutant("MembraneThresholds.moderate_od", MEMBRANE, "moderate_od: float = 0.14",
           "moderate_od: float = 0.15", (IHC_B,)),
    Mutant("MembraneThresholds.intense_od", MEMBRANE, "intense_od: float = 0.36",
           "intense_od: float = 0.40", (IHC_B,)),
    Mutant("MembraneThresholds.complete_pct", MEMBRANE, "complete_pct: float = 70.0",
           "complete_pct: float = 75.0", (IHC_B,)),
    Mutant("MembraneThresholds.min_stained_pct", MEMBRANE, "min_stained_pct: float = 12.5",
           "min_stained_pct: float = 15.0", (IHC_B,)),
    # IHC quality flags and the hand-off
    Mutant("BLUR_EDGE_OD_PER_UM", QUALITY, "BLUR_EDGE_OD_PER_UM = 0.12",
           "BLUR_EDGE_OD_PER_UM = 0.135", (IHC_B,)),
    Mutant("WEAK_COUNTERSTAIN_OD", QUALITY, "WEAK_COUNTERSTAIN_OD = 0.15",
           "WEAK_COUNTERSTAIN_OD = 0.16", (IHC_B,)),
    Mutant("SATURATED_FRACTION", QUALITY, "SATURATED_FRACTION = 0.01",
           "SATURATED_FRACTION = 0.0105", (IHC_B,)),
    # the H-DAB stain check (H&E refused), both directions
    Mutant("EOSIN_HUE_MIN up", QUALITY, "EOSIN_HUE_MIN = 0.10", "EOSIN_HUE_MIN = 0.11",
           (STAIN_B,)),
    Mutant("EOSIN_HUE_MIN down", QUALITY, "EOSIN_HUE_MIN = 0.10", "EOSIN_HUE_MIN = 0.09",
           (STAIN_B,)),
    Mutant("EOSIN_MIN_FRACTION up", QUALITY, "EOSIN_MIN_FRACTION = 0.20",
           "EOSIN_MIN_FRACTION = 0.22", (STAIN_B,)),
    Mutant("EOSIN_MIN_FRACTION down", QUALITY, "EOSIN_MIN_FRACTION = 0.20",
           "EOSIN_MIN_FRACTION = 0.18", (STAIN_B,)),
    Mutant("STAIN_CHECK_TISSUE_OD up", QUALITY, "STAIN_CHECK_TISSUE_OD = 0.15",
           "STAIN_CHECK_TISSUE_OD = 0.16", (STAIN_B,)),
    Mutant("STAIN_CHECK_TISSUE_OD down", QUALITY, "STAIN_CHECK_TISSUE_OD = 0.15",
           "STAIN_CHECK_TISSUE_OD = 0.14", (STAIN_B,)),
    Mutant("_STAIN_CHECK_MIN_PIXELS", QUALITY, "_STAIN_CHECK_MIN_PIXELS = 100",
           "_STAIN_CHECK_MIN_PIXELS = 101", (STAIN_B,)),
    # membrane-seeded cells (issue 10, failure mode 4), both directions
    Mutant("MEMBRANE_RIDGE_OD up", MCELLS, "MEMBRANE_RIDGE_OD = 0.06", "MEMBRANE_RIDGE_OD = 0.07",
           (MCELLS_T,)),
    Mutant("MEMBRANE_RIDGE_OD down", MCELLS, "MEMBRANE_RIDGE_OD = 0.06",
           "MEMBRANE_RIDGE_OD = 0.05", (MCELLS_T,)),
    Mutant("DAM_RIDGE_OD up", MCELLS, "DAM_RIDGE_OD = 0.12", "DAM_RIDGE_OD = 0.13",
           (MCELLS_T,)),
    Mutant("DAM_RIDGE_OD down", MCELLS, "DAM_RIDGE_OD = 0.12", "DAM_RIDGE_OD = 0.11",
           (MCELLS_T,)),
    Mutant("SEED_AREA_UM2 low up", MCELLS, "SEED_AREA_UM2 = (30.0, 400.0)",
           "SEED_AREA_UM2 = (31.0, 400.0)", (MCELLS_T,)),
    Mutant("SEED_AREA_UM2 low down", MCELLS, "SEED_AREA_UM2 = (30.0, 400.0)",
           "SEED_AREA_UM2 = (29.0, 400.0)", (MCELLS_T,)),
    Mutant("SEED_AREA_UM2 high up", MCELLS, "SEED_AREA_UM2 = (30.0, 400.0)",
           "SEED_AREA_UM2 = (30.0, 402.0)", (MCELLS_T,)),
    Mutant("SEED_AREA_UM2 high down", MCELLS, "SEED_AREA_UM2 = (30.0, 400.0)",
           "SEED_AREA_UM2 = (30.0, 399.0)", (MCELLS_T,)),
    Mutant("SEED_MIN_NUCLEUS_DISTANCE_UM up", MCELLS, "SEED_MIN_NUCLEUS_DISTANCE_UM = 5.0",
           "SEED_MIN_NUCLEUS_DISTANCE_UM = 5.1", (MCELLS_T,)),
    Mutant("SEED_MIN_NUCLEUS_DISTANCE_UM down", MCELLS, "SEED_MIN_NUCLEUS_DISTANCE_UM = 5.0",
           "SEED_MIN_NUCLEUS_DISTANCE_UM = 4.8", (MCELLS_T,)),
    Mutant("SEED_MIN_RING_FRACTION up", MCELLS, "SEED_MIN_RING_FRACTION = 0.6",
           "SEED_MIN_RING_FRACTION = 0.62", (MCELLS_T,)),
    Mutant("SEED_MIN_RING_FRACTION down", MCELLS, "SEED_MIN_RING_FRACTION = 0.6",
           "SEED_MIN_RING_FRACTION = 0.58", (MCELLS_T,)),
    Mutant("FEW_CELLS", PIPE_IHC, "FEW_CELLS = 100", "FEW_CELLS = 101", (PIPE_B,)),
    Mutant("MIN_INTENSE_PCT", PIPE_IHC, "MIN_INTENSE_PCT = 1.0", "MIN_INTENSE_PCT = 1.5",
           ("tests/pipelines/test_ihc.py",)),
    # nucleus threshold bounds
    Mutant("MIN_THRESHOLD_OD", NUCLEI, "MIN_THRESHOLD_OD = 0.08", "MIN_THRESHOLD_OD = 0.10",
           (SEG_B,)),
    Mutant("MAX_THRESHOLD_OD", NUCLEI, "MAX_THRESHOLD_OD = 0.40", "MAX_THRESHOLD_OD = 0.50",
           (SEG_B,)),
    # ISH spots, clusters, flags, pooling, heterogeneity
    Mutant("DEFAULT_K_MAD", SPOTS, "DEFAULT_K_MAD = 5.0", "DEFAULT_K_MAD = 6.0", (ISH_B,)),
    Mutant("CLUSTER_MIN_COPIES", SIGNALS, "CLUSTER_MIN_COPIES = 3.0",
           "CLUSTER_MIN_COPIES = 3.1", (ISH_B,)),
    Mutant("CLUSTER_AREA_FACTOR", SIGNALS, "CLUSTER_AREA_FACTOR = 2.0",
           "CLUSTER_AREA_FACTOR = 2.5", (ISH_B,)),
    Mutant("GuidelineVersion.ish_weak_signals_reject_pct (was WEAK_SIGNAL_FRACTION)", VERSIONS,
           "ish_weak_signals_reject_pct: float = 25.0",
           "ish_weak_signals_reject_pct: float = 30.0", ISH_Q_TESTS),
    Mutant("WEAK_SIGNAL_FACTOR", SIGNALS, "WEAK_SIGNAL_FACTOR = 1.5",
           "WEAK_SIGNAL_FACTOR = 1.2", (ISH_B,)),
    Mutant("GuidelineVersion.ish_heterogeneity_pct (was HETEROGENEITY_FRACTION)", VERSIONS,
           "ish_heterogeneity_pct: float = 10.0", "ish_heterogeneity_pct: float = 12.0",
           ISH_Q_TESTS),
    Mutant("HETEROGENEITY_MAX_FRACTION", ISH_QUALITY, "HETEROGENEITY_MAX_FRACTION = 0.9",
           "HETEROGENEITY_MAX_FRACTION = 0.95", ISH_Q_TESTS),
    Mutant("heterogeneity HER2 >= 6 rule", ISH_QUALITY, "if her2 >= g.ish_her2_copies_high:",
           "if her2 >= g.ish_her2_copies_high + 1:", ISH_Q_TESTS),
    Mutant("heterogeneity ratio >= 2.0 rule", ISH_QUALITY, "her2 / cep17 >= g.ish_ratio",
           "her2 / cep17 >= g.ish_ratio + 0.2", ISH_Q_TESTS),
    # the guideline's main thresholds (GuidelineVersion fields)
    Mutant("GuidelineVersion.ish_ratio", VERSIONS, "ish_ratio: float = 2.0",
           "ish_ratio: float = 2.2", GUIDE),
    Mutant("GuidelineVersion.ish_her2_copies_low", VERSIONS,
           "ish_her2_copies_low: float = 4.0", "ish_her2_copies_low: float = 4.5", GUIDE),
    Mutant("GuidelineVersion.ish_her2_copies_high", VERSIONS,
           "ish_her2_copies_high: float = 6.0", "ish_her2_copies_high: float = 6.5", GUIDE),
    Mutant("GuidelineVersion.ihc_cell_fraction_pct", VERSIONS,
           "ihc_cell_fraction_pct: float = 10.0", "ihc_cell_fraction_pct: float = 12.0", GUIDE),
    Mutant("GuidelineVersion.min_cells_counted", VERSIONS, "min_cells_counted: int = 20",
           "min_cells_counted: int = 21", (*GUIDE, ISH_B)),
    # issue 11: FISH nucleus split and the Dual ISH red cluster extent (both sides)
    Mutant("FishOptions.nuclei_core_fraction (down)", COUNT, _FISH_SEG,
           _FISH_SEG.replace("core_fraction: float = 0.65", "core_fraction: float = 0.55"),
           (ISH_B,)),
    Mutant("FishOptions.nuclei_core_fraction (up)", COUNT, _FISH_SEG,
           _FISH_SEG.replace("core_fraction: float = 0.65", "core_fraction: float = 0.75"),
           (ISH_B,)),
    Mutant("FishOptions.nuclei_split_h_um (up)", COUNT, _FISH_SEG,
           _FISH_SEG.replace("split_h_um: float = 0.25", "split_h_um: float = 0.5"), (ISH_B,)),
    Mutant("FishOptions.nuclei_split_h_um (down)", COUNT, _FISH_SEG,
           _FISH_SEG.replace("split_h_um: float = 0.25", "split_h_um: float = 0.1"), (ISH_B,)),
    Mutant("FishOptions.min_solidity", COUNT, _FISH_SEG,
           _FISH_SEG.replace("min_solidity: float = 0.85", "min_solidity: float = 0.9"),
           (HAND,)),
    Mutant("FishOptions.nuclei_core_below_solidity (down)", COUNT,
           "nuclei_core_below_solidity: float = 0.9",
           "nuclei_core_below_solidity: float = 0.8", (ISH_B,)),
    Mutant("FishOptions.nuclei_core_below_solidity (up)", COUNT,
           "nuclei_core_below_solidity: float = 0.9",
           "nuclei_core_below_solidity: float = 1.0", (ISH_COUNT_T,)),
    Mutant("BrightfieldIshOptions.red_cluster_max_um (down)", COUNT,
           "red_cluster_max_um: float = 3.0", "red_cluster_max_um: float = 2.0", (ISH_B,)),
    Mutant("BrightfieldIshOptions.red_cluster_max_um (up)", COUNT,
           "red_cluster_max_um: float = 3.0", "red_cluster_max_um: float = 4.0", (ISH_B,)),
)
# ---------------------------------------------------------------------------------------

# What is copied: enough to import her2kit from src/ and run the tests.
_COPY = ("src", "tests", "scripts", "benchmarks", "examples", "pyproject.toml", "Makefile",
         "constraints.txt", "README.md")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")


def _copy_tree(dest: Path) -> Path:
    """A copy of the tree at ``dest/wt`` with ``dest/shared`` linking to ../shared."""
    root = dest / "wt"
    root.mkdir()
    for name in _COPY:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=_IGNORE)
        elif src.is_file():
            shutil.copy2(src, root / name)
    shared = REPO.parent / "shared"
    if shared.exists():
        (dest / "shared").symlink_to(shared, target_is_directory=True)
    return root


def _pytest(root: Path, tests: tuple[str, ...]) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root / "src")
    env.pop("HER2KIT_REQUIRE_REAL_DATA", None)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
           "--no-header", *tests]
    return subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False).returncode


def _apply(root: Path, m: Mutant) -> str | None:
    """Write the mutant into the copy; the reason when it cannot be made."""
    path = root / m.path
    if not path.is_file():
        return f"{m.path} not found"
    text = path.read_text(encoding="utf-8")
    n = text.count(m.original)
    if n != 1:
        return f"{m.original!r} occurs {n} times in {m.path}"
    path.write_text(text.replace(m.original, m.mutant), encoding="utf-8")
    return None


def _value(text: str) -> str:
    return text.rsplit("=", 1)[-1].strip().rstrip(",)") if "=" in text else text


def run(mutants: tuple[Mutant, ...]) -> int:
    rows = []
    with tempfile.TemporaryDirectory(prefix="her2kit-mutate-") as tmp:
        (Path(tmp) / "base").mkdir()
        base = _copy_tree(Path(tmp) / "base")
        tests = tuple(dict.fromkeys(t for m in mutants for t in m.tests))
        t0 = time.perf_counter()
        rc = _pytest(base, tests)
        if rc != 0:
            print(f"unmutated tests fail (pytest exit {rc}): {' '.join(tests)}", file=sys.stderr)
            return 2
        print(f"unmutated: {len(tests)} test paths pass ({time.perf_counter() - t0:.0f} s)")
        for i, m in enumerate(mutants):
            work = Path(tmp) / f"m{i}"
            work.mkdir()
            root = _copy_tree(work)
            t0 = time.perf_counter()
            why = _apply(root, m)
            if why is not None:
                outcome = "error"
                print(f"  {m.name}: {why}", file=sys.stderr)
            else:
                rc = _pytest(root, m.tests)
                outcome = {0: "survived", 1: "killed"}.get(rc, f"error (pytest {rc})")
            rows.append((m.name, _value(m.original), _value(m.mutant), outcome,
                         time.perf_counter() - t0))
            print(f"  {m.name}: {outcome}", flush=True)
            shutil.rmtree(work)
    print()
    print("| constant | original | mutant | result | seconds |")
    print("|---|---|---|---|---|")
    for name, orig, mut, outcome, secs in rows:
        print(f"| `{name}` | {orig} | {mut} | {outcome} | {secs:.0f} |")
    return 0 if all(r[3] == "killed" for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*",
                        help="run only rows whose name contains one of these strings")
    parser.add_argument("--list", action="store_true", help="print the table and exit")
    args = parser.parse_args(argv)
    chosen = tuple(m for m in MUTANTS
                   if not args.names or any(s in m.name for s in args.names))
    if args.list:
        for m in chosen:
            print(f"{m.name}: {m.path}: {m.original!r} -> {m.mutant!r}  [{' '.join(m.tests)}]")
        return 0
    if not chosen:
        parser.error("no row matches")
    return run(chosen)


if __name__ == "__main__":
    sys.exit(main())

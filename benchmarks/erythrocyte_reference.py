"""Fit and check the erythrocyte colour rule on our own hand-marked reference.

Run from the repository root::

    PYTHONPATH=$PWD/src python -m benchmarks.erythrocyte_reference

The reference (``tests/data/erythrocyte_marks/marks.csv``, our marks, not an expert's) has
points on red cells, on stained tumour membranes and on nuclei of shared real images. Each
mark is read as the rule reads a pixel: the image's white point
(:func:`~her2kit.imaging.ihc.robust.estimate_white_point`), the block-mean OD on the 1 µm
grid (:func:`~her2kit.imaging.ihc.erythrocytes.grid_od_rgb`) and, of the 3 × 3 grid pixels
around the mark, the one with the largest OD (the marked object, not the glass or the
cytoplasm beside it). The neutrality threshold is chosen on red cells against membranes
only: the midpoint of the interval of thresholds with the best balanced accuracy. Nuclei
are reported, not fitted (pale nuclei are as neutral as red cells; the cell rule does not
read nuclei).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from her2kit.imaging.ihc.erythrocytes import ERYTHROCYTE_MIN_NEUTRALITY, grid_od_rgb
from her2kit.imaging.ihc.robust import estimate_white_point
from her2kit.io.images import read_image

ROOT = Path(__file__).resolve().parents[1]
MARKS = ROOT / "tests" / "data" / "erythrocyte_marks" / "marks.csv"
REAL = ROOT.parent / "shared" / "data" / "real"


def mark_features(marks_csv: Path = MARKS, real_dir: Path = REAL) -> list[dict]:
    """One dict per mark: its row, the OD norm and the neutrality of the marked object."""
    rows = list(csv.DictReader(marks_csv.open()))
    out, cache = [], {}
    for row in rows:
        key = (row["image"], row["mpp_assumed"])
        if key not in cache:
            img = read_image(real_dir / row["image"]).image[..., :3]
            f = max(1, round(1.0 / float(row["mpp_assumed"])))
            cache[key] = (grid_od_rgb(img, f, background_rgb=estimate_white_point(img).rgb), f)
        od, f = cache[key]
        gr, gc = int(row["row_px"]) // f, int(row["col_px"]) // f
        win = od[gr - 1 : gr + 2, gc - 1 : gc + 2].reshape(-1, 3)
        v = win[np.argmax(np.linalg.norm(win, axis=1))]
        out.append({**row, "od_norm": float(np.linalg.norm(v)),
                    "neutrality": float(v.min() / max(v.max(), 1e-6))})
    return out


def fit_neutrality(features: list[dict]) -> tuple[float, float, float]:
    """``(low, high, balanced accuracy)``: the interval of best thresholds (0.01 steps)."""
    red = np.array([f["neutrality"] for f in features if f["kind"] == "erythrocyte"])
    mem = np.array([f["neutrality"] for f in features if f["kind"] == "membrane"])
    grid = np.round(np.arange(0.50, 1.001, 0.01), 2)
    acc = np.array([(np.mean(red >= t) + np.mean(mem < t)) / 2 for t in grid])
    best = grid[acc >= acc.max() - 1e-12]
    return float(best.min()), float(best.max()), float(acc.max())


def main() -> None:
    feats = mark_features()
    lo, hi, acc = fit_neutrality(feats)
    print(f"best balanced accuracy {acc:.3f} for neutrality {lo:.2f}-{hi:.2f} "
          f"(midpoint {(lo + hi) / 2:.3f}); committed {ERYTHROCYTE_MIN_NEUTRALITY}")
    t = ERYTHROCYTE_MIN_NEUTRALITY
    for kind in ("erythrocyte", "membrane", "nucleus"):
        v = np.array([f["neutrality"] for f in feats if f["kind"] == kind])
        n = np.array([f["od_norm"] for f in feats if f["kind"] == kind])
        print(f"{kind:12s} n={v.size:3d} neutrality p5/50/95 "
              f"{np.percentile(v, 5):.2f}/{np.median(v):.2f}/{np.percentile(v, 95):.2f} "
              f"≥ {t}: {int((v >= t).sum())}; OD norm p5 {np.percentile(n, 5):.3f}")
    red = [f for f in feats if f["kind"] == "erythrocyte"]
    mem = [f for f in feats if f["kind"] == "membrane"]
    tp = sum(f["neutrality"] >= t for f in red)
    fp = sum(f["neutrality"] >= t for f in mem)
    print(f"red cells against membranes at {t}: recall {tp / len(red):.3f} ({tp}/{len(red)}), "
          f"precision {tp / max(tp + fp, 1):.3f} ({fp} membranes called red)")
    for f in feats:
        if (f["kind"] == "erythrocyte") != (f["neutrality"] >= t) and f["kind"] != "nucleus":
            print("  miss:", f["image"].split("/")[-1][:10], f["row_px"], f["col_px"], f["kind"],
                  f"neutrality {f['neutrality']:.2f} OD {f['od_norm']:.3f}")


if __name__ == "__main__":
    main()

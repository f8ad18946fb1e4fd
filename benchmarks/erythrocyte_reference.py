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
are reported, not fitted (pale nuclei are as neutral as red cells).

Then the cell rule, at cell level (nothing fitted): each marked crop's 1024² tile is scored
as ``her2kit calibrate`` scores a control (:data:`~her2kit.pipelines.calibrate.CALIBRATION_OPTIONS`,
white point of the whole image) with ``erythrocyte_exclusion=True``, and the cell under each
mark is looked up: a red-cell mark's cell should be excluded, a nucleus or membrane mark's
cell kept. ``--no-cells`` skips this part.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from her2kit.imaging.ihc.erythrocytes import ERYTHROCYTE_MIN_NEUTRALITY, grid_od_rgb
from her2kit.imaging.ihc.robust import estimate_white_point
from her2kit.imaging.ihc.score import IhcOptions, score_ihc_image
from her2kit.io.images import read_image
from her2kit.pipelines.calibrate import CALIBRATION_OPTIONS

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


def cell_outcomes(marks_csv: Path = MARKS, real_dir: Path = REAL, crops=None) -> list[dict]:
    """Per mark: ``"excluded"``, ``"kept"`` or ``"no cell"`` under the scorer's red-cell rule.

    ``crops``: the marks' ``crop`` values to score (default all). One 1024² tile per crop,
    centred on its marks, scored with the calibration options and the rule switched on.
    """
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in csv.DictReader(marks_csv.open()):
        if crops is None or row["crop"] in crops:
            groups.setdefault((row["image"], row["crop"]), []).append(row)
    out = []
    for (image, _crop), rows in groups.items():
        img = read_image(real_dir / image).image[..., :3]
        kw = {k: v for k, v in CALIBRATION_OPTIONS.items() if k != "white_point"}
        kw["erythrocyte_exclusion"] = True
        opts = IhcOptions(background_rgb=estimate_white_point(img).rgb, white_point="fixed",
                          **kw)
        rr = [int(r["row_px"]) for r in rows]
        cc = [int(r["col_px"]) for r in rows]
        r0 = max(0, min((min(rr) + max(rr)) // 2 - 512, img.shape[0] - 1024))
        c0 = max(0, min((min(cc) + max(cc)) // 2 - 512, img.shape[1] - 1024))
        tile = np.ascontiguousarray(img[r0 : r0 + 1024, c0 : c0 + 1024])
        res = score_ihc_image(tile, pixel_size_um=float(rows[0]["mpp_assumed"]), options=opts)
        for r, y, x in zip(rows, rr, cc, strict=True):
            lab = int(res.cell_labels[y - r0, x - c0])
            state = ("no cell" if lab == 0 else
                     "kept" if res.cells.counted[lab - 1] else "excluded")
            out.append({**r, "cell": state})
    return out


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-cells", action="store_true", help="skip the cell-level check")
    args = ap.parse_args()
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
    if args.no_cells:
        return
    cells = cell_outcomes()
    for kind in ("erythrocyte", "membrane", "nucleus"):
        got = [c["cell"] for c in cells if c["kind"] == kind]
        print(f"cell rule, {kind:12s} marks: " + ", ".join(
            f"{s} {got.count(s)}" for s in ("excluded", "kept", "no cell")))
    for c in cells:
        if c["kind"] != "erythrocyte" and c["cell"] == "excluded":
            print("  tumour mark's cell excluded:", c["image"].split("/")[-1][:10],
                  c["row_px"], c["col_px"], c["kind"])
    by_crop: dict[str, list] = {}
    for c in cells:
        by_crop.setdefault(f"{c['image'].split('/')[-1][:10]} {c['crop']}", []).append(c)
    for name, cs in by_crop.items():
        red = [c["cell"] for c in cs if c["kind"] == "erythrocyte"]
        other = [c["cell"] for c in cs if c["kind"] != "erythrocyte"]
        print(f"  {name}: red marks excluded {red.count('excluded')} / in a cell "
              f"{len(red) - red.count('no cell')}; other marks excluded "
              f"{other.count('excluded')} / in a cell {len(other) - other.count('no cell')}")


if __name__ == "__main__":
    main()

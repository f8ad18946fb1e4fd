"""IHC scoring accuracy: synthetic ground truth and real HER2 TMA cores.

Run from the repository root::

    python -m benchmarks.ihc_accuracy            # ≥ 200 synthetic regions + all real cores
    python -m benchmarks.ihc_accuracy --quick    # 40 regions, a quarter of the core tiles

    python -m benchmarks.ihc_accuracy --calibrate  # how the default thresholds were chosen

Real data are read in place from ``../shared/data/real/`` (never copied); a missing
folder is reported, not faked. The IHC score is computed from the percentages by
:func:`her2kit.guideline.ihc_from_percent` (ASCO/CAP 2018 breast rules).

``--calibrate`` reproduces the choice of :data:`her2kit.imaging.ihc.membrane.DEFAULT_THRESHOLDS`
from the BCI sample tiles and synthetic regions (seeds 5000+, not the 1000+ regions
scored below); the GEA cores play no part in it.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from her2kit.errors import ImageInputError
from her2kit.guideline import IhcPercent, ihc_from_percent
from her2kit.imaging.ihc.membrane import (
    DEFAULT_THRESHOLDS,
    MEMBRANE_CLASSES,
    STAINED_CLASSES,
    MembraneMeasures,
    MembraneThresholds,
    classify_membranes,
    measure_membranes,
)
from her2kit.imaging.ihc.score import IhcOptions, score_ihc_image
from her2kit.imaging.segment.nuclei import match_instances
from her2kit.pipelines.ihc import guideline_percent
from her2kit.synthetic.ihc import SCORES, generate_ihc_region

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"
GEA = REAL / "her2_ihc_gea_tma_bozeklab"
BCI = REAL / "her2_ihc_bci_sample_mdopx"
SHORT = {
    "complete_intense": "C-int",
    "complete_weak_moderate": "C-w/m",
    "incomplete_moderate_intense": "I-m/i",
    "incomplete_faint": "I-fnt",
    "none": "none",
}


def score_from_percent(pct) -> str:
    """IHC score ("0", "0+", "1+", "2+", "3+") from class percentages, by her2kit.guideline."""
    percent = IhcPercent(**{k: float(pct[k]) for k in STAINED_CLASSES})
    return ihc_from_percent(percent)[0]


def predicted_score(pct) -> str:
    """The score `her2kit score-ihc` reports: the image-analysis hand-off, then the guideline."""
    handed, _ = guideline_percent(pct)
    return ihc_from_percent(IhcPercent(**handed))[0]


def _region(i: int, seed0: int):
    """Region ``i`` of a series (seed ``seed0 + i``): target score and near-boundary
    cycle through the series; pixel size, stain jitter, blur, noise, uneven background
    and JPEG quality are drawn from the seed. Returns ``(region, pixel size)``."""
    score = SCORES[i % len(SCORES)]
    rng = np.random.default_rng(seed0 + i)
    p = float(rng.choice([0.25, 0.5, 0.5, 1.0]))
    side = int(192 / p)
    s = generate_ihc_region(
        shape_px=(side, side),
        pixel_size_um=p,
        target_score=score,
        near_boundary=(i // len(SCORES)) % 2 == 1,
        seed=seed0 + i,
        stain_jitter_deg=float(rng.uniform(0, 6)),
        blur_sigma_um=float(rng.uniform(0.2, 0.6)),
        noise_sd=float(rng.uniform(1, 4)),
        uneven_background=float(rng.uniform(0, 0.1)),
        jpeg_quality=int(rng.choice([75, 85, 95])),
    )
    return s, p


def _synthetic_case(i: int):
    s, p = _region(i, 1000)
    near = (i // len(SCORES)) % 2 == 1
    t0 = time.perf_counter()
    r = score_ihc_image(s.image, pixel_size_um=p, options=IhcOptions(estimate_stains=True))
    dt = time.perf_counter() - t0
    m = match_instances(s.nuclei_labels, r.nuclei_labels)
    k = len(MEMBRANE_CLASSES)
    conf = np.zeros((k, k), int)
    ti = np.searchsorted(np.array(sorted(MEMBRANE_CLASSES)), s.cells["class_name"][m.true_ids - 1])
    pi = np.searchsorted(np.array(sorted(MEMBRANE_CLASSES)), r.cells.class_name[m.pred_ids - 1])
    order = [sorted(MEMBRANE_CLASSES).index(c) for c in MEMBRANE_CLASSES]
    remap = np.argsort(order)
    np.add.at(conf, (remap[ti], remap[pi]), 1)
    true_score = score_from_percent(s.percent)
    return {
        "p": p,
        "near": near,
        "f1": m.f1,
        "conf": conf,
        "true": true_score,
        "pred": predicted_score(r.percent_all),
        "mpx_s": s.image.shape[0] * s.image.shape[1] / dt / 1e6,
        "pct_err": max(abs(r.percent_all[c] - s.percent[c]) for c in MEMBRANE_CLASSES),
    }


def run_synthetic(n: int, workers: int) -> None:
    print(f"\n== Synthetic: {n} regions of 192 µm, pixel size 0.25/0.5/1 µm, JPEG 75–95 ==")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as ex:
        res = list(ex.map(_synthetic_case, range(n)))
    f1 = np.array([r["f1"] for r in res])
    conf = sum(r["conf"] for r in res)
    print(f"nucleus detection F1 (IoU 0.5): mean {f1.mean():.3f}, min {f1.min():.3f}")
    for p in (0.25, 0.5, 1.0):
        sel = [r for r in res if r["p"] == p]
        if sel:
            c = sum(r["conf"] for r in sel)
            print(
                f"  {p:4} µm/px: F1 {np.mean([r['f1'] for r in sel]):.3f}, per-cell accuracy "
                f"{np.trace(c) / c.sum():.3f}, {np.median([r['mpx_s'] for r in sel]):.2f} Mpx/s"
            )
    print(f"per-cell class accuracy (matched cells): {np.trace(conf) / conf.sum():.3f}")
    print("confusion (rows true, columns predicted):")
    print("        " + " ".join(f"{SHORT[c]:>6}" for c in MEMBRANE_CLASSES))
    for i, c in enumerate(MEMBRANE_CLASSES):
        print(f"{SHORT[c]:>7} " + " ".join(f"{v:6d}" for v in conf[i]))
    for label, sel in (
        ("all", res),
        ("away from 10 % boundary", [r for r in res if not r["near"]]),
        ("near 10 % boundary", [r for r in res if r["near"]]),
    ):
        acc = np.mean([r["true"] == r["pred"] for r in sel])
        print(f"IHC score accuracy, {label}: {acc:.3f} ({len(sel)} regions)")
    print("score confusion (rows true, columns predicted):")
    print("      " + " ".join(f"{s:>4}" for s in SCORES))
    for t in SCORES:
        row = [sum(1 for r in res if r["true"] == t and r["pred"] == q) for q in SCORES]
        print(f"{t:>5} " + " ".join(f"{v:4d}" for v in row))
    print(f"median worst per-class % error: {np.median([r['pct_err'] for r in res]):.1f} points")
    print(f"({time.perf_counter() - t0:.0f} s)")


def _core_tiles(args):
    """Score every tissue tile of one core (decoded once by the caller's worker)."""
    path, tile, keep_every, pixel_size_um = args
    from her2kit.io.images import read_image

    img = read_image(path).image
    # Background (glass) intensity per channel from the core's brightest pixels: the
    # cores are pale and their glass is ~237, not 255, which would add ~0.03 OD to every
    # pixel and lift unstained membranes toward "faint".
    bg = np.clip(np.percentile(img[::16, ::16].reshape(-1, 3), 95, axis=0), 200, 255)
    glass_level = float(bg.mean()) - 15
    counts = dict.fromkeys(MEMBRANE_CLASSES, 0)
    dab_means, completeness, n_tiles = [], [], 0
    k = 0
    for r0 in range(0, img.shape[0] - tile // 2, tile):
        for c0 in range(0, img.shape[1] - tile // 2, tile):
            sub = np.ascontiguousarray(img[r0 : r0 + tile, c0 : c0 + tile])
            # Skip glass quickly: fewer than 10 % of pixels 15 levels darker than glass.
            if np.mean(sub[::8, ::8].mean(axis=2) < glass_level) < 0.1:
                continue
            k += 1
            if (k - 1) % keep_every:
                continue
            try:
                r = score_ihc_image(
                    sub,
                    pixel_size_um=pixel_size_um,
                    options=IhcOptions(estimate_stains=True, background_rgb=bg),
                )
            except ImageInputError:
                continue
            n_tiles += 1
            for c in MEMBRANE_CLASSES:
                counts[c] += r.counts[c]
            dab_means.append(r.cells.membrane_dab_od_mean)
            completeness.append(r.cells.completeness_pct)
    n = sum(counts.values())
    pct = {c: (100 * counts[c] / n if n else 0.0) for c in MEMBRANE_CLASSES}
    dab = np.concatenate(dab_means) if dab_means else np.zeros(0)
    comp = np.concatenate(completeness) if completeness else np.zeros(0)
    return {
        "file": path.name,
        "n_tiles": n_tiles,
        "n_cells": n,
        "pct": pct,
        "median_dab": float(np.median(dab)) if dab.size else float("nan"),
        "p90_dab": float(np.percentile(dab, 90)) if dab.size else float("nan"),
        "median_completeness": float(np.median(comp)) if comp.size else float("nan"),
    }


def run_real(quick: bool, workers: int, pixel_size_um: float) -> None:
    print(f"\n== Real: HER2 IHC TMA cores, {GEA.resolve()} ==")
    if not (GEA / "LABELS.csv").is_file():
        print(f"not run: folder absent ({GEA.resolve()})")
        return
    with open(GEA / "LABELS.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["usable_for_validation"] == "yes"]
    print(
        f"{len(rows)} usable cores; pixel size assumed {pixel_size_um} µm/px (SOURCE.md "
        "estimate, not documented); 1024-px tiles"
        + (", every 4th tissue tile (--quick)" if quick else "")
    )
    t0 = time.perf_counter()
    jobs = [(GEA / r["file"], 1024, 4 if quick else 1, pixel_size_um) for r in rows]
    with ProcessPoolExecutor(workers) as ex:
        out = list(ex.map(_core_tiles, jobs))
    order = ["0", "1+", "2+", "3+"]
    print(
        f"{'label':>5} {'pred':>4} {'cells':>6} "
        + " ".join(f"{SHORT[c]:>6}" for c in STAINED_CLASSES)
        + "  med.DAB  p90DAB  med.compl%  file"
    )
    by_label: dict[str, list[float]] = {s: [] for s in order}
    preds = []
    for row, o in sorted(zip(rows, out, strict=True), key=lambda x: x[0]["label"]):
        pred = predicted_score(o["pct"])
        preds.append((row["label"], pred))
        if o["n_cells"]:
            by_label[row["label"]].append(o["median_dab"])
        print(
            f"{row['label']:>5} {pred:>4} {o['n_cells']:6d} "
            + " ".join(f"{o['pct'][c]:6.1f}" for c in STAINED_CLASSES)
            + f"  {o['median_dab']:7.3f} {o['p90_dab']:7.3f} {o['median_completeness']:10.1f}"
            + f"  {row['file'][:14]}"
        )
    print("score confusion (rows pathologist, columns predicted; 0+ counted with 0):")
    print("      " + " ".join(f"{s:>4}" for s in order))
    for t in order:
        cnt = [sum(1 for a, b in preds if a == t and (b if b != "0+" else "0") == q) for q in order]
        print(f"{t:>5} " + " ".join(f"{v:4d}" for v in cnt))
    med = [float(np.median(by_label[s])) if by_label[s] else float("nan") for s in order]
    print(
        "median of per-core median membrane DAB OD by pathologist score: "
        + ", ".join(f"{s}: {m:.3f}" for s, m in zip(order, med, strict=True))
    )
    rising = not np.any(np.isnan(med)) and all(a < b for a, b in itertools.pairwise(med))
    print(f"DAB membrane measure rises with pathologist score: {'yes' if rising else 'no'}")
    bad0 = sum(1 for a, b in preds if a == "0" and b in ("2+", "3+"))
    bad3 = sum(1 for a, b in preds if a == "3+" and b in ("0", "0+", "1+"))
    print(f"0 cores called ≥ 2+: {bad0}; 3+ cores called ≤ 1+: {bad3}")
    print(f"({time.perf_counter() - t0:.0f} s)")


# --- calibration of the default membrane thresholds ---------------------------------
# BCI tiles: (file, tile label, the class its tumour cells are taken to have). Tile-level
# labels are weak per-cell labels (the 0 tile is skin from a 0 slide; 1+ faint; 2+
# moderate; 3+ strong complete membranes in the upper half, so only cells there count).
BCI_TILES = (
    ("valB/00345_test_0.png", "0", "none"),
    ("valB/00901_test_1+.png", "1+", "incomplete_faint"),
    ("valB/00820_test_2+.png", "2+", "complete_weak_moderate"),
    ("valB/00672_test_3+.png", "3+", "complete_intense"),
)
BCI_PIXEL_SIZE_UM = 0.5  # assumed: not stated by the source (nuclei measure 5-6 µm at it)
CAL_GRID = {
    "faint_od": (0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10),
    "moderate_od": (0.09, 0.11, 0.13, 0.14, 0.16, 0.18, 0.20),
    "intense_od": (0.20, 0.25, 0.30, 0.33, 0.36, 0.38, 0.42),
    "complete_pct": (70.0, 75.0, 80.0, 85.0, 90.0),
}


def _calibration_case(i: int):
    """Sector measures of one synthetic region on its true cells (seeds 5000+)."""
    s, p = _region(i, 5000)
    from her2kit.imaging.color.hdab import separate_stains

    m = measure_membranes(
        separate_stains(s.image).dab_od, s.cell_labels, s.nuclei_labels, pixel_size_um=p
    )
    return m, np.asarray(s.cells["class_name"]), score_from_percent(s.percent)


def _bci_measures():
    """Measures of every BCI tile's cells (pipeline geometry), with weak labels."""
    from her2kit.imaging.color.hdab import separate_stains
    from her2kit.io.images import read_image

    out = []
    for rel, label, cls in BCI_TILES:
        img = np.ascontiguousarray(read_image(BCI / rel).image[..., :3])
        bg = np.clip(np.percentile(img[::8, ::8].reshape(-1, 3), 95, axis=0), 200, 255)
        r = score_ihc_image(
            img,
            pixel_size_um=BCI_PIXEL_SIZE_UM,
            options=IhcOptions(estimate_stains=True, background_rgb=bg),
        )
        f = round(r.parameters["geometry_pixel_size_um"] / BCI_PIXEL_SIZE_UM)
        dab = separate_stains(img, background_rgb=bg).dab_od
        m = measure_membranes(
            dab,
            r.cell_labels[::f, ::f],
            r.nuclei_labels[::f, ::f],
            pixel_size_um=BCI_PIXEL_SIZE_UM,
            labels_downsample=f,
        )
        keep = r.cells.centroid_rc[:, 0] < img.shape[0] / 2 if label == "3+" else slice(None)
        out.append((label, cls, (m.sector_dab_od[keep], m.sector_ridge_od[keep])))
    return out


def _balanced_split(low: np.ndarray, high: np.ndarray) -> float:
    """Threshold minimising the mean of the two error rates (classes weigh equally)."""
    low, high = low[np.isfinite(low)], high[np.isfinite(high)]
    cand = np.unique(np.concatenate([low, high]))
    mids = (cand[:-1] + cand[1:]) / 2
    err = (low.size - np.searchsorted(np.sort(low), mids)) / low.size + np.searchsorted(
        np.sort(high), mids
    ) / high.size
    best = np.flatnonzero(err == err.min())
    return float(mids[best[len(best) // 2]])


def run_calibration(workers: int, n: int = 100) -> MembraneThresholds:
    """Choose default thresholds: synthetic bounds the range, BCI picks the point in it.

    For each threshold in turn (others at the current defaults), the synthetic regions
    give the admissible values: per-cell accuracy within 0.01 and score accuracy within
    0.02 of the best on the grid. The BCI tiles give a real-image split (balanced
    between the two tiles' cells); the default is that split clipped into the admissible
    range. The synthetic set keeps the generated truth right; BCI says where in that
    range real staining sits.
    """
    import warnings

    print(
        f"\n== Calibration: {n} synthetic regions (seeds 5000+) and {len(BCI_TILES)} BCI tiles =="
    )
    with ProcessPoolExecutor(workers) as ex:
        synth = list(ex.map(_calibration_case, range(n)))

    def evaluate(t: MembraneThresholds) -> tuple[float, float]:
        ok = tot = hits = 0
        for m, truth, true_score in synth:
            c = classify_membranes(m, thresholds=t)
            ok += int(np.sum(c == truth))
            tot += truth.size
            pct = {k: 100.0 * float(np.mean(c == k)) if c.size else 0.0 for k in MEMBRANE_CLASSES}
            hits += score_from_percent(pct) == true_score
        return ok / tot, hits / len(synth)

    if not (BCI / "LABELS.csv").is_file():
        print(f"BCI not found ({BCI.resolve()}); defaults kept")
        return DEFAULT_THRESHOLDS
    bci = _bci_measures()
    rows = {cls: v for _, cls, v in bci}

    def measures(v):
        od, ridge = v
        z = np.zeros(len(od), np.float32)
        labels = np.arange(1, len(od) + 1, dtype=np.int32)
        return MembraneMeasures(labels, od, z, z, 0.4, 1.5, ridge)

    def bci_split(name: str, faint: float) -> float:
        if name == "faint_od":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # cells without any sector
                # The faint level applies to the ridge sectors (the stained-sector measure).
                none_v = np.nanpercentile(rows["none"][1], 95, axis=1)
                faint_v = np.nanpercentile(rows["incomplete_faint"][1], 85, axis=1)
            return _balanced_split(none_v, faint_v)
        inten = {k: measures(v).stained_dab_od_mean(faint) for k, v in rows.items()}
        if name == "moderate_od":
            return _balanced_split(inten["incomplete_faint"], inten["complete_weak_moderate"])
        if name == "intense_od":
            return _balanced_split(inten["complete_weak_moderate"], inten["complete_intense"])
        # No BCI tile has incomplete membranes by label, so completeness is not split:
        # the 25th percentile of the (complete) 3+ tile's cells.
        return float(np.percentile(measures(rows["complete_intense"]).completeness_pct(faint), 25))

    # One threshold at a time, in the order of the class boundaries, each evaluated with
    # the ones already chosen (faint changes which sectors count, hence the mean OD).
    chosen = DEFAULT_THRESHOLDS.as_dict()
    for name, grid in CAL_GRID.items():
        res = [(v, *evaluate(MembraneThresholds(**{**chosen, name: v}))) for v in grid]
        best_cell = max(r[1] for r in res)
        best_score = max(r[2] for r in res)
        ok = [v for v, a, sc in res if a >= best_cell - 0.01 and sc >= best_score - 0.02]
        split = bci_split(name, chosen["faint_od"])
        chosen[name] = float(np.clip(split, min(ok), max(ok)))
        print(
            f"synthetic {name:>12}: "
            + ", ".join(f"{v:g}→{a:.3f}/{sc:.2f}" for v, a, sc in res)
            + f"\n   admissible {min(ok):g}–{max(ok):g}; BCI split {split:.3f} → {chosen[name]:g}"
        )
    faint = chosen["faint_od"]
    for label, _cls, v in bci:
        m = measures(v)
        print(
            f"  BCI {label:>2} tile: {len(v[0]):4d} cells, median stained OD "
            f"{np.median(m.stained_dab_od_mean(faint)):.3f}, median completeness "
            f"{np.median(m.completeness_pct(faint)):.0f}% (faint_od {faint:g})"
        )
    t = MembraneThresholds(**{**DEFAULT_THRESHOLDS.as_dict(), **chosen})
    a, sc = evaluate(t)
    a0, sc0 = evaluate(DEFAULT_THRESHOLDS)
    print(
        f"chosen {t}\n  synthetic calibration set: per-cell {a:.3f}, score {sc:.2f} "
        f"(current defaults: {a0:.3f}, {sc0:.2f})"
    )
    return t


def _deepliif_truth(mask_rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """Instance labels from a DeepLIIF mask (red = Ki67+, blue = Ki67- fill); n of red."""
    from scipy import ndimage as ndi

    red = (mask_rgb[..., 0] > 128) & (mask_rgb[..., 1] < 128) & (mask_rgb[..., 2] < 128)
    blue = (mask_rgb[..., 2] > 128) & (mask_rgb[..., 0] < 128) & (mask_rgb[..., 1] < 128)
    lr, nr = ndi.label(red)
    lb, _ = ndi.label(blue)
    return np.where(red, lr, 0) + np.where(blue, lb + nr, 0), nr


def run_real_nuclei(pixel_size_um: float = 0.25) -> None:
    """Nucleus detection F1 at IoU 0.5 on the DeepLIIF Ki67 tiles' manual masks."""
    from her2kit.imaging.color.hdab import separate_stains
    from her2kit.imaging.segment.nuclei import detect_nuclei
    from her2kit.io.images import read_image

    folder = REAL / "ki67_ihc_nuclei_deepliif"
    print(f"\n== Real nuclei: {folder.resolve()} ==")
    if not folder.is_dir():
        print("folder absent: skipped (it is in ../shared/data/real)")
        return
    print(f"pixel size assumed {pixel_size_um} µm/px (not stated; from nucleus sizes); "
          "Ki67-negative = blue (hematoxylin) nuclei, the kind HER2 scoring detects")
    print(f"{'tile':<10} {'truth':>5} {'found':>5} {'P':>6} {'R':>6} {'F1':>6} {'R(Ki67-)':>9}")
    with open(folder / "LABELS.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    f1s = []
    for row in rows:
        img = np.ascontiguousarray(read_image(folder / row["file"]).image[:, :512, :3])
        truth, n_red = _deepliif_truth(read_image(folder / row["ground_truth_file"]).image)
        stains = separate_stains(img)
        det = detect_nuclei(stains.hematoxylin_od, pixel_size_um=pixel_size_um,
                            threshold_exclude=stains.dab_od > 0.25)
        m = match_instances(truth, det.labels)
        negative_only = np.where(truth > n_red, truth, 0)
        r_neg = match_instances(negative_only, det.labels).recall
        f1s.append(m.f1)
        n_true = int(len(np.unique(truth)) - 1)
        print(f"{Path(row['file']).name:<10} {n_true:>5} {int(det.labels.max()):>5} "
              f"{m.precision:>6.3f} {m.recall:>6.3f} {m.f1:>6.3f} {r_neg:>9.3f}")
    print(f"mean F1 {np.mean(f1s):.3f}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 regions, 1/4 of the core tiles")
    ap.add_argument("--regions", type=int, default=None, help="synthetic regions (default 200)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--real-mpp", type=float, default=0.25, help="assumed µm/px of the cores")
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--calibrate", action="store_true", help="only re-derive the thresholds")
    args = ap.parse_args(argv)
    n = args.regions or (40 if args.quick else 200)
    print(f"her2kit IHC accuracy benchmark, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs")
    if args.calibrate:
        run_calibration(args.workers)
        return
    run_synthetic(n, args.workers)
    if not args.skip_real:
        run_real(args.quick, args.workers, args.real_mpp)
        run_real_nuclei()


if __name__ == "__main__":
    main()

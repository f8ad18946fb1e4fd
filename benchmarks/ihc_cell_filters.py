"""Tumour-versus-stroma cell filters on the shared GEA cores (issue 10, item 7): do they help?

Run from the repository root::

    PYTHONPATH=$PWD/src python -m benchmarks.ihc_cell_filters [--overlay DIR]

``--erythrocytes`` scores with ``erythrocyte_exclusion=True`` (issue 10, branch ``rbc``):
cells the scorer leaves uncounted as red cells are dropped under every rule, and the
overlays ring them magenta.

``--overlay DIR`` also writes the crops of :data:`OVERLAYS` with every detected cell
ringed green (kept) or red (dropped) by the rule named there, and a blue stroke on
nuclei with elongation > 2 (the spindle rule): the views the filters were judged on.

Every tissue tile of every gastric control in ``benchmarks/ihc_controls_shared.csv`` is
scored as ``her2kit calibrate`` scores it (:func:`her2kit.pipelines.calibrate.measure_control`:
the default calibration's options, the white point of the whole core). For each cell the
benchmark also measures its nucleus on the 1 µm geometry grid: area (µm²), major and
minor axis (µm, from the second moments), the number of other nuclei whose centroid lies
within 10, 15 and 20 µm, and the nucleus's mean DAB over its mean hematoxylin (OD / OD).
Each candidate rule keeps a subset of cells (membrane-seeded cells, which have no
nucleus, are always kept); the thresholds are then fitted on the kept cells with
:func:`her2kit.pipelines.calibrate.fit_calibration` and the in-sample and leave-one-out
exact agreement printed with the share of cells kept per core. The table is in
``benchmarks/README.md`` ("Leave-one-out after a tumour filter (issue 10)").
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from her2kit.errors import ImageInputError
from her2kit.imaging.color.hdab import separate_stains
from her2kit.imaging.filters import block_mean
from her2kit.imaging.ihc.membrane import MembraneMeasures
from her2kit.imaging.ihc.robust import estimate_white_point
from her2kit.imaging.ihc.score import IhcOptions, score_ihc_image
from her2kit.io.images import read_image
from her2kit.pipelines.calibrate import (
    CALIBRATION_OPTIONS,
    ControlMeasures,
    _tile_origins,
    fit_calibration,
)

CONTROLS = Path(__file__).resolve().parent / "ihc_controls_shared.csv"
RADII_UM = (10, 15, 20)
TILE_PX = 1024


def _nucleus_features(r, hem_g: np.ndarray, dab_g: np.ndarray, f: int) -> dict[str, np.ndarray]:
    """Per-cell nucleus shape, neighbours and DAB / hematoxylin on the geometry grid."""
    n = r.n_cells_detected
    pg = float(r.parameters["geometry_pixel_size_um"])
    nl = r.nuclei_labels[f // 2 :: f, f // 2 :: f][: hem_g.shape[0], : hem_g.shape[1]]
    rr, cc = np.nonzero(nl)
    lab = nl[rr, cc]
    cnt = np.maximum(np.bincount(lab, minlength=n + 1), 1).astype(float)
    mr, mc = np.bincount(lab, rr, n + 1) / cnt, np.bincount(lab, cc, n + 1) / cnt
    dr, dc = rr - mr[lab], cc - mc[lab]
    # + 1/12: the variance of a unit pixel, so a one-pixel nucleus is not a line.
    srr = np.bincount(lab, dr * dr, n + 1) / cnt + 1 / 12
    scc = np.bincount(lab, dc * dc, n + 1) / cnt + 1 / 12
    src = np.bincount(lab, dr * dc, n + 1) / cnt
    half_tr, det = (srr + scc) / 2, srr * scc - src**2
    disc = np.sqrt(np.maximum(half_tr**2 - det, 0))
    major = 4 * np.sqrt(half_tr + disc) * pg
    minor = 4 * np.sqrt(np.maximum(half_tr - disc, 1e-6)) * pg
    h = np.bincount(nl.ravel(), hem_g.ravel(), n + 1) / cnt
    d = np.bincount(nl.ravel(), dab_g.ravel(), n + 1) / cnt
    pts = np.stack([mr[1:], mc[1:]], axis=1) * pg
    tree = cKDTree(pts)
    out = {"major_um": major[1:], "minor_um": minor[1:],
           "nucleus_area_um2": np.asarray(r.cells.nucleus_area_um2, float),
           "dab_over_hem": d[1:] / np.maximum(h[1:], 1e-3)}
    for radius in RADII_UM:
        out[f"neighbours_{radius}"] = np.array(
            [len(x) - 1 for x in tree.query_ball_point(pts, radius)])
    n_seeded = int(r.parameters.get("membrane_seeded_cells", 0))
    out["seeded"] = np.arange(1, n + 1) > n - n_seeded
    return out


def measure_core(path: Path, mpp: float, *, erythrocytes: bool = False
                 ) -> tuple[list[MembraneMeasures], dict, object]:
    """The tiles' membrane measures and the cells' nucleus features of one core."""
    img = read_image(path).image
    white = estimate_white_point(img)
    kw = {k: v for k, v in CALIBRATION_OPTIONS.items() if k != "white_point"}
    kw["erythrocyte_exclusion"] = erythrocytes
    opts = IhcOptions(background_rgb=white.rgb, white_point="fixed", **kw)
    level = float(np.mean(white.rgb)) - 15  # the tissue-tile rule of measure_control
    parts, feats = [], []
    for r0, c0 in _tile_origins(img.shape[:2], TILE_PX):
        sub = np.ascontiguousarray(img[r0 : r0 + TILE_PX, c0 : c0 + TILE_PX])
        if np.mean(sub[::8, ::8].mean(axis=2) < level) < 0.1:
            continue
        try:
            r = score_ihc_image(sub, pixel_size_um=mpp, options=opts)
        except ImageInputError:
            continue
        if not r.n_cells_detected:
            continue
        f = round(float(r.parameters["geometry_pixel_size_um"]) / mpp)
        st = separate_stains(sub, background_rgb=white.rgb)
        hem_g, dab_g = block_mean(st.hematoxylin_od, f), block_mean(st.dab_od, f)
        parts.append(r.membrane_measures)
        feats.append({**_nucleus_features(r, hem_g, dab_g, f),
                      "centroid_rc": np.add(r.cells.centroid_rc, (r0, c0)),
                      "counted": np.asarray(r.cells.counted, bool)})
    cat = {k: np.concatenate([x[k] for x in feats]) for k in feats[0]}
    return parts, cat, white


def _subset(parts: list[MembraneMeasures], keep: np.ndarray) -> MembraneMeasures:
    sector = np.concatenate([m.sector_dab_od for m in parts])[keep]
    ridge = np.concatenate([m.sector_ridge_od for m in parts])[keep]
    mean = np.concatenate([m.ring_dab_od_mean for m in parts])[keep]
    p90 = np.concatenate([m.ring_dab_od_p90 for m in parts])[keep]
    n = int(keep.sum())
    return MembraneMeasures(np.arange(1, n + 1, dtype=np.int32), sector, mean, p90,
                            parts[0].smooth_sigma_um, parts[0].ring_width_um, ridge)


def _elongation(c):
    return c["major_um"] / np.maximum(c["minor_um"], 1e-3)


def _ratio_over_median(margin: float) -> Callable:
    def keep(c):
        ref = np.median(c["dab_over_hem"][~c["seeded"]])
        return c["dab_over_hem"] <= ref + margin
    return keep


#: Candidate rules: name -> cells kept (before membrane-seeded cells are added back).
RULES: dict[str, Callable] = {
    "none (the default calibration)": lambda c: np.ones(c["seeded"].size, bool),
    "spindle: elongation > 2.0 dropped": lambda c: _elongation(c) <= 2.0,
    "spindle: elongation > 2.5 dropped": lambda c: _elongation(c) <= 2.5,
    "spindle: elongation > 2.0 and minor < 4 µm dropped":
        lambda c: ~((_elongation(c) > 2.0) & (c["minor_um"] < 4.0)),
    "small: nucleus < 16 µm² dropped": lambda c: c["nucleus_area_um2"] >= 16,
    "small: nucleus < 20 µm² dropped": lambda c: c["nucleus_area_um2"] >= 20,
    **{f"isolated: < {k} neighbours within {r} µm dropped":
       (lambda c, r=r, k=k: c[f"neighbours_{r}"] >= k)
       for r in RADII_UM for k in (1, 2, 3, 4)},
    "spindle 2.0 or < 2 neighbours within 15 µm dropped":
        lambda c: (_elongation(c) <= 2.0) & (c["neighbours_15"] >= 2),
    "nucleus DAB / hematoxylin > 0.6 dropped": lambda c: c["dab_over_hem"] <= 0.6,
    "nucleus DAB / hematoxylin > core median + 0.3 dropped": _ratio_over_median(0.3),
}


#: (core file prefix, row, column, size in px, rule): crops rendered with ``--overlay``.
OVERLAYS = (
    ("3_a1f1510c", 2048, 512, 800, "isolated: < 3 neighbours within 15 µm dropped"),
    ("1_fb95908d", 1200, 450, 800, "isolated: < 3 neighbours within 15 µm dropped"),
    ("2_726fa489", 1700, 1750, 700, "none (the default calibration)"),
    ("1_f8a2cea0", 400, 3400, 600, "none (the default calibration)"),
)


def write_overlays(cores, out_dir: Path) -> None:
    """The :data:`OVERLAYS` crops as PNG files in ``out_dir`` (kept green, dropped red)."""
    from PIL import Image, ImageDraw

    out_dir.mkdir(parents=True, exist_ok=True)
    for prefix, r0, c0, size, rule in OVERLAYS:
        _name, path, feats, centroids = next(
            (n, p, f, cen) for n, p, f, cen in cores if n.startswith(prefix))
        keep = RULES[rule](feats) | feats["seeded"]
        red = ~feats["counted"]
        spindle = _elongation(feats) > 2.0
        im = Image.open(path).convert("RGB").crop((c0, r0, c0 + size, r0 + size))
        draw = ImageDraw.Draw(im)
        for (r, c), k, s, e in zip(centroids, keep, spindle, red, strict=True):
            y, x = r - r0, c - c0
            if 0 <= x < size and 0 <= y < size:
                ring = (255, 0, 255) if e else (0, 200, 0) if k else (255, 0, 0)
                draw.ellipse([x - 7, y - 7, x + 7, y + 7], outline=ring, width=2)
                if s:
                    draw.line([x - 9, y + 9, x + 9, y - 9], fill=(0, 0, 255), width=2)
        im.save(out_dir / f"{prefix}_{r0}_{c0}.png")


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--overlay", type=Path, help="write the OVERLAYS crops here (PNG)")
    ap.add_argument("--erythrocytes", action="store_true",
                    help="score with erythrocyte_exclusion=True (red cells not counted)")
    args = ap.parse_args()
    rows = [r for r in csv.DictReader(CONTROLS.open()) if r["tissue"] == "gastric"]
    cores, views = [], []
    for row in rows:
        t0 = time.perf_counter()
        path = (CONTROLS.parent / row["file"]).resolve()
        parts, feats, white = measure_core(path, float(row["mpp"]),
                                           erythrocytes=args.erythrocytes)
        cores.append((path.name, row["score"], parts, feats, white))
        views.append((path.name, path, feats, feats.pop("centroid_rc")))
        print(f"measured {path.name[:10]} {feats['seeded'].size} cells "
              f"{int((~feats['counted']).sum())} not counted (red cells) "
              f"{time.perf_counter() - t0:.1f} s", flush=True)
    if args.overlay is not None:
        write_overlays(views, args.overlay)
    names = " ".join(n[:10] for n, *_ in cores)
    print(f"\nrule | in-sample | leave-one-out | gross (in / loo) | kept share: {names}")
    for label, rule in RULES.items():
        ctl, shares = [], []
        for name, score, parts, feats, white in cores:
            keep = (rule(feats) | feats["seeded"]) & feats["counted"]
            shares.append(float(keep.mean()))
            ctl.append(ControlMeasures(name, score, "gastric", _subset(parts, keep),
                                       len(parts), white))
        e = fit_calibration(ctl).evidence["gastric"]
        ins = " ".join(c["in_sample"] for c in e["controls"])
        loo = " ".join(c["leave_one_out"] for c in e["controls"])
        print(f"{label} | {e['in_sample_exact']} | {e['leave_one_out_exact']} | "
              f"{e['in_sample_gross_errors']} / {e['leave_one_out_gross_errors']} | "
              + " ".join(f"{s:.2f}" for s in shares) + f" | in: {ins} | loo: {loo}", flush=True)


if __name__ == "__main__":
    main()

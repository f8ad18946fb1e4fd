"""Amplified Dual ISH fields counted at two pixel sizes (issue 11, silver clusters).

Run from the repository root::

    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_amp                # all cases, seeds 1-3
    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_amp --seeds 1 --cases mod-2.7
    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_amp --jpeg-quality 70 80 90
    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_amp --red-jpeg-off   # before redjpeg
    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_amp --merged-peak-off  # before ampjpeg

All shared real Dual ISH fields are non-amplified, so amplified counting is measured on
the realistic brightfield generator (``realistic_brightfield_options``: fitted to the
tuning fields DISH1 / DISH3) only. Each case is one field of 1024² px rendered at
0.065 µm/px, counted as rendered, downscaled to 0.25 µm/px (a 40x slide scanner;
``benchmarks.ish_scale.downscale``, anti-aliased) and downscaled then sent through a
JPEG round trip (quality 80, 4:2:0, or each of ``--jpeg-quality``; its header passed on
as ``count-ish FILE.jpg`` does).

Cases (HER2 / CEP17 copies drawn per nucleus, ``clusters`` on):

- ``mod-2.2``, ``mod-2.7``, ``mod-3.4``: moderate amplification, HER2 4-6 / 4-8 / 5-8 per
  nucleus, CEP17 1-3 (means 2.2 / 2.2 / 1.9): field ratios about 2.3 / 2.7 / 3.4; a
  nucleus with >= 5 HER2 copies holds one cluster of 3-8 copies (two from 10).
- ``high``: the generator's ``amplified`` scenario (HER2 ~14, ratio ~6; clusters of 4-10
  copies from HER2 8 on).

Each with the generator's Gaussian clumps (``clump``, ``cluster_spread_um`` 0.35 µm) and
with irregular, partly merged aggregates (``aggregate``: ``cluster_aggregate_step_um``
:data:`AGGREGATE_STEP_UM`), the shape the issue describes. Per count: nuclei counted
(matched to the truth table by the label under their centre), the counter's field ratio
and the true ratio of the same nuclei, HER2 per nucleus (true), the share of true
clusters in counted nuclei whose copies are read within 30 % (the counter's cluster
copies plus its single HER2 dots within :data:`CLUSTER_MATCH_UM` of the true centre),
and the red (CEP17) clusters the counter reports (the generator renders none: each is
single red dots wrongly made a cluster).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

#: Step between neighbouring copies of an aggregate, µm (``cluster_aggregate_step_um``):
#: at the realistic preset's dot s.d. (0.13 µm) copies 0.3 µm apart merge partly, and a
#: 4-10 copy aggregate spans 1-2 µm (set by eye on rendered crops).
AGGREGATE_STEP_UM = 0.3
#: A true cluster's copies are read from the counter's clusters and single dots within
#: this distance of its centre, µm (other dots keep >= 2 µm away in the generator).
CLUSTER_MATCH_UM = 1.2
CLUSTER_TOLERANCE = 0.30
NATIVE_UM, COARSE_UM = 0.065, 0.25

#: name -> (HER2 low, high per nucleus, CEP17 probabilities of 1 / 2 / 3), or None for
#: the generator's ``amplified`` scenario.
CASES = {
    "mod-2.2": (4, 6, (0.1, 0.6, 0.3)),
    "mod-2.7": (4, 8, (0.1, 0.6, 0.3)),
    "mod-3.4": (5, 8, (0.25, 0.6, 0.15)),
    "high": None,
}
SHAPES = ("clump", "aggregate")


def field_options(case: str, seed: int, *, shape: str = "aggregate", shape_px=(1024, 1024)):
    """The realistic generator's options of one case (see the module docstring)."""
    from her2kit.synthetic.ish import realistic_brightfield_options

    kw = dict(shape_px=shape_px, pixel_size_um=NATIVE_UM, seed=seed,
              cluster_aggregate_step_um=AGGREGATE_STEP_UM if shape == "aggregate" else None)
    spec = CASES[case]
    if spec is None:
        return realistic_brightfield_options(scenario="amplified", **kw)
    n = realistic_brightfield_options(shape_px=shape_px, pixel_size_um=NATIVE_UM).n_nuclei
    rng = np.random.default_rng([seed, 1100])
    her2 = rng.integers(spec[0], spec[1] + 1, n)
    cep17 = rng.choice([1, 2, 3], n, p=spec[2])
    return realistic_brightfield_options(counts=np.column_stack([her2, cep17]).tolist(),
                                         clusters=True, cluster_min_her2=5,
                                         cluster_copies=(3, 8), **kw)


def score_count(field, res, factor: float) -> dict:
    """One count of a generated field against its truth (``factor``: counted px per
    rendered px)."""
    truth = {int(n["nucleus_id"]): n for n in field.nuclei}
    h, w = field.labels.shape
    got, true, ids = [], [], []
    for n in res.nuclei:
        t = truth.get(int(field.labels[min(round(n.row / factor), h - 1),
                                       min(round(n.col / factor), w - 1)]))
        if n.included and t is not None:
            got.append((n.her2, n.cep17))
            true.append((int(t["her2"]), int(t["cep17"])))
            ids.append(int(t["nucleus_id"]))
    g = np.mean(got, axis=0) if got else np.array([np.nan, np.nan])
    t = np.mean(true, axis=0) if true else np.array([np.nan, np.nan])
    s = field.signals
    cl = s[s["is_cluster"] & np.isin(s["nucleus_id"], ids)]
    rad = CLUSTER_MATCH_UM / NATIVE_UM * factor
    her2 = res.her2
    rec = np.array([[c.row, c.col, c.copies] for c in her2.clusters]).reshape(-1, 3)
    single = her2.detection.coords_px[~her2.in_cluster]
    ok = 0
    for c in cl:
        p = np.array([c["row"], c["col"]]) * factor
        near = np.hypot(*(rec[:, :2] - p).T) <= rad
        copies = rec[near, 2].sum() + int((np.hypot(*(single - p).T) <= rad).sum())
        ok += abs(copies - c["copies"]) <= CLUSTER_TOLERANCE * c["copies"]
    red = [c for c in (res.cep17.clusters if res.cep17 is not None else ())
           if c.nucleus_id in {n.nucleus_id for n in res.nuclei if n.included}]
    return dict(n=len(got), ratio=res.ratio, true_ratio=t[0] / t[1], her2=g[0], true_her2=t[0],
                cep17=g[1], true_cep17=t[1], n_clusters=len(cl), clusters_ok=ok,
                red_clusters=len(red), red_cluster_copies=sum(c.copies for c in red))


def run_case(case: str, seed: int, shape: str, options=None, *, jpeg_qualities=(80,)
             ) -> list[dict]:
    """Render one case and count it as rendered, downscaled, and downscaled then through
    a JPEG round trip at each of ``jpeg_qualities``; one row per count (``options``:
    BrightfieldIshOptions, None = defaults)."""
    from benchmarks.ish_scale import downscale
    from her2kit.imaging.ish import count_brightfield_ish
    from her2kit.synthetic.ish import render_brightfield_ish_field

    field = render_brightfield_ish_field(field_options(case, seed, shape=shape))
    rows = []
    for px, q in ((NATIVE_UM, None), (COARSE_UM, None),
                  *((COARSE_UM, int(q)) for q in jpeg_qualities)):
        f = NATIVE_UM / px
        img, header = downscale(field.image, f, jpeg_quality=q, header=True)
        t0 = time.perf_counter()
        res = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=px, jpeg_source=header,
                                    options=options)
        rows.append(dict(case=case, seed=seed, shape=shape, pixel_size_um=px, jpeg=q,
                         s=time.perf_counter() - t0, **score_count(field, res, f)))
    return rows


def _summary(rows) -> None:
    print("\nSummary per case, shape and pixel size (seeds pooled): field ratio within "
          "25 % of truth and on its side of 2.0, mean |HER2 error| %, mean CEP17 error % "
          "(signed: counted over true CEP17 per nucleus of the counted nuclei, - = read low), "
          "clusters within 30 %, red clusters")
    print("| case | shape | µm/px | ratio ok | HER2 error | CEP17 error | clusters within 30 % "
          "| red clusters |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    keys = sorted({(r["case"], r["shape"], r["pixel_size_um"], r["jpeg"] or 0) for r in rows},
                  key=lambda k: (list(CASES).index(k[0]), k[1], k[2], k[3]))
    for case, shape, px, q in keys:
        sel = [r for r in rows if (r["case"], r["shape"], r["pixel_size_um"], r["jpeg"] or 0)
               == (case, shape, px, q)]
        ok = sum(r["ratio"] is not None and (r["ratio"] >= 2) == (r["true_ratio"] >= 2)
                 and abs(r["ratio"] - r["true_ratio"]) <= 0.25 * r["true_ratio"] for r in sel)
        err = np.mean([abs(r["her2"] - r["true_her2"]) / r["true_her2"] for r in sel])
        err_c = np.mean([(r["cep17"] - r["true_cep17"]) / r["true_cep17"] for r in sel])
        cl = sum(r["clusters_ok"] for r in sel), sum(r["n_clusters"] for r in sel)
        label = f"{px}" + (f" +JPEG {q}" if q else "")
        print(f"| {case} | {shape} | {label} | {ok}/{len(sel)} | {100 * err:.0f} % | "
              f"{100 * err_c:+.0f} % | "
              f"{cl[0]}/{cl[1]} ({100 * cl[0] / max(cl[1], 1):.0f} %) | "
              f"{sum(r['red_clusters'] for r in sel)} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ish_amp", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="*", choices=list(CASES), default=list(CASES))
    ap.add_argument("--shapes", nargs="*", choices=SHAPES, default=list(SHAPES))
    ap.add_argument("--seeds", nargs="*", type=int, default=[1, 2, 3])
    ap.add_argument("--jpeg-quality", nargs="+", type=int, default=[80], metavar="Q",
                    help="JPEG qualities (1-100, 4:2:0) of the round trips at 0.25 µm/px "
                         "(default 80)")
    ap.add_argument("--red-jpeg-off", action="store_true",
                    help="count without branch redjpeg's JPEG red rules (red_jpeg_luma=False, "
                         "red_jpeg_faint_max_silver=0): the counts before it")
    ap.add_argument("--merged-peak-off", action="store_true",
                    help="count without branch ampjpeg's merged-copies rule "
                         "(silver_jpeg_merged_peak=0): the counts before it")
    args = ap.parse_args(argv)
    if not all(1 <= q <= 100 for q in args.jpeg_quality):
        ap.error("--jpeg-quality: each value must be 1-100")
    qs = " / ".join(str(q) for q in args.jpeg_quality)
    off = {}
    if args.red_jpeg_off:
        off.update(red_jpeg_luma=False, red_jpeg_faint_max_silver=0.0)
    if args.merged_peak_off:
        off.update(silver_jpeg_merged_peak=0.0)
    options = None
    if off:
        from her2kit.imaging.ish import BrightfieldIshOptions

        options = BrightfieldIshOptions(**off)
    print("# Amplified Dual ISH, realistic generator, 1024² px at 0.065 µm/px and "
          f"downscaled to 0.25 µm/px (+ JPEG {qs} 4:2:0)\n")
    rows = []
    print("| case | shape | seed | µm/px | nuclei | field ratio (true) | HER2/nucleus (true) "
          "| clusters within 30 % | red clusters (copies) |")
    print("|---|---|---:|---|---:|---|---|---|---|")
    for case in args.cases:
        for shape in args.shapes:
            for seed in args.seeds:
                new = run_case(case, seed, shape, options, jpeg_qualities=args.jpeg_quality)
                rows += new
                _print_rows(new)
    _summary(rows)
    return 0


def _print_rows(rows) -> None:
    for r in rows:
        px = f"{r['pixel_size_um']}" + ("" if r["jpeg"] is None else f" +JPEG {r['jpeg']}")
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        print(f"| {r['case']} | {r['shape']} | {r['seed']} | {px} | {r['n']} | {ratio} "
              f"({r['true_ratio']:.2f}) | {r['her2']:.2f} ({r['true_her2']:.2f}) | "
              f"{r['clusters_ok']}/{r['n_clusters']} | {r['red_clusters']} "
              f"({r['red_cluster_copies']}) |", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())

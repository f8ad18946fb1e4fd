"""Dual ISH nuclei crowded with signals of both colours (issue 11, branch abundant).

Run from the repository root::

    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_crowded            # seeds 1-3
    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_crowded --seeds 1 --px 0.25

Question: do the counter's field-level automatic choices, set from statistics that many
signals inflate, miss the small faint grey silver (HER2) dots when every nucleus is full
of signals? Fields are drawn by :func:`her2kit.synthetic.ish.crowded_brightfield_options`
(the realistic preset fitted to the tuning fields DISH1 / DISH3, with 60 % of the single
silver dots faint grey; their darkness, ``silver_faint_od_factor``, 0.42 x as measured on
the tuning fields or 0.35 x, paler), rendered directly at 0.065 µm/px (1024² px) and 0.25
µm/px (512² px), for three count scenarios with the same dots:

- ``sparse``: the generator's ``normal`` scenario (HER2 ~2, CEP17 ~2): no abundance;
- ``crowded_polysomy``: HER2 ~5, CEP17 ~7 (5-15 red dots a nucleus, ratio ~0.7);
- ``crowded_gain``: HER2 ~7, CEP17 ~4 (ratio ~1.75, group 3).

Each field is counted with the defaults (each nucleus's silver texture s.d. measured over
its whole interior, dots included) and with ``silver_texture_exclude_um=0.8`` (measured
again beyond 0.8 µm of the dots the first pass kept; opt-in, branch abundant). Per row: the
field-level noise s.d. of the silver and red LoG response (``her2_noise_sigma`` /
``cep17_noise_sigma`` of the result's parameters, median over the fields; the statistic
abundance inflates), HER2 and CEP17 detection F1 (single dots, one-to-one within 0.4 µm),
the recall of the faint grey silver dots
(:func:`~her2kit.synthetic.ish.faint_silver_signals`), the share of counted nuclei (matched
to a true nucleus, IoU > 0.5) whose HER2 / CEP17 is within ±1 of the truth, the mean HER2 /
CEP17 error per nucleus and the ratio of those nuclei's sums against the truth's (median
|found / true - 1| over the fields).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

#: µm/px -> field size (px): 1024² at 0.065 µm/px (66 µm, 34 nuclei), 512² at 0.25 (128 µm).
FIELDS_PX = {0.065: (1024, 1024), 0.25: (512, 512)}
SCENARIOS = ("sparse", "crowded_polysomy", "crowded_gain")
#: Faint grey silver darkness: the tuning fields' 0.42 x and a paler 0.35 x (the preset's).
FAINT_OD_FACTORS = (0.42, 0.35)
MATCH_UM = 0.4
#: The opt-in rule of this branch: each nucleus's silver texture s.d. measured again
#: beyond 0.8 µm of its kept dots (the default counts with its whole interior, dots too).
RULE_ON = {"silver_texture_exclude_um": 0.8}


def _options(px: float, scenario: str, faint: float, seed: int):
    from her2kit.synthetic import ish

    return ish.crowded_brightfield_options(
        shape_px=FIELDS_PX[px], pixel_size_um=px, seed=seed, silver_faint_od_factor=faint,
        scenario="normal" if scenario == "sparse" else scenario)


def evaluate(px: float, scenario: str, faint: float, seed: int, on: bool) -> dict:
    """One field counted: detection matches, per-nucleus errors, noise statistics."""
    from benchmarks.ish_accuracy import _tp, _truth_id
    from her2kit.imaging.ish import BrightfieldIshOptions, count_brightfield_ish
    from her2kit.synthetic import ish

    o = _options(px, scenario, faint, seed)
    syn = ish.render_brightfield_ish_field(o)
    res = count_brightfield_ish(syn.image, assay="dual-ish", pixel_size_um=px,
                                options=BrightfieldIshOptions(**RULE_ON) if on else None)
    sig, radius = syn.signals, MATCH_UM / px
    out = {"noise": (res.parameters["her2_noise_sigma"], res.parameters["cep17_noise_sigma"])}
    for ps in (res.her2, res.cep17):
        t = sig[(sig["probe"] == ps.probe) & ~sig["is_cluster"]]
        out[ps.probe] = _tp(ps.detection.coords_px[~ps.in_cluster],
                            np.column_stack([t["row"], t["col"]]), radius)
    faint_rows = sig[ish.faint_silver_signals(syn, o)]
    out["faint"] = _tp(res.her2.detection.coords_px,
                       np.column_stack([faint_rows["row"], faint_rows["col"]]), radius)
    err, sums = [], np.zeros(4)
    for n in res.counted:
        tid = _truth_id(res.labels, syn.labels, n.nucleus_id)
        if tid:
            tn = syn.nuclei[tid - 1]
            err.append((n.her2 - int(tn["her2"]), n.cep17 - int(tn["cep17"])))
            sums += (n.her2, n.cep17, int(tn["her2"]), int(tn["cep17"]))
    out["err"] = np.array(err, float).reshape(-1, 2)
    out["ratio_err"] = (abs((sums[0] / sums[1]) / (sums[2] / sums[3]) - 1.0)
                        if sums[1] and sums[3] else float("nan"))
    out["true_ratio"] = sums[2] / sums[3] if sums[3] else float("nan")
    return out


def _row(px, scenario, faint, on, res) -> str:
    from benchmarks.ish_accuracy import _prf

    def f1(key):
        return _prf(*np.sum([r[key] for r in res], axis=0))[2]

    faint_recall = _prf(*np.sum([r["faint"] for r in res], axis=0))[1]
    err = np.concatenate([r["err"] for r in res])
    noise = np.median([r["noise"] for r in res], axis=0)
    ok = np.mean(np.abs(err) <= 1, axis=0) if len(err) else (np.nan, np.nan)
    mean = err.mean(axis=0) if len(err) else (np.nan, np.nan)
    true_ratio = np.median([r["true_ratio"] for r in res])
    return (f"| {px} | {scenario} | {faint} | {'exclude 0.8 µm' if on else 'default'} | "
            f"{noise[0]:.4f} / {noise[1]:.4f} | {f1('her2'):.3f} | {faint_recall:.2f} | "
            f"{f1('cep17'):.3f} | {len(err)} | {ok[0]:.0%} | {ok[1]:.0%} | "
            f"{mean[0]:+.2f} / {mean[1]:+.2f} | {true_ratio:.2f} | "
            f"{np.median([r['ratio_err'] for r in res]):.1%} |")


def main(argv: list[str] | None = None) -> int:
    from her2kit.pipelines.runner import open_executor

    ap = argparse.ArgumentParser(prog="python -m benchmarks.ish_crowded", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="fields per row (seeds 1..N)")
    ap.add_argument("--px", type=float, nargs="+", default=sorted(FIELDS_PX),
                    choices=sorted(FIELDS_PX), help="pixel sizes, µm/px")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    jobs = [(px, sc, fa, seed, on) for px in args.px for sc in SCENARIOS
            for fa in FAINT_OD_FACTORS for on in (False, True)
            for seed in range(1, args.seeds + 1)]
    with open_executor(workers=args.workers) as ex:
        results = list(ex.map(evaluate, *zip(*jobs, strict=True)))
    print(f"# Crowded Dual ISH fields ({args.seeds} per row, seeds 1-{args.seeds}; 60 % of the "
          "single silver dots faint grey)")
    print("| µm/px | field | faint silver OD x | counter | noise s.d. HER2 / CEP17 (LoG, OD) | "
          "HER2 F1 | faint silver recall | CEP17 F1 | nuclei | HER2 within ±1 | "
          "CEP17 within ±1 | mean error HER2 / CEP17 | true ratio | ratio error |")
    print("|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for key in dict.fromkeys(j[:3] + j[4:] for j in jobs):
        rows = [r for j, r in zip(jobs, results, strict=True) if j[:3] + j[4:] == key]
        print(_row(*key, rows))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

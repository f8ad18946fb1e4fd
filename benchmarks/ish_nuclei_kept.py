"""How many nuclei the Dual ISH counter keeps against how many a technologist could count.

Run from the repository root::

    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_nuclei_kept            # tuning part
    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_nuclei_kept --generated

Real fields: the tuning fields DISH1 / DISH3 of the hand-counted reference
(tests/data/ish_reference, the project's own counts, not an expert's; native pixel size
0.065 µm/px ASSUMED), counted as they are, downscaled to 0.25 µm/px (a 40x slide
scanner's, as ``count-ish --mpp 0.25`` is given) and downscaled then saved as JPEG
quality 80, 4:2:0 (``benchmarks.ish_scale.downscale``). Per count: the reference nuclei
found (centre inside a counter nucleus), counted, shared (two reference centres in one
counter nucleus: a merge), and the reason each uncounted one was excluded
(:data:`her2kit.imaging.ish.selection.EXCLUSION_REASONS`, ``background`` = centre
outside every nucleus); then the whole field's counted nuclei and reasons.

Generated fields (``--generated``): the realistic brightfield generator
(``realistic_brightfield_options``) at its fitted nucleus density and at 1.25x (about
the most its rejection placement fits on 1024² px; nuclei may touch, never overlap),
rendered at 0.065 µm/px (1024² px) and the same field downscaled to 0.25 µm/px.
"Countable" = the truth's ``countable`` nuclei (whole, in focus) at least
``EDGE_MARGIN_UM`` from the frame (nearer, a technologist cannot tell a whole nucleus
from one the frame cuts, and the counter's outline, about half a grid cell wider than
the drawn one, touches the frame) with at least one CEP17 copy (the counter's
``no_cep17_signal`` rule); kept = those whose centre lies in a counted nucleus that
holds no other truth nucleus's centre.
"""

from __future__ import annotations

import argparse
import collections
import sys

import numpy as np

from benchmarks.ish_accuracy import REAL
from benchmarks.ish_reference import TUNING_FIELDS, read_reference
from benchmarks.ish_scale import _scaled_reference, count_scaled, downscale

#: (µm/px, JPEG quality) of each real-field count.
REAL_CASES = ((0.065, None), (0.25, None), (0.25, 80))
#: Generated nuclei nearer the frame than this (µm) are not "countable".
EDGE_MARGIN_UM = 1.0
#: Nucleus density multiples of the realistic preset's.
DENSITIES = (1.0, 1.25)


def _reasons(res, centres) -> tuple[dict, int, int]:
    """For ``centres`` (row, col px): the reason per centre (``counted``, ``merged``, an
    exclusion reason or ``background``) as a Counter, and the nuclei counted / whole."""
    by_id = {n.nucleus_id: n for n in res.nuclei}
    ids = [int(res.labels[r, c]) for r, c in centres]
    shared = collections.Counter(i for i in ids if i)
    out = collections.Counter()
    for i in ids:
        n = by_id.get(i)
        if n is None:
            out["background"] += 1
        elif shared[i] > 1:
            out["merged" if not n.included else "merged (counted as one)"] += 1
        else:
            out["counted" if n.included else n.exclusion_reason] += 1
    whole = sum(n.exclusion_reason != "touches_image_edge" for n in res.nuclei)
    return out, res.n_counted, whole


def _fmt(c: collections.Counter, first="counted") -> str:
    keys = [first, *sorted(k for k in c if k != first)]
    return ", ".join(f"{k} {c[k]}" for k in keys if c[k])


def real_rows(fields=TUNING_FIELDS) -> list[dict]:
    rows = []
    for name in fields:
        for px, q in REAL_CASES:
            res, _, shape = count_scaled(name, px, jpeg_quality=q)
            ref = _scaled_reference(read_reference(name), 0.065 / px, shape)
            per, counted, whole = _reasons(res, [(r.row, r.col) for r in ref])
            field = collections.Counter(n.exclusion_reason or "counted" for n in res.nuclei
                                        if n.exclusion_reason != "touches_image_edge")
            rows.append(dict(field=name, px=px, jpeg=q, n_ref=len(ref), reference=per,
                             counted=counted, whole=whole, field_reasons=field,
                             splits=res.parameters.get("nuclei_joined_splits"),
                             flags=res.image_flags))
    return rows


def _off_frame(labels, n, margin_px) -> np.ndarray:
    """Per truth nucleus 1..n (in id order): no pixel within ``margin_px`` of the frame."""
    m = int(np.ceil(margin_px))
    ring = np.ones(labels.shape, bool)
    ring[m:-m, m:-m] = False
    near = np.zeros(n + 1, bool)
    near[np.unique(labels[ring])] = True
    return ~near[1:]


def generated_rows(seeds=(1, 2), densities=DENSITIES, scenario="group5") -> list[dict]:
    from her2kit.imaging.ish import count_brightfield_ish
    from her2kit.synthetic.ish import (
        REALISTIC_BRIGHTFIELD_NUCLEI_PER_UM2,
        realistic_brightfield_options,
        render_brightfield_ish_field,
    )

    rows = []
    side = 1024
    for d in densities:
        n = round(d * REALISTIC_BRIGHTFIELD_NUCLEI_PER_UM2 * (side * 0.065) ** 2)
        for seed in seeds:
            field = render_brightfield_ish_field(realistic_brightfield_options(
                shape_px=(side, side), pixel_size_um=0.065, scenario=scenario, seed=seed,
                n_nuclei=n))
            t = field.nuclei
            ok = np.asarray(field.countable, bool) & (t["cep17"] > 0) & _off_frame(
                field.labels, len(t), EDGE_MARGIN_UM / 0.065)
            for px in (0.065, 0.25):
                f = 0.065 / px
                img = downscale(field.image, f)
                res = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=px)
                centres = [(min(round(r * f), img.shape[0] - 1),
                            min(round(c * f), img.shape[1] - 1))
                           for r, c in zip(t["row"], t["col"], strict=True)]
                _per, counted, whole = _reasons(res, centres)
                mine = _reasons(res, [c for c, k in zip(centres, ok, strict=True) if k])[0]
                rows.append(dict(density=d, seed=seed, px=px, n_truth=len(t),
                                 countable=int(ok.sum()), kept=mine["counted"],
                                 countable_reasons=mine, counted=counted, whole=whole,
                                 splits=res.parameters.get("nuclei_joined_splits")))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ish_nuclei_kept",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generated", action="store_true", help="add the generated fields")
    args = ap.parse_args(argv)
    if not (REAL / "her2_fish_dish_pcm").is_dir():
        print(f"real data folder absent: {REAL / 'her2_fish_dish_pcm'}", file=sys.stderr)
        return 2
    print("# Nuclei kept on the Dual ISH tuning fields (native pixel size ASSUMED)")
    print("| field | µm/px | JPEG | reference nuclei: why | field: counted / whole "
          "| field: why not counted | joined cut | flags |")
    print("|---|---:|---|---|---|---|---:|---|")
    for r in real_rows():
        print(f"| {r['field']} | {r['px']} | {r['jpeg'] or '-'} | {_fmt(r['reference'])} | "
              f"{r['counted']} / {r['whole']} | "
              f"{_fmt(r['field_reasons']).split(', ', 1)[-1]} | {r['splits']} | "
              f"{', '.join(r['flags']) or '-'} |", flush=True)
    if args.generated:
        print("\n# Generated crowded fields (realistic preset, group5)")
        print("| density | seed | µm/px | truth nuclei | countable | kept | countable: why "
              "| counted / whole | joined cut |")
        print("|---:|---:|---:|---:|---:|---:|---|---|---:|")
        for r in generated_rows():
            print(f"| {r['density']}x | {r['seed']} | {r['px']} | {r['n_truth']} | "
                  f"{r['countable']} | {r['kept']} ({r['kept'] / r['countable']:.0%}) | "
                  f"{_fmt(r['countable_reasons'])} | {r['counted']} / {r['whole']} | "
                  f"{r['splits']} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""IHC pipeline speed on one core, beside scikit-image and HistomicsTK on the same tiles.

Run from the repository root::

    python -m benchmarks.ihc_speed                 # 8 real + 8 synthetic 1024² tiles
    python -m benchmarks.ihc_speed --htk-python /tmp/venv-htk/bin/python

Tiles (all 1024 × 1024 RGB at 0.5 µm/px):

- real: the 4 most tissue-rich non-overlapping 2048² regions of each of two GEA TMA
  cores (a 2+ and the 3+; ``../shared/data/real/her2_ihc_gea_tma_bozeklab``, assumed
  0.25 µm/px, see its SOURCE.md), reduced 2× by block mean; each core decoded once;
- synthetic: 8 regions from :func:`her2kit.synthetic.ihc.generate_ihc_region`
  (scores 0 to 3+, JPEG 85).

One core: the process pins itself to one CPU (``os.sched_setaffinity``) and sets
``OMP/OPENBLAS/MKL_NUM_THREADS=1`` before numpy is imported; the HistomicsTK subprocess
inherits both. Each step is timed per tile (best of ``--repeat``, default 3) and reported
as total megapixels over total seconds.

HistomicsTK (the peer, in its own venv because its install pulls GDAL; see
``benchmarks/README.md``) runs in a subprocess on the same tiles, saved to a temporary
folder as ``.npy``: ``color_deconvolution`` with the hematoxylin / DAB / null stain
matrix, then a foreground mask and ``detect_nuclei_kofahi`` with the defaults of its
NucleiDetection CLI at 20x (radius 6–20 px, search radius 10, area ≥ 80 px). The mask
is hematoxylin stain intensity below its Otsu threshold rather than the CLI's fixed 60,
which on these (unnormalised) tiles keeps only the darkest nuclei and would make the
peer look faster by finding few. When its python is not found or HistomicsTK does not
import, the table says "not installed" instead of a ratio.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "real"
GEA_CORES = tuple(
    REAL / "her2_ihc_gea_tma_bozeklab" / name
    for name in (
        "2_0123a214-85b7-4804-86db-474b05a4ae57.jpg",
        "3_a1f1510c-b91e-4995-ba59-596ca7ebb019.jpg",
    )
)
TILE = 1024
PIXEL_SIZE_UM = 0.5
DEFAULT_HTK_PYTHON = os.environ.get("HER2KIT_HTK_PYTHON", "/tmp/venv-htk/bin/python")

# Runs inside the HistomicsTK venv: times color_deconvolution and detect_nuclei_kofahi on
# every tile in a folder and prints one JSON line.
HTK_SCRIPT = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from histomicstk.preprocessing.color_deconvolution import color_deconvolution, stain_color_map
from histomicstk.segmentation.nuclear import detect_nuclei_kofahi
from skimage.filters import threshold_otsu
repeat = int(sys.argv[2])
otsu = sys.argv[3] == "otsu"
w = np.array([stain_color_map["hematoxylin"], stain_color_map["dab"], stain_color_map["null"]]).T
out = {"deconv_s": [], "nuclei_s": [], "n_nuclei": [], "px": []}
for f in sorted(Path(sys.argv[1]).glob("*.npy")):
    im = np.load(f)
    best_d = best_n = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        stains = color_deconvolution(im, w).Stains
        t1 = time.perf_counter()
        hem = stains[:, :, 0].astype(float)
        fg = hem < (threshold_otsu(hem) if otsu else 60)
        labels = detect_nuclei_kofahi(hem, fg, 6, 20, 80, 10)
        t2 = time.perf_counter()
        best_d, best_n = min(best_d, t1 - t0), min(best_n, t2 - t1)
    out["deconv_s"].append(best_d)
    out["nuclei_s"].append(best_n)
    out["n_nuclei"].append(int(labels.max()))
    out["px"].append(int(im.shape[0] * im.shape[1]))
print(json.dumps(out))
"""


def real_tiles(n: int) -> list[np.ndarray]:
    """The most tissue-rich 2048² regions of two GEA cores, reduced 2× to 1024²."""
    from her2kit.io.images import read_image

    tiles: list[np.ndarray] = []
    per_core = -(-n // len(GEA_CORES))
    for core in GEA_CORES:
        if not core.is_file():
            print(f"real tiles: core absent ({core.resolve()})")
            continue
        img = read_image(core).image  # decoded once
        big = 2 * TILE
        cands = []
        for r0 in range(0, img.shape[0] - big + 1, big // 2):
            for c0 in range(0, img.shape[1] - big + 1, big // 2):
                sub = img[r0 : r0 + big : 16, c0 : c0 + big : 16]
                cands.append((float(np.mean(sub.mean(axis=2) < 200)), r0, c0))
        cands.sort(reverse=True)
        used: list[tuple[int, int]] = []
        for _, r0, c0 in cands:
            if any(abs(r0 - r) < big and abs(c0 - c) < big for r, c in used):
                continue  # non-overlapping regions only
            used.append((r0, c0))
            region = img[r0 : r0 + big, c0 : c0 + big].astype(np.float32)
            small = region.reshape(TILE, 2, TILE, 2, 3).mean(axis=(1, 3))
            tiles.append(np.clip(np.rint(small), 0, 255).astype(np.uint8))
            if len(used) == per_core or len(tiles) == n:
                break
    return tiles


def synthetic_tiles(n: int) -> list[np.ndarray]:
    from her2kit.synthetic.ihc import SCORES, generate_ihc_region

    return [
        generate_ihc_region(
            shape_px=(TILE, TILE),
            pixel_size_um=PIXEL_SIZE_UM,
            target_score=SCORES[i % len(SCORES)],
            seed=500 + i,
            stain_jitter_deg=4,
            noise_sd=3,
            jpeg_quality=85,
        ).image
        for i in range(n)
    ]


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def time_her2kit(tiles: list[np.ndarray], repeat: int) -> dict[str, list[float]]:
    from dataclasses import replace

    from skimage.color import rgb2hed

    from her2kit.imaging.color.hdab import separate_stains
    from her2kit.imaging.filters import block_factor, block_mean
    from her2kit.imaging.ihc.score import DAB_EXCLUDE_OD, IhcOptions, score_ihc_image
    from her2kit.imaging.segment.nuclei import detect_nuclei

    f = block_factor(PIXEL_SIZE_UM, 1.0)
    from her2kit.io.calibration import read_calibration
    from her2kit.pipelines.calibrate import calibration_from_dict, options_from_calibration

    est = IhcOptions(estimate_stains=True)  # the measured pipeline estimates stain vectors
    # `score-ihc --calibration default` (breast): the real-tissue switches of issue 10, the
    # red-cell rule included; the same without that rule shows what the rule costs.
    cal = options_from_calibration(calibration_from_dict(read_calibration(None)), "breast")
    cal_no_rbc = replace(cal, erythrocyte_exclusion=False)
    out: dict[str, list[float]] = {
        k: [] for k in ("separate", "separate_fixed", "nuclei", "pipeline", "pipeline_cal",
                        "pipeline_cal_no_rbc", "rgb2hed", "cells")
    }
    for im in tiles:
        st = separate_stains(im)
        hem_g, dab_g = block_mean(st.hematoxylin_od, f), block_mean(st.dab_od, f)

        def nuclei(hem=st.hematoxylin_od, dab=st.dab_od):
            detect_nuclei(
                block_mean(hem, f),
                pixel_size_um=PIXEL_SIZE_UM * f,
                threshold_exclude=block_mean(dab, f) > DAB_EXCLUDE_OD,
            )

        del hem_g, dab_g
        out["separate"].append(_best(lambda im=im: separate_stains(im), repeat))
        out["separate_fixed"].append(
            _best(lambda im=im: separate_stains(im, estimate=False), repeat)
        )
        out["nuclei"].append(_best(nuclei, repeat))
        out["pipeline"].append(
            _best(
                lambda im=im: score_ihc_image(im, pixel_size_um=PIXEL_SIZE_UM, options=est),
                repeat,
            )
        )
        out["pipeline_cal"].append(
            _best(
                lambda im=im: score_ihc_image(im, pixel_size_um=PIXEL_SIZE_UM, options=cal),
                repeat,
            )
        )
        out["pipeline_cal_no_rbc"].append(
            _best(
                lambda im=im: score_ihc_image(im, pixel_size_um=PIXEL_SIZE_UM, options=cal_no_rbc),
                repeat,
            )
        )
        out["rgb2hed"].append(_best(lambda im=im: rgb2hed(im), repeat))
        out["cells"].append(
            score_ihc_image(im, pixel_size_um=PIXEL_SIZE_UM, options=est).n_cells_detected
        )
    return out


def time_htk(tiles: list[np.ndarray], python: str, repeat: int) -> tuple[dict | None, str]:
    if not Path(python).is_file():
        return None, f"HistomicsTK: not installed (no python at {python})"
    with tempfile.TemporaryDirectory() as tmp:
        for i, im in enumerate(tiles):
            np.save(Path(tmp) / f"tile{i:03d}.npy", im)
        proc = subprocess.run(
            [python, "-c", HTK_SCRIPT, tmp, str(repeat), "otsu"],
            capture_output=True,
            text=True,
            env=dict(os.environ),
            check=False,
        )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"HistomicsTK: not installed or failed ({last})"
    return json.loads(proc.stdout.strip().splitlines()[-1]), ""


def _mpx_s(px: int, seconds: list[float]) -> float:
    return px / sum(seconds) / 1e6 if seconds and sum(seconds) > 0 else float("nan")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=int, default=8, help="real tiles (default 8)")
    ap.add_argument("--synthetic", type=int, default=8, help="synthetic tiles (default 8)")
    ap.add_argument("--repeat", type=int, default=3, help="timings per tile; best is kept")
    ap.add_argument("--htk-python", default=DEFAULT_HTK_PYTHON, help="python of the HTK venv")
    args = ap.parse_args(argv)

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(
        f"her2kit IHC speed benchmark, {time.strftime('%Y-%m-%d')}, one core of {cpu}, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    sets = {"real": real_tiles(args.real), "synthetic": synthetic_tiles(args.synthetic)}
    sets = {k: v for k, v in sets.items() if v}
    sets["all"] = [t for v in list(sets.values()) for t in v]
    print(
        ", ".join(f"{k}: {len(v)} tiles" for k, v in sets.items())
        + f" of {TILE}² at {PIXEL_SIZE_UM} µm/px"
    )
    ours = {k: time_her2kit(v, args.repeat) for k, v in sets.items() if k != "all"}
    ours["all"] = {m: [x for k in ours for x in ours[k][m]] for m in next(iter(ours.values()))}
    htk, htk_note = time_htk(sets["all"], args.htk_python, args.repeat)
    n_real = len(sets.get("real", []))

    rows = [
        ("her2kit separate_stains (Macenko estimate + LUT)", "separate"),
        ("her2kit separate_stains (fixed vectors)", "separate_fixed"),
        ("scikit-image rgb2hed", "rgb2hed"),
        ("her2kit nucleus detection (1 µm grid)", "nuclei"),
        ("her2kit full per-cell pipeline (score_ihc_image)", "pipeline"),
        ("her2kit per-cell pipeline, --calibration default", "pipeline_cal"),
        ("her2kit per-cell pipeline, default calibration, no red-cell rule",
         "pipeline_cal_no_rbc"),
    ]
    names = list(sets)
    print(f"\n{'step (Mpx/s, one core)':<52} " + " ".join(f"{n:>10}" for n in names))
    for label, key in rows:
        vals = [_mpx_s(len(sets[n]) * TILE * TILE, ours[n][key]) for n in names]
        print(f"{label:<52} " + " ".join(f"{v:10.2f}" for v in vals))
    comb = {
        n: [a + b for a, b in zip(ours[n]["separate"], ours[n]["nuclei"], strict=True)]
        for n in names
    }
    vals = [_mpx_s(len(sets[n]) * TILE * TILE, comb[n]) for n in names]
    print(f"{'her2kit separation + nucleus detection':<52} " + " ".join(f"{v:10.2f}" for v in vals))
    if htk is None:
        print(htk_note)
    else:

        def part(key, n):
            sl = {"real": slice(0, n_real), "synthetic": slice(n_real, None), "all": slice(None)}[n]
            return htk[key][sl]

        for label, keys in (
            ("HistomicsTK color_deconvolution", ("deconv_s",)),
            ("HistomicsTK detect_nuclei_kofahi (+ mask)", ("nuclei_s",)),
            ("HistomicsTK deconvolution + nucleus detection", ("deconv_s", "nuclei_s")),
        ):
            vals = []
            for n in names:
                secs = [sum(x) for x in zip(*(part(k, n) for k in keys), strict=True)]
                vals.append(_mpx_s(len(sets[n]) * TILE * TILE, secs))
            print(f"{label:<52} " + " ".join(f"{v:10.2f}" for v in vals))
        print("\nratios (her2kit / HistomicsTK, same tiles, all):")
        htk_dn = [a + b for a, b in zip(htk["deconv_s"], htk["nuclei_s"], strict=True)]
        for label, ours_s, theirs_s in (
            ("deconvolution", ours["all"]["separate"], htk["deconv_s"]),
            ("separation + nucleus detection", comb["all"], htk_dn),
            ("full per-cell pipeline vs HTK deconv + nuclei", ours["all"]["pipeline"], htk_dn),
        ):
            print(f"  {label:<48} {sum(theirs_s) / sum(ours_s):6.1f}×")
        print(
            f"nuclei per tile: her2kit median {np.median(ours['all']['cells']):.0f}, "
            f"HistomicsTK median {np.median(htk['n_nuclei']):.0f}"
        )
    print(f"(python {sys.executable})")


if __name__ == "__main__":
    main()

"""ISH counting speed beside big-fish, single core, on the same generated 2048² FISH fields.

Run from the repository root::

    python -m benchmarks.ish_speed              # 3 fields
    python -m benchmarks.ish_speed --fields 5

What is timed, per field (3 channels: DAPI, HER2, CEP17; SNR 10, ASCO/CAP group 4, no
clusters, so every true signal is a single one):

- her2kit: :func:`her2kit.imaging.ish.count_fish` end to end = nucleus segmentation,
  spot detection on both probes (LoG, automatic threshold), cluster decomposition and
  per-nucleus assignment and selection. Segmentation is included although big-fish's
  side has none, so the comparison is conservative for her2kit.
- big-fish 0.6.2: ``bigfish.detection.detect_spots`` (automatic elbow threshold) plus
  ``bigfish.detection.decompose_dense`` on both probe channels, run by a separate
  interpreter (``--bigfish-python``, default /tmp/venv-bigfish/bin/python) on the same
  saved fields; the time is measured inside that process, so interpreter start-up and
  imports are excluded. No nucleus assignment is timed for big-fish.

Both run single-threaded (OMP/OPENBLAS/MKL_NUM_THREADS=1). F1: detected spots vs the
true signal centres, one-to-one matching within 2 px (0.4 µm); for big-fish the
spots after ``decompose_dense`` (which also returns the single spots it keeps).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.ish_accuracy import MATCH_RADIUS_PX, _prf, _tp  # noqa: E402
from her2kit.imaging.ish import FishOptions, count_fish  # noqa: E402
from her2kit.io.fish import fish_from_stack  # noqa: E402
from her2kit.synthetic.ish import generate_fish_field  # noqa: E402

PX = 0.2
SPOT_SIGMA_UM = 0.25
SHAPE = (2048, 2048)
CH = {"dapi": 0, "her2": 1, "cep17": 2}

_BIGFISH_SCRIPT = r"""
import json, sys, time
import numpy as np
import bigfish.detection as det
out = []
for path in sys.argv[1:]:
    stack = np.load(path)
    rec = {}
    for name, ch in (("her2", 1), ("cep17", 2)):
        img = np.ascontiguousarray(stack[..., ch])
        t0 = time.perf_counter()
        spots = det.detect_spots(img, voxel_size=(200, 200), spot_radius=(250, 250))
        t1 = time.perf_counter()
        try:
            dense, _, _ = det.decompose_dense(img, spots, voxel_size=(200, 200),
                                              spot_radius=(250, 250))
        except Exception as exc:  # too few spots to fit a reference spot
            dense = spots
            rec[name + "_decompose_error"] = str(exc)
        t2 = time.perf_counter()
        rec[name] = np.asarray(dense)[:, :2].tolist()
        rec[name + "_detect_s"] = t1 - t0
        rec[name + "_decompose_s"] = t2 - t1
    out.append(rec)
print(json.dumps(out))
"""


def _fields(n: int, folder: Path):
    out = []
    for i in range(n):
        syn = generate_fish_field(shape_px=SHAPE, pixel_size_um=PX, n_nuclei=260,
                                  scenario="group4", seed=7000 + i, snr=10)
        path = folder / f"field{i}.npy"
        # big-fish wants integers: photon counts fit uint16.
        np.save(path, np.clip(np.rint(syn.image), 0, 65535).astype(np.uint16))
        out.append((path, syn))
    return out


def _truth(syn, probe):
    t = syn.signals[syn.signals["probe"] == probe]
    return np.column_stack([t["row"], t["col"]])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ish_speed", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fields", type=int, default=3)
    ap.add_argument("--bigfish-python", default=os.environ.get(
        "HER2KIT_BIGFISH_PYTHON", "/tmp/venv-bigfish/bin/python"))
    args = ap.parse_args(argv)
    print(f"# ISH speed, python {sys.version.split()[0]}, single thread, "
          f"{args.fields} fields {SHAPE[0]}x{SHAPE[1]} px x 3 channels at {PX} µm/px")
    with tempfile.TemporaryDirectory() as tmp:
        fields = _fields(args.fields, Path(tmp))
        ours_s, tp_o = [], np.zeros(3, int)
        for path, syn in fields:
            stack = np.load(path).astype(np.float32)
            fish = fish_from_stack(stack, channels=CH)
            t0 = time.perf_counter()
            res = count_fish(fish, pixel_size_um=PX,
                             options=FishOptions(spot_sigma_um=SPOT_SIGMA_UM))
            ours_s.append(time.perf_counter() - t0)
            for ps in (res.her2, res.cep17):
                tp_o += _tp(ps.detection.coords_px, _truth(syn, ps.probe), MATCH_RADIUS_PX)
        rows = [("her2kit count_fish (segment + detect + clusters + assign)",
                 float(np.mean(ours_s)), _prf(*tp_o), "-")]
        bf = None
        if not Path(args.bigfish_python).exists():
            print(f"big-fish not installed (no interpreter at {args.bigfish_python})")
        else:
            proc = subprocess.run(
                [args.bigfish_python, "-c", _BIGFISH_SCRIPT, *[str(p) for p, _ in fields]],
                capture_output=True, text=True, timeout=3600, env=dict(os.environ),
            )
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["?"])[-1]
                print(f"big-fish not installed or failed ({args.bigfish_python}): {last}")
            else:
                bf = json.loads(proc.stdout.strip().splitlines()[-1])
        if bf is not None:
            tp_b = np.zeros(3, int)
            times = []
            for rec, (_, syn) in zip(bf, fields, strict=True):
                times.append(sum(rec[f"{p}_detect_s"] + rec[f"{p}_decompose_s"]
                                 for p in ("her2", "cep17")))
                for p in ("her2", "cep17"):
                    pred = np.asarray(rec[p], float).reshape(-1, 2)
                    tp_b += _tp(pred, _truth(syn, p), MATCH_RADIUS_PX)
            det_s = np.mean([rec["her2_detect_s"] + rec["cep17_detect_s"] for rec in bf])
            errs = {rec.get("her2_decompose_error") or rec.get("cep17_decompose_error")
                    for rec in bf} - {None}
            rows.append(("big-fish 0.6.2 detect_spots + decompose_dense (2 channels)",
                         float(np.mean(times)), _prf(*tp_b), f"{det_s:.2f} s detect"))
            if errs:
                print(f"big-fish decompose_dense failed on some fields: {sorted(errs)}")
    print("| method | s/field | precision | recall | F1 | note |")
    print("|---|---:|---:|---:|---:|---|")
    for name, s, (p, r, f1), note in rows:
        print(f"| {name} | {s:.2f} | {p:.3f} | {r:.3f} | {f1:.3f} | {note} |")
    if len(rows) == 2:
        print(f"speed-up her2kit / big-fish: {rows[1][1] / rows[0][1]:.1f}x; "
              f"F1 difference {rows[0][2][2] - rows[1][2][2]:+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Time and peak memory of the hostile inputs of issue 13, items 17-19.

Run from the repository root::

    python -m benchmarks.robustness                 # every case, inputs in a temp folder
    python -m benchmarks.robustness --dir /tmp/rb   # keep (and reuse) the inputs
    python -m benchmarks.robustness --only roi

Each case is one fresh process under ``/usr/bin/time -v`` (wall time and "Maximum resident
set size"), so imports count in every row; the table says what each process did and how
it ended (exit code, first line of standard error).

Inputs (written once into ``--dir``):

- ``white-strips.tif``: 20000 x 20000 white RGB, zlib strips (1.2 GB decoded, ~1.2 MB);
  ``white-tiles.tif``: the same in 512 x 512 tiles; ``white.jpg``: 20000 x 20000 white
  JPEG; ``planar-21000.tif``: a 21000 x 21000 planar (separate) RGB TIFF (441 Mpx).
- ``roi-1m.geojson``: a 1,000,000-vertex ring (a jagged circle) over a 512 x 512 image;
  ``roi-100k.geojson``: the same with 100,000 vertices; ``circle-2000.geojson``: a
  2000-vertex circle over a 4000 x 4000 image.
- ``ihc-6000.png``: ``synth-ihc --size 6000 --score 2+ --seed 5`` (~37,000 cells), scored
  with and without ``--geojson``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
_ROI_CODE = """
import sys, time
from her2kit.errors import Her2kitInputError
from her2kit.io.roi import read_roi_mask
t = time.perf_counter()
try:
    m = read_roi_mask(sys.argv[1], (int(sys.argv[2]),) * 2)
except Her2kitInputError as exc:
    sys.exit(f"refused in {time.perf_counter() - t:.3f} s: {exc}")
print(f"{int(m.sum())} px in {time.perf_counter() - t:.3f} s")
"""


_GEOJSON_CODE = """
import sys, time
import numpy as np
from PIL import Image
from her2kit.imaging.ihc.score import score_ihc_image
from her2kit.io.export import cells_geojson_bytes
from her2kit.viz.colors import CLASS_COLORS
result = score_ihc_image(np.asarray(Image.open(sys.argv[1]).convert("RGB")), pixel_size_um=0.5)
wall, cpu = time.perf_counter(), time.process_time()
text = cells_geojson_bytes(result, class_colors=CLASS_COLORS)
print(f"{result.n_cells_detected} cells, {len(text) / 1e6:.1f} MB of GeoJSON in "
      f"{time.perf_counter() - wall:.2f} s wall, {time.process_time() - cpu:.2f} s CPU")
"""


def _white_tiff(path: Path, *, tiled: bool, side: int = 20000) -> None:
    import tifffile

    # A zero-stride view: each strip or tile is copied only while it is compressed.
    white = np.broadcast_to(np.uint8(255), (side, side, 3))
    layout = {"tile": (512, 512)} if tiled else {"rowsperstrip": 64}
    tifffile.imwrite(path, white, compression="zlib", photometric="rgb", **layout)


def _planar_tiff(path: Path, side: int = 21000) -> None:
    import tifffile

    tifffile.imwrite(path, np.broadcast_to(np.uint8(200), (3, side, side)), rowsperstrip=64,
                     compression="zlib", photometric="rgb", planarconfig="separate")


def _white_jpeg(path: Path, side: int = 20000) -> None:
    from PIL import Image

    Image.new("RGB", (side, side), (255, 255, 255)).save(path, quality=90)


def _ring(n: int, centre: float, radius: float, jag: float) -> list[list[float]]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = radius + jag * np.where(np.arange(n) % 2 == 0, 1, -1)
    xy = np.round(np.c_[centre + r * np.cos(t), centre + r * np.sin(t)], 3).tolist()
    return [*xy, xy[0]]


def _polygon_file(path: Path, ring: list[list[float]]) -> None:
    path.write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}))


def make_inputs(d: Path, only: str | None) -> None:
    d.mkdir(parents=True, exist_ok=True)
    makers = {
        "white-strips.tif": ("blank", lambda p: _white_tiff(p, tiled=False)),
        "white-tiles.tif": ("blank", lambda p: _white_tiff(p, tiled=True)),
        "white.jpg": ("blank", _white_jpeg),
        "planar-21000.tif": ("blank", _planar_tiff),
        "roi-1m.geojson": ("roi", lambda p: _polygon_file(p, _ring(999_999, 256, 200, 0.7))),
        "roi-100k.geojson": ("roi", lambda p: _polygon_file(p, _ring(99_999, 256, 200, 0.7))),
        "circle-2000.geojson": ("roi", lambda p: _polygon_file(p, _ring(1999, 2000, 1900, 0))),
    }
    for name, (group, make) in makers.items():
        if (only in (None, group)) and not (d / name).exists():
            make(d / name)
    if only in (None, "geojson") and not (d / "ihc-6000.png").exists():
        _run([sys.executable, "-m", "her2kit", "synth-ihc", str(d / "ihc-6000.png"), "--size",
              "6000", "--score", "2+", "--seed", "5"])


def _run(cmd: list[str]) -> tuple[int, str, str]:
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True,
                          env=env, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def measure(label: str, cmd: list[str]) -> dict:
    rc, out, err = _run(cmd)
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", err)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    seconds = (int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60
               + float(wall.group(3))) if wall else float("nan")
    said = [ln for ln in err.splitlines() if ln and not ln.startswith(("\t", "Command "))]
    first = (out.strip().splitlines() or said or [""])[0][:90]
    return {"case": label, "rc": rc, "wall_s": seconds,
            "peak_rss_mb": int(rss.group(1)) / 1024 if rss else float("nan"), "said": first}


def cases(d: Path) -> list[tuple[str, str, list[str]]]:
    her2kit = [sys.executable, "-m", "her2kit"]
    roi = [sys.executable, "-c", _ROI_CODE]
    return [
        ("blank", "score-ihc white 20000² TIFF, zlib strips",
         [*her2kit, "score-ihc", str(d / "white-strips.tif"), "--mpp", "0.5", "--json"]),
        ("blank", "score-ihc white 20000² TIFF, 512² tiles",
         [*her2kit, "score-ihc", str(d / "white-tiles.tif"), "--mpp", "0.5", "--json"]),
        ("blank", "score-ihc white 20000² JPEG",
         [*her2kit, "score-ihc", str(d / "white.jpg"), "--mpp", "0.5", "--json"]),
        ("blank", "score-ihc planar 21000² TIFF",
         [*her2kit, "score-ihc", str(d / "planar-21000.tif"), "--mpp", "0.5", "--json"]),
        ("roi", "read_roi_mask 1,000,000 vertices, 512²",
         [*roi, str(d / "roi-1m.geojson"), "512"]),
        ("roi", "read_roi_mask 100,000 vertices, 512²",
         [*roi, str(d / "roi-100k.geojson"), "512"]),
        ("roi", "read_roi_mask 2000-vertex circle, 4000²",
         [*roi, str(d / "circle-2000.geojson"), "4000"]),
        ("geojson", "cells_geojson_bytes alone, 6000² (~37k cells)",
         [sys.executable, "-c", _GEOJSON_CODE, str(d / "ihc-6000.png")]),
        ("geojson", "score-ihc 6000² (~37k cells)",
         [*her2kit, "score-ihc", str(d / "ihc-6000.png"), "--mpp", "0.5", "--out",
          str(d / "out.json")]),
        ("geojson", "score-ihc 6000² (~37k cells) --geojson",
         [*her2kit, "score-ihc", str(d / "ihc-6000.png"), "--mpp", "0.5", "--out",
          str(d / "out.json"), "--geojson", str(d / "cells.geojson")]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="Folder for the inputs.")
    parser.add_argument("--only", choices=("blank", "roi", "geojson"), default=None)
    args = parser.parse_args(argv)
    d = args.dir or Path(tempfile.mkdtemp(prefix="her2kit-robust-"))
    make_inputs(d, args.only)
    print("| case | exit | wall s | peak RSS MB | first line said |\n|---|---:|---:|---:|---|")
    for group, label, cmd in cases(d):
        if args.only in (None, group):
            r = measure(label, cmd)
            print(f"| {r['case']} | {r['rc']} | {r['wall_s']:.2f} | {r['peak_rss_mb']:.0f} | "
                  f"{r['said']} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

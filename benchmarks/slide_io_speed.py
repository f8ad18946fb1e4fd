"""Slide input and output speed: generated slides written, real cores written, regions read.

Run: ``python -m benchmarks.slide_io_speed [--sizes 50000x50000,100000x50000] [--folder DIR]``.
Each size is written by :func:`her2kit.synthetic.slide.write_synthetic_slide` (layout
``3+in1+``, 0.25 µm/px, SVS) in a fresh subprocess, which reports wall and CPU time and its
peak resident memory; the first slide is then read back with ``read_at`` at 0.25, 0.5 and
1 µm/px (2048 px tiles in tissue) and its thumbnail; last, a real HER2 core (5468 x 5468 px)
is written as SVS. Files are removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WRITE = """
import json, os, resource, sys, time
from her2kit.synthetic.slide import write_synthetic_slide
w, h = (int(v) for v in sys.argv[1].split("x"))
t, c = time.perf_counter(), time.process_time()
s = write_synthetic_slide(sys.argv[2], size_wh=(w, h), pixel_size_um=0.25, layout="3+in1+",
                          seed=3)
print(json.dumps({"wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "file_mb": s.written.file_bytes / 1e6, "cells": s.n_cells,
                  "tissue": s.tissue_fraction, "load": os.getloadavg()[0]}))
"""


def _write(size: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _WRITE, size, str(path)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def _reads(path: Path) -> list[tuple[str, float]]:
    from her2kit.io.slides import open_slide

    rows = []
    with open_slide(path) as slide:
        w, h = slide.dimensions
        for mpp in (0.25, 0.5, 1.0):
            start, n = time.perf_counter(), 0
            for i in range(6):
                tile = slide.read_at(mpp, (w // 3 + i * 2048, h // 2), (2048, 2048))
                n += tile.shape[0] * tile.shape[1]
            rows.append((f"read_at {mpp} µm/px, 2048 px tiles (level "
                         f"{slide.level_for(mpp)})", n / (time.perf_counter() - start) / 1e6))
        start = time.perf_counter()
        slide.thumbnail(1024)
        rows.append(("thumbnail 1024 px, s", time.perf_counter() - start))
    return rows


def _core(folder: Path) -> float | None:
    core = (Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
            / "her2_ihc_gea_tma_bozeklab" / "3_a1f1510c-b91e-4995-ba59-596ca7ebb019.jpg")
    if not core.is_file():
        return None
    import numpy as np
    from PIL import Image

    from her2kit.io.slide_writer import write_slide

    with Image.open(core) as im:
        rgb = np.asarray(im.convert("RGB"))
    start = time.perf_counter()
    write_slide(folder / "core.svs", rgb, pixel_size_um=0.25, flavour="svs")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="50000x50000,100000x50000")
    parser.add_argument("--folder", default=None, help="Where to write (default: a temp dir).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        folder = Path(tmp)
        print(f"{'synthetic slide (3+in1+, 0.25 µm/px, svs)':<44} {'wall s':>7} {'CPU s':>6} "
              f"{'peak RSS MB':>11} {'file MB':>8} {'cells':>8} {'load':>5}")
        first = None
        for size in args.sizes.split(","):
            path = folder / f"s{size}.svs"
            r = _write(size, path)
            print(f"{size:<44} {r['wall_s']:>7.1f} {r['cpu_s']:>6.1f} {r['rss_mb']:>11.0f} "
                  f"{r['file_mb']:>8.0f} {r['cells']:>8} {r['load']:>5.1f}")
            if first is None:
                first = path
            else:
                path.unlink()
        for name, value in _reads(first):
            print(f"{name:<60} {value:>8.2f}" + (" Mpx/s" if "read_at" in name else ""))
        core_s = _core(folder)
        if core_s is not None:
            print(f"{'real core 5468 x 5468 px written as SVS, s':<60} {core_s:>8.2f}")


if __name__ == "__main__":
    main()

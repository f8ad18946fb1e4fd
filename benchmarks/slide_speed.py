"""Whole-slide speed and memory of ``her2kit score-slide``, end to end, beside HistomicsTK.

Run from the repository root::

    python -m benchmarks.slide_speed                       # 50k² and 70.7k² px slides
    python -m benchmarks.slide_speed --side 20000 --big-side 0   # a quick check

What it does, on generated slides (:func:`her2kit.synthetic.slide.write_synthetic_slide`,
layout ``3+in1+``, 0.25 µm/px, Aperio-style SVS; written once into ``--work`` and reused):

1. ``her2kit score-slide`` as a subprocess (the CLI, ``--json``) with ``--workers 1``,
   ``--workers 2``, and ``--scheduler`` to a ``LocalCluster`` of 2 single-threaded worker
   processes started here; wall time, tissue megapixels per second (tissue = the
   generator's tissue share × level-0 px), CPU seconds of the command and its workers
   (``getrusage``; a load-independent measure on a shared machine), and the peak resident
   memory of the whole process tree (the CLI, its workers and, for Dask, the cluster's
   workers; sampled every 0.1 s with psutil);
2. the bigger slide (twice the area) with 2 workers: the peak must not grow with the size;
3. where the time goes: 6 tissue tiles scored in this process under cProfile, split into
   read/decode (``Slide.read_at``), stain separation, nuclei and cells, membranes and the
   rest of the scorer; writing is the run's own part-writing and final-output time;
4. HistomicsTK over the same 6 tiles (its colour deconvolution and Kofahi nucleus
   detection, from its own venv as ``benchmarks/ihc_speed.py`` runs it), extrapolated to
   the slide's tissue tiles;
5. resume (on a ``--resume-side`` slide, 20k² px by default, to keep the run short): a
   2-worker run killed (SIGKILL to its process group) when half its parts are written,
   then ``--resume``: its cells table and JSON (timing aside) must equal an uninterrupted
   2-worker run's.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import platform
import pstats
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.ihc_speed import DEFAULT_HTK_PYTHON, time_htk

REPO = Path(__file__).resolve().parents[1]


def make_slide(work: Path, side: int) -> tuple[Path, float]:
    """The cached generated slide of ``side``² px and its tissue share (0–1)."""
    from her2kit.synthetic.slide import truth_path_for, write_synthetic_slide

    path = work / f"bench-{side}.svs"
    truth = truth_path_for(path)
    if not (path.is_file() and truth.is_file()):
        t0 = time.perf_counter()
        write_synthetic_slide(path, size_wh=(side, side), layout="3+in1+", seed=0)
        print(f"wrote {path.name} in {time.perf_counter() - t0:.0f} s", flush=True)
    meta = json.loads(truth.read_text())["her2kit_synthetic_slide"]
    return path, float(meta["tissue_fraction"])


def _tree_rss(pids: list[int]) -> int:
    import psutil

    total = 0
    seen = set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in procs:
            if p.pid in seen:
                continue
            seen.add(p.pid)
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
    return total


def run_cli(args: list[str], *, extra_pids=(), kill_at_parts: tuple[Path, int] | None = None
            ) -> dict:
    """Run ``her2kit score-slide ARGS --json``; wall s, peak tree RSS, the document."""
    import resource

    cmd = [sys.executable, "-m", "her2kit", "score-slide", *args, "--json"]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    peak, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss([proc.pid, *extra_pids]))
            if kill_at_parts is not None:
                folder, n = kill_at_parts
                if len(list((folder / "parts").glob("tile_*.parquet"))) >= n:
                    os.killpg(proc.pid, signal.SIGKILL)
                    return
            time.sleep(0.1)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    if kill_at_parts is not None:
        return {"wall_s": wall, "killed": proc.returncode == -signal.SIGKILL}
    if proc.returncode != 0:
        raise SystemExit(f"score-slide failed ({proc.returncode}): {err.strip()[-500:]}")
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the command and its (joined) worker processes; not a Dask cluster's.
    cpu = ru.ru_utime + ru.ru_stime - ru0.ru_utime - ru0.ru_stime
    return {"wall_s": wall, "peak_rss_bytes": peak[0], "cpu_s": cpu, "doc": json.loads(out)}


def stage_shares(slide: Path, n_tiles: int = 6) -> tuple[dict[str, float], list[np.ndarray],
                                                         int]:
    """Seconds per stage over ``n_tiles`` tissue tiles (cProfile, this process), the tiles'
    pixels (for HistomicsTK) and the slide's tissue tile count."""
    from her2kit.io.slides import open_slide
    from her2kit.pipelines.slide import plan_slide, score_slide_tile

    plan = plan_slide(slide)
    tiles = plan.grid.tiles[:: max(1, len(plan.grid.tiles) // n_tiles)][:n_tiles]
    kw = {"assume_mpp_um": None, "pixel_size_um": plan.grid.pixel_size_um,
          "options": plan.slide_options.options}
    score_slide_tile(str(slide), tiles[0], **kw)  # warm: imports, the open slide
    prof = cProfile.Profile()
    prof.enable()
    for t in tiles:
        score_slide_tile(str(slide), t, **kw)
    prof.disable()
    cum = {}
    for (file, _, name), row in pstats.Stats(prof).stats.items():
        cum[(Path(file).name, name)] = row[3]

    def get(file: str, name: str) -> float:
        return cum.get((file, name), 0.0)

    total = get("slide.py", "score_slide_tile")
    read = get("slides.py", "read_at")
    stains = get("hdab.py", "separate_stains")
    nuclei = get("score.py", "_segment_cells")
    membranes = get("score.py", "_measure") + get("membrane.py", "classify_membranes")
    shares = {"read/decode": read, "stain separation": stains, "nuclei and cells": nuclei,
              "membranes": membranes,
              "rest of scorer": total - read - stains - nuclei - membranes}
    ratio = plan.grid.pixel_size_um / plan.level0_um
    with open_slide(slide) as s:
        pixels = [s.read_at(plan.grid.pixel_size_um, (t.read_xy[0] * ratio, t.read_xy[1] * ratio),
                            t.read_wh) for t in tiles]
    return shares, pixels, len(plan.grid.tiles)


def _row(name: str, r: dict, tissue_px: float) -> str:
    mpx_s = tissue_px / 1e6 / r["wall_s"]
    cpu = "-" if "dask" in name.lower() or "cluster" in name.lower() else f"{r['cpu_s']:.0f}"
    return (f"| {name} | {r['wall_s']:.1f} | {mpx_s:.1f} | {cpu} | "
            f"{r['peak_rss_bytes'] / 2**30:.2f} | {r['doc']['evidence']['cells_detected']} | "
            f"{r['doc']['ihc']['score']} |")


def _identical(a: Path, b: Path) -> bool:
    da, db = (json.loads((p / "slide.json").read_text()) for p in (a, b))
    same_doc = {k: v for k, v in da.items() if k != "timing"} == {
        k: v for k, v in db.items() if k != "timing"}
    return same_doc and (a / "cells.parquet").read_bytes() == (b / "cells.parquet").read_bytes()


def _runs(slide: Path, tmp: Path, tissue_px: float) -> tuple[dict, list[str]]:
    from distributed import LocalCluster

    res, lines = {}, []
    for w in (1, 2):
        res[f"w{w}"] = run_cli([str(slide), "--out", str(tmp / f"w{w}"), "--workers", str(w)])
        lines.append(_row(f"{w} local worker(s)", res[f"w{w}"], tissue_px))
        print(lines[-1], flush=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        pids = [w.process.pid for w in cluster.workers.values()]
        res["dask"] = run_cli([str(slide), "--out", str(tmp / "dask"), "--scheduler",
                               cluster.scheduler_address], extra_pids=pids)
    lines.append(_row("LocalCluster (2 workers) via --scheduler", res["dask"], tissue_px))
    print(lines[-1], flush=True)
    return res, lines


def _resume_check(slide: Path, tmp: Path, n_tiles: int, ref: Path) -> str:
    out = tmp / "killed"
    run_cli([str(slide), "--out", str(out), "--workers", "2"],
            kill_at_parts=(out, n_tiles // 2))
    done = len(list((out / "parts").glob("tile_*.parquet")))
    again = run_cli([str(slide), "--out", str(out), "--workers", "2", "--resume"])
    same = _identical(out, ref)
    return (f"killed at {done}/{n_tiles} parts, resumed in {again['wall_s']:.1f} s "
            f"({again['doc']['timing']['tiles_scored_now']} tiles redone): "
            f"{'identical' if same else 'DIFFERENT'} cells table and JSON (timing aside)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side", type=int, default=50000, help="slide side, px (0.25 µm/px)")
    ap.add_argument("--big-side", type=int, default=70711, help="twice the area; 0 skips it")
    ap.add_argument("--resume-side", type=int, default=20000,
                    help="side of the slide killed at half and resumed, px")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "her2kit-slide-bench"))
    ap.add_argument("--htk-python", default=DEFAULT_HTK_PYTHON)
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.node()}; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}; "
          f"python {platform.python_version()}", flush=True)
    slide, frac = make_slide(work, args.side)
    tissue_px = frac * args.side**2
    print(f"slide {args.side}² px, tissue {tissue_px / 1e6:.0f} Mpx ({100 * frac:.0f} %)")
    shares, pixels, n_tiles = stage_shares(slide)
    with tempfile.TemporaryDirectory(dir=work) as t:
        tmp = Path(t)
        print("| run | wall s | tissue Mpx/s | CPU s | peak RSS GiB (tree) | cells | IHC |")
        print("|---|---|---|---|---|---|---|")
        res, _ = _runs(slide, tmp, tissue_px)
        if args.big_side:
            big, bfrac = make_slide(work, args.big_side)
            rb = run_cli([str(big), "--out", str(tmp / "big"), "--workers", "2"])
            print(_row(f"{args.big_side}² px, 2 local workers", rb, bfrac * args.big_side**2))
        small, _ = make_slide(work, args.resume_side)
        ref = run_cli([str(small), "--out", str(tmp / "resume-ref"), "--workers", "2"])
        resume = _resume_check(small, tmp, ref["doc"]["tiles"]["tissue_tiles"],
                               tmp / "resume-ref")
    _report(res, shares, pixels, n_tiles, tissue_px, resume, args.htk_python)


def _report(res, shares, pixels, n_tiles, tissue_px, resume, htk_python) -> None:
    t2 = res["w2"]
    cpu_mpx_s = tissue_px / 1e6 / res["w1"]["cpu_s"]
    print(f"speed-up 1 → 2 workers: {res['w1']['wall_s'] / t2['wall_s']:.2f}x; "
          f"2 Gpx of tissue at this rate: {2000 / (tissue_px / 1e6 / t2['wall_s']):.0f} s; "
          f"per CPU-second (1 worker): {cpu_mpx_s:.1f} tissue Mpx, so 2 Gpx on 2 idle "
          f"cores would take {2000 / cpu_mpx_s / 2:.0f} s")
    total = sum(shares.values())
    tm = t2["doc"]["timing"]
    print("time per tile (cProfile, 6 tiles): " + ", ".join(
        f"{k} {100 * v / total:.0f} %" for k, v in shares.items()))
    print(f"writing (2 workers): parts {tm['write_parts_s']:.1f} s, merge and final outputs "
          f"{tm['merge_s']:.1f} s of {tm['wall_s']:.1f} s")
    ours_px_s = sum(p.shape[0] * p.shape[1] for p in pixels) / total
    htk, note = time_htk(pixels, htk_python, 1)
    if htk is None:
        print(note)
    else:
        s = sum(htk["deconv_s"]) + sum(htk["nuclei_s"])
        px = sum(htk["px"])
        print(f"HistomicsTK deconvolution + nuclei on the same {len(pixels)} tiles: "
              f"{px / s / 1e6:.2f} Mpx/s one core (her2kit's whole per-tile path "
              f"{ours_px_s / 1e6:.2f} Mpx/s, {ours_px_s * s / px:.1f}x); its {n_tiles} tiles "
              f"would take {n_tiles * s / len(pixels):.0f} s on one core")
    print(f"resume: {resume}")


if __name__ == "__main__":
    main()

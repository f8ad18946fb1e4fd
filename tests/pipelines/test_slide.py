"""The score-slide job: outputs, tiling invariance on a slide, resume, the Dask paths,
and the refusals."""

from __future__ import annotations

import errno
import gzip
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.spatial import cKDTree

from her2kit.errors import Her2kitInputError, ImageInputError, OutputError
from her2kit.pipelines.score_slide import score_slide

CORE_UM = 250.0  # → 240 µm (12 × 20 µm): 4 × 4 tiles over the 3800² px slide (950 µm)
VENV_BIN = Path(sys.executable).parent


def _table(path: Path) -> dict[str, np.ndarray]:
    t = pq.read_table(path)
    return {n: np.asarray(t.column(n).to_pylist()) for n in t.column_names}


def _without_timing(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "timing"}


@pytest.fixture(scope="module")
def slide(synthetic_ihc_slide):
    return synthetic_ihc_slide(("2+",))


@pytest.fixture(scope="module")
def reference(slide, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    job = score_slide(slide, out=out, workers=0, core_um=CORE_UM)
    return job, _table(out / "cells.parquet")


def test_outputs_and_document(reference):
    job, cells = reference
    doc, out = job.document, job.out_dir
    assert doc["kind"] == "score-slide"
    assert set(doc["case_input"]) == {"ihc"}
    assert doc["ihc"]["score"] == "2+"  # the generator's target score
    assert doc["tiles"]["tissue_tiles"] == 16 and doc["tiles"]["failed"] == 0
    assert doc["slide"]["analysis_pixel_size_um"] == 0.5
    assert doc["slide"]["analysis_level"] == 1  # read from the 0.5 µm level, not level 0
    assert doc["evidence"]["cells_detected"] == cells["x_px"].size > 1000
    assert doc["slide_parameters"]["sample_tiles"] >= 1
    assert doc["executor"]["kind"] == "inline"
    assert sorted(p.name for p in job.written) == sorted(
        ["slide.json", "cells.parquet", "cells.geojson.gz", "heatmap.png"])
    assert json.loads((out / "slide.json").read_text()) == doc
    assert (out / "heatmap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    gj = json.loads(gzip.decompress((out / "cells.geojson.gz").read_bytes()))
    assert len(gj["features"]) == cells["x_px"].size
    f = gj["features"][0]
    assert f["properties"]["objectType"] == "cell"
    assert f["geometry"]["type"] == "Polygon" and "nucleusGeometry" in f
    # no cell counted twice: no two centroids closer than 2 µm
    d, _ = cKDTree(np.c_[cells["x_um"], cells["y_um"]]).query(
        np.c_[cells["x_um"], cells["y_um"]], k=2)
    assert (d[:, 1] > 2.0).all()


def test_classify_and_report_take_the_slide_json(reference, tmp_path, capsys):
    from her2kit.cli import main

    job, _ = reference
    path = job.out_dir / "slide.json"
    main(["classify", str(path), "--json"])
    decided = json.loads(capsys.readouterr().out)
    assert decided["ihc"]["score"] == job.document["ihc"]["score"]
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"case_id": "S1", "image_analysis": [str(path)]}))
    main(["report", str(case), "--out", str(tmp_path / "r")])
    capsys.readouterr()
    report = (tmp_path / "r" / "S1-report.json").read_text()
    assert '"score-slide"' in report
    assert "heatmap.png" in (tmp_path / "r" / "S1-lab.html").read_text()


def test_two_tile_sizes_give_the_same_cells_and_score(slide, reference, tmp_path):
    job, cells = reference
    big = score_slide(slide, out=tmp_path / "big", workers=0, core_um=1000.0)
    assert big.document["tiles"]["tissue_tiles"] == 1
    other = _table(tmp_path / "big" / "cells.parquet")
    d, i = cKDTree(np.c_[cells["x_um"], cells["y_um"]]).query(
        np.c_[other["x_um"], other["y_um"]])
    ok = (d <= 1.0) & (cells["class_name"][i] == other["class_name"])
    assert ok.sum() / max(cells["x_px"].size, other["x_px"].size) >= 0.99
    assert big.document["ihc"]["score"] == job.document["ihc"]["score"]
    assert big.document["slide_parameters"] == job.document["slide_parameters"]


def test_resume_redoes_only_missing_tiles_and_ends_identical(slide, reference, tmp_path):
    job, _ = reference
    out = tmp_path / "run"
    score_slide(slide, out=out, workers=0, core_um=CORE_UM)
    parts = sorted((out / "parts").iterdir())
    for p in parts[::2]:
        p.unlink()
    for name in ("slide.json", "cells.parquet", "cells.geojson.gz", "heatmap.png"):
        (out / name).unlink()
    again = score_slide(slide, out=out, workers=0, core_um=CORE_UM, resume=True)
    assert again.document["timing"]["tiles_scored_now"] == len(parts[::2])
    assert _without_timing(again.document) == _without_timing(job.document) | {
        "image": str(slide)}
    for name in ("cells.parquet", "cells.geojson.gz", "heatmap.png"):
        assert (out / name).read_bytes() == (job.out_dir / name).read_bytes(), name


def test_another_run_in_the_folder_is_refused(slide, reference, tmp_path):
    job, _ = reference
    with pytest.raises(Her2kitInputError, match="already holds a score-slide run"):
        score_slide(slide, out=job.out_dir, workers=0, core_um=CORE_UM)
    with pytest.raises(Her2kitInputError, match="different 'grid'"):
        score_slide(slide, out=job.out_dir, workers=0, core_um=500.0, resume=True)


def test_local_worker_processes_give_the_same_cells(slide, reference, tmp_path):
    _, cells = reference
    job = score_slide(slide, out=tmp_path / "p", workers=2, core_um=CORE_UM)
    assert job.document["executor"] == {"kind": "processes", "workers": 2, "scheduler": None}
    other = _table(tmp_path / "p" / "cells.parquet")
    assert np.array_equal(other["x_px"], cells["x_px"])
    assert np.array_equal(other["class_name"], cells["class_name"])


def test_dask_local_cluster(slide, reference, tmp_path):
    from distributed import LocalCluster

    _, cells = reference
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        job = score_slide(slide, out=tmp_path / "d", scheduler=cluster.scheduler_address,
                          core_um=CORE_UM)
    assert job.document["executor"]["kind"] == "dask"
    other = _table(tmp_path / "d" / "cells.parquet")
    assert np.array_equal(other["x_px"], cells["x_px"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dask_scheduler_and_worker_as_separate_processes(slide, reference, tmp_path):
    _, cells = reference
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    sched = subprocess.Popen([str(VENV_BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                              "--port", str(port), "--dashboard-address", ":0"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([str(VENV_BIN / "dask"), "worker", address, "--nthreads", "1",
                               "--nworkers", "1", "--dashboard-address", ":0"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from distributed import Client

        with Client(address, timeout="60s") as c:
            c.wait_for_workers(1, timeout=60)
        job = score_slide(slide, out=tmp_path / "sep", scheduler=address, core_um=CORE_UM)
        assert job.document["executor"] == {"kind": "dask", "workers": 1, "scheduler": address}
        other = _table(tmp_path / "sep" / "cells.parquet")
        assert np.array_equal(other["x_px"], cells["x_px"])
    finally:
        for p in (worker, sched):
            p.terminate()
        for p in (worker, sched):
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _corrupt_tiles(src: Path, dst: Path, level: int, n: int) -> int:
    """Copy a tiled TIFF and overwrite the middle bytes of ``n`` tiles of a level with
    garbage; returns how many tiles the level has."""
    import tifffile

    data = bytearray(src.read_bytes())
    with tifffile.TiffFile(src) as tf:
        page = tf.pages[level]
        offsets, counts = page.dataoffsets, page.databytecounts
    mid = len(offsets) // 2
    for k in range(mid, mid + n):
        o, c = offsets[k], counts[k]
        data[o + c // 3:o + c // 3 + 64] = b"\xff\xd9" * 32  # premature end-of-image markers
    dst.write_bytes(bytes(data))
    return len(offsets)


def test_a_tile_that_does_not_decode_is_recorded_and_the_run_goes_on(slide, tmp_path,
                                                                       monkeypatch):
    import her2kit.pipelines.slide as slide_mod

    bad = tmp_path / "bad.tif"
    _corrupt_tiles(slide, bad, level=1, n=1)
    # one broken file tile spoils the 2 slide tiles that read it: 12.5 % of this small
    # slide's 16, above the 5 % default
    monkeypatch.setattr(slide_mod, "MAX_FAILED_TILE_PCT", 20.0)
    job = score_slide(bad, out=tmp_path / "o", workers=0, core_um=CORE_UM)
    t = job.document["tiles"]
    assert t["failed"] == 2 and t["skipped_pct"] == 12.5
    assert "decode" in t["failed_tiles"][0]["reason"]
    assert t["scored"] + t["empty"] + t["failed"] == t["tissue_tiles"]


def test_too_many_failed_tiles_fail_the_run(slide, tmp_path, monkeypatch):
    import her2kit.pipelines.slide as slide_mod

    bad = tmp_path / "bad.tif"
    _corrupt_tiles(slide, bad, level=1, n=1)
    monkeypatch.setattr(slide_mod, "MAX_FAILED_TILE_PCT", 1.0)
    with pytest.raises(ImageInputError, match=r"could not be decoded, above the 1 % limit"):
        score_slide(bad, out=tmp_path / "o", workers=0, core_um=CORE_UM)


def test_full_disk_leaves_whole_parts_and_resume_works(slide, reference, tmp_path, monkeypatch):
    import her2kit.io.atomic as atomic

    job, _ = reference
    real = atomic._write_temp
    calls = {"n": 0}

    def full(tmp, content):
        calls["n"] += 1
        if calls["n"] > 5:  # the manifest and four parts, then the disk is full
            with open(tmp, "wb") as fh:
                fh.write(content[: len(content) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(tmp, content)

    monkeypatch.setattr(atomic, "_write_temp", full)
    out = tmp_path / "run"
    with pytest.raises(OutputError, match="No space left on device"):
        score_slide(slide, out=out, workers=0, core_um=CORE_UM)
    monkeypatch.setattr(atomic, "_write_temp", real)
    names = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert names == ["manifest.json"] + [f"tile_{i:06d}.parquet" for i in sorted(
        int(n[5:11]) for n in names if n.startswith("tile_"))]
    assert len(names) == 5
    for p in (out / "parts").iterdir():
        pq.read_table(p)  # whole
    again = score_slide(slide, out=out, workers=0, core_um=CORE_UM, resume=True)
    assert again.document["timing"]["tiles_resumed"] == 4
    assert (out / "cells.parquet").read_bytes() == (job.out_dir / "cells.parquet").read_bytes()


@pytest.mark.parametrize(("roi", "message"), [
    ({"type": "Polygon", "coordinates": [[[1e6, 1e6], [1e6 + 10, 1e6], [1e6 + 10, 1e6 + 10],
                                           [1e6, 1e6]]]}, "ROI lies outside the slide"),
    ({"type": "FeatureCollection", "features": []}, "no polygon in the ROI file"),
])
def test_roi_outside_or_empty_is_refused(slide, tmp_path, roi, message):
    path = tmp_path / "roi.geojson"
    path.write_text(json.dumps(roi))
    with pytest.raises(Her2kitInputError, match=message):
        score_slide(slide, out=tmp_path / "o", roi=path, workers=0, core_um=CORE_UM)
    assert not (tmp_path / "o").exists()


def test_roi_counts_only_cells_inside(slide, reference, tmp_path):
    _, cells = reference
    # the left half of the tissue (level-0 px; tissue spans 400–3400)
    roi = {"type": "Polygon", "coordinates": [[[400, 400], [1900, 400], [1900, 3400],
                                               [400, 3400], [400, 400]]]}
    path = tmp_path / "roi.geojson"
    path.write_text(json.dumps(roi))
    job = score_slide(slide, out=tmp_path / "o", roi=path, workers=0, core_um=CORE_UM)
    inside = (cells["x_px"] >= 400) & (cells["x_px"] <= 1900)
    assert job.document["evidence"]["cells_counted"] == pytest.approx(inside.sum(), abs=3)
    assert job.document["evidence"]["roi_used"] is True


def test_truncated_slide_is_refused(slide, tmp_path):
    cut = tmp_path / "cut.tif"
    cut.write_bytes(slide.read_bytes()[: slide.stat().st_size // 3])
    with pytest.raises(ImageInputError):
        score_slide(cut, out=tmp_path / "o", workers=0)
    assert not (tmp_path / "o").exists()


def test_unreachable_scheduler(slide, tmp_path):
    from her2kit.errors import ServiceUnavailableError

    with pytest.raises(ServiceUnavailableError, match="cannot reach the Dask scheduler"):
        score_slide(slide, out=tmp_path / "o", scheduler=f"tcp://127.0.0.1:{_free_port()}",
                    core_um=CORE_UM)


def test_real_core_slide(ihc_core_slide, tmp_path):
    path = ihc_core_slide("3+", flavour="svs")
    t0 = time.perf_counter()
    job = score_slide(path, out=tmp_path / "o", workers=0)
    assert time.perf_counter() - t0 < 120
    assert job.document["ihc"]["score"] == "3+"  # LABELS.csv of the GEA cores
    assert job.document["slide"]["vendor"] == "aperio"


def test_heterogeneity_finds_the_3plus_island(tmp_path_factory):
    """A generated 3+ island in a 1+ background (known truth): the 1 mm regions that score
    3+ lie on the island, and the heatmap is darkest there."""
    from PIL import Image

    from her2kit.synthetic.slide import write_synthetic_slide

    folder = tmp_path_factory.mktemp("het")
    synth = write_synthetic_slide(folder / "het.svs", size_wh=(16000, 12000), layout="3+in1+",
                                  seed=0)
    job = score_slide(synth.path, out=folder / "o", workers=0)
    doc = job.document
    island = next(r for r in synth.regions if r.target_score == "3+")
    xy = np.array(island.polygon_xy) * 0.25 / 1000  # mm
    (x0, y0), (x1, y1) = xy.min(axis=0), xy.max(axis=0)
    het = doc["heterogeneity"]
    assert het["statement"].startswith("Heterogeneous")
    assert "3+" in het["differing_by_score"]
    for r in het["differing_regions"]:
        if r["score"] == "3+":  # a 1 mm block of the island: it overlaps the island's box
            assert x0 - 1 < r["x_mm"] < x1 and y0 - 1 < r["y_mm"] < y1, r
    assert doc["evidence"]["cells_detected"] == pytest.approx(synth.n_cells, rel=0.05)
    grid = doc["heatmap"]["score_grid"]
    block_mm = doc["heatmap"]["block_um"] / 1000
    cx, cy = (xy.mean(axis=0) / block_mm).astype(int)
    assert grid[cy][cx] == "3+"  # the island's centre
    assert grid[int(y1 / block_mm) + 1][cx] in ("1+", "0+", None)  # below it: background
    scores = {s for row in grid for s in row}
    assert {"3+", "1+"} <= scores
    heat = Image.open(folder / "o" / "heatmap.png")
    assert heat.width > heat.height  # the legend is to the right


def test_no_pixel_size_is_refused_and_an_assumed_one_is_recorded(tmp_path):
    import tifffile

    from her2kit.synthetic.ihc import generate_ihc_region

    r = generate_ihc_region(shape_px=(1200, 1200), pixel_size_um=0.25, target_score="3+",
                            seed=1).image
    img = np.full((1600, 1600, 3), 244, np.uint8)
    img[200:1400, 200:1400] = r
    path = tmp_path / "nompp.tif"
    with tifffile.TiffWriter(path) as tw:  # no resolution tags
        tw.write(img, tile=(256, 256), compression="jpeg", photometric="rgb")
        tw.write(img[::2, ::2].copy(), tile=(256, 256), compression="jpeg", photometric="rgb",
                 subfiletype=1)
    with pytest.raises(ImageInputError, match="give --assume-mpp"):
        score_slide(path, out=tmp_path / "o", workers=0)
    assert not (tmp_path / "o").exists()
    job = score_slide(path, out=tmp_path / "o", workers=0, assume_mpp_um=0.25)
    doc = job.document
    assert doc["pixel_size_source"] == "--assume-mpp" and doc["pixel_size_assumed"] is True
    assert doc["slide"]["pixel_size_assumed"] is True
    assert doc["assumptions"][0].startswith("pixel size ASSUMED: 0.25 µm/px")
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["assume_mpp_um"] == 0.25
    cells = _table(tmp_path / "o" / "cells.parquet")
    assert np.allclose(cells["x_um"], cells["x_px"] * 0.25)
    # a resumed run must assume the same pixel size
    with pytest.raises(Her2kitInputError, match="different"):
        score_slide(path, out=tmp_path / "o", workers=0, assume_mpp_um=0.26, resume=True)


def test_default_calibration_is_fixed_once_and_recorded(slide, tmp_path):
    job = score_slide(slide, out=tmp_path / "o", workers=0, core_um=CORE_UM,
                      calibration="default")
    doc = job.document
    assert doc["evidence"]["calibration"]["source"] == "default"
    sp = doc["slide_parameters"]
    assert sp["background_source"].startswith("thumbnail")  # white_point "auto", once
    assert sp["nucleus_threshold_source"].startswith("local-contrast") or \
        sp["nucleus_threshold_source"].endswith("on the sample")
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    opts = manifest["options"]
    assert (opts["white_point"], opts["estimate_stains"], opts["tile_invariant"]) == (
        "fixed", False, True)
    # the default calibration's breast row (0.02 since the refit with erythrocyte_exclusion)
    assert opts["thresholds"]["faint_od"] == 0.02
    # the red-cell rule is on in the default calibration: the slide totals what its
    # tiles left out (the generated slide has no red cells)
    assert opts["erythrocyte_exclusion"] is True
    assert doc["evidence"]["erythrocyte_cells_excluded"] == 0


def test_resumed_parts_without_a_red_cell_count_read_as_unknown(slide, tmp_path):
    from her2kit.io.slide_parts import read_part, write_part

    out = tmp_path / "o"
    score_slide(slide, out=out, workers=0, core_um=CORE_UM, calibration="default")
    first = sorted((out / "parts").iterdir())[0]
    index = int(first.stem.split("_")[1])
    cols, meta = read_part(out, index)
    meta.pop("erythrocytes_excluded")  # as a part written by an earlier version
    write_part(out, index, cols, metadata=meta)
    for name in ("slide.json", "cells.parquet", "cells.geojson.gz", "heatmap.png"):
        (out / name).unlink()
    again = score_slide(slide, out=out, workers=0, core_um=CORE_UM, calibration="default",
                        resume=True)
    assert again.document["evidence"]["erythrocyte_cells_excluded"] is None

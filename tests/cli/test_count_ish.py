"""`her2kit count-ish` and `synth-ish` through a real subprocess, against generated truth."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "her2kit", *args], capture_output=True,
                          text=True, timeout=180, cwd=REPO)


def truth_means(path: Path) -> tuple[float, float]:
    rows = [r for r in csv.DictReader(path.open()) if r["whole"] == "True"
            and r["in_focus"] == "True"]
    her2 = sum(int(r["her2"]) + int(r["her2_cluster_copies"]) for r in rows) / len(rows)
    return her2, sum(int(r["cep17"]) for r in rows) / len(rows)


@pytest.fixture(scope="module")
def fish(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fish")
    path = folder / "field.ome.tif"
    proc = run("synth-ish", str(path), "--scenario", "group4", "--seed", "3", "--size", "768")
    assert proc.returncode == 0, proc.stderr
    return path


def test_fish_ome_tiff_counts_match_truth_and_feed_classify(fish, tmp_path):
    proc = run("count-ish", str(fish), "--channels", "dapi=0,her2=1,cep17=2", "--json",
               "--overlay", str(tmp_path / "ov.png"), "--nuclei", str(tmp_path / "n.csv"),
               "--out", str(tmp_path / "ish.json"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    her2, cep17 = truth_means(fish.with_name("field-truth.csv"))
    assert doc["kind"] == "count-ish" and doc["pixel_size_source"] == "file"
    assert abs(doc["ish"]["her2_mean"] - her2) < 0.4
    assert abs(doc["ish"]["cep17_mean"] - cep17) < 0.4
    assert doc["ish"]["group"] == 4
    assert doc["case_input"]["ish"]["probe"] == "dual"
    rows = list(csv.DictReader((tmp_path / "n.csv").open()))
    assert {"her2", "cep17", "included", "exclusion_reason", "area_um2"} <= set(rows[0])
    assert sum(r["included"] == "True" for r in rows) == doc["ish"]["cells_counted"]
    # 768² px at 0.2 µm/px: the overlay is drawn at 2x (0.1 µm per display px)
    assert Image.open(tmp_path / "ov.png").size == (1536, 1536)
    assert doc["overlay_scale"] == 2
    proc = run("classify", "--json", str(tmp_path / "ish.json"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ish"]["group"] == 4


def test_rgb_composite_and_separate_files_give_the_same_counts(fish, tmp_path):
    stack = tifffile.imread(fish)  # (3, rows, cols): dapi, her2, cep17
    eight = [(c / max(1, c.max()) * 255).astype(np.uint8) for c in stack]
    Image.fromarray(np.dstack([eight[1], eight[2], eight[0]])).save(tmp_path / "rgb.png")
    a = run("count-ish", str(tmp_path / "rgb.png"), "--channels", "her2=R,cep17=G,dapi=B",
            "--mpp", "0.2", "--json")
    for name, plane in zip(("dapi", "her2", "cep17"), stack, strict=True):
        tifffile.imwrite(tmp_path / f"{name}.tif", plane)
    b = run("count-ish", "--dapi", str(tmp_path / "dapi.tif"), "--her2",
            str(tmp_path / "her2.tif"), "--cep17", str(tmp_path / "cep17.tif"), "--mpp", "0.2",
            "--json")
    assert a.returncode == 0, a.stderr
    assert b.returncode == 0, b.stderr
    da, db = json.loads(a.stdout)["ish"], json.loads(b.stdout)["ish"]
    assert da["group"] == db["group"] == 4
    assert abs(da["her2_mean"] - db["her2_mean"]) < 0.3


@pytest.mark.parametrize(("assay", "scenario", "group", "call"),
                         [("dual-ish", "group5", 5, "negative"), ("cish", "group1", None,
                                                                    "positive")])
def test_brightfield_assays(tmp_path, assay, scenario, group, call):
    path = tmp_path / "bf.png"
    assert run("synth-ish", str(path), "--assay", assay, "--scenario", scenario, "--seed",
               "2", "--size", "768").returncode == 0
    proc = run("count-ish", str(path), "--assay", assay, "--mpp", "0.2", "--json")
    assert proc.returncode == 0, proc.stderr
    ish = json.loads(proc.stdout)["ish"]
    assert (ish["group"], ish["call"]) == (group, call)
    assert ish["probe"] == ("dual" if assay == "dual-ish" else "single")


def test_too_few_nuclei_is_indeterminate_never_a_group(tmp_path):
    path = tmp_path / "few.ome.tif"
    assert run("synth-ish", str(path), "--scenario", "group1", "--nuclei", "8",
               "--size", "512").returncode == 0
    proc = run("count-ish", str(path), "--channels", "dapi=0,her2=1,cep17=2", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["ish"]["group"] is None and doc["ish"]["call"] == "indeterminate"
    assert doc["ish"]["cells_counted"] < 20
    assert doc["her2"]["status"] == "indeterminate"


@pytest.fixture
def bad_inputs(tmp_path, fish):
    rng = np.random.default_rng(1)
    bright = rng.integers(180, 255, (256, 256, 3), dtype=np.uint8)
    Image.fromarray(bright).save(tmp_path / "bright.png")
    dark = rng.integers(0, 30, (256, 256, 3), dtype=np.uint8)
    Image.fromarray(dark).save(tmp_path / "dark.png")
    tifffile.imwrite(tmp_path / "a.tif", rng.integers(0, 4000, (256, 256), dtype=np.uint16))
    tifffile.imwrite(tmp_path / "b.tif", rng.integers(0, 4000, (200, 256), dtype=np.uint16))
    tifffile.imwrite(tmp_path / "c.tif", rng.integers(0, 4000, (256, 256), dtype=np.uint16))
    (tmp_path / "broken.ome.tif").write_bytes(fish.read_bytes()[:500])
    # 12-bit camera stated in the OME metadata, 16-bit values in the data.
    tifffile.imwrite(tmp_path / "bits.ome.tif", np.full((3, 64, 64), 5000, np.uint16), ome=True,
                     metadata={"axes": "CYX", "SignificantBits": 12, "PhysicalSizeX": 0.2})
    # 110 Mpx per plane, declared but never written (a sparse file): refused unread.
    tifffile.imwrite(tmp_path / "huge.tif", shape=(3, 11000, 10000), dtype="uint8",
                     photometric="minisblack", metadata={"axes": "CYX"})
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("{fish}",), "never guesses"),
        (("{fish}", "--channels", "dapi=0,her2=1,her2=2"), "mapped twice"),
        (("{fish}", "--channels", "dapi=0,her2=1,cep=2"), "probe=channel"),
        (("{d}/bright.png", "--channels", "her2=R,cep17=G,dapi=B", "--mpp", "0.2"),
         "brightfield"),
        (("{d}/dark.png", "--assay", "dual-ish", "--mpp", "0.2"), "fluorescence"),
        (("--dapi", "{d}/a.tif", "--her2", "{d}/c.tif", "--cep17", "{d}/b.tif", "--mpp", "0.2"),
         "size"),
        (("{d}/broken.ome.tif", "--channels", "dapi=0,her2=1,cep17=2"), "cannot read"),
        (("{d}/huge.tif", "--channels", "dapi=0,her2=1,cep17=2", "--mpp", "0.2"),
         "more than the limit"),
        (("{d}/bits.ome.tif", "--channels", "dapi=0,her2=1,cep17=2"), "stated 12-bit depth"),
        (("{fish}", "--channels", "dapi=0,her2=1,cep17=2", "--bit-depth", "8"),
         "stated 8-bit depth"),
        (("{fish}", "--channels", "dapi=0,her2=1,cep17=2", "--bit-depth", "0"),
         "bit depth must be"),
        (("{d}/bright.png", "--assay", "cish", "--bit-depth", "8", "--mpp", "0.2"),
         "no channel or bit-depth"),
        (("{d}/bright.png", "--assay", "cish"), "give --mpp"),
        (("{fish}", "--assay", "sish"), "unknown assay"),
    ],
)
def test_bad_input_one_line_exit_2_and_no_outputs(bad_inputs, fish, args, message):
    out = bad_inputs / "out"
    argv = [a.format(fish=fish, d=bad_inputs) for a in args]
    proc = run("count-ish", *argv, "--nuclei", str(out / "n.csv"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert message in proc.stderr
    assert not out.exists()


def test_brightfield_probe_colours_are_an_option_never_a_guess(tmp_path):
    path = tmp_path / "bf.png"
    assert run("synth-ish", str(path), "--assay", "dual-ish", "--scenario", "group1",
               "--seed", "2", "--size", "768").returncode == 0
    ventana = json.loads(run("count-ish", str(path), "--assay", "dual-ish", "--mpp", "0.2",
                             "--json").stdout)
    swapped = json.loads(run("count-ish", str(path), "--assay", "dual-ish", "--mpp", "0.2",
                             "--stains", "her2=fast_red,cep17=silver", "--json").stdout)
    assert ventana["evidence"]["parameters"]["stains"]["her2"] == "silver"
    assert swapped["ish"]["her2_mean"] == pytest.approx(ventana["ish"]["cep17_mean"], abs=0.3)
    assert swapped["ish"]["cep17_mean"] == pytest.approx(ventana["ish"]["her2_mean"], abs=0.3)
    bad = run("count-ish", str(path), "--assay", "dual-ish", "--mpp", "0.2", "--stains",
              "her2=silver,cep17=silver")
    assert bad.returncode == 2 and "need different stains" in bad.stderr


def test_several_fields_are_counted_as_one_population(tmp_path):
    paths = []
    for seed in (11, 12):
        path = tmp_path / f"f{seed}.ome.tif"
        proc = run("synth-ish", str(path), "--scenario", "group4", "--seed", str(seed),
                   "--size", "576", "--nuclei", "16")
        assert proc.returncode == 0, proc.stderr
        paths.append(path)
    singles = [json.loads(run("count-ish", str(p), "--channels", "dapi=0,her2=1,cep17=2",
                              "--json").stdout) for p in paths]
    assert all(d["ish"]["call"] == "indeterminate" for d in singles)  # < 20 nuclei each
    proc = run("count-ish", *map(str, paths), "--channels", "dapi=0,her2=1,cep17=2", "--json",
               "--overlay", str(tmp_path / "ov.png"), "--nuclei", str(tmp_path / "n.csv"),
               "--out", str(tmp_path / "ish.json"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    counted = [d["evidence"]["nuclei_counted"] for d in singles]
    assert doc["ish"]["cells_counted"] == sum(counted) >= 20
    assert doc["case_input"]["ish"]["nuclei"] == [
        *singles[0]["case_input"]["ish"]["nuclei"], *singles[1]["case_input"]["ish"]["nuclei"]]
    assert doc["images"] == [str(p) for p in paths]
    assert [f["nuclei_counted"] for f in doc["evidence"]["fields"]] == counted
    assert doc["overlays"] == ["ov-field1.png", "ov-field2.png"]
    assert all((tmp_path / o).is_file() for o in doc["overlays"])
    assert not (tmp_path / "ov.png").exists()
    rows = list(csv.DictReader((tmp_path / "n.csv").open()))
    assert {r["field"] for r in rows} == {str(p) for p in paths}
    # The pooled block is classify's input.
    proc = run("classify", "--json", str(tmp_path / "ish.json"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ish"]["cells_counted"] == sum(counted)
    # One ROI cannot outline several fields; a field given twice is a mistake.
    roi = tmp_path / "roi.geojson"
    roi.write_text('{"type": "Polygon", "coordinates": [[[0,0],[9,0],[9,9],[0,0]]]}')
    for extra, message in (((str(paths[0]), "--roi", str(roi)), "--roi outlines one image"),
                           ((str(paths[0]),), "given twice")):
        bad = run("count-ish", str(paths[0]), *extra, "--channels", "dapi=0,her2=1,cep17=2")
        assert bad.returncode == 2 and message in bad.stderr, bad.stderr


def test_several_fields_show_a_progress_bar_on_a_terminal_only():
    import io

    from rich.console import Console

    from her2kit.cli.options import progress as _progress

    buf = io.StringIO()
    term = Console(file=buf, force_terminal=True, width=80)
    assert list(_progress(["a", "b", "c"], "counting fields", console=term)) == ["a", "b", "c"]
    assert "counting fields" in buf.getvalue()
    # Not a terminal (pipes, CI, these tests' subprocesses): nothing is drawn.
    assert list(_progress(["a", "b"], "counting fields")) == ["a", "b"]


def test_count_ish_jpeg_file_passes_its_header_on(tmp_path):
    # `count-ish FILE.jpg --mpp 0.25`: the file's JPEG quality and chroma subsampling
    # (read from its header, branch jpeg) decide the jpeg_degraded flag and are recorded.
    png = tmp_path / "bf.png"
    assert run("synth-ish", str(png), "--assay", "dual-ish", "--scenario", "group5", "--seed",
               "2", "--size", "384").returncode == 0
    jpg = tmp_path / "bf.jpg"
    Image.open(png).convert("RGB").save(jpg, format="JPEG", quality=80, subsampling=2)
    proc = run("count-ish", str(jpg), "--assay", "dual-ish", "--mpp", "0.25", "--json")
    assert proc.returncode == 0, proc.stderr
    ev = json.loads(proc.stdout)["evidence"]
    p = ev["parameters"]
    assert (p["jpeg_source"], p["jpeg_quality"], p["jpeg_subsampling"], p["jpeg_degraded"],
            p["jpeg_chroma_adapted"]) == ("file", 80, "4:2:0", True, True)
    assert "jpeg_degraded" in ev["quality_flags"]
    lossless = json.loads(run("count-ish", str(png), "--assay", "dual-ish", "--mpp", "0.25",
                              "--json").stdout)["evidence"]
    assert lossless["parameters"]["jpeg_source"] == "none"
    assert "jpeg_degraded" not in lossless["quality_flags"]

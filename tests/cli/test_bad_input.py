"""Hostile and careless input (issue 13), one table per command.

Every case runs the CLI in-process and asserts: the exit status, exactly one line on
standard error naming the field or path, nothing on standard output, and no new or
changed file under the input and output folders (listing and content hashes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from her2kit.cli import main

BAD = 2


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(argv)
        rc = 0
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return rc, out, err


def snapshot(*folders: Path) -> dict[str, str]:
    seen = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            for name in dirs + files:
                p = Path(root, name)
                if p.is_symlink() or not p.is_file():
                    seen[str(p)] = "dir" if p.is_dir() else "other"
                else:
                    seen[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return seen


def ome_stack(path: Path, names=("dapi", "her2", "cep17"), size_um=0.2, shape=(64, 64)):
    rng = np.random.default_rng(0)
    data = rng.integers(10, 4000, size=(len(names), *shape), dtype=np.uint16)
    tifffile.imwrite(path, data, ome=True, photometric="minisblack", metadata={
        "axes": "CYX", "Channel": {"Name": list(names)}, "PhysicalSizeX": size_um,
        "PhysicalSizeY": size_um})


def grey_tiff(path: Path, seed: int, size_um: float | None = 0.2):
    data = np.random.default_rng(seed).integers(10, 4000, size=(64, 64), dtype=np.uint16)
    meta = {"axes": "YX"} | ({"PhysicalSizeX": size_um, "PhysicalSizeY": size_um}
                             if size_um else {})
    tifffile.imwrite(path, data, ome=True, metadata=meta)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """One folder of small inputs, built once; cases must leave it unchanged."""
    d = tmp_path_factory.mktemp("inputs")
    rgb = np.full((64, 64, 3), 220, np.uint8)
    rgb[20:40, 20:40] = (150, 100, 60)
    Image.fromarray(rgb).save(d / "ihc.png")
    with contextlib.suppress(SystemExit):  # status 0
        main(["synth-ihc", str(d / "region.png"), "--size", "192", "--score", "2+", "--seed",
              "1"])
    assert (d / "region.png").is_file()
    ome_stack(d / "fish.ome.tif")
    (d / "sub").mkdir()
    os.symlink(d / "fish.ome.tif", d / "link.ome.tif")
    (d / "copy.ome.tif").write_bytes((d / "fish.ome.tif").read_bytes())
    grey_tiff(d / "dapi.ome.tif", 1)
    grey_tiff(d / "her2.ome.tif", 2)
    grey_tiff(d / "cep17.ome.tif", 3)
    grey_tiff(d / "cep17-03.ome.tif", 3, size_um=0.3)
    (d / "case.json").write_text('{"ihc": {"score": "2+"}}')
    (d / "case-report.json").write_text('{"ihc": {"score": "2+"}}')
    (d / "dup.json").write_text('{"ihc": {"score": "0"}, "ihc": {"score": "3+"}}')
    (d / "dup-inner.json").write_text('{"ihc": {"score": "0", "score": "3+"}}')
    (d / "newline-key.json").write_text('{"ihc": {"score": "2+"}, "a\\nb\\u001b": 1}')
    (d / "deep.json").write_text("[" * 10000 + "]" * 10000)
    (d / "deep-object.json").write_text('{"a":' * 5000 + "1" + "}" * 5000)
    (d / "huge-mean.json").write_text(
        '{"ish": {"probe": "dual", "her2_mean": 1e26, "cep17_mean": 1, "cells_counted": 20}}')
    (d / "inf-mean.json").write_text(
        '{"ish": {"probe": "dual", "her2_mean": 1e309, "cep17_mean": 1, "cells_counted": 20}}')
    (d / "tiny-cep17.json").write_text(
        '{"ish": {"probe": "dual", "her2_mean": 4, "cep17_mean": 1e-300, "cells_counted": 20}}')
    (d / "huge-nucleus.json").write_text(
        '{"ish": {"probe": "dual", "nuclei": [[100000000000000000000000000000, 1]]}}')
    (d / "roi.geojson").write_text(json.dumps({"type": "Polygon", "coordinates": [
        [[5, 5], [60, 5], [60, 60], [5, 60], [5, 5]]]}))
    (d / "roi-dup.geojson").write_text(
        '{"type": "Polygon", "type": "Point", "coordinates": [[[5, 5], [60, 5], [60, 60]]]}')
    (d / "big.json").write_bytes(b'{"ihc": {"score": "2+"}, "pad": "' + b" " * (33 << 20)
                                 + b'"}')
    os.mkfifo(d / "fifo.json")
    os.mkfifo(d / "fifo.png")
    (d / "folder.png").mkdir()
    Image.new("CMYK", (64, 64), (0, 50, 100, 0)).save(d / "cmyk.jpg")
    full = (d / "fish.ome.tif").read_bytes()
    (d / "truncated.ome.tif").write_bytes(full[: len(full) * 2 // 3])
    for name, geometry in {
        "roi-null": {"type": "MultiPolygon", "coordinates": None},
        "roi-number": {"type": "MultiPolygon", "coordinates": 5},
        "roi-too-deep": {"type": "MultiPolygon", "coordinates": [[[[[5, 5], [60, 5], [9, 9]]]]]},
        "roi-bool": {"type": "Polygon", "coordinates": [[[True, 5], [60, 5], [60, 60]]]},
        "roi-string": {"type": "Polygon", "coordinates": [[[5, "5"], [60, 5], [60, 60]]]},
        "roi-ring-number": {"type": "Polygon", "coordinates": [7]},
    }.items():
        (d / f"{name}.geojson").write_text(json.dumps(geometry))
    png16(d / "rgb16.png", np.full((64, 64, 3), 40000, np.uint16))
    composite = np.zeros((64, 64, 3), np.uint8)
    composite[..., 2] = np.random.default_rng(0).integers(0, 200, (64, 64))
    Image.fromarray(composite).save(d / "composite.png")
    (d / "roi-infinite.geojson").write_text(
        '{"type": "Polygon", "coordinates": [[[1e400, 5], [60, 5], [60, 60]]]}')
    return d


def png16(path: Path, rgb: np.ndarray) -> None:
    """A 16-bit RGB PNG (Pillow cannot write one)."""
    import struct
    import zlib

    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[r].astype(">u2").tobytes() for r in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)  # 16 bits, colour type 2: RGB
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def folder(path: Path) -> str:
    """Make `path` a folder (where an output file should go) and return it."""
    path.mkdir()
    return str(path)


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path


Argv = Callable[[Path, Path], list[str]]
FISH = ["--channels", "dapi=0,her2=1,cep17=2"]

CASES: list[tuple[str, Argv, str]] = [
    # (id, argv from (inputs, out), text the one stderr line must contain)
    # 1: one field under several names is counted once, or refused
    ("count-same-field-spelled-twice", lambda i, o: [
        "count-ish", str(i / "fish.ome.tif"), str(i / "sub" / ".." / "fish.ome.tif"), *FISH],
     "IMAGE"),
    ("count-same-field-via-symlink", lambda i, o: [
        "count-ish", str(i / "fish.ome.tif"), str(i / "link.ome.tif"), *FISH], "same file"),
    ("count-same-field-copied", lambda i, o: [
        "count-ish", str(i / "fish.ome.tif"), str(i / "copy.ome.tif"), *FISH], "same content"),
    # 3: --mpp against the file's own pixel size
    ("count-mpp-contradicts-file", lambda i, o: [
        "count-ish", str(i / "fish.ome.tif"), *FISH, "--mpp", "0.3"], "--mpp"),
    ("count-mpp-nan", lambda i, o: [
        "count-ish", str(i / "fish.ome.tif"), *FISH, "--mpp", "nan"], "--mpp"),
    ("score-mpp-nan", lambda i, o: ["score-ihc", str(i / "ihc.png"), "--mpp", "nan"], "--mpp"),
    ("count-channel-files-pixel-sizes-differ", lambda i, o: [
        "count-ish", "--dapi", str(i / "dapi.ome.tif"), "--her2", str(i / "her2.ome.tif"),
        "--cep17", str(i / "cep17-03.ome.tif")], "cep17"),
    # 4: duplicate keys
    ("classify-duplicate-key", lambda i, o: ["classify", str(i / "dup.json")], "duplicate key"),
    ("classify-duplicate-inner-key", lambda i, o: ["classify", str(i / "dup-inner.json")],
     "duplicate key 'score'"),
    ("report-duplicate-key", lambda i, o: ["report", str(i / "dup.json"), "--out", str(o)],
     "duplicate key"),
    ("score-roi-duplicate-key", lambda i, o: [
        "score-ihc", str(i / "ihc.png"), "--mpp", "0.5", "--roi", str(i / "roi-dup.geojson")],
     "duplicate key"),
    # 5: an output equal to an input or to another output
    ("score-overlay-is-the-image", lambda i, o: [
        "score-ihc", str(i / "ihc.png"), "--mpp", "0.5", "--overlay", str(i / "ihc.png")],
     "--overlay"),
    ("score-out-is-the-roi", lambda i, o: [
        "score-ihc", str(i / "ihc.png"), "--mpp", "0.5", "--roi", str(i / "roi.geojson"),
        "--geojson", str(i / "roi.geojson")], "--geojson"),
    ("score-geojson-and-out-one-file", lambda i, o: [
        "score-ihc", str(i / "ihc.png"), "--mpp", "0.5", "--geojson", str(o / "a.json"),
        "--out", str(o / "a.json")], "--out"),
    ("count-nuclei-over-channel-file", lambda i, o: [
        "count-ish", "--dapi", str(i / "dapi.ome.tif"), "--her2", str(i / "her2.ome.tif"),
        "--cep17", str(i / "cep17.ome.tif"), "--out", str(i / "sub" / ".." / "case.json"),
        "--roi", str(i / "case.json")], "--out"),
    ("classify-newline-in-a-key", lambda i, o: ["classify", str(i / "newline-key.json")],
     "a\\nb\\x1b: unknown key"),
    ("report-output-over-the-case", lambda i, o: [
        "report", str(i / "case-report.json"), "--format", "json", "--out", str(i)],
     "would overwrite the input CASE.json"),
    # 10, 11: deep nesting, huge numbers
    ("classify-deeply-nested-list", lambda i, o: ["classify", str(i / "deep.json")], "nested"),
    ("classify-deeply-nested-object", lambda i, o: ["classify", str(i / "deep-object.json")],
     "nested"),
    ("report-deeply-nested", lambda i, o: ["report", str(i / "deep.json"), "--out", str(o)],
     "nested"),
    ("score-roi-deeply-nested", lambda i, o: [
        "score-ihc", str(i / "ihc.png"), "--mpp", "0.5", "--roi", str(i / "deep.json")],
     "nested"),
    ("classify-huge-mean", lambda i, o: ["classify", str(i / "huge-mean.json")], "her2_mean"),
    ("classify-infinite-mean", lambda i, o: ["classify", str(i / "inf-mean.json")],
     "her2_mean"),
    ("classify-tiny-cep17-mean", lambda i, o: ["classify", str(i / "tiny-cep17.json")],
     "cep17_mean"),
    ("classify-huge-nucleus-count", lambda i, o: ["classify", str(i / "huge-nucleus.json")],
     "ish.nuclei"),
    ("classify-flag-infinite-mean", lambda i, o: [
        "classify", "--her2-mean", "inf", "--cep17-mean", "1", "--cells", "20"], "her2_mean"),
    ("classify-flag-huge-mean", lambda i, o: [
        "classify", "--her2-mean", "1e26", "--cep17-mean", "1", "--cells", "20"], "her2_mean"),
    # 16: only regular files, and not too large
    ("classify-dev-zero", lambda i, o: ["classify", "/dev/zero"], "not a regular file"),
    ("classify-fifo", lambda i, o: ["classify", str(i / "fifo.json")], "not a regular file"),
    ("classify-directory", lambda i, o: ["classify", str(i)], "directory"),
    ("classify-too-large", lambda i, o: ["classify", str(i / "big.json")], "limit"),
    ("report-dev-zero", lambda i, o: ["report", "/dev/zero", "--out", str(o)],
     "not a regular file"),
    ("score-roi-dev-zero", lambda i, o: [
        "score-ihc", str(i / "ihc.png"), "--mpp", "0.5", "--roi", "/dev/zero"],
     "not a regular file"),
    # 21: one file as several FISH channels
    ("count-same-file-two-channels", lambda i, o: [
        "count-ish", "--dapi", str(i / "dapi.ome.tif"), "--her2", str(i / "dapi.ome.tif"),
        "--cep17", str(i / "cep17.ome.tif")], "--her2"),
    ("count-same-file-three-channels", lambda i, o: [
        "count-ish", "--dapi", str(i / "dapi.ome.tif"), "--her2", str(i / "link.ome.tif"),
        "--cep17", str(i / "dapi.ome.tif")], "same file"),
    # 2: colour letters only for RGB composites; a map must agree with the channel names
    ("count-letters-on-a-stack", lambda i, o: [
        "count-ish", str(i / "fish.ome.tif"), "--channels", "dapi=B,her2=R,cep17=G"],
     "colour letters"),
    ("count-map-contradicts-channel-names", lambda i, o: [
        "count-ish", str(i / "fish.ome.tif"), "--channels", "dapi=0,her2=2,cep17=1"],
     "contradicts"),
    ("count-unknown-channel-name", lambda i, o: [
        "count-ish", str(i / "fish.ome.tif"), "--channels", "dapi=dapi,her2=her2,cep17=cy5"],
     "no channel named"),
    # 12: ROI GeoJSON validated before use
    *[(f"score-{n}", lambda i, o, n=n: [
        "score-ihc", str(i / "ihc.png"), "--mpp", "0.5", "--roi", str(i / f"{n}.geojson")],
       "features[0].geometry.coordinates")
      for n in ("roi-null", "roi-number", "roi-too-deep", "roi-bool", "roi-string",
                "roi-ring-number", "roi-infinite")],
    # 15: odd numbers in options
    ("count-superscript-channel", lambda i, o: [
        "count-ish", str(i / "fish.ome.tif"), "--channels", "dapi=0,her2=1,cep17=²"], "²"),
    ("synth-ish-negative-seed", lambda i, o: [
        "synth-ish", str(o / "f.ome.tif"), "--seed", "-1", "--size", "64"], "--seed"),
    ("synth-ihc-negative-seed", lambda i, o: [
        "synth-ihc", str(o / "r.png"), "--seed", "-1", "--size", "64"], "--seed"),
    ("synth-ish-huge-size", lambda i, o: [
        "synth-ish", str(o / "f.ome.tif"), "--size", "100000"], "--size"),
    # 22: the right cause named
    ("score-image-is-a-folder", lambda i, o: ["score-ihc", str(i), "--mpp", "0.5"],
     "is a directory"),
    ("score-image-is-a-fifo", lambda i, o: ["score-ihc", str(i / "fifo.png"), "--mpp", "0.5"],
     "not a regular file"),
    ("score-image-is-dev-zero", lambda i, o: ["score-ihc", "/dev/zero", "--mpp", "0.5"],
     "not a regular file"),
    ("count-image-is-a-folder", lambda i, o: ["count-ish", str(i), *FISH], "is a directory"),
    ("score-cmyk-jpeg", lambda i, o: ["score-ihc", str(i / "cmyk.jpg"), "--mpp", "0.5"],
     "CMYK"),
    ("count-cmyk-jpeg", lambda i, o: [
        "count-ish", str(i / "cmyk.jpg"), "--assay", "cish", "--mpp", "0.2"], "CMYK"),
    ("count-truncated-ome-tiff", lambda i, o: ["count-ish", str(i / "truncated.ome.tif"), *FISH],
     "truncated or corrupt"),
    ("score-overlay-is-a-folder", lambda i, o: [
        "score-ihc", str(i / "region.png"), "--mpp", "0.5", "--cells", str(o / "c.csv"),
        "--overlay", folder(o / "ov.png")], "ov.png: cannot write (is a directory)"),
    # 6: a later destination that cannot be replaced: nothing of this run is written
    ("report-one-output-is-a-folder", lambda i, o: [
        "report", str(i / "case.json"), "--out", str(o)] if folder(o / "case-report.json")
     else [], "case-report.json: cannot write (is a directory)"),
    # 20: 16-bit RGB PNGs refused like 16-bit TIFFs; --bit-depth checked on composites
    ("score-16-bit-rgb-png", lambda i, o: ["score-ihc", str(i / "rgb16.png"), "--mpp", "0.5"],
     "16-bit RGB PNG"),
    ("count-16-bit-rgb-png", lambda i, o: [
        "count-ish", str(i / "rgb16.png"), "--channels", "her2=R,cep17=G,dapi=B", "--mpp",
        "0.2"], "16-bit RGB PNG"),
    ("count-composite-deeper-than-its-samples", lambda i, o: [
        "count-ish", str(i / "composite.png"), "--channels", "her2=R,cep17=G,dapi=B", "--mpp",
        "0.2", "--bit-depth", "12"], "12-bit"),
    ("count-composite-values-above-bit-depth", lambda i, o: [
        "count-ish", str(i / "composite.png"), "--channels", "her2=R,cep17=G,dapi=B", "--mpp",
        "0.2", "--bit-depth", "6"], "6-bit"),
    # 23: usage errors in one line; JPEG quality checked
    ("usage-unknown-option", lambda i, o: ["score-ihc", str(i / "ihc.png"), "--bogus"],
     "No such option: --bogus"),
    ("usage-bad-number", lambda i, o: ["score-ihc", str(i / "ihc.png"), "--mpp", "abc"],
     "--mpp"),
    ("usage-missing-argument", lambda i, o: ["score-ihc"], "IMAGE"),
    ("usage-unknown-command", lambda i, o: ["scoreihc"], "scoreihc"),
    *[(f"synth-ihc-jpeg-quality-{q}", lambda i, o, q=q: [
        "synth-ihc", str(o / "r.png"), "--size", "64", "--jpeg-quality", q], "--jpeg-quality")
      for q in ("0", "101", "-5")],
]


@pytest.mark.parametrize(("argv", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_in_one_line_and_touches_nothing(argv, needle, inputs, out,
                                                              capsys):
    args = argv(inputs, out)  # may prepare the output folder (a folder where a file goes)
    before = snapshot(inputs, out)
    rc, stdout, stderr = run_cli(args, capsys)
    assert rc == BAD, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("her2kit: error: ") and needle in lines[0], lines[0]
    assert ".her2kit-" not in lines[0]  # the user's paths, never the temporary files
    assert stdout == ""
    assert snapshot(inputs, out) == before


def test_closed_standard_output_is_an_error_not_a_lost_result(inputs, tmp_path):
    """Item 24: ``score-ihc --json >&-`` must not exit 0 with the result lost."""
    import subprocess
    import sys

    code = ("import os, sys; os.close(1); sys.stdout = None; from her2kit.cli import main; "
            f"main(['score-ihc', {str(inputs / 'region.png')!r}, '--mpp', '0.5', '--json', "
            f"'--out', {str(tmp_path / 'r.json')!r}])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == BAD
    assert len(proc.stderr.splitlines()) == 1 and "standard output" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_closed_standard_output_from_the_shell(inputs, tmp_path):
    import shutil
    import subprocess
    import sys

    if shutil.which("sh") is None:
        pytest.skip("no sh")
    cmd = (f"{sys.executable} -m her2kit score-ihc {inputs / 'region.png'} --mpp 0.5 "
           "--json >&-")
    proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=120,
                          env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode != 0
    assert len(proc.stderr.splitlines()) == 1, proc.stderr


def test_a_large_png_header_raises_no_pillow_warning(tmp_path):
    """Item 25: Pillow's DecompressionBombWarning never reaches standard error."""
    import warnings

    from her2kit.io.raster import open_raster

    path = tmp_path / "large.png"
    Image.new("1", (10000, 9500)).save(path)  # 95 Mpx, above Pillow's warning threshold
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with open_raster(path, field="image") as raster:
            assert raster.size_px == (10000, 9500)
            raster.read_pil()


def test_planar_tiff_pixels_are_rows_times_columns(tmp_path):
    """Item 17: a planar (samples, rows, cols) TIFF counts rows x cols, not samples x rows."""
    from her2kit.errors import ImageInputError
    from her2kit.io.images import read_image

    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, np.full((3, 200, 200), 200, np.uint8), photometric="rgb",
                     planarconfig="separate")
    with pytest.raises(ImageInputError, match="image has 40000 pixels, more than the limit"):
        read_image(path, max_pixels=10_000)
    assert read_image(path, max_pixels=40_000).image.shape == (200, 200, 3)

"""`her2kit score-ihc` through a real subprocess, on generated regions with known truth."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from her2kit.guideline import IhcPercent, ihc_from_percent
from her2kit.synthetic.ihc import generate_ihc_region

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "her2kit", *args], capture_output=True,
                          text=True, timeout=180, cwd=REPO)


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ihc")
    s = generate_ihc_region(shape_px=(512, 512), pixel_size_um=0.5,
                            class_fractions={"complete_intense": 0.3, "none": 0.7}, seed=5)
    path = folder / "region.png"
    Image.fromarray(s.image).save(path)
    return path, s


def test_json_follows_classify_and_matches_truth(region, tmp_path):
    path, truth = region
    proc = run("score-ihc", str(path), "--mpp", "0.5", "--json",
               "--overlay", str(tmp_path / "ov.png"), "--cells", str(tmp_path / "cells.csv"),
               "--geojson", str(tmp_path / "cells.geojson"), "--out", str(tmp_path / "ihc.json"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["kind"] == "score-ihc" and doc["guideline"] == "asco-cap-2018"
    true_score, _, _ = ihc_from_percent(IhcPercent(**{
        k: v for k, v in truth.percent.items() if k != "none"}))
    assert true_score == "3+"
    assert doc["ihc"]["score"] == true_score
    got = doc["evidence"]["percent_all"]
    assert abs(got["complete_intense"] - truth.percent["complete_intense"]) < 8
    assert doc["evidence"]["roi_used"] is False and "no ROI" in doc["evidence"]["note"]
    assert set(doc["evidence"]["stain_vectors_od"]) == {"hematoxylin", "dab"}
    for name in ("ov.png", "cells.csv", "cells.geojson", "ihc.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert Image.open(tmp_path / "ov.png").size == (512, 512)
    # The document feeds classify as it is.
    proc = run("classify", "--json", str(tmp_path / "ihc.json"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ihc"]["score"] == true_score


def test_pixel_size_read_from_tiff(tmp_path, region):
    import tifffile

    _, truth = region
    path = tmp_path / "region.tif"
    # 0.5 µm/px = 20000 px per cm
    tifffile.imwrite(path, truth.image, resolution=(20000, 20000), resolutionunit="CENTIMETER")
    proc = run("score-ihc", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["pixel_size_um"] == pytest.approx(0.5)
    assert doc["pixel_size_source"].startswith("file")
    proc = run("score-ihc", str(path), "--mpp", "0.25")
    assert proc.returncode == 2 and "contradicts the file's pixel size" in proc.stderr


def test_roi_restricts_the_count(tmp_path, region):
    path, _ = region
    roi = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
        [[0, 0], [256, 0], [256, 512], [0, 512], [0, 0]]]}}
    (tmp_path / "roi.geojson").write_text(json.dumps(roi))
    proc = run("score-ihc", str(path), "--mpp", "0.5", "--json", "--roi",
               str(tmp_path / "roi.geojson"))
    assert proc.returncode == 0, proc.stderr
    ev = json.loads(proc.stdout)["evidence"]
    assert ev["roi_used"] and 0.3 < ev["cells_counted"] / ev["cells_detected"] < 0.7


def _bad_images(folder: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    paths = {}
    Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(
        p := folder / "gray.png")
    paths["gray"] = p
    Image.fromarray(rng.integers(0, 255, (64, 64, 4), dtype=np.uint8)).save(
        p := folder / "rgba.png")
    paths["rgba"] = p
    good = folder / "good.png"
    Image.fromarray(rng.integers(100, 255, (256, 256, 3), dtype=np.uint8)).save(good)
    (p := folder / "truncated.png").write_bytes(good.read_bytes()[:300])
    paths["truncated"] = p
    (p := folder / "notimage.png").write_text("hello")
    paths["notimage"] = p
    Image.fromarray(np.full((256, 256, 3), 245, np.uint8)).save(p := folder / "blank.png")
    paths["blank"] = p
    return paths


@pytest.mark.parametrize(
    ("which", "args", "message"),
    [("gray", ("--mpp", "0.5"), "got grayscale"), ("rgba", ("--mpp", "0.5"), "RGBA"),
     ("truncated", ("--mpp", "0.5"), "cannot read"),
     ("notimage", ("--mpp", "0.5"), "cannot read"),
     ("blank", ("--mpp", "0.5"), "blank"),
     ("region", (), "give --mpp"), ("region", ("--mpp", "500"), "pixel_size_um"),
     ("region", ("--mpp", "0.5", "--overlay", "x.jpg"), "use a .png file")],
)
def test_bad_input_one_line_exit_2_and_no_outputs(tmp_path, region, which, args, message):
    paths = _bad_images(tmp_path) | {"region": region[0]}
    out = tmp_path / "out"
    proc = run("score-ihc", str(paths[which]), *args, "--cells", str(out / "cells.csv"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert message in proc.stderr
    assert not out.exists()


def test_roi_outside_the_image_is_refused(tmp_path, region):
    roi = {"type": "Polygon", "coordinates": [[[900, 900], [950, 900], [950, 950], [900, 900]]]}
    (tmp_path / "roi.geojson").write_text(json.dumps(roi))
    proc = run("score-ihc", str(region[0]), "--mpp", "0.5", "--roi",
               str(tmp_path / "roi.geojson"))
    assert proc.returncode == 2 and "outside the image" in proc.stderr


def test_real_he_and_fluorescence_images_are_refused_not_scored(tmp_path, real_data):
    """H&E (a BCI H&E tile), a FISH field (fluorescence, RGB) and a DAPI-only image."""
    bci = real_data("her2_ihc_bci_sample_mdopx")
    fish = sorted((real_data("her2_fish_dish_pcm") / "FISH").glob("*"))[0]
    cases = [(bci / "valA" / "00672_test_3+.png", "no H-DAB stain found"),
             (fish, "is this a fluorescence image"),
             (real_data("nuclei_fluo_dsb_stardist") / "img2d.tif", "got grayscale")]
    for path, message in cases:
        out = tmp_path / "out.json"
        proc = run("score-ihc", str(path), "--mpp", "0.25", "--out", str(out))
        assert proc.returncode == 2, (path.name, proc.stderr)
        assert proc.stdout == "" and not out.exists()
        assert len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr, \
            proc.stderr


def test_real_ihc_0_tile_is_scored_not_refused(real_data):
    """Hematoxylin with almost no DAB is an IHC 0 candidate, not 'no DAB' (BCI 0 tile)."""
    tile = real_data("her2_ihc_bci_sample_mdopx") / "valB" / "00345_test_0.png"
    proc = run("score-ihc", str(tile), "--mpp", "0.5", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ihc"]["score"] in {"0", "1+"}

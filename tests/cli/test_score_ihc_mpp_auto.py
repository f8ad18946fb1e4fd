"""`her2kit score-ihc --mpp auto` and the no-DAB refusal, through a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from her2kit.synthetic.ihc import generate_ihc_region

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "her2kit", *args], capture_output=True,
                          text=True, timeout=180, cwd=REPO)


def _one_line_refusal(proc, message: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("her2kit: error: "), proc.stderr
    assert message in lines[0], proc.stderr


@pytest.fixture(scope="module")
def region():
    # 1+ (some DAB), 0.5 µm/px; a PNG records no pixel size.
    return generate_ihc_region(shape_px=(512, 512), pixel_size_um=0.5, target_score="1+",
                               seed=3)


def test_auto_estimates_and_records_the_assumption(tmp_path, region):
    path = tmp_path / "region.png"
    Image.fromarray(region.image).save(path)
    proc = run("score-ihc", str(path), "--mpp", "auto", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert 0.425 <= doc["pixel_size_um"] <= 0.575  # the true 0.5 ± 15 %
    assert doc["pixel_size_source"] == "estimated from nucleus sizes (--mpp auto)"
    est = doc["evidence"]["pixel_size_estimate"]
    assert est["reason"] is None and est["low_um"] < doc["pixel_size_um"] < est["high_um"]
    assert est["reference_diameter_um"] == 7.0 and est["n_well_shaped_nuclei"] >= 30
    assert len(doc["assumptions"]) == 1
    assert doc["assumptions"][0].startswith("pixel size ESTIMATED: ")
    assert "7 µm" in doc["assumptions"][0]
    assert doc["stain_check"]["dab_hue_pct"] >= 0.5


def test_given_mpp_has_no_assumption(tmp_path, region):
    path = tmp_path / "region.png"
    Image.fromarray(region.image).save(path)
    doc = json.loads(run("score-ihc", str(path), "--mpp", "0.5", "--json").stdout)
    assert doc["assumptions"] == [] and "pixel_size_estimate" not in doc["evidence"]
    assert doc["pixel_size_source"] == "--mpp"


def test_a_recorded_pixel_size_wins_over_auto(tmp_path, region):
    import tifffile

    path = tmp_path / "region.tif"
    tifffile.imwrite(path, region.image, resolution=(20000, 20000), resolutionunit="CENTIMETER")
    doc = json.loads(run("score-ihc", str(path), "--mpp", "auto", "--json").stdout)
    assert doc["pixel_size_um"] == pytest.approx(0.5)
    assert doc["pixel_size_source"].startswith("file") and doc["assumptions"] == []


def test_too_uncertain_is_refused_with_one_line(tmp_path, region):
    # A 160² crop (80 µm a side at 0.5 µm/px): about 20 whole nuclei, fewer than 30.
    path = tmp_path / "crop.png"
    Image.fromarray(np.ascontiguousarray(region.image[:160, :160])).save(path)
    out = tmp_path / "out.json"
    proc = run("score-ihc", str(path), "--mpp", "auto", "--out", str(out))
    _one_line_refusal(proc, "--mpp: ")
    assert "cannot estimate the pixel size from the nuclei (only " in proc.stderr
    assert "give --mpp" in proc.stderr and not out.exists()


def test_bad_mpp_text_is_one_line(tmp_path, region):
    path = tmp_path / "region.png"
    Image.fromarray(region.image).save(path)
    _one_line_refusal(run("score-ihc", str(path), "--mpp", "big"),
                      "--mpp: expected a number of µm per pixel or 'auto', got 'big'")


def test_greyscale_is_refused_and_no_dab_is_noted(tmp_path, real_data):
    """A greyscale copy of a real IHC 0 core is refused; a generated hematoxylin-only
    region and the core itself are scored, the first with the no-DAB note."""
    core = real_data("her2_ihc_gea_tma_bozeklab") / "0_ccb66c10-0990-4da2-881e-b14b0a059e2a.jpg"
    rgb = np.asarray(Image.open(core).convert("RGB"))[2200:3224, 2200:3224]
    grey = np.repeat(np.asarray(Image.fromarray(rgb).convert("L"))[..., None], 3, axis=2)
    hem = generate_ihc_region(shape_px=(512, 512), pixel_size_um=0.5,
                              class_fractions={"none": 1.0}, seed=1).image
    Image.fromarray(grey).save(tmp_path / "grey.png")
    out = tmp_path / "out.json"
    proc = run("score-ihc", str(tmp_path / "grey.png"), "--mpp", "0.25", "--out", str(out))
    _one_line_refusal(proc, "rgb: no colour in the tissue (median channel spread 0 levels")
    assert not out.exists()
    Image.fromarray(hem).save(tmp_path / "hematoxylin.png")
    proc = run("score-ihc", str(tmp_path / "hematoxylin.png"), "--mpp", "0.5", "--json")
    assert proc.returncode == 0, proc.stderr
    check = json.loads(proc.stdout)["stain_check"]
    assert check["no_dab_seen"] is True and "never saw DAB" in check["note"]
    assert check["dab_hue_pct"] == 0.0 and check["tissue_chroma_levels"] > 3
    Image.fromarray(rgb).save(tmp_path / "core.png")
    proc = run("score-ihc", str(tmp_path / "core.png"), "--mpp", "0.25", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["stain_check"]["eosin_hue_pct"] < 10

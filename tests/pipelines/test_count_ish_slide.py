"""count-ish on a slide: --roi polygons read through open_slide at level 0 and counted as
fields, on a brightfield Dual ISH slide written here from her2kit.synthetic.ish fields."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.io.slide_writer import write_slide
from her2kit.pipelines.count_ish import count_ish
from her2kit.synthetic.ish import generate_brightfield_ish_field

pytest.importorskip("openslide")
REPO = Path(__file__).resolve().parents[2]
MPP = 0.2
FIELD = 768
ORIGINS_XY = ((160, 240), (1184, 560))  # where the two fields sit on the slide, px


def _roi(path: Path, boxes) -> Path:
    features = [{"type": "Feature", "properties": {"name": f"tumour {i}"},
                 "geometry": {"type": "Polygon", "coordinates": [[
                     [x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]]}}
                for i, (x, y, w, h) in enumerate(boxes, start=1)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


@pytest.fixture(scope="module")
def dual_ish_slide(tmp_path_factory):
    """A 2048 x 1536 px Aperio-style slide at 0.2 µm/px: glass with two amplified
    (group 1) Dual ISH fields; the fields are also saved as PNGs for reference."""
    folder = tmp_path_factory.mktemp("ish-slide")
    canvas = np.full((1536, 2048, 3), 243, np.uint8)
    fields, pngs = [], []
    for k, (x, y) in enumerate(ORIGINS_XY):
        f = generate_brightfield_ish_field(shape_px=(FIELD, FIELD), pixel_size_um=MPP,
                                           n_nuclei=24, scenario="group1", seed=20 + k)
        canvas[y:y + FIELD, x:x + FIELD] = f.image
        pngs.append(folder / f"field{k}.png")
        Image.fromarray(f.image).save(pngs[-1])
        fields.append(f)
    path = folder / "dual.svs"
    write_slide(path, canvas, pixel_size_um=MPP, flavour="svs", jpeg_quality=95)
    roi = _roi(folder / "roi.geojson", [(x, y, FIELD, FIELD) for x, y in ORIGINS_XY])
    return path, roi, fields, pngs


def test_slide_regions_count_like_the_fields(dual_ish_slide):
    path, roi, fields, pngs = dual_ish_slide
    job = count_ish([str(path)], assay="dual-ish", roi=str(roi))
    ref = count_ish([str(p) for p in pngs], assay="dual-ish", mpp=MPP)
    doc = job.document
    assert doc["ish"]["group"] == 1 and doc["ish"]["call"] == "positive"
    assert doc["pixel_size_um"] == pytest.approx(MPP)
    assert doc["pixel_size_source"] == "file"
    n_slide, n_ref = len(job.result.counted), len(ref.result.counted)
    assert abs(n_slide - n_ref) <= 2, (n_slide, n_ref)
    truth = np.concatenate([f.nuclei[f.countable] for f in fields])
    true_ratio = truth["her2"].sum() / truth["cep17"].sum()
    # measured: slide 3.61, the same fields as PNGs 3.72, truth 3.80 (37, 37, 38 nuclei)
    assert doc["ish"]["ratio"] == pytest.approx(true_ratio, rel=0.15)
    assert doc["ish"]["ratio"] == pytest.approx(ref.document["ish"]["ratio"], abs=0.3)
    block = doc["slide"]
    assert block["vendor"] == "aperio" and block["level"] == 0
    assert block["level_pixel_size_um"] == pytest.approx(MPP)
    assert block["pixel_size_source"] == "file (aperio MPP)"
    assert [r["bbox_xy"] for r in block["regions"]] == [
        [x, y, FIELD, FIELD] for x, y in ORIGINS_XY]
    assert [r["name"] for r in block["regions"]] == ["tumour 1", "tumour 2"]
    assert block["regions"][0]["area_um2"] == pytest.approx((FIELD * MPP) ** 2, rel=0.01)
    # The slide's tiles are JPEG, YCbCr 2 x 2 (io.slide_writer): each region is counted
    # knowing it, as a JPEG file's header would tell.
    for f in job.fields:
        p = f.result.parameters
        assert (p["jpeg_source"], p["jpeg_subsampling"], p["jpeg_quality"]) == (
            "file", "4:2:0", 95)


def test_slide_without_roi_is_refused(dual_ish_slide):
    path = dual_ish_slide[0]
    with pytest.raises(Her2kitInputError) as err:
        count_ish([str(path)], assay="dual-ish")
    assert str(err.value) == (f"--roi: {path}: a whole slide needs --roi (the regions to "
                              "count); whole-slide ISH counting is not supported")


def test_roi_outside_the_slide_and_bad_mpp_are_refused(dual_ish_slide, tmp_path):
    path = dual_ish_slide[0]
    far = _roi(tmp_path / "far.geojson", [(5000, 5000, 100, 100)])
    with pytest.raises(ImageInputError, match=r"ROI polygon 1 lies outside the slide "
                                              r"\(2048x1536 px"):
        count_ish([str(path)], assay="dual-ish", roi=str(far))
    with pytest.raises(ImageInputError, match=r"--mpp 0\.5 contradicts the pixel size"):
        count_ish([str(path)], assay="dual-ish", roi=str(dual_ish_slide[1]), mpp=0.5)
    with pytest.raises(Her2kitInputError, match="a FISH slide is not supported"):
        count_ish([str(path)], assay="fish", roi=str(dual_ish_slide[1]))


def test_slide_without_pixel_size_needs_mpp(real_data, tmp_path):
    tcga = real_data("wsi_real_small") / "tcga-cr-7395-01a-01-ts1.svs"
    roi = _roi(tmp_path / "r.geojson", [(1000, 1000, 200, 200)])
    with pytest.raises(ImageInputError) as err:
        count_ish([str(tcga)], assay="dual-ish", roi=str(roi))
    assert str(err.value) == (f"{tcga}: the slide does not record its pixel size; give --mpp "
                              "(µm per pixel)")


def _run(*args):
    return subprocess.run([sys.executable, "-m", "her2kit", *args], capture_output=True,
                          text=True, timeout=300, cwd=REPO)


def test_cli_count_ish_on_a_slide(dual_ish_slide, tmp_path):
    path, roi, _, _ = dual_ish_slide
    proc = _run("count-ish", str(path), "--assay", "dual-ish", "--roi", str(roi), "--json",
                "--overlay", str(tmp_path / "ov.png"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["slide"]["regions"][1]["bbox_xy"] == [1184, 560, FIELD, FIELD]
    assert doc["ish"]["group"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ov-field1.png", "ov-field2.png"]
    bad = _run("count-ish", str(path), "--assay", "dual-ish")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr == (f"her2kit: error: --roi: {path}: a whole slide needs --roi (the "
                          "regions to count); whole-slide ISH counting is not supported\n")

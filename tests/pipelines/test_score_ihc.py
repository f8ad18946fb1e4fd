"""The score-ihc job: returns the document and each output's bytes, writes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from her2kit.errors import Her2kitInputError
from her2kit.pipelines.score_ihc import resolve_pixel_size, score_ihc
from her2kit.synthetic.ihc import generate_ihc_region

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    folder = tmp_path_factory.mktemp("job")
    s = generate_ihc_region(shape_px=(256, 256), pixel_size_um=0.5, target_score="2+", seed=3)
    path = folder / "region.png"
    Image.fromarray(s.image).save(path)
    return path


def test_job_returns_outputs_in_order_and_writes_nothing(region, tmp_path):
    job = score_ihc(region, mpp=0.5, estimate_stains=False, overlay=tmp_path / "ov.png",
                    cells=tmp_path / "cells.csv", geojson=tmp_path / "cells.geojson")
    assert list(job.outputs) == [tmp_path / "ov.png", tmp_path / "cells.csv",
                                 tmp_path / "cells.geojson"]
    assert list(tmp_path.iterdir()) == []
    assert job.outputs[tmp_path / "ov.png"].startswith(b"\x89PNG\r\n\x1a\n")
    assert json.loads(job.outputs[tmp_path / "cells.geojson"])["type"] == "FeatureCollection"
    assert job.document["kind"] == "score-ihc" and job.document["overlay"] == "ov.png"
    with pytest.raises(TypeError):
        job.outputs[tmp_path / "x"] = b""  # type: ignore[index]


def test_job_document_is_what_the_cli_prints(region):
    job = score_ihc(region, mpp=0.5, estimate_stains=False)
    proc = subprocess.run([sys.executable, "-m", "her2kit", "score-ihc", str(region), "--mpp",
                           "0.5", "--json"], capture_output=True, text=True, timeout=180,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == job.document


def test_pixel_size_from_the_file_or_the_caller():
    assert resolve_pixel_size(0.5, "ome", None, name="a") == (0.5, "file (ome)")
    assert resolve_pixel_size(0.5, "ome", 0.504, name="a") == (0.5, "file (ome)")  # < 1 %
    assert resolve_pixel_size(None, "none", 0.25, name="a") == (0.25, "--mpp")
    with pytest.raises(Her2kitInputError, match=r"--mpp 0\.52 contradicts"):
        resolve_pixel_size(0.5, "ome", 0.52, name="a")
    with pytest.raises(Her2kitInputError, match="a: the file does not record its pixel size"):
        resolve_pixel_size(None, "none", None, name="a")

"""The count-ish job: several fields, one population, outputs as bytes, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from her2kit.errors import Her2kitInputError
from her2kit.pipelines.count_ish import check_assay, count_ish, field_paths
from her2kit.synthetic.ish import generate_brightfield_ish_field


def test_field_paths():
    assert field_paths(None, 2) == []
    assert field_paths("a/ov.png", 1) == [Path("a/ov.png")]
    assert field_paths("a/ov.png", 2) == [Path("a/ov-field1.png"), Path("a/ov-field2.png")]


def test_unknown_assay():
    with pytest.raises(Her2kitInputError, match="unknown assay 'ihc'; use fish, dual-ish or cish"):
        check_assay("ihc")


def test_two_fields_one_population(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    names = []
    for seed in (1, 2):
        f = generate_brightfield_ish_field(shape_px=(256, 256), pixel_size_um=0.25,
                                           n_nuclei=8, scenario="normal", seed=seed,
                                           assay="dual-ish")
        names.append(str(inputs / f"f{seed}.png"))
        Image.fromarray(f.image).save(names[-1])
    seen = []

    def progress(items):
        seen.append(list(items))
        return iter(items)

    out = tmp_path / "out"
    job = count_ish(names, assay="dual-ish",
                    mpp=0.25, overlay=out / "ov.png", nuclei=out / "n.csv", progress=progress)
    assert seen == [names]
    assert list(job.outputs) == [out / "ov-field1.png", out / "ov-field2.png", out / "n.csv"]
    assert not out.exists()
    assert job.document["images"] == names
    assert job.document["overlays"] == ["ov-field1.png", "ov-field2.png"]
    assert [f.name for f in job.fields] == names
    assert len(job.outputs[out / "n.csv"].splitlines()) > 1  # header and nuclei

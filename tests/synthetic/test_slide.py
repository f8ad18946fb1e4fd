"""Synthetic whole slides: written, read back with open_slide, truth where expected,
deterministic for a seed; and ``her2kit synth-slide``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from skimage.draw import polygon as draw_polygon

from her2kit.errors import Her2kitInputError
from her2kit.imaging.color.hdab import separate_stains
from her2kit.io.slides import open_slide
from her2kit.synthetic.slide import (
    _oriented,
    _oriented_points,
    grid_px,
    truth_path_for,
    write_synthetic_slide,
)

pytest.importorskip("openslide")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def island_slide(tmp_path_factory):
    path = tmp_path_factory.mktemp("synth") / "island.svs"
    return write_synthetic_slide(path, size_wh=(4096, 4096), pixel_size_um=0.25,
                                 layout="3+in1+", seed=11, bank_tiles=2)


def test_slide_reads_back_as_an_aperio_pyramid(island_slide):
    with open_slide(island_slide.path) as slide:
        assert slide.vendor == "aperio"
        assert slide.dimensions == (4096, 4096)
        assert slide.pixel_size_um == pytest.approx(0.25)
        assert [lv.width for lv in slide.levels] == [4096, 2048, 1024, 512]
        # glass in the corners (the tissue envelope is a blob of radius 0.42 x the side)
        corner = slide.read_region((0, 0), (256, 256)).astype(float)
        assert corner.mean() > 240 and corner.std() < 4


def test_truth_counts_the_regions_as_laid_out(island_slide):
    background, island = island_slide.regions
    assert (background.name, background.target_score) == ("background", "1+")
    assert (island.name, island.target_score) == ("island-1", "3+")
    assert background.score == "1+" and island.score == "3+"
    assert island.percent["complete_intense"] > 10
    assert background.percent["complete_intense"] == 0
    assert sum(island.cell_counts.values()) > 100
    assert island_slide.n_cells == sum(sum(r.cell_counts.values()) for r in (background, island))
    assert 0.3 < island_slide.tissue_fraction < 0.7
    doc = json.loads(island_slide.truth_path.read_text())
    assert island_slide.truth_path == truth_path_for(island_slide.path)
    assert doc["type"] == "FeatureCollection"
    assert [f["properties"]["target_score"] for f in doc["features"]] == ["1+", "3+"]
    bg_rings = doc["features"][0]["geometry"]["coordinates"]
    assert len(bg_rings) == 2 and bg_rings[1][:-1] == [list(p) for p in island.polygon_xy]
    assert doc["her2kit_synthetic_slide"]["pixel_size_um"] == 0.25


def _mean_dab(slide, mask_xy, rgb):
    return float(separate_stains(rgb, estimate=False).dab_od[mask_xy].mean())


def test_more_dab_inside_the_3plus_island_than_outside(island_slide):
    island = island_slide.regions[1]
    with open_slide(island_slide.path) as slide:  # 1 µm/px: level 2
        rgb = slide.read_at(1.0, (0, 0), (1024, 1024))
    xs = np.array([p[0] for p in island.polygon_xy]) / 4
    ys = np.array([p[1] for p in island.polygon_xy]) / 4
    inside = np.zeros((1024, 1024), bool)
    inside[draw_polygon(ys, xs, shape=inside.shape)] = True
    tissue = rgb.mean(axis=-1) < 232
    dab_in = _mean_dab(slide, inside & tissue, rgb)
    dab_out = _mean_dab(slide, ~inside & tissue, rgb)
    assert dab_in > 3 * dab_out, (dab_in, dab_out)


def test_same_seed_same_slide_other_seed_other_slide(tmp_path):
    kw = {"size_wh": (1024, 768), "layout": "2+in0", "bank_tiles": 1, "tile_px": 256}
    a = write_synthetic_slide(tmp_path / "a.tif", seed=4, **kw)
    b = write_synthetic_slide(tmp_path / "b.tif", seed=4, **kw)
    c = write_synthetic_slide(tmp_path / "c.tif", seed=5, **kw)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.regions == b.regions
    with open_slide(a.path) as sa, open_slide(c.path) as sc:
        assert sa.vendor == "generic-tiff"
        assert not np.array_equal(sa.read_region((0, 0), (1024, 768)),
                                  sc.read_region((0, 0), (1024, 768)))


@pytest.mark.parametrize("score", ["0", "2+"])
def test_pure_layouts(tmp_path, score):
    s = write_synthetic_slide(tmp_path / "p.ome.tif", size_wh=(2048, 2048), layout=score,
                              seed=1, bank_tiles=1)
    assert [r.target_score for r in s.regions] == [score]
    assert s.regions[0].score == score
    assert s.truth_path.name == "p-truth.geojson"
    if score == "0":
        assert s.regions[0].percent["none"] == 100.0
    with open_slide(s.path) as slide:
        assert slide.vendor == "ome-tiff" and slide.dimensions == (2048, 2048)


def test_maps_stay_small_whatever_the_slide_size():
    assert grid_px((4096, 4096)) == 32
    assert grid_px((131072, 50000)) == 32  # 4096 cells of 32 px
    assert grid_px((131073, 50000)) == 64
    assert grid_px((400000, 400000)) == 128


def test_orientations_move_points_with_pixels():
    rng = np.random.default_rng(0)
    image = np.zeros((64, 64), np.uint8)
    pts = rng.integers(0, 64, (20, 2))
    image[pts[:, 0], pts[:, 1]] = np.arange(1, 21)
    for k in range(8):
        moved = _oriented(image, k)
        new = _oriented_points(pts.astype(float), k, 64).astype(int)
        assert (moved[new[:, 0], new[:, 1]] == np.arange(1, 21)).all(), k


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"layout": "4+"}, "unknown layout"),
    ({"size_wh": (100, 100)}, "256-400000 px per side"),
    ({"pixel_size_um": 5.0}, "0.1-2 µm/px"),
])
def test_bad_arguments_write_nothing(tmp_path, kwargs, match):
    args = {"size_wh": (512, 512), "layout": "0", "bank_tiles": 1, **kwargs}
    with pytest.raises(Her2kitInputError, match=match):
        write_synthetic_slide(tmp_path / "x.svs", **args)
    with pytest.raises(Her2kitInputError, match=r"use a \.svs, \.tif or \.ome\.tif"):
        write_synthetic_slide(tmp_path / "x.png", size_wh=(512, 512))
    assert not list(tmp_path.iterdir())


def _run(*args):
    return subprocess.run([sys.executable, "-m", "her2kit", *args], capture_output=True,
                          text=True, timeout=300, cwd=REPO)


def test_cli_synth_slide(tmp_path):
    out = tmp_path / "s.tif"
    proc = _run("synth-slide", str(out), "--size", "1536x1024", "--layout", "2+in0",
                "--seed", "2", "--bank-tiles", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out} (1536x1024 px, 0.25 µm/px, 3 levels, ")
    assert "island-1: target 2+, counted 2+" in proc.stdout
    assert (tmp_path / "s-truth.geojson").is_file()
    with open_slide(out) as slide:
        assert slide.dimensions == (1536, 1024)


@pytest.mark.parametrize(("args", "message"), [
    (("--size", "big"), "--size: expected WIDTHxHEIGHT in px"),
    (("--layout", "5+"), "layout: unknown layout '5+'"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, args, message):
    proc = _run("synth-slide", str(tmp_path / "s.svs"), *args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("her2kit: error: ") and message in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())

"""The viewer's routes on a tiny app: Deep Zoom tiles of a plain image and the overlay."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("openslide")

from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from PIL import Image

from her2kit.api.viewer import (
    ViewerImage,
    build_cell_layer,
    cell_records_from_geojson,
    density_grid,
    install_viewer,
    tile_cells,
)

W, H = 1000, 600


def _field() -> np.ndarray:
    rgb = np.full((H, W, 3), 240, dtype=np.uint8)
    rgb[100:200, 300:400] = (200, 30, 30)  # a red block at x 300-399, y 100-199
    return rgb


CELLS = [  # level-0 pixels; the overlay tile is 512 px
    {"centroid_col_px": 350.0, "centroid_row_px": 150.0, "class_name": "complete_intense",
     "area_um2": 78.54, "counted": True},
    {"centroid_col_px": 600.0, "centroid_row_px": 100.0, "class_name": "none",
     "area_um2": 50.0, "counted": True},
    {"centroid_col_px": 20.0, "centroid_row_px": 580.0, "class_name": "incomplete_faint",
     "area_um2": 50.0, "counted": False},
]


def _app(*, deny: bool = False, assay: str | None = "ihc") -> TestClient:
    import openslide

    app = FastAPI()
    rgb = _field()

    def source(request, image_id):
        if deny:
            raise HTTPException(401, "log in first")
        if image_id != "img1":
            raise HTTPException(404, "no such image")
        return ViewerImage(
            key="sha-img1", name="field.png", pixel_size_um=0.5, assay=assay,
            open_slide=lambda: openslide.ImageSlide(Image.fromarray(rgb)),
            load_overlay=(None if assay is None else lambda: build_cell_layer(
                CELLS, assay="ihc", size_px=(W, H), pixel_size_um=0.5)))

    install_viewer(app, source)
    return TestClient(app)


def test_info_gives_the_deep_zoom_grid_and_legend():
    doc = _app().get("/api/viewer/img1").json()
    # 1000 px halves to 1 px in 10 steps: 11 Deep Zoom levels (0 = 1x1 ... 10 = full).
    assert (doc["width"], doc["height"], doc["levels"]) == (1000, 600, 11)
    assert (doc["tile_size"], doc["overlap"], doc["pixel_size_um"]) == (254, 1, 0.5)
    classes = doc["overlay"]["classes"]
    assert [c["key"] for c in classes] == ["complete_intense", "complete_weak_moderate",
                                           "incomplete_moderate_intense", "incomplete_faint",
                                           "none"]
    assert classes[0]["color"] == "#d55e00"  # Okabe-Ito vermillion
    assert len({c["shape"] for c in classes}) == 5  # told apart without colour too
    assert [c["cells"] for c in classes] == [1, 0, 0, 1, 1]


def test_tile_pixels_come_from_the_image():
    client = _app()
    r = client.get("/api/viewer/img1/tiles/10/1_0.jpeg")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    tile = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")).astype(int)
    # Tile (1, 0) of the full level starts at x = 254 - 1 (overlap): width 254 + 2.
    assert tile.shape == (255, 256, 3)
    red = tile[150 - 0, 350 - 253]
    assert abs(red[0] - 200) < 12 and red[1] < 50 and red[2] < 50
    assert np.all(np.abs(tile[20, 20] - 240) < 8)
    # Level 9 halves the image: the block is at x 150-199, y 50-99 of tile (0, 0).
    low = np.asarray(Image.open(io.BytesIO(
        client.get("/api/viewer/img1/tiles/9/0_0.jpeg").content)).convert("RGB"))
    assert low.shape == (255, 255, 3) and low[75, 175, 1] < 60


def test_outside_tiles_and_unknown_images_are_404_and_auth_is_the_sources():
    client = _app()
    assert client.get("/api/viewer/img1/tiles/11/0_0.jpeg").status_code == 404
    assert client.get("/api/viewer/img1/tiles/10/4_0.jpeg").status_code == 404
    assert client.get("/api/viewer/img1/cells/2_0").status_code == 404
    assert client.get("/api/viewer/nope").status_code == 404
    assert _app(deny=True).get("/api/viewer/img1/tiles/0/0_0.jpeg").status_code == 401


def test_overlay_tile_holds_only_its_cells():
    client = _app()
    t00 = client.get("/api/viewer/img1/cells/0_0").json()
    assert t00["n"] == 1 and t00["x"] == [350.0] and t00["y"] == [150.0] and t00["c"] == [0]
    # 78.54 µm² is a 5 µm radius circle: 10 px at 0.5 µm/px.
    assert t00["r"] == [10.0]
    t10 = client.get("/api/viewer/img1/cells/1_0").json()
    assert t10["n"] == 1 and t10["c"] == [4]
    t01 = client.get("/api/viewer/img1/cells/0_1").json()
    assert t01["n"] == 1 and t01["counted"] == [0]


def test_no_overlay_until_analysed():
    client = _app(assay=None)
    assert client.get("/api/viewer/img1").json()["overlay"] is None
    assert client.get("/api/viewer/img1/density").status_code == 404


def test_density_grid_counts_cells_per_class():
    doc = _app().get("/api/viewer/img1/density").json()
    # 1000 px / 128 bins rounds up to 8 px, below the 32 px floor: 32 px bins, 32 x 19.
    assert (doc["bin_px"], doc["cols"], doc["rows"]) == (32, 32, 19)
    intense = doc["counts"]["complete_intense"]
    assert sum(intense) == 1 and intense[(150 // 32) * 32 + 350 // 32] == 1
    assert sum(doc["counts"]["none"]) == 1 and sum(doc["counts"]["complete_weak_moderate"]) == 0


def test_geojson_outlines_round_trip():
    ring = [[10.0, 10.0], [30.0, 10.0], [30.0, 30.0], [10.0, 30.0], [10.0, 10.0]]
    fc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"classification": {"name": "HER2 complete weak-moderate"},
                       "measurements": {"Cell: Area µm^2": 100.0, "Counted (in ROI)": 1.0}}}]}
    records, outlines = cell_records_from_geojson(fc)
    assert records[0]["class_name"] == "complete_weak_moderate"
    assert (records[0]["centroid_col_px"], records[0]["centroid_row_px"]) == (20.0, 20.0)
    layer = build_cell_layer(records, assay="ihc", size_px=(100, 100), pixel_size_um=0.5,
                             outlines=outlines)
    doc = tile_cells(layer, 0, 0)
    assert doc["outline"] == [[10.0, 10.0, 30.0, 10.0, 30.0, 30.0, 10.0, 30.0, 10.0, 10.0]]
    with pytest.raises(ValueError, match="not a her2kit cell"):
        cell_records_from_geojson({"type": "FeatureCollection", "features": [{}]})


def test_ish_nuclei_carry_counts_and_signals():
    nuclei = [{"centroid_col_px": 40, "centroid_row_px": 40, "area_um2": 60, "her2": 9,
               "cep17": 2, "included": True},
              {"centroid_col_px": 90, "centroid_row_px": 40, "area_um2": 60, "her2": 1,
               "cep17": 1, "included": False}]
    signals = [{"x_px": 41, "y_px": 38, "probe": "her2"}, {"x_px": 44, "y_px": 42,
                                                            "probe": "cep17"}]
    layer = build_cell_layer(nuclei, assay="ish", size_px=(128, 64), pixel_size_um=0.25,
                             signals=signals)
    doc = tile_cells(layer, 0, 0)
    assert doc["her2"] == [9, 1] and doc["cep17"] == [2, 1] and doc["c"] == [0, 1]
    assert doc["signals"] == {"x": [41.0, 44.0], "y": [38.0, 42.0], "probe": [0, 1]}


def test_300k_cells_are_bucketed_once_and_served_per_tile():
    rng = np.random.default_rng(0)
    n, side = 300_000, 40_000
    classes = ["complete_intense", "complete_weak_moderate", "incomplete_moderate_intense",
               "incomplete_faint", "none"]
    xs, ys = rng.uniform(0, side, n), rng.uniform(0, side, n)
    cls = rng.integers(0, 5, n)
    records = [{"centroid_col_px": x, "centroid_row_px": y, "class_name": classes[c],
                "area_um2": 80.0} for x, y, c in zip(xs, ys, cls, strict=True)]
    layer = build_cell_layer(records, assay="ihc", size_px=(side, side), pixel_size_um=0.25)
    # Every cell is in exactly one overlay tile.
    cols, rows = layer.grid
    total = sum(layer.tile_members(c, r).size for c in range(cols) for r in range(rows))
    assert (cols, rows, total) == (79, 79, n)
    t0 = time.perf_counter()
    doc = tile_cells(layer, 40, 40)
    elapsed_s = time.perf_counter() - t0
    inside = np.sum((xs // 512 == 40) & (ys // 512 == 40))
    assert doc["n"] == inside and doc["n"] < 200
    assert elapsed_s < 0.05
    grid = density_grid(layer)
    assert grid["cols"] == 128 and sum(sum(v) for v in grid["counts"].values()) == n

"""Parts, manifest and the bulk GeoJSON of a score-slide run."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from her2kit.errors import OutputError
from her2kit.io.slide_parts import (
    cells_geojson_gz,
    existing_parts,
    read_manifest,
    read_part,
    write_manifest,
    write_part,
)

CLASSES = ("a", "b")
NAMES = {"a": "Class A", "b": "Class B"}
COLORS = {"a": (1, 2, 3), "b": (4, 5, 6)}


def _cols(n=3):
    return {"x_px": np.arange(n, dtype=float) * 100 + 50, "y_px": np.full(n, 20.0),
            "area_um2": np.full(n, 100.0, np.float32),
            "nucleus_area_um2": np.full(n, 25.0, np.float32),
            "membrane_dab_od_mean": np.full(n, 0.1, np.float32),
            "membrane_dab_od_stained": np.full(n, 0.2, np.float32),
            "completeness_pct": np.full(n, 50.0, np.float32),
            "class_name": np.array(["a", "b", "a"][:n]), "counted": np.array([1, 0, 1][:n], bool)}


def test_part_round_trip_and_listing(tmp_path):
    cols = _cols()
    write_part(tmp_path, 7, cols, metadata={"status": "scored"})
    write_part(tmp_path, 12, _cols(0) | {"class_name": np.zeros(0, "<U1")},
               metadata={"status": "empty"})
    assert existing_parts(tmp_path) == {7, 12}
    back, meta = read_part(tmp_path, 7)
    assert meta == {"status": "scored"}
    assert np.array_equal(back["x_px"], cols["x_px"])
    assert list(back["class_name"]) == ["a", "b", "a"]
    empty, _ = read_part(tmp_path, 12)
    assert empty["x_px"].size == 0
    (tmp_path / "parts" / "tile_000012.parquet").write_bytes(b"not parquet")
    with pytest.raises(OutputError, match="cannot read this run's part"):
        read_part(tmp_path, 12)


def test_manifest_round_trip(tmp_path):
    assert read_manifest(tmp_path) is None
    write_manifest(tmp_path, {"b": [1, 2], "a": {"x": 0.1}})
    assert read_manifest(tmp_path) == {"a": {"x": 0.1}, "b": [1, 2]}
    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(OutputError, match="manifest"):
        read_manifest(tmp_path)


def test_geojson_is_qupath_cells_with_their_area(tmp_path):
    data = cells_geojson_gz(_cols(), level0_pixel_size_um=0.5, class_names=CLASSES,
                            qupath_names=NAMES, class_colors=COLORS, chunk=2)
    doc = json.loads(gzip.decompress(data))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 3
    f = doc["features"][1]
    assert f["properties"]["classification"] == {"name": "Class B", "color": [4, 5, 6]}
    assert f["properties"]["measurements"]["Counted (in ROI)"] == 0
    assert f["properties"]["measurements"]["Membrane: completeness %"] == 50.0
    ring = np.array(f["geometry"]["coordinates"][0])
    assert (ring[0] == ring[-1]).all() and len(ring) == 13
    x, y = ring[:, 0], ring[:, 1]
    area_px2 = 0.5 * abs(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))
    assert area_px2 * 0.25 == pytest.approx(100.0, rel=0.01)  # 100 µm² at 0.5 µm/px
    assert ring[:-1].mean(axis=0) == pytest.approx([150.0, 20.0], abs=0.01)
    nuc = np.array(f["nucleusGeometry"]["coordinates"][0])
    assert np.ptp(nuc[:, 0]) == pytest.approx(np.ptp(ring[:, 0]) / 2, rel=0.02)


def test_geojson_of_no_cells_is_an_empty_collection():
    cols = {k: v[:0] for k, v in _cols().items()}
    doc = json.loads(gzip.decompress(cells_geojson_gz(
        cols, level0_pixel_size_um=0.5, class_names=CLASSES, qupath_names=NAMES,
        class_colors=COLORS)))
    assert doc == {"type": "FeatureCollection", "features": []}

"""QuPath GeoJSON of cells written in bulk and streamed (issue 13, item 19)."""

from __future__ import annotations

import gzip
import io
import json
import time

import numpy as np
import pytest
from scipy import ndimage as ndi
from shapely.geometry import Polygon, shape
from skimage.draw import polygon as skimage_polygon
from skimage.measure import approximate_polygon, find_contours

from her2kit.imaging.ihc.score import score_ihc_image
from her2kit.imaging.outlines import label_outlines
from her2kit.io.export import (
    CellBatch,
    cell_batch,
    cells_geojson,
    cells_geojson_bytes,
    iter_cells_geojson,
    write_cells_geojson,
)
from her2kit.synthetic.ihc import generate_ihc_region
from her2kit.viz.colors import CLASS_COLORS

QUPATH_NAMES = {"complete_intense": "HER2 complete intense",
                "complete_weak_moderate": "HER2 complete weak-moderate",
                "incomplete_moderate_intense": "HER2 incomplete moderate-intense",
                "incomplete_faint": "HER2 incomplete faint",
                "none": "HER2 no membrane staining"}


def _strict(text: bytes):
    def refuse(name):
        raise ValueError(name)
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def scored():
    region = generate_ihc_region(shape_px=(384, 384), pixel_size_um=0.5, target_score="2+",
                                 seed=11)
    roi = np.zeros((384, 384), bool)
    roi[:, :192] = True
    return score_ihc_image(region.image, pixel_size_um=0.5, roi_mask=roi)


def _old_outline(mask, offset_rc):
    """The outline her2kit wrote before (per cell: marching squares, Douglas-Peucker 0.5)."""
    contours = find_contours(np.pad(mask, 1).astype(np.float32), 0.5)
    ring = approximate_polygon(max(contours, key=len), tolerance=0.5)
    return Polygon([(c - 1 + offset_rc[1], r - 1 + offset_rc[0]) for r, c in ring])


def test_same_cells_classes_and_measurements_as_the_table(scored):
    doc = _strict(cells_geojson_bytes(scored, class_colors=CLASS_COLORS))
    cells = scored.cells
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) == len(cells) == scored.n_cells_detected
    for i, feature in enumerate(doc["features"]):
        props = feature["properties"]
        assert feature["type"] == "Feature" and props["objectType"] == "cell"
        assert props["classification"] == {
            "name": QUPATH_NAMES[str(cells.class_name[i])],
            "color": list(CLASS_COLORS[str(cells.class_name[i])])}
        m = props["measurements"]
        assert m["Cell: Area µm^2"] == float(cells.area_um2[i])
        assert m["Membrane: completeness %"] == float(cells.completeness_pct[i])
        assert m["Counted (in ROI)"] == float(bool(cells.counted[i]))
        ring = feature["geometry"]["coordinates"][0]
        assert feature["geometry"]["type"] == "Polygon" and ring[0] == ring[-1]
    ids = [f["id"] for f in doc["features"]]
    assert len(set(ids)) == len(ids) and all(i[14] == "4" for i in ids)  # UUID version 4
    only = cells_geojson(scored, class_colors=CLASS_COLORS, only_counted=True)
    assert len(only["features"]) == int(cells.counted.sum())


def test_polygons_hold_exactly_the_cells_pixels(scored):
    doc = cells_geojson(scored, class_colors=CLASS_COLORS)
    shape_rc = scored.cell_labels.shape
    exact = 0
    for i, feature in enumerate(doc["features"]):
        label = int(scored.cells.label[i])
        xy = np.array(feature["geometry"]["coordinates"][0])
        inside = np.zeros(shape_rc, bool)
        rr, cc = skimage_polygon(xy[:, 1], xy[:, 0], shape=shape_rc)
        inside[rr, cc] = True
        parts, _ = ndi.label(scored.cell_labels == label)
        largest = parts == 1 + int(np.argmax(np.bincount(parts.ravel())[1:]))
        exact += np.array_equal(inside, ndi.binary_fill_holes(largest, np.ones((3, 3))))
        nucleus = shape(feature["properties"]["nucleusGeometry"])
        assert nucleus.area < shape(feature["geometry"]).area
    assert exact == len(doc["features"])


def test_polygons_cover_the_old_outlines(scored):
    """Against the outlines her2kit wrote before (recomputed here the old way): the same
    place, within the old simplification's half-pixel tolerance."""
    doc = cells_geojson(scored, class_colors=CLASS_COLORS)
    slices = ndi.find_objects(scored.cell_labels)
    ious = []
    for i, feature in enumerate(doc["features"][:300]):
        label = int(scored.cells.label[i])
        sl = slices[label - 1]
        old = _old_outline(scored.cell_labels[sl] == label, (sl[0].start, sl[1].start))
        new = shape(feature["geometry"])
        ious.append(new.intersection(old.buffer(0)).area / new.union(old.buffer(0)).area)
        assert new.buffer(0.75).contains(old.buffer(0))  # within ~half a pixel's corner cut
    assert min(ious) > 0.8 and np.median(ious) > 0.9


def test_streamed_gzip_and_tiles_with_offsets(scored):
    batch = cell_batch(scored)
    whole = cells_geojson_bytes(scored, class_colors=CLASS_COLORS)
    assert b"".join(iter_cells_geojson([batch], class_colors=CLASS_COLORS)) == whole
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz:
        n = write_cells_geojson(gz, [batch, CellBatch(
            batch.label, batch.class_name, batch.measurements, batch.cell_outlines,
            batch.nucleus_outlines, offset_xy=(1000.0, 2000.0))], class_colors=CLASS_COLORS)
    text = gzip.decompress(buf.getvalue())
    assert n == len(text)
    features = _strict(text)["features"]
    k = len(features) // 2
    assert len(features) == 2 * k == 2 * scored.n_cells_detected
    a = np.array(features[0]["geometry"]["coordinates"][0])
    b = np.array(features[k]["geometry"]["coordinates"][0])
    np.testing.assert_array_equal(b - a, np.tile([1000.0, 2000.0], (len(a), 1)))
    assert features[0]["id"] != features[k]["id"]


def test_non_finite_measurements_are_null():
    lab = np.zeros((8, 8), int)
    lab[1:4, 1:4], lab[5:7, 5:7] = 1, 2
    batch = CellBatch(np.array([1, 2]), np.array(["none", "incomplete_faint"]),
                      {"x": np.array([np.nan, np.inf])}, label_outlines(lab))
    doc = _strict(b"".join(iter_cells_geojson([batch], class_colors=CLASS_COLORS)))
    assert [f["properties"]["measurements"]["x"] for f in doc["features"]] == [None, None]
    assert "nucleusGeometry" not in doc["features"][0]["properties"]
    ring = doc["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) == 5
    # The 3 x 3 square of pixels 1-3, counter-clockwise on screen (y down), from any corner.
    square = [[0.5, 0.5], [0.5, 3.5], [3.5, 3.5], [3.5, 0.5]]
    start = square.index(ring[0])
    assert ring[:4] == square[start:] + square[:start]


def test_forty_thousand_cells_in_seconds():
    """37,388 cells took 82 s more with --geojson (2.3 ms per cell); here ~40,000
    Voronoi cells on a 2 µm grid of a 6000² image, traced and written."""
    rng = np.random.default_rng(0)
    seeds = np.zeros((3000, 3000), bool)
    seeds[rng.integers(0, 3000, 40_000), rng.integers(0, 3000, 40_000)] = True
    seeds_lab, n = ndi.label(seeds)
    _, (ri, ci) = ndi.distance_transform_edt(~seeds, return_indices=True)
    grid = seeds_lab[ri, ci]
    labels = np.repeat(np.repeat(grid, 2, 0), 2, 1)
    start = time.perf_counter()
    batch = CellBatch(np.arange(1, n + 1), np.full(n, "none"),
                      {"Cell: Area µm^2": np.ones(n)}, label_outlines(labels, block_px=2))
    size = sum(len(c) for c in iter_cells_geojson([batch], class_colors=CLASS_COLORS))
    elapsed = time.perf_counter() - start
    assert n > 39_000 and size > 10_000_000
    assert elapsed < 15, elapsed  # ~1-2 s on one core; the old way took ~90 s

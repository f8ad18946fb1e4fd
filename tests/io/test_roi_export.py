"""ROI rasterisation and the per-cell exports (CSV, QuPath GeoJSON)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.imaging.ihc.score import score_ihc_image
from her2kit.io.export import cells_geojson, table_bytes
from her2kit.io.roi import roi_mask_from_geojson
from her2kit.synthetic.ihc import generate_ihc_region
from her2kit.viz.colors import CLASS_COLORS


def square(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def test_polygon_with_hole_and_xy_order():
    doc = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [
        square(10, 20, 50, 40), square(20, 25, 30, 35)]}, "properties": {}}
    mask = roi_mask_from_geojson(doc, (100, 60))
    assert mask[30, 15] and not mask[30, 25]  # row 30 = y, col 15 = x; the hole is empty
    assert not mask[15, 30]  # x and y are not swapped
    assert mask.sum() == pytest.approx(40 * 20 - 10 * 10, rel=0.15)


def test_feature_collection_multipolygon_and_list():
    poly = {"type": "MultiPolygon", "coordinates": [[square(0, 0, 10, 10)],
                                                    [square(20, 20, 30, 30)]]}
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": poly}]}
    a = roi_mask_from_geojson(fc, (40, 40))
    b = roi_mask_from_geojson([{"type": "Feature", "geometry": poly}], (40, 40))
    assert a[5, 5] and a[25, 25] and not a[15, 15]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("doc", "message"),
    [({"type": "Feature", "geometry": {"type": "Polygon",
                                       "coordinates": [square(500, 500, 600, 600)]}},
      "outside the image"),
     ({"type": "Point", "coordinates": [1, 2]}, "unsupported GeoJSON type"),
     ({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}},
      "has no area"),
     ({"type": "FeatureCollection", "features": []}, "no polygon"),
     ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, "fewer than 3")],
)
def test_bad_roi(doc, message):
    with pytest.raises(Her2kitInputError, match=message):
        roi_mask_from_geojson(doc, (100, 100))


@pytest.fixture(scope="module")
def scored():
    region = generate_ihc_region(shape_px=(384, 384), pixel_size_um=0.5, target_score="2+",
                                 seed=11)
    roi = np.zeros((384, 384), bool)
    roi[:, :192] = True
    return score_ihc_image(region.image, pixel_size_um=0.5, roi_mask=roi)


def test_roi_counts_only_cells_whose_centroid_is_inside(scored):
    # The centroid's nearest pixel decides (a centroid at column 191.6 is pixel 192).
    inside = np.rint(scored.cells.centroid_rc[:, 1]) < 192
    np.testing.assert_array_equal(scored.cells.counted, inside)
    assert scored.roi_used and 0 < scored.n_cells_counted < scored.n_cells_detected


def test_csv_has_one_row_per_cell_with_units(scored):
    text = table_bytes(scored.cells.as_records(), fmt="csv").decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == scored.n_cells_detected
    assert {"area_um2", "completeness_pct", "class_name", "counted"} <= set(rows[0])


def test_parquet_round_trips(scored):
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(table_bytes(scored.cells.as_records(), fmt="parquet")))
    assert table.num_rows == scored.n_cells_detected
    assert table.column("area_um2").type.bit_width == 64
    assert set(table.column("class_name").to_pylist()) <= {
        "complete_intense", "complete_weak_moderate", "incomplete_moderate_intense",
        "incomplete_faint", "none"}


def test_geojson_cells_load_back_in_shapely_at_the_right_place(scored):
    from shapely.geometry import Point, shape

    doc = cells_geojson(scored, class_colors=CLASS_COLORS)
    assert doc["type"] == "FeatureCollection"
    assert len(doc["features"]) >= 0.95 * scored.n_cells_detected
    by_label = {int(lab): i for i, lab in enumerate(scored.cells.label)}
    for feature in doc["features"][:200]:
        props = feature["properties"]
        assert props["objectType"] == "cell"
        assert set(props["classification"]) == {"name", "color"}
        cell = shape(feature["geometry"])
        nucleus = shape(props["nucleusGeometry"])
        assert cell.is_valid or cell.buffer(0).area > 0
        assert nucleus.area < cell.area
        assert cell.buffer(1.0).contains(nucleus.centroid)
    # Coordinates are (x, y) = (column, row): each cell polygon holds its own centroid.
    hits = 0
    for feature in doc["features"]:
        cx, cy = shape(feature["geometry"]).centroid.coords[0]
        rows = scored.cells.centroid_rc
        i = int(np.argmin((rows[:, 0] - cy) ** 2 + (rows[:, 1] - cx) ** 2))
        hits += shape(feature["geometry"]).buffer(1).contains(Point(rows[i, 1], rows[i, 0]))
    assert hits >= 0.95 * len(doc["features"])
    assert by_label  # the table and the export describe the same cells


def _jagged_ring(n, centre, radius, jag):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = radius + jag * np.where(np.arange(n) % 2 == 0, 1, -1)
    xy = np.round(np.c_[centre + r * np.cos(t), centre + r * np.sin(t)], 3).tolist()
    return [*xy, xy[0]]


def test_a_million_vertex_roi_is_rasterised_in_seconds():
    """Item 18: 1,000,000 vertices on 512² (refused by the old 100,000 cap, and ~210 s
    through the old rasteriser) and a 2000-vertex circle on 4000² (~42 s) are fast."""
    import time

    doc = {"type": "Polygon", "coordinates": [_jagged_ring(999_999, 256, 200, 0.7)]}
    start = time.perf_counter()
    mask = roi_mask_from_geojson(doc, (512, 512))
    assert time.perf_counter() - start < 8
    assert abs(mask.sum() - np.pi * 200 ** 2) < 0.01 * np.pi * 200 ** 2
    doc = {"type": "Polygon", "coordinates": [_jagged_ring(1999, 2000, 1900, 0)]}
    start = time.perf_counter()
    assert roi_mask_from_geojson(doc, (4000, 4000)).sum() > 0.99 * np.pi * 1900 ** 2
    assert time.perf_counter() - start < 3


def test_vertex_cap_is_checked_before_the_positions():
    from her2kit.io.roi import MAX_ROI_VERTICES

    assert MAX_ROI_VERTICES == 1_000_000
    ring = [[1, 1], [5, 1], [5, 5]] * 400_001  # 1,200,003 positions, the last one bad
    ring[-1] = ["bad", 1]
    with pytest.raises(Her2kitInputError, match="more than 1000000 polygon vertices"):
        roi_mask_from_geojson({"type": "Polygon", "coordinates": [ring]}, (10, 10))


def test_same_mask_as_skimage_through_geojson():
    """Holes and several polygons drawn in order, each ring as skimage.draw.polygon draws it."""
    from skimage.draw import polygon

    outer = [[2.5, 3], [40, 1.25], [37, 30.5], [4, 28]]
    hole = [[10, 10], [20, 10.5], [15, 20]]
    other = [[30, 20], [45, 22], [44, 35]]
    doc = {"type": "MultiPolygon", "coordinates": [[outer, hole], [other]]}
    expected = np.zeros((32, 42), bool)
    for ring, value in ((outer, True), (hole, False), (other, True)):
        xy = np.array(ring, float)
        rr, cc = polygon(xy[:, 1], xy[:, 0], shape=expected.shape)
        expected[rr, cc] = value
    np.testing.assert_array_equal(roi_mask_from_geojson(doc, (32, 42)), expected)


@pytest.mark.parametrize("ring", [
    [[0, 0], [30, 0, 1.5], [30, 30]],  # mixed 2- and 3-number positions
    [[0, 0], [30, 0], [30, 10 ** 30]],  # an integer beyond the coordinate limit
    [[0, 0], [30, 0], [30, 10 ** 400]],  # an integer no float can hold
])
def test_odd_rings_take_the_checked_path(ring):
    doc = {"type": "Polygon", "coordinates": [ring]}
    if max(abs(v) for p in ring for v in p) > 1e7:
        with pytest.raises(Her2kitInputError, match=r"\[0\]\[2\]: coordinate outside"):
            roi_mask_from_geojson(doc, (40, 40))
    else:
        assert roi_mask_from_geojson(doc, (40, 40))[5, 20]

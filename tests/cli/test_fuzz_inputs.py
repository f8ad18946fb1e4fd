"""Property-based fuzzing of case JSON and ROI GeoJSON (issue 13): whatever the input, a
clean one-line error or a valid result, never a traceback. Bounded: 200 examples each."""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from her2kit.cli import main
from her2kit.errors import Her2kitInputError
from her2kit.io.roi import roi_mask_from_geojson

BOUNDED = settings(max_examples=200, deadline=2000, database=None,
                   suppress_health_check=[HealthCheck.too_slow])

numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 1, 2, 4.6, 1e26, 1e-300, -1, 100, 100.0001, 2.0, 1.995]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=8),
                    st.sampled_from(["0", "0+", "1+", "2+", "3+", "dual", "single", "weak"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=20)


def field(keys: list[str]) -> st.SearchStrategy:
    return st.dictionaries(st.sampled_from(keys), json_values | numbers | scalars, max_size=6)


cases = st.fixed_dictionaries({}, optional={
    "ihc": field(["score", "percent", "qc", "controls_ok", "x"]),
    "ish": field(["probe", "nuclei", "cells_counted", "her2_mean", "cep17_mean", "ratio",
                  "qc"]),
    "er": field(["percent", "intensity"]),
    "pr": field(["percent", "intensity"]),
    "case_id": scalars,
    "extra": json_values,
})


def run_classify(text: str) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "case.json")
        path.write_text(text, encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        rc = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["classify", "--json", str(path)])
            except SystemExit as exc:
                rc = exc.code
    return rc, out.getvalue(), err.getvalue()


@BOUNDED
@given(cases)
def test_case_json_gives_a_result_or_one_clean_line(case):
    rc, out, err = run_classify(json.dumps(case))
    if rc == 0:
        assert err == ""
        assert isinstance(json.loads(out), dict)
    else:
        assert rc == 2, err
        assert out == ""
        assert len(err.splitlines()) == 1 and err.startswith("her2kit: error: "), err


@BOUNDED
@given(st.text(max_size=60) | json_values.map(json.dumps))
def test_any_text_as_a_case_gives_a_result_or_one_clean_line(text):
    rc, out, err = run_classify(text)
    assert rc in (0, 2), err
    if rc:
        assert out == "" and len(err.splitlines()) == 1, err


coordinates = st.recursive(
    st.one_of(numbers, st.none(), st.text(max_size=3), st.booleans()),
    lambda inner: st.lists(inner, max_size=5), max_leaves=30)
geometries = st.fixed_dictionaries({
    "type": st.sampled_from(["Polygon", "MultiPolygon", "Point", "LineString", "Nope"]),
    "coordinates": coordinates})
rings = st.lists(st.lists(st.floats(-20, 90), min_size=2, max_size=2), min_size=3, max_size=8)
polygons = st.fixed_dictionaries({"type": st.just("Polygon"),
                                  "coordinates": st.lists(rings, min_size=1, max_size=2)})
documents = st.one_of(
    geometries, polygons,
    st.builds(lambda g: {"type": "Feature", "geometry": g, "properties": {}}, geometries),
    st.builds(lambda gs: {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": g} for g in gs]}, st.lists(polygons | geometries,
                                                                   max_size=3)),
    json_values)


@BOUNDED
@given(documents)
def test_roi_geojson_gives_a_mask_or_one_clean_error(doc):
    try:
        mask = roi_mask_from_geojson(doc, (64, 64))
    except Her2kitInputError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("roi")
        return
    assert mask.dtype == np.bool_ and mask.shape == (64, 64) and mask.any()


@BOUNDED
@given(st.floats(allow_nan=True, allow_infinity=True) | numbers)
def test_shortcut_means_give_a_result_or_one_clean_line(value):
    out, err = io.StringIO(), io.StringIO()
    rc = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["classify", "--her2-mean", repr(float(value)), "--cep17-mean", "1.5",
                  "--cells", "20"])
        except SystemExit as exc:
            rc = exc.code
    assert rc in (0, 2), err.getvalue()
    if rc:
        assert len(err.getvalue().splitlines()) == 1, err.getvalue()
    else:
        assert math.isfinite(float(value))

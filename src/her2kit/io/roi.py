"""Regions of interest from GeoJSON (as QuPath exports them), rasterised to a mask.

:func:`roi_mask_from_geojson` works on parsed JSON; :func:`read_roi_mask` reads the file
(a path, or ``-`` for standard input) first.
Coordinates are level-0 pixels, x to the right (columns) and y down (rows).
Polygon holes (second and later rings) are removed from the region.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from her2kit.errors import Her2kitInputError
from her2kit.imaging.draw import polygon_mask

__all__ = [
    "MAX_ROI_COORDINATE", "MAX_ROI_VERTICES", "read_roi_mask", "read_roi_polygons",
    "roi_mask_from_geojson", "roi_polygons",
]


def _features(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, list):
        return [f for item in doc for f in _features(item)]
    if not isinstance(doc, dict):
        raise Her2kitInputError("expected GeoJSON objects", field="roi")
    kind = doc.get("type")
    if kind == "FeatureCollection":
        return _features(doc.get("features", []))
    if kind == "Feature":
        return [doc]
    if kind in ("Polygon", "MultiPolygon"):
        return [{"type": "Feature", "geometry": doc, "properties": {}}]
    raise Her2kitInputError(f"unsupported GeoJSON type {kind!r}", field="roi")


#: Most polygon vertices accepted in one ROI file (all rings together): a hand-drawn
#: tumour outline has hundreds to a few thousand, a traced whole-slide one ~100,000. The
#: scanline rasteriser costs ~0.1 µs per vertex and per row crossed; reading and checking
#: the positions ~1 µs per vertex, so the cap keeps one file's checks near a second.
MAX_ROI_VERTICES = 1_000_000
#: Largest coordinate magnitude, px (a whole slide at 40x is ~200,000 px across).
MAX_ROI_COORDINATE = 1e7


def _position(value: Any, where: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) not in (2, 3)
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise Her2kitInputError(f"{where}: expected a position [x, y] of numbers, got "
                                f"{_short(value)}", field="roi")
    try:
        x, y = float(value[0]), float(value[1])
    except OverflowError:  # an integer of hundreds of digits
        x = y = float("inf")
    if not (abs(x) <= MAX_ROI_COORDINATE and abs(y) <= MAX_ROI_COORDINATE):
        raise Her2kitInputError(
            f"{where}: coordinate outside ±{MAX_ROI_COORDINATE:g} px (got {_short(value)})",
            field="roi")
    return x, y


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _too_many() -> Her2kitInputError:
    return Her2kitInputError(f"more than {MAX_ROI_VERTICES} polygon vertices, the limit "
                             "(simplify the outline)", field="roi")


def _ring_array(ring: list, where: str) -> np.ndarray:
    """One ring's positions → (n, 2) array of (x, y). Whole rings of plain [x, y] (or
    [x, y, z]) numbers are converted at once; any other ring is checked position by
    position, so the first bad one is named."""
    if ({type(p) for p in ring} == {list} and len({len(p) for p in ring}) == 1
            and {type(v) for p in ring for v in p} <= {int, float}):
        try:
            xy = np.array(ring, dtype=float)[:, :2]
        except (OverflowError, ValueError):
            xy = None
        if xy is not None and xy.shape[1] == 2 and np.all(np.abs(xy) <= MAX_ROI_COORDINATE):
            return xy
    return np.array([_position(p, f"{where}[{j}]") for j, p in enumerate(ring)], dtype=float)


def _rings(coords: Any, where: str, seen: list[int]) -> list[np.ndarray]:
    """A Polygon's coordinates → one (n, 2) array of (x, y) per ring, validated;
    ``seen[0]`` counts the vertices so far, refused above the cap before converting."""
    if not isinstance(coords, list) or not coords:
        raise Her2kitInputError(f"{where}: expected a list of rings, got {_short(coords)}",
                                field="roi")
    rings = []
    for i, ring in enumerate(coords):
        if not isinstance(ring, list) or len(ring) < 3:
            raise Her2kitInputError(f"{where}[{i}]: a polygon ring has fewer than 3 "
                                    f"positions ({_short(ring)})", field="roi")
        seen[0] += len(ring)
        if seen[0] > MAX_ROI_VERTICES:
            raise _too_many()
        rings.append(_ring_array(ring, f"{where}[{i}]"))
    return rings


def _polygons(geometry: dict[str, Any], where: str, seen: list[int]) -> list[list[np.ndarray]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        return [_rings(coords, f"{where}.coordinates", seen)]
    if kind == "MultiPolygon":
        if not isinstance(coords, list):
            raise Her2kitInputError(f"{where}.coordinates: expected a list of polygons, got "
                                    f"{_short(coords)}", field="roi")
        return [_rings(c, f"{where}.coordinates[{i}]", seen) for i, c in enumerate(coords)]
    raise Her2kitInputError(
        f"ROI geometry {kind!r} has no area; use Polygon or MultiPolygon", field="roi")


def roi_polygons(doc: Any) -> list[tuple[str | None, list[np.ndarray]]]:
    """The polygons of a GeoJSON document, validated, without rasterising them.

    Returns
    -------
    list of (name, rings)
        One entry per polygon (a MultiPolygon gives several): the feature's
        ``properties.name`` (or its QuPath ``classification.name``, or None) and the rings
        as (n, 2) arrays of (x, y) level-0 px, the outer ring first, then holes.

    Raises
    ------
    Her2kitInputError
        As :func:`roi_mask_from_geojson`: no polygon, malformed coordinates, too many
        vertices.
    """
    out, seen = [], [0]  # the vertex cap is checked as the rings are read (_rings)
    for k, feature in enumerate(_features(doc)):
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict):
            raise Her2kitInputError("a feature has no geometry", field="roi")
        props = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        cls = props.get("classification")
        name = props.get("name") or (cls.get("name") if isinstance(cls, dict) else None)
        name = str(name) if name is not None else None
        out.extend((name, rings)
                   for rings in _polygons(geometry, f"features[{k}].geometry", seen))
    if not out:
        raise Her2kitInputError("no polygon in the ROI file", field="roi")
    return out


def read_roi_polygons(path: str) -> list[tuple[str | None, list[np.ndarray]]]:
    """Read a GeoJSON ROI file's polygons (see :func:`roi_polygons`)."""
    from her2kit.io.jsonio import read_json_any

    return roi_polygons(read_json_any(path))


def roi_mask_from_geojson(doc: Any, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise the polygons of a GeoJSON document to a boolean mask.

    Parameters
    ----------
    doc : dict or list
        A FeatureCollection, Feature, list of Features, or bare (Multi)Polygon,
        in level-0 pixel coordinates.
    shape : tuple of int
        (rows, cols) of the image.

    Returns
    -------
    ndarray of bool, shape `shape`

    Raises
    ------
    Her2kitInputError
        No polygon, malformed coordinates (naming where: ``features[0].geometry
        .coordinates[0][2]``), more than ``MAX_ROI_VERTICES`` vertices, or a region that
        lies wholly outside the image.
    """
    polygons, seen = [], [0]
    for k, feature in enumerate(_features(doc)):
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict):
            raise Her2kitInputError("a feature has no geometry", field="roi")
        polygons.extend(_polygons(geometry, f"features[{k}].geometry", seen))
    mask = np.zeros(shape, dtype=bool)
    n_polygons = 0
    for rings in polygons:
        for i, ring in enumerate(rings):
            drawn = polygon_mask(ring[:, 1], ring[:, 0], shape)
            if drawn is not None:
                mask[drawn[0]][drawn[1]] = i == 0  # outer ring adds, holes remove
        n_polygons += 1
    if n_polygons == 0:
        raise Her2kitInputError("no polygon in the ROI file", field="roi")
    if not mask.any():
        raise Her2kitInputError(
            f"the ROI lies outside the image ({shape[1]}×{shape[0]} px; coordinates must be "
            "level-0 pixels)", field="roi")
    return mask


def read_roi_mask(path: str | None, shape: tuple[int, int]) -> np.ndarray | None:
    """Read a GeoJSON ROI file and rasterise it (see :func:`roi_mask_from_geojson`).

    Returns None when ``path`` is None (no ROI: the whole image counts).
    """
    if path is None:
        return None
    from her2kit.io.jsonio import read_json_any

    return roi_mask_from_geojson(read_json_any(path), shape)

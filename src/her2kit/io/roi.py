"""Regions of interest from GeoJSON (as QuPath exports them), rasterised to a mask.

:func:`roi_mask_from_geojson` works on parsed JSON; :func:`read_roi_mask` reads the file
(a path, or ``-`` for standard input) first.
Coordinates are level-0 pixels, x to the right (columns) and y down (rows).
Polygon holes (second and later rings) are removed from the region.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skimage.draw import polygon as draw_polygon

from her2kit.errors import Her2kitInputError

__all__ = ["read_roi_mask", "roi_mask_from_geojson"]


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


def _polygons(geometry: dict[str, Any]) -> list[list[list[list[float]]]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Polygon":
        return [coords]
    if kind == "MultiPolygon":
        return list(coords)
    raise Her2kitInputError(
        f"ROI geometry {kind!r} has no area; use Polygon or MultiPolygon", field="roi")


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
        No polygon, malformed coordinates, or a region that lies wholly
        outside the image.
    """
    mask = np.zeros(shape, dtype=bool)
    n_polygons = 0
    for feature in _features(doc):
        geometry = feature.get("geometry")
        if not isinstance(geometry, dict):
            raise Her2kitInputError("a feature has no geometry", field="roi")
        for rings in _polygons(geometry):
            try:
                arrays = [np.asarray(r, dtype=float)[:, :2] for r in rings]
            except (ValueError, IndexError, TypeError):
                raise Her2kitInputError("malformed polygon coordinates", field="roi") from None
            for i, ring in enumerate(arrays):
                if len(ring) < 3 or not np.isfinite(ring).all():
                    raise Her2kitInputError("a polygon ring has fewer than 3 finite points",
                                            field="roi")
                rr, cc = draw_polygon(ring[:, 1], ring[:, 0], shape=shape)
                mask[rr, cc] = i == 0  # outer ring adds, holes remove
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

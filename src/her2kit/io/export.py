"""Per-cell exports: CSV or Parquet tables and QuPath-importable GeoJSON.

Pure functions that build bytes or JSON-ready dicts; the pipelines call them and the CLI
writes the bytes.
GeoJSON cells follow QuPath's export: ``objectType: "cell"``, a
``classification`` with name and colour, ``measurements``, the cell outline as
``geometry`` and the nucleus outline as ``nucleusGeometry``, in level-0 pixel
coordinates (x = column, y = row).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import approximate_polygon, find_contours

__all__ = [
    "cells_geojson", "csv_bytes", "fish_ome_tiff_bytes", "png_bytes", "table_bytes",
    "table_format", "tiff_bytes",
]

# QuPath-friendly class names: the per-cell membrane class.
_QUPATH_NAMES = MappingProxyType({
    "complete_intense": "HER2 complete intense",
    "complete_weak_moderate": "HER2 complete weak-moderate",
    "incomplete_moderate_intense": "HER2 incomplete moderate-intense",
    "incomplete_faint": "HER2 incomplete faint",
    "none": "HER2 no membrane staining",
})


def png_bytes(image: np.ndarray) -> bytes:
    """An 8-bit RGB or grey array encoded as PNG (Pillow's default settings)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def tiff_bytes(image: np.ndarray, *, pixel_size_um: float) -> bytes:
    """An image as TIFF with its pixel size in the resolution tags (pixels per centimetre)."""
    import tifffile

    buf = io.BytesIO()
    per_cm = 1e4 / pixel_size_um  # TIFF resolution in pixels per centimetre
    tifffile.imwrite(buf, image, resolution=(per_cm, per_cm), resolutionunit="CENTIMETER")
    return buf.getvalue()


def fish_ome_tiff_bytes(image: np.ndarray, *, pixel_size_um: float,
                        channel_names: Sequence[str]) -> bytes:
    """A (rows, cols, channels) fluorescence field as OME-TIFF (axes ``CYX``), with its
    pixel size in µm and the channel names in OME-XML."""
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.moveaxis(image, -1, 0), ome=True, metadata={
        "axes": "CYX", "PhysicalSizeX": pixel_size_um, "PhysicalSizeY": pixel_size_um,
        "PhysicalSizeXUnit": "µm", "PhysicalSizeYUnit": "µm",
        "Channel": {"Name": list(channel_names)}})
    return buf.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A header and rows as CSV (``\\n`` line ends, UTF-8)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(list(header))
    writer.writerows(rows)
    return text.getvalue().encode()


def table_format(path: str | Path) -> str:
    """``"parquet"`` for a ``.parquet`` path, else ``"csv"``."""
    return "parquet" if Path(path).suffix.lower() == ".parquet" else "csv"


def table_bytes(rows: list[dict[str, Any]], *, fmt: str) -> bytes:
    """Per-cell or per-nucleus rows (one dict each) as ``"csv"`` or ``"parquet"`` bytes.

    Parquet needs pyarrow (the ``parquet`` extra).
    """
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pylist(rows), buf)
        return buf.getvalue()
    if fmt != "csv":
        raise ValueError(f"unknown table format {fmt!r}")
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ["id"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def _outline(mask: np.ndarray, offset_rc: tuple[int, int], tolerance_px: float) -> list | None:
    """Closed (x, y) ring of the largest contour of a small mask, or None."""
    padded = np.pad(mask, 1)
    contours = find_contours(padded.astype(np.float32), 0.5)
    if not contours:
        return None
    ring = max(contours, key=len)
    ring = approximate_polygon(ring, tolerance=tolerance_px)
    if len(ring) < 4:
        return None
    r0, c0 = offset_rc
    xy = [[round(float(c) - 1 + c0, 2), round(float(r) - 1 + r0, 2)] for r, c in ring]
    if xy[0] != xy[-1]:
        xy.append(xy[0])
    return xy


def cells_geojson(result, *, class_colors: Mapping[str, tuple[int, int, int]],
                  only_counted: bool = False, tolerance_px: float = 0.5,
                  seed: int = 0) -> dict[str, Any]:
    """QuPath-importable FeatureCollection of cells with nucleus outlines.

    Parameters
    ----------
    result : IhcImageResult
    class_colors : mapping of str to (int, int, int)
        RGB colour of each membrane class (the overlay's table,
        :data:`her2kit.viz.colors.CLASS_COLORS`); io does not import viz.
    only_counted : bool
        Export only cells inside the ROI.
    tolerance_px : float
        Outline simplification tolerance (pixels).
    seed : int
        Seed of the feature ids, so exports are reproducible.
    """
    cells = result.cells
    cell_slices = ndi.find_objects(result.cell_labels)
    rng = np.random.default_rng(seed)
    features = []
    for i in range(len(cells)):
        if only_counted and not cells.counted[i]:
            continue
        label = int(cells.label[i])
        sl = cell_slices[label - 1] if label - 1 < len(cell_slices) else None
        if sl is None:
            continue
        offset = (sl[0].start, sl[1].start)
        cell_ring = _outline(result.cell_labels[sl] == label, offset, tolerance_px)
        nucleus_ring = _outline(result.nuclei_labels[sl] == label, offset, tolerance_px)
        if cell_ring is None:
            continue
        name = str(cells.class_name[i])
        props: dict[str, Any] = {
            "objectType": "cell",
            "classification": {"name": _QUPATH_NAMES[name], "color": list(class_colors[name])},
            "measurements": {
                "Cell: Area µm^2": float(cells.area_um2[i]),
                "Nucleus: Area µm^2": float(cells.nucleus_area_um2[i]),
                "Membrane: DAB OD mean": float(cells.membrane_dab_od_mean[i]),
                "Membrane: DAB OD stained mean": float(cells.membrane_dab_od_stained[i]),
                "Membrane: completeness %": float(cells.completeness_pct[i]),
                "Counted (in ROI)": float(bool(cells.counted[i])),
            },
        }
        if nucleus_ring is not None:
            props["nucleusGeometry"] = {"type": "Polygon", "coordinates": [nucleus_ring]}
        features.append({
            "type": "Feature",
            "id": str(uuid.UUID(bytes=rng.bytes(16), version=4)),
            "geometry": {"type": "Polygon", "coordinates": [cell_ring]},
            "properties": props,
        })
    return {"type": "FeatureCollection", "features": features}

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
import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import numpy as np

from her2kit.imaging.outlines import LabelOutlines, label_outlines

__all__ = [
    "CellBatch", "cell_batch", "cells_geojson", "cells_geojson_bytes", "csv_bytes",
    "fish_ome_tiff_bytes", "iter_cells_geojson", "png_bytes", "table_bytes", "table_format",
    "tiff_bytes", "write_cells_geojson",
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


@dataclass(frozen=True, eq=False)
class CellBatch:
    """The cells of one image or tile, ready for :func:`write_cells_geojson`.

    Attributes
    ----------
    label : ndarray of int, shape (n,)
        Each cell's label in the label images the outlines were traced from.
    class_name : ndarray of str, shape (n,)
        Membrane class of each cell (a key of ``class_colors``).
    measurements : mapping of str to ndarray of float, shape (n,)
        QuPath measurement name → one value per cell (non-finite values are written as
        null).
    cell_outlines : her2kit.imaging.outlines.LabelOutlines
        Cell rings by label; a cell without one is left out.
    nucleus_outlines : her2kit.imaging.outlines.LabelOutlines or None
        Nucleus rings by label (``nucleusGeometry``), when known.
    offset_xy : (float, float)
        Added to every coordinate: the tile's top-left pixel in level-0 pixels.
    """

    label: np.ndarray
    class_name: np.ndarray
    measurements: Mapping[str, np.ndarray]
    cell_outlines: LabelOutlines
    nucleus_outlines: LabelOutlines | None = None
    offset_xy: tuple[float, float] = (0.0, 0.0)


def cell_batch(result, *, only_counted: bool = False) -> CellBatch:
    """The cells of an :class:`~her2kit.imaging.ihc.score.IhcImageResult` as a
    :class:`CellBatch` (outlines traced on the result's geometry grid)."""
    cells = result.cells
    grid_um = result.parameters.get("geometry_pixel_size_um", result.pixel_size_um)
    block = max(1, round(float(grid_um) / float(result.pixel_size_um)))
    keep = np.asarray(cells.counted, bool) if only_counted else np.ones(len(cells), bool)
    measurements = {
        "Cell: Area µm^2": cells.area_um2,
        "Nucleus: Area µm^2": cells.nucleus_area_um2,
        "Membrane: DAB OD mean": cells.membrane_dab_od_mean,
        "Membrane: DAB OD stained mean": cells.membrane_dab_od_stained,
        "Membrane: completeness %": cells.completeness_pct,
        "Counted (in ROI)": np.asarray(cells.counted, bool).astype(np.float64),
    }
    return CellBatch(
        label=np.asarray(cells.label)[keep], class_name=np.asarray(cells.class_name)[keep],
        measurements=MappingProxyType({k: np.asarray(v)[keep] for k, v in measurements.items()}),
        cell_outlines=label_outlines(result.cell_labels, block_px=block),
        nucleus_outlines=label_outlines(result.nuclei_labels, block_px=block))


def _ring_texts(outlines: LabelOutlines, rings: np.ndarray, offset_xy) -> list[str]:
    """``[[x,y],...,[x0,y0]]`` (closed) of each ring number in ``rings``, as JSON text.
    Coordinates are multiples of 0.5 px (plus the offset): each distinct value is
    formatted once (Python's float repr, as :func:`json.dumps` writes it)."""
    if len(rings) == 0:
        return []
    starts, stops = outlines.offsets[rings], outlines.offsets[rings + 1]
    counts = stops - starts
    idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    xy = outlines.xy[idx] + np.asarray(offset_xy, dtype=np.float64)
    twice = xy * 2
    if np.all(twice == np.round(twice)) and np.ptp(twice) < 1e7:
        k = twice.astype(np.int64)
        low = int(k.min())
        table = [repr((low + i) / 2) for i in range(int(k.max()) - low + 1)]
        kx, ky = (k[:, 0] - low).tolist(), (k[:, 1] - low).tolist()
        points = [f"[{table[a]},{table[b]}]" for a, b in zip(kx, ky, strict=True)]
    else:
        points = [f"[{a!r},{b!r}]" for a, b in xy.tolist()]
    ends = np.cumsum(counts).tolist()
    return [f"[{','.join(points[a:b])},{points[a]}]"
            for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def _ring_numbers(outlines: LabelOutlines | None, labels: np.ndarray) -> np.ndarray:
    """Ring number of each label in ``outlines``, -1 where it has none."""
    if outlines is None or len(outlines.labels) == 0:
        return np.full(len(labels), -1, np.int64)
    at = np.minimum(np.searchsorted(outlines.labels, labels), len(outlines.labels) - 1)
    return np.where(outlines.labels[at] == labels, at, -1)


def _number(v: float) -> str:
    return repr(v) if math.isfinite(v) else "null"


def _feature_texts(batch: CellBatch, rows: np.ndarray, ids: list[str],
                   classes: Mapping[str, str]) -> list[str]:
    """The Feature JSON text of each cell ``rows`` of ``batch`` (all with a cell ring)."""
    cell_rings = _ring_numbers(batch.cell_outlines, batch.label[rows])
    nucleus_rings = _ring_numbers(batch.nucleus_outlines, batch.label[rows])
    cell_text = _ring_texts(batch.cell_outlines, cell_rings, batch.offset_xy)
    has_nucleus = nucleus_rings >= 0
    nucleus_text = iter(_ring_texts(batch.nucleus_outlines, nucleus_rings[has_nucleus],
                                    batch.offset_xy) if has_nucleus.any() else [])
    keys = [json.dumps(k) for k in batch.measurements]
    values = [np.asarray(v, np.float64)[rows].tolist() for v in batch.measurements.values()]
    names = batch.class_name[rows].tolist()
    out = []
    for i in range(len(rows)):
        meas = ",".join(f"{k}:{_number(v[i])}" for k, v in zip(keys, values, strict=True))
        nucleus = (',"nucleusGeometry":{"type":"Polygon","coordinates":['
                   f"{next(nucleus_text)}]}}" if has_nucleus[i] else "")
        out.append(f'{{"type":"Feature","id":"{ids[i]}","geometry":{{"type":"Polygon",'
                   f'"coordinates":[{cell_text[i]}]}},"properties":{{"objectType":"cell",'
                   f'"classification":{classes[names[i]]},"measurements":{{{meas}}}'
                   f"{nucleus}}}}}")
    return out


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` version-4 UUID strings from ``rng`` (reproducible feature ids)."""
    raw = np.frombuffer(rng.bytes(16 * n), np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    h = raw.tobytes().hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-{h[i + 12:i + 16]}-{h[i + 16:i + 20]}-"
            f"{h[i + 20:i + 32]}" for i in range(0, 32 * n, 32)]


def iter_cells_geojson(batches: Iterable[CellBatch], *,
                       class_colors: Mapping[str, tuple[int, int, int]], seed: int = 0,
                       chunk_cells: int = 4096) -> Iterator[bytes]:
    """A QuPath-importable FeatureCollection of cells, as UTF-8 chunks.

    Parameters
    ----------
    batches : iterable of CellBatch
        Cells of one image, or of the tiles of a slide (each with its ``offset_xy``),
        consumed one at a time: only one batch and one chunk of text are held.
    class_colors : mapping of str to (int, int, int)
        RGB colour of each membrane class (:data:`her2kit.viz.colors.CLASS_COLORS`).
    seed : int, optional
        Seed of the feature ids (version-4 UUIDs), so exports are reproducible.
    chunk_cells : int, optional
        Cells per yielded chunk.

    Yields
    ------
    bytes
        Consecutive pieces of one JSON document; ``b"".join`` them, or write them to
        any binary stream (a file, :class:`gzip.GzipFile`, a socket).
    """
    rng = np.random.default_rng(seed)
    classes = {name: json.dumps({"name": _QUPATH_NAMES.get(name, name),
                                 "color": [int(v) for v in rgb]}, separators=(",", ":"))
               for name, rgb in class_colors.items()}
    yield b'{"type":"FeatureCollection","features":['
    sep = ""
    for batch in batches:
        rows = np.flatnonzero(_ring_numbers(batch.cell_outlines, batch.label) >= 0)
        for start in range(0, len(rows), chunk_cells):
            part = rows[start:start + chunk_cells]
            texts = _feature_texts(batch, part, _uuids(rng, len(part)), classes)
            yield (sep + ",".join(texts)).encode()
            sep = ","
    yield b"]}"


def write_cells_geojson(stream: BinaryIO, batches: Iterable[CellBatch], *,
                        class_colors: Mapping[str, tuple[int, int, int]],
                        seed: int = 0) -> int:
    """Write the cells of ``batches`` to a binary ``stream`` as one GeoJSON
    FeatureCollection (:func:`iter_cells_geojson`); returns the bytes written.

    ``stream`` may be ``gzip.open(path, "wb")`` for a ``.geojson.gz``.
    """
    written = 0
    for chunk in iter_cells_geojson(batches, class_colors=class_colors, seed=seed):
        stream.write(chunk)
        written += len(chunk)
    return written


def cells_geojson_bytes(result, *, class_colors: Mapping[str, tuple[int, int, int]],
                        only_counted: bool = False, seed: int = 0) -> bytes:
    """The cells of one :class:`~her2kit.imaging.ihc.score.IhcImageResult` as GeoJSON
    bytes (``score-ihc --geojson``)."""
    return b"".join(iter_cells_geojson([cell_batch(result, only_counted=only_counted)],
                                       class_colors=class_colors, seed=seed))


def cells_geojson(result, *, class_colors: Mapping[str, tuple[int, int, int]],
                  only_counted: bool = False, seed: int = 0) -> dict[str, Any]:
    """QuPath-importable FeatureCollection of cells with nucleus outlines, parsed.

    Parameters
    ----------
    result : IhcImageResult
    class_colors : mapping of str to (int, int, int)
        RGB colour of each membrane class (the overlay's table,
        :data:`her2kit.viz.colors.CLASS_COLORS`); io does not import viz.
    only_counted : bool
        Export only cells inside the ROI.
    seed : int
        Seed of the feature ids, so exports are reproducible.

    Notes
    -----
    Outlines follow the pixel edges of each cell's largest 4-connected part
    (:func:`her2kit.imaging.outlines.label_outlines`): the polygon holds exactly the
    centres of the part's pixels. Coordinates are level-0 pixels, pixel centres at
    integers, so every corner is at a half-integer.
    """
    return json.loads(cells_geojson_bytes(result, class_colors=class_colors,
                                          only_counted=only_counted, seed=seed))

"""Reading a lab's control list and IHC calibration files (``her2kit calibrate``).

The control list is a CSV with a header and the columns ``file``, ``score`` (0, 1+, 2+,
3+), ``tissue`` (breast, gastric) and optionally ``mpp`` (µm per pixel); ``file`` is
relative to the CSV's folder unless absolute. The calibration file is the JSON object
:meth:`her2kit.pipelines.calibrate.Calibration.as_dict` writes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from her2kit.errors import Her2kitInputError
from her2kit.io.jsonio import load_json_object, read_json_object

__all__ = ["ControlRow", "default_calibration_text", "read_calibration", "read_controls_csv"]

_SCORES = ("0", "1+", "2+", "3+")
_TISSUES = ("breast", "gastric")
DEFAULT_CALIBRATION = "ihc_calibration_default.json"


@dataclass(frozen=True)
class ControlRow:
    """One labelled control image: path, known score, tissue, pixel size (µm) or None."""

    path: Path
    score: str
    tissue: str
    mpp: float | None


def read_controls_csv(path: str | Path) -> list[ControlRow]:
    """Read and check a control list.

    Raises
    ------
    Her2kitInputError
        Missing file or column, an unknown score or tissue, a bad ``mpp``, no rows.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise Her2kitInputError(f"cannot read {p}: {exc.strerror}", field="CONTROLS_CSV"
                                ) from None
    reader = csv.DictReader(text.splitlines())
    need = {"file", "score", "tissue"}
    if reader.fieldnames is None or need - set(reader.fieldnames):
        raise Her2kitInputError(f"{p}: expected the columns file, score, tissue (and "
                                "optionally mpp)", field="CONTROLS_CSV")
    rows = []
    for i, r in enumerate(reader, start=2):
        score, tissue = (r["score"] or "").strip(), (r["tissue"] or "").strip().lower()
        if score not in _SCORES or tissue not in _TISSUES:
            raise Her2kitInputError(f"{p} line {i}: expected a score in {_SCORES} and a "
                                    f"tissue in {_TISSUES}, got {score!r}, {tissue!r}",
                                    field="CONTROLS_CSV")
        mpp = _mpp((r.get("mpp") or "").strip(), p, i)
        f = Path((r["file"] or "").strip())
        rows.append(ControlRow(f if f.is_absolute() else p.parent / f, score, tissue, mpp))
    if not rows:
        raise Her2kitInputError(f"{p}: no control rows", field="CONTROLS_CSV")
    return rows


def _mpp(v: str, p: Path, line: int) -> float | None:
    if not v:
        return None
    try:
        mpp = float(v)
    except ValueError:
        mpp = float("nan")
    if not 0.05 <= mpp <= 20:
        raise Her2kitInputError(f"{p} line {line}: expected mpp 0.05–20 µm, got {v!r}",
                                field="CONTROLS_CSV")
    return mpp


def read_calibration(path: str | Path | None) -> dict[str, Any]:
    """The calibration JSON object at ``path``; None: the default shipped with her2kit."""
    if path is None:
        return load_json_object(default_calibration_text(), source="default calibration")
    return read_json_object(str(path))


def default_calibration_text() -> str:
    """The text of the default calibration (fitted on the shared real images only)."""
    return resources.files("her2kit").joinpath("data", DEFAULT_CALIBRATION).read_text(
        encoding="utf-8")

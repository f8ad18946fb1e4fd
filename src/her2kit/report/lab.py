"""The performing laboratory: name, address and CLIA number, from a lab settings file.

A case names its laboratory in ``"lab"``: the path of a lab settings file
(relative to the case file; the same file serves every case of that
laboratory, e.g. ``examples/report/lab.json``), or the same object inline.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from her2kit.casefile import LabFacts
from her2kit.errors import Her2kitInputError
from her2kit.io.jsonio import read_json_object, validation_error_line

__all__ = ["load_lab_settings"]


def load_lab_settings(lab: str | LabFacts | None, *,
                      base_dir: Path | None = None) -> LabFacts | None:
    """The case's laboratory; ``None`` when the case names none.

    Raises
    ------
    Her2kitInputError
        Unreadable file, unknown keys or a malformed CLIA number.
    """
    if lab is None or isinstance(lab, LabFacts):
        return lab
    p = Path(lab)
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    try:
        return LabFacts.model_validate(read_json_object(str(p)))
    except ValidationError as exc:
        raise Her2kitInputError(validation_error_line(exc, root="lab"), field=str(p)) from None

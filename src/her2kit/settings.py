"""Process-wide limits and defaults, declared once (in the manner of datasette's ``SETTINGS``).

Each entry is a :class:`Setting` ``(name, value, unit, help)``; units are in the names too
(``_px``, ``_s``). The table is immutable and nothing here reads the environment: a caller
that wants another limit passes it to the function that takes it (``max_pixels=...``).

>>> value("score_ihc_max_pixels")
400000000
>>> SETTINGS_BY_NAME["ish_max_field_pixels"].unit
'px'
"""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

__all__ = ["SETTINGS", "SETTINGS_BY_NAME", "Setting", "value"]


class Setting(NamedTuple):
    """One declared limit or default."""

    name: str
    value: int | float | str
    unit: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("score_ihc_max_pixels", 400_000_000, "px",
            "Largest image score-ihc (io.images.read_image) decodes, rows x cols: a 20k x 20k "
            "region; whole slides go through a slide reader instead."),
    Setting("ish_max_field_pixels", 100_000_000, "px",
            "Largest ISH field plane (rows x cols) the ISH readers decode: counting holds a few "
            "float32 copies of each channel (~40 bytes per pixel for a three-channel FISH "
            "field, measured), so 100 Mpx needs ~4 GB."),
    Setting("ish_max_samples_per_pixel", 10, "samples/px",
            "A FISH z-stack or multi-channel file may hold this many samples (planes x "
            "channels) per allowed plane pixel."),
    Setting("json_max_bytes", 32 * 1024 * 1024, "bytes",
            "Largest JSON file (case, result, ROI, trials) read: a whole-slide count of a few "
            "hundred thousand nuclei is a few MB; parsing costs ~30x the file size in memory."),
    Setting("report_out_dir", "out/report", "path",
            "Folder `her2kit report` writes into when --out is not given."),
    Setting("trials_timeout_s", 10.0, "s",
            "Seconds `her2kit trials` waits for ClinicalTrials.gov."),
    Setting("trials_max_studies", 10, "studies",
            "Most studies `her2kit trials` lists."),
)

SETTINGS_BY_NAME: MappingProxyType[str, Setting] = MappingProxyType(
    {s.name: s for s in SETTINGS})


def value(name: str) -> int | float | str:
    """The declared value of setting ``name`` (KeyError for an unknown name)."""
    return SETTINGS_BY_NAME[name].value

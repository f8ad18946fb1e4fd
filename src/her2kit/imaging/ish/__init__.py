"""ISH image analysis: spots, probe signals, nucleus selection, counting, pooling of fields.

Modules, in the order the data flows
------------------------------------
channels
    :class:`FishImage` (DAPI, HER2, CEP17 planes, z-projected) and the brightfield check.
spots
    :func:`detect_spots`, Laplacian-of-Gaussian spots with a robust (valley) threshold.
signals
    Stage 2: each probe's signals, crosstalk, local background, clusters; the quality
    measures (stage 4). Nucleus segmentation (stage 1) is
    :mod:`her2kit.imaging.segment.ish_nuclei`.
fishdots, diffuse, doublets
    FISH detections in stage 2: threshold cap for faint dots, measured bleed-through,
    autofluorescent granules; diffuse blobs; touching doublets.
selection
    Stage 3: which nuclei are counted, and why the others are not.
count
    :func:`count_fish`, :func:`count_brightfield_ish` (one image and its
    :class:`FishOptions` / :class:`BrightfieldIshOptions`) and
    :func:`count_ish_channels`, the stages in a row over arrays.
results, fields
    The frozen result types; :func:`pool_fields` over several fields of one slide.

Nothing here applies a guideline limit: :mod:`her2kit.pipelines.ish` reads the counts
and quality measures against :mod:`her2kit.guideline`. Names are loaded on first use.
"""

from __future__ import annotations

import importlib

__all__ = [
    "BrightfieldIshOptions",
    "ClusterRecord",
    "FishImage",
    "FishOptions",
    "IshFieldsResult",
    "IshImageResult",
    "JpegSource",
    "NucleusRecord",
    "ProbeSignals",
    "SpotDetection",
    "count_brightfield_ish",
    "count_fish",
    "count_ish_channels",
    "detect_spots",
    "fish_from_arrays",
    "fish_from_rgb",
    "fish_from_stack",
    "pool_fields",
]

_WHERE = {
    "BrightfieldIshOptions": "count",
    "FishOptions": "count",
    "count_brightfield_ish": "count",
    "count_fish": "count",
    "count_ish_channels": "count",
    "ClusterRecord": "results",
    "IshImageResult": "results",
    "NucleusRecord": "results",
    "ProbeSignals": "results",
    "IshFieldsResult": "fields",
    "pool_fields": "fields",
    "JpegSource": "jpeg",
    "SpotDetection": "spots",
    "detect_spots": "spots",
    "FishImage": "channels",
    "fish_from_arrays": "channels",
    "fish_from_rgb": "channels",
    "fish_from_stack": "channels",
}


def __getattr__(name: str):
    # Lazy, so that importing one submodule (e.g. spots from the segmentation helpers)
    # does not import the whole counter.
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)

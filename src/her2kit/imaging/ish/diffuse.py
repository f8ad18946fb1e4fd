"""Diffuse blobs that pass a FISH probe's threshold but are not dots.

Chromatin texture seen through the probe filters (bright, textured DAPI bleeding into
the red and green channels) and out-of-focus haze make faint maxima wider than the
field's dots. A technologist counts "a compact bright spot" and skips "diffuse green
blobs of nuclear texture size unless clearly brighter than the texture" (the hand
reference's rules, tests/data/ish_reference/README.md). A detection is dropped when it
is both weak (LoG response below ``DIFFUSE_MAX_RELATIVE`` x the threshold) and wide
(apparent s.d., :func:`~her2kit.imaging.ish.quality.dot_width_um`, above
``width_factor`` x the median of the channel's clear dots): a strong wide spot is
kept (it may be a small cluster), a weak dot of the field's own width is kept (it may
be a faint signal), and a field where every dot is blurred keeps its dots (the width
is relative to its own).
"""

from __future__ import annotations

import numpy as np

from her2kit.imaging.ish.quality import dot_width_um
from her2kit.imaging.ish.spots import SpotDetection

__all__ = ["DIFFUSE_MAX_RELATIVE", "drop_diffuse"]

#: Only detections below this multiple of the threshold may be dropped as diffuse:
#: the quality flags' "weak" signals (``WEAK_SIGNAL_FACTOR``).
DIFFUSE_MAX_RELATIVE = 1.5


def drop_diffuse(channel: np.ndarray, det: SpotDetection, *, pixel_size_um: float,
                 spot_sigma_um: float, width_factor: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Which detections to keep, and their apparent widths (µm).

    Parameters
    ----------
    channel : (rows, cols) ndarray
        The probe channel.
    det : SpotDetection
        Its detections.
    pixel_size_um, spot_sigma_um : float
        µm per pixel and the detection scale, µm.
    width_factor : float
        Wide = above this x the median width of the clear detections (0 = keep all).

    Returns
    -------
    keep : (n,) ndarray of bool
    width_um : (n,) ndarray of float
    """
    n = det.n
    if n == 0 or not width_factor > 0:
        return np.ones(n, bool), np.zeros(n)
    width = dot_width_um(channel, det.coords_px, det.response, pixel_size_um=pixel_size_um,
                         spot_sigma_um=spot_sigma_um)
    rel = det.response / np.float32(det.threshold)
    clear = (rel >= DIFFUSE_MAX_RELATIVE) & np.isfinite(width)
    if clear.sum() < 5:
        return np.ones(n, bool), width
    typical = float(np.median(width[clear]))
    return ~((rel < DIFFUSE_MAX_RELATIVE) & (width > width_factor * typical)), width

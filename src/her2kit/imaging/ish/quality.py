"""Field quality measures of an ISH count, each with its share: focus of the signals,
countable nuclei, signals outside nuclei, weak signals, heavy background.

Measured, not judged against the guideline (that is
:func:`her2kit.guideline.ish_quality.ish_count_flags`); the one image flag raised
here, ``out_of_focus``, needs no guideline: a technologist does not count a field
whose dots are smeared.

Focus is read from the signals themselves, at the spot scale. A dot imaged as a
Gaussian of s.d. ``s`` has a scale-normalised LoG response ``2 A s² t² / (s² + t²)²``
at scale ``t`` (``A`` its height), so the ratio ``R`` of the responses at ``t = σ``
and ``t = 2σ`` (σ = the spot scale the counter was given) gives its width without
knowing its height: with ``x = s² / σ²``, ``√R = (x + 4) / (2 (x + 1))`` and
``x = (4 - 2√R) / (2√R - 1)``. An in-focus dot has ``s ≈ σ`` (``R`` ≈ 1.56); a
defocused one is wider (``s = 2σ``: ``R`` = 0.64). Chromatin texture is no help here:
its scale depends on the tissue, while the dots' is fixed by the optics.

The bound is scale-aware: a camera pixel integrates over its width ``p``, which widens
every dot by a variance of ``p² / 12`` whatever the focus, and a probe channel that
the counter itself took at a coarser resolution than the pixels (Dual ISH red from
4:2:0 JPEG colour, one colour sample per 2 x 2 px:
:func:`~her2kit.imaging.ish.count.count_brightfield_ish`) is left out, its dots' width
being the colour grid's and not the optics'. On the tuning fields DISH1 / DISH3 at
0.25 µm/px from JPEG quality 80 their red dots read 0.50 / 0.45 µm (0.30 / 0.31 µm
without JPEG) and raised ``out_of_focus`` on a sharp field; the silver dots, which
the luminance carries at full resolution, read 0.30 / 0.30 µm.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from her2kit.imaging.filters import block_mean
from her2kit.imaging.ish.results import NucleusRecord, ProbeSignals

__all__ = [
    "BLURRED_DOT_FACTOR",
    "OUT_OF_FOCUS_SHARE",
    "FocusMeasure",
    "blurred_dot_limit_um",
    "dot_width_um",
    "quality_shares",
    "signal_focus",
]

#: A dot whose apparent s.d. exceeds this x the spot scale is blurred. Generated FISH
#: dots (PSF s.d. 0.2 µm, spot scale 0.25 µm) read a median 0.20-0.22 µm (0.8-0.9 x)
#: at 0.1 and 0.2 µm/px; blurred by a further Gaussian of 0.15 / 0.25 / 0.4 µm s.d.
#: they read 0.25 / 0.32 / 0.44 µm (1.0 / 1.3 / 1.8 x; the estimate follows
#: sqrt(0.2² + b²)), with 0 / 4 / 99 % of the dots above 1.5 x. The real FISH1 / FISH2
#: fields (at their assumed pixel sizes) read 0.21 / 0.24 µm, 4 / 0 % blurred.
BLURRED_DOT_FACTOR = 1.5

#: The field is ``out_of_focus`` when at least this share of its dots in counted
#: nuclei are blurred (the median dot is then blurred).
OUT_OF_FOCUS_SHARE = 0.5

#: Fewer dots than this in counted nuclei and the dots in every nucleus are measured:
#: a blurred field loses its counted nuclei first (generated Dual ISH at 0.25 µm/px,
#: blurred by 0.5 µm, JPEG 80: 2-4 nuclei counted with 0-1 silver dots outside
#: clusters, against 18-19 and 12-15 sharp), and its focus must still be read.
MIN_FOCUS_DOTS = 10


@dataclass(frozen=True)
class FocusMeasure:
    """The result of :func:`signal_focus`.

    Attributes
    ----------
    median_dot_sd_um : float or None
        Median apparent Gaussian s.d. of the dots in counted nuclei, µm (None when
        there are none).
    blurred_share : float or None
        Share of those dots wider than ``BLURRED_DOT_FACTOR`` x the spot scale (0-1).
    n_dots : int
        Dots measured.
    out_of_focus : bool
        ``blurred_share >= OUT_OF_FOCUS_SHARE``.
    limit_sd_um : float or None
        The apparent s.d. above which a dot is blurred, µm
        (:func:`blurred_dot_limit_um`).
    probes : tuple of int
        Indices (in the order given to :func:`signal_focus`) of the probes measured.
    all_nuclei : bool
        The dots of every nucleus were measured (fewer than :data:`MIN_FOCUS_DOTS` in
        counted nuclei).
    """

    median_dot_sd_um: float | None
    blurred_share: float | None
    n_dots: int
    out_of_focus: bool
    limit_sd_um: float | None = None
    probes: tuple[int, ...] = ()
    all_nuclei: bool = False


def blurred_dot_limit_um(*, pixel_size_um: float, spot_sigma_um: float) -> float:
    """The apparent dot s.d., µm, above which a dot is blurred at this pixel size.

    ``BLURRED_DOT_FACTOR`` x the spot scale, widened in quadrature by the pixel's own
    integration (a box ``pixel_size_um`` wide: variance ``pixel_size_um² / 12``), so
    that the same sharp dot is not called blurred because it was sampled coarser.

    Parameters
    ----------
    pixel_size_um, spot_sigma_um : float
        µm per pixel and the detection scale σ, µm.

    Returns
    -------
    float
        µm (σ = 0.3 µm: 0.456 at 0.25 µm/px, 0.450 at 0.065 µm/px).
    """
    return float(np.hypot(BLURRED_DOT_FACTOR * spot_sigma_um, pixel_size_um / np.sqrt(12.0)))


def dot_width_um(channel: np.ndarray, coords_px: np.ndarray, response: np.ndarray, *,
                 pixel_size_um: float, spot_sigma_um: float) -> np.ndarray:
    """Apparent Gaussian s.d. of each dot, µm, from its LoG responses at σ and 2σ.

    Parameters
    ----------
    channel : (rows, cols) ndarray
        The probe channel the dots were detected in.
    coords_px : (n, 2) ndarray
        Dot centres (row, col), px.
    response : (n,) ndarray
        Their scale-normalised LoG response at ``spot_sigma_um`` (as detected).
    pixel_size_um, spot_sigma_um : float
        µm per pixel and the detection scale σ, µm.

    Returns
    -------
    (n,) ndarray of float
        s.d. in µm; ``inf`` where the 2σ response is not positive or the ratio says
        wider than the 2σ probe can tell (``√R <= 0.5``), 0 where narrower than it
        can tell (``√R >= 2``).
    """
    n = len(coords_px)
    if n == 0:
        return np.zeros(0)
    sigma_px = spot_sigma_um / pixel_size_um
    r2 = _log_at(np.asarray(channel, np.float32), coords_px, 2.0 * sigma_px)
    out = np.full(n, np.inf)
    ok = (r2 > 0) & (np.asarray(response) > 0)
    q = np.sqrt(np.asarray(response, float)[ok] / r2[ok])
    x = np.where(q >= 2.0, 0.0, np.where(q <= 0.5, np.inf,
                                         (4.0 - 2.0 * q) / np.maximum(2.0 * q - 1.0, 1e-9)))
    out[ok] = spot_sigma_um * np.sqrt(x)
    return out


def _log_at(ch: np.ndarray, coords_px: np.ndarray, t_px: float) -> np.ndarray:
    """The scale-normalised negative LoG at scale ``t_px`` at each point (nearest pixel):
    the sampled kernel applied to each point's window only (the points are a few
    thousand, the image millions of pixels). Windows reach 4 t; beyond t = 2.5 px the
    image is block-averaged first so that windows stay about 21 px wide (the block
    mean's own blur, variance (f² - 1) / 12 px², is subtracted from the scale)."""
    f = max(1, int(t_px // 2.5))
    img = block_mean(ch, f) if f > 1 else ch
    t = float(np.sqrt(max(t_px**2 - (f * f - 1) / 12.0, 1.0))) / f
    rad = int(np.ceil(4.0 * t))
    y, x = np.mgrid[-rad : rad + 1, -rad : rad + 1].astype(np.float32)
    q = (x * x + y * y) / (2.0 * t * t)
    kernel = np.exp(-q) * (1.0 - q) / np.float32(np.pi * t * t)  # = -t² ∇²G
    kernel -= kernel.mean()  # a flat background gives 0
    rows, cols = img.shape
    rr = (np.rint(coords_px[:, 0]).astype(int) // f)[:, None, None]
    cc = (np.rint(coords_px[:, 1]).astype(int) // f)[:, None, None]
    win = img[np.clip(rr + y.astype(int), 0, rows - 1), np.clip(cc + x.astype(int), 0, cols - 1)]
    return np.einsum("nij,ij->n", win, kernel)


def signal_focus(channels: Sequence[np.ndarray], signals: Sequence[ProbeSignals],
                 counted_ids, *, pixel_size_um: float, spot_sigma_um: float,
                 coarse_probes: Sequence[int] = ()) -> FocusMeasure:
    """Focus of a field from the width of its dots in counted nuclei (all probes), or
    in every nucleus when counted nuclei hold fewer than :data:`MIN_FOCUS_DOTS`.

    Parameters
    ----------
    channels : sequence of (rows, cols) ndarray
        The probe channels, in the order of ``signals``.
    signals : sequence of ProbeSignals
        Their signals; dots in clusters are left out (a cluster is wide by nature).
    counted_ids : sequence of int
        Labels of the counted nuclei.
    pixel_size_um, spot_sigma_um : float
        µm per pixel and the detection scale, µm.
    coarse_probes : sequence of int, optional
        Indices of probes whose channel the counter took at a coarser resolution than
        the pixels (their dots' width is not the focus); left out unless every probe
        is.

    Returns
    -------
    FocusMeasure
    """
    ids = np.asarray(list(counted_ids), int)
    use = [k for k in range(len(signals)) if k not in set(coarse_probes)] or list(
        range(len(signals)))
    limit = blurred_dot_limit_um(pixel_size_um=pixel_size_um, spot_sigma_um=spot_sigma_um)
    pairs = [(channels[k], signals[k]) for k in use]
    w = _widths(pairs, lambda sig: np.isin(sig.nucleus_id, ids), pixel_size_um=pixel_size_um,
                spot_sigma_um=spot_sigma_um)
    every = w.size < MIN_FOCUS_DOTS
    if every:
        w = _widths(pairs, lambda sig: np.asarray(sig.nucleus_id) > 0,
                    pixel_size_um=pixel_size_um, spot_sigma_um=spot_sigma_um)
    if w.size == 0:
        return FocusMeasure(None, None, 0, False, limit, tuple(use), every)
    share = float(np.mean(w > limit))
    return FocusMeasure(float(np.median(w)), share, int(w.size), share >= OUT_OF_FOCUS_SHARE,
                        limit, tuple(use), every)


def _widths(pairs, where, *, pixel_size_um, spot_sigma_um) -> np.ndarray:
    """:func:`dot_width_um` of the dots ``where(signals)`` selects, clusters left out
    (a cluster is wide by nature), over every (channel, signals) pair."""
    out = [np.zeros(0)]
    for ch, sig in pairs:
        keep = where(sig) & ~np.asarray(sig.in_cluster, bool)
        if keep.any():
            out.append(dot_width_um(ch, sig.detection.coords_px[keep],
                                    sig.detection.response[keep],
                                    pixel_size_um=pixel_size_um, spot_sigma_um=spot_sigma_um))
    return np.concatenate(out)


def _low_contrast_share(channel, sig: ProbeSignals, counted: np.ndarray, bg, level_ratio: float
                        ) -> float | None:
    """Share of ``sig``'s dots in counted nuclei whose height over the local background
    is below ``level_ratio`` x the nuclear background level (the ``high_background``
    rule of :func:`~her2kit.imaging.ish.signals.signal_quality_stage`, per dot)."""
    keep = np.isin(sig.nucleus_id, counted)
    if bg is None or not keep.any():
        return None
    f = bg.factor
    rr = np.rint(sig.detection.coords_px[keep, 0]).astype(int)
    cc = np.rint(sig.detection.coords_px[keep, 1]).astype(int)
    gr = np.clip(rr // f, 0, bg.coarse.shape[0] - 1)
    gc = np.clip(cc // f, 0, bg.coarse.shape[1] - 1)
    height = np.asarray(channel, np.float32)[rr, cc] - bg.coarse[gr, gc]
    level = float(np.median(bg.coarse[gr, gc]))
    if not level > 0:
        return 0.0
    return float(np.mean(height < level_ratio * level))


def quality_shares(nuclei: Sequence[NucleusRecord], *, weak_signal_fraction,
                   outside_signal_fraction, focus: FocusMeasure, her2_channel,
                   her2: ProbeSignals, her2_background, level_ratio: float) -> dict:
    """The share behind each quality flag a technologist raises (0-1, None = no data).

    ``counted_nuclei_share``: counted / whole nuclei (segmented, not cut by the image
    edge; too few countable nuclei); ``out_of_focus_nuclei_share``: whole nuclei
    excluded as out of focus (DAPI or hematoxylin texture); ``signals_outside_nuclei_share``
    and ``weak_signal_share`` (the guideline's two measures); ``high_background_share``:
    HER2 dots in counted nuclei barely above the nuclear background;
    ``blurred_signal_share`` and ``median_dot_sd_um``: :func:`signal_focus`.
    """
    whole = [n for n in nuclei if n.exclusion_reason != "touches_image_edge"]
    nw = len(whole)
    counted = np.array([n.nucleus_id for n in whole if n.included], int)
    return {
        "counted_nuclei_share": counted.size / nw if nw else None,
        "out_of_focus_nuclei_share": (sum(n.exclusion_reason == "out_of_focus" for n in whole)
                                      / nw if nw else None),
        "signals_outside_nuclei_share": outside_signal_fraction,
        "weak_signal_share": weak_signal_fraction,
        "high_background_share": _low_contrast_share(her2_channel, her2, counted,
                                                     her2_background, level_ratio),
        "blurred_signal_share": focus.blurred_share,
        "median_dot_sd_um": focus.median_dot_sd_um,
    }

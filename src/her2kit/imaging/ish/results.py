"""The frozen result types of ISH counting: nuclei, clusters, probe signals, one image.

Guideline-free: an :class:`IshImageResult` holds what was measured (counts, means,
the shares of weak signals and of signals outside nuclei); the guideline's reading
of them (too few nuclei, too many weak signals, heterogeneity) is made in
:mod:`her2kit.pipelines.ish` with :mod:`her2kit.guideline.ish_quality`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from her2kit.imaging.ish.spots import SpotDetection

__all__ = ["ClusterRecord", "IshImageResult", "NucleusRecord", "ProbeSignals"]

@dataclass(frozen=True)
class NucleusRecord:
    """One row of the per-nucleus table.

    Attributes
    ----------
    nucleus_id : int
        Label in :attr:`IshImageResult.labels`.
    row, col : float
        Centroid, px.
    area_um2 : float
        Area, µm².
    her2, cep17 : int
        Copies counted (cluster estimates included); CEP17 is 0 for single probe.
    her2_clusters : int
        HER2 clusters in the nucleus.
    cluster_copies : int
        HER2 copies attributed to those clusters (estimated, included in ``her2``).
    included : bool
        Counted towards the means.
    exclusion_reason : str
        ``""`` when included, else one of :data:`EXCLUSION_REASONS`.
    focus : float
        Focus score: band-pass DAPI/hematoxylin texture over mean intensity (unitless).
    """

    nucleus_id: int
    row: float
    col: float
    area_um2: float
    her2: int
    cep17: int
    her2_clusters: int
    cluster_copies: int
    included: bool
    exclusion_reason: str
    focus: float


@dataclass(frozen=True)
class ClusterRecord:
    """A bright region counted as several copies.

    Attributes
    ----------
    probe : str
        ``"her2"`` or ``"cep17"``.
    row, col : float
        Intensity-weighted centre, px.
    nucleus_id : int
        0 when outside every nucleus.
    area_um2 : float
        Area above the cluster mask threshold, µm².
    integrated_intensity : float
        Background-subtracted intensity summed over the region (image units x px).
    copies : int
        Estimated copies: ``round(integrated_intensity / single_signal_intensity)``,
        at least the number of maxima inside.
    maxima : int
        Detected spot maxima inside the region.
    """

    probe: str
    row: float
    col: float
    nucleus_id: int
    area_um2: float
    integrated_intensity: float
    copies: int
    maxima: int


@dataclass(frozen=True, eq=False)
class ProbeSignals:
    """All signals of one probe with the evidence used to count them.

    Attributes
    ----------
    probe : str
    detection : SpotDetection
        Raw detections (threshold, noise, LoG responses).
    nucleus_id : (n,) ndarray of int32
        Nucleus of each detection (0 = outside nuclei).
    in_cluster : (n,) ndarray of bool
        Detection lies inside a cluster (its count is replaced by the cluster's).
    clusters : tuple of ClusterRecord
    single_signal_intensity : float or None
        Median integrated intensity of isolated single signals (image units x px),
        the cluster reference; None when fewer than 3 isolated signals exist.
    single_signal_area_um2 : float or None
        Median area of isolated single signals above the mask threshold, µm².
    mask_threshold : float or None
        Background-subtracted intensity threshold of the cluster mask (image units).
    merged_singles : int
        Dual ISH silver of a JPEG-degraded field: regions of one maximum left out of
        the single-signal references as merged copies (0 otherwise).
    maxima_capped : int
        Dual ISH: maxima left uncounted because their region outside clusters is
        smaller than that many single dots (``maxima_area_cap``; 0 otherwise).
    """

    probe: str
    detection: SpotDetection
    nucleus_id: np.ndarray
    in_cluster: np.ndarray
    clusters: tuple[ClusterRecord, ...]
    single_signal_intensity: float | None
    single_signal_area_um2: float | None
    mask_threshold: float | None
    merged_singles: int = 0
    maxima_capped: int = 0


@dataclass(frozen=True, eq=False)
class IshImageResult:
    """Counts of one ISH image, with the evidence behind them.

    Attributes
    ----------
    assay : str
        ``"fish"``, ``"dual-ish"`` or ``"cish"``.
    probe : str
        ``"dual"`` (HER2 + CEP17) or ``"single"`` (HER2 only).
    nuclei : tuple of NucleusRecord
        Every segmented nucleus, counted or not.
    labels : (rows, cols) ndarray of int32
        Nucleus label image.
    her2, cep17 : ProbeSignals or None
        Signals of each probe (``cep17`` None for single probe).
    n_counted : int
    her2_mean, cep17_mean : float or None
        Mean copies per counted nucleus (None when none counted / single probe).
    ratio : float or None
        ``her2_mean / cep17_mean`` (dual probe, cep17_mean > 0).
    weak_signal_fraction : float or None
        Share of the signals in counted nuclei whose LoG response is below
        ``WEAK_SIGNAL_FACTOR`` x the threshold (0-1; None when there are none).
    outside_signal_fraction : float or None
        Share of all detections that lie outside every nucleus (0-1; None when
        nothing was detected).
    image_flags : tuple of str
        Image-quality findings that need no guideline, in this order:
        ``no_single_signal_reference``, ``high_background``, ``out_of_focus`` (most
        dots in counted nuclei blurred; :mod:`her2kit.imaging.ish.quality`).
    pixel_size_um : float
    parameters : mapping
        Every parameter used, automatic thresholds included.
    quality_shares : mapping
        The share behind each quality flag (0-1; None = no data):
        :func:`~her2kit.imaging.ish.quality.quality_shares`.
    """

    assay: str
    probe: str
    nuclei: tuple[NucleusRecord, ...]
    labels: np.ndarray
    her2: ProbeSignals
    cep17: ProbeSignals | None
    n_counted: int
    her2_mean: float | None
    cep17_mean: float | None
    ratio: float | None
    weak_signal_fraction: float | None
    outside_signal_fraction: float | None
    image_flags: tuple[str, ...]
    pixel_size_um: float
    parameters: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    quality_shares: Mapping[str, float | None] = field(
        default_factory=lambda: MappingProxyType({}))

    @property
    def counted(self) -> tuple[NucleusRecord, ...]:
        """The included nuclei, in id order."""
        return tuple(n for n in self.nuclei if n.included)

    @property
    def nuclei_counts(self) -> list[list[int]]:
        """``[[her2, cep17], ...]`` per counted nucleus (the guideline's dual-probe input)."""
        return [[n.her2, n.cep17] for n in self.counted]

    @property
    def guideline_input(self) -> dict:
        """The ``ish`` block for :mod:`her2kit.guideline`.

        Dual probe: ``{"probe": "dual", "nuclei": [[h, c], ...]}``; single probe:
        ``{"probe": "single", "cells_counted": n, "her2_mean": x}``.
        """
        if self.probe == "dual":
            return {"probe": "dual", "nuclei": self.nuclei_counts}
        return {
            "probe": "single",
            "cells_counted": self.n_counted,
            "her2_mean": self.her2_mean if self.her2_mean is not None else 0.0,
        }

    def table(self) -> list[dict]:
        """The per-nucleus table as a list of dicts (CSV-ready, one per nucleus)."""
        return [
            {
                "id": n.nucleus_id,
                "centroid_row_px": round(n.row, 1),
                "centroid_col_px": round(n.col, 1),
                "area_um2": round(n.area_um2, 2),
                "her2": n.her2,
                "cep17": n.cep17,
                "her2_clusters": n.her2_clusters,
                "cluster_copies": n.cluster_copies,
                "included": n.included,
                "exclusion_reason": n.exclusion_reason,
            }
            for n in self.nuclei
        ]

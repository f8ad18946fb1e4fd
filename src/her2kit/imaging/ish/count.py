"""Per-nucleus HER2 / CEP17 signal counting for FISH, Dual ISH and single-probe CISH images.

The counter runs four stages over arrays, each with its frozen options and result
(the same stages are the per-tile function of whole-slide scoring):

1. Segmentation: :func:`~her2kit.imaging.segment.ish_nuclei.segment_nuclei_stage`
   (:class:`~her2kit.imaging.segment.ish_nuclei.SegmentationOptions`).
2. Probe signals: :func:`~her2kit.imaging.ish.signals.probe_signals_stage`
   (:class:`~her2kit.imaging.ish.signals.SignalOptions`): spots, crosstalk,
   background, clusters.
3. Nucleus selection: :func:`~her2kit.imaging.ish.selection.select_nuclei_stage`
   (:class:`~her2kit.imaging.ish.selection.SelectionOptions`).
4. Quality measures: :func:`~her2kit.imaging.ish.signals.signal_quality_stage`, then
   the dots' focus and the share behind each flag (:mod:`her2kit.imaging.ish.quality`).

:func:`count_ish_channels` chains them and records the evidence (every parameter
used, automatic thresholds included) in :attr:`IshImageResult.parameters`;
:func:`count_fish` and :func:`count_brightfield_ish` prepare the channels (for
brightfield, by stain separation) from one image and a :class:`FishOptions` or
:class:`BrightfieldIshOptions`.

The ISH group is *not* decided here, nor is any guideline limit applied:
:attr:`IshImageResult.guideline_input` is the ``ish`` block that
:mod:`her2kit.guideline` takes, and :mod:`her2kit.pipelines.ish` reads the
quality measures against the guideline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from her2kit.errors import Her2kitInputError, ImageInputError
from her2kit.imaging._validate import check_choice, check_pixel_size, check_positive
from her2kit.imaging.color.ish import (
    estimate_background_rgb,
    estimate_ish_stains,
    separate_ish_stains,
)
from her2kit.imaging.color.stains import CISH_STAINS, DUAL_ISH_STAINS, STAIN_VECTORS, unit_vector
from her2kit.imaging.ish.channels import FishImage, check_brightfield_rgb
from her2kit.imaging.ish.jpeg import JFIF_LUMA_WEIGHTS, JpegSource, assess_jpeg
from her2kit.imaging.ish.quality import quality_shares, signal_focus
from her2kit.imaging.ish.red import RED_REFERENCES, RedOptions
from her2kit.imaging.ish.results import IshImageResult
from her2kit.imaging.ish.selection import SelectionOptions, select_nuclei_stage
from her2kit.imaging.ish.signals import (
    CLUSTER_MIN_COPIES,
    CLUSTER_MIN_COPIES_BRIGHTFIELD,
    DEFAULT_CLUSTER_MAX_UM,
    DEFAULT_SPOT_SIGMA_UM,
    DENSE_OVERLAP_FACTOR,
    DENSE_SILVER_SHARE_DEFAULT,
    HIGH_BACKGROUND_RATIO,
    JPEG_MERGED_PEAK_FACTOR,
    PILED_PEAK_FACTOR,
    PLATEAU_AREA_PER_PEAK,
    REFERENCE_MODE_BANDWIDTH,
    SILVER_IN_RED_MAX_SHARE,
    SINGLE_SIGNAL_REFERENCES,
    SignalOptions,
    probe_signals_stage,
    signal_quality_stage,
    weak_reference,
)
from her2kit.imaging.ish.silver import (
    SILVER_DOT_FWHM_UM,
    SILVER_LOCAL_K,
    SILVER_LOCAL_MAX_FACTOR,
    SILVER_LOCAL_MIN_FACTOR,
    pixel_size_factor,
)
from her2kit.imaging.ish.spots import DEFAULT_K_MAD, THRESHOLD_METHODS
from her2kit.imaging.segment.ish_nuclei import (
    GEOMETRY_GRID_UM,
    SegmentationOptions,
    segment_nuclei_stage,
)

__all__ = [
    "MIN_NUCLEI_SILVER_ANGLE_DEG",
    "BrightfieldIshOptions",
    "FishOptions",
    "count_brightfield_ish",
    "count_fish",
    "count_ish_channels",
]

#: Silver and hematoxylin closer in OD direction than this (degrees) are not
#: separated by one 3-stain solve; see :func:`count_brightfield_ish`.
MIN_NUCLEI_SILVER_ANGLE_DEG = 15.0
#: Gaussian s.d., px, that brings luminance to the resolution of 4:2:0 JPEG colour
#: (one colour sample per 2x2 px; see :func:`_jpeg_chroma_amounts`). In px, not µm:
#: the JPEG grid is the file's pixels. Chosen on the tuning fields DISH1 / DISH3 at
#: 0.25 µm/px, quality 80 and 95 (0.7 and 1.5 px were worse on one field each;
#: benchmarks/README.md, "ISH from JPEG").
JPEG_CHROMA_SIGMA_PX = 1.0
#: Default of ``BrightfieldIshOptions.red_jpeg_faint_max_silver``: where the red amount
#: comes from the colour's resolution (4:2:0), a faint red candidate is red when the
#: silver LoG at it is at most this x its red LoG (lossless: ``red_faint_max_silver``,
#: 0). The colour of a 2-3 px red dot is spread over 2x2 px while its darkness stays
#: sharp, so part of its dark core reads as silver: on the realistic generator at 0.25
#: µm/px after JPEG 80 (mod-3.4 / mod-2.2 / high, seeds 1-3, truth positions) the faint
#: candidates that are true red dots read -0.25 to 0.24 (17 of 19; two 0.48 / 0.52),
#: lossless -0.27 to 0.17; those that are not read 0.02, 0.21, 0.29, 0.31 and 1.0-1.25;
#: on DISH3 (tuning field) the candidates at lossless red dots 0.06-0.29. 0.3 is where
#: a silver dot's red twin or grey haze starts at 0.065 µm/px (+0.3 to +1,
#: :func:`~her2kit.imaging.ish.red.add_faint_red`); 0.15 / 0.25 / 0.35 on six generated
#: fields (the same cases, seeds 1-2): CEP17 -10.4 / -8.7 / -8.2 % (benchmarks/README.md,
#: redjpeg).
JPEG_RED_FAINT_MAX_SILVER = 0.3
#: Bound of the luminance guide of the JPEG red amount (:func:`_jpeg_chroma_amounts`):
#: the gain (full-resolution luminance OD over that at the colour's resolution) never
#: exceeds this. A bound, not a setting: the gain's 99.9th percentile / maximum is
#: 1.39 / 1.76 on DISH3 at 0.25 µm/px after JPEG 80, 1.81 / 2.53 on a generated
#: amplified field; a lone dark pixel in glass could reach ~30.
JPEG_RED_LUMA_MAX_GAIN = 3.0
#: Luminance OD (base 10) under which a neighbourhood is taken as glass by that guide:
#: the gain's denominator is at least this. 0.02 OD is 4.5 % below the glass, paler
#: than any hematoxylin nucleus of the tuning fields (>= 0.1 OD), above camera noise
#: (1-2 grey levels of ~230: <= 0.004 OD).
JPEG_RED_LUMA_FLOOR_OD = 0.02


def _check_nuclei_split(options) -> None:
    """The touching-nucleus split settings both assays' options carry (with their own
    defaults): shape-split height and DAPI / hematoxylin valley split."""
    check_positive(options.nuclei_split_h_um, name="nuclei_split_h_um", unit="µm")
    if not 0 <= options.nuclei_core_fraction < 1:
        raise Her2kitInputError(
            f"expected 0 <= value < 1, got {options.nuclei_core_fraction}",
            field="nuclei_core_fraction")
    check_positive(options.nuclei_core_window_um, name="nuclei_core_window_um", unit="µm")


@dataclass(frozen=True)
class _CountOptions:
    """The options every counter shares (see :class:`FishOptions`)."""

    spot_sigma_um: float = DEFAULT_SPOT_SIGMA_UM
    k_mad: float = DEFAULT_K_MAD
    threshold_method: str = "valley"
    threshold_her2: float | None = None
    threshold_cep17: float | None = None
    min_area_um2: float = 15.0
    max_area_um2: float = 250.0
    min_solidity: float = 0.9
    focus_min_ratio: float = 0.4
    cluster_max_um: float = DEFAULT_CLUSTER_MAX_UM
    segmentation_grid_um: float | None = GEOMETRY_GRID_UM

    def __post_init__(self):
        check_positive(self.spot_sigma_um, name="spot_sigma_um", unit="µm")
        check_positive(self.k_mad, name="k_mad", unit="noise s.d.")
        check_choice(self.threshold_method, THRESHOLD_METHODS, name="threshold_method")
        check_positive(self.min_area_um2, name="min_area_um2", unit="µm²")
        check_positive(self.max_area_um2, name="max_area_um2", unit="µm²")
        check_positive(self.cluster_max_um, name="cluster_max_um", unit="µm")
        for name in ("min_solidity", "focus_min_ratio"):
            value = getattr(self, name)
            if not 0 <= float(value) <= 1:
                raise Her2kitInputError(f"expected 0-1, got {value!r}", field=name)
        if self.segmentation_grid_um is not None:
            check_positive(self.segmentation_grid_um, name="segmentation_grid_um", unit="µm")

    def _shared_parameters(self) -> dict:
        """The shared options, in the order ``parameters`` records them."""
        return dict(
            spot_sigma_um=self.spot_sigma_um,
            k_mad=self.k_mad,
            threshold_method=self.threshold_method,
            min_area_um2=self.min_area_um2,
            max_area_um2=self.max_area_um2,
            min_solidity=self.min_solidity,
            focus_min_ratio=self.focus_min_ratio,
            cluster_max_um=self.cluster_max_um,
        )

    def _segmentation_at(self, pixel_size_um: float) -> SegmentationOptions:
        """The segmentation stage's options for a field at ``pixel_size_um``."""
        return self.segmentation_options()

    def selection_options(self) -> SelectionOptions:
        """The nucleus-selection stage's options."""
        return SelectionOptions(min_area_um2=self.min_area_um2, max_area_um2=self.max_area_um2,
                                min_solidity=self.min_solidity,
                                focus_min_ratio=self.focus_min_ratio)

    def _count(self, nuclear, her2, cep17, *, assay, pixel_size_um, roi_mask, nuclei_labels,
               parameters, her2_opaque=None, coarse_probes=(), colour_od=None, signals=None
               ) -> IshImageResult:
        """:func:`count_ish_channels` with this counter's stage options (``signals``: the
        signal stage's instead of :meth:`signal_options`)."""
        return count_ish_channels(
            nuclear, her2, cep17, assay=assay, pixel_size_um=pixel_size_um,
            segmentation=self._segmentation_at(pixel_size_um),
            signals=self.signal_options() if signals is None else signals,
            selection=self.selection_options(), roi_mask=roi_mask,
            nuclei_labels=nuclei_labels, parameters=parameters, her2_opaque=her2_opaque,
            coarse_probes=coarse_probes, colour_od=colour_od,
        )


@dataclass(frozen=True)
class FishOptions(_CountOptions):
    """Options of :func:`count_fish` (each is recorded in the result's ``parameters``).

    Attributes
    ----------
    spot_sigma_um : float
        Gaussian s.d. of one signal as imaged, µm (FISH signals in tissue typically
        appear 0.5-1 µm across, s.d. ~0.2-0.3 µm). Default 0.25.
    k_mad : float
        Floor of the automatic spot threshold in robust noise s.d. (see
        :mod:`her2kit.imaging.ish.spots`). Default :data:`DEFAULT_K_MAD`.
    threshold_method : {"valley", "mad"}
        Automatic threshold per probe: ``"valley"`` raises the ``k_mad`` floor to
        the valley between nuclear texture maxima and signal maxima inside the
        nuclei when their heights show two populations (real tissue), else keeps
        the floor; ``"mad"`` always uses the floor. The threshold chosen, the
        floor and the valley depth are in ``parameters``.
    threshold_her2, threshold_cep17 : float or None
        Fixed LoG-response thresholds overriding the automatic ones (image units).
    min_area_um2, max_area_um2 : float
        Plausible nucleus area range, µm² (default 15-250). Nuclei above
        ``max_area_um2`` or above 2.2x the field's median area are excluded as
        overlapping/merged.
    min_solidity : float
        Area / convex-hull area below which a nucleus is an overlap (0-1; 0.9).
    focus_min_ratio : float
        A nucleus whose focus score is below this fraction of the field's median
        is ``out_of_focus`` (0-1; 0.4).
    cluster_max_um : float
        Largest cluster extent expected, µm (sets the background-estimation
        window; 2.0).
    segmentation_grid_um : float or None
        DAPI is segmented on block means about this coarse, µm (default 0.4; see
        :func:`~her2kit.imaging.segment.ish_nuclei.segment_ish_nuclei`); None
        segments at full resolution (slower: ~2 s more per 2048² field, and finer
        splitting of touching nuclei).
    crosstalk_radius_um : float
        A HER2 and a CEP17 detection closer than this, µm, are one signal seen in
        both channels (bleed-through, saturated RGB composites); only the one
        stronger relative to its threshold is kept. 0 disables the rule (0.3).
        The number dropped is ``parameters["crosstalk_dropped"]``.
    nuclei_split_h_um : float
        Height, µm, of a distance-transform peak over the saddle to its neighbour
        above which touching nuclei are split by shape (default 0.25; 0.5 before
        issue 11).
    nuclei_core_fraction : float
        Touching nuclei are also split at the valleys of the DAPI intensity: cores
        above this fraction of the largest DAPI within ``nuclei_core_window_um``
        seed the watershed (0 <= value < 1; 0 = by shape only, the rule before
        issue 11). Default 0.65, chosen on the tuning fields FISH1/FISH2 of the
        hand-counted reference (tests/data/ish_reference): by shape alone most
        crowded nuclei there stayed joined and were excluded as overlapping (24 of
        39 reference nuclei counted); 0.65 counts 30 with 84 % / 89 % of them
        within ±1 HER2 / CEP17 (68 % / 68 % before). Above ~0.7 nuclei with uneven
        chromatin are cut in pieces (0.75: CEP17 70 %).
    nuclei_core_window_um : float
        Width of that maximum filter, µm (default 9, about one nucleus diameter).
    nuclei_core_below_solidity : float
        Only foreground regions less solid than this are split at DAPI valleys
        (0-1; default 0.9): a convex region is one nucleus, and chromatin texture
        would cut it (generated fields with textured DAPI lost whole nuclei).
    nuclei_joined_factor : float
        A counted region larger than this x the field's median nucleus area, less
        solid than ``nuclei_joined_below_solidity``, with two concavities, is cut
        between them into two nuclei (0 = off, the rule before this option). Default
        1.6, chosen on FISH1/FISH2: joined pairs whose neck is too wide for the shape
        and valley splits stayed one region (three of them holding hand-counted
        nuclei); with the cut HER2 / CEP17 within ±1 rise from 84 / 89 % to 95 / 97 %
        (1.3, 1.5, 1.7 the same; single hand-counted nuclei reach 1.56x).
    nuclei_joined_below_solidity : float
        That solidity bound (0-1; default 0.95).
    diffuse_width_factor_her2, diffuse_width_factor_cep17 : float
        A weak detection (below 1.5 x the threshold) wider than this x the median
        width of the channel's clear dots is a texture or haze blob, not a dot, and
        is dropped (:func:`~her2kit.imaging.ish.diffuse.drop_diffuse`; 0 = off, the
        rule before these options). Defaults 0 / 1.5, chosen on FISH1/FISH2: the
        green texture blobs of FISH1 read as CEP17 dots (its found CEP17 mean 2.67
        against 2.30 by hand; 1.5: 2.50, ratio 0.92 -> 0.98, no nucleus worse); for
        HER2 the same rule drops FISH2's faint real dots (its field ratio 0.86 ->
        0.67), so it is off there. (1.3 / 1.8 for CEP17: one nucleus worse / a third
        of the gain.)
    doublet_ratio_her2, doublet_ratio_cep17 : float
        A detection whose half-maximum region is elongated, major / minor s.d. at
        least this, is two touching signals (a "peanut" the LoG reads as one maximum;
        :func:`~her2kit.imaging.ish.doublets.split_doublets`); 0 = off, the rule
        before these options). The major s.d. must also reach
        :data:`~her2kit.imaging.ish.doublets.PSF_FACTOR` x this x the field's median
        minor s.d. (its PSF), which noise does not stretch a faint single dot to.
        Defaults 1.7 / 0, chosen on FISH1/FISH2: touching red doublets there read as
        one dot (FISH1 found HER2 2.44 against 2.70 by hand, found ratio 0.98 vs
        1.17); 1.7: 2.61, ratio 1.04 (within 15 %), no nucleus worse; 1.5: one FISH1
        nucleus over-counted; 1.8-2.0: ratio 1.00 (outside). For CEP17 no
        under-count on the tuning fields was a doublet (1.7: no change), so it is off.
    bleed_margin : float
        Bleed-through between the probe channels is measured on the field (the other
        channel's LoG response at each probe's clear dots, median share, 0-0.6:
        ``parameters["bleed_cep17_to_her2"]`` / ``["bleed_her2_to_cep17"]``); a
        detection within ``crosstalk_radius_um`` of the other probe's is its twin when
        at most this x the share x its partner's response (the product capped at 1),
        and a pair it does not explain is two signals
        (:func:`~her2kit.imaging.ish.fishdots.resolve_bleed`). Unitless, >= 0; 0, or a
        share that cannot be measured (under 10 clear dots), keeps the rule before
        (the one stronger relative to its own threshold stays; ``parameters
        ["bleed_rule"]`` says which was used). Default 4, chosen on FISH1/FISH2: the
        rule before hands the twins to whichever channel's threshold is lowered (FISH1
        with a 0.7 x HER2 threshold: CEP17 within ±1 17/18 -> 10/18); with the
        measured shares (FISH1 0.33 green-to-red, 0.13 red-to-green; FISH2 0.07 / 0.20)
        margins 2-4 keep FISH1's hand-counted nuclei as they were, and 4 keeps FISH2's
        weak red twins of bright green dots out (2: FISH2 HER2 within ±1 17 -> 16 of
        19, found ratio 1.29 against 1.07 by hand; 4: 1.17; the rule before, with the
        cap: 1.22).
    faint_fraction_her2, faint_fraction_cep17 : float
        The valley threshold is at most this x the field's median dot response (and
        never below the ``k_mad`` noise floor), so that a dim field, whose signal mode
        lies just above the valley, keeps its faint dots
        (:func:`~her2kit.imaging.ish.fishdots.cap_threshold`; 0 <= value < 1, 0 =
        off; the valley and the cap are ``parameters["her2_threshold_valley"]``,
        ``["her2_threshold_cap"]`` and the same for CEP17). Defaults 0.4 / 0.4, chosen
        on FISH1/FISH2: FISH2's faint red dots sat at 0.5-0.8 x its valley (found HER2
        mean 1.21 against 1.50 by hand); 0.35-0.4: 1.47, field ratio 0.86 -> 0.89;
        FISH1's valley is below its cap, unchanged. 0.3 for CEP17 floods FISH2 with
        green texture (found CEP17 1.68 against 1.40), 0.5 for HER2 finds 1.37.
        Faint dots let in by the cap count as single signals only: clusters and the
        single-signal reference come from the detections above the valley
        (:func:`~her2kit.imaging.ish.fishdots.split_faint`).
    faint_local_k : float
        A detection the cap lets in must stand this many robust s.d. above its own
        nucleus's LoG texture (:func:`~her2kit.imaging.ish.fishdots.local_contrast`;
        >= 0, 0 = no check; ``parameters["her2_faint_dropped"]``). Default 4: with the
        width check it drops 4 HER2 and 1 CEP17 detections on FISH2 (2 and 1 without
        it); 0-5 give the same hand-counted nuclei, 6 drops faint real red dots (found
        HER2 1.47 -> 1.42).
    faint_width_factor : float
        ... and be dot-shaped: apparent s.d. at most this x the median of the
        detections above the valley (:func:`~her2kit.imaging.ish.fishdots.faint_dots`;
        >= 0, 0 = no check). Default 2.0: it drops 2 HER2 / 1 CEP17 more faint blobs on
        FISH2 and no hand-counted dot; 1.5 drops FISH2's faint real red dots (found
        HER2 1.47 -> 1.32).
    faint_check_fraction : float
        Those two checks (texture contrast, dot shape) also apply to every automatic
        detection below this x the median detection, whether or not the cap let it in
        (0 <= value < 1; 0 = only the cap's; ``parameters["her2_faint_checked_below"]``
        is the level, image units). A field without a valley keeps its threshold at the
        noise floor, where texture maxima pass. Default 0.6: on a generated
        non-amplified field (``varied_fish_options`` seed 9005, ratio 1.09) HER2 within
        ±1 86 % -> 95 % and the field ratio 1.39 -> 1.11 (0.5: 1.29), the texture
        maxima there being 0.34-0.40 x the median dot, 0.36-0.48 µm wide (dots
        0.08-0.23 µm) and 3-4 s.d. above their nucleus's texture (dots 7-28); on
        FISH1/FISH2 0.4-0.8 change no hand-counted nucleus (FISH1's whole-field ratio
        0.96 -> 0.92).
    granule_factor : float
        A co-located HER2 + CEP17 pair that bleed-through does not explain, both at
        least their channel's median dot, whose DAPI LoG response is above this x the
        field's DAPI share at the dots (floored at 0.05) x the brighter probe's, is an
        autofluorescent granule (bright in every channel) and both are dropped
        (:func:`~her2kit.imaging.ish.fishdots.granules`; >= 0, 0 = off;
        ``parameters["granules_dropped"]``). Default 3: no granule on FISH1/FISH2
        (none was seen by hand); without the "both bright" condition the rule took
        FISH2's green dots with a weak red twin for granules (CEP17 1.26 -> 1.11).
    min_solidity : float
        As above; default 0.85 here too (0.9 before issue 11): the watershed
        pieces of crowded nuclei have straight cuts and dents and 0.9 excluded
        whole, hand-counted nuclei on FISH1/FISH2.

    Raises
    ------
    Her2kitInputError
        A size not positive, a ratio outside 0-1, an unknown threshold method.
    """

    crosstalk_radius_um: float = 0.3
    min_solidity: float = 0.85
    nuclei_split_h_um: float = 0.25
    nuclei_core_fraction: float = 0.65
    nuclei_core_window_um: float = 9.0
    nuclei_core_below_solidity: float = 0.9
    nuclei_joined_factor: float = 1.6
    nuclei_joined_below_solidity: float = 0.95
    diffuse_width_factor_her2: float = 0.0
    diffuse_width_factor_cep17: float = 1.5
    doublet_ratio_her2: float = 1.7
    doublet_ratio_cep17: float = 0.0
    bleed_margin: float = 4.0
    faint_fraction_her2: float = 0.4
    faint_fraction_cep17: float = 0.4
    faint_local_k: float = 4.0
    faint_width_factor: float = 2.0
    faint_check_fraction: float = 0.6
    granule_factor: float = 3.0

    def __post_init__(self):
        super().__post_init__()
        for name in ("faint_fraction_her2", "faint_fraction_cep17", "faint_check_fraction"):
            if not 0 <= float(getattr(self, name)) < 1:
                raise Her2kitInputError(f"expected 0 <= value < 1 (0 = off), got "
                                        f"{getattr(self, name)!r}", field=name)
        if not 0 <= self.nuclei_core_below_solidity <= 1:
            raise Her2kitInputError(f"expected 0-1, got {self.nuclei_core_below_solidity!r}",
                                    field="nuclei_core_below_solidity")
        _check_nuclei_split(self)
        if not 0 <= self.nuclei_joined_below_solidity <= 1:
            raise Her2kitInputError(f"expected 0-1, got {self.nuclei_joined_below_solidity!r}",
                                    field="nuclei_joined_below_solidity")
        for name in ("nuclei_joined_factor", "diffuse_width_factor_her2",
                     "diffuse_width_factor_cep17", "doublet_ratio_her2", "doublet_ratio_cep17",
                     "bleed_margin", "faint_local_k", "faint_width_factor",
                     "granule_factor"):
            if not float(getattr(self, name)) >= 0:
                raise Her2kitInputError(f"expected >= 0 (0 = off), got {getattr(self, name)!r}",
                                        field=name)

    def _nuclei_parameters(self) -> dict:
        """The segmentation settings, as recorded (``nuclei_<name>``, floats)."""
        return dict(split_h_um=float(self.nuclei_split_h_um),
                    core_fraction=float(self.nuclei_core_fraction),
                    core_window_um=float(self.nuclei_core_window_um),
                    core_below_solidity=float(self.nuclei_core_below_solidity),
                    joined_factor=float(self.nuclei_joined_factor),
                    joined_below_solidity=float(self.nuclei_joined_below_solidity))

    def segmentation_options(self) -> SegmentationOptions:
        """The segmentation stage's options (DAPI: 0.5 µm smoothing)."""
        return SegmentationOptions(min_area_um2=self.min_area_um2, smooth_um=0.5,
                                   grid_um=self.segmentation_grid_um,
                                   **self._nuclei_parameters())

    def signal_options(self) -> SignalOptions:
        """The probe-signal stage's options (FISH: the median single-signal reference)."""
        return SignalOptions(
            spot_sigma_um=self.spot_sigma_um, k_mad=self.k_mad,
            threshold_method=self.threshold_method, threshold_her2=self.threshold_her2,
            threshold_cep17=self.threshold_cep17, cluster_max_um=self.cluster_max_um,
            crosstalk_radius_um=float(self.crosstalk_radius_um),
            single_signal_reference="median",
            diffuse_width_factor_her2=float(self.diffuse_width_factor_her2),
            diffuse_width_factor_cep17=float(self.diffuse_width_factor_cep17),
            doublet_ratio_her2=float(self.doublet_ratio_her2),
            doublet_ratio_cep17=float(self.doublet_ratio_cep17),
            bleed_margin=float(self.bleed_margin),
            faint_fraction_her2=float(self.faint_fraction_her2),
            faint_fraction_cep17=float(self.faint_fraction_cep17),
            faint_local_k=float(self.faint_local_k),
            faint_width_factor=float(self.faint_width_factor),
            faint_check_fraction=float(self.faint_check_fraction),
            granule_factor=float(self.granule_factor),
        )


@dataclass(frozen=True)
class BrightfieldIshOptions(_CountOptions):
    """Options of :func:`count_brightfield_ish` (each is recorded in ``parameters``).

    Attributes
    ----------
    spot_sigma_um : float
        Gaussian s.d. of one dot, µm (default 0.3).
    k_mad, threshold_method, threshold_her2, threshold_cep17, min_area_um2, max_area_um2, \
min_solidity, focus_min_ratio, cluster_max_um
        As in :class:`FishOptions`. Thresholds are in stain-amount (OD) units.
    segmentation_grid_um : float or None
        The hematoxylin amount is segmented on block means about this coarse, µm
        (default ~0.4 µm, ~20 grid pixels across a 9 µm nucleus); None segments at
        full resolution.
    background_rgb : tuple of 3 float or "auto"
        Clear-glass RGB (0-255), the Beer-Lambert ``I0``. ``"auto"`` (default)
        takes the median colour of the brightest 5 % of pixels
        (:func:`~her2kit.imaging.color.ish.estimate_background_rgb`): microscope
        images are rarely white-balanced, and a too-bright ``I0`` adds a grey,
        silver-like OD everywhere. Recorded in ``parameters``.
    estimate_stains : bool
        Adapt the named stain vectors to this image
        (:func:`~her2kit.imaging.color.ish.estimate_ish_stains`: red by
        clustering OD directions, silver from the darkest non-red pixels,
        hematoxylin from the rest; each kept within 25 degrees of its reference).
        The vectors used are ``parameters["stain_vectors"]``. When silver and
        hematoxylin come out less than ``MIN_NUCLEI_SILVER_ANGLE_DEG`` apart,
        the signals come from a {silver, red} solve
        (``parameters["stain_separation"]``). Dual ISH nuclei always come from
        the {hematoxylin, red} solve (hematoxylin plus red amount). Default True.
    nuclei_despeckle_um : float
        Width of a median filter on the segmentation grid, µm (default 2 µm):
        removes the chromogen dots (< 1 µm) that remain in the hematoxylin
        amount, so that they neither hold the threshold up (silver) nor punch
        holes (red). 0 = off.
    nuclei_background_um : float
        The local background, a grey opening this wide (µm; default 18 µm, about
        two nucleus diameters) smoothed by a mean as wide, is subtracted before
        thresholding: pale nuclei sit on unevenly lit, tinted cytoplasm and
        stroma. 0 = off.
    nuclei_threshold_factor : float
        Foreground threshold = this x Otsu's threshold of the background-subtracted
        amount (default 0.65). Otsu alone splits pale from dark nuclei when both
        occur (real Dual ISH fields), dropping the pale ones; 0.65 was chosen on the
        REF_DISH outlines of the PCM_fish_dish fields (benchmarks/README.md).
    nuclei_split_h_um : float
        Height, µm, of a distance-transform peak over the saddle to its
        neighbour above which touching nuclei are split (default 0.25 µm; FISH
        uses 0.5 µm): a lower foreground threshold joins pale nuclei by wider necks.
    nuclei_core_fraction : float
        Touching nuclei are split at the valleys of the hematoxylin amount
        (0 <= value < 1; default 0.5; 0 = by shape only): the cores where the
        amount exceeds this fraction of its maximum within ``nuclei_core_window_um``
        seed a watershed of the amount inside the foreground. A blurred nucleus's
        edge lies near half its own height, so dark touching nuclei that the low
        threshold above joins (most lost REF_DISH nuclei, benchmarks/README.md)
        separate, while outlines keep that threshold's extent.
    nuclei_core_window_um : float
        Width of that maximum filter, µm (default 9 µm, about one nucleus
        diameter: every pixel of a nucleus sees its own peak).
    nuclei_joined_factor, nuclei_joined_below_solidity : float
        The joined-pair cut of :class:`FishOptions` (a region above this x the
        field's median nucleus area, less solid than the bound, with two
        concavities, is cut between them; 0 = off, the rule before branch
        nuclei025). Defaults 1.6 / 0.95, FISH's, not tuned anew: at 0.25 µm/px
        three pairs of touching hand-counted nuclei on the tuning field DISH1 (and
        one on DISH3) stayed one region, excluded as oversized or counted as one;
        with the cut 20 / 19 of their 24 / 20 reference nuclei are counted (18 / 18
        without), CEP17 within ±1 34 of 38 (33), HER2 28 (28), whole-field ratios
        0.94 / 0.97 (0.86 / 0.91; 1.26 / 1.11 by hand). Factors 1.3-2.0 and bounds
        0.95-0.97 cut the same nuclei. The number cut is
        ``parameters["nuclei_joined_splits"]``.
    nuclei_joined_from_um : float
        The joined-pair cut applies to fields of at least this pixel size, µm/px
        (default 0.1; 0 = every field; ``parameters["nuclei_joined_applied"]``).
        At the tuning fields' native 0.065 µm/px it also cuts DISH1's two merged
        pairs, but two of the four nuclei then hold faint grey silver dots the
        counter misses (hand 2 / 1 and 2 / 0, found 1 / 0 and 0 / 0), which the
        merged regions had hidden by lending both nuclei their pair's counts: the
        found ratio falls 1.09 -> 1.03, outside 15 % of the hand 1.26 (whole-field
        ratio 1.12 -> 1.14). From 0.1 µm/px it keeps DISH1's found ratio within
        15 % (0.10 / 0.15 / 0.20 µm/px: 1.25 / 1.14 / 1.15; 1.24 / 1.21 / 1.23
        without) and counts more reference nuclei (20 / 20 / 19 of 24; 17 / 15 /
        15 without); at 0.25 µm/px 1.00 (1.06 without; both outside).
    min_solidity : float
        As in :class:`FishOptions`, default 0.85 here (0.9 before issue 11).
    single_signal_reference : {"clear-mode", "median"}
        How the typical single dot, against which clusters are estimated, is
        found. ``"clear-mode"`` (default): the most common peak height (log-scale
        density mode, :data:`~her2kit.imaging.ish.signals.REFERENCE_MODE_BANDWIDTH`)
        among the clear signals inside nuclei (LoG response >= ``WEAK_SIGNAL_FACTOR``
        x threshold), and a bright region wider than a ``cluster_max_um`` disc is
        texture, not a cluster. Real fields carry many faint detections (red haze,
        hematoxylin texture in the silver amount); with ``"median"`` (the FISH
        rule: the median height of all detections) they set the reference and
        single dots were estimated as 4-15 copy clusters on the PCM_fish_dish
        fields. For silver (Dual ISH) the lowest density peak that reaches
        :data:`~her2kit.imaging.ish.signals.LOWEST_MODE_SHARE` of the highest is taken
        (an amplified field's aggregates can outnumber its clear single dots), and all
        the detections inside nuclei decide when fewer than
        :data:`~her2kit.imaging.ish.signals.CLEAR_MIN_SHARE` of them are clear (branch
        amp). The mask threshold (half that height) and the single-signal
        intensity and area are in :attr:`IshImageResult.her2` / ``.cep17``.
    silver_in_red_max_share : float
        Dual ISH: a silver cluster whose area holds at least this much red amount per
        unit of silver amount (means over a disc of its area) is the dark core of a red
        aggregate and counts its silver maxima only (default
        :data:`~her2kit.imaging.ish.signals.SILVER_IN_RED_MAX_SHARE`, 0.5; 0 = off, the
        rule before). How many: ``parameters["her2_clusters_in_red"]``.
    silver_twin_radius_um : float
        Dual ISH: a red detection closer than this, µm, to a silver detection, and
        weaker than it relative to each probe's typical dot, is the silver dot's
        twin in the red amount (silver is nearly neutral) and is dropped; the
        dropped twins are added to ``parameters["crosstalk_dropped"]``. Default
        0.5 µm (about 1.5 spot s.d.; the twins found on the hand-counted DISH1
        reference lie 2-5 px = 0.1-0.3 µm from the silver dot). 0 = off (the
        counts before issue 11).
    red_min_relative : float
        Dual ISH: red detections whose LoG response is below this fraction of the
        strong red dots' (75th percentile of the red detections inside nuclei) are
        dropped: red haze, halo shoulders and silver twins that a technologist does
        not count. Default 0.35, chosen on the tuning fields DISH1/DISH3 of the
        hand-counted reference; on the held-back fields it also drops some faint
        real red dots (benchmarks/README.md, issue 11). 0 = off.
    red_twin_above_floor : bool
        Dual ISH: the silver-twin rule (``silver_twin_radius_um``) measures a red
        detection against the typical red dot above that floor, not against every red
        detection (False, the rule before branch native), so that it does not depend
        on how far the automatic red threshold reaches into the haze, which it does
        with the sampling (:func:`~her2kit.imaging.ish.signals.twin_red_reference`;
        on DISH1 at its native 0.065 µm/px the silver dots' red twins were kept as
        CEP17 signals). The value used: ``parameters["red_twin_reference"]`` (OD).
    silver_single_percentile : float
        Percentile (0-100) of the isolated single silver dots' integrated amount used
        as the single-dot reference for silver cluster copies. Default 75: on dark
        real nuclei many isolated "singles" are faint texture, and the median (50,
        the value before issue 11) made each real dot on DISH3 a 4-5 copy cluster.
    red_cluster_max_um : float
        Dual ISH: largest red (CEP17) cluster extent, µm; wider red regions are not
        estimated as clusters (their maxima count one each). Default 3.0 (silver
        keeps ``cluster_max_um``, 2.0: the silver amount carries hematoxylin
        texture, the red amount does not). The red aggregates of DISH3 (tuning
        part of the hand reference) are 2.5-4 µm across: at 2.0 their copies were
        their 2-4 maxima, CEP17 2.40 per found nucleus against 3.25 by hand; at
        3.0 it is 3.00 and the found ratio 1.27 (1.58 before, 1.11 by hand).
        2.5 changes nothing, 3.5-5 the same as 3.0 within 0.05. Its copies come
        from the region's integrated red amount over the single red dot's, as for
        silver. For CISH it is unused.
    red_single_percentile : float
        Percentile (0-100) of the isolated single red dots' integrated amount used as
        the single-dot reference for red cluster copies. Default 50 (the median). At
        75 DISH3's two red aggregates, 5 copies each by hand, read 7 instead of 10,
        but DISH3's found ratio moves from 1.25 to 1.44 (1.11 by hand, outside the
        15 % target) because the over-estimate had balanced faint red dots missed
        elsewhere; on the tuning fields the median wins on the issue's measures
        (benchmarks/README.md, branch dishclust, and the note after it).
    silver_opaque_transmittance : float
        Dual ISH: a pixel at most this fraction of the glass in every RGB channel is
        opaque silver (0 <= value < 1; default 0.2; 0 = off). A silver region with at
        least ``silver_dense_share`` of its mask opaque is dense: its copies are at
        least its area over the single dot's (the amount clips where silver is
        opaque; see ``silver_dense_area_factor``) and it may be up to
        ``silver_dense_cluster_max_um`` across. At 0.3 ordinary generated single dots
        read as opaque. Pixels wider than
        :data:`SILVER_OPAQUE_CORE_UM` (0.225 µm) average an opaque core with its
        surround: the absorbed share ``1 - value`` is scaled by the core's share of the
        pixel area (0.352 at 0.25 µm/px; :func:`_opaque_transmittance`, branch amp).
        The opaque pixels are ``parameters["her2_opaque_px"]``.
    silver_dense_cluster_max_um : float
        Largest dense silver cluster, µm (default 6: black aggregates of amplified
        nuclei span several µm; opaque silver is not hematoxylin texture).
    silver_dense_share : float
        Share (0-1) of a silver region's mask px that must be opaque for it to be
        dense. Default :data:`~her2kit.imaging.ish.signals.DENSE_SILVER_SHARE_DEFAULT`
        (0.05; before issue 11's branch clusters
        :data:`~her2kit.imaging.ish.signals.DENSE_SILVER_SHARE`, 0.1): half of the
        realistic generator's 4-5 copy aggregates were below 0.1 and read 2 copies.
        Below 0.1 it holds for regions within the ``cluster_max_um`` disc only
        (wider ones still need 0.1: a red aggregate around a black core).
    silver_dense_area_factor : float
        A dense region's area beyond 2 single-dot areas counts this many single
        areas per single area (>= 1; default
        :data:`~her2kit.imaging.ish.signals.DENSE_OVERLAP_FACTOR`, 1.25: the
        half-height mask counts overlapping copies once; 1 = the behaviour before
        issue 11's branch clusters).
    silver_dense_per_maximum : bool
        Credit a dense region from its area only where it is wider than
        :data:`~her2kit.imaging.ish.signals.CLUSTER_AREA_FACTOR` (2) single-dot areas
        per spot maximum inside (default True; False = before branch clusters): two
        touching dark single dots (2 maxima, ~3.6 single areas) otherwise read as a
        4-copy cluster.
    silver_dense_min_copies : float
        A dense silver region (see ``silver_dense_share``) is a cluster from this many
        single dots bright (1-3; default
        :data:`~her2kit.imaging.ish.signals.CLUSTER_MIN_COPIES_BRIGHTFIELD`, 2.75: three
        partly merged copies read 2.2-2.9 single dots; 3 = the rule before branch amp,
        as for regions that are not dense).
    silver_jpeg_merged_peak : float
        Dual ISH, JPEG-degraded fields only (``parameters["jpeg_degraded"]``): a silver
        region of one maximum whose peak exceeds this x the typical single dot's height
        is merged copies and is left out of the single-dot references (area and
        amount) that cluster copies are read against (>= 0; 0 = off; default
        :data:`~her2kit.imaging.ish.signals.JPEG_MERGED_PEAK_FACTOR`, 1.5). JPEG merges
        the copies of small aggregates into one maximum; as "single dots" they raised
        the references and amplified fields read HER2 up to 42 % low at 0.25 µm/px,
        quality 70-90 (benchmarks/ish_amp.py). The factor applied is
        ``parameters["silver_merged_peak_applied"]`` (None = not applied), the regions
        left out ``parameters["her2_merged_singles"]``.
    silver_plateau_area_per_peak : float
        Dual ISH: a silver cluster candidate of one maximum that is not dense counts one
        dot when its area is more than this many single-dot areas per single-dot height
        of its peak (>= 0; default
        :data:`~her2kit.imaging.ish.signals.PLATEAU_AREA_PER_PEAK`, 5; 0 = off, the rule
        before branch dish3clust): a dot whose half-height mask spreads over nuclear
        texture keeps a dot's peak over many single areas, and read 3-5 copies on the
        tuning field DISH3 at 0.25 µm/px.
    silver_piled_peak : float
        Dual ISH: a silver region of one maximum whose peak is at least this many
        single-dot heights holds piled-up copies and may be a cluster from
        ``silver_dense_min_copies`` single dots, as dense silver may (>= 0; default
        :data:`~her2kit.imaging.ish.signals.PILED_PEAK_FACTOR`, 1.5; 0 = off, the rule
        before branch redclust).
    maxima_area_cap : bool
        Dual ISH: a silver or red region outside clusters counts at most
        ``ceil(area / single-dot area)`` of its maxima (default True; False = the rule
        before branch redclust): two maxima in a region smaller than one dot are one
        dot's top split by the LoG. The maxima so dropped are
        ``parameters["her2_maxima_capped"]`` / ``["cep17_maxima_capped"]``.
    silver_split_reference : bool
        Dual ISH: silver is too close to hematoxylin for one 3-stain solve (two 2-stain
        solves, ``parameters["stain_separation"]``) when it is within
        :data:`MIN_NUCLEI_SILVER_ANGLE_DEG` of the hematoxylin vector used OR of the
        named hematoxylin reference (default True; False = the vector used only, the
        rule before branch ishscale). The estimated hematoxylin moves with the
        sampling, the silver estimate does not: DISH1 / DISH3 (tuning part of the hand
        reference) switched to one solve from 0.15 µm/px on and read ratios 1.96 /
        1.88 (1.26 / 1.11 by hand); with it they read 1.45 / 1.10. The angle decided
        on is ``parameters["nuclei_silver_angle_deg"]``.
    silver_local_k : float
        Dual ISH: each nucleus's silver threshold is this x the robust s.d. (MAD) of
        the LoG response over its interior (>= 0; 0 = off; default
        :data:`~her2kit.imaging.ish.silver.SILVER_LOCAL_K`, 5.5; 4 before branch
        silverdots): coarse, dark nuclei lose their texture "dots", and pale grey
        dots in smooth nuclei pass where the field's threshold is higher. The same
        cut, 5.6 x, separates the dots counted by eye from texture on both tuning
        fields DISH1/DISH3, while their best field-wide cuts differ 2 x
        (:mod:`her2kit.imaging.ish.silver`). The detections dropped are
        ``parameters["her2_texture_dropped"]``, those kept below the field's
        threshold ``parameters["her2_faint_kept"]``.
    silver_local_min_factor : float
        That threshold's lower bound, x the field's automatic silver threshold
        (0 < value <= 1; default
        :data:`~her2kit.imaging.ish.silver.SILVER_LOCAL_MIN_FACTOR`, 0.3; 1 = the
        rule before branch silverdots, never below the field's).
    silver_local_max_factor : float
        Its upper bound, x the field's threshold (>= ``silver_local_min_factor``;
        default :data:`~her2kit.imaging.ish.silver.SILVER_LOCAL_MAX_FACTOR`, 1.5;
        1.2 before branch silverdots).
    silver_local_valley : bool
        Lower ``silver_local_k`` to the field's own valley between texture and dots
        where the field shows a clear one (default True;
        :func:`~her2kit.imaging.ish.silver.field_k`): on generated fields dots stand
        apart from texture from 3.5 x, and the real fields' 5.5 x dropped faint
        generated dots. The multiple used is ``parameters["her2_local_k_used"]``.
        ``silver_local_k=4, silver_local_min_factor=1, silver_local_max_factor=1.2,
        silver_local_valley=False, silver_dot_fwhm_um=0`` counts as before branch
        silverdots.
    silver_dot_fwhm_um : float
        Dual ISH: the single silver dot's FWHM, µm (>= 0; default
        :data:`~her2kit.imaging.ish.silver.SILVER_DOT_FWHM_UM`, 0.4; 0 = off, the rule
        before branch silver025). ``silver_local_k`` and its bounds were chosen at
        0.065 µm/px; at a coarser pixel a dot's LoG peak falls more than the
        texture s.d. (a 0.4 µm dot averaged over 0.25 µm pixels: x 0.79, the texture
        x 0.92), so they are multiplied by
        :func:`~her2kit.imaging.ish.silver.pixel_size_factor` (0.85 at 0.25 µm/px;
        ``parameters["silver_local_pixel_factor"]``). On DISH1 / DISH3 (tuning part of
        the hand reference) downscaled to 0.25 µm/px HER2 within ±1 goes from 28 to 34
        of 38 nuclei, the mean HER2 of the found nuclei from 1.48 / 3.15 to 1.70 / 3.75
        (1.65 / 3.55 at 0.065 µm/px, 1.79 / 3.60 by hand) and the whole-field ratios
        from 0.86 / 0.91 to 1.07 / 1.09 (1.12 / 1.06 at 0.065 µm/px); 34 of 38 for any
        FWHM 0.3-0.45 µm (33 at 0.5). Unchanged at 0.065 µm/px (factor 1).
    silver_texture_exclude_um : float
        Dual ISH: after a first pass, each nucleus's texture s.d. (of
        ``silver_local_k``) is measured again over its interior pixels more than this
        far (µm, >= 0) from the silver dots that pass kept, where at least
        :data:`~her2kit.imaging.ish.silver.LOCAL_MIN_PX` are left. Default 0 = off (one
        pass, as before branch abundant); the radius chosen on the tuning fields is
        :data:`~her2kit.imaging.ish.silver.SILVER_TEXTURE_EXCLUDE_UM`, 0.8 (DISH1 / DISH3
        count alike at 0.6 and 0.8 µm, HER2 within ±1 95 %; at 1.0 µm DISH3's found
        ratio leaves the 15 %, 1.30 vs 1.11 by hand). The dots widen the MAD the more so
        the more of them a nucleus holds: on crowded generated fields (``python -m
        benchmarks.ish_crowded``; HER2 ~7 / CEP17 ~4, 60 % faint grey silver at 0.35 x)
        0.8 µm finds 78 % of the faint dots instead of 61 % at 0.065 µm/px and 65 %
        instead of 55 % at 0.25. Off by default because it moves the realistic group4
        field of seed 1 more at 0.065 than at 0.25 µm/px (HER2 4.59 -> 4.82 and 4.41 ->
        4.45, true 5.05: 7.5 % apart where tests/imaging/ish/test_pixel_size.py asks
        5 %) and reads a synthetic 4-copy clump as 5 (test_silver_plateau.py).
    red_jpeg_luma : bool
        Dual ISH whose red amount is taken at the colour's resolution (a 4:2:0 JPEG,
        ``parameters["jpeg_chroma_adapted"]``): redistribute it as the full-resolution
        luminance (:func:`_jpeg_chroma_amounts`; default True; False = the rule before
        branch redjpeg). Applied: ``parameters["red_jpeg_luma_applied"]``.
    red_jpeg_faint_max_silver : float
        In such a field, ``red_faint_max_silver`` is replaced by this (a finite number;
        default :data:`JPEG_RED_FAINT_MAX_SILVER`, 0.3; 0 = the rule before branch
        redjpeg). Used: ``parameters["red_faint_max_silver_used"]``. Both together, on
        the realistic generator's amplified fields at 0.25 µm/px after JPEG 80 (mod-3.4,
        mod-2.2, high aggregates, seeds 1-2), CEP17 per nucleus reads -8.2 % (-13.2 %
        before, -5.5 % lossless); on
        DISH3 (tuning part of the hand reference) 2.65 per found nucleus (2.25 before,
        2.85 lossless, 3.25 by hand); lossless fields are unchanged.
    red_faint_colour_leak : bool
        Dual ISH: a faint red candidate (``red_faint_k``) where the silver amount exceeds
        the red amount is not added, as the strong red dots' colour-leak rule drops
        such detections (default True; False = the rule before branch redclust). Not
        applied where the red amount is taken at the colour's resolution
        (``parameters["jpeg_chroma_adapted"]``): 4:2:0 colour is sampled every 2 px,
        coarser than a faint dot, and on the tuning fields at 0.25 µm/px after JPEG 80
        it dropped two real faint red dots (DISH3 (783, 533), DISH1 (737, 688)) and
        none that a technologist would not count. Used:
        ``parameters["red_faint_colour_leak_used"]``.
    red_rounded_copies : bool
        Dual ISH: a red region of at least two single-dot areas whose integrated amount
        over the single dot's is at least one more than its maxima counts one copy more
        than its maxima (:func:`~her2kit.imaging.ish.red.red_rounded_clusters`; default
        True; False = the shared rule only, which asks for 3 single dots' amount).

    Raises
    ------
    Her2kitInputError
        Bad options (the message names the option).
    """

    spot_sigma_um: float = 0.3
    # Real brightfield nuclei are less regular than DAPI ones: 0.9 (the FISH
    # default) left out 2 of 17 and 4 of 20 whole, hand-counted nuclei on the
    # tuning fields DISH1/DISH3 (tests/data/ish_reference); 0.85 keeps them.
    min_solidity: float = 0.85
    background_rgb: tuple[float, float, float] | str = "auto"
    estimate_stains: bool = True
    nuclei_despeckle_um: float = 2.0
    nuclei_background_um: float = 18.0
    nuclei_threshold_factor: float = 0.65
    nuclei_split_h_um: float = 0.25
    nuclei_core_fraction: float = 0.5
    nuclei_core_window_um: float = 9.0
    nuclei_joined_factor: float = 1.6
    nuclei_joined_below_solidity: float = 0.95
    nuclei_joined_from_um: float = 0.1
    single_signal_reference: str = "clear-mode"
    silver_twin_radius_um: float = 0.5
    silver_in_red_max_share: float = SILVER_IN_RED_MAX_SHARE
    red_min_relative: float = 0.35
    red_twin_above_floor: bool = True
    silver_single_percentile: float = 75.0
    red_cluster_max_um: float = 3.0
    red_single_percentile: float = 50.0
    silver_opaque_transmittance: float = 0.2
    silver_dense_cluster_max_um: float = 6.0
    silver_local_k: float = SILVER_LOCAL_K
    silver_local_min_factor: float = SILVER_LOCAL_MIN_FACTOR
    silver_local_max_factor: float = SILVER_LOCAL_MAX_FACTOR
    silver_local_valley: bool = True
    silver_dot_fwhm_um: float = SILVER_DOT_FWHM_UM
    silver_texture_exclude_um: float = 0.0
    silver_dense_share: float = DENSE_SILVER_SHARE_DEFAULT
    silver_dense_area_factor: float = DENSE_OVERLAP_FACTOR
    silver_dense_per_maximum: bool = True
    silver_dense_min_copies: float = CLUSTER_MIN_COPIES_BRIGHTFIELD
    silver_jpeg_merged_peak: float = JPEG_MERGED_PEAK_FACTOR
    silver_plateau_area_per_peak: float = PLATEAU_AREA_PER_PEAK
    silver_piled_peak: float = PILED_PEAK_FACTOR
    maxima_area_cap: bool = True
    silver_split_reference: bool = True
    red_single_reference: str = "clear-mode"
    red_clear_height: float = 0.9
    red_faint_k: float = 6.0
    red_faint_min_relative: float = 0.15
    red_faint_max_silver: float = 0.0
    red_jpeg_luma: bool = True
    red_faint_colour_leak: bool = True
    red_rounded_copies: bool = True
    red_jpeg_faint_max_silver: float = JPEG_RED_FAINT_MAX_SILVER

    def __post_init__(self):
        super().__post_init__()
        _check_red(self)
        check_positive(self.red_cluster_max_um, name="red_cluster_max_um", unit="µm")
        check_positive(self.silver_dense_cluster_max_um, name="silver_dense_cluster_max_um",
                       unit="µm")
        if not float(self.silver_local_k) >= 0:
            raise Her2kitInputError(f"expected >= 0 (x the nucleus's MAD), got "
                                    f"{self.silver_local_k!r}", field="silver_local_k")
        if not 0 <= float(self.silver_texture_exclude_um) < float("inf"):
            raise Her2kitInputError(f"expected a finite µm >= 0, got "
                                    f"{self.silver_texture_exclude_um!r}",
                                    field="silver_texture_exclude_um")
        if not float(self.silver_dot_fwhm_um) >= 0:
            raise Her2kitInputError(f"expected >= 0 µm, got {self.silver_dot_fwhm_um!r}",
                                    field="silver_dot_fwhm_um")
        if not 0 < float(self.silver_local_min_factor) <= 1:
            raise Her2kitInputError(f"expected 0 < value <= 1 (x the field's threshold), got "
                                    f"{self.silver_local_min_factor!r}",
                                    field="silver_local_min_factor")
        if not float(self.silver_local_max_factor) >= float(self.silver_local_min_factor):
            raise Her2kitInputError(f"expected >= silver_local_min_factor, got "
                                    f"{self.silver_local_max_factor!r}",
                                    field="silver_local_max_factor")
        if not 0 <= self.silver_opaque_transmittance < 1:
            raise Her2kitInputError(
                f"expected 0 <= value < 1, got {self.silver_opaque_transmittance!r}",
                field="silver_opaque_transmittance")
        for name in ("nuclei_despeckle_um", "nuclei_background_um", "silver_twin_radius_um"):
            v = getattr(self, name)
            if not float(v) >= 0:
                raise Her2kitInputError(f"expected >= 0 µm, got {v!r}", field=name)
        for name in ("silver_in_red_max_share", "silver_plateau_area_per_peak",
                     "silver_piled_peak"):
            if not float(getattr(self, name)) >= 0:
                raise Her2kitInputError(f"expected >= 0, got {getattr(self, name)!r}",
                                        field=name)
        check_positive(self.nuclei_threshold_factor, name="nuclei_threshold_factor",
                       unit="x Otsu")
        _check_nuclei_split(self)
        if not float(self.nuclei_joined_factor) >= 0:
            raise Her2kitInputError(f"expected >= 0 (0 = off), got "
                                    f"{self.nuclei_joined_factor!r}", field="nuclei_joined_factor")
        if not 0 <= float(self.nuclei_joined_below_solidity) <= 1:
            raise Her2kitInputError(f"expected 0-1, got {self.nuclei_joined_below_solidity!r}",
                                    field="nuclei_joined_below_solidity")
        if not float(self.nuclei_joined_from_um) >= 0:
            raise Her2kitInputError(f"expected >= 0 µm/px (0 = every field), got "
                                    f"{self.nuclei_joined_from_um!r}",
                                    field="nuclei_joined_from_um")
        check_choice(self.single_signal_reference, SINGLE_SIGNAL_REFERENCES,
                     name="single_signal_reference")
        if not float(self.red_min_relative) >= 0:
            raise Her2kitInputError(f"expected >= 0 (x the strong red dots), got "
                                    f"{self.red_min_relative!r}", field="red_min_relative")
        if not 0 < float(self.silver_dense_share) <= 1:
            raise Her2kitInputError(f"expected 0 < value <= 1, got {self.silver_dense_share!r}",
                                    field="silver_dense_share")
        if not 1 <= float(self.silver_dense_min_copies) <= CLUSTER_MIN_COPIES:
            raise Her2kitInputError(
                f"expected 1-{CLUSTER_MIN_COPIES:g} single dots, got "
                f"{self.silver_dense_min_copies!r}", field="silver_dense_min_copies")
        if not float(self.silver_jpeg_merged_peak) >= 0:
            raise Her2kitInputError(f"expected >= 0 (0 = off), got "
                                    f"{self.silver_jpeg_merged_peak!r}",
                                    field="silver_jpeg_merged_peak")
        if not float(self.silver_dense_area_factor) >= 1:
            raise Her2kitInputError(
                f"expected >= 1, got {self.silver_dense_area_factor!r}",
                field="silver_dense_area_factor")
        for name in ("silver_single_percentile", "red_single_percentile"):
            if not 0 <= getattr(self, name) <= 100:
                raise Her2kitInputError(
                    f"expected 0 <= value <= 100, got {getattr(self, name)}", field=name)
        if isinstance(self.background_rgb, str) and self.background_rgb != "auto":
            raise Her2kitInputError(
                f"expected 'auto' or 3 values, got {self.background_rgb!r}",
                field="background_rgb")

    def _nuclei_parameters(self) -> dict:
        """The segmentation settings, as recorded (``nuclei_<name>``, floats)."""
        return dict(
            despeckle_um=float(self.nuclei_despeckle_um),
            background_um=float(self.nuclei_background_um),
            threshold_factor=float(self.nuclei_threshold_factor),
            split_h_um=float(self.nuclei_split_h_um),
            core_fraction=float(self.nuclei_core_fraction),
            core_window_um=float(self.nuclei_core_window_um),
            joined_factor=float(self.nuclei_joined_factor),
            joined_below_solidity=float(self.nuclei_joined_below_solidity),
        )

    def segmentation_options(self) -> SegmentationOptions:
        """The segmentation stage's options (hematoxylin amount: 1 µm smoothing).

        Hematoxylin amounts of brightfield images are noisier (pale nuclei, JPEG)
        than DAPI: they are smoothed more. Without the despeckle median, a grey
        closing a little wider than a dot (6 spot s.d.) fills the holes the
        chromogen dots leave (the median does this when on: a closing also bridges
        the gaps between dense silver dots, and amplified nuclei turn silver-bright).
        """
        p = self._nuclei_parameters()
        return SegmentationOptions(
            min_area_um2=self.min_area_um2, smooth_um=1.0, grid_um=self.segmentation_grid_um,
            closing_um=0.0 if p["despeckle_um"] > 0 else 6 * self.spot_sigma_um, **p)

    def joined_applied(self, pixel_size_um: float) -> bool:
        """Whether the joined-pair cut applies at ``pixel_size_um`` (µm/px)."""
        return self.nuclei_joined_factor > 0 and pixel_size_um >= self.nuclei_joined_from_um

    def _segmentation_at(self, pixel_size_um: float) -> SegmentationOptions:
        o = self.segmentation_options()
        return o if self.joined_applied(pixel_size_um) else replace(o, joined_factor=0.0)

    def signal_options(self) -> SignalOptions:
        """The probe-signal stage's options (no crosstalk rule: one RGB image)."""
        return SignalOptions(
            spot_sigma_um=self.spot_sigma_um, k_mad=self.k_mad,
            threshold_method=self.threshold_method, threshold_her2=self.threshold_her2,
            threshold_cep17=self.threshold_cep17, cluster_max_um=self.cluster_max_um,
            single_signal_reference=self.single_signal_reference,
            silver_twin_radius_um=self.silver_twin_radius_um,
            silver_in_red_max_share=float(self.silver_in_red_max_share),
            red_min_relative=self.red_min_relative,
            red_twin_above_floor=bool(self.red_twin_above_floor),
            silver_single_percentile=self.silver_single_percentile,
            cep17_cluster_max_um=float(self.red_cluster_max_um),
            red_single_percentile=float(self.red_single_percentile),
            silver_dense_cluster_max_um=(float(self.silver_dense_cluster_max_um)
                                         if self.silver_opaque_transmittance > 0 else None),
            silver_local_k=float(self.silver_local_k),
            silver_local_min_factor=float(self.silver_local_min_factor),
            silver_local_max_factor=float(self.silver_local_max_factor),
            silver_local_valley=bool(self.silver_local_valley),
            silver_dot_fwhm_um=float(self.silver_dot_fwhm_um),
            silver_texture_exclude_um=float(self.silver_texture_exclude_um),
            silver_dense_share=float(self.silver_dense_share),
            silver_dense_per_maximum=bool(self.silver_dense_per_maximum),
            silver_dense_area_factor=float(self.silver_dense_area_factor),
            silver_dense_min_copies=float(self.silver_dense_min_copies),
            silver_plateau_area_per_peak=float(self.silver_plateau_area_per_peak),
            silver_piled_peak=float(self.silver_piled_peak),
            maxima_area_cap=bool(self.maxima_area_cap),
            red=self.red_options(),
        )

    def red_options(self) -> RedOptions:
        """The Dual ISH red path's options (:mod:`~her2kit.imaging.ish.red`)."""
        return RedOptions(
            single_reference=self.red_single_reference,
            single_percentile=float(self.red_single_percentile),
            clear_height=float(self.red_clear_height),
            mode_bandwidth_decades=REFERENCE_MODE_BANDWIDTH,
            faint_k=float(self.red_faint_k),
            faint_min_relative=float(self.red_faint_min_relative),
            faint_max_silver=float(self.red_faint_max_silver),
            silver_radius_um=float(self.silver_twin_radius_um),
            faint_colour_leak=bool(self.red_faint_colour_leak),
            maxima_area_cap=bool(self.maxima_area_cap),
            rounded_copies=bool(self.red_rounded_copies),
        )


def _check_red(o) -> None:
    """The ``red_*`` options of :class:`BrightfieldIshOptions` (branch reddots), checked."""
    check_choice(o.red_single_reference, RED_REFERENCES, name="red_single_reference")
    if not 0 <= float(o.red_clear_height) <= 1:
        raise Her2kitInputError(f"expected 0 <= value <= 1 (x the dominant red height), "
                                f"got {o.red_clear_height!r}", field="red_clear_height")
    for name in ("red_faint_k", "red_faint_min_relative"):
        if not float(getattr(o, name)) >= 0:
            raise Her2kitInputError(f"expected >= 0, got {getattr(o, name)!r}", field=name)
    for name in ("red_faint_max_silver", "red_jpeg_faint_max_silver"):
        if not np.isfinite(float(getattr(o, name))):
            raise Her2kitInputError(f"expected a finite number (x the red LoG response), got "
                                    f"{getattr(o, name)!r}", field=name)


def count_ish_channels(
    nuclear: np.ndarray,
    her2_channel: np.ndarray,
    cep17_channel: np.ndarray | None,
    *,
    assay: str,
    pixel_size_um: float,
    segmentation: SegmentationOptions,
    signals: SignalOptions,
    selection: SelectionOptions,
    roi_mask: np.ndarray | None = None,
    nuclei_labels: np.ndarray | None = None,
    parameters: Mapping[str, object] = MappingProxyType({}),
    her2_opaque: np.ndarray | None = None,
    coarse_probes: tuple[str, ...] = (),
    colour_od: tuple[np.ndarray, np.ndarray] | None = None,
) -> IshImageResult:
    """Count the signals per nucleus of one field's channels: the four stages in a row.

    Parameters
    ----------
    nuclear : (rows, cols) ndarray
        DAPI intensity or hematoxylin amount (OD).
    her2_channel, cep17_channel : (rows, cols) ndarray
        Probe intensities or stain amounts; ``cep17_channel`` None for single probe.
    assay : {"fish", "dual-ish", "cish"}
    pixel_size_um : float
        µm per pixel (checked by the caller).
    segmentation, signals, selection
        The stages' options.
    roi_mask : (rows, cols) bool ndarray, optional
        Invasive tumour; nuclei less than half inside are excluded as ``outside_roi``.
    nuclei_labels : (rows, cols) int ndarray, optional
        The user's nuclei instead of a segmentation.
    parameters : mapping, optional
        The caller's settings, recorded first in the result's ``parameters``.
    her2_opaque : (rows, cols) bool ndarray, optional
        Brightfield: pixels where the HER2 chromogen is opaque (its amount clipped);
        silver clusters are credited for them
        (:func:`~her2kit.imaging.ish.signals.probe_signals_stage`).
    coarse_probes : tuple of str, optional
        Probes (``"her2"``, ``"cep17"``) whose channel is at a coarser resolution than
        the pixels (Dual ISH red from 4:2:0 JPEG colour); the field's focus is read
        from the other probe's dots (:func:`~her2kit.imaging.ish.quality.signal_focus`).
    colour_od : (silver, red) pair of (rows, cols) ndarrays, optional
        Dual ISH: the amounts read from colour alone (:func:`_colour_od`), for the
        silver-in-red rule (:func:`~her2kit.imaging.ish.signals.probe_signals_stage`).

    Returns
    -------
    IshImageResult

    Raises
    ------
    ImageInputError
        ROI, labels or opaque mask of the wrong shape.
    """
    if her2_opaque is not None and np.shape(her2_opaque) != np.shape(nuclear):
        raise ImageInputError(f"expected shape {np.shape(nuclear)}, got "
                              f"{np.shape(her2_opaque)}", field="her2_opaque")
    if roi_mask is not None:
        roi_mask = np.asarray(roi_mask)
        if roi_mask.shape != nuclear.shape:
            raise ImageInputError(f"expected shape {nuclear.shape}, got {roi_mask.shape}",
                                  field="roi_mask")
        roi_mask = roi_mask.astype(bool)
    geo = segment_nuclei_stage(nuclear, pixel_size_um=pixel_size_um, options=segmentation,
                               nuclei_labels=nuclei_labels)
    sig = probe_signals_stage(her2_channel, cep17_channel, geo, assay=assay,
                              pixel_size_um=pixel_size_um,
                              options=signals, her2_opaque=her2_opaque,
                              nuclear=nuclear if assay == "fish" else None,
                              colour_od=colour_od)
    sel = select_nuclei_stage(nuclear, geo, sig, pixel_size_um=pixel_size_um, options=selection,
                              roi_mask=roi_mask,
                              focus_on_grid=assay == "fish" and nuclei_labels is None)
    counted = [r for r in sel.nuclei if r.included]
    quality = signal_quality_stage(sig, [r.nucleus_id for r in counted], geo.labels)
    focus, shares = _focus_and_shares(sel.nuclei, quality, sig, her2_channel, cep17_channel,
                                      [r.nucleus_id for r in counted],
                                      pixel_size_um=pixel_size_um,
                                      spot_sigma_um=signals.spot_sigma_um,
                                      coarse_probes=coarse_probes)
    nc = len(counted)
    her2_mean = float(np.mean([r.her2 for r in counted])) if nc else None
    cep17_mean = (float(np.mean([r.cep17 for r in counted])) if nc and sig.cep17 is not None
                  else None)
    return IshImageResult(
        assay=assay,
        probe="dual" if sig.cep17 is not None else "single",
        nuclei=sel.nuclei,
        labels=geo.labels,
        her2=sig.her2,
        cep17=sig.cep17,
        n_counted=nc,
        her2_mean=her2_mean,
        cep17_mean=cep17_mean,
        ratio=her2_mean / cep17_mean if cep17_mean else None,
        weak_signal_fraction=quality.weak_signal_fraction,
        outside_signal_fraction=quality.outside_signal_fraction,
        image_flags=quality.image_flags + (("out_of_focus",) if focus.out_of_focus else ()),
        pixel_size_um=pixel_size_um,
        parameters=MappingProxyType({**_evidence(parameters, geo, sig, sel),
                                     **_focus_evidence(focus, sig)}),
        quality_shares=MappingProxyType(shares),
    )


def _focus_and_shares(nuclei, quality, sig, her2_channel, cep17_channel, counted_ids, *,
                      pixel_size_um, spot_sigma_um, coarse_probes=()):
    """Stage 4b: the dots' focus (:func:`~her2kit.imaging.ish.quality.signal_focus`)
    and the share behind each quality flag."""
    probes = [(her2_channel, sig.her2)] + ([] if sig.cep17 is None
                                           else [(cep17_channel, sig.cep17)])
    coarse = [k for k, name in enumerate(("her2", "cep17")[: len(probes)])
              if name in coarse_probes]
    focus = signal_focus([c for c, _ in probes], [s for _, s in probes], counted_ids,
                         pixel_size_um=pixel_size_um, spot_sigma_um=spot_sigma_um,
                         coarse_probes=coarse)
    shares = quality_shares(
        nuclei, weak_signal_fraction=quality.weak_signal_fraction,
        outside_signal_fraction=quality.outside_signal_fraction, focus=focus,
        her2_channel=sig.her2_channel, her2=sig.her2, her2_background=sig.her2_background,
        level_ratio=HIGH_BACKGROUND_RATIO)
    return focus, shares


def _focus_evidence(focus, sig) -> dict:
    """The focus measure's automatic choices: its bound and the probes it read."""
    names = ("her2", "cep17")[: 1 if sig.cep17 is None else 2]
    return dict(focus_dot_limit_um=focus.limit_sd_um,
                focus_probes=tuple(names[k] for k in focus.probes),
                focus_dots_measured=focus.n_dots,
                focus_dots_from="every nucleus" if focus.all_nuclei else "counted nuclei")


def _evidence(params, geo, sig, sel) -> dict:
    """Stage 5: the caller's settings, then every automatic threshold and median used."""
    her2, cep17 = sig.her2, sig.cep17
    parameters = dict(params)
    parameters.update(
        nuclei_threshold=geo.threshold,
        nuclei_joined_splits=geo.joined_splits,
        her2_threshold=her2.detection.threshold,
        her2_threshold_method=her2.detection.threshold_method,
        her2_noise_sigma=her2.detection.noise_sigma,
        her2_threshold_floor=her2.detection.floor,
        her2_valley_dip=her2.detection.valley_dip,
        her2_single_signal_intensity=her2.single_signal_intensity,
        cep17_threshold=None if cep17 is None else cep17.detection.threshold,
        cep17_threshold_method=None if cep17 is None else cep17.detection.threshold_method,
        cep17_noise_sigma=None if cep17 is None else cep17.detection.noise_sigma,
        cep17_threshold_floor=None if cep17 is None else cep17.detection.floor,
        cep17_valley_dip=None if cep17 is None else cep17.detection.valley_dip,
        cep17_single_signal_intensity=None if cep17 is None else cep17.single_signal_intensity,
        crosstalk_dropped=sig.crosstalk_dropped,
        her2_texture_dropped=sig.texture_dropped,
        her2_faint_kept=sig.faint_kept,
        her2_local_k_used=sig.local_k_used,
        cep17_faint_threshold=sig.red_faint_threshold,
        cep17_faint_added=sig.red_faint_added,
        red_twin_reference=sig.red_twin_reference,
        her2_clusters_in_red=sig.silver_clusters_in_red,
        her2_merged_singles=her2.merged_singles,
        her2_maxima_capped=her2.maxima_capped,
        cep17_maxima_capped=None if cep17 is None else cep17.maxima_capped,
        her2_weak_reference=weak_reference(sig, "her2"),
        cep17_weak_reference=weak_reference(sig, "cep17"),
        median_focus=sel.median_focus,
        median_nucleus_area_um2=sel.median_area_um2,
    )
    parameters.update(sig.fish_evidence or {})
    return parameters


def count_fish(
    fish: FishImage,
    *,
    pixel_size_um: float | None = None,
    roi_mask: np.ndarray | None = None,
    nuclei_labels: np.ndarray | None = None,
    options: FishOptions | None = None,
) -> IshImageResult:
    """Count HER2 and CEP17 signals per nucleus in a FISH image.

    Parameters
    ----------
    fish : FishImage
        From :mod:`her2kit.io.fish` (z-stacks already max-projected).
    pixel_size_um : float, optional
        µm per pixel; required when ``fish.pixel_size_um`` is None, and overrides it.
    roi_mask : (rows, cols) bool ndarray, optional
        Invasive-tumour region; nuclei with less than half their area inside are
        excluded as ``outside_roi``.
    nuclei_labels : (rows, cols) int ndarray, optional
        Use these nuclei instead of segmenting DAPI (e.g. from StarDist).
    options : FishOptions, optional
        Spot, cluster, selection and segmentation settings; default ``FishOptions()``.

    Returns
    -------
    IshImageResult
        ``.guideline_input`` is ``{"probe": "dual", "nuclei": [[h, c], ...]}``.

    Raises
    ------
    Her2kitInputError
        No pixel size; options not a :class:`FishOptions`.
    ImageInputError
        Not a FishImage; ROI or labels of the wrong shape.
    """
    if not isinstance(fish, FishImage):
        raise ImageInputError(
            f"expected a FishImage (see her2kit.io.fish), got {type(fish).__name__}",
            field="fish",
        )
    options = _check_options(options, FishOptions)
    pixel_size_um = check_pixel_size(
        pixel_size_um if pixel_size_um is not None else fish.pixel_size_um)
    params = dict(
        assay="fish",
        pixel_size_um=pixel_size_um,
        **options._shared_parameters(),
        z_planes=fish.z_planes,
        z_projection=fish.projection,
        crosstalk_radius_um=float(options.crosstalk_radius_um),
        diffuse_width_factor_her2=float(options.diffuse_width_factor_her2),
        diffuse_width_factor_cep17=float(options.diffuse_width_factor_cep17),
        doublet_ratio_her2=float(options.doublet_ratio_her2),
        doublet_ratio_cep17=float(options.doublet_ratio_cep17),
        bleed_margin=float(options.bleed_margin),
        faint_fraction_her2=float(options.faint_fraction_her2),
        faint_fraction_cep17=float(options.faint_fraction_cep17),
        faint_local_k=float(options.faint_local_k),
        faint_width_factor=float(options.faint_width_factor),
        faint_check_fraction=float(options.faint_check_fraction),
        granule_factor=float(options.granule_factor),
        segmentation_grid_um=options.segmentation_grid_um,
        **{f"nuclei_{k}": v for k, v in options._nuclei_parameters().items()},
    )
    return options._count(fish.dapi, fish.her2, fish.cep17, assay="fish",
                          pixel_size_um=pixel_size_um, roi_mask=roi_mask,
                          nuclei_labels=nuclei_labels, parameters=params)


def _check_options(options, kind):
    if options is None:
        return kind()
    if not isinstance(options, kind):
        raise Her2kitInputError(f"expected {kind.__name__}, got {type(options).__name__}",
                                field="options")
    return options


def _stain_vector(stain) -> tuple[float, float, float]:
    if isinstance(stain, str):
        if stain not in STAIN_VECTORS:
            raise ImageInputError(
                f"unknown stain {stain!r}; known: {sorted(STAIN_VECTORS)}", field="stains"
            )
        return STAIN_VECTORS[stain]
    v = np.asarray(stain, dtype=float)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) == 0:
        raise ImageInputError("stain vectors must be 3 finite OD values", field="stains")
    return unit_vector(v)


def count_brightfield_ish(
    rgb: np.ndarray,
    *,
    assay: str,
    pixel_size_um: float,
    stains: Mapping[str, str | tuple[float, float, float]] | None = None,
    roi_mask: np.ndarray | None = None,
    nuclei_labels: np.ndarray | None = None,
    options: BrightfieldIshOptions | None = None,
    jpeg_source: JpegSource | None = None,
) -> IshImageResult:
    """Count signals per nucleus in a brightfield Dual ISH or single-probe CISH image.

    Parameters
    ----------
    rgb : (rows, cols, 3) ndarray of uint8
        Brightfield image.
    assay : {"dual-ish", "cish"}
        Dual ISH (HER2 + CEP17) or single-probe CISH (HER2 only).
    pixel_size_um : float
        µm per pixel.
    stains : mapping, optional
        Role (``nuclei``, ``her2``, ``cep17``) to stain name or OD vector. Default
        :data:`~her2kit.imaging.color.stains.DUAL_ISH_STAINS` (black silver = HER2,
        red = CEP17, Ventana convention) or
        :data:`~her2kit.imaging.color.stains.CISH_STAINS`. Swap ``her2``/``cep17``
        here for a kit with the other convention; it is never guessed.
    roi_mask, nuclei_labels
        As in :func:`count_fish`.
    options : BrightfieldIshOptions, optional
        Stain separation, spot, cluster, selection and segmentation settings;
        default ``BrightfieldIshOptions()``.
    jpeg_source : JpegSource, optional
        The JPEG header of the file ``rgb`` was read from (the io layer reads it:
        :func:`~her2kit.io.fish.read_jpeg_source`); None for other sources, when the
        pixels' 8x8 blockiness decides (:func:`~her2kit.imaging.ish.jpeg.assess_jpeg`).
        A JPEG at a pixel size coarser than 0.08 µm/px with subsampled colour or a
        quality below 95 adds the image flag ``jpeg_degraded`` (quality share 1.0,
        the whole field): the counts are less reliable. Dual ISH from a 4:2:0 file
        whose colour spacing (2 px) is at least ``spot_sigma_um`` (from 0.15 µm/px
        at the default 0.3 µm) gets its signal amounts from the colour's resolution
        (:func:`_jpeg_chroma_amounts`; ``parameters["jpeg_chroma_adapted"]``): on the
        tuning fields at 0.25 µm/px, quality 80, the non-amplified ratios read 1.26 /
        1.00 (1.86 / 1.68 without; 1.26 / 1.11 by hand). Recorded in ``parameters``:
        ``jpeg_degraded``, ``jpeg_source``, ``jpeg_quality``, ``jpeg_subsampling``,
        ``jpeg_blockiness``, ``jpeg_chroma_adapted``, ``jpeg_chroma_sigma_px``,
        ``jpeg_chroma_spacing_um``. In an adapted field the red amount follows the
        full-resolution luminance and faint red dots are judged against silver with
        ``red_jpeg_faint_max_silver`` (``red_jpeg_luma_applied``,
        ``red_faint_max_silver_used``; branch redjpeg).

    Returns
    -------
    IshImageResult
        Dual ISH: ``.guideline_input`` is the dual-probe block; CISH: the
        single-probe block ``{"probe": "single", "cells_counted": n, "her2_mean": x}``.

    Raises
    ------
    ImageInputError
        Not uint8 RGB; a fluorescence image; stains missing a role.
    Her2kitInputError
        Unknown assay; bad options.
    """
    if assay not in ("dual-ish", "cish"):
        raise Her2kitInputError(f"expected 'dual-ish' or 'cish', got {assay!r}", field="assay")
    pixel_size_um = check_pixel_size(pixel_size_um)
    options = _check_options(options, BrightfieldIshOptions)
    rgb = check_brightfield_rgb(rgb)
    stains = _check_stains(stains, assay)
    jpeg = assess_jpeg(rgb, pixel_size_um=pixel_size_um, jpeg_source=jpeg_source)
    background_rgb = options.background_rgb
    if isinstance(background_rgb, str):  # "auto"
        background_rgb = estimate_background_rgb(rgb)
    vectors = {k: _stain_vector(v) for k, v in stains.items()}
    if options.estimate_stains:
        vectors = estimate_ish_stains(rgb, stains=stains, background_rgb=background_rgb)
    nuclei_reference = (_stain_vector(stains["nuclei"])
                        if options.silver_split_reference and assay == "dual-ish" else None)
    amounts, split = _stain_amounts(rgb, assay=assay, vectors=vectors,
                                    background_rgb=background_rgb,
                                    nuclei_reference=nuclei_reference)
    amounts, counting, jpeg_params, signals = _jpeg_adaptation(
        rgb, amounts, jpeg, options, assay=assay, pixel_size_um=pixel_size_um,
        vectors=vectors, background_rgb=background_rgb, nuclei_reference=nuclei_reference)
    params = dict(
        assay=assay, pixel_size_um=pixel_size_um,
        **options._shared_parameters(),
        stains={k: (v if isinstance(v, str) else tuple(v)) for k, v in stains.items()},
        stain_vectors={k: tuple(round(float(x), 4) for x in v) for k, v in vectors.items()},
        stains_estimated=bool(options.estimate_stains),
        stain_separation="two 2-stain solves" if split else "one solve",
        silver_split_reference=bool(options.silver_split_reference),
        nuclei_silver_angle_deg=(round(_nuclei_silver_angle(vectors, nuclei_reference), 2)
                                 if assay == "dual-ish" else None),
        background_rgb=tuple(float(v) for v in background_rgb),
        segmentation_grid_um=options.segmentation_grid_um,
        **{f"nuclei_{k}": v for k, v in options._nuclei_parameters().items()},
        nuclei_joined_from_um=float(options.nuclei_joined_from_um),
        nuclei_joined_applied=options.joined_applied(pixel_size_um),
        single_signal_reference=options.single_signal_reference,
        silver_twin_radius_um=float(options.silver_twin_radius_um),
        silver_in_red_max_share=float(options.silver_in_red_max_share),
        red_min_relative=float(options.red_min_relative),
        red_twin_above_floor=bool(options.red_twin_above_floor),
        silver_single_percentile=float(options.silver_single_percentile),
        red_cluster_max_um=float(options.red_cluster_max_um),
        red_single_percentile=float(options.red_single_percentile),
        silver_opaque_transmittance=float(options.silver_opaque_transmittance),
        silver_dense_cluster_max_um=float(options.silver_dense_cluster_max_um),
        silver_local_k=float(options.silver_local_k),
        silver_local_min_factor=float(options.silver_local_min_factor),
        silver_local_max_factor=float(options.silver_local_max_factor),
        silver_local_valley=bool(options.silver_local_valley),
        silver_dot_fwhm_um=float(options.silver_dot_fwhm_um),
        silver_local_pixel_factor=(round(pixel_size_factor(
            pixel_size_um, spot_sigma_um=options.spot_sigma_um,
            dot_fwhm_um=options.silver_dot_fwhm_um), 4) if assay == "dual-ish" else None),
        silver_texture_exclude_um=float(options.silver_texture_exclude_um),
        silver_dense_share=float(options.silver_dense_share),
        silver_dense_area_factor=float(options.silver_dense_area_factor),
        silver_dense_per_maximum=bool(options.silver_dense_per_maximum),
        silver_dense_min_copies=float(options.silver_dense_min_copies),
        silver_plateau_area_per_peak=float(options.silver_plateau_area_per_peak),
        silver_piled_peak=float(options.silver_piled_peak),
        maxima_area_cap=bool(options.maxima_area_cap),
        red_faint_colour_leak=bool(options.red_faint_colour_leak),
        red_rounded_copies=bool(options.red_rounded_copies),
        red_single_reference=options.red_single_reference,
        red_clear_height=float(options.red_clear_height),
        red_faint_k=float(options.red_faint_k),
        red_faint_min_relative=float(options.red_faint_min_relative),
        red_faint_max_silver=float(options.red_faint_max_silver),
        red_jpeg_luma=bool(options.red_jpeg_luma),
        red_jpeg_faint_max_silver=float(options.red_jpeg_faint_max_silver),
        stain_angles_deg=_stain_angles(vectors, stains),
        **jpeg_params,
    )
    opaque = None
    if assay == "dual-ish" and options.silver_opaque_transmittance > 0:
        opaque = _opaque(rgb, background_rgb, _opaque_transmittance(
            options.silver_opaque_transmittance, pixel_size_um))
        params["her2_opaque_px"] = int(opaque.sum())
    res = counting._count(
        amounts["nuclei"], amounts["her2"], amounts.get("cep17") if assay == "dual-ish" else None,
        assay=assay, pixel_size_um=pixel_size_um, roi_mask=roi_mask, nuclei_labels=nuclei_labels,
        parameters=params, her2_opaque=opaque,
        coarse_probes=("cep17",) if jpeg_params["jpeg_chroma_adapted"] else (),
        colour_od=(_colour_od(rgb, background_rgb) if assay == "dual-ish"
                   and options.silver_in_red_max_share > 0 else None), signals=signals,
    )
    return _with_jpeg_flag(res) if jpeg.degraded else res


def _jpeg_adaptation(rgb, amounts, jpeg, options, *, assay, pixel_size_um, vectors,
                     background_rgb, nuclei_reference
                     ) -> tuple[dict, BrightfieldIshOptions, dict, SignalOptions | None]:
    """The JPEG adaptation of a brightfield field: (the stain amounts, the options the
    count runs with, the ``jpeg_*`` / ``red_*_used`` / ``silver_*merged_peak*``
    parameters, the signal stage's options of a JPEG-degraded Dual ISH field with
    ``silver_jpeg_merged_peak`` applied or None = the options' own)."""
    # 4:2:0 colour is sampled every 2 px; the adaptation is for colour sampled no finer
    # than a dot's s.d. (0.3 µm: from 0.15 µm/px on). At 0.10 µm/px it under-read DISH1
    # (found ratio 0.42 at quality 95, 1.26 by hand; benchmarks/README.md, ISH from JPEG).
    adapted = (assay == "dual-ish" and jpeg.degraded and jpeg.subsampling == "4:2:0"
               and 2.0 * pixel_size_um >= options.spot_sigma_um)
    counting = options
    if adapted:
        amounts = _jpeg_chroma_amounts(rgb, amounts, vectors=vectors,
                                       background_rgb=background_rgb,
                                       nuclei_reference=nuclei_reference,
                                       luma_guided=bool(options.red_jpeg_luma))
        # A red dot's colour is known at the colour's resolution only (branch redjpeg):
        # nor is a faint dot's own pixel colour (branch redclust).
        counting = replace(options,
                           red_faint_max_silver=float(options.red_jpeg_faint_max_silver),
                           red_faint_colour_leak=False)
    # Merged silver copies are left out of the single-dot references (branch ampjpeg).
    merged = (float(options.silver_jpeg_merged_peak) if assay == "dual-ish" and jpeg.degraded
              and options.silver_jpeg_merged_peak > 0 else None)
    signals = (None if merged is None
               else replace(counting.signal_options(), silver_merged_peak=merged))
    return amounts, counting, dict(
        **jpeg.parameters(),
        jpeg_chroma_adapted=adapted,
        jpeg_chroma_spacing_um=(2.0 * pixel_size_um if jpeg.subsampling == "4:2:0" else None),
        jpeg_chroma_sigma_px=JPEG_CHROMA_SIGMA_PX if adapted else None,
        red_jpeg_luma_applied=adapted and bool(options.red_jpeg_luma),
        red_faint_max_silver_used=float(counting.red_faint_max_silver),
        red_faint_colour_leak_used=bool(counting.red_faint_colour_leak),
        silver_jpeg_merged_peak=float(options.silver_jpeg_merged_peak),
        silver_merged_peak_applied=merged,
    ), signals


def _with_jpeg_flag(res: IshImageResult) -> IshImageResult:
    """The result with the image flag ``jpeg_degraded`` (quality share 1.0)."""
    return replace(res, image_flags=(*res.image_flags, "jpeg_degraded"),
                   quality_shares=MappingProxyType({**res.quality_shares, "jpeg_degraded": 1.0}))


def _stain_angles(vectors, stains) -> dict:
    """Degrees between each stain vector used and its named reference (explicit: 0)."""
    out = {}
    for role, v in vectors.items():
        ref = _stain_vector(stains[role])
        cos = float(np.clip(np.dot(unit_vector(v), ref), -1.0, 1.0))
        out[role] = round(float(np.degrees(np.arccos(cos))), 2)
    return out


#: Width of the opaque core of a dense silver aggregate, µm: a camera pixel wider than
#: this records the core mixed with its bright surround (a pixel averages transmitted
#: light), so the core's transmittance rises with the pixel's area over the core's.
#: At 0.25 µm/px the generated aggregate cores read 0.16-0.30 of the glass (0.21-0.35
#: after JPEG 80) against at most 0.2 at 0.065 µm/px, and single dots 0.38 or more
#: (benchmarks/ish_amp.py); the real tuning fields DISH1 / DISH3 at 0.25 µm/px hold 0 /
#: 24 px at the threshold so raised (0.35).
SILVER_OPAQUE_CORE_UM = 0.225


def _opaque_transmittance(max_transmittance: float, pixel_size_um: float) -> float:
    """The opaque-silver transmittance at this pixel size: ``max_transmittance`` up to
    :data:`SILVER_OPAQUE_CORE_UM` per pixel, then the absorbed share ``1 -
    max_transmittance`` scaled by the core's share of the pixel's area."""
    if not max_transmittance > 0:
        return float(max_transmittance)
    cover = min(1.0, (SILVER_OPAQUE_CORE_UM / float(pixel_size_um)) ** 2)
    return float(1.0 - (1.0 - max_transmittance) * cover)


def _colour_od(rgb, background_rgb) -> tuple[np.ndarray, np.ndarray]:
    """Dual ISH silver and red amounts from the pixels' colour alone (OD), as
    benchmarks/ish_realism.py measures them: red ``OD_G - OD_R`` (fast red 0.64 per
    unit, hematoxylin 0.05, neutral silver 0), silver ``OD_R - 0.336 (OD_G - OD_R)``
    (cancels fast red). Independent of the stain solve, whose two 2-stain form reads a
    dense red aggregate's dark core as silver and its red as negative."""
    from her2kit.imaging.color.od import rgb_to_od

    od = rgb_to_od(rgb, background_rgb=background_rgb, darkest_intensity=1.0)
    red = od[..., 1] - od[..., 0]
    return od[..., 0] - np.float32(0.336) * red, red


def _opaque(rgb, background_rgb, max_transmittance: float) -> np.ndarray:
    """Pixels dark in every colour channel: at most ``max_transmittance`` of the clear glass.

    Metallic silver absorbs all colours alike; hematoxylin transmits blue and fast red
    transmits red, so neither reaches this darkness in all three channels. Where
    silver is this dark it is opaque and its amount no longer grows with copies.
    """
    top = np.asarray(background_rgb, np.float32) * np.float32(max_transmittance)
    return np.all(rgb <= top, axis=-1)


def _check_stains(stains, assay: str) -> dict:
    """The role → stain mapping for ``assay`` (its default when None), checked."""
    stains = (
        dict(stains)
        if stains is not None
        else dict(DUAL_ISH_STAINS if assay == "dual-ish" else CISH_STAINS)
    )
    need = {"nuclei", "her2"} | ({"cep17"} if assay == "dual-ish" else set())
    if set(stains) != need:
        raise ImageInputError(
            f"stains must name exactly {sorted(need)} for {assay}, got {sorted(stains)}",
            field="stains",
        )
    return stains


def _nuclei_silver_angle(vectors, nuclei_reference=None) -> float:
    """Degrees between the silver vector used and hematoxylin: the vector used, and also
    ``nuclei_reference`` (the named hematoxylin) when given, whichever is closer.

    The silver estimate (the darkest pixels) keeps its direction when a field is
    sampled coarser, the hematoxylin estimate (k-means over everything else) does not:
    on the hand-reference tuning fields DISH1 / DISH3 the estimated pair is 12.7 /
    2.5 degrees apart at 0.065 µm/px and 17.3 / 18.1 at 0.25 µm/px, across
    :data:`MIN_NUCLEI_SILVER_ANGLE_DEG`, while silver stays 9-11 / 1-2.5 degrees from
    the published hematoxylin at every pixel size (benchmarks/ish_scale.py).
    """
    def angle(a, b):
        cos = float(np.dot(unit_vector(a), unit_vector(b)))
        return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))

    out = angle(vectors["nuclei"], vectors["her2"])
    if nuclei_reference is not None:
        out = min(out, angle(nuclei_reference, vectors["her2"]))
    return out


def _jpeg_chroma_amounts(rgb, amounts, *, vectors, background_rgb, nuclei_reference,
                         luma_guided: bool = False) -> dict:
    """Dual ISH signal amounts of a field whose colour was stored at half resolution
    (JPEG 4:2:0): silver weighted by its share of the chromogen at the colour's
    resolution, red taken at that resolution.

    The decoder interpolates the colour of every 2x2 pixels while darkness (luminance)
    stays sharp, so at 0.25 µm/px (colour every 0.5 µm, about one dot) a red dot's dark
    core loses its redness and reads as silver, and its red amount halves (tuning
    fields, quality 80: red amount at the lossless red dots 1.65 -> 0.85 OD on DISH1,
    2.0 -> 1.09 on DISH3; silver detections 50 -> 71 and 121 -> 138). The whole image
    blurred by :data:`JPEG_CHROMA_SIGMA_PX` (luminance brought to the colour's
    resolution) is separated again; there silver and red are consistent, and their
    shares there decide: silver amount x silver / (silver + red) (both >= 0), and the
    red amount of the blurred image. Nuclei keep the full-resolution amount.

    ``luma_guided`` (``BrightfieldIshOptions.red_jpeg_luma``, branch redjpeg): the red
    amount at the colour's resolution is redistributed as the full-resolution
    luminance, which 4:2:0 keeps: where it is positive it is multiplied by
    :func:`_luma_gain`. Blurred, a red dot's response falls 2-5 x and two dots 1 µm
    apart merge; on the realistic generator at 0.25 µm/px after JPEG 80 the true red
    dots' median LoG response over the noise s.d. in nuclei rises from 18.9 to 30.8
    (38.8 lossless) and the dots missed from merging from 22 to 14 of 377.
    """
    from scipy import ndimage as ndi

    x = rgb.astype(np.float32)
    lo_rgb = np.stack([ndi.gaussian_filter(x[..., c], JPEG_CHROMA_SIGMA_PX) for c in range(3)],
                      axis=-1)
    lo, _ = _stain_amounts(np.clip(np.rint(lo_rgb), 0, 255).astype(np.uint8),
                           assay="dual-ish", vectors=vectors, background_rgb=background_rgb,
                           nuclei_reference=nuclei_reference)
    silver = np.maximum(lo["her2"], 0.0)
    red = np.maximum(lo["cep17"], 0.0)
    share = silver / np.maximum(silver + red, np.float32(1e-3))
    red_out = lo["cep17"]
    if luma_guided:
        # Negative red (noise) is kept as it is: the red detection measures its s.d.
        red_out = np.where(red_out > 0, red_out * _luma_gain(x, background_rgb),
                           red_out)
    return {**amounts, "her2": (amounts["her2"] * share).astype(amounts["her2"].dtype),
            "cep17": red_out.astype(amounts["cep17"].dtype)}


def _luma_gain(rgb_f, background_rgb) -> np.ndarray:
    """Per pixel: the luminance OD (JFIF Y, which 4:2:0 keeps at full resolution) of
    ``rgb_f`` (float RGB, 0-255) over the same blurred by :data:`JPEG_CHROMA_SIGMA_PX`
    (the colour's resolution), the denominator at least :data:`JPEG_RED_LUMA_FLOOR_OD`,
    the ratio clipped to 0-:data:`JPEG_RED_LUMA_MAX_GAIN`. The OD is blurred, not the
    intensity, so the gain averages 1 over a neighbourhood: a red dot's or aggregate's
    integrated amount (its copies) is kept, only its shape follows the luminance (the
    OD of the blurred luminance read DISH1's CEP17 1.26 instead of 1.35 per found
    nucleus at quality 80)."""
    from scipy import ndimage as ndi

    w = np.array(JFIF_LUMA_WEIGHTS, np.float32)
    y0 = np.float32(np.asarray(background_rgb, np.float32) @ w)
    od = np.maximum(-np.log10(np.maximum(rgb_f @ w, np.float32(1.0)) / y0), 0.0)
    lo = ndi.gaussian_filter(od, JPEG_CHROMA_SIGMA_PX)
    gain = od / np.maximum(lo, np.float32(JPEG_RED_LUMA_FLOOR_OD))
    return np.clip(gain, 0.0, JPEG_RED_LUMA_MAX_GAIN).astype(np.float32)


def _stain_amounts(rgb, *, assay, vectors, background_rgb, nuclei_reference=None
                   ) -> tuple[dict, bool]:
    """The stage before segmentation for brightfield: the stain amounts (OD) of each role,
    and whether silver and hematoxylin were too close for one solve (two 2-stain solves;
    ``nuclei_reference``: see :func:`_nuclei_silver_angle`)."""
    if assay == "cish":
        # Two stains leave one OD direction unused; a residual (cross product) third
        # vector absorbs what neither explains instead of leaking it into DAB.
        resid = np.cross(vectors["nuclei"], vectors["her2"])
        amounts = separate_ish_stains(rgb, stains={**vectors, "_residual": tuple(resid)},
                                      background_rgb=background_rgb, clip=False)
        amounts["nuclei"] = np.maximum(amounts["nuclei"], 0.0)
        return amounts, False
    split = _nuclei_silver_angle(vectors, nuclei_reference) < MIN_NUCLEI_SILVER_ANGLE_DEG
    # Nuclei always come from a {hematoxylin, red} solve: silver dots lie inside
    # nuclei, so their OD in the nuclear amount does no harm (the despeckle
    # filter removes them), while a 3-stain solve with silver and hematoxylin
    # < ~20 degrees apart (the reference vectors are 19 degrees apart) turns the
    # nuclear amount into noise: on real fields with 16 degrees it was lower in
    # the nuclei than around them. The red amount is added too: CEP17 dots lie
    # in the nuclei, and where hematoxylin is pale a red dot near the rim would
    # otherwise cut a notch that leaves the dot outside its nucleus.
    nuc = separate_ish_stains(
        rgb, stains={"nuclei": vectors["nuclei"], "cep17": vectors["cep17"]},
        background_rgb=background_rgb,
    )
    nuc["nuclei"] = nuc["nuclei"] + nuc["cep17"]
    if split:
        # Silver and hematoxylin nearly share a hue here: a 3-stain solve would
        # amplify noise without separating them. Solve twice with 2 stains:
        # {silver, red} for the signals (hematoxylin lands in the silver amount
        # as a smooth nuclear background that the LoG filter and the local
        # background subtraction remove) and {hematoxylin, red} for the nuclei
        # (silver dots add to the nuclear amount instead of punching holes).
        sig = separate_ish_stains(
            rgb, stains={"her2": vectors["her2"], "cep17": vectors["cep17"]},
            background_rgb=background_rgb, clip=False,
        )
        return {"nuclei": nuc["nuclei"], **sig}, bool(split)
    amounts = separate_ish_stains(rgb, stains=vectors, background_rgb=background_rgb, clip=False)
    amounts["nuclei"] = nuc["nuclei"]
    return amounts, bool(split)

"""Synthetic ISH fields with known truth: FISH (fluorescence) and brightfield Dual ISH / CISH.

Every field is drawn from a seeded :class:`numpy.random.Generator`, so the same
arguments give the same image and truth, bit for bit. The truth is complete:
every nucleus (its label, whether a technologist would count it), every signal
(position, probe, nucleus) and every cluster (position, copy number).

Model
-----
Nuclei
    Ellipses with semi-axes 3.5-5.5 µm, placed without overlap (they may touch,
    so splitting is exercised) and allowed to run off the image edge.
Signals
    Points inside the nucleus (at least 0.8 µm from its rim), at least
    ``4 * psf_sigma_um`` apart so that a technologist would count them as two.
    Each is a 2-D Gaussian (the PSF) whose integrated intensity varies
    log-normally (20 %) between signals.
Clusters
    ``copies`` Gaussians scattered with 0.15 µm s.d. around one centre: a tight
    clump whose integrated intensity is ``copies`` single signals.
Fluorescence noise
    Photon counts: background ``background`` photons/px plus 30 % more inside
    nuclei (autofluorescence), out-of-focus haze (the signals blurred with
    1.5 µm s.d., carrying ``haze`` of their energy), a 30 % illumination
    gradient, then Poisson noise. ``snr`` is the in-focus single-signal peak
    above background divided by the nuclear background's Poisson s.d.
Brightfield
    Beer-Lambert: hematoxylin in nuclei, silver (HER2) and fast red (CEP17) or
    DAB (CISH HER2) in the signals, using the stain vectors of
    :mod:`her2kit.imaging.color.ish`, plus Gaussian camera noise.

Pixel size
    Geometry (nucleus size, dot s.d., cluster spread, halo, focus blur, texture scales)
    is in µm and OD in OD, so it holds at any pixel size. What is stated per pixel
    (camera noise ``noise_dn``, ``grain_od``, ``nucleus_texture``, FISH photon levels
    and ``dapi_texture``) holds at ``reference_pixel_size_um``, when given (the
    realistic presets: 0.065 µm/px brightfield, 0.069 µm/px FISH), and is rescaled at
    any other size as a pixel of that size integrates the light over its area: noise
    s.d. by ``reference / pixel`` (white), textures by
    :func:`her2kit.synthetic.optics.pixel_average_factor` (barely: they are smoother
    than the pixel), FISH photons per pixel by ``(pixel / reference)**2``. Brightfield
    pixels coarser than the reference also see the dots' light (not their OD)
    averaged over ``m x m`` sub-pixels and the reference camera's 8-bit clipping of
    its noise (:func:`her2kit.synthetic.optics.clipped_noise_mean`). Direct renders at
    0.26 µm/px match 0.065 µm/px renders averaged over 4 x 4 pixels within 0-13 %
    (background and nuclear grain, texture, dot peak and integrated OD;
    ``python -m benchmarks.ish_render_scale``). Without a reference every quantity is
    per pixel at any size (the default generators, as always).

Stages
------
Both generators share the layout (:func:`_lay_out_field`: nuclei from
:mod:`her2kit.synthetic.tissue`, counts, clusters, signal positions, focus, truth) and
the signal points (:func:`_signal_points`); each then renders its own image through
:mod:`her2kit.synthetic.optics` (FISH: :func:`_dapi_photons`, :func:`_fish_expected`,
Poisson counts; brightfield: :func:`_hematoxylin_od`, :func:`_brightfield_od`,
Beer-Lambert, camera noise). Options are frozen objects (:class:`FishFieldOptions`,
:class:`BrightfieldIshFieldOptions`, both :class:`IshLayoutOptions`); the keyword functions
build them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
from scipy import ndimage as ndi

from her2kit.errors import Her2kitInputError
from her2kit.imaging.color.stains import STAIN_VECTORS
from her2kit.synthetic import optics
from her2kit.synthetic.tissue import place_nuclei_without_overlap, smooth_texture

__all__ = [
    "CLUSTER_DTYPE",
    "CROWDED_BRIGHTFIELD",
    "NUCLEUS_DTYPE",
    "REALISTIC_BRIGHTFIELD",
    "REALISTIC_FISH",
    "REALISTIC_FISH_VARIATION",
    "SCENARIOS",
    "SIGNAL_DTYPE",
    "BrightfieldIshFieldOptions",
    "FishFieldOptions",
    "IshLayoutOptions",
    "SyntheticIsh",
    "crowded_brightfield_options",
    "faint_silver_signals",
    "generate_brightfield_ish_field",
    "generate_fish_field",
    "realistic_brightfield_options",
    "realistic_fish_options",
    "render_brightfield_ish_field",
    "render_fish_field",
    "varied_fish_options",
]

#: Target field means (HER2 copies/nucleus, CEP17 copies/nucleus) and whether
#: amplified nuclei get tight clusters by default. The ISH groups are those of
#: ASCO/CAP 2018 (Wolff et al., J Clin Oncol 2018;36:2105), targets placed well
#: inside each group: 1 ratio >=2 & HER2 >=4; 2 ratio >=2 & HER2 <4; 3 ratio <2 &
#: HER2 >=6; 4 ratio <2 & 4 <= HER2 <6; 5 ratio <2 & HER2 <4. The realised means
#: of a field scatter around the targets; the truth table holds the real counts.
SCENARIOS: Mapping[str, tuple[float, float, bool]] = MappingProxyType({
    "normal": (2.0, 2.0, False),
    "polysomy": (4.0, 3.7, False),
    "amplified": (14.0, 2.0, True),
    "group1": (9.0, 2.4, False),
    "group2": (3.0, 1.25, False),
    "group3": (7.6, 4.6, False),
    "group4": (5.0, 3.3, False),
    "group5": (2.2, 2.1, False),
    # Nuclei crowded with signals of both colours (issue 11, branch abundant): a ratio
    # below 2 at high copy numbers, polysomy-like (HER2 ~5, CEP17 ~7: 5-15 red dots a
    # nucleus) and with HER2 gain (HER2 ~7, CEP17 ~4: group 3). Copies vary per nucleus
    # as :data:`_WIDE_SPREAD` says, not by ±1.
    "crowded_polysomy": (5.0, 7.0, False),
    "crowded_gain": (7.0, 4.0, False),
})
#: Scenarios whose copies per nucleus are drawn ``rint(normal(mean, _WIDE_SPREAD x
#: mean))`` (HER2 >= 0, CEP17 >= 1) instead of the floor / ceil mix with a ±1 jitter:
#: crowded nuclei differ by several copies (CEP17 ~7: 4-10 for most nuclei).
_WIDE_SCENARIOS = frozenset({"crowded_polysomy", "crowded_gain"})
_WIDE_SPREAD = 0.3

SIGNAL_DTYPE = np.dtype(
    [
        ("probe", "U5"),  # "her2" or "cep17"
        ("row", "f8"),  # px
        ("col", "f8"),  # px
        ("nucleus_id", "i4"),
        ("copies", "i4"),  # 1 for a single signal, >1 for a cluster
        ("is_cluster", "?"),
        ("z", "i4"),  # plane in focus; -1 for 2-D fields
    ]
)
CLUSTER_DTYPE = SIGNAL_DTYPE  # clusters are the signal rows with is_cluster True

NUCLEUS_DTYPE = np.dtype(
    [
        ("nucleus_id", "i4"),
        ("row", "f8"),  # centre, px
        ("col", "f8"),
        ("area_um2", "f8"),  # visible area inside the image
        ("her2", "i4"),  # copies, clusters included
        ("cep17", "i4"),
        ("her2_cluster_copies", "i4"),  # copies that sit in clusters
        ("n_her2_clusters", "i4"),
        ("whole", "?"),  # not cut by the image edge
        ("in_focus", "?"),
    ]
)

# Geometry constants (µm). Invasive breast carcinoma nuclei are ~7-11 µm across.
_SEMI_AXIS_RANGE_UM = (3.5, 5.5)
_RIM_MARGIN_UM = 0.8  # signals kept this far inside the nucleus outline
_CLUSTER_SPREAD_UM = 0.15  # s.d. of copies around a cluster centre
_CLUSTER_RADIUS_UM = 0.45  # exclusion radius of a cluster for other signals
_HAZE_SIGMA_UM = 1.5
#: Second seed word of the aggregate clusters' random stream (:func:`_aggregate_offsets`).
_AGGREGATE_STREAM = 23
_DAPI_TEXTURE_UM = 0.4  # scale (Gaussian s.d.) of the DAPI texture
# The extra blur of out-of-focus nuclei is optics.DEFOCUS_SIGMA_UM (1.2 µm).


@dataclass(frozen=True, eq=False)
class SyntheticIsh:
    """A generated ISH field and its complete truth.

    Attributes
    ----------
    image : ndarray
        FISH: (rows, cols, 3) or (planes, rows, cols, 3) uint16 photon counts,
        channels in ``channel_names`` order. Brightfield: (rows, cols, 3) uint8 RGB.
    channel_names : tuple of str
        ``("dapi", "her2", "cep17")`` for FISH, ``("red", "green", "blue")`` for
        brightfield.
    labels : (rows, cols) ndarray of int32
        Nucleus id per pixel, 0 = background. Ids are 1..n.
    nuclei : structured ndarray, dtype :data:`NUCLEUS_DTYPE`
        One row per nucleus.
    signals : structured ndarray, dtype :data:`SIGNAL_DTYPE`
        One row per visible signal: single signals (copies 1) and clusters
        (``is_cluster`` True, ``copies`` > 1). Positions in px (row, col).
    pixel_size_um : float
        µm per pixel.
    psf_sigma_um : float
        Standard deviation of a single signal's Gaussian, µm.
    assay : str
        ``"fish"``, ``"dual-ish"`` or ``"cish"``.
    scenario : str
        The scenario name, or ``"custom"`` when counts were given.
    seed : int
    """

    image: np.ndarray
    channel_names: tuple[str, ...]
    labels: np.ndarray
    nuclei: np.ndarray
    signals: np.ndarray
    pixel_size_um: float
    psf_sigma_um: float
    assay: str
    scenario: str
    seed: int

    @property
    def countable(self) -> np.ndarray:
        """Boolean mask over :attr:`nuclei`: whole, in focus and (dual probe) CEP17 >= 1."""
        ok = self.nuclei["whole"] & self.nuclei["in_focus"]
        if self.assay != "cish":
            ok &= self.nuclei["cep17"] >= 1
        return ok

    def channel(self, name: str) -> np.ndarray:
        """Return one named FISH channel (all planes for a z-stack)."""
        if name not in self.channel_names:
            raise Her2kitInputError(f"no channel {name!r}; have {list(self.channel_names)}")
        return self.image[..., self.channel_names.index(name)]


# --------------------------------------------------------------------------- helpers
def _check_common(shape_px, pixel_size_um, n_nuclei, psf_sigma_um) -> tuple[int, int]:
    """Validate the layout options both ISH generators share; return (rows, cols)."""
    try:
        rows, cols = (int(s) for s in shape_px)
    except (TypeError, ValueError):
        raise Her2kitInputError(
            f"expected (rows, cols), got {shape_px!r}", field="shape_px"
        ) from None
    if rows < 32 or cols < 32:
        raise Her2kitInputError(
            f"field must be at least 32x32 px, got {rows}x{cols}", field="shape_px"
        )
    if not 0.02 <= float(pixel_size_um) <= 2.0:
        raise Her2kitInputError(
            f"expected 0.02-2 µm/px for ISH, got {pixel_size_um!r}", field="pixel_size_um"
        )
    if int(n_nuclei) < 0:
        raise Her2kitInputError(f"expected >= 0, got {n_nuclei!r}", field="n_nuclei")
    if not float(psf_sigma_um) > 0:
        raise Her2kitInputError(f"expected > 0 µm, got {psf_sigma_um!r}", field="psf_sigma_um")
    return rows, cols


def _sample_counts(rng, n: int, mean: float, *, minimum: int) -> np.ndarray:
    """Integers with field mean ~``mean``: floor/ceil mix plus a symmetric ±1 jitter."""
    base = np.floor(mean) + (rng.random(n) < mean - np.floor(mean))
    jitter = rng.choice([-1, 0, 1], size=n, p=[0.15, 0.7, 0.15])
    return np.maximum(base + jitter, minimum).astype(int)


def _points_in_nucleus(rng, param, pixel_size_um, k, labels, nid):
    """``k`` random interior points (row, col) at least the rim margin inside the ellipse."""
    r0, c0, a, b, theta = param
    m = _RIM_MARGIN_UM / pixel_size_um
    ai, bi = max(a - m, 1.0), max(b - m, 1.0)
    rad = np.sqrt(rng.random(k))
    ang = rng.uniform(0, 2 * np.pi, k)
    u, v = ai * rad * np.cos(ang), bi * rad * np.sin(ang)
    dx = u * np.cos(theta) - v * np.sin(theta)
    dy = u * np.sin(theta) + v * np.cos(theta)
    return np.column_stack([r0 + dy, c0 + dx])


def _place_signals(rng, params, labels, pixel_size_um, her2, cep17, cluster_sizes, sep_um,
                   cluster_radius_um=_CLUSTER_RADIUS_UM):
    """Signals per nucleus with minimum separations; returns a SIGNAL_DTYPE array."""
    rows_out = []
    sep = sep_um / pixel_size_um
    csep = (cluster_radius_um + sep_um) / pixel_size_um
    for i, param in enumerate(params):
        nid = i + 1
        wanted = [("her2", c, True) for c in cluster_sizes[i]]
        n_single_h = her2[i] - sum(cluster_sizes[i])
        wanted += [("her2", 1, False)] * n_single_h + [("cep17", 1, False)] * cep17[i]
        cand = _points_in_nucleus(rng, param, pixel_size_um, 60 * max(len(wanted), 1) + 60,
                                  labels, nid)
        placed: list[tuple[float, float, bool]] = []
        ci = 0
        for probe, copies, is_cluster in wanted:
            # Greedy acceptance: first candidate far enough from everything placed.
            while ci < len(cand):
                p = cand[ci]
                ci += 1
                ok = True
                for q in placed:
                    d = np.hypot(p[0] - q[0], p[1] - q[1])
                    if d < (csep if (is_cluster or q[2]) else sep):
                        ok = False
                        break
                if ok:
                    placed.append((p[0], p[1], is_cluster))
                    rows_out.append((probe, p[0], p[1], nid, copies, is_cluster, -1))
                    break
            else:
                raise Her2kitInputError(
                    f"nucleus {nid} cannot hold {len(wanted)} separated signals; "
                    "lower the counts or the PSF size",
                    field="counts",
                )
    sig = np.array(rows_out, dtype=SIGNAL_DTYPE) if rows_out else np.zeros(0, SIGNAL_DTYPE)
    # Drop signals of edge-cut nuclei that fall outside the frame.
    h, w = labels.shape
    keep = (sig["row"] >= 0) & (sig["row"] <= h - 1) & (sig["col"] >= 0) & (sig["col"] <= w - 1)
    return sig[keep]


def _expand_points(rng, signals, pixel_size_um, spread_um=_CLUSTER_SPREAD_UM,
                   aggregate_step_um=None, aggregate_rng=None):
    """Explode clusters into their copies: (row, col, probe, nucleus_id, z, rel_weight).

    With ``aggregate_step_um`` the copies of a cluster form an irregular aggregate
    (:func:`_aggregate_offsets`, drawn from ``aggregate_rng``) instead of a Gaussian clump;
    the clump's draws are made all the same, so that the rest of the field is unchanged.
    """
    reps = np.where(signals["is_cluster"], signals["copies"], 1)
    idx = np.repeat(np.arange(len(signals)), reps)
    rows = signals["row"][idx].copy()
    cols = signals["col"][idx].copy()
    in_cluster = signals["is_cluster"][idx]
    spread = spread_um / pixel_size_um
    d_row = rng.normal(0, spread, in_cluster.sum())
    d_col = rng.normal(0, spread, in_cluster.sum())
    if aggregate_step_um is not None:
        d_row, d_col = _aggregate_offsets(aggregate_rng, signals["copies"][signals["is_cluster"]],
                                          float(aggregate_step_um) / pixel_size_um)
    rows[in_cluster] += d_row
    cols[in_cluster] += d_col
    # 20 % log-normal brightness variation between copies (probe binding varies).
    weight = rng.lognormal(0.0, _DOT_WEIGHT_SD, len(idx))
    return idx, rows, cols, weight


def _aggregate_offsets(rng, copies, step_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (px) of each cluster's copies from its centre, as irregular aggregates.

    Real silver clusters of amplified nuclei are irregular, partly merged aggregates, not
    round clumps: each copy is laid ``step_px`` x U(0.7, 1.3) from a copy drawn at random
    among those already laid (a random branching growth), in a random direction; the
    aggregate is then centred on the cluster's position. At a step of about 2 dot s.d.
    neighbouring copies merge, and 4-10 copies span 1-3 µm at the realistic preset.
    """
    out_r, out_c = [], []
    for k in np.asarray(copies, int):
        pr, pc = np.zeros(k), np.zeros(k)
        for j in range(1, k):
            a = int(rng.integers(0, j))
            t = rng.uniform(0.0, 2.0 * np.pi)
            d = step_px * rng.uniform(0.7, 1.3)
            pr[j], pc[j] = pr[a] + d * np.sin(t), pc[a] + d * np.cos(t)
        out_r.append(pr - pr.mean())
        out_c.append(pc - pc.mean())
    if not out_r:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(out_r), np.concatenate(out_c)


def _cluster_sizes(rng, her2, use_clusters: bool, min_her2: int, copies_range) -> list[list[int]]:
    """HER2 copies per cluster of each nucleus: with clusters on, a nucleus with at least
    ``min_her2`` copies puts ``copies_range`` (low, high) of them in one cluster (a second
    from 2 x ``min_her2``), leaving at least 2 as single dots."""
    lo, hi = (int(v) for v in copies_range)
    out: list[list[int]] = []
    for h in her2:
        sizes: list[int] = []
        if use_clusters and h >= min_her2:
            remaining = int(h)
            for _ in range(1 + int(h >= 2 * min_her2)):
                if remaining < lo + 2:
                    break
                size = int(rng.integers(lo, min(hi, remaining - 2) + 1))
                sizes.append(size)
                remaining -= size
        out.append(sizes)
    return out


def _counts_and_clusters(rng, n, scenario, counts, clusters, assay, min_her2=8,
                         copies_range=(4, 10)):
    """HER2 and CEP17 copies per nucleus, and the HER2 cluster sizes, with the scenario name.

    Given ``counts`` are checked and used as they are ("custom"); otherwise copies are
    drawn around the scenario's means (:data:`SCENARIOS`). With clusters on, a nucleus
    with HER2 >= ``min_her2`` (8) puts ``copies_range`` (4-10) of its copies in one cluster
    (two from 16 copies; :func:`_cluster_sizes`). CISH has
    no CEP17 probe: its CEP17 counts are 0.

    Raises
    ------
    Her2kitInputError
        ``counts`` not (n, 2) non-negative integers, or an unknown scenario.
    """
    if counts is not None:
        arr = np.asarray(counts)
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] != n:
            raise Her2kitInputError(
                f"expected {n} (her2, cep17) pairs, got shape {arr.shape}", field="counts"
            )
        if np.any(arr < 0) or not np.all(arr == np.round(arr)):
            raise Her2kitInputError("counts must be non-negative integers", field="counts")
        her2, cep17 = arr[:, 0].astype(int), arr[:, 1].astype(int)
        use_clusters = bool(clusters) if clusters is not None else False
        name = "custom"
    else:
        if scenario not in SCENARIOS:
            raise Her2kitInputError(
                f"unknown scenario {scenario!r}; known: {sorted(SCENARIOS)}", field="scenario"
            )
        mh, mc, default_clusters = SCENARIOS[scenario]
        use_clusters = default_clusters if clusters is None else bool(clusters)
        if scenario in _WIDE_SCENARIOS:
            her2 = np.maximum(np.rint(rng.normal(mh, _WIDE_SPREAD * mh, n)), 0).astype(int)
            cep17 = np.maximum(np.rint(rng.normal(mc, _WIDE_SPREAD * mc, n)), 1).astype(int)
        else:
            her2 = _sample_counts(rng, n, mh, minimum=0)
            cep17 = _sample_counts(rng, n, mc, minimum=1)
        if use_clusters:
            # Amplified nuclei vary much more than ±1 copy.
            her2 = np.maximum(np.rint(rng.normal(mh, 0.35 * mh, n)), 2).astype(int)
        name = scenario
    if assay == "cish":
        cep17 = np.zeros(n, int)
    return her2, cep17, _cluster_sizes(rng, her2, use_clusters, min_her2, copies_range), name


def _truth_nuclei(labels, params, signals, pixel_size_um, in_focus):
    """The nucleus truth table (:data:`NUCLEUS_DTYPE`) from the labels and visible signals."""
    n = len(params)
    nuc = np.zeros(n, NUCLEUS_DTYPE)
    if n == 0:
        return nuc
    ids = np.arange(1, n + 1)
    nuc["nucleus_id"] = ids
    nuc["row"] = [p[0] for p in params]
    nuc["col"] = [p[1] for p in params]
    nuc["area_um2"] = (np.bincount(labels.ravel(), minlength=n + 1)[1:]
                       * pixel_size_um * pixel_size_um)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    nuc["whole"] = ~np.isin(ids, edge)
    nuc["in_focus"] = in_focus
    nid = signals["nucleus_id"] - 1
    is_h = signals["probe"] == "her2"
    nuc["her2"] = np.bincount(nid[is_h], weights=signals["copies"][is_h], minlength=n)
    nuc["cep17"] = np.bincount(nid[~is_h], weights=signals["copies"][~is_h], minlength=n)
    cl = is_h & signals["is_cluster"]
    nuc["her2_cluster_copies"] = np.bincount(nid[cl], weights=signals["copies"][cl], minlength=n)
    nuc["n_her2_clusters"] = np.bincount(nid[cl], minlength=n)
    return nuc


# --------------------------------------------------------------------------- options
@dataclass(frozen=True)
class IshLayoutOptions:
    """The nuclei and signals of an ISH field: what FISH and brightfield fields share.

    Parameters are those of :func:`generate_fish_field` with the same names and units;
    validated on construction. ``shape_px`` is stored as two ints, ``pixel_size_um`` as
    a float and ``n_nuclei`` as an int; the rest as given. ``scenario`` and ``counts``
    are checked when the counts are drawn (after the nuclei are placed), as always.

    Raises
    ------
    Her2kitInputError
        A field under 32x32 px, a pixel size outside 0.02-2 µm/px, negative nuclei, a
        PSF s.d. <= 0 or an out-of-focus fraction outside 0-1.
    """

    shape_px: tuple[int, int] = (512, 512)
    pixel_size_um: float = 0.2
    n_nuclei: int = 20
    scenario: str = "normal"
    counts: Sequence[tuple[int, int]] | None = None
    clusters: bool | None = None
    seed: int = 0
    psf_sigma_um: float = 0.2
    out_of_focus_fraction: float = 0.0
    #: s.d. of a cluster's copies around its centre, µm (0.15: a tight clump; real
    #: silver aggregates are looser). Other signals keep ``max(0.45, 3 x spread)`` away.
    cluster_spread_um: float = _CLUSTER_SPREAD_UM
    #: Clusters (with ``clusters`` on): a nucleus with at least this many HER2 copies
    #: holds one (two from twice as many), of ``cluster_copies`` (low, high) copies,
    #: leaving at least 2 single dots. (8, (4, 10)): the tight clusters of the amplified
    #: scenario; moderate amplification (ratio 2.2-3.5, HER2 4-8) has 3-8 copy clusters.
    cluster_min_her2: int = 8
    cluster_copies: tuple[int, int] = (4, 10)
    #: Irregular, partly merged aggregates instead of Gaussian clumps: each copy this far
    #: (µm, x U(0.7, 1.3)) from an earlier copy of its cluster (:func:`_aggregate_offsets`,
    #: a random stream of its own); None = Gaussian clumps of ``cluster_spread_um``.
    cluster_aggregate_step_um: float | None = None
    #: Gaussian s.d. of a CEP17 dot, µm; None = ``psf_sigma_um`` (real red / green
    #: CEP17 dots are often wider than HER2 dots).
    cep17_psf_sigma_um: float | None = None

    def __post_init__(self) -> None:
        self._check_layout()

    def _check_clusters(self) -> None:
        lo_hi = tuple(self.cluster_copies)
        if (len(lo_hi) != 2 or not all(float(v) == int(v) for v in lo_hi)
                or not 2 <= int(lo_hi[0]) <= int(lo_hi[1])):
            raise Her2kitInputError(f"expected (low, high) integers, 2 <= low <= high, got "
                                    f"{self.cluster_copies!r}", field="cluster_copies")
        if not int(self.cluster_min_her2) >= int(lo_hi[0]) + 2:
            raise Her2kitInputError(f"expected >= cluster_copies[0] + 2, got "
                                    f"{self.cluster_min_her2!r}", field="cluster_min_her2")
        step = self.cluster_aggregate_step_um
        if step is not None and not 0.0 < float(step) <= 2.0:
            raise Her2kitInputError(f"expected 0-2 µm, got {step!r}",
                                    field="cluster_aggregate_step_um")
        object.__setattr__(self, "cluster_copies", (int(lo_hi[0]), int(lo_hi[1])))

    def _check_layout(self) -> None:
        rows, cols = _check_common(
            self.shape_px, self.pixel_size_um, self.n_nuclei, self.psf_sigma_um
        )
        if not 0.0 <= float(self.out_of_focus_fraction) <= 1.0:
            raise Her2kitInputError(
                f"expected 0-1, got {self.out_of_focus_fraction!r}",
                field="out_of_focus_fraction",
            )
        if not 0.0 < float(self.cluster_spread_um) <= 2.0:
            raise Her2kitInputError(f"expected 0-2 µm, got {self.cluster_spread_um!r}",
                                    field="cluster_spread_um")
        self._check_clusters()
        cep = self.cep17_psf_sigma_um
        if cep is not None and not float(cep) > 0:
            raise Her2kitInputError(f"expected > 0 µm, got {cep!r}", field="cep17_psf_sigma_um")
        object.__setattr__(self, "shape_px", (rows, cols))
        object.__setattr__(self, "pixel_size_um", float(self.pixel_size_um))
        object.__setattr__(self, "n_nuclei", int(self.n_nuclei))


@dataclass(frozen=True)
class FishFieldOptions(IshLayoutOptions):
    """Everything that determines a FISH field (see :func:`generate_fish_field`).

    Raises
    ------
    Her2kitInputError
        ``snr`` or ``background`` <= 0, ``haze`` outside 0-0.9, ``z_planes`` outside
        1-50, or a bad layout (:class:`IshLayoutOptions`).
    """

    snr: float = 8.0
    background: float = 50.0
    haze: float = 0.3
    z_planes: int | None = None
    #: Extra probe-channel background inside nuclei (autofluorescence), share of
    #: ``background``.
    nuclear_background: float = 0.3
    #: Amplitude (relative s.d.) of the DAPI texture inside nuclei.
    dapi_texture: float = 0.35
    #: DAPI outside nuclei, share of the nuclear DAPI level.
    dapi_outside: float = 0.05
    #: Probe photons per expected DAPI photon: DAPI bleed-through into both probe
    #: channels (gives them the nuclear texture of real composites).
    dapi_bleed: float = 0.0
    #: Share of each probe's signal image that also lands in the other probe's channel.
    crosstalk: float = 0.0
    #: Share of the CEP17 signal image that lands in the HER2 channel when it differs
    #: from ``crosstalk`` (real composites bleed unequally; None = ``crosstalk``).
    crosstalk_cep17_to_her2: float | None = None
    #: Log s.d. of the dots' brightness, dot to dot; None (or <= 0.2) = 0.2. Real fields
    #: measure ~0.3-0.4 (the log LoG response of their dots, robust s.d.).
    dot_brightness_sd: float | None = None
    #: Pixel size (µm/px) at which the photon levels hold: ``background``, the DAPI
    #: level and the dots' peak photons (so ``snr``) are per pixel of this size; a
    #: pixel of ``pixel_size_um`` collects ``(pixel_size_um / reference)**2`` times as
    #: many photons (Poisson s.d. relative to the level falls as 1 / pixel side), and
    #: the DAPI texture's s.d. follows :func:`her2kit.synthetic.optics.pixel_average_factor`.
    #: None = every level per pixel at any size (the default generator, as always).
    reference_pixel_size_um: float | None = None

    def __post_init__(self) -> None:
        _check_reference(self.reference_pixel_size_um)
        for name in ("nuclear_background", "dapi_texture", "dapi_outside", "dapi_bleed",
                     "crosstalk", "crosstalk_cep17_to_her2", "dot_brightness_sd"):
            if getattr(self, name) is None:
                continue
            if not 0.0 <= float(getattr(self, name)) <= 5.0:
                raise Her2kitInputError(f"expected 0-5, got {getattr(self, name)!r}",
                                        field=name)
        snr, background = self.snr, self.background
        if not float(snr) > 0 or not float(background) > 0:
            raise Her2kitInputError(f"snr and background must be > 0, got {snr!r}, {background!r}")
        if not 0.0 <= float(self.haze) <= 0.9:
            raise Her2kitInputError(f"expected 0-0.9, got {self.haze!r}", field="haze")
        if self.z_planes is not None and not 1 <= int(self.z_planes) <= 50:
            raise Her2kitInputError(
                f"expected 1-50 planes, got {self.z_planes!r}", field="z_planes"
            )
        self._check_layout()


@dataclass(frozen=True)
class BrightfieldIshFieldOptions(IshLayoutOptions):
    """Everything that determines a brightfield ISH field.

    See :func:`generate_brightfield_ish_field`; ``psf_sigma_um`` defaults to 0.25 µm.

    Raises
    ------
    Her2kitInputError
        ``assay`` not "dual-ish" or "cish", or a bad layout (:class:`IshLayoutOptions`).
    """

    psf_sigma_um: float = 0.25
    assay: str = "dual-ish"
    signal_od: float = 0.9
    noise_dn: float = 2.0
    nucleus_od: float = 0.28
    dark_nucleus_fraction: float = 0.0
    stroma_od: float = 0.03
    stroma_gradient_od: float = 0.0
    #: Peak OD of a CEP17 (red) dot; None = ``signal_od``.
    cep17_signal_od: float | None = None
    #: Share of a red dot's amount spread as a pink halo of s.d. ``red_halo_sigma_um``.
    red_halo: float = 0.0
    red_halo_sigma_um: float = 0.6
    #: Extra spread of the red dots' peak OD, s.d. of log10 (decades) of a per-copy
    #: factor on top of the 20 % every copy gets (red intensity varies with the kit and
    #: the counterstain); 0 = none (no random draw).
    red_peak_log_sd: float = 0.0
    #: Share (0-1) of the red copies rendered faint, at ``red_faint_factor`` (0-1) x the
    #: peak OD: pale red dots a technologist still counts; 0 = none (no random draw).
    red_faint_share: float = 0.0
    red_faint_factor: float = 0.25
    #: Silver OD saturates: amount ``s`` renders as ``sat * (1 - exp(-s / sat))`` (dense
    #: silver is opaque); None = linear.
    silver_saturation_od: float | None = None
    #: Share (0-1) of the single silver (HER2) dots rendered as faint grey dots, their
    #: peak OD ``silver_faint_od_factor`` x and their s.d. ``silver_faint_sigma_factor``
    #: x the others' (drawn from a generator of their own, so 0 = today's output bit for
    #: bit). Real fields mix dark and grey silver dots (DISH1/DISH3: 19 % of the single
    #: dots counted there have no pixel below a quarter of the glass, their peak OD
    #: 0.42 x the dark ones', their FWHM about the same; benchmarks/README.md, branch
    #: silverdots).
    silver_faint_share: float = 0.0
    silver_faint_od_factor: float = 0.4
    silver_faint_sigma_factor: float = 1.0
    #: Relative s.d. and scale (µm) of the hematoxylin texture inside nuclei.
    nucleus_texture: float = 0.3
    nucleus_texture_um: float = 0.4
    #: OD (R, G, B) added everywhere: mounting medium, cytoplasm, a yellowish cast.
    background_od_rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    #: s.d. (OD, equal in R, G, B) and scale (µm) of a fine grain over the whole field
    #: (the speckle of real fields: mounting, cytoplasm, camera); drawn after the
    #: hematoxylin, only when > 0.
    grain_od: float = 0.0
    grain_um: float = 0.15
    #: JPEG round trip at this quality (real fields are JPEGs); None = none.
    jpeg_quality: int | None = None
    #: OD vectors (R, G, B; normalised here) of the hematoxylin and of the red CEP17
    #: chromogen; None = :data:`her2kit.imaging.color.stains.STAIN_VECTORS`. Real kits
    #: and cameras differ (the shared fields' nuclei absorb almost no blue).
    hematoxylin_od_rgb: tuple[float, float, float] | None = None
    red_od_rgb: tuple[float, float, float] | None = None
    #: Pixel size (µm/px) at which the per-pixel quantities hold: ``noise_dn`` (camera
    #: noise and speckle, white), ``grain_od`` (scale ``grain_um``) and
    #: ``nucleus_texture`` (scale ``nucleus_texture_um``). At another pixel size each
    #: s.d. is scaled as a pixel of that size averages the pattern over its area
    #: (:func:`her2kit.synthetic.optics.pixel_average_factor`: white noise by
    #: ``reference / pixel_size_um``, smooth textures hardly at all). Everything else is
    #: in µm or OD already. None = per pixel at any size (the default generator).
    reference_pixel_size_um: float | None = None

    def __post_init__(self) -> None:
        _check_reference(self.reference_pixel_size_um)
        if not 0.0 <= float(self.red_halo) < 1.0:
            raise Her2kitInputError(f"expected 0-1, got {self.red_halo!r}", field="red_halo")
        if not 0.0 <= float(self.silver_faint_share) <= 1.0:
            raise Her2kitInputError(f"expected 0-1, got {self.silver_faint_share!r}",
                                    field="silver_faint_share")
        for name in ("silver_faint_od_factor", "silver_faint_sigma_factor"):
            if not 0.0 < float(getattr(self, name)) <= 5.0:
                raise Her2kitInputError(f"expected 0 < value <= 5, got {getattr(self, name)!r}",
                                        field=name)
        for name in ("red_faint_share", "red_faint_factor"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise Her2kitInputError(f"expected 0-1, got {getattr(self, name)!r}",
                                        field=name)
        if not 0.0 <= float(self.red_peak_log_sd) <= 1.0:
            raise Her2kitInputError(f"expected 0-1 decades, got {self.red_peak_log_sd!r}",
                                    field="red_peak_log_sd")
        if self.jpeg_quality is not None and not 1 <= int(self.jpeg_quality) <= 95:
            raise Her2kitInputError(f"expected 1-95, got {self.jpeg_quality!r}",
                                    field="jpeg_quality")
        for name in ("background_od_rgb", "hematoxylin_od_rgb", "red_od_rgb"):
            v = getattr(self, name)
            if v is not None and (len(tuple(v)) != 3 or min(v) < 0
                                  or (name != "background_od_rgb" and not max(v) > 0)):
                raise Her2kitInputError("expected three ODs >= 0 (R, G, B)", field=name)
        if self.assay not in ("dual-ish", "cish"):
            raise Her2kitInputError(
                f"expected 'dual-ish' or 'cish', got {self.assay!r}", field="assay"
            )
        self._check_layout()


def _check_reference(reference_um) -> None:
    if reference_um is not None and not 0.02 <= float(reference_um) <= 2.0:
        raise Her2kitInputError(f"expected 0.02-2 µm/px, got {reference_um!r}",
                                field="reference_pixel_size_um")


def _per_pixel_factor(options, scale_um: float) -> float:
    """s.d. factor of a per-pixel pattern of scale ``scale_um`` at the options' pixel size
    (exactly 1.0 without a reference pixel size or at it, so those images keep every bit)."""
    ref = options.reference_pixel_size_um
    if ref is None or float(ref) == options.pixel_size_um:
        return 1.0
    return optics.pixel_average_factor(scale_um, pixel_size_um=options.pixel_size_um,
                                       reference_um=float(ref))


def _photon_area_factor(options: FishFieldOptions) -> float:
    """Photons per pixel over photons per reference pixel: the pixel area ratio (or 1.0)."""
    ref = options.reference_pixel_size_um
    if ref is None or float(ref) == options.pixel_size_um:
        return 1.0
    return (options.pixel_size_um / float(ref)) ** 2


# --------------------------------------------------------------------------- presets
#: Options fitted to the real Dual ISH tuning fields DISH1 and DISH3 of
#: ../shared/data/real/her2_fish_dish_pcm (pixel size ASSUMED 0.065 µm; statistics and
#: method in benchmarks/ish_realism.py, table in benchmarks/README.md, issue 11). Fitted:
#: dot sizes and ODs, red halo, nucleus OD and texture, stain hues, background OD and
#: grain, nuclear area share, the share of faint grey silver dots. Not fitted (too few
#: clusters on the tuning fields): ``cluster_spread_um`` and ``silver_saturation_od``, set
#: by eye to loose, saturating aggregates.
REALISTIC_BRIGHTFIELD: Mapping[str, object] = MappingProxyType({
    "psf_sigma_um": 0.13,
    "cep17_psf_sigma_um": 0.2,
    "signal_od": 1.4,
    "cep17_signal_od": 2.07,
    "red_halo": 0.5,
    "red_halo_sigma_um": 0.6,
    # Red dot peaks spread 0.34 decades on DISH1 and DISH3 and 13-18 % of their red dots
    # peak below 0.35 x the median (benchmarks/ish_realism.py; branch reddots): 0.22
    # decades and 9 % without faint dots, 0.28 and 17 % with 10 % of the red copies at
    # 0.3 x (seeds 0-2). A log-normal spread on every red copy instead
    # (``red_peak_log_sd``, off here) also widened the dots' halo and the nuclei's
    # measured diameter (seed 0: red FWHM +7 %, diameter 8.76 -> 8.84 µm).
    "red_faint_share": 0.1,
    "red_faint_factor": 0.3,
    "nucleus_od": 0.134,
    "nucleus_texture": 0.45,
    "stroma_od": 0.0,
    "background_od_rgb": (0.06, 0.07, 0.09),
    "noise_dn": 30.0,
    "jpeg_quality": 75,
    "cluster_spread_um": 0.35,
    "silver_saturation_od": 3.0,
    # Faint grey silver dots (branch silverdots): of the single silver dots the counter
    # finds in the hand-counted nuclei of DISH1 / DISH3 without clusters (73), 19 % have
    # no pixel of their 3 x 3 centre below a quarter of the glass; their peak silver OD
    # is 0.42 x the dark ones' (0.185 vs 0.438), their FWHM the same (0.43 vs 0.41 µm).
    "silver_faint_share": 0.19,
    "silver_faint_od_factor": 0.42,
    # OD excess of the tuning fields' nuclei (G / R 0.69, B / R 0.02) and red dots
    # (R / G 0.07, B / G 0.093): bluer nuclei and more magenta dots than the library's.
    "hematoxylin_od_rgb": (1.0, 0.69, 0.02),
    "red_od_rgb": (0.07, 1.0, 0.093),
    # The fit's pixel size: noise_dn and the nucleus texture are per 0.065 µm pixel, and
    # scale with the pixel's area at any other size (branch gen025).
    "reference_pixel_size_um": 0.065,
})
#: Nuclei per µm² of field for the realistic brightfield preset (34 on 1024² px at
#: 0.065 µm/px: 41 % of the field is nucleus, as on DISH1 / DISH3).
REALISTIC_BRIGHTFIELD_NUCLEI_PER_UM2 = 34 / (1024 * 0.065) ** 2
#: Options fitted to the real FISH tuning fields FISH1 and FISH2 (pixel sizes ASSUMED
#: 0.072 / 0.066 µm; benchmarks/ish_realism.py): dot widths, dot SNR and contrast over
#: the nuclear background, nucleus / outside levels, probe and DAPI texture, crosstalk.
REALISTIC_FISH: Mapping[str, object] = MappingProxyType({
    "psf_sigma_um": 0.17,
    "cep17_psf_sigma_um": 0.23,
    "snr": 36.0,
    "nuclear_background": 0.1,
    "dapi_texture": 0.2,
    "dapi_outside": 0.2,
    "dapi_bleed": 0.045,
    "crosstalk": 0.28,
    # The benchmark's pixel size: photons (background, DAPI, dot peaks, so snr) per 0.069
    # µm pixel, scaling with the pixel's area at any other size (branch gen025).
    "reference_pixel_size_um": 0.069,
})
#: Nuclei per µm² for the realistic FISH preset (as the benchmark's 18 on 1024² px at
#: 0.069 µm/px; FISH nuclei are sparser than Dual ISH ones on the shared fields).
REALISTIC_FISH_NUCLEI_PER_UM2 = 18 / (1024 * 0.069) ** 2


def _with_density(overrides, per_um2: float) -> dict:
    kw = dict(overrides)
    if "n_nuclei" not in kw and kw.get("counts") is None:
        rows, cols = kw.get("shape_px", IshLayoutOptions.shape_px)
        px = float(kw.get("pixel_size_um", IshLayoutOptions.pixel_size_um))
        kw["n_nuclei"] = max(1, round(per_um2 * rows * cols * px * px))
    return kw


#: Share of the preset's per-pixel noise s.d. that its JPEG (quality 75) lets through at
#: the scale of a pixel 4 x the reference: flat fields of 30 DN noise at glass level 217
#: / 150, averaged over 4 x 4 pixels, have 0.87 / 0.89 x the s.d. after a JPEG 75 round
#: trip (branch gen025). Used where the preset renders without its JPEG.
_PRESET_JPEG_NOISE_PASS = 0.88


def realistic_brightfield_options(**overrides) -> BrightfieldIshFieldOptions:
    """Brightfield options with :data:`REALISTIC_BRIGHTFIELD`, then ``overrides``.

    Parameters
    ----------
    **overrides
        Any :class:`BrightfieldIshFieldOptions` field. Without ``n_nuclei`` (or
        ``counts``) the field gets the fitted nucleus density
        (:data:`REALISTIC_BRIGHTFIELD_NUCLEI_PER_UM2`). At a pixel size other than the
        preset's reference (0.065 µm/px) the preset's JPEG 75 is left out (it belongs to
        the 0.065 µm/px tuning fields; a coarser pixel averages its 8 x 8 blocks away)
        and its ``noise_dn`` is 0.88 x (what that JPEG left of the noise,
        ``_PRESET_JPEG_NOISE_PASS``), unless ``jpeg_quality`` / ``noise_dn`` are given:
        pass ``jpeg_quality`` to add a JPEG at the rendered size, as a scanner's tiles.

    Returns
    -------
    BrightfieldIshFieldOptions
        Render it with :func:`render_brightfield_ish_field`.

    Examples
    --------
    >>> o = realistic_brightfield_options(shape_px=(512, 512), pixel_size_um=0.065)
    >>> o.psf_sigma_um, o.n_nuclei
    (0.13, 8)
    """
    kw = {**REALISTIC_BRIGHTFIELD, **_with_density(overrides, REALISTIC_BRIGHTFIELD_NUCLEI_PER_UM2)}
    ref = kw.get("reference_pixel_size_um")
    px = float(kw.get("pixel_size_um", IshLayoutOptions.pixel_size_um))
    if "jpeg_quality" not in overrides and ref is not None and px != float(ref):
        # The preset's JPEG is the tuning fields' own, on 8 x 8 blocks of 0.065 µm pixels
        # (0.52 µm); a coarser pixel averages those blocks away (the 0.065 render
        # downscaled has none), while a JPEG at the coarse size would blur the red
        # dots' colour over 0.5 µm chroma pixels (4:2:0) and filter the noise anew. What
        # the JPEG leaves of the noise at the scale of a coarser pixel stays.
        kw["jpeg_quality"] = None
        if "noise_dn" not in overrides:
            kw["noise_dn"] = float(kw["noise_dn"]) * _PRESET_JPEG_NOISE_PASS
    return BrightfieldIshFieldOptions(**kw)


#: What :func:`crowded_brightfield_options` adds to :data:`REALISTIC_BRIGHTFIELD` (issue
#: 11, branch abundant): nuclei crowded with red dots and with many small, faint grey
#: silver dots. The faint share and darkness are ASSUMED, not measured: the tuning fields
#: DISH1 / DISH3 have 19 % faint grey dots at 0.42 x (the preset's); a held-back field
#: is described (tests/data/ish_reference/README.md) as "5-15 red dots and many small
#: grey silver dots per nucleus" and was not looked at. 60 % of the single silver dots
#: faint at 0.35 x the dark dots' peak OD, their FWHM the preset's 0.31 µm (s.d. 0.13).
CROWDED_BRIGHTFIELD: Mapping[str, object] = MappingProxyType({
    "scenario": "crowded_polysomy",
    "silver_faint_share": 0.6,
    "silver_faint_od_factor": 0.35,
})


def crowded_brightfield_options(**overrides) -> BrightfieldIshFieldOptions:
    """:func:`realistic_brightfield_options` with :data:`CROWDED_BRIGHTFIELD`, then
    ``overrides``: nuclei full of signals of both colours.

    Parameters
    ----------
    **overrides
        Any :class:`BrightfieldIshFieldOptions` field (e.g. ``scenario="crowded_gain"``
        for HER2 ~7 with CEP17 ~4, ``silver_faint_od_factor``); the nucleus density,
        JPEG and noise rules of :func:`realistic_brightfield_options` hold.

    Returns
    -------
    BrightfieldIshFieldOptions

    Examples
    --------
    >>> o = crowded_brightfield_options(shape_px=(256, 256), pixel_size_um=0.25)
    >>> o.scenario, o.silver_faint_share, o.psf_sigma_um
    ('crowded_polysomy', 0.6, 0.13)
    """
    return realistic_brightfield_options(**{**CROWDED_BRIGHTFIELD, **overrides})


def realistic_fish_options(**overrides) -> FishFieldOptions:
    """FISH options with :data:`REALISTIC_FISH`, then ``overrides``.

    Parameters
    ----------
    **overrides
        Any :class:`FishFieldOptions` field; without ``n_nuclei`` (or ``counts``) the
        fitted density :data:`REALISTIC_FISH_NUCLEI_PER_UM2`.

    Returns
    -------
    FishFieldOptions
        Render it with :func:`render_fish_field`.
    """
    return FishFieldOptions(**{**REALISTIC_FISH,
                               **_with_density(overrides, REALISTIC_FISH_NUCLEI_PER_UM2)})


#: Log s.d. of the copies' brightness (every generated field).
_DOT_WEIGHT_SD = 0.2
#: Per-field ranges of the realistic FISH preset (log-uniform draws of
#: :func:`varied_fish_options`): dot brightness, nuclear background and bleed-through
#: vary from field to field. Spanning the tuning fields FISH1 and FISH2 (pixel sizes
#: ASSUMED; ``python -m benchmarks.ish_realism``, per-field table, 2026-12-01): measured
#: HER2 dot SNR 26.9 / 12.9 and CEP17 19.3 / 14.4 (the preset's 36 gives ~17), dot over
#: nuclear level 2.0 / 1.1 (HER2) and 1.4 / 1.9 (CEP17), bleed-through (the other
#: channel at a probe's dots) 0.51 / 0.22 at HER2 dots and 0.37 / 0.075 at CEP17 dots.
#: The ranges' ends, rendered, measure SNR ~13 / ~28, dot over nuclear level ~0.9 /
#: ~2.4 and bleed-through ~0.08 / ~0.5 (same table). Dot-to-dot brightness: the log
#: LoG response of the detected dots spreads by 0.40 / 0.40 (HER2) and 0.39 / 0.28
#: (CEP17) robust s.d. on FISH1 / FISH2, 0.26 on the preset's fields.
REALISTIC_FISH_VARIATION: Mapping[str, tuple[float, float]] = MappingProxyType({
    "snr": (20.0, 70.0),
    "nuclear_background": (0.1, 0.45),
    "crosstalk": (0.07, 0.5),
    "crosstalk_cep17_to_her2": (0.07, 0.5),
    "dot_brightness_sd": (0.25, 0.45),
})


def varied_fish_options(variation_seed: int, **overrides) -> FishFieldOptions:
    """:func:`realistic_fish_options` with brightness, background and bleed-through drawn
    per field from :data:`REALISTIC_FISH_VARIATION`.

    Parameters
    ----------
    variation_seed : int
        Seed of the draws (``numpy.random.default_rng``), separate from the layout's
        ``seed`` so that one layout can be rendered under several conditions.
    **overrides
        Any :class:`FishFieldOptions` field; overrides the draws too.

    Returns
    -------
    FishFieldOptions

    Examples
    --------
    >>> o = varied_fish_options(3, shape_px=(256, 256), pixel_size_um=0.069)
    >>> 20.0 <= o.snr <= 70.0 and 0.07 <= o.crosstalk <= 0.5
    True
    """
    rng = np.random.default_rng(int(variation_seed))
    drawn = {k: float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
             for k, (lo, hi) in REALISTIC_FISH_VARIATION.items()}
    return realistic_fish_options(**{**drawn, **overrides})


# --------------------------------------------------------------------------- shared stages
class _Layout(NamedTuple):
    """Layout stage output: the nuclei, the signals and their truth."""

    labels: np.ndarray  # int32 nucleus ids 1..n
    params: list  # (row, col, a, b, theta) per nucleus, pixels and radians
    signals: np.ndarray  # SIGNAL_DTYPE
    nuclei: np.ndarray  # NUCLEUS_DTYPE
    scenario: str  # the scenario name or "custom"
    defocused: np.ndarray  # bool (rows, cols): pixels of out-of-focus nuclei


class _Points(NamedTuple):
    """Point sources: one per copy (clusters exploded), index into the signal table."""

    idx: np.ndarray  # signal row of each point
    rows: np.ndarray  # px
    cols: np.ndarray  # px
    weight: np.ndarray  # splat weight: integrated intensity or OD
    defocused: np.ndarray  # bool: the point's nucleus is out of focus


def _lay_out_field(options: IshLayoutOptions, assay: str, rng: np.random.Generator) -> _Layout:
    """Stage 1: nuclei, per-nucleus counts and clusters, signal positions, focus, truth.

    Draws, in order: the nuclei (:func:`place_nuclei_without_overlap`), the counts and
    cluster sizes, the signal positions, and which nuclei are in focus.
    """
    pixel_size_um = options.pixel_size_um
    n = options.n_nuclei if options.counts is None else len(options.counts)
    labels, params = place_nuclei_without_overlap(
        options.shape_px, n, semi_axes_um=_SEMI_AXIS_RANGE_UM, pixel_size_um=pixel_size_um, rng=rng
    )
    her2, cep17, cluster_sizes, name = _counts_and_clusters(
        rng, n, options.scenario, options.counts, options.clusters, assay,
        int(options.cluster_min_her2), tuple(options.cluster_copies)
    )
    sep_um = max(4.0 * options.psf_sigma_um, 0.6)
    spread = float(options.cluster_spread_um)
    if options.cluster_aggregate_step_um is not None:
        # An aggregate of k copies reaches ~ step x sqrt(k) from its centre.
        spread = max(spread, float(options.cluster_aggregate_step_um)
                     * np.sqrt(max(options.cluster_copies)) / 2.0)
    signals = _place_signals(rng, params, labels, pixel_size_um, her2, cep17, cluster_sizes,
                             sep_um, max(_CLUSTER_RADIUS_UM, 3.0 * spread))
    in_focus = rng.random(n) >= float(options.out_of_focus_fraction)
    nuclei = _truth_nuclei(labels, params, signals, pixel_size_um, in_focus)
    oof_ids = nuclei["nucleus_id"][~nuclei["in_focus"]]
    defocused = np.isin(labels, oof_ids) if len(oof_ids) else np.zeros(labels.shape, bool)
    return _Layout(labels, params, signals, nuclei, name, defocused)


def _signal_points(
    layout: _Layout, options: IshLayoutOptions, peak: float, rng: np.random.Generator
) -> _Points:
    """Stage 2: explode clusters into copies, and weight each so its Gaussian peaks at ``peak``.

    ``peak`` is in the unit of the image the points go into (photons above background
    for FISH, OD for brightfield); copies vary log-normally around it (20 %).
    """
    pixel_size_um = options.pixel_size_um
    sigma = options.psf_sigma_um / pixel_size_um
    signals, nuclei = layout.signals, layout.nuclei
    step = options.cluster_aggregate_step_um
    idx, prow, pcol, pweight = _expand_points(
        rng, signals, pixel_size_um, float(options.cluster_spread_um),
        aggregate_step_um=step,
        aggregate_rng=(None if step is None
                       else np.random.default_rng([int(options.seed), _AGGREGATE_STREAM])))
    # Splat weight so that a Gaussian of s.d. sigma peaks at ``peak``.
    pweight = pweight * peak * 2 * np.pi * sigma**2
    cep_sigma, cep_peak = _probe_sigma_um(options, "cep17"), _probe_peak(options, "cep17", peak)
    if cep_sigma != options.psf_sigma_um or cep_peak != peak:
        is_cep = signals["probe"][idx] == "cep17"
        pweight[is_cep] *= (cep_peak / peak) * (cep_sigma / options.psf_sigma_um) ** 2
    oof_ids = nuclei["nucleus_id"][~nuclei["in_focus"]]
    p_oof = np.isin(signals["nucleus_id"][idx], oof_ids)
    return _Points(idx, prow, pcol, pweight, p_oof)


def _probe_sigma_um(options: IshLayoutOptions, probe: str) -> float:
    """Gaussian s.d. of one probe's dots, µm."""
    if probe == "cep17" and options.cep17_psf_sigma_um is not None:
        return float(options.cep17_psf_sigma_um)
    return options.psf_sigma_um


def _probe_peak(options: IshLayoutOptions, probe: str, peak: float) -> float:
    """Peak of one probe's dots (brightfield CEP17 may have its own OD)."""
    cep = getattr(options, "cep17_signal_od", None)
    return float(cep) if probe == "cep17" and cep is not None else peak


def _probe_image(
    layout: _Layout, points: _Points, options: IshLayoutOptions, probe: str, dz: np.ndarray,
    only: np.ndarray | None = None, sigma_factor: float = 1.0,
) -> np.ndarray:
    """One probe's signals as a sum of Gaussians (s.d. grown by defocus and ``dz``);
    ``only`` (bool per point) restricts them, ``sigma_factor`` scales their s.d."""
    pixel_size_um = options.pixel_size_um
    selected = layout.signals["probe"][points.idx] == probe
    return optics.render_point_sources(
        layout.labels.shape,
        points.rows,
        points.cols,
        points.weight,
        selected=selected if only is None else selected & only,
        defocused=points.defocused,
        dz=dz,
        sigma_px=sigma_factor * _probe_sigma_um(options, probe) / pixel_size_um,
        defocus_sigma_px=optics.DEFOCUS_SIGMA_UM / pixel_size_um,
    )


def _result(layout: _Layout, image, channel_names, options: IshLayoutOptions, assay: str):
    """Last stage: the image and the truth as a :class:`SyntheticIsh`."""
    return SyntheticIsh(
        image=image,
        channel_names=channel_names,
        labels=layout.labels,
        nuclei=layout.nuclei,
        signals=layout.signals,
        pixel_size_um=options.pixel_size_um,
        psf_sigma_um=float(options.psf_sigma_um),
        assay=assay,
        scenario=layout.scenario,
        seed=int(options.seed),
    )


# --------------------------------------------------------------------------- FISH
def _dapi_photons(layout: _Layout, options: FishFieldOptions, rng: np.random.Generator):
    """FISH stage 3: expected DAPI photons: textured nuclei of varying brightness, focus blur."""
    pixel_size_um = options.pixel_size_um
    labels = layout.labels
    texture = smooth_texture(labels.shape, _DAPI_TEXTURE_UM / pixel_size_um, rng)
    nuc_bright = np.concatenate([[0.0], rng.lognormal(0, 0.15, len(layout.params))])[labels]
    amp = float(options.dapi_texture) * _per_pixel_factor(options, _DAPI_TEXTURE_UM)
    dapi_clean = (labels > 0) * nuc_bright * np.clip(1 + amp * texture, 0.2, None)
    blurred = optics.focus_blur(dapi_clean, layout.defocused, sigma_um=0.25,
                                pixel_size_um=pixel_size_um)
    photons = 1500.0 * blurred + float(options.dapi_outside) * 1500.0
    area = _photon_area_factor(options)
    return photons if area == 1.0 else photons * area


def _fish_expected(
    layout: _Layout, points: _Points, dapi_photons: np.ndarray, options: FishFieldOptions
) -> np.ndarray:
    """FISH stage 4: expected photons per plane and channel (DAPI, HER2, CEP17).

    Probe channels: background (30 % more in nuclei, under a 30 % illumination
    gradient) plus the in-focus signals and their out-of-focus haze. In a z-stack a
    signal is sharp in its own plane, and DAPI dims by 10 % per plane from the middle.
    """
    shape = layout.labels.shape
    haze, z_planes = options.haze, options.z_planes
    n_planes = 1 if z_planes is None else int(z_planes)
    p_z = layout.signals["z"][points.idx]
    nuc_mask = layout.labels > 0
    gradient = optics.linear_illumination(shape, rise=0.3)
    planes = []
    for z in range(n_planes):
        chans = [dapi_photons * (1.0 if z_planes is None else 1.0 - 0.1 * abs(z - n_planes // 2))]
        dz = np.abs(p_z - z) if z_planes is not None else np.zeros(len(points.idx), int)
        imgs = [_probe_image(layout, points, options, probe, dz) for probe in ("her2", "cep17")]
        xt = float(options.crosstalk)
        xt_ch = xt if options.crosstalk_cep17_to_her2 is None else float(
            options.crosstalk_cep17_to_her2)
        if xt or xt_ch:
            imgs = [imgs[0] + xt_ch * imgs[1], imgs[1] + xt * imgs[0]]
        for img in imgs:
            haze_img = ndi.gaussian_filter(img, _HAZE_SIGMA_UM / options.pixel_size_um) * haze
            bg = float(options.background) * _photon_area_factor(options) * gradient * (
                1.0 + float(options.nuclear_background) * nuc_mask)
            if options.dapi_bleed:
                bg = bg + float(options.dapi_bleed) * chans[0]
            chans.append(bg + (1.0 - haze) * img + haze_img)
        planes.append(np.stack(chans, axis=-1))
    return np.stack(planes) if z_planes is not None else planes[0]


def generate_fish_field(
    *,
    shape_px: tuple[int, int] = (512, 512),
    pixel_size_um: float = 0.2,
    n_nuclei: int = 20,
    scenario: str = "normal",
    counts: Sequence[tuple[int, int]] | None = None,
    clusters: bool | None = None,
    seed: int = 0,
    snr: float = 8.0,
    background: float = 50.0,
    haze: float = 0.3,
    psf_sigma_um: float = 0.2,
    out_of_focus_fraction: float = 0.0,
    z_planes: int | None = None,
) -> SyntheticIsh:
    """Generate a 3-channel HER2 FISH field (DAPI, HER2, CEP17) with its truth.

    Parameters
    ----------
    shape_px : (int, int), optional
        Field size in pixels (rows, cols).
    pixel_size_um : float, optional
        µm per pixel (0.2 is a 63x objective on a 12.9 µm-pixel camera binned 1x).
    n_nuclei : int, optional
        Nuclei to place. Ignored when ``counts`` is given (one nucleus per pair).
    scenario : str, optional
        A key of :data:`SCENARIOS`: ``normal``, ``polysomy``, ``amplified``,
        ``group1`` ... ``group5``.
    counts : sequence of (int, int), optional
        Per-nucleus (HER2, CEP17) copies, overriding ``scenario``.
    clusters : bool, optional
        Put the copies of nuclei with HER2 >= 8 partly into tight clusters. Default:
        the scenario's setting (True only for ``amplified``); False for ``counts``.
    seed : int, optional
        Seed of the random generator; same arguments and seed give the same field.
    snr : float, optional
        Peak height of an average in-focus single signal above the local background,
        divided by the Poisson s.d. of the nuclear background ``sqrt(1.3 *
        background)`` (unitless, raw pixels, before any filtering).
    background : float, optional
        Background level of the probe channels, photons/px.
    haze : float, optional
        Fraction of signal energy spread as out-of-focus haze (0-0.9); the in-focus
        peak is scaled so that ``snr`` still holds.
    psf_sigma_um : float, optional
        Gaussian s.d. of one signal, µm.
    out_of_focus_fraction : float, optional
        Fraction of nuclei rendered defocused (technologists skip them).
    z_planes : int, optional
        If given, return a (planes, rows, cols, 3) stack: each signal is sharp in
        one random plane and blurred in the others (s.d. grows as
        ``sigma * sqrt(1 + dz**2)`` with the energy kept).

    Returns
    -------
    SyntheticIsh
        ``image`` is uint16 photon counts, channel last, channels
        ``("dapi", "her2", "cep17")``.

    Raises
    ------
    Her2kitInputError
        Unknown scenario, bad counts, or a field too small for the nuclei.

    Notes
    -----
    The keywords are gathered into a :class:`FishFieldOptions` (which validates them)
    and rendered by :func:`render_fish_field`.

    Examples
    --------
    >>> f = generate_fish_field(shape_px=(256, 256), n_nuclei=4, seed=1)
    >>> f.image.shape, f.channel_names
    ((256, 256, 3), ('dapi', 'her2', 'cep17'))
    """
    options = FishFieldOptions(
        shape_px=shape_px,
        pixel_size_um=pixel_size_um,
        n_nuclei=n_nuclei,
        scenario=scenario,
        counts=counts,
        clusters=clusters,
        seed=seed,
        snr=snr,
        background=background,
        haze=haze,
        psf_sigma_um=psf_sigma_um,
        out_of_focus_fraction=out_of_focus_fraction,
        z_planes=z_planes,
    )
    return render_fish_field(options)


def render_fish_field(options: FishFieldOptions) -> SyntheticIsh:
    """Render the FISH field that ``options`` describe (see :func:`generate_fish_field`).

    Stages, in the order they draw from ``numpy.random.default_rng(options.seed)``:
    layout, focal planes (z-stacks only), signal points, DAPI, then Poisson photon noise.

    Parameters
    ----------
    options : FishFieldOptions
        The validated recipe, seed included.

    Returns
    -------
    SyntheticIsh
    """
    rng = np.random.default_rng(options.seed)
    layout = _lay_out_field(options, "fish", rng)
    if options.z_planes is not None:
        layout.signals["z"] = rng.integers(0, int(options.z_planes), len(layout.signals))
    # Peak photons above background of an average in-focus signal, measured against
    # the Poisson s.d. of the nuclear background (1.3 x background), after the
    # haze has taken its share of the energy.
    amp = (
        float(options.snr) * np.sqrt(1.3 * float(options.background)) / (1.0 - float(options.haze))
    )
    area = _photon_area_factor(options)
    if area != 1.0:
        # A resolved dot's photons spread over the same µm², so its peak per pixel
        # grows with the pixel's area, as the background does.
        amp *= area
    points = _signal_points(layout, options, amp, rng)
    if options.dot_brightness_sd is not None and options.dot_brightness_sd > _DOT_WEIGHT_SD:
        # Extra dot-to-dot spread from a stream of its own (the main stream, and so
        # every field rendered without this option, stays as it was).
        extra = np.sqrt(float(options.dot_brightness_sd) ** 2 - _DOT_WEIGHT_SD**2)
        spread = np.random.default_rng([int(options.seed), 11]).lognormal(
            0.0, extra, len(points.weight))
        points = points._replace(weight=points.weight * spread)
    dapi_photons = _dapi_photons(layout, options, rng)
    expected = _fish_expected(layout, points, dapi_photons, options)
    image = optics.photon_counts(expected, rng)
    return _result(layout, image, ("dapi", "her2", "cep17"), options, "fish")


# --------------------------------------------------------------------------- brightfield
def _hematoxylin_od(
    layout: _Layout, options: BrightfieldIshFieldOptions, rng: np.random.Generator
) -> np.ndarray:
    """Brightfield stage 3: hematoxylin OD: textured nuclei (some darker), focus, stroma."""
    pixel_size_um = options.pixel_size_um
    labels = layout.labels
    shape = labels.shape
    texture = smooth_texture(shape, float(options.nucleus_texture_um) / pixel_size_um, rng)
    amp = float(options.nucleus_texture) * _per_pixel_factor(options,
                                                             float(options.nucleus_texture_um))
    level = np.full(int(labels.max()) + 1, float(options.nucleus_od))
    level[0] = 0.0
    if options.dark_nucleus_fraction > 0:
        dark = rng.random(level.size - 1) < float(options.dark_nucleus_fraction)
        level[np.flatnonzero(dark) + 1] *= 3.0
    nuc_od = level[labels] * np.clip(1 + amp * texture, 0.2, None)
    hema = optics.focus_blur(nuc_od, layout.defocused, sigma_um=0.3, pixel_size_um=pixel_size_um)
    hema += float(options.stroma_od)  # faint counterstain of the stroma
    if options.stroma_gradient_od:
        hema += float(options.stroma_gradient_od) * np.linspace(0.0, 1.0, shape[1])[None, :]
    return hema


def _brightfield_od(
    layout: _Layout, points: _Points, hema: np.ndarray, options: BrightfieldIshFieldOptions
) -> np.ndarray:
    """Brightfield stage 4: total OD: hematoxylin plus each probe's chromogen dots.

    Pixels coarser than the reference (:func:`_supersampling`) see the dots' light
    averaged over their area, not their OD (:func:`_light_averaged_chromogen_od`).
    """
    stains = [(hema, _stain_vector(options, "hematoxylin"))]
    faint = _faint_silver(layout, points, options)
    m = _supersampling(options)
    if m == 1:
        od = optics.mix_stains(stains + _chromogen_amounts(layout, points, options, faint))
    else:
        od = optics.mix_stains(stains) + _light_averaged_chromogen_od(
            layout, points, options, faint, m)
    if any(options.background_od_rgb):
        od = od + np.asarray(options.background_od_rgb, float)
    return od


def _chromogen_amounts(layout: _Layout, points: _Points, options: BrightfieldIshFieldOptions,
                       faint: np.ndarray | None) -> list:
    """(amount, OD vector) of each probe's chromogen present: silver (faint dots dimmer
    and wider) or DAB for HER2, fast red for CEP17, after :func:`_chromogen_response`."""
    probes = {"her2": "silver" if options.assay == "dual-ish" else "dab", "cep17": "fast_red"}
    no_dz = np.zeros(len(points.idx), int)
    stains = []
    for probe, stain in probes.items():
        if (layout.signals["probe"][points.idx] == probe).any():
            if stain == "silver" and faint is not None:
                f = float(options.silver_faint_sigma_factor)
                dim = points._replace(weight=points.weight * (
                    float(options.silver_faint_od_factor) * f * f))
                amount = (_probe_image(layout, points, options, probe, no_dz, only=~faint)
                          + _probe_image(layout, dim, options, probe, no_dz, only=faint,
                                         sigma_factor=f))
            else:
                amount = _probe_image(layout, points, options, probe, no_dz)
            amount = _chromogen_response(amount, stain, options)
            stains.append((amount, _stain_vector(options, stain)))
    return stains


#: Context (µm) rendered around each strip of :func:`_light_averaged_chromogen_od`: over
#: four s.d. of the widest Gaussian a dot gets (the red halo, or a defocused dot's 1.2 µm).
_STRIP_MARGIN_UM = 6.0
#: Sub-pixels per strip (about 32 MB per float64 plane): rows = this / (cols m²), >= 32.
_STRIP_SUBPIXELS = 4_000_000


def _supersampling(options: BrightfieldIshFieldOptions) -> int:
    """Sub-pixels per side for the dots: 1 (OD rendered per pixel) without a reference
    pixel size or at / under it; else ``ceil(pixel / reference)``, the sub-pixels at most
    the reference size (and at least 0.02 µm)."""
    ref = options.reference_pixel_size_um
    px = options.pixel_size_um
    if ref is None or px <= float(ref):
        return 1
    return max(1, min(int(np.ceil(px / float(ref) - 1e-9)), int(px / 0.02)))


def _light_averaged_chromogen_od(layout: _Layout, points: _Points,
                                 options: BrightfieldIshFieldOptions,
                                 faint: np.ndarray | None, m: int) -> np.ndarray:
    """Chromogen OD (rows, cols, 3) of pixels that average the dots' light over their area.

    A dot of 0.13 µm s.d. is about as wide as a 0.25 µm pixel and dense silver is opaque,
    so a pixel's OD is ``-log10`` of the mean transmittance of its ``m x m`` sub-pixels,
    not the mean OD (which would make small dark dots and clusters darker and their
    integrated OD larger the coarser the pixel). Rendered in strips of
    about :data:`_STRIP_SUBPIXELS` sub-pixels with :data:`_STRIP_MARGIN_UM` of context
    (memory grows with the strip, not the field). The hematoxylin is smooth on this
    scale and stays per pixel (its transmittance multiplies).
    """
    rows, cols = layout.labels.shape
    fine = dataclasses.replace(options, pixel_size_um=options.pixel_size_um / m)
    margin = int(np.ceil(_STRIP_MARGIN_UM / options.pixel_size_um))
    out = np.zeros((rows, cols, 3))
    step = max(32, _STRIP_SUBPIXELS // (cols * m * m))
    for r0 in range(0, rows, step):
        r1 = min(rows, r0 + step)
        a0, a1 = max(0, r0 - margin), min(rows, r1 + margin)
        fr = (points.rows - a0 + 0.5) * m - 0.5
        sel = (fr >= 0) & (fr <= (a1 - a0) * m - 1)
        if not sel.any():
            continue
        sub = _Points(points.idx[sel], fr[sel], (points.cols[sel] + 0.5) * m - 0.5,
                      points.weight[sel] * (m * m), points.defocused[sel])
        strip = layout._replace(labels=np.zeros(((a1 - a0) * m, cols * m), np.int8))
        stains = _chromogen_amounts(strip, sub, fine, None if faint is None else faint[sel])
        if not stains:
            continue
        light = np.power(10.0, -optics.mix_stains(stains))
        light = light.reshape(a1 - a0, m, cols, m, 3).mean(axis=(1, 3))
        out[r0:r1] = -np.log10(light[r0 - a0:r1 - a0])
    return out


def _faint_silver(layout: _Layout, points: _Points, options: BrightfieldIshFieldOptions
                  ) -> np.ndarray | None:
    """Which points are faint grey silver dots (single HER2 dots only; Dual ISH), or None.

    Drawn from ``default_rng([seed, 11])``, not the field's generator: a share of 0 leaves
    every other draw, and so the image, as it was.
    """
    faint = _faint_points(layout.signals, points.idx, options)
    return faint if faint is not None and faint.any() else None


def _faint_points(signals: np.ndarray, idx: np.ndarray, options: BrightfieldIshFieldOptions
                  ) -> np.ndarray | None:
    """Per point (signal row ``idx``): a faint grey silver dot; None when none can be."""
    share = float(options.silver_faint_share)
    if not share > 0 or options.assay != "dual-ish":
        return None
    sig = signals[idx]
    single = (sig["probe"] == "her2") & ~sig["is_cluster"]
    draw = np.random.default_rng([int(options.seed), 11]).random(len(idx))
    return single & (draw < share)


def faint_silver_signals(syn: SyntheticIsh, options: BrightfieldIshFieldOptions) -> np.ndarray:
    """Which signals of a rendered Dual ISH field are faint grey silver dots.

    Parameters
    ----------
    syn : SyntheticIsh
        The field ``options`` rendered (:func:`render_brightfield_ish_field`).
    options : BrightfieldIshFieldOptions
        Its options (``silver_faint_share`` and the seed decide the faint dots).

    Returns
    -------
    (len(syn.signals),) ndarray of bool
        True for the single HER2 dots rendered at ``silver_faint_od_factor`` x the
        peak OD; all False without faint silver (or for CISH / FISH).

    Raises
    ------
    Her2kitInputError
        ``syn`` is not the field of ``options`` (another seed or shape).
    """
    if (syn.seed != int(options.seed) or syn.labels.shape != tuple(options.shape_px)
            or syn.assay != options.assay):
        raise Her2kitInputError("the field was not rendered from these options",
                                field="options")
    sig = syn.signals
    idx = np.repeat(np.arange(len(sig)), np.where(sig["is_cluster"], sig["copies"], 1))
    faint = _faint_points(sig, idx, options)
    out = np.zeros(len(sig), bool)
    if faint is not None:
        out[idx[faint]] = True
    return out


#: Second seed word of the red variation's random stream (:func:`_red_variation`).
_RED_STREAM = 17


def _red_variation(layout: _Layout, points: _Points, options: BrightfieldIshFieldOptions,
                   rng: np.random.Generator) -> _Points:
    """Red copies' extra peak spread and faint share (each drawn only when on)."""
    spread, faint = float(options.red_peak_log_sd), float(options.red_faint_share)
    if not (spread > 0 or faint > 0):
        return points
    is_cep = layout.signals["probe"][points.idx] == "cep17"
    w = points.weight.copy()
    if spread > 0:
        w[is_cep] *= 10.0 ** rng.normal(0.0, spread, int(is_cep.sum()))
    if faint > 0:
        w[is_cep] *= np.where(rng.random(int(is_cep.sum())) < faint,
                              float(options.red_faint_factor), 1.0)
    return points._replace(weight=w)


def _stain_vector(options: BrightfieldIshFieldOptions, stain: str) -> np.ndarray:
    """The OD vector of one stain: the options' own (normalised) or the library's."""
    own = {"hematoxylin": options.hematoxylin_od_rgb, "fast_red": options.red_od_rgb}.get(stain)
    if own is None:
        return np.asarray(STAIN_VECTORS[stain])
    v = np.asarray(own, float)
    return v / np.linalg.norm(v)


def _chromogen_response(amount, stain: str, options: BrightfieldIshFieldOptions):
    """Silver saturation and the red dots' halo (both off by default)."""
    if stain == "silver" and options.silver_saturation_od is not None:
        sat = float(options.silver_saturation_od)
        amount = sat * -np.expm1(-amount / sat)
    if stain == "fast_red" and options.red_halo:
        h = float(options.red_halo)
        amount = (1.0 - h) * amount + h * ndi.gaussian_filter(
            amount, float(options.red_halo_sigma_um) / options.pixel_size_um)
    return amount


def generate_brightfield_ish_field(
    *,
    shape_px: tuple[int, int] = (512, 512),
    pixel_size_um: float = 0.2,
    n_nuclei: int = 20,
    scenario: str = "normal",
    counts: Sequence[tuple[int, int]] | None = None,
    clusters: bool | None = None,
    seed: int = 0,
    assay: str = "dual-ish",
    signal_od: float = 0.9,
    noise_dn: float = 2.0,
    psf_sigma_um: float = 0.25,
    out_of_focus_fraction: float = 0.0,
    nucleus_od: float = 0.28,
    dark_nucleus_fraction: float = 0.0,
    stroma_od: float = 0.03,
    stroma_gradient_od: float = 0.0,
) -> SyntheticIsh:
    """Generate a brightfield Dual ISH or single-probe CISH field with its truth.

    Parameters
    ----------
    shape_px, pixel_size_um, n_nuclei, scenario, counts, clusters, seed
        As in :func:`generate_fish_field`.
    assay : {"dual-ish", "cish"}, optional
        Dual ISH: HER2 = black silver dots, CEP17 = red (fast red) dots, Ventana
        convention. CISH: HER2 = brown DAB dots, no CEP17.
    signal_od : float, optional
        Peak optical density (base 10, along the unit stain vector) of one signal.
    noise_dn : float, optional
        Gaussian camera noise s.d., 8-bit digital numbers, per pixel (with
        :attr:`BrightfieldIshFieldOptions.reference_pixel_size_um`: per pixel of that
        size, ``x reference / pixel_size_um`` here).
    psf_sigma_um : float, optional
        Gaussian s.d. of one dot, µm.
    out_of_focus_fraction : float, optional
        Fraction of nuclei rendered defocused.
    nucleus_od : float, optional
        Mean hematoxylin OD (base 10, along the unit vector) of a nucleus; real
        Dual ISH nuclei are often much paler (~0.1).
    dark_nucleus_fraction : float, optional
        Share of nuclei (chosen at random) stained 3x darker, as in real fields
        where pale and dark nuclei mix.
    stroma_od : float, optional
        Hematoxylin OD of the faint counterstain outside nuclei.
    stroma_gradient_od : float, optional
        Extra stroma OD rising linearly from 0 at the left edge to this value at
        the right edge (uneven illumination / cytoplasm).

    Returns
    -------
    SyntheticIsh
        ``image`` is (rows, cols, 3) uint8 RGB; ``channel_names`` is
        ``("red", "green", "blue")``.

    Raises
    ------
    Her2kitInputError
        Unknown assay or scenario, bad counts, or a field too small.

    Notes
    -----
    The keywords are gathered into a :class:`BrightfieldIshFieldOptions` (which validates
    them) and rendered by :func:`render_brightfield_ish_field`.
    """
    options = BrightfieldIshFieldOptions(
        shape_px=shape_px,
        pixel_size_um=pixel_size_um,
        n_nuclei=n_nuclei,
        scenario=scenario,
        counts=counts,
        clusters=clusters,
        seed=seed,
        assay=assay,
        signal_od=signal_od,
        noise_dn=noise_dn,
        psf_sigma_um=psf_sigma_um,
        out_of_focus_fraction=out_of_focus_fraction,
        nucleus_od=nucleus_od,
        dark_nucleus_fraction=dark_nucleus_fraction,
        stroma_od=stroma_od,
        stroma_gradient_od=stroma_gradient_od,
    )
    return render_brightfield_ish_field(options)


def render_brightfield_ish_field(options: BrightfieldIshFieldOptions) -> SyntheticIsh:
    """Render the brightfield field that ``options`` describe.

    See :func:`generate_brightfield_ish_field`. Stages, in the order they draw from
    ``numpy.random.default_rng(options.seed)``: layout, signal points, hematoxylin, then
    (after Beer-Lambert) Gaussian camera noise.

    Parameters
    ----------
    options : BrightfieldIshFieldOptions
        The validated recipe, seed included.

    Returns
    -------
    SyntheticIsh
    """
    rng = np.random.default_rng(options.seed)
    layout = _lay_out_field(options, options.assay, rng)
    points = _signal_points(layout, options, float(options.signal_od), rng)
    # The red variation draws from its own stream, so that turning it on leaves every
    # other draw of the field (hematoxylin texture, camera noise) as it was.
    points = _red_variation(layout, points, options,
                            np.random.default_rng((int(options.seed), _RED_STREAM)))
    hema = _hematoxylin_od(layout, options, rng)
    od = _brightfield_od(layout, points, hema, options)
    if options.grain_od:
        grain = smooth_texture(od.shape[:2], float(options.grain_um) / options.pixel_size_um, rng)
        grain_od = float(options.grain_od) * _per_pixel_factor(options, float(options.grain_um))
        od = od + grain_od * grain[..., None]
    light = optics.transmitted_intensity(od, incident=255.0)
    if _supersampling(options) > 1:
        # The reference camera clips its noisy pixels to 0-255; a coarser pixel averages
        # those clipped values (dark dots lighter, glass a little darker).
        light = optics.clipped_noise_mean(light, float(options.noise_dn))
    rgb = light + optics.camera_noise(
        od.shape, float(options.noise_dn) * _per_pixel_factor(options, 0.0), rng
    )
    image = optics.to_uint8(rgb)
    if options.jpeg_quality is not None:
        image = optics.jpeg_round_trip(image, int(options.jpeg_quality))
    return _result(layout, image, ("red", "green", "blue"), options, options.assay)

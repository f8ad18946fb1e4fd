"""How real do generated ISH fields look? Image statistics, real fields vs generated ones.

Run from the repository root::

    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_realism

One set of measurements (:func:`brightfield_stats`, :func:`fish_stats`) is applied to the
shared PCM_fish_dish fields (``../shared/data/real/her2_fish_dish_pcm``, read in place)
and to generated fields alike. Nuclei are found from given centres: on the real fields the
hand-reference nucleus positions (tests/data/ish_reference/*.csv), on generated fields the
truth centres of whole nuclei. Everything is measured in discs of ``DISC_UM`` around those
centres (well inside a 9-11 µm nucleus) or in crops around them, so no segmentation of the
counter is involved.

Brightfield (Dual ISH), per pixel optical density ``-log10(I / white)`` with the white
point the 99.5th percentile of each channel:

- silver amount ``OD_R - 0.336 (OD_G - OD_R)`` (cancels fast red, whose OD vector is
  (0.214, 0.851, 0.478); silver is neutral, hematoxylin adds its texture, as in the eye);
- red amount ``OD_G - OD_R`` (fast red 0.64 per unit, hematoxylin 0.05, silver 0).

Each amount, Gaussian-smoothed by 1 px, minus its median in the disc, gives dots: local
maxima above ``max(6 x MAD, floor)``. Per dot: peak (OD above the nucleus), grey or not
(silver: its peak, 1 px Gaussian-smoothed, above 0.35 of the glass in every channel),
FWHM (µm, the diameter of a disc with the area at or above half the peak), integrated OD
over that area (OD µm²), and for red dots the halo (mean amount 0.5-1.0 µm from the peak
over the peak), hue (OD R / G and B / G at the peak above the disc median), the spread of
their peak and FWHM (s.d. of log10, decades) and the faint share (peak below
``FAINT_RED_FRACTION`` x the median peak). Silver aggregates:
connected pixels above the detection threshold: area (µm²), irregularity (1 - solidity)
of those >= 0.5 µm², and the share holding >= 2 maxima (merged). Nucleus: median OD_R in
the disc (dots masked), texture (s.d. of OD_R smoothed 0.3 µm, and of the 1 px minus 0.5
µm band: grain), paleness (nucleus minus background OD_R), hue (OD G / R and B / R of
the disc median above the background). Nuclei over the field: mask = OD_R smoothed 1 µm
above the middle of background and nucleus; area share, nucleus diameter (median
component holding one centre) and crowding (share of nuclear area in components over
twice that area). Background: median OD per channel outside the mask (eroded 2 µm) and
its grain (s.d. of OD_G minus a 1 µm blur).

FISH (channels HER2 = red, CEP17 = green, DAPI = blue of the RGB composite; a generated
field's photon counts are used as they are, so only scale-free statistics are kept): per
probe channel dots as above (threshold 6 x MAD), FWHM (µm), SNR (median peak over the
disc's robust s.d.), peak over nuclear level, nucleus over outside level, texture (CV of
the channel smoothed 0.5 µm in the disc, dots masked), bleed-through (Pearson r of the
probe channel and DAPI, both smoothed 0.5 µm, over the 12 µm crop, dots masked) and
crosstalk (the other probe's amount above its disc median at this probe's dots, over the
dot's own peak); DAPI texture (CV smoothed 0.3 µm in the disc) and DAPI nucleus / outside.

Pixel sizes are ASSUMED as in benchmarks/ish_accuracy.py (section 6): Dual ISH 0.065
µm/px, FISH1/2/3/4/5 0.072 / 0.066 / 0.054 / 0.131 / 0.109 µm/px. DISH1, DISH3, FISH1,
FISH2 are the tuning fields (the realistic presets were fitted on them only); DISH2,
DISH4, DISH5, FISH3, FISH4 and FISH5 are shown as a held-back check column, never used
for fitting.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.filters import threshold_otsu
from skimage.measure import regionprops

# ASSUMED pixel sizes: the same as section 6 and 7 of benchmarks/ish_accuracy.py.
from benchmarks.ish_accuracy import DISH_PIXEL_SIZE_UM, FISH_PIXEL_SIZE_UM
from benchmarks.ish_reference import (
    FISH_HELD_BACK_FIELDS,
    FISH_TUNING_FIELDS,
    HELD_BACK_FIELDS,
    TUNING_FIELDS,
    read_reference,
)

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
FOLDER = REAL / "her2_fish_dish_pcm"
DISC_UM = 3.5  # measuring disc around a nucleus centre, inside a 9-11 µm nucleus
CROP_UM = 6.0  # half side of the crop around a centre
_K_MAD = 6.0
_SILVER_FLOOR_OD = 0.1
_RED_FLOOR_OD = 0.15
#: A single silver dot is "grey" when its peak (RGB transmittance smoothed by a 1 px
#: Gaussian, the darkest channel) lets through more than this share of the glass
#: (branch silverdots: on DISH1 / DISH3 dark dots transmit 0.05-0.3).
_GREY_MIN_TRANSMITTANCE = 0.35


# --------------------------------------------------------------------------- shared
def _crops(shape, centres, pixel_size_um):
    """(row slice, col slice, disc mask, centre in crop) per centre fully inside the image."""
    h = round(CROP_UM / pixel_size_um)
    rr, cc = np.mgrid[-h:h + 1, -h:h + 1]
    disc = np.hypot(rr, cc) <= DISC_UM / pixel_size_um
    out = []
    for r, c in centres:
        r, c = round(r), round(c)
        if h <= r < shape[0] - h and h <= c < shape[1] - h:
            out.append((slice(r - h, r + h + 1), slice(c - h, c + h + 1), disc))
    return out


def _mad_sd(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if x.size else 0.0


def _dots(s: np.ndarray, disc: np.ndarray, pixel_size_um: float, floor: float):
    """Dots of one amount crop ``s`` (already minus the disc median): peaks and shapes.

    Returns a list of dicts (row, col, peak, fwhm_um, integrated, merged) and the
    detection threshold.
    """
    thr = max(_K_MAD * _mad_sd(s[disc]), floor)
    min_d = max(2, round(0.25 / pixel_size_um))
    pk = peak_local_max(np.where(disc, s, s.min()), min_distance=min_d, threshold_abs=thr,
                        exclude_border=False)
    dots = []
    for r, c in pk:
        peak = float(s[r, c])
        lab, _ = ndi.label(s >= peak / 2)
        comp = lab == lab[r, c]
        n_inside = int(sum(comp[q[0], q[1]] for q in pk))
        area = float(comp.sum())
        dots.append(dict(row=int(r), col=int(c), peak=peak,
                         fwhm_um=2 * np.sqrt(area / np.pi) * pixel_size_um,
                         integrated=float(s[comp].sum()) * pixel_size_um ** 2,
                         merged=n_inside > 1))
    return dots, thr


def _single(dots):
    return [d for d in dots if not d["merged"]]


#: A red dot is faint when its peak is below this fraction of the field's median red
#: peak (about the strong-dot rule ``red_min_relative`` 0.35 of the counter).
FAINT_RED_FRACTION = 0.35


def _log_sd(values) -> float:
    """s.d. of log10 of the positive values (decades): the spread of a dot statistic."""
    v = np.asarray(list(values), float)
    v = v[np.isfinite(v) & (v > 0)]
    return float(np.std(np.log10(v))) if v.size > 1 else float("nan")


def _faint_share(peaks) -> float:
    """Share of the dots whose peak is below ``FAINT_RED_FRACTION`` x the median peak."""
    v = np.asarray(peaks, float)
    return float(np.mean(v < FAINT_RED_FRACTION * np.median(v))) if v.size else float("nan")


def _median(values) -> float:
    v = np.asarray(list(values), float)
    return float(np.median(v)) if v.size else float("nan")


def _od(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb, np.float64)
    white = np.percentile(rgb.reshape(-1, 3), 99.5, axis=0)
    return -np.log10(np.clip((rgb + 0.5) / (white + 0.5), 1e-3, 1.0))


def _ring(s, r, c, pixel_size_um, inner_um, outer_um) -> float:
    rr, cc = np.ogrid[:s.shape[0], :s.shape[1]]
    d = np.hypot(rr - r, cc - c) * pixel_size_um
    m = (d >= inner_um) & (d <= outer_um)
    return float(s[m].mean()) if m.any() else float("nan")


# --------------------------------------------------------------------------- brightfield
def _aggregates(s, disc, thr, pixel_size_um, dots):
    """Silver aggregates in one disc: (areas µm², irregularities, merged flags)."""
    lab, n = ndi.label((s >= thr) & disc)
    peaks = np.zeros(n + 1, int)
    for d in dots:
        peaks[lab[d["row"], d["col"]]] += 1
    areas, irr, merged = [], [], []
    for p in regionprops(lab):
        if peaks[p.label] == 0:
            continue
        a = p.area * pixel_size_um ** 2
        areas.append(a)
        merged.append(peaks[p.label] >= 2)
        if a >= 0.5:
            irr.append(1.0 - p.solidity)
    return areas, irr, merged


def _nuclear_mask(od_r, pixel_size_um, nucleus_od, bg_guess):
    smooth = ndi.gaussian_filter(od_r, 1.0 / pixel_size_um)
    return smooth > (nucleus_od + bg_guess) / 2


def _field_shape(mask, centres, pixel_size_um):
    """Nuclear area share, nucleus diameter (µm) and crowding from the nuclear mask."""
    mask = ndi.binary_opening(mask, iterations=2)
    lab, _ = ndi.label(mask)
    areas = np.bincount(lab.ravel())
    hits = [lab[round(r), round(c)] for r, c in centres
            if 0 <= r < mask.shape[0] and 0 <= c < mask.shape[1]]
    hits = np.asarray([h for h in hits if h], int)
    ids, n_per = np.unique(hits, return_counts=True)
    single = ids[n_per == 1]
    a1 = float(np.median(areas[single])) if single.size else float("nan")
    big = areas[1:] > 2 * a1
    crowd = float(areas[1:][big].sum() / max(areas[1:].sum(), 1))
    return dict(nuclear_area_share=float(mask.mean()),
                nucleus_diameter_um=2 * np.sqrt(a1 / np.pi) * pixel_size_um,
                crowded_area_share=crowd)


def brightfield_stats(rgb: np.ndarray, pixel_size_um: float, centres) -> dict[str, float]:
    """The Dual ISH statistics of one field (module docstring), as a flat dict."""
    od = _od(rgb)
    od_r, od_g = od[..., 0], od[..., 1]
    silver = od_r - 0.336 * (od_g - od_r)
    red = od_g - od_r
    sdots, rdots, areas, irr, merged, grey = [], [], [], [], [], []
    trans = ndi.gaussian_filter(10.0 ** -od, (1.0, 1.0, 0.0)).min(axis=-1)
    nuc_od, tex, grain, halo, nuc_rgb, red_rgb = [], [], [], [], [], []
    g1 = ndi.gaussian_filter(od_r, 1.0)
    tex_s = ndi.gaussian_filter(od_r, 0.3 / pixel_size_um)
    band = g1 - ndi.gaussian_filter(od_r, 0.5 / pixel_size_um)
    for rs, cs, disc in _crops(od_r.shape, centres, pixel_size_um):
        s = ndi.gaussian_filter(silver[rs, cs], 1.0)
        s -= np.median(s[disc])
        q = ndi.gaussian_filter(red[rs, cs], 1.0)
        q -= np.median(q[disc])
        sd, sthr = _dots(s, disc, pixel_size_um, _SILVER_FLOOR_OD)
        rd, rthr = _dots(q, disc, pixel_size_um, _RED_FLOOR_OD)
        sdots += sd
        for d in _single(sd):
            grey.append(float(trans[rs, cs][d["row"], d["col"]]) > _GREY_MIN_TRANSMITTANCE)
        rdots += rd
        a, i, m = _aggregates(s, disc, sthr, pixel_size_um, sd)
        areas += a
        irr += i
        merged += m
        base = np.median(od[rs, cs][disc], axis=0)
        nuc_rgb.append(base)
        for d in _single(rd):
            halo.append(_ring(q, d["row"], d["col"], pixel_size_um, 0.5, 1.0) / d["peak"])
            v = od[rs, cs][d["row"], d["col"]] - base
            red_rgb.append(v / v[1])
        dots = ndi.binary_dilation((s >= sthr / 2) | (q >= rthr / 2),
                                   iterations=max(1, int(0.4 / pixel_size_um)))
        keep = disc & ~dots
        nuc_od.append(np.median(od_r[rs, cs][keep]))
        tex.append(tex_s[rs, cs][keep].std())
        grain.append(band[rs, cs][keep].std())
    nucleus = _median(nuc_od)
    bg_guess = float(np.percentile(g1, 20))
    mask = _nuclear_mask(od_r, pixel_size_um, nucleus, bg_guess)
    outside = ~ndi.binary_dilation(mask, iterations=int(2.0 / pixel_size_um))
    bg = np.median(od[outside], axis=0) if outside.any() else np.full(3, np.nan)
    bgrain = od_g - ndi.gaussian_filter(od_g, 1.0 / pixel_size_um)
    excess = [v - bg for v in nuc_rgb]
    ss, rs1 = _single(sdots), _single(rdots)
    out = dict(
        n_nuclei_measured=float(len(nuc_od)),
        silver_dots_per_nucleus=len(sdots) / max(len(nuc_od), 1),
        silver_fwhm_um=_median(d["fwhm_um"] for d in ss),
        silver_peak_od=_median(d["peak"] for d in ss),
        silver_integrated_od_um2=_median(d["integrated"] for d in ss),
        silver_grey_share=float(np.mean(grey)) if grey else np.nan,
        silver_aggregate_area_p90_um2=float(np.percentile(areas, 90)) if areas else np.nan,
        silver_irregularity=_median(irr),
        silver_merged_share=float(np.mean(merged)) if merged else np.nan,
        red_dots_per_nucleus=len(rdots) / max(len(nuc_od), 1),
        red_fwhm_um=_median(d["fwhm_um"] for d in rs1),
        red_peak_od=_median(d["peak"] for d in rs1),
        red_halo=_median(halo),
        red_integrated_od_um2=_median(d["integrated"] for d in rs1),
        red_peak_log_sd=_log_sd(d["peak"] for d in rs1),
        red_fwhm_log_sd=_log_sd(d["fwhm_um"] for d in rs1),
        red_faint_share=_faint_share([d["peak"] for d in rs1]),
        red_od_r_over_g=_median(v[0] for v in red_rgb),
        red_od_b_over_g=_median(v[2] for v in red_rgb),
        nucleus_od_r=nucleus,
        nucleus_texture_od=_median(tex),
        nucleus_grain_od=_median(grain),
        paleness_od=nucleus - float(bg[0]),
        nucleus_od_g_over_r=_median(v[1] / v[0] for v in excess),
        nucleus_od_b_over_r=_median(v[2] / v[0] for v in excess),
        background_od_r=float(bg[0]),
        background_od_g=float(bg[1]),
        background_od_b=float(bg[2]),
        background_grain_od=float(bgrain[outside].std()) if outside.any() else np.nan,
    )
    out.update(_field_shape(mask, centres, pixel_size_um))
    return out


# --------------------------------------------------------------------------- FISH
def _fish_channel(ch, other, dapi, crops, pixel_size_um, outside):
    """Per-probe-channel statistics (see the module docstring)."""
    g = ndi.gaussian_filter(ch, 1.0)
    go = ndi.gaussian_filter(other, 1.0)
    gs = ndi.gaussian_filter(ch, 0.5 / pixel_size_um)
    ds = ndi.gaussian_filter(dapi, 0.5 / pixel_size_um)
    rec = dict(fwhm=[], snr=[], peak_rel=[], level=[], cv=[], r=[], xt=[])
    for rs, cs, disc in crops:
        s = g[rs, cs] - np.median(g[rs, cs][disc])
        so = go[rs, cs] - np.median(go[rs, cs][disc])
        dots, thr = _dots(s, disc, pixel_size_um, 1e-9)
        sd = _mad_sd(s[disc])
        level = float(np.median(ch[rs, cs][disc]))
        rec["level"].append(level)
        for d in _single(dots):
            rec["fwhm"].append(d["fwhm_um"])
            rec["snr"].append(d["peak"] / max(sd, 1e-9))
            rec["peak_rel"].append(d["peak"] / max(level, 1e-9))
            rec["xt"].append(float(so[d["row"], d["col"]]) / d["peak"])
        mask = ndi.binary_dilation(s >= thr / 2, iterations=max(1, int(0.4 / pixel_size_um)))
        keep = disc & ~mask
        v = gs[rs, cs][keep]
        rec["cv"].append(v.std() / max(v.mean(), 1e-9))
        box = ~mask
        rec["r"].append(np.corrcoef(gs[rs, cs][box], ds[rs, cs][box])[0, 1])
    out_level = float(np.median(ch[outside])) if outside.any() else np.nan
    return dict(
        fwhm_um=_median(rec["fwhm"]), snr=_median(rec["snr"]),
        peak_over_nucleus=_median(rec["peak_rel"]),
        nucleus_over_outside=_median(rec["level"]) / max(out_level, 1e-9),
        texture_cv=_median(rec["cv"]), dapi_r=_median(rec["r"]),
        crosstalk=_median(rec["xt"]),
    )


def fish_stats(image: np.ndarray, pixel_size_um: float, centres) -> dict[str, float]:
    """FISH statistics of one field; ``image`` (rows, cols, 3) = HER2, CEP17, DAPI."""
    img = np.asarray(image, np.float64)
    her2, cep17, dapi = img[..., 0], img[..., 1], img[..., 2]
    crops = _crops(dapi.shape, centres, pixel_size_um)
    dsm = ndi.gaussian_filter(dapi, 1.0 / pixel_size_um)
    mask = dsm > threshold_otsu(dsm)
    outside = ~ndi.binary_dilation(mask, iterations=int(2.0 / pixel_size_um))
    out: dict[str, float] = {"n_nuclei_measured": float(len(crops))}
    for name, ch, other in (("her2", her2, cep17), ("cep17", cep17, her2)):
        for k, v in _fish_channel(ch, other, dapi, crops, pixel_size_um, outside).items():
            out[f"{name}_{k}"] = v
    ds = ndi.gaussian_filter(dapi, 0.3 / pixel_size_um)
    cvs = [ds[rs, cs][disc].std() / max(ds[rs, cs][disc].mean(), 1e-9)
           for rs, cs, disc in crops]
    out["dapi_texture_cv"] = _median(cvs)
    out["dapi_nucleus_over_outside"] = (_median(np.median(dapi[rs, cs][disc])
                                                for rs, cs, disc in crops)
                                        / max(float(np.median(dapi[outside])), 1e-9))
    return out


# --------------------------------------------------------------------------- fields
def real_field_stats(name: str) -> dict[str, float]:
    """Statistics of one shared real field, nuclei from its hand reference."""
    from PIL import Image

    centres = [(n.row, n.col) for n in read_reference(name)]
    sub = "FISH" if name.startswith("FISH") else "DISH"
    with Image.open(FOLDER / sub / f"{name}.jpg") as im:
        rgb = np.asarray(im.convert("RGB"))
    if sub == "FISH":
        return fish_stats(rgb, FISH_PIXEL_SIZE_UM[name], centres)
    return brightfield_stats(rgb, DISH_PIXEL_SIZE_UM, centres)


def _truth_centres(syn):
    ok = syn.nuclei["whole"] & syn.nuclei["in_focus"]
    return list(zip(syn.nuclei["row"][ok], syn.nuclei["col"][ok], strict=True))


def generated_stats(kind: str, *, realistic: bool, seed: int = 0) -> dict[str, float]:
    """Statistics of one generated 1024² px group5 field (``kind`` "dual-ish" or "fish").

    The realistic generator is :func:`her2kit.synthetic.ish.realistic_brightfield_options`
    / :func:`~her2kit.synthetic.ish.realistic_fish_options`; the default one is today's
    options at the same pixel size and nucleus count.
    """
    from her2kit.synthetic import ish

    if kind == "fish":
        px = 0.069  # between the tuning fields' 0.072 and 0.066 µm
        o = ish.realistic_fish_options(shape_px=(1024, 1024), pixel_size_um=px,
                                       scenario="group5", seed=seed)
        if not realistic:
            o = ish.FishFieldOptions(shape_px=o.shape_px, pixel_size_um=px,
                                     n_nuclei=o.n_nuclei, scenario="group5", seed=seed)
        syn = ish.render_fish_field(o)
        img = syn.image[..., [1, 2, 0]]  # dapi, her2, cep17 -> her2, cep17, dapi
        return fish_stats(img, px, _truth_centres(syn))
    px = DISH_PIXEL_SIZE_UM
    o = ish.realistic_brightfield_options(shape_px=(1024, 1024), pixel_size_um=px,
                                          scenario="group5", seed=seed)
    if not realistic:
        o = ish.BrightfieldIshFieldOptions(shape_px=o.shape_px, pixel_size_um=px,
                                           n_nuclei=o.n_nuclei, scenario="group5", seed=seed)
    syn = ish.render_brightfield_ish_field(o)
    return brightfield_stats(syn.image, px, _truth_centres(syn))


#: The per-field statistics that :data:`her2kit.synthetic.ish.REALISTIC_FISH_VARIATION`
#: spans, and the draws at its two ends (low: dim, high background, little bleed; high).
VARIATION_STATS = ("her2_snr", "cep17_snr", "her2_peak_over_nucleus",
                   "cep17_peak_over_nucleus", "her2_crosstalk", "cep17_crosstalk")


def _variation_end(high: bool, seed: int = 0) -> dict[str, float]:
    """Statistics of a generated 1024² group5 FISH field at one end of the variation."""
    from her2kit.synthetic import ish

    ends = {k: v[1 if high else 0] for k, v in ish.REALISTIC_FISH_VARIATION.items()}
    if not high:  # dim and high background go together at the low end
        ends["nuclear_background"] = ish.REALISTIC_FISH_VARIATION["nuclear_background"][1]
    else:
        ends["nuclear_background"] = ish.REALISTIC_FISH_VARIATION["nuclear_background"][0]
    px = 0.069
    o = ish.realistic_fish_options(shape_px=(1024, 1024), pixel_size_um=px,
                                   scenario="group5", seed=seed, **ends)
    syn = ish.render_fish_field(o)
    return fish_stats(syn.image[..., [1, 2, 0]], px, _truth_centres(syn))


def _variation_table(tuning) -> None:
    """Per-field FISH variation: the tuning fields and the generator's range ends."""
    real = {n: real_field_stats(n) for n in tuning}
    low, high = _variation_end(False), _variation_end(True)
    print("\nFISH per-field variation (REALISTIC_FISH_VARIATION; tuning fields only; "
          "generated ends: low = snr, both crosstalks and the dot spread at their "
          "minimum and nuclear background at its maximum, high = the reverse)")
    print(f"| statistic | {' | '.join(tuning)} | generated low end | generated high end |")
    print("|---|" + "---:|" * (len(tuning) + 2))
    for k in VARIATION_STATS:
        vals = " | ".join(f"{real[n][k]:.3g}" for n in tuning)
        print(f"| {k} | {vals} | {low[k]:.3g} | {high[k]:.3g} |")


def _mean_of(dicts):
    return {k: float(np.nanmean([d[k] for d in dicts])) for k in dicts[0]}


def _table(title, tuning, held, seeds, kind):
    real = {n: real_field_stats(n) for n in tuning + held}
    gen_r = _mean_of([generated_stats(kind, realistic=True, seed=s) for s in seeds])
    gen_d = _mean_of([generated_stats(kind, realistic=False, seed=s) for s in seeds])
    tune = _mean_of([real[n] for n in tuning])
    print(f"\n{title}")
    head = " | ".join(tuning)
    held_head = " | ".join(f"{n} (held back)" for n in held)
    print(f"| statistic | {head} | tuning mean | realistic generator | default generator"
          f" | {held_head} |")
    print("|---|" + "---:|" * (len(tuning) + 3 + len(held)))
    for k in tune:
        vals = " | ".join(f"{real[n][k]:.3g}" for n in tuning)
        hv = " | ".join(f"{real[n][k]:.3g}" for n in held)
        print(f"| {k} | {vals} | {tune[k]:.3g} | {gen_r[k]:.3g} | {gen_d[k]:.3g} | {hv} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ish_realism", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="generated fields per column")
    ap.add_argument("--assay", choices=("dual-ish", "fish", "both"), default="both")
    args = ap.parse_args(argv)
    if not FOLDER.is_dir():
        print(f"real data folder absent: {FOLDER}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    seeds = range(args.seeds)
    print("# ISH realism: real fields vs generated (means over "
          f"{args.seeds} generated fields per column)")
    if args.assay in ("dual-ish", "both"):
        _table("Dual ISH (0.065 µm/px ASSUMED; generated 1024² px, group5)",
               TUNING_FIELDS, HELD_BACK_FIELDS, seeds, "dual-ish")
    if args.assay in ("fish", "both"):
        _table("FISH (FISH1/2 0.072/0.066, FISH3/4/5 0.054/0.131/0.109 µm/px ASSUMED; generated "
               "1024² px at 0.069 µm/px, group5)",
               FISH_TUNING_FIELDS, FISH_HELD_BACK_FIELDS, seeds, "fish")
        _variation_table(FISH_TUNING_FIELDS)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

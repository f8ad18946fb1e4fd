"""Generated ISH fields rendered directly at a coarse pixel size vs rendered fine and downscaled.

Run from the repository root::

    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_render_scale            # both tables
    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_render_scale --stats    # statistics only
    PYTHONPATH=$PWD/src:$PWD python -m benchmarks.ish_render_scale --counts   # counts only

The realistic presets (:func:`her2kit.synthetic.ish.realistic_brightfield_options`, fitted
at 0.065 µm/px; :func:`~her2kit.synthetic.ish.realistic_fish_options`, 0.069 µm/px) state
their per-pixel quantities at that reference pixel size (``reference_pixel_size_um``). A
field of the same area and seed is rendered three ways: directly at the coarse size
(``direct``), at the reference size and averaged over k x k pixels (``box``: what a
camera pixel k times wider records, the light integrated over its area; k = 4 gives
0.26 / 0.276 µm/px), and at the reference size and downscaled with
:func:`benchmarks.ish_scale.downscale` (``smooth``: scikit-image's anti-aliased rescale,
a Gaussian of s.d. (k - 1) / 2 fine pixels, the route of ``ish_scale``).

Statistics (:func:`brightfield_truth_stats`, :func:`fish_truth_stats`) use the truth
table, not a detector, so that nothing about the counter enters: the nuclei's masks
(labels resampled), the signals' positions (fine pixel centres mapped to coarse ones).

Brightfield, OD ``-log10(I / 255)`` (the generator's incident light): background = pixels
over 2 µm from every nucleus: median OD_G and its grain (s.d. of OD_G minus a 1 µm
Gaussian); nuclei eroded by 1 µm, 0.8 µm from every signal: median OD_R, texture (median
over nuclei of the s.d. of OD_R smoothed 0.3 µm) and grain (s.d. of OD_R minus a 0.5 µm
Gaussian); single silver (HER2) and red (CEP17) dots of in-focus nuclei at least 1.5 µm
from every other signal, on the amounts of benchmarks/ish_realism.py (silver ``OD_R -
0.336 (OD_G - OD_R)``, red ``OD_G - OD_R``) above their median in a 0.9-1.4 µm ring:
peak (3 x 3 px maximum at the true position), FWHM (µm, the disc with the area at or
above half the peak, within 0.6 µm) and integrated OD (OD µm², within 0.6 µm); silver
clusters (amplified fields): integrated OD within 1.2 µm of the cluster centre.

FISH (photon counts; scale-free statistics only, since the photons per pixel grow with
its area): background and nuclear relative grain (s.d. of the channel minus a 1 µm
Gaussian over its median), per probe single dots' peak over the local level, FWHM (µm)
and integrated photons over the local level (µm²: the dot's photons in units of one µm²
of background).

Counts: each rendering counted with :func:`her2kit.imaging.ish.count_brightfield_ish` /
:func:`~her2kit.imaging.ish.count_fish` at its pixel size; counted nuclei matched to the
truth table at their centre; HER2, CEP17 and ratio of the matched nuclei vs their truth.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage as ndi

from benchmarks.ish_scale import downscale

#: The realistic presets' reference pixel sizes, µm/px.
BRIGHTFIELD_REFERENCE_UM = 0.065
FISH_REFERENCE_UM = 0.069
#: Field side, µm (1024 px at 0.065 µm/px).
FIELD_UM = 66.56
_RING_UM = (0.9, 1.4)
_DOT_UM = 0.6
_ISOLATED_UM = 1.5
_CH = {"dapi": 0, "her2": 1, "cep17": 2}


# --------------------------------------------------------------------------- rendering
def render(kind: str, scenario: str, seed: int, pixel_size_um: float, *,
           field_um: float = FIELD_UM, **overrides):
    """A realistic field (``kind`` "dual-ish" or "fish") of ``field_um`` side at
    ``pixel_size_um``, the preset's nucleus density, ``overrides`` on top."""
    from her2kit.synthetic import ish

    n = round(field_um / pixel_size_um)
    kw = dict(shape_px=(n, n), pixel_size_um=pixel_size_um, scenario=scenario, seed=seed)
    if kind == "fish":
        # as dense as the Dual ISH preset, so that a 67 µm field has >= 20 whole nuclei
        kw["n_nuclei"] = ish.realistic_brightfield_options(**kw).n_nuclei
        return ish.render_fish_field(ish.realistic_fish_options(**{**kw, **overrides}))
    return ish.render_brightfield_ish_field(ish.realistic_brightfield_options(
        **{**kw, **overrides}))


def box_downscale(image: np.ndarray, k: int) -> np.ndarray:
    """Mean over k x k pixel blocks (a pixel k times wider integrates the light), rounded
    to the input's integer dtype; rows / columns past the last whole block dropped."""
    h, w = (image.shape[0] // k) * k, (image.shape[1] // k) * k
    x = image[:h, :w].astype(np.float64)
    x = x.reshape(h // k, k, w // k, k, *image.shape[2:]).mean(axis=(1, 3))
    info = np.iinfo(image.dtype)
    return np.clip(np.rint(x), info.min, info.max).astype(image.dtype)


def smooth_downscale(image: np.ndarray, factor: float) -> np.ndarray:
    """:func:`benchmarks.ish_scale.downscale` for uint8; the same resampling for uint16."""
    if image.dtype == np.uint8:
        return downscale(image, factor)
    from skimage.transform import rescale

    out = rescale(image.astype(np.float64), factor, channel_axis=-1, anti_aliasing=True,
                  preserve_range=True)
    return np.clip(np.rint(out), 0, 65535).astype(np.uint16)


class Truth:
    """A field's truth mapped onto an image ``scale`` times its pixel count per side."""

    def __init__(self, syn, shape, scale: float = 1.0):
        px = syn.pixel_size_um / scale
        self.pixel_size_um = px
        lab = syn.labels
        # Pixel centres: fine (i + 0.5) p_fine = coarse (j + 0.5) p.
        rr = np.clip(((np.arange(shape[0]) + 0.5) / scale).astype(int), 0, lab.shape[0] - 1)
        cc = np.clip(((np.arange(shape[1]) + 0.5) / scale).astype(int), 0, lab.shape[1] - 1)
        self.labels = lab[np.ix_(rr, cc)]
        sig = syn.signals
        self.rows = (sig["row"] + 0.5) * scale - 0.5
        self.cols = (sig["col"] + 0.5) * scale - 0.5
        self.signals = sig
        self.in_focus = np.concatenate([[True], syn.nuclei["in_focus"]])
        self.nuclei = syn.nuclei
        self.scale = scale


def _isolated(t: Truth, probe: str, *, clusters: bool = False) -> np.ndarray:
    """Indices of the probe's single dots (or clusters) in focus, far from other signals."""
    sig = t.signals
    d = np.hypot(t.rows[:, None] - t.rows[None], t.cols[:, None] - t.cols[None])
    np.fill_diagonal(d, np.inf)
    far = d.min(axis=1, initial=np.inf) * t.pixel_size_um >= _ISOLATED_UM
    keep = ((sig["probe"] == probe) & (sig["is_cluster"] == clusters)
            & t.in_focus[sig["nucleus_id"]])
    return np.flatnonzero(keep & (far | clusters))


def _dot(amount: np.ndarray, r: float, c: float, px: float, radius_um: float = _DOT_UM):
    """(peak, FWHM µm, integrated above the ring median) of one dot at (r, c)."""
    h = int(np.ceil(_RING_UM[1] / px)) + 1
    r0, c0 = round(float(r)), round(float(c))
    if not (h <= r0 < amount.shape[0] - h and h <= c0 < amount.shape[1] - h):
        return None
    win = amount[r0 - h:r0 + h + 1, c0 - h:c0 + h + 1]
    yy, xx = np.mgrid[-h:h + 1, -h:h + 1]
    dist = np.hypot(yy - (r - r0), xx - (c - c0)) * px
    ring = (dist >= _RING_UM[0]) & (dist <= _RING_UM[1])
    s = win - np.median(win[ring])
    peak = float(s[h - 1:h + 2, h - 1:h + 2].max())
    inside = dist <= radius_um
    lab, _ = ndi.label((s >= peak / 2) & inside)
    pr, pc = np.unravel_index(np.argmax(np.where(np.abs(yy) + np.abs(xx) <= 2, s, -np.inf)),
                              s.shape)
    area = float((lab == lab[pr, pc]).sum()) if lab[pr, pc] else 1.0
    return peak, 2 * np.sqrt(area / np.pi) * px, float(s[inside].sum()) * px * px


def _dot_stats(prefix, amount, t: Truth, probe, out, *, clusters=False):
    rows = [_dot(amount, t.rows[i], t.cols[i], t.pixel_size_um,
                 1.2 if clusters else _DOT_UM)
            for i in _isolated(t, probe, clusters=clusters)]
    rows = np.array([x for x in rows if x is not None]).reshape(-1, 3)
    med = np.median(rows, axis=0) if len(rows) else np.full(3, np.nan)
    if clusters:
        out[f"{prefix}_cluster_integrated_per_copy"] = float(np.median(
            rows[:, 2] / t.signals["copies"][_isolated(t, probe, clusters=True)][:len(rows)]
        )) if len(rows) else float("nan")
        return
    out[f"{prefix}_peak"], out[f"{prefix}_fwhm_um"], out[f"{prefix}_integrated_um2"] = (
        float(v) for v in med)
    out[f"{prefix}_n"] = float(len(rows))


def _masks(t: Truth):
    px = t.pixel_size_um
    nuc = t.labels > 0
    background = ndi.distance_transform_edt(~nuc) * px > 2.0
    core = ndi.distance_transform_edt(nuc) * px > 1.0
    near = np.zeros(nuc.shape, bool)
    r = np.clip(np.rint(t.rows).astype(int), 0, nuc.shape[0] - 1)
    c = np.clip(np.rint(t.cols).astype(int), 0, nuc.shape[1] - 1)
    near[r, c] = True
    far = ndi.distance_transform_edt(~near) * px > 0.8
    focus = t.in_focus[t.labels]
    return background, core & far & focus


def brightfield_truth_stats(image: np.ndarray, t: Truth) -> dict[str, float]:
    """The brightfield statistics of the module docstring, as a flat dict."""
    px = t.pixel_size_um
    od = -np.log10(np.clip(image.astype(np.float64), 0.5, None) / 255.0)
    od_r, od_g = od[..., 0], od[..., 1]
    background, inner = _masks(t)
    out = dict(
        background_od_g=float(np.median(od_g[background])),
        background_grain_od=float((od_g - ndi.gaussian_filter(od_g, 1.0 / px))[background].std()),
        nucleus_od_r=float(np.median(od_r[inner])),
        nucleus_grain_od=float((od_r - ndi.gaussian_filter(od_r, 0.5 / px))[inner].std()),
    )
    tex = ndi.gaussian_filter(od_r, 0.3 / px)
    per = [tex[inner & (t.labels == i)].std() for i in np.unique(t.labels[inner])]
    out["nucleus_texture_od"] = float(np.median(per)) if per else float("nan")
    silver = od_r - 0.336 * (od_g - od_r)
    _dot_stats("silver", silver, t, "her2", out)
    _dot_stats("red", od_g - od_r, t, "cep17", out)
    if t.signals["is_cluster"].any():
        _dot_stats("silver", silver, t, "her2", out, clusters=True)
    return out


def fish_truth_stats(image: np.ndarray, t: Truth) -> dict[str, float]:
    """The FISH statistics of the module docstring; ``image`` channels dapi, her2, cep17."""
    px = t.pixel_size_um
    img = image.astype(np.float64)
    background, inner = _masks(t)
    out = {}
    for name, ch in (("dapi", 0), ("her2", 1), ("cep17", 2)):
        x = img[..., ch]
        hp = x - ndi.gaussian_filter(x, 1.0 / px)
        out[f"{name}_background_rel_grain"] = float(hp[background].std()
                                                    / np.median(x[background]))
        out[f"{name}_nucleus_rel_grain"] = float(hp[inner].std() / np.median(x[inner]))
        if name == "dapi":
            continue
        level = np.median(x[inner])
        d: dict[str, float] = {}
        _dot_stats(name, x / level, t, name if name == "her2" else "cep17", d)
        out.update({k: v for k, v in d.items() if not k.endswith("_n")})
    return out


# --------------------------------------------------------------------------- tables
def renderings(kind: str, scenario: str, seed: int, pixel_size_um: float | None = None):
    """{route: (image, Truth)} for one field, and (fine, direct) fields: ``fine`` at the
    reference size, ``direct`` at ``pixel_size_um`` (default 4 x the reference),
    ``smooth`` downscaled to it, ``box`` averaged over k x k, k = round(size / reference)."""
    ref = FISH_REFERENCE_UM if kind == "fish" else BRIGHTFIELD_REFERENCE_UM
    px = 4 * ref if pixel_size_um is None else float(pixel_size_um)
    k = max(1, round(px / ref))
    fine = render(kind, scenario, seed, ref)
    direct = render(kind, scenario, seed, px)
    box = box_downscale(fine.image, k)
    smooth = smooth_downscale(fine.image, ref / px)
    return {"direct": (direct.image, Truth(direct, direct.image.shape)),
            "box": (box, Truth(fine, box.shape, 1.0 / k)),
            "smooth": (smooth, Truth(fine, smooth.shape, ref / px)),
            "fine": (fine.image, Truth(fine, fine.image.shape))}, (fine, direct)


def stats_table(kind: str, scenario: str, seeds, k: int = 4) -> dict[str, dict[str, float]]:
    """Mean statistics over ``seeds`` per route (direct, box, smooth) at k x the reference."""
    ref = FISH_REFERENCE_UM if kind == "fish" else BRIGHTFIELD_REFERENCE_UM
    fn = fish_truth_stats if kind == "fish" else brightfield_truth_stats
    acc: dict[str, list] = {"direct": [], "box": [], "smooth": []}
    for seed in seeds:
        routes, _ = renderings(kind, scenario, seed, ref * k)
        for name in acc:
            acc[name].append(fn(*routes[name]))
    return {name: {s: float(np.nanmean([d[s] for d in v])) for s in v[0]}
            for name, v in acc.items()}


def print_stats(kind: str, scenario: str, seeds, k: int = 4) -> None:
    ref = FISH_REFERENCE_UM if kind == "fish" else BRIGHTFIELD_REFERENCE_UM
    tab = stats_table(kind, scenario, seeds, k)
    print(f"\n{kind} {scenario}, seeds {list(seeds)}: rendered at {ref * k:.3f} µm/px (direct) "
          f"vs rendered at {ref} and box-averaged {k}x{k} (box) / smooth-downscaled (smooth)")
    print("| statistic | direct | box | smooth | direct / box | direct / smooth |")
    print("|---|---:|---:|---:|---:|---:|")
    for s in tab["direct"]:
        d, b, m = (tab[r][s] for r in ("direct", "box", "smooth"))
        print(f"| {s} | {d:.4g} | {b:.4g} | {m:.4g} | {d / b:.2f} | {d / m:.2f} |", flush=True)


def _matched(syn, res, scale: float):
    """(counted (her2, cep17), true (her2, cep17)) of counted nuclei matched to the truth."""
    truth = {int(n["nucleus_id"]): n for n in syn.nuclei}
    got, true = [], []
    for n in res.nuclei:
        r = min(int((n.row + 0.5) / scale), syn.labels.shape[0] - 1)
        c = min(int((n.col + 0.5) / scale), syn.labels.shape[1] - 1)
        tn = truth.get(int(syn.labels[r, c]))
        if n.included and tn is not None:
            got.append((n.her2, n.cep17))
            true.append((int(tn["her2"]), int(tn["cep17"])))
    return np.array(got, float).reshape(-1, 2), np.array(true, float).reshape(-1, 2)


def count_routes(kind: str, scenario: str, seed: int, pixel_size_um: float = 0.25
                 ) -> list[dict]:
    """One field counted at the reference size, rendered directly at ``pixel_size_um``,
    smooth-downscaled to it and box-averaged to the nearest whole multiple."""
    from her2kit.imaging.ish import count_brightfield_ish, count_fish
    from her2kit.imaging.ish.channels import fish_from_stack

    routes, (fine, direct) = renderings(kind, scenario, seed, pixel_size_um)
    out = []
    for name in ("fine", "direct", "smooth", "box"):
        img, t = routes[name]
        px = t.pixel_size_um
        t0 = time.perf_counter()
        if kind == "fish":
            res = count_fish(fish_from_stack(img, channels=_CH), pixel_size_um=px)
        else:
            res = count_brightfield_ish(img, assay="dual-ish", pixel_size_um=px)
        syn, scale = (direct, 1.0) if name == "direct" else (fine, t.scale)
        got, true = _matched(syn, res, scale)
        g, tr = (got.mean(axis=0), true.mean(axis=0)) if len(got) else ((np.nan,) * 2,) * 2
        whole = int((syn.countable).sum())
        out.append(dict(route=name, pixel_size_um=px, n=len(got), countable=whole,
                        her2=g[0], cep17=g[1], ratio=g[0] / g[1], true_her2=tr[0],
                        true_cep17=tr[1], true_ratio=tr[0] / tr[1],
                        seconds=time.perf_counter() - t0))
    return out


def print_counts(kinds, scenarios, seeds, pixel_size_um: float = 0.25) -> list[dict]:
    print(f"\nCounts: fine (reference pixel size), direct ({pixel_size_um} µm/px), smooth "
          "(downscaled to it) and box (4 x 4 mean); counted nuclei matched to the truth")
    print("| assay | scenario | seed | route | µm/px | nuclei (countable) | HER2 (true) | "
          "CEP17 (true) | ratio (true) |")
    print("|---|---|---:|---|---:|---:|---|---|---|")
    rows = []
    for kind in kinds:
        for scenario in scenarios:
            for seed in seeds:
                for r in count_routes(kind, scenario, seed, pixel_size_um):
                    rows.append(dict(kind=kind, scenario=scenario, seed=seed, **r))
                    print(f"| {kind} | {scenario} | {seed} | {r['route']} | "
                          f"{r['pixel_size_um']:.3f} | {r['n']} ({r['countable']}) | "
                          f"{r['her2']:.2f} ({r['true_her2']:.2f}) | {r['cep17']:.2f} "
                          f"({r['true_cep17']:.2f}) | {r['ratio']:.2f} "
                          f"({r['true_ratio']:.2f}) |", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ish_render_scale",
                                 description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stats", action="store_true", help="image statistics only")
    ap.add_argument("--counts", action="store_true", help="counts only")
    ap.add_argument("--seeds", type=int, default=3, help="fields per row (default 3)")
    ap.add_argument("--assay", choices=("dual-ish", "fish", "both"), default="both")
    args = ap.parse_args(argv)
    kinds = ["dual-ish", "fish"] if args.assay == "both" else [args.assay]
    seeds = range(1, args.seeds + 1)
    t0 = time.perf_counter()
    if not args.counts:
        for kind in kinds:
            for scenario in ("group5", "amplified"):
                print_stats(kind, scenario, seeds)
    if not args.stats:
        print_counts(kinds, ("group5", "group4", "amplified"), seeds)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

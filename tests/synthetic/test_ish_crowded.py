"""Crowded Dual ISH fields (issue 11, branch abundant): many red and faint grey silver dots."""

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.synthetic import ish


def _field(px, shape, **kw):
    o = ish.crowded_brightfield_options(shape_px=shape, pixel_size_um=px, seed=4, **kw)
    return o, ish.render_brightfield_ish_field(o)


@pytest.mark.parametrize(("px", "shape"), [(0.065, (768, 768)), (0.25, (256, 256))])
def test_crowded_fields_hold_many_dots_of_both_colours(px, shape):
    o, syn = _field(px, shape)
    ok = syn.countable
    assert ok.sum() >= 8
    her2, cep17 = syn.nuclei["her2"][ok], syn.nuclei["cep17"][ok]
    # The brief's polysomy-like field: HER2 ~5, CEP17 ~7, 5-15 red dots a nucleus, not ±1.
    assert 4.0 <= her2.mean() <= 6.0 and 6.0 <= cep17.mean() <= 8.0
    assert cep17.max() - cep17.min() >= 4
    assert her2.mean() / cep17.mean() < 2.0
    assert o.psf_sigma_um == 0.13  # small dots: FWHM 2.355 x 0.13 = 0.31 µm
    assert o.jpeg_quality == (75 if px == 0.065 else None)  # the realistic preset's rule


def test_crowded_gain_is_group_three_at_both_pixel_sizes():
    for px, shape in ((0.065, (768, 768)), (0.25, (256, 256))):
        _, syn = _field(px, shape, scenario="crowded_gain")
        ok = syn.countable
        h, c = syn.nuclei["her2"][ok].mean(), syn.nuclei["cep17"][ok].mean()
        assert 6.0 <= h <= 8.5 and 3.0 <= c <= 5.0 and h / c < 2.0


def _silver_depth(syn, rows):
    """Peak OD over the nucleus around each signal (grey mean of R, G, B), from the image."""
    od = -np.log10(np.maximum(syn.image.astype(float), 1.0) / 255.0).mean(axis=-1)
    out = []
    for s in rows:
        r, c = int(np.rint(s["row"])), int(np.rint(s["col"]))
        win = od[r - 12:r + 13, c - 12:c + 13]
        out.append(od[r - 1:r + 2, c - 1:c + 2].max() - np.median(win))
    return np.array(out)


def test_faint_silver_signals_are_the_pale_dots_of_the_image():
    # Few dots stand alone in crowded nuclei; the faint draw is the same in sparse ones.
    o, syn = _field(0.065, (1024, 1024), noise_dn=2.0, jpeg_quality=None, scenario="normal")
    faint = ish.faint_silver_signals(syn, o)
    sig = syn.signals
    single = (sig["probe"] == "her2") & ~sig["is_cluster"]
    assert not (faint & ~single).any()
    assert 0.5 <= faint.sum() / single.sum() <= 0.7  # the preset's 60 %
    # Isolated from every other signal (1.5 µm), away from the image edge.
    xy = np.column_stack([sig["row"], sig["col"]])
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    iso = (d.min(axis=1) > 1.5 / 0.065) & (xy.min(axis=1) > 15) & (xy.max(axis=1) < 1008)
    assert (faint & iso).sum() >= 10 and (single & ~faint & iso).sum() >= 5
    pale = np.median(_silver_depth(syn, sig[faint & iso]))
    dark = np.median(_silver_depth(syn, sig[single & ~faint & iso]))
    # Peak ODs 0.35 x 1.4 and 1.4 through the preset's saturating silver (3 OD: amount s
    # reads 3 (1 - exp(-s / 3))): 0.4035; the tuning fields' 0.42 x would read 0.48.
    assert abs(pale / dark - 0.4035) <= 0.04


def test_faint_silver_signals_none_without_faint_dots_and_checks_the_field():
    o, syn = _field(0.25, (256, 256), silver_faint_share=0.0)
    assert not ish.faint_silver_signals(syn, o).any()
    other = ish.crowded_brightfield_options(shape_px=(256, 256), pixel_size_um=0.25, seed=5)
    with pytest.raises(Her2kitInputError, match="not rendered from these options"):
        ish.faint_silver_signals(syn, other)


def test_crowded_options_take_overrides_and_leave_the_realistic_preset_alone():
    o = ish.crowded_brightfield_options(pixel_size_um=0.065, silver_faint_od_factor=0.42)
    assert o.silver_faint_od_factor == 0.42 and o.silver_faint_share == 0.6
    r = ish.realistic_brightfield_options(pixel_size_um=0.065)
    assert r.scenario == "normal" and r.silver_faint_share == 0.19

"""Per-field variation of the realistic FISH generator (varied_fish_options)."""

from __future__ import annotations

import numpy as np
import pytest

from her2kit.errors import Her2kitInputError
from her2kit.synthetic import ish


def test_variation_ranges_span_the_tuning_fields():
    # Literals from the per-field table (FISH1 / FISH2, benchmarks/ish_realism.py).
    v = ish.REALISTIC_FISH_VARIATION
    assert v["snr"] == (20.0, 70.0)
    assert v["nuclear_background"] == (0.1, 0.45)
    assert v["crosstalk"] == (0.07, 0.5) and v["crosstalk_cep17_to_her2"] == (0.07, 0.5)
    assert v["dot_brightness_sd"] == (0.25, 0.45)


def test_draws_are_in_range_and_reproducible():
    draws = [ish.varied_fish_options(s, shape_px=(64, 64)) for s in range(40)]
    for name, (lo, hi) in ish.REALISTIC_FISH_VARIATION.items():
        vals = np.array([getattr(o, name) for o in draws])
        assert lo <= vals.min() and vals.max() <= hi, name
        assert vals.max() - vals.min() > 0.5 * (hi - lo), name  # the range is used
    assert ish.varied_fish_options(3, shape_px=(64, 64)) == ish.varied_fish_options(
        3, shape_px=(64, 64))
    assert ish.varied_fish_options(3, shape_px=(64, 64), snr=5.0).snr == 5.0


def _field(**kw):
    o = ish.realistic_fish_options(shape_px=(256, 256), pixel_size_um=0.069, n_nuclei=4,
                                   seed=2, **kw)
    return ish.render_fish_field(o)


def test_asymmetric_bleed_through():
    # HER2 = channel 1, CEP17 = channel 2; all CEP17 light lands in HER2 at 0.5.
    sym = _field(crosstalk=0.0)
    asym = _field(crosstalk=0.0, crosstalk_cep17_to_her2=0.5)
    cep = sym.signals[sym.signals["probe"] == "cep17"]
    r = np.rint(cep["row"]).astype(int)
    c = np.rint(cep["col"]).astype(int)
    gain = asym.image[r, c, 1].astype(float) - sym.image[r, c, 1].astype(float)
    assert np.median(gain) > 0.3 * np.median(sym.image[r, c, 2].astype(float)
                                              - np.median(sym.image[..., 2]))
    none = _field(crosstalk=0.0, crosstalk_cep17_to_her2=0.0)
    assert np.array_equal(none.image, sym.image)


def test_dot_brightness_spread():
    base = _field()
    same = _field(dot_brightness_sd=0.2)  # at or below the built-in 0.2: unchanged
    assert np.array_equal(base.image, same.image)
    wide = _field(dot_brightness_sd=0.6)
    assert not np.array_equal(base.image[..., 1], wide.image[..., 1])
    # The layout is the same (the spread has its own stream; only the photon noise,
    # drawn last, follows the changed intensities).
    assert np.array_equal(base.signals, wide.signals)
    assert np.array_equal(base.labels, wide.labels)


@pytest.mark.parametrize("name", ["crosstalk_cep17_to_her2", "dot_brightness_sd"])
def test_bad_values_rejected(name):
    with pytest.raises(Her2kitInputError):
        ish.realistic_fish_options(**{name: -0.1})
    with pytest.raises(Her2kitInputError):
        ish.realistic_fish_options(**{name: 5.1})
